//! `opt-out`: roles whose owners asked to be left alone, until a date.
//!
//! Opt-outs are entries in `filters.toml` (reviewed in git like everything else) or a tag on the
//! role. An entry applies to one role in one account until `expires`: a date `YYYY-MM-DD` (to the
//! end of that day, UTC) or an RFC 3339 time. Expired entries are ignored and reported through
//! [`FilterSet::expired_opt_outs`](super::FilterSet::expired_opt_outs) so they can be cleaned up.
//! A role carrying the configured tag (default `repokid-opt-out`, any value) is excluded with no
//! expiry; `tag_key = ""` turns that off.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::Deserialize;

use super::{Filter, FilterConfigError, check_account_id};
use crate::engine::Role;

/// This filter's id and `filters.toml` table.
pub const ID: &str = "opt-out";

/// The default for `opt-out.tag_key`.
pub const DEFAULT_TAG_KEY: &str = "repokid-opt-out";

/// `[opt-out]` in `filters.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptOutConfig {
    /// Roles carrying this tag key are excluded; `""` disables tag opt-outs.
    #[serde(default = "default_tag_key")]
    pub tag_key: String,
    /// Opt-outs of single roles, each until an expiry.
    #[serde(default)]
    pub entries: Vec<OptOutEntry>,
}

fn default_tag_key() -> String {
    DEFAULT_TAG_KEY.to_string()
}

impl Default for OptOutConfig {
    fn default() -> Self {
        OptOutConfig {
            tag_key: default_tag_key(),
            entries: Vec::new(),
        }
    }
}

impl OptOutConfig {
    pub(crate) fn validate(&self) -> Result<(), FilterConfigError> {
        for (i, entry) in self.entries.iter().enumerate() {
            let field = |name: &str| format!("opt-out.entries[{i}].{name}");
            check_account_id(&field("account"), &entry.account)?;
            for (name, value) in [
                ("role", &entry.role),
                ("owner", &entry.owner),
                ("reason", &entry.reason),
            ] {
                if value.trim().is_empty() {
                    return Err(FilterConfigError::invalid(field(name), "must not be empty"));
                }
            }
        }
        Ok(())
    }

    /// The entries for `account`, expired or not.
    pub(crate) fn entries_for<'a>(
        &'a self,
        account: &'a str,
    ) -> impl Iterator<Item = &'a OptOutEntry> {
        self.entries.iter().filter(move |e| e.account == account)
    }
}

/// One opt-out: `role` in `account` is left alone until `expires`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptOutEntry {
    /// 12-digit account id.
    pub account: String,
    /// Role name, matched case-insensitively.
    pub role: String,
    /// Who asked (a person or team address).
    pub owner: String,
    /// Why.
    pub reason: String,
    /// When the opt-out stops applying.
    pub expires: Expiry,
}

/// When an opt-out stops applying: the text as written, and the instant it denotes.
///
/// A date `YYYY-MM-DD` lasts to the end of that day in UTC; an RFC 3339 time (with an offset) is
/// exact. In TOML it may be a string or a bare date / offset date-time.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "toml::Value")]
pub struct Expiry {
    text: String,
    at: DateTime<Utc>,
}

impl Expiry {
    /// The expiry as written in `filters.toml`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first instant at which the opt-out no longer applies.
    pub fn instant(&self) -> DateTime<Utc> {
        self.at
    }

    /// Whether the opt-out has stopped applying at `now`.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.at
    }
}

impl fmt::Display for Expiry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Expiry {
    type Err = String;

    fn from_str(text: &str) -> Result<Expiry, String> {
        let at = if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            // End of that day: the opt-out stops at the next midnight, UTC.
            date.succ_opt()
                .map(|next| next.and_time(NaiveTime::MIN).and_utc())
                .unwrap_or(DateTime::<Utc>::MAX_UTC)
        } else if let Ok(time) = DateTime::parse_from_rfc3339(text) {
            time.with_timezone(&Utc)
        } else {
            return Err(format!(
                "expires {text:?} is neither a date (YYYY-MM-DD) nor an RFC 3339 time with an offset"
            ));
        };
        Ok(Expiry {
            text: text.to_string(),
            at,
        })
    }
}

impl TryFrom<toml::Value> for Expiry {
    type Error = String;

    fn try_from(value: toml::Value) -> Result<Expiry, String> {
        match value {
            toml::Value::String(text) => text.parse(),
            toml::Value::Datetime(datetime) => datetime.to_string().parse(),
            other => Err(format!(
                "expires must be a date or time, found a {}",
                other.type_str()
            )),
        }
    }
}

/// Excludes roles with an unexpired opt-out entry or the opt-out tag.
#[derive(Debug, Clone)]
pub struct OptOutFilter {
    tag_key: String,
    entries: Vec<OptOutEntry>,
}

impl OptOutFilter {
    /// The filter for `account`: its entries and the tag key.
    pub fn new(config: &OptOutConfig, account: &str) -> OptOutFilter {
        OptOutFilter {
            tag_key: config.tag_key.clone(),
            entries: config.entries_for(account).cloned().collect(),
        }
    }
}

impl Filter for OptOutFilter {
    fn id(&self) -> &'static str {
        ID
    }

    fn check(&self, role: &Role, now: DateTime<Utc>) -> Option<String> {
        let entry = self
            .entries
            .iter()
            .filter(|e| e.role.eq_ignore_ascii_case(&role.name) && !e.expires.is_expired(now))
            .max_by_key(|e| e.expires.instant());
        if let Some(e) = entry {
            return Some(format!(
                "opted out by {} until {}: {}",
                e.owner, e.expires, e.reason
            ));
        }
        if self.tag_key.is_empty() {
            return None;
        }
        // Matched case-insensitively: a differently cased key should still opt out (fail closed).
        let (key, value) = role
            .tags
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&self.tag_key))?;
        Some(if value.is_empty() {
            format!("opted out by tag {key}")
        } else {
            format!("opted out by tag {key}: {value}")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filters::tests::{ACCOUNT, now, role};
    use crate::filters::{FilterConfig, FilterSet};

    const ENTRIES: &str = r#"
        active = ["opt-out"]
        [[opt-out.entries]]
        account = "123456789012"
        role = "payments-api"
        owner = "payments-team@example.com"
        reason = "PCI audit until January"
        expires = "2027-01-31"

        [[opt-out.entries]]
        account = "123456789012"
        role = "old-batch"
        owner = "batch@example.com"
        reason = "migration"
        expires = 2026-06-14

        [[opt-out.entries]]
        account = "210987654321"
        role = "payments-api"
        owner = "other@example.com"
        reason = "elsewhere"
        expires = "2020-01-01T00:00:00Z"
    "#;

    fn set(text: &str) -> FilterSet {
        FilterConfig::parse(text)
            .and_then(|c| c.build(ACCOUNT, None))
            .expect("builds")
    }

    #[test]
    fn active_entry_excludes() {
        let hits = set(ENTRIES).apply(&role("Payments-API"), now());
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].filter, "opt-out");
        assert_eq!(
            hits[0].reason,
            "opted out by payments-team@example.com until 2027-01-31: PCI audit until January"
        );
        assert!(set(ENTRIES).apply(&role("web"), now()).is_empty());
    }

    #[test]
    fn expired_entry_is_reported_and_not_applied() {
        let set = set(ENTRIES);
        assert!(set.apply(&role("old-batch"), now()).is_empty());
        let expired = set.expired_opt_outs(now());
        let roles: Vec<&str> = expired.iter().map(|e| e.role.as_str()).collect();
        assert_eq!(roles, ["old-batch"], "only this account's entries");
    }

    #[test]
    fn date_expiry_lasts_to_the_end_of_the_day_utc() {
        let e: Expiry = "2026-06-15".parse().expect("date");
        assert!(!e.is_expired(now()));
        assert!(!e.is_expired(now() + chrono::TimeDelta::hours(11)));
        assert!(e.is_expired(now() + chrono::TimeDelta::hours(12)));
        let e: Expiry = "2026-06-15T13:00:00+02:00".parse().expect("rfc 3339");
        assert!(e.is_expired(now()), "11:00 UTC is before now");
        assert!(
            "2026-06-15T13:00:00".parse::<Expiry>().is_err(),
            "offset required"
        );
        assert!("next week".parse::<Expiry>().is_err());
    }

    #[test]
    fn bad_expiry_is_rejected_at_parse() {
        let text = ENTRIES.replace("\"2027-01-31\"", "\"31/01/2027\"");
        let err = FilterConfig::parse(&text).expect_err("bad date");
        assert!(err.to_string().contains("31/01/2027"), "{err}");
    }

    #[test]
    fn tag_excludes_with_its_value() {
        let set = set("active = [\"opt-out\"]");
        let mut r = role("web");
        r.tags.push((
            "Repokid-Opt-Out".into(),
            "until the migration, ask ops".into(),
        ));
        let hits = set.apply(&r, now());
        assert_eq!(hits.len(), 1);
        assert_eq!(
            hits[0].reason,
            "opted out by tag Repokid-Opt-Out: until the migration, ask ops"
        );
    }

    #[test]
    fn custom_and_disabled_tag_key() {
        let mut r = role("web");
        r.tags.push(("keep-me".into(), String::new()));
        r.tags.push(("repokid-opt-out".into(), "yes".into()));
        let hits =
            set("active = [\"opt-out\"]\n[opt-out]\ntag_key = \"keep-me\"\n").apply(&r, now());
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].reason, "opted out by tag keep-me");
        assert!(
            set("active = [\"opt-out\"]\n[opt-out]\ntag_key = \"\"\n")
                .apply(&r, now())
                .is_empty()
        );
    }

    #[test]
    fn empty_owner_is_rejected() {
        let text = ENTRIES.replace("\"batch@example.com\"", "\"\"");
        let err = FilterConfig::parse(&text).expect_err("empty owner");
        assert_eq!(
            err.to_string(),
            "opt-out.entries[1].owner: must not be empty"
        );
    }
}
