//! The offline loop — sync, plan, propose, display-role, demo — driven through the real binary
//! against real temporary git repositories, checked with the git command line.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use crate::common::{NOW, demo_file, git, new_repo, repokid};

fn inv() -> String {
    demo_file("inventory.json").to_str().unwrap().to_string()
}

fn usage() -> String {
    demo_file("usage.json").to_str().unwrap().to_string()
}

#[test]
fn sync_records_each_account_once_and_only_when_changed() {
    let repo = new_repo();
    let (code, out, err) = repokid(repo.path(), &["sync", "--inventory", &inv()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("111122223333: 36 added"), "{out}");
    let msg = git(repo.path(), &["log", "-1", "--format=%B"]);
    assert!(msg.contains("Repokid-Action: sync"), "{msg}");
    assert!(msg.contains("Repokid-Account: 111122223333"), "{msg}");
    assert!(msg.contains("Repokid-Roles-Added: 36"), "{msg}");
    assert!(
        repo.path()
            .join("policies/111122223333/orders-api.json")
            .exists()
    );
    assert_eq!(git(repo.path(), &["status", "--porcelain"]), "");
    // The empty map is a real state.
    let empty = std::fs::read_to_string(
        repo.path()
            .join("policies/111122223333/readonly-auditor.json"),
    )
    .unwrap();
    assert_eq!(empty, "{}\n");

    let (code, out, _) = repokid(repo.path(), &["update_role_cache", "--inventory", &inv()]);
    assert_eq!(code, 0);
    assert!(out.contains("unchanged, no commit"), "{out}");
    assert_eq!(
        git(repo.path(), &["rev-list", "--count", "HEAD"]).trim(),
        "1"
    );
}

#[test]
fn plan_json_follows_the_documented_schema() {
    let repo = new_repo();
    assert_eq!(repokid(repo.path(), &["sync", "--inventory", &inv()]).0, 0);
    let (code, out, err) = repokid(
        repo.path(),
        &[
            "plan",
            "--inventory",
            &inv(),
            "--usage",
            &usage(),
            "--now",
            NOW,
            "--grace-days",
            "0",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["version"], 1);
    assert_eq!(v["grace_days_overridden"], true);
    let roles = v["roles"].as_array().unwrap();
    assert_eq!(roles.len(), 36);
    for r in roles {
        for key in [
            "account",
            "role",
            "arn",
            "eligible",
            "reasons",
            "removed",
            "kept",
            "size_before",
            "policies",
        ] {
            assert!(r.get(key).is_some(), "{key} missing in {r}");
        }
    }
    let by_name = |n: &str| roles.iter().find(|r| r["role"] == n).unwrap();
    // Opted out by tag, young, Lambda: excluded with the filter named.
    let opted = by_name("payments-api");
    assert_eq!(opted["eligible"], false);
    assert!(opted["reasons"].to_string().contains("opt-out"), "{opted}");
    assert!(
        by_name("image-resizer-fn")["reasons"]
            .to_string()
            .contains("lambda")
    );
    assert!(
        by_name("checkout-v2-api")["reasons"]
            .to_string()
            .contains("age")
    );
    assert!(
        roles
            .iter()
            .any(|r| r["eligible"] == true && !r["removed"].as_array().unwrap().is_empty())
    );
    // Planning wrote nothing.
    assert_eq!(
        git(repo.path(), &["rev-list", "--count", "--all"]).trim(),
        "1"
    );
    assert_eq!(git(repo.path(), &["status", "--porcelain"]), "");
}

#[test]
fn without_history_old_enough_the_grace_period_keeps_everything() {
    let repo = new_repo();
    assert_eq!(repokid(repo.path(), &["sync", "--inventory", &inv()]).0, 0);
    // The sync commit is younger than 14 days at NOW + 1 day: every permission is in its grace
    // period, so nothing is proposed.
    let (code, out, err) = repokid(
        repo.path(),
        &[
            "plan",
            "--inventory",
            &inv(),
            "--usage",
            &usage(),
            "--now",
            NOW,
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        v["roles"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["eligible"] == false),
        "{out}"
    );
}

#[test]
fn propose_writes_a_branch_and_leaves_the_checkout_alone() {
    let repo = new_repo();
    assert_eq!(repokid(repo.path(), &["sync", "--inventory", &inv()]).0, 0);
    let head = git(repo.path(), &["rev-parse", "HEAD"]);
    let (code, out, err) = repokid(
        repo.path(),
        &[
            "propose",
            "--inventory",
            &inv(),
            "--usage",
            &usage(),
            "--now",
            NOW,
            "--grace-days",
            "0",
            "--pr-dir",
            "pr",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("on branch repokid/propose/111122223333"),
        "{out}"
    );
    assert_eq!(git(repo.path(), &["rev-parse", "HEAD"]), head, "HEAD moved");
    let msg = git(
        repo.path(),
        &["log", "-1", "--format=%B", "repokid/propose/111122223333"],
    );
    assert!(msg.contains("Repokid-Action: repo"), "{msg}");
    assert!(msg.contains("Repokid-Removed-Actions:"), "{msg}");
    let diff = git(
        repo.path(),
        &["diff", "--stat", "main", "repokid/propose/111122223333"],
    );
    assert!(diff.contains("policies/111122223333/"), "{diff}");
    let body = std::fs::read_to_string(repo.path().join("pr/111122223333.md")).unwrap();
    assert!(
        body.contains("grace period 0 days (**overridden for this run**)"),
        "{body}"
    );
    assert!(body.len() < 65_536);
}

#[test]
fn bad_input_is_a_clear_error_and_writes_nothing() {
    let repo = new_repo();
    assert_eq!(repokid(repo.path(), &["sync", "--inventory", &inv()]).0, 0);
    let before = git(repo.path(), &["rev-parse", "HEAD"]);
    let bad = repo.path().join("bad.json");
    for (name, content, expect) in [
        ("malformed", "{\"RoleDetailList\": [", "bad.json"),
        (
            "dup-key",
            "{\"RoleDetailList\": [], \"RoleDetailList\": []}",
            "duplicate key",
        ),
        (
            "dotdot-role",
            r#"{"RoleDetailList": [{"RoleName": "..", "RoleId": "AROAX", "Arn": "arn:aws:iam::111122223333:role/..", "Path": "/", "CreateDate": "2020-01-01T00:00:00Z", "AssumeRolePolicyDocument": {}, "RolePolicyList": [], "AttachedManagedPolicies": [], "Tags": []}]}"#,
            "role name",
        ),
    ] {
        std::fs::write(&bad, content).unwrap();
        let (code, _, err) = repokid(repo.path(), &["sync", "--inventory", bad.to_str().unwrap()]);
        assert_eq!(code, 1, "{name}: {err}");
        assert!(err.contains(expect), "{name}: {err}");
        assert_eq!(git(repo.path(), &["rev-parse", "HEAD"]), before, "{name}");
    }
    std::fs::write(&bad, b"{\"RoleDetailList\": [\xff]}").unwrap();
    let (code, _, err) = repokid(repo.path(), &["sync", "--inventory", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("bad.json"), "{err}");
    std::fs::remove_file(&bad).unwrap();

    // Uncommitted changes in policies/: refused, nothing lost.
    let file = repo.path().join("policies/111122223333/orders-api.json");
    std::fs::write(&file, "{}\n").unwrap();
    let changed_inventory = std::fs::read_to_string(demo_file("inventory.json"))
        .unwrap()
        .replace(
            "\"RoleName\": \"web-frontend\"",
            "\"RoleName\": \"web-frontend2\"",
        )
        .replace("role/web-frontend\"", "role/web-frontend2\"");
    let inv2 = repo.path().join("inv2.json");
    std::fs::write(&inv2, changed_inventory).unwrap();
    let (code, _, err) = repokid(
        repo.path(),
        &["sync", "--inventory", inv2.to_str().unwrap()],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("uncommitted changes"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "{}\n");
    assert_eq!(git(repo.path(), &["rev-parse", "HEAD"]), before);

    // Usage errors exit 2.
    assert_eq!(repokid(repo.path(), &["plan", "--grace-days", "many"]).0, 2);
}

#[test]
fn display_role_shows_evidence_and_a_diff() {
    let repo = new_repo();
    assert_eq!(repokid(repo.path(), &["sync", "--inventory", &inv()]).0, 0);
    let (code, out, err) = repokid(
        repo.path(),
        &[
            "display-role",
            "111122223333",
            "legacy-admin",
            "--inventory",
            &inv(),
            "--usage",
            &usage(),
            "--now",
            NOW,
            "--grace-days",
            "0",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("111122223333 / legacy-admin"), "{out}");
    let (code, _, err) = repokid(
        repo.path(),
        &[
            "display-role",
            "111122223333",
            "no-such-role",
            "--inventory",
            &inv(),
            "--usage",
            &usage(),
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("no-such-role"), "{err}");
}

#[test]
fn the_demo_runs_the_whole_loop() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let (code, out, err) = repokid(tmp.path(), &["demo", "--dir", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("== 1. sync"), "{out}");
    assert!(out.contains("== 3. propose"), "{out}");
    assert!(out.contains("pull request"), "{out}");
    assert!(
        out.contains("grace period"),
        "the recently changed roles are protected: {out}"
    );
    let log = git(&dir, &["log", "--all", "--format=%s"]);
    assert_eq!(log.lines().count(), 3, "{log}");
}

#[test]
fn init_writes_commented_settings_that_load() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = repokid(dir.path(), &["init", "cfg"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("repokid.toml") && out.contains("filters.toml"),
        "{out}"
    );
    let settings = std::fs::read_to_string(dir.path().join("cfg/repokid.toml")).unwrap();
    assert!(
        settings.contains("# A service counts as used"),
        "{settings}"
    );
    // A second init leaves the files alone.
    std::fs::write(
        dir.path().join("cfg/repokid.toml"),
        "accounts = [\"111122223333\"]\n",
    )
    .unwrap();
    let (code, _, err) = repokid(dir.path(), &["init", "cfg"]);
    assert_eq!(code, 0);
    assert!(err.contains("exists"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("cfg/repokid.toml")).unwrap(),
        "accounts = [\"111122223333\"]\n"
    );
    // `config FILE` (Repokid's name) and a settings typo naming the file and key.
    let (code, _, _) = repokid(dir.path(), &["config", "other.toml"]);
    assert_eq!(code, 0);
    std::fs::write(dir.path().join("bad.toml"), "[engine]\ngrace-dayz = 1\n").unwrap();
    let (code, _, err) = repokid(
        dir.path(),
        &[
            "--config",
            "bad.toml",
            "plan",
            "--inventory",
            &inv(),
            "--usage",
            &usage(),
            "--no-repo",
        ],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("bad.toml") && err.contains("grace-dayz"),
        "{err}"
    );
}

#[test]
fn a_20_mb_inventory_syncs() {
    use repokid::engine::policy::parse_policy_map;
    use repokid::engine::{Catalog, Role};
    use repokid::synth::{SynthOptions, generate};
    let now = chrono::DateTime::parse_from_rfc3339(NOW)
        .unwrap()
        .with_timezone(&chrono::Utc);
    let org = generate(
        SynthOptions {
            seed: 9,
            roles: 9_000,
            accounts: 1,
        },
        Catalog::embedded(),
        now,
    );
    let roles: Vec<Role> = org
        .iter()
        .map(|r| {
            let mut role = Role::new(
                &r.account,
                &r.name,
                parse_policy_map(&r.name, &r.policies_json).unwrap(),
            );
            role.create_date = Some(r.create_date);
            role
        })
        .collect();
    let text = repokid::sources::inventory_file::inventory_to_json(&roles);
    assert!(text.len() > 20_000_000, "{} bytes", text.len());
    let repo = new_repo();
    std::fs::write(repo.path().join("big.json"), text).unwrap();
    let (code, out, err) = repokid(repo.path(), &["sync", "--inventory", "big.json"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("9000 added"), "{out}");
    assert_eq!(
        git(repo.path(), &["status", "--porcelain"]),
        "?? big.json\n"
    );
}

#[test]
fn propose_reports_a_failing_lifecycle_hook_and_exits_1() {
    let repo = new_repo();
    assert_eq!(repokid(repo.path(), &["sync", "--inventory", &inv()]).0, 0);
    std::fs::write(
        repo.path().join("repokid.toml"),
        "[[hooks]]\nname = \"notify\"\ncommand = [\"python3\", \"-c\", \"import sys; sys.exit(2)\"]\nevents = [\"after-account\"]\n",
    )
    .unwrap();
    let (code, out, err) = repokid(
        repo.path(),
        &[
            "propose",
            "--inventory",
            &inv(),
            "--usage",
            &usage(),
            "--now",
            NOW,
            "--grace-days",
            "0",
        ],
    );
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("after-account hook notify failed for account 111122223333"),
        "{err}"
    );
    // The commit stands.
    assert!(
        out.contains("on branch repokid/propose/111122223333"),
        "{out}"
    );
    git(
        repo.path(),
        &["rev-parse", "--verify", "repokid/propose/111122223333"],
    );
}
