//! The git policy store against real repositories: libgit2 writes, the `git` command line checks
//! (status, log, trailers), as a user would see them.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use git2::Repository;
use repokid::engine::policy::{PolicyMap, parse_policy_map, to_canonical_json};
use repokid::store::git::{
    PolicyStore, WriteAccount, WriteMode, Written, commit_action, parse_trailers,
};
use repokid::store::{Action, StoreError};
use tempfile::TempDir;

const A1: &str = "123456789012";
const A2: &str = "210987654321";

/// Runs `git` in `dir` and returns its standard output; panics with its error output on failure.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A fresh repository (unborn `HEAD`) and a store on it.
fn fresh() -> (TempDir, PolicyStore) {
    let dir = TempDir::new().unwrap();
    Repository::init(dir.path()).unwrap();
    let store = PolicyStore::open(dir.path()).unwrap();
    (dir, store)
}

/// A policy map with one policy `name` allowing `actions` on everything.
fn policy(name: &str, actions: &[&str]) -> PolicyMap {
    let actions: Vec<String> = actions.iter().map(|a| format!("\"{a}\"")).collect();
    let text = format!(
        r#"{{"{name}": {{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Action": [{}], "Resource": "*"}}]}}}}"#,
        actions.join(", ")
    );
    parse_policy_map("test", &text).unwrap()
}

fn roles(items: &[(&str, PolicyMap)]) -> BTreeMap<String, PolicyMap> {
    items
        .iter()
        .map(|(n, m)| (n.to_string(), m.clone()))
        .collect()
}

fn sync(store: &PolicyStore, account: &str, roles: BTreeMap<String, PolicyMap>) -> Option<Written> {
    store
        .write_account(&WriteAccount {
            mode: WriteMode::ReplaceAll,
            action: Action::Sync,
            roles,
            ..WriteAccount::new(store.current_branch().unwrap(), account)
        })
        .unwrap()
}

fn sync_err(store: &PolicyStore, account: &str, roles: BTreeMap<String, PolicyMap>) -> StoreError {
    store
        .write_account(&WriteAccount {
            mode: WriteMode::ReplaceAll,
            roles,
            ..WriteAccount::new(store.current_branch().unwrap(), account)
        })
        .unwrap_err()
}

fn head(dir: &Path) -> String {
    git(dir, &["rev-parse", "HEAD"]).trim().to_string()
}

fn status(dir: &Path) -> String {
    git(dir, &["status", "--porcelain", "--untracked-files=all"])
}

fn file(dir: &Path, account: &str, role: &str) -> Option<String> {
    std::fs::read_to_string(
        dir.join("policies")
            .join(account)
            .join(format!("{role}.json")),
    )
    .ok()
}

/// Every loose and packed object file, to show nothing was written.
fn object_count(dir: &Path) -> usize {
    fn walk(p: &Path) -> usize {
        std::fs::read_dir(p)
            .map(|rd| {
                rd.flatten()
                    .map(|e| {
                        if e.path().is_dir() {
                            walk(&e.path())
                        } else {
                            1
                        }
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    walk(&dir.join(".git/objects"))
}

fn web() -> PolicyMap {
    policy("s3", &["s3:GetObject", "s3:PutObject"])
}

fn batch() -> PolicyMap {
    policy("sqs", &["sqs:ReceiveMessage"])
}

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

#[test]
fn writing_another_branch_leaves_head_and_the_working_tree_alone() {
    let (dir, store) = fresh();
    let d = dir.path();
    sync(&store, A1, roles(&[("web", web())])).unwrap();
    let main = store.current_branch().unwrap();
    let before = head(d);
    let web_file = file(d, A1, "web").unwrap();

    let smaller = policy("s3", &["s3:GetObject"]);
    let request = WriteAccount {
        mode: WriteMode::Upsert,
        action: Action::Repo,
        roles: roles(&[("web", smaller.clone()), ("batch", batch())]),
        extra_trailers: vec![("Repokid-Removed-Actions".to_string(), "1".to_string())],
        ..WriteAccount::new(format!("repokid/{A1}"), A1)
    };
    let w = store.write_account(&request).unwrap().unwrap();
    assert_eq!(w.added, ["batch"]);
    assert_eq!(w.changed, ["web"]);

    assert_eq!(head(d), before);
    assert_eq!(store.current_branch().unwrap(), main);
    assert_eq!(file(d, A1, "web").unwrap(), web_file);
    assert!(file(d, A1, "batch").is_none());
    assert_eq!(status(d), "");
    let branch = format!("repokid/{A1}");
    assert_eq!(
        git(d, &["rev-parse", &format!("{branch}~1")]).trim(),
        before
    );
    assert_eq!(
        store.read_account(&branch, A1).unwrap(),
        roles(&[("web", smaller), ("batch", batch())])
    );
    assert_eq!(
        git(
            d,
            &[
                "log",
                "-1",
                "--format=%(trailers:key=Repokid-Removed-Actions,valueonly)",
                &branch
            ]
        )
        .trim(),
        "1"
    );

    // Again: nothing to do; then a change on top of the branch's own tip.
    assert_eq!(store.write_account(&request).unwrap(), None);
    let tip = git(d, &["rev-parse", &branch]).trim().to_string();
    let again = WriteAccount {
        roles: roles(&[("batch", web())]),
        ..request.clone()
    };
    let w2 = store.write_account(&again).unwrap().unwrap();
    assert_eq!(git(d, &["rev-parse", &format!("{branch}~1")]).trim(), tip);
    assert_eq!(w2.changed, ["batch"]);
    assert_eq!(head(d), before);
    assert_eq!(status(d), "");
}

#[test]
fn a_new_branch_starts_at_its_base() {
    let (dir, store) = fresh();
    let d = dir.path();
    sync(&store, A1, roles(&[("web", web())])).unwrap();
    let first = head(d);
    sync(&store, A1, roles(&[("web", web()), ("batch", batch())])).unwrap();
    let w = store
        .write_account(&WriteAccount {
            base: Some(first.clone()),
            roles: roles(&[("other", batch())]),
            ..WriteAccount::new("from-first", A1)
        })
        .unwrap()
        .unwrap();
    assert_eq!(git(d, &["rev-parse", "from-first~1"]).trim(), first);
    assert_eq!(w.added, ["other"]);
    assert_eq!(
        store.read_account("from-first", A1).unwrap(),
        roles(&[("web", web()), ("other", batch())])
    );
}

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
