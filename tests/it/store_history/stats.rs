//! `stats`: one row per role file changed by a tool commit.

use super::*;

/// A history with tool commits, hand-made commits, a deletion and files stats must ignore.
fn stats_history() -> (TestRepo, Vec<Oid>) {
    let mut r = TestRepo::new();
    let web = role_file(A, "web");
    let batch = role_file(A, "batch");
    let legacy = role_file(B, "legacy,admin");
    let c1 = r.commit(
        t(1),
        &tool_message("sync", A, "3 added"),
        &[
            (
                &web,
                Some(&allow(&[
                    "s3:GetObject",
                    "s3:PutObject",
                    "ec2:DescribeInstances",
                ])),
            ),
            (&batch, Some(&allow(&["sqs:SendMessage"]))),
            (&legacy, Some(&allow(&["s3:ListBucket", "s3:DeleteBucket"]))),
        ],
    );
    // By hand, no trailers: ignored, but the next commit's "before" is this state.
    r.commit(
        t(2),
        "web needs ListBucket",
        &[(
            &web,
            Some(&allow(&[
                "s3:GetObject",
                "s3:PutObject",
                "ec2:DescribeInstances",
                "s3:ListBucket",
            ])),
        )],
    );
    let c3 = r.commit(
        t(3),
        &tool_message("repo", A, "2 changed"),
        &[
            (&web, Some(&allow(&["s3:GetObject", "s3:ListBucket"]))),
            (&batch, Some(&allow(&[]))),
            // Not role files: ignored even in a tool commit.
            ("policies/README.md", Some("about\n")),
            (&format!("policies/{A}/notes.txt"), Some("x\n")),
            ("filters.toml", Some("# x\n")),
        ],
    );
    let c4 = r.commit(
        t(4),
        &tool_message("rollback", A, "1 changed"),
        &[(
            &web,
            Some(&allow(&["s3:GetObject", "s3:ListBucket", "s3:PutObject"])),
        )],
    );
    let c5 = r.commit(
        t(5),
        &tool_message("sync", B, "1 removed"),
        &[(&legacy, None)],
    );
    // A tool commit that touches nothing under policies/ gives no rows.
    r.commit(
        t(6),
        &tool_message("opt-out", A, "web"),
        &[("filters.toml", Some("# opted out\n"))],
    );
    (r, vec![c1, c3, c4, c5])
}

fn row(
    date: DateTime<Utc>,
    commit: Oid,
    account: &str,
    role: &str,
    action: Action,
    (permissions, removed, added): (usize, usize, usize),
) -> StatsRow {
    StatsRow {
        date,
        commit,
        account: account.into(),
        role: role.into(),
        action,
        permissions,
        removed,
        added,
    }
}

#[test]
fn stats_has_one_row_per_role_file_changed_by_a_tool_commit() {
    let (r, c) = stats_history();
    let rows = stats(&r.repo, "HEAD", catalog(), None).unwrap();
    let expected = vec![
        row(t(5), c[3], B, "legacy,admin", Action::Sync, (0, 2, 0)),
        row(t(4), c[2], A, "web", Action::Rollback, (3, 0, 1)),
        row(t(3), c[1], A, "batch", Action::Repo, (0, 1, 0)),
        // Before = after the hand-made commit (4 actions), after = 2.
        row(t(3), c[1], A, "web", Action::Repo, (2, 2, 0)),
        row(t(1), c[0], A, "batch", Action::Sync, (1, 0, 1)),
        row(t(1), c[0], A, "web", Action::Sync, (3, 0, 3)),
        row(t(1), c[0], B, "legacy,admin", Action::Sync, (2, 0, 2)),
    ];
    assert_eq!(rows, expected);
}

#[test]
fn stats_since_stops_at_older_commits() {
    let (r, c) = stats_history();
    let rows = stats(&r.repo, "HEAD", catalog(), Some(t(3))).unwrap();
    let commits: Vec<Oid> = rows.iter().map(|r| r.commit).collect();
    assert_eq!(commits, vec![c[3], c[2], c[1], c[1]]);
    // From an earlier revision.
    let rows = stats(&r.repo, &c[1].to_string(), catalog(), None).unwrap();
    assert_eq!(rows.len(), 5);
    assert!(rows.iter().all(|r| r.date <= t(3)));
}

#[test]
fn stats_csv_has_one_header_and_quotes_what_needs_it() {
    let (r, c) = stats_history();
    let rows = stats(&r.repo, "HEAD", catalog(), None).unwrap();
    let csv = stats_to_csv(&rows);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], STATS_CSV_HEADER);
    assert_eq!(
        lines[0],
        "date,commit,account,role,action,permissions,removed,added"
    );
    assert_eq!(csv.matches("date,commit").count(), 1, "header printed once");
    assert_eq!(lines.len(), 1 + rows.len());
    assert_eq!(
        lines[1],
        format!(
            "2026-01-05T12:00:00Z,{},{B},\"legacy,admin\",sync,0,2,0",
            c[3]
        )
    );
    assert_eq!(
        lines[2],
        format!("2026-01-04T12:00:00Z,{},{A},web,rollback,3,0,1", c[2])
    );
    assert!(csv.ends_with('\n'));
    assert_eq!(stats_to_csv(&[]), format!("{STATS_CSV_HEADER}\n"));
}

#[test]
fn stats_rows_serialise_for_json_output() {
    let (r, c) = stats_history();
    let rows = stats(&r.repo, "HEAD", catalog(), None).unwrap();
    let v = serde_json::to_value(&rows[1]).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "date": "2026-01-04T12:00:00Z",
            "commit": c[2].to_string(),
            "account": A,
            "role": "web",
            "action": "rollback",
            "permissions": 3,
            "removed": 0,
            "added": 1,
        })
    );
}

#[test]
fn stats_on_a_history_without_tool_commits_is_empty() {
    let mut r = TestRepo::new();
    r.commit(
        t(1),
        "hand-made",
        &[(&role_file(A, "web"), Some(&allow(&["s3:GetObject"])))],
    );
    assert!(stats(&r.repo, "HEAD", catalog(), None).unwrap().is_empty());
}

#[test]
fn stats_reports_an_unreadable_file_with_path_and_commit() {
    let mut r = TestRepo::new();
    let web = role_file(A, "web");
    let bad = r.commit(
        t(1),
        &tool_message("sync", A, "1 added"),
        &[(&web, Some("{\"app\": 3}"))],
    );
    let err = stats(&r.repo, "HEAD", catalog(), None).unwrap_err();
    assert!(err.to_string().contains(&web), "{err}");
    assert!(err.to_string().contains(&bad.to_string()), "{err}");
}
