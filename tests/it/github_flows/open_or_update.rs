//! `open_or_update`: one pull request per branch, updated, declined or superseded.

use super::*;

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
