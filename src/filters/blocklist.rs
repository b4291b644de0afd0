//! `blocklist`: roles named in the blocklist are out of scope.
//!
//! Names are listed per account or under `all` and match case-insensitively (IAM role names are
//! unique regardless of case); ARNs match exactly. An optional blocklist file in Repokid's S3
//! format adds more: `{"arns": [...], "names": {"role_a": ["all"], "role_b": ["222222222222"]}}`.
//! Repokid never loaded that file (W8); here the caller reads it and passes its contents in.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{Filter, FilterConfigError, check_account_id, is_account_id};
use crate::engine::Role;

/// This filter's id and `filters.toml` table.
pub const ID: &str = "blocklist";

/// `[blocklist]` in `filters.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlocklistConfig {
    /// Role names excluded in every account.
    #[serde(default)]
    pub all: Vec<String>,
    /// Role names excluded per account id.
    #[serde(default)]
    pub accounts: BTreeMap<String, Vec<String>>,
    /// Exact role ARNs excluded.
    #[serde(default)]
    pub arns: Vec<String>,
    /// A blocklist file in Repokid's S3 JSON format, relative to `filters.toml`.
    #[serde(default)]
    pub file: Option<String>,
}

impl BlocklistConfig {
    pub(crate) fn validate(&self) -> Result<(), FilterConfigError> {
        check_names("blocklist.all", &self.all)?;
        for (account, names) in &self.accounts {
            let field = format!("blocklist.accounts.{account:?}");
            check_account_id(&field, account)?;
            check_names(&field, names)?;
        }
        for (i, arn) in self.arns.iter().enumerate() {
            check_arn(&format!("blocklist.arns[{i}]"), arn)?;
        }
        if self.file.as_deref().is_some_and(|f| f.trim().is_empty()) {
            return Err(FilterConfigError::invalid(
                "blocklist.file",
                "must be a path, not empty",
            ));
        }
        Ok(())
    }
}

fn check_names(field: &str, names: &[String]) -> Result<(), FilterConfigError> {
    for (i, name) in names.iter().enumerate() {
        if name.trim().is_empty() {
            return Err(FilterConfigError::invalid(
                format!("{field}[{i}]"),
                "role name must not be empty",
            ));
        }
    }
    Ok(())
}

/// Whether `arn` looks like `arn:<partition>:iam::<12 digits>:role/<path/name>`.
fn is_role_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    matches!(
        parts.as_slice(),
        ["arn", partition, "iam", "", account, resource]
            if !partition.is_empty() && is_account_id(account)
                && resource.strip_prefix("role/").is_some_and(|r| !r.is_empty())
    )
}

fn check_arn(field: &str, arn: &str) -> Result<(), FilterConfigError> {
    if is_role_arn(arn) {
        Ok(())
    } else {
        Err(FilterConfigError::invalid(
            field,
            format!("{arn:?} is not an IAM role ARN (arn:<partition>:iam::<account>:role/<name>)"),
        ))
    }
}

/// Repokid's S3 blocklist file: exactly the keys `arns` and `names`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlocklistFile {
    /// Exact role ARNs excluded.
    pub arns: Vec<String>,
    /// Role name → the account ids it is excluded in, or `["all"]`.
    pub names: BTreeMap<String, Vec<String>>,
}

impl BlocklistFile {
    /// Parses and validates the file's text. Any key set other than exactly `arns` and `names`,
    /// a duplicate key, an ARN that is not a role ARN, or an account that is neither `all` nor a
    /// 12-digit id is an error.
    pub fn parse(text: &str) -> Result<BlocklistFile, FilterConfigError> {
        let err = |message: String| FilterConfigError::BlocklistFile { message };
        let value = crate::engine::json::parse_strict(text).map_err(|e| err(e.to_string()))?;
        if let Some(obj) = value.as_object() {
            let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
            keys.sort_unstable();
            if keys != ["arns", "names"] {
                return Err(err(format!(
                    "expected exactly the keys \"arns\" and \"names\", found {keys:?}"
                )));
            }
        }
        let file: BlocklistFile = serde_json::from_value(value).map_err(|e| err(e.to_string()))?;
        for (i, arn) in file.arns.iter().enumerate() {
            if !is_role_arn(arn) {
                return Err(err(format!("arns[{i}]: {arn:?} is not an IAM role ARN")));
            }
        }
        for (name, accounts) in &file.names {
            if name.trim().is_empty() {
                return Err(err("names: role name must not be empty".to_string()));
            }
            for (i, account) in accounts.iter().enumerate() {
                if account != "all" && !is_account_id(account) {
                    return Err(err(format!(
                        "names.{name:?}[{i}]: {account:?} is neither \"all\" nor a 12-digit account id"
                    )));
                }
            }
        }
        Ok(file)
    }
}

/// Excludes blocklisted role names and ARNs for one account.
#[derive(Debug, Clone)]
pub struct BlocklistFilter {
    /// Lowercased name → where it was listed (for the reason).
    names: HashMap<String, String>,
    /// Exact ARN → where it was listed.
    arns: HashMap<String, String>,
}

impl BlocklistFilter {
    /// The filter for `account` from `config` and, when given, the blocklist file's contents. An
    /// error when `config.file` is set but no contents are given (fail closed), or when the file
    /// is malformed.
    pub fn new(
        config: &BlocklistConfig,
        account: &str,
        file_contents: Option<&str>,
    ) -> Result<BlocklistFilter, FilterConfigError> {
        let mut filter = BlocklistFilter {
            names: HashMap::new(),
            arns: HashMap::new(),
        };
        if let Some(names) = config.accounts.get(account) {
            let source = format!("blocklist.accounts.{account:?}");
            filter.add_names(names, &source);
        }
        filter.add_names(&config.all, "blocklist.all");
        filter.add_arns(&config.arns, "blocklist.arns");
        match (file_contents, &config.file) {
            (Some(text), _) => {
                let file = BlocklistFile::parse(text)?;
                let names: Vec<String> = file
                    .names
                    .iter()
                    .filter(|(_, accounts)| accounts.iter().any(|a| a == "all" || a == account))
                    .map(|(name, _)| name.clone())
                    .collect();
                filter.add_names(&names, "the blocklist file");
                filter.add_arns(&file.arns, "the blocklist file");
            }
            (None, Some(path)) => {
                return Err(FilterConfigError::invalid(
                    "blocklist.file",
                    format!("{path:?} is configured but its contents were not supplied"),
                ));
            }
            (None, None) => {}
        }
        Ok(filter)
    }

    fn add_names(&mut self, names: &[String], source: &str) {
        for name in names {
            self.names
                .entry(name.to_lowercase())
                .or_insert_with(|| source.to_string());
        }
    }

    fn add_arns(&mut self, arns: &[String], source: &str) {
        for arn in arns {
            self.arns
                .entry(arn.clone())
                .or_insert_with(|| source.to_string());
        }
    }
}

impl Filter for BlocklistFilter {
    fn id(&self) -> &'static str {
        ID
    }

    fn check(&self, role: &Role, _now: DateTime<Utc>) -> Option<String> {
        if let Some(source) = self.names.get(&role.name.to_lowercase()) {
            return Some(format!(
                "role name {} is blocklisted in {source}",
                role.name
            ));
        }
        self.arns
            .get(&role.arn)
            .map(|source| format!("role ARN {} is blocklisted in {source}", role.arn))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filters::tests::{ACCOUNT, now, role};
    use crate::filters::{FilterConfig, FilterConfigError};

    fn config(text: &str) -> BlocklistConfig {
        FilterConfig::parse(text).expect("parses").blocklist
    }

    fn excluded(f: &BlocklistFilter, name: &str) -> bool {
        f.check(&role(name), now()).is_some()
    }

    #[test]
    fn by_account_name_case_insensitive() {
        let c = config(
            "[blocklist.accounts]\n\"123456789012\" = [\"Legacy-Admin\"]\n\"210987654321\" = [\"other\"]\n",
        );
        let f = BlocklistFilter::new(&c, ACCOUNT, None).expect("builds");
        assert!(excluded(&f, "legacy-admin"));
        assert!(excluded(&f, "LEGACY-ADMIN"));
        assert!(!excluded(&f, "other"), "listed for another account only");
        assert!(!excluded(&f, "web"));
        assert_eq!(
            f.check(&role("LEGACY-admin"), now()).as_deref(),
            Some("role name LEGACY-admin is blocklisted in blocklist.accounts.\"123456789012\"")
        );
    }

    #[test]
    fn by_all() {
        let c = config("[blocklist]\nall = [\"OrganizationAccountAccessRole\"]\n");
        let f = BlocklistFilter::new(&c, ACCOUNT, None).expect("builds");
        assert!(excluded(&f, "organizationaccountaccessrole"));
        assert!(!excluded(&f, "web"));
    }

    #[test]
    fn by_exact_arn() {
        let c = config("[blocklist]\narns = [\"arn:aws:iam::123456789012:role/web\"]\n");
        let f = BlocklistFilter::new(&c, ACCOUNT, None).expect("builds");
        let hit = f.check(&role("web"), now());
        assert_eq!(
            hit.as_deref(),
            Some("role ARN arn:aws:iam::123456789012:role/web is blocklisted in blocklist.arns")
        );
        let mut moved = role("web");
        moved.arn = "arn:aws:iam::123456789012:role/team/web".into();
        assert_eq!(f.check(&moved, now()), None, "ARNs match exactly");
    }

    #[test]
    fn by_file() {
        let text = r#"{
            "arns": ["arn:aws:iam::123456789012:role/by-arn"],
            "names": {"role_a": ["all"], "role_b": ["123456789012"], "role_c": ["222222222222"]}
        }"#;
        let f =
            BlocklistFilter::new(&BlocklistConfig::default(), ACCOUNT, Some(text)).expect("builds");
        assert!(excluded(&f, "role_a"));
        assert!(excluded(&f, "ROLE_B"));
        assert!(!excluded(&f, "role_c"), "listed for another account only");
        assert!(excluded(&f, "by-arn"));
        assert_eq!(
            f.check(&role("role_a"), now()).as_deref(),
            Some("role name role_a is blocklisted in the blocklist file")
        );
    }

    #[test]
    fn file_with_wrong_key_set_is_rejected() {
        for text in [
            r#"{"arns": [], "names": {}, "extra": 1}"#,
            r#"{"arns": []}"#,
            r#"{"names": {}}"#,
            r#"{"arns": [], "arns": [], "names": {}}"#,
            r#"["arns", "names"]"#,
            r#"{"arns": [], "names": {"x": ["12345"]}}"#,
            r#"{"arns": ["x"], "names": {}}"#,
            "not json",
        ] {
            let err = BlocklistFilter::new(&BlocklistConfig::default(), ACCOUNT, Some(text))
                .expect_err(text);
            assert!(
                matches!(err, FilterConfigError::BlocklistFile { .. }),
                "{text}: {err:?}"
            );
        }
        let err = BlocklistFile::parse(r#"{"arns": [], "names": {}, "extra": 1}"#)
            .expect_err("extra key");
        assert!(err.to_string().contains("\"extra\""), "{err}");
    }

    #[test]
    fn configured_file_without_contents_fails_closed() {
        let c = config("[blocklist]\nfile = \"blocklist.json\"\n");
        let err = BlocklistFilter::new(&c, ACCOUNT, None).expect_err("contents missing");
        assert!(err.to_string().starts_with("blocklist.file: "), "{err}");
    }

    #[test]
    fn bad_arn_in_config_is_rejected() {
        let err = FilterConfig::parse("[blocklist]\narns = [\"web\"]\n").expect_err("not an ARN");
        assert!(err.to_string().starts_with("blocklist.arns[0]: "), "{err}");
        assert!(is_role_arn("arn:aws-cn:iam::123456789012:role/path/web"));
        assert!(!is_role_arn("arn:aws:iam::123456789012:user/web"));
    }
}
