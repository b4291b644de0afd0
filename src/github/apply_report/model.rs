//! What the flow and the Markdown of the apply report share: one account's result.

use crate::apply::AccountApply;

/// One account's result, however it came about.
pub(super) struct AccountResult<'a> {
    pub(super) account: String,
    pub(super) report: Option<&'a AccountApply>,
    /// Why the account failed when it has no report, or its refs were not pushed.
    pub(super) problem: Option<String>,
}

impl AccountResult<'_> {
    /// Whether the account failed: a problem, no report, or a role that failed.
    pub(super) fn failed(&self) -> bool {
        self.problem.is_some() || self.report.is_none_or(|r| !r.succeeded())
    }
}
