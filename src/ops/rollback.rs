//! The rollback flow: a role's versions from history, and the restore of one of them (or of one
//! service's permissions from it) on a rollback branch, or, in an emergency, on the checked-out
//! branch and applied to IAM at once behind apply's drift guard.

use std::path::PathBuf;

use serde::Serialize;

use super::inputs::{AwsOverrides, LazyAws, open_store};
use super::{OpsError, Workspace};
use crate::apply::{RoleApply, applied_ref, apply_role, record_applied};
use crate::engine::PolicyMap;
use crate::store::git::{PolicyStore, WriteAccount, WriteMode, Written};
use crate::store::history::{self, RoleVersion};
use crate::store::names::{validate_account_id, validate_role_name};
use crate::store::{Action, role_path};

/// A rollback, as the CLI's `rollback` asks for it.
#[derive(Debug, Clone)]
pub struct RollbackRequest {
    /// The account.
    pub account: String,
    /// The role.
    pub role: String,
    /// The version to restore (0 is the newest); `None` lists the versions.
    pub selection: Option<usize>,
    /// Restore only this service's permissions.
    pub service: Option<String>,
    /// Read history from this revision.
    pub rev: String,
    /// Commit on the checked-out branch and apply to IAM at once.
    pub apply_now: bool,
    /// How to reach AWS for `apply_now`.
    pub aws: AwsOverrides,
    /// The policy repository (`None`: `repo` in the settings).
    pub repo: Option<PathBuf>,
}

/// What a rollback did.
#[derive(Debug)]
pub enum RollbackReport {
    /// No selection: the role's versions, newest first.
    Versions(Vec<RoleVersion>),
    /// A version was restored.
    Restored(Box<Restored>),
}

/// A restore, committed (unless the role already matched) and, with `apply_now`, applied.
#[derive(Debug, Serialize)]
pub struct Restored {
    /// The branch it was committed on.
    pub branch: String,
    /// The commit, unless nothing changed.
    #[serde(skip)]
    pub written: Option<Written>,
    /// Actions the restore grants again.
    pub comes_back: Vec<String>,
    /// Actions the restore takes away.
    pub goes_away: Vec<String>,
    /// The apply, with `apply_now`.
    pub applied: Option<RoleApply>,
}

/// Lists or restores versions of a role (see the [module docs](self)).
pub fn rollback(ws: &Workspace, req: &RollbackRequest) -> Result<RollbackReport, OpsError> {
    validate_account_id(&req.account).map_err(crate::store::StoreError::from)?;
    validate_role_name(&req.role).map_err(crate::store::StoreError::from)?;
    let store = open_store(req.repo.as_deref(), ws)?;
    let versions =
        history::role_versions(store.repo(), &req.rev, &req.account, &req.role, ws.catalog)?;
    if versions.is_empty() {
        return Err(OpsError::NoHistory {
            path: role_path(&req.account, &req.role).display().to_string(),
            rev: req.rev.clone(),
        });
    }
    let Some(selection) = req.selection else {
        return Ok(RollbackReport::Versions(versions));
    };
    if req.apply_now && req.rev != "HEAD" {
        return Err(OpsError::ApplyNowNeedsHead);
    }
    let current = store
        .read_role(&req.rev, &req.account, &req.role)?
        .unwrap_or_default();
    let restore = history::restore(
        &versions,
        &current,
        selection,
        req.service.as_deref(),
        ws.catalog,
    )?;
    let picked = &versions[selection];
    let branch = if req.apply_now {
        store.current_branch()?
    } else {
        format!("repokid/rollback/{}/{}", req.account, req.role)
    };
    let parent = store
        .repo()
        .revparse_single("HEAD")
        .and_then(|o| o.peel_to_commit())
        .map_err(crate::store::StoreError::git("reading HEAD"))?
        .id();
    let subject = format!(
        "repokid rollback: {} in {} to {:.10}{}",
        req.role,
        req.account,
        picked.commit.to_string(),
        req.service
            .as_ref()
            .map(|s| format!(" ({s} only)"))
            .unwrap_or_default()
    );
    let body = format!(
        "Comes back ({}): {}\nGoes away ({}): {}",
        restore.comes_back.len(),
        restore.comes_back.join(", "),
        restore.goes_away.len(),
        restore.goes_away.join(", ")
    );
    let written = store.write_account(&WriteAccount {
        base: (!req.apply_now).then(|| req.rev.clone()),
        mode: WriteMode::Upsert,
        roles: [(req.role.clone(), restore.policies.clone())].into(),
        action: Action::Rollback,
        subject,
        body,
        ..WriteAccount::new(branch.clone(), req.account.clone())
    })?;
    let applied = if req.apply_now {
        Some(apply_now(
            req,
            ws,
            &store,
            &current,
            &restore.policies,
            parent,
            written.as_ref(),
        )?)
    } else {
        None
    };
    Ok(RollbackReport::Restored(Box::new(Restored {
        branch,
        written,
        comes_back: restore.comes_back,
        goes_away: restore.goes_away,
        applied,
    })))
}

/// Applies a just-committed restore to the role in IAM. The drift guard compares live IAM with
/// the role's file at the account's last applied commit (or, when nothing was applied yet, the
/// file before the restore); the applied ref moves to the restore commit only when it pointed
/// at the commit the restore was made on (so no other unapplied change is marked applied).
fn apply_now(
    req: &RollbackRequest,
    ws: &Workspace,
    store: &PolicyStore,
    before: &PolicyMap,
    restored: &PolicyMap,
    parent: git2::Oid,
    written: Option<&Written>,
) -> Result<RoleApply, OpsError> {
    let reference = applied_ref(&req.account);
    let recorded = store
        .repo()
        .find_reference(&reference)
        .ok()
        .and_then(|r| r.peel_to_commit().ok())
        .map(|c| c.id());
    let baseline = match recorded {
        Some(id) => store.read_role(&id.to_string(), &req.account, &req.role)?,
        None => Some(before.clone()),
    };
    let aws = LazyAws::new(req.aws.settings(ws));
    let result = apply_role(
        aws.get()?,
        &req.account,
        &req.role,
        baseline.as_ref(),
        Some(restored),
        true,
        ws.settings.engine.size_limit,
    );
    if let Some(w) = written
        && !result.is_failure()
        && recorded == Some(parent)
    {
        record_applied(
            store,
            &req.account,
            w.commit,
            &format!(
                "repokid rollback --apply-now: {} in {}",
                req.role, req.account
            ),
        )?;
    }
    Ok(result)
}
