#![allow(clippy::unwrap_used)]
//! Comment commands (`repokid dispatch`, `repokid::github::dispatch`): the GitHub API is an
//! in-process wiremock server that checks the exact requests, the policy repository a temporary
//! git repository with the demo data synced (and a proposal merged, for history), and pushes go
//! to `git http-backend` (tests/servers/git_http_server.py).
//!
//! The GitHub client owns its own tokio runtime and blocks on it, so the library is called from
//! the plain test thread; each test owns a separate runtime only for the mock server.

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use repokid::engine::Catalog;
use repokid::engine::grants::analyze;
use repokid::filters::{DEFAULT_FILTERS_TOML, FilterConfig};
use repokid::github::client::GitHub;
use repokid::github::dispatch::{DispatchContext, DispatchError, Outcome, USAGE, dispatch};
use repokid::settings::Settings;
use repokid::store::git::PolicyStore;
use serde_json::{Value, json};
use wiremock::matchers::{body_json, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::common::git_server::GitServer;
use crate::common::{NOW, demo_file, git, repokid};

// One module per concern; this file keeps what several of them share.
mod binary;
mod errors;
mod opt_out;
mod refusals;
mod rollback;
mod show;

const TOKEN: &str = "ghp_D1spatchT0kenNeverLogged_x8Qm";
const ACCOUNT: &str = "111122223333";
const ROLE: &str = "orders-api";
const ISSUE: u64 = 7;
const COMMENTS: &str = "/repos/acme/iam/issues/7/comments";
const PULLS: &str = "/repos/acme/iam/pulls";

/// A mock GitHub API, programmed from the test thread.
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
        Api { rt, server }
    }

    fn mount(&self, mock: Mock) {
        self.rt.block_on(mock.mount(&self.server));
    }

    fn gh(&self) -> GitHub {
        let settings = repokid::settings::GitHubSettings {
            repo: Some("acme/iam".into()),
            api_url: self.server.uri(),
            ..Default::default()
        };
        let mut gh = GitHub::connect(&settings, Path::new("."), Some(TOKEN.into())).unwrap();
        gh.retry_scale = 0.0;
        gh
    }

    fn requests(&self) -> Vec<Request> {
        self.rt
            .block_on(self.server.received_requests())
            .unwrap_or_default()
    }

    /// The requests received, as `METHOD /path?query`.
    fn calls(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| {
                let q = r.url.query().map(|q| format!("?{q}")).unwrap_or_default();
                format!("{} {}{q}", r.method, r.url.path())
            })
            .collect()
    }

    /// The JSON body of the `index`th request.
    fn body(&self, index: usize) -> Value {
        serde_json::from_slice(&self.requests()[index].body).unwrap()
    }

    /// The bodies of the comments posted, in order.
    fn comments(&self) -> Vec<String> {
        self.requests()
            .iter()
            .filter(|r| r.method.as_str() == "POST" && r.url.path() == COMMENTS)
            .map(|r| {
                let v: Value = serde_json::from_slice(&r.body).unwrap();
                v["body"].as_str().unwrap().to_string()
            })
            .collect()
    }

    /// Checks the mocks' expectations and that every request carried the token.
    fn verify(&self) {
        self.rt.block_on(self.server.verify());
        for r in self.requests() {
            assert_eq!(
                r.headers
                    .get("authorization")
                    .map(|v| v.to_str().unwrap().to_string()),
                Some(format!("Bearer {TOKEN}")),
                "{} {}",
                r.method,
                r.url
            );
        }
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        // A failed assertion would make the server's own verification panic again on drop.
        if std::thread::panicking() {
            self.rt.block_on(self.server.reset());
        }
    }
}

fn permission_mock(login: &str, permission: &str) -> Mock {
    let folded = match permission {
        "maintain" => "write",
        "triage" => "read",
        p => p,
    };
    Mock::given(method("GET"))
        .and(path(format!(
            "/repos/acme/iam/collaborators/{login}/permission"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "permission": folded,
            "role_name": permission,
            "user": {"login": login},
        })))
        .expect(1)
}

fn comment_mock(times: u64) -> Mock {
    Mock::given(method("POST"))
        .and(path(COMMENTS))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 1})))
        .expect(times)
}

fn pr_json(number: u64, branch: &str) -> Value {
    json!({
        "number": number,
        "state": "open",
        "merged_at": null,
        "html_url": format!("https://github.com/acme/iam/pull/{number}"),
        "head": {"ref": branch, "sha": "8f14e45fceea167a5a36dedd4bea2543d1f6d6a4"},
        "base": {"ref": "main"},
        "body": "",
        "labels": [],
    })
}

/// find_pr (answering `existing`) and create_pr (answering #`number`) for `branch`.
fn mount_pr(api: &Api, branch: &str, existing: Value, number: u64) {
    api.mount(
        Mock::given(method("GET"))
            .and(path(PULLS))
            .and(query_param("state", "all"))
            .and(query_param("head", format!("acme:{branch}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(existing))
            .expect(1),
    );
    api.mount(
        Mock::given(method("POST"))
            .and(path(PULLS))
            .respond_with(ResponseTemplate::new(201).set_body_json(pr_json(number, branch)))
            .expect(1),
    );
}

fn find_call(branch: &str) -> String {
    format!(
        "GET {PULLS}?state=all&head=acme:{}&per_page=10",
        branch
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() {
                c.to_string()
            } else {
                format!("%{:02X}", c as u32)
            })
            .collect::<String>()
    )
}

fn perm_call(login: &str) -> String {
    format!("GET /repos/acme/iam/collaborators/{login}/permission")
}

/// An `issue_comment` event.
fn event(action: &str, login: &str, user_type: &str, body: &str) -> Value {
    json!({
        "action": action,
        "comment": {"id": 99, "body": body, "user": {"login": login, "type": user_type}},
        "issue": {"number": ISSUE, "pull_request": {"url": "https://api.github.com/repos/acme/iam/pulls/7"}},
        "repository": {"full_name": "acme/iam"},
    })
}

fn now() -> DateTime<Utc> {
    NOW.parse().unwrap()
}

/// A repository, made once and copied per test: filters.toml (the default) committed, the demo
/// account synced, then a proposal merged into main (so roles have two versions).
fn template() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = common::new_repo();
        let p = dir.path();
        std::fs::write(p.join("filters.toml"), DEFAULT_FILTERS_TOML).unwrap();
        git(p, &["add", "filters.toml"]);
        git(p, &["commit", "-q", "-m", "filters"]);
        let inv = demo_file("inventory.json");
        let usage = demo_file("usage.json");
        let (inv, usage) = (inv.to_str().unwrap(), usage.to_str().unwrap());
        let (code, _, err) = repokid(p, &["sync", "--inventory", inv]);
        assert_eq!(code, 0, "{err}");
        let propose = [
            "propose",
            "--inventory",
            inv,
            "--usage",
            usage,
            "--now",
            NOW,
            "--grace-days",
            "0",
        ];
        let (code, _, err) = repokid(p, &propose);
        assert_eq!(code, 0, "{err}");
        let branch = format!("repokid/propose/{ACCOUNT}");
        git(p, &["merge", "-q", "--ff-only", &branch]);
        git(p, &["branch", "-q", "-D", &branch]);
        dir
    })
    .path()
}

/// A fresh copy of the template repository.
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", template().display()))
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// Everything a test needs: the mock API, a repository, settings pushing to `git_url`.
struct World {
    api: Api,
    dir: tempfile::TempDir,
    settings: Settings,
    gh: GitHub,
    store: PolicyStore,
}

impl World {
    fn new(git_url: Option<&str>) -> World {
        let api = Api::start();
        let dir = repo();
        let mut settings = Settings::default();
        settings.github.repo = Some("acme/iam".into());
        settings.github.api_url = api.server.uri();
        settings.github.git_url = git_url.map(str::to_string);
        let gh = api.gh();
        let store = PolicyStore::open(dir.path()).unwrap();
        World {
            api,
            dir,
            settings,
            gh,
            store,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn run(&self, event: &Value) -> Result<Vec<repokid::github::dispatch::Reply>, DispatchError> {
        let ctx = DispatchContext {
            github: &self.gh,
            settings: &self.settings,
            store: &self.store,
            catalog: Catalog::embedded(),
            base: "main".into(),
            filters_path: Some("filters.toml".into()),
            now: now(),
        };
        dispatch(event, &ctx)
    }

    fn branches(&self) -> String {
        git(
            self.path(),
            &["branch", "--list", "--format=%(refname:short)"],
        )
    }
}

/// A git server with an empty bare `iam.git`; its path and URL.
fn git_server() -> (GitServer, PathBuf, String) {
    let server = GitServer::start(TOKEN);
    let (bare, url) = server.bare_repo("iam");
    (server, bare, url)
}

fn bare_rev(bare: &Path, rev: &str) -> String {
    git(
        Path::new("."),
        &["--git-dir", bare.to_str().unwrap(), "rev-parse", rev],
    )
    .trim()
    .to_string()
}

/// The commit message of `rev`.
fn message(dir: &Path, rev: &str) -> String {
    git(dir, &["log", "-1", "--format=%B", rev])
}
