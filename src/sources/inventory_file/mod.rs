//! A role inventory from a file: the JSON that `aws iam get-account-authorization-details` prints
//! (GAAD), turned into [`Role`]s.
//!
//! Accepted shapes:
//!
//! * the CLI's single merged object `{"RoleDetailList": [...], "UserDetailList": [...],
//!   "GroupDetailList": [...], "Policies": [...], "IsTruncated": false}`;
//! * an array of such objects (the pages of a paginated call, or several accounts), merged.
//!
//! Only `RoleDetailList` is read; the other lists are ignored. A last (or only) page with
//! `IsTruncated: true` or a `NextToken` is an error: the file holds only part of the account, and
//! the missing roles would silently drop out of the store.
//!
//! Per role: `RoleName`, `Arn` (the account is its 5th `:` field, in any partition), `Path`,
//! `RoleId`, `CreateDate` (RFC 3339, as the CLI prints it: `2019-01-01T00:00:00+00:00`),
//! `AssumeRolePolicyDocument`, `Tags`, `RolePolicyList` and `AttachedManagedPolicies`. Policy
//! documents may be JSON objects (as the CLI prints them) or strings, URL-encoded as IAM's API
//! returns them (reference §12.3) or plain JSON. Other keys (`InstanceProfileList`,
//! `RoleLastUsed`, …) are ignored.
//!
//! Everything that becomes a path (account id, role name) and every policy name is validated; a
//! role name that appears twice in an account (compared case-insensitively, as IAM does) and a
//! policy name that appears twice in a role are errors. Every error names the file, the place
//! (`RoleDetailList[3].RolePolicyList[1].PolicyDocument`) and, once known, the role.
//!
//! The module is split by concern: `parse` reads the file ([`parse_inventory`]: text, JSON, pages,
//! truncation, each account's roles once), `role` reads and validates one `RoleDetailList` entry,
//! and `canonical` writes roles back in the form the parser reads ([`inventory_to_json`]).

mod canonical;
mod parse;
mod role;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;

use crate::engine::Role;
use crate::engine::policy::PolicyError;
use crate::store::names::NameError;

pub use canonical::inventory_to_json;
pub use parse::parse_inventory;

/// Roles read from an inventory, by account.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Inventory {
    /// Account id → its roles, sorted by name.
    pub roles: BTreeMap<String, Vec<Role>>,
}

impl Inventory {
    /// How many roles, over all accounts.
    pub fn len(&self) -> usize {
        self.roles.values().map(Vec::len).sum()
    }

    /// Whether there are no roles at all.
    pub fn is_empty(&self) -> bool {
        self.roles.values().all(Vec::is_empty)
    }

    /// Every role, account by account, each account's roles by name.
    pub fn iter(&self) -> impl Iterator<Item = &Role> {
        self.roles.values().flatten()
    }
}

/// An inventory file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {place}{}: {kind}", RoleNote(.role.as_deref()))]
pub struct InventoryError {
    /// The file (as the caller named it).
    pub file: String,
    /// Where in it: `RoleDetailList[3].RolePolicyList[1].PolicyDocument`, `[1].IsTruncated` for
    /// the second page of an array, or `line 12 column 5` for text that is not JSON.
    pub place: String,
    /// The role the place belongs to, once its name is known.
    pub role: Option<String>,
    /// What is wrong (boxed: the error travels through every `?` of the parser).
    pub kind: Box<InventoryErrorKind>,
}

/// ` (role x)` when the role is known.
struct RoleNote<'a>(Option<&'a str>);

impl fmt::Display for RoleNote<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(role) => write!(f, " (role {role})"),
            None => Ok(()),
        }
    }
}

/// What is wrong with an inventory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InventoryErrorKind {
    /// The file is not UTF-8 text.
    #[error("not UTF-8 text: {0}")]
    NotUtf8(String),
    /// The file is not JSON, or has a duplicated object key.
    #[error("{0}")]
    Json(String),
    /// A value is missing or of the wrong type.
    #[error("{0}")]
    Shape(String),
    /// The last page says there is more: the file holds only part of the account.
    #[error(
        "the response is truncated (IsTruncated: true or a NextToken on the last page), so the \
         file holds only part of the account's roles; re-run `aws iam \
         get-account-authorization-details` without --max-items and without --no-paginate, so \
         the CLI fetches every page"
    )]
    Truncated,
    /// A role ARN that cannot be read, or that does not match the role's name or path.
    #[error("{0}")]
    Arn(String),
    /// An account id, role name or policy name that is not valid.
    #[error(transparent)]
    Name(NameError),
    /// Two roles of one account with the same name (compared case-insensitively, as IAM does).
    #[error("role {name:?} appears twice in account {account} (also at {other})")]
    DuplicateRole {
        /// The account.
        account: String,
        /// The role name.
        name: String,
        /// Where the other one is.
        other: String,
    },
    /// Two inline policies of one role with the same name.
    #[error("inline policy {name:?} appears twice (also at {other})")]
    DuplicatePolicy {
        /// The policy name.
        name: String,
        /// Where the other one is.
        other: String,
    },
    /// An inline policy document that cannot be read.
    #[error(transparent)]
    Policy(PolicyError),
}

/// Builds errors for one file and, once known, one role.
#[derive(Clone, Copy)]
struct At<'a> {
    file: &'a str,
    role: Option<&'a str>,
}

impl<'a> At<'a> {
    fn fail(self, place: impl Into<String>, kind: InventoryErrorKind) -> InventoryError {
        InventoryError {
            file: self.file.to_string(),
            place: place.into(),
            role: self.role.map(str::to_string),
            kind: Box::new(kind),
        }
    }

    fn shape(self, place: impl Into<String>, message: impl Into<String>) -> InventoryError {
        self.fail(place, InventoryErrorKind::Shape(message.into()))
    }

    fn for_role(self, role: &'a str) -> At<'a> {
        At {
            role: Some(role),
            ..self
        }
    }
}
