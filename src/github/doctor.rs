//! `repokid doctor`: the repository settings the loop relies on, read through the API, each
//! reported as there, missing (with how to fix it) or unknown (the token may not read it).
//!
//! What is checked, on the repository's default branch (classic branch protection and rulesets
//! both count; a requirement either of them makes is met):
//!
//! * a pull request is required, with at least one approval, stale approvals dismissed on push
//!   and review from Code Owners; a CODEOWNERS file GitHub can use;
//! * the status check `verify` is required, and `repokid/schedule` when scheduling is on;
//! * squash merges are off (a proposal's sync commit must reach the branch as a commit of its
//!   own), merge commits allowed when scheduling (`repo-scheduled-roles` merges with one);
//! * the `iam-apply` environment exists, with required reviewers (and, recommended, deployment
//!   limited to selected branches);
//! * the GitHub App's installation has the permissions repokid uses (contents, pull requests,
//!   statuses, issues: write), when the settings name the App;
//! * recommended: force pushes and deletion blocked, `[github] base-branch` the default branch.
//!
//! Nothing is changed, and the token never appears in what is reported.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::client::{GitHub, GitHubError, Setting};
use super::schedule::STATUS_CONTEXT;
use crate::settings::GitHubSettings;

/// The required status check of verify.yml (its job's name).
pub const VERIFY_CHECK: &str = "verify";

/// The App permissions repokid uses: permission → the access it needs.
pub const APP_PERMISSIONS: [(&str, &str); 5] = [
    ("contents", "write"),
    ("pull_requests", "write"),
    ("statuses", "write"),
    ("issues", "write"),
    ("metadata", "read"),
];

/// What to check.
#[derive(Debug, Clone)]
pub struct DoctorOptions {
    /// The environment of apply.yml.
    pub environment: String,
    /// Whether proposals are scheduled; `None`: from the repository variable `REPOKID_SCHEDULE`.
    pub schedule: Option<bool>,
}

impl Default for DoctorOptions {
    fn default() -> Self {
        DoctorOptions {
            environment: "iam-apply".into(),
            schedule: None,
        }
    }
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// As the loop needs it.
    Ok,
    /// Not set, or set otherwise.
    Missing,
    /// The token may not read it (a required one counts as not met).
    Unknown,
}

/// One setting the loop needs.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Stable id, e.g. `required-check-verify`.
    pub id: &'static str,
    /// Whether the loop needs it (else it is recommended).
    pub required: bool,
    /// How it came out.
    pub status: Status,
    /// What the loop needs.
    pub what: String,
    /// What was found.
    pub found: String,
    /// How to set it (shown when it is not [`Status::Ok`]).
    pub fix: String,
}

/// The settings of one repository, checked.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    /// `owner/name`.
    pub repository: String,
    /// Its default branch, where the checks apply.
    pub default_branch: String,
    /// Whether scheduling is on, and how that was decided.
    pub scheduling: bool,
    /// Why `scheduling` is what it is.
    pub scheduling_from: String,
    /// The checks, in a fixed order.
    pub checks: Vec<Check>,
}

impl Diagnosis {
    /// Whether every required check is [`Status::Ok`].
    pub fn healthy(&self) -> bool {
        self.checks
            .iter()
            .all(|c| !c.required || c.status == Status::Ok)
    }
}

/// What the branch's classic protection and rulesets require, together.
#[derive(Debug, Default)]
struct Protection {
    sources: Vec<String>,
    pull_request: bool,
    approvals: u64,
    dismiss_stale: bool,
    code_owners: bool,
    checks: BTreeSet<String>,
    no_force_push: bool,
    no_deletion: bool,
    queue_method: Option<String>,
    /// Why part of it could not be read (classic protection needs administration: read).
    unreadable: Vec<String>,
}

impl Protection {
    fn read(gh: &GitHub, branch: &str) -> Result<Protection, GitHubError> {
        let mut p = Protection::default();
        match gh.branch_protection(branch)? {
            Setting::Found(v) => p.classic(&v),
            Setting::Absent => {}
            Setting::Forbidden(m) => p.unreadable.push(format!("classic protection: {m}")),
        }
        match gh.branch_rules(branch)? {
            Setting::Found(v) => p.rules(&v),
            Setting::Absent => {}
            Setting::Forbidden(m) => p.unreadable.push(format!("rulesets: {m}")),
        }
        Ok(p)
    }

    fn classic(&mut self, v: &Value) {
        self.sources.push("classic protection".into());
        if let Some(r) = v
            .get("required_pull_request_reviews")
            .filter(|r| r.is_object())
        {
            self.pull_request = true;
            self.approvals = self
                .approvals
                .max(u64_at(r, "/required_approving_review_count"));
            self.dismiss_stale |= bool_at(r, "/dismiss_stale_reviews");
            self.code_owners |= bool_at(r, "/require_code_owner_reviews");
        }
        if let Some(c) = v.get("required_status_checks") {
            self.checks.extend(strings(c.get("contexts")));
            self.checks.extend(
                c.get("checks")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|x| x.get("context").and_then(Value::as_str))
                    .map(str::to_string),
            );
        }
        self.no_force_push |= v.pointer("/allow_force_pushes/enabled") == Some(&Value::Bool(false));
        self.no_deletion |= v.pointer("/allow_deletions/enabled") == Some(&Value::Bool(false));
    }

    fn rules(&mut self, v: &Value) {
        let rules = v.as_array().map(Vec::as_slice).unwrap_or_default();
        if !rules.is_empty() {
            self.sources.push(format!("ruleset rules: {}", rules.len()));
        }
        for rule in rules {
            let params = rule.get("parameters").cloned().unwrap_or(Value::Null);
            match rule.get("type").and_then(Value::as_str).unwrap_or_default() {
                "pull_request" => {
                    self.pull_request = true;
                    self.approvals = self
                        .approvals
                        .max(u64_at(&params, "/required_approving_review_count"));
                    self.dismiss_stale |= bool_at(&params, "/dismiss_stale_reviews_on_push");
                    self.code_owners |= bool_at(&params, "/require_code_owner_review");
                }
                "required_status_checks" => self.checks.extend(
                    params
                        .get("required_status_checks")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|x| x.get("context").and_then(Value::as_str))
                        .map(str::to_string),
                ),
                "non_fast_forward" => self.no_force_push = true,
                "deletion" => self.no_deletion = true,
                "merge_queue" => {
                    self.queue_method = params
                        .get("merge_method")
                        .and_then(Value::as_str)
                        .map(str::to_ascii_uppercase);
                }
                _ => {}
            }
        }
    }

    /// The status of a requirement met when `met`: unknown when part of the protection could not
    /// be read.
    fn status(&self, met: bool) -> Status {
        match (met, self.unreadable.is_empty()) {
            (true, _) => Status::Ok,
            (false, true) => Status::Missing,
            (false, false) => Status::Unknown,
        }
    }

    /// What was found, for a requirement not met.
    fn not_found(&self, what: &str) -> String {
        if self.unreadable.is_empty() {
            what.to_string()
        } else {
            format!(
                "{what} in what the token can read ({})",
                self.unreadable.join("; ")
            )
        }
    }
}

fn u64_at(v: &Value, p: &str) -> u64 {
    v.pointer(p).and_then(Value::as_u64).unwrap_or(0)
}

fn bool_at(v: &Value, p: &str) -> bool {
    v.pointer(p).and_then(Value::as_bool).unwrap_or(false)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect()
}

/// Builds a [`Check`].
fn check(id: &'static str, required: bool, what: &str) -> CheckBuilder {
    CheckBuilder {
        id,
        required,
        what: what.to_string(),
    }
}

struct CheckBuilder {
    id: &'static str,
    required: bool,
    what: String,
}

impl CheckBuilder {
    fn is(self, status: Status, found: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            id: self.id,
            required: self.required,
            status,
            what: self.what,
            found: found.into(),
            fix: fix.into(),
        }
    }
}

/// Reads the repository's settings and checks them (see the [module docs](self)). Errors are
/// failures to reach the repository at all; a setting the token may not read is a check with
/// [`Status::Unknown`].
pub fn doctor(
    gh: &GitHub,
    settings: &GitHubSettings,
    base_dir: &Path,
    opts: &DoctorOptions,
) -> Result<Diagnosis, GitHubError> {
    let repo = match gh.repository()? {
        Setting::Found(v) => v,
        Setting::Absent | Setting::Forbidden(_) => {
            return Err(GitHubError {
                call: format!("GET /repos/{}/{}", gh.owner, gh.repo),
                status: Some(404),
                message: "no such repository, or the token cannot see it".into(),
            });
        }
    };
    let branch = repo
        .get("default_branch")
        .and_then(Value::as_str)
        .unwrap_or(&settings.base_branch)
        .to_string();
    let (scheduling, scheduling_from) = match opts.schedule {
        Some(s) => (s, "--schedule".to_string()),
        None => match gh.actions_variable("REPOKID_SCHEDULE")? {
            Setting::Found(v) => {
                let on = v.get("value").and_then(Value::as_str) == Some("true");
                (on, format!("repository variable REPOKID_SCHEDULE={on}"))
            }
            _ => (
                false,
                "no readable repository variable REPOKID_SCHEDULE (pass --schedule to check for it)"
                    .into(),
            ),
        },
    };
    let p = Protection::read(gh, &branch)?;
    let rule = format!(
        "Settings → Rules → Rulesets → the ruleset for {branch} (or Settings → Branches → the \
         classic rule)"
    );
    let mut checks = vec![
        check(
            "branch-protection",
            true,
            &format!("{branch} is protected: changes only through pull requests"),
        )
        .is(
            p.status(p.pull_request),
            if p.pull_request {
                p.sources.join(" and ")
            } else {
                p.not_found("no rule requires a pull request")
            },
            format!(
                "Settings → Rules → Rulesets → New branch ruleset, target {branch}: Require a pull \
                 request before merging (or a classic rule under Settings → Branches)"
            ),
        ),
        check("required-approvals", true, "at least one approving review").is(
            p.status(p.approvals >= 1),
            format!("{} required", p.approvals),
            format!("{rule}: Require approvals, at least 1"),
        ),
        check(
            "dismiss-stale-approvals",
            true,
            "stale approvals dismissed when new commits are pushed",
        )
        .is(
            p.status(p.dismiss_stale),
            if p.dismiss_stale { "on" } else { "off" },
            format!(
                "{rule}: Dismiss stale pull request approvals when new commits are pushed (a \
                 commit pushed after the approval, such as a re-checked schedule's, then needs a \
                 new one)"
            ),
        ),
        check("code-owner-review", true, "review from Code Owners").is(
            p.status(p.code_owners),
            if p.code_owners { "on" } else { "off" },
            format!("{rule}: Require review from Code Owners"),
        ),
        codeowners_check(gh, &branch)?,
        required_check(&p, VERIFY_CHECK, &rule, "the job of verify.yml"),
    ];
    if scheduling {
        checks.push(required_check(
            &p,
            STATUS_CONTEXT,
            &rule,
            "posted by repokid schedule; pending until the announced date",
        ));
    }
    checks.push(
        check(
            "no-force-push",
            false,
            "force pushes and deletion of the branch blocked",
        )
        .is(
            p.status(p.no_force_push && p.no_deletion),
            format!(
                "force pushes {}, deletion {}",
                if p.no_force_push {
                    "blocked"
                } else {
                    "allowed"
                },
                if p.no_deletion { "blocked" } else { "allowed" }
            ),
            format!("{rule}: Block force pushes, Restrict deletions"),
        ),
    );
    checks.extend(merge_checks(&repo, &p, scheduling, &branch));
    checks.extend(environment_checks(gh, &opts.environment, &branch)?);
    checks.push(app_check(gh, settings, base_dir)?);
    checks.push(
        check(
            "base-branch",
            false,
            "[github] base-branch in repokid.toml is the default branch",
        )
        .is(
            if settings.base_branch == branch {
                Status::Ok
            } else {
                Status::Missing
            },
            format!("base-branch = {:?}", settings.base_branch),
            format!("set [github] base-branch = \"{branch}\" (or protect that branch as well)"),
        ),
    );
    Ok(Diagnosis {
        repository: format!("{}/{}", gh.owner, gh.repo),
        default_branch: branch,
        scheduling,
        scheduling_from,
        checks,
    })
}

fn required_check(p: &Protection, context: &str, rule: &str, why: &str) -> Check {
    let id = if context == VERIFY_CHECK {
        "required-check-verify"
    } else {
        "required-check-schedule"
    };
    let found = if p.checks.is_empty() {
        p.not_found("no required status checks")
    } else {
        format!(
            "required: {}",
            p.checks.iter().cloned().collect::<Vec<_>>().join(", ")
        )
    };
    check(
        id,
        true,
        &format!("the status check `{context}` is required"),
    )
    .is(
        p.status(p.checks.contains(context)),
        found,
        format!("{rule}: Require status checks to pass, add `{context}` ({why})"),
    )
}

fn codeowners_check(gh: &GitHub, branch: &str) -> Result<Check, GitHubError> {
    let c = check("codeowners", true, "a CODEOWNERS file that GitHub can use");
    let fix = "add .github/CODEOWNERS (docs/setup.md, \"CODEOWNERS\"): one pattern per line, then \
               owners with write access";
    Ok(match gh.codeowners_errors(branch)? {
        Setting::Absent => c.is(
            Status::Missing,
            format!("no CODEOWNERS file on {branch}"),
            fix,
        ),
        Setting::Forbidden(m) => c.is(Status::Unknown, m, fix),
        Setting::Found(v) => {
            let errors: Vec<String> = v
                .get("errors")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|e| {
                    format!(
                        "{} line {}: {}",
                        e.get("path")
                            .and_then(Value::as_str)
                            .unwrap_or("CODEOWNERS"),
                        u64_at(e, "/line"),
                        e.get("message")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .lines()
                            .next()
                            .unwrap_or_default()
                    )
                })
                .collect();
            if errors.is_empty() {
                c.is(Status::Ok, "no errors", fix)
            } else {
                c.is(
                    Status::Missing,
                    format!("{} unusable line(s): {}", errors.len(), errors.join("; ")),
                    "fix those lines: one pattern per line, then owners (@user, @org/team) that \
                     exist and have write access",
                )
            }
        }
    })
}

fn merge_checks(repo: &Value, p: &Protection, scheduling: bool, branch: &str) -> Vec<Check> {
    let allowed = |k: &str| repo.get(k).and_then(Value::as_bool);
    let squash = allowed("allow_squash_merge");
    let queue_squashes = p.queue_method.as_deref() == Some("SQUASH");
    let mut out =
        vec![check(
        "no-squash-merge",
        true,
        "squash merges off: a proposal's sync commit reaches the branch as a commit of its own",
    )
    .is(
        match (squash, queue_squashes) {
            (_, true) | (Some(true), _) => Status::Missing,
            (Some(false), false) => Status::Ok,
            (None, false) => Status::Unknown,
        },
        match (squash, queue_squashes) {
            (_, true) => "the merge queue squashes".to_string(),
            (Some(s), _) => format!("squash merging {}", if s { "allowed" } else { "off" }),
            (None, _) => "merge settings not readable with this token".to_string(),
        },
        format!(
            "Settings → General → Pull Requests: untick \"Allow squash merging\", keep merge \
             commits or rebase (and the merge queue's method for {branch}); docs/reviewing.md"
        ),
    )];
    if scheduling {
        let merge = allowed("allow_merge_commit");
        out.push(
            check(
                "merge-commits",
                true,
                "merge commits allowed (repo-scheduled-roles merges with one)",
            )
            .is(
                match merge {
                    Some(true) => Status::Ok,
                    Some(false) => Status::Missing,
                    None => Status::Unknown,
                },
                match merge {
                    Some(m) => format!("merge commits {}", if m { "allowed" } else { "off" }),
                    None => "merge settings not readable with this token".into(),
                },
                "Settings → General → Pull Requests: tick \"Allow merge commits\"",
            ),
        );
    }
    out
}

fn environment_checks(gh: &GitHub, name: &str, branch: &str) -> Result<Vec<Check>, GitHubError> {
    let exists = check(
        "environment",
        true,
        &format!("the environment `{name}` that apply.yml runs in"),
    );
    let reviewers = check(
        "environment-reviewers",
        true,
        &format!("`{name}` has required reviewers: every apply waits for an approval"),
    );
    let branches = check(
        "environment-branches",
        false,
        &format!("`{name}` deploys only from selected branches"),
    );
    let create = format!(
        "Settings → Environments → New environment `{name}`: Required reviewers; Deployment \
         branches and tags: Selected branches, {branch}"
    );
    let reviewers_fix = format!("Settings → Environments → {name}: Required reviewers");
    let branches_fix = format!(
        "Settings → Environments → {name}: Deployment branches and tags: Selected branches, \
         {branch}"
    );
    Ok(match gh.environment(name)? {
        Setting::Absent => vec![
            exists.is(Status::Missing, "no such environment", create.clone()),
            reviewers.is(Status::Missing, "no such environment", create.clone()),
            branches.is(Status::Missing, "no such environment", create),
        ],
        Setting::Forbidden(m) => vec![
            exists.is(Status::Unknown, m.clone(), create.clone()),
            reviewers.is(Status::Unknown, m.clone(), reviewers_fix),
            branches.is(Status::Unknown, m, branches_fix),
        ],
        Setting::Found(v) => {
            let who: Vec<String> = v
                .get("protection_rules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|r| r.get("type").and_then(Value::as_str) == Some("required_reviewers"))
                .flat_map(|r| {
                    r.get("reviewers")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default()
                })
                .filter_map(|r| {
                    let x = r.get("reviewer")?;
                    x.get("login")
                        .or_else(|| x.get("slug"))
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .collect();
            let policy = v.get("deployment_branch_policy").filter(|p| !p.is_null());
            vec![
                exists.is(Status::Ok, "exists", create),
                reviewers.is(
                    if who.is_empty() {
                        Status::Missing
                    } else {
                        Status::Ok
                    },
                    if who.is_empty() {
                        "no required reviewers".to_string()
                    } else {
                        format!("reviewers: {}", who.join(", "))
                    },
                    reviewers_fix,
                ),
                branches.is(
                    if policy.is_some() {
                        Status::Ok
                    } else {
                        Status::Missing
                    },
                    if policy.is_some() {
                        "selected branches only"
                    } else {
                        "any branch"
                    },
                    branches_fix,
                ),
            ]
        }
    })
}

fn app_check(
    gh: &GitHub,
    settings: &GitHubSettings,
    base_dir: &Path,
) -> Result<Check, GitHubError> {
    let needed: Vec<String> = APP_PERMISSIONS
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    let what = format!("the GitHub App's permissions: {}", needed.join(", "));
    let fix = "GitHub → Settings → Developer settings → GitHub Apps → the App → Permissions & \
               events → Repository permissions: Contents, Pull requests, Commit statuses and \
               Issues read and write; then accept the new permissions on the installation";
    if settings.app_id.is_some() && settings.private_key_file.is_some() {
        return Ok(match gh.app_installation(settings, base_dir) {
            Ok(inst) => {
                let inst = inst.unwrap_or(Value::Null);
                let has: BTreeMap<String, String> = inst
                    .get("permissions")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                    .collect();
                let missing: Vec<String> = APP_PERMISSIONS
                    .iter()
                    .filter(|(k, need)| {
                        let got = has.get(*k).map(String::as_str);
                        !(got == Some("write") || (*need == "read" && got == Some("read")))
                    })
                    .map(|(k, need)| {
                        format!("{k}: {need} (has {})", has.get(*k).map_or("none", |s| s))
                    })
                    .collect();
                check("app-permissions", true, &what).is(
                    if missing.is_empty() {
                        Status::Ok
                    } else {
                        Status::Missing
                    },
                    if missing.is_empty() {
                        "all granted".to_string()
                    } else {
                        format!("missing: {}", missing.join(", "))
                    },
                    fix,
                )
            }
            Err(e) => check("app-permissions", true, &what).is(
                Status::Missing,
                format!("cannot read the App's installation: {}", e.message),
                "install the App on this repository (GitHub → the App → Install App), and check \
                 [github] app-id and private-key-file",
            ),
        });
    }
    let through_env = gh.token_is_installation();
    let workflows = match gh.actions_variable("REPOKID_APP_CLIENT_ID")? {
        Setting::Found(v) => v.get("value").and_then(Value::as_str).map(str::to_string),
        _ => None,
    };
    let read_it = "set [github] app-id and private-key-file in repokid.toml so doctor can read \
                   the installation's permissions (only the App itself can)";
    Ok(match (workflows, through_env) {
        (Some(id), _) => check("app-permissions", false, &what).is(
            Status::Unknown,
            format!("the workflows use the App with client id {id}"),
            read_it,
        ),
        (None, true) => check("app-permissions", false, &what).is(
            Status::Unknown,
            "the token is an App installation token",
            read_it,
        ),
        (None, false) => check("app-permissions", false, "a GitHub App for the workflows").is(
            Status::Missing,
            "no App: pull requests opened with the workflows' own token start no workflow, so \
             verify never runs on them",
            "create a GitHub App and set REPOKID_APP_CLIENT_ID (docs/setup.md, \"A GitHub App\")",
        ),
    })
}
