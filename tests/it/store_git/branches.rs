//! Writing another branch leaves HEAD and the working tree alone; a new branch starts at its base.

use super::*;

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
