#![allow(clippy::unwrap_used)]
//! The GitHub Actions workflows, run the way Actions runs them: the exact scripts each workflow
//! job runs (`scripts/gha/*.sh`), in workflow order, with the environment the workflow gives
//! them, against moto (IAM + STS with Access Advisor), a bare repository standing in for the
//! GitHub repository (each job's checkout is a fresh clone of it; proposal branches are pushed
//! to it over smart HTTP with a token), and a wiremock stand-in for GitHub's API.
//!
//! The loop: prepare → propose (one account already recorded on main, one new) → merge-due →
//! verify on each pull request (and on one that touches no policy) → a reviewer merges →
//! prepare (pending) → apply (a drifted account fails without stopping the other, whose baseline
//! is still recorded) → apply again after the drift is resolved → nothing left to apply, and a
//! run for an older commit writes nothing; then a comment command through dispatch. Each step is
//! looked up in the workflow file (which script its job runs) and given exactly the variables the
//! step's `env:` sets.
//!
//! Three tests run verify.yml's script on pull requests that try to change the check: one that
//! rewrites its own verify code and scripts to pass and commits a passing "repokid" is still
//! judged by the base's script and a repokid built from the base's tree; a REPOKID inside the
//! pull request's checkout is refused; changed workflows and scripts draw a warning. One more
//! runs it on a merge queue's group (a `merge_group` event): the group's head is judged against
//! the group's base, not main, with the labels of its pull request read from an API stand-in.
//!
//! Only reviewed code runs: jobs whose checkout holds a committed "repokid" (where the workflows
//! used to cache it, and where a build would put it) build from the checkout's tree into a target
//! directory outside it and run that, and refuse a REPOKID in the checkout (relative, absolute,
//! through a symlink, or unset); a release pinned in repokid.lock runs only with the lock's
//! SHA-256 (a swapped download or a mismatching file at REPOKID is refused, never run); the
//! release scripts refuse a tag that is not the crate's version and a binary that is not static,
//! and publish SHA256SUMS with the lock that pins the release.
//!
//! More read the workflow files themselves: each job's `run:` is exactly one script,
//! every script is run by some job, and every variable a step sets is documented by its script;
//! every action is pinned by commit with its version; every workflow starts from
//! `permissions: {}`, each job declares its own, and `id-token: write` goes only with AWS
//! credentials; verify.yml checks out the base into trusted/ (whose script runs) and the pull
//! request into pr/, and restores the binary outside both, keyed on trusted/ alone; the other
//! workflows keep the binary in the runner's temporary directory, restore it from a cache keyed
//! on the sources and save it only from main's prepare jobs, never when a release is pinned.
//! Identity: each AWS credential step asks for a session exactly as long as its job's timeout,
//! each hub role is used only in its environment (the write path only in apply.yml's
//! environment-protected apply job), App tokens carry explicit `permission-*` inputs, secrets
//! appear only in jobs with an environment, and docs/setup.md's trust policies name environment
//! subjects exactly, keep role assumption inside the organisation and raise MaxSessionDuration
//! to the workflows' sessions.

use crate::common;
// apply.yml's runs beyond the end-to-end loop: the tip applied, the scheduled catch-up.
mod apply_runs;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::common::git;
use crate::common::git_server::GitServer;
use crate::common::moto::{self, MotoAccount};
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// A token distinctive enough that finding it anywhere is a leak.
const TOKEN: &str = "ghs_W0rkfl0wTestT0kenNeverPrinted42";
const REPO: &str = "acme/iam";

const APP: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Data","Effect":"Allow","Action":["s3:GetObject","s3:PutObject","sqs:SendMessage","sqs:ReceiveMessage"],"Resource":"*"}]}"#;
const LEGACY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:GetItem","Resource":"*"}]}"#;
const WORKER: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":"*"}]}"#;
const QUEUE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sqs:SendMessage","sns:Publish"],"Resource":"*"}]}"#;
const OUT_OF_BAND: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sqs:SendMessage","sns:Publish","sns:Subscribe"],"Resource":"*"}]}"#;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn days_ago(d: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::days(d)).to_rfc3339()
}

/// Roles: `app` loses sqs and its `legacy` policy, `worker` is unchanged, `queue` loses
/// sns:Publish.
fn populate(acct: &MotoAccount) {
    acct.create_role("app", &[("data", APP), ("legacy", LEGACY)]);
    acct.create_role("worker", &[("s3", WORKER)]);
    acct.create_role("queue", &[("send", QUEUE)]);
    let used = |ns: &str, name: &str| json!({"ServiceNamespace": ns, "ServiceName": name, "LastAuthenticated": days_ago(1), "TotalAuthenticatedEntities": 1});
    let never = |ns: &str, name: &str| json!({"ServiceNamespace": ns, "ServiceName": name, "LastAuthenticated": null});
    moto::seed_access_advisor(&json!({
        acct.arn("app"): [used("s3", "Amazon S3"), never("sqs", "Amazon SQS"), never("dynamodb", "Amazon DynamoDB")],
        acct.arn("worker"): [used("s3", "Amazon S3")],
        acct.arn("queue"): [used("sqs", "Amazon SQS"), never("sns", "Amazon SNS")],
    }));
}

// ---------------------------------------------------------------------------------------------
// The GitHub API stand-in
// ---------------------------------------------------------------------------------------------

/// Answers the calls `propose --open-pr`, `repo-scheduled-roles` and `dispatch` make, like an
/// empty repository would: no pull requests yet, each create gets the next number.
struct FakeGitHub {
    next: AtomicU64,
}

fn pr_json(number: u64, head: &str, body: &str) -> Value {
    json!({
        "number": number,
        "state": "open",
        "merged_at": null,
        "html_url": format!("https://github.com/{REPO}/pull/{number}"),
        "head": {"ref": head, "sha": "8f14e45fceea167a5a36dedd4bea2543d1f6d6a4", "label": format!("acme:{head}")},
        "base": {"ref": "main"},
        "body": body,
        "labels": [],
        "mergeable": null,
    })
}

impl Respond for FakeGitHub {
    fn respond(&self, r: &Request) -> ResponseTemplate {
        let path = r.url.path();
        let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        let prefix = format!("/repos/{REPO}");
        let Some(rest) = path.strip_prefix(&prefix) else {
            return ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"}));
        };
        match (r.method.as_str(), rest) {
            ("GET", "/pulls") => ResponseTemplate::new(200).set_body_json(json!([])),
            ("POST", "/pulls") => {
                let n = self.next.fetch_add(1, Ordering::Relaxed);
                let head = body["head"].as_str().unwrap_or_default();
                let text = body["body"].as_str().unwrap_or_default();
                ResponseTemplate::new(201).set_body_json(pr_json(n, head, text))
            }
            ("POST", p) if p.starts_with("/issues/") && p.ends_with("/labels") => {
                ResponseTemplate::new(200).set_body_json(
                    body["labels"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                        .iter()
                        .map(|l| json!({"name": l}))
                        .collect::<Vec<_>>(),
                )
            }
            ("POST", p) if p.starts_with("/pulls/") && p.ends_with("/requested_reviewers") => {
                ResponseTemplate::new(201).set_body_json(pr_json(1, "x", ""))
            }
            ("GET", p) if p.starts_with("/collaborators/") => ResponseTemplate::new(200)
                .set_body_json(json!({"permission": "write", "role_name": "write"})),
            ("POST", p) if p.starts_with("/issues/") && p.ends_with("/comments") => {
                ResponseTemplate::new(201).set_body_json(json!({"id": 1, "body": body["body"]}))
            }
            // As a protected branch whose required checks have not run yet answers.
            ("PUT", p) if p.starts_with("/pulls/") && p.ends_with("/merge") => {
                ResponseTemplate::new(405).set_body_json(
                    json!({"message": "Required status check \"verify\" is expected."}),
                )
            }
            // apply-report: no pull request behind the commits, no issue open before; the
            // tracking issue it opens is #900, and stays open. (tests/it/workflows/apply_runs.rs
            // follows the comments and the issue with a stand-in that keeps state.)
            ("GET", p) if p.starts_with("/commits/") && p.ends_with("/pulls") => {
                ResponseTemplate::new(200).set_body_json(json!([]))
            }
            ("GET", "/issues") => ResponseTemplate::new(200).set_body_json(json!([])),
            ("POST", "/issues") => ResponseTemplate::new(201)
                .set_body_json(json!({"number": 900, "state": "open", "title": body["title"]})),
            ("GET", p) if p.starts_with("/issues/") && p.ends_with("/comments") => {
                ResponseTemplate::new(200).set_body_json(json!([]))
            }
            ("GET", "/issues/900") => {
                ResponseTemplate::new(200).set_body_json(json!({"number": 900, "state": "open"}))
            }
            _ => ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})),
        }
    }
}

struct Api {
    rt: tokio::runtime::Runtime,
    server: MockServer,
}

impl Api {
    fn start() -> Api {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let server = rt.block_on(MockServer::start());
        rt.block_on(
            Mock::given(any())
                .respond_with(FakeGitHub {
                    next: AtomicU64::new(101),
                })
                .mount(&server),
        );
        Api { rt, server }
    }

    /// (method, path, JSON body) of every request so far.
    fn requests(&self) -> Vec<(String, String, Value)> {
        let reqs = self
            .rt
            .block_on(self.server.received_requests())
            .unwrap_or_default();
        for r in &reqs {
            assert_eq!(
                r.headers.get("authorization").map(|v| v.to_str().unwrap()),
                Some(format!("Bearer {TOKEN}").as_str()),
                "{} {} without the token",
                r.method,
                r.url
            );
        }
        reqs.iter()
            .map(|r| {
                (
                    r.method.to_string(),
                    r.url.path().to_string(),
                    serde_json::from_slice(&r.body).unwrap_or(Value::Null),
                )
            })
            .collect()
    }

    fn reset(&self) {
        self.rt.block_on(self.server.reset());
        self.rt.block_on(
            Mock::given(any())
                .respond_with(FakeGitHub {
                    next: AtomicU64::new(201),
                })
                .mount(&self.server),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Running a job's script as Actions would
// ---------------------------------------------------------------------------------------------

/// What a job's script printed and returned, and the step outputs it wrote.
struct Job {
    code: i32,
    stdout: String,
    stderr: String,
    outputs: BTreeMap<String, String>,
}

/// Everything the scripts printed, to check no secret is in it.
#[derive(Default)]
struct Runner {
    seen: String,
    /// Jobs run so far: each gets its own GITHUB_RUN_ID.
    runs: u64,
}

impl Runner {
    /// Runs the script that `job` of `workflow` runs (`step` = (workflow, job), read from the
    /// workflow file) in `checkout`, with Actions' variables (a fresh output and summary file,
    /// GITHUB_ACTIONS=true), the AWS environment of moto, the built binary as REPOKID, and `env`:
    /// exactly the variables the step's `env:` sets (checked), plus what Actions itself sets.
    ///
    /// A job that checks out the policy repository runs its `scripts/gha/…`: the checkout's own
    /// copy when it has one (as in Actions), else this repository's (most test repositories hold
    /// only policies and settings). verify.yml's script lies in its own workspace (`trusted/…`,
    /// see `verify_workspace`): `checkout` is that workspace, and the script is taken from it.
    /// The checkout is the workspace (GITHUB_WORKSPACE), and RUNNER_TEMP a fresh directory
    /// outside it.
    fn run(&mut self, step: (&str, &str), checkout: &Path, env: &[(&str, String)]) -> Job {
        let script = job_script(step, env);
        let script = if script.starts_with("scripts/") && !checkout.join(&script).is_file() {
            root().join(&script)
        } else {
            checkout.join(&script)
        };
        let tmp = tempfile::tempdir().unwrap();
        let output = tmp.path().join("output");
        let summary = tmp.path().join("summary");
        let runner_temp = tmp.path().join("runner-temp");
        std::fs::create_dir(&runner_temp).unwrap();
        self.runs += 1;
        let mut cmd = Command::new("bash");
        cmd.arg(&script)
            .current_dir(checkout)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_SERVER_URL", "https://github.com")
            .env("GITHUB_REPOSITORY", REPO)
            .env("GITHUB_RUN_ID", self.runs.to_string())
            .env("GITHUB_OUTPUT", &output)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("GITHUB_WORKSPACE", checkout)
            .env("RUNNER_TEMP", &runner_temp)
            .env("REPOKID", env!("CARGO_BIN_EXE_repokid"))
            .env("NO_COLOR", "1")
            .env_remove("GITHUB_EVENT_PATH")
            .env_remove("GITHUB_TOKEN")
            .env_remove("GH_TOKEN")
            .env_remove("REPOKID_LOG")
            .env_remove("REPOKID_NOW")
            .env_remove("REPOKID_CARGO")
            .env_remove("AWS_PROFILE");
        for (k, v) in moto::aws_env() {
            cmd.env(k, v);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let job = Job {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
            outputs: std::fs::read_to_string(&output)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        self.seen.push_str(&job.stdout);
        self.seen.push_str(&job.stderr);
        self.seen
            .push_str(&std::fs::read_to_string(&summary).unwrap_or_default());
        job
    }

    fn ok(&mut self, step: (&str, &str), checkout: &Path, env: &[(&str, String)]) -> Job {
        let job = self.run(step, checkout, env);
        assert_eq!(
            job.code, 0,
            "{step:?} failed:\n--- stdout\n{}\n--- stderr\n{}",
            job.stdout, job.stderr
        );
        job
    }
}

/// A fresh clone of `origin`, as actions/checkout gives a job (full history, default branch).
fn checkout(origin: &Path, parent: &Path, name: &str) -> PathBuf {
    let dir = parent.join(name);
    git(
        parent,
        &[
            "clone",
            "-q",
            origin.to_str().unwrap(),
            dir.to_str().unwrap(),
        ],
    );
    dir
}

/// The script `job` of `workflow` runs, after checking that `env` gives it exactly the variables
/// the step's `env:` sets, besides GITHUB_EVENT_PATH, GITHUB_API_URL and PATH, which Actions
/// sets (tests point GITHUB_API_URL at a stand-in), REPOKID, which the workflow sets (in the step,
/// under the runner's temporary directory) to the cached or downloaded binary and the test to the
/// built one, and REPOKID_CARGO and REPOKID_NOW, which only a test sets, to watch a build and to
/// replay a night.
fn job_script((workflow, job): (&str, &str), env: &[(&str, String)]) -> String {
    let steps = steps(&workflow_text(workflow));
    let step = steps
        .iter()
        .find(|s| s.job == job && s.run.is_some())
        .unwrap_or_else(|| panic!("{workflow} has no job {job} running a script"));
    let compared = |k: &&str| {
        ![
            "GITHUB_EVENT_PATH",
            "GITHUB_API_URL",
            "PATH",
            "REPOKID",
            "REPOKID_CARGO",
            "REPOKID_NOW",
        ]
        .contains(k)
    };
    let mut given: Vec<&str> = env.iter().map(|(k, _)| *k).filter(compared).collect();
    given.sort_unstable();
    let mut want: Vec<&str> = step
        .env
        .iter()
        .map(String::as_str)
        .filter(compared)
        .collect();
    want.sort_unstable();
    assert_eq!(
        given, want,
        "{workflow}/{job}: the test must set what the workflow sets"
    );
    step.run.clone().unwrap()
}

fn batches(job: &Job) -> Vec<Vec<String>> {
    serde_json::from_str(&job.outputs["batches"]).unwrap()
}

fn file_policies(dir: &Path, account: &str, role: &str) -> serde_json::Map<String, Value> {
    let text =
        std::fs::read_to_string(dir.join(format!("policies/{account}/{role}.json"))).unwrap();
    serde_json::from_str::<Value>(&text)
        .unwrap()
        .as_object()
        .unwrap()
        .clone()
}

fn rev(dir: &Path, r: &str) -> String {
    git(dir, &["rev-parse", r]).trim().to_string()
}

/// verify.yml's workspace `parent/name`: `trusted/`, the base commit's checkout, holding here a
/// copy of this repository's `scripts/` (the part of it the job runs); and `pr/`, a clone of
/// `origin` (full history) at `head`, the pull request. Returns (workspace, pr).
fn verify_workspace(origin: &Path, parent: &Path, name: &str, head: &str) -> (PathBuf, PathBuf) {
    let ws = parent.join(name);
    std::fs::create_dir_all(&ws).unwrap();
    copy_dir(&root().join("scripts"), &ws.join("trusted/scripts"));
    let pr = checkout(origin, &ws, "pr");
    git(&pr, &["checkout", "-q", head]);
    (ws, pr)
}

/// Copies the tree `from` to `to` (file modes kept).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

/// A `pull_request` event as Actions writes it to $GITHUB_EVENT_PATH, with these labels.
fn pr_event(dir: &Path, labels: &[&str]) -> PathBuf {
    let path = dir.join(format!("event-{}.json", labels.len()));
    let labels: Vec<Value> = labels.iter().map(|l| json!({"name": l})).collect();
    std::fs::write(
        &path,
        json!({"action": "labeled", "pull_request": {"number": 101, "labels": labels}}).to_string(),
    )
    .unwrap();
    path
}

/// The repokid.toml of a policy repository on moto (inventory and Access Advisor from AWS) and
/// the GitHub stand-ins, with these accounts and `[engine]` lines.
fn settings_toml(accounts: &[&str], engine: &str, api: &str, git_url: &str) -> String {
    let accounts: Vec<String> = accounts.iter().map(|a| format!("\"{a}\"")).collect();
    format!(
        "accounts = [{}]\n\n[sources]\ninventory-source = \"aws\"\n\
         usage-source = \"access-advisor\"\n\n[aws]\nassume-role = \"RepokidRole\"\n\
         access-advisor-timeout-seconds = 60\nmax-attempts = 2\ncall-timeout-seconds = 5\n\n\
         [engine]\n{engine}\n[github]\nrepo = \"{REPO}\"\napi-url = \"{api}\"\n\
         git-url = \"{git_url}\"\n",
        accounts.join(", ")
    )
}

#[test]
fn the_workflow_scripts_run_the_loop_end_to_end() {
    let (old, new) = (MotoAccount::fresh(), MotoAccount::fresh());
    populate(&old);
    populate(&new);
    let git_server = GitServer::start(TOKEN);
    let (origin, url) = git_server.bare_repo("iam");
    let api = Api::start();
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let mut runner = Runner::default();

    // The repository as a team sets it up (docs/setup.md): settings, filters, and `old` already
    // recorded on main; `new` is only listed in the settings.
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

    // propose.yml, job prepare: the accounts of the settings, in one batch of two.
    let ck = checkout(&origin, t, "propose-prepare");
    let prep = runner.ok(
        ("propose.yml", "prepare"),
        &ck,
        &[("ACCOUNTS", String::new()), ("BATCH_SIZE", "10".into())],
    );
    let mut ids = [old.id.clone(), new.id.clone()];
    ids.sort();
    assert_eq!(batches(&prep), vec![ids.to_vec()]);
    assert_eq!(prep.outputs["count"], "2");

    // propose.yml, job propose: one matrix job for the batch, ACCOUNTS = join(matrix.batch, ' ').
    let ck = checkout(&origin, t, "propose");
    let batch = batches(&prep)[0].join(" ");
    let job = runner.ok(
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
    assert_eq!(rev(&origin, "main"), main_before);
    for acct in [&old, &new] {
        let branch = format!("repokid/propose/{}", acct.id);
        let tip = rev(&origin, &format!("refs/heads/{branch}"));
        let count = git(&origin, &["rev-list", "--count", &format!("main..{tip}")]);
        // `old` was recorded: only the proposal; `new` carries its sync commit too.
        let expected = if acct.id == old.id { "1" } else { "2" };
        assert_eq!(count.trim(), expected, "commits on {branch}");
    }
    // One pull request per account, opened with the proposal's text; and one recording pull
    // request for `new`'s sync commit, which waits (its checks have not run).
    let creates: Vec<Value> = api
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
    assert_eq!(recording[0]["head"], format!("repokid/record/{}", new.id));
    assert!(job.stdout.contains("waits to be merged"), "{}", job.stdout);
    for acct in [&old, &new] {
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

    // propose.yml, job merge-due: no scheduled pull request, nothing merged, apply not started.
    let ck = checkout(&origin, t, "merge-due");
    let job = runner.ok(
        ("propose.yml", "merge-due"),
        &ck,
        &[
            ("GITHUB_TOKEN", TOKEN.into()),
            ("GH_TOKEN", TOKEN.into()),
            ("BASE_BRANCH", "main".into()),
        ],
    );
    assert!(!job.stdout.contains("started"), "{}", job.stdout);

    // verify.yml on each pull request: the base's scripts in trusted/, the pull request's head
    // in pr/.
    let verify = |runner: &mut Runner, acct: &MotoAccount, labels: &[&str]| {
        let (ws, _) = verify_workspace(
            &origin,
            t,
            &format!("verify-{}-{}", acct.id, labels.len()),
            &format!("origin/repokid/propose/{}", acct.id),
        );
        let event = pr_event(t, labels);
        runner.run(
            ("verify.yml", "verify"),
            &ws,
            &[
                ("BASE_REF", "main".into()),
                ("PR_DIR", "pr".into()),
                ("GITHUB_TOKEN", TOKEN.into()),
                ("GITHUB_EVENT_PATH", event.display().to_string()),
            ],
        )
    };
    let job = verify(&mut runner, &old, &[]);
    assert_eq!(
        job.code, 0,
        "removals only must pass:\n{}{}",
        job.stdout, job.stderr
    );
    // `new`'s pull request records its roles for the first time: every action is new to the
    // branch, so the check holds it until a reviewer labels it.
    let job = verify(&mut runner, &new, &[]);
    assert_eq!(job.code, 1, "{}{}", job.stdout, job.stderr);
    assert!(
        format!("{}{}", job.stdout, job.stderr).contains("repokid:adds-access"),
        "{}{}",
        job.stdout,
        job.stderr
    );
    let job = verify(&mut runner, &new, &["repokid:adds-access"]);
    assert_eq!(job.code, 0, "{}{}", job.stdout, job.stderr);

    // A reviewer merges both pull requests (merge commits keep the sync commit on main).
    let reviewer = checkout(&origin, t, "reviewer");
    git(&reviewer, &["config", "user.name", "Reviewer"]);
    git(&reviewer, &["config", "user.email", "reviewer@example.com"]);
    for acct in [&old, &new] {
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
    let merged = rev(&origin, "main");

    // verify.yml on a pull request that touches neither policies/ nor filters.toml: passes at
    // once, without repokid (so the required check never stays pending).
    let (docs_ws, docs) = verify_workspace(&origin, t, "verify-docs", "main");
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
    let job = runner.ok(
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

    // Someone changes `new`'s queue role by hand before the apply runs: that is drift.
    new.put_policy("queue", "send", OUT_OF_BAND);

    // apply.yml, job prepare: both accounts have something to apply.
    let ck = checkout(&origin, t, "apply-prepare");
    let prep = runner.ok(
        ("apply.yml", "prepare"),
        &ck,
        &[("PENDING", "true".into()), ("BATCH_SIZE", "2".into())],
    );
    assert_eq!(batches(&prep), vec![ids.to_vec()]);

    // apply.yml, job apply: `new` drifted, so the job fails, but `old` is applied and its
    // baseline recorded on origin.
    let ck = checkout(&origin, t, "apply-1");
    let job = runner.run(
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
    let issues: Vec<Value> = api
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
            old.policies(role),
            file_policies(&ck, &old.id, role),
            "{role}"
        );
    }
    assert_eq!(
        rev(&origin, &format!("refs/repokid/applied/{}", old.id)),
        merged
    );
    assert!(
        git(
            &origin,
            &["for-each-ref", &format!("refs/repokid/applied/{}", new.id)]
        )
        .is_empty(),
        "a drifted account's baseline must not move"
    );
    assert_eq!(
        new.policies("queue")["send"],
        serde_json::from_str::<Value>(OUT_OF_BAND).unwrap(),
        "drift was overwritten"
    );

    // The owner puts the role back; the next run applies `new` alone.
    new.put_policy("queue", "send", QUEUE);
    let ck = checkout(&origin, t, "apply-prepare-2");
    let prep = runner.ok(
        ("apply.yml", "prepare"),
        &ck,
        &[("PENDING", "true".into()), ("BATCH_SIZE", "1".into())],
    );
    assert_eq!(batches(&prep), vec![vec![new.id.clone()]]);
    let ck = checkout(&origin, t, "apply-2");
    runner.ok(
        ("apply.yml", "apply"),
        &ck,
        &[
            ("ACCOUNTS", batches(&prep)[0].join(" ")),
            ("APPLY_ROLE", "RepokidRole".into()),
            ("GITHUB_TOKEN", TOKEN.into()),
        ],
    );
    for acct in [&old, &new] {
        for role in ["app", "worker", "queue"] {
            assert_eq!(
                acct.policies(role),
                file_policies(&ck, &acct.id, role),
                "{role} in {}",
                acct.id
            );
        }
        assert_eq!(
            rev(&origin, &format!("refs/repokid/applied/{}", acct.id)),
            merged
        );
    }

    // Converged: nothing pending, and an apply anyway writes nothing and moves nothing.
    let ck = checkout(&origin, t, "apply-prepare-3");
    let prep = runner.ok(
        ("apply.yml", "prepare"),
        &ck,
        &[("PENDING", "true".into()), ("BATCH_SIZE", "1".into())],
    );
    assert_eq!(prep.outputs["count"], "0");
    assert!(batches(&prep).is_empty());
    let ck = checkout(&origin, t, "apply-3");
    let job = runner.ok(
        ("apply.yml", "apply"),
        &ck,
        &[
            ("ACCOUNTS", format!("{} {}", old.id, new.id)),
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
    let refs = git(&origin, &["for-each-ref", "refs/repokid"]);
    assert_eq!(refs.lines().count(), 2, "{refs}");

    // A run for an older commit (a re-run, or one that waited) applies the tip instead, which
    // is applied already: nothing is written, nothing older ever is.
    let stale = checkout(&origin, t, "apply-stale");
    git(&stale, &["checkout", "-q", "-B", "main", &main_before]);
    let job = runner.ok(
        ("apply.yml", "apply"),
        &stale,
        &[
            ("ACCOUNTS", old.id.clone()),
            ("APPLY_ROLE", String::new()),
            ("GITHUB_TOKEN", TOKEN.into()),
        ],
    );
    assert!(job.stdout.contains("applying the tip"), "{}", job.stdout);
    assert!(job.stdout.contains("0 roles changed"), "{}", job.stdout);

    // dispatch.yml: a comment command, answered with one reply.
    api.reset();
    let ck = checkout(&origin, t, "dispatch");
    let event = t.join("comment.json");
    std::fs::write(
        &event,
        json!({
            "action": "created",
            "issue": {"number": 7},
            "comment": {"body": format!("/repokid show {} app", old.id), "user": {"login": "alice", "type": "User"}},
            "repository": {"full_name": REPO},
        })
        .to_string(),
    )
    .unwrap();
    runner.ok(
        ("dispatch.yml", "dispatch"),
        &ck,
        &[
            ("GITHUB_TOKEN", TOKEN.into()),
            ("GITHUB_EVENT_PATH", event.display().to_string()),
        ],
    );
    let replies: Vec<Value> = api
        .requests()
        .into_iter()
        .filter(|(m, p, _)| m == "POST" && p == &format!("/repos/{REPO}/issues/7/comments"))
        .map(|(_, _, b)| b)
        .collect();
    assert_eq!(replies.len(), 1, "{replies:?}");
    let reply = replies[0]["body"].as_str().unwrap();
    assert!(
        reply.contains(&old.id) && reply.contains("app") && reply.contains("data"),
        "{reply}"
    );

    // No secret went anywhere.
    for secret in [TOKEN, moto::SECRET_KEY, moto::SESSION_TOKEN] {
        assert!(!runner.seen.contains(secret), "a secret was printed");
    }
    assert!(!git_server.log_text().contains(TOKEN));
}

// ---------------------------------------------------------------------------------------------
// Nights of the shipped loop: live state recorded on main, ages accumulating
// ---------------------------------------------------------------------------------------------

/// A pull request the merging stand-in knows.
#[derive(Clone)]
struct StoredPr {
    number: u64,
    head: String,
    state: &'static str,
    merged: bool,
    body: String,
}

/// GitHub's pull requests as far as `propose --open-pr` and `record` use them, remembered, and
/// merged for real into the bare repository standing in for GitHub (a merge commit on main, as
/// GitHub's "Create a merge commit" makes).
struct MergingGitHub {
    origin: PathBuf,
    prs: std::sync::Mutex<Vec<StoredPr>>,
    /// Refuse merges, as a branch whose required checks have not run yet does.
    refuse: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

fn stored_json(p: &StoredPr) -> Value {
    let mut v = pr_json(p.number, &p.head, &p.body);
    v["state"] = json!(p.state);
    v["merged"] = json!(p.merged);
    v["merged_at"] = if p.merged {
        json!("2026-01-01T00:00:00Z")
    } else {
        Value::Null
    };
    v
}

impl Respond for MergingGitHub {
    fn respond(&self, r: &Request) -> ResponseTemplate {
        let path = r.url.path().trim_start_matches(&format!("/repos/{REPO}"));
        let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        let mut prs = self.prs.lock().unwrap();
        let number =
            |p: &str| -> Option<u64> { p.strip_prefix("/pulls/")?.split('/').next()?.parse().ok() };
        match (r.method.as_str(), path) {
            ("GET", "/pulls") => {
                let head = r
                    .url
                    .query_pairs()
                    .find(|(k, _)| k == "head")
                    .map(|(_, v)| {
                        v.split_once(':')
                            .map_or(v.to_string(), |(_, b)| b.to_string())
                    });
                let list: Vec<Value> = prs
                    .iter()
                    .rev()
                    .filter(|p| head.as_deref().is_none_or(|h| h == p.head))
                    .map(stored_json)
                    .collect();
                ResponseTemplate::new(200).set_body_json(list)
            }
            ("POST", "/pulls") => {
                let p = StoredPr {
                    number: 301 + prs.len() as u64,
                    head: body["head"].as_str().unwrap_or_default().to_string(),
                    state: "open",
                    merged: false,
                    body: body["body"].as_str().unwrap_or_default().to_string(),
                };
                prs.push(p.clone());
                ResponseTemplate::new(201).set_body_json(stored_json(&p))
            }
            ("PATCH", p) if number(p).is_some() => {
                let n = number(p).unwrap();
                let Some(pr) = prs.iter_mut().find(|x| x.number == n) else {
                    return ResponseTemplate::new(404);
                };
                if let Some(b) = body["body"].as_str() {
                    pr.body = b.to_string();
                }
                ResponseTemplate::new(200).set_body_json(stored_json(pr))
            }
            ("PUT", p) if p.ends_with("/merge") && self.refuse.load(Ordering::Relaxed) => {
                ResponseTemplate::new(405).set_body_json(
                    json!({"message": "Required status check \"verify\" is expected."}),
                )
            }
            ("PUT", p) if p.ends_with("/merge") => {
                let n = number(p).unwrap_or_default();
                let Some(pr) = prs.iter_mut().find(|x| x.number == n && x.state == "open") else {
                    return ResponseTemplate::new(404);
                };
                let head = git(
                    &self.origin,
                    &["rev-parse", &format!("refs/heads/{}", pr.head)],
                );
                if body["sha"].as_str() != Some(head.trim()) {
                    return ResponseTemplate::new(409)
                        .set_body_json(json!({"message": "Head branch was modified"}));
                }
                let tree = git(
                    &self.origin,
                    &["merge-tree", "--write-tree", "main", head.trim()],
                );
                let title = body["commit_title"].as_str().unwrap_or("merge");
                let merge = git(
                    &self.origin,
                    &[
                        "commit-tree",
                        tree.trim(),
                        "-p",
                        "main",
                        "-p",
                        head.trim(),
                        "-m",
                        title,
                    ],
                );
                git(
                    &self.origin,
                    &["update-ref", "refs/heads/main", merge.trim()],
                );
                pr.state = "closed";
                pr.merged = true;
                ResponseTemplate::new(200)
                    .set_body_json(json!({"merged": true, "sha": merge.trim()}))
            }
            ("POST", p) if p.starts_with("/issues/") && p.ends_with("/labels") => {
                ResponseTemplate::new(200).set_body_json(json!([]))
            }
            ("POST", p) if p.ends_with("/requested_reviewers") => {
                ResponseTemplate::new(201).set_body_json(json!({}))
            }
            _ => ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})),
        }
    }
}

#[test]
fn nights_of_the_shipped_loop_record_live_state_and_propose_after_the_grace_period() {
    let acct = MotoAccount::fresh();
    populate(&acct);
    let git_server = GitServer::start(TOKEN);
    let (origin, url) = git_server.bare_repo("iam");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(MockServer::start());
    let refuse = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    rt.block_on(
        Mock::given(any())
            .respond_with(MergingGitHub {
                origin: origin.clone(),
                prs: std::sync::Mutex::new(Vec::new()),
                refuse: refuse.clone(),
            })
            .mount(&server),
    );
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let mut runner = Runner::default();

    // The default engine settings: a 14-day grace period, usage no older than 5 days.
    let seed = common::new_repo();
    let s = seed.path();
    std::fs::write(
        s.join("repokid.toml"),
        settings_toml(&[&acct.id], "", &server.uri(), &url),
    )
    .unwrap();
    std::fs::write(s.join("filters.toml"), "[age]\nminimum_days = 0\n").unwrap();
    git(s, &["add", "repokid.toml", "filters.toml"]);
    git(s, &["commit", "-q", "-m", "repokid settings"]);
    git(s, &["push", "-q", origin.to_str().unwrap(), "main"]);

    let start = chrono::Utc::now();
    let proposal = format!("refs/heads/repokid/propose/{}", acct.id);
    let mut night = |n: i64| -> Job {
        let now = start + chrono::Duration::days(n);
        moto::set_access_advisor_clock(&acct.id, now);
        let ck = checkout(&origin, t, &format!("night-{n}"));
        runner.ok(
            ("propose.yml", "propose"),
            &ck,
            &[
                ("ACCOUNTS", acct.id.clone()),
                ("SCHEDULE", "false".into()),
                ("GITHUB_TOKEN", TOKEN.into()),
                ("REPOKID_NOW", now.to_rfc3339()),
            ],
        )
    };
    let syncs_on_main = || {
        git(
            &origin,
            &["log", "--format=%H", "--grep=Repokid-Action: sync", "main"],
        )
        .lines()
        .count()
    };

    // Night 0: the account's roles are recorded; the recording waits (its checks have not run);
    // every permission is new, so nothing is proposed.
    let job = night(0);
    assert!(
        job.stdout.contains("#301 waits to be merged"),
        "{}",
        job.stdout
    );
    assert_eq!(syncs_on_main(), 0);
    let recorded = rev(&origin, &format!("refs/heads/repokid/record/{}", acct.id));
    // Night 1: the same live state: the waiting commit (dated night 0) is merged, not a new one.
    refuse.store(false, Ordering::Relaxed);
    let job = night(1);
    assert!(
        job.stdout.contains("recorded: #301 merged"),
        "{}",
        job.stdout
    );
    assert_eq!(syncs_on_main(), 1);
    let on_main = git(
        &origin,
        &[
            "log",
            "--format=%H %ct",
            "--grep=Repokid-Action: sync",
            "main",
        ],
    );
    assert!(on_main.starts_with(&recorded), "{on_main} vs {recorded}");
    let dated: i64 = on_main.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(
        (dated - start.timestamp()).abs() < 60,
        "the recording is dated night 0: {on_main}"
    );
    assert!(
        !git(
            &origin,
            &[
                "for-each-ref",
                "--format=%(refname)",
                "refs/heads/repokid/propose/"
            ]
        )
        .contains(&acct.id),
        "a proposal on the first night"
    );

    // Nights 7 and 13: live state unchanged, nothing recorded again (the ages keep running).
    for n in [7, 13] {
        let job = night(n);
        assert!(
            !job.stdout.contains("recorded:"),
            "night {n}: {}",
            job.stdout
        );
        assert_eq!(syncs_on_main(), 1, "night {n}");
        assert!(
            !git(
                &origin,
                &[
                    "for-each-ref",
                    "--format=%(refname)",
                    "refs/heads/repokid/propose/"
                ]
            )
            .contains(&acct.id),
            "night {n}: a proposal within the grace period"
        );
    }

    // Night 15: past the 14-day grace period, the first proposal, based on what main recorded.
    night(15);
    let tip = rev(&origin, &proposal);
    let on_top = git(&origin, &["rev-list", "--count", &format!("main..{tip}")]);
    assert_eq!(
        on_top.trim(),
        "1",
        "the proposal carries no sync commit of its own"
    );
    let proposed = git(
        &origin,
        &["show", &format!("{tip}:policies/{}/app.json", acct.id)],
    );
    assert!(!proposed.contains("sqs:"), "{proposed}");
    assert!(proposed.contains("s3:GetObject"), "{proposed}");
}

// ---------------------------------------------------------------------------------------------
// verify.yml judges a pull request with the base's code
// ---------------------------------------------------------------------------------------------

const POLICY_FILE: &str = "policies/123456789012/App.json";
const APP_FILE: &str = r#"{"data": {"Version": "2012-10-17", "Statement": [{"Sid": "Data", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}]}}"#;
const APP_FILE_IAM: &str = r#"{"data": {"Version": "2012-10-17", "Statement": [{"Sid": "Data", "Effect": "Allow", "Action": ["s3:GetObject", "iam:*"], "Resource": "*"}]}}"#;

/// Writes `files` (path, content) under `dir`; those listed in `exec` executable.
fn write_files(dir: &Path, files: &[(&str, &str)], exec: &[&str]) {
    use std::os::unix::fs::PermissionsExt;
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        if exec.contains(path) {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
}

/// A bare repository standing in for GitHub, whose main holds a role's policy file, the verify
/// code and the verify script (as a policy repository made from this one does).
fn verify_origin(t: &Path) -> PathBuf {
    let seed = common::new_repo();
    let s = seed.path();
    write_files(
        s,
        &[
            (POLICY_FILE, APP_FILE),
            (
                "src/verify/mod.rs",
                "//! The check.\npub fn verify(adds_access: bool) -> bool {\n    !adds_access\n}\n",
            ),
            (
                "scripts/gha/verify.sh",
                &std::fs::read_to_string(root().join("scripts/gha/verify.sh")).unwrap(),
            ),
        ],
        &["scripts/gha/verify.sh"],
    );
    git(s, &["add", "."]);
    git(s, &["commit", "-q", "-m", "base"]);
    let origin = t.join("origin.git");
    git(
        t,
        &[
            "clone",
            "-q",
            "--bare",
            s.to_str().unwrap(),
            origin.to_str().unwrap(),
        ],
    );
    origin
}

/// Pushes the branch `name` to `origin`: main plus one commit writing `files` (`exec` among them
/// executable).
fn push_pr(origin: &Path, t: &Path, name: &str, files: &[(&str, &str)], exec: &[&str]) {
    let dir = checkout(origin, t, &format!("author-{name}"));
    write_files(&dir, files, exec);
    git(&dir, &["add", "."]);
    git(
        &dir,
        &[
            "-c",
            "user.name=Dev",
            "-c",
            "user.email=dev@example.com",
            "commit",
            "-q",
            "-m",
            name,
        ],
    );
    git(
        &dir,
        &["push", "-q", "origin", &format!("HEAD:refs/heads/{name}")],
    );
}

/// A program that, when anything runs it, leaves `marker` behind and claims success.
fn trap(marker: &Path) -> String {
    format!(
        "#!/bin/sh\ntouch '{}'\necho PASS\nexit 0\n",
        marker.display()
    )
}

/// A stand-in for cargo (REPOKID_CARGO) and the files where it notes where it ran (`pwd -P`) and
/// its arguments.
struct FakeCargo {
    cargo: PathBuf,
    dir: PathBuf,
    args: PathBuf,
}

/// A cargo under `t` that notes where and how it was asked to build, and "builds" `binary`: copies
/// it to `<--target-dir, default target>/[<--target>/]release/repokid`.
fn fake_cargo(t: &Path, binary: &str) -> FakeCargo {
    let fake = FakeCargo {
        cargo: t.join("fake-cargo"),
        dir: t.join("cargo-dir"),
        args: t.join("cargo-args"),
    };
    write_files(
        t,
        &[(
            "fake-cargo",
            &format!(
                "#!/bin/sh\npwd -P > '{}'\necho \"$@\" > '{}'\ndir=target triple=\n\
                 while [ $# -gt 0 ]; do\n  case \"$1\" in --target-dir) dir=$2 ;; --target) triple=$2/ ;; esac\n  shift\ndone\n\
                 mkdir -p \"$dir/${{triple}}release\"\ncp '{binary}' \"$dir/${{triple}}release/repokid\"\n",
                fake.dir.display(),
                fake.args.display(),
            ),
        )],
        &["fake-cargo"],
    );
    fake
}

/// The `--target-dir` in a cargo command line.
fn target_dir_of(args: &str) -> PathBuf {
    let mut words = args.split_whitespace();
    words.find(|w| *w == "--target-dir");
    PathBuf::from(
        words
            .next()
            .unwrap_or_else(|| panic!("no --target-dir: {args}")),
    )
}

#[test]
fn verify_judges_a_pull_request_with_the_base_code_not_its_own() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let origin = verify_origin(t);
    let mut runner = Runner::default();

    // The pull request makes its own verify code and script always pass, commits a "repokid"
    // that passes everything where lib.sh used to look for the binary, and adds iam:*.
    let ran_binary = t.join("committed-binary-ran");
    let ran_script = t.join("pr-script-ran");
    let (fake_binary, fake_script) = (trap(&ran_binary), trap(&ran_script));
    push_pr(
        &origin,
        t,
        "evil",
        &[
            (POLICY_FILE, APP_FILE_IAM),
            (
                "src/verify/mod.rs",
                "//! The check.\npub fn verify(_: bool) -> bool {\n    true\n}\n",
            ),
            ("scripts/gha/verify.sh", &fake_script),
            ("target/gha/repokid", &fake_binary),
        ],
        &["scripts/gha/verify.sh", "target/gha/repokid"],
    );
    let (ws, pr) = verify_workspace(&origin, t, "ws", "origin/evil");
    assert!(pr.join("target/gha/repokid").is_file());
    // The base's settings are the ones read (a pull request could raise its own size limit).
    write_files(
        &ws,
        &[("trusted/repokid.toml", "[engine]\nsize-limit = 50\n")],
        &[],
    );

    // A cargo that notes where and how it was asked to build, and "builds" the test binary.
    let FakeCargo {
        cargo,
        dir: cargo_dir,
        args: cargo_args,
    } = fake_cargo(t, env!("CARGO_BIN_EXE_repokid"));
    // REPOKID names a binary still to be built, outside both checkouts.
    let cached = t.join("runner-temp/repokid-bin/repokid");
    let env = |labels: &[&str]| {
        vec![
            ("BASE_REF", "main".to_string()),
            ("PR_DIR", "pr".into()),
            ("GITHUB_TOKEN", TOKEN.into()),
            ("REPOKID", cached.display().to_string()),
            ("REPOKID_CARGO", cargo.display().to_string()),
            (
                "GITHUB_EVENT_PATH",
                pr_event(t, labels).display().to_string(),
            ),
        ]
    };
    let job = runner.run(("verify.yml", "verify"), &ws, &env(&[]));
    let out = format!("{}{}", job.stdout, job.stderr);
    assert_eq!(job.code, 1, "the base's verify must fail it:\n{out}");
    // The base granted no iam action at all, so any named is the added access.
    assert!(out.contains(POLICY_FILE) && out.contains("iam:"), "{out}");
    assert!(out.contains("over the limit of 50"), "{out}");
    assert!(!ran_binary.exists(), "the committed binary ran:\n{out}");
    assert!(
        !ran_script.exists(),
        "the pull request's script ran:\n{out}"
    );
    // Built once, in the base's tree, and copied to REPOKID.
    let built_in = std::fs::read_to_string(&cargo_dir).unwrap();
    assert_eq!(
        Path::new(built_in.trim()),
        ws.join("trusted").canonicalize().unwrap(),
        "built outside the trusted tree"
    );
    assert!(!Path::new(built_in.trim()).starts_with(pr.canonicalize().unwrap()));
    let args = std::fs::read_to_string(&cargo_args).unwrap();
    assert!(
        args.contains("build") && args.contains("--release") && args.contains("--locked"),
        "{args}"
    );
    // Into a target directory outside the workspace: nothing committed under a checkout's
    // target/ can pass for a finished build.
    let target_dir = target_dir_of(&args);
    assert!(!target_dir.starts_with(&ws), "{args}");
    assert!(
        !target_dir.starts_with(ws.canonicalize().unwrap()),
        "{args}"
    );
    assert!(cached.is_file(), "the built binary was not put at REPOKID");
    // Its scripts/ changed: the reviewer is told they did not judge it.
    assert!(
        job.stdout.contains("::warning") && job.stdout.contains("CODEOWNERS"),
        "{}",
        job.stdout
    );

    // Labelled, it passes, with the binary now at REPOKID (no second build), and still nothing
    // from the checkout runs (the base's tight size limit lifted: the label never excuses an
    // invalid file).
    std::fs::remove_file(&cargo_dir).unwrap();
    std::fs::remove_file(ws.join("trusted/repokid.toml")).unwrap();
    let job = runner.run(
        ("verify.yml", "verify"),
        &ws,
        &env(&["repokid:adds-access"]),
    );
    assert_eq!(job.code, 0, "{}{}", job.stdout, job.stderr);
    assert!(!cargo_dir.exists(), "rebuilt although REPOKID existed");
    assert!(!ran_binary.exists() && !ran_script.exists());
}

#[test]
fn verify_refuses_a_repokid_inside_the_pull_request_checkout() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let origin = verify_origin(t);
    let mut runner = Runner::default();
    let ran = t.join("committed-binary-ran");
    let fake = trap(&ran);
    push_pr(
        &origin,
        t,
        "binary",
        &[(POLICY_FILE, APP_FILE_IAM), ("target/gha/repokid", &fake)],
        &["target/gha/repokid"],
    );
    let (ws, pr) = verify_workspace(&origin, t, "ws", "origin/binary");
    let inside = pr.join("target/gha/repokid");
    let link = t.join("link-to-checkout");
    std::os::unix::fs::symlink(pr.join("target"), &link).unwrap();
    let cargo = t.join("no-cargo");
    let cargo_ran = t.join("cargo-ran");
    write_files(t, &[("no-cargo", &trap(&cargo_ran))], &["no-cargo"]);

    for repokid in [
        // what verify.yml used to set: relative, so the checkout's own file
        "target/gha/repokid".to_string(),
        inside.display().to_string(),
        // not there yet: a build would put the binary inside the checkout
        pr.join("target/release/repokid").display().to_string(),
        // outside by name, inside by a symlink
        link.join("gha/repokid").display().to_string(),
    ] {
        let job = runner.run(
            ("verify.yml", "verify"),
            &ws,
            &[
                ("BASE_REF", "main".into()),
                ("PR_DIR", "pr".into()),
                ("GITHUB_TOKEN", TOKEN.into()),
                ("REPOKID", repokid.clone()),
                ("REPOKID_CARGO", cargo.display().to_string()),
            ],
        );
        assert_eq!(job.code, 1, "{repokid}: {}{}", job.stdout, job.stderr);
        assert!(
            job.stderr.contains("error: REPOKID") && job.stderr.contains("pull request checkout"),
            "{repokid}: {}",
            job.stderr
        );
        assert!(!ran.exists(), "{repokid}: the committed binary ran");
        assert!(!cargo_ran.exists(), "{repokid}: a build started");
    }

    // The scripts themselves inside the checkout (PR_DIR the whole workspace) are refused too.
    let job = runner.run(
        ("verify.yml", "verify"),
        &ws,
        &[
            ("BASE_REF", "main".into()),
            ("PR_DIR", ".".into()),
            ("GITHUB_TOKEN", TOKEN.into()),
        ],
    );
    assert_eq!(job.code, 1, "{}{}", job.stdout, job.stderr);
    assert!(
        job.stderr.contains("inside the pull request checkout"),
        "{}",
        job.stderr
    );
    assert!(!ran.exists());
}

#[test]
fn verify_tells_that_changed_workflows_and_scripts_need_codeowners() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let origin = verify_origin(t);
    let mut runner = Runner::default();
    push_pr(
        &origin,
        t,
        "scripts",
        &[
            ("scripts/gha/verify.sh", "#!/bin/sh\nexit 0\n"),
            (".github/workflows/verify.yml", "name: verify\n"),
        ],
        &[],
    );
    push_pr(
        &origin,
        t,
        "readme",
        &[("README.md", "IAM policies\n")],
        &[],
    );
    let run = |runner: &mut Runner, branch: &str| {
        let (ws, _) = verify_workspace(&origin, t, branch, &format!("origin/{branch}"));
        runner.ok(
            ("verify.yml", "verify"),
            &ws,
            &[
                ("BASE_REF", "main".into()),
                ("PR_DIR", "pr".into()),
                ("GITHUB_TOKEN", TOKEN.into()),
                ("REPOKID", "/nonexistent/repokid".into()),
            ],
        )
    };

    // Nothing under policies/, so it passes, and says the changed files need the owners' review.
    let job = run(&mut runner, "scripts");
    assert!(job.stdout.contains("nothing to verify"), "{}", job.stdout);
    let warning = job
        .stdout
        .lines()
        .find(|l| l.starts_with("::warning"))
        .unwrap_or_else(|| panic!("no ::warning:\n{}", job.stdout));
    assert!(
        warning.contains("CODEOWNERS") && warning.contains("scripts/"),
        "{warning}"
    );
    for path in ["scripts/gha/verify.sh", ".github/workflows/verify.yml"] {
        assert!(
            job.stdout.contains(path),
            "{path} not named:\n{}",
            job.stdout
        );
    }

    let job = run(&mut runner, "readme");
    assert!(
        !job.stdout.contains("::warning") && !job.stdout.contains("CODEOWNERS"),
        "{}",
        job.stdout
    );
}

// ---------------------------------------------------------------------------------------------
// verify.yml in a merge queue
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// The workflow files themselves
// ---------------------------------------------------------------------------------------------

/// One step of a workflow job, read roughly (the files are plain block YAML).
#[derive(Debug, Default)]
struct Step {
    job: String,
    uses: Option<String>,
    run: Option<String>,
    env: Vec<String>,
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn value(line: &str, key: &str) -> Option<String> {
    let t = line.trim_start().trim_start_matches("- ");
    t.strip_prefix(key)
        .and_then(|r| r.strip_prefix(':'))
        .map(|v| v.trim().to_string())
}

/// The steps of every job, in file order.
fn steps(yaml: &str) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::new();
    let (mut in_jobs, mut job, mut env_at) = (false, String::new(), None);
    for line in yaml.lines() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let i = indent(line);
        if i == 0 {
            in_jobs = line.starts_with("jobs:");
            continue;
        }
        if !in_jobs {
            continue;
        }
        if i == 2 {
            job = line.trim().trim_end_matches(':').to_string();
            continue;
        }
        if i == 6 && line.trim_start().starts_with("- ") {
            out.push(Step {
                job: job.clone(),
                ..Step::default()
            });
            env_at = None;
        }
        let Some(step) = out.last_mut().filter(|s| s.job == job && i >= 6) else {
            continue;
        };
        if let Some(at) = env_at {
            if i > at {
                if let Some((k, _)) = line.trim().split_once(':') {
                    step.env.push(k.to_string());
                }
                continue;
            }
            env_at = None;
        }
        if let Some(v) = value(line, "uses") {
            step.uses = Some(v);
        } else if let Some(v) = value(line, "run") {
            step.run = Some(v);
        } else if value(line, "env").is_some() {
            env_at = Some(
                i + if line.trim_start().starts_with("- ") {
                    2
                } else {
                    0
                },
            );
        }
    }
    out
}

fn workflow_text(name: &str) -> String {
    std::fs::read_to_string(root().join(".github/workflows").join(name)).unwrap()
}

#[test]
fn each_workflow_job_runs_one_tested_script_with_what_it_documents() {
    // (workflow, [(job, run)]) in the order the jobs run, which is the order the test above
    // runs them in. verify runs the script of the base commit's checkout, `trusted/`.
    let expected: [(&str, &[(&str, &str)]); 6] = [
        ("ci.yml", &[("test", "scripts/gha/ci.sh")]),
        (
            "propose.yml",
            &[
                ("prepare", "scripts/gha/prepare.sh"),
                ("propose", "scripts/gha/propose.sh"),
                ("merge-due", "scripts/gha/merge.sh"),
            ],
        ),
        ("verify.yml", &[("verify", "trusted/scripts/gha/verify.sh")]),
        (
            "apply.yml",
            &[
                ("prepare", "scripts/gha/prepare.sh"),
                ("apply", "scripts/gha/apply.sh"),
            ],
        ),
        ("dispatch.yml", &[("dispatch", "scripts/gha/dispatch.sh")]),
        (
            "release.yml",
            &[
                ("build", "scripts/gha/release-build.sh"),
                ("publish", "scripts/gha/release-publish.sh"),
            ],
        ),
    ];
    let mut used_scripts = Vec::new();
    for (file, jobs) in expected {
        let text = workflow_text(file);
        let all = steps(&text);
        let runs: Vec<(&str, &str)> = all
            .iter()
            .filter_map(|s| s.run.as_deref().map(|r| (s.job.as_str(), r)))
            .collect();
        assert_eq!(
            runs,
            jobs.to_vec(),
            "{file}: every job runs exactly its script, nothing inline"
        );
        for s in all.iter().filter(|s| s.run.is_some()) {
            // trusted/ is a checkout of this repository.
            let run = s.run.as_deref().unwrap();
            let script = run.strip_prefix("trusted/").unwrap_or(run);
            let body = std::fs::read_to_string(root().join(script)).unwrap();
            for key in &s.env {
                assert!(
                    body.contains(key.as_str()),
                    "{file} gives {key} to {script}, which does not document it"
                );
            }
            used_scripts.push(script.to_string());
        }
    }
    // Every job script in scripts/gha is used by some workflow (lib.sh is sourced by them).
    for entry in std::fs::read_dir(root().join("scripts/gha")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name == "lib.sh" {
            continue;
        }
        assert!(
            used_scripts.contains(&format!("scripts/gha/{name}")),
            "scripts/gha/{name} is run by no workflow"
        );
    }
}

/// Every workflow file.
const WORKFLOWS: [&str; 6] = [
    "ci.yml",
    "propose.yml",
    "verify.yml",
    "apply.yml",
    "dispatch.yml",
    "release.yml",
];

#[test]
fn workflows_pin_actions_and_keep_permissions_minimal() {
    let mut files: Vec<String> = std::fs::read_dir(root().join(".github/workflows"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut listed = WORKFLOWS.map(String::from).to_vec();
    listed.sort();
    assert_eq!(files, listed, "a workflow these tests do not read");
    for file in WORKFLOWS {
        let text = workflow_text(file);
        assert!(
            !text
                .lines()
                .any(|l| !l.trim_start().starts_with('#') && l.contains("pull_request_target")),
            "{file}: pull_request_target"
        );
        assert!(
            text.lines().any(|l| l == "permissions: {}"),
            "{file}: no top-level `permissions: {{}}`"
        );
        let all = steps(&text);
        for s in &all {
            if let Some(uses) = &s.uses {
                let (action, rest) = uses.split_once('@').unwrap();
                let (sha, comment) = rest
                    .split_once(" # v")
                    .unwrap_or_else(|| panic!("{file}: {uses} has no `# vX.Y.Z` comment"));
                assert!(
                    sha.len() == 40 && sha.chars().all(|c| c.is_ascii_hexdigit()),
                    "{file}: {action} is not pinned by commit"
                );
                assert_eq!(comment.split('.').count(), 3, "{file}: {uses}");
            }
            if let Some(run) = &s.run {
                assert!(!run.contains("${{"), "{file}: expression in run: {run}");
            }
        }
        // Each job declares its own permissions; OIDC only where AWS credentials are taken or a
        // release's provenance is signed.
        let jobs: std::collections::BTreeSet<&str> = all.iter().map(|s| s.job.as_str()).collect();
        for job in jobs {
            let block = job_block(&text, job);
            assert!(
                block.contains("    permissions:\n"),
                "{file}/{job}: no permissions"
            );
            let oidc = all.iter().any(|s| {
                s.job == job
                    && s.uses.as_deref().is_some_and(|u| {
                        u.contains("configure-aws-credentials")
                            || u.starts_with("actions/attest-build-provenance@")
                    })
            });
            assert_eq!(
                block.contains("id-token: write"),
                oidc,
                "{file}/{job}: id-token: write if and only if AWS credentials are taken or provenance signed"
            );
        }
        for line in text
            .lines()
            .filter(|l| l.contains("secrets.") && l.contains("${{"))
        {
            assert!(
                line.trim_start().starts_with("private-key:"),
                "{file}: a secret outside the app token step: {line}"
            );
        }
    }
}

/// The lines of `job` in `yaml`: from its header to the next job's (or the next top-level key).
fn job_block(yaml: &str, job: &str) -> String {
    let header = format!("  {job}:");
    let mut lines = yaml.lines().skip_while(|l| *l != header);
    let mut out = String::new();
    if let Some(h) = lines.next() {
        out.push_str(h);
        out.push('\n');
    }
    for l in lines {
        if !l.trim().is_empty() && indent(l) <= 2 && !l.trim_start().starts_with('#') {
            break;
        }
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// The steps of `job` in `yaml`, each as its lines.
fn step_blocks(yaml: &str, job: &str) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut in_steps = false;
    for l in job_block(yaml, job).lines() {
        if l.trim().is_empty() || l.trim_start().starts_with('#') {
            continue;
        }
        if indent(l) == 4 {
            in_steps = l.trim() == "steps:";
            continue;
        }
        if !in_steps {
            continue;
        }
        if indent(l) == 6 && l.trim_start().starts_with("- ") {
            out.push(Vec::new());
        }
        if let Some(step) = out.last_mut() {
            step.push(l.to_string());
        }
    }
    out
}

/// The value of `key` anywhere in a step (under `with:` or `env:` too), without a trailing
/// comment.
fn field(step: &[String], key: &str) -> Option<String> {
    step.iter().find_map(|l| value(l, key)).map(|v| {
        v.split_once(" # ")
            .map_or(v.as_str(), |(v, _)| v)
            .trim()
            .to_string()
    })
}

#[test]
fn verify_workflow_runs_the_base_and_reads_the_pull_request_as_data() {
    let text = workflow_text("verify.yml");
    assert!(
        text.contains("\non:\n  pull_request:\n"),
        "verify.yml must run on pull_request"
    );
    assert!(
        text.contains("\n  merge_group:\n    types: [checks_requested]\n"),
        "verify.yml must run on merge groups too (a merge queue requires the check)"
    );
    let steps = step_blocks(&text, "verify");
    let uses = |s: &Vec<String>, action: &str| {
        field(s, "uses").is_some_and(|u| u.starts_with(&format!("{action}@")))
    };

    // Two checkouts, neither keeping the token: the base commit in trusted/, the pull request's
    // head with its history in pr/.
    let checkouts: Vec<&Vec<String>> = steps
        .iter()
        .filter(|s| uses(s, "actions/checkout"))
        .collect();
    assert_eq!(checkouts.len(), 2, "{steps:?}");
    let at = |path: &str| {
        *checkouts
            .iter()
            .find(|s| field(s, "path").as_deref() == Some(path))
            .unwrap_or_else(|| panic!("no checkout into {path}/"))
    };
    let (trusted, pr) = (at("trusted"), at("pr"));
    assert_eq!(
        field(trusted, "ref").as_deref(),
        Some("${{ github.event.pull_request.base.sha || github.event.merge_group.base_sha }}")
    );
    assert_eq!(
        field(pr, "ref").as_deref(),
        Some("${{ github.event.pull_request.head.sha || github.event.merge_group.head_sha }}")
    );
    assert_eq!(field(pr, "fetch-depth").as_deref(), Some("0"));
    for s in [trusted, pr] {
        assert_eq!(
            field(s, "persist-credentials").as_deref(),
            Some("false"),
            "{s:?}"
        );
    }

    // No cache at all: an entry can be saved by any run of the pull request under any key, so a
    // restored binary would be the pull request's choice. The binary is built from trusted/ into
    // the runner's temporary directory, outside both checkouts.
    assert!(
        !steps.iter().any(|s| uses(s, "actions/cache")),
        "verify.yml must not use a cache: {steps:?}"
    );
    let cache_path = "${{ runner.temp }}/repokid-bin/repokid".to_string();

    // What runs is the base's script, told where the pull request is and where the binary is.
    let runs: Vec<&Vec<String>> = steps.iter().filter(|s| field(s, "run").is_some()).collect();
    assert_eq!(runs.len(), 1, "{steps:?}");
    assert_eq!(
        field(runs[0], "run").as_deref(),
        Some("trusted/scripts/gha/verify.sh")
    );
    assert_eq!(field(runs[0], "PR_DIR").as_deref(), Some("pr"));
    assert_eq!(field(runs[0], "REPOKID"), Some(cache_path));
    // No other REPOKID (a workflow-level one could point into a checkout), no local action.
    assert_eq!(text.matches("REPOKID:").count(), 1, "{text}");
    assert!(
        steps
            .iter()
            .all(|s| field(s, "uses").is_none_or(|u| !u.starts_with('.'))),
        "a local action would run the pull request's code"
    );
}

// ---------------------------------------------------------------------------------------------
// Only reviewed code runs: where the repokid binary comes from
// ---------------------------------------------------------------------------------------------

/// Where the workflows keep the binary: the runner's temporary directory, outside every checkout.
const BINARY_PATH: &str = "${{ runner.temp }}/repokid-bin/repokid";

/// A policy repository as a team makes it from this one (this repository's `scripts/`, settings
/// for `accounts` and the GitHub stand-ins `api` (API URL, git URL), `extra` files, `exec` among
/// them executable; with `synced`, each account recorded from moto), pushed to `origin` as main.
fn policy_repo(
    origin: &Path,
    accounts: &[&str],
    synced: bool,
    api: Option<(&str, &str)>,
    extra: &[(&str, &str)],
    exec: &[&str],
) -> tempfile::TempDir {
    let seed = common::new_repo();
    let s = seed.path();
    copy_dir(&root().join("scripts"), &s.join("scripts"));
    let mut settings = format!(
        "accounts = [{}]\n\n[sources]\ninventory-source = \"aws\"\nusage-source = \"access-advisor\"\n\n\
         [aws]\nassume-role = \"RepokidRole\"\naccess-advisor-timeout-seconds = 60\nmax-attempts = 2\n\
         call-timeout-seconds = 5\n\n[engine]\ngrace-days = 0\n",
        accounts
            .iter()
            .map(|a| format!("\"{a}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some((api_url, git_url)) = api {
        settings.push_str(&format!(
            "\n[github]\nrepo = \"{REPO}\"\napi-url = \"{api_url}\"\ngit-url = \"{git_url}\"\n"
        ));
    }
    let mut files = vec![
        ("repokid.toml", settings.as_str()),
        ("filters.toml", "[age]\nminimum_days = 0\n"),
    ];
    files.extend_from_slice(extra);
    write_files(s, &files, exec);
    git(s, &["add", "-A"]);
    git(s, &["commit", "-q", "-m", "policy repository"]);
    for account in accounts.iter().filter(|_| synced) {
        let (code, out, err) =
            common::repokid_env(s, &["sync", "--account", account], &moto::aws_env());
        assert_eq!(code, 0, "{out}{err}");
    }
    git(s, &["push", "-q", origin.to_str().unwrap(), "main"]);
    seed
}

/// A (workflow, job) and the variables its step sets.
type JobEnv<'a> = ((&'a str, &'a str), Vec<(&'a str, String)>);

#[test]
fn jobs_never_run_a_binary_from_their_checkout() {
    let acct = MotoAccount::fresh();
    populate(&acct);
    let git_server = GitServer::start(TOKEN);
    let (origin, url) = git_server.bare_repo("iam-binary");
    let api = Api::start();
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let mut runner = Runner::default();

    // "repokid" binaries committed where the workflows used to cache it and where a build in
    // the checkout would put it.
    let ran = t.join("committed-binary-ran");
    let fake = trap(&ran);
    let _seed = policy_repo(
        &origin,
        &[&acct.id],
        true,
        Some((&api.server.uri(), &url)),
        &[
            ("target/gha/repokid", &fake),
            ("target/release/repokid", &fake),
        ],
        &["target/gha/repokid", "target/release/repokid"],
    );
    let FakeCargo {
        cargo,
        dir: cargo_dir,
        args: cargo_args,
    } = fake_cargo(t, env!("CARGO_BIN_EXE_repokid"));
    // Where the workflows put the binary, here: outside every checkout, nothing there yet.
    let binary = t.join("runner/repokid-bin/repokid");

    // propose.yml, prepare: builds from the checkout's own tree (main's, reviewed), into a target
    // directory outside it, and copies the binary to REPOKID.
    let ck = checkout(&origin, t, "prepare");
    assert!(ck.join("target/gha/repokid").is_file() && ck.join("scripts/gha/lib.sh").is_file());
    let job = runner.ok(
        ("propose.yml", "prepare"),
        &ck,
        &[
            ("ACCOUNTS", String::new()),
            ("BATCH_SIZE", "10".into()),
            ("REPOKID", binary.display().to_string()),
            ("REPOKID_CARGO", cargo.display().to_string()),
        ],
    );
    assert_eq!(job.outputs["count"], "1");
    let built_in = std::fs::read_to_string(&cargo_dir).unwrap();
    assert_eq!(Path::new(built_in.trim()), ck.canonicalize().unwrap());
    let args = std::fs::read_to_string(&cargo_args).unwrap();
    assert!(args.contains("build --release --locked"), "{args}");
    assert!(
        !target_dir_of(&args).starts_with(ck.canonicalize().unwrap()),
        "{args}"
    );
    assert!(binary.is_file(), "the built binary was not put at REPOKID");
    assert!(!ran.exists(), "the committed binary ran");
    std::fs::remove_file(&cargo_dir).unwrap();

    // propose.yml, propose, and apply.yml, apply, with the binary at REPOKID (as a cache restore
    // leaves it): they run it, never the committed one, and build nothing.
    let ck = checkout(&origin, t, "propose");
    runner.ok(
        ("propose.yml", "propose"),
        &ck,
        &[
            ("ACCOUNTS", acct.id.clone()),
            ("SCHEDULE", "false".into()),
            ("GITHUB_TOKEN", TOKEN.into()),
            ("REPOKID", binary.display().to_string()),
            ("REPOKID_CARGO", cargo.display().to_string()),
        ],
    );
    assert!(
        api.requests()
            .iter()
            .any(|(m, p, _)| m == "POST" && p == &format!("/repos/{REPO}/pulls")),
        "no pull request opened"
    );
    let ck = checkout(&origin, t, "apply");
    let job = runner.ok(
        ("apply.yml", "apply"),
        &ck,
        &[
            ("ACCOUNTS", acct.id.clone()),
            ("APPLY_ROLE", String::new()),
            ("GITHUB_TOKEN", TOKEN.into()),
            ("REPOKID", binary.display().to_string()),
            ("REPOKID_CARGO", cargo.display().to_string()),
        ],
    );
    assert!(job.stdout.contains("0 roles changed"), "{}", job.stdout);
    assert!(!ran.exists(), "the committed binary ran");
    assert!(!cargo_dir.exists(), "built although REPOKID existed");

    // A REPOKID in the checkout is refused by every job before anything runs: what the workflows
    // used to set (relative: the committed file), the same absolute, a path that only a build
    // would fill, and one outside by name but inside through a symlink; unset too.
    let no_cargo = t.join("no-cargo");
    let cargo_ran = t.join("cargo-ran");
    write_files(t, &[("no-cargo", &trap(&cargo_ran))], &["no-cargo"]);
    let event = t.join("comment.json");
    std::fs::write(&event, "{}").unwrap();
    let jobs: [JobEnv; 6] = [
        (
            ("propose.yml", "prepare"),
            vec![("ACCOUNTS", String::new()), ("BATCH_SIZE", "10".into())],
        ),
        (
            ("propose.yml", "propose"),
            vec![
                ("ACCOUNTS", acct.id.clone()),
                ("SCHEDULE", "false".into()),
                ("GITHUB_TOKEN", TOKEN.into()),
            ],
        ),
        (
            ("propose.yml", "merge-due"),
            vec![
                ("GITHUB_TOKEN", TOKEN.into()),
                ("GH_TOKEN", TOKEN.into()),
                ("BASE_BRANCH", "main".into()),
            ],
        ),
        (
            ("apply.yml", "prepare"),
            vec![("PENDING", "true".into()), ("BATCH_SIZE", "1".into())],
        ),
        (
            ("apply.yml", "apply"),
            vec![
                ("ACCOUNTS", acct.id.clone()),
                ("APPLY_ROLE", String::new()),
                ("GITHUB_TOKEN", TOKEN.into()),
            ],
        ),
        (
            ("dispatch.yml", "dispatch"),
            vec![
                ("GITHUB_TOKEN", TOKEN.into()),
                ("GITHUB_EVENT_PATH", event.display().to_string()),
            ],
        ),
    ];
    let ck = checkout(&origin, t, "refusals");
    let link = t.join("link-to-checkout");
    std::os::unix::fs::symlink(ck.join("target"), &link).unwrap();
    for (step, env) in jobs {
        for repokid in [
            "target/gha/repokid".to_string(),
            ck.join("target/gha/repokid").display().to_string(),
            ck.join("target/gha/not-yet-built").display().to_string(),
            link.join("gha/repokid").display().to_string(),
            String::new(),
        ] {
            let mut env = env.clone();
            env.push(("REPOKID", repokid.clone()));
            env.push(("REPOKID_CARGO", no_cargo.display().to_string()));
            let job = runner.run(step, &ck, &env);
            assert_eq!(
                job.code, 1,
                "{step:?} {repokid}: {}{}",
                job.stdout, job.stderr
            );
            assert!(
                job.stderr.contains("error: REPOKID")
                    && (job.stderr.contains("checkout") || repokid.is_empty()),
                "{step:?} {repokid}: {}",
                job.stderr
            );
            assert!(
                !ran.exists(),
                "{step:?} {repokid}: the committed binary ran"
            );
            assert!(!cargo_ran.exists(), "{step:?} {repokid}: a build started");
        }
    }
    for secret in [TOKEN, moto::SECRET_KEY, moto::SESSION_TOKEN] {
        assert!(!runner.seen.contains(secret), "a secret was printed");
    }
}

/// This machine's release target.
fn release_target() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "x86_64-unknown-linux-musl",
        "aarch64" => "aarch64-unknown-linux-musl",
        other => panic!("no release target for {other}"),
    }
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

#[test]
fn a_pinned_release_runs_only_with_the_sha256_of_repokid_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let mut runner = Runner::default();
    let target = release_target();
    let other = if target.starts_with("x86_64") {
        "aarch64-unknown-linux-musl"
    } else {
        "x86_64-unknown-linux-musl"
    };

    // release.yml, publish: the build jobs' binaries (here the test binary for this machine's
    // target) get SHA256SUMS and a release whose notes hold the repokid.lock that pins it.
    let rel = t.join("release");
    let dist = rel.join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::copy(
        env!("CARGO_BIN_EXE_repokid"),
        dist.join(format!("repokid-{target}")),
    )
    .unwrap();
    std::fs::write(
        dist.join(format!("repokid-{other}")),
        "another architecture\n",
    )
    .unwrap();
    let gh_args = t.join("gh-args");
    write_files(
        t,
        &[(
            "bin/gh",
            &format!("#!/bin/sh\necho \"$@\" > '{}'\n", gh_args.display()),
        )],
        &["bin/gh"],
    );
    let path = format!(
        "{}:{}",
        t.join("bin").display(),
        std::env::var("PATH").unwrap()
    );
    runner.ok(
        ("release.yml", "publish"),
        &rel,
        &[
            ("TAG", "v0.1.0".into()),
            ("DIST", "dist".into()),
            ("GH_TOKEN", TOKEN.into()),
            ("PATH", path.clone()),
        ],
    );
    let real = sha256(&dist.join(format!("repokid-{target}")));
    let sums = std::fs::read_to_string(dist.join("SHA256SUMS")).unwrap();
    assert!(
        sums.contains(&format!("{real}  repokid-{target}\n")),
        "{sums}"
    );
    assert_eq!(sums.lines().count(), 2, "{sums}");
    let gh = std::fs::read_to_string(&gh_args).unwrap();
    assert!(
        gh.starts_with("release create v0.1.0 --verify-tag")
            && gh.contains(&format!("dist/repokid-{target}"))
            && gh.contains(&format!("dist/repokid-{other}"))
            && gh.contains("dist/SHA256SUMS"),
        "{gh}"
    );
    let notes = std::fs::read_to_string(dist.join("NOTES.md")).unwrap();
    let lock = notes
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .unwrap_or_else(|| panic!("no repokid.lock in the notes:\n{notes}"));
    assert!(lock.contains(&format!("repository = \"{REPO}\"")), "{lock}");
    // The release is served from a directory here instead of GitHub (the lock's `url`).
    let lock = lock.replacen(
        "\n[sha256]",
        &format!(
            "url = \"file://{}/repokid-{{target}}\"\n\n[sha256]",
            dist.display()
        ),
        1,
    );

    // A policy repository pinning that release: prepare downloads it, checks it, runs it, and
    // builds nothing.
    let origin = t.join("origin.git");
    git(
        t,
        &[
            "init",
            "-q",
            "--bare",
            "-b",
            "main",
            origin.to_str().unwrap(),
        ],
    );
    let _seed = policy_repo(
        &origin,
        &["123456789012"],
        false,
        None,
        &[("repokid.lock", &lock)],
        &[],
    );
    let ck = checkout(&origin, t, "prepare");
    let cargo_ran = t.join("cargo-ran");
    write_files(t, &[("no-cargo", &trap(&cargo_ran))], &["no-cargo"]);
    let prepare = |runner: &mut Runner, binary: &Path| {
        runner.run(
            ("propose.yml", "prepare"),
            &ck,
            &[
                ("ACCOUNTS", String::new()),
                ("BATCH_SIZE", "10".into()),
                ("REPOKID", binary.display().to_string()),
                ("REPOKID_CARGO", t.join("no-cargo").display().to_string()),
            ],
        )
    };
    let binary = t.join("runner-1/repokid-bin/repokid");
    let job = prepare(&mut runner, &binary);
    assert_eq!(job.code, 0, "{}{}", job.stdout, job.stderr);
    assert_eq!(job.outputs["count"], "1");
    assert!(
        job.stderr.contains("matches repokid.lock"),
        "{}",
        job.stderr
    );
    assert_eq!(sha256(&binary), real);
    assert!(!cargo_ran.exists(), "built although a release is pinned");

    // The download is not what the lock pins (a replaced release asset): refused, never run,
    // and not left behind.
    let ran = t.join("swapped-release-ran");
    std::fs::write(dist.join(format!("repokid-{target}")), trap(&ran)).unwrap();
    let binary = t.join("runner-2/repokid-bin/repokid");
    let job = prepare(&mut runner, &binary);
    assert_eq!(job.code, 1, "{}{}", job.stdout, job.stderr);
    assert!(
        job.stderr.contains("refused") && job.stderr.contains(&real),
        "{}",
        job.stderr
    );
    assert!(!ran.exists(), "a release that does not match the lock ran");
    assert!(!binary.exists(), "the mismatching download was kept");

    // A file already at REPOKID (say, restored from a cache) must match the lock too.
    write_files(
        t,
        &[("runner-3/repokid-bin/repokid", &trap(&ran))],
        &["runner-3/repokid-bin/repokid"],
    );
    let job = prepare(&mut runner, &t.join("runner-3/repokid-bin/repokid"));
    assert_eq!(job.code, 1, "{}{}", job.stdout, job.stderr);
    assert!(job.stderr.contains("refused"), "{}", job.stderr);
    assert!(!ran.exists(), "a binary that does not match the lock ran");

    // A lock without this machine's hash is an error, not a build.
    std::fs::write(
        ck.join("repokid.lock"),
        format!("version = \"0.1.0\"\nrepository = \"{REPO}\"\n\n[sha256]\n{other} = \"{real}\"\n"),
    )
    .unwrap();
    let job = prepare(&mut runner, &t.join("runner-4/repokid-bin/repokid"));
    assert_eq!(job.code, 1, "{}{}", job.stdout, job.stderr);
    assert!(
        job.stderr.contains(&format!("sha256.{target}")),
        "{}",
        job.stderr
    );
    assert!(!cargo_ran.exists() && !ran.exists());
    assert!(!runner.seen.contains(TOKEN), "a secret was printed");
}

#[test]
fn a_release_is_built_for_its_tag_and_only_static() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let mut runner = Runner::default();
    // The tagged tree: this repository's scripts and Cargo.toml (version 0.1.0).
    let tree = t.join("tree");
    copy_dir(&root().join("scripts"), &tree.join("scripts"));
    std::fs::copy(root().join("Cargo.toml"), tree.join("Cargo.toml")).unwrap();
    let FakeCargo {
        cargo,
        dir: cargo_dir,
        args: cargo_args,
    } = fake_cargo(t, env!("CARGO_BIN_EXE_repokid"));
    let build = |runner: &mut Runner, target: &str, tag: &str| {
        runner.run(
            ("release.yml", "build"),
            &tree,
            &[
                ("TARGET", target.into()),
                ("TAG", tag.into()),
                ("DIST", "dist".into()),
                ("REPOKID_CARGO", cargo.display().to_string()),
            ],
        )
    };

    // Refused before building: a tag that is not the crate's version, a target that is not a
    // release target.
    let job = build(&mut runner, release_target(), "v9.9.9");
    assert_eq!(job.code, 1, "{}{}", job.stdout, job.stderr);
    assert!(job.stderr.contains("is not v0.1.0"), "{}", job.stderr);
    let job = build(&mut runner, "x86_64-unknown-linux-gnu", "v0.1.0");
    assert_eq!(job.code, 1, "{}{}", job.stdout, job.stderr);
    assert!(
        job.stderr.contains("not a release target"),
        "{}",
        job.stderr
    );
    assert!(!cargo_dir.exists(), "built although refused");

    // Built in the tagged tree for the target, and refused: the test binary links glibc
    // dynamically, so it is no release binary.
    let job = build(&mut runner, release_target(), "v0.1.0");
    assert_eq!(job.code, 1, "{}{}", job.stdout, job.stderr);
    assert!(
        job.stderr.contains("is not statically linked"),
        "{}",
        job.stderr
    );
    let built_in = std::fs::read_to_string(&cargo_dir).unwrap();
    assert_eq!(Path::new(built_in.trim()), tree.canonicalize().unwrap());
    let args = std::fs::read_to_string(&cargo_args).unwrap();
    assert!(
        args.contains("build --release --locked")
            && args.contains(&format!("--target {}", release_target())),
        "{args}"
    );
}

#[test]
fn workflows_keep_the_binary_outside_the_checkout_and_cache_it_only_from_main() {
    let mut keys = std::collections::BTreeSet::new();
    for (file, saves) in [("propose.yml", 1), ("apply.yml", 1), ("dispatch.yml", 0)] {
        let text = workflow_text(file);
        // No workflow-wide REPOKID: a relative one named a file in the checkout.
        assert!(
            !text.lines().any(|l| l.starts_with("  REPOKID:")),
            "{file}: REPOKID set for the whole workflow"
        );
        let jobs: std::collections::BTreeSet<String> =
            steps(&text).into_iter().map(|s| s.job).collect();
        let mut saved = 0;
        for job in &jobs {
            let blocks = step_blocks(&text, job);
            let mut restored = false;
            for b in &blocks {
                let uses = field(b, "uses").unwrap_or_default();
                if uses.starts_with("actions/cache") {
                    // The combined action saves at the end of any run, on any branch.
                    let save = uses.starts_with("actions/cache/save@");
                    assert!(
                        save || uses.starts_with("actions/cache/restore@"),
                        "{file}/{job}: {uses}"
                    );
                    assert_eq!(
                        field(b, "path").as_deref(),
                        Some(BINARY_PATH),
                        "{file}/{job}"
                    );
                    let key = field(b, "key").unwrap();
                    for source in ["'Cargo.lock'", "'src/**'", "'data/**'", "'.cargo/**'"] {
                        assert!(key.contains(source), "{file}/{job}: {key} ignores {source}");
                    }
                    keys.insert(key);
                    // A pinned release is never taken from a cache.
                    let cond = field(b, "if").unwrap_or_default();
                    assert!(
                        cond.contains("hashFiles('repokid.lock') == ''"),
                        "{file}/{job}: {cond}"
                    );
                    if save {
                        saved += 1;
                        assert_eq!(job, "prepare", "{file}: only the job that builds saves");
                        assert!(
                            cond.contains("github.ref == 'refs/heads/main'")
                                && cond.contains("cache-hit != 'true'"),
                            "{file}/{job}: saved from a run not on main: {cond}"
                        );
                    } else {
                        restored = true;
                    }
                }
                if field(b, "run").is_some() {
                    assert_eq!(
                        field(b, "REPOKID").as_deref(),
                        Some(BINARY_PATH),
                        "{file}/{job}: the script's REPOKID"
                    );
                    assert!(restored, "{file}/{job}: runs before restoring the binary");
                }
            }
        }
        assert_eq!(saved, saves, "{file}: cache saves");
    }
    // dispatch.yml restores what propose.yml and apply.yml save.
    assert_eq!(keys.len(), 1, "{keys:?}");
}

/// The value of a job-level `key` (e.g. timeout-minutes, environment) of `job` in `yaml`.
fn job_field(yaml: &str, job: &str, key: &str) -> Option<String> {
    job_block(yaml, job)
        .lines()
        .find(|l| indent(l) == 4 && l.trim_start().starts_with(&format!("{key}:")))
        .and_then(|l| value(l, key))
        .map(|v| v.split(" #").next().unwrap().trim().to_string())
}

#[test]
fn aws_credentials_and_app_tokens_are_scoped_to_their_jobs() {
    let mut durations = BTreeMap::new();
    for file in WORKFLOWS {
        let text = workflow_text(file);
        let jobs: std::collections::BTreeSet<String> =
            steps(&text).into_iter().map(|s| s.job).collect();
        for job in &jobs {
            let block = job_block(&text, job);
            let environment = job_field(&text, job, "environment");
            let timeout: u64 = job_field(&text, job, "timeout-minutes")
                .unwrap_or_else(|| panic!("{file}/{job}: no timeout-minutes"))
                .parse()
                .unwrap();
            for b in step_blocks(&text, job) {
                let uses = field(&b, "uses").unwrap_or_default();
                if uses.starts_with("aws-actions/configure-aws-credentials@") {
                    // The session lasts as long as the job may run, not the default hour, and
                    // no longer.
                    let duration: u64 = field(&b, "role-duration-seconds")
                        .unwrap_or_else(|| panic!("{file}/{job}: no role-duration-seconds"))
                        .parse()
                        .unwrap();
                    assert_eq!(
                        duration,
                        timeout * 60,
                        "{file}/{job}: role-duration-seconds must be the job's timeout"
                    );
                    // Each hub role only in its environment, which its trust policy names; no
                    // fallback from one to the other.
                    let role = field(&b, "role-to-assume").unwrap();
                    let expected = match environment.as_deref() {
                        Some("iam-apply") => "${{ vars.REPOKID_APPLY_HUB_ROLE_ARN }}",
                        Some("iam-propose") => "${{ vars.REPOKID_HUB_ROLE_ARN }}",
                        other => panic!(
                            "{file}/{job}: AWS credentials outside the iam-propose and iam-apply environments ({other:?})"
                        ),
                    };
                    assert_eq!(role, expected, "{file}/{job}");
                    durations.insert(environment.clone().unwrap(), duration);
                }
                if uses.starts_with("actions/create-github-app-token@") {
                    let permissions: Vec<(String, String)> = b
                        .iter()
                        .filter_map(|l| {
                            let (k, v) = l.trim().split_once(':')?;
                            let v = v.split(" #").next().unwrap().trim();
                            k.starts_with("permission-")
                                .then(|| (k.to_string(), v.to_string()))
                        })
                        .collect();
                    assert!(
                        !permissions.is_empty(),
                        "{file}/{job}: an App token without permission-* inputs has all of the installation's"
                    );
                    for (k, v) in &permissions {
                        assert!(v == "read" || v == "write", "{file}/{job}: {k}: {v}");
                    }
                }
            }
            // The App's key is a secret of the job's environment, never the repository's.
            if block.contains("secrets.") {
                assert!(
                    environment.is_some(),
                    "{file}/{job}: a secret in a job without an environment"
                );
            }
            // The write role, and the hub that may assume it, only in the environment-protected
            // apply job.
            for name in [
                "REPOKID_APPLY_HUB_ROLE_ARN",
                "REPOKID_APPLY_ASSUME_ROLE",
                "iam-apply",
            ] {
                if block.contains(name) {
                    assert_eq!(
                        (file, job.as_str(), environment.as_deref()),
                        ("apply.yml", "apply", Some("iam-apply")),
                        "{name} outside the apply job"
                    );
                }
            }
        }
    }
    assert_eq!(
        durations.keys().collect::<Vec<_>>(),
        ["iam-apply", "iam-propose"],
        "{durations:?}"
    );

    // The setup guide: each hub role's MaxSessionDuration covers its session, every OIDC trust
    // names an environment's subject exactly, and every role assumption is kept inside the
    // organisation.
    let doc = std::fs::read_to_string(root().join("docs/setup.md")).unwrap();
    for (env, duration) in &durations {
        assert!(
            doc.contains(&format!("`{env}`"))
                && doc.contains(&format!("MaxSessionDuration {duration}")),
            "docs/setup.md: the hub role of {env} needs MaxSessionDuration {duration}"
        );
    }
    let mut web_identity = 0;
    let mut assume = 0;
    for block in doc.split("```json\n").skip(1) {
        let json = block.split("```").next().unwrap();
        let policy: Value =
            serde_json::from_str(json).unwrap_or_else(|e| panic!("docs/setup.md: {e}:\n{json}"));
        for st in policy["Statement"].as_array().unwrap() {
            let condition = &st["Condition"];
            match st["Action"].as_str() {
                Some("sts:AssumeRoleWithWebIdentity") => {
                    web_identity += 1;
                    let eq = &condition["StringEquals"];
                    assert_eq!(condition.as_object().unwrap().len(), 1, "{st}");
                    assert_eq!(
                        eq["token.actions.githubusercontent.com:aud"],
                        "sts.amazonaws.com"
                    );
                    let sub = eq["token.actions.githubusercontent.com:sub"]
                        .as_str()
                        .unwrap();
                    assert!(
                        sub.starts_with("repo:ORG/REPO:environment:iam-"),
                        "{sub}: trust environments only"
                    );
                }
                Some("sts:AssumeRole") if st.get("Resource").is_some() => {
                    assume += 1;
                    assert!(
                        condition["StringEquals"]["aws:ResourceOrgID"].is_string(),
                        "a role assumption not limited to the organisation: {st}"
                    );
                }
                _ => {}
            }
        }
    }
    assert_eq!(
        (web_identity, assume),
        (2, 2),
        "docs/setup.md: the two hub roles"
    );
}
