//! Reading the base revision: its commit, and the role a command names as recorded there.

use std::path::Path;

use git2::ObjectType;

use super::context::DispatchContext;
use crate::store::POLICIES_DIR;
use crate::store::history::role_versions;

/// The base commit's id, for messages.
pub(super) fn base_commit(ctx: &DispatchContext<'_>) -> Result<git2::Oid, String> {
    ctx.store
        .repo()
        .revparse_single(&ctx.base)
        .and_then(|o| o.peel_to_commit())
        .map(|c| c.id())
        .map_err(|e| format!("cannot read the base {}: {}", ctx.base, e.message()))
}

/// The recorded name of `role` in `account` at the base (matched case-insensitively, an exact
/// match preferred), or the "not found" error.
pub(super) fn recorded_role(
    ctx: &DispatchContext<'_>,
    account: &str,
    role: &str,
) -> Result<String, String> {
    let repo = ctx.store.repo();
    let tree = repo
        .revparse_single(&ctx.base)
        .and_then(|o| o.peel_to_tree())
        .map_err(|e| format!("cannot read the base {}: {}", ctx.base, e.message()))?;
    let not_found = || {
        format!(
            "role {role} not found in account {account} (no policies/{account}/{role}.json on {})",
            ctx.base
        )
    };
    let Ok(entry) = tree.get_path(Path::new(&format!("{POLICIES_DIR}/{account}"))) else {
        return Err(not_found());
    };
    let Ok(dir) = repo.find_tree(entry.id()) else {
        return Err(not_found());
    };
    let mut found = None;
    for e in dir.iter() {
        if e.kind() != Some(ObjectType::Blob) {
            continue;
        }
        let Some(name) = e.name().ok().and_then(|n| n.strip_suffix(".json")) else {
            continue;
        };
        if name == role {
            return Ok(name.to_string());
        }
        if name.eq_ignore_ascii_case(role) && found.is_none() {
            found = Some(name.to_string());
        }
    }
    found.ok_or_else(not_found)
}

/// [`recorded_role`], or `role` as given when it is not recorded at the base but has history
/// there: a deleted role still has versions to list and restore.
pub(super) fn recorded_or_deleted_role(
    ctx: &DispatchContext<'_>,
    account: &str,
    role: &str,
) -> Result<String, String> {
    recorded_role(ctx, account, role).or_else(|e| {
        let v = role_versions(ctx.store.repo(), &ctx.base, account, role, ctx.catalog)
            .map_err(|e| e.to_string())?;
        if v.is_empty() {
            Err(e)
        } else {
            Ok(role.to_string())
        }
    })
}
