//! Syncing accounts: the first commit, no-op syncs, changed, added and removed roles, upserts.

use super::*;

#[test]
fn first_sync_into_an_empty_repository() {
    let (dir, store) = fresh();
    let d = dir.path();
    assert!(store.read_account("HEAD", A1).unwrap().is_empty());
    assert!(store.accounts("HEAD").unwrap().is_empty());

    let input = roles(&[("web", web()), ("batch", batch())]);
    let w = sync(&store, A1, input.clone()).unwrap();
    assert_eq!(w.added, ["batch", "web"]);
    assert!(w.changed.is_empty() && w.removed.is_empty());
    assert_eq!(head(d), w.commit.to_string());
    assert_eq!(
        git(d, &["rev-list", "--count", "HEAD"]).trim(),
        "1",
        "an initial commit"
    );

    // The working tree and index match the commit.
    assert_eq!(status(d), "");
    assert_eq!(
        file(d, A1, "web").unwrap(),
        to_canonical_json(&input["web"])
    );
    assert_eq!(
        git(d, &["ls-files"]),
        format!("policies/{A1}/batch.json\npolicies/{A1}/web.json\n")
    );

    // The message, as `git log` shows it.
    let msg = git(d, &["log", "-1", "--format=%B"]);
    assert!(
        msg.starts_with(&format!(
            "repokid sync: {A1} (2 added, 0 changed, 0 removed)\n\nAdded: batch, web\n\n"
        )),
        "{msg}"
    );
    let trailers = git(d, &["log", "-1", "--format=%(trailers:only,unfold)"]);
    assert_eq!(
        trailers.trim_end(),
        format!(
            "Repokid-Action: sync\nRepokid-Account: {A1}\nRepokid-Roles-Added: 2\n\
             Repokid-Roles-Changed: 0\nRepokid-Roles-Removed: 0"
        )
    );
    assert_eq!(parse_trailers(&msg).len(), 5);
    let repo = Repository::open(d).unwrap();
    let commit = repo.find_commit(w.commit).unwrap();
    assert_eq!(
        commit_action(&commit),
        Some((Action::Sync, Some(A1.to_string())))
    );
    // No author given: the repository's configured user, else `repokid`.
    let configured = repo.config().unwrap().get_string("user.name").ok();
    assert_eq!(
        commit.author().name().unwrap(),
        configured.as_deref().unwrap_or("repokid")
    );

    assert_eq!(store.read_account("HEAD", A1).unwrap(), input);
    assert_eq!(store.accounts("HEAD").unwrap(), [A1]);
}

#[test]
fn unchanged_sync_makes_no_commit() {
    let (dir, store) = fresh();
    let input = roles(&[("web", web()), ("batch", batch())]);
    sync(&store, A1, input.clone()).unwrap();
    let before = head(dir.path());
    let objects = object_count(dir.path());
    assert_eq!(sync(&store, A1, input), None);
    assert_eq!(head(dir.path()), before);
    assert_eq!(object_count(dir.path()), objects);
    assert_eq!(status(dir.path()), "");
}

#[test]
fn changed_added_and_removed_roles_make_one_commit() {
    let (dir, store) = fresh();
    let d = dir.path();
    sync(
        &store,
        A1,
        roles(&[("web", web()), ("batch", batch()), ("legacy", batch())]),
    )
    .unwrap();
    let first = head(d);

    let web2 = policy("s3", &["s3:GetObject"]);
    let w = sync(
        &store,
        A1,
        roles(&[
            ("web", web2.clone()),
            ("batch", batch()),
            ("new-role", web()),
        ]),
    )
    .unwrap();
    assert_eq!(w.added, ["new-role"]);
    assert_eq!(w.changed, ["web"]);
    assert_eq!(w.removed, ["legacy"]);
    assert_eq!(git(d, &["rev-parse", "HEAD~1"]).trim(), first);
    assert_eq!(status(d), "");
    assert_eq!(file(d, A1, "web").unwrap(), to_canonical_json(&web2));
    assert!(file(d, A1, "new-role").is_some());
    assert!(file(d, A1, "legacy").is_none());
    assert_eq!(
        git(
            d,
            &["diff", "--name-status", "--no-renames", "HEAD~1", "HEAD"]
        ),
        format!(
            "D\tpolicies/{A1}/legacy.json\nA\tpolicies/{A1}/new-role.json\nM\tpolicies/{A1}/web.json\n"
        )
    );
    let trailers = parse_trailers(&git(d, &["log", "-1", "--format=%B"]));
    let get = |k: &str| trailers.iter().find(|(key, _)| key == k).unwrap().1.clone();
    assert_eq!(get("Repokid-Roles-Added"), "1");
    assert_eq!(get("Repokid-Roles-Changed"), "1");
    assert_eq!(get("Repokid-Roles-Removed"), "1");

    // Removing every role removes the directory too.
    let w = sync(&store, A1, BTreeMap::new()).unwrap();
    assert_eq!(w.removed, ["batch", "new-role", "web"]);
    assert_eq!(status(d), "");
    assert!(!d.join("policies").join(A1).exists());
    assert_eq!(git(d, &["ls-tree", "-r", "HEAD"]), "");
    assert!(store.read_account("HEAD", A1).unwrap().is_empty());
}

#[test]
fn accounts_are_independent() {
    let (dir, store) = fresh();
    let d = dir.path();
    sync(&store, A1, roles(&[("web", web())])).unwrap();
    sync(&store, A2, roles(&[("batch", batch())])).unwrap();
    assert_eq!(store.accounts("HEAD").unwrap(), [A1, A2]);
    // A sync of one account never touches the other.
    let w = sync(&store, A2, BTreeMap::new()).unwrap();
    assert_eq!(w.removed, ["batch"]);
    assert_eq!(
        store.read_account("HEAD", A1).unwrap(),
        roles(&[("web", web())])
    );
    assert!(file(d, A1, "web").is_some());
    assert_eq!(store.accounts("HEAD").unwrap(), [A1]);
    assert_eq!(status(d), "");
}

#[test]
fn upsert_changes_only_the_given_roles() {
    let (dir, store) = fresh();
    let d = dir.path();
    sync(&store, A1, roles(&[("web", web()), ("batch", batch())])).unwrap();
    let smaller = policy("s3", &["s3:GetObject"]);
    let w = store
        .write_account(&WriteAccount {
            mode: WriteMode::Upsert,
            action: Action::Rollback,
            roles: roles(&[("web", smaller.clone())]),
            subject: "repokid rollback: web".to_string(),
            body: "Restored web from an earlier version.".to_string(),
            extra_trailers: vec![("Repokid-Restored-From".to_string(), "abc123".to_string())],
            author: Some(("Alice Admin".to_string(), "alice@example.com".to_string())),
            ..WriteAccount::new(store.current_branch().unwrap(), A1)
        })
        .unwrap()
        .unwrap();
    assert_eq!(w.changed, ["web"]);
    assert!(w.added.is_empty() && w.removed.is_empty());
    assert_eq!(
        store.read_account("HEAD", A1).unwrap(),
        roles(&[("web", smaller), ("batch", batch())])
    );
    assert_eq!(status(d), "");
    assert_eq!(
        git(d, &["log", "-1", "--format=%an <%ae>|%cn <%ce>"]).trim(),
        "Alice Admin <alice@example.com>|Alice Admin <alice@example.com>"
    );
    assert_eq!(
        git(d, &["log", "-1", "--format=%B"]),
        format!(
            "repokid rollback: web\n\nRestored web from an earlier version.\n\n\
             Repokid-Action: rollback\nRepokid-Account: {A1}\nRepokid-Roles-Added: 0\n\
             Repokid-Roles-Changed: 1\nRepokid-Roles-Removed: 0\nRepokid-Restored-From: abc123\n\n"
        )
    );
}
