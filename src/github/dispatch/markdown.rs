//! Markdown pieces the replies share: short commit ids, table cells, the table of a role's
//! versions.

use std::fmt::Write as _;

use crate::store::Action;
use crate::store::history::RoleVersion;

/// A commit id cut to ten characters, for messages.
pub(super) fn short(id: git2::Oid) -> String {
    id.to_string().chars().take(10).collect()
}

/// A Markdown table cell: one line, pipes escaped.
pub(super) fn cell(s: &str) -> String {
    s.replace(['\n', '\r'], " ").replace('|', "\\|")
}

/// The table of a role's versions (newest first, N counting from 0), at most `limit` rows.
pub(super) fn versions_table(versions: &[RoleVersion], limit: usize) -> String {
    let mut out = String::from(
        "| N | date (UTC) | action | commit | permissions | subject |\n|---:|---|---|---|---:|---|\n",
    );
    for (i, v) in versions.iter().enumerate().take(limit) {
        let perms = if v.policies.is_none() {
            "deleted".to_string()
        } else {
            v.permissions.to_string()
        };
        let _ = writeln!(
            out,
            "| {i} | {} | {} | {} | {perms} | {} |",
            v.time.format("%Y-%m-%d %H:%M"),
            v.action.map_or("(manual)", Action::as_str),
            short(v.commit),
            cell(&v.subject)
        );
    }
    if versions.len() > limit {
        let _ = writeln!(
            out,
            "\n{} older versions not shown.",
            versions.len() - limit
        );
    }
    out
}
