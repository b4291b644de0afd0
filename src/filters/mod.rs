//! Which roles are in scope: the filters configured by `filters.toml`.
//!
//! These re-implement Repokid's filters (age, blocklist, exclusive, lambda, opt-out) with its bugs
//! fixed: the blocklist file is actually read, the Lambda filter parses the trust policy instead of
//! searching its text, a missing create date fails closed, and every time is UTC.
//!
//! Each filter lives in its own module, implements [`Filter`], and is listed once in the registry
//! at the bottom of this file; [`filter_ids`] reads it. A filter's [`Filter::id`] is also its table
//! name in `filters.toml` and its name in the `active` list.
//!
//! Custom filters come in two forms: `[[command]]` tables naming external commands (see
//! [`command`]; their ids may appear in `active`), and [`Filter`] trait objects added by library
//! users with [`FilterSet::with_custom`]. Their exclusions are [`FilterHit`]s like the built-in
//! ones.
//!
//! Built-in filters are pure: no file, clock or network I/O. The caller passes `now`, and passes the
//! *contents* of the blocklist file named by [`FilterConfig::blocklist_file`] to
//! [`FilterConfig::build`].

pub mod age;
pub mod blocklist;
pub mod command;
pub mod exclusive;
pub mod lambda;
pub mod opt_out;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::engine::Role;

// A filter's exclusion is the engine's type: its plans carry it.
pub use crate::engine::FilterHit;
pub use age::{AgeConfig, AgeFilter};
pub use blocklist::{BlocklistConfig, BlocklistFile, BlocklistFilter};
pub use command::{CommandFilter, CommandFilterConfig, CommandFilterError};
pub use exclusive::{ExclusiveConfig, ExclusiveFilter};
pub use lambda::LambdaFilter;
pub use opt_out::{Expiry, OptOutConfig, OptOutEntry, OptOutFilter};

/// The default `filters.toml`, shipped with the crate; it documents every key.
pub const DEFAULT_FILTERS_TOML: &str = include_str!("../../filters.toml");

/// The filters that run when `filters.toml` has no `active` key, in order.
pub const DEFAULT_ACTIVE: [&str; 4] = [age::ID, blocklist::ID, lambda::ID, opt_out::ID];

/// One rule deciding whether a role is out of scope.
pub trait Filter: std::fmt::Debug + Send + Sync {
    /// The stable id: the key of this filter's table in `filters.toml` and its name in `active`.
    fn id(&self) -> &str;

    /// Why `role` is excluded, or `None` when this filter keeps it in scope.
    fn check(&self, role: &Role, now: DateTime<Utc>) -> Option<String>;
}

/// Why `filters.toml` (or the blocklist file it names) cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FilterConfigError {
    /// Not valid TOML, or not the schema (unknown field, wrong type); the message names the line
    /// and column.
    #[error(transparent)]
    Toml(#[from] toml::de::Error),
    /// Well-formed but invalid: `field` names the offending key (`opt-out.entries[1].account`).
    #[error("{field}: {message}")]
    Invalid {
        /// The dotted path of the offending key.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// The blocklist file (Repokid's S3 JSON format) is malformed.
    #[error("blocklist file: {message}")]
    BlocklistFile {
        /// What is wrong with it, with the JSON path or position where known.
        message: String,
    },
}

impl FilterConfigError {
    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        FilterConfigError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The contents of `filters.toml`. Every table and key is optional; unknown keys are errors.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// Which filters run, in this order (ids from [`filter_ids`]); default [`DEFAULT_ACTIVE`].
    #[serde(default = "default_active")]
    pub active: Vec<String>,
    /// `[age]`.
    #[serde(default)]
    pub age: AgeConfig,
    /// `[blocklist]`.
    #[serde(default)]
    pub blocklist: BlocklistConfig,
    /// `[exclusive]`.
    #[serde(default)]
    pub exclusive: ExclusiveConfig,
    /// `[opt-out]`.
    #[serde(default, rename = "opt-out")]
    pub opt_out: OptOutConfig,
    /// `[[command]]`: custom filters run as external commands.
    #[serde(default)]
    pub command: Vec<CommandFilterConfig>,
}

fn default_active() -> Vec<String> {
    DEFAULT_ACTIVE.iter().map(|id| id.to_string()).collect()
}

impl Default for FilterConfig {
    /// What an empty `filters.toml` means: the default active list and every section's defaults.
    fn default() -> Self {
        FilterConfig {
            active: default_active(),
            age: AgeConfig::default(),
            blocklist: BlocklistConfig::default(),
            exclusive: ExclusiveConfig::default(),
            opt_out: OptOutConfig::default(),
            command: Vec::new(),
        }
    }
}

impl FilterConfig {
    /// Parses and validates the text of a `filters.toml`.
    pub fn parse(text: &str) -> Result<FilterConfig, FilterConfigError> {
        let config: FilterConfig = toml::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    /// The blocklist file path (`blocklist.file`), relative to `filters.toml`, for the caller to
    /// read and hand to [`FilterConfig::build`].
    pub fn blocklist_file(&self) -> Option<&str> {
        self.blocklist.file.as_deref()
    }

    /// Checks everything that does not depend on the account: filter ids, account ids, globs,
    /// ARNs and opt-out entries. [`FilterConfig::parse`] and [`FilterConfig::build`] call it.
    pub fn validate(&self) -> Result<(), FilterConfigError> {
        for (i, c) in self.command.iter().enumerate() {
            let field = format!("command[{i}]");
            c.validate(&field)?;
            if filter_ids().any(|known| known == c.id) {
                return Err(FilterConfigError::invalid(
                    format!("{field}.id"),
                    format!("{:?} is the id of a built-in filter", c.id),
                ));
            }
            if self.command[..i].iter().any(|o| o.id == c.id) {
                return Err(FilterConfigError::invalid(
                    format!("{field}.id"),
                    format!("filter {:?} is declared twice", c.id),
                ));
            }
        }
        let mut valid: Vec<&str> = filter_ids().collect();
        valid.extend(self.command.iter().map(|c| c.id.as_str()));
        for (i, id) in self.active.iter().enumerate() {
            if !valid.contains(&id.as_str()) {
                return Err(FilterConfigError::invalid(
                    format!("active[{i}]"),
                    format!("unknown filter id {id:?}; valid ids: {}", valid.join(", ")),
                ));
            }
            if self.active[..i].contains(id) {
                return Err(FilterConfigError::invalid(
                    format!("active[{i}]"),
                    format!("filter {id:?} is listed twice"),
                ));
            }
        }
        self.age.validate()?;
        self.blocklist.validate()?;
        self.exclusive.validate()?;
        self.opt_out.validate()?;
        Ok(())
    }

    /// The active filters for `account`, compiled once. `blocklist_file` is the contents of the
    /// file named by [`FilterConfig::blocklist_file`]; it is required when that key is set and
    /// the blocklist filter is active.
    pub fn build(
        &self,
        account: &str,
        blocklist_file: Option<&str>,
    ) -> Result<FilterSet, FilterConfigError> {
        self.validate()?;
        check_account_id("account", account)?;
        let ctx = BuildContext {
            account,
            blocklist_file,
        };
        let mut filters = Vec::with_capacity(self.active.len());
        for id in &self.active {
            // validate() has checked every id against the registry and the commands.
            if let Some((_, build)) = REGISTRY.iter().find(|(known, _)| known == id) {
                filters.push(Slot::Role(build(self, &ctx)?));
            } else if let Some(c) = self.command.iter().find(|c| &c.id == id) {
                filters.push(Slot::Command(CommandFilter::new(c)));
            }
        }
        let opt_outs = if self.active.iter().any(|id| id == opt_out::ID) {
            self.opt_out.entries_for(account).cloned().collect()
        } else {
            Vec::new()
        };
        Ok(FilterSet {
            account: account.to_string(),
            filters,
            opt_outs,
        })
    }
}

/// The active filters for one account, ready to apply.
#[derive(Debug)]
pub struct FilterSet {
    account: String,
    filters: Vec<Slot>,
    opt_outs: Vec<OptOutEntry>,
}

/// One filter of a set: checked role by role, or a command run over all roles at once.
#[derive(Debug)]
enum Slot {
    Role(Box<dyn Filter>),
    Command(CommandFilter),
}

impl Slot {
    fn id(&self) -> &str {
        match self {
            Slot::Role(f) => f.id(),
            Slot::Command(c) => &c.id,
        }
    }
}

impl<F: Filter + ?Sized> Filter for std::sync::Arc<F> {
    fn id(&self) -> &str {
        (**self).id()
    }

    fn check(&self, role: &Role, now: DateTime<Utc>) -> Option<String> {
        (**self).check(role, now)
    }
}

impl FilterSet {
    /// The id of the `FilterHit` reported for a role from another account than the set's.
    pub const ACCOUNT_MISMATCH: &'static str = "account";

    /// The account this set was built for.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The ids of the filters that run, in order.
    pub fn ids(&self) -> impl Iterator<Item = &str> + '_ {
        self.filters.iter().map(Slot::id)
    }

    /// Adds a custom filter, run after the configured ones.
    pub fn with_custom(mut self, filter: Box<dyn Filter>) -> FilterSet {
        self.filters.push(Slot::Role(filter));
        self
    }

    fn mismatch(&self, role: &Role) -> Option<FilterHit> {
        (role.account != self.account).then(|| FilterHit {
            filter: Self::ACCOUNT_MISMATCH.to_string(),
            reason: format!(
                "role is in account {}, but these filters were built for account {}",
                role.account, self.account
            ),
        })
    }

    /// Every active filter that excludes `role`, in the order of `active`; empty when the role
    /// is in scope. A role from another account than the set's is excluded by a single hit with
    /// filter [`FilterSet::ACCOUNT_MISMATCH`] (fail closed). Command filters run for this role
    /// alone; one that fails excludes the role with the failure as its reason (fail closed) —
    /// use [`FilterSet::apply_all`] to run them once per account and get failures as errors.
    pub fn apply(&self, role: &Role, now: DateTime<Utc>) -> Vec<FilterHit> {
        match self.apply_all(std::slice::from_ref(role), now) {
            Ok(mut hits) => hits.pop().unwrap_or_default(),
            Err(e) => {
                let mut hits = self.apply_in_process(role, now);
                hits.push(FilterHit {
                    filter: e.filter,
                    reason: format!("filter failed: {}", e.message),
                });
                hits
            }
        }
    }

    fn apply_in_process(&self, role: &Role, now: DateTime<Utc>) -> Vec<FilterHit> {
        self.filters
            .iter()
            .filter_map(|f| match f {
                Slot::Role(f) => f.check(role, now).map(|reason| FilterHit {
                    filter: f.id().to_string(),
                    reason,
                }),
                Slot::Command(_) => None,
            })
            .collect()
    }

    /// [`FilterSet::apply`] for many roles at once: per role, in order, its hits. Each command
    /// filter runs once, over the roles of the set's account; a failing one is an error naming it.
    pub fn apply_all(
        &self,
        roles: &[Role],
        now: DateTime<Utc>,
    ) -> Result<Vec<Vec<FilterHit>>, CommandFilterError> {
        let in_account: Vec<&Role> = roles.iter().filter(|r| r.account == self.account).collect();
        let mut command_results = Vec::new();
        for f in &self.filters {
            if let Slot::Command(c) = f {
                let result = if in_account.is_empty() {
                    Vec::new()
                } else {
                    c.run(&self.account, &in_account)?
                };
                command_results.push(result);
            }
        }
        let mut out = Vec::with_capacity(roles.len());
        let mut index = 0;
        for role in roles {
            if let Some(hit) = self.mismatch(role) {
                out.push(vec![hit]);
                continue;
            }
            let mut hits = Vec::new();
            let mut command = 0;
            for f in &self.filters {
                let reason = match f {
                    Slot::Role(f) => f.check(role, now),
                    Slot::Command(_) => {
                        command += 1;
                        command_results[command - 1][index].clone()
                    }
                };
                if let Some(reason) = reason {
                    hits.push(FilterHit {
                        filter: f.id().to_string(),
                        reason,
                    });
                }
            }
            index += 1;
            out.push(hits);
        }
        Ok(out)
    }

    /// The opt-out entries for this account that have expired at `now` and are therefore
    /// ignored; empty when the opt-out filter is not active.
    pub fn expired_opt_outs(&self, now: DateTime<Utc>) -> Vec<&OptOutEntry> {
        self.opt_outs
            .iter()
            .filter(|e| e.expires.is_expired(now))
            .collect()
    }
}

/// Whether `s` is a 12-digit AWS account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// An error naming `field` unless `value` is a 12-digit account id.
pub(crate) fn check_account_id(field: &str, value: &str) -> Result<(), FilterConfigError> {
    if is_account_id(value) {
        Ok(())
    } else {
        Err(FilterConfigError::invalid(
            field,
            format!("{value:?} is not a 12-digit account id"),
        ))
    }
}

/// The ids of every known filter, in registry order.
pub fn filter_ids() -> impl Iterator<Item = &'static str> {
    REGISTRY.iter().map(|(id, _)| *id)
}

/// What a filter may need beyond its own section when it is built.
struct BuildContext<'a> {
    account: &'a str,
    blocklist_file: Option<&'a str>,
}

/// How a registered filter is built from the configuration.
type BuildFn = fn(&FilterConfig, &BuildContext<'_>) -> Result<Box<dyn Filter>, FilterConfigError>;

/// The registry: every filter, by id. Adding a filter means a module and one line here.
const REGISTRY: &[(&str, BuildFn)] = &[
    (age::ID, |c, _| Ok(Box::new(AgeFilter::new(&c.age)))),
    (blocklist::ID, |c, ctx| {
        Ok(Box::new(BlocklistFilter::new(
            &c.blocklist,
            ctx.account,
            ctx.blocklist_file,
        )?))
    }),
    (exclusive::ID, |c, ctx| {
        Ok(Box::new(ExclusiveFilter::new(&c.exclusive, ctx.account)?))
    }),
    (lambda::ID, |_, _| Ok(Box::new(LambdaFilter))),
    (opt_out::ID, |c, ctx| {
        Ok(Box::new(OptOutFilter::new(&c.opt_out, ctx.account)))
    }),
];

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::engine::PolicyMap;
    use chrono::TimeZone;

    pub(crate) const ACCOUNT: &str = "123456789012";

    pub(crate) fn role(name: &str) -> Role {
        Role::new(ACCOUNT, name, PolicyMap::new())
    }

    pub(crate) fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 15, 12, 0, 0)
            .single()
            .unwrap_or_default()
    }

    fn invalid_field(err: FilterConfigError) -> String {
        match err {
            FilterConfigError::Invalid { field, .. } => field,
            other => panic!("expected an Invalid error, got {other:?}"),
        }
    }

    #[test]
    fn default_file_parses_and_builds() {
        let config = FilterConfig::parse(DEFAULT_FILTERS_TOML).expect("default filters.toml");
        assert_eq!(config.active, DEFAULT_ACTIVE);
        assert_eq!(config.age.minimum_days, 90);
        assert_eq!(config.blocklist_file(), None);
        let set = config.build(ACCOUNT, None).expect("builds");
        assert_eq!(set.ids().collect::<Vec<_>>(), DEFAULT_ACTIVE);
        assert!(set.expired_opt_outs(now()).is_empty());
    }

    #[test]
    fn empty_file_is_the_default() {
        assert_eq!(
            FilterConfig::parse("").expect("parses"),
            FilterConfig::default()
        );
    }

    #[test]
    fn registry_ids_are_unique_and_match_filters() {
        let ids: Vec<&str> = filter_ids().collect();
        assert_eq!(ids, ["age", "blocklist", "exclusive", "lambda", "opt-out"]);
        let config = FilterConfig {
            active: ids.iter().map(|s| s.to_string()).collect(),
            ..FilterConfig::default()
        };
        let set = config.build(ACCOUNT, None).expect("builds");
        assert_eq!(set.ids().collect::<Vec<_>>(), ids);
    }

    #[test]
    fn hits_follow_the_active_order() {
        let text = r#"
            active = ["opt-out", "blocklist", "age"]
            [blocklist]
            all = ["web"]
            [opt-out]
            tag_key = "keep"
        "#;
        let config = FilterConfig::parse(text).expect("parses");
        let mut r = role("web");
        r.tags.push(("keep".into(), "yes".into()));
        let hits = config
            .build(ACCOUNT, None)
            .expect("builds")
            .apply(&r, now());
        let ids: Vec<&str> = hits.iter().map(|h| h.filter.as_str()).collect();
        assert_eq!(ids, ["opt-out", "blocklist", "age"]);

        let config = FilterConfig {
            active: vec!["age".into(), "opt-out".into(), "blocklist".into()],
            ..config
        };
        let hits = config
            .build(ACCOUNT, None)
            .expect("builds")
            .apply(&r, now());
        let ids: Vec<&str> = hits.iter().map(|h| h.filter.as_str()).collect();
        assert_eq!(ids, ["age", "opt-out", "blocklist"]);
    }

    #[test]
    fn inactive_filters_do_not_run() {
        let config = FilterConfig::parse("active = []").expect("parses");
        assert!(
            config
                .build(ACCOUNT, None)
                .expect("builds")
                .apply(&role("x"), now())
                .is_empty()
        );
    }

    #[test]
    fn role_from_another_account_is_excluded() {
        let set = FilterConfig::parse("active = []")
            .and_then(|c| c.build(ACCOUNT, None))
            .expect("builds");
        let other = Role::new("210987654321", "x", PolicyMap::new());
        let hits = set.apply(&other, now());
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].filter, FilterSet::ACCOUNT_MISMATCH);
    }

    #[test]
    fn unknown_field_is_rejected() {
        let err = FilterConfig::parse("[age]\nminimum_dayz = 30\n").expect_err("typo");
        let msg = err.to_string();
        assert!(matches!(err, FilterConfigError::Toml(_)));
        assert!(msg.contains("minimum_dayz"), "{msg}");
        assert!(msg.contains("line 2"), "{msg}");

        let err = FilterConfig::parse("[lamda]\n").expect_err("unknown table");
        assert!(err.to_string().contains("lamda"));
    }

    #[test]
    fn unknown_active_id_lists_valid_ids() {
        let err = FilterConfig::parse(r#"active = ["age", "optout"]"#).expect_err("bad id");
        let msg = err.to_string();
        assert!(msg.starts_with("active[1]: "), "{msg}");
        assert!(
            msg.contains("age, blocklist, exclusive, lambda, opt-out"),
            "{msg}"
        );
    }

    #[test]
    fn duplicate_active_id_is_rejected() {
        let err = FilterConfig::parse(r#"active = ["age", "age"]"#).expect_err("duplicate");
        assert_eq!(invalid_field(err), "active[1]");
    }

    #[test]
    fn bad_account_ids_are_rejected_naming_the_field() {
        let cases = [
            (
                "[blocklist.accounts]\n\"12345\" = [\"x\"]\n",
                "blocklist.accounts.\"12345\"",
            ),
            (
                "[exclusive.accounts]\n\"12345678901a\" = [\"x*\"]\n",
                "exclusive.accounts.\"12345678901a\"",
            ),
            (
                "[[opt-out.entries]]\naccount = \"1234\"\nrole = \"r\"\nowner = \"o\"\nreason = \"why\"\nexpires = \"2027-01-31\"\n",
                "opt-out.entries[0].account",
            ),
        ];
        for (text, field) in cases {
            let err = FilterConfig::parse(text).expect_err(text);
            assert_eq!(invalid_field(err), field);
        }
        let err = FilterConfig::default()
            .build("12345", None)
            .expect_err("bad account");
        assert_eq!(invalid_field(err), "account");
    }

    #[test]
    fn filter_hit_serializes() {
        let hit = FilterHit {
            filter: "age".into(),
            reason: "create date unknown".into(),
        };
        let json = serde_json::to_string(&hit).expect("serializes");
        assert_eq!(json, r#"{"filter":"age","reason":"create date unknown"}"#);
    }
}
