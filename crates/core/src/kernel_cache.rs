//! Where backends cache their kernel choices (a probe per CPU model and library version,
//! reused by every later run): the folder, stable file names, and atomic writes. BLIS's
//! kernel probe and OpenBLAS's core probe both keep their tables here.

use std::path::{Path, PathBuf};

/// Where kernel choices are cached: `$BLASPAR_CACHE_DIR`, else `$XDG_CACHE_HOME/blaspar`,
/// else `~/.cache/blaspar`, else a folder under the system temp dir.
pub fn default_cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("BLASPAR_CACHE_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("blaspar");
    }
    if let Some(h) = std::env::var_os("HOME") {
        return PathBuf::from(h).join(".cache").join("blaspar");
    }
    std::env::temp_dir().join("blaspar-cache")
}

/// 64-bit FNV-1a of the key's bytes: stable across Rust versions, unlike DefaultHasher, so
/// a cache written by one build is found by the next. Through `write` (not `Hash for str`,
/// which appends a 0xff byte) to keep the values of existing cache file names.
pub fn key_hash(key: &str) -> u64 {
    use std::hash::Hasher;
    let mut h = fnv::FnvHasher::default();
    h.write(key.as_bytes());
    h.finish()
}

/// Writes `bytes` to `path` through a temporary file and a rename, so that a concurrent
/// reader (another engine starting) sees the old file or the new one, never half of one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// Writes `value` as JSON to the cache file `path`; a cache that cannot be written costs a
/// probe next time, nothing more, so a failure is a note on stderr naming `what`.
pub fn store<T: serde::Serialize>(path: &Path, value: &T, what: &str) {
    let bytes = serde_json::to_vec_pretty(value).expect("a cache entry serialises");
    if let Err(e) = write_atomically(path, &bytes) {
        eprintln!("note: could not cache {what} in {}: {e}", path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_keys_hash_as_64_bit_fnv_1a() {
        // Published FNV-1a test vectors: cache file names written before the fnv crate
        // replaced a hand-written hash keep their values.
        assert_eq!(key_hash(""), 0xcbf29ce484222325);
        assert_eq!(key_hash("a"), 0xaf63dc4c8601ec8c);
        assert_eq!(key_hash("foobar"), 0x85944171f73967e8);
        let key = "AMD EPYC 9B45|avx2,avx512f,fma|1.0";
        let by_hand = key.bytes().fold(0xcbf29ce484222325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100000001b3)
        });
        assert_eq!(key_hash(key), by_hand);
    }

    #[test]
    fn an_atomic_write_makes_its_folder_and_leaves_no_temporary_file() {
        let dir = std::env::temp_dir().join(format!("blaspar-kc-{}", std::process::id()));
        let path = dir.join("sub").join("entry.json");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.join("sub")).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
