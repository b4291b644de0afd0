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

#[test]
fn a_reader_is_refused_once_and_nothing_else_happens() {
    let w = World::new(Some("http://127.0.0.1:9/never.git"));
    w.api.mount(permission_mock("bob", "read"));
    let refusal = "Sorry @bob, only people with write access to acme/iam can run repokid commands.";
    w.api.mount(
        Mock::given(method("POST"))
            .and(path(COMMENTS))
            .and(body_json(json!({ "body": refusal })))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 1})))
            .expect(1),
    );
    let head = git(w.path(), &["rev-parse", "HEAD"]);
    let branches = w.branches();

    let body = format!(
        "please\n/repokid show {ACCOUNT} {ROLE}\n/repokid opt-out {ACCOUNT} {ROLE} --reason \"x\""
    );
    let replies = w.run(&event("created", "bob", "User", &body)).unwrap();

    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(replies[0].outcome, Outcome::Refused);
    assert!(replies[0].posted);
    assert_eq!(replies[0].body, refusal);
    assert_eq!(
        replies[0].command,
        format!("/repokid show {ACCOUNT} {ROLE}\n/repokid opt-out {ACCOUNT} {ROLE} --reason \"x\"")
    );
    assert_eq!(
        w.api.calls(),
        [perm_call("bob"), format!("POST {COMMENTS}")]
    );
    assert_eq!(git(w.path(), &["rev-parse", "HEAD"]), head);
    assert_eq!(w.branches(), branches, "no branch was made");
    w.api.verify();
}

#[test]
fn triage_and_non_collaborators_are_refused_too() {
    for (perm, status) in [("triage", 200), ("none", 404)] {
        let w = World::new(None);
        if status == 404 {
            w.api.mount(
                Mock::given(method("GET"))
                    .and(path("/repos/acme/iam/collaborators/eve/permission"))
                    .respond_with(
                        ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})),
                    )
                    .expect(1),
            );
        } else {
            w.api.mount(permission_mock("eve", perm));
        }
        w.api.mount(comment_mock(1));
        let replies = w
            .run(&event("created", "eve", "User", "/repokid help"))
            .unwrap();
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0].outcome, Outcome::Refused, "{perm}");
        assert_eq!(
            w.api.calls(),
            [perm_call("eve"), format!("POST {COMMENTS}")]
        );
        w.api.verify();
    }
}

#[test]
fn show_replies_with_the_recorded_role() {
    let w = World::new(None);
    w.api.mount(permission_mock("alice", "maintain"));
    w.api.mount(comment_mock(1));

    let replies = w
        .run(&event(
            "created",
            "alice",
            "User",
            &format!("/repokid show {ACCOUNT} ORDERS-API"),
        ))
        .unwrap();

    assert_eq!(
        w.api.calls(),
        [perm_call("alice"), format!("POST {COMMENTS}")]
    );
    assert_eq!(replies.len(), 1);
    let r = &replies[0];
    assert_eq!(r.outcome, Outcome::Done, "{}", r.body);
    assert!(r.posted && r.pull_request.is_none());
    assert_eq!(w.api.comments(), std::slice::from_ref(&r.body));
    let body = &r.body;

    // What the reply says matches the store.
    let policies = w.store.read_role("main", ACCOUNT, ROLE).unwrap().unwrap();
    let perms = analyze(&policies, Catalog::embedded()).all.len();
    let size = repokid::engine::policy::inline_size(&policies);
    let head = git(w.path(), &["rev-parse", "HEAD"]);
    let sync = git(w.path(), &["rev-parse", "HEAD~1"]);
    assert!(
        body.starts_with(&format!("> /repokid show {ACCOUNT} ORDERS-API\n\n")),
        "{body}"
    );
    assert!(
        body.contains(&format!("**`{ROLE}`** in `{ACCOUNT}`")),
        "{body}"
    );
    assert!(body.contains(&format!("**{perms}** permissions")), "{body}");
    assert!(
        body.contains(&format!("inline size **{size}** of 10240")),
        "{body}"
    );
    for name in policies.keys() {
        assert!(body.contains(&format!("| `{name}` |")), "{body}");
    }
    assert!(body.contains("```json\n{"), "{body}");
    assert!(body.contains("**Last changes**"), "{body}");
    assert!(body.contains("| 0 | 2"), "{body}");
    assert!(
        body.contains(&format!("| repo | {} |", &head[..10])),
        "{body}"
    );
    assert!(
        body.contains(&format!("| sync | {} |", &sync[..10])),
        "{body}"
    );
    assert!(body.chars().count() <= 65_536);
    w.api.verify();
}

#[test]
fn show_of_an_unknown_role_says_so() {
    let w = World::new(None);
    w.api.mount(permission_mock("alice", "write"));
    w.api.mount(comment_mock(1));
    let replies = w
        .run(&event(
            "created",
            "alice",
            "User",
            &format!("/repokid show {ACCOUNT} no-such-role"),
        ))
        .unwrap();
    assert_eq!(replies[0].outcome, Outcome::Failed);
    assert!(
        replies[0]
            .body
            .contains(&format!("role no-such-role not found in account {ACCOUNT}")),
        "{}",
        replies[0].body
    );
    w.api.verify();
}

/// The commit message of `rev`.
fn message(dir: &Path, rev: &str) -> String {
    git(dir, &["log", "-1", "--format=%B", rev])
}

#[test]
fn opt_out_proposes_the_filters_entry_as_a_pull_request() {
    let (server, bare, url) = git_server();
    let w = World::new(Some(&url));
    let branch = format!("repokid/opt-out/{ACCOUNT}/{ROLE}");
    w.api.mount(permission_mock("alice", "admin"));
    mount_pr(&w.api, &branch, json!([]), 57);
    w.api.mount(comment_mock(1));
    let head = git(w.path(), &["rev-parse", "HEAD"]);

    let replies = w
        .run(&event(
            "created",
            "alice",
            "User",
            &format!(
                "/repokid opt-out {ACCOUNT} {ROLE} --reason \"PCI audit, ask 'payments'\" --days 30"
            ),
        ))
        .unwrap();

    assert_eq!(
        w.api.calls(),
        [
            perm_call("alice"),
            find_call(&branch),
            format!("POST {PULLS}"),
            format!("POST {COMMENTS}"),
        ]
    );
    let r = &replies[0];
    assert_eq!(r.outcome, Outcome::Done, "{}", r.body);
    let pr = r.pull_request.as_ref().unwrap();
    assert_eq!((pr.number, pr.opened), (57, true));
    assert_eq!(pr.url, "https://github.com/acme/iam/pull/57");
    assert_eq!(pr.branch, branch);
    assert!(
        r.body.contains("https://github.com/acme/iam/pull/57"),
        "{}",
        r.body
    );
    assert!(r.body.contains("until **2026-12-20**"), "{}", r.body);

    // The pull request: from the branch to main.
    let create = w.api.body(2);
    assert_eq!(create["head"], branch.as_str());
    assert_eq!(create["base"], "main");
    assert_eq!(
        create["title"],
        format!("repokid opt-out: {ROLE} in {ACCOUNT} until 2026-12-20")
    );
    let pr_body = create["body"].as_str().unwrap();
    assert!(pr_body.contains("@alice in #7"), "{pr_body}");
    assert!(
        pr_body.contains("```toml\n[[opt-out.entries]]\n"),
        "{pr_body}"
    );

    // The branch: one commit on main changing filters.toml only, pushed as it is.
    let tip = git(w.path(), &["rev-parse", &branch]).trim().to_string();
    assert_eq!(bare_rev(&bare, &format!("refs/heads/{branch}")), tip);
    assert_eq!(git(w.path(), &["rev-parse", &format!("{branch}~1")]), head);
    assert_eq!(
        git(w.path(), &["diff", "--name-only", "main", &branch]).trim(),
        "filters.toml"
    );
    let text = git(w.path(), &["show", &format!("{branch}:filters.toml")]);
    let config = FilterConfig::parse(&text).unwrap();
    assert_eq!(config.opt_out.entries.len(), 1);
    let e = &config.opt_out.entries[0];
    assert_eq!(
        (
            e.account.as_str(),
            e.role.as_str(),
            e.owner.as_str(),
            e.reason.as_str()
        ),
        (ACCOUNT, ROLE, "alice", "PCI audit, ask 'payments'")
    );
    assert_eq!(e.expires.as_str(), "2026-12-20");
    // Everything else in the file, comments included, is as it was.
    let block = format!(
        "[[opt-out.entries]]\naccount = \"{ACCOUNT}\"\nrole = \"{ROLE}\"\nowner = \"alice\"\n\
         reason = \"PCI audit, ask 'payments'\"\nexpires = \"2026-12-20\"\n\n"
    );
    assert_eq!(text.replace(&block, ""), DEFAULT_FILTERS_TOML, "{text}");
    let mut expected = FilterConfig::parse(DEFAULT_FILTERS_TOML).unwrap();
    expected.opt_out.entries = config.opt_out.entries.clone();
    assert_eq!(config, expected);

    let msg = message(w.path(), &branch);
    assert!(
        msg.starts_with(&format!(
            "repokid opt-out: {ROLE} in {ACCOUNT} until 2026-12-20\n"
        )),
        "{msg}"
    );
    for trailer in [
        "Repokid-Action: opt-out".to_string(),
        format!("Repokid-Account: {ACCOUNT}"),
        "Repokid-Requested-By: alice".to_string(),
        format!("Repokid-Role: {ROLE}"),
    ] {
        assert!(msg.lines().any(|l| l == trailer), "{trailer} in {msg}");
    }

    // The checkout is untouched.
    assert_eq!(git(w.path(), &["rev-parse", "HEAD"]), head);
    assert_eq!(git(w.path(), &["status", "--porcelain"]), "");
    assert_eq!(
        std::fs::read_to_string(w.path().join("filters.toml")).unwrap(),
        DEFAULT_FILTERS_TOML
    );
    assert!(!server.requests("iam").is_empty());
    assert!(!server.log_text().contains(TOKEN));
    w.api.verify();
}

#[test]
fn opt_out_again_replaces_the_entry_and_updates_the_open_pull_request() {
    let (_server, bare, url) = git_server();
    let w = World::new(Some(&url));
    let branch = format!("repokid/opt-out/{ACCOUNT}/{ROLE}");
    // On main already: an entry by bob.
    let with_bob = format!(
        "{DEFAULT_FILTERS_TOML}\n[[opt-out.entries]]\naccount = \"{ACCOUNT}\"\nrole = \"{ROLE}\"\n\
         owner = \"bob\"\nreason = \"old\"\nexpires = \"2026-12-01\"\n"
    );
    std::fs::write(w.path().join("filters.toml"), &with_bob).unwrap();
    git(w.path(), &["commit", "-q", "-am", "bob's opt-out"]);
    // A stale local branch from an earlier request is rebuilt from main.
    git(w.path(), &["branch", &branch, "HEAD~2"]);

    w.api.mount(permission_mock("alice", "write"));
    w.api.mount(
        Mock::given(method("GET"))
            .and(path(PULLS))
            .and(query_param("head", format!("acme:{branch}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([pr_json(41, &branch)])))
            .expect(1),
    );
    w.api.mount(
        Mock::given(method("PATCH"))
            .and(path(format!("{PULLS}/41")))
            .respond_with(ResponseTemplate::new(200).set_body_json(pr_json(41, &branch)))
            .expect(1),
    );
    w.api.mount(comment_mock(1));

    let replies = w
        .run(&event(
            "created",
            "alice",
            "User",
            &format!("/repokid opt-out {ACCOUNT} {ROLE} --reason=longer"),
        ))
        .unwrap();
    let r = &replies[0];
    assert_eq!(r.outcome, Outcome::Done, "{}", r.body);
    assert_eq!(
        r.pull_request.as_ref().map(|p| (p.number, p.opened)),
        Some((41, false))
    );
    assert!(
        r.body
            .contains("replaces the current entry (by bob until 2026-12-01)"),
        "{}",
        r.body
    );
    assert_eq!(
        w.api.calls(),
        [
            perm_call("alice"),
            find_call(&branch),
            format!("PATCH {PULLS}/41"),
            format!("POST {COMMENTS}"),
        ]
    );
    let main = git(w.path(), &["rev-parse", "main"]);
    assert_eq!(git(w.path(), &["rev-parse", &format!("{branch}~1")]), main);
    assert_eq!(
        bare_rev(&bare, &format!("refs/heads/{branch}")),
        git(w.path(), &["rev-parse", &branch]).trim()
    );
    let text = git(w.path(), &["show", &format!("{branch}:filters.toml")]);
    let entries = FilterConfig::parse(&text).unwrap().opt_out.entries;
    assert_eq!(entries.len(), 1, "{text}");
    assert_eq!(entries[0].owner, "alice");
    assert_eq!(entries[0].reason, "longer");
    assert_eq!(entries[0].expires.as_str(), "2027-02-18", "default 90 days");
    w.api.verify();
}

#[test]
fn the_same_opt_out_again_changes_nothing() {
    let w = World::new(Some("http://127.0.0.1:9/never.git"));
    let same = format!(
        "{DEFAULT_FILTERS_TOML}\n[[opt-out.entries]]\naccount = \"{ACCOUNT}\"\nrole = \"{ROLE}\"\n\
         owner = \"alice\"\nreason = \"same\"\nexpires = \"2026-12-20\"\n"
    );
    std::fs::write(w.path().join("filters.toml"), &same).unwrap();
    git(w.path(), &["commit", "-q", "-am", "alice's opt-out"]);
    let branches = w.branches();
    w.api.mount(permission_mock("alice", "write"));
    w.api.mount(comment_mock(1));
    let replies = w
        .run(&event(
            "created",
            "alice",
            "User",
            &format!("/repokid opt-out {ACCOUNT} {ROLE} --reason same --days 30"),
        ))
        .unwrap();
    assert_eq!(
        replies[0].outcome,
        Outcome::Unchanged,
        "{}",
        replies[0].body
    );
    assert!(
        replies[0].body.contains("exactly so"),
        "{}",
        replies[0].body
    );
    assert_eq!(
        w.api.calls(),
        [perm_call("alice"), format!("POST {COMMENTS}")]
    );
    assert_eq!(w.branches(), branches);
    w.api.verify();
}

#[test]
fn remove_opt_out_proposes_the_file_without_the_entry() {
    let (_server, bare, url) = git_server();
    let w = World::new(Some(&url));
    let branch = format!("repokid/opt-out/{ACCOUNT}/{ROLE}");
    let entry = format!(
        "[[opt-out.entries]]\naccount = \"{ACCOUNT}\"\nrole = \"Orders-Api\"\n# asked in INC-42\n\
         owner = \"bob\"\nreason = \"audit\"\nexpires = \"2027-01-31\"\n"
    );
    let other = format!(
        "[[opt-out.entries]]\naccount = \"{ACCOUNT}\"\nrole = \"web\"\nowner = \"carol\"\n\
         reason = \"keep\"\nexpires = 2027-03-01\n"
    );
    let before = format!("{DEFAULT_FILTERS_TOML}\n{entry}\n{other}");
    std::fs::write(w.path().join("filters.toml"), &before).unwrap();
    git(w.path(), &["commit", "-q", "-am", "opt-outs"]);

    w.api.mount(permission_mock("alice", "write"));
    mount_pr(&w.api, &branch, json!([]), 60);
    w.api.mount(comment_mock(2));

    let replies = w
        .run(&event(
            "created",
            "alice",
            "User",
            &format!(
                "/repokid remove-opt-out {ACCOUNT} {ROLE}\n/repokid remove-opt-out {ACCOUNT} billing-batch"
            ),
        ))
        .unwrap();

    assert_eq!(replies.len(), 2);
    let r = &replies[0];
    assert_eq!(r.outcome, Outcome::Done, "{}", r.body);
    assert_eq!(r.pull_request.as_ref().map(|p| p.number), Some(60));
    assert!(
        r.body.contains("https://github.com/acme/iam/pull/60"),
        "{}",
        r.body
    );
    assert_eq!(replies[1].outcome, Outcome::Unchanged);
    assert!(
        replies[1]
            .body
            .contains("There is no opt-out for `billing-batch`"),
        "{}",
        replies[1].body
    );
    assert_eq!(
        w.api.calls(),
        [
            perm_call("alice"),
            find_call(&branch),
            format!("POST {PULLS}"),
            format!("POST {COMMENTS}"),
            format!("POST {COMMENTS}"),
        ]
    );
    // The branch is named by the recorded role, whatever the entry's spelling.
    let text = git(w.path(), &["show", &format!("{branch}:filters.toml")]);
    assert_eq!(text, format!("{DEFAULT_FILTERS_TOML}\n{other}"));
    let entries = FilterConfig::parse(&text).unwrap().opt_out.entries;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].role, "web");
    assert_eq!(
        bare_rev(&bare, &format!("refs/heads/{branch}")),
        git(w.path(), &["rev-parse", &branch]).trim()
    );
    let msg = message(w.path(), &branch);
    assert!(msg.lines().any(|l| l == "Repokid-Action: opt-out"), "{msg}");
    assert!(
        msg.lines().any(|l| l == "Repokid-Requested-By: alice"),
        "{msg}"
    );
    w.api.verify();
}

#[test]
fn rollback_lists_versions_then_opens_a_pull_request_restoring_one() {
    let (_server, bare, url) = git_server();
    let w = World::new(Some(&url));
    let branch = format!("repokid/rollback/{ACCOUNT}/{ROLE}");
    w.api.mount(permission_mock("alice", "write"));
    mount_pr(&w.api, &branch, json!([]), 61);
    w.api.mount(comment_mock(2));
    let head = git(w.path(), &["rev-parse", "HEAD"]);

    let replies = w
        .run(&event(
            "created",
            "alice",
            "User",
            &format!("/repokid rollback {ACCOUNT} {ROLE}\n\n/repokid rollback {ACCOUNT} {ROLE} 1"),
        ))
        .unwrap();

    assert_eq!(
        w.api.calls(),
        [
            perm_call("alice"),
            format!("POST {COMMENTS}"),
            find_call(&branch),
            format!("POST {PULLS}"),
            format!("POST {COMMENTS}"),
        ]
    );
    let list = &replies[0];
    assert_eq!(list.outcome, Outcome::Done, "{}", list.body);
    assert!(list.pull_request.is_none());
    let sync = git(w.path(), &["rev-parse", "HEAD~1"]);
    assert!(list.body.contains("| 0 | "), "{}", list.body);
    assert!(
        list.body.contains(&format!("| repo | {} |", &head[..10])),
        "{}",
        list.body
    );
    assert!(list.body.contains("| 1 | "), "{}", list.body);
    assert!(
        list.body.contains(&format!("| sync | {} |", &sync[..10])),
        "{}",
        list.body
    );

    let r = &replies[1];
    assert_eq!(r.outcome, Outcome::Done, "{}", r.body);
    assert_eq!(r.pull_request.as_ref().map(|p| p.number), Some(61));
    assert!(
        r.body.contains("https://github.com/acme/iam/pull/61"),
        "{}",
        r.body
    );
    assert!(r.body.contains("Comes back ("), "{}", r.body);
    assert!(r.body.contains(" and 145 more"), "{}", r.body);

    // The branch holds the file as the sync recorded it, on top of main, and was pushed.
    let file = format!("policies/{ACCOUNT}/{ROLE}.json");
    assert_eq!(
        git(w.path(), &["rev-parse", &format!("{branch}:{file}")]),
        git(w.path(), &["rev-parse", &format!("HEAD~1:{file}")])
    );
    assert_eq!(git(w.path(), &["rev-parse", &format!("{branch}~1")]), head);
    assert_eq!(
        bare_rev(&bare, &format!("refs/heads/{branch}")),
        git(w.path(), &["rev-parse", &branch]).trim()
    );
    let msg = message(w.path(), &branch);
    assert!(
        msg.lines().any(|l| l == "Repokid-Action: rollback"),
        "{msg}"
    );
    assert!(
        msg.lines().any(|l| l == "Repokid-Requested-By: alice"),
        "{msg}"
    );
    let create = w.api.body(3);
    assert_eq!(create["head"], branch.as_str());
    assert_eq!(create["base"], "main");
    let pr_body = create["body"].as_str().unwrap();
    assert!(pr_body.contains("Comes back (195): "), "{pr_body}");
    assert!(pr_body.contains("`sns:Publish`"), "{pr_body}");
    assert_eq!(
        git(w.path(), &["rev-parse", "HEAD"]),
        head,
        "checkout untouched"
    );
    w.api.verify();
}

#[test]
fn a_rollback_to_the_current_version_changes_nothing() {
    let w = World::new(Some("http://127.0.0.1:9/never.git"));
    w.api.mount(permission_mock("alice", "write"));
    w.api.mount(comment_mock(1));
    let replies = w
        .run(&event(
            "created",
            "alice",
            "User",
            &format!("/repokid rollback {ACCOUNT} {ROLE} 0"),
        ))
        .unwrap();
    assert_eq!(
        replies[0].outcome,
        Outcome::Unchanged,
        "{}",
        replies[0].body
    );
    assert!(
        replies[0].body.contains("already matches version 0"),
        "{}",
        replies[0].body
    );
    assert_eq!(
        w.api.calls(),
        [perm_call("alice"), format!("POST {COMMENTS}")]
    );
    w.api.verify();
}

#[test]
fn unknown_commands_and_bad_arguments_get_the_usage() {
    let w = World::new(None);
    w.api.mount(permission_mock("alice", "write"));
    w.api.mount(comment_mock(3));
    let replies = w
        .run(&event(
            "created",
            "alice",
            "User",
            &format!(
                "/repokid frobnicate {ACCOUNT}\n/repokid opt-out {ACCOUNT} {ROLE}\n/repokid help"
            ),
        ))
        .unwrap();
    assert_eq!(replies.len(), 3);
    assert!(
        replies
            .iter()
            .all(|r| r.outcome == Outcome::Usage && r.posted)
    );
    assert!(
        replies[0]
            .body
            .contains("Sorry @alice, I did not understand that: unknown command \"frobnicate\"."),
        "{}",
        replies[0].body
    );
    assert!(replies[1].body.contains("--reason"), "{}", replies[1].body);
    for r in &replies {
        assert!(r.body.contains(USAGE), "{}", r.body);
        // A reply never contains a command line of its own (no loops, even as a human).
        assert!(
            repokid::github::dispatch::command_lines(&r.body).is_empty(),
            "{}",
            r.body
        );
    }
    assert_eq!(w.api.comments().len(), 3);
    assert_eq!(
        w.api.calls(),
        [
            perm_call("alice"),
            format!("POST {COMMENTS}"),
            format!("POST {COMMENTS}"),
            format!("POST {COMMENTS}"),
        ]
    );
    w.api.verify();
}

#[test]
fn bots_edits_and_comments_without_commands_make_no_request() {
    let w = World::new(None);
    let cmd = format!("/repokid show {ACCOUNT} {ROLE}");
    for e in [
        event("created", "github-actions[bot]", "Bot", &cmd),
        event("edited", "alice", "User", &cmd),
        event("deleted", "alice", "User", &cmd),
        event(
            "created",
            "alice",
            "User",
            "LGTM, will /repokid later\n> /repokid show x y",
        ),
        event("created", "alice", "User", &format!("```\n{cmd}\n```")),
    ] {
        assert!(w.run(&e).unwrap().is_empty(), "{e}");
    }
    assert!(w.api.calls().is_empty(), "{:?}", w.api.calls());
}

#[test]
fn another_repository_or_a_bad_payload_is_an_error_without_requests() {
    let w = World::new(None);
    let mut e = event("created", "alice", "User", "/repokid help");
    e["repository"]["full_name"] = json!("evil/iam");
    let err = w.run(&e).unwrap_err();
    assert!(
        matches!(err, DispatchError::WrongRepository { .. }),
        "{err}"
    );
    let mut e = event("created", "alice", "User", "/repokid help");
    e["issue"] = Value::Null;
    let err = w.run(&e).unwrap_err();
    assert!(err.to_string().contains("issue.number"), "{err}");
    assert!(w.api.calls().is_empty());
}

#[test]
fn a_reply_that_cannot_be_posted_is_reported() {
    let w = World::new(None);
    w.api.mount(permission_mock("alice", "write"));
    w.api.mount(
        Mock::given(method("POST"))
            .and(path(COMMENTS))
            .respond_with(
                ResponseTemplate::new(403)
                    .set_body_json(json!({"message": "Resource not accessible by integration"})),
            )
            .expect(1),
    );
    let replies = w
        .run(&event("created", "alice", "User", "/repokid help"))
        .unwrap();
    assert_eq!(replies.len(), 1);
    assert!(!replies[0].posted);
    let why = replies[0].post_error.as_deref().unwrap();
    assert!(
        why.contains("HTTP 403") && why.contains("not accessible"),
        "{why}"
    );
    w.api.verify();
}

// ---------------------------------------------------------------------------------------------
// Through the binary
// ---------------------------------------------------------------------------------------------

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
