//! Embeds the git commit (with `-dirty` when tracked files changed) into the binaries, so
//! every result names the code that produced it. `BLASPAR_COMMIT` overrides.
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    println!("cargo:rerun-if-env-changed=BLASPAR_COMMIT");
    let commit = std::env::var("BLASPAR_COMMIT").ok().or_else(|| {
        let head = git(&["rev-parse", "HEAD"])?;
        let dirty =
            git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
        Some(if dirty { format!("{head}-dirty") } else { head })
    });
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        for f in ["HEAD", "index", "packed-refs", "refs/heads"] {
            println!("cargo:rerun-if-changed={dir}/{f}");
        }
    }
    println!(
        "cargo:rustc-env=BLASPAR_COMMIT={}",
        commit.unwrap_or_else(|| "unknown".to_string())
    );
}
