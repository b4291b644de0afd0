//! Contract test: every call of `repokid::github::client::GitHub` against Prism serving GitHub's
//! official OpenAPI description (npm `@octokit/openapi`), both pinned by
//! tests/servers/prism/package-lock.json and installed by `scripts/test-env`.
//!
//! Prism (run without `--errors`: the description's own examples break some of its schemas)
//! validates each request — path, query, headers, body — against the operation it matches, and
//! answers an invalid one with 422 and an `sl-violations` header; a path matching no operation
//! gets 404. The client turns most non-2xx answers into errors, but some calls accept 404 or 422
//! as a GitHub answer (`permission`, `request_reviewers`, `delete_branch`, and the settings
//! `repokid doctor` reads, which accept 403 and 404), so the test reads the
//! verdict from Prism's log as well: a call passes when it returned `Ok`, every request it made
//! was logged as received, and the log holds no request violation and no unmatched route.
//!
//! Prism keeps no state: it answers each operation with the description's example, so the calls
//! are checked one by one, not as a flow.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Seek, SeekFrom};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use repokid::github::client::{GitHub, GitHubError};
use repokid::settings::GitHubSettings;
use serde_json::json;

const REPO: &str = "octocat/hello-world";
const BRANCH: &str = "repokid/propose/111122223333";
const NUMBER: u64 = 1347;
const SHA: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
const TITLE: &str = "repokid: remove unused permissions in 111122223333";
const BODY: &str = "Removes 12 unused actions from 3 roles.\n\n| role | removed |\n|---|---|\n";
/// How long Prism may take to load the description (~15 s on a developer machine).
const STARTUP: Duration = Duration::from_secs(90);

/// The Prism install scripts/test-env makes: `REPOKID_TEST_PRISM_DIR`, else
/// `target/test-env/prism`. Missing is a failure, not a skip.
fn prism_dir() -> PathBuf {
    let dir = std::env::var_os("REPOKID_TEST_PRISM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-env/prism"));
    assert!(
        dir.join("node_modules/.bin/prism").exists() && spec(&dir).exists(),
        "no Prism with GitHub's OpenAPI description in {}: run scripts/test-env (it installs them \
         under target/test-env) or set REPOKID_TEST_PRISM_DIR",
        dir.display()
    );
    dir
}

fn spec(dir: &Path) -> PathBuf {
    dir.join("node_modules/@octokit/openapi/generated/api.github.com.json")
}

/// A port nothing listens on (bound, read, released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Prism, serving GitHub's description, with its log in a file.
struct Prism {
    child: Child,
    /// Kept open: Prism exits when it closes (see [`EXIT_ON_EOF`]), so the shared server (in a
    /// static, never dropped) ends with the test process, even one that is killed.
    _stdin: ChildStdin,
    url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

/// Preloaded into Prism's node: exit when stdin reaches end of file, i.e. when the test process
/// that holds the other end is gone.
const EXIT_ON_EOF: &str = "process.stdin.on('data', () => {});\n\
                           process.stdin.on('end', () => process.exit(0));\n";

impl Prism {
    fn start() -> Prism {
        let dir = prism_dir();
        let tmp = tempfile::tempdir().unwrap();
        let preload = tmp.path().join("exit-on-eof.js");
        std::fs::write(&preload, EXIT_ON_EOF).unwrap();
        let log = tmp.path().join("prism.log");
        let port = free_port();
        let mut child = Command::new("node")
            .arg("--require")
            .arg(&preload)
            .arg(dir.join("node_modules/.bin/prism"))
            .args(["mock", "-h", "127.0.0.1", "-p", &port.to_string()])
            .arg(spec(&dir))
            .current_dir(&dir)
            .stdin(Stdio::piped())
            // Files, not pipes: nobody drains a pipe, and a full one would stall the server.
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(tmp.path().join("stderr.log")).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run node (Prism needs Node.js): {e}"));
        let stdin = child.stdin.take().unwrap();
        let deadline = Instant::now() + STARTUP;
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.contains("Prism is listening") {
                break;
            }
            let exited = child.try_wait().unwrap();
            if exited.is_some() || Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "Prism did not start within {STARTUP:?} ({}); its stderr:\n{}\nits log ends:\n{}",
                    exited.map_or("still running".into(), |s| s.to_string()),
                    std::fs::read_to_string(tmp.path().join("stderr.log")).unwrap_or_default(),
                    tail(&text, 20)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Prism {
            child,
            _stdin: stdin,
            url: format!("http://127.0.0.1:{port}"),
            log,
            _dir: tmp,
        }
    }

    /// The log's length now: where the next call's lines start.
    fn mark(&self) -> u64 {
        std::fs::metadata(&self.log).unwrap().len()
    }

    /// The log's lines from `mark` on, once Prism has logged the end of `requests` requests
    /// (a response, or an error that ended the request; request validation errors come before
    /// either) and then gone quiet: it repeats request violations, and logs those of its own
    /// response, a little after answering, and those belong to this call, not the next.
    fn lines_since(&self, mark: u64, requests: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut last = String::new();
        loop {
            let mut file = std::fs::File::open(&self.log).unwrap();
            file.seek(SeekFrom::Start(mark)).unwrap();
            let mut text = String::new();
            file.read_to_string(&mut text).unwrap();
            let ended = text
                .lines()
                .filter(|l| {
                    l.contains("> Responding with \"")
                        || l.contains("Request terminated with error")
                })
                .count();
            let quiet = ended >= requests && text == last;
            if quiet || Instant::now() > deadline {
                return text.lines().map(str::to_string).collect();
            }
            last = text;
            std::thread::sleep(Duration::from_millis(if ended >= requests {
                250
            } else {
                20
            }));
        }
    }
}

impl Drop for Prism {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The server the tests share (Prism keeps no state), and a lock: each test's calls must have
/// the log to themselves while they are checked.
fn prism() -> (&'static Prism, MutexGuard<'static, ()>) {
    static PRISM: OnceLock<Prism> = OnceLock::new();
    static LOCK: Mutex<()> = Mutex::new(());
    let guard = LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    (PRISM.get_or_init(Prism::start), guard)
}

fn connect(prism: &Prism) -> GitHub {
    let settings = GitHubSettings {
        repo: Some(REPO.into()),
        api_url: prism.url.clone(),
        ..Default::default()
    };
    let mut gh = GitHub::connect(&settings, Path::new("."), Some("test-token".into())).unwrap();
    gh.retry_scale = 0.0;
    gh
}

/// Settings naming a GitHub App (id 1) whose private key, a throwaway RSA key made by openssl,
/// lies in the returned directory.
fn app_settings(prism: &Prism) -> (GitHubSettings, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("app.pem");
    let out = Command::new("openssl")
        .args(["genrsa", "-traditional", "-out"])
        .arg(&key)
        .arg("2048")
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl: {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let settings = GitHubSettings {
        repo: Some(REPO.into()),
        api_url: prism.url.clone(),
        app_id: Some(1),
        private_key_file: Some(key),
        ..Default::default()
    };
    (settings, dir)
}

/// What Prism made of one call's requests.
#[derive(Debug)]
struct Verdict {
    /// `Request received` lines: what reached Prism.
    received: Vec<String>,
    /// The statuses Prism responded with.
    statuses: Vec<u16>,
    /// Request violations and unmatched routes.
    errors: Vec<String>,
}

fn verdict(lines: &[String]) -> Verdict {
    let received = lines
        .iter()
        .filter(|l| l.contains("Request received"))
        .map(|l| l.trim().to_string())
        .collect();
    let statuses = lines
        .iter()
        .filter_map(|l| l.split_once("> Responding with \"").map(|(_, s)| s))
        .filter_map(|s| s.trim_end_matches('"').parse().ok())
        .collect();
    // `✖` marks Prism's errors: request validation (before and after the response), routes
    // that match nothing. Violations of the *response* are the description's examples breaking
    // its own schemas, not the client's business.
    let errors = lines
        .iter()
        .filter(|l| l.contains('✖') && !l.contains("Violation: response"))
        .map(|l| l.trim().to_string())
        .collect();
    Verdict {
        received,
        statuses,
        errors,
    }
}

/// Runs one client call that makes `requests` requests; returns a failure description, if any.
fn check<T: std::fmt::Debug>(
    prism: &Prism,
    name: &str,
    requests: usize,
    call: impl FnOnce() -> Result<T, GitHubError>,
) -> Option<String> {
    let mark = prism.mark();
    let result = call();
    let v = verdict(&prism.lines_since(mark, requests));
    let mut problems = Vec::new();
    if let Err(e) = &result {
        problems.push(format!("returned an error: {e}"));
    }
    if v.received.len() != requests {
        problems.push(format!(
            "made {} requests, expected {requests}",
            v.received.len()
        ));
    }
    if v.statuses.len() != requests || v.statuses.iter().any(|s| !(200..300).contains(s)) {
        problems.push(format!("Prism answered {:?}", v.statuses));
    }
    if !v.errors.is_empty() {
        problems.push(format!(
            "Prism reported:\n      {}",
            v.errors.join("\n      ")
        ));
    }
    if problems.is_empty() {
        eprintln!("validated {name}: {:?} -> {:?}", v.received, result);
        None
    } else {
        Some(format!(
            "{name}\n    requests: {:?}\n    {}",
            v.received,
            problems.join("\n    ")
        ))
    }
}

#[test]
fn every_client_call_validates_against_githubs_openapi_description() {
    let (prism, _lock) = prism();
    let gh = connect(prism);
    let reviewers = ["octocat".to_string(), "octo-org/security".to_string()];
    let labels = ["repokid".to_string(), "repokid:adds-access".to_string()];
    let app = app_settings(prism);
    let failures: Vec<String> = [
        check(prism, "find_pr", 1, || gh.find_pr(BRANCH)),
        check(prism, "get_pr", 1, || gh.get_pr(NUMBER)),
        // Prism's example list is shorter than a page: one request.
        check(prism, "open_prs", 1, || gh.open_prs("repokid/")),
        check(prism, "create_pr", 1, || {
            gh.create_pr(BRANCH, "main", TITLE, BODY)
        }),
        check(prism, "update_pr", 1, || gh.update_pr(NUMBER, TITLE, BODY)),
        check(prism, "close_pr", 1, || gh.close_pr(NUMBER)),
        check(prism, "add_labels", 1, || gh.add_labels(NUMBER, &labels)),
        // A user and an `org/team` team.
        check(prism, "request_reviewers", 1, || {
            gh.request_reviewers(NUMBER, &reviewers)
        }),
        check(prism, "comment", 1, || {
            gh.comment(NUMBER, "repokid: the proposal was superseded by #1348.")
        }),
        // apply-report: the pull requests behind a commit, comments read and rewritten, the
        // tracking issue listed, opened, read, closed and reopened. Prism's example list of
        // comments is shorter than a page: one request.
        check(prism, "pulls_for_commit", 1, || gh.pulls_for_commit(SHA)),
        check(prism, "comments", 1, || gh.comments(NUMBER)),
        check(prism, "update_comment", 1, || {
            gh.update_comment(1, "<!-- repokid:apply account=111122223333 -->\napplied")
        }),
        check(prism, "open_issues", 1, || {
            gh.open_issues("repokid:apply-failed")
        }),
        check(prism, "get_issue", 1, || gh.get_issue(NUMBER)),
        check(prism, "create_issue", 1, || {
            gh.create_issue(
                "repokid apply failed: merged changes are not in IAM",
                BODY,
                &["repokid:apply-failed".to_string()],
            )
        }),
        check(prism, "set_issue_state (close)", 1, || {
            gh.set_issue_state(NUMBER, Some("completed"))
        }),
        check(prism, "set_issue_state (reopen)", 1, || {
            gh.set_issue_state(NUMBER, None)
        }),
        check(prism, "set_status", 1, || {
            gh.set_status(SHA, "pending", "repokid/verify", "Checking the proposal")
        }),
        check(prism, "permission", 1, || gh.permission("octocat")),
        check(prism, "approved", 1, || gh.approved(NUMBER)),
        check(prism, "merge_pr", 1, || gh.merge_pr(NUMBER, SHA, TITLE)),
        // repokid doctor's reads of the repository's settings.
        check(prism, "repository", 1, || gh.repository()),
        check(prism, "branch_protection", 1, || {
            gh.branch_protection("main")
        }),
        check(prism, "branch_rules", 1, || gh.branch_rules("main")),
        check(prism, "environment", 1, || gh.environment("iam-apply")),
        check(prism, "codeowners_errors", 1, || {
            gh.codeowners_errors("main")
        }),
        check(prism, "actions_variable", 1, || {
            gh.actions_variable("REPOKID_SCHEDULE")
        }),
        // As the GitHub App itself (a JWT signed with its key, made here by openssl).
        check(prism, "app_installation", 1, || {
            gh.app_installation(&app.0, app.1.path())
        }),
        // `delete_branch` sends `DELETE /repos/{owner}/{repo}/git/refs/heads/{branch}`, which
        // GitHub's description declares as `/repos/{owner}/{repo}/git/refs/{ref}` with `ref` =
        // `heads/<branch>`: a path parameter holding a `/`, which Prism's router cannot match
        // (it answers 404 NO_PATH_MATCHED_ERROR, for any branch name). So the call itself is not
        // validated; the same operation is, with the `/`s percent-encoded so Prism matches it
        // (no body, as delete_branch sends), and the call is pinned to that known limitation
        // below — when a Prism upgrade matches it, check `delete_branch` here instead.
        check(
            prism,
            "DELETE git ref (delete_branch's operation)",
            1,
            || {
                gh.send(
                    "DELETE",
                    &format!("/repos/{REPO}/git/refs/heads%2Frepokid%2Fpropose%2F111122223333"),
                    None,
                    &[],
                )
            },
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert!(
        failures.is_empty(),
        "{} client call(s) do not conform to GitHub's OpenAPI description:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );

    let mark = prism.mark();
    gh.delete_branch(BRANCH).unwrap();
    let v = verdict(&prism.lines_since(mark, 1));
    assert!(
        v.received.len() == 1
            && v.errors.len() == 1
            && v.errors[0].contains("NO_PATH_MATCHED_ERROR"),
        "delete_branch: expected Prism's known failure to route `git/refs/heads/<branch>` (see \
         above); got {v:#?}"
    );
}

/// The negative control: a request that breaks the description is caught, by its answer and by
/// the log check, even when the call accepts a 422.
#[test]
fn a_request_that_breaks_the_description_is_rejected() {
    let (prism, _lock) = prism();
    let gh = connect(prism);
    let pulls = format!("/repos/{REPO}/pulls");
    let bad = json!({"titl": 1});

    // The answer: a call that accepts only 2xx fails.
    let err = gh.send("POST", &pulls, Some(&bad), &[]).unwrap_err();
    assert_eq!(err.status, Some(422), "{err}");

    // The log check, for calls that accept a 422 or 404 as GitHub's answer.
    let caught = |failure: Option<String>, expected: &[&str]| {
        let failure = failure.expect("an invalid request passed the check");
        eprintln!("caught, as it should be: {failure}");
        for e in expected {
            assert!(failure.contains(e), "expected {e:?} in: {failure}");
        }
    };
    caught(
        check(prism, "create with a bad body", 1, || {
            gh.send("POST", &pulls, Some(&bad), &[422])
        }),
        &[
            "Prism answered [422]",
            "Request body must have required property 'head'",
        ],
    );
    // A query parameter out of its enum (find_pr's and open_prs's `state`, say).
    caught(
        check(prism, "list with a bad query", 1, || {
            gh.send("GET", &format!("{pulls}?state=everything"), None, &[422])
        }),
        &["Prism answered [422]", "query parameter state"],
    );
    // An operation the description does not have.
    caught(
        check(prism, "an unknown route", 1, || {
            gh.send("GET", &format!("/repos/{REPO}/no-such-thing"), None, &[404])
        }),
        &["NO_PATH_MATCHED_ERROR"],
    );
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
