//! What fails: anything that may grant more, named by a request it would allow.

use super::*;

#[test]
fn adding_one_action_fails_and_names_a_request() {
    let dir = setup();
    let d = dir.path();
    let mut w = web();
    w["app"]["Statement"][0]["Action"] = json!(["s3:GetObject", "s3:ListBucket", "s3:PutObject"]);
    write_role(d, "web", &w);
    commit(d, "add s3:PutObject");
    let line = line_of(d, "web", "\"Sid\": \"Read\"") - 1;

    let (code, out, err) = verify(d, &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains(&format!(
            "{}: role {ACCT}/web gains access: 1 finding; 1 action it had nowhere before (s3:PutObject)",
            role_path("web")
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "  line {line}: head allows s3:PutObject on *; base allowed it nowhere"
        )),
        "{out}"
    );
    assert!(
        out.contains("FAIL: 1 role gains access without the label \"repokid:adds-access\""),
        "{out}"
    );

    let (code, doc) = verify_json(d, &[]);
    assert_eq!(code, 1);
    assert_eq!(doc["verdict"], "fail");
    let w = widening(&doc, "web");
    assert_eq!(w["account"], ACCT);
    assert_eq!(w["new_role"], false);
    assert_eq!(w["origin"]["kind"], "change");
    assert_eq!(w["added_actions"], 1);
    assert_eq!(w["added_sample"], json!(["s3:PutObject"]));
    let f = &w["findings"][0];
    assert_eq!(f["kind"], "allow");
    assert_eq!(f["policy"], "app");
    assert_eq!(f["statement"], 0);
    assert_eq!(f["sid"], "Read");
    assert_eq!(f["line"], line);
    assert_eq!(
        f["request"],
        json!({"action": "s3:PutObject", "resource": "*"})
    );
}

#[test]
fn widening_a_resource_or_a_condition_fails_although_no_action_is_new() {
    let dir = setup();
    let d = dir.path();
    // main: web's S3 statement narrowed to one bucket with a condition.
    let mut narrow = web();
    narrow["app"]["Statement"][0]["Resource"] = json!("arn:aws:s3:::logs/*");
    narrow["app"]["Statement"][0]["Condition"] =
        json!({"StringEquals": {"aws:SourceVpc": "vpc-1"}});
    git(d, &["checkout", "-q", "main"]);
    write_role(d, "web", &narrow);
    commit(d, "narrow");

    let mut wide = narrow.clone();
    wide["app"]["Statement"][0]["Resource"] = json!("arn:aws:s3:::*");
    let (code, out) = web_pr(d, "resource", &wide);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "head allows s3:GetObject on arn:aws:s3:::* (2 actions like this); base allowed it \
             only on arn:aws:s3:::logs/*"
        ),
        "{out}"
    );
    assert!(out.contains("gains access: 1 finding\n"), "{out}");

    let mut loose = narrow.clone();
    loose["app"]["Statement"][0]["Condition"] =
        json!({"StringEquals": {"aws:SourceVpc": ["vpc-1", "vpc-2"]}});
    let (code, out) = web_pr(d, "condition", &loose);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "only with Condition StringEquals aws:SourceVpc [\"vpc-1\"], which head does not require"
        ),
        "{out}"
    );
}

#[test]
fn weakening_a_deny_fails() {
    let dir = setup();
    let d = dir.path();
    let line_of_policy = |d: &Path| line_of(d, "worker", "\"ops\"");
    for (name, deny) in [
        ("removed", None),
        (
            "narrowed",
            Some(
                json!({"Effect": "Deny", "Action": "iam:DeleteRole", "Resource": "arn:aws:iam::*:role/x"}),
            ),
        ),
        (
            "conditional",
            Some(
                json!({"Effect": "Deny", "Action": "iam:DeleteRole", "Resource": "*", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}}),
            ),
        ),
    ] {
        branch(d, name);
        let mut w = worker();
        let statements = w["ops"]["Statement"].as_array_mut().unwrap();
        statements.pop();
        if let Some(deny) = deny {
            statements.push(deny);
        }
        write_role(d, "worker", &w);
        commit(d, name);
        let (code, doc) = verify_json(d, &[]);
        assert_eq!(code, 1, "{name}: {doc}");
        let f = &widening(&doc, "worker")["findings"][0];
        assert_eq!(f["kind"], "deny", "{name}");
        assert_eq!(f["line"], line_of_policy(d), "{name}");
        assert!(
            f["message"]
                .as_str()
                .unwrap()
                .starts_with("base denied iam:DeleteRole on *; head "),
            "{name}: {f}"
        );
    }
}

#[test]
fn wildcards_and_not_action_are_judged_by_what_they_may_grant() {
    let dir = setup();
    let d = dir.path();
    // sqs:Send* is exactly sqs:SendMessage in the catalog today, but matches actions AWS adds.
    let mut w = web();
    w["app"]["Statement"][1]["Action"] = json!(["sqs:Send*", "sqs:GetQueueUrl"]);
    let (code, out) = web_pr(d, "send-star", &w);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "head allows sqs:send* on *; base allowed it nowhere (sqs:send* also matches actions \
             the catalog does not list yet (AWS adds actions))"
        ),
        "{out}"
    );

    // NotAction: most of the catalog at once.
    git(d, &["checkout", "-q", "main"]);
    branch(d, "not-action");
    let mut w = worker();
    let st = w["ops"]["Statement"][0].as_object_mut().unwrap();
    st.remove("Action");
    st.insert("NotAction".into(), json!("iam:*"));
    write_role(d, "worker", &w);
    commit(d, "NotAction");
    let (code, doc) = verify_json(d, &[]);
    assert_eq!(code, 1);
    let w = widening(&doc, "worker");
    assert!(w["added_actions"].as_u64().unwrap() > 10_000, "{w}");
    assert!(w["added_sample"].as_array().unwrap().len() <= 20);
    let f = &w["findings"][0];
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("actions like this); base allowed it nowhere"),
        "{f}"
    );
}

#[test]
fn a_new_statement_policy_or_role_fails() {
    let dir = setup();
    let d = dir.path();
    // A new statement.
    let mut w = web();
    w["extra"]["Statement"]
        .as_array_mut()
        .unwrap()
        .push(json!({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "arn:aws:kms:*:*:key/x", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}));
    write_role(d, "web", &w);
    commit(d, "statement");
    // A new policy.
    branch(d, "new-policy");
    let mut w = web();
    w["dynamo"] = json!({"Statement": [{"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": "*"}]});
    write_role(d, "web", &w);
    commit(d, "policy");
    // A new role file, and a renamed one.
    branch(d, "new-role");
    write_role(
        d,
        "batch",
        &json!({"run": {"Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"}]}}),
    );
    commit(d, "role");
    branch(d, "renamed");
    git(d, &["mv", &role_path("old"), &role_path("older")]);
    commit(d, "rename");

    for (head, role, action, new_role) in [
        ("pr", "web", "kms:Decrypt", false),
        ("new-policy", "web", "dynamodb:GetItem", false),
        ("new-role", "batch", "lambda:InvokeFunction", true),
        ("renamed", "older", "sns:Publish", true),
    ] {
        let (code, doc) = verify_json(d, &["--head", head]);
        assert_eq!(code, 1, "{head}: {doc}");
        let w = widening(&doc, role);
        assert_eq!(w["added_sample"], json!([action]), "{head}");
        assert_eq!(w["new_role"], new_role, "{head}");
        assert_eq!(w["findings"][0]["request"]["action"], action, "{head}");
    }
    let (_, out, _) = verify(d, &["--head", "new-role"]);
    assert!(
        out.contains(&format!("role {ACCT}/batch (new role) gains access")),
        "{out}"
    );
}

#[test]
fn an_unknown_action_is_new_unless_a_base_entry_matches_it() {
    let dir = setup();
    let d = dir.path();
    let mut w = web();
    w["app"]["Statement"][0]["Action"] =
        json!(["s3:GetObject", "s3:ListBucket", "s3:GetObjectFromTheFuture"]);
    let (code, out) = web_pr(d, "unknown", &w);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("head allows s3:getobjectfromthefuture on *; base allowed it nowhere (s3:getobjectfromthefuture is not in the catalog)"),
        "{out}"
    );

    // Once the base has s3:*, a new unknown s3 action adds nothing.
    branch(d, "s3-star");
    let mut w = web();
    w["app"]["Statement"][0]["Action"] = json!("s3:*");
    write_role(d, "web", &w);
    commit(d, "s3:*");
    git(d, &["checkout", "-q", "main"]);
    git(d, &["merge", "-q", "--ff-only", "s3-star"]);
    let mut w = web();
    w["app"]["Statement"][0]["Action"] = json!(["s3:*", "s3:GetObjectFromTheFuture"]);
    let (code, out) = web_pr(d, "future", &w);
    assert_eq!(code, 0, "{out}");
}
