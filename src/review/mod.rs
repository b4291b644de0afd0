//! The review text: what a pull request says about a proposal, written for the person approving
//! the removals.
//!
//! The body of a proposal's pull request is the review: a header (counts, usage window, grace
//! period, staleness), a summary by access level with the riskiest levels (Permissions management,
//! Write) first, a table of the changed roles, then per role the removed actions grouped by service
//! with their evidence, what was kept and why (the safety net at work), and the JSON diff of the
//! role file folded in `<details>`. Roles left unchanged are listed, folded, with the reason.
//!
//! GitHub refuses bodies over [`GITHUB_BODY_LIMIT`] characters. When everything does not fit, the
//! body keeps the header and the summary tables and as many role sections as fit — the diffs go
//! first, the evidence last — and links the complete review ([`PrText::full_report`]), which the
//! proposal commits on its branch at [`report_path`].
//!
//! Layout: `model` (the public limits and types, the roles in review order), `overview` (header,
//! summary tables, unchanged roles, footer), `role` (one changed role's section and diff),
//! `format` (Markdown and numbers); this file fits them into one body. `tests` holds snapshot
//! tests of each section as a reviewer sees it.

mod format;
mod model;
mod overview;
mod role;
#[cfg(test)]
mod tests;

pub use model::{BODY_HEADROOM, GITHUB_BODY_LIMIT, PrText, REVIEW_ORDER, RoleDiff, report_path};

use crate::report::{PlanReport, RoleReport};
use format::{floor_char_boundary, plural, thousands};
use model::{Detail, Review};

/// When the body overflows: the most bytes the role table and the unchanged-role list may take.
const ROLE_TABLE_BUDGET: usize = 12_000;
const UNCHANGED_BUDGET: usize = 6_000;

/// The review of `account`'s proposal: `roles` are the account's role reports (eligible or not),
/// `diffs` the changed roles' files before and after (a role without one gets no diff block), and
/// `report_link` the web address of the full report on the branch (the body names
/// [`report_path`] when there is none). The report's `generated_at` is "now" for "N days ago".
pub fn pr_text(
    account: &str,
    report: &PlanReport,
    roles: &[&RoleReport],
    diffs: &[RoleDiff],
    report_link: Option<&str>,
) -> PrText {
    let r = Review::new(account, report, roles, diffs);
    let budget = GITHUB_BODY_LIMIT - BODY_HEADROOM;
    let head = r.header();
    let tables = r.summary_table() + &r.role_table(usize::MAX);
    let unchanged = r.unchanged(usize::MAX);
    let footer = r.footer();
    let diffs: Vec<Option<String>> = r.changed.iter().map(|c| r.diff_block(c)).collect();
    let compact: Vec<String> = r
        .changed
        .iter()
        .map(|c| r.role_section(c, Detail::Body))
        .collect();

    let mut body = String::new();
    body.push_str(&head);
    body.push_str(&tables);
    for (section, diff) in compact.iter().zip(&diffs) {
        body.push_str(section);
        body.push_str(diff.as_deref().unwrap_or_default());
    }
    body.push_str(&unchanged);
    body.push_str(&footer);
    if body.len() <= budget {
        return PrText {
            body,
            full_report: None,
        };
    }

    // Too long: the complete text goes to the report file, the body keeps what fits.
    let mut full = format!(
        "# repokid review: account `{account}`\n\n\
         The complete review of this branch's proposal; the pull request description holds a \
         shortened version.\n\n"
    );
    full.push_str(&head);
    full.push_str(&tables);
    for (c, diff) in r.changed.iter().zip(&diffs) {
        full.push_str(&r.role_section(c, Detail::Full));
        full.push_str(diff.as_deref().unwrap_or_default());
    }
    full.push_str(&unchanged);
    full.push_str(&footer);

    let n = r.changed.len();
    let with_diffs = diffs.iter().filter(|d| d.is_some()).count();
    let place = match report_link {
        Some(url) => format!("[`{}`]({url})", report_path(account)),
        None => format!("`{}`", report_path(account)),
    };
    // The longest the note can be: the counts shown are at most the totals.
    let reserved_note = overflow_note(&place, n, n, with_diffs);
    let more_line = |k: usize| {
        if k < n {
            format!(
                "\n_{} detailed only in the full report ({place})._\n",
                plural(n - k, "more changed role is", "more changed roles are")
            )
        } else {
            String::new()
        }
    };
    let pointer = format!("\n_JSON diff: in the full report ({place})._\n");
    let tables = r.summary_table() + &r.role_table(ROLE_TABLE_BUDGET);
    let unchanged = r.unchanged(UNCHANGED_BUDGET);
    let fixed =
        head.len() + reserved_note.len() + tables.len() + more_line(0).len() + unchanged.len();
    let mut room = budget.saturating_sub(fixed + footer.len());
    // Evidence first, role by role, each with a pointer where its diff would be…
    let mut shown = 0;
    for (section, diff) in compact.iter().zip(&diffs) {
        let cost = section.len() + if diff.is_some() { pointer.len() } else { 0 };
        if cost > room {
            break;
        }
        room -= cost;
        shown += 1;
    }
    // …then the diffs that still fit, in the same order.
    let mut keep_diff = vec![false; shown];
    for (i, diff) in diffs.iter().take(shown).enumerate() {
        if let Some(d) = diff {
            let extra = d.len().saturating_sub(pointer.len());
            if extra <= room {
                room -= extra;
                keep_diff[i] = true;
            }
        }
    }
    let diffs_shown = keep_diff.iter().filter(|k| **k).count();
    let mut body = head;
    body.push_str(&overflow_note(&place, shown, n, diffs_shown));
    body.push_str(&tables);
    for i in 0..shown {
        body.push_str(&compact[i]);
        match (&diffs[i], keep_diff[i]) {
            (Some(d), true) => body.push_str(d),
            (Some(_), false) => body.push_str(&pointer),
            (None, _) => {}
        }
    }
    body.push_str(&more_line(shown));
    body.push_str(&unchanged);
    body.push_str(&footer);
    debug_assert!(body.len() <= budget, "{} > {budget}", body.len());
    if body.len() > budget {
        // Not expected (every part was measured); never hand GitHub a body it refuses.
        let cut = floor_char_boundary(&body, budget.saturating_sub(80));
        body.truncate(cut);
        body.push_str("\n\n_(cut to fit GitHub's limit; see the full report)_\n");
    }
    PrText {
        body,
        full_report: Some(full),
    }
}

fn overflow_note(place: &str, shown: usize, changed: usize, diffs: usize) -> String {
    format!(
        "> [!NOTE]\n> This proposal is too long for a pull request description (GitHub allows \
         {} characters). Shown here: the summary, and details for {shown} of {changed} changed \
         roles with the JSON diff for {diffs} of them. **The complete review — every role with \
         its evidence and its diff — is in {place} on this branch.**\n\n",
        thousands(GITHUB_BODY_LIMIT)
    )
}
