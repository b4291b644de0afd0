//! Shared harness for the tests that drive the `repokid` binary against real git repositories.

#![allow(dead_code, clippy::unwrap_used)] // each area uses part of it; a panic is the report

use std::path::{Path, PathBuf};
use std::process::Command;

/// The instant the demo data is evaluated at.
pub const NOW: &str = "2026-11-20T12:00:00Z";

/// A file of the bundled demo data.
pub fn demo_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/demo")
        .join(name)
}

/// Runs `repokid` in `dir` with a scrubbed environment; returns (exit code, stdout, stderr).
pub fn repokid(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_repokid"))
        .current_dir(dir)
        .args(args)
        .env_remove("REPOKID_LOG")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Runs the git command line in `dir`, which must succeed; returns stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A new repository on branch `main` with an identity configured.
pub fn new_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(dir.path(), &["config", "user.name", "Test"]);
    git(dir.path(), &["config", "user.email", "test@example.com"]);
    dir
}

pub mod moto;
pub mod scheduled;

/// Runs `repokid` in `dir` with extra environment variables; returns (exit code, stdout, stderr).
pub fn repokid_env(dir: &Path, args: &[&str], env: &[(&str, String)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_repokid"));
    cmd.current_dir(dir)
        .args(args)
        .env_remove("REPOKID_LOG")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("AWS_PROFILE")
        .env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}
pub mod fake_github;
pub mod flaky_proxy;
pub mod git_server;
