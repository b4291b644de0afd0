//! `/repokid rollback ACCOUNT ROLE` (a reply listing the role's versions) and
//! `/repokid rollback ACCOUNT ROLE N` (a pull request restoring version N, on the branch
//! `repokid/rollback/ACCOUNT/ROLE`).

use std::fmt::Write as _;

use super::answer::{Answer, Comment, Outcome};
use super::base::recorded_or_deleted_role;
use super::branch::{REQUESTED_BY_TRAILER, pr_sentence, push_and_open, reset_branch};
use super::command::Command;
use super::context::DispatchContext;
use super::markdown::{cell, short, versions_table};
use super::parse::account_and_role;
use crate::store::Action;
use crate::store::git::{WriteAccount, WriteMode};
use crate::store::history::{restore, role_versions};

/// The most versions `rollback` without N lists.
const MAX_LISTED_VERSIONS: usize = 100;
/// Action names listed in a rollback reply per direction (the pull request lists more).
const REPLY_LISTED_ACTIONS: usize = 50;
const PR_LISTED_ACTIONS: usize = 500;

/// `rollback ACCOUNT ROLE [N]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Rollback {
    pub(super) account: String,
    pub(super) role: String,
    /// The version to restore (0 is the newest); `None` lists the versions.
    pub(super) selection: Option<usize>,
}

impl Command for Rollback {
    fn parse(args: &[String]) -> Result<Rollback, String> {
        let (account, role) = account_and_role(args, "rollback")?;
        let selection = match &args[2..] {
            [] => None,
            [n] => Some(n.parse::<usize>().map_err(|_| {
                format!("`rollback` takes a version number N (0 is the newest), not {n:?}")
            })?),
            [_, extra, ..] => return Err(format!("`rollback` takes no argument {extra:?}")),
        };
        Ok(Rollback {
            account,
            role,
            selection,
        })
    }

    fn run(&self, ctx: &DispatchContext<'_>, comment: &Comment, _: &str) -> Result<Answer, String> {
        match self.selection {
            None => list_versions(ctx, &self.account, &self.role),
            Some(n) => rollback(ctx, comment, &self.account, &self.role, n),
        }
    }
}

fn list_versions(ctx: &DispatchContext<'_>, account: &str, role: &str) -> Result<Answer, String> {
    let role = recorded_or_deleted_role(ctx, account, role)?;
    let versions = role_versions(ctx.store.repo(), &ctx.base, account, &role, ctx.catalog)
        .map_err(|e| e.to_string())?;
    if versions.is_empty() {
        return Err(format!(
            "policies/{account}/{role}.json has no history on {}",
            ctx.base
        ));
    }
    let body = format!(
        "Versions of **`{role}`** in `{account}` on `{}` (newest first):\n\n{}\nRestore one with \
         `/repokid rollback {account} {role} N`: a pull request brings that version back.",
        ctx.base,
        versions_table(&versions, MAX_LISTED_VERSIONS)
    );
    Ok(Answer::new(Outcome::Done, body))
}

/// The action names as code spans, at most `limit` of them ("and N more").
fn action_list(names: &[String], limit: usize) -> String {
    let mut out: String = names
        .iter()
        .take(limit)
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > limit {
        let _ = write!(out, " and {} more", names.len() - limit);
    }
    if out.is_empty() {
        out.push_str("nothing");
    }
    out
}

fn rollback(
    ctx: &DispatchContext<'_>,
    comment: &Comment,
    account: &str,
    role: &str,
    selection: usize,
) -> Result<Answer, String> {
    let role = recorded_or_deleted_role(ctx, account, role)?;
    let repo = ctx.store.repo();
    let versions =
        role_versions(repo, &ctx.base, account, &role, ctx.catalog).map_err(|e| e.to_string())?;
    let current = ctx
        .store
        .read_role(&ctx.base, account, &role)
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    let restored =
        restore(&versions, &current, selection, None, ctx.catalog).map_err(|e| e.to_string())?;
    let picked = &versions[selection];
    let branch = format!("repokid/rollback/{account}/{role}");
    let subject = format!(
        "repokid rollback: {role} in {account} to {}",
        short(picked.commit)
    );
    let commit_body = format!(
        "Requested by @{} in #{}.\n\nComes back ({}): {}\nGoes away ({}): {}",
        comment.login,
        comment.number,
        restored.comes_back.len(),
        restored.comes_back.join(", "),
        restored.goes_away.len(),
        restored.goes_away.join(", ")
    );
    reset_branch(repo, &branch)?;
    let written = ctx
        .store
        .write_account(&WriteAccount {
            base: Some(ctx.base.clone()),
            mode: WriteMode::Upsert,
            roles: [(role.clone(), restored.policies.clone())].into(),
            action: Action::Rollback,
            subject: subject.clone(),
            body: commit_body,
            extra_trailers: vec![(REQUESTED_BY_TRAILER.to_string(), comment.login.clone())],
            ..WriteAccount::new(branch.clone(), account.to_string())
        })
        .map_err(|e| e.to_string())?;
    if written.is_none() {
        return Ok(Answer::new(
            Outcome::Unchanged,
            format!(
                "`{role}` in `{account}` already matches version {selection} ({}) on `{}`; \
                 nothing to roll back.",
                short(picked.commit),
                ctx.base
            ),
        ));
    }
    let changes = |limit: usize| {
        format!(
            "Comes back ({}): {}\n\nGoes away ({}): {}",
            restored.comes_back.len(),
            action_list(&restored.comes_back, limit),
            restored.goes_away.len(),
            action_list(&restored.goes_away, limit)
        )
    };
    let title = format!(
        "repokid: roll back {role} in {account} to {}",
        short(picked.commit)
    );
    let pr_body = format!(
        "Restores `policies/{account}/{role}.json` to version {selection}: {} ({}, {}), as \
         requested by @{} in #{}.\n\n{}\n\nOnce merged, `repokid apply` writes it to IAM.",
        short(picked.commit),
        picked.time.format("%Y-%m-%d %H:%M UTC"),
        cell(&picked.subject),
        comment.login,
        comment.number,
        changes(PR_LISTED_ACTIONS)
    );
    let pr = push_and_open(ctx, &branch, &title, &pr_body)?;
    let body = format!(
        "@{}, I {} to roll `{role}` in `{account}` back to version {selection} ({}).\n\n{}",
        comment.login,
        pr_sentence(&pr),
        short(picked.commit),
        changes(REPLY_LISTED_ACTIONS)
    );
    Ok(Answer {
        outcome: Outcome::Done,
        body,
        pull_request: Some(pr),
    })
}
