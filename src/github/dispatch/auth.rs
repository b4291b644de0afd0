//! Who may run what: the commenter's permission on the repository, read once per comment.
//!
//! Only `admin`, `maintain` and `write` ([`WRITERS`]) may run commands, `show` included; anyone
//! else gets one refusal for the whole comment. A command may ask for more through
//! [`Command::authorise`](super::command::Command::authorise); none does today.

use super::answer::{Answer, Comment, Outcome};
use super::context::DispatchContext;

/// Permissions that may run commands.
pub const WRITERS: [&str; 3] = ["admin", "maintain", "write"];

/// The commenter's permission when it may run commands; else the one answer for the whole
/// comment (a refusal, or the failure to read the permission). `configured` is the repository's
/// `owner/name`, for the message.
pub(super) fn gate(
    ctx: &DispatchContext<'_>,
    comment: &Comment,
    configured: &str,
) -> Result<String, Answer> {
    match ctx.github.permission(&comment.login) {
        Ok(p) if WRITERS.contains(&p.as_str()) => Ok(p),
        Ok(p) => {
            tracing::info!(login = %comment.login, permission = %p, "refused");
            Err(Answer::new(
                Outcome::Refused,
                format!(
                    "Sorry @{}, only people with write access to {configured} can run repokid \
                     commands.",
                    comment.login
                ),
            ))
        }
        Err(e) => Err(Answer::new(
            Outcome::Failed,
            format!(
                "Sorry @{}, I could not check your permission on {configured}, so nothing was \
                 done: {e}",
                comment.login
            ),
        )),
    }
}

/// Whether `permission` is one of the [`WRITERS`]; the reason when not.
pub(super) fn require_writer(permission: &str) -> Result<(), String> {
    if WRITERS.contains(&permission) {
        Ok(())
    } else {
        Err(format!(
            "this command needs write access to the repository, and yours is {permission}"
        ))
    }
}
