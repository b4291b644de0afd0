//! What git history answers (`repokid::store::history`), against real temporary repositories whose
//! commits are built with git2 directly: controlled times, messages in the documented trailer
//! format, and hand-made commits without trailers.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use git2::{Oid, Repository, Signature, Time};
use repokid::engine::policy::{Effect, PolicyMap, parse_policy_map};
use repokid::engine::{Catalog, PermissionAges};
use repokid::store::history::{
    RoleVersion, STATS_CSV_HEADER, StatsRow, account_permission_ages, permission_ages, restore,
    role_versions, stats, stats_to_csv,
};
use repokid::store::{Action, StoreError};

// One module per concern; this file keeps what several of them share.
mod account_ages;
mod ages;
mod restore;
mod role_versions;
mod stats;

const A: &str = "123456789012";
const B: &str = "210987654321";

/// A repository whose commits are written with git2 directly.
struct TestRepo {
    _dir: tempfile::TempDir,
    repo: Repository,
    /// The tree of the branch tip: path → content.
    files: BTreeMap<String, String>,
}

fn t(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, day, 12, 0, 0).unwrap()
}

/// A tool commit message in the documented format.
fn tool_message(action: &str, account: &str, subject: &str) -> String {
    format!(
        "repokid {action}: {account} ({subject})\n\nChanged: some roles\n\n\
         Repokid-Action: {action}\nRepokid-Account: {account}\nRepokid-Roles-Changed: 1\n"
    )
}

fn role_file(account: &str, role: &str) -> String {
    format!("policies/{account}/{role}.json")
}

/// A policy file with one policy `app` holding one Allow statement on `*`.
fn allow(actions: &[&str]) -> String {
    let actions: Vec<String> = actions.iter().map(|a| format!("{a:?}")).collect();
    format!(
        r#"{{
  "app": {{
    "Version": "2012-10-17",
    "Statement": [{{"Effect": "Allow", "Action": [{}], "Resource": "*"}}]
  }}
}}
"#,
        actions.join(", ")
    )
}

impl TestRepo {
    fn new() -> TestRepo {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path()).unwrap();
        TestRepo {
            _dir: dir,
            repo,
            files: BTreeMap::new(),
        }
    }

    /// Commits `changes` (path → new content, `None` deletes) on top of HEAD at `when`.
    fn commit(
        &mut self,
        when: DateTime<Utc>,
        message: &str,
        changes: &[(&str, Option<&str>)],
    ) -> Oid {
        for (path, content) in changes {
            match content {
                Some(c) => self.files.insert(path.to_string(), c.to_string()),
                None => self.files.remove(*path),
            };
        }
        let tree = self.write_tree();
        let parents: Vec<Oid> = self.head().into_iter().collect();
        self.commit_tree(when, message, tree, &parents, Some("HEAD"))
    }

    fn head(&self) -> Option<Oid> {
        self.repo.head().ok().and_then(|h| h.target())
    }

    fn commit_tree(
        &self,
        when: DateTime<Utc>,
        message: &str,
        tree: Oid,
        parents: &[Oid],
        update_ref: Option<&str>,
    ) -> Oid {
        let sig =
            Signature::new("Test", "test@example.com", &Time::new(when.timestamp(), 0)).unwrap();
        let tree = self.repo.find_tree(tree).unwrap();
        let parents: Vec<git2::Commit> = parents
            .iter()
            .map(|p| self.repo.find_commit(*p).unwrap())
            .collect();
        let parents: Vec<&git2::Commit> = parents.iter().collect();
        self.repo
            .commit(update_ref, &sig, &sig, message, &tree, &parents)
            .unwrap()
    }

    fn write_tree(&self) -> Oid {
        let blobs: BTreeMap<String, Oid> = self
            .files
            .iter()
            .map(|(p, c)| (p.clone(), self.repo.blob(c.as_bytes()).unwrap()))
            .collect();
        write_tree(&self.repo, &blobs)
    }
}

/// Builds nested trees for `files` (path → blob).
fn write_tree(repo: &Repository, files: &BTreeMap<String, Oid>) -> Oid {
    let mut builder = repo.treebuilder(None).unwrap();
    let mut dirs: BTreeMap<&str, BTreeMap<String, Oid>> = BTreeMap::new();
    for (path, blob) in files {
        match path.split_once('/') {
            Some((dir, rest)) => {
                dirs.entry(dir).or_default().insert(rest.to_string(), *blob);
            }
            None => {
                builder.insert(path, *blob, 0o100644).unwrap();
            }
        }
    }
    for (dir, inner) in dirs {
        let sub = write_tree(repo, &inner);
        builder.insert(dir, sub, 0o040000).unwrap();
    }
    builder.write().unwrap()
}

fn catalog() -> &'static Catalog {
    Catalog::embedded()
}

fn ages(repo: &TestRepo, role: &str) -> PermissionAges {
    permission_ages(&repo.repo, "HEAD", A, role, catalog()).unwrap()
}

fn since(ages: &PermissionAges, action: &str) -> DateTime<Utc> {
    ages.since(action)
        .unwrap_or_else(|| panic!("no age for {action} in {ages:?}"))
}

fn versions(repo: &TestRepo, role: &str) -> Vec<RoleVersion> {
    role_versions(&repo.repo, "HEAD", A, role, catalog()).unwrap()
}

fn map(text: &str) -> PolicyMap {
    parse_policy_map("test", text).unwrap()
}
