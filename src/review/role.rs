//! One changed role's section: its removals grouped by service with their evidence, what was
//! kept and why, and its JSON diff.

use std::collections::BTreeMap;
use std::fmt::Write;

use similar::TextDiff;

use super::format::{code, html, inline_text, longest_run, percent_change, plural, thousands};
use super::model::{Changed, Detail, REVIEW_ORDER, Review, level_rank};
use crate::engine::{LastAccessed, Reason};
use crate::report::{RemovedAction, RoleReport};

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

impl Review<'_> {
    pub(super) fn role_section(&self, c: &Changed<'_>, detail: Detail) -> String {
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
    pub(super) fn service_lines(
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
    pub(super) fn evidence(&self, reason: &Reason) -> String {
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
    pub(super) fn last_used(&self, when: &LastAccessed) -> String {
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
    pub(super) fn kept_line(&self, out: &mut String, r: &RoleReport, detail: Detail) {
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
    pub(super) fn diff_block(&self, c: &Changed<'_>) -> Option<String> {
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
