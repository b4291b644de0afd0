//! `role_versions`: the commits that changed a role's file, newest first.

use super::*;

#[test]
fn versions_are_the_commits_that_changed_the_file_newest_first_including_its_deletion() {
    let mut r = TestRepo::new();
    let web = role_file(A, "web");
    let c1 = r.commit(
        t(1),
        &tool_message("sync", A, "1 added"),
        &[(&web, Some(&allow(&["s3:GetObject", "s3:PutObject"])))],
    );
    // Another role changes: not a version of web.
    r.commit(
        t(2),
        &tool_message("sync", A, "1 added"),
        &[(&role_file(A, "batch"), Some(&allow(&["sqs:SendMessage"])))],
    );
    let c3 = r.commit(
        t(3),
        &tool_message("repo", A, "1 changed"),
        &[(&web, Some(&allow(&["s3:GetObject"])))],
    );
    // A hand-made commit outside policies/: not a version either.
    r.commit(t(4), "Update README", &[("README.md", Some("hello\n"))]);
    let c5 = r.commit(t(5), &tool_message("sync", A, "1 removed"), &[(&web, None)]);

    let v = versions(&r, "web");
    let commits: Vec<Oid> = v.iter().map(|v| v.commit).collect();
    assert_eq!(commits, vec![c5, c3, c1]);
    assert_eq!(
        v.iter().map(|v| v.time).collect::<Vec<_>>(),
        vec![t(5), t(3), t(1)]
    );
    assert_eq!(
        v.iter().map(|v| v.action).collect::<Vec<_>>(),
        vec![Some(Action::Sync), Some(Action::Repo), Some(Action::Sync)]
    );
    assert_eq!(v[1].subject, format!("repokid repo: {A} (1 changed)"));
    // The deletion is a version without policies.
    assert!(v[0].policies.is_none());
    assert_eq!(v[0].permissions, 0);
    assert_eq!(v[1].permissions, 1);
    assert_eq!(v[2].permissions, 2);
    let expected = parse_policy_map("x", &allow(&["s3:GetObject"])).unwrap();
    assert_eq!(v[1].policies.as_ref(), Some(&expected));

    // At an earlier revision, later versions do not exist yet.
    let at_c3 = role_versions(&r.repo, &c3.to_string(), A, "web", catalog()).unwrap();
    assert_eq!(
        at_c3.iter().map(|v| v.commit).collect::<Vec<_>>(),
        vec![c3, c1]
    );

    // A file that never existed has no versions.
    assert!(versions(&r, "nobody").is_empty());
}

#[test]
fn a_commit_without_trailers_is_a_version_without_an_action() {
    let mut r = TestRepo::new();
    let web = role_file(A, "web");
    r.commit(
        t(1),
        &tool_message("sync", A, "1 added"),
        &[(&web, Some(&allow(&["s3:GetObject"])))],
    );
    let hand = r.commit(
        t(2),
        "Give web ListBucket\n\nBy hand, reviewed in #12.\n",
        &[(&web, Some(&allow(&["s3:GetObject", "s3:ListBucket"])))],
    );
    let v = versions(&r, "web");
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].commit, hand);
    assert_eq!(v[0].action, None);
    assert_eq!(v[0].subject, "Give web ListBucket");
    assert_eq!(v[0].permissions, 2);
}

#[test]
fn the_walk_follows_first_parents_and_a_merge_is_the_version() {
    let mut r = TestRepo::new();
    let web = role_file(A, "web");
    let base = r.commit(
        t(1),
        &tool_message("sync", A, "1 added"),
        &[(&web, Some(&allow(&["s3:GetObject"])))],
    );
    // A proposal branch: one commit on top of base, not on HEAD yet.
    let mut files = r.files.clone();
    files.insert(web.clone(), allow(&["s3:GetObject", "s3:PutObject"]));
    let blobs: BTreeMap<String, Oid> = files
        .iter()
        .map(|(p, c)| (p.clone(), r.repo.blob(c.as_bytes()).unwrap()))
        .collect();
    let tree = write_tree(&r.repo, &blobs);
    let side = r.commit_tree(t(2), "add PutObject", tree, &[base], None);
    // Meanwhile main moves on, then merges the branch at t(4).
    let main = r.commit(t(3), "docs", &[("README.md", Some("x\n"))]);
    r.files = files;
    r.files.insert("README.md".into(), "x\n".into());
    let merged_tree = r.write_tree();
    let merge = r.commit_tree(
        t(4),
        "Merge pull request #1",
        merged_tree,
        &[main, side],
        Some("HEAD"),
    );

    let v = versions(&r, "web");
    assert_eq!(
        v.iter().map(|v| v.commit).collect::<Vec<_>>(),
        vec![merge, base]
    );
    // The action granted by the branch counts from when it landed.
    let a = ages(&r, "web");
    assert_eq!(since(&a, "s3:putobject"), t(4));
    assert_eq!(since(&a, "s3:getobject"), t(1));
}

#[test]
fn an_unknown_revision_is_an_error_naming_it() {
    let mut r = TestRepo::new();
    r.commit(t(1), "init", &[("README.md", Some("x\n"))]);
    let err = role_versions(&r.repo, "no-such-branch", A, "web", catalog()).unwrap_err();
    assert!(matches!(err, StoreError::Git { .. }), "{err:?}");
    assert!(err.to_string().contains("no-such-branch"), "{err}");
}

#[test]
fn an_unreadable_version_is_an_error_naming_file_and_commit() {
    let mut r = TestRepo::new();
    let web = role_file(A, "web");
    let bad = r.commit(t(1), "oops", &[(&web, Some("{not json"))]);
    let err = role_versions(&r.repo, "HEAD", A, "web", catalog()).unwrap_err();
    match &err {
        StoreError::BadFile { path, rev, .. } => {
            assert_eq!(path, &web);
            assert_eq!(rev, &bad.to_string());
        }
        other => panic!("expected BadFile, got {other:?}"),
    }
}
