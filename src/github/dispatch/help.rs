//! `/repokid help` (or `usage`): the list of commands, also sent with every usage reply.

use super::answer::{Answer, Comment, Outcome, quote};
use super::command::Command;
use super::context::DispatchContext;

/// The command list every usage reply carries.
pub const USAGE: &str = "\
Commands (one per line, each answered on its own):

* `/repokid show ACCOUNT ROLE` — the role as recorded: policies, permissions, size, last changes
* `/repokid opt-out ACCOUNT ROLE --reason \"why\" [--days N]` — a pull request adding an opt-out \
to `filters.toml`, until N days from today (default 90)
* `/repokid remove-opt-out ACCOUNT ROLE` — a pull request removing the role's opt-out
* `/repokid rollback ACCOUNT ROLE` — the role's versions; `/repokid rollback ACCOUNT ROLE N` — a \
pull request restoring version N
* `/repokid help` — this list

ACCOUNT is a 12-digit account id and ROLE a role name as recorded under \
`policies/ACCOUNT/`. Quote a reason with spaces (`\"…\"` or `'…'`). Only people with write \
access to the repository can run commands.";

/// `help`; any words after it are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Help;

impl Command for Help {
    fn parse(_: &[String]) -> Result<Help, String> {
        Ok(Help)
    }

    fn run(
        &self,
        _: &DispatchContext<'_>,
        comment: &Comment,
        line: &str,
    ) -> Result<Answer, String> {
        // The line is quoted here as well as before every reply's body, so the help reply shows
        // it twice: as it always has (restructuring kept the replies as they were).
        Ok(Answer::new(
            Outcome::Usage,
            format!("{}@{}, {USAGE}", quote(line), comment.login),
        ))
    }
}
