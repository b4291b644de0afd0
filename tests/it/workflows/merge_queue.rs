//! verify.yml in a merge queue.

use super::*;

const APP_FILE_AHEAD: &str = r#"{"data": {"Version": "2012-10-17", "Statement": [{"Sid": "Data", "Effect": "Allow", "Action": ["s3:GetObject", "ec2:DescribeInstances"], "Resource": "*"}]}}"#;
const APP_FILE_GROUP: &str = r#"{"data": {"Version": "2012-10-17", "Statement": [{"Sid": "Data", "Effect": "Allow", "Action": ["s3:GetObject", "ec2:DescribeInstances", "iam:*"], "Resource": "*"}]}}"#;

#[test]
fn verify_judges_a_merge_group_against_its_base_with_its_pull_requests_labels() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let origin = verify_origin(t);
    let mut runner = Runner::default();

    // The queue: a pull request ahead of this one (labelled, in its own group) gave the role
    // ec2:DescribeInstances; this group, for pull request #7, adds iam:* on top of that. The group's base
    // is the group ahead, not main.
    push_pr(&origin, t, "ahead", &[(POLICY_FILE, APP_FILE_AHEAD)], &[]);
    let base = rev(&origin, "ahead");
    let group_ref = format!("gh-readonly-queue/main/pr-7-{base}");
    let author = checkout(&origin, t, "group-author");
    git(&author, &["checkout", "-q", "origin/ahead"]);
    write_files(&author, &[(POLICY_FILE, APP_FILE_GROUP)], &[]);
    git(
        &author,
        &[
            "-c",
            "user.name=Queue",
            "-c",
            "user.email=queue@example.com",
            "commit",
            "-q",
            "-am",
            "Merge pull request #7",
        ],
    );
    git(
        &author,
        &[
            "push",
            "-q",
            "origin",
            &format!("HEAD:refs/heads/{group_ref}"),
        ],
    );
    let head = rev(&origin, &group_ref);
    let event = t.join("merge-group.json");
    std::fs::write(
        &event,
        json!({
            "action": "checks_requested",
            "merge_group": {
                "head_sha": head, "head_ref": format!("refs/heads/{group_ref}"),
                "base_sha": base, "base_ref": "refs/heads/main",
                "head_commit": {"id": head, "message": "Merge pull request #7"},
            },
            "repository": {"full_name": REPO},
        })
        .to_string(),
    )
    .unwrap();

    // The API answers pull request #7's labels: none, then the allow label.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let api = rt.block_on(MockServer::start());
    let labels = |names: &[&str]| {
        rt.block_on(api.reset());
        let body: Vec<Value> = names.iter().map(|n| json!({"name": n})).collect();
        rt.block_on(
            Mock::given(wiremock::matchers::method("GET"))
                .and(wiremock::matchers::path(format!(
                    "/repos/{REPO}/issues/7/labels"
                )))
                .and(wiremock::matchers::header(
                    "authorization",
                    format!("Bearer {TOKEN}").as_str(),
                ))
                .respond_with(ResponseTemplate::new(200).set_body_json(body))
                .mount(&api),
        );
    };
    let (ws, _) = verify_workspace(&origin, t, "queue", &head);
    let env = [
        // github.base_ref is empty for merge_group.
        ("BASE_REF", String::new()),
        ("PR_DIR", "pr".into()),
        ("GITHUB_TOKEN", TOKEN.into()),
        ("GITHUB_EVENT_PATH", event.display().to_string()),
        ("GITHUB_API_URL", api.uri()),
    ];

    labels(&[]);
    let job = runner.run(("verify.yml", "verify"), &ws, &env);
    let out = format!("{}{}", job.stdout, job.stderr);
    assert_eq!(job.code, 1, "iam:* without the label must fail:\n{out}");
    assert!(out.contains("merge group of pull request #7"), "{out}");
    // Judged against the group's base: this group's iam:*, not what the group ahead added.
    assert!(out.contains(&format!("repokid verify: {base} ")), "{out}");
    assert!(out.contains(POLICY_FILE) && out.contains("iam:"), "{out}");
    assert!(!out.contains("ec2:"), "{out}");

    labels(&["repokid:adds-access"]);
    let job = runner.run(("verify.yml", "verify"), &ws, &env);
    assert_eq!(job.code, 0, "{}{}", job.stdout, job.stderr);
    assert!(
        job.stdout.contains("labels: repokid:adds-access"),
        "{}",
        job.stdout
    );
    assert!(!runner.seen.contains(TOKEN), "the token was printed");
}
