//! The Markdown of the apply report: the comment on a merged pull request, the tracking
//! issue's body and its per-account comments, with their hidden markers.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::model::AccountResult;
use crate::apply::{RoleApply, RoleStatus};
use crate::github::client::IssueComment;

/// GitHub refuses comments over 65,536 characters; stay well below.
const MAX_BODY: usize = 60_000;
/// A drift diff longer than this is cut.
const MAX_DIFF: usize = 6_000;

/// The hidden marker of the comment on a pull request for `account`.
pub fn pr_marker(account: &str) -> String {
    format!("<!-- repokid:apply account={account} -->")
}

pub(super) fn issue_marker(account: &str) -> String {
    format!("<!-- repokid:apply-failed account={account} ")
}

fn status_text(s: RoleStatus) -> &'static str {
    match s {
        RoleStatus::InSync => "already in IAM",
        RoleStatus::WouldApply => "would apply (dry run)",
        RoleStatus::Applied => "applied",
        RoleStatus::Drift => "**skipped: drift**",
        RoleStatus::Failed => "**failed**",
        RoleStatus::NotAttempted => "**not attempted**",
        RoleStatus::Skipped => "skipped",
    }
}

/// A role's outcome on one line (for lists).
pub(super) fn one_line(role: &RoleApply) -> String {
    let mut text = status_text(role.status).replace("**", "");
    if !role.drift.is_empty() {
        let list: Vec<String> = role
            .drift
            .iter()
            .map(|d| format!("`{}` {}", d.policy, d.how))
            .collect();
        let _ = write!(text, " ({})", list.join(", "));
    }
    if let Some(m) = &role.message {
        let _ = write!(text, ": {m}");
    }
    text
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn short(sha: &str) -> &str {
    sha.get(..10).unwrap_or(sha)
}

pub(super) fn run_link(run_url: Option<&str>) -> String {
    run_url.map_or_else(
        || "repokid apply".to_string(),
        |u| format!("[repokid apply]({u})"),
    )
}

/// The comment on a merged pull request: the roles of `result`'s account that it changed.
pub(super) fn pr_comment(
    result: &AccountResult<'_>,
    roles: &BTreeSet<String>,
    run_url: Option<&str>,
) -> String {
    let Some(report) = result.report else {
        return String::new();
    };
    let mine: Vec<&RoleApply> = report
        .roles
        .iter()
        .filter(|r| roles.contains(&r.role))
        .collect();
    let headline = if !result.failed() {
        "applied"
    } else if mine.iter().any(|r| r.status == RoleStatus::Drift) {
        "not applied: drift"
    } else {
        "not applied: failed"
    };
    let mut md = pr_marker(&result.account);
    let _ = write!(
        md,
        "\n### IAM, account {}: {headline}\n\n{} ran on commit `{}` (the account's baseline was `{}`).\n\n",
        result.account,
        run_link(run_url),
        short(&report.target),
        short(&report.baseline),
    );
    md.push_str("| Role | Result | Put | Deleted |\n|---|---|---|---|\n");
    for role in &mine {
        let _ = writeln!(
            md,
            "| `{}` | {} | {} | {} |",
            role.role,
            status_text(role.status),
            cell(&role.puts.join(", ")),
            cell(&role.deletes.join(", ")),
        );
    }
    for role in roles.iter().filter(|r| !mine.iter().any(|m| &&m.role == r)) {
        let _ = writeln!(md, "| `{role}` | nothing left to write | | |");
    }
    for role in mine.iter().filter(|r| r.status == RoleStatus::Drift) {
        let _ = write!(
            md,
            "\n**`{}` was changed outside this repository and was left untouched** ({}).\n",
            role.role,
            role.message.as_deref().unwrap_or("drift")
        );
        for d in &role.drift {
            let mut diff = d.diff.clone();
            if diff.len() > MAX_DIFF {
                let cut = (0..=MAX_DIFF)
                    .rev()
                    .find(|i| diff.is_char_boundary(*i))
                    .unwrap_or(0);
                diff.truncate(cut);
                diff.push_str("\n… (cut; the run's log has it all)\n");
            }
            if !diff.ends_with('\n') {
                diff.push('\n');
            }
            // Live documents are anyone's text: a fence longer than any run of backticks in
            // them keeps them inside the code block.
            let fence = "`".repeat(longest_backtick_run(&diff).max(2) + 1);
            let _ = write!(
                md,
                "\n<details><summary><code>{}</code>: {} (expected → live)</summary>\n\n{fence}diff\n{diff}{fence}\n</details>\n",
                d.policy, d.how
            );
        }
    }
    let failed: Vec<&&RoleApply> = mine
        .iter()
        .filter(|r| matches!(r.status, RoleStatus::Failed | RoleStatus::NotAttempted))
        .collect();
    if !failed.is_empty() {
        md.push_str("\n**Failed:**\n");
        for role in failed {
            let _ = writeln!(md, "- `{}`: {}", role.role, one_line(role));
        }
    }
    let others: Vec<&RoleApply> = report
        .roles
        .iter()
        .filter(|r| r.is_failure() && !roles.contains(&r.role))
        .collect();
    if !others.is_empty() {
        md.push_str("\nOther changed roles of the account that did not apply:\n");
        for role in others {
            let _ = writeln!(md, "- `{}`: {}", role.role, one_line(role));
        }
    }
    if let Some(p) = &result.problem {
        let _ = writeln!(md, "\n{p}");
    }
    md.push_str(if result.failed() {
        "\nThe account's baseline was not moved: each apply run retries it and updates this \
         comment. Drift is resolved by undoing the out-of-band change, or by merging the next \
         sync's recording of it; the tracking issue labelled `repokid:apply-failed` lists what \
         is still failing.\n"
    } else {
        "\nIAM now holds what this pull request merged for these roles.\n"
    });
    fit(md)
}

/// The longest run of backticks in `s`.
fn longest_backtick_run(s: &str) -> usize {
    s.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// `md`, cut to fit a comment.
fn fit(mut md: String) -> String {
    if md.len() > MAX_BODY {
        let cut = (0..=MAX_BODY)
            .rev()
            .find(|i| md.is_char_boundary(*i))
            .unwrap_or(0);
        md.truncate(cut);
        md.push_str("\n\n… (cut to fit a comment; the run's log and job summary have it all)\n");
    }
    md
}

pub(super) fn issue_body(run_url: Option<&str>) -> String {
    format!(
        "{} could not apply some merged changes to IAM: until they are, IAM and the policy \
         files disagree.\n\nEach failing account has one comment below, updated by every apply \
         run. Fix what it says (undo an out-of-band change, or merge the next sync's recording of \
         it; fix permissions or errors), then let the next run apply it (it runs after every \
         merge and on a schedule, or start `apply.yml` by hand). The first run after which no \
         account here is failing closes this issue.\n",
        run_link(run_url)
    )
}

/// The failure of `result`, in Markdown list items.
pub(super) fn failure_text(result: &AccountResult<'_>) -> String {
    let mut out = String::new();
    if let Some(p) = &result.problem {
        let _ = writeln!(out, "- {p}");
    }
    for role in result.report.iter().flat_map(|r| &r.roles) {
        if role.is_failure() {
            let _ = writeln!(out, "- `{}`: {}", role.role, one_line(role));
        }
    }
    out
}

pub(super) fn failing_comment(result: &AccountResult<'_>, run_url: Option<&str>) -> String {
    let target = result
        .report
        .map(|r| format!(" on `{}`", short(&r.target)))
        .unwrap_or_default();
    fit(format!(
        "{}state=failing -->\n### Account {}: not applied\n\n{}{target} left:\n\n{}",
        issue_marker(&result.account),
        result.account,
        run_link(run_url),
        failure_text(result)
    ))
}

pub(super) fn resolved_comment(result: &AccountResult<'_>, run_url: Option<&str>) -> String {
    let target = result
        .report
        .map(|r| format!(" at `{}`", short(&r.target)))
        .unwrap_or_default();
    format!(
        "{}state=resolved -->\n### Account {}: resolved\n\nApplied by {}{target}.\n",
        issue_marker(&result.account),
        result.account,
        run_link(run_url),
    )
}

/// Whether `c` is a bot's account comment of the tracking issue that says "failing".
pub(super) fn is_failing(c: &IssueComment) -> bool {
    c.by_bot
        && c.body.starts_with("<!-- repokid:apply-failed account=")
        && c.body.contains(" state=failing -->")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::{AccountApply, BaselineSource, DriftEntry};

    fn role(name: &str, status: RoleStatus) -> RoleApply {
        RoleApply {
            role: name.into(),
            status,
            puts: if status == RoleStatus::Applied {
                vec!["data".into()]
            } else {
                vec![]
            },
            deletes: vec![],
            drift: vec![],
            message: None,
        }
    }

    fn account(roles: Vec<RoleApply>, recorded: bool) -> AccountApply {
        AccountApply {
            account: "111122223333".into(),
            target: "a".repeat(40),
            baseline: "b".repeat(40),
            baseline_source: BaselineSource::Recorded,
            dry_run: false,
            roles,
            recorded,
        }
    }

    fn result(report: &AccountApply) -> AccountResult<'_> {
        AccountResult {
            account: report.account.clone(),
            report: Some(report),
            problem: None,
        }
    }

    #[test]
    fn the_pr_comment_lists_the_pull_requests_roles_with_drift_diffs() {
        let mut queue = role("queue", RoleStatus::Drift);
        queue.message = Some("live policies differ".into());
        queue.drift = vec![DriftEntry {
            policy: "send".into(),
            how: "changed out of band".into(),
            diff: "--- expected/send\n+++ live/send\n+  \"sns:Subscribe\"\n".into(),
        }];
        let report = account(
            vec![
                role("app", RoleStatus::Applied),
                queue,
                role("worker", RoleStatus::Applied),
            ],
            false,
        );
        let roles: BTreeSet<String> = ["app".to_string(), "queue".to_string()].into();
        let md = pr_comment(
            &result(&report),
            &roles,
            Some("https://github.com/acme/iam/actions/runs/7"),
        );
        assert!(
            md.starts_with("<!-- repokid:apply account=111122223333 -->\n"),
            "{md}"
        );
        assert!(
            md.contains("account 111122223333: not applied: drift"),
            "{md}"
        );
        assert!(
            md.contains(
                "[repokid apply](https://github.com/acme/iam/actions/runs/7) ran on commit `aaaaaaaaaa`"
            ),
            "{md}"
        );
        assert!(md.contains("| `app` | applied | data |  |"), "{md}");
        assert!(md.contains("| `queue` | **skipped: drift** |"), "{md}");
        assert!(
            md.contains("```diff\n--- expected/send\n+++ live/send\n+  \"sns:Subscribe\"\n```"),
            "{md}"
        );
        // Not this pull request's role.
        assert!(!md.contains("worker"), "{md}");
        assert!(md.contains("baseline was not moved"), "{md}");

        let ok = account(vec![role("app", RoleStatus::Applied)], true);
        let md = pr_comment(&result(&ok), &roles, None);
        assert!(md.contains("account 111122223333: applied\n"), "{md}");
        assert!(md.contains("| `queue` | nothing left to write |"), "{md}");
        assert!(md.contains("IAM now holds"), "{md}");
    }

    #[test]
    fn only_a_bots_failing_account_comment_counts() {
        let c = |body: &str, by_bot| IssueComment {
            id: 1,
            body: body.into(),
            by_bot,
        };
        let report = account(vec![], false);
        let failing = failing_comment(&result(&report), None);
        assert!(is_failing(&c(&failing, true)));
        assert!(!is_failing(&c(&failing, false)));
        assert!(!is_failing(&c(
            &resolved_comment(&result(&report), None),
            true
        )));
        assert!(!is_failing(&c(&format!("quoting: {failing}"), true)));
    }

    #[test]
    fn a_live_document_cannot_close_the_diffs_code_block() {
        let mut queue = role("queue", RoleStatus::Drift);
        queue.drift = vec![DriftEntry {
            policy: "send".into(),
            how: "changed out of band".into(),
            diff: "+  \"aws:SourceVpce\": \"```\\n@everyone [x](https://evil)\"\n".into(),
        }];
        let report = account(vec![queue], false);
        let roles: BTreeSet<String> = ["queue".to_string()].into();
        let md = pr_comment(&result(&report), &roles, None);
        assert!(md.contains("\n````diff\n+  \"aws:SourceVpce\""), "{md}");
        assert!(md.contains("https://evil)\"\n````\n</details>"), "{md}");
    }

    #[test]
    fn long_bodies_are_cut_on_a_character_boundary() {
        let md = fit("é".repeat(MAX_BODY));
        assert!(md.len() < MAX_BODY + 200 && md.ends_with("have it all)\n"));
    }
}
