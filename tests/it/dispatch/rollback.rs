//! `/repokid rollback`: versions listed, one restored through a pull request.

use super::*;

#[test]
fn rollback_lists_versions_then_opens_a_pull_request_restoring_one() {
    let (_server, bare, url) = git_server();
    let w = World::new(Some(&url));
    let branch = format!("repokid/rollback/{ACCOUNT}/{ROLE}");
    w.api.mount(permission_mock("alice", "write"));
    mount_pr(&w.api, &branch, json!([]), 61);
    w.api.mount(comment_mock(2));
    let head = git(w.path(), &["rev-parse", "HEAD"]);

    let replies = w
        .run(&event(
            "created",
            "alice",
            "User",
            &format!("/repokid rollback {ACCOUNT} {ROLE}\n\n/repokid rollback {ACCOUNT} {ROLE} 1"),
        ))
        .unwrap();

    assert_eq!(
        w.api.calls(),
        [
            perm_call("alice"),
            format!("POST {COMMENTS}"),
            find_call(&branch),
            format!("POST {PULLS}"),
            format!("POST {COMMENTS}"),
        ]
    );
    let list = &replies[0];
    assert_eq!(list.outcome, Outcome::Done, "{}", list.body);
    assert!(list.pull_request.is_none());
    let sync = git(w.path(), &["rev-parse", "HEAD~1"]);
    assert!(list.body.contains("| 0 | "), "{}", list.body);
    assert!(
        list.body.contains(&format!("| repo | {} |", &head[..10])),
        "{}",
        list.body
    );
    assert!(list.body.contains("| 1 | "), "{}", list.body);
    assert!(
        list.body.contains(&format!("| sync | {} |", &sync[..10])),
        "{}",
        list.body
    );

    let r = &replies[1];
    assert_eq!(r.outcome, Outcome::Done, "{}", r.body);
    assert_eq!(r.pull_request.as_ref().map(|p| p.number), Some(61));
    assert!(
        r.body.contains("https://github.com/acme/iam/pull/61"),
        "{}",
        r.body
    );
    assert!(r.body.contains("Comes back ("), "{}", r.body);
    assert!(r.body.contains(" and 145 more"), "{}", r.body);

    // The branch holds the file as the sync recorded it, on top of main, and was pushed.
    let file = format!("policies/{ACCOUNT}/{ROLE}.json");
    assert_eq!(
        git(w.path(), &["rev-parse", &format!("{branch}:{file}")]),
        git(w.path(), &["rev-parse", &format!("HEAD~1:{file}")])
    );
    assert_eq!(git(w.path(), &["rev-parse", &format!("{branch}~1")]), head);
    assert_eq!(
        bare_rev(&bare, &format!("refs/heads/{branch}")),
        git(w.path(), &["rev-parse", &branch]).trim()
    );
    let msg = message(w.path(), &branch);
    assert!(
        msg.lines().any(|l| l == "Repokid-Action: rollback"),
        "{msg}"
    );
    assert!(
        msg.lines().any(|l| l == "Repokid-Requested-By: alice"),
        "{msg}"
    );
    let create = w.api.body(3);
    assert_eq!(create["head"], branch.as_str());
    assert_eq!(create["base"], "main");
    let pr_body = create["body"].as_str().unwrap();
    assert!(pr_body.contains("Comes back (195): "), "{pr_body}");
    assert!(pr_body.contains("`sns:Publish`"), "{pr_body}");
    assert_eq!(
        git(w.path(), &["rev-parse", "HEAD"]),
        head,
        "checkout untouched"
    );
    w.api.verify();
}

#[test]
fn a_rollback_to_the_current_version_changes_nothing() {
    let w = World::new(Some("http://127.0.0.1:9/never.git"));
    w.api.mount(permission_mock("alice", "write"));
    w.api.mount(comment_mock(1));
    let replies = w
        .run(&event(
            "created",
            "alice",
            "User",
            &format!("/repokid rollback {ACCOUNT} {ROLE} 0"),
        ))
        .unwrap();
    assert_eq!(
        replies[0].outcome,
        Outcome::Unchanged,
        "{}",
        replies[0].body
    );
    assert!(
        replies[0].body.contains("already matches version 0"),
        "{}",
        replies[0].body
    );
    assert_eq!(
        w.api.calls(),
        [perm_call("alice"), format!("POST {COMMENTS}")]
    );
    w.api.verify();
}
