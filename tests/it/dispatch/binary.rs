//! Through the binary: `repokid dispatch` and its exit code.

use super::*;

fn run_cli(dir: &Path, event_file: &Path) -> (i32, String, String) {
    common::repokid_env(
        dir,
        &[
            "dispatch",
            "--event",
            event_file.to_str().unwrap(),
            "--format",
            "json",
            "--now",
            NOW,
        ],
        &[
            ("GITHUB_TOKEN", TOKEN.to_string()),
            ("GH_TOKEN", String::new()),
        ],
    )
}

#[test]
fn the_command_answers_and_its_exit_code_says_whether_every_reply_was_posted() {
    let w = World::new(None);
    let p = w.path();
    std::fs::write(
        p.join("repokid.toml"),
        format!(
            "[github]\nrepo = \"acme/iam\"\napi-url = \"{}\"\n",
            w.api.server.uri()
        ),
    )
    .unwrap();
    let file = p.join(".git/event.json");

    // Nothing to answer: exit 0, no request, no token needed.
    std::fs::write(
        &file,
        event("edited", "alice", "User", "/repokid help").to_string(),
    )
    .unwrap();
    let (code, out, err) = common::repokid(p, &["dispatch", "--event", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(w.api.calls().is_empty());

    // show: answered, exit 0.
    w.api.mount(permission_mock("alice", "write"));
    w.api.mount(comment_mock(1));
    std::fs::write(
        &file,
        event(
            "created",
            "alice",
            "User",
            &format!("/repokid show {ACCOUNT} {ROLE}"),
        )
        .to_string(),
    )
    .unwrap();
    let (code, out, err) = run_cli(p, &file);
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["replies"][0]["outcome"], "done", "{v}");
    assert_eq!(v["replies"][0]["posted"], true, "{v}");
    assert_eq!(
        w.api.calls(),
        [perm_call("alice"), format!("POST {COMMENTS}")]
    );
    assert!(!err.contains(TOKEN) && !out.contains(TOKEN));
    w.api.verify();

    // The reply cannot be posted: exit 1.
    w.api.rt.block_on(w.api.server.reset());
    w.api.mount(permission_mock("alice", "write"));
    w.api.mount(
        Mock::given(method("POST"))
            .and(path(COMMENTS))
            .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
            .expect(1),
    );
    let (code, out, err) = run_cli(p, &file);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("could not be posted"), "{err}");
    w.api.verify();
}
