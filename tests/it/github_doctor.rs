//! `repokid doctor` against a GitHub stand-in (wiremock) answering the settings calls as GitHub
//! does: a well-configured repository passes (classic protection and rulesets together, the
//! GitHub App's permissions read with its JWT); each missing setting is reported with its fix and
//! makes the command exit 1; a setting the token may not read is unknown, never assumed; and the
//! CODEOWNERS example of docs/setup.md and this repository's own .github/CODEOWNERS are files
//! GitHub can use, giving the owners they say.

#![allow(clippy::unwrap_used)]

use crate::common;

use std::path::{Path, PathBuf};

use repokid::github::client::GitHub;
use repokid::github::doctor::{Check, Diagnosis, DoctorOptions, Status, doctor};
use repokid::settings::GitHubSettings;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "ghp_D0ct0rTestT0kenNeverPrinted99";

struct StandIn {
    rt: tokio::runtime::Runtime,
    server: MockServer,
}

impl StandIn {
    fn new() -> StandIn {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let server = rt.block_on(MockServer::start());
        StandIn { rt, server }
    }

    /// `GET /repos/acme/iam{rest}` answers `status` with `body`.
    fn get(&self, rest: &str, status: u16, body: Value) {
        self.rt.block_on(
            Mock::given(method("GET"))
                .and(path(format!("/repos/acme/iam{rest}")))
                .respond_with(ResponseTemplate::new(status).set_body_json(body))
                .mount(&self.server),
        );
    }

    fn settings(&self, app: Option<&Path>) -> GitHubSettings {
        GitHubSettings {
            repo: Some("acme/iam".into()),
            api_url: self.server.uri(),
            app_id: app.map(|_| 4242),
            private_key_file: app.map(Path::to_path_buf),
            ..GitHubSettings::default()
        }
    }

    fn run(&self, app: Option<&Path>, opts: &DoctorOptions) -> Diagnosis {
        let settings = self.settings(app);
        let mut gh = GitHub::connect(&settings, Path::new("/"), Some(TOKEN.into())).unwrap();
        gh.retry_scale = 0.0;
        doctor(&gh, &settings, Path::new("/"), opts).unwrap()
    }

    /// The Authorization header of each request to `p`.
    fn auth(&self, p: &str) -> Vec<String> {
        self.rt
            .block_on(self.server.received_requests())
            .unwrap()
            .iter()
            .filter(|r| r.url.path() == p)
            .map(|r| r.headers["authorization"].to_str().unwrap().to_string())
            .collect()
    }
}

/// A throwaway RSA key for the App's JWT (PKCS#1 PEM, made by openssl).
fn app_key(dir: &Path) -> PathBuf {
    let key = dir.join("app.pem");
    let out = std::process::Command::new("openssl")
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
    key
}

/// Everything as docs/setup.md says: squash merges off, classic protection requiring `verify`
/// with approvals, stale approvals dismissed and Code Owners, a ruleset requiring
/// `repokid/schedule`, a usable CODEOWNERS, `iam-apply` with reviewers and selected branches, an
/// App with the permissions repokid uses; scheduling on.
fn well_configured(s: &StandIn) {
    s.get(
        "",
        200,
        json!({"full_name": "acme/iam", "default_branch": "main", "allow_squash_merge": false,
               "allow_merge_commit": true, "allow_rebase_merge": true}),
    );
    s.get(
        "/actions/variables/REPOKID_SCHEDULE",
        200,
        json!({"name": "REPOKID_SCHEDULE", "value": "true"}),
    );
    s.get(
        "/actions/variables/REPOKID_APP_CLIENT_ID",
        404,
        json!({"message": "Not Found"}),
    );
    s.get(
        "/branches/main/protection",
        200,
        json!({
            "required_status_checks": {"strict": false, "contexts": ["verify"], "checks": [{"context": "verify", "app_id": 15368}]},
            "required_pull_request_reviews": {"dismiss_stale_reviews": true, "require_code_owner_reviews": true, "required_approving_review_count": 1},
            "allow_force_pushes": {"enabled": false},
            "allow_deletions": {"enabled": false},
        }),
    );
    s.get(
        "/rules/branches/main",
        200,
        json!([{"type": "required_status_checks", "ruleset_id": 7, "parameters": {
            "strict_required_status_checks_policy": false,
            "required_status_checks": [{"context": "repokid/schedule"}]}}]),
    );
    s.get("/codeowners/errors", 200, json!({"errors": []}));
    s.get(
        "/environments/iam-apply",
        200,
        json!({"name": "iam-apply",
               "protection_rules": [{"id": 1, "type": "required_reviewers", "reviewers": [
                   {"type": "Team", "reviewer": {"slug": "security", "name": "security"}}]},
                   {"id": 2, "type": "branch_policy"}],
               "deployment_branch_policy": {"protected_branches": false, "custom_branch_policies": true}}),
    );
    s.get(
        "/installation",
        200,
        json!({"id": 1, "app_id": 4242, "permissions": {
            "contents": "write", "pull_requests": "write", "statuses": "write",
            "issues": "write", "metadata": "read", "administration": "read"}}),
    );
}

fn by_id<'a>(d: &'a Diagnosis, id: &str) -> &'a Check {
    d.checks
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no check {id}: {d:#?}"))
}

#[test]
fn a_well_configured_repository_passes() {
    let s = StandIn::new();
    well_configured(&s);
    let dir = tempfile::tempdir().unwrap();
    let key = app_key(dir.path());
    let d = s.run(Some(&key), &DoctorOptions::default());
    assert!(d.healthy(), "{d:#?}");
    assert!(
        d.scheduling,
        "REPOKID_SCHEDULE=true turns the scheduling checks on"
    );
    assert_eq!(d.default_branch, "main");
    for c in &d.checks {
        assert_eq!(c.status, Status::Ok, "{c:#?}");
    }
    for id in [
        "branch-protection",
        "required-approvals",
        "dismiss-stale-approvals",
        "code-owner-review",
        "codeowners",
        "required-check-verify",
        "required-check-schedule",
        "no-squash-merge",
        "merge-commits",
        "environment",
        "environment-reviewers",
        "app-permissions",
    ] {
        assert!(by_id(&d, id).required, "{id} is required");
    }
    assert_eq!(
        by_id(&d, "environment-reviewers").found,
        "reviewers: security"
    );
    // The App's installation is read as the App (a JWT), everything else with the token.
    let jwt = s.auth("/repos/acme/iam/installation");
    assert!(jwt.len() == 1 && jwt[0].starts_with("Bearer ey"), "{jwt:?}");
    assert_eq!(
        s.auth("/repos/acme/iam/environments/iam-apply"),
        [format!("Bearer {TOKEN}")]
    );
}

#[test]
fn each_missing_setting_is_reported_with_its_fix() {
    let s = StandIn::new();
    // Squash merges on, merge commits off; a ruleset that only asks for a pull request; no
    // required checks, no CODEOWNERS, no environment, no App.
    s.get(
        "",
        200,
        json!({"default_branch": "main", "allow_squash_merge": true, "allow_merge_commit": false,
               "allow_rebase_merge": true}),
    );
    s.get(
        "/actions/variables/REPOKID_APP_CLIENT_ID",
        404,
        json!({"message": "Not Found"}),
    );
    s.get(
        "/branches/main/protection",
        404,
        json!({"message": "Branch not protected"}),
    );
    s.get(
        "/rules/branches/main",
        200,
        json!([{"type": "pull_request", "parameters": {
            "required_approving_review_count": 0, "dismiss_stale_reviews_on_push": false,
            "require_code_owner_review": false, "require_last_push_approval": false,
            "required_review_thread_resolution": false}}]),
    );
    s.get("/codeowners/errors", 404, json!({"message": "Not Found"}));
    s.get(
        "/environments/iam-apply",
        404,
        json!({"message": "Not Found"}),
    );
    let d = s.run(
        None,
        &DoctorOptions {
            schedule: Some(true),
            ..DoctorOptions::default()
        },
    );
    assert!(!d.healthy());
    assert_eq!(by_id(&d, "branch-protection").status, Status::Ok);
    let expect = [
        ("required-approvals", "Require approvals"),
        (
            "dismiss-stale-approvals",
            "Dismiss stale pull request approvals",
        ),
        ("code-owner-review", "Require review from Code Owners"),
        ("codeowners", ".github/CODEOWNERS"),
        ("required-check-verify", "add `verify`"),
        ("required-check-schedule", "add `repokid/schedule`"),
        ("no-squash-merge", "Allow squash merging"),
        ("merge-commits", "Allow merge commits"),
        ("environment", "New environment `iam-apply`"),
        ("environment-reviewers", "Required reviewers"),
        ("no-force-push", "Block force pushes"),
        ("environment-branches", "Selected branches, main"),
        ("app-permissions", "REPOKID_APP_CLIENT_ID"),
    ];
    for (id, fix) in expect {
        let c = by_id(&d, id);
        assert_eq!(c.status, Status::Missing, "{c:#?}");
        assert!(c.fix.contains(fix), "{id}: {:?} lacks {fix:?}", c.fix);
    }
    for recommended in ["no-force-push", "environment-branches", "app-permissions"] {
        assert!(!by_id(&d, recommended).required, "{recommended}");
    }
    assert_eq!(by_id(&d, "codeowners").found, "no CODEOWNERS file on main");

    // The merge queue squashing is as bad as squash merges.
    let s = StandIn::new();
    // (The first mock that matches answers: this one, before well_configured's.)
    s.get(
        "/rules/branches/main",
        200,
        json!([{"type": "merge_queue", "parameters": {"merge_method": "SQUASH",
            "check_response_timeout_minutes": 60, "grouping_strategy": "ALLGREEN",
            "max_entries_to_build": 5, "max_entries_to_merge": 5, "min_entries_to_merge": 1,
            "min_entries_to_merge_wait_minutes": 5}}]),
    );
    well_configured(&s);
    let d = s.run(None, &DoctorOptions::default());
    let c = by_id(&d, "no-squash-merge");
    assert_eq!(
        (c.status, c.found.as_str()),
        (Status::Missing, "the merge queue squashes")
    );
}

#[test]
fn what_the_token_cannot_read_is_unknown_never_assumed() {
    let s = StandIn::new();
    // A token without administration: read: no merge settings, no classic protection; no
    // ruleset requires anything.
    s.get("", 200, json!({"default_branch": "main"}));
    for rest in [
        "/actions/variables/REPOKID_SCHEDULE",
        "/actions/variables/REPOKID_APP_CLIENT_ID",
        "/branches/main/protection",
        "/environments/iam-apply",
    ] {
        s.get(
            rest,
            403,
            json!({"message": "Resource not accessible by integration"}),
        );
    }
    s.get("/rules/branches/main", 200, json!([]));
    s.get(
        "/codeowners/errors",
        200,
        json!({"errors": [{"line": 3, "column": 1, "kind": "Unknown owner", "source": "/src/ @acme/nobody\n",
                 "suggestion": null, "message": "Unknown owner on line 3: make sure @acme/nobody exists and has write access to the repository\n\n  /src/ @acme/nobody\n        ^",
                 "path": ".github/CODEOWNERS"}]}),
    );
    let d = s.run(None, &DoctorOptions::default());
    assert!(!d.healthy());
    assert!(!d.scheduling);
    for id in [
        "branch-protection",
        "required-check-verify",
        "dismiss-stale-approvals",
        "no-squash-merge",
        "environment",
    ] {
        let c = by_id(&d, id);
        assert_eq!(c.status, Status::Unknown, "{c:#?}");
    }
    assert!(
        by_id(&d, "branch-protection")
            .found
            .contains("Resource not accessible by integration"),
        "{d:#?}"
    );
    let c = by_id(&d, "codeowners");
    assert_eq!(c.status, Status::Missing);
    assert!(
        c.found
            .contains(".github/CODEOWNERS line 3: Unknown owner on line 3"),
        "{}",
        c.found
    );
}

#[test]
fn an_app_without_a_permission_repokid_uses_is_reported() {
    let s = StandIn::new();
    s.get(
        "/installation",
        200,
        json!({"id": 1, "permissions": {"contents": "write", "pull_requests": "write",
               "issues": "read", "metadata": "read"}}),
    );
    well_configured(&s);
    let dir = tempfile::tempdir().unwrap();
    let d = s.run(Some(&app_key(dir.path())), &DoctorOptions::default());
    let c = by_id(&d, "app-permissions");
    assert_eq!(c.status, Status::Missing);
    assert_eq!(
        c.found,
        "missing: statuses: write (has none), issues: write (has read)"
    );
    assert!(c.fix.contains("Commit statuses"), "{}", c.fix);
    assert!(!d.healthy());
}

#[test]
fn the_command_prints_a_table_or_json_and_exits_1_when_something_required_is_missing() {
    let s = StandIn::new();
    well_configured(&s);
    let dir = tempfile::tempdir().unwrap();
    let key = app_key(dir.path());
    std::fs::write(
        dir.path().join("repokid.toml"),
        format!(
            "[github]\nrepo = \"acme/iam\"\napi-url = \"{}\"\napp-id = 4242\nprivate-key-file = \"{}\"\n",
            s.server.uri(),
            key.display()
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        common::repokid_env(dir.path(), args, &[("GITHUB_TOKEN", TOKEN.to_string())])
    };
    let (code, out, err) = run(&["doctor"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("repokid doctor: acme/iam (default branch main; scheduling on"),
        "{out}"
    );
    assert!(out.contains("Everything the loop needs is set"), "{out}");
    let (code, out, _) = run(&["doctor", "--format", "json"]);
    assert_eq!(code, 0);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["healthy"], true);
    assert_eq!(doc["diagnosis"]["checks"][0]["id"], "branch-protection");

    // Squash merges allowed: one required setting missing, with its fix; exit 1.
    s.rt.block_on(s.server.reset());
    s.get(
        "",
        200,
        json!({"default_branch": "main", "allow_squash_merge": true, "allow_merge_commit": true}),
    );
    well_configured(&s);
    let (code, out, err) = run(&["doctor"]);
    assert_eq!(code, 1, "{out}{err}");
    let line = out
        .lines()
        .position(|l| l.starts_with("MISSING") && l.contains("no-squash-merge"))
        .unwrap_or_else(|| panic!("{out}"));
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[line + 1].contains("found: squash merging allowed"),
        "{out}"
    );
    assert!(
        lines[line + 2].contains("fix: Settings → General → Pull Requests"),
        "{out}"
    );
    assert!(out.contains("1 required setting(s) missing"), "{out}");
    let (code, out, _) = run(&["doctor", "--format", "json"]);
    assert_eq!(code, 1);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["healthy"],
        false
    );
    assert!(
        !out.contains(TOKEN) && !err.contains(TOKEN),
        "the token was printed"
    );
}

// ---------------------------------------------------------------------------------------------
// CODEOWNERS files
// ---------------------------------------------------------------------------------------------

/// The lines of a CODEOWNERS text GitHub could not use: more than one pattern on a line (an
/// owner that does not start with `@` and is no e-mail address), or a pattern without owners.
fn unusable(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .filter(|l| {
            let mut parts = l.split_whitespace();
            parts.next();
            let owners: Vec<&str> = parts.collect();
            owners.is_empty()
                || owners
                    .iter()
                    .any(|o| !(o.starts_with('@') || (o.contains('@') && !o.starts_with('/'))))
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn the_codeowners_files_are_usable_and_give_the_owners_they_say() {
    use repokid::github::review::codeowners;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let setup = std::fs::read_to_string(root.join("docs/setup.md")).unwrap();
    let start = setup
        .find("```\n# Everything else: the team that runs repokid.")
        .unwrap()
        + 4;
    let example = &setup[start..start + setup[start..].find("```").unwrap()];
    assert!(unusable(example).is_empty(), "{:?}", unusable(example));
    // The old example's line, four patterns on one line, is caught.
    assert_eq!(
        unusable("/src/ /data/ /Cargo.toml /Cargo.lock  @acme/security\n").len(),
        1
    );
    for (file, owners) in [
        ("README.md", vec!["acme/platform"]),
        ("src/main.rs", vec!["acme/security"]),
        ("Cargo.lock", vec!["acme/security"]),
        ("build.rs", vec!["acme/security"]),
        (".cargo/config.toml", vec!["acme/security"]),
        (".github/workflows/apply.yml", vec!["acme/security"]),
        ("scripts/gha/apply.sh", vec!["acme/security"]),
        ("filters.toml", vec!["acme/security"]),
        (
            "policies/111122223333/app.json",
            vec!["acme/payments", "acme/security"],
        ),
        ("policies/999988887777/app.json", vec!["acme/security"]),
    ] {
        assert_eq!(codeowners(example, file), owners, "{file}");
    }

    let own = std::fs::read_to_string(root.join(".github/CODEOWNERS")).unwrap();
    assert!(unusable(&own).is_empty(), "{:?}", unusable(&own));
    assert_eq!(codeowners(&own, "src/ops.rs"), ["acme/repokid-maintainers"]);
    for file in [
        ".github/workflows/verify.yml",
        "scripts/gha/verify.sh",
        "Cargo.toml",
    ] {
        assert_eq!(codeowners(&own, file), ["acme/security"], "{file}");
    }
}
