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

// ---------------------------------------------------------------------------------------------
// role_versions

#[test]
fn versions_are_the_commits_that_changed_the_file_newest_first_including_its_deletion() {
    let mut r = TestRepo::new();
    let web = role_file(A, "web");
    let c1 = r.commit(
        t(1),
        &tool_message("sync", A, "1 added"),
        &[(&web, Some(&allow(&["s3:GetObject", "s3:PutObject"])))],
    );
    // Another role changes: not a version of web.
    r.commit(
        t(2),
        &tool_message("sync", A, "1 added"),
        &[(&role_file(A, "batch"), Some(&allow(&["sqs:SendMessage"])))],
    );
    let c3 = r.commit(
        t(3),
        &tool_message("repo", A, "1 changed"),
        &[(&web, Some(&allow(&["s3:GetObject"])))],
    );
    // A hand-made commit outside policies/: not a version either.
    r.commit(t(4), "Update README", &[("README.md", Some("hello\n"))]);
    let c5 = r.commit(t(5), &tool_message("sync", A, "1 removed"), &[(&web, None)]);

    let v = versions(&r, "web");
    let commits: Vec<Oid> = v.iter().map(|v| v.commit).collect();
    assert_eq!(commits, vec![c5, c3, c1]);
    assert_eq!(
        v.iter().map(|v| v.time).collect::<Vec<_>>(),
        vec![t(5), t(3), t(1)]
    );
    assert_eq!(
        v.iter().map(|v| v.action).collect::<Vec<_>>(),
        vec![Some(Action::Sync), Some(Action::Repo), Some(Action::Sync)]
    );
    assert_eq!(v[1].subject, format!("repokid repo: {A} (1 changed)"));
    // The deletion is a version without policies.
    assert!(v[0].policies.is_none());
    assert_eq!(v[0].permissions, 0);
    assert_eq!(v[1].permissions, 1);
    assert_eq!(v[2].permissions, 2);
    let expected = parse_policy_map("x", &allow(&["s3:GetObject"])).unwrap();
    assert_eq!(v[1].policies.as_ref(), Some(&expected));

    // At an earlier revision, later versions do not exist yet.
    let at_c3 = role_versions(&r.repo, &c3.to_string(), A, "web", catalog()).unwrap();
    assert_eq!(
        at_c3.iter().map(|v| v.commit).collect::<Vec<_>>(),
        vec![c3, c1]
    );

    // A file that never existed has no versions.
    assert!(versions(&r, "nobody").is_empty());
}

#[test]
fn a_commit_without_trailers_is_a_version_without_an_action() {
    let mut r = TestRepo::new();
    let web = role_file(A, "web");
    r.commit(
        t(1),
        &tool_message("sync", A, "1 added"),
        &[(&web, Some(&allow(&["s3:GetObject"])))],
    );
    let hand = r.commit(
        t(2),
        "Give web ListBucket\n\nBy hand, reviewed in #12.\n",
        &[(&web, Some(&allow(&["s3:GetObject", "s3:ListBucket"])))],
    );
    let v = versions(&r, "web");
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].commit, hand);
    assert_eq!(v[0].action, None);
    assert_eq!(v[0].subject, "Give web ListBucket");
    assert_eq!(v[0].permissions, 2);
}

#[test]
fn the_walk_follows_first_parents_and_a_merge_is_the_version() {
    let mut r = TestRepo::new();
    let web = role_file(A, "web");
    let base = r.commit(
        t(1),
        &tool_message("sync", A, "1 added"),
        &[(&web, Some(&allow(&["s3:GetObject"])))],
    );
    // A proposal branch: one commit on top of base, not on HEAD yet.
    let mut files = r.files.clone();
    files.insert(web.clone(), allow(&["s3:GetObject", "s3:PutObject"]));
    let blobs: BTreeMap<String, Oid> = files
        .iter()
        .map(|(p, c)| (p.clone(), r.repo.blob(c.as_bytes()).unwrap()))
        .collect();
    let tree = write_tree(&r.repo, &blobs);
    let side = r.commit_tree(t(2), "add PutObject", tree, &[base], None);
    // Meanwhile main moves on, then merges the branch at t(4).
    let main = r.commit(t(3), "docs", &[("README.md", Some("x\n"))]);
    r.files = files;
    r.files.insert("README.md".into(), "x\n".into());
    let merged_tree = r.write_tree();
    let merge = r.commit_tree(
        t(4),
        "Merge pull request #1",
        merged_tree,
        &[main, side],
        Some("HEAD"),
    );

    let v = versions(&r, "web");
    assert_eq!(
        v.iter().map(|v| v.commit).collect::<Vec<_>>(),
        vec![merge, base]
    );
    // The action granted by the branch counts from when it landed.
    let a = ages(&r, "web");
    assert_eq!(since(&a, "s3:putobject"), t(4));
    assert_eq!(since(&a, "s3:getobject"), t(1));
}

#[test]
fn an_unknown_revision_is_an_error_naming_it() {
    let mut r = TestRepo::new();
    r.commit(t(1), "init", &[("README.md", Some("x\n"))]);
    let err = role_versions(&r.repo, "no-such-branch", A, "web", catalog()).unwrap_err();
    assert!(matches!(err, StoreError::Git { .. }), "{err:?}");
    assert!(err.to_string().contains("no-such-branch"), "{err}");
}

#[test]
fn an_unreadable_version_is_an_error_naming_file_and_commit() {
    let mut r = TestRepo::new();
    let web = role_file(A, "web");
    let bad = r.commit(t(1), "oops", &[(&web, Some("{not json"))]);
    let err = role_versions(&r.repo, "HEAD", A, "web", catalog()).unwrap_err();
    match &err {
        StoreError::BadFile { path, rev, .. } => {
            assert_eq!(path, &web);
            assert_eq!(rev, &bad.to_string());
        }
        other => panic!("expected BadFile, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// permission_ages

#[test]
fn ages_added_later_removed_and_re_added() {
    let mut r = TestRepo::new();
    let web = role_file(A, "web");
    r.commit(
        t(1),
        &tool_message("sync", A, "1 added"),
        &[(
            &web,
            Some(&allow(&["s3:GetObject", "ec2:DescribeInstances"])),
        )],
    );
    r.commit(
        t(2),
        &tool_message("sync", A, "1 changed"),
        &[(
            &web,
            Some(&allow(&[
                "s3:GetObject",
                "ec2:DescribeInstances",
                "sqs:SendMessage",
            ])),
        )],
    );
    r.commit(
        t(3),
        &tool_message("repo", A, "1 changed"),
        &[(&web, Some(&allow(&["s3:GetObject", "sqs:SendMessage"])))],
    );
    // Unrelated commits in between do not matter.
    r.commit(t(4), "docs", &[("README.md", Some("x\n"))]);
    r.commit(
        t(5),
        &tool_message("rollback", A, "1 changed"),
        &[(
            &web,
            Some(&allow(&[
                "s3:GetObject",
                "sqs:SendMessage",
                "ec2:DescribeInstances",
            ])),
        )],
    );
    let a = ages(&r, "web");
    assert_eq!(since(&a, "s3:getobject"), t(1));
    assert_eq!(since(&a, "sqs:sendmessage"), t(2));
    // Removed at t(3), back at t(5): the age restarts.
    assert_eq!(since(&a, "ec2:describeinstances"), t(5));
    // Only what is granted now has an age; no fallback.
    assert_eq!(a.since("s3:putobject"), None);
    match &a {
        PermissionAges::PerAction { since, fallback } => {
            assert_eq!(since.len(), 3);
            assert_eq!(*fallback, None);
        }
        other => panic!("expected PerAction, got {other:?}"),
    }
}

#[test]
fn a_wildcard_narrowed_keeps_its_time_for_the_kept_actions() {
    let mut r = TestRepo::new();
    let web = role_file(A, "web");
    r.commit(
        t(1),
        &tool_message("sync", A, "1 added"),
        &[(&web, Some(&allow(&["s3:*"])))],
    );
    r.commit(
        t(2),
        &tool_message("repo", A, "1 changed"),
        &[(&web, Some(&allow(&["s3:GetObject", "s3:ListBucket"])))],
    );
    let a = ages(&r, "web");
    assert_eq!(since(&a, "s3:getobject"), t(1));
    assert_eq!(since(&a, "s3:listbucket"), t(1));
    assert_eq!(a.since("s3:putobject"), None);
}

#[test]
fn a_wildcard_added_later_ages_only_the_actions_it_added() {
    let mut r = TestRepo::new();
    let web = role_file(A, "web");
    r.commit(
        t(1),
        &tool_message("sync", A, "1 added"),
        &[(&web, Some(&allow(&["s3:GetObject"])))],
    );
    r.commit(
        t(2),
        &tool_message("sync", A, "1 changed"),
        &[(&web, Some(&allow(&["s3:Get*"])))],
    );
    let a = ages(&r, "web");
    assert_eq!(since(&a, "s3:getobject"), t(1));
    assert_eq!(since(&a, "s3:getbucketpolicy"), t(2));
}

#[test]
fn unknown_entries_are_aged_by_their_lowercase_text() {
    let mut r = TestRepo::new();
    let web = role_file(A, "web");
    r.commit(
        t(1),
        &tool_message("sync", A, "1 added"),
        &[(&web, Some(&allow(&["s3:GetObject", "s3:BrandNewThing"])))],
    );
    r.commit(
        t(2),
        &tool_message("sync", A, "1 changed"),
        &[(
            &web,
            Some(&allow(&["s3:GetObject", "s3:BrandNewThing", "newsvc:DoIt"])),
        )],
    );
    let a = ages(&r, "web");
    assert_eq!(since(&a, "s3:brandnewthing"), t(1));
    assert_eq!(since(&a, "newsvc:doit"), t(2));
}

#[test]
fn a_deletion_breaks_every_run_and_no_file_means_unknown() {
    let mut r = TestRepo::new();
    let web = role_file(A, "web");
    r.commit(
        t(1),
        &tool_message("sync", A, "1 added"),
        &[(&web, Some(&allow(&["s3:GetObject"])))],
    );
    r.commit(t(2), &tool_message("sync", A, "1 removed"), &[(&web, None)]);
    assert_eq!(ages(&r, "web"), PermissionAges::Unknown);
    r.commit(
        t(3),
        &tool_message("sync", A, "1 added"),
        &[(&web, Some(&allow(&["s3:GetObject"])))],
    );
    assert_eq!(since(&ages(&r, "web"), "s3:getobject"), t(3));
    assert_eq!(ages(&r, "never-existed"), PermissionAges::Unknown);
}

#[test]
fn an_unreadable_older_version_breaks_the_runs_instead_of_failing() {
    let mut r = TestRepo::new();
    let web = role_file(A, "web");
    r.commit(
        t(1),
        &tool_message("sync", A, "1 added"),
        &[(&web, Some(&allow(&["s3:GetObject"])))],
    );
    r.commit(t(2), "broken by hand", &[(&web, Some("{"))]);
    r.commit(
        t(3),
        "fixed by hand",
        &[(&web, Some(&allow(&["s3:GetObject"])))],
    );
    // Younger than the truth: the grace period keeps more (fail closed).
    assert_eq!(since(&ages(&r, "web"), "s3:getobject"), t(3));
    // The current file unreadable is an error, though.
    r.commit(t(4), "broken again", &[(&web, Some("["))]);
    let err = permission_ages(&r.repo, "HEAD", A, "web", catalog()).unwrap_err();
    assert!(matches!(err, StoreError::BadFile { .. }), "{err:?}");
}

#[test]
fn the_walk_stops_once_every_run_has_ended() {
    let mut r = TestRepo::new();
    let web = role_file(A, "web");
    // The first version's commit names a parent that is not in the repository, so a walk that
    // goes past that version fails.
    r.files
        .insert(web.clone(), allow(&["s3:GetObject", "s3:ListBucket"]));
    let tree = r.write_tree();
    let secs = t(1).timestamp();
    let raw = format!(
        "tree {tree}\nparent {}\nauthor T <t@example.com> {secs} +0000\n\
         committer T <t@example.com> {secs} +0000\n\nfirst\n",
        "1".repeat(40)
    );
    let first = r
        .repo
        .odb()
        .unwrap()
        .write(git2::ObjectType::Commit, raw.as_bytes())
        .unwrap();
    r.repo
        .reference("refs/heads/main", first, true, "test")
        .unwrap();
    r.repo.set_head("refs/heads/main").unwrap();
    r.commit(
        t(2),
        &tool_message("sync", A, "1 changed"),
        &[(&web, Some(&allow(&["s3:ListBucket", "sqs:SendMessage"])))],
    );
    r.commit(
        t(3),
        &tool_message("sync", A, "1 changed"),
        &[(&web, Some(&allow(&["sqs:SendMessage", "s3:PutObject"])))],
    );
    // SendMessage's run ends at t(2): the content before it (read from t(2)'s parent tree) lacks
    // it, so the walk needs neither the commit that wrote that content nor its parent.
    let a = ages(&r, "web");
    assert_eq!(since(&a, "sqs:sendmessage"), t(2));
    assert_eq!(since(&a, "s3:putobject"), t(3));
    // Whereas listing every version has to, and reports the broken history.
    let err = role_versions(&r.repo, "HEAD", A, "web", catalog()).unwrap_err();
    assert!(err.to_string().contains(&first.to_string()), "{err}");
}

// ---------------------------------------------------------------------------------------------
// stats

/// A history with tool commits, hand-made commits, a deletion and files stats must ignore.
fn stats_history() -> (TestRepo, Vec<Oid>) {
    let mut r = TestRepo::new();
    let web = role_file(A, "web");
    let batch = role_file(A, "batch");
    let legacy = role_file(B, "legacy,admin");
    let c1 = r.commit(
        t(1),
        &tool_message("sync", A, "3 added"),
        &[
            (
                &web,
                Some(&allow(&[
                    "s3:GetObject",
                    "s3:PutObject",
                    "ec2:DescribeInstances",
                ])),
            ),
            (&batch, Some(&allow(&["sqs:SendMessage"]))),
            (&legacy, Some(&allow(&["s3:ListBucket", "s3:DeleteBucket"]))),
        ],
    );
    // By hand, no trailers: ignored, but the next commit's "before" is this state.
    r.commit(
        t(2),
        "web needs ListBucket",
        &[(
            &web,
            Some(&allow(&[
                "s3:GetObject",
                "s3:PutObject",
                "ec2:DescribeInstances",
                "s3:ListBucket",
            ])),
        )],
    );
    let c3 = r.commit(
        t(3),
        &tool_message("repo", A, "2 changed"),
        &[
            (&web, Some(&allow(&["s3:GetObject", "s3:ListBucket"]))),
            (&batch, Some(&allow(&[]))),
            // Not role files: ignored even in a tool commit.
            ("policies/README.md", Some("about\n")),
            (&format!("policies/{A}/notes.txt"), Some("x\n")),
            ("filters.toml", Some("# x\n")),
        ],
    );
    let c4 = r.commit(
        t(4),
        &tool_message("rollback", A, "1 changed"),
        &[(
            &web,
            Some(&allow(&["s3:GetObject", "s3:ListBucket", "s3:PutObject"])),
        )],
    );
    let c5 = r.commit(
        t(5),
        &tool_message("sync", B, "1 removed"),
        &[(&legacy, None)],
    );
    // A tool commit that touches nothing under policies/ gives no rows.
    r.commit(
        t(6),
        &tool_message("opt-out", A, "web"),
        &[("filters.toml", Some("# opted out\n"))],
    );
    (r, vec![c1, c3, c4, c5])
}

fn row(
    date: DateTime<Utc>,
    commit: Oid,
    account: &str,
    role: &str,
    action: Action,
    (permissions, removed, added): (usize, usize, usize),
) -> StatsRow {
    StatsRow {
        date,
        commit,
        account: account.into(),
        role: role.into(),
        action,
        permissions,
        removed,
        added,
    }
}

#[test]
fn stats_has_one_row_per_role_file_changed_by_a_tool_commit() {
    let (r, c) = stats_history();
    let rows = stats(&r.repo, "HEAD", catalog(), None).unwrap();
    let expected = vec![
        row(t(5), c[3], B, "legacy,admin", Action::Sync, (0, 2, 0)),
        row(t(4), c[2], A, "web", Action::Rollback, (3, 0, 1)),
        row(t(3), c[1], A, "batch", Action::Repo, (0, 1, 0)),
        // Before = after the hand-made commit (4 actions), after = 2.
        row(t(3), c[1], A, "web", Action::Repo, (2, 2, 0)),
        row(t(1), c[0], A, "batch", Action::Sync, (1, 0, 1)),
        row(t(1), c[0], A, "web", Action::Sync, (3, 0, 3)),
        row(t(1), c[0], B, "legacy,admin", Action::Sync, (2, 0, 2)),
    ];
    assert_eq!(rows, expected);
}

#[test]
fn stats_since_stops_at_older_commits() {
    let (r, c) = stats_history();
    let rows = stats(&r.repo, "HEAD", catalog(), Some(t(3))).unwrap();
    let commits: Vec<Oid> = rows.iter().map(|r| r.commit).collect();
    assert_eq!(commits, vec![c[3], c[2], c[1], c[1]]);
    // From an earlier revision.
    let rows = stats(&r.repo, &c[1].to_string(), catalog(), None).unwrap();
    assert_eq!(rows.len(), 5);
    assert!(rows.iter().all(|r| r.date <= t(3)));
}

#[test]
fn stats_csv_has_one_header_and_quotes_what_needs_it() {
    let (r, c) = stats_history();
    let rows = stats(&r.repo, "HEAD", catalog(), None).unwrap();
    let csv = stats_to_csv(&rows);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], STATS_CSV_HEADER);
    assert_eq!(
        lines[0],
        "date,commit,account,role,action,permissions,removed,added"
    );
    assert_eq!(csv.matches("date,commit").count(), 1, "header printed once");
    assert_eq!(lines.len(), 1 + rows.len());
    assert_eq!(
        lines[1],
        format!(
            "2026-01-05T12:00:00Z,{},{B},\"legacy,admin\",sync,0,2,0",
            c[3]
        )
    );
    assert_eq!(
        lines[2],
        format!("2026-01-04T12:00:00Z,{},{A},web,rollback,3,0,1", c[2])
    );
    assert!(csv.ends_with('\n'));
    assert_eq!(stats_to_csv(&[]), format!("{STATS_CSV_HEADER}\n"));
}

#[test]
fn stats_rows_serialise_for_json_output() {
    let (r, c) = stats_history();
    let rows = stats(&r.repo, "HEAD", catalog(), None).unwrap();
    let v = serde_json::to_value(&rows[1]).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "date": "2026-01-04T12:00:00Z",
            "commit": c[2].to_string(),
            "account": A,
            "role": "web",
            "action": "rollback",
            "permissions": 3,
            "removed": 0,
            "added": 1,
        })
    );
}

#[test]
fn stats_on_a_history_without_tool_commits_is_empty() {
    let mut r = TestRepo::new();
    r.commit(
        t(1),
        "hand-made",
        &[(&role_file(A, "web"), Some(&allow(&["s3:GetObject"])))],
    );
    assert!(stats(&r.repo, "HEAD", catalog(), None).unwrap().is_empty());
}

#[test]
fn stats_reports_an_unreadable_file_with_path_and_commit() {
    let mut r = TestRepo::new();
    let web = role_file(A, "web");
    let bad = r.commit(
        t(1),
        &tool_message("sync", A, "1 added"),
        &[(&web, Some("{\"app\": 3}"))],
    );
    let err = stats(&r.repo, "HEAD", catalog(), None).unwrap_err();
    assert!(err.to_string().contains(&web), "{err}");
    assert!(err.to_string().contains(&bad.to_string()), "{err}");
}

// ---------------------------------------------------------------------------------------------
// restore

fn map(text: &str) -> PolicyMap {
    parse_policy_map("test", text).unwrap()
}

/// Versions of web: t(1) broad (two policies, conditions, a Deny), t(2) narrowed, t(3) deleted,
/// t(4) back, narrow.
fn restore_history() -> (TestRepo, Vec<RoleVersion>) {
    let mut r = TestRepo::new();
    let web = role_file(A, "web");
    let broad = r#"{
  "app": {
    "Version": "2012-10-17",
    "Statement": [
      {"Sid": "Data", "Effect": "Allow",
       "Action": ["s3:GetObject", "s3:PutObject", "ec2:DescribeInstances"],
       "Resource": "arn:aws:s3:::bucket/*",
       "Condition": {"Bool": {"aws:SecureTransport": "true"}}},
      {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::bucket"},
      {"Sid": "NoDelete", "Effect": "Deny", "Action": "s3:Delete*", "Resource": "*"}
    ]
  },
  "admin": {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "All", "Effect": "Allow", "Action": ["s3:*", "s3:FutureAction"], "Resource": "*"}]
  }
}
"#;
    let narrow = r#"{
  "app": {
    "Version": "2012-10-17",
    "Statement": [
      {"Sid": "Data", "Effect": "Allow", "Action": ["s3:GetObject", "ec2:DescribeInstances"],
       "Resource": "arn:aws:s3:::bucket/*"}
    ]
  }
}
"#;
    r.commit(
        t(1),
        &tool_message("sync", A, "1 added"),
        &[(&web, Some(broad))],
    );
    r.commit(
        t(2),
        &tool_message("repo", A, "1 changed"),
        &[(&web, Some(narrow))],
    );
    r.commit(t(3), &tool_message("sync", A, "1 removed"), &[(&web, None)]);
    r.commit(
        t(4),
        &tool_message("sync", A, "1 added"),
        &[(&web, Some(narrow))],
    );
    let v = versions(&r, "web");
    assert_eq!(v.len(), 4);
    (r, v)
}

#[test]
fn restore_a_whole_version() {
    let (_r, v) = restore_history();
    let current = v[0].policies.clone().unwrap();
    let out = restore(&v, &current, 3, None, catalog()).unwrap();
    assert_eq!(Some(&out.policies), v[3].policies.as_ref());
    assert!(out.goes_away.is_empty());
    assert!(out.comes_back.contains(&"s3:PutObject".to_string()));
    assert!(out.comes_back.contains(&"s3:ListBucket".to_string()));
    assert!(out.comes_back.contains(&"s3:FutureAction".to_string()));
    assert!(!out.comes_back.contains(&"s3:GetObject".to_string()));
    // Names are canonical and sorted case-insensitively.
    let mut sorted = out.comes_back.clone();
    sorted.sort_by_key(|s| s.to_ascii_lowercase());
    assert_eq!(out.comes_back, sorted);

    // Restoring the narrow version from a broader current state takes access away.
    let broad = v[3].policies.clone().unwrap();
    let out = restore(&v, &broad, 0, None, catalog()).unwrap();
    assert!(out.comes_back.is_empty());
    assert!(out.goes_away.contains(&"s3:PutObject".to_string()));
}

#[test]
fn restore_of_a_deleted_version_or_a_missing_one_is_an_error() {
    let (_r, v) = restore_history();
    let current = v[0].policies.clone().unwrap();
    let err = restore(&v, &current, 1, None, catalog()).unwrap_err();
    assert!(
        err.to_string().contains("that version has no policies"),
        "{err}"
    );
    let err = restore(&v, &current, 9, None, catalog()).unwrap_err();
    assert!(err.to_string().contains("no version 9"), "{err}");
    let err = restore(&v, &current, 3, Some("nosuchservice"), catalog()).unwrap_err();
    assert!(err.to_string().contains("nosuchservice"), "{err}");
}

#[test]
fn restore_by_service_copies_just_the_missing_actions_of_that_service() {
    let (_r, v) = restore_history();
    let current = v[0].policies.clone().unwrap();
    let out = restore(&v, &current, 3, Some("s3"), catalog()).unwrap();

    // Nothing of the current state is lost and no other service comes back.
    assert!(out.goes_away.is_empty());
    assert!(out.comes_back.iter().all(|a| a.starts_with("s3:")));
    assert!(out.comes_back.contains(&"s3:PutObject".to_string()));
    assert!(out.comes_back.contains(&"s3:FutureAction".to_string()));

    let app = &out.policies["app"];
    let sts = app.statements();
    // The current statement stays as written, first.
    assert_eq!(sts[0], current["app"].statements()[0]);
    // Copy of "Data": same Resource and Condition, only the missing s3 action.
    let data = &sts[1];
    assert_eq!(data.sid(), Some("DataRestored"));
    assert_eq!(data.entries(), ["s3:PutObject".to_string()]);
    assert_eq!(
        data.fields()["Resource"],
        serde_json::json!("arn:aws:s3:::bucket/*")
    );
    assert_eq!(
        data.fields()["Condition"],
        serde_json::json!({"Bool": {"aws:SecureTransport": "true"}})
    );
    // The Sid-less statement gets one.
    assert_eq!(sts[2].sid(), Some("Restored"));
    assert_eq!(sts[2].entries(), ["s3:ListBucket".to_string()]);
    assert_eq!(
        sts[2].fields()["Resource"],
        serde_json::json!("arn:aws:s3:::bucket")
    );

    // "admin" did not exist now: created, from the old document, wildcard expanded to the
    // missing actions by canonical name plus the entry the catalog does not know.
    let admin = &out.policies["admin"];
    assert_eq!(admin.statements().len(), 1);
    let all = &admin.statements()[0];
    assert_eq!(all.sid(), Some("AllRestored"));
    assert!(all.entries().contains(&"s3:DeleteBucket".to_string()));
    assert!(all.entries().contains(&"s3:FutureAction".to_string()));
    assert!(!all.entries().contains(&"s3:GetObject".to_string()));
    assert_eq!(
        all.entries().len(),
        catalog().service("s3").unwrap().actions.len() - 1 + 1
    );
    assert_eq!(admin.to_value()["Version"], "2012-10-17");

    // The old Deny comes back narrowed to the restored actions it covered, so s3:Delete* stays
    // denied as it was in that version.
    let deny = sts
        .iter()
        .find(|s| s.effect() == Effect::Deny)
        .expect("the Deny is restored");
    assert_eq!(deny.sid(), Some("NoDeleteRestored"));
    assert!(
        deny.entries()
            .iter()
            .all(|a| a.to_ascii_lowercase().starts_with("s3:delete"))
    );
    assert!(deny.entries().contains(&"s3:DeleteBucket".to_string()));
    assert_eq!(deny.fields()["Resource"], serde_json::json!("*"));
}

#[test]
fn restore_by_service_never_grants_what_the_version_did_not() {
    let (_r, v) = restore_history();
    // Current grants ec2 and lambda; the old version s3 and ec2.
    let current = map(r#"{"app": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": "*"}]}}"#);
    for service in ["s3", "ec2", "lambda", "sqs"] {
        let out = restore(&v, &current, 3, Some(service), catalog()).unwrap();
        let old = repokid::engine::grants::analyze(v[3].policies.as_ref().unwrap(), catalog());
        for name in &out.comes_back {
            let granted_then = catalog()
                .lookup(name)
                .map(|id| old.all.contains(id))
                .unwrap_or_else(|| old.unknown.contains_key(&name.to_ascii_lowercase()));
            assert!(granted_then, "{service}: {name} was not granted then");
            assert!(
                name.to_ascii_lowercase()
                    .starts_with(&format!("{service}:"))
            );
        }
        assert!(out.goes_away.is_empty());
    }
    // ec2:DescribeInstances comes back under the old statement's Resource.
    let out = restore(&v, &current, 3, Some("EC2"), catalog()).unwrap();
    assert_eq!(out.comes_back, vec!["ec2:DescribeInstances".to_string()]);
    let copy = out.policies["app"].statements().last().unwrap().clone();
    assert_eq!(copy.sid(), Some("DataRestored"));
    assert_eq!(
        copy.fields()["Resource"],
        serde_json::json!("arn:aws:s3:::bucket/*")
    );
    // Nothing missing: unchanged.
    let out = restore(&v, &current, 3, Some("lambda"), catalog()).unwrap();
    assert_eq!(out.policies, current);
    assert!(out.comes_back.is_empty());
}

#[test]
fn restored_sids_stay_unique() {
    let (_r, v) = restore_history();
    let current = map(r#"{"app": {"Version": "2012-10-17", "Statement": [
            {"Sid": "DataRestored", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}]}}"#);
    let out = restore(&v, &current, 3, Some("s3"), catalog()).unwrap();
    let sids: Vec<Option<&str>> = out.policies["app"]
        .statements()
        .iter()
        .map(|s| s.sid())
        .collect();
    assert_eq!(sids[0], Some("DataRestored"));
    assert_eq!(sids[1], Some("DataRestored2"));
}

// ---------------------------------------------------------------------------------------------
// account_permission_ages: one walk for every role of an account, same answers as per role

#[test]
fn account_ages_match_per_role_ages() {
    let mut r = TestRepo::new();
    let f = |role: &str| role_file(A, role);
    r.commit(
        t(1),
        &tool_message("sync", A, "3 added"),
        &[
            (&f("web"), Some(&allow(&["s3:*"]))),
            (
                &f("batch"),
                Some(&allow(&["sqs:SendMessage", "s3:GetObject"])),
            ),
            (&f("gone"), Some(&allow(&["ec2:DescribeInstances"]))),
            (&role_file(B, "web"), Some(&allow(&["iam:PassRole"]))),
        ],
    );
    r.commit(
        t(2),
        &tool_message("repo", A, "2 changed"),
        &[
            (&f("web"), Some(&allow(&["s3:GetObject", "s3:ListBucket"]))),
            (&f("batch"), Some(&allow(&["sqs:SendMessage"]))),
        ],
    );
    r.commit(t(3), "docs", &[("README.md", Some("x\n"))]);
    r.commit(
        t(4),
        &tool_message("sync", A, "1 added, 1 removed"),
        &[
            (&f("gone"), None),
            (
                &f("late"),
                Some(&allow(&["lambda:InvokeFunction", "s3:NewThing"])),
            ),
        ],
    );
    r.commit(
        t(5),
        &tool_message("rollback", A, "1 changed"),
        &[(
            &f("batch"),
            Some(&allow(&["sqs:SendMessage", "s3:GetObject"])),
        )],
    );
    r.commit(
        t(6),
        &tool_message("sync", B, "1 changed"),
        &[(
            &role_file(B, "web"),
            Some(&allow(&["iam:PassRole", "s3:*"])),
        )],
    );
    r.commit(t(7), "broken by hand", &[(&f("web"), Some("{"))]);
    r.commit(
        t(8),
        "fixed by hand",
        &[(&f("web"), Some(&allow(&["s3:GetObject", "s3:ListBucket"])))],
    );

    let heads: Vec<String> = {
        let mut v = Vec::new();
        let mut c = r.repo.head().unwrap().peel_to_commit().unwrap();
        loop {
            v.push(c.id().to_string());
            match c.parent(0) {
                Ok(p) => c = p,
                Err(_) => break,
            }
        }
        v
    };
    let (mut uniform, mut per_action) = (0, 0);
    for rev in &heads {
        for account in [A, B] {
            let all = match account_permission_ages(&r.repo, rev, account, catalog()) {
                Ok(all) => all,
                Err(e) => {
                    // Only where web's current file is unreadable, as per role.
                    assert!(matches!(e, StoreError::BadFile { .. }), "{e}");
                    assert!(permission_ages(&r.repo, rev, account, "web", catalog()).is_err());
                    continue;
                }
            };
            for role in ["web", "batch", "gone", "late", "never"] {
                let one = permission_ages(&r.repo, rev, account, role, catalog()).unwrap();
                match (all.get(role), &one) {
                    (Some(PermissionAges::Uniform(t)), PermissionAges::PerAction { since, .. }) => {
                        assert!(since.values().all(|s| s == t), "{rev} {account} {role}")
                    }
                    (Some(ages), _) => assert_eq!(ages, &one, "{rev} {account} {role}"),
                    (None, _) => {
                        assert_eq!(one, PermissionAges::Unknown, "{rev} {account} {role}")
                    }
                }
                uniform += usize::from(matches!(all.get(role), Some(PermissionAges::Uniform(_))));
                per_action += usize::from(matches!(
                    all.get(role),
                    Some(PermissionAges::PerAction { .. })
                ));
            }
        }
    }
    // Both shapes were exercised.
    assert!(uniform > 0 && per_action > 0, "{uniform} {per_action}");
    // Spot checks at HEAD.
    let all = account_permission_ages(&r.repo, "HEAD", A, catalog()).unwrap();
    assert_eq!(all.keys().collect::<Vec<_>>(), vec!["batch", "late", "web"]);
    assert!(matches!(all["batch"], PermissionAges::PerAction { .. }));
    assert_eq!(since(&all["batch"], "s3:getobject"), t(5));
    assert_eq!(since(&all["batch"], "sqs:sendmessage"), t(1));
    assert_eq!(since(&all["late"], "s3:newthing"), t(4));
    // The unreadable version broke web's runs.
    assert_eq!(since(&all["web"], "s3:getobject"), t(8));
}
