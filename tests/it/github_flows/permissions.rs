//! Permissions and approvals.

use super::*;

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
