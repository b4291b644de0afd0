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

// One module per concern; this file keeps what several of them use (the GitHub stand-in, the
// runner of a job's script, the verify.yml fixtures, the workflow-file readers).
mod binaries;
mod end_to_end;
mod merge_queue;
mod nights;
mod verify_pr;
mod workflow_files;
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

/// Every workflow file.
const WORKFLOWS: [&str; 6] = [
    "ci.yml",
    "propose.yml",
    "verify.yml",
    "apply.yml",
    "dispatch.yml",
    "release.yml",
];

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
