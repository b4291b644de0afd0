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

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::{DateTime, Utc};
use similar::TextDiff;

use crate::engine::{AccessLevel, LastAccessed, Reason};
use crate::report::{PlanReport, RemovedAction, RoleReport};

/// GitHub's limit on a pull request body, in characters.
pub const GITHUB_BODY_LIMIT: usize = 65_536;

/// Room left under [`GITHUB_BODY_LIMIT`] for what is added to the body when the pull request is
/// opened (the digest marker, a "Supersedes" line). Bodies from [`pr_text`] are at most
/// `GITHUB_BODY_LIMIT - BODY_HEADROOM` bytes, hence as many characters or fewer.
pub const BODY_HEADROOM: usize = 512;

/// Access levels in review order: the ones that change who can do what, or change resources,
/// first.
pub const REVIEW_ORDER: [AccessLevel; 5] = [
    AccessLevel::PermissionsManagement,
    AccessLevel::Write,
    AccessLevel::Tagging,
    AccessLevel::List,
    AccessLevel::Read,
];

/// In the body: how many actions one evidence line lists before "and N more", how many services
/// a role section shows one by one (the rest share a line naming them, up to
/// `BODY_SERVICES_NAMED`), and how many unknown actions it names.
const BODY_ACTIONS_PER_LINE: usize = 6;
const BODY_SERVICES_PER_ROLE: usize = 8;
const BODY_SERVICES_NAMED: usize = 20;
const BODY_UNKNOWN_LISTED: usize = 10;

/// In the full report: how many actions one evidence line lists (a role granted `"*"` loses tens
/// of thousands of actions of services it never used; `repokid plan --format json` lists them all).
const FULL_ACTIONS_PER_LINE: usize = 200;

/// When the body overflows: the most bytes the role table and the unchanged-role list may take.
const ROLE_TABLE_BUDGET: usize = 12_000;
const UNCHANGED_BUDGET: usize = 6_000;

/// Where the full review of an account's proposal is committed on its branch, when the body
/// cannot hold it.
pub fn report_path(account: &str) -> String {
    format!(".repokid/reports/{account}.md")
}

/// One role's file before and after the proposal, as canonical JSON
/// ([`crate::engine::policy::to_canonical_json`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleDiff {
    /// Role name.
    pub role: String,
    /// The file now.
    pub before: String,
    /// The proposed file.
    pub after: String,
}

/// The review text of one account's proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrText {
    /// The pull request body (Markdown), at most `GITHUB_BODY_LIMIT - BODY_HEADROOM` bytes.
    pub body: String,
    /// The complete review (every role with its evidence and its diff) when the body could not hold
    /// it, to be committed at [`report_path`]; `None` when the body is complete.
    pub full_report: Option<String>,
}

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

/// How much a role section lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detail {
    /// Capped lists, for the pull request body.
    Body,
    /// Everything, for the report file.
    Full,
}

/// A changed role with its diff, in review order.
struct Changed<'a> {
    role: &'a RoleReport,
    diff: Option<&'a RoleDiff>,
    /// Removed Permissions management and Write actions.
    risky: usize,
}

struct Review<'a> {
    account: &'a str,
    report: &'a PlanReport,
    now: DateTime<Utc>,
    total_roles: usize,
    /// Eligible roles, the riskiest first (most Permissions management/Write removals, then most
    /// removals, then by name).
    changed: Vec<Changed<'a>>,
    unchanged: Vec<&'a RoleReport>,
}

fn is_risky(level: AccessLevel) -> bool {
    matches!(
        level,
        AccessLevel::PermissionsManagement | AccessLevel::Write
    )
}

fn level_rank(level: AccessLevel) -> usize {
    REVIEW_ORDER
        .iter()
        .position(|l| *l == level)
        .unwrap_or(REVIEW_ORDER.len())
}

impl<'a> Review<'a> {
    fn new(
        account: &'a str,
        report: &'a PlanReport,
        roles: &[&'a RoleReport],
        diffs: &'a [RoleDiff],
    ) -> Review<'a> {
        let mut changed: Vec<Changed<'a>> = roles
            .iter()
            .filter(|r| r.eligible)
            .map(|r| Changed {
                role: r,
                diff: diffs.iter().find(|d| d.role == r.role),
                risky: r
                    .removed
                    .iter()
                    .filter(|a| is_risky(a.access_level))
                    .count(),
            })
            .collect();
        changed.sort_by(|a, b| {
            b.risky
                .cmp(&a.risky)
                .then(b.role.removed.len().cmp(&a.role.removed.len()))
                .then(a.role.role.cmp(&b.role.role))
        });
        Review {
            account,
            report,
            now: report.generated_at,
            total_roles: roles.len(),
            changed,
            unchanged: roles.iter().filter(|r| !r.eligible).copied().collect(),
        }
    }

    fn window(&self) -> i64 {
        self.report.settings.usage_window_days
    }

    fn header(&self) -> String {
        let mut out = String::new();
        let s = &self.report.settings;
        let _ = writeln!(
            out,
            "## Least-privilege proposal for account `{}`\n",
            self.account
        );
        let removed: usize = self.changed.iter().map(|c| c.role.removed.len()).sum();
        let risky: usize = self.changed.iter().map(|c| c.risky).sum();
        let before: usize = self.changed.iter().map(|c| c.role.size_before).sum();
        let after: usize = self.changed.iter().map(|c| c.role.size_after).sum();
        if self.changed.is_empty() {
            let _ = writeln!(
                out,
                "No role of the {} planned in this account has permissions to remove.\n",
                self.total_roles
            );
        } else {
            let _ = writeln!(
                out,
                "**{} of {}** lose **{}**, **{}** of them Permissions management or Write. \
                 Inline policies go from {} to {} characters ({}).\n",
                thousands(self.changed.len()),
                plural(self.total_roles, "role", "roles"),
                plural(removed, "unused permission", "unused permissions"),
                thousands(risky),
                thousands(before),
                thousands(after),
                percent_change(before, after),
            );
        }
        let _ = writeln!(
            out,
            "Usage window {} days · grace period {} days{} · usage data older than {} days is \
             not used · {} · evaluated {}.\n",
            s.usage_window_days,
            s.grace_days,
            if self.report.grace_days_overridden {
                " (**overridden for this run**)"
            } else {
                ""
            },
            s.stale_after_days,
            if s.action_level {
                "action-level data used where AWS tracks it"
            } else {
                "service-level data only"
            },
            self.now.format("%Y-%m-%d %H:%M UTC"),
        );
        out
    }

    fn summary_table(&self) -> String {
        let mut out = String::new();
        if self.changed.is_empty() {
            return out;
        }
        let mut actions: BTreeMap<AccessLevel, usize> = BTreeMap::new();
        let mut roles: BTreeMap<AccessLevel, usize> = BTreeMap::new();
        for c in &self.changed {
            let mut levels: Vec<AccessLevel> = Vec::new();
            for a in &c.role.removed {
                *actions.entry(a.access_level).or_default() += 1;
                if !levels.contains(&a.access_level) {
                    levels.push(a.access_level);
                }
            }
            for l in levels {
                *roles.entry(l).or_default() += 1;
            }
        }
        let _ = writeln!(
            out,
            "### Removed, by access level\n\n\
             | Access level | Actions removed | Roles affected |\n|---|---:|---:|"
        );
        for level in REVIEW_ORDER {
            let name = if is_risky(level) {
                format!("**{level}**")
            } else {
                level.to_string()
            };
            let _ = writeln!(
                out,
                "| {name} | {} | {} |",
                thousands(actions.get(&level).copied().unwrap_or(0)),
                thousands(roles.get(&level).copied().unwrap_or(0)),
            );
        }
        out.push('\n');
        out
    }

    /// The role table, cut (with a closing row saying how many are left out) before it passes
    /// `budget` bytes.
    fn role_table(&self, budget: usize) -> String {
        let mut out = String::new();
        if self.changed.is_empty() {
            return out;
        }
        let _ = writeln!(
            out,
            "### Roles, riskiest first\n\n\
             | Role | Actions removed | Permissions management / Write | Inline size before → after |\n\
             |---|---:|---:|---|"
        );
        for (i, c) in self.changed.iter().enumerate() {
            let row = format!(
                "| {} | {} | {} | {} → {} ({}) |\n",
                cell_code(&c.role.role),
                thousands(c.role.removed.len()),
                thousands(c.risky),
                thousands(c.role.size_before),
                thousands(c.role.size_after),
                percent_change(c.role.size_before, c.role.size_after),
            );
            // Leave room for the closing row.
            if out.len() + row.len() + 100 > budget {
                let _ = writeln!(
                    out,
                    "| … | {} more roles in the full report | | |",
                    self.changed.len() - i
                );
                break;
            }
            out.push_str(&row);
        }
        out.push('\n');
        out
    }

    fn role_section(&self, c: &Changed<'_>, detail: Detail) -> String {
        let r = c.role;
        let mut out = String::new();
        let _ = writeln!(out, "### {}\n", code(&r.role));
        let _ = writeln!(
            out,
            "Removes **{}** (**{}** Permissions management or Write) · inline size {} → {} \
             characters ({}).\n",
            plural(r.removed.len(), "action", "actions"),
            thousands(c.risky),
            thousands(r.size_before),
            thousands(r.size_after),
            percent_change(r.size_before, r.size_after),
        );
        // Services once used (their evidence has a date, or is per action) before services never
        // used; then those with riskier removals; then by name.
        let mut by_service: BTreeMap<&str, Vec<&RemovedAction>> = BTreeMap::new();
        for a in &r.removed {
            by_service.entry(&a.service).or_default().push(a);
        }
        let mut services: Vec<(&str, Vec<&RemovedAction>)> = by_service.into_iter().collect();
        services.sort_by_key(|(name, actions)| {
            let top = actions
                .iter()
                .map(|a| level_rank(a.access_level))
                .min()
                .unwrap_or(usize::MAX);
            (actions.iter().all(|a| never_used_service(a)), top, *name)
        });
        let limit = match detail {
            Detail::Body => BODY_SERVICES_PER_ROLE,
            Detail::Full => usize::MAX,
        };
        if !services.is_empty() {
            out.push_str("**Removed**, by service:\n\n");
        }
        for (service, actions) in services.iter().take(limit) {
            self.service_lines(&mut out, service, actions, detail);
        }
        if services.len() > limit {
            let rest = &services[limit..];
            let actions: Vec<&RemovedAction> =
                rest.iter().flat_map(|(_, a)| a.iter().copied()).collect();
            let never = rest
                .iter()
                .filter(|(_, a)| a.iter().all(|a| never_used_service(a)))
                .count();
            let mut names: Vec<String> = rest
                .iter()
                .take(BODY_SERVICES_NAMED)
                .map(|(n, _)| code(n))
                .collect();
            if rest.len() > BODY_SERVICES_NAMED {
                names.push(format!("and {} more", rest.len() - BODY_SERVICES_NAMED));
            }
            let never = match never {
                n if n == rest.len() => "all".to_string(),
                n => format!("{} of them", thousands(n)),
            };
            let _ = writeln!(
                out,
                "- … **{} more services**, {never} never used in the tracking period \
                 ({} actions: {}): {} — the full report lists them",
                thousands(rest.len()),
                thousands(actions.len()),
                level_counts(&actions),
                names.join(", ")
            );
        }
        out.push('\n');
        self.kept_line(&mut out, r, detail);
        if !r.removed_policies.is_empty() {
            let _ = writeln!(
                out,
                "- Policies deleted (nothing left in them): {}",
                r.removed_policies
                    .iter()
                    .map(|p| code(p))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if !r.removed_statements.is_empty() {
            let listed: Vec<String> = r
                .removed_statements
                .iter()
                .map(|s| {
                    let mut t = format!("{} statement {}", code(&s.policy), s.index + 1);
                    if let Some(sid) = &s.sid {
                        let _ = write!(t, " ({})", code(sid));
                    }
                    t
                })
                .collect();
            let _ = writeln!(
                out,
                "- Statements removed (nothing left in them): {}",
                listed.join(", ")
            );
        }
        if let Some(m) = r.minimized {
            let _ = writeln!(
                out,
                "- Action lists were **minimized** ({m} wildcards) to fit IAM's 10,240-character \
                 limit on inline policies: check the wildcards in the diff."
            );
        }
        out.push('\n');
        out
    }

    /// One service's removals: one line when they share their evidence, else a line per evidence.
    fn service_lines(
        &self,
        out: &mut String,
        service: &str,
        actions: &[&RemovedAction],
        detail: Detail,
    ) {
        let mut sorted: Vec<&RemovedAction> = actions.to_vec();
        sorted.sort_by(|a, b| {
            level_rank(a.access_level)
                .cmp(&level_rank(b.access_level))
                .then(a.action.cmp(&b.action))
        });
        // Evidence groups in order of their riskiest action.
        let mut groups: Vec<(String, Vec<&RemovedAction>)> = Vec::new();
        for a in sorted {
            let e = self.evidence(&a.reason);
            match groups.iter_mut().find(|(g, _)| *g == e) {
                Some((_, v)) => v.push(a),
                None => groups.push((e, vec![a])),
            }
        }
        let head = format!(
            "- **{}** — {} ({})",
            inline_text(service),
            plural(actions.len(), "action", "actions"),
            level_counts(actions)
        );
        if let [(evidence, list)] = groups.as_slice() {
            let _ = writeln!(out, "{head} — {evidence}: {}", action_list(list, detail));
        } else {
            let _ = writeln!(out, "{head}:");
            for (evidence, list) in &groups {
                let _ = writeln!(out, "  - {evidence}: {}", action_list(list, detail));
            }
        }
    }

    /// The evidence for a removal, in words.
    fn evidence(&self, reason: &Reason) -> String {
        match reason {
            Reason::ServiceUnused { last_used } => match last_used {
                LastAccessed::Never => "service never used in the tracking period".into(),
                other => format!(
                    "service {}; not used within {} days",
                    self.last_used(other),
                    self.window()
                ),
            },
            Reason::ActionUnused { last_used } => match last_used {
                LastAccessed::Never => "never used in the tracking period (action level)".into(),
                other => format!(
                    "{}; not used within {} days (action level)",
                    self.last_used(other),
                    self.window()
                ),
            },
            Reason::Hook {
                hook,
                reason,
                removable: true,
            } => format!("removed by hook {}: {}", code(hook), inline_text(reason)),
            other => inline_text(&other.summary()),
        }
    }

    /// `last used 2026-03-02 (264 days ago)`.
    fn last_used(&self, when: &LastAccessed) -> String {
        match when {
            LastAccessed::Never => "never used".into(),
            LastAccessed::At(t) => {
                let days = (self.now - *t).num_days();
                let ago = match days {
                    d if d < 1 => "today".to_string(),
                    1 => "1 day ago".to_string(),
                    d => format!("{} days ago", thousands(d.unsigned_abs() as usize)),
                };
                format!("last used {} ({ago})", t.format("%Y-%m-%d"))
            }
            LastAccessed::Malformed(raw) => {
                format!("last use unreadable ({})", inline_text(raw))
            }
        }
    }

    /// What was kept and why: the safety net at work.
    fn kept_line(&self, out: &mut String, r: &RoleReport, detail: Detail) {
        const ORDER: [&str; 9] = [
            "used",
            "not-tracked-at-action-level",
            "no-usage-entry",
            "pass-role",
            "grace-period",
            "no-repo",
            "unknown-action",
            "not-announced",
            "hook",
        ];
        let total: usize = r.kept.values().sum();
        if total == 0 {
            out.push_str("**Kept:** nothing — no granted action was used.\n");
            return;
        }
        let mut keys: Vec<&str> = ORDER
            .iter()
            .copied()
            .filter(|k| r.kept.contains_key(*k))
            .collect();
        keys.extend(
            r.kept
                .keys()
                .map(String::as_str)
                .filter(|k| !ORDER.contains(k)),
        );
        let s = &self.report.settings;
        let parts: Vec<String> = keys
            .into_iter()
            .map(|k| {
                let n = thousands(r.kept.get(k).copied().unwrap_or(0));
                match k {
                    "used" => format!("{n} used within the {}-day window", s.usage_window_days),
                    "not-tracked-at-action-level" => {
                        format!("{n} untracked at action level — kept")
                    }
                    "no-usage-entry" => format!("{n} with no usage data for the service — kept"),
                    "pass-role" => {
                        format!("{n} `iam:PassRole` (invisible to Access Advisor) — kept")
                    }
                    "grace-period" => {
                        format!("{n} in the {}-day grace period — kept", s.grace_days)
                    }
                    "no-repo" => format!("{n} in NOREPO statements — kept"),
                    "unknown-action" => format!("{n} unknown action — kept"),
                    "not-announced" => format!("{n} not in the announced removal — kept"),
                    "hook" => format!("{n} kept by a hook"),
                    other => format!("{n} {} — kept", inline_text(other)),
                }
            })
            .collect();
        let _ = writeln!(
            out,
            "**Kept** ({} actions): {}.",
            thousands(total),
            parts.join(" · ")
        );
        if !r.unknown_actions.is_empty() {
            let limit = match detail {
                Detail::Body => BODY_UNKNOWN_LISTED,
                Detail::Full => usize::MAX,
            };
            let mut listed: Vec<String> = r
                .unknown_actions
                .iter()
                .take(limit)
                .map(|a| code(a))
                .collect();
            if r.unknown_actions.len() > limit {
                listed.push(format!("and {} more", r.unknown_actions.len() - limit));
            }
            let _ = writeln!(
                out,
                "Unknown to the action catalog (kept as written): {}.",
                listed.join(", ")
            );
        }
        out.push('\n');
    }

    /// The role's JSON diff, folded; `None` without a diff (or when nothing differs).
    fn diff_block(&self, c: &Changed<'_>) -> Option<String> {
        let d = c.diff?;
        if d.before == d.after {
            return None;
        }
        let path = format!("policies/{}/{}.json", self.account, d.role);
        let text = TextDiff::from_lines(&d.before, &d.after)
            .unified_diff()
            .context_radius(3)
            .header(&format!("a/{path}"), &format!("b/{path}"))
            .to_string();
        let fence = "`".repeat(longest_run(&text, '`').max(2) + 1);
        let mut out = format!(
            "<details><summary>JSON diff for <code>{}</code></summary>\n\n{fence}diff\n",
            html(&d.role)
        );
        out.push_str(&text);
        if !text.ends_with('\n') {
            out.push('\n');
        }
        let _ = writeln!(out, "{fence}\n\n</details>\n");
        Some(out)
    }

    /// The roles left unchanged, folded, with why; cut before `budget` bytes.
    fn unchanged(&self, budget: usize) -> String {
        let mut out = String::new();
        if self.unchanged.is_empty() {
            return out;
        }
        let _ = writeln!(
            out,
            "<details><summary>{} not changed, and why</summary>\n",
            plural(self.unchanged.len(), "role", "roles")
        );
        for (i, r) in self.unchanged.iter().enumerate() {
            let line = format!("- {}: {}\n", code(&r.role), inline_text(&r.why_not()));
            if out.len() + line.len() + 100 > budget {
                let _ = writeln!(
                    out,
                    "- … and {} more: see the full report",
                    self.unchanged.len() - i
                );
                break;
            }
            out.push_str(&line);
        }
        out.push_str("\n</details>\n\n");
        out
    }

    fn footer(&self) -> String {
        format!(
            "---\n**Merging** this pull request applies the proposed files to AWS through \
             `repokid apply`; until then nothing changes in the account. **To keep a role out**, \
             comment `/repokid opt-out {} ROLE --reason \"why\"` or add an `[[opt-out.entries]]` \
             entry to `filters.toml`; the next run leaves the role out of this proposal.\n\n\
             <sub>Generated by repokid.</sub>\n",
            self.account
        )
    }
}

/// `2 Permissions management, 3 Write` for the actions, in review order.
fn level_counts(actions: &[&RemovedAction]) -> String {
    REVIEW_ORDER
        .iter()
        .filter_map(|l| {
            let n = actions.iter().filter(|a| a.access_level == *l).count();
            (n > 0).then(|| format!("{} {l}", thousands(n)))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The actions as code spans, capped in the body.
fn action_list(actions: &[&RemovedAction], detail: Detail) -> String {
    let limit = match detail {
        Detail::Body => BODY_ACTIONS_PER_LINE,
        Detail::Full => FULL_ACTIONS_PER_LINE,
    };
    let mut parts: Vec<String> = actions
        .iter()
        .take(limit)
        .map(|a| code(&a.action))
        .collect();
    if actions.len() > limit {
        parts.push(format!("and {} more", thousands(actions.len() - limit)));
    }
    parts.join(", ")
}

/// Whether the action goes because its service was never used.
fn never_used_service(a: &RemovedAction) -> bool {
    matches!(
        a.reason,
        Reason::ServiceUnused {
            last_used: LastAccessed::Never
        }
    )
}

/// A Markdown code span for any text: a fence longer than any backtick run inside, and no line
/// breaks.
fn code(s: &str) -> String {
    let s = s.replace(['\n', '\r'], " ");
    let n = longest_run(&s, '`') + 1;
    let fence = "`".repeat(n);
    if n > 1 || s.starts_with('`') || s.ends_with('`') {
        format!("{fence} {s} {fence}")
    } else {
        format!("{fence}{s}{fence}")
    }
}

/// [`code`] for a table cell: pipes escaped (GitHub needs that even inside code spans).
fn cell_code(s: &str) -> String {
    code(s).replace('|', "\\|")
}

/// Free text (hook reasons, filter reasons) made safe inline: one line, no HTML.
fn inline_text(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Text for inside an HTML element.
fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn longest_run(s: &str, c: char) -> usize {
    let (mut best, mut run) = (0, 0);
    for ch in s.chars() {
        if ch == c {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    best
}

/// `−54%`, `+3%`, `±0%`.
fn percent_change(before: usize, after: usize) -> String {
    if before == 0 {
        return if after == 0 {
            "±0%".into()
        } else {
            "new".into()
        };
    }
    let diff = after as f64 - before as f64;
    let pct = (diff * 100.0 / before as f64).round() as i64;
    match pct {
        0 => "±0%".into(),
        p if p < 0 => format!("−{}%", thousands(p.unsigned_abs() as usize)),
        p => format!("+{}%", thousands(p.unsigned_abs() as usize)),
    }
}

/// `1 role`, `1,234 roles`.
fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// `12,345`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_percentages() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(percent_change(200, 100), "−50%");
        assert_eq!(percent_change(100, 103), "+3%");
        assert_eq!(percent_change(100, 100), "±0%");
        assert_eq!(percent_change(0, 0), "±0%");
    }

    #[test]
    fn code_spans_survive_backticks_and_pipes() {
        assert_eq!(code("orders-api"), "`orders-api`");
        assert_eq!(code("a`b"), "`` a`b ``");
        assert_eq!(code("`x"), "`` `x ``");
        assert_eq!(cell_code("a|b"), "`a\\|b`");
        assert_eq!(code("two\nlines"), "`two lines`");
    }

    #[test]
    fn free_text_cannot_open_html() {
        assert_eq!(inline_text("a</details>\nb"), "a&lt;/details&gt; b");
        assert_eq!(html("<&>"), "&lt;&amp;&gt;");
    }

    #[test]
    fn longest_backtick_run() {
        assert_eq!(longest_run("a ``` b `` c", '`'), 3);
        assert_eq!(longest_run("none", '`'), 0);
    }

    #[test]
    fn report_path_is_outside_policies() {
        assert_eq!(
            report_path("111122223333"),
            ".repokid/reports/111122223333.md"
        );
    }
}
