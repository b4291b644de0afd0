//! The parts of the review around the role sections: the header, the summary tables, the roles
//! left unchanged and the footer.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::format::{cell_code, code, inline_text, percent_change, plural, thousands};
use super::model::{REVIEW_ORDER, Review, is_risky};
use crate::engine::AccessLevel;

impl Review<'_> {
    pub(super) fn header(&self) -> String {
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

    pub(super) fn summary_table(&self) -> String {
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
    pub(super) fn role_table(&self, budget: usize) -> String {
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

    /// The roles left unchanged, folded, with why; cut before `budget` bytes.
    pub(super) fn unchanged(&self, budget: usize) -> String {
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

    pub(super) fn footer(&self) -> String {
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
