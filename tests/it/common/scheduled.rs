//! A scheduled proposal to re-check at merge time, shared by the scheduling tests: a local
//! repository whose main records an account (`app` and `worker`), a scheduled proposal branch
//! on it (`app` loses `sqs:SendMessage` and `dynamodb:GetItem`), both pushed to a git server over
//! HTTP, and the usage data of the announcement and of the merge.

#![allow(dead_code, clippy::unwrap_used)]

use chrono::{TimeZone, Utc};
use repokid::github::client::GitHub;
use repokid::github::schedule::{MergeOptions, MergeOutcome, repo_scheduled};
use serde_json::{Value, json};

pub const ACCOUNT: &str = "111122223333";
pub const BRANCH: &str = "repokid/propose/111122223333";
pub const APP: &str = r#"{"Version": "2012-10-17", "Statement": [{"Sid": "Data", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "sqs:SendMessage", "dynamodb:GetItem"], "Resource": "*"}]}"#;
pub const WORKER: &str = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}"#;

pub fn role_json(name: &str, policy: &str, doc: &str) -> Value {
    json!({
        "Path": "/", "RoleName": name, "RoleId": format!("AROA{}", name.to_uppercase()),
        "Arn": format!("arn:aws:iam::{ACCOUNT}:role/{name}"),
        "CreateDate": "2019-01-15T12:00:00+00:00",
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "sts:AssumeRole"}]},
        "InstanceProfileList": [],
        "RolePolicyList": [{"PolicyName": policy, "PolicyDocument": serde_json::from_str::<Value>(doc).unwrap()}],
        "AttachedManagedPolicies": [],
        "Tags": [],
    })
}

pub fn inventory() -> repokid::sources::inventory_file::Inventory {
    let doc = json!({
        "RoleDetailList": [role_json("app", "data", APP), role_json("worker", "s3", WORKER)],
        "UserDetailList": [], "GroupDetailList": [], "Policies": [], "IsTruncated": false,
    });
    repokid::sources::inventory_file::parse_inventory("inventory.json", doc.to_string().as_bytes())
        .unwrap()
}

/// Usage collected at `at`: service → last used (`None`: never), for `app`; `worker` used s3.
pub fn usage(
    at: chrono::DateTime<Utc>,
    app: &[(&str, Option<&str>)],
) -> repokid::engine::usage::UsageByArn {
    let services: serde_json::Map<String, Value> = app
        .iter()
        .map(|(s, t)| (s.to_string(), json!({"last_accessed": t})))
        .collect();
    let doc = json!({
        "version": 1,
        "collected_at": at.to_rfc3339(),
        "roles": {
            format!("arn:aws:iam::{ACCOUNT}:role/app"): {"services": services},
            format!("arn:aws:iam::{ACCOUNT}:role/worker"): {"services": {"s3": {"last_accessed": "2026-11-19T08:00:00Z"}}},
        },
    });
    repokid::sources::usage_file::parse_usage(
        "usage.json",
        &doc.to_string(),
        repokid::sources::usage_file::UsageFormat::Auto,
        at,
    )
    .unwrap()
}

/// When the schedule was announced, and when it is due.
pub fn announced_at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
}

pub fn merge_time() -> chrono::DateTime<Utc> {
    announced_at() + chrono::Duration::days(8)
}

/// At the announcement: `app` uses s3, never used sqs or dynamodb.
pub const AT_ANNOUNCEMENT: [(&str, Option<&str>); 3] = [
    ("s3", Some("2026-11-19T08:00:00Z")),
    ("sqs", None),
    ("dynamodb", None),
];

pub struct Fixture {
    /// The git server (kept running).
    pub git: super::git_server::GitServer,
    /// The bare repository it serves.
    pub remote: std::path::PathBuf,
    /// The local repository (main checked out).
    pub dir: tempfile::TempDir,
    /// Its workspace (repokid.toml: the GitHub stand-in, the git server).
    pub ws: repokid::ops::Workspace,
    /// Its store.
    pub store: repokid::store::git::PolicyStore,
    /// The proposal branch's head, as scheduled.
    pub tip: String,
}

impl Fixture {
    /// `app` and `worker` recorded on main; the proposal (app loses sqs:SendMessage and
    /// dynamodb:GetItem) on its branch; both pushed.
    pub fn new(api_url: &str) -> Fixture {
        use repokid::ops::{self, PlanOptions, Workspace};
        let token = "tok-123";
        let git = super::git_server::GitServer::start(token);
        let (remote, url) = git.bare_repo("iam");
        let dir = super::new_repo();
        std::fs::write(
            dir.path().join("repokid.toml"),
            format!(
                "[github]\nrepo = \"acme/iam\"\napi-url = \"{}\"\ngit-url = \"{url}\"\n\
                 reviewers-from-codeowners = false\nowner-tag = \"none\"\n",
                api_url
            ),
        )
        .unwrap();
        let ws = Workspace::load(
            &dir.path().join("repokid.toml"),
            true,
            repokid::engine::Catalog::embedded(),
        )
        .unwrap();
        let store = repokid::store::git::PolicyStore::open(dir.path()).unwrap();
        ops::sync(&store, &inventory(), &[]).unwrap();
        let opts = PlanOptions {
            grace_days: Some(0),
            ..PlanOptions::default()
        };
        let (report, planned) = ops::plan(
            &ws,
            Some(&store),
            &inventory(),
            &usage(announced_at(), &AT_ANNOUNCEMENT),
            &opts,
            announced_at(),
        )
        .unwrap();
        ops::propose(&ws, &store, &report, &planned, "HEAD").unwrap();
        repokid::github::push::push(
            store.repo(),
            &url,
            &[
                "refs/heads/main:refs/heads/main",
                &format!("refs/heads/{BRANCH}:refs/heads/{BRANCH}"),
            ],
            token,
        )
        .unwrap();
        let tip = super::git(dir.path(), &["rev-parse", BRANCH])
            .trim()
            .to_string();
        Fixture {
            git,
            remote,
            dir,
            ws,
            store,
            tip,
        }
    }

    /// The branch on the git server.
    pub fn remote_tip(&self) -> String {
        super::git(&self.remote, &["rev-parse", BRANCH])
            .trim()
            .to_string()
    }

    /// The actions `role`'s file grants at `rev`, as written.
    pub fn actions(&self, rev: &str, role: &str) -> Vec<String> {
        let text = super::git(
            self.dir.path(),
            &["show", &format!("{rev}:policies/{ACCOUNT}/{role}.json")],
        );
        let v: Value = serde_json::from_str(&text).unwrap();
        let mut out = Vec::new();
        for doc in v.as_object().unwrap().values() {
            for st in doc["Statement"].as_array().unwrap() {
                match &st["Action"] {
                    Value::String(a) => out.push(a.clone()),
                    Value::Array(a) => out.extend(a.iter().map(|x| x.as_str().unwrap().into())),
                    _ => {}
                }
            }
        }
        out.sort();
        out
    }
}

/// What the re-check asked fresh usage for: the account and its roles.
pub type Asked = (String, Vec<String>);

/// Runs `repo-scheduled-roles` with `fresh` as the usage the re-check reads; returns the
/// outcomes and the roles the re-check asked usage for.
pub fn run(
    gh: &GitHub,
    f: &Fixture,
    fresh: &repokid::engine::usage::UsageByArn,
    commit: bool,
) -> (Vec<(u64, MergeOutcome)>, Vec<Asked>) {
    let mut asked = Vec::new();
    let mut fetch =
        |account: &str, roles: &[String]| -> Result<_, repokid::ops::recheck::InputsError> {
            asked.push((account.to_string(), roles.to_vec()));
            Ok((inventory(), fresh.clone()))
        };
    let opts = MergeOptions {
        commit,
        grace_days: Some(0),
        ..MergeOptions::default()
    };
    let out = repo_scheduled(gh, &f.ws, &f.store, &mut fetch, &opts, merge_time())
        .unwrap()
        .into_iter()
        .map(|(p, o)| (p.number, o))
        .collect();
    (out, asked)
}
