//! End to end: `repokid propose --open-pr`.

use super::*;

/// A policy repository synced from the demo inventory, whose repokid.toml points at a mock
/// GitHub API and at `iam.git` on a git server that wants the token.
struct EndToEnd {
    api: Api,
    git: common::git_server::GitServer,
    bare: std::path::PathBuf,
    repo: tempfile::TempDir,
}

impl EndToEnd {
    fn setup() -> EndToEnd {
        let git = common::git_server::GitServer::start(TOKEN);
        let (bare, url) = git.bare_repo("iam");
        let api = Api::start();
        let repo = common::new_repo();
        let dir = repo.path();
        std::fs::write(
            dir.join("repokid.toml"),
            format!(
                "[github]\nrepo = \"acme/iam\"\napi-url = \"{}\"\ngit-url = \"{url}\"\n",
                api.server.uri()
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("CODEOWNERS"),
            format!("/policies/{ACCOUNT}/ @alice @acme/payments\n"),
        )
        .unwrap();
        common::git(dir, &["add", "repokid.toml", "CODEOWNERS"]);
        common::git(dir, &["commit", "-q", "-m", "repokid settings and owners"]);
        let inv = common::demo_file("inventory.json");
        let (code, _, err) = common::repokid(dir, &["sync", "--inventory", inv.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        EndToEnd {
            api,
            git,
            bare,
            repo,
        }
    }

    fn dir(&self) -> &std::path::Path {
        self.repo.path()
    }

    /// `repokid propose --open-pr --format json` on the demo data, with the token in the
    /// environment.
    fn propose(&self) -> (i32, String, String) {
        let inv = common::demo_file("inventory.json");
        let usage = common::demo_file("usage.json");
        common::repokid_env(
            self.dir(),
            &[
                "propose",
                "--open-pr",
                "--format",
                "json",
                "--grace-days",
                "0",
                "--inventory",
                inv.to_str().unwrap(),
                "--usage",
                usage.to_str().unwrap(),
                "--now",
                common::NOW,
            ],
            &[
                ("GITHUB_TOKEN", TOKEN.to_string()),
                ("GH_TOKEN", String::new()),
            ],
        )
    }

    /// The proposal branch's commit on the git server.
    fn pushed(&self) -> String {
        common::git(
            self.dir(),
            &[
                "--git-dir",
                self.bare.to_str().unwrap(),
                "rev-parse",
                &format!("refs/heads/{BRANCH}"),
            ],
        )
        .trim()
        .to_string()
    }

    /// Pushes (`git-receive-pack` POSTs) the git server received.
    fn pushes(&self) -> usize {
        self.git
            .requests("iam")
            .iter()
            .filter(|r| r["method"] == "POST" && r["path"] == "/iam.git/git-receive-pack")
            .count()
    }

    /// The first run's mocks: no PR yet; create #42, its labels and reviewers.
    fn mount_first_run(&self) {
        self.api.mount(find_mock(json!([])));
        self.api.mount(
            Mock::given(method("POST"))
                .and(path(PULLS))
                .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
                .respond_with(json_response(201, pr_json(42, "open", false, "", &[])))
                .expect(1),
        );
        self.api.mount(labels_mock(42, &["repokid"]));
        self.api.mount(
            Mock::given(method("POST"))
                .and(path("/repos/acme/iam/pulls/42/requested_reviewers"))
                .respond_with(json_response(201, pr_json(42, "open", false, "", &[])))
                .expect(1),
        );
    }

    /// The token appears in none of `texts`, the repository's config, or the git server's log.
    fn assert_no_token(&self, texts: &[(&str, &str)]) {
        let config = std::fs::read_to_string(self.dir().join(".git/config")).unwrap();
        let log = self.git.log_text();
        let stderr = self.git.stderr_text();
        let mut all = texts.to_vec();
        all.extend([
            (".git/config", config.as_str()),
            ("git server log", log.as_str()),
            ("git server stderr", stderr.as_str()),
        ]);
        for (what, text) in all {
            assert!(!text.contains(TOKEN), "token in {what}:\n{text}");
        }
    }
}

/// A proposal without its (long) body, for assertion messages.
fn brief(p: &Value) -> Value {
    json!({
        "branch": p["branch"],
        "commit": p["commit"],
        "title": p["title"],
        "pull_request": p["pull_request"],
        "hook_errors": p["hook_errors"],
    })
}

#[test]
fn propose_open_pr_pushes_the_branch_and_opens_then_updates_its_pull_request() {
    let e = EndToEnd::setup();
    let dir = e.dir();

    // First run: no PR for the branch.
    e.mount_first_run();
    let (code, out1, err1) = e.propose();
    assert_eq!(code, 0, "stdout:\n{out1}\nstderr:\n{err1}");
    let p = proposal(&out1);
    assert_eq!(p["pull_request"]["number"], 42, "{}", brief(&p));
    assert_eq!(p["pull_request"]["outcome"], "opened", "{}", brief(&p));
    assert_eq!(
        p["pull_request"]["url"],
        "https://github.com/acme/iam/pull/42"
    );
    assert_eq!(p["branch"], BRANCH);

    // The branch is on the server, at the proposal commit.
    let commit = p["commit"].as_str().unwrap().to_string();
    assert_eq!(common::git(dir, &["rev-parse", BRANCH]).trim(), commit);
    assert_eq!(e.pushed(), commit);
    assert_eq!(e.pushes(), 1);

    // GitHub saw the proposal's title and body, with the digest of the account's files.
    assert_eq!(e.api.calls(), new_pr_calls(42));
    let digest = common::git(dir, &["rev-parse", &format!("{BRANCH}:policies/{ACCOUNT}")]);
    let body = p["body"].as_str().unwrap();
    assert_eq!(
        e.api.body(1),
        json!({
            "title": p["title"],
            "head": BRANCH,
            "base": "main",
            "body": format!("{}\n{}\n", body.trim_end(), digest_marker(digest.trim())),
            "draft": false,
        })
    );
    // Reviewers: the CODEOWNERS of policies/111122223333/ (and owner tags of changed roles).
    let reviewers = e.api.body(3);
    assert_eq!(
        reviewers["team_reviewers"],
        json!(["payments"]),
        "{reviewers}"
    );
    let users: Vec<&str> = reviewers["reviewers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    assert!(users.contains(&"alice"), "{reviewers}");
    assert!(
        users.iter().all(|u| ["alice", "platform"].contains(u)),
        "{reviewers}"
    );
    e.api.verify();

    // As in CI, the next run starts from a fresh checkout of a newer main: the branch is built
    // again from the new base, so its commit does not descend from the pushed one (force).
    common::git(dir, &["branch", "-D", BRANCH]);
    std::fs::write(dir.join("README.md"), "IAM policies\n").unwrap();
    common::git(dir, &["add", "README.md"]);
    common::git(dir, &["commit", "-q", "-m", "readme"]);

    // Second run: the PR is open, it is updated.
    e.api.reset();
    e.api.mount(find_mock(json!([pr_json(
        42,
        "open",
        false,
        "earlier body",
        &["repokid"]
    )])));
    e.api.mount(
        Mock::given(method("PATCH"))
            .and(path(format!("{PULLS}/42")))
            .respond_with(json_response(
                200,
                pr_json(42, "open", false, "", &["repokid"]),
            ))
            .expect(1),
    );
    let (code, out2, err2) = e.propose();
    assert_eq!(code, 0, "stdout:\n{out2}\nstderr:\n{err2}");
    let p2 = proposal(&out2);
    assert_eq!(p2["pull_request"]["number"], 42, "{}", brief(&p2));
    assert_eq!(p2["pull_request"]["outcome"], "updated", "{}", brief(&p2));
    let commit2 = p2["commit"].as_str().unwrap().to_string();
    assert_ne!(commit2, commit);
    let base = common::git(dir, &["rev-parse", "main"]);
    assert_eq!(
        common::git(dir, &["rev-parse", &format!("{commit2}^")]),
        base,
        "the branch was not rebuilt on the new main"
    );
    assert_eq!(
        e.pushed(),
        commit2,
        "the rebuilt branch was not force-pushed"
    );
    assert_eq!(e.pushes(), 2);
    assert_eq!(
        e.api.calls(),
        [FIND.to_string(), format!("PATCH {PULLS}/42")]
    );
    assert_eq!(e.api.body(1)["title"], p2["title"]);
    assert!(
        e.api.body(1)["body"]
            .as_str()
            .unwrap()
            .ends_with(&format!("{}\n", digest_marker(digest.trim()))),
        "same files, same digest"
    );
    e.api.verify();

    e.assert_no_token(&[
        ("first stdout", &out1),
        ("first stderr", &err1),
        ("second stdout", &out2),
        ("second stderr", &err2),
    ]);
}

#[test]
fn a_pull_request_that_failed_to_open_is_opened_by_the_next_run() {
    let e = EndToEnd::setup();

    // First run: the branch is committed and pushed, then GitHub refuses the pull request.
    e.api.mount(find_mock(json!([])));
    e.api.mount(
        Mock::given(method("POST"))
            .and(path(PULLS))
            .respond_with(json_response(
                403,
                json!({"message": "Resource not accessible by integration"}),
            ))
            .expect(1),
    );
    let (code, out1, err1) = e.propose();
    assert_ne!(code, 0, "stdout:\n{out1}\nstderr:\n{err1}");
    assert!(
        err1.contains("POST /repos/acme/iam/pulls") && err1.contains("HTTP 403"),
        "{err1}"
    );
    let commit = common::git(e.dir(), &["rev-parse", BRANCH])
        .trim()
        .to_string();
    assert_eq!(e.pushed(), commit);
    e.api.verify();

    // The token is fixed; the same proposal, run again, must still get its pull request.
    e.api.reset();
    e.mount_first_run();
    let (code, out2, err2) = e.propose();
    assert_eq!(code, 0, "stdout:\n{out2}\nstderr:\n{err2}");
    let p = proposal(&out2);
    assert_eq!(
        p["pull_request"]["outcome"],
        "opened",
        "the second run did not open the pull request: {}\nGitHub saw: {:?}",
        brief(&p),
        e.api.calls()
    );
    assert_eq!(p["pull_request"]["number"], 42);
    assert_eq!(e.pushed(), commit);
    e.api.verify();
    e.assert_no_token(&[
        ("first stdout", &out1),
        ("first stderr", &err1),
        ("second stdout", &out2),
        ("second stderr", &err2),
    ]);
}
