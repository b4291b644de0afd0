//! `/repokid show`: the recorded role, or that there is none.

use super::*;

#[test]
fn show_replies_with_the_recorded_role() {
    let w = World::new(None);
    w.api.mount(permission_mock("alice", "maintain"));
    w.api.mount(comment_mock(1));

    let replies = w
        .run(&event(
            "created",
            "alice",
            "User",
            &format!("/repokid show {ACCOUNT} ORDERS-API"),
        ))
        .unwrap();

    assert_eq!(
        w.api.calls(),
        [perm_call("alice"), format!("POST {COMMENTS}")]
    );
    assert_eq!(replies.len(), 1);
    let r = &replies[0];
    assert_eq!(r.outcome, Outcome::Done, "{}", r.body);
    assert!(r.posted && r.pull_request.is_none());
    assert_eq!(w.api.comments(), std::slice::from_ref(&r.body));
    let body = &r.body;

    // What the reply says matches the store.
    let policies = w.store.read_role("main", ACCOUNT, ROLE).unwrap().unwrap();
    let perms = analyze(&policies, Catalog::embedded()).all.len();
    let size = repokid::engine::policy::inline_size(&policies);
    let head = git(w.path(), &["rev-parse", "HEAD"]);
    let sync = git(w.path(), &["rev-parse", "HEAD~1"]);
    assert!(
        body.starts_with(&format!("> /repokid show {ACCOUNT} ORDERS-API\n\n")),
        "{body}"
    );
    assert!(
        body.contains(&format!("**`{ROLE}`** in `{ACCOUNT}`")),
        "{body}"
    );
    assert!(body.contains(&format!("**{perms}** permissions")), "{body}");
    assert!(
        body.contains(&format!("inline size **{size}** of 10240")),
        "{body}"
    );
    for name in policies.keys() {
        assert!(body.contains(&format!("| `{name}` |")), "{body}");
    }
    assert!(body.contains("```json\n{"), "{body}");
    assert!(body.contains("**Last changes**"), "{body}");
    assert!(body.contains("| 0 | 2"), "{body}");
    assert!(
        body.contains(&format!("| repo | {} |", &head[..10])),
        "{body}"
    );
    assert!(
        body.contains(&format!("| sync | {} |", &sync[..10])),
        "{body}"
    );
    assert!(body.chars().count() <= 65_536);
    w.api.verify();
}

#[test]
fn show_of_an_unknown_role_says_so() {
    let w = World::new(None);
    w.api.mount(permission_mock("alice", "write"));
    w.api.mount(comment_mock(1));
    let replies = w
        .run(&event(
            "created",
            "alice",
            "User",
            &format!("/repokid show {ACCOUNT} no-such-role"),
        ))
        .unwrap();
    assert_eq!(replies[0].outcome, Outcome::Failed);
    assert!(
        replies[0]
            .body
            .contains(&format!("role no-such-role not found in account {ACCOUNT}")),
        "{}",
        replies[0].body
    );
    w.api.verify();
}
