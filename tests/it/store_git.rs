//! The git policy store against real repositories: libgit2 writes, the `git` command line checks
//! (status, log, trailers), as a user would see them.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use git2::Repository;
use repokid::engine::policy::{PolicyMap, parse_policy_map, to_canonical_json};
use repokid::store::git::{
    PolicyStore, WriteAccount, WriteMode, Written, commit_action, parse_trailers,
};
use repokid::store::{Action, StoreError};
use tempfile::TempDir;

// One module per concern; this file keeps what several of them share.
mod branches;
mod reading;
mod refusals;
mod repository;
mod sync;

const A1: &str = "123456789012";
const A2: &str = "210987654321";

/// Runs `git` in `dir` and returns its standard output; panics with its error output on failure.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A fresh repository (unborn `HEAD`) and a store on it.
fn fresh() -> (TempDir, PolicyStore) {
    let dir = TempDir::new().unwrap();
    Repository::init(dir.path()).unwrap();
    let store = PolicyStore::open(dir.path()).unwrap();
    (dir, store)
}

/// A policy map with one policy `name` allowing `actions` on everything.
fn policy(name: &str, actions: &[&str]) -> PolicyMap {
    let actions: Vec<String> = actions.iter().map(|a| format!("\"{a}\"")).collect();
    let text = format!(
        r#"{{"{name}": {{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Action": [{}], "Resource": "*"}}]}}}}"#,
        actions.join(", ")
    );
    parse_policy_map("test", &text).unwrap()
}

fn roles(items: &[(&str, PolicyMap)]) -> BTreeMap<String, PolicyMap> {
    items
        .iter()
        .map(|(n, m)| (n.to_string(), m.clone()))
        .collect()
}

fn sync(store: &PolicyStore, account: &str, roles: BTreeMap<String, PolicyMap>) -> Option<Written> {
    store
        .write_account(&WriteAccount {
            mode: WriteMode::ReplaceAll,
            action: Action::Sync,
            roles,
            ..WriteAccount::new(store.current_branch().unwrap(), account)
        })
        .unwrap()
}

fn sync_err(store: &PolicyStore, account: &str, roles: BTreeMap<String, PolicyMap>) -> StoreError {
    store
        .write_account(&WriteAccount {
            mode: WriteMode::ReplaceAll,
            roles,
            ..WriteAccount::new(store.current_branch().unwrap(), account)
        })
        .unwrap_err()
}

fn head(dir: &Path) -> String {
    git(dir, &["rev-parse", "HEAD"]).trim().to_string()
}

fn status(dir: &Path) -> String {
    git(dir, &["status", "--porcelain", "--untracked-files=all"])
}

fn file(dir: &Path, account: &str, role: &str) -> Option<String> {
    std::fs::read_to_string(
        dir.join("policies")
            .join(account)
            .join(format!("{role}.json")),
    )
    .ok()
}

/// Every loose and packed object file, to show nothing was written.
fn object_count(dir: &Path) -> usize {
    fn walk(p: &Path) -> usize {
        std::fs::read_dir(p)
            .map(|rd| {
                rd.flatten()
                    .map(|e| {
                        if e.path().is_dir() {
                            walk(&e.path())
                        } else {
                            1
                        }
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    walk(&dir.join(".git/objects"))
}

fn web() -> PolicyMap {
    policy("s3", &["s3:GetObject", "s3:PutObject"])
}

fn batch() -> PolicyMap {
    policy("sqs", &["sqs:ReceiveMessage"])
}
