#![allow(clippy::unwrap_used)]
//! The GitHub side of `repokid propose --open-pr`, against an in-process wiremock server that
//! checks the exact requests: opening, updating, declining and superseding pull requests
//! (`repokid::github::review::open_or_update`), the client's error handling and retries
//! (`repokid::github::client::GitHub::send`), permissions and approvals, and the whole flow
//! through the binary with a real push to `git http-backend` (tests/servers/git_http_server.py).
//!
//! The GitHub client owns its own tokio runtime and blocks on it, so the library is called from
//! the plain test thread; each test owns a separate runtime only to start and program the mock
//! server (whose server loop runs on its own thread).

use crate::common;

use std::time::{Duration, Instant};

use repokid::github::client::{GitHub, GitHubError};
use repokid::github::review::{PrOutcome, PrRequest, digest_marker, open_or_update};
use repokid::settings::GitHubSettings;
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

// One module per concern; this file keeps what several of them share.
mod end_to_end;
mod errors;
mod open_or_update;
mod permissions;

/// A token distinctive enough that finding it anywhere is a leak.
const TOKEN: &str = "ghp_GhFl0wsUn1queT0ken_zq7Xk2Vw9";
const BRANCH: &str = "repokid/propose/111122223333";
const PULLS: &str = "/repos/acme/iam/pulls";
/// find_pr's request, as sent (the branch percent-encoded).
const FIND: &str =
    "GET /repos/acme/iam/pulls?state=all&head=acme:repokid%2Fpropose%2F111122223333&per_page=10";
const TITLE: &str = "repokid: remove unused permissions in 111122223333";
const BODY: &str = "Removes 12 unused actions from 3 roles.\n\n| role | removed |\n|---|---|\n";
const DIGEST: &str = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

/// A mock GitHub API, programmed from the test thread.
struct Api {
    rt: tokio::runtime::Runtime,
    server: MockServer,
}

impl Api {
    fn start() -> Api {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let server = rt.block_on(MockServer::start());
        Api { rt, server }
    }

    fn mount(&self, mock: Mock) {
        self.rt.block_on(mock.mount(&self.server));
    }

    fn settings(&self) -> GitHubSettings {
        GitHubSettings {
            repo: Some("acme/iam".into()),
            api_url: self.server.uri(),
            ..Default::default()
        }
    }

    /// A client with the test token and no waits between retries.
    fn gh(&self) -> GitHub {
        let mut gh = GitHub::connect(
            &self.settings(),
            std::path::Path::new("."),
            Some(TOKEN.into()),
        )
        .unwrap();
        gh.retry_scale = 0.0;
        gh
    }

    fn requests(&self) -> Vec<Request> {
        self.rt
            .block_on(self.server.received_requests())
            .unwrap_or_default()
    }

    /// The requests received, as `METHOD /path?query`.
    fn calls(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| {
                let q = r.url.query().map(|q| format!("?{q}")).unwrap_or_default();
                format!("{} {}{q}", r.method, r.url.path())
            })
            .collect()
    }

    /// The JSON body of the `index`th request.
    fn body(&self, index: usize) -> Value {
        serde_json::from_slice(&self.requests()[index].body).unwrap()
    }

    /// Checks the mocks' `expect`ations and that every request carried the token.
    fn verify(&self) {
        self.rt.block_on(self.server.verify());
        for r in self.requests() {
            assert_eq!(
                r.headers
                    .get("authorization")
                    .map(|v| v.to_str().unwrap().to_string()),
                Some(format!("Bearer {TOKEN}")),
                "{} {}",
                r.method,
                r.url
            );
        }
    }

    fn reset(&self) {
        self.rt.block_on(self.server.reset());
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        // MockServer verifies its expectations when dropped; after a failed assertion that
        // second panic would abort the whole test binary. Forget the mocks instead.
        if std::thread::panicking() {
            self.rt.block_on(self.server.reset());
        }
    }
}

/// A pull request as GitHub returns it (the fields repokid reads, and a few more).
fn pr_json(number: u64, state: &str, merged: bool, body: &str, labels: &[&str]) -> Value {
    json!({
        "number": number,
        "state": state,
        "merged_at": if merged { json!("2026-11-01T10:00:00Z") } else { Value::Null },
        "html_url": format!("https://github.com/acme/iam/pull/{number}"),
        "head": {"ref": BRANCH, "sha": "8f14e45fceea167a5a36dedd4bea2543d1f6d6a4", "label": format!("acme:{BRANCH}")},
        "base": {"ref": "main"},
        "body": body,
        "labels": labels.iter().map(|l| json!({"name": l, "color": "ededed"})).collect::<Vec<_>>(),
        "mergeable": null,
    })
}

fn request() -> PrRequest {
    PrRequest {
        branch: BRANCH.into(),
        base: "main".into(),
        title: TITLE.into(),
        body: BODY.into(),
        labels: vec!["repokid".into(), "least-privilege".into()],
        reviewers: vec![
            "acme/payments".into(),
            "alice".into(),
            "acme/security".into(),
            "bob".into(),
        ],
        digest: DIGEST.into(),
    }
}

/// The body open_or_update sends: the proposal's, then the digest marker.
fn expected_body() -> String {
    format!("{}\n{}\n", BODY.trim_end(), digest_marker(DIGEST))
}

fn find_mock(prs: Value) -> Mock {
    Mock::given(method("GET"))
        .and(path(PULLS))
        .and(query_param("state", "all"))
        .and(query_param("head", format!("acme:{BRANCH}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(prs))
        .expect(1)
}

fn create_mock(body: &str, number: u64) -> Mock {
    Mock::given(method("POST"))
        .and(path(PULLS))
        .and(body_json(json!({
            "title": TITLE,
            "head": BRANCH,
            "base": "main",
            "body": body,
            "draft": false,
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(pr_json(
            number,
            "open",
            false,
            body,
            &[],
        )))
        .expect(1)
}

fn labels_mock(number: u64, labels: &[&str]) -> Mock {
    Mock::given(method("POST"))
        .and(path(format!("/repos/acme/iam/issues/{number}/labels")))
        .and(body_json(json!({ "labels": labels })))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                labels
                    .iter()
                    .map(|l| json!({"name": l}))
                    .collect::<Vec<_>>(),
            ),
        )
        .expect(1)
}

fn reviewers_mock(number: u64, users: &[&str], teams: &[&str]) -> Mock {
    Mock::given(method("POST"))
        .and(path(format!(
            "/repos/acme/iam/pulls/{number}/requested_reviewers"
        )))
        .and(body_json(
            json!({"reviewers": users, "team_reviewers": teams}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(pr_json(
            number,
            "open",
            false,
            "",
            &[],
        )))
        .expect(1)
}

/// Mocks for a new pull request #`number` with `body`: create, labels, reviewers.
fn mount_new_pr(api: &Api, body: &str, number: u64) {
    api.mount(create_mock(body, number));
    api.mount(labels_mock(number, &["repokid", "least-privilege"]));
    api.mount(reviewers_mock(
        number,
        &["alice", "bob"],
        &["payments", "security"],
    ));
}

fn new_pr_calls(number: u64) -> Vec<String> {
    vec![
        FIND.to_string(),
        format!("POST {PULLS}"),
        format!("POST /repos/acme/iam/issues/{number}/labels"),
        format!("POST /repos/acme/iam/pulls/{number}/requested_reviewers"),
    ]
}

fn create(gh: &GitHub) -> Result<repokid::github::client::PullRequest, GitHubError> {
    gh.create_pr(BRANCH, "main", TITLE, &expected_body())
}

fn json_response(status: u16, v: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(v)
}

const ACCOUNT: &str = "111122223333";

/// The proposal of ACCOUNT in `propose --format json` output.
fn proposal(out: &str) -> Value {
    let v: Value = serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"));
    v["proposals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["account"] == ACCOUNT)
        .unwrap_or_else(|| panic!("no proposal for {ACCOUNT}: {out}"))
        .clone()
}
