//! Checking a write request before anything is written: names, branch, subject, trailers, extra
//! file paths and author; and the commit's signature.

use git2::Signature;

use super::message::is_trailer_key;
use super::{FALLBACK_SIGNATURE, PolicyStore, WriteAccount};
use crate::store::names::{validate_account_id, validate_policy_name, validate_role_name};
use crate::store::{POLICIES_DIR, StoreError};

impl PolicyStore {
    pub(super) fn validate(&self, req: &WriteAccount) -> Result<(), StoreError> {
        validate_account_id(&req.account)?;
        for (role, map) in &req.roles {
            validate_role_name(role)?;
            for policy in map.keys() {
                validate_policy_name(policy)?;
            }
        }
        let branch_ok = !req.branch.is_empty()
            && git2::Branch::name_is_valid(&req.branch).unwrap_or(false)
            && req.branch != "HEAD";
        if !branch_ok {
            return Err(StoreError::Other(format!(
                "invalid branch name {:?} (nothing was written)",
                req.branch
            )));
        }
        if req.subject.contains(['\n', '\r']) {
            return Err(StoreError::Other(format!(
                "commit subject {:?} must be one line (nothing was written)",
                req.subject
            )));
        }
        for (key, value) in &req.extra_trailers {
            if !is_trailer_key(key) {
                return Err(StoreError::Other(format!(
                    "invalid trailer key {key:?}: use letters, digits and '-' (nothing was written)"
                )));
            }
            if value.contains(['\n', '\r']) {
                return Err(StoreError::Other(format!(
                    "trailer {key} must be one line, found {value:?} (nothing was written)"
                )));
            }
        }
        for (i, (path, _)) in req.extra_files.iter().enumerate() {
            validate_extra_path(path).map_err(|why| {
                StoreError::Other(format!(
                    "invalid extra file path {path:?}: {why} (nothing was written)"
                ))
            })?;
            for (other, _) in &req.extra_files[..i] {
                let nested =
                    |a: &str, b: &str| b.strip_prefix(a).is_some_and(|rest| rest.starts_with('/'));
                if other == path || nested(other, path) || nested(path, other) {
                    return Err(StoreError::Other(format!(
                        "extra files {other:?} and {path:?} collide (nothing was written)"
                    )));
                }
            }
        }
        if let Some((name, email)) = &req.author {
            Signature::now(name, email).map_err(|e| {
                StoreError::Other(format!(
                    "invalid author {name:?} <{email}>: {} (nothing was written)",
                    e.message()
                ))
            })?;
        }
        Ok(())
    }

    pub(super) fn signature(&self, req: &WriteAccount) -> Result<Signature<'static>, StoreError> {
        let fallback = || Signature::now(FALLBACK_SIGNATURE.0, FALLBACK_SIGNATURE.1);
        let sig = match &req.author {
            Some((name, email)) => Signature::now(name, email),
            None => self.repo.signature().or_else(|_| fallback()),
        }
        .map_err(StoreError::git("making the commit signature"))?;
        match req.time {
            None => Ok(sig),
            Some(t) => {
                let (name, email) = (
                    sig.name().unwrap_or(FALLBACK_SIGNATURE.0),
                    sig.email().unwrap_or(FALLBACK_SIGNATURE.1),
                );
                Signature::new(name, email, &git2::Time::new(t.timestamp(), 0))
                    .map_err(StoreError::git("making the commit signature"))
            }
        }
    }
}

/// Why `path` cannot be an extra file's path, if it cannot.
fn validate_extra_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("empty");
    }
    if path.starts_with('/') {
        return Err("must be relative to the repository root");
    }
    if path.contains(['\\', '\0']) {
        return Err("backslashes and NUL are not allowed");
    }
    for part in path.split('/') {
        match part {
            "" => return Err("empty path component"),
            "." | ".." => return Err("`.` and `..` are not allowed"),
            p if p.eq_ignore_ascii_case(".git") => return Err("`.git` is not allowed"),
            _ => {}
        }
    }
    if path
        .split('/')
        .next()
        .is_some_and(|first| first.eq_ignore_ascii_case(POLICIES_DIR))
    {
        return Err("policies/ holds only role files");
    }
    Ok(())
}
