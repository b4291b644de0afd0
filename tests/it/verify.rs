//! `repokid verify` on real branches: a pull request branch made with the git CLI is checked
//! against its base branch.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use crate::common::{git, new_repo};
use serde_json::{Value, json};

// One module per concern; this file keeps what several of them share.
mod context;
mod malformed;
mod passes;
mod widening;

const ACCT: &str = "111122223333";

/// Runs `repokid` in `dir` with every GitHub variable removed, then `env` set.
fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_repokid"));
    cmd.current_dir(dir)
        .args(args)
        .env_remove("REPOKID_LOG")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("GITHUB_EVENT_PATH")
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

fn verify(dir: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["verify", "--base", "main"];
    args.extend_from_slice(extra);
    run(dir, &args, &[])
}

fn verify_json(dir: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["--format", "json", "verify", "--base", "main"];
    args.extend_from_slice(extra);
    let (code, out, err) = run(dir, &args, &[]);
    let doc: Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\nstderr: {err}"));
    assert_eq!(doc["version"], 2);
    (code, doc)
}

fn role_path(role: &str) -> String {
    format!("policies/{ACCT}/{role}.json")
}

fn write_text(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn write_role(dir: &Path, role: &str, policies: &Value) {
    let mut text = serde_json::to_string_pretty(policies).unwrap();
    text.push('\n');
    write_text(dir, &role_path(role), &text);
}

fn read_role(dir: &Path, role: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join(role_path(role))).unwrap()).unwrap()
}

fn commit(dir: &Path, message: &str) {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", message]);
}

/// Starts a pull request branch `name` from `main`.
fn branch(dir: &Path, name: &str) {
    git(dir, &["checkout", "-q", "main"]);
    git(dir, &["checkout", "-q", "-b", name]);
}

/// 1-based line of the first line of the role file containing `needle`.
fn line_of(dir: &Path, role: &str, needle: &str) -> usize {
    let text = std::fs::read_to_string(dir.join(role_path(role))).unwrap();
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

fn web() -> Value {
    json!({
        "app": {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"},
                {"Sid": "Queue", "Effect": "Allow", "Action": ["sqs:SendMessage", "sqs:GetQueueUrl"], "Resource": "*"}
            ]
        },
        "extra": {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"}]
        }
    })
}

fn worker() -> Value {
    json!({
        "ops": {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["iam:GetRole", "iam:ListRoles"], "Resource": "*"},
                {"Effect": "Deny", "Action": "iam:DeleteRole", "Resource": "*"}
            ]
        }
    })
}

/// A repository whose `main` holds roles `web`, `worker` and `old`, on branch `pr` (= main).
fn setup() -> tempfile::TempDir {
    let dir = new_repo();
    let d = dir.path();
    write_text(d, "README.md", "policies\n");
    write_role(d, "web", &web());
    write_role(d, "worker", &worker());
    write_role(
        d,
        "old",
        &json!({"legacy": {"Statement": [{"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"}]}}),
    );
    commit(d, "base");
    git(d, &["checkout", "-q", "-b", "pr"]);
    dir
}

/// The `widenings` entry of the JSON report for `role`.
fn widening<'a>(doc: &'a Value, role: &str) -> &'a Value {
    doc["widenings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["role"] == role)
        .unwrap_or_else(|| panic!("no widening for {role}: {doc}"))
}

/// Commits `w` as role `web` on a new branch `name` from main, and verifies it.
fn web_pr(d: &Path, name: &str, w: &Value) -> (i32, String) {
    branch(d, name);
    write_role(d, "web", w);
    commit(d, name);
    let (code, out, err) = verify(d, &[]);
    (code, format!("{out}{err}"))
}
