//! `repokid verify` on real branches: a pull request branch made with the git CLI is checked
//! against its base branch.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use crate::common::{git, new_repo};
use serde_json::{Value, json};

const ACCT: &str = "111122223333";

/// Runs `repokid` in `dir` with every GitHub variable removed, then `env` set.
fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_repokid"));
    cmd.current_dir(dir)
        .args(args)
        .env_remove("REPOKID_LOG")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("GITHUB_EVENT_PATH")
        .env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn verify(dir: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["verify", "--base", "main"];
    args.extend_from_slice(extra);
    run(dir, &args, &[])
}

fn verify_json(dir: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["--format", "json", "verify", "--base", "main"];
    args.extend_from_slice(extra);
    let (code, out, err) = run(dir, &args, &[]);
    let doc: Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\nstderr: {err}"));
    assert_eq!(doc["version"], 2);
    (code, doc)
}

fn role_path(role: &str) -> String {
    format!("policies/{ACCT}/{role}.json")
}

fn write_text(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn write_role(dir: &Path, role: &str, policies: &Value) {
    let mut text = serde_json::to_string_pretty(policies).unwrap();
    text.push('\n');
    write_text(dir, &role_path(role), &text);
}

fn read_role(dir: &Path, role: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join(role_path(role))).unwrap()).unwrap()
}

fn commit(dir: &Path, message: &str) {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", message]);
}

/// Starts a pull request branch `name` from `main`.
fn branch(dir: &Path, name: &str) {
    git(dir, &["checkout", "-q", "main"]);
    git(dir, &["checkout", "-q", "-b", name]);
}

/// 1-based line of the first line of the role file containing `needle`.
fn line_of(dir: &Path, role: &str, needle: &str) -> usize {
    let text = std::fs::read_to_string(dir.join(role_path(role))).unwrap();
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

fn web() -> Value {
    json!({
        "app": {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"},
                {"Sid": "Queue", "Effect": "Allow", "Action": ["sqs:SendMessage", "sqs:GetQueueUrl"], "Resource": "*"}
            ]
        },
        "extra": {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"}]
        }
    })
}

fn worker() -> Value {
    json!({
        "ops": {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["iam:GetRole", "iam:ListRoles"], "Resource": "*"},
                {"Effect": "Deny", "Action": "iam:DeleteRole", "Resource": "*"}
            ]
        }
    })
}

/// A repository whose `main` holds roles `web`, `worker` and `old`, on branch `pr` (= main).
fn setup() -> tempfile::TempDir {
    let dir = new_repo();
    let d = dir.path();
    write_text(d, "README.md", "policies\n");
    write_role(d, "web", &web());
    write_role(d, "worker", &worker());
    write_role(
        d,
        "old",
        &json!({"legacy": {"Statement": [{"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"}]}}),
    );
    commit(d, "base");
    git(d, &["checkout", "-q", "-b", "pr"]);
    dir
}

/// The `widenings` entry of the JSON report for `role`.
fn widening<'a>(doc: &'a Value, role: &str) -> &'a Value {
    doc["widenings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["role"] == role)
        .unwrap_or_else(|| panic!("no widening for {role}: {doc}"))
}

/// Commits `w` as role `web` on a new branch `name` from main, and verifies it.
fn web_pr(d: &Path, name: &str, w: &Value) -> (i32, String) {
    branch(d, name);
    write_role(d, "web", w);
    commit(d, name);
    let (code, out, err) = verify(d, &[]);
    (code, format!("{out}{err}"))
}

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

#[test]
fn malformed_files_fail_with_file_and_line() {
    let dir = setup();
    let d = dir.path();
    let text = "{\n  \"app\": {\n    \"Statement\": [\n      {\"Effect\": \"Allow\", \"Action\": \"s3:GetObject\", \"Resource\": \"*\"},\n    ]\n  }\n}\n";
    write_text(d, &role_path("web"), text);
    // Trailing comma on line 4: serde_json notices at the `]` of line 5.
    commit(d, "trailing comma");
    let (code, out, err) = verify(d, &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains(&format!(
            "{}:5:5: invalid JSON: trailing comma",
            role_path("web")
        )),
        "{out}"
    );
    assert!(out.contains("FAIL: 1 problem"), "{out}");

    // A duplicate key.
    branch(d, "dup");
    let text = "{\n  \"app\": {\n    \"Statement\": [\n      {\"Effect\": \"Allow\", \"Action\": \"s3:GetObject\", \"Action\": \"s3:*\"}\n    ]\n  }\n}\n";
    write_text(d, &role_path("web"), text);
    commit(d, "duplicate");
    let (code, out, _) = verify(d, &["--head", "dup"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("{}:4:", role_path("web")))
            && out.contains("duplicate key \"Action\" at $.app.Statement[0]"),
        "{out}"
    );

    // Over the size limit (IAM's, and a lower one from repokid.toml).
    branch(d, "big");
    let actions: Vec<String> = (0..700).map(|i| format!("s3:GetObject{i:04}")).collect();
    let mut big = worker();
    big["ops"]["Statement"]
        .as_array_mut()
        .unwrap()
        .push(json!({"Effect": "Deny", "Action": actions, "Resource": "*"}));
    write_role(d, "worker", &big);
    commit(d, "big");
    let (code, out, _) = verify(d, &["--head", "big"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("over the limit of 10240"), "{out}");
    let (_, doc) = verify_json(d, &["--head", "big"]);
    let size = doc["files"][0]["size"].as_u64().unwrap();
    assert!(size > 10_240);
    assert!(
        doc["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("are {size} characters")),
        "{doc}"
    );
    assert_eq!(doc["widenings"], json!([]), "a new Deny grants nothing");
    let config = d.join("small.toml");
    std::fs::write(&config, "[engine]\nsize-limit = 100\n").unwrap();
    let config = config.display().to_string();
    let (code, out, _) = run(
        d,
        &[
            "--config", &config, "verify", "--base", "main", "--head", "big",
        ],
        &[],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("over the limit of 100"), "{out}");

    // Files under policies/ that are not role files, and a bad policy name.
    branch(d, "stray");
    write_text(d, "policies/README.md", "hello\n");
    write_text(d, &format!("policies/{ACCT}/notes.txt"), "x\n");
    write_text(d, "policies/1234/web.json", "{}\n");
    write_role(
        d,
        "odd",
        &json!({"bad name": {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}}),
    );
    commit(d, "stray files");
    let (code, out, _) = verify(d, &["--head", "stray"]);
    assert_eq!(code, 1, "{out}");
    for path in ["policies/README.md", &format!("policies/{ACCT}/notes.txt")] {
        assert!(out.contains(&format!("{path}: not a role file")), "{out}");
    }
    assert!(
        out.contains("policies/1234/web.json: invalid account id"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "{}:2: invalid policy name \"bad name\"",
            role_path("odd")
        )),
        "{out}"
    );
}

/// Each document IAM itself rejects fails verify, at the line of the offending element.
#[test]
fn documents_iam_rejects_fail_with_file_and_line() {
    let dir = setup();
    let d = dir.path();
    let good =
        || json!({"Sid": "Ok", "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"});
    let with = |f: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut s = good();
        f(s.as_object_mut().unwrap());
        json!({"Version": "2012-10-17", "Statement": [s]})
    };
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "version",
            json!({"Version": "2012-10-18", "Statement": [good()]}),
            "\"Version\"",
            "Version",
        ),
        (
            "unknown-top-key",
            json!({"Version": "2012-10-17", "Statment": [good()], "Statement": [good()]}),
            "\"Statment\"",
            "Statment",
        ),
        (
            "empty-statement",
            json!({"Version": "2012-10-17", "Statement": []}),
            "\"Statement\"",
            "Statement",
        ),
        (
            "effect-case",
            with(&|s| {
                s.insert("Effect".into(), json!("deny"));
            }),
            "\"Effect\"",
            "Effect",
        ),
        (
            "no-resource",
            with(&|s| {
                s.remove("Resource");
            }),
            "STATEMENT",
            "Resource",
        ),
        (
            "principal",
            with(&|s| {
                s.insert("Principal".into(), json!({"AWS": "*"}));
            }),
            "\"Principal\"",
            "Principal",
        ),
        (
            "unknown-statement-key",
            with(&|s| {
                s.insert("Resources".into(), json!("*"));
            }),
            "\"Resources\"",
            "Resources",
        ),
        (
            "both-action-keys",
            with(&|s| {
                s.insert("NotAction".into(), json!("iam:*"));
            }),
            "STATEMENT",
            "NotAction",
        ),
        (
            "sid-characters",
            with(&|s| {
                s.insert("Sid".into(), json!("no spaces"));
            }),
            "\"Sid\"",
            "Sid",
        ),
        (
            "operator",
            with(&|s| {
                s.insert(
                    "Condition".into(),
                    json!({"StringEqualz": {"aws:username": "x"}}),
                );
            }),
            "\"StringEqualz\"",
            "StringEqualz",
        ),
        (
            "action-format",
            with(&|s| {
                s.insert("Action".into(), json!(["s3:DeleteObject", "DeleteBucket"]));
            }),
            "\"DeleteBucket\"",
            "DeleteBucket",
        ),
        (
            "resource-format",
            with(&|s| {
                s.insert("Resource".into(), json!("bucket/*"));
            }),
            "\"bucket/*\"",
            "bucket/*",
        ),
    ];
    for (name, doc, needle, mentions) in cases {
        branch(d, name);
        let mut w = worker();
        w["guard"] = doc;
        write_role(d, "worker", &w);
        commit(d, name);
        // The needle's first line within the new policy; STATEMENT: the statement's own line,
        // for a key that is missing or too many.
        let text = std::fs::read_to_string(d.join(role_path("worker"))).unwrap();
        let from = line_of(d, "worker", "\"guard\"");
        let (needle, delta) = match needle {
            "STATEMENT" => ("\"Sid\"", 1),
            n => (n, 0),
        };
        let line = from - delta
            + text
                .lines()
                .skip(from - 1)
                .position(|l| l.contains(needle))
                .unwrap();
        let (code, doc) = verify_json(d, &[]);
        assert_eq!(code, 1, "{name}: {doc}");
        let errors = doc["errors"].as_array().unwrap();
        assert!(
            errors.iter().any(|e| e["file"] == role_path("worker")
                && e["line"] == line
                && e["message"].as_str().unwrap().contains(mentions)),
            "{name}: want line {line} mentioning {mentions}: {errors:#?}"
        );
    }
}

#[test]
fn a_symlinked_policy_store_is_refused() {
    let dir = setup();
    let d = dir.path();
    // Move the policies elsewhere and link to them: every role file looks deleted.
    git(d, &["mv", "policies", "elsewhere"]);
    std::os::unix::fs::symlink("elsewhere", d.join("policies")).unwrap();
    commit(d, "link");
    let (code, out, err) = verify(d, &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("policies: is a symbolic link at head; the policy store must be a directory"),
        "{out}"
    );
    // A symlinked role file, and a directory named like one.
    branch(d, "file-link");
    std::fs::remove_file(d.join(role_path("web"))).unwrap();
    std::os::unix::fs::symlink("worker.json", d.join(role_path("web"))).unwrap();
    std::fs::create_dir_all(d.join(role_path("dir")).join("x")).unwrap();
    write_text(d, &format!("{}/x/y", role_path("dir")), "{}\n");
    commit(d, "file link");
    let (code, out, _) = verify(d, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "{}: is a symbolic link; a role file must be a regular file",
            role_path("web")
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("{}/x/y: not a role file", role_path("dir"))),
        "{out}"
    );
}

#[test]
fn access_recorded_by_a_sync_commit_is_said_to_be_live_state() {
    let dir = setup();
    let d = dir.path();
    // The nightly job: a sync commit recording an out-of-band change, then the proposal, which
    // removes something else.
    let mut live = worker();
    live["ops"]["Statement"][0]["Action"] =
        json!(["iam:GetRole", "iam:ListRoles", "iam:ListUsers"]);
    write_role(d, "worker", &live);
    git(d, &["add", "-A"]);
    git(
        d,
        &[
            "commit",
            "-q",
            "-m",
            &format!("Sync {ACCT}\n\nRepokid-Action: sync\nRepokid-Account: {ACCT}"),
        ],
    );
    let mut proposal = live.clone();
    proposal["ops"]["Statement"][0]["Action"] = json!(["iam:GetRole", "iam:ListUsers"]);
    write_role(d, "worker", &proposal);
    commit(d, "Repo");
    let (code, out, err) = verify(d, &[]);
    assert_eq!(code, 1, "{out}{err}");
    let sync = git(d, &["rev-parse", "HEAD~1"]);
    assert!(
        out.contains(&format!(
            "recorded by sync commit {:.10}: live state already in IAM",
            sync.trim()
        )),
        "{out}"
    );
    let (code, doc) = verify_json(d, &["--labels", "repokid:adds-access"]);
    assert_eq!(code, 0);
    let w = widening(&doc, "worker");
    assert_eq!(w["origin"], json!({"kind": "sync", "commit": sync.trim()}));

    // If the proposal commit itself adds access, it is the pull request's own change.
    let mut worse = proposal.clone();
    worse["ops"]["Statement"][0]["Action"] =
        json!(["iam:GetRole", "iam:ListUsers", "iam:PassRole"]);
    write_role(d, "worker", &worse);
    commit(d, "sneaky");
    let (_, doc) = verify_json(d, &[]);
    assert_eq!(widening(&doc, "worker")["origin"]["kind"], "change");
}

#[test]
fn the_label_lets_an_adding_pr_pass() {
    let dir = setup();
    let d = dir.path();
    let mut w = web();
    w["app"]["Statement"][0]["Action"] = json!(["s3:GetObject", "s3:ListBucket", "s3:PutObject"]);
    write_role(d, "web", &w);
    commit(d, "add");

    let (code, out, _) = verify(d, &["--labels", "docs,repokid:adds-access"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("PASS with label \"repokid:adds-access\": 1 role gains access"),
        "{out}"
    );
    assert!(out.contains("head allows s3:PutObject"), "{out}");
    let (code, _, _) = verify(d, &["--labels", "docs"]);
    assert_eq!(code, 1);
    let (code, _, _) = verify(
        d,
        &["--allow-label", "security-ok", "--labels", "security-ok"],
    );
    assert_eq!(code, 0);
    let (code, doc) = verify_json(d, &["--labels", "repokid:adds-access"]);
    assert_eq!(code, 0);
    assert_eq!(doc["verdict"], "pass-with-label");
    assert_eq!(doc["label"]["present"], true);

    // From the GitHub event file.
    let other = tempfile::tempdir().unwrap();
    let event = other.path().join("event.json");
    std::fs::write(
        &event,
        json!({"action": "synchronize", "pull_request": {"number": 7, "labels": [{"name": "bug"}, {"name": "repokid:adds-access"}]}}).to_string(),
    )
    .unwrap();
    let event = event.display().to_string();
    let (code, out, err) = run(
        d,
        &["verify", "--base", "main"],
        &[("GITHUB_EVENT_PATH", &event)],
    );
    assert_eq!(code, 0, "{out}{err}");
    let unlabelled = other.path().join("unlabelled.json");
    std::fs::write(
        &unlabelled,
        r#"{"pull_request": {"labels": [{"name": "bug"}]}}"#,
    )
    .unwrap();
    let unlabelled = unlabelled.display().to_string();
    let (code, _, _) = run(
        d,
        &["verify", "--base", "main"],
        &[("GITHUB_EVENT_PATH", &unlabelled)],
    );
    assert_eq!(code, 1);

    // The label never excuses an invalid file.
    write_text(d, &role_path("worker"), "{\n  \"ops\": \n}\n");
    commit(d, "broken");
    let (code, out, _) = verify(d, &["--labels", "repokid:adds-access"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("{}:3:1:", role_path("worker"))),
        "{out}"
    );
}

#[test]
fn commits_on_the_base_branch_after_branching_do_not_count() {
    let dir = setup();
    let d = dir.path();
    // The PR removes an action from worker.
    let mut w = worker();
    w["ops"]["Statement"][0]["Action"] = json!(["iam:GetRole"]);
    write_role(d, "worker", &w);
    commit(d, "pr: narrow worker");
    // Meanwhile main removes s3:ListBucket from web, deletes old, and adds a broken file.
    git(d, &["checkout", "-q", "main"]);
    let mut w = web();
    w["app"]["Statement"][0]["Action"] = json!(["s3:GetObject"]);
    write_role(d, "web", &w);
    write_text(d, &role_path("broken"), "{,}\n");
    commit(d, "main moves on");
    git(d, &["checkout", "-q", "pr"]);
    assert!(read_role(d, "web")["app"]["Statement"][0]["Action"][1] == "s3:ListBucket");

    let (code, out, err) = verify(d, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("1 changed policy file"), "{out}");
    assert!(
        out.contains(&format!("{}: OK (modified)", role_path("worker"))),
        "{out}"
    );
    let (_, doc) = verify_json(d, &[]);
    let merge_base = git(d, &["merge-base", "main", "pr"]);
    assert_eq!(doc["merge_base"], merge_base.trim());

    // No common history: an error, not a verdict.
    git(d, &["checkout", "-q", "--orphan", "orphan"]);
    commit(d, "unrelated");
    let (code, _, err) = verify(d, &["--head", "orphan"]);
    assert_eq!(code, 1);
    assert!(err.contains("no common ancestor"), "{err}");
    let (code, _, err) = verify(d, &["--head", "no-such-branch"]);
    assert_eq!(code, 1);
    assert!(err.contains("no-such-branch"), "{err}");
}

#[test]
fn github_actions_mode_annotates_and_writes_a_summary() {
    let dir = setup();
    let d = dir.path();
    let mut w = web();
    w["app"]["Statement"][0]["Action"] = json!(["s3:GetObject", "s3:ListBucket", "s3:PutObject"]);
    write_role(d, "web", &w);
    write_text(
        d,
        &role_path("worker"),
        "{\n  \"ops\": {\"Statement\": []},\n}\n",
    );
    commit(d, "add and break");
    let line = line_of(d, "web", "\"Sid\": \"Read\"") - 1;

    let other = tempfile::tempdir().unwrap();
    let summary = other.path().join("summary.md");
    let summary_s = summary.display().to_string();
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_STEP_SUMMARY", summary_s.as_str()),
    ];
    let (code, out, err) = run(d, &["verify", "--base", "main"], &env);
    assert_eq!(code, 1, "{out}{err}");
    let web_file = role_path("web");
    let worker_file = role_path("worker");
    assert!(
        out.contains(&format!(
            "::error file={worker_file},line=3,col=1,title=repokid verify%3A invalid policy file::invalid JSON: trailing comma"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "::error file={web_file},line={line},title=repokid verify%3A adds access::role {ACCT}/web: head allows s3:PutObject on *; base allowed it nowhere"
        )),
        "{out}"
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.starts_with("## repokid verify: fail\n"), "{md}");
    assert!(md.contains("| File | Result | Details |"), "{md}");
    assert!(
        md.contains(&format!(
            "| `{worker_file}` | invalid | line 3: invalid JSON: trailing comma |"
        )),
        "{md}"
    );
    assert!(
        md.contains(&format!(
            "| `{web_file}` | adds-access | role {ACCT}/web gains access: 1 finding; 1 action it had nowhere before (s3:PutObject)<br>line {line}: head allows s3:PutObject on *; base allowed it nowhere |"
        )),
        "{md}"
    );
    assert!(
        md.contains(
            "FAIL: 1 problem; 1 role gains access without the label \"repokid:adds-access\""
        ),
        "{md}"
    );

    // With the label, added access is a warning.
    write_text(
        d,
        &role_path("worker"),
        &format!("{}\n", serde_json::to_string_pretty(&worker()).unwrap()),
    );
    commit(d, "fix");
    let (code, out, _) = run(
        d,
        &[
            "verify",
            "--base",
            "main",
            "--labels",
            "repokid:adds-access",
        ],
        &env,
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("::warning file={web_file},line={line},")),
        "{out}"
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.contains("## repokid verify: pass (access added, labelled)"),
        "{md}"
    );
}
