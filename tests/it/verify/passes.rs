//! What passes: removals, and statements moved between a role's policies.

use super::*;

#[test]
fn removal_only_pr_passes() {
    let dir = setup();
    let d = dir.path();
    let mut w = web();
    // Remove an action, a statement and a policy; narrow a resource; add a condition and a Deny;
    // delete a role file.
    w["app"]["Statement"][0]["Action"] = json!(["s3:GetObject"]);
    w["app"]["Statement"][0]["Resource"] = json!("arn:aws:s3:::logs/*");
    w["app"]["Statement"][0]["Condition"] = json!({"Bool": {"aws:SecureTransport": "true"}});
    w["app"]["Statement"].as_array_mut().unwrap()[1] =
        json!({"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"});
    w.as_object_mut().unwrap().remove("extra");
    write_role(d, "web", &w);
    std::fs::remove_file(d.join(role_path("old"))).unwrap();
    commit(d, "remove access");

    let (code, out, err) = verify(d, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("{}: OK (modified)", role_path("web"))),
        "{out}"
    );
    assert!(
        out.contains(&format!("{}: OK (deleted)", role_path("old"))),
        "{out}"
    );
    assert!(
        out.contains("PASS: 2 changed files valid, no access added"),
        "{out}"
    );

    let (code, doc) = verify_json(d, &[]);
    assert_eq!(code, 0);
    assert_eq!(doc["verdict"], "pass");
    assert_eq!(doc["files"].as_array().unwrap().len(), 2);
    assert_eq!(doc["errors"], json!([]));
    assert_eq!(doc["widenings"], json!([]));
}

#[test]
fn moving_a_statement_to_another_policy_of_the_role_passes() {
    let dir = setup();
    let d = dir.path();
    let mut w = web();
    let queue = w["app"]["Statement"].as_array_mut().unwrap().remove(1);
    w["extra"]["Statement"].as_array_mut().unwrap().push(queue);
    let (code, out) = web_pr(d, "move", &w);
    assert_eq!(code, 0, "{out}");
}
