//! The whole loop of the workflows' scripts, end to end.

use super::*;

fn file_policies(dir: &Path, account: &str, role: &str) -> serde_json::Map<String, Value> {
    let text =
        std::fs::read_to_string(dir.join(format!("policies/{account}/{role}.json"))).unwrap();
    serde_json::from_str::<Value>(&text)
        .unwrap()
        .as_object()
        .unwrap()
        .clone()
}

#[test]
fn the_workflow_scripts_run_the_loop_end_to_end() {
    let mut l = Loop::seeded();
    l.propose_opens_a_pull_request_per_account();
    l.merge_due_merges_nothing();
    l.verify_passes_removals_and_holds_a_first_recording();
    l.a_reviewer_merges_both();
    l.verify_passes_a_pull_request_without_policies_at_once();
    l.apply_fails_on_drift_but_applies_the_rest();
    l.apply_after_the_fix_applies_the_drifted_account();
    l.a_converged_apply_writes_nothing();
    l.a_stale_run_applies_the_tip();
    l.dispatch_answers_a_comment();
    l.no_secret_went_anywhere();
}

/// The loop's world: two accounts in moto, the origin behind the git server, the GitHub
/// stand-in, and the runner of the jobs' scripts; each step runs one workflow job (or a person's
/// action) and asserts what it must leave behind.
struct Loop {
    old: MotoAccount,
    new: MotoAccount,
    git_server: GitServer,
    origin: PathBuf,
    api: Api,
    tmp: tempfile::TempDir,
    runner: Runner,
    /// main as the team left it, before any job ran.
    main_before: String,
    /// The two account ids, sorted.
    ids: [String; 2],
    /// main after the reviewer merged both pull requests.
    merged: String,
}

impl Loop {
    /// The repository as a team sets it up (docs/setup.md): settings, filters, and `old`
    /// already recorded on main; `new` is only listed in the settings.
    fn seeded() -> Loop {
        let (old, new) = (MotoAccount::fresh(), MotoAccount::fresh());
        populate(&old);
        populate(&new);
        let git_server = GitServer::start(TOKEN);
        let (origin, url) = git_server.bare_repo("iam");
        let api = Api::start();

        let seed = common::new_repo();
        let s = seed.path();
        std::fs::write(
            s.join("repokid.toml"),
            settings_toml(
                &[&new.id, &old.id],
                "grace-days = 0\n",
                &api.server.uri(),
                &url,
            ),
        )
        .unwrap();
        // The roles were created a moment ago; the age filter would keep them out of scope.
        std::fs::write(s.join("filters.toml"), "[age]\nminimum_days = 0\n").unwrap();
        git(s, &["add", "repokid.toml", "filters.toml"]);
        git(s, &["commit", "-q", "-m", "repokid settings"]);
        let (code, out, err) =
            common::repokid_env(s, &["sync", "--account", &old.id], &moto::aws_env());
        assert_eq!(code, 0, "{out}{err}");
        git(s, &["push", "-q", origin.to_str().unwrap(), "main"]);
        let main_before = rev(&origin, "main");
        let mut ids = [old.id.clone(), new.id.clone()];
        ids.sort();
        Loop {
            old,
            new,
            git_server,
            origin,
            api,
            tmp: tempfile::tempdir().unwrap(),
            runner: Runner::default(),
            main_before,
            ids,
            merged: String::new(),
        }
    }

    /// verify.yml on `account`'s pull request with these labels: the base's scripts in
    /// trusted/, the pull request's head in pr/.
    fn verify(&mut self, account: &str, labels: &[&str]) -> Job {
        let t = self.tmp.path();
        let (ws, _) = verify_workspace(
            &self.origin,
            t,
            &format!("verify-{account}-{}", labels.len()),
            &format!("origin/repokid/propose/{account}"),
        );
        let event = pr_event(t, labels);
        self.runner.run(
            ("verify.yml", "verify"),
            &ws,
            &[
                ("BASE_REF", "main".into()),
                ("PR_DIR", "pr".into()),
                ("GITHUB_TOKEN", TOKEN.into()),
                ("GITHUB_EVENT_PATH", event.display().to_string()),
            ],
        )
    }

    /// propose.yml, job prepare: the accounts of the settings, in one batch of two.
    fn propose_opens_a_pull_request_per_account(&mut self) {
        let t = self.tmp.path();
        let ck = checkout(&self.origin, t, "propose-prepare");
        let prep = self.runner.ok(
            ("propose.yml", "prepare"),
            &ck,
            &[("ACCOUNTS", String::new()), ("BATCH_SIZE", "10".into())],
        );
        assert_eq!(batches(&prep), vec![self.ids.to_vec()]);
        assert_eq!(prep.outputs["count"], "2");

        // propose.yml, job propose: one matrix job for the batch, ACCOUNTS = join(matrix.batch, ' ').
        let ck = checkout(&self.origin, t, "propose");
        let batch = batches(&prep)[0].join(" ");
        let job = self.runner.ok(
            ("propose.yml", "propose"),
            &ck,
            &[
                ("ACCOUNTS", batch),
                ("SCHEDULE", "false".into()),
                ("GITHUB_TOKEN", TOKEN.into()),
            ],
        );
        assert!(job.stdout.contains("::group::account"), "{}", job.stdout);
        // Both branches pushed; main itself never is.
        assert_eq!(rev(&self.origin, "main"), self.main_before);
        for acct in [&self.old, &self.new] {
            let branch = format!("repokid/propose/{}", acct.id);
            let tip = rev(&self.origin, &format!("refs/heads/{branch}"));
            let count = git(
                &self.origin,
                &["rev-list", "--count", &format!("main..{tip}")],
            );
            // `old` was recorded: only the proposal; `new` carries its sync commit too.
            let expected = if acct.id == self.old.id { "1" } else { "2" };
            assert_eq!(count.trim(), expected, "commits on {branch}");
        }
        // One pull request per account, opened with the proposal's text; and one recording pull
        // request for `new`'s sync commit, which waits (its checks have not run).
        let creates: Vec<Value> = self
            .api
            .requests()
            .into_iter()
            .filter(|(m, p, _)| m == "POST" && p == &format!("/repos/{REPO}/pulls"))
            .map(|(_, _, b)| b)
            .collect();
        assert_eq!(creates.len(), 3, "{creates:?}");
        let recording: Vec<&Value> = creates
            .iter()
            .filter(|b| b["head"].as_str().unwrap().starts_with("repokid/record/"))
            .collect();
        assert_eq!(recording.len(), 1, "{creates:?}");
        assert_eq!(
            recording[0]["head"],
            format!("repokid/record/{}", self.new.id)
        );
        assert!(job.stdout.contains("waits to be merged"), "{}", job.stdout);
        for acct in [&self.old, &self.new] {
            let pr = creates
                .iter()
                .find(|b| b["head"] == format!("repokid/propose/{}", acct.id))
                .unwrap_or_else(|| panic!("no pull request for {}: {creates:?}", acct.id));
            assert_eq!(pr["base"], "main");
            assert!(pr["title"].as_str().unwrap().contains(&acct.id), "{pr}");
            let body = pr["body"].as_str().unwrap();
            for removed in ["sqs:SendMessage", "dynamodb:GetItem", "sns:Publish"] {
                assert!(body.contains(removed), "{removed} not in the body:\n{body}");
            }
        }
    }

    /// propose.yml, job merge-due: no scheduled pull request, nothing merged, apply not started.
    fn merge_due_merges_nothing(&mut self) {
        let t = self.tmp.path();
        let ck = checkout(&self.origin, t, "merge-due");
        let job = self.runner.ok(
            ("propose.yml", "merge-due"),
            &ck,
            &[
                ("GITHUB_TOKEN", TOKEN.into()),
                ("GH_TOKEN", TOKEN.into()),
                ("BASE_BRANCH", "main".into()),
            ],
        );
        assert!(!job.stdout.contains("started"), "{}", job.stdout);
    }

    /// verify.yml: removals only pass; `new`'s first recording waits for the label.
    fn verify_passes_removals_and_holds_a_first_recording(&mut self) {
        let job = self.verify(&self.old.id.clone(), &[]);
        assert_eq!(
            job.code, 0,
            "removals only must pass:\n{}{}",
            job.stdout, job.stderr
        );
        // `new`'s pull request records its roles for the first time: every action is new to the
        // branch, so the check holds it until a reviewer labels it.
        let job = self.verify(&self.new.id.clone(), &[]);
        assert_eq!(job.code, 1, "{}{}", job.stdout, job.stderr);
        assert!(
            format!("{}{}", job.stdout, job.stderr).contains("repokid:adds-access"),
            "{}{}",
            job.stdout,
            job.stderr
        );
        let job = self.verify(&self.new.id.clone(), &["repokid:adds-access"]);
        assert_eq!(job.code, 0, "{}{}", job.stdout, job.stderr);
    }

    /// A reviewer merges both pull requests (merge commits keep the sync commit on main).
    fn a_reviewer_merges_both(&mut self) {
        let t = self.tmp.path();
        let reviewer = checkout(&self.origin, t, "reviewer");
        git(&reviewer, &["config", "user.name", "Reviewer"]);
        git(&reviewer, &["config", "user.email", "reviewer@example.com"]);
        for acct in [&self.old, &self.new] {
            git(
                &reviewer,
                &[
                    "merge",
                    "-q",
                    "--no-ff",
                    "-m",
                    &format!("Merge pull request: repokid/propose/{}", acct.id),
                    &format!("origin/repokid/propose/{}", acct.id),
                ],
            );
        }
        git(&reviewer, &["push", "-q", "origin", "main"]);
        self.merged = rev(&self.origin, "main");
    }

    /// verify.yml on a pull request that touches neither policies/ nor filters.toml: passes at
    /// once, without repokid (so the required check never stays pending).
    fn verify_passes_a_pull_request_without_policies_at_once(&mut self) {
        let t = self.tmp.path();
        let (docs_ws, docs) = verify_workspace(&self.origin, t, "verify-docs", "main");
        std::fs::write(docs.join("README.md"), "IAM policies\n").unwrap();
        git(&docs, &["add", "README.md"]);
        git(
            &docs,
            &[
                "-c",
                "user.name=Dev",
                "-c",
                "user.email=dev@example.com",
                "commit",
                "-q",
                "-m",
                "readme",
            ],
        );
        let job = self.runner.ok(
            ("verify.yml", "verify"),
            &docs_ws,
            &[
                ("BASE_REF", "main".into()),
                ("PR_DIR", "pr".into()),
                ("GITHUB_TOKEN", TOKEN.into()),
                ("REPOKID", "/nonexistent/repokid".into()),
            ],
        );
        assert!(job.stdout.contains("nothing to verify"), "{}", job.stdout);
        assert!(!job.stdout.contains("CODEOWNERS"), "{}", job.stdout);
    }

    /// Someone changes `new`'s queue role by hand before the apply runs: that is drift.
    fn apply_fails_on_drift_but_applies_the_rest(&mut self) {
        let t = self.tmp.path();
        self.new.put_policy("queue", "send", OUT_OF_BAND);

        // apply.yml, job prepare: both accounts have something to apply.
        let ck = checkout(&self.origin, t, "apply-prepare");
        let prep = self.runner.ok(
            ("apply.yml", "prepare"),
            &ck,
            &[("PENDING", "true".into()), ("BATCH_SIZE", "2".into())],
        );
        assert_eq!(batches(&prep), vec![self.ids.to_vec()]);

        // apply.yml, job apply: `new` drifted, so the job fails, but `old` is applied and its
        // baseline recorded on origin.
        let ck = checkout(&self.origin, t, "apply-1");
        let job = self.runner.run(
            ("apply.yml", "apply"),
            &ck,
            &[
                ("ACCOUNTS", batches(&prep)[0].join(" ")),
                ("APPLY_ROLE", String::new()),
                ("GITHUB_TOKEN", TOKEN.into()),
            ],
        );
        assert_eq!(job.code, 1, "{}{}", job.stdout, job.stderr);
        assert!(job.stdout.contains("drift"), "{}", job.stdout);
        // The failure opens the tracking issue (its life: tests/it/workflows/apply_runs.rs).
        let issues: Vec<Value> = self
            .api
            .requests()
            .into_iter()
            .filter(|(m, p, _)| m == "POST" && p == &format!("/repos/{REPO}/issues"))
            .map(|(_, _, b)| b)
            .collect();
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0]["labels"], json!(["repokid:apply-failed"]));
        assert!(job.stdout.contains("::error"), "{}", job.stdout);
        for role in ["app", "worker", "queue"] {
            assert_eq!(
                self.old.policies(role),
                file_policies(&ck, &self.old.id, role),
                "{role}"
            );
        }
        assert_eq!(
            rev(
                &self.origin,
                &format!("refs/repokid/applied/{}", self.old.id)
            ),
            self.merged
        );
        assert!(
            git(
                &self.origin,
                &[
                    "for-each-ref",
                    &format!("refs/repokid/applied/{}", self.new.id)
                ]
            )
            .is_empty(),
            "a drifted account's baseline must not move"
        );
        assert_eq!(
            self.new.policies("queue")["send"],
            serde_json::from_str::<Value>(OUT_OF_BAND).unwrap(),
            "drift was overwritten"
        );
    }

    /// The owner puts the role back; the next run applies `new` alone.
    fn apply_after_the_fix_applies_the_drifted_account(&mut self) {
        let t = self.tmp.path();
        self.new.put_policy("queue", "send", QUEUE);
        let ck = checkout(&self.origin, t, "apply-prepare-2");
        let prep = self.runner.ok(
            ("apply.yml", "prepare"),
            &ck,
            &[("PENDING", "true".into()), ("BATCH_SIZE", "1".into())],
        );
        assert_eq!(batches(&prep), vec![vec![self.new.id.clone()]]);
        let ck = checkout(&self.origin, t, "apply-2");
        self.runner.ok(
            ("apply.yml", "apply"),
            &ck,
            &[
                ("ACCOUNTS", batches(&prep)[0].join(" ")),
                ("APPLY_ROLE", "RepokidRole".into()),
                ("GITHUB_TOKEN", TOKEN.into()),
            ],
        );
        for acct in [&self.old, &self.new] {
            for role in ["app", "worker", "queue"] {
                assert_eq!(
                    acct.policies(role),
                    file_policies(&ck, &acct.id, role),
                    "{role} in {}",
                    acct.id
                );
            }
            assert_eq!(
                rev(&self.origin, &format!("refs/repokid/applied/{}", acct.id)),
                self.merged
            );
        }
    }

    /// Converged: nothing pending, and an apply anyway writes nothing and moves nothing.
    fn a_converged_apply_writes_nothing(&mut self) {
        let t = self.tmp.path();
        let ck = checkout(&self.origin, t, "apply-prepare-3");
        let prep = self.runner.ok(
            ("apply.yml", "prepare"),
            &ck,
            &[("PENDING", "true".into()), ("BATCH_SIZE", "1".into())],
        );
        assert_eq!(prep.outputs["count"], "0");
        assert!(batches(&prep).is_empty());
        let ck = checkout(&self.origin, t, "apply-3");
        let job = self.runner.ok(
            ("apply.yml", "apply"),
            &ck,
            &[
                ("ACCOUNTS", format!("{} {}", self.old.id, self.new.id)),
                ("APPLY_ROLE", String::new()),
                ("GITHUB_TOKEN", TOKEN.into()),
            ],
        );
        assert_eq!(
            job.stdout.matches("0 roles changed").count(),
            2,
            "{}",
            job.stdout
        );
        let refs = git(&self.origin, &["for-each-ref", "refs/repokid"]);
        assert_eq!(refs.lines().count(), 2, "{refs}");
    }

    /// A run for an older commit (a re-run, or one that waited) applies the tip instead, which
    /// is applied already: nothing is written, nothing older ever is.
    fn a_stale_run_applies_the_tip(&mut self) {
        let t = self.tmp.path();
        let stale = checkout(&self.origin, t, "apply-stale");
        git(&stale, &["checkout", "-q", "-B", "main", &self.main_before]);
        let job = self.runner.ok(
            ("apply.yml", "apply"),
            &stale,
            &[
                ("ACCOUNTS", self.old.id.clone()),
                ("APPLY_ROLE", String::new()),
                ("GITHUB_TOKEN", TOKEN.into()),
            ],
        );
        assert!(job.stdout.contains("applying the tip"), "{}", job.stdout);
        assert!(job.stdout.contains("0 roles changed"), "{}", job.stdout);
    }

    /// dispatch.yml: a comment command, answered with one reply.
    fn dispatch_answers_a_comment(&mut self) {
        let t = self.tmp.path();
        self.api.reset();
        let ck = checkout(&self.origin, t, "dispatch");
        let event = t.join("comment.json");
        std::fs::write(
            &event,
            json!({
                "action": "created",
                "issue": {"number": 7},
                "comment": {"body": format!("/repokid show {} app", self.old.id), "user": {"login": "alice", "type": "User"}},
                "repository": {"full_name": REPO},
            })
            .to_string(),
        )
        .unwrap();
        self.runner.ok(
            ("dispatch.yml", "dispatch"),
            &ck,
            &[
                ("GITHUB_TOKEN", TOKEN.into()),
                ("GITHUB_EVENT_PATH", event.display().to_string()),
            ],
        );
        let replies: Vec<Value> = self
            .api
            .requests()
            .into_iter()
            .filter(|(m, p, _)| m == "POST" && p == &format!("/repos/{REPO}/issues/7/comments"))
            .map(|(_, _, b)| b)
            .collect();
        assert_eq!(replies.len(), 1, "{replies:?}");
        let reply = replies[0]["body"].as_str().unwrap();
        assert!(
            reply.contains(&self.old.id) && reply.contains("app") && reply.contains("data"),
            "{reply}"
        );
    }

    /// No secret went anywhere.
    fn no_secret_went_anywhere(&mut self) {
        for secret in [TOKEN, moto::SECRET_KEY, moto::SESSION_TOKEN] {
            assert!(!self.runner.seen.contains(secret), "a secret was printed");
        }
        assert!(!self.git_server.log_text().contains(TOKEN));
    }
}
