//! `/repokid opt-out` and `remove-opt-out`: the filters entry proposed as a pull request.

use super::*;

#[test]
fn opt_out_proposes_the_filters_entry_as_a_pull_request() {
    let (server, bare, url) = git_server();
    let w = World::new(Some(&url));
    let branch = format!("repokid/opt-out/{ACCOUNT}/{ROLE}");
    w.api.mount(permission_mock("alice", "admin"));
    mount_pr(&w.api, &branch, json!([]), 57);
    w.api.mount(comment_mock(1));
    let head = git(w.path(), &["rev-parse", "HEAD"]);

    let replies = w
        .run(&event(
            "created",
            "alice",
            "User",
            &format!(
                "/repokid opt-out {ACCOUNT} {ROLE} --reason \"PCI audit, ask 'payments'\" --days 30"
            ),
        ))
        .unwrap();

    assert_eq!(
        w.api.calls(),
        [
            perm_call("alice"),
            find_call(&branch),
            format!("POST {PULLS}"),
            format!("POST {COMMENTS}"),
        ]
    );
    let r = &replies[0];
    assert_eq!(r.outcome, Outcome::Done, "{}", r.body);
    let pr = r.pull_request.as_ref().unwrap();
    assert_eq!((pr.number, pr.opened), (57, true));
    assert_eq!(pr.url, "https://github.com/acme/iam/pull/57");
    assert_eq!(pr.branch, branch);
    assert!(
        r.body.contains("https://github.com/acme/iam/pull/57"),
        "{}",
        r.body
    );
    assert!(r.body.contains("until **2026-12-20**"), "{}", r.body);

    // The pull request: from the branch to main.
    let create = w.api.body(2);
    assert_eq!(create["head"], branch.as_str());
    assert_eq!(create["base"], "main");
    assert_eq!(
        create["title"],
        format!("repokid opt-out: {ROLE} in {ACCOUNT} until 2026-12-20")
    );
    let pr_body = create["body"].as_str().unwrap();
    assert!(pr_body.contains("@alice in #7"), "{pr_body}");
    assert!(
        pr_body.contains("```toml\n[[opt-out.entries]]\n"),
        "{pr_body}"
    );

    // The branch: one commit on main changing filters.toml only, pushed as it is.
    let tip = git(w.path(), &["rev-parse", &branch]).trim().to_string();
    assert_eq!(bare_rev(&bare, &format!("refs/heads/{branch}")), tip);
    assert_eq!(git(w.path(), &["rev-parse", &format!("{branch}~1")]), head);
    assert_eq!(
        git(w.path(), &["diff", "--name-only", "main", &branch]).trim(),
        "filters.toml"
    );
    let text = git(w.path(), &["show", &format!("{branch}:filters.toml")]);
    let config = FilterConfig::parse(&text).unwrap();
    assert_eq!(config.opt_out.entries.len(), 1);
    let e = &config.opt_out.entries[0];
    assert_eq!(
        (
            e.account.as_str(),
            e.role.as_str(),
            e.owner.as_str(),
            e.reason.as_str()
        ),
        (ACCOUNT, ROLE, "alice", "PCI audit, ask 'payments'")
    );
    assert_eq!(e.expires.as_str(), "2026-12-20");
    // Everything else in the file, comments included, is as it was.
    let block = format!(
        "[[opt-out.entries]]\naccount = \"{ACCOUNT}\"\nrole = \"{ROLE}\"\nowner = \"alice\"\n\
         reason = \"PCI audit, ask 'payments'\"\nexpires = \"2026-12-20\"\n\n"
    );
    assert_eq!(text.replace(&block, ""), DEFAULT_FILTERS_TOML, "{text}");
    let mut expected = FilterConfig::parse(DEFAULT_FILTERS_TOML).unwrap();
    expected.opt_out.entries = config.opt_out.entries.clone();
    assert_eq!(config, expected);

    let msg = message(w.path(), &branch);
    assert!(
        msg.starts_with(&format!(
            "repokid opt-out: {ROLE} in {ACCOUNT} until 2026-12-20\n"
        )),
        "{msg}"
    );
    for trailer in [
        "Repokid-Action: opt-out".to_string(),
        format!("Repokid-Account: {ACCOUNT}"),
        "Repokid-Requested-By: alice".to_string(),
        format!("Repokid-Role: {ROLE}"),
    ] {
        assert!(msg.lines().any(|l| l == trailer), "{trailer} in {msg}");
    }

    // The checkout is untouched.
    assert_eq!(git(w.path(), &["rev-parse", "HEAD"]), head);
    assert_eq!(git(w.path(), &["status", "--porcelain"]), "");
    assert_eq!(
        std::fs::read_to_string(w.path().join("filters.toml")).unwrap(),
        DEFAULT_FILTERS_TOML
    );
    assert!(!server.requests("iam").is_empty());
    assert!(!server.log_text().contains(TOKEN));
    w.api.verify();
}

#[test]
fn opt_out_again_replaces_the_entry_and_updates_the_open_pull_request() {
    let (_server, bare, url) = git_server();
    let w = World::new(Some(&url));
    let branch = format!("repokid/opt-out/{ACCOUNT}/{ROLE}");
    // On main already: an entry by bob.
    let with_bob = format!(
        "{DEFAULT_FILTERS_TOML}\n[[opt-out.entries]]\naccount = \"{ACCOUNT}\"\nrole = \"{ROLE}\"\n\
         owner = \"bob\"\nreason = \"old\"\nexpires = \"2026-12-01\"\n"
    );
    std::fs::write(w.path().join("filters.toml"), &with_bob).unwrap();
    git(w.path(), &["commit", "-q", "-am", "bob's opt-out"]);
    // A stale local branch from an earlier request is rebuilt from main.
    git(w.path(), &["branch", &branch, "HEAD~2"]);

    w.api.mount(permission_mock("alice", "write"));
    w.api.mount(
        Mock::given(method("GET"))
            .and(path(PULLS))
            .and(query_param("head", format!("acme:{branch}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([pr_json(41, &branch)])))
            .expect(1),
    );
    w.api.mount(
        Mock::given(method("PATCH"))
            .and(path(format!("{PULLS}/41")))
            .respond_with(ResponseTemplate::new(200).set_body_json(pr_json(41, &branch)))
            .expect(1),
    );
    w.api.mount(comment_mock(1));

    let replies = w
        .run(&event(
            "created",
            "alice",
            "User",
            &format!("/repokid opt-out {ACCOUNT} {ROLE} --reason=longer"),
        ))
        .unwrap();
    let r = &replies[0];
    assert_eq!(r.outcome, Outcome::Done, "{}", r.body);
    assert_eq!(
        r.pull_request.as_ref().map(|p| (p.number, p.opened)),
        Some((41, false))
    );
    assert!(
        r.body
            .contains("replaces the current entry (by bob until 2026-12-01)"),
        "{}",
        r.body
    );
    assert_eq!(
        w.api.calls(),
        [
            perm_call("alice"),
            find_call(&branch),
            format!("PATCH {PULLS}/41"),
            format!("POST {COMMENTS}"),
        ]
    );
    let main = git(w.path(), &["rev-parse", "main"]);
    assert_eq!(git(w.path(), &["rev-parse", &format!("{branch}~1")]), main);
    assert_eq!(
        bare_rev(&bare, &format!("refs/heads/{branch}")),
        git(w.path(), &["rev-parse", &branch]).trim()
    );
    let text = git(w.path(), &["show", &format!("{branch}:filters.toml")]);
    let entries = FilterConfig::parse(&text).unwrap().opt_out.entries;
    assert_eq!(entries.len(), 1, "{text}");
    assert_eq!(entries[0].owner, "alice");
    assert_eq!(entries[0].reason, "longer");
    assert_eq!(entries[0].expires.as_str(), "2027-02-18", "default 90 days");
    w.api.verify();
}

#[test]
fn the_same_opt_out_again_changes_nothing() {
    let w = World::new(Some("http://127.0.0.1:9/never.git"));
    let same = format!(
        "{DEFAULT_FILTERS_TOML}\n[[opt-out.entries]]\naccount = \"{ACCOUNT}\"\nrole = \"{ROLE}\"\n\
         owner = \"alice\"\nreason = \"same\"\nexpires = \"2026-12-20\"\n"
    );
    std::fs::write(w.path().join("filters.toml"), &same).unwrap();
    git(w.path(), &["commit", "-q", "-am", "alice's opt-out"]);
    let branches = w.branches();
    w.api.mount(permission_mock("alice", "write"));
    w.api.mount(comment_mock(1));
    let replies = w
        .run(&event(
            "created",
            "alice",
            "User",
            &format!("/repokid opt-out {ACCOUNT} {ROLE} --reason same --days 30"),
        ))
        .unwrap();
    assert_eq!(
        replies[0].outcome,
        Outcome::Unchanged,
        "{}",
        replies[0].body
    );
    assert!(
        replies[0].body.contains("exactly so"),
        "{}",
        replies[0].body
    );
    assert_eq!(
        w.api.calls(),
        [perm_call("alice"), format!("POST {COMMENTS}")]
    );
    assert_eq!(w.branches(), branches);
    w.api.verify();
}

#[test]
fn remove_opt_out_proposes_the_file_without_the_entry() {
    let (_server, bare, url) = git_server();
    let w = World::new(Some(&url));
    let branch = format!("repokid/opt-out/{ACCOUNT}/{ROLE}");
    let entry = format!(
        "[[opt-out.entries]]\naccount = \"{ACCOUNT}\"\nrole = \"Orders-Api\"\n# asked in INC-42\n\
         owner = \"bob\"\nreason = \"audit\"\nexpires = \"2027-01-31\"\n"
    );
    let other = format!(
        "[[opt-out.entries]]\naccount = \"{ACCOUNT}\"\nrole = \"web\"\nowner = \"carol\"\n\
         reason = \"keep\"\nexpires = 2027-03-01\n"
    );
    let before = format!("{DEFAULT_FILTERS_TOML}\n{entry}\n{other}");
    std::fs::write(w.path().join("filters.toml"), &before).unwrap();
    git(w.path(), &["commit", "-q", "-am", "opt-outs"]);

    w.api.mount(permission_mock("alice", "write"));
    mount_pr(&w.api, &branch, json!([]), 60);
    w.api.mount(comment_mock(2));

    let replies = w
        .run(&event(
            "created",
            "alice",
            "User",
            &format!(
                "/repokid remove-opt-out {ACCOUNT} {ROLE}\n/repokid remove-opt-out {ACCOUNT} billing-batch"
            ),
        ))
        .unwrap();

    assert_eq!(replies.len(), 2);
    let r = &replies[0];
    assert_eq!(r.outcome, Outcome::Done, "{}", r.body);
    assert_eq!(r.pull_request.as_ref().map(|p| p.number), Some(60));
    assert!(
        r.body.contains("https://github.com/acme/iam/pull/60"),
        "{}",
        r.body
    );
    assert_eq!(replies[1].outcome, Outcome::Unchanged);
    assert!(
        replies[1]
            .body
            .contains("There is no opt-out for `billing-batch`"),
        "{}",
        replies[1].body
    );
    assert_eq!(
        w.api.calls(),
        [
            perm_call("alice"),
            find_call(&branch),
            format!("POST {PULLS}"),
            format!("POST {COMMENTS}"),
            format!("POST {COMMENTS}"),
        ]
    );
    // The branch is named by the recorded role, whatever the entry's spelling.
    let text = git(w.path(), &["show", &format!("{branch}:filters.toml")]);
    assert_eq!(text, format!("{DEFAULT_FILTERS_TOML}\n{other}"));
    let entries = FilterConfig::parse(&text).unwrap().opt_out.entries;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].role, "web");
    assert_eq!(
        bare_rev(&bare, &format!("refs/heads/{branch}")),
        git(w.path(), &["rev-parse", &branch]).trim()
    );
    let msg = message(w.path(), &branch);
    assert!(msg.lines().any(|l| l == "Repokid-Action: opt-out"), "{msg}");
    assert!(
        msg.lines().any(|l| l == "Repokid-Requested-By: alice"),
        "{msg}"
    );
    w.api.verify();
}
