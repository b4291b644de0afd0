//! Comment commands (Repokid's dispatcher): `/repokid …` lines in issue and pull-request
//! comments, each answered with one comment.
//!
//! [`dispatch`] takes GitHub's `issue_comment` event payload (what a workflow finds at
//! `$GITHUB_EVENT_PATH`) and acts on the lines of the comment that start with `/repokid`:
//!
//! | command | what happens |
//! |---|---|
//! | `/repokid show ACCOUNT ROLE` | a reply with the role as recorded on the base branch: policies, permissions (wildcards expanded with the catalog), inline size, last changes |
//! | `/repokid opt-out ACCOUNT ROLE --reason "why" [--days N]` | a pull request adding an `[[opt-out.entries]]` table to `filters.toml` (owner: the commenter; expires: today + N days, default [`DEFAULT_OPT_OUT_DAYS`]) |
//! | `/repokid remove-opt-out ACCOUNT ROLE` | a pull request removing the role's entries from `filters.toml` |
//! | `/repokid rollback ACCOUNT ROLE` | a reply listing the role's versions |
//! | `/repokid rollback ACCOUNT ROLE N` | a pull request restoring version N (branch `repokid/rollback/ACCOUNT/ROLE`) |
//! | `/repokid help` | the list above |
//!
//! Rules:
//!
//! * Only `created` comments act; edits and deletions, and comments by bots (`user.type` `Bot`,
//!   which includes this tool's own replies), are ignored without a single request.
//! * Before anything else the commenter's permission on the repository is read once per comment;
//!   only `admin`, `maintain` and `write` may run commands (`show` included). Anyone else gets one
//!   polite refusal for the whole comment and nothing else happens.
//! * Every command gets exactly one reply comment, errors included; an unknown command or bad
//!   arguments get the usage. Several commands in one comment are answered in order.
//! * Lines inside fenced code blocks and quoted lines (`> /repokid …`) are not commands, so
//!   quoting a command (as every reply does) never runs it again.
//! * `filters.toml` is edited as text: the new entry is inserted after the last opt-out table
//!   (removal deletes just the entry's table), so the rest of the file and its comments stay as
//!   they are. The result is parsed with [`FilterConfig::parse`](crate::filters::FilterConfig::parse) and must be exactly the old
//!   configuration with that one change, or nothing is committed.
//! * Branches (`repokid/opt-out/ACCOUNT/ROLE`, `repokid/rollback/ACCOUNT/ROLE`) belong to the tool:
//!   they are rebuilt from the base on each request and force-pushed; an open pull request from
//!   the branch is updated rather than duplicated. The checkout is never touched.

//!
//! Layout: one file per command (`show`, `opt_out`, `remove_opt_out`, `rollback`, `help`), each
//! implementing the command trait (parse its arguments, authorise the commenter, run) and listed
//! once in the registry below; `parse` reads the event and splits command lines into words,
//! `auth` decides who may run commands, and the files the commands share read the base
//! (`base`), write branches (`branch`), edit `filters.toml` (`filters`, `filters_text`) and
//! format Markdown (`markdown`).

use serde::Serialize;
use serde_json::Value;

mod answer;
mod auth;
mod base;
mod branch;
mod command;
mod context;
mod filters;
mod filters_text;
mod help;
mod markdown;
mod opt_out;
mod parse;
mod remove_opt_out;
mod rollback;
mod show;

pub use answer::{MAX_COMMENT_CHARS, Outcome, PrLink};
pub use auth::WRITERS;
pub use branch::{REQUESTED_BY_TRAILER, ROLE_TRAILER};
pub use context::{DispatchContext, filters_path_in_repo, resolve_base};
pub use help::USAGE;
pub use opt_out::{DEFAULT_OPT_OUT_DAYS, MAX_OPT_OUT_DAYS, MAX_REASON_CHARS};
pub use parse::{DispatchError, command_lines};

use answer::{Answer, Comment, quote};
use command::Command;
use help::Help;
use opt_out::OptOut;
use parse::{read_event, split_words};
use remove_opt_out::RemoveOptOut;
use rollback::Rollback;
use show::Show;

/// A command's parser: the words after the command's name to the command, or what is wrong.
type Parser = fn(&[String]) -> Result<Box<dyn Command>, String>;

/// The commands, by the words that name them (matched in lower case, `_` read as `-`).
const COMMANDS: &[(&[&str], Parser)] = &[
    (&["help", "usage"], parser::<Help>),
    (&["show"], parser::<Show>),
    (&["remove-opt-out"], parser::<RemoveOptOut>),
    (&["rollback"], parser::<Rollback>),
    (&["opt-out"], parser::<OptOut>),
];

fn parser<C: Command + 'static>(args: &[String]) -> Result<Box<dyn Command>, String> {
    C::parse(args).map(|c| Box::new(c) as Box<dyn Command>)
}

/// Parses a command line (`/repokid …`); the error says what is wrong, for the usage reply.
fn parse_command(line: &str) -> Result<Box<dyn Command>, String> {
    let rest = line.trim().strip_prefix("/repokid").unwrap_or(line);
    let words = split_words(rest)?;
    let Some((name, args)) = words.split_first() else {
        return Err("no command given".into());
    };
    let name = name.to_ascii_lowercase().replace('_', "-");
    let (_, parse) = COMMANDS
        .iter()
        .find(|(names, _)| names.contains(&name.as_str()))
        .ok_or_else(|| format!("unknown command {name:?}"))?;
    parse(args)
}

/// One reply comment.
#[derive(Debug, Clone, Serialize)]
pub struct Reply {
    /// The command line answered, as written; for a refusal, every command line of the comment
    /// (one per line).
    pub command: String,
    /// How it was answered.
    pub outcome: Outcome,
    /// The comment's Markdown.
    pub body: String,
    /// The pull request the command opened or updated.
    pub pull_request: Option<PrLink>,
    /// Whether the comment was posted.
    pub posted: bool,
    /// Why it could not be posted.
    pub post_error: Option<String>,
}

/// Whether [`dispatch`] would make any request for `event` (a created comment, not by a bot,
/// with at least one command line), so a caller can skip connecting to GitHub; the error
/// [`dispatch`] would return for a payload that is not an `issue_comment` one.
pub fn wants_answer(event: &Value) -> Result<bool, DispatchError> {
    read_event(event).map(|e| e.is_some())
}

/// Answers the `/repokid` commands of an `issue_comment` event, posting one comment per command
/// (one refusal per comment for commenters without write access), and returns the replies.
///
/// An event to be ignored (see the [module documentation](self)) gives no reply and makes no
/// request. A reply that could not be posted is returned with `posted: false` and the error;
/// the remaining commands are still answered. Errors are for events that are not
/// `issue_comment` payloads, or that come from another repository than `ctx.github`'s.
pub fn dispatch(event: &Value, ctx: &DispatchContext<'_>) -> Result<Vec<Reply>, DispatchError> {
    let Some((comment, lines)) = read_event(event)? else {
        return Ok(Vec::new());
    };
    let configured = format!("{}/{}", ctx.github.owner, ctx.github.repo);
    if let Some(full) = event
        .pointer("/repository/full_name")
        .and_then(Value::as_str)
        && !full.eq_ignore_ascii_case(&configured)
    {
        return Err(DispatchError::WrongRepository {
            event: full.to_string(),
            configured,
        });
    }
    tracing::info!(issue = comment.number, login = %comment.login, commands = lines.len(), "dispatching comment commands");
    let permission = match auth::gate(ctx, &comment, &configured) {
        Ok(p) => p,
        Err(answer) => return Ok(vec![post(ctx, &comment, lines.join("\n"), answer)]),
    };
    let mut replies = Vec::new();
    for line in lines {
        let answer = run_command(ctx, &comment, &permission, &line);
        replies.push(post(ctx, &comment, line, answer));
    }
    Ok(replies)
}

fn post(ctx: &DispatchContext<'_>, comment: &Comment, command: String, answer: Answer) -> Reply {
    let body = fit(&answer.body);
    let sent = ctx.github.comment(comment.number, &body);
    if let Err(e) = &sent {
        tracing::warn!(issue = comment.number, "cannot post the reply: {e}");
    }
    Reply {
        command,
        outcome: answer.outcome,
        body,
        pull_request: answer.pull_request,
        posted: sent.is_ok(),
        post_error: sent.err().map(|e| e.to_string()),
    }
}

/// `body` cut to GitHub's comment limit, with a note when cut.
fn fit(body: &str) -> String {
    if body.chars().count() <= MAX_COMMENT_CHARS {
        return body.to_string();
    }
    let note = "\n\n… (cut to fit GitHub's comment size limit)";
    let keep = MAX_COMMENT_CHARS - note.chars().count();
    let mut out: String = body.chars().take(keep).collect();
    out.push_str(note);
    out
}

fn run_command(
    ctx: &DispatchContext<'_>,
    comment: &Comment,
    permission: &str,
    line: &str,
) -> Answer {
    let login = &comment.login;
    let command = match parse_command(line) {
        Ok(c) => c,
        Err(why) => {
            return Answer::new(
                Outcome::Usage,
                format!(
                    "{}Sorry @{login}, I did not understand that: {why}.\n\n{USAGE}",
                    quote(line)
                ),
            );
        }
    };
    if let Err(why) = command.authorise(permission) {
        return Answer::new(
            Outcome::Refused,
            format!("{}Sorry @{login}, {why}.", quote(line)),
        );
    }
    match command.run(ctx, comment, line) {
        Ok(mut a) => {
            a.body = format!("{}{}", quote(line), a.body);
            a
        }
        Err(why) => Answer::new(
            Outcome::Failed,
            format!("{}Sorry @{login}, that did not work: {why}", quote(line)),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parsed command, for comparing with an expected one.
    fn parsed(line: &str) -> String {
        format!("{:?}", parse_command(line))
    }

    #[test]
    fn commands_parse_and_explain_mistakes() {
        assert_eq!(
            parsed("/repokid opt-out 111122223333 web --reason 'PCI audit' --days 30"),
            format!(
                "{:?}",
                Ok::<_, String>(OptOut {
                    account: "111122223333".into(),
                    role: "web".into(),
                    reason: "PCI audit".into(),
                    days: 30
                })
            )
        );
        assert_eq!(
            parsed("/repokid opt_out 111122223333 web --reason=x"),
            format!(
                "{:?}",
                Ok::<_, String>(OptOut {
                    account: "111122223333".into(),
                    role: "web".into(),
                    reason: "x".into(),
                    days: DEFAULT_OPT_OUT_DAYS
                })
            )
        );
        assert_eq!(
            parsed("/repokid rollback 111122223333 web 2"),
            format!(
                "{:?}",
                Ok::<_, String>(Rollback {
                    account: "111122223333".into(),
                    role: "web".into(),
                    selection: Some(2)
                })
            )
        );
        assert_eq!(
            parsed("/repokid HELP me"),
            format!("{:?}", Ok::<_, String>(Help))
        );
        for (line, needle) in [
            ("/repokid", "no command"),
            ("/repokid frobnicate", "unknown command \"frobnicate\""),
            ("/repokid show 1234 web", "12 digits"),
            ("/repokid show 111122223333 a/b", "contains '/'"),
            ("/repokid show 111122223333", "needs ACCOUNT and ROLE"),
            ("/repokid show 111122223333 web extra", "no argument"),
            ("/repokid opt-out 111122223333 web", "--reason"),
            (
                "/repokid opt-out 111122223333 web --reason '  '",
                "--reason",
            ),
            (
                "/repokid opt-out 111122223333 web --reason x --days 0",
                "1 to",
            ),
            (
                "/repokid opt-out 111122223333 web --reason x --days ten",
                "number",
            ),
            (
                "/repokid opt-out 111122223333 web --reason",
                "needs a value",
            ),
            ("/repokid rollback 111122223333 web -1", "version number"),
            (
                "/repokid opt-out 111122223333 web --reason \"x",
                "not closed",
            ),
        ] {
            let err = parse_command(line).expect_err(line);
            assert!(err.contains(needle), "{line}: {err}");
        }
    }

    #[test]
    fn long_comments_are_cut_to_the_limit() {
        let body = "é".repeat(MAX_COMMENT_CHARS + 10);
        let cut = fit(&body);
        assert_eq!(cut.chars().count(), MAX_COMMENT_CHARS);
        assert!(cut.ends_with("comment size limit)"));
        assert_eq!(fit("short"), "short");
    }
}
