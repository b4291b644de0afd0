//! `exclusive`: only roles whose name matches at least one glob for the account (or under `all`)
//! stay in scope; every other role is excluded.
//!
//! Patterns use glob syntax (`*`, `?`, `[abc]`, `{a,b}`) and match the role name (without path)
//! case-insensitively. When the filter is active and no pattern applies to the account, every role
//! is excluded, as in Repokid, but the reason says so.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use serde::Deserialize;

use super::{Filter, FilterConfigError, check_account_id};
use crate::engine::Role;

/// This filter's id and `filters.toml` table.
pub const ID: &str = "exclusive";

/// `[exclusive]` in `filters.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExclusiveConfig {
    /// Name globs that keep a role in scope in every account.
    #[serde(default)]
    pub all: Vec<String>,
    /// Name globs that keep a role in scope, per account id.
    #[serde(default)]
    pub accounts: BTreeMap<String, Vec<String>>,
}

impl ExclusiveConfig {
    pub(crate) fn validate(&self) -> Result<(), FilterConfigError> {
        check_patterns("exclusive.all", &self.all)?;
        for (account, patterns) in &self.accounts {
            let field = format!("exclusive.accounts.{account:?}");
            check_account_id(&field, account)?;
            check_patterns(&field, patterns)?;
        }
        Ok(())
    }

    /// The patterns that apply to `account`: its own, then `all`.
    fn patterns_for<'a>(&'a self, account: &str) -> impl Iterator<Item = &'a String> {
        self.accounts
            .get(account)
            .into_iter()
            .flatten()
            .chain(&self.all)
    }
}

fn compile(pattern: &str) -> Result<Glob, globset::Error> {
    GlobBuilder::new(pattern)
        .case_insensitive(true)
        .literal_separator(false)
        .build()
}

fn check_patterns(field: &str, patterns: &[String]) -> Result<(), FilterConfigError> {
    for (i, pattern) in patterns.iter().enumerate() {
        let field = || format!("{field}[{i}]");
        if pattern.trim().is_empty() {
            return Err(FilterConfigError::invalid(
                field(),
                "pattern must not be empty",
            ));
        }
        compile(pattern).map_err(|e| FilterConfigError::invalid(field(), e.to_string()))?;
    }
    Ok(())
}

/// Keeps only roles matching one of the account's patterns.
#[derive(Debug, Clone)]
pub struct ExclusiveFilter {
    account: String,
    patterns: Vec<String>,
    set: GlobSet,
}

impl ExclusiveFilter {
    /// The filter for `account`, with its patterns and those under `all` compiled once.
    pub fn new(
        config: &ExclusiveConfig,
        account: &str,
    ) -> Result<ExclusiveFilter, FilterConfigError> {
        let mut builder = GlobSetBuilder::new();
        let mut patterns = Vec::new();
        for pattern in config.patterns_for(account) {
            let glob = compile(pattern).map_err(|e| {
                FilterConfigError::invalid(format!("exclusive pattern {pattern:?}"), e.to_string())
            })?;
            builder.add(glob);
            patterns.push(pattern.clone());
        }
        let set = builder
            .build()
            .map_err(|e| FilterConfigError::invalid("exclusive", e.to_string()))?;
        Ok(ExclusiveFilter {
            account: account.to_string(),
            patterns,
            set,
        })
    }
}

impl Filter for ExclusiveFilter {
    fn id(&self) -> &'static str {
        ID
    }

    fn check(&self, role: &Role, _now: DateTime<Utc>) -> Option<String> {
        if self.patterns.is_empty() {
            return Some(format!(
                "no exclusive pattern applies to account {}, so every role is excluded",
                self.account
            ));
        }
        if self.set.is_match(&role.name) {
            return None;
        }
        Some(format!(
            "role name {} matches none of the exclusive patterns for account {}: {}",
            role.name,
            self.account,
            self.patterns.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filters::FilterConfig;
    use crate::filters::tests::{ACCOUNT, now, role};

    fn filter(text: &str) -> ExclusiveFilter {
        let config = FilterConfig::parse(text).expect("parses");
        ExclusiveFilter::new(&config.exclusive, ACCOUNT).expect("builds")
    }

    #[test]
    fn matching_role_stays_in_scope() {
        let f = filter(
            "[exclusive]\nall = [\"svc-*\"]\n[exclusive.accounts]\n\"123456789012\" = [\"web-?\"]\n",
        );
        assert_eq!(f.check(&role("svc-payments"), now()), None);
        assert_eq!(
            f.check(&role("SVC-Payments"), now()),
            None,
            "case-insensitive"
        );
        assert_eq!(f.check(&role("web-1"), now()), None);
    }

    #[test]
    fn non_matching_role_is_excluded() {
        let f = filter(
            "[exclusive]\nall = [\"svc-*\"]\n[exclusive.accounts]\n\"210987654321\" = [\"web-*\"]\n",
        );
        assert_eq!(
            f.check(&role("web-1"), now()).as_deref(),
            Some(
                "role name web-1 matches none of the exclusive patterns for account 123456789012: svc-*"
            )
        );
    }

    #[test]
    fn no_patterns_for_the_account_excludes_everything() {
        let f = filter("[exclusive.accounts]\n\"210987654321\" = [\"*\"]\n");
        let reason = f.check(&role("anything"), now()).expect("excluded");
        assert!(reason.contains("no exclusive pattern applies to account 123456789012"));
        assert!(reason.contains("every role is excluded"));
    }

    #[test]
    fn bad_glob_is_rejected_at_parse() {
        let err = FilterConfig::parse("[exclusive]\nall = [\"web-[\"]\n").expect_err("bad glob");
        assert!(err.to_string().starts_with("exclusive.all[0]: "), "{err}");
    }
}
