//! Who may not command: readers, triage and non-collaborators are refused once.

use super::*;

#[test]
fn a_reader_is_refused_once_and_nothing_else_happens() {
    let w = World::new(Some("http://127.0.0.1:9/never.git"));
    w.api.mount(permission_mock("bob", "read"));
    let refusal = "Sorry @bob, only people with write access to acme/iam can run repokid commands.";
    w.api.mount(
        Mock::given(method("POST"))
            .and(path(COMMENTS))
            .and(body_json(json!({ "body": refusal })))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 1})))
            .expect(1),
    );
    let head = git(w.path(), &["rev-parse", "HEAD"]);
    let branches = w.branches();

    let body = format!(
        "please\n/repokid show {ACCOUNT} {ROLE}\n/repokid opt-out {ACCOUNT} {ROLE} --reason \"x\""
    );
    let replies = w.run(&event("created", "bob", "User", &body)).unwrap();

    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(replies[0].outcome, Outcome::Refused);
    assert!(replies[0].posted);
    assert_eq!(replies[0].body, refusal);
    assert_eq!(
        replies[0].command,
        format!("/repokid show {ACCOUNT} {ROLE}\n/repokid opt-out {ACCOUNT} {ROLE} --reason \"x\"")
    );
    assert_eq!(
        w.api.calls(),
        [perm_call("bob"), format!("POST {COMMENTS}")]
    );
    assert_eq!(git(w.path(), &["rev-parse", "HEAD"]), head);
    assert_eq!(w.branches(), branches, "no branch was made");
    w.api.verify();
}

#[test]
fn triage_and_non_collaborators_are_refused_too() {
    for (perm, status) in [("triage", 200), ("none", 404)] {
        let w = World::new(None);
        if status == 404 {
            w.api.mount(
                Mock::given(method("GET"))
                    .and(path("/repos/acme/iam/collaborators/eve/permission"))
                    .respond_with(
                        ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})),
                    )
                    .expect(1),
            );
        } else {
            w.api.mount(permission_mock("eve", perm));
        }
        w.api.mount(comment_mock(1));
        let replies = w
            .run(&event("created", "eve", "User", "/repokid help"))
            .unwrap();
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0].outcome, Outcome::Refused, "{perm}");
        assert_eq!(
            w.api.calls(),
            [perm_call("eve"), format!("POST {COMMENTS}")]
        );
        w.api.verify();
    }
}
