//! `/repokid remove-opt-out ACCOUNT ROLE`: a pull request removing the role's entries from
//! `filters.toml` (on the branch `opt-out` uses), the rest of the file left as it is.

use super::answer::{Answer, Comment, Outcome};
use super::base::recorded_role;
use super::branch::pr_sentence;
use super::command::Command;
use super::context::DispatchContext;
use super::filters::{FiltersChange, entry_matches, propose_filters, read_filters};
use super::filters_text::remove_entries;
use super::parse::{account_and_role, no_more};
use crate::filters::{FilterConfig, OptOutEntry};

/// `remove-opt-out ACCOUNT ROLE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RemoveOptOut {
    pub(super) account: String,
    pub(super) role: String,
}

impl Command for RemoveOptOut {
    fn parse(args: &[String]) -> Result<RemoveOptOut, String> {
        let (account, role) = account_and_role(args, "remove-opt-out")?;
        no_more(&args[2..], "remove-opt-out")?;
        Ok(RemoveOptOut { account, role })
    }

    fn run(&self, ctx: &DispatchContext<'_>, comment: &Comment, _: &str) -> Result<Answer, String> {
        remove_opt_out(ctx, comment, &self.account, &self.role)
    }
}

fn remove_opt_out(
    ctx: &DispatchContext<'_>,
    comment: &Comment,
    account: &str,
    role: &str,
) -> Result<Answer, String> {
    let filters = read_filters(ctx)?;
    let matching: Vec<&OptOutEntry> = filters
        .config
        .opt_out
        .entries
        .iter()
        .filter(|e| entry_matches(e, account, role))
        .collect();
    let Some(first) = matching.first() else {
        return Ok(Answer::new(
            Outcome::Unchanged,
            format!(
                "There is no opt-out for `{role}` in `{account}` in `{}` on `{}`; nothing to \
                 remove. (A role can also be opted out by its `{}` tag, which is changed in \
                 IAM, not here.)",
                filters.path, ctx.base, filters.config.opt_out.tag_key
            ),
        ));
    };
    // The branch is the one opt-out uses: named by the recorded role (else the entry's spelling).
    let role = recorded_role(ctx, account, role).unwrap_or_else(|_| first.role.clone());
    let mut expected = filters.config.clone();
    expected
        .opt_out
        .entries
        .retain(|e| !entry_matches(e, account, &role));
    let text = remove_entries(&filters.text, account, &role);
    if !FilterConfig::parse(&text).is_ok_and(|c| c == expected) {
        return Err(format!(
            "I could not remove the entry from {} without changing anything else (is \
             `opt-out.entries` written as an inline array?); please edit it by hand",
            filters.path
        ));
    }
    let listed: Vec<String> = matching
        .iter()
        .map(|e| format!("by {} until {}: {}", e.owner, e.expires, e.reason))
        .collect();
    let branch = format!("repokid/opt-out/{account}/{role}");
    let subject = format!("repokid opt-out: remove {role} in {account}");
    let commit_body = format!(
        "Requested by @{} in #{}.\n\nRemoved: {}",
        comment.login,
        comment.number,
        listed.join("; ")
    );
    let pr_body = format!(
        "Ends the opt-out of `{role}` in `{account}`, as requested by @{} in #{}.\n\nRemoved from \
         `{}`:\n\n{}\n\nOnce merged, repokid may propose changes to the role again.",
        comment.login,
        comment.number,
        filters.path,
        listed
            .iter()
            .map(|l| format!("* {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let change = FiltersChange {
        role: &role,
        text,
        branch,
        subject,
        commit_body,
        pr_body,
    };
    let pr = propose_filters(ctx, comment, &filters, account, change)?
        .ok_or("the filters file did not change")?;
    let body = format!(
        "@{}, I {} to end the opt-out of `{role}` in `{account}` ({}). It takes effect once \
         merged.",
        comment.login,
        pr_sentence(&pr),
        listed.join("; ")
    );
    Ok(Answer {
        outcome: Outcome::Done,
        body,
        pull_request: Some(pr),
    })
}
