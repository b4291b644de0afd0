//! History-derived commands through the real binary: rollback, stats, display-role-cache,
//! find-roles-with-permissions, remove-permissions-from-roles.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use crate::common::{NOW, demo_file, git, new_repo, repokid};

const ACCOUNT: &str = "111122223333";

/// A repository with the demo account synced, then a proposal merged into main with the given
/// `git merge` options (`--ff-only`, or `--no-ff -m …` as GitHub's merge button does).
fn repo_with_history_merged(merge: &[&str]) -> tempfile::TempDir {
    let dir = new_repo();
    let p = dir.path();
    let inv = demo_file("inventory.json");
    let usage = demo_file("usage.json");
    let (inv, usage) = (inv.to_str().unwrap(), usage.to_str().unwrap());
    assert_eq!(repokid(p, &["sync", "--inventory", inv]).0, 0);
    let propose = [
        "propose",
        "--inventory",
        inv,
        "--usage",
        usage,
        "--now",
        NOW,
        "--grace-days",
        "0",
    ];
    let (code, _, err) = repokid(p, &propose);
    assert_eq!(code, 0, "{err}");
    let branch = format!("repokid/propose/{ACCOUNT}");
    let mut args = vec!["merge", "-q"];
    args.extend_from_slice(merge);
    args.push(&branch);
    git(p, &args);
    dir
}

fn repo_with_history() -> tempfile::TempDir {
    repo_with_history_merged(&["--ff-only"])
}

#[test]
fn rollback_lists_versions_and_restores_as_a_branch() {
    let repo = repo_with_history();
    let p = repo.path();
    let (code, out, err) = repokid(p, &["rollback", ACCOUNT, "orders-api"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("repo") && out.contains("sync"), "{out}");
    assert_eq!(
        out.lines()
            .filter(|l| l.trim_start().starts_with(char::is_numeric))
            .count(),
        2,
        "{out}"
    );

    let head = git(p, &["rev-parse", "HEAD"]);
    let (code, out, err) = repokid(
        p,
        &["rollback_role", ACCOUNT, "orders-api", "--selection", "1"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("comes back"), "{out}");
    assert!(out.contains("+ sns:Publish"), "{out}");
    assert_eq!(
        git(p, &["rev-parse", "HEAD"]),
        head,
        "the checkout is untouched"
    );
    let msg = git(
        p,
        &[
            "log",
            "-1",
            "--format=%B",
            &format!("repokid/rollback/{ACCOUNT}/orders-api"),
        ],
    );
    assert!(msg.contains("Repokid-Action: rollback"), "{msg}");

    // Restoring one service only brings that service back.
    let (code, out, err) = repokid(
        p,
        &[
            "rollback",
            ACCOUNT,
            "orders-api",
            "--selection",
            "1",
            "--service",
            "sns",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let back: Vec<&str> = v["comes_back"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert!(
        !back.is_empty() && back.iter().all(|a| a.starts_with("sns:")),
        "{back:?}"
    );

    let (code, _, err) = repokid(p, &["rollback", ACCOUNT, "no-such-role"]);
    assert_eq!(code, 1);
    assert!(err.contains("no-such-role"), "{err}");
    let (code, _, err) = repokid(p, &["rollback", ACCOUNT, "../etc"]);
    assert_eq!(code, 1);
    assert!(err.contains("role name"), "{err}");
}

#[test]
fn stats_is_one_csv_with_one_header() {
    let repo = repo_with_history();
    let (code, out, err) = repokid(repo.path(), &["stats"]);
    assert_eq!(code, 0, "{err}");
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("date,commit,account,role,action,permissions,removed,added")
    );
    assert_eq!(
        out.matches("date,commit").count(),
        1,
        "Repokid printed the header twice (W27)"
    );
    let rows: Vec<&str> = lines.collect();
    assert!(rows.iter().any(|r| r.contains(",repo,")), "{out}");
    assert_eq!(
        rows.iter().filter(|r| r.contains(",sync,")).count(),
        36,
        "{out}"
    );
    let (code, out, _) = repokid(repo.path(), &["repo_stats", "--format", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["rows"].as_array().unwrap().len(), rows.len());
}

#[test]
fn find_and_remove_permissions() {
    let repo = repo_with_history();
    let p = repo.path();
    let (code, out, err) = repokid(p, &["display-role-cache", ACCOUNT]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("36 roles recorded"), "{out}");

    // Wildcards in policies are expanded: legacy-admin's "*" grants iam:PassRole.
    let (code, out, err) = repokid(
        p,
        &[
            "find-roles-with-permissions",
            "iam:PassRole",
            "--output",
            "roles.txt",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ci-deployer"), "{out}");
    let file = std::fs::read_to_string(p.join("roles.txt")).unwrap();
    assert!(
        file.lines()
            .all(|l| l.starts_with("arn:aws:iam::111122223333:role/")),
        "{file}"
    );

    let head = git(p, &["rev-parse", "HEAD"]);
    let (code, out, err) = repokid(
        p,
        &[
            "remove-permissions-from-roles",
            "--role-file",
            "roles.txt",
            "iam:PassRole",
        ],
    );
    assert_eq!(code, 0, "{err}\n{out}");
    assert_eq!(git(p, &["rev-parse", "HEAD"]), head);
    let branch = format!("repokid/remove-permissions/{ACCOUNT}");
    let msg = git(p, &["log", "-1", "--format=%B", &branch]);
    assert!(msg.contains("Repokid-Action: remove-permissions"), "{msg}");
    let ci = git(
        p,
        &[
            "show",
            &format!("{branch}:policies/{ACCOUNT}/ci-deployer.json"),
        ],
    );
    assert!(!ci.contains("iam:PassRole"), "{ci}");

    let (code, _, err) = repokid(p, &["find-roles-with-permissions", "nosuch:Thing"]);
    assert_eq!(code, 1);
    assert!(err.contains("nosuch:Thing"), "{err}");
}

#[test]
fn stats_sees_proposals_merged_with_a_merge_commit() {
    let dir = repo_with_history_merged(&["--no-ff", "-m", "Merge pull request #1"]);
    let p = dir.path();
    let (code, out, err) = repokid(p, &["stats"]);
    assert_eq!(code, 0, "{err}");
    let merge = git(p, &["rev-parse", "HEAD"]);
    let repo_rows: Vec<&str> = out.lines().filter(|r| r.contains(",repo,")).collect();
    assert!(!repo_rows.is_empty(), "{out}");
    assert!(
        repo_rows.iter().all(|r| r.contains(merge.trim())),
        "rows name the merge commit: {out}"
    );
}
