//! The pull request body as the review: ordering, evidence wording, folded diffs, GitHub's body
//! limit with the overflow report, and the report file committed on the proposal branch.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use repokid::engine::rewrite::StatementRef;
use repokid::engine::{AccessLevel, Catalog, EngineSettings, LastAccessed, Reason, Role};
use repokid::ops::{self, PlanOptions, Workspace};
use repokid::report::{PLAN_SCHEMA_VERSION, PlanReport, RemovedAction, RoleReport};
use repokid::review::{BODY_HEADROOM, GITHUB_BODY_LIMIT, PrText, RoleDiff, pr_text, report_path};
use repokid::sources::inventory_file::{Inventory, parse_inventory};
use repokid::sources::usage_file::{UsageFormat, parse_usage};
use repokid::store::git::{PolicyStore, WriteAccount};

const ACCOUNT: &str = "111122223333";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
}

fn at(y: i32, m: u32, d: u32) -> LastAccessed {
    LastAccessed::At(Utc.with_ymd_and_hms(y, m, d, 10, 0, 0).unwrap())
}

fn removed(action: &str, level: AccessLevel, reason: Reason) -> RemovedAction {
    RemovedAction {
        action: action.to_string(),
        service: action.split(':').next().unwrap().to_string(),
        access_level: level,
        reason,
    }
}

fn service_unused(last_used: LastAccessed) -> Reason {
    Reason::ServiceUnused { last_used }
}

fn role(name: &str, removed: Vec<RemovedAction>, kept: &[(&str, usize)]) -> RoleReport {
    RoleReport {
        account: ACCOUNT.to_string(),
        role: name.to_string(),
        arn: format!("arn:aws:iam::{ACCOUNT}:role/{name}"),
        eligible: !removed.is_empty(),
        reasons: if removed.is_empty() {
            vec![repokid::engine::Ineligible::NothingToRemove]
        } else {
            Vec::new()
        },
        removed,
        kept: kept.iter().map(|(k, n)| (k.to_string(), *n)).collect(),
        unknown_actions: Vec::new(),
        size_before: 2_000,
        size_after: 900,
        minimized: None,
        removed_policies: Vec::new(),
        removed_statements: Vec::new(),
        policies: None,
    }
}

fn plan_report(roles: Vec<RoleReport>) -> PlanReport {
    PlanReport {
        version: PLAN_SCHEMA_VERSION,
        generated_at: now(),
        settings: EngineSettings {
            action_level: true,
            ..EngineSettings::default()
        },
        grace_days_overridden: false,
        roles,
    }
}

fn text(report: &PlanReport, diffs: &[RoleDiff], link: Option<&str>) -> PrText {
    let roles: Vec<&RoleReport> = report.roles.iter().collect();
    pr_text(ACCOUNT, report, &roles, diffs, link)
}

/// A role file granting `actions` in one statement, in canonical form.
fn file(actions: &[String]) -> String {
    let doc = serde_json::json!({"policy": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": actions, "Resource": "*"}
    ]}});
    let map = repokid::engine::policy::parse_policy_map("t", &doc.to_string()).unwrap();
    repokid::engine::policy::to_canonical_json(&map)
}

fn within_limit(body: &str) {
    assert!(
        body.len() <= GITHUB_BODY_LIMIT - BODY_HEADROOM,
        "{} bytes",
        body.len()
    );
    assert!(body.chars().count() <= GITHUB_BODY_LIMIT);
}

#[test]
fn access_levels_are_summarised_riskiest_first() {
    let report = plan_report(vec![role(
        "mixed",
        vec![
            removed(
                "s3:GetObject",
                AccessLevel::Read,
                service_unused(LastAccessed::Never),
            ),
            removed(
                "s3:ListBucket",
                AccessLevel::List,
                service_unused(LastAccessed::Never),
            ),
            removed(
                "s3:PutObjectTagging",
                AccessLevel::Tagging,
                service_unused(LastAccessed::Never),
            ),
            removed(
                "s3:PutObject",
                AccessLevel::Write,
                service_unused(LastAccessed::Never),
            ),
            removed(
                "s3:PutBucketPolicy",
                AccessLevel::PermissionsManagement,
                service_unused(LastAccessed::Never),
            ),
        ],
        &[],
    )]);
    let body = text(&report, &[], None).body;
    let row = |level: &str| {
        body.lines()
            .position(|l| {
                l.starts_with(&format!("| {level} |")) || l.starts_with(&format!("| **{level}** |"))
            })
            .unwrap_or_else(|| panic!("no row for {level}:\n{body}"))
    };
    let rows: Vec<usize> = ["Permissions management", "Write", "Tagging", "List", "Read"]
        .iter()
        .map(|l| row(l))
        .collect();
    assert!(rows.windows(2).all(|w| w[0] < w[1]), "{rows:?}\n{body}");
    assert!(
        body.contains("| **Permissions management** | 1 | 1 |"),
        "{body}"
    );
    // Within the role too: the Permissions management action is listed first.
    let line = body.lines().find(|l| l.starts_with("- **s3**")).unwrap();
    assert!(
        line.find("s3:PutBucketPolicy").unwrap() < line.find("s3:PutObject`").unwrap()
            && line.find("s3:PutObject`").unwrap() < line.find("s3:GetObject").unwrap(),
        "{line}"
    );
    assert!(
        line.contains("1 Permissions management, 1 Write, 1 Tagging, 1 List, 1 Read"),
        "{line}"
    );
}

#[test]
fn evidence_is_in_words() {
    let mut r = role(
        "orders-api",
        vec![
            removed(
                "sns:Publish",
                AccessLevel::Write,
                service_unused(at(2026, 3, 2)),
            ),
            removed(
                "sqs:SendMessage",
                AccessLevel::Write,
                service_unused(LastAccessed::Never),
            ),
            removed(
                "s3:DeleteObject",
                AccessLevel::Write,
                Reason::ActionUnused {
                    last_used: at(2026, 7, 1),
                },
            ),
            removed(
                "s3:PutObjectAcl",
                AccessLevel::PermissionsManagement,
                Reason::ActionUnused {
                    last_used: LastAccessed::Never,
                },
            ),
        ],
        &[
            ("used", 12),
            ("grace-period", 3),
            ("not-tracked-at-action-level", 4),
            ("no-repo", 1),
            ("unknown-action", 1),
        ],
    );
    r.unknown_actions = vec!["s3:NoSuchAction".into()];
    r.removed_policies = vec!["legacy".into()];
    r.removed_statements = vec![StatementRef {
        policy: "main".into(),
        index: 2,
        sid: Some("OldQueue".into()),
    }];
    r.minimized = Some("word-boundary");
    let report = plan_report(vec![r, role("idle", vec![], &[("grace-period", 2)])]);
    let body = text(&report, &[], None).body;
    for wanted in [
        "service last used 2026-03-02 (263 days ago); not used within 90 days",
        "service never used in the tracking period",
        "last used 2026-07-01 (142 days ago); not used within 90 days (action level)",
        "never used in the tracking period (action level)",
        "12 used within the 90-day window",
        "4 untracked at action level — kept",
        "3 in the 14-day grace period — kept",
        "1 in NOREPO statements — kept",
        "1 unknown action — kept",
        "`s3:NoSuchAction`",
        "Policies deleted (nothing left in them): `legacy`",
        "`main` statement 3 (`OldQueue`)",
        "**minimized** (word-boundary wildcards)",
        // Header: counts, window, grace, staleness.
        "**1 of 2 roles** lose **4 unused permissions**, **4** of them",
        "Usage window 90 days · grace period 14 days · usage data older than 5 days is not used",
        // The unchanged role, folded, with why.
        "<details><summary>1 role not changed, and why</summary>",
        "- `idle`: nothing to remove (2 unused action(s) kept for the grace period)",
        // The footer.
        "`repokid apply`",
        "/repokid opt-out 111122223333 ROLE --reason",
        "filters.toml",
    ] {
        assert!(body.contains(wanted), "missing {wanted:?} in:\n{body}");
    }
    // Two kinds of evidence in s3: a line for each.
    let s3 = body
        .lines()
        .position(|l| l.starts_with("- **s3**"))
        .unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert!(lines[s3].ends_with(':'), "{}", lines[s3]);
    assert!(
        lines[s3 + 1].starts_with("  - never used") && lines[s3 + 1].contains("s3:PutObjectAcl")
    );
    assert!(
        lines[s3 + 2].starts_with("  - last used 2026-07-01")
            && lines[s3 + 2].contains("s3:DeleteObject")
    );
    within_limit(&body);
}

#[test]
fn the_overridden_grace_period_is_flagged() {
    let mut report = plan_report(vec![role(
        "r",
        vec![removed(
            "sns:Publish",
            AccessLevel::Write,
            service_unused(LastAccessed::Never),
        )],
        &[],
    )]);
    report.grace_days_overridden = true;
    report.settings.grace_days = 0;
    let body = text(&report, &[], None).body;
    assert!(
        body.contains("grace period 0 days (**overridden for this run**)"),
        "{body}"
    );
}

#[test]
fn the_diff_is_folded_and_shows_the_removed_lines() {
    let before = file(&[
        "sns:Publish".into(),
        "sqs:SendMessage".into(),
        "s3:GetObject".into(),
    ]);
    let after = file(&["s3:GetObject".into()]);
    let report = plan_report(vec![role(
        "orders-api",
        vec![
            removed(
                "sns:Publish",
                AccessLevel::Write,
                service_unused(LastAccessed::Never),
            ),
            removed(
                "sqs:SendMessage",
                AccessLevel::Write,
                service_unused(LastAccessed::Never),
            ),
        ],
        &[("used", 1)],
    )]);
    let diffs = [RoleDiff {
        role: "orders-api".into(),
        before,
        after,
    }];
    let t = text(&report, &diffs, None);
    assert!(t.full_report.is_none());
    let body = t.body;
    let open = body
        .find("<details><summary>JSON diff for <code>orders-api</code></summary>\n\n```diff\n")
        .unwrap_or_else(|| panic!("{body}"));
    let block = &body[open..];
    let close = block.find("\n```\n\n</details>").unwrap();
    let diff = &block[..close];
    assert!(
        diff.contains(&format!("--- a/policies/{ACCOUNT}/orders-api.json")),
        "{diff}"
    );
    assert!(
        diff.lines()
            .any(|l| l.starts_with('-') && l.contains("\"sns:Publish\"")),
        "{diff}"
    );
    assert!(
        diff.lines()
            .any(|l| l.starts_with('-') && l.contains("\"sqs:SendMessage\"")),
        "{diff}"
    );
    assert!(
        !diff
            .lines()
            .any(|l| l.starts_with('-') && l.contains("s3:GetObject")),
        "{diff}"
    );
    // The diff comes after the role's evidence.
    assert!(body.find("### `orders-api`").unwrap() < open);
}

#[test]
fn backticks_in_a_diff_cannot_close_its_fence() {
    let report = plan_report(vec![role(
        "r",
        vec![removed(
            "sns:Publish",
            AccessLevel::Write,
            service_unused(LastAccessed::Never),
        )],
        &[],
    )]);
    let diffs = [RoleDiff {
        role: "r".into(),
        before: "{\n  \"Sid\": \"```\"\n}\n".into(),
        after: "{}\n".into(),
    }];
    let body = text(&report, &diffs, None).body;
    assert!(body.contains("\n````diff\n"), "{body}");
    assert!(body.contains("\n````\n\n</details>"), "{body}");
}

/// `n` roles, each losing `per_role` Write actions over 20 services, with big diffs.
fn huge(n: usize, per_role: usize) -> (PlanReport, Vec<RoleDiff>) {
    let mut roles = Vec::new();
    let mut diffs = Vec::new();
    for i in 0..n {
        let name = format!("service-role-{i:04}");
        let actions: Vec<String> = (0..per_role)
            .map(|k| format!("svc{}:DoSomethingImportant{k:04}", k % 20))
            .collect();
        let list = actions
            .iter()
            .map(|a| removed(a, AccessLevel::Write, service_unused(at(2026, 1, 5))))
            .collect();
        roles.push(role(&name, list, &[("used", 10), ("grace-period", 1)]));
        diffs.push(RoleDiff {
            role: name,
            before: file(&actions),
            after: file(&actions[..1]),
        });
    }
    for i in 0..50 {
        roles.push(role(&format!("unchanged-role-{i:03}"), vec![], &[]));
    }
    (plan_report(roles), diffs)
}

#[test]
fn a_huge_proposal_stays_within_githubs_limit_and_links_the_full_report() {
    let (report, diffs) = huge(400, 60);
    let link = "https://github.com/acme/iam/blob/repokid/propose/111122223333/.repokid/reports/111122223333.md";
    let t = text(&report, &diffs, Some(link));
    within_limit(&t.body);
    let body = &t.body;
    assert!(
        body.contains(&format!("[`{}`]({link})", report_path(ACCOUNT))),
        "{body}"
    );
    assert!(body.contains("> [!NOTE]"), "{body}");
    // Header and summary tables are kept whole.
    assert!(body.contains("**400 of 450 roles** lose **24,000 unused permissions**"));
    assert!(body.contains("| **Write** | 24,000 | 400 |"), "{body}");
    // Diffs went before evidence: more role sections than diffs in the body.
    let sections = body.matches("\n### `service-role-").count();
    let shown_diffs = body.matches("<summary>JSON diff for").count();
    assert!(sections > 0, "{body}");
    assert!(
        shown_diffs < sections,
        "{shown_diffs} diffs, {sections} sections"
    );
    assert!(body.contains(&format!("details for {sections} of 400 changed roles with the JSON diff for {shown_diffs} of them")), "{body}");
    assert!(body.contains("more changed roles are detailed only in the full report"));
    // The full report has every role, every diff, every unchanged role.
    let full = t.full_report.unwrap();
    for i in 0..400 {
        let name = format!("service-role-{i:04}");
        assert!(full.contains(&format!("### `{name}`")), "{name}");
        assert!(
            full.contains(&format!("JSON diff for <code>{name}</code>")),
            "{name}"
        );
    }
    assert!(full.contains("- `unchanged-role-049`: nothing to remove"));
    assert!(full.contains("svc19:DoSomethingImportant0059"));
}

#[test]
fn without_a_link_the_note_names_the_report_file() {
    let (report, diffs) = huge(200, 40);
    let t = text(&report, &diffs, None);
    within_limit(&t.body);
    assert!(
        t.body
            .contains("is in `.repokid/reports/111122223333.md` on this branch"),
        "{}",
        t.body
    );
    assert!(t.full_report.is_some());
}

#[test]
fn many_roles_without_diffs_still_fit() {
    // Thousands of small roles: the role table and the unchanged list are cut, not the body.
    let (report, _) = huge(3_000, 3);
    let t = text(&report, &[], None);
    within_limit(&t.body);
    assert!(
        t.body.contains("more roles in the full report"),
        "{}",
        t.body
    );
    assert!(t.full_report.unwrap().contains("service-role-2999"));
}

// --- Through `ops::propose`, on real repositories. ---

fn workspace(dir: &Path) -> Workspace {
    let mut ws = Workspace::load(&dir.join("repokid.toml"), false, Catalog::embedded()).unwrap();
    ws.settings.github.repo = Some("acme/iam-policies".into());
    ws
}

fn repo() -> (tempfile::TempDir, PolicyStore) {
    let dir = tempfile::tempdir().unwrap();
    git2::Repository::init(dir.path()).unwrap();
    let store = PolicyStore::open(dir.path()).unwrap();
    (dir, store)
}

fn branch_file(store: &PolicyStore, branch: &str, path: &str) -> Option<String> {
    let tree = store
        .repo()
        .revparse_single(branch)
        .unwrap()
        .peel_to_tree()
        .unwrap();
    let entry = tree.get_path(Path::new(path)).ok()?;
    let blob = store.repo().find_blob(entry.id()).unwrap();
    Some(String::from_utf8(blob.content().to_vec()).unwrap())
}

fn propose(
    ws: &Workspace,
    store: &PolicyStore,
    inventory: &Inventory,
    usage: &repokid::engine::usage::UsageByArn,
) -> Vec<ops::Proposal> {
    ops::sync(store, inventory, &[]).unwrap();
    let opts = PlanOptions {
        grace_days: Some(0),
        ..PlanOptions::default()
    };
    let (report, planned) = ops::plan(ws, Some(store), inventory, usage, &opts, now()).unwrap();
    ops::propose(ws, store, &report, &planned, "HEAD").unwrap()
}

#[test]
fn the_demo_proposal_fits_and_commits_no_report() {
    let (dir, store) = repo();
    let ws = workspace(dir.path());
    let inventory = parse_inventory(
        "inventory.json",
        include_bytes!("../../examples/demo/inventory.json"),
    )
    .unwrap();
    let usage = parse_usage(
        "usage.json",
        include_str!("../../examples/demo/usage.json"),
        UsageFormat::Auto,
        now(),
    )
    .unwrap();
    let proposals = propose(&ws, &store, &inventory, &usage);
    let p = &proposals[0];
    assert!(p.written.is_some());
    assert_eq!(p.report_file, None);
    within_limit(&p.body);
    assert!(
        p.body
            .contains("<details><summary>JSON diff for <code>orders-api</code></summary>"),
        "{}",
        p.body
    );
    assert!(!p.body.contains("[!NOTE]"));
    assert_eq!(branch_file(&store, &p.branch, &report_path(ACCOUNT)), None);
}

#[test]
fn a_huge_proposal_commits_its_full_report_on_the_branch() {
    use repokid::engine::policy::parse_policy_map;
    use repokid::synth::{SynthOptions, generate};
    let (dir, store) = repo();
    let ws = workspace(dir.path());
    let org = generate(
        SynthOptions {
            seed: 7,
            roles: 200,
            accounts: 1,
        },
        Catalog::embedded(),
        now(),
    );
    let account = org[0].account.clone();
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
    let usage = org.iter().map(|r| (r.arn(), r.usage.clone())).collect();
    let inventory = Inventory {
        roles: BTreeMap::from([(account.clone(), roles)]),
    };
    let proposals = propose(&ws, &store, &inventory, &usage);
    let p = &proposals[0];
    within_limit(&p.body);
    let path = report_path(&account);
    assert_eq!(p.report_file.as_deref(), Some(path.as_str()));
    let link = format!(
        "https://github.com/acme/iam-policies/blob/{}/{path}",
        p.branch
    );
    assert!(p.body.contains(&link), "{}", p.body);
    let committed = branch_file(&store, &p.branch, &path).expect("report on the branch");
    assert!(committed.len() > GITHUB_BODY_LIMIT, "{}", committed.len());
    // Every changed role is in the committed report, with its diff.
    let written = p.written.as_ref().unwrap();
    assert!(!written.changed.is_empty());
    for role in &written.changed {
        assert!(committed.contains(&format!("### `{role}`")), "{role}");
        assert!(
            committed.contains(&format!("JSON diff for <code>{role}</code>")),
            "{role}"
        );
    }
    // One commit holds both the role files and the report; main is untouched.
    let commit = store.repo().find_commit(written.commit).unwrap();
    let parent = commit.parent(0).unwrap();
    assert_eq!(parent.id(), store.repo().head().unwrap().target().unwrap());
    assert!(branch_file(&store, "HEAD", &path).is_none());
}

// --- `WriteAccount::extra_files` ---

fn one_role() -> BTreeMap<String, repokid::engine::PolicyMap> {
    let map = repokid::engine::policy::parse_policy_map(
        "t",
        r#"{"p": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}}"#,
    )
    .unwrap();
    BTreeMap::from([("web".to_string(), map)])
}

#[test]
fn extra_files_are_written_in_the_same_commit() {
    let (dir, store) = repo();
    let main = store.current_branch().unwrap();
    let write = |files: Vec<(&str, &str)>| {
        store.write_account(&WriteAccount {
            roles: one_role(),
            extra_files: files
                .into_iter()
                .map(|(p, c)| (p.to_string(), c.to_string()))
                .collect(),
            ..WriteAccount::new(main.clone(), ACCOUNT)
        })
    };
    let w = write(vec![
        (".repokid/reports/a.md", "# A\n"),
        ("NOTES.md", "n\n"),
    ])
    .unwrap()
    .unwrap();
    assert_eq!(w.added, ["web"]);
    assert_eq!(
        branch_file(&store, &main, ".repokid/reports/a.md").as_deref(),
        Some("# A\n")
    );
    assert_eq!(
        branch_file(&store, &main, "NOTES.md").as_deref(),
        Some("n\n")
    );
    assert!(branch_file(&store, &main, &format!("policies/{ACCOUNT}/web.json")).is_some());
    // `main` is checked out: the working tree and index follow, and stay clean.
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".repokid/reports/a.md")).unwrap(),
        "# A\n"
    );
    let statuses = store.repo().statuses(None).unwrap();
    assert!(
        statuses.iter().all(|s| s.status() == git2::Status::CURRENT),
        "dirty working tree"
    );

    // The same files again: nothing to commit. A changed report alone is a change.
    assert!(
        write(vec![(".repokid/reports/a.md", "# A\n")])
            .unwrap()
            .is_none()
    );
    let w = write(vec![
        (".repokid/reports/a.md", "# A, again\n"),
        (".repokid/reports/b.md", "# B\n"),
    ])
    .unwrap()
    .unwrap();
    assert!(w.added.is_empty() && w.changed.is_empty());
    assert_eq!(
        branch_file(&store, &main, ".repokid/reports/a.md").as_deref(),
        Some("# A, again\n")
    );
    assert_eq!(
        branch_file(&store, &main, ".repokid/reports/b.md").as_deref(),
        Some("# B\n")
    );

    // A local edit of an extra file is not overwritten.
    std::fs::write(dir.path().join(".repokid/reports/b.md"), "mine\n").unwrap();
    let err = write(vec![(".repokid/reports/b.md", "# B2\n")]).unwrap_err();
    assert!(err.to_string().contains("uncommitted changes"), "{err}");
}

#[test]
fn extra_file_paths_are_checked() {
    let (_dir, store) = repo();
    for bad in [
        "",
        "/etc/passwd",
        "../outside.md",
        "a/../../b",
        "a//b",
        "./a",
        ".git/config",
        "x/.GIT/y",
        "policies/111122223333/web.json",
        "Policies/notes.md",
        "a\\b",
    ] {
        let err = store
            .write_account(&WriteAccount {
                roles: one_role(),
                extra_files: vec![(bad.to_string(), "x".to_string())],
                ..WriteAccount::new("repokid/x", ACCOUNT)
            })
            .unwrap_err();
        assert!(
            err.to_string().contains("nothing was written"),
            "{bad:?}: {err}"
        );
    }
    let err = store
        .write_account(&WriteAccount {
            roles: one_role(),
            extra_files: vec![("a".into(), "x".into()), ("a/b".into(), "y".into())],
            ..WriteAccount::new("repokid/x", ACCOUNT)
        })
        .unwrap_err();
    assert!(err.to_string().contains("collide"), "{err}");
    assert!(
        store
            .repo()
            .find_branch("repokid/x", git2::BranchType::Local)
            .is_err()
    );
}
