//! The base branch's history, the label, and GitHub Actions output.

use super::*;

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
