//! `/repokid opt-out ACCOUNT ROLE --reason "why" [--days N]`: a pull request adding an
//! `[[opt-out.entries]]` table to `filters.toml` (owner: the commenter; expires: today + N days,
//! default [`DEFAULT_OPT_OUT_DAYS`]), on the branch `repokid/opt-out/ACCOUNT/ROLE`.
//!
//! The result is parsed with [`FilterConfig::parse`] and must be exactly the old configuration
//! with that one entry added (or replaced), or nothing is committed.

use chrono::Days;

use super::answer::{Answer, Comment, Outcome};
use super::base::recorded_role;
use super::branch::pr_sentence;
use super::command::Command;
use super::context::DispatchContext;
use super::filters::{FiltersChange, entry_matches, propose_filters, read_filters};
use super::filters_text::{append_entry, entry_block, insert_entry, remove_entries};
use super::parse::account_and_role;
use crate::filters::{FilterConfig, OptOutEntry};

/// Opt-out length when `--days` is not given.
pub const DEFAULT_OPT_OUT_DAYS: u64 = 90;
/// The longest opt-out `--days` may ask for (ten years).
pub const MAX_OPT_OUT_DAYS: u64 = 3650;
/// The longest `--reason` accepted, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// `opt-out ACCOUNT ROLE --reason "why" [--days N]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct OptOut {
    pub(super) account: String,
    pub(super) role: String,
    /// The reason, its whitespace collapsed.
    pub(super) reason: String,
    pub(super) days: u64,
}

impl Command for OptOut {
    fn parse(args: &[String]) -> Result<OptOut, String> {
        let (account, role) = account_and_role(args, "opt-out")?;
        let mut reason = None;
        let mut days = None;
        let mut rest = args[2..].iter();
        while let Some(w) = rest.next() {
            let (flag, inline) = match w.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
                _ => (w.as_str(), None),
            };
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| rest.next().cloned())
                    .ok_or_else(|| format!("`{flag}` needs a value"))
            };
            match flag {
                "--reason" => reason = Some(value()?),
                "--days" => {
                    let v = value()?;
                    days = Some(
                        v.parse::<u64>()
                            .map_err(|_| format!("`--days` takes a number of days, not {v:?}"))?,
                    );
                }
                other => return Err(format!("`opt-out` takes no argument {other:?}")),
            }
        }
        let reason = reason
            .map(|r| r.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|r| !r.is_empty())
            .ok_or("`opt-out` needs `--reason \"why\"`")?;
        if reason.chars().count() > MAX_REASON_CHARS {
            return Err(format!(
                "the reason is longer than {MAX_REASON_CHARS} characters"
            ));
        }
        let days = days.unwrap_or(DEFAULT_OPT_OUT_DAYS);
        if !(1..=MAX_OPT_OUT_DAYS).contains(&days) {
            return Err(format!("`--days` must be 1 to {MAX_OPT_OUT_DAYS}"));
        }
        Ok(OptOut {
            account,
            role,
            reason,
            days,
        })
    }

    fn run(&self, ctx: &DispatchContext<'_>, comment: &Comment, _: &str) -> Result<Answer, String> {
        opt_out(
            ctx,
            comment,
            &self.account,
            &self.role,
            &self.reason,
            self.days,
        )
    }
}

fn opt_out(
    ctx: &DispatchContext<'_>,
    comment: &Comment,
    account: &str,
    role: &str,
    reason: &str,
    days: u64,
) -> Result<Answer, String> {
    let role = recorded_role(ctx, account, role)?;
    let filters = read_filters(ctx)?;
    let today = ctx.now.date_naive();
    let expires = today
        .checked_add_days(Days::new(days))
        .ok_or("that date is out of range")?
        .format("%Y-%m-%d")
        .to_string();
    let entry = OptOutEntry {
        account: account.to_string(),
        role: role.clone(),
        owner: comment.login.clone(),
        reason: reason.to_string(),
        expires: expires.parse().map_err(|e: String| e)?,
    };
    let replaced: Vec<&OptOutEntry> = filters
        .config
        .opt_out
        .entries
        .iter()
        .filter(|e| entry_matches(e, account, &role))
        .collect();
    if replaced.len() == 1 && *replaced[0] == entry {
        return Ok(Answer::new(
            Outcome::Unchanged,
            format!(
                "`{}` on `{}` already opts `{role}` in `{account}` out exactly so (by {} until \
                 {}); nothing to change.",
                filters.path, ctx.base, entry.owner, entry.expires
            ),
        ));
    }
    let mut expected = filters.config.clone();
    expected
        .opt_out
        .entries
        .retain(|e| !entry_matches(e, account, &role));
    expected.opt_out.entries.push(entry.clone());
    let without = if replaced.is_empty() {
        filters.text.clone()
    } else {
        remove_entries(&filters.text, account, &role)
    };
    let block = entry_block(&entry);
    let text = [
        insert_entry(&without, &block),
        append_entry(&without, &block),
    ]
    .into_iter()
    .find(|t| FilterConfig::parse(t).is_ok_and(|c| c == expected))
    .ok_or_else(|| {
        format!(
            "I could not add the entry to {} without changing anything else (is \
                 `opt-out.entries` written as an inline array?); please edit it by hand",
            filters.path
        )
    })?;
    let branch = format!("repokid/opt-out/{account}/{role}");
    let subject = format!("repokid opt-out: {role} in {account} until {expires}");
    let replaces = if replaced.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = replaced
            .iter()
            .map(|e| format!("by {} until {}", e.owner, e.expires))
            .collect();
        format!(" It replaces the current entry ({}).", list.join("; "))
    };
    let commit_body = format!(
        "Requested by @{} in #{}: {reason}",
        comment.login, comment.number
    );
    let created = if filters.existed {
        String::new()
    } else {
        format!(
            "\n\n`{}` did not exist on `{}`; it is created from the default.",
            filters.path, ctx.base
        )
    };
    let pr_body = format!(
        "Opts `{role}` in `{account}` out of repokid until **{expires}** (end of that day, UTC), \
         as requested by @{} in #{}.{replaces}\n\nAdds to `{}`:\n\n```toml\n{block}```\n\nWhile \
         the entry is in force, repokid proposes no change to the role. Merge to opt out; close \
         to decline.{created}",
        comment.login, comment.number, filters.path
    );
    let change = FiltersChange {
        role: &role,
        text,
        branch,
        subject,
        commit_body,
        pr_body,
    };
    let Some(pr) = propose_filters(ctx, comment, &filters, account, change)? else {
        return Ok(Answer::new(
            Outcome::Unchanged,
            format!(
                "`{}` on `{}` already has exactly this opt-out for `{role}` in `{account}`; \
                 nothing to change.",
                filters.path, ctx.base
            ),
        ));
    };
    let body = format!(
        "@{}, I {} to opt `{role}` in `{account}` out until **{expires}** (reason: {reason}).{replaces} \
         It takes effect once merged.",
        comment.login,
        pr_sentence(&pr)
    );
    Ok(Answer {
        outcome: Outcome::Done,
        body,
        pull_request: Some(pr),
    })
}
