//! What commands produce: the answer to one command line, before it is posted, and the comment it
//! answers.

use serde::Serialize;

/// GitHub's limit on a comment body, in characters.
pub const MAX_COMMENT_CHARS: usize = 65_536;

/// How a command (or a comment) was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Done: the role shown, the versions listed, a pull request opened or updated.
    Done,
    /// Nothing to do (no such opt-out, the role already matches that version); said so.
    Unchanged,
    /// The commenter may not run commands (one reply for the whole comment).
    Refused,
    /// Not a command, or bad arguments: the usage was sent (also the answer to `help`).
    Usage,
    /// The command could not be carried out; the reply says why.
    Failed,
}

/// A pull request opened or updated by a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrLink {
    /// Its number.
    pub number: u64,
    /// Its web page.
    pub url: String,
    /// Whether it was opened now (else an open one from the same branch was updated).
    pub opened: bool,
    /// The head branch.
    pub branch: String,
}

/// A comment, as much of the event as the commands need.
#[derive(Debug, Clone)]
pub(super) struct Comment {
    /// Who wrote it.
    pub(super) login: String,
    /// The issue or pull request it was made on.
    pub(super) number: u64,
}

/// What a command produced, before it is posted.
pub(super) struct Answer {
    pub(super) outcome: Outcome,
    pub(super) body: String,
    pub(super) pull_request: Option<PrLink>,
}

impl Answer {
    pub(super) fn new(outcome: Outcome, body: String) -> Answer {
        Answer {
            outcome,
            body,
            pull_request: None,
        }
    }
}

/// The quoted command heading every reply.
pub(super) fn quote(line: &str) -> String {
    format!("> {line}\n\n")
}
