//! Custom filters run as external commands, declared in `filters.toml` as `[[command]]` tables:
//!
//! ```toml
//! active = ["age", "by-owner-tag"]
//!
//! [[command]]
//! id = "by-owner-tag"
//! command = ["python3", "filters/owner.py"]
//! timeout-seconds = 10
//! ```
//!
//! The command runs once per account. It gets
//! `{"account": "...", "roles": [{"name", "arn", "tags": {...}, "create_date"}]}` as JSON on stdin
//! and prints `[{"role": "<name>", "reason": "..."}]` for the roles to exclude. A non-zero exit,
//! a timeout (the command is killed), output that is not such an array, or a role name it was not
//! given is a [`CommandFilterError`] naming the filter. Unlike the built-in filters, these do I/O.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::FilterConfigError;
use crate::engine::Role;

/// One `[[command]]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CommandFilterConfig {
    /// The filter's id: its name in `active` and in reports.
    pub id: String,
    /// Program and arguments.
    pub command: Vec<String>,
    /// How long the command may run per account.
    #[serde(default = "ten")]
    pub timeout_seconds: u64,
}

fn ten() -> u64 {
    10
}

impl CommandFilterConfig {
    pub(crate) fn validate(&self, field: &str) -> Result<(), FilterConfigError> {
        if self.id.trim().is_empty() {
            return Err(FilterConfigError::invalid(
                format!("{field}.id"),
                "must not be empty",
            ));
        }
        if self.command.first().is_none_or(|p| p.is_empty()) {
            return Err(FilterConfigError::invalid(
                format!("{field}.command"),
                "must name a program",
            ));
        }
        if self.timeout_seconds == 0 {
            return Err(FilterConfigError::invalid(
                format!("{field}.timeout-seconds"),
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

/// A command filter that failed; the account cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("filter {filter}: {message}")]
pub struct CommandFilterError {
    /// The filter's id.
    pub filter: String,
    /// What happened.
    pub message: String,
}

/// A role as the command sees it.
#[derive(Debug, Serialize)]
struct RoleView<'a> {
    name: &'a str,
    arn: &'a str,
    tags: BTreeMap<&'a str, &'a str>,
    create_date: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
struct Input<'a> {
    account: &'a str,
    roles: Vec<RoleView<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Exclusion {
    role: String,
    reason: String,
}

/// A built command filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandFilter {
    /// Its id.
    pub id: String,
    /// Program and arguments.
    pub command: Vec<String>,
    /// How long it may run.
    pub timeout: Duration,
}

impl CommandFilter {
    /// From its `[[command]]` table.
    pub fn new(config: &CommandFilterConfig) -> CommandFilter {
        CommandFilter {
            id: config.id.clone(),
            command: config.command.clone(),
            timeout: Duration::from_secs(config.timeout_seconds),
        }
    }

    /// Runs the command over `roles` of `account`: for each role, the reason it is excluded.
    pub fn run(
        &self,
        account: &str,
        roles: &[&Role],
    ) -> Result<Vec<Option<String>>, CommandFilterError> {
        let fail = |message: String| CommandFilterError {
            filter: self.id.clone(),
            message,
        };
        let input = Input {
            account,
            roles: roles
                .iter()
                .map(|r| RoleView {
                    name: &r.name,
                    arn: &r.arn,
                    tags: r
                        .tags
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect(),
                    create_date: r.create_date,
                })
                .collect(),
        };
        let exclusions: Vec<Exclusion> = crate::hooks::call_json(
            &self.command,
            &input,
            self.timeout,
            "[{\"role\", \"reason\"}]",
        )
        .map_err(fail)?;
        let mut out = vec![None; roles.len()];
        for x in exclusions {
            let Some(i) = roles.iter().position(|r| r.name == x.role) else {
                return Err(fail(format!("excluded role {:?} it was not given", x.role)));
            };
            out[i] = Some(x.reason);
        }
        Ok(out)
    }
}
