//! Reading an inventory file: UTF-8 text, strict JSON, one response or an array of pages, no
//! truncated last page, and each account's roles once (names compared case-insensitively).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Map, Value};

use super::role::{kind, parse_role};
use super::{At, Inventory, InventoryError, InventoryErrorKind};
use crate::engine::Role;
use crate::engine::json::parse_strict;

/// Parses an inventory (the output of `aws iam get-account-authorization-details`, or an array of
/// its pages). `source` names the file in every error.
pub fn parse_inventory(source: &str, bytes: &[u8]) -> Result<Inventory, InventoryError> {
    let at = At {
        file: source,
        role: None,
    };
    let text = utf8_text(at, bytes)?;
    // The text is known to be UTF-8, so the `&str` parser (which skips re-validating it) is used;
    // duplicate keys are rejected as by `parse_strict_slice`.
    let value = parse_strict(text).map_err(|e| json_error(at, text, &e))?;
    let pages: Vec<(String, Map<String, Value>)> = match value {
        Value::Object(page) => vec![(String::new(), page)],
        Value::Array(items) => {
            if items.is_empty() {
                return Err(at.shape(
                    "$",
                    "an empty array: expected the pages of a get-account-authorization-details \
                     response",
                ));
            }
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::Object(page) => Ok((format!("[{i}]."), page)),
                    other => Err(at.shape(
                        format!("[{i}]"),
                        format!(
                            "a page must be a get-account-authorization-details response object, \
                             found {}",
                            kind(&other)
                        ),
                    )),
                })
                .collect::<Result<_, _>>()?
        }
        other => {
            return Err(at.shape(
                "$",
                format!(
                    "expected a get-account-authorization-details response (an object) or an \
                     array of them, found {}",
                    kind(&other)
                ),
            ));
        }
    };
    // Truncation first: it makes the whole file unusable, whatever else is wrong with it.
    for (i, (prefix, page)) in pages.iter().enumerate() {
        check_truncation(at, prefix, page, i + 1 == pages.len())?;
    }
    let mut accounts: BTreeMap<String, AccountRoles> = BTreeMap::new();
    // The accounts of the previous page, when it said more pages follow: the next page must be
    // of the same account, or that account's remaining pages are missing.
    let mut continued: Option<(String, BTreeSet<String>)> = None;
    for (prefix, mut page) in pages {
        let truncated = matches!(page.get("IsTruncated"), Some(Value::Bool(true)));
        let mut page_accounts = BTreeSet::new();
        let list_place = format!("{prefix}RoleDetailList");
        let list = match page.remove("RoleDetailList") {
            Some(Value::Array(list)) => list,
            Some(other) => {
                return Err(at.shape(
                    list_place,
                    format!("must be an array of roles, found {}", kind(&other)),
                ));
            }
            None => {
                return Err(at.shape(
                    list_place,
                    "missing RoleDetailList: not a get-account-authorization-details response",
                ));
            }
        };
        for (j, item) in list.into_iter().enumerate() {
            let place = format!("{list_place}[{j}]");
            let role = parse_role(at, &place, item)?;
            if let Some((previous, expected)) = &continued
                && !expected.is_empty()
                && !expected.contains(&role.account)
            {
                return Err(at.for_role(&role.name).fail(
                    &place,
                    InventoryErrorKind::Shape(format!(
                        "account {} follows a truncated page of account(s) {} \
                             ({previous}IsTruncated: true): that account's remaining pages are \
                             missing",
                        role.account,
                        expected.iter().cloned().collect::<Vec<_>>().join(", ")
                    )),
                ));
            }
            page_accounts.insert(role.account.clone());
            let roles = accounts.entry(role.account.clone()).or_default();
            match roles.places.get(&role.name.to_ascii_lowercase()) {
                Some(other) => {
                    return Err(at.for_role(&role.name).fail(
                        &place,
                        InventoryErrorKind::DuplicateRole {
                            account: role.account.clone(),
                            name: role.name.clone(),
                            other: other.clone(),
                        },
                    ));
                }
                None => {
                    roles.places.insert(role.name.to_ascii_lowercase(), place);
                    roles.roles.push(role);
                }
            }
        }
        continued = match continued {
            // A page without roles says nothing about the account: carry the expectation on.
            Some(c) if page_accounts.is_empty() && truncated => Some(c),
            _ if truncated => Some((prefix, page_accounts)),
            _ => None,
        };
    }
    Ok(Inventory {
        roles: accounts
            .into_iter()
            .map(|(account, mut a)| {
                a.roles.sort_by(|x, y| x.name.cmp(&y.name));
                (account, a.roles)
            })
            .collect(),
    })
}

/// One account's roles while reading, with where each name was found.
#[derive(Default)]
struct AccountRoles {
    roles: Vec<Role>,
    /// Lowercase role name → its place.
    places: HashMap<String, String>,
}

/// The file as text: UTF-8, with a byte-order mark (as PowerShell writes) skipped.
fn utf8_text<'b>(at: At<'_>, bytes: &'b [u8]) -> Result<&'b str, InventoryError> {
    if bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]) {
        return Err(at.fail(
            "byte 0",
            InventoryErrorKind::NotUtf8(
                "the file is UTF-16 (PowerShell's `>` writes UTF-16); save it as UTF-8, e.g. \
                 `aws iam get-account-authorization-details | Out-File -Encoding utf8 FILE`"
                    .to_string(),
            ),
        ));
    }
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let good = &bytes[..e.valid_up_to()];
        let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        // The prefix is valid UTF-8, so the column counts characters.
        let column = String::from_utf8_lossy(&good[line_start..]).chars().count() + 1;
        let byte = bytes.get(e.valid_up_to()).copied().unwrap_or(0);
        at.fail(
            format!("line {line} column {column}"),
            InventoryErrorKind::NotUtf8(format!(
                "invalid byte 0x{byte:02x} at byte offset {}",
                e.valid_up_to()
            )),
        )
    })
}

/// A JSON error, placed by line and column. Text that looks like UTF-16 without a byte-order mark
/// gets a hint.
fn json_error(at: At<'_>, text: &str, e: &serde_json::Error) -> InventoryError {
    let mut message = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    if let Some(stripped) = message.strip_suffix(&suffix) {
        message = stripped.to_string();
    }
    if text.as_bytes().get(1) == Some(&0) || text.as_bytes().first() == Some(&0) {
        message.push_str(" (the file looks like UTF-16; save it as UTF-8)");
    }
    at.fail(
        format!("line {} column {}", e.line(), e.column()),
        InventoryErrorKind::Json(message),
    )
}

/// `IsTruncated` must be a boolean; on the last page it must not be `true`, and there must be no
/// `NextToken` (the CLI's token for resuming after `--max-items`).
fn check_truncation(
    at: At<'_>,
    prefix: &str,
    page: &Map<String, Value>,
    last: bool,
) -> Result<(), InventoryError> {
    let truncated = match page.get("IsTruncated") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(at.shape(
                format!("{prefix}IsTruncated"),
                format!("must be true or false, found {}", kind(other)),
            ));
        }
    };
    if !last {
        return Ok(());
    }
    if truncated {
        return Err(at.fail(
            format!("{prefix}IsTruncated"),
            InventoryErrorKind::Truncated,
        ));
    }
    match page.get("NextToken") {
        None | Some(Value::Null) => Ok(()),
        Some(_) => Err(at.fail(format!("{prefix}NextToken"), InventoryErrorKind::Truncated)),
    }
}
