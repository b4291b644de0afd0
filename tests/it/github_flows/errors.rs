//! Errors and retries of the GitHub client.

use super::*;

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
