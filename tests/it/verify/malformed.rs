//! Files that are not policies, or that IAM would reject, fail with file and line.

use super::*;

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
