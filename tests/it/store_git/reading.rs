//! Reading at a revision, bad files named, the canonical form on disk, bare repositories and detached heads.

use super::*;

#[test]
fn read_account_at_a_commit_and_tag_without_the_working_tree() {
    let (dir, store) = fresh();
    let d = dir.path();
    let w1 = sync(&store, A1, roles(&[("web", web())])).unwrap();
    git(d, &["tag", "v1"]);
    sync(&store, A1, roles(&[("web", batch()), ("batch", batch())])).unwrap();
    // The working tree says something else again; reads ignore it.
    std::fs::write(d.join("policies").join(A1).join("web.json"), "not json").unwrap();

    let at_first = roles(&[("web", web())]);
    assert_eq!(
        store.read_account(&w1.commit.to_string(), A1).unwrap(),
        at_first
    );
    assert_eq!(store.read_account("v1", A1).unwrap(), at_first);
    assert_eq!(store.read_account("HEAD~1", A1).unwrap(), at_first);
    assert_eq!(
        store.read_account("HEAD", A1).unwrap(),
        roles(&[("web", batch()), ("batch", batch())])
    );
    assert_eq!(store.read_role("v1", A1, "web").unwrap(), Some(web()));
    assert_eq!(store.read_role("v1", A1, "batch").unwrap(), None);
    assert!(store.read_account("HEAD", A2).unwrap().is_empty());
    let err = store.read_account("no-such-branch", A1).unwrap_err();
    assert!(err.to_string().contains("no-such-branch"), "{err}");
}

#[test]
fn bad_files_are_named() {
    let (dir, store) = fresh();
    let d = dir.path();
    sync(&store, A1, roles(&[("web", web())])).unwrap();
    std::fs::write(
        d.join("policies").join(A1).join("broken.json"),
        "{\"p\": 1}\n",
    )
    .unwrap();
    git(d, &["add", "-A"]);
    git(d, &["commit", "-q", "-m", "hand edit"]);
    match store.read_account("HEAD", A1) {
        Err(e @ StoreError::BadFile { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains(&format!("policies/{A1}/broken.json at HEAD")),
                "{msg}"
            );
        }
        other => panic!("expected BadFile, got {other:?}"),
    }
    git(d, &["rm", "-q", &format!("policies/{A1}/broken.json")]);
    std::fs::write(d.join("policies").join(A1).join("notes.txt"), "hi\n").unwrap();
    git(d, &["add", "-A"]);
    git(d, &["commit", "-q", "-m", "notes"]);
    let err = store.read_account("HEAD", A1).unwrap_err();
    assert!(err.to_string().contains("notes.txt"), "{err}");
    // A sync would have to delete the file it does not understand: refused, nothing written.
    let before = head(d);
    assert!(
        store
            .write_account(&WriteAccount {
                mode: WriteMode::ReplaceAll,
                roles: roles(&[("web", batch())]),
                ..WriteAccount::new(store.current_branch().unwrap(), A1)
            })
            .is_err()
    );
    assert_eq!(head(d), before);
    // A directory under policies/ that is not an account.
    std::fs::create_dir_all(d.join("policies/not-an-account")).unwrap();
    std::fs::write(d.join("policies/not-an-account/x.json"), "{}\n").unwrap();
    git(d, &["add", "-A"]);
    git(d, &["commit", "-q", "-m", "junk"]);
    assert!(store.accounts("HEAD").is_err());
}

#[test]
fn canonical_form_on_disk() {
    let (dir, store) = fresh();
    let d = dir.path();
    // Written out of order, with odd spacing; the file is canonical.
    let map = parse_policy_map(
        "test",
        r#"{"zeta": {"Version": "2012-10-17", "Statement": {"Sid": "B", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}},
            "alpha":   {"Statement": [{"Effect": "Allow", "Resource": ["*"], "Action": ["ec2:DescribeInstances"]}], "Version": "2012-10-17"}}"#,
    )
    .unwrap();
    sync(&store, A1, roles(&[("web", map)])).unwrap();
    let expected = r#"{
  "alpha": {
    "Statement": [
      {
        "Effect": "Allow",
        "Resource": [
          "*"
        ],
        "Action": [
          "ec2:DescribeInstances"
        ]
      }
    ],
    "Version": "2012-10-17"
  },
  "zeta": {
    "Version": "2012-10-17",
    "Statement": {
      "Sid": "B",
      "Effect": "Allow",
      "Action": "s3:GetObject",
      "Resource": "*"
    }
  }
}
"#;
    assert_eq!(file(d, A1, "web").unwrap(), expected);
    assert_eq!(
        git(d, &["show", &format!("HEAD:policies/{A1}/web.json")]),
        expected
    );
    // The empty map is a real state, written as `{}`.
    sync(&store, A1, roles(&[("web", PolicyMap::new())])).unwrap();
    assert_eq!(file(d, A1, "web").unwrap(), "{}\n");
}

#[test]
fn bare_repositories_change_by_objects_and_refs() {
    let dir = TempDir::new().unwrap();
    Repository::init_bare(dir.path()).unwrap();
    let store = PolicyStore::open(dir.path()).unwrap();
    let w = sync(&store, A1, roles(&[("web", web())])).unwrap();
    assert_eq!(w.added, ["web"]);
    assert_eq!(
        store.read_account("HEAD", A1).unwrap(),
        roles(&[("web", web())])
    );
    assert!(!dir.path().join("policies").exists());
}

#[test]
fn a_detached_head_is_not_written_through() {
    let (dir, store) = fresh();
    let d = dir.path();
    sync(&store, A1, roles(&[("web", web())])).unwrap();
    let branch = store.current_branch().unwrap();
    git(d, &["checkout", "-q", "--detach"]);
    assert!(store.current_branch().is_err());
    let before = head(d);
    store
        .write_account(&WriteAccount {
            roles: roles(&[("batch", batch())]),
            ..WriteAccount::new(branch.clone(), A1)
        })
        .unwrap()
        .unwrap();
    assert_eq!(head(d), before);
    assert_eq!(status(d), "");
    assert!(file(d, A1, "batch").is_none());
    assert_eq!(store.read_account(&branch, A1).unwrap().len(), 2);
}
