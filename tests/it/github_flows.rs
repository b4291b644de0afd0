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

// ---------------------------------------------------------------------------------------------
// open_or_update
// ---------------------------------------------------------------------------------------------

#[test]
fn opens_a_pull_request_with_labels_and_reviewers_when_the_branch_has_none() {
    let api = Api::start();
    api.mount(find_mock(json!([])));
    mount_new_pr(&api, &expected_body(), 7);

    let outcome = open_or_update(&api.gh(), &request()).unwrap();

    let PrOutcome::Opened(pr) = &outcome else {
        panic!("expected Opened, got {outcome:?}")
    };
    assert_eq!(pr.number, 7);
    assert_eq!(pr.html_url, "https://github.com/acme/iam/pull/7");
    assert_eq!(api.calls(), new_pr_calls(7));
    let sent = api.body(1);
    assert!(
        sent["body"]
            .as_str()
            .unwrap()
            .ends_with(&format!("{}\n", digest_marker(DIGEST))),
        "{sent}"
    );
    api.verify();
}

#[test]
fn an_open_pull_request_is_updated_never_duplicated() {
    let api = Api::start();
    let old_body = format!("old text\n{}\n", digest_marker("0ld"));
    // Another branch with the same prefix, and an older closed PR from this branch: ignored.
    let mut other = pr_json(12, "open", false, "", &[]);
    other["head"]["ref"] = json!(format!("{BRANCH}-old"));
    api.mount(find_mock(json!([
        other,
        pr_json(3, "closed", false, &old_body, &[]),
        pr_json(9, "open", false, &old_body, &["repokid"]),
    ])));
    api.mount(
        Mock::given(method("PATCH"))
            .and(path(format!("{PULLS}/9")))
            .and(body_json(json!({"title": TITLE, "body": expected_body()})))
            .respond_with(ResponseTemplate::new(200).set_body_json(pr_json(
                9,
                "open",
                false,
                &expected_body(),
                &["repokid"],
            )))
            .expect(1),
    );
    // Only the missing label.
    api.mount(labels_mock(9, &["least-privilege"]));

    let outcome = open_or_update(&api.gh(), &request()).unwrap();

    let PrOutcome::Updated(pr) = &outcome else {
        panic!("expected Updated, got {outcome:?}")
    };
    assert_eq!(pr.number, 9);
    assert_eq!(pr.body, expected_body());
    assert_eq!(
        api.calls(),
        [
            FIND.to_string(),
            format!("PATCH {PULLS}/9"),
            "POST /repos/acme/iam/issues/9/labels".to_string(),
        ]
    );
    api.verify();

    // All labels already there: the update alone.
    api.reset();
    api.mount(find_mock(json!([pr_json(
        9,
        "open",
        false,
        &old_body,
        &["least-privilege", "repokid"]
    )])));
    api.mount(
        Mock::given(method("PATCH"))
            .and(path(format!("{PULLS}/9")))
            .and(body_json(json!({"title": TITLE, "body": expected_body()})))
            .respond_with(ResponseTemplate::new(200).set_body_json(pr_json(
                9,
                "open",
                false,
                &expected_body(),
                &["least-privilege", "repokid"],
            )))
            .expect(1),
    );
    let outcome = open_or_update(&api.gh(), &request()).unwrap();
    assert!(matches!(outcome, PrOutcome::Updated(ref p) if p.number == 9));
    assert_eq!(api.calls(), [FIND.to_string(), format!("PATCH {PULLS}/9")]);
    api.verify();
}

#[test]
fn the_same_proposal_closed_without_merging_is_declined_untouched() {
    let api = Api::start();
    let closed_body = format!("what a reviewer saw\n{}\n", digest_marker(DIGEST));
    api.mount(find_mock(json!([pr_json(
        5,
        "closed",
        false,
        &closed_body,
        &["repokid"]
    )])));

    let outcome = open_or_update(&api.gh(), &request()).unwrap();

    let PrOutcome::Declined(pr) = &outcome else {
        panic!("expected Declined, got {outcome:?}")
    };
    assert_eq!(pr.number, 5);
    assert_eq!(api.calls(), [FIND]);
    api.verify();
}

#[test]
fn a_different_proposal_after_a_close_opens_a_pr_that_supersedes_it() {
    let api = Api::start();
    let closed_body = format!("older proposal\n{}\n", digest_marker("a-different-tree"));
    api.mount(find_mock(json!([pr_json(
        5,
        "closed",
        false,
        &closed_body,
        &["repokid"]
    )])));
    let body = format!(
        "{}\n\nSupersedes #5 (closed without merging).\n{}\n",
        BODY.trim_end(),
        digest_marker(DIGEST)
    );
    mount_new_pr(&api, &body, 8);

    let outcome = open_or_update(&api.gh(), &request()).unwrap();

    let PrOutcome::Opened(pr) = &outcome else {
        panic!("expected Opened, got {outcome:?}")
    };
    assert_eq!(pr.number, 8);
    assert_eq!(api.calls(), new_pr_calls(8));
    let sent = api.body(1)["body"].as_str().unwrap().to_string();
    assert!(sent.contains("Supersedes #5"), "{sent}");
    assert!(
        sent.ends_with(&format!("{}\n", digest_marker(DIGEST))),
        "{sent}"
    );
    api.verify();
}

#[test]
fn after_a_merge_the_next_proposal_is_a_new_pull_request() {
    let api = Api::start();
    // Merged (closed, merged_at set), even with the same digest: new work, a new PR.
    let merged_body = format!("merged proposal\n{}\n", digest_marker(DIGEST));
    api.mount(find_mock(json!([pr_json(
        4,
        "closed",
        true,
        &merged_body,
        &["repokid"]
    )])));
    mount_new_pr(&api, &expected_body(), 11);

    let outcome = open_or_update(&api.gh(), &request()).unwrap();

    assert!(
        matches!(outcome, PrOutcome::Opened(ref p) if p.number == 11),
        "{outcome:?}"
    );
    assert_eq!(api.calls(), new_pr_calls(11));
    assert!(
        !api.body(1)["body"].as_str().unwrap().contains("Supersedes"),
        "a merged PR is not superseded"
    );
    api.verify();
}

#[test]
fn reviewers_github_refuses_do_not_fail_the_pull_request() {
    let api = Api::start();
    api.mount(find_mock(json!([])));
    api.mount(create_mock(&expected_body(), 7));
    api.mount(labels_mock(7, &["repokid", "least-privilege"]));
    api.mount(
        Mock::given(method("POST"))
            .and(path("/repos/acme/iam/pulls/7/requested_reviewers"))
            .respond_with(ResponseTemplate::new(422).set_body_json(json!({
                "message": "Reviews may only be requested from collaborators."
            })))
            .expect(1),
    );
    let outcome = open_or_update(&api.gh(), &request()).unwrap();
    assert!(matches!(outcome, PrOutcome::Opened(ref p) if p.number == 7));
    assert_eq!(api.calls(), new_pr_calls(7));
    api.verify();
}

// ---------------------------------------------------------------------------------------------
// Errors and retries
// ---------------------------------------------------------------------------------------------

/// The error names the call and the status, says `needle`, and never shows the token.
fn check_error(e: &GitHubError, call: &str, status: u16, needle: &str) {
    let shown = e.to_string();
    assert!(shown.contains(call), "{shown:?} does not name {call:?}");
    assert!(
        shown.contains(&format!("HTTP {status}")),
        "{shown:?} lacks the status"
    );
    assert_eq!(e.status, Some(status));
    assert!(shown.contains(needle), "{shown:?} does not say {needle:?}");
    assert!(!shown.contains(TOKEN), "token leaked: {shown}");
    assert!(
        !format!("{e:?}").contains(TOKEN),
        "token leaked in Debug: {e:?}"
    );
}

fn create(gh: &GitHub) -> Result<repokid::github::client::PullRequest, GitHubError> {
    gh.create_pr(BRANCH, "main", TITLE, &expected_body())
}

fn json_response(status: u16, v: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(v)
}

#[test]
fn unauthorized_is_not_retried_and_blames_the_token() {
    let api = Api::start();
    api.mount(
        Mock::given(method("GET"))
            .and(path(PULLS))
            .respond_with(json_response(
                401,
                json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}),
            ))
            .expect(1),
    );
    let e = api.gh().find_pr(BRANCH).unwrap_err();
    check_error(&e, FIND, 401, "Bad credentials");
    check_error(
        &e,
        "GET /repos/acme/iam/pulls",
        401,
        "token is missing, expired or revoked",
    );
    assert_eq!(api.calls().len(), 1);
    api.verify();
}

#[test]
fn forbidden_without_rate_limit_headers_is_a_permission_error_not_retried() {
    let api = Api::start();
    api.mount(
        Mock::given(method("POST"))
            .and(path(PULLS))
            .respond_with(json_response(
                403,
                json!({"message": "Resource not accessible by integration"}),
            ))
            .expect(1),
    );
    let e = create(&api.gh()).unwrap_err();
    check_error(
        &e,
        "POST /repos/acme/iam/pulls",
        403,
        "Resource not accessible by integration",
    );
    check_error(&e, "POST /repos/acme/iam/pulls", 403, "lacks a permission");
    assert_eq!(api.calls().len(), 1);
    api.verify();
}

#[test]
fn not_found_hints_at_the_repository() {
    let api = Api::start();
    api.mount(
        Mock::given(method("GET"))
            .and(path(format!("{PULLS}/3")))
            .respond_with(json_response(404, json!({"message": "Not Found"})))
            .expect(1),
    );
    let e = api.gh().get_pr(3).unwrap_err();
    check_error(&e, "GET /repos/acme/iam/pulls/3", 404, "Not Found");
    check_error(&e, "GET /repos/acme/iam/pulls/3", 404, "no such repository");
    assert_eq!(api.calls().len(), 1);
    api.verify();
}

#[test]
fn validation_failure_on_create_surfaces_githubs_messages() {
    let api = Api::start();
    api.mount(
        Mock::given(method("POST"))
            .and(path(PULLS))
            .respond_with(json_response(
                422,
                json!({
                    "message": "Validation Failed",
                    "errors": [{
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": "No commits between main and repokid/propose/111122223333"
                    }],
                    "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
                    "status": "422"
                }),
            ))
            .expect(1),
    );
    let e = create(&api.gh()).unwrap_err();
    check_error(&e, "POST /repos/acme/iam/pulls", 422, "Validation Failed");
    check_error(
        &e,
        "POST /repos/acme/iam/pulls",
        422,
        "GitHub rejected the request",
    );
    // The reason is in `errors[].message`: without it "Validation Failed" is not actionable.
    check_error(
        &e,
        "POST /repos/acme/iam/pulls",
        422,
        "No commits between main and repokid/propose/111122223333",
    );
    assert_eq!(api.calls().len(), 1);
    api.verify();
}

#[test]
fn server_errors_are_retried_until_github_answers() {
    let api = Api::start();
    api.mount(
        Mock::given(method("POST"))
            .and(path(PULLS))
            .respond_with(json_response(500, json!({"message": "Server Error"})))
            .up_to_n_times(2)
            .with_priority(1)
            .expect(2),
    );
    api.mount(create_mock(&expected_body(), 21));
    let pr = create(&api.gh()).unwrap();
    assert_eq!(pr.number, 21);
    assert_eq!(api.calls(), vec![format!("POST {PULLS}"); 3]);
    // Each retry sends the same request again.
    for i in 0..3 {
        assert_eq!(api.body(i), api.body(0));
    }
    api.verify();
}

#[test]
fn a_429_is_retried_after_the_seconds_github_asks() {
    let api = Api::start();
    api.mount(
        Mock::given(method("GET"))
            .and(path(format!("{PULLS}/3")))
            .respond_with(
                json_response(429, json!({"message": "Too Many Requests"}))
                    .insert_header("retry-after", "1"),
            )
            .up_to_n_times(1)
            .with_priority(1)
            .expect(1),
    );
    api.mount(
        Mock::given(method("GET"))
            .and(path(format!("{PULLS}/3")))
            .respond_with(json_response(200, pr_json(3, "open", false, "", &[])))
            .expect(1),
    );
    let mut gh = api.gh();
    gh.retry_scale = 1.0; // real waits: this test checks the wait
    let started = Instant::now();
    let pr = gh.get_pr(3).unwrap();
    let took = started.elapsed();
    assert_eq!(pr.number, 3);
    assert!(
        took >= Duration::from_millis(950),
        "retried too soon: {took:?}"
    );
    assert!(took < Duration::from_secs(4), "waited too long: {took:?}");
    assert_eq!(api.calls().len(), 2);
    api.verify();
}

#[test]
fn a_secondary_rate_limit_403_with_retry_after_is_retried() {
    let api = Api::start();
    api.mount(
        Mock::given(method("POST"))
            .and(path(PULLS))
            .respond_with(
                json_response(
                    403,
                    json!({"message": "You have exceeded a secondary rate limit."}),
                )
                .insert_header("retry-after", "1"),
            )
            .up_to_n_times(1)
            .with_priority(1)
            .expect(1),
    );
    api.mount(create_mock(&expected_body(), 22));
    let pr = create(&api.gh()).unwrap();
    assert_eq!(pr.number, 22);
    assert_eq!(api.calls().len(), 2);
    api.verify();
}

#[test]
fn an_exhausted_rate_limit_whose_reset_has_passed_is_retried_promptly() {
    let api = Api::start();
    let past = (chrono::Utc::now().timestamp() - 30).to_string();
    api.mount(
        Mock::given(method("GET"))
            .and(path(format!("{PULLS}/3")))
            .respond_with(
                json_response(403, json!({"message": "API rate limit exceeded"}))
                    .insert_header("x-ratelimit-remaining", "0")
                    .insert_header("x-ratelimit-reset", past.as_str()),
            )
            .up_to_n_times(1)
            .with_priority(1)
            .expect(1),
    );
    api.mount(
        Mock::given(method("GET"))
            .and(path(format!("{PULLS}/3")))
            .respond_with(json_response(200, pr_json(3, "open", false, "", &[])))
            .expect(1),
    );
    let mut gh = api.gh();
    gh.retry_scale = 1.0; // a reset in the past must not turn into a long (or negative) wait
    let started = Instant::now();
    assert_eq!(gh.get_pr(3).unwrap().number, 3);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "waited {took:?}");
    assert_eq!(api.calls().len(), 2);
    api.verify();
}

#[test]
fn a_rate_limit_reset_beyond_the_budget_fails_at_once() {
    let api = Api::start();
    let later = (chrono::Utc::now().timestamp() + 3000).to_string();
    api.mount(
        Mock::given(method("GET"))
            .and(path(format!("{PULLS}/3")))
            .respond_with(
                json_response(403, json!({"message": "API rate limit exceeded"}))
                    .insert_header("x-ratelimit-remaining", "0")
                    .insert_header("x-ratelimit-reset", later.as_str()),
            )
            .expect(1),
    );
    let mut gh = api.gh();
    gh.retry_scale = 1.0;
    let started = Instant::now();
    let e = gh.get_pr(3).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));
    check_error(&e, "GET /repos/acme/iam/pulls/3", 403, "rate limit");
    check_error(&e, "GET /repos/acme/iam/pulls/3", 403, "retry budget spent");
    assert_eq!(api.calls().len(), 1);
    api.verify();
}

#[test]
fn a_persistent_bad_gateway_fails_after_the_attempt_limit() {
    let api = Api::start();
    api.mount(
        Mock::given(method("PATCH"))
            .and(path(format!("{PULLS}/9")))
            .respond_with(
                ResponseTemplate::new(502)
                    .set_body_string("<html><h1>502 Bad Gateway</h1></html>")
                    .insert_header("content-type", "text/html"),
            )
            .expect(4),
    );
    let e = api.gh().update_pr(9, TITLE, &expected_body()).unwrap_err();
    check_error(&e, "PATCH /repos/acme/iam/pulls/9", 502, "Bad Gateway");
    assert_eq!(api.calls().len(), 4);
    api.verify();
}

// ---------------------------------------------------------------------------------------------
// Permissions and approvals
// ---------------------------------------------------------------------------------------------

#[test]
fn permission_prefers_role_name_and_maps_404_to_none() {
    let api = Api::start();
    let perm = |user: &str, v: Value, status: u16| {
        Mock::given(method("GET"))
            .and(path(format!(
                "/repos/acme/iam/collaborators/{user}/permission"
            )))
            .respond_with(json_response(status, v))
            .expect(1)
    };
    api.mount(perm(
        "alice",
        json!({"permission": "write", "role_name": "maintain", "user": {"login": "alice"}}),
        200,
    ));
    api.mount(perm(
        "bob",
        json!({"permission": "read", "user": {"login": "bob"}}),
        200,
    ));
    api.mount(perm("mallory", json!({"message": "Not Found"}), 404));
    let gh = api.gh();
    assert_eq!(gh.permission("alice").unwrap(), "maintain");
    assert_eq!(gh.permission("bob").unwrap(), "read");
    assert_eq!(gh.permission("mallory").unwrap(), "none");
    assert_eq!(api.calls().len(), 3);
    api.verify();
}

#[test]
fn approval_counts_each_reviewers_latest_review() {
    let api = Api::start();
    let review = |user: &str, state: &str| json!({"user": {"login": user}, "state": state});
    let cases = [
        (
            1,
            vec![
                review("alice", "APPROVED"),
                review("alice", "CHANGES_REQUESTED"),
            ],
            false,
        ),
        (
            2,
            vec![review("alice", "APPROVED"), review("bob", "COMMENTED")],
            true,
        ),
        (
            3,
            vec![
                review("alice", "CHANGES_REQUESTED"),
                review("alice", "COMMENTED"),
                review("alice", "APPROVED"),
            ],
            true,
        ),
        (
            4,
            vec![
                review("bob", "CHANGES_REQUESTED"),
                review("alice", "APPROVED"),
            ],
            false,
        ),
        (
            5,
            vec![
                review("bob", "CHANGES_REQUESTED"),
                review("bob", "DISMISSED"),
                review("alice", "APPROVED"),
            ],
            true,
        ),
        (6, vec![review("bob", "COMMENTED")], false),
        (7, vec![], false),
    ];
    for (n, reviews, _) in &cases {
        api.mount(
            Mock::given(method("GET"))
                .and(path(format!("{PULLS}/{n}/reviews")))
                .and(query_param("per_page", "100"))
                .respond_with(json_response(200, json!(reviews)))
                .expect(1),
        );
    }
    let gh = api.gh();
    for (n, reviews, approved) in &cases {
        assert_eq!(gh.approved(*n).unwrap(), *approved, "PR {n}: {reviews:?}");
    }
    api.verify();
}

// ---------------------------------------------------------------------------------------------
// End to end: `repokid propose --open-pr`
// ---------------------------------------------------------------------------------------------

const ACCOUNT: &str = "111122223333";

/// A policy repository synced from the demo inventory, whose repokid.toml points at a mock
/// GitHub API and at `iam.git` on a git server that wants the token.
struct EndToEnd {
    api: Api,
    git: common::git_server::GitServer,
    bare: std::path::PathBuf,
    repo: tempfile::TempDir,
}

impl EndToEnd {
    fn setup() -> EndToEnd {
        let git = common::git_server::GitServer::start(TOKEN);
        let (bare, url) = git.bare_repo("iam");
        let api = Api::start();
        let repo = common::new_repo();
        let dir = repo.path();
        std::fs::write(
            dir.join("repokid.toml"),
            format!(
                "[github]\nrepo = \"acme/iam\"\napi-url = \"{}\"\ngit-url = \"{url}\"\n",
                api.server.uri()
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("CODEOWNERS"),
            format!("/policies/{ACCOUNT}/ @alice @acme/payments\n"),
        )
        .unwrap();
        common::git(dir, &["add", "repokid.toml", "CODEOWNERS"]);
        common::git(dir, &["commit", "-q", "-m", "repokid settings and owners"]);
        let inv = common::demo_file("inventory.json");
        let (code, _, err) = common::repokid(dir, &["sync", "--inventory", inv.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        EndToEnd {
            api,
            git,
            bare,
            repo,
        }
    }

    fn dir(&self) -> &std::path::Path {
        self.repo.path()
    }

    /// `repokid propose --open-pr --format json` on the demo data, with the token in the
    /// environment.
    fn propose(&self) -> (i32, String, String) {
        let inv = common::demo_file("inventory.json");
        let usage = common::demo_file("usage.json");
        common::repokid_env(
            self.dir(),
            &[
                "propose",
                "--open-pr",
                "--format",
                "json",
                "--grace-days",
                "0",
                "--inventory",
                inv.to_str().unwrap(),
                "--usage",
                usage.to_str().unwrap(),
                "--now",
                common::NOW,
            ],
            &[
                ("GITHUB_TOKEN", TOKEN.to_string()),
                ("GH_TOKEN", String::new()),
            ],
        )
    }

    /// The proposal branch's commit on the git server.
    fn pushed(&self) -> String {
        common::git(
            self.dir(),
            &[
                "--git-dir",
                self.bare.to_str().unwrap(),
                "rev-parse",
                &format!("refs/heads/{BRANCH}"),
            ],
        )
        .trim()
        .to_string()
    }

    /// Pushes (`git-receive-pack` POSTs) the git server received.
    fn pushes(&self) -> usize {
        self.git
            .requests("iam")
            .iter()
            .filter(|r| r["method"] == "POST" && r["path"] == "/iam.git/git-receive-pack")
            .count()
    }

    /// The first run's mocks: no PR yet; create #42, its labels and reviewers.
    fn mount_first_run(&self) {
        self.api.mount(find_mock(json!([])));
        self.api.mount(
            Mock::given(method("POST"))
                .and(path(PULLS))
                .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
                .respond_with(json_response(201, pr_json(42, "open", false, "", &[])))
                .expect(1),
        );
        self.api.mount(labels_mock(42, &["repokid"]));
        self.api.mount(
            Mock::given(method("POST"))
                .and(path("/repos/acme/iam/pulls/42/requested_reviewers"))
                .respond_with(json_response(201, pr_json(42, "open", false, "", &[])))
                .expect(1),
        );
    }

    /// The token appears in none of `texts`, the repository's config, or the git server's log.
    fn assert_no_token(&self, texts: &[(&str, &str)]) {
        let config = std::fs::read_to_string(self.dir().join(".git/config")).unwrap();
        let log = self.git.log_text();
        let stderr = self.git.stderr_text();
        let mut all = texts.to_vec();
        all.extend([
            (".git/config", config.as_str()),
            ("git server log", log.as_str()),
            ("git server stderr", stderr.as_str()),
        ]);
        for (what, text) in all {
            assert!(!text.contains(TOKEN), "token in {what}:\n{text}");
        }
    }
}

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

/// A proposal without its (long) body, for assertion messages.
fn brief(p: &Value) -> Value {
    json!({
        "branch": p["branch"],
        "commit": p["commit"],
        "title": p["title"],
        "pull_request": p["pull_request"],
        "hook_errors": p["hook_errors"],
    })
}

#[test]
fn propose_open_pr_pushes_the_branch_and_opens_then_updates_its_pull_request() {
    let e = EndToEnd::setup();
    let dir = e.dir();

    // First run: no PR for the branch.
    e.mount_first_run();
    let (code, out1, err1) = e.propose();
    assert_eq!(code, 0, "stdout:\n{out1}\nstderr:\n{err1}");
    let p = proposal(&out1);
    assert_eq!(p["pull_request"]["number"], 42, "{}", brief(&p));
    assert_eq!(p["pull_request"]["outcome"], "opened", "{}", brief(&p));
    assert_eq!(
        p["pull_request"]["url"],
        "https://github.com/acme/iam/pull/42"
    );
    assert_eq!(p["branch"], BRANCH);

    // The branch is on the server, at the proposal commit.
    let commit = p["commit"].as_str().unwrap().to_string();
    assert_eq!(common::git(dir, &["rev-parse", BRANCH]).trim(), commit);
    assert_eq!(e.pushed(), commit);
    assert_eq!(e.pushes(), 1);

    // GitHub saw the proposal's title and body, with the digest of the account's files.
    assert_eq!(e.api.calls(), new_pr_calls(42));
    let digest = common::git(dir, &["rev-parse", &format!("{BRANCH}:policies/{ACCOUNT}")]);
    let body = p["body"].as_str().unwrap();
    assert_eq!(
        e.api.body(1),
        json!({
            "title": p["title"],
            "head": BRANCH,
            "base": "main",
            "body": format!("{}\n{}\n", body.trim_end(), digest_marker(digest.trim())),
            "draft": false,
        })
    );
    // Reviewers: the CODEOWNERS of policies/111122223333/ (and owner tags of changed roles).
    let reviewers = e.api.body(3);
    assert_eq!(
        reviewers["team_reviewers"],
        json!(["payments"]),
        "{reviewers}"
    );
    let users: Vec<&str> = reviewers["reviewers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    assert!(users.contains(&"alice"), "{reviewers}");
    assert!(
        users.iter().all(|u| ["alice", "platform"].contains(u)),
        "{reviewers}"
    );
    e.api.verify();

    // As in CI, the next run starts from a fresh checkout of a newer main: the branch is built
    // again from the new base, so its commit does not descend from the pushed one (force).
    common::git(dir, &["branch", "-D", BRANCH]);
    std::fs::write(dir.join("README.md"), "IAM policies\n").unwrap();
    common::git(dir, &["add", "README.md"]);
    common::git(dir, &["commit", "-q", "-m", "readme"]);

    // Second run: the PR is open, it is updated.
    e.api.reset();
    e.api.mount(find_mock(json!([pr_json(
        42,
        "open",
        false,
        "earlier body",
        &["repokid"]
    )])));
    e.api.mount(
        Mock::given(method("PATCH"))
            .and(path(format!("{PULLS}/42")))
            .respond_with(json_response(
                200,
                pr_json(42, "open", false, "", &["repokid"]),
            ))
            .expect(1),
    );
    let (code, out2, err2) = e.propose();
    assert_eq!(code, 0, "stdout:\n{out2}\nstderr:\n{err2}");
    let p2 = proposal(&out2);
    assert_eq!(p2["pull_request"]["number"], 42, "{}", brief(&p2));
    assert_eq!(p2["pull_request"]["outcome"], "updated", "{}", brief(&p2));
    let commit2 = p2["commit"].as_str().unwrap().to_string();
    assert_ne!(commit2, commit);
    let base = common::git(dir, &["rev-parse", "main"]);
    assert_eq!(
        common::git(dir, &["rev-parse", &format!("{commit2}^")]),
        base,
        "the branch was not rebuilt on the new main"
    );
    assert_eq!(
        e.pushed(),
        commit2,
        "the rebuilt branch was not force-pushed"
    );
    assert_eq!(e.pushes(), 2);
    assert_eq!(
        e.api.calls(),
        [FIND.to_string(), format!("PATCH {PULLS}/42")]
    );
    assert_eq!(e.api.body(1)["title"], p2["title"]);
    assert!(
        e.api.body(1)["body"]
            .as_str()
            .unwrap()
            .ends_with(&format!("{}\n", digest_marker(digest.trim()))),
        "same files, same digest"
    );
    e.api.verify();

    e.assert_no_token(&[
        ("first stdout", &out1),
        ("first stderr", &err1),
        ("second stdout", &out2),
        ("second stderr", &err2),
    ]);
}

#[test]
fn a_pull_request_that_failed_to_open_is_opened_by_the_next_run() {
    let e = EndToEnd::setup();

    // First run: the branch is committed and pushed, then GitHub refuses the pull request.
    e.api.mount(find_mock(json!([])));
    e.api.mount(
        Mock::given(method("POST"))
            .and(path(PULLS))
            .respond_with(json_response(
                403,
                json!({"message": "Resource not accessible by integration"}),
            ))
            .expect(1),
    );
    let (code, out1, err1) = e.propose();
    assert_ne!(code, 0, "stdout:\n{out1}\nstderr:\n{err1}");
    assert!(
        err1.contains("POST /repos/acme/iam/pulls") && err1.contains("HTTP 403"),
        "{err1}"
    );
    let commit = common::git(e.dir(), &["rev-parse", BRANCH])
        .trim()
        .to_string();
    assert_eq!(e.pushed(), commit);
    e.api.verify();

    // The token is fixed; the same proposal, run again, must still get its pull request.
    e.api.reset();
    e.mount_first_run();
    let (code, out2, err2) = e.propose();
    assert_eq!(code, 0, "stdout:\n{out2}\nstderr:\n{err2}");
    let p = proposal(&out2);
    assert_eq!(
        p["pull_request"]["outcome"],
        "opened",
        "the second run did not open the pull request: {}\nGitHub saw: {:?}",
        brief(&p),
        e.api.calls()
    );
    assert_eq!(p["pull_request"]["number"], 42);
    assert_eq!(e.pushed(), commit);
    e.api.verify();
    e.assert_no_token(&[
        ("first stdout", &out1),
        ("first stderr", &err1),
        ("second stdout", &out2),
        ("second stderr", &err2),
    ]);
}
