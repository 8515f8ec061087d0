//! faer has no run-time version API: the version Cargo resolved, from Cargo.lock.
#[path = "../locked_version.rs"]
mod locked_version;

fn main() {
    locked_version::emit("faer", "FAER_VERSION");
}
