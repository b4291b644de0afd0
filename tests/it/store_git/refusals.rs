//! What the store refuses: a dirty account directory, invalid names.

use super::*;

#[test]
fn dirty_account_directory_is_refused() {
    let (dir, store) = fresh();
    let d = dir.path();
    sync(&store, A1, roles(&[("web", web()), ("batch", batch())])).unwrap();
    let before = head(d);
    let web_path = d.join("policies").join(A1).join("web.json");
    let changed = roles(&[("web", batch()), ("batch", web())]);

    let expect_dirty = |what: &str| {
        let objects = object_count(d);
        match store.write_account(&WriteAccount {
            mode: WriteMode::ReplaceAll,
            roles: changed.clone(),
            ..WriteAccount::new(store.current_branch().unwrap(), A1)
        }) {
            Err(StoreError::Dirty { path }) => {
                assert!(path.ends_with(&format!("policies/{A1}")), "{what}: {path}");
            }
            other => panic!("{what}: expected Dirty, got {other:?}"),
        }
        assert_eq!(head(d), before, "{what}");
        assert_eq!(object_count(d), objects, "{what}: no objects written");
    };

    // Unstaged.
    std::fs::write(&web_path, "{}\n").unwrap();
    expect_dirty("unstaged edit");
    assert_eq!(std::fs::read_to_string(&web_path).unwrap(), "{}\n");
    assert_eq!(file(d, A1, "batch").unwrap(), to_canonical_json(&batch()));
    // Staged.
    git(d, &["add", "-A"]);
    expect_dirty("staged edit");
    git(d, &["reset", "-q", "--hard"]);
    // Untracked.
    std::fs::write(d.join("policies").join(A1).join("notes.txt"), "hi").unwrap();
    expect_dirty("untracked file");
    std::fs::remove_file(d.join("policies").join(A1).join("notes.txt")).unwrap();
    // Deleted.
    std::fs::remove_file(&web_path).unwrap();
    expect_dirty("deleted file");
    git(d, &["checkout", "--", "."]);
    assert_eq!(status(d), "");

    // Another git process holding the index.
    std::fs::write(d.join(".git/index.lock"), "").unwrap();
    let err = sync_err(&store, A1, changed.clone());
    assert!(err.to_string().contains("index.lock"), "{err}");
    assert_eq!(head(d), before);
    std::fs::remove_file(d.join(".git/index.lock")).unwrap();

    // Changes elsewhere are no obstacle, and survive (staged stays staged, out of the commit).
    std::fs::write(d.join("README.md"), "readme\n").unwrap();
    git(d, &["add", "README.md"]);
    std::fs::write(d.join("notes.txt"), "mine\n").unwrap();
    std::fs::create_dir_all(d.join("policies").join(A2)).unwrap();
    std::fs::write(d.join("policies").join(A2).join("x.json"), "{}\n").unwrap();
    let w = sync(&store, A1, changed.clone()).unwrap();
    assert_eq!(w.changed, ["batch", "web"]);
    assert_eq!(
        status(d),
        format!("A  README.md\n?? notes.txt\n?? policies/{A2}/x.json\n")
    );
    assert_eq!(
        git(d, &["show", "--name-only", "--format=", "HEAD"]),
        format!("policies/{A1}/batch.json\npolicies/{A1}/web.json\n")
    );
    // The index is consistent: the user's next commit contains their change and nothing else.
    git(d, &["commit", "-q", "-m", "readme"]);
    assert_eq!(
        git(d, &["diff", "--name-only", "HEAD~1", "HEAD"]),
        "README.md\n"
    );
}

#[test]
fn invalid_names_write_nothing() {
    let (dir, store) = fresh();
    let d = dir.path();
    sync(&store, A1, roles(&[("web", web())])).unwrap();
    let before = head(d);
    let objects = object_count(d);
    let branch = store.current_branch().unwrap();
    let cases: Vec<(&str, WriteAccount)> = vec![
        (
            "role ..",
            WriteAccount {
                roles: roles(&[("ok", batch()), ("..", batch())]),
                ..WriteAccount::new(branch.clone(), A1)
            },
        ),
        (
            "role a/b",
            WriteAccount {
                roles: roles(&[("a/b", batch()), ("z", batch())]),
                ..WriteAccount::new(branch.clone(), A1)
            },
        ),
        (
            "11-digit account",
            WriteAccount {
                roles: roles(&[("ok", batch())]),
                ..WriteAccount::new(branch.clone(), "12345678901")
            },
        ),
        (
            "account ../x",
            WriteAccount {
                roles: roles(&[("ok", batch())]),
                ..WriteAccount::new(branch.clone(), "../123456789")
            },
        ),
        (
            "policy name",
            WriteAccount {
                roles: roles(&[("ok", policy("bad/name", &["s3:GetObject"]))]),
                ..WriteAccount::new(branch.clone(), A1)
            },
        ),
        (
            "branch name",
            WriteAccount {
                roles: roles(&[("ok", batch())]),
                ..WriteAccount::new("bad..branch", A1)
            },
        ),
        (
            "trailer",
            WriteAccount {
                roles: roles(&[("ok", batch())]),
                extra_trailers: vec![("Key".into(), "two\nlines".into())],
                ..WriteAccount::new(branch.clone(), A1)
            },
        ),
    ];
    for (what, req) in cases {
        let err = store.write_account(&req).unwrap_err();
        if what != "branch name" && what != "trailer" {
            assert!(matches!(err, StoreError::Name(_)), "{what}: {err}");
        }
        assert_eq!(head(d), before, "{what}");
        assert_eq!(object_count(d), objects, "{what}");
        assert_eq!(status(d), "", "{what}");
        assert!(
            !d.join("policies").join(A1).join("ok.json").exists(),
            "{what}"
        );
    }
    assert!(!d.join("policies/a").exists());
    assert!(!d.join("policies").join("12345678901").exists());
    assert!(matches!(
        store.read_account("HEAD", "12345678901"),
        Err(StoreError::Name(_))
    ));
}
