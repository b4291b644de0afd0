//! The trait every comment command implements: parse its arguments, authorise the commenter, run.
//!
//! A command lives in its own file (`show.rs`, `opt_out.rs`, …) and is listed once in the
//! registry of [`super`] under the words that name it.

use super::answer::{Answer, Comment};
use super::auth::require_writer;
use super::context::DispatchContext;

/// One `/repokid` command, parsed from the words after its name.
pub(super) trait Command: std::fmt::Debug {
    /// The command from its arguments (the words after the command's name); the error says what
    /// is wrong, for the usage reply.
    fn parse(args: &[String]) -> Result<Self, String>
    where
        Self: Sized;

    /// Whether a commenter with `permission` on the repository may run it, checked after the
    /// comment's gate ([`super::auth::gate`]); by default the writers may.
    fn authorise(&self, permission: &str) -> Result<(), String> {
        require_writer(permission)
    }

    /// Carries the command out for `comment`, whose command line is `line`. The answer's body
    /// gets the quoted line put before it; an error is answered with an apology and the reason.
    fn run(
        &self,
        ctx: &DispatchContext<'_>,
        comment: &Comment,
        line: &str,
    ) -> Result<Answer, String>;
}
