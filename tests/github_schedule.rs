//! Scheduling against an in-process GitHub stand-in (wiremock) that checks the exact requests:
//! statuses kept pending until the date, due pull requests merged only when approved and
//! mergeable, cancellation.

#![allow(clippy::unwrap_used)]

use chrono::{TimeZone, Utc};
use repokid::github::client::GitHub;
use repokid::github::schedule::{
    MergeOutcome, STATUS_CONTEXT, cancel, repo_scheduled, schedule_note,
};
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
    json!({
        "number": number, "state": "open", "html_url": format!("https://github.com/acme/iam/pull/{number}"),
        "head": {"ref": branch, "sha": format!("sha{number}")},
        "body": format!("{}## Least-privilege proposal", schedule_note(not_before)),
        "labels": [{"name": "repokid"}, {"name": "repokid:scheduled"}],
        "mergeable": true,
    })
}

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

#[test]
fn due_approved_mergeable_prs_are_merged_and_the_others_wait() {
    let s = StandIn::new();
    let due = now() - chrono::Duration::days(1);
    let later = now() + chrono::Duration::days(3);
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
                pr(1, "repokid/propose/111122223333", due),
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
            .respond_with(ResponseTemplate::new(200).set_body_json(pr(
                1,
                "repokid/propose/111122223333",
                due,
            ))),
    );
    for sha in ["sha1", "sha3"] {
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
                json!({"sha": "sha1", "merge_method": "merge"}),
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"merged": true}))),
    );

    let gh = s.client();
    // A dry run merges nothing.
    let dry = repo_scheduled(&gh, "repokid/propose", now(), false).unwrap();
    let outcomes: Vec<(u64, MergeOutcome)> =
        dry.iter().map(|(p, o)| (p.number, o.clone())).collect();
    assert_eq!(
        outcomes,
        vec![
            (1, MergeOutcome::WouldMerge),
            (2, MergeOutcome::Waiting { until: later }),
            (3, MergeOutcome::NotApproved),
        ]
    );
    assert!(!s.requests().iter().any(|r| r.starts_with("PUT")));

    let done = repo_scheduled(&gh, "repokid/propose", now(), true).unwrap();
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
    }
}

#[test]
fn a_due_pr_that_github_cannot_merge_is_reported_not_forced() {
    let s = StandIn::new();
    let due = now() - chrono::Duration::hours(1);
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
    let out = repo_scheduled(&s.client(), "repokid/propose", now(), true).unwrap();
    assert_eq!(out[0].1, MergeOutcome::NotMergeable);
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
