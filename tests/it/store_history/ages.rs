//! `permission_ages`: how long each permission has been granted, from the history.

use super::*;

#[test]
fn ages_added_later_removed_and_re_added() {
    let mut r = TestRepo::new();
    let web = role_file(A, "web");
    r.commit(
        t(1),
        &tool_message("sync", A, "1 added"),
        &[(
            &web,
            Some(&allow(&["s3:GetObject", "ec2:DescribeInstances"])),
        )],
    );
    r.commit(
        t(2),
        &tool_message("sync", A, "1 changed"),
        &[(
            &web,
            Some(&allow(&[
                "s3:GetObject",
                "ec2:DescribeInstances",
                "sqs:SendMessage",
            ])),
        )],
    );
    r.commit(
        t(3),
        &tool_message("repo", A, "1 changed"),
        &[(&web, Some(&allow(&["s3:GetObject", "sqs:SendMessage"])))],
    );
    // Unrelated commits in between do not matter.
    r.commit(t(4), "docs", &[("README.md", Some("x\n"))]);
    r.commit(
        t(5),
        &tool_message("rollback", A, "1 changed"),
        &[(
            &web,
            Some(&allow(&[
                "s3:GetObject",
                "sqs:SendMessage",
                "ec2:DescribeInstances",
            ])),
        )],
    );
    let a = ages(&r, "web");
    assert_eq!(since(&a, "s3:getobject"), t(1));
    assert_eq!(since(&a, "sqs:sendmessage"), t(2));
    // Removed at t(3), back at t(5): the age restarts.
    assert_eq!(since(&a, "ec2:describeinstances"), t(5));
    // Only what is granted now has an age; no fallback.
    assert_eq!(a.since("s3:putobject"), None);
    match &a {
        PermissionAges::PerAction { since, fallback } => {
            assert_eq!(since.len(), 3);
            assert_eq!(*fallback, None);
        }
        other => panic!("expected PerAction, got {other:?}"),
    }
}

#[test]
fn a_wildcard_narrowed_keeps_its_time_for_the_kept_actions() {
    let mut r = TestRepo::new();
    let web = role_file(A, "web");
    r.commit(
        t(1),
        &tool_message("sync", A, "1 added"),
        &[(&web, Some(&allow(&["s3:*"])))],
    );
    r.commit(
        t(2),
        &tool_message("repo", A, "1 changed"),
        &[(&web, Some(&allow(&["s3:GetObject", "s3:ListBucket"])))],
    );
    let a = ages(&r, "web");
    assert_eq!(since(&a, "s3:getobject"), t(1));
    assert_eq!(since(&a, "s3:listbucket"), t(1));
    assert_eq!(a.since("s3:putobject"), None);
}

#[test]
fn a_wildcard_added_later_ages_only_the_actions_it_added() {
    let mut r = TestRepo::new();
    let web = role_file(A, "web");
    r.commit(
        t(1),
        &tool_message("sync", A, "1 added"),
        &[(&web, Some(&allow(&["s3:GetObject"])))],
    );
    r.commit(
        t(2),
        &tool_message("sync", A, "1 changed"),
        &[(&web, Some(&allow(&["s3:Get*"])))],
    );
    let a = ages(&r, "web");
    assert_eq!(since(&a, "s3:getobject"), t(1));
    assert_eq!(since(&a, "s3:getbucketpolicy"), t(2));
}

#[test]
fn unknown_entries_are_aged_by_their_lowercase_text() {
    let mut r = TestRepo::new();
    let web = role_file(A, "web");
    r.commit(
        t(1),
        &tool_message("sync", A, "1 added"),
        &[(&web, Some(&allow(&["s3:GetObject", "s3:BrandNewThing"])))],
    );
    r.commit(
        t(2),
        &tool_message("sync", A, "1 changed"),
        &[(
            &web,
            Some(&allow(&["s3:GetObject", "s3:BrandNewThing", "newsvc:DoIt"])),
        )],
    );
    let a = ages(&r, "web");
    assert_eq!(since(&a, "s3:brandnewthing"), t(1));
    assert_eq!(since(&a, "newsvc:doit"), t(2));
}

#[test]
fn a_deletion_breaks_every_run_and_no_file_means_unknown() {
    let mut r = TestRepo::new();
    let web = role_file(A, "web");
    r.commit(
        t(1),
        &tool_message("sync", A, "1 added"),
        &[(&web, Some(&allow(&["s3:GetObject"])))],
    );
    r.commit(t(2), &tool_message("sync", A, "1 removed"), &[(&web, None)]);
    assert_eq!(ages(&r, "web"), PermissionAges::Unknown);
    r.commit(
        t(3),
        &tool_message("sync", A, "1 added"),
        &[(&web, Some(&allow(&["s3:GetObject"])))],
    );
    assert_eq!(since(&ages(&r, "web"), "s3:getobject"), t(3));
    assert_eq!(ages(&r, "never-existed"), PermissionAges::Unknown);
}

#[test]
fn an_unreadable_older_version_breaks_the_runs_instead_of_failing() {
    let mut r = TestRepo::new();
    let web = role_file(A, "web");
    r.commit(
        t(1),
        &tool_message("sync", A, "1 added"),
        &[(&web, Some(&allow(&["s3:GetObject"])))],
    );
    r.commit(t(2), "broken by hand", &[(&web, Some("{"))]);
    r.commit(
        t(3),
        "fixed by hand",
        &[(&web, Some(&allow(&["s3:GetObject"])))],
    );
    // Younger than the truth: the grace period keeps more (fail closed).
    assert_eq!(since(&ages(&r, "web"), "s3:getobject"), t(3));
    // The current file unreadable is an error, though.
    r.commit(t(4), "broken again", &[(&web, Some("["))]);
    let err = permission_ages(&r.repo, "HEAD", A, "web", catalog()).unwrap_err();
    assert!(matches!(err, StoreError::BadFile { .. }), "{err:?}");
}

#[test]
fn the_walk_stops_once_every_run_has_ended() {
    let mut r = TestRepo::new();
    let web = role_file(A, "web");
    // The first version's commit names a parent that is not in the repository, so a walk that
    // goes past that version fails.
    r.files
        .insert(web.clone(), allow(&["s3:GetObject", "s3:ListBucket"]));
    let tree = r.write_tree();
    let secs = t(1).timestamp();
    let raw = format!(
        "tree {tree}\nparent {}\nauthor T <t@example.com> {secs} +0000\n\
         committer T <t@example.com> {secs} +0000\n\nfirst\n",
        "1".repeat(40)
    );
    let first = r
        .repo
        .odb()
        .unwrap()
        .write(git2::ObjectType::Commit, raw.as_bytes())
        .unwrap();
    r.repo
        .reference("refs/heads/main", first, true, "test")
        .unwrap();
    r.repo.set_head("refs/heads/main").unwrap();
    r.commit(
        t(2),
        &tool_message("sync", A, "1 changed"),
        &[(&web, Some(&allow(&["s3:ListBucket", "sqs:SendMessage"])))],
    );
    r.commit(
        t(3),
        &tool_message("sync", A, "1 changed"),
        &[(&web, Some(&allow(&["sqs:SendMessage", "s3:PutObject"])))],
    );
    // SendMessage's run ends at t(2): the content before it (read from t(2)'s parent tree) lacks
    // it, so the walk needs neither the commit that wrote that content nor its parent.
    let a = ages(&r, "web");
    assert_eq!(since(&a, "sqs:sendmessage"), t(2));
    assert_eq!(since(&a, "s3:putobject"), t(3));
    // Whereas listing every version has to, and reports the broken history.
    let err = role_versions(&r.repo, "HEAD", A, "web", catalog()).unwrap_err();
    assert!(err.to_string().contains(&first.to_string()), "{err}");
}
