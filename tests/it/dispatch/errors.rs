//! Usage, ignored comments, bad payloads and replies that cannot be posted.

use super::*;

#[test]
fn unknown_commands_and_bad_arguments_get_the_usage() {
    let w = World::new(None);
    w.api.mount(permission_mock("alice", "write"));
    w.api.mount(comment_mock(3));
    let replies = w
        .run(&event(
            "created",
            "alice",
            "User",
            &format!(
                "/repokid frobnicate {ACCOUNT}\n/repokid opt-out {ACCOUNT} {ROLE}\n/repokid help"
            ),
        ))
        .unwrap();
    assert_eq!(replies.len(), 3);
    assert!(
        replies
            .iter()
            .all(|r| r.outcome == Outcome::Usage && r.posted)
    );
    assert!(
        replies[0]
            .body
            .contains("Sorry @alice, I did not understand that: unknown command \"frobnicate\"."),
        "{}",
        replies[0].body
    );
    assert!(replies[1].body.contains("--reason"), "{}", replies[1].body);
    for r in &replies {
        assert!(r.body.contains(USAGE), "{}", r.body);
        // A reply never contains a command line of its own (no loops, even as a human).
        assert!(
            repokid::github::dispatch::command_lines(&r.body).is_empty(),
            "{}",
            r.body
        );
    }
    assert_eq!(w.api.comments().len(), 3);
    assert_eq!(
        w.api.calls(),
        [
            perm_call("alice"),
            format!("POST {COMMENTS}"),
            format!("POST {COMMENTS}"),
            format!("POST {COMMENTS}"),
        ]
    );
    w.api.verify();
}

#[test]
fn bots_edits_and_comments_without_commands_make_no_request() {
    let w = World::new(None);
    let cmd = format!("/repokid show {ACCOUNT} {ROLE}");
    for e in [
        event("created", "github-actions[bot]", "Bot", &cmd),
        event("edited", "alice", "User", &cmd),
        event("deleted", "alice", "User", &cmd),
        event(
            "created",
            "alice",
            "User",
            "LGTM, will /repokid later\n> /repokid show x y",
        ),
        event("created", "alice", "User", &format!("```\n{cmd}\n```")),
    ] {
        assert!(w.run(&e).unwrap().is_empty(), "{e}");
    }
    assert!(w.api.calls().is_empty(), "{:?}", w.api.calls());
}

#[test]
fn another_repository_or_a_bad_payload_is_an_error_without_requests() {
    let w = World::new(None);
    let mut e = event("created", "alice", "User", "/repokid help");
    e["repository"]["full_name"] = json!("evil/iam");
    let err = w.run(&e).unwrap_err();
    assert!(
        matches!(err, DispatchError::WrongRepository { .. }),
        "{err}"
    );
    let mut e = event("created", "alice", "User", "/repokid help");
    e["issue"] = Value::Null;
    let err = w.run(&e).unwrap_err();
    assert!(err.to_string().contains("issue.number"), "{err}");
    assert!(w.api.calls().is_empty());
}

#[test]
fn a_reply_that_cannot_be_posted_is_reported() {
    let w = World::new(None);
    w.api.mount(permission_mock("alice", "write"));
    w.api.mount(
        Mock::given(method("POST"))
            .and(path(COMMENTS))
            .respond_with(
                ResponseTemplate::new(403)
                    .set_body_json(json!({"message": "Resource not accessible by integration"})),
            )
            .expect(1),
    );
    let replies = w
        .run(&event("created", "alice", "User", "/repokid help"))
        .unwrap();
    assert_eq!(replies.len(), 1);
    assert!(!replies[0].posted);
    let why = replies[0].post_error.as_deref().unwrap();
    assert!(
        why.contains("HTTP 403") && why.contains("not accessible"),
        "{why}"
    );
    w.api.verify();
}
