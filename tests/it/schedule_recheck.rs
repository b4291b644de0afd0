//! The re-check of a scheduled proposal at merge time (`repo-scheduled-roles`), against the
//! GitHub stand-in (wiremock), a git server over HTTP and a real proposal branch
//! (tests/it/common/scheduled.rs): a permission used during the notice period survives the
//! scheduled merge (a commit on the branch keeps it, a comment says so, the next run merges that
//! head); nothing outside the announced set is ever removed; a proposal that cannot be re-checked
//! is not merged; and propose.yml's merge-due job script does the same with usage from moto.

#![allow(clippy::unwrap_used)]

use crate::common;

use crate::common::scheduled::{
    ACCOUNT, APP, AT_ANNOUNCEMENT, BRANCH, Fixture, inventory, merge_time, run, usage,
};
use chrono::Utc;
use repokid::github::client::GitHub;
use repokid::github::schedule::{
    MergeOptions, MergeOutcome, STATUS_CONTEXT, repo_scheduled, schedule_note,
};
use repokid::settings::GitHubSettings;
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, method, path, path_regex, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

struct StandIn {
    rt: tokio::runtime::Runtime,
    server: MockServer,
}

impl StandIn {
    fn new() -> StandIn {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let server = rt.block_on(MockServer::start());
        StandIn { rt, server }
    }

    fn mount(&self, mock: Mock) {
        self.rt.block_on(mock.mount(&self.server));
    }

    fn client(&self) -> GitHub {
        let settings = GitHubSettings {
            repo: Some("acme/iam".into()),
            api_url: self.server.uri(),
            ..GitHubSettings::default()
        };
        let mut gh =
            GitHub::connect(&settings, std::path::Path::new("."), Some("tok-123".into())).unwrap();
        gh.retry_scale = 0.0;
        gh
    }
}

fn pr_at(number: u64, branch: &str, not_before: chrono::DateTime<Utc>, sha: &str) -> Value {
    json!({
        "number": number, "state": "open", "html_url": format!("https://github.com/acme/iam/pull/{number}"),
        "head": {"ref": branch, "sha": sha},
        "body": format!("{}## Least-privilege proposal", schedule_note(not_before)),
        "labels": [{"name": "repokid"}, {"name": "repokid:scheduled"}],
        "mergeable": true,
    })
}

/// Mounts a due, approved, mergeable scheduled pull request #1 at `sha`, and what its merge,
/// comments and statuses need.
fn mount_due(s: &StandIn, sha: &str) {
    mount_due_since(s, sha, merge_time() - chrono::Duration::days(1));
}

/// [`mount_due`], due since `due`.
fn mount_due_since(s: &StandIn, sha: &str, due: chrono::DateTime<Utc>) {
    s.mount(
        Mock::given(method("GET"))
            .and(path("/repos/acme/iam/pulls"))
            .and(query_param("state", "open"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!([pr_at(1, BRANCH, due, sha)])),
            ),
    );
    s.mount(
        Mock::given(method("GET"))
            .and(path("/repos/acme/iam/pulls/1/reviews"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!([{"user": {"login": "bob"}, "state": "APPROVED"}])),
            ),
    );
    s.mount(
        Mock::given(method("GET"))
            .and(path("/repos/acme/iam/pulls/1"))
            .respond_with(ResponseTemplate::new(200).set_body_json(pr_at(1, BRANCH, due, sha))),
    );
    s.mount(
        Mock::given(method("POST"))
            .and(path_regex("^/repos/acme/iam/statuses/[0-9a-f]{40}$"))
            .and(body_partial_json(json!({"context": STATUS_CONTEXT})))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({}))),
    );
    s.mount(
        Mock::given(method("POST"))
            .and(path("/repos/acme/iam/issues/1/comments"))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 1}))),
    );
    s.mount(
        Mock::given(method("PUT"))
            .and(path("/repos/acme/iam/pulls/1/merge"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"merged": true}))),
    );
}

/// The bodies of the requests `method path` received.
fn bodies(s: &StandIn, m: &str, p: &str) -> Vec<Value> {
    s.rt.block_on(s.server.received_requests())
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == m && r.url.path() == p)
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

#[test]
fn a_permission_used_during_the_notice_period_survives_the_scheduled_merge() {
    let s = StandIn::new();
    let f = Fixture::new(&s.server.uri());
    assert_eq!(f.actions(&f.tip, "app"), ["s3:GetObject", "s3:PutObject"]);
    // Three days into the notice period, app sent a message: sqs is used again.
    let fresh = usage(
        merge_time(),
        &[
            ("s3", Some("2026-11-27T08:00:00Z")),
            ("sqs", Some("2026-11-23T10:00:00Z")),
            ("dynamodb", None),
        ],
    );
    mount_due(&s, &f.tip);

    // A dry run says what would stay, and changes nothing.
    let (dry, _) = run(&s.client(), &f, &fresh, false);
    let kept = match &dry[0].1 {
        MergeOutcome::WouldUpdate { kept } => kept.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(
        (kept[0].role.as_str(), kept[0].actions.clone()),
        ("app", vec!["sqs:SendMessage".to_string()])
    );
    assert!(kept[0].reason.contains("used 2026-11-23"), "{kept:?}");
    assert_eq!(f.remote_tip(), f.tip);
    assert!(bodies(&s, "POST", "/repos/acme/iam/issues/1/comments").is_empty());

    // With --commit: a new commit on the branch keeps sqs:SendMessage, pushed, said so in a
    // comment; not merged in this run.
    let (done, _) = run(&s.client(), &f, &fresh, true);
    let commit = match &done[0].1 {
        MergeOutcome::Updated { commit, kept: k } => {
            assert_eq!(k, &kept);
            commit.clone()
        }
        other => panic!("{other:?}"),
    };
    assert!(bodies(&s, "PUT", "/repos/acme/iam/pulls/1/merge").is_empty());
    assert_eq!(f.remote_tip(), commit);
    assert_eq!(
        common::git(f.dir.path(), &["rev-parse", &format!("{commit}^")]).trim(),
        f.tip,
        "a new commit on top of the announced proposal"
    );
    assert_eq!(
        f.actions(&commit, "app"),
        ["s3:GetObject", "s3:PutObject", "sqs:SendMessage"]
    );
    let message = common::git(f.dir.path(), &["log", "-1", "--format=%B", &commit]);
    assert!(message.contains("Repokid-Action: repo"), "{message}");
    assert!(message.contains("Repokid-Kept-At-Merge: 1"), "{message}");
    let comments = bodies(&s, "POST", "/repos/acme/iam/issues/1/comments");
    assert_eq!(comments.len(), 1);
    let text = comments[0]["body"].as_str().unwrap();
    assert!(
        text.contains("Re-checked at merge time")
            && text.contains("| app | `sqs:SendMessage` | used 2026-11-23")
            && text.contains(&commit),
        "{text}"
    );
    // The new head's schedule status is set, so the required check does not hold it.
    let statuses = bodies(&s, "POST", &format!("/repos/acme/iam/statuses/{commit}"));
    assert_eq!(statuses[0]["state"], "success");

    // The next run sees the updated head: what remains is what was announced less what was kept,
    // so it merges that head.
    s.rt.block_on(s.server.reset());
    mount_due(&s, &commit);
    let (done, _) = run(&s.client(), &f, &fresh, true);
    assert_eq!(done[0].1, MergeOutcome::Merged);
    let merges = bodies(&s, "PUT", "/repos/acme/iam/pulls/1/merge");
    assert_eq!(merges.len(), 1);
    assert_eq!(merges[0]["sha"], commit.as_str());
    assert!(bodies(&s, "POST", "/repos/acme/iam/issues/1/comments").is_empty());
}

#[test]
fn nothing_outside_the_announced_set_is_ever_removed() {
    let s = StandIn::new();
    let f = Fixture::new(&s.server.uri());
    // By the merge, s3 has not been used for more than the usage window either: the re-plan
    // finds it removable, but it was never announced.
    let fresh = usage(
        merge_time(),
        &[
            ("s3", Some("2026-05-01T08:00:00Z")),
            ("sqs", None),
            ("dynamodb", None),
        ],
    );
    mount_due(&s, &f.tip);
    let (done, _) = run(&s.client(), &f, &fresh, true);
    assert_eq!(done[0].1, MergeOutcome::Merged);
    // Merged exactly as announced: the head that keeps s3, no commit added, nothing said.
    let merges = bodies(&s, "PUT", "/repos/acme/iam/pulls/1/merge");
    assert_eq!(merges[0]["sha"], f.tip.as_str());
    assert_eq!(f.remote_tip(), f.tip);
    assert_eq!(f.actions(&f.tip, "app"), ["s3:GetObject", "s3:PutObject"]);
    assert!(bodies(&s, "POST", "/repos/acme/iam/issues/1/comments").is_empty());

    // The library says why: the re-plan keeps s3 as not announced.
    let mut fetch = |_: &str, _: &[String]| -> Result<_, repokid::ops::recheck::InputsError> {
        Ok((inventory(), fresh.clone()))
    };
    let check = repokid::ops::recheck::recheck(
        &f.ws,
        &f.store,
        &repokid::ops::recheck::RecheckRequest {
            account: ACCOUNT,
            head: &f.tip,
            base: "main",
            grace_days: Some(0),
            now: merge_time(),
        },
        &mut fetch,
    )
    .unwrap();
    assert_eq!(
        check.announced,
        [(
            "app".to_string(),
            vec![
                "dynamodb:GetItem".to_string(),
                "sqs:SendMessage".to_string()
            ]
        )]
        .into()
    );
    assert!(matches!(
        check.verdict,
        repokid::ops::recheck::Verdict::Unchanged
    ));
    assert_eq!(
        check.recorded.map(|c| c.to_string()),
        Some(
            common::git(f.dir.path(), &["rev-parse", "main"])
                .trim()
                .to_string()
        )
    );
}

#[test]
fn a_proposal_that_cannot_be_rechecked_is_not_merged() {
    let s = StandIn::new();
    let f = Fixture::new(&s.server.uri());
    mount_due(&s, &f.tip);
    // No fresh usage (Access Advisor failing, say).
    let mut failing = |_: &str, _: &[String]| -> Result<_, repokid::ops::recheck::InputsError> {
        Err("GenerateServiceLastAccessedDetails: throttled".into())
    };
    let opts = MergeOptions {
        commit: true,
        grace_days: Some(0),
        ..MergeOptions::default()
    };
    let out = repo_scheduled(
        &s.client(),
        &f.ws,
        &f.store,
        &mut failing,
        &opts,
        merge_time(),
    )
    .unwrap();
    match &out[0].1 {
        MergeOutcome::Unverified { reason } => assert!(reason.contains("throttled"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // Stale fresh usage (collected before the usage data's age limit) is not a re-check either.
    let stale = usage(merge_time() - chrono::Duration::days(6), &AT_ANNOUNCEMENT);
    let (out, _) = run(&s.client(), &f, &stale, true);
    match &out[0].1 {
        MergeOutcome::Unverified { reason } => {
            assert!(reason.contains("app: stale usage data"), "{reason}")
        }
        other => panic!("{other:?}"),
    }

    // A commit on the branch that grants more than the recorded state: not a removal.
    let wider = APP.replace(
        "\"dynamodb:GetItem\"",
        "\"dynamodb:GetItem\", \"iam:PassRole\"",
    );
    let wt = f.dir.path();
    common::git(wt, &["checkout", "-q", BRANCH]);
    std::fs::write(
        wt.join(format!("policies/{ACCOUNT}/app.json")),
        format!("{{\"data\": {wider}}}\n"),
    )
    .unwrap();
    common::git(wt, &["commit", "-q", "-am", "more"]);
    let wide = common::git(wt, &["rev-parse", "HEAD"]).trim().to_string();
    common::git(wt, &["checkout", "-q", "main"]);
    s.rt.block_on(s.server.reset());
    mount_due(&s, &wide);
    let (out, asked) = run(
        &s.client(),
        &f,
        &usage(merge_time(), &AT_ANNOUNCEMENT),
        true,
    );
    match &out[0].1 {
        MergeOutcome::Unverified { reason } => {
            assert!(reason.contains("not a removal"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert!(asked.is_empty());
    // A head this repository does not have.
    s.rt.block_on(s.server.reset());
    mount_due(&s, &"0".repeat(40));
    let (out, _) = run(
        &s.client(),
        &f,
        &usage(merge_time(), &AT_ANNOUNCEMENT),
        true,
    );
    assert!(
        matches!(&out[0].1, MergeOutcome::Unverified { reason } if reason.contains("not in the local repository")),
        "{out:?}"
    );
    assert!(bodies(&s, "PUT", "/repos/acme/iam/pulls/1/merge").is_empty());
    assert!(bodies(&s, "POST", "/repos/acme/iam/issues/1/comments").is_empty());
    let _ = &f.git;
}

/// Runs propose.yml's merge-due job script (scripts/gha/merge.sh) in `checkout`, with the
/// variables the workflow step sets (no workflow to start: APPLY_WORKFLOW is empty) and moto's
/// AWS environment.
fn merge_due_job(checkout: &std::path::Path, token: &str) -> (i32, String, String) {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/gha/merge.sh");
    let mut cmd = std::process::Command::new("bash");
    cmd.arg(script)
        .current_dir(checkout)
        .env("REPOKID", env!("CARGO_BIN_EXE_repokid"))
        .env("GITHUB_TOKEN", token)
        .env("GH_TOKEN", token)
        .env("BASE_BRANCH", "main")
        .env("APPLY_WORKFLOW", "")
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("GITHUB_OUTPUT")
        .env_remove("REPOKID_NOW")
        .env_remove("REPOKID_LOG")
        .env_remove("AWS_PROFILE");
    for (k, v) in common::moto::aws_env() {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn the_merge_due_job_keeps_what_was_used_during_the_notice_period() {
    use crate::common::moto::{self, MotoAccount};
    let token = "ghs_MergeDueJobT0kenNeverPrinted7";
    let acct = MotoAccount::fresh();
    acct.create_role("app", &[("data", APP)]);
    let ago = |d: i64| (Utc::now() - chrono::Duration::days(d)).to_rfc3339();
    let seed = |sqs: Value| {
        moto::seed_access_advisor(&json!({
            acct.arn("app"): [
                {"ServiceNamespace": "s3", "ServiceName": "Amazon S3", "LastAuthenticated": ago(1), "TotalAuthenticatedEntities": 1},
                {"ServiceNamespace": "sqs", "ServiceName": "Amazon SQS", "LastAuthenticated": sqs},
                {"ServiceNamespace": "dynamodb", "ServiceName": "Amazon DynamoDB", "LastAuthenticated": null},
            ],
        }))
    };
    seed(Value::Null);
    let git = common::git_server::GitServer::start(token);
    let (remote, url) = git.bare_repo("iam");
    let s = StandIn::new();

    // The policy repository (docs/setup.md): settings reading AWS, the account recorded on main,
    // its proposal on its branch, both on the git server.
    let seed_repo = common::new_repo();
    let dir = seed_repo.path();
    std::fs::write(
        dir.join("repokid.toml"),
        format!(
            "accounts = [\"{id}\"]\n\n[sources]\ninventory-source = \"aws\"\n\
             usage-source = \"access-advisor\"\n\n[aws]\nassume-role = \"RepokidRole\"\n\
             access-advisor-timeout-seconds = 60\nmax-attempts = 2\ncall-timeout-seconds = 5\n\n\
             [engine]\ngrace-days = 0\n\n[github]\nrepo = \"acme/iam\"\napi-url = \"{api}\"\n\
             git-url = \"{url}\"\n",
            id = acct.id,
            api = s.server.uri()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("filters.toml"), "[age]\nminimum_days = 0\n").unwrap();
    common::git(dir, &["add", "repokid.toml", "filters.toml"]);
    common::git(dir, &["commit", "-q", "-m", "repokid settings"]);
    for args in [
        ["sync", "--account", acct.id.as_str()],
        ["propose", "--account", acct.id.as_str()],
    ] {
        let (code, out, err) = common::repokid_env(dir, &args, &moto::aws_env());
        assert_eq!(code, 0, "{args:?}: {out}{err}");
    }
    let branch = format!("repokid/propose/{}", acct.id);
    let store = repokid::store::git::PolicyStore::open(dir).unwrap();
    repokid::github::push::push(
        store.repo(),
        &url,
        &[
            "refs/heads/main:refs/heads/main",
            &format!("refs/heads/{branch}:refs/heads/{branch}"),
        ],
        token,
    )
    .unwrap();
    let tip = common::git(dir, &["rev-parse", &branch]).trim().to_string();
    let granted = |rev: &str| {
        common::git(
            &remote,
            &["show", &format!("{rev}:policies/{}/app.json", acct.id)],
        )
    };
    assert!(!granted(&tip).contains("sqs:SendMessage"));

    // Two days ago, during the notice period, app sent a message.
    seed(json!(ago(2)));
    let due = Utc::now() - chrono::Duration::days(1);
    let pr = |sha: &str| pr_at(1, &branch, due, sha);
    let mount = |sha: &str| {
        s.rt.block_on(s.server.reset());
        // The branch is this account's, not the shared fixture's (the first mock that matches
        // answers).
        s.mount(
            Mock::given(method("GET"))
                .and(path("/repos/acme/iam/pulls"))
                .and(query_param("state", "open"))
                .respond_with(ResponseTemplate::new(200).set_body_json(json!([pr(sha)]))),
        );
        mount_due_since(&s, sha, due);
    };
    mount(&tip);
    let t = tempfile::tempdir().unwrap();
    // actions/checkout with fetch-depth: 0: main checked out, every branch fetched.
    let checkout = |name: &str| {
        let ck = t.path().join(name);
        common::git(
            t.path(),
            &[
                "clone",
                "-q",
                remote.to_str().unwrap(),
                ck.to_str().unwrap(),
            ],
        );
        ck
    };
    let (code, out, err) = merge_due_job(&checkout("night-1"), token);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("\"state\": \"updated\"") && out.contains("sqs:SendMessage"),
        "{out}"
    );
    let updated = common::git(&remote, &["rev-parse", &branch])
        .trim()
        .to_string();
    assert_ne!(updated, tip, "the branch was not updated");
    assert!(granted(&updated).contains("sqs:SendMessage"));
    assert!(!granted(&updated).contains("dynamodb:GetItem"));
    assert_eq!(
        bodies(&s, "POST", "/repos/acme/iam/issues/1/comments").len(),
        1
    );
    assert!(bodies(&s, "PUT", "/repos/acme/iam/pulls/1/merge").is_empty());

    // The next night: the updated head re-checks unchanged and is merged.
    mount(&updated);
    let (code, out, err) = merge_due_job(&checkout("night-2"), token);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("\"state\": \"merged\""), "{out}");
    let merges = bodies(&s, "PUT", "/repos/acme/iam/pulls/1/merge");
    assert_eq!(merges.len(), 1);
    assert_eq!(merges[0]["sha"], updated.as_str());
    for secret in [token, moto::SECRET_KEY, moto::SESSION_TOKEN] {
        assert!(
            !out.contains(secret) && !err.contains(secret),
            "a secret was printed"
        );
    }
}
