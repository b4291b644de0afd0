//! `repokid.toml`: settings that are not about scope (scope lives in `filters.toml`).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::engine::EngineSettings;
use crate::sources::usage_file::UsageFormat;

/// The commented settings file `repokid init` writes; it documents every key.
pub const DEFAULT_SETTINGS_TOML: &str = r#"# repokid settings. Which roles are in scope is configured in filters.toml.
# Every key is optional; the values shown are the defaults.

# Accounts to work on when a command is given no --account (12-digit ids).
accounts = []

# The git repository holding policies/<account>/<role>.json ("." = the current one).
repo = "."

# The filters file (relative to this file).
filters = "filters.toml"

[sources]
# Where roles come from: "file" (the `inventory` file) or "aws" (GetAccountAuthorizationDetails
# in each account, through [aws]).
inventory-source = "file"
# Inventory file: the JSON printed by `aws iam get-account-authorization-details`.
# inventory = "inventory.json"
# Where usage comes from: "file" (the `usage` file), "access-advisor" (IAM's
# Generate/GetServiceLastAccessedDetails in each account, action level when engine.action-level
# is true) or "aardvark" (an Aardvark API at `aardvark-url`).
usage-source = "file"
# Usage file: repokid's native format, an Aardvark response, or
# GetServiceLastAccessedDetails responses keyed by role ARN.
# usage = "usage.json"
# usage-format = "auto"   # auto | native | aardvark | gslad
# aardvark-url = "http://aardvark.internal:5000/api/1/advisors"
aardvark-timeout-seconds = 30

[aws]
# Credentials and region come from the standard AWS chain (environment, profile, SSO, web
# identity / GitHub OIDC); these narrow it.
# region = "us-east-1"
# profile = "security-audit"
# The role assumed in each account ("" = use the base credentials directly).
assume-role = "RepokidRole"
session-name = "repokid"
# external-id = "..."
# partition = "aws"        # default: from the region (aws-cn for cn-*, aws-us-gov for us-gov-*)
# endpoint-url = "http://127.0.0.1:5000"   # a stand-in such as moto; AWS_ENDPOINT_URL works too
# Attempts per call, retries included (throttling, 5xx and timeouts back off exponentially).
max-attempts = 5
call-timeout-seconds = 30
# Access Advisor jobs in flight at once, and how long one may take.
access-advisor-jobs = 8
access-advisor-timeout-seconds = 300

[engine]
# A service counts as used if last accessed within this many days.
usage-window-days = 90
# Permissions granted less than this many days ago are kept (0 turns the grace period off).
grace-days = 14
# Usage data older than this makes a role ineligible.
stale-after-days = 5
# Remove unused actions of used services where AWS tracks them at action level.
action-level = false
# IAM's limit on a role's inline policies (characters, whitespace excluded).
size-limit = 10240
# Let minimization write wildcards that cover Permissions-management actions.
minimize-permissions-management = false

[propose]
# Proposal branches are <branch-prefix>/<account>.
branch-prefix = "repokid/propose"

[github]
# The repository pull requests go to ("owner/name"); needed by `propose --open-pr`, `schedule`,
# `dispatch`. The token comes from $GITHUB_TOKEN (or a GitHub App: app-id + private-key-file).
# repo = "acme/iam-policies"
# API base for GitHub Enterprise Server ("https://ghe.example.com/api/v3").
api-url = "https://api.github.com"
# Web base, for links in pull request bodies.
web-url = "https://github.com"
# Where proposal branches are pushed (default: <web-url>/<repo>.git).
# git-url = "https://github.com/acme/iam-policies.git"
# The branch proposals are opened against.
base-branch = "main"
# Labels added to every proposal.
labels = ["repokid"]
# Reviewers: from CODEOWNERS (for policies/<account>/) and from this role tag (a GitHub login).
reviewers-from-codeowners = true
owner-tag = "owner"
# A pull request that adds access fails `repokid verify` unless it carries this label.
adds-access-label = "repokid:adds-access"
# Days between `schedule` and the earliest merge.
schedule-days = 7
# app-id = 12345
# private-key-file = "github-app.pem"

# Hooks in the removable-permission calculation, one [[hooks]] table each. The command gets
# {"account", "role", "arn", "potentially_removable": [...], "kept": [...], "usage_window_days"}
# as JSON on stdin and prints [{"action": "...", "verdict": "keep" | "remove", "reason": "..."}].
# Hooks run in ascending priority; a failing hook (non-zero exit, timeout, invalid JSON) leaves
# its role unchanged. A relative program path with a "/" is relative to this file.
# [[hooks]]
# name = "cloudtrail"
# command = ["./hooks/cloudtrail.py", "--days", "90"]
# priority = 0
# timeout-seconds = 10
#
# A [[hooks]] entry with `batch = true` (not with `events`) is a batch hook: run once per account,
# after the per-role hooks, with a JSON array of the contexts above (every role of the account
# whose decisions were computed) on stdin; it prints
# [{"role": "...", "action": "...", "verdict": "keep" | "remove", "reason": "..."}]. A failing
# batch hook leaves every role of its batch unchanged (ineligible).
# [[hooks]]
# name = "cloudtrail-batch"
# command = ["./hooks/cloudtrail_batch.py"]
# batch = true
#
# A [[hooks]] entry with `events` is instead a lifecycle hook around `repokid propose` (and is not
# run in the calculation): it gets each listed event as JSON on stdin, tagged by "event":
#   before-account {"account", "roles": [eligible roles about to be proposed]}
#   after-role     {"account", "role", "removed": [actions], "errors": [...]}  (after the commit)
#   after-account  {"account", "roles", "commit", "branch", "errors": [after-role hook failures]}
#   after-schedule {"account", "roles", "pull_request", "url", "not_before"}  (repokid schedule)
# Its stdout is ignored. A failing before-account hook (non-zero exit, timeout) stops that
# account's proposal; a failing after-hook is reported (exit status 1) but the commit stands.
# [[hooks]]
# name = "notify"
# command = ["./hooks/notify.py"]
# events = ["before-account", "after-role", "after-account"]
"#;

/// Parsed `repokid.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Settings {
    /// Default accounts.
    #[serde(default)]
    pub accounts: Vec<String>,
    /// The policy repository.
    #[serde(default = "dot")]
    pub repo: PathBuf,
    /// The filters file, relative to the settings file.
    #[serde(default = "filters_toml")]
    pub filters: PathBuf,
    /// Data sources.
    #[serde(default)]
    pub sources: SourceSettings,
    /// Engine knobs.
    #[serde(default)]
    pub engine: EngineSettings,
    /// Proposal settings.
    #[serde(default)]
    pub propose: ProposeSettings,
    /// AWS connections.
    #[serde(default)]
    pub aws: crate::aws::AwsSettings,
    /// GitHub: where pull requests go.
    #[serde(default)]
    pub github: GitHubSettings,
    /// `[[hooks]]`: external commands run in the removable-permission calculation.
    #[serde(default)]
    pub hooks: Vec<HookSettings>,
    /// Directory the settings file is in (paths are relative to it).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

fn dot() -> PathBuf {
    PathBuf::from(".")
}

fn filters_toml() -> PathBuf {
    PathBuf::from("filters.toml")
}

/// Where inventory and usage come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct SourceSettings {
    /// Where roles come from.
    pub inventory_source: InventorySourceKind,
    /// Inventory file.
    pub inventory: Option<PathBuf>,
    /// Where usage comes from.
    pub usage_source: UsageSourceKind,
    /// Usage file.
    pub usage: Option<PathBuf>,
    /// Its format.
    pub usage_format: UsageFormat,
    /// The Aardvark API (`…/api/1/advisors`).
    pub aardvark_url: Option<String>,
    /// Timeout of one Aardvark request.
    pub aardvark_timeout_seconds: u64,
}

impl Default for SourceSettings {
    fn default() -> Self {
        SourceSettings {
            inventory_source: InventorySourceKind::File,
            inventory: None,
            usage_source: UsageSourceKind::File,
            usage: None,
            usage_format: UsageFormat::Auto,
            aardvark_url: None,
            aardvark_timeout_seconds: 30,
        }
    }
}

/// Where roles come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum InventorySourceKind {
    /// An inventory file.
    #[default]
    File,
    /// `GetAccountAuthorizationDetails` in each account.
    Aws,
}

/// Where usage comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum UsageSourceKind {
    /// A usage file.
    #[default]
    File,
    /// IAM Access Advisor in each account.
    AccessAdvisor,
    /// An Aardvark API.
    Aardvark,
}

/// How proposals are written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ProposeSettings {
    /// Branch prefix.
    pub branch_prefix: String,
}

impl Default for ProposeSettings {
    fn default() -> Self {
        Self {
            branch_prefix: "repokid/propose".into(),
        }
    }
}

/// `[github]`: where pull requests go and how they are reviewed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct GitHubSettings {
    /// `owner/name`.
    pub repo: Option<String>,
    /// API base (GitHub Enterprise Server: `https://host/api/v3`).
    pub api_url: String,
    /// Web base, for links.
    pub web_url: String,
    /// Where branches are pushed; default `<web_url>/<repo>.git`.
    pub git_url: Option<String>,
    /// The branch proposals target.
    pub base_branch: String,
    /// Labels on every proposal.
    pub labels: Vec<String>,
    /// Request reviews from the CODEOWNERS of `policies/<account>/`.
    pub reviewers_from_codeowners: bool,
    /// The role tag naming a GitHub login to request a review from.
    pub owner_tag: String,
    /// The label that lets a pull request adding access pass `verify`.
    pub adds_access_label: String,
    /// Days from `schedule` to the earliest merge.
    pub schedule_days: i64,
    /// GitHub App id (with `private_key_file`), instead of `$GITHUB_TOKEN`.
    pub app_id: Option<u64>,
    /// The GitHub App's private key (PEM), relative to the settings file.
    pub private_key_file: Option<PathBuf>,
}

impl Default for GitHubSettings {
    fn default() -> Self {
        GitHubSettings {
            repo: None,
            api_url: "https://api.github.com".into(),
            web_url: "https://github.com".into(),
            git_url: None,
            base_branch: "main".into(),
            labels: vec!["repokid".into()],
            reviewers_from_codeowners: true,
            owner_tag: "owner".into(),
            adds_access_label: "repokid:adds-access".into(),
            schedule_days: 7,
            app_id: None,
            private_key_file: None,
        }
    }
}

impl GitHubSettings {
    /// The URL branches are pushed to.
    pub fn git_url(&self) -> Option<String> {
        self.git_url.clone().or_else(|| {
            self.repo
                .as_ref()
                .map(|r| format!("{}/{r}.git", self.web_url.trim_end_matches('/')))
        })
    }

    /// The web URL of a file on a branch, when the repository is known.
    pub fn blob_url(&self, branch: &str, path: &str) -> Option<String> {
        self.repo.as_ref().map(|r| {
            format!(
                "{}/{r}/blob/{branch}/{path}",
                self.web_url.trim_end_matches('/')
            )
        })
    }
}

/// One `[[hooks]]` entry: an external command hook (see [`crate::hooks::CommandHook`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct HookSettings {
    /// The hook's name, shown in evidence and errors.
    pub name: String,
    /// Program and arguments.
    pub command: Vec<String>,
    /// Hooks run in ascending priority.
    #[serde(default)]
    pub priority: i32,
    /// How long the command may run per role (per event for a lifecycle hook, per account for a
    /// batch hook).
    #[serde(default = "ten")]
    pub timeout_seconds: u64,
    /// When present, the entry is a lifecycle hook for these events (see
    /// [`crate::hooks::lifecycle`]) rather than a decision hook.
    #[serde(default)]
    pub events: Option<Vec<crate::hooks::LifecycleEventKind>>,
    /// When true, the entry is a batch decision hook (see [`crate::hooks::BatchDecisionHook`]):
    /// run once per account with every decided role. Not allowed with `events`.
    #[serde(default)]
    pub batch: bool,
}

fn ten() -> u64 {
    10
}

/// A settings file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// Unreadable.
    #[error("cannot read settings {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not the schema; toml's message names the line and key.
    #[error("invalid settings {path}: {source}")]
    Invalid {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: toml::de::Error,
    },
    /// A value that parses but is not allowed.
    #[error("invalid settings {path}: {message}")]
    Value {
        /// The file.
        path: String,
        /// What.
        message: String,
    },
}

impl Default for Settings {
    fn default() -> Self {
        Settings::parse(DEFAULT_SETTINGS_TOML, Path::new("."), "built-in defaults")
            .unwrap_or_else(|_| unreachable_defaults())
    }
}

fn unreachable_defaults() -> Settings {
    Settings {
        accounts: Vec::new(),
        repo: dot(),
        filters: filters_toml(),
        sources: SourceSettings::default(),
        engine: EngineSettings::default(),
        propose: ProposeSettings::default(),
        aws: crate::aws::AwsSettings::default(),
        github: GitHubSettings::default(),
        hooks: Vec::new(),
        base_dir: dot(),
    }
}

impl Settings {
    /// Parses settings text; `base_dir` is where relative paths start; `name` appears in errors.
    pub fn parse(text: &str, base_dir: &Path, name: &str) -> Result<Settings, SettingsError> {
        let mut s: Settings = toml::from_str(text).map_err(|source| SettingsError::Invalid {
            path: name.to_string(),
            source,
        })?;
        for a in &s.accounts {
            crate::store::names::validate_account_id(a).map_err(|e| SettingsError::Value {
                path: name.to_string(),
                message: format!("accounts: {e}"),
            })?;
        }
        for (i, h) in s.hooks.iter().enumerate() {
            let problem = if h.name.trim().is_empty() {
                Some("name is empty".to_string())
            } else if s.hooks[..i].iter().any(|o| o.name == h.name) {
                Some(format!("hook {:?} is declared twice", h.name))
            } else if h.command.first().is_none_or(|p| p.is_empty()) {
                Some("command is empty".to_string())
            } else if h.timeout_seconds == 0 {
                Some("timeout-seconds must be at least 1".to_string())
            } else if h.batch && h.events.is_some() {
                Some("batch and events cannot be combined".to_string())
            } else if h.events.as_ref().is_some_and(|e| e.is_empty()) {
                Some("events is empty (omit it for a decision hook)".to_string())
            } else {
                h.events
                    .as_ref()
                    .and_then(|events| {
                        events
                            .iter()
                            .enumerate()
                            .find(|(j, e)| events[..*j].contains(e))
                    })
                    .map(|(_, e)| format!("event {:?} is listed twice", e.as_str()))
            };
            if let Some(message) = problem {
                return Err(SettingsError::Value {
                    path: name.to_string(),
                    message: format!("hooks[{i}]: {message}"),
                });
            }
        }
        s.base_dir = base_dir.to_path_buf();
        Ok(s)
    }

    /// The `[[hooks]]` entries without `events` or `batch` as decision hooks; a relative program
    /// path containing a `/` is resolved against the settings file's directory.
    pub fn command_hooks(&self) -> Vec<crate::hooks::CommandHook> {
        self.hooks
            .iter()
            .filter(|h| h.events.is_none() && !h.batch)
            .map(|h| crate::hooks::CommandHook {
                name: h.name.clone(),
                command: self.hook_command(h),
                priority: h.priority,
                timeout: std::time::Duration::from_secs(h.timeout_seconds),
            })
            .collect()
    }

    /// The `[[hooks]]` entries with `batch = true` as batch decision hooks (programs resolved as
    /// for [`Settings::command_hooks`]).
    pub fn batch_hooks(&self) -> Vec<crate::hooks::CommandBatchHook> {
        self.hooks
            .iter()
            .filter(|h| h.batch)
            .map(|h| crate::hooks::CommandBatchHook {
                name: h.name.clone(),
                command: self.hook_command(h),
                priority: h.priority,
                timeout: std::time::Duration::from_secs(h.timeout_seconds),
            })
            .collect()
    }

    /// The `[[hooks]]` entries with `events` as lifecycle hooks (programs resolved as for
    /// [`Settings::command_hooks`]).
    pub fn lifecycle_hooks(&self) -> Vec<crate::hooks::CommandLifecycleHook> {
        self.hooks
            .iter()
            .filter_map(|h| {
                Some(crate::hooks::CommandLifecycleHook {
                    name: h.name.clone(),
                    command: self.hook_command(h),
                    priority: h.priority,
                    timeout: std::time::Duration::from_secs(h.timeout_seconds),
                    events: h.events.clone()?,
                })
            })
            .collect()
    }

    fn hook_command(&self, h: &HookSettings) -> Vec<String> {
        let mut command = h.command.clone();
        if let Some(program) = command.first_mut() {
            let p = Path::new(program.as_str());
            if p.is_relative() && program.contains('/') {
                *program = self.resolve(p).display().to_string();
            }
        }
        command
    }

    /// Loads `path`; a missing file at the default location means defaults.
    pub fn load(path: &Path, must_exist: bool) -> Result<Settings, SettingsError> {
        let base = path.parent().map(Path::to_path_buf).unwrap_or_else(dot);
        match std::fs::read_to_string(path) {
            Ok(text) => Settings::parse(&text, &base, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => Ok(Settings {
                base_dir: base,
                ..Settings::default()
            }),
            Err(source) => Err(SettingsError::Io {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// A path from the settings, resolved against the settings file's directory.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_is_the_defaults() {
        let s = Settings::parse(DEFAULT_SETTINGS_TOML, Path::new("."), "t").unwrap();
        assert_eq!(s.engine, EngineSettings::default());
        assert_eq!(s.propose.branch_prefix, "repokid/propose");
        assert_eq!(s.sources.usage_format, UsageFormat::Auto);
    }

    #[test]
    fn typos_and_bad_accounts_are_errors() {
        let e = Settings::parse("[engine]\ngrace-dayz = 3\n", Path::new("."), "repokid.toml")
            .unwrap_err();
        assert!(
            e.to_string().contains("repokid.toml") && e.to_string().contains("grace-dayz"),
            "{e}"
        );
        let e =
            Settings::parse("accounts = [\"123\"]\n", Path::new("."), "repokid.toml").unwrap_err();
        assert!(e.to_string().contains("12 digits"), "{e}");
    }

    #[test]
    fn hooks_parse_with_defaults_and_are_validated() {
        let text = "[[hooks]]\nname = \"ct\"\ncommand = [\"./ct.py\", \"-v\"]\n\n[[hooks]]\nname = \"b\"\ncommand = [\"/bin/b\"]\npriority = -1\ntimeout-seconds = 3\n";
        let s = Settings::parse(text, Path::new("/etc/rk"), "t").unwrap();
        assert_eq!(s.hooks[0].priority, 0);
        assert_eq!(s.hooks[0].timeout_seconds, 10);
        let hooks = s.command_hooks();
        assert_eq!(hooks[0].command, ["/etc/rk/./ct.py", "-v"]);
        assert_eq!(hooks[1].command, ["/bin/b"]);
        assert_eq!(hooks[1].timeout.as_secs(), 3);
        for bad in [
            "[[hooks]]\nname = \"a\"\ncommand = []\n",
            "[[hooks]]\nname = \"a\"\ncommand = [\"x\"]\ntimeout-seconds = 0\n",
            "[[hooks]]\nname = \"a\"\ncommand = [\"x\"]\n[[hooks]]\nname = \"a\"\ncommand = [\"y\"]\n",
        ] {
            let e = Settings::parse(bad, Path::new("."), "t").unwrap_err();
            assert!(e.to_string().contains("hooks["), "{e}");
        }
        let e = Settings::parse(
            "[[hooks]]\nname = \"a\"\ncommand = [\"x\"]\ntimeout = 3\n",
            Path::new("."),
            "t",
        )
        .unwrap_err();
        assert!(e.to_string().contains("timeout"), "{e}");
    }

    #[test]
    fn hooks_with_events_are_lifecycle_hooks_only() {
        use crate::hooks::LifecycleEventKind;
        let text = "[[hooks]]\nname = \"d\"\ncommand = [\"x\"]\n\n[[hooks]]\nname = \"l\"\ncommand = [\"./l.py\"]\nevents = [\"after-role\", \"before-account\"]\n";
        let s = Settings::parse(text, Path::new("/etc/rk"), "t").unwrap();
        let decision: Vec<_> = s.command_hooks().into_iter().map(|h| h.name).collect();
        assert_eq!(decision, ["d"]);
        let lifecycle = s.lifecycle_hooks();
        assert_eq!(lifecycle.len(), 1);
        assert_eq!(lifecycle[0].name, "l");
        assert_eq!(lifecycle[0].command, ["/etc/rk/./l.py"]);
        assert_eq!(
            lifecycle[0].events,
            [
                LifecycleEventKind::AfterRole,
                LifecycleEventKind::BeforeAccount
            ]
        );
        for bad in [
            "[[hooks]]\nname = \"a\"\ncommand = [\"x\"]\nevents = []\n",
            "[[hooks]]\nname = \"a\"\ncommand = [\"x\"]\nevents = [\"after-role\", \"after-role\"]\n",
            "[[hooks]]\nname = \"a\"\ncommand = [\"x\"]\nevents = [\"after-repo\"]\n",
        ] {
            assert!(Settings::parse(bad, Path::new("."), "t").is_err(), "{bad}");
        }
    }

    #[test]
    fn batch_hooks_are_batch_only_and_exclude_events() {
        let text = "[[hooks]]\nname = \"d\"\ncommand = [\"x\"]\n\n[[hooks]]\nname = \"b\"\ncommand = [\"./b.py\"]\nbatch = true\npriority = 3\n";
        let s = Settings::parse(text, Path::new("/etc/rk"), "t").unwrap();
        let decision: Vec<_> = s.command_hooks().into_iter().map(|h| h.name).collect();
        assert_eq!(decision, ["d"]);
        let batch = s.batch_hooks();
        assert_eq!(batch.len(), 1);
        assert_eq!(batch[0].name, "b");
        assert_eq!(batch[0].priority, 3);
        assert_eq!(batch[0].command, ["/etc/rk/./b.py"]);
        assert!(s.lifecycle_hooks().is_empty());
        let bad =
            "[[hooks]]\nname = \"a\"\ncommand = [\"x\"]\nbatch = true\nevents = [\"after-role\"]\n";
        let e = Settings::parse(bad, Path::new("."), "t").unwrap_err();
        assert!(e.to_string().contains("batch and events"), "{e}");
    }
}
