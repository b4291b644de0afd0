//! `repokid verify` on real branches: a pull request branch made with the git CLI is checked
//! against its base branch.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{git, new_repo};
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
    assert_eq!(doc["version"], 1);
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

#[test]
fn removal_only_pr_passes() {
    let dir = setup();
    let d = dir.path();
    let mut w = web();
    // Remove an action, a statement and a policy; delete a role file.
    w["app"]["Statement"][0]["Action"] = json!(["s3:GetObject"]);
    w["app"]["Statement"].as_array_mut().unwrap().remove(1);
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
    assert_eq!(doc["added_access"], json!([]));
}

#[test]
fn adding_one_action_fails_and_names_it() {
    let dir = setup();
    let d = dir.path();
    let mut w = web();
    w["app"]["Statement"][0]["Action"] = json!(["s3:GetObject", "s3:ListBucket", "s3:PutObject"]);
    write_role(d, "web", &w);
    commit(d, "add s3:PutObject");
    let line = line_of(d, "web", "\"s3:PutObject\"");

    let (code, out, err) = verify(d, &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains(&format!("role {ACCT}/web gains 1 action")),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "+ s3:PutObject  via `s3:PutObject` in policy app Statement[0] (Sid \"Read\") (line {line})"
        )),
        "{out}"
    );
    assert!(
        out.contains("FAIL: 1 role adds access without the label \"repokid:adds-access\""),
        "{out}"
    );

    let (code, doc) = verify_json(d, &[]);
    assert_eq!(code, 1);
    assert_eq!(doc["verdict"], "fail");
    let added = &doc["added_access"][0];
    assert_eq!(added["role"], "web");
    assert_eq!(added["account"], ACCT);
    assert_eq!(added["new_role"], false);
    assert_eq!(added["actions"], json!(["s3:PutObject"]));
    let source = &added["sources"][0];
    assert_eq!(source["policy"], "app");
    assert_eq!(source["statement"], 0);
    assert_eq!(source["kind"], "action");
    assert_eq!(source["entry"], "s3:PutObject");
    assert_eq!(source["line"], line);
}

/// The embedded catalog plus `sqs:SendMessageBatch` (not an IAM action today: batches are
/// authorised by `sqs:SendMessage`), standing in for an action the catalog learns later.
fn catalog_with_send_message_batch(dir: &Path) -> String {
    let tsv = repokid::engine::catalog::EMBEDDED_TSV.replacen(
        "sqs:SendMessage\tW\n",
        "sqs:SendMessage\tW\nsqs:SendMessageBatch\tW\n",
        1,
    );
    assert_ne!(tsv, repokid::engine::catalog::EMBEDDED_TSV);
    let path = dir.join("catalog.tsv");
    std::fs::write(&path, tsv).unwrap();
    path.display().to_string()
}

#[test]
fn a_new_wildcard_fails_and_names_the_wildcard_and_the_added_actions() {
    let dir = setup();
    let d = dir.path();
    let mut w = web();
    w["app"]["Statement"][1]["Action"] = json!(["sqs:Send*", "sqs:GetQueueUrl"]);
    write_role(d, "web", &w);
    commit(d, "sqs:Send*");
    let line = line_of(d, "web", "\"sqs:Send*\"");

    // With a catalog where sqs:Send* covers more than sqs:SendMessage, the wildcard adds access.
    let other = tempfile::tempdir().unwrap();
    let catalog = catalog_with_send_message_batch(other.path());
    let (code, out, err) = verify(d, &["--catalog", &catalog]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains(&format!(
            "+ sqs:SendMessageBatch  via `sqs:Send*` in policy app Statement[1] (Sid \"Queue\") (line {line})"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "wildcard `sqs:Send*` in policy app Statement[1] (line {line}) expands to 2 actions, 1 \
             beyond what the role was granted at the merge base"
        )),
        "{out}"
    );
    let (code, doc) = verify_json(d, &["--catalog", &catalog]);
    assert_eq!(code, 1);
    let added = &doc["added_access"][0];
    assert_eq!(added["actions"], json!(["sqs:SendMessageBatch"]));
    assert_eq!(added["sources"][0]["kind"], "wildcard");
    assert_eq!(added["sources"][0]["entry"], "sqs:Send*");
    assert_eq!(added["sources"][0]["expands_to"], 2);
    let wildcards = &doc["files"][0]["wildcards"];
    assert_eq!(wildcards[0]["entry"], "sqs:Send*");
    assert_eq!(wildcards[0]["granted_at_base"], 1);
    assert_eq!(wildcards[0]["beyond_base"], 1);
    assert_eq!(wildcards[0]["widens"], true);

    // With the embedded catalog sqs:Send* is exactly sqs:SendMessage: reported, not widening.
    let (code, doc) = verify_json(d, &[]);
    assert_eq!(code, 0, "{doc}");
    let wildcards = &doc["files"][0]["wildcards"];
    assert_eq!(wildcards[0]["expands_to"], 1);
    assert_eq!(wildcards[0]["widens"], false);

    // A wildcard that widens with the embedded catalog: sqs:Get* over sqs:GetQueueUrl.
    branch(d, "get-star");
    let mut w = web();
    w["app"]["Statement"][1]["Action"] = json!(["sqs:SendMessage", "sqs:Get*"]);
    write_role(d, "web", &w);
    commit(d, "sqs:Get*");
    let (code, out, err) = verify(d, &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("+ sqs:GetQueueAttributes  via `sqs:Get*` in policy app Statement[1]"),
        "{out}"
    );
}

#[test]
fn not_action_fails() {
    let dir = setup();
    let d = dir.path();
    let mut w = worker();
    let st = w["ops"]["Statement"][0].as_object_mut().unwrap();
    st.remove("Action");
    st.insert("NotAction".into(), json!("iam:*"));
    write_role(d, "worker", &w);
    commit(d, "NotAction");
    let line = line_of(d, "worker", "\"NotAction\"");

    let (code, out, err) = verify(d, &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains(&format!(
            "`NotAction [iam:*]` in policy ops Statement[0] (line {line})"
        )),
        "{out}"
    );
    assert!(out.contains("(--format json lists every action)"), "{out}");
    let (code, doc) = verify_json(d, &[]);
    assert_eq!(code, 1);
    let added = &doc["added_access"][0];
    let actions = added["actions"].as_array().unwrap();
    assert!(actions.len() > 10_000, "{}", actions.len());
    assert!(actions.contains(&json!("s3:GetObject")));
    assert!(
        !actions
            .iter()
            .any(|a| a.as_str().unwrap().starts_with("iam:"))
    );
    assert_eq!(added["sources"][0]["kind"], "not-action");
    assert_eq!(added["sources"][0]["excluded"], json!(["iam:*"]));
    assert_eq!(added["sources"][0]["line"], line);
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
    // A new role file.
    branch(d, "new-role");
    write_role(
        d,
        "batch",
        &json!({"run": {"Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"}]}}),
    );
    commit(d, "role");

    for (head, role, action, source) in [
        (
            "pr",
            "web",
            "kms:Decrypt",
            "`kms:Decrypt` in policy extra Statement[1]",
        ),
        (
            "new-policy",
            "web",
            "dynamodb:GetItem",
            "`dynamodb:GetItem` in policy dynamo Statement[0]",
        ),
        (
            "new-role",
            "batch",
            "lambda:InvokeFunction",
            "`lambda:InvokeFunction` in policy run Statement[0]",
        ),
    ] {
        let (code, out, err) = verify(d, &["--head", head]);
        assert_eq!(code, 1, "{head}: {out}{err}");
        assert!(
            out.contains(&format!("+ {action}  via {source}")),
            "{head}: {out}"
        );
        let (_, doc) = verify_json(d, &["--head", head]);
        let added = &doc["added_access"][0];
        assert_eq!(added["role"], role, "{head}");
        assert_eq!(added["actions"], json!([action]), "{head}");
        assert_eq!(added["new_role"], head == "new-role", "{head}");
    }
    let (_, out, _) = verify(d, &["--head", "new-role"]);
    assert!(
        out.contains(&format!("role {ACCT}/batch (new role) gains 1 action")),
        "{out}"
    );
}

#[test]
fn an_unknown_action_counts_as_added_unless_the_base_covered_it() {
    let dir = setup();
    let d = dir.path();
    let mut w = web();
    w["app"]["Statement"][0]["Action"] = json!([
        "s3:GetObject",
        "s3:ListBucket",
        "s3:GetObjectFromTheFuture",
        "ec2:DescribeFutureThings"
    ]);
    w["extra"]["Statement"][0]["Action"] = json!("ec2:Describe*");
    write_role(d, "web", &w);
    commit(d, "unknown actions");
    let (code, doc) = verify_json(d, &[]);
    assert_eq!(code, 1);
    let added = &doc["added_access"][0];
    // ec2:DescribeFutureThings is covered by ec2:Describe* at head but not at base: added, as is
    // every other ec2:Describe* action.
    let actions: Vec<&str> = added["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"s3:GetObjectFromTheFuture"),
        "{actions:?}"
    );
    assert!(actions.contains(&"ec2:DescribeFutureThings"), "{actions:?}");
    assert!(actions.contains(&"ec2:DescribeVpcs"), "{actions:?}");
    let unknown: Vec<&Value> = added["sources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "unknown")
        .collect();
    assert_eq!(unknown.len(), 2);

    // Once the base has s3:*, a new unknown s3 action adds nothing.
    branch(d, "s3-star");
    let mut w = web();
    w["app"]["Statement"][0]["Action"] = json!("s3:*");
    write_role(d, "web", &w);
    commit(d, "s3:*");
    git(d, &["checkout", "-q", "main"]);
    git(d, &["merge", "-q", "--ff-only", "s3-star"]);
    branch(d, "future");
    let mut w = web();
    w["app"]["Statement"][0]["Action"] = json!(["s3:*", "s3:GetObjectFromTheFuture"]);
    write_role(d, "web", &w);
    commit(d, "future");
    let (code, out, err) = verify(d, &[]);
    assert_eq!(code, 0, "{out}{err}");
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

    // Valid JSON that is not a valid policy: the line of the policy.
    branch(d, "bad-effect");
    let mut w = web();
    w["extra"]["Statement"][0]["Effect"] = json!("Maybe");
    write_role(d, "web", &w);
    commit(d, "effect");
    let line = line_of(d, "web", "\"extra\"");
    let (code, out, _) = verify(d, &["--head", "bad-effect"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "{}:{line}: policy \"extra\": Statement[0].Effect: must be \"Allow\" or \"Deny\"",
            role_path("web")
        )),
        "{out}"
    );

    // Over the size limit (IAM's, and a lower one from repokid.toml).
    branch(d, "big");
    let actions: Vec<String> = (0..700).map(|i| format!("s3:GetObject{i:04}")).collect();
    write_role(
        d,
        "worker",
        &json!({"ops": {"Statement": [{"Effect": "Allow", "Action": ["iam:GetRole", "iam:ListRoles"], "Resource": "*"}, {"Effect": "Deny", "Action": actions, "Resource": "*"}]}}),
    );
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
    assert_eq!(
        doc["added_access"],
        json!([]),
        "Deny statements grant nothing"
    );
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
    write_role(d, "odd", &json!({"bad name": {"Statement": []}}));
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
        out.contains("PASS with label \"repokid:adds-access\": 1 role adds access"),
        "{out}"
    );
    assert!(out.contains("+ s3:PutObject"), "{out}");
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
    let line = line_of(d, "web", "\"s3:PutObject\"");

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
            "::error file={web_file},line={line},title=repokid verify%3A adds access::role {ACCT}/web gains 1 action via `s3:PutObject` in policy app Statement[0]"
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
            "| `{web_file}` | adds-access | gains 1 action<br>`s3:PutObject` in policy app Statement[0] (Sid \"Read\") (line {line}): `s3:PutObject` |"
        )),
        "{md}"
    );
    assert!(
        md.contains(
            "FAIL: 1 problem; 1 role adds access without the label \"repokid:adds-access\""
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
