//! The review's model: the public limits and types, and the roles of a proposal in review order.

use chrono::{DateTime, Utc};

use crate::engine::AccessLevel;
use crate::report::{PlanReport, RoleReport};

/// GitHub's limit on a pull request body, in characters.
pub const GITHUB_BODY_LIMIT: usize = 65_536;

/// Room left under [`GITHUB_BODY_LIMIT`] for what is added to the body when the pull request is
/// opened (the digest marker, a "Supersedes" line). Bodies from [`pr_text`](super::pr_text) are at most
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

/// How much a role section lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Detail {
    /// Capped lists, for the pull request body.
    Body,
    /// Everything, for the report file.
    Full,
}

/// A changed role with its diff, in review order.
pub(super) struct Changed<'a> {
    pub(super) role: &'a RoleReport,
    pub(super) diff: Option<&'a RoleDiff>,
    /// Removed Permissions management and Write actions.
    pub(super) risky: usize,
}

/// A proposal's roles in review order, with what every section needs.
pub(super) struct Review<'a> {
    pub(super) account: &'a str,
    pub(super) report: &'a PlanReport,
    pub(super) now: DateTime<Utc>,
    pub(super) total_roles: usize,
    /// Eligible roles, the riskiest first (most Permissions management/Write removals, then most
    /// removals, then by name).
    pub(super) changed: Vec<Changed<'a>>,
    pub(super) unchanged: Vec<&'a RoleReport>,
}

pub(super) fn is_risky(level: AccessLevel) -> bool {
    matches!(
        level,
        AccessLevel::PermissionsManagement | AccessLevel::Write
    )
}

pub(super) fn level_rank(level: AccessLevel) -> usize {
    REVIEW_ORDER
        .iter()
        .position(|l| *l == level)
        .unwrap_or(REVIEW_ORDER.len())
}

impl<'a> Review<'a> {
    pub(super) fn new(
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

    pub(super) fn window(&self) -> i64 {
        self.report.settings.usage_window_days
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_path_is_outside_policies() {
        assert_eq!(
            report_path("111122223333"),
            ".repokid/reports/111122223333.md"
        );
    }
}
