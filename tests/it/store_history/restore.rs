//! `restore`: a whole version, or one service's missing actions.

use super::*;

/// Versions of web: t(1) broad (two policies, conditions, a Deny), t(2) narrowed, t(3) deleted,
/// t(4) back, narrow.
fn restore_history() -> (TestRepo, Vec<RoleVersion>) {
    let mut r = TestRepo::new();
    let web = role_file(A, "web");
    let broad = r#"{
  "app": {
    "Version": "2012-10-17",
    "Statement": [
      {"Sid": "Data", "Effect": "Allow",
       "Action": ["s3:GetObject", "s3:PutObject", "ec2:DescribeInstances"],
       "Resource": "arn:aws:s3:::bucket/*",
       "Condition": {"Bool": {"aws:SecureTransport": "true"}}},
      {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::bucket"},
      {"Sid": "NoDelete", "Effect": "Deny", "Action": "s3:Delete*", "Resource": "*"}
    ]
  },
  "admin": {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "All", "Effect": "Allow", "Action": ["s3:*", "s3:FutureAction"], "Resource": "*"}]
  }
}
"#;
    let narrow = r#"{
  "app": {
    "Version": "2012-10-17",
    "Statement": [
      {"Sid": "Data", "Effect": "Allow", "Action": ["s3:GetObject", "ec2:DescribeInstances"],
       "Resource": "arn:aws:s3:::bucket/*"}
    ]
  }
}
"#;
    r.commit(
        t(1),
        &tool_message("sync", A, "1 added"),
        &[(&web, Some(broad))],
    );
    r.commit(
        t(2),
        &tool_message("repo", A, "1 changed"),
        &[(&web, Some(narrow))],
    );
    r.commit(t(3), &tool_message("sync", A, "1 removed"), &[(&web, None)]);
    r.commit(
        t(4),
        &tool_message("sync", A, "1 added"),
        &[(&web, Some(narrow))],
    );
    let v = versions(&r, "web");
    assert_eq!(v.len(), 4);
    (r, v)
}

#[test]
fn restore_a_whole_version() {
    let (_r, v) = restore_history();
    let current = v[0].policies.clone().unwrap();
    let out = restore(&v, &current, 3, None, catalog()).unwrap();
    assert_eq!(Some(&out.policies), v[3].policies.as_ref());
    assert!(out.goes_away.is_empty());
    assert!(out.comes_back.contains(&"s3:PutObject".to_string()));
    assert!(out.comes_back.contains(&"s3:ListBucket".to_string()));
    assert!(out.comes_back.contains(&"s3:FutureAction".to_string()));
    assert!(!out.comes_back.contains(&"s3:GetObject".to_string()));
    // Names are canonical and sorted case-insensitively.
    let mut sorted = out.comes_back.clone();
    sorted.sort_by_key(|s| s.to_ascii_lowercase());
    assert_eq!(out.comes_back, sorted);

    // Restoring the narrow version from a broader current state takes access away.
    let broad = v[3].policies.clone().unwrap();
    let out = restore(&v, &broad, 0, None, catalog()).unwrap();
    assert!(out.comes_back.is_empty());
    assert!(out.goes_away.contains(&"s3:PutObject".to_string()));
}

#[test]
fn restore_of_a_deleted_version_or_a_missing_one_is_an_error() {
    let (_r, v) = restore_history();
    let current = v[0].policies.clone().unwrap();
    let err = restore(&v, &current, 1, None, catalog()).unwrap_err();
    assert!(
        err.to_string().contains("that version has no policies"),
        "{err}"
    );
    let err = restore(&v, &current, 9, None, catalog()).unwrap_err();
    assert!(err.to_string().contains("no version 9"), "{err}");
    let err = restore(&v, &current, 3, Some("nosuchservice"), catalog()).unwrap_err();
    assert!(err.to_string().contains("nosuchservice"), "{err}");
}

#[test]
fn restore_by_service_copies_just_the_missing_actions_of_that_service() {
    let (_r, v) = restore_history();
    let current = v[0].policies.clone().unwrap();
    let out = restore(&v, &current, 3, Some("s3"), catalog()).unwrap();

    // Nothing of the current state is lost and no other service comes back.
    assert!(out.goes_away.is_empty());
    assert!(out.comes_back.iter().all(|a| a.starts_with("s3:")));
    assert!(out.comes_back.contains(&"s3:PutObject".to_string()));
    assert!(out.comes_back.contains(&"s3:FutureAction".to_string()));

    let app = &out.policies["app"];
    let sts = app.statements();
    // The current statement stays as written, first.
    assert_eq!(sts[0], current["app"].statements()[0]);
    // Copy of "Data": same Resource and Condition, only the missing s3 action.
    let data = &sts[1];
    assert_eq!(data.sid(), Some("DataRestored"));
    assert_eq!(data.entries(), ["s3:PutObject".to_string()]);
    assert_eq!(
        data.fields()["Resource"],
        serde_json::json!("arn:aws:s3:::bucket/*")
    );
    assert_eq!(
        data.fields()["Condition"],
        serde_json::json!({"Bool": {"aws:SecureTransport": "true"}})
    );
    // The Sid-less statement gets one.
    assert_eq!(sts[2].sid(), Some("Restored"));
    assert_eq!(sts[2].entries(), ["s3:ListBucket".to_string()]);
    assert_eq!(
        sts[2].fields()["Resource"],
        serde_json::json!("arn:aws:s3:::bucket")
    );

    // "admin" did not exist now: created, from the old document, wildcard expanded to the
    // missing actions by canonical name plus the entry the catalog does not know.
    let admin = &out.policies["admin"];
    assert_eq!(admin.statements().len(), 1);
    let all = &admin.statements()[0];
    assert_eq!(all.sid(), Some("AllRestored"));
    assert!(all.entries().contains(&"s3:DeleteBucket".to_string()));
    assert!(all.entries().contains(&"s3:FutureAction".to_string()));
    assert!(!all.entries().contains(&"s3:GetObject".to_string()));
    assert_eq!(
        all.entries().len(),
        catalog().service("s3").unwrap().actions.len() - 1 + 1
    );
    assert_eq!(admin.to_value()["Version"], "2012-10-17");

    // The old Deny comes back narrowed to the restored actions it covered, so s3:Delete* stays
    // denied as it was in that version.
    let deny = sts
        .iter()
        .find(|s| s.effect() == Effect::Deny)
        .expect("the Deny is restored");
    assert_eq!(deny.sid(), Some("NoDeleteRestored"));
    assert!(
        deny.entries()
            .iter()
            .all(|a| a.to_ascii_lowercase().starts_with("s3:delete"))
    );
    assert!(deny.entries().contains(&"s3:DeleteBucket".to_string()));
    assert_eq!(deny.fields()["Resource"], serde_json::json!("*"));
}

#[test]
fn restore_by_service_never_grants_what_the_version_did_not() {
    let (_r, v) = restore_history();
    // Current grants ec2 and lambda; the old version s3 and ec2.
    let current = map(r#"{"app": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": "*"}]}}"#);
    for service in ["s3", "ec2", "lambda", "sqs"] {
        let out = restore(&v, &current, 3, Some(service), catalog()).unwrap();
        let old = repokid::engine::grants::analyze(v[3].policies.as_ref().unwrap(), catalog());
        for name in &out.comes_back {
            let granted_then = catalog()
                .lookup(name)
                .map(|id| old.all.contains(id))
                .unwrap_or_else(|| old.unknown.contains_key(&name.to_ascii_lowercase()));
            assert!(granted_then, "{service}: {name} was not granted then");
            assert!(
                name.to_ascii_lowercase()
                    .starts_with(&format!("{service}:"))
            );
        }
        assert!(out.goes_away.is_empty());
    }
    // ec2:DescribeInstances comes back under the old statement's Resource.
    let out = restore(&v, &current, 3, Some("EC2"), catalog()).unwrap();
    assert_eq!(out.comes_back, vec!["ec2:DescribeInstances".to_string()]);
    let copy = out.policies["app"].statements().last().unwrap().clone();
    assert_eq!(copy.sid(), Some("DataRestored"));
    assert_eq!(
        copy.fields()["Resource"],
        serde_json::json!("arn:aws:s3:::bucket/*")
    );
    // Nothing missing: unchanged.
    let out = restore(&v, &current, 3, Some("lambda"), catalog()).unwrap();
    assert_eq!(out.policies, current);
    assert!(out.comes_back.is_empty());
}

#[test]
fn restored_sids_stay_unique() {
    let (_r, v) = restore_history();
    let current = map(r#"{"app": {"Version": "2012-10-17", "Statement": [
            {"Sid": "DataRestored", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}]}}"#);
    let out = restore(&v, &current, 3, Some("s3"), catalog()).unwrap();
    let sids: Vec<Option<&str>> = out.policies["app"]
        .statements()
        .iter()
        .map(|s| s.sid())
        .collect();
    assert_eq!(sids[0], Some("DataRestored"));
    assert_eq!(sids[1], Some("DataRestored2"));
}
