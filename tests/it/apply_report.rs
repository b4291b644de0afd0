#![allow(clippy::unwrap_used)]
//! `repokid::github::apply_report` against a stateful stand-in for GitHub's API
//! (tests/it/common/fake_github.rs) and a real git repository: which pull requests are found behind
//! the applied commits, what their comments say, that a later run updates the same comment
//! rather than adding one (and never a person's comment quoting the marker), and the tracking
//! issue's whole life: opened on a failure, updated, kept open while any account fails, closed
//! with a comment once none does; a duplicate opened by a concurrent job is closed in favour of
//! the oldest, and an issue closed under a failing job is reopened.

use crate::common;
use crate::common::fake_github;

use std::path::Path;

use crate::common::git;
use fake_github::FakeGitHub;
use repokid::github::apply_report::{
    ApplyReportError, ApplyRun, CommentAction, FAILED_LABEL, IssueAction, ReportOptions, pr_marker,
    report_apply,
};
use repokid::github::client::GitHub;
use repokid::settings::GitHubSettings;
use repokid::store::git::PolicyStore;
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer};

const TOKEN: &str = "ghs_ApplyReportT0kenNeverPrinted7";
const A: &str = "111122223333";
const B: &str = "444455556666";

/// The stand-in, served by wiremock from its own runtime.
struct Api {
    rt: tokio::runtime::Runtime,
    server: MockServer,
    fake: FakeGitHub,
}

impl Api {
    fn start() -> Api {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let server = rt.block_on(MockServer::start());
        let fake = FakeGitHub::new("acme/iam");
        rt.block_on(Mock::given(any()).respond_with(fake.clone()).mount(&server));
        Api { rt, server, fake }
    }

    fn gh(&self) -> GitHub {
        let settings = GitHubSettings {
            repo: Some("acme/iam".into()),
            api_url: self.server.uri(),
            ..Default::default()
        };
        let mut gh = GitHub::connect(&settings, Path::new("."), Some(TOKEN.into())).unwrap();
        gh.retry_scale = 0.0;
        gh
    }

    /// Checks every request carried the token.
    fn all_authorized(&self) {
        let reqs = self
            .rt
            .block_on(self.server.received_requests())
            .unwrap_or_default();
        for r in reqs {
            assert_eq!(
                r.headers.get("authorization").unwrap().to_str().unwrap(),
                format!("Bearer {TOKEN}")
            );
        }
    }
}

fn commit(dir: &Path, message: &str) -> String {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", message]);
    git(dir, &["rev-parse", "HEAD"]).trim().to_string()
}

fn write_role(dir: &Path, account: &str, role: &str, actions: &str) {
    let path = dir.join(format!("policies/{account}/{role}.json"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        path,
        format!(
            "{{\n  \"p\": {{\"Statement\": [{{\"Effect\": \"Allow\", \"Action\": [{actions}], \"Resource\": \"*\"}}]}}\n}}\n"
        ),
    )
    .unwrap();
}

/// History on main: `base` records `app` and `queue` of A; pull request #5 (a branch merged
/// with a merge commit) narrows both; a README commit follows. Returns (base, merge, tip).
fn history(dir: &Path) -> (String, String, String) {
    write_role(dir, A, "app", r#""s3:GetObject", "sqs:SendMessage""#);
    write_role(dir, A, "queue", r#""sqs:SendMessage", "sns:Publish""#);
    let base = commit(dir, "sync");
    git(
        dir,
        &["checkout", "-q", "-b", "repokid/propose/111122223333"],
    );
    write_role(dir, A, "app", r#""s3:GetObject""#);
    write_role(dir, A, "queue", r#""sqs:SendMessage""#);
    commit(dir, "repo");
    git(dir, &["checkout", "-q", "main"]);
    git(
        dir,
        &[
            "merge",
            "-q",
            "--no-ff",
            "-m",
            "Merge pull request #5 from acme/repokid/propose/111122223333",
            "repokid/propose/111122223333",
        ],
    );
    let merge = git(dir, &["rev-parse", "HEAD"]).trim().to_string();
    std::fs::write(dir.join("README.md"), "IAM\n").unwrap();
    let tip = commit(dir, "readme");
    (base, merge, tip)
}

fn role(name: &str, status: &str) -> Value {
    let mut r = json!({"role": name, "status": status, "puts": [], "deletes": []});
    match status {
        "applied" => r["puts"] = json!(["p"]),
        "drift" => {
            r["message"] = json!("live policies differ from the last applied file");
            r["drift"] = json!([{
                "policy": "p",
                "how": "changed out of band",
                "diff": "--- expected/p\n+++ live/p\n@@ -1,3 +1,4 @@\n   \"sqs:SendMessage\",\n+  \"sns:Subscribe\",\n",
            }]);
        }
        _ => {}
    }
    r
}

/// A report as `repokid apply --report` writes it: one account, its roles, recorded or not.
fn run(account: &str, baseline: &str, target: &str, roles: Vec<Value>) -> ApplyRun {
    let failed = roles
        .iter()
        .any(|r| ["drift", "failed", "not-attempted"].contains(&r["status"].as_str().unwrap()));
    serde_json::from_value(json!({
        "version": 1,
        "dry_run": false,
        "accounts": [{
            "account": account,
            "target": target,
            "baseline": baseline,
            "baseline_source": "recorded",
            "dry_run": false,
            "roles": roles,
            "recorded": !failed && baseline != target,
        }],
        "errors": [],
        "aws_calls": {},
    }))
    .unwrap()
}

fn opts(accounts: &[&str], run_id: u32) -> ReportOptions {
    ReportOptions {
        accounts: accounts.iter().map(|a| a.to_string()).collect(),
        run_url: Some(format!("https://github.com/acme/iam/actions/runs/{run_id}")),
        ..ReportOptions::default()
    }
}

#[test]
fn a_failed_apply_is_reported_on_the_pr_and_in_the_issue_until_a_later_run_succeeds() {
    let repo = common::new_repo();
    let dir = repo.path();
    let (base, merge, tip) = history(dir);
    let store = PolicyStore::open(dir).unwrap();
    let api = Api::start();
    let gh = api.gh();
    {
        let mut st = api.fake.state();
        st.commit_prs.insert(merge.clone(), vec![5]);
        // Someone quotes the marker in a comment of their own: never edited.
        st.human_comment(5, &format!("{} what is this?", pr_marker(A)));
    }

    // Run 1: app applied, queue drifted.
    let drifted = run(
        A,
        &base,
        &tip,
        vec![role("app", "applied"), role("queue", "drift")],
    );
    let out = report_apply(&gh, &store, Some(&drifted), &opts(&[A], 1)).unwrap();
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.failed_accounts, [A]);
    assert_eq!(out.comments.len(), 1);
    assert_eq!(
        (out.comments[0].pull_request, out.comments[0].action),
        (5, CommentAction::Created)
    );
    let issue = out.issue.clone().unwrap();
    assert_eq!(issue.action, IssueAction::Opened);
    {
        let st = api.fake.state();
        // Only the commit that changed the account's roles was looked up: the merge commit,
        // not the README commit after it nor anything before the baseline.
        let lookups: Vec<&String> = st.log.iter().filter(|l| l.contains("/commits/")).collect();
        assert_eq!(
            lookups,
            [&format!(
                "GET /repos/acme/iam/commits/{merge}/pulls?per_page=100"
            )]
        );
        let comments = st.comments_on(5);
        assert_eq!(comments.len(), 2, "{comments:?}");
        assert!(!comments[0].bot && comments[0].edits == 0);
        let c = &comments[1].body;
        assert!(c.starts_with(&pr_marker(A)), "{c}");
        assert!(
            c.contains(&format!("account {A}: not applied: drift")),
            "{c}"
        );
        assert!(c.contains("| `app` | applied | p |"), "{c}");
        assert!(c.contains("| `queue` | **skipped: drift** |"), "{c}");
        assert!(c.contains("+  \"sns:Subscribe\","), "the live diff: {c}");
        assert!(c.contains("actions/runs/1"), "{c}");
        let open = st.open_issues(FAILED_LABEL);
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].number, issue.number);
        let ic = st.comments_on(issue.number);
        assert_eq!(ic.len(), 1);
        assert!(
            ic[0].body.contains(&format!("Account {A}: not applied"))
                && ic[0]
                    .body
                    .contains("`queue`: skipped: drift (`p` changed out of band)"),
            "{}",
            ic[0].body
        );
    }

    // Run 2, still drifted: the same comments are updated, nothing is added.
    let out = report_apply(&gh, &store, Some(&drifted), &opts(&[A], 2)).unwrap();
    assert_eq!(out.comments[0].action, CommentAction::Updated);
    assert_eq!(out.issue.as_ref().unwrap().action, IssueAction::Updated);
    {
        let st = api.fake.state();
        assert_eq!(st.comments_on(5).len(), 2);
        assert_eq!(st.comments_on(5)[1].edits, 1);
        assert!(st.comments_on(5)[1].body.contains("actions/runs/2"));
        assert_eq!(st.open_issues(FAILED_LABEL).len(), 1);
        assert_eq!(st.comments_on(issue.number).len(), 1);
    }

    // Run 3: the drift was undone, everything applies. The comment says so, the account's
    // comment in the issue is resolved, and the issue is closed with a comment.
    let fixed = run(
        A,
        &base,
        &tip,
        vec![role("app", "in-sync"), role("queue", "applied")],
    );
    let out = report_apply(&gh, &store, Some(&fixed), &opts(&[A], 3)).unwrap();
    assert!(out.failed_accounts.is_empty());
    assert_eq!(out.comments[0].action, CommentAction::Updated);
    assert_eq!(out.issue.as_ref().unwrap().action, IssueAction::Closed);
    {
        let st = api.fake.state();
        let c = &st.comments_on(5)[1].body;
        assert!(
            c.contains(&format!("account {A}: applied")) && c.contains("IAM now holds"),
            "{c}"
        );
        assert!(st.comments_on(5)[0].edits == 0);
        let i = &st.issues[&issue.number];
        assert_eq!(
            (i.state.as_str(), i.state_reason.as_deref()),
            ("closed", Some("completed"))
        );
        let ic = st.comments_on(issue.number);
        assert_eq!(ic.len(), 2);
        assert!(ic[0].body.contains("state=resolved") && ic[0].body.contains("actions/runs/3"));
        assert!(ic[1].body.contains("Closing"), "{}", ic[1].body);
    }

    // Run 4, nothing failing and no open issue: no issue is opened.
    let before = api.fake.state().log.len();
    let out = report_apply(&gh, &store, Some(&fixed), &opts(&[A], 4)).unwrap();
    assert!(out.issue.is_none());
    {
        let st = api.fake.state();
        assert!(
            !st.log[before..]
                .iter()
                .any(|l| l.starts_with("POST /repos/acme/iam/issues ")
                    || l == "POST /repos/acme/iam/issues"),
            "{:?}",
            &st.log[before..]
        );
        assert_eq!(st.issues.len(), 1);
    }
    api.all_authorized();
}

#[test]
fn the_issue_stays_open_while_any_account_fails_and_concurrent_jobs_share_one() {
    let repo = common::new_repo();
    let dir = repo.path();
    let (_, _, tip) = history(dir);
    let store = PolicyStore::open(dir).unwrap();
    let api = Api::start();
    let gh = api.gh();
    let failing = |account: &str| run(account, &tip, &tip, vec![role("web", "failed")]);
    let ok = |account: &str| run(account, &tip, &tip, vec![role("web", "applied")]);

    // Job A opens an issue while another job of the run opened one too: the older one is kept,
    // the new one closed as its duplicate.
    api.fake.state().race_on_create = true;
    let out = report_apply(&gh, &store, Some(&failing(A)), &opts(&[A], 1)).unwrap();
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.issue.as_ref().unwrap().number, 850);
    {
        let st = api.fake.state();
        let dup = &st.issues[&901];
        assert_eq!(
            (dup.state.as_str(), dup.state_reason.as_deref()),
            ("closed", Some("not_planned"))
        );
        assert!(st.comments_on(901)[0].body.contains("Duplicate of #850"));
        assert_eq!(st.open_issues(FAILED_LABEL).len(), 1);
        assert!(
            st.comments_on(850)[0]
                .body
                .contains(&format!("account={A} state=failing"))
        );
    }

    // Job B fails too, while a job that saw nothing failing closes the issue under it: B
    // reopens it.
    api.fake.state().close_after_comment = Some(850);
    let out = report_apply(&gh, &store, Some(&failing(B)), &opts(&[B], 1)).unwrap();
    assert_eq!(out.issue.as_ref().unwrap().action, IssueAction::Reopened);
    assert_eq!(api.fake.state().issues[&850].state, "open");

    // A is applied by a later run; B still fails, so the issue stays open.
    let out = report_apply(&gh, &store, Some(&ok(A)), &opts(&[A], 2)).unwrap();
    assert_eq!(out.issue.as_ref().unwrap().action, IssueAction::Updated);
    {
        let st = api.fake.state();
        assert_eq!(st.issues[&850].state, "open");
        let bodies: Vec<String> = st.comments_on(850).into_iter().map(|c| c.body).collect();
        assert_eq!(bodies.len(), 2, "{bodies:?}");
        assert!(bodies[0].contains(&format!("account={A} state=resolved")));
        assert!(bodies[1].contains(&format!("account={B} state=failing")));
    }

    // B is applied: nothing fails any more, the issue is closed.
    let out = report_apply(&gh, &store, Some(&ok(B)), &opts(&[B], 3)).unwrap();
    assert_eq!(out.issue.as_ref().unwrap().action, IssueAction::Closed);
    assert_eq!(api.fake.state().issues[&850].state, "closed");
    api.all_authorized();
}

#[test]
fn an_apply_that_wrote_no_report_fails_every_account_of_the_batch() {
    let repo = common::new_repo();
    let dir = repo.path();
    history(dir);
    let store = PolicyStore::open(dir).unwrap();
    let api = Api::start();
    let out = report_apply(&api.gh(), &store, None, &opts(&[A, B], 1)).unwrap();
    assert_eq!(out.failed_accounts, [A, B]);
    assert!(out.comments.is_empty());
    let number = out.issue.unwrap().number;
    let st = api.fake.state();
    let bodies: Vec<String> = st.comments_on(number).into_iter().map(|c| c.body).collect();
    assert_eq!(bodies.len(), 2);
    for b in bodies {
        assert!(b.contains("produced no result"), "{b}");
    }
}

#[test]
fn a_dry_run_is_not_reported() {
    let repo = common::new_repo();
    history(repo.path());
    let store = PolicyStore::open(repo.path()).unwrap();
    let api = Api::start();
    let mut dry = run(A, "a", "a", vec![]);
    dry.dry_run = true;
    let err = report_apply(&api.gh(), &store, Some(&dry), &opts(&[A], 1)).unwrap_err();
    assert!(matches!(err, ApplyReportError::DryRun), "{err}");
    assert!(api.fake.state().log.is_empty());
}
