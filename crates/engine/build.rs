//! Embeds the git commit (with `-dirty` when tracked files changed) into the binaries, so
//! every result names the code that produced it. `BLASPAR_COMMIT` overrides.
//!
//! It reruns when HEAD, the index or the checked-out branch moves, and only then: the
//! paths come from `git rev-parse --git-path` (a linked worktree keeps HEAD and its index
//! apart from the shared refs), only the branch's own ref is watched (a commit on another
//! branch, in another worktree, is not this build's business), and only paths that exist
//! (cargo takes a missing file as changed on every build, which relinked every engine
//! each time). `git status` takes no optional lock, so it never rewrites the index it is
//! watching.
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
        let dirty = git(&[
            "--no-optional-locks",
            "status",
            "--porcelain",
            "--untracked-files=no",
        ])
        .is_some_and(|s| !s.is_empty());
        Some(if dirty { format!("{head}-dirty") } else { head })
    });
    // HEAD, the index, and the branch HEAD names (not every branch: commits elsewhere,
    // in another worktree of the same repository, must not rebuild this one).
    let branch = git(&["symbolic-ref", "-q", "HEAD"]);
    for f in ["HEAD", "index", "packed-refs"]
        .into_iter()
        .chain(branch.as_deref())
    {
        if let Some(path) = git(&["rev-parse", "--path-format=absolute", "--git-path", f])
            && std::path::Path::new(&path).exists()
        {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    println!(
        "cargo:rustc-env=BLASPAR_COMMIT={}",
        commit.unwrap_or_else(|| "unknown".to_string())
    );
}
