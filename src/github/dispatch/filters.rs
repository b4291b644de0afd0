//! `filters.toml` at the base, and proposing a change of it on its own branch (what `opt-out`
//! and `remove-opt-out` share).

use std::path::Path;

use super::answer::{Comment, PrLink};
use super::branch::{REQUESTED_BY_TRAILER, ROLE_TRAILER, push_and_open, reset_branch};
use super::context::DispatchContext;
use crate::filters::{DEFAULT_FILTERS_TOML, FilterConfig, OptOutEntry};
use crate::store::Action;
use crate::store::git::{WriteAccount, WriteMode};

/// `filters.toml` at the base: its repository path, text, parsed form, and whether it exists.
pub(super) struct Filters {
    pub(super) path: String,
    pub(super) text: String,
    pub(super) config: FilterConfig,
    pub(super) existed: bool,
}

/// Reads [`Filters`] at the base (the default file when there is none).
pub(super) fn read_filters(ctx: &DispatchContext<'_>) -> Result<Filters, String> {
    let path = ctx.filters_path.clone().ok_or(
        "the filters file is not inside the policy repository, so opt-outs cannot be proposed \
         as a pull request",
    )?;
    let repo = ctx.store.repo();
    let tree = repo
        .revparse_single(&ctx.base)
        .and_then(|o| o.peel_to_tree())
        .map_err(|e| format!("cannot read the base {}: {}", ctx.base, e.message()))?;
    let (text, existed) = match tree.get_path(Path::new(&path)) {
        Ok(entry) => {
            let blob = repo
                .find_blob(entry.id())
                .map_err(|e| format!("cannot read {path} on {}: {}", ctx.base, e.message()))?;
            let text = String::from_utf8(blob.content().to_vec())
                .map_err(|_| format!("{path} on {} is not UTF-8", ctx.base))?;
            (text, true)
        }
        Err(_) => (DEFAULT_FILTERS_TOML.to_string(), false),
    };
    let config = FilterConfig::parse(&text)
        .map_err(|e| format!("{path} on {} is invalid, fix it first: {e}", ctx.base))?;
    Ok(Filters {
        path,
        text,
        config,
        existed,
    })
}

/// Whether `e` opts out `role` (case-insensitively) in `account`.
pub(super) fn entry_matches(e: &OptOutEntry, account: &str, role: &str) -> bool {
    e.account == account && e.role.eq_ignore_ascii_case(role)
}

/// A change of the filters file, proposed on its own branch.
pub(super) struct FiltersChange<'t> {
    pub(super) role: &'t str,
    pub(super) text: String,
    pub(super) branch: String,
    pub(super) subject: String,
    pub(super) commit_body: String,
    pub(super) pr_body: String,
}

/// Commits `change.text` as the filters file on `change.branch` (rebuilt from the base), pushes
/// it and opens or updates the pull request; `None` when the file already says exactly that.
pub(super) fn propose_filters(
    ctx: &DispatchContext<'_>,
    comment: &Comment,
    filters: &Filters,
    account: &str,
    change: FiltersChange<'_>,
) -> Result<Option<PrLink>, String> {
    reset_branch(ctx.store.repo(), &change.branch)?;
    let written = ctx
        .store
        .write_account(&WriteAccount {
            base: Some(ctx.base.clone()),
            mode: WriteMode::Upsert,
            action: Action::OptOut,
            subject: change.subject.clone(),
            body: change.commit_body,
            extra_trailers: vec![
                (ROLE_TRAILER.to_string(), change.role.to_string()),
                (REQUESTED_BY_TRAILER.to_string(), comment.login.clone()),
            ],
            extra_files: vec![(filters.path.clone(), change.text)],
            ..WriteAccount::new(change.branch.clone(), account.to_string())
        })
        .map_err(|e| e.to_string())?;
    if written.is_none() {
        return Ok(None);
    }
    push_and_open(ctx, &change.branch, &change.subject, &change.pr_body).map(Some)
}
