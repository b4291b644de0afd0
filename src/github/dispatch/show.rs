//! `/repokid show ACCOUNT ROLE`: the role as recorded on the base branch — policies, permissions
//! (wildcards expanded with the catalog), inline size, last changes.

use std::fmt::Write as _;

use super::answer::{Answer, Comment, MAX_COMMENT_CHARS, Outcome};
use super::base::{base_commit, recorded_role};
use super::command::Command;
use super::context::DispatchContext;
use super::markdown::{cell, short, versions_table};
use super::parse::{account_and_role, no_more};
use crate::engine::grants::analyze;
use crate::engine::policy::{PolicyMap, inline_size, to_canonical_json};
use crate::store::history::role_versions;
use crate::store::role_path;

/// Versions shown by `show` (`rollback` without N lists more).
const SHOWN_VERSIONS: usize = 10;

/// `show ACCOUNT ROLE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Show {
    pub(super) account: String,
    pub(super) role: String,
}

impl Command for Show {
    fn parse(args: &[String]) -> Result<Show, String> {
        let (account, role) = account_and_role(args, "show")?;
        no_more(&args[2..], "show")?;
        Ok(Show { account, role })
    }

    fn run(&self, ctx: &DispatchContext<'_>, _: &Comment, _: &str) -> Result<Answer, String> {
        show(ctx, &self.account, &self.role)
    }
}

fn show(ctx: &DispatchContext<'_>, account: &str, role: &str) -> Result<Answer, String> {
    let role = recorded_role(ctx, account, role)?;
    let commit = base_commit(ctx)?;
    let policies = ctx
        .store
        .read_role(&ctx.base, account, &role)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("role {role} not found in account {account}"))?;
    let versions = role_versions(ctx.store.repo(), &ctx.base, account, &role, ctx.catalog)
        .map_err(|e| e.to_string())?;
    let grants = analyze(&policies, ctx.catalog);
    let path = role_path(account, &role).display().to_string();
    let mut head = format!(
        "**`{role}`** in `{account}`, as recorded on `{}` ({}):\n\n",
        ctx.base,
        short(commit)
    );
    let _ = writeln!(
        head,
        "* **{}** inline {}, **{}** permissions (wildcards expanded with the IAM action catalog){}",
        policies.len(),
        if policies.len() == 1 {
            "policy"
        } else {
            "policies"
        },
        grants.all.len(),
        if grants.unknown.is_empty() {
            String::new()
        } else {
            format!(
                ", and {} entries the catalog does not know",
                grants.unknown.len()
            )
        }
    );
    let _ = writeln!(
        head,
        "* inline size **{}** of {} characters (IAM's limit, whitespace excluded)\n",
        inline_size(&policies),
        ctx.settings.engine.size_limit
    );
    if !policies.is_empty() {
        head.push_str("| policy | statements | permissions |\n|---|---:|---:|\n");
        for (name, doc) in &policies {
            let one: PolicyMap = [(name.clone(), doc.clone())].into();
            let _ = writeln!(
                head,
                "| `{}` | {} | {} |",
                cell(name),
                doc.statements().len(),
                analyze(&one, ctx.catalog).all.len()
            );
        }
        head.push('\n');
    }
    let documents = format!(
        "<details><summary>Policy documents ({path})</summary>\n\n```json\n{}```\n\n</details>\n\n",
        to_canonical_json(&policies)
    );
    let mut tail = String::new();
    if !versions.is_empty() {
        tail.push_str("**Last changes** (newest first):\n\n");
        tail.push_str(&versions_table(&versions, SHOWN_VERSIONS));
        let _ = write!(
            tail,
            "\nList every version with `/repokid rollback {account} {role}`; restore one with \
             `/repokid rollback {account} {role} N`."
        );
    }
    let mut body = format!("{head}{documents}{tail}");
    if body.chars().count() + 200 > MAX_COMMENT_CHARS {
        let link = ctx
            .settings
            .github
            .blob_url(&ctx.settings.github.base_branch, &path)
            .map(|u| format!(" ([{path}]({u}))"))
            .unwrap_or_else(|| format!(" (`{path}`)"));
        body = format!(
            "{head}The policy documents are too large for a comment; see the file{link}.\n\n{tail}"
        );
    }
    Ok(Answer::new(Outcome::Done, body))
}
