//! Opening a repository, writing many roles as one pack, unborn branches, failed working-tree updates.

use super::*;

#[test]
fn open_searches_upward_and_names_the_path() {
    let (dir, _) = fresh();
    let sub = dir.path().join("a/b");
    std::fs::create_dir_all(&sub).unwrap();
    let store = PolicyStore::open(&sub).unwrap();
    assert_eq!(
        store.root().canonicalize().unwrap(),
        dir.path().canonicalize().unwrap()
    );
    let nowhere = TempDir::new().unwrap();
    let err = PolicyStore::open(nowhere.path()).unwrap_err();
    assert!(
        err.to_string()
            .contains(&nowhere.path().display().to_string()),
        "{err}"
    );
}

#[test]
fn many_roles_are_written_as_one_pack() {
    let (dir, store) = fresh();
    let d = dir.path();
    let many: BTreeMap<String, PolicyMap> = (0..1200)
        .map(|i| {
            (
                format!("role-{i:04}"),
                policy("p", &["s3:GetObject", &format!("sqs:SendMessage{i}")]),
            )
        })
        .collect();
    let w = sync(&store, A1, many.clone()).unwrap();
    assert_eq!(w.added.len(), 1200);
    assert_eq!(status(d), "");
    assert_eq!(store.read_account("HEAD", A1).unwrap(), many);
    let counts = git(d, &["count-objects", "-v"]);
    assert!(counts.starts_with("count: 0\n"), "{counts}");
    assert!(counts.contains("\nin-pack: 1204\n"), "{counts}");
    assert!(counts.contains("\npacks: 1\n"), "{counts}");
    git(d, &["fsck", "--strict", "--no-progress"]);
    // A small change afterwards is written loose, on top.
    let mut fewer = many;
    fewer.remove("role-0000");
    let w = sync(&store, A1, fewer).unwrap();
    assert_eq!(w.removed, ["role-0000"]);
    assert_eq!(status(d), "");
    git(d, &["fsck", "--strict", "--no-progress"]);
}

#[test]
fn an_unborn_checked_out_branch_starts_empty() {
    let (dir, store) = fresh();
    let d = dir.path();
    let branch = store.current_branch().unwrap();
    // It cannot start somewhere else: the index and working tree would not match.
    git(d, &["commit", "-q", "--allow-empty", "-m", "elsewhere"]);
    git(d, &["checkout", "-q", "--orphan", "fresh"]);
    let err = store
        .write_account(&WriteAccount {
            base: Some(branch),
            roles: roles(&[("web", web())]),
            ..WriteAccount::new("fresh", A1)
        })
        .unwrap_err();
    assert!(err.to_string().contains("no commits"), "{err}");
    assert!(file(d, A1, "web").is_none());
    // Without a base it gets a root commit.
    let time = chrono::DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
        .unwrap()
        .to_utc();
    let w = store
        .write_account(&WriteAccount {
            roles: roles(&[("web", web())]),
            time: Some(time),
            ..WriteAccount::new("fresh", A1)
        })
        .unwrap()
        .unwrap();
    assert_eq!(git(d, &["rev-list", "--count", "fresh"]).trim(), "1");
    assert_eq!(
        git(d, &["log", "-1", "--format=%at %ct"]).trim(),
        "1767323045 1767323045"
    );
    assert_eq!(head(d), w.commit.to_string());
    assert_eq!(status(d), "");
}

#[test]
fn a_failed_working_tree_update_is_reported_after_the_commit() {
    let (dir, store) = fresh();
    let d = dir.path();
    std::fs::write(d.join(".gitignore"), "*.tmp\n").unwrap();
    git(d, &["add", ".gitignore"]);
    git(d, &["commit", "-q", "-m", "ignore"]);
    sync(&store, A1, roles(&[("web", web())])).unwrap();
    // Something git does not report (an ignored file) sits where the new role's file must go.
    let blocker = d.join("policies").join(A1).join("new.json");
    std::fs::create_dir_all(&blocker).unwrap();
    std::fs::write(blocker.join("x.tmp"), "").unwrap();
    let before = head(d);
    let err = sync_err(&store, A1, roles(&[("web", web()), ("new", batch())]));
    let msg = err.to_string();
    assert!(msg.contains("committed "), "{msg}");
    assert!(
        msg.contains(&format!(
            "git restore --source=HEAD --staged --worktree -- policies/{A1}"
        )),
        "{msg}"
    );
    // The commit stands; the recovery command given works once the obstacle is gone.
    assert_eq!(git(d, &["rev-parse", "HEAD~1"]).trim(), before);
    std::fs::remove_dir_all(&blocker).unwrap();
    git(
        d,
        &[
            "restore",
            "--source=HEAD",
            "--staged",
            "--worktree",
            "--",
            &format!("policies/{A1}"),
        ],
    );
    assert_eq!(status(d), "");
    assert_eq!(file(d, A1, "new").unwrap(), to_canonical_json(&batch()));
}
