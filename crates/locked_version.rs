//! Shared by the build scripts of backends whose library has no run-time version API
//! (`#[path]`-included): the version Cargo resolved, read from the workspace's Cargo.lock,
//! so that results name the exact release.

/// Sets the compile-time variable `env` to `package`'s version in Cargo.lock ("unknown"
/// when it is not there).
pub fn emit(package: &str, env: &str) {
    // The manifest folder of this build, read when the script runs: `env!` would bake in the
    // folder the script was compiled in, which a build from another checkout may reuse.
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let lock = std::path::Path::new(&dir).join("../../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let text = std::fs::read_to_string(&lock).unwrap_or_default();
    let name = format!("name = \"{package}\"");
    let version = text
        .split("[[package]]")
        .find(|p| p.lines().any(|l| l.trim() == name))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"').to_string())
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env={env}={version}");
}
