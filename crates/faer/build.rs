//! faer has no run-time version API: read the version Cargo resolved from the
//! workspace's Cargo.lock, so results name the exact release.
fn main() {
    // The manifest folder of this build, read when the script runs: `env!` would bake in the
    // folder the script was compiled in, which a build from another checkout may reuse.
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let lock = std::path::Path::new(&dir).join("../../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let text = std::fs::read_to_string(&lock).unwrap_or_default();
    let version = text
        .split("[[package]]")
        .find(|p| p.contains("name = \"faer\""))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"').to_string())
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=FAER_VERSION={version}");
}
