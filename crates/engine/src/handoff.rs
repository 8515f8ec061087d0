//! What a parent hands its worker processes (and the served engine) besides the spec in
//! the environment: JSON in a memfd whose descriptor the spec names. One environment
//! variable may hold at most 128 KiB, so a workload file of a few thousand groups, or a
//! folder of a few thousand files, would not fit there ("Argument list too long" at exec).

use nix::sys::memfd::{MFdFlags, memfd_create};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::ffi::CStr;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::fs::FileExt;

/// A value as JSON in a memfd, for child processes to inherit and read.
pub struct Handoff(File);

/// Why the value could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {what} for the workers ({bytes} bytes of shared memory): {source}")]
pub struct HandoffError {
    what: String,
    bytes: usize,
    source: std::io::Error,
}

impl Handoff {
    /// `value` as JSON in a new memfd named `name` (seen in `/proc/<pid>/fd`); `what` names
    /// it in errors.
    pub fn new<T: Serialize>(name: &CStr, what: &str, value: &T) -> Result<Handoff, HandoffError> {
        let text = serde_json::to_vec(value).expect("a handoff serialises");
        let fail = |source| HandoffError {
            what: what.to_string(),
            bytes: text.len(),
            source,
        };
        let mut file =
            File::from(memfd_create(name, MFdFlags::MFD_CLOEXEC).map_err(|e| fail(e.into()))?);
        file.write_all(&text).map_err(fail)?;
        Ok(Handoff(file))
    }

    /// The descriptor a child inherits (the spawn clears its close-on-exec flag there).
    pub fn fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }

    /// A child's read of its parent's value.
    ///
    /// # Safety
    /// `fd` must be an open descriptor of a file made by [`Handoff::new`], owned by nothing
    /// else in this process.
    pub unsafe fn read_inherited<T: DeserializeOwned>(fd: RawFd) -> anyhow::Result<T> {
        // SAFETY: the caller hands over ownership of an open descriptor.
        let file = unsafe { File::from_raw_fd(fd) };
        let len = file.metadata()?.len() as usize;
        let mut text = vec![0u8; len];
        // At offset 0 whatever the shared offset is: every child reads the same file.
        file.read_exact_at(&mut text, 0)?;
        Ok(serde_json::from_slice(&text)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{BorrowedFd, IntoRawFd};

    #[test]
    fn a_value_larger_than_an_environment_variable_reads_back() {
        let groups: Vec<(String, usize)> = (0..20_000).map(|i| (format!("g{i}"), i)).collect();
        let h = Handoff::new(c"blaspar-test", "test groups", &groups).unwrap();
        assert!(h.0.metadata().unwrap().len() > 128 * 1024);
        // A child would inherit its own descriptor: a duplicate stands in for it.
        let fd = nix::unistd::dup(unsafe { BorrowedFd::borrow_raw(h.fd()) })
            .unwrap()
            .into_raw_fd();
        let back: Vec<(String, usize)> = unsafe { Handoff::read_inherited(fd) }.unwrap();
        assert_eq!(back, groups);
    }
}
