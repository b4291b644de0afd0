//! `account_permission_ages`: one walk for every role of an account, same answers as per role.

use super::*;

#[test]
fn account_ages_match_per_role_ages() {
    let mut r = TestRepo::new();
    let f = |role: &str| role_file(A, role);
    r.commit(
        t(1),
        &tool_message("sync", A, "3 added"),
        &[
            (&f("web"), Some(&allow(&["s3:*"]))),
            (
                &f("batch"),
                Some(&allow(&["sqs:SendMessage", "s3:GetObject"])),
            ),
            (&f("gone"), Some(&allow(&["ec2:DescribeInstances"]))),
            (&role_file(B, "web"), Some(&allow(&["iam:PassRole"]))),
        ],
    );
    r.commit(
        t(2),
        &tool_message("repo", A, "2 changed"),
        &[
            (&f("web"), Some(&allow(&["s3:GetObject", "s3:ListBucket"]))),
            (&f("batch"), Some(&allow(&["sqs:SendMessage"]))),
        ],
    );
    r.commit(t(3), "docs", &[("README.md", Some("x\n"))]);
    r.commit(
        t(4),
        &tool_message("sync", A, "1 added, 1 removed"),
        &[
            (&f("gone"), None),
            (
                &f("late"),
                Some(&allow(&["lambda:InvokeFunction", "s3:NewThing"])),
            ),
        ],
    );
    r.commit(
        t(5),
        &tool_message("rollback", A, "1 changed"),
        &[(
            &f("batch"),
            Some(&allow(&["sqs:SendMessage", "s3:GetObject"])),
        )],
    );
    r.commit(
        t(6),
        &tool_message("sync", B, "1 changed"),
        &[(
            &role_file(B, "web"),
            Some(&allow(&["iam:PassRole", "s3:*"])),
        )],
    );
    r.commit(t(7), "broken by hand", &[(&f("web"), Some("{"))]);
    r.commit(
        t(8),
        "fixed by hand",
        &[(&f("web"), Some(&allow(&["s3:GetObject", "s3:ListBucket"])))],
    );

    let heads: Vec<String> = {
        let mut v = Vec::new();
        let mut c = r.repo.head().unwrap().peel_to_commit().unwrap();
        loop {
            v.push(c.id().to_string());
            match c.parent(0) {
                Ok(p) => c = p,
                Err(_) => break,
            }
        }
        v
    };
    let (mut uniform, mut per_action) = (0, 0);
    for rev in &heads {
        for account in [A, B] {
            let all = match account_permission_ages(&r.repo, rev, account, catalog()) {
                Ok(all) => all,
                Err(e) => {
                    // Only where web's current file is unreadable, as per role.
                    assert!(matches!(e, StoreError::BadFile { .. }), "{e}");
                    assert!(permission_ages(&r.repo, rev, account, "web", catalog()).is_err());
                    continue;
                }
            };
            for role in ["web", "batch", "gone", "late", "never"] {
                let one = permission_ages(&r.repo, rev, account, role, catalog()).unwrap();
                match (all.get(role), &one) {
                    (Some(PermissionAges::Uniform(t)), PermissionAges::PerAction { since, .. }) => {
                        assert!(since.values().all(|s| s == t), "{rev} {account} {role}")
                    }
                    (Some(ages), _) => assert_eq!(ages, &one, "{rev} {account} {role}"),
                    (None, _) => {
                        assert_eq!(one, PermissionAges::Unknown, "{rev} {account} {role}")
                    }
                }
                uniform += usize::from(matches!(all.get(role), Some(PermissionAges::Uniform(_))));
                per_action += usize::from(matches!(
                    all.get(role),
                    Some(PermissionAges::PerAction { .. })
                ));
            }
        }
    }
    // Both shapes were exercised.
    assert!(uniform > 0 && per_action > 0, "{uniform} {per_action}");
    // Spot checks at HEAD.
    let all = account_permission_ages(&r.repo, "HEAD", A, catalog()).unwrap();
    assert_eq!(all.keys().collect::<Vec<_>>(), vec!["batch", "late", "web"]);
    assert!(matches!(all["batch"], PermissionAges::PerAction { .. }));
    assert_eq!(since(&all["batch"], "s3:getobject"), t(5));
    assert_eq!(since(&all["batch"], "sqs:sendmessage"), t(1));
    assert_eq!(since(&all["late"], "s3:newthing"), t(4));
    // The unreadable version broke web's runs.
    assert_eq!(since(&all["web"], "s3:getobject"), t(8));
}
