//! Reading role files from the tree of any revision (never from the working tree).

use std::collections::BTreeMap;

use git2::{ObjectType, Oid};

use super::{MODE_BLOB, MODE_BLOB_EXECUTABLE, PolicyStore, account_dir};
use crate::engine::policy::{PolicyError, PolicyMap, parse_policy_map};
use crate::store::names::{validate_account_id, validate_policy_name, validate_role_name};
use crate::store::{POLICIES_DIR, StoreError};

impl PolicyStore {
    /// The accounts with a directory under `policies/` at `rev` (branch, tag, commit or `HEAD`),
    /// sorted. Files directly under `policies/` are ignored; a directory whose name is not a
    /// 12-digit account id is an error.
    pub fn accounts(&self, rev: &str) -> Result<Vec<String>, StoreError> {
        let Some(root) = self.rev_tree(rev)? else {
            return Ok(Vec::new());
        };
        let Some(policies) = self.subtree(&root, POLICIES_DIR, rev)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in policies.iter() {
            if entry.kind() != Some(ObjectType::Tree) {
                continue;
            }
            let name = String::from_utf8_lossy(entry.name_bytes());
            validate_account_id(&name).map_err(|e| {
                StoreError::Other(self.ctx(format!("{POLICIES_DIR}/{name} at {rev}: {e}")))
            })?;
            out.push(name.into_owned());
        }
        Ok(out)
    }

    /// Every role of `account` at `rev` (branch, tag, commit or `HEAD`): role name → inline
    /// policies. An account without a directory has no roles (an empty map). Reads objects only,
    /// never the working tree.
    ///
    /// Errors: [`StoreError::BadFile`] for a file that does not parse or is not named
    /// `<RoleName>.json`, naming the file and `rev`.
    pub fn read_account(
        &self,
        rev: &str,
        account: &str,
    ) -> Result<BTreeMap<String, PolicyMap>, StoreError> {
        validate_account_id(account)?;
        let mut out = BTreeMap::new();
        let Some(root) = self.rev_tree(rev)? else {
            return Ok(out);
        };
        let dir = account_dir(account);
        let Some(tree) = self.subtree(&root, &dir, rev)? else {
            return Ok(out);
        };
        for entry in tree.iter() {
            let (role, path) = self.role_entry(&dir, &entry, rev)?;
            let map = self.read_blob(&path, entry.id(), rev)?;
            out.insert(role, map);
        }
        Ok(out)
    }

    /// One role's inline policies at `rev`; `None` if it has no file there.
    pub fn read_role(
        &self,
        rev: &str,
        account: &str,
        role: &str,
    ) -> Result<Option<PolicyMap>, StoreError> {
        validate_account_id(account)?;
        validate_role_name(role)?;
        let Some(root) = self.rev_tree(rev)? else {
            return Ok(None);
        };
        let dir = account_dir(account);
        let Some(tree) = self.subtree(&root, &dir, rev)? else {
            return Ok(None);
        };
        match tree.get_name(&format!("{role}.json")) {
            None => Ok(None),
            Some(entry) => {
                let (_, path) = self.role_entry(&dir, &entry, rev)?;
                self.read_blob(&path, entry.id(), rev).map(Some)
            }
        }
    }

    /// The roles of `account` whose file differs between revisions `from` and `to` (added,
    /// changed or removed), sorted. Compares blob ids only; nothing is parsed.
    pub fn changed_roles(
        &self,
        from: &str,
        to: &str,
        account: &str,
    ) -> Result<Vec<String>, StoreError> {
        validate_account_id(account)?;
        let dir = account_dir(account);
        let ids = |rev: &str| -> Result<BTreeMap<String, Oid>, StoreError> {
            let mut out = BTreeMap::new();
            let Some(root) = self.rev_tree(rev)? else {
                return Ok(out);
            };
            if let Some(tree) = self.subtree(&root, &dir, rev)? {
                for entry in tree.iter() {
                    let (role, _) = self.role_entry(&dir, &entry, rev)?;
                    out.insert(role, entry.id());
                }
            }
            Ok(out)
        };
        let (a, b) = (ids(from)?, ids(to)?);
        let mut roles: Vec<String> = a
            .iter()
            .filter(|(role, id)| b.get(*role) != Some(id))
            .map(|(role, _)| role.clone())
            .chain(b.keys().filter(|role| !a.contains_key(*role)).cloned())
            .collect();
        roles.sort();
        Ok(roles)
    }

    /// Checks that a tree entry of an account directory is a regular file `<RoleName>.json`;
    /// returns the role name and the file's path.
    pub(super) fn role_entry(
        &self,
        dir: &str,
        entry: &git2::TreeEntry<'_>,
        rev: &str,
    ) -> Result<(String, String), StoreError> {
        let name = String::from_utf8_lossy(entry.name_bytes());
        let path = format!("{dir}/{name}");
        let bad = |message: String| StoreError::BadFile {
            path: path.clone(),
            rev: rev.to_string(),
            source: PolicyError {
                policy: path.clone(),
                place: "file name".to_string(),
                message,
            },
        };
        let mode = entry.filemode();
        if entry.kind() != Some(ObjectType::Blob)
            || (mode != MODE_BLOB && mode != MODE_BLOB_EXECUTABLE)
        {
            return Err(bad(
                "not a regular file; an account directory holds only <RoleName>.json files"
                    .to_string(),
            ));
        }
        let Some(role) = name.strip_suffix(".json") else {
            return Err(bad(
                "not a role file; an account directory holds only <RoleName>.json files"
                    .to_string(),
            ));
        };
        validate_role_name(role).map_err(|e| bad(e.to_string()))?;
        Ok((role.to_string(), path))
    }

    fn read_blob(&self, path: &str, id: Oid, rev: &str) -> Result<PolicyMap, StoreError> {
        let blob = self.repo.find_blob(id).map_err(StoreError::git(
            self.ctx(format!("reading {path} at {rev}")),
        ))?;
        let bad = |place: &str, message: String| StoreError::BadFile {
            path: path.to_string(),
            rev: rev.to_string(),
            source: PolicyError {
                policy: path.to_string(),
                place: place.to_string(),
                message,
            },
        };
        let text = std::str::from_utf8(blob.content())
            .map_err(|e| bad("file", format!("not UTF-8: {e}")))?;
        let map = parse_policy_map(path, text).map_err(|source| StoreError::BadFile {
            path: path.to_string(),
            rev: rev.to_string(),
            source,
        })?;
        for name in map.keys() {
            validate_policy_name(name).map_err(|e| bad("policy name", e.to_string()))?;
        }
        Ok(map)
    }
}
