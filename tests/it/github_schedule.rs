//! Scheduling against an in-process GitHub stand-in (wiremock) that checks the exact requests:
//! statuses kept pending until the date, due pull requests merged only when approved and
//! mergeable (after a re-check, here with usage unchanged: tests/it/schedule_recheck.rs has the
//! rest), cancellation.

#![allow(clippy::unwrap_used)]

use crate::common;

use crate::common::scheduled::{ACCOUNT, AT_ANNOUNCEMENT, BRANCH, Fixture, merge_time, run, usage};
use chrono::{TimeZone, Utc};
use repokid::github::client::GitHub;
use repokid::github::schedule::{MergeOutcome, STATUS_CONTEXT, cancel, schedule_note};
use repokid::settings::GitHubSettings;
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, method, path, query_param};
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

    /// Method and path of every request received, in order.
    fn requests(&self) -> Vec<String> {
        self.rt
            .block_on(self.server.received_requests())
            .unwrap()
            .iter()
            .map(|r| format!("{} {}", r.method, r.url.path()))
            .collect()
    }
}

fn pr(number: u64, branch: &str, not_before: chrono::DateTime<Utc>) -> Value {
    pr_at(number, branch, not_before, &format!("sha{number}"))
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

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

// ---------------------------------------------------------------------------------------------
// A real proposal to re-check: a local repository whose main records an account, a scheduled
// proposal branch on it, both pushed to a git server over HTTP.
// ---------------------------------------------------------------------------------------------

#[test]
fn due_approved_mergeable_prs_are_merged_and_the_others_wait() {
    let s = StandIn::new();
    let f = Fixture::new(&s.server.uri());
    let now = merge_time();
    let due = now - chrono::Duration::days(1);
    let later = now + chrono::Duration::days(3);
    let unlabelled = {
        let mut v = pr(9, "repokid/propose/999988887777", due);
        v["labels"] = json!([{"name": "repokid"}]);
        v
    };
    s.mount(
        Mock::given(method("GET"))
            .and(path("/repos/acme/iam/pulls"))
            .and(query_param("state", "open"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([
                pr_at(1, BRANCH, due, &f.tip),
                pr(2, "repokid/propose/222233334444", later),
                pr(3, "repokid/propose/333344445555", due),
                pr(4, "someone/else", due),
                unlabelled,
            ]))),
    );
    // #1 approved; #3 has a change request after an approval.
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
            .and(path("/repos/acme/iam/pulls/3/reviews"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([
                {"user": {"login": "bob"}, "state": "APPROVED"},
                {"user": {"login": "carol"}, "state": "CHANGES_REQUESTED"}
            ]))),
    );
    s.mount(
        Mock::given(method("GET"))
            .and(path("/repos/acme/iam/pulls/1"))
            .respond_with(ResponseTemplate::new(200).set_body_json(pr_at(1, BRANCH, due, &f.tip))),
    );
    for sha in [f.tip.as_str(), "sha3"] {
        s.mount(
            Mock::given(method("POST"))
                .and(path(format!("/repos/acme/iam/statuses/{sha}")))
                .and(body_partial_json(
                    json!({"state": "success", "context": STATUS_CONTEXT}),
                ))
                .respond_with(ResponseTemplate::new(201).set_body_json(json!({}))),
        );
    }
    s.mount(
        Mock::given(method("POST"))
            .and(path("/repos/acme/iam/statuses/sha2"))
            .and(body_partial_json(
                json!({"state": "pending", "context": STATUS_CONTEXT}),
            ))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({}))),
    );
    s.mount(
        Mock::given(method("PUT"))
            .and(path("/repos/acme/iam/pulls/1/merge"))
            .and(body_partial_json(
                json!({"sha": f.tip, "merge_method": "merge"}),
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"merged": true}))),
    );

    // Usage as announced: the re-check changes nothing. A dry run merges nothing.
    let fresh = usage(now, &AT_ANNOUNCEMENT);
    let (dry, asked) = run(&s.client(), &f, &fresh, false);
    assert_eq!(
        dry,
        vec![
            (1, MergeOutcome::WouldMerge),
            (2, MergeOutcome::Waiting { until: later }),
            (3, MergeOutcome::NotApproved),
        ]
    );
    // Only the due, approved, mergeable one is re-checked, and only its changed role.
    assert_eq!(asked, vec![(ACCOUNT.to_string(), vec!["app".to_string()])]);
    assert!(!s.requests().iter().any(|r| r.starts_with("PUT")));

    let (done, _) = run(&s.client(), &f, &fresh, true);
    assert_eq!(done[0].1, MergeOutcome::Merged);
    assert_eq!(
        s.requests()
            .iter()
            .filter(|r| *r == "PUT /repos/acme/iam/pulls/1/merge")
            .count(),
        1
    );
    // Not-due and not-approved pull requests are never merged; unrelated ones never touched.
    for r in s.requests() {
        assert!(
            !r.contains("/pulls/2/merge") && !r.contains("/pulls/3/merge"),
            "{r}"
        );
        assert!(!r.contains("/pulls/4") && !r.contains("/pulls/9"), "{r}");
        assert!(!r.contains("/comments"), "{r}");
    }
    // Merged as announced: nothing pushed.
    assert_eq!(f.remote_tip(), f.tip);
}

#[test]
fn a_due_pr_that_github_cannot_merge_is_reported_not_forced() {
    let s = StandIn::new();
    let f = Fixture::new(&s.server.uri());
    let due = merge_time() - chrono::Duration::hours(1);
    let mut conflicted = pr(5, "repokid/propose/111122223333", due);
    s.mount(
        Mock::given(method("GET"))
            .and(path("/repos/acme/iam/pulls"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([conflicted.clone()]))),
    );
    conflicted["mergeable"] = json!(false);
    s.mount(
        Mock::given(method("GET"))
            .and(path("/repos/acme/iam/pulls/5"))
            .respond_with(ResponseTemplate::new(200).set_body_json(conflicted)),
    );
    s.mount(
        Mock::given(method("GET"))
            .and(path("/repos/acme/iam/pulls/5/reviews"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!([{"user": {"login": "bob"}, "state": "APPROVED"}])),
            ),
    );
    s.mount(
        Mock::given(method("POST"))
            .and(path("/repos/acme/iam/statuses/sha5"))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({}))),
    );
    let (out, asked) = run(
        &s.client(),
        &f,
        &usage(merge_time(), &AT_ANNOUNCEMENT),
        true,
    );
    assert_eq!(out[0].1, MergeOutcome::NotMergeable);
    assert!(
        asked.is_empty(),
        "re-checked a pull request it cannot merge"
    );
    assert!(!s.requests().iter().any(|r| r.starts_with("PUT")));
}

#[test]
fn cancelling_comments_closes_and_deletes_the_branch() {
    let s = StandIn::new();
    let branch = "repokid/propose/111122223333";
    s.mount(
        Mock::given(method("GET"))
            .and(path("/repos/acme/iam/pulls"))
            .and(query_param("head", format!("acme:{branch}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([pr(7, branch, now())]))),
    );
    s.mount(
        Mock::given(method("POST"))
            .and(path("/repos/acme/iam/issues/7/comments"))
            .and(body_partial_json(
                json!({"body": "Cancelled by `repokid cancel-scheduled-repo`: freeze"}),
            ))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({}))),
    );
    s.mount(
        Mock::given(method("PATCH"))
            .and(path("/repos/acme/iam/pulls/7"))
            .and(body_partial_json(json!({"state": "closed"})))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"number": 7, "state": "closed"})),
            ),
    );
    s.mount(
        Mock::given(method("DELETE"))
            .and(path(format!("/repos/acme/iam/git/refs/heads/{branch}")))
            .respond_with(ResponseTemplate::new(204)),
    );
    let closed = cancel(&s.client(), branch, "freeze").unwrap().unwrap();
    assert_eq!(closed.number, 7);
    assert_eq!(
        s.requests(),
        [
            "GET /repos/acme/iam/pulls",
            "POST /repos/acme/iam/issues/7/comments",
            "PATCH /repos/acme/iam/pulls/7",
            format!("DELETE /repos/acme/iam/git/refs/heads/{branch}").as_str(),
        ]
    );
}

/// A lifecycle hook that records what it sees.
#[derive(Default, Clone)]
struct Recorder(std::sync::Arc<std::sync::Mutex<Vec<repokid::hooks::LifecycleEvent>>>);

impl repokid::hooks::LifecycleHook for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }
    fn on(&self, e: &repokid::hooks::LifecycleEvent) -> Result<(), repokid::hooks::HookError> {
        self.0.lock().unwrap().push(e.clone());
        Ok(())
    }
}

#[test]
fn schedule_opens_a_labelled_pr_holds_it_pending_and_fires_after_schedule() {
    use repokid::engine::Catalog;
    use repokid::ops::{self, PlanOptions, Workspace};
    use repokid::sources::inventory_file::parse_inventory;
    use repokid::sources::usage_file::{UsageFormat, parse_usage};
    use repokid::store::git::PolicyStore;

    let token = "tok-123"; // the stand-in client's token is also the push token
    let git = common::git_server::GitServer::start(token);
    let (_, url) = git.bare_repo("iam");
    let s = StandIn::new();
    let dir = common::new_repo();
    let settings = format!(
        "[github]\nrepo = \"acme/iam\"\napi-url = \"{}\"\ngit-url = \"{url}\"\nreviewers-from-codeowners = false\nowner-tag = \"none\"\n",
        s.server.uri()
    );
    std::fs::write(dir.path().join("repokid.toml"), settings).unwrap();
    let mut ws =
        Workspace::load(&dir.path().join("repokid.toml"), true, Catalog::embedded()).unwrap();
    let seen = Recorder::default();
    ws.lifecycle_hooks.push(Box::new(seen.clone()));
    let store = PolicyStore::open(dir.path()).unwrap();
    let inventory = parse_inventory(
        "inventory.json",
        &std::fs::read(common::demo_file("inventory.json")).unwrap(),
    )
    .unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    let usage = parse_usage(
        "usage.json",
        &std::fs::read_to_string(common::demo_file("usage.json")).unwrap(),
        UsageFormat::Auto,
        now,
    )
    .unwrap();
    ops::sync(&store, &inventory, &[]).unwrap();
    let opts = PlanOptions {
        grace_days: Some(0),
        ..PlanOptions::default()
    };
    let (report, planned) = ops::plan(&ws, Some(&store), &inventory, &usage, &opts, now).unwrap();

    s.mount(
        Mock::given(method("GET"))
            .and(path("/repos/acme/iam/pulls"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([]))),
    );
    s.mount(
        Mock::given(method("POST"))
            .and(path("/repos/acme/iam/pulls"))
            .and(body_partial_json(json!({"head": "repokid/propose/111122223333", "base": "main"})))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({
                "number": 42, "state": "open", "html_url": "https://github.com/acme/iam/pull/42",
                "head": {"ref": "repokid/propose/111122223333", "sha": "ignored"}, "body": "", "labels": []
            }))),
    );
    s.mount(
        Mock::given(method("POST"))
            .and(path("/repos/acme/iam/issues/42/labels"))
            .and(body_partial_json(
                json!({"labels": ["repokid", "repokid:scheduled"]}),
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([]))),
    );
    s.mount(
        Mock::given(method("POST"))
            .and(body_partial_json(
                json!({"state": "pending", "context": STATUS_CONTEXT}),
            ))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({}))),
    );
    let gh = s.client();
    let done =
        repokid::github::schedule::schedule(&ws, &gh, &store, report, planned, "HEAD", now, 7)
            .unwrap();
    assert!(done.hook_errors.is_empty());
    assert_eq!(done.rows.len(), 1);
    let row = &done.rows[0];
    assert_eq!(
        (row.pull_request, row.not_before),
        (42, now + chrono::Duration::days(7))
    );

    // The PR body opens with the schedule; the pending status is on the pushed proposal commit.
    let requests = s.rt.block_on(s.server.received_requests()).unwrap();
    let create = requests
        .iter()
        .find(|r| r.method.as_str() == "POST" && r.url.path() == "/repos/acme/iam/pulls")
        .unwrap();
    let body: Value = serde_json::from_slice(&create.body).unwrap();
    let text = body["body"].as_str().unwrap();
    assert!(
        text.starts_with("> **Scheduled.** Not to be merged before **2026-11-27 12:00 UTC**"),
        "{text}"
    );
    assert_eq!(
        repokid::github::schedule::not_before(text),
        Some(row.not_before)
    );
    let tip = common::git(dir.path(), &["rev-parse", "repokid/propose/111122223333"]);
    let status = requests
        .iter()
        .find(|r| r.url.path().starts_with("/repos/acme/iam/statuses/"))
        .unwrap();
    assert_eq!(
        status.url.path(),
        format!("/repos/acme/iam/statuses/{}", tip.trim())
    );

    // after-schedule fired once, after the lifecycle events of propose, with the PR and date.
    let events = seen.0.lock().unwrap();
    let last = events.last().unwrap();
    match last {
        repokid::hooks::LifecycleEvent::AfterSchedule {
            account,
            roles,
            pull_request,
            url,
            not_before,
        } => {
            assert_eq!(account, "111122223333");
            assert!(roles.contains(&"orders-api".to_string()), "{roles:?}");
            assert_eq!(*pull_request, 42);
            assert_eq!(url, "https://github.com/acme/iam/pull/42");
            assert_eq!(not_before, &row.not_before.to_rfc3339());
        }
        other => panic!("last event {other:?}"),
    }
    assert!(matches!(
        events[0],
        repokid::hooks::LifecycleEvent::BeforeAccount { .. }
    ));
}
