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
//!   they are. The result is parsed with [`FilterConfig::parse`] and must be exactly the old
//!   configuration with that one change, or nothing is committed.
//! * Branches (`repokid/opt-out/ACCOUNT/ROLE`, `repokid/rollback/ACCOUNT/ROLE`) belong to the tool:
//!   they are rebuilt from the base on each request and force-pushed; an open pull request from
//!   the branch is updated rather than duplicated. The checkout is never touched.

use std::fmt::Write as _;
use std::path::{Component, Path};

use chrono::{DateTime, Days, Utc};
use git2::{BranchType, ObjectType, Repository};
use serde::Serialize;
use serde_json::Value;

use super::client::{GitHub, GitHubError, PullRequest};
use super::push::push;
use crate::engine::Catalog;
use crate::engine::grants::analyze;
use crate::engine::policy::{PolicyMap, inline_size, to_canonical_json};
use crate::filters::{DEFAULT_FILTERS_TOML, FilterConfig, OptOutEntry};
use crate::settings::Settings;
use crate::store::git::{PolicyStore, WriteAccount, WriteMode};
use crate::store::history::{RoleVersion, restore, role_versions};
use crate::store::names::{validate_account_id, validate_role_name};
use crate::store::{Action, POLICIES_DIR, role_path};

/// Opt-out length when `--days` is not given.
pub const DEFAULT_OPT_OUT_DAYS: u64 = 90;
/// The longest opt-out `--days` may ask for (ten years).
pub const MAX_OPT_OUT_DAYS: u64 = 3650;
/// The longest `--reason` accepted, in characters.
pub const MAX_REASON_CHARS: usize = 500;
/// GitHub's limit on a comment body, in characters.
pub const MAX_COMMENT_CHARS: usize = 65_536;
/// The trailer naming who asked for a change made from a comment.
pub const REQUESTED_BY_TRAILER: &str = "Repokid-Requested-By";
/// The trailer naming the role an opt-out commit is about.
pub const ROLE_TRAILER: &str = "Repokid-Role";
/// Permissions that may run commands.
pub const WRITERS: [&str; 3] = ["admin", "maintain", "write"];

/// Versions shown by `show`; `rollback` without N lists up to [`MAX_LISTED_VERSIONS`].
const SHOWN_VERSIONS: usize = 10;
const MAX_LISTED_VERSIONS: usize = 100;
/// Action names listed in a rollback reply per direction (the pull request lists more).
const REPLY_LISTED_ACTIONS: usize = 50;
const PR_LISTED_ACTIONS: usize = 500;

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

/// The event is not one [`dispatch`] can answer.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// A field `dispatch` needs is missing or of the wrong type.
    #[error("the event is not a GitHub issue_comment payload: {0}")]
    Event(String),
    /// The comment was made in another repository than the one configured: replies would go to
    /// the wrong place, so nothing is done.
    #[error(
        "the comment was made in {event}, but [github] repo is {configured}; not answering in \
         another repository"
    )]
    WrongRepository {
        /// `repository.full_name` of the event.
        event: String,
        /// `owner/name` of the GitHub connection.
        configured: String,
    },
}

/// What [`dispatch`] works with.
#[derive(Debug)]
pub struct DispatchContext<'a> {
    /// The repository commands are answered in and pull requests opened on.
    pub github: &'a GitHub,
    /// The settings: `[github]` (base branch, git URL for pushes) and the engine's size limit.
    pub settings: &'a Settings,
    /// The policy repository (a clone of the GitHub repository).
    pub store: &'a PolicyStore,
    /// The IAM action catalog, for permission counts and restores.
    pub catalog: &'a Catalog,
    /// The revision read and built upon (`main`, or `origin/main` in a checkout without the
    /// local branch); pull requests target `settings.github.base_branch`.
    pub base: String,
    /// `filters.toml`'s path in the repository (`/`-separated), `None` when it lies outside the
    /// repository (opt-out commands then answer with an error).
    pub filters_path: Option<String>,
    /// Today, for opt-out expiry dates.
    pub now: DateTime<Utc>,
}

impl<'a> DispatchContext<'a> {
    /// A context with the base resolved from `[github] base-branch` ([`resolve_base`]), the
    /// filters path from the settings ([`filters_path_in_repo`]) and the current time.
    pub fn new(
        github: &'a GitHub,
        settings: &'a Settings,
        store: &'a PolicyStore,
        catalog: &'a Catalog,
    ) -> DispatchContext<'a> {
        DispatchContext {
            github,
            settings,
            store,
            catalog,
            base: resolve_base(store.repo(), &settings.github.base_branch),
            filters_path: filters_path_in_repo(settings, store),
            now: Utc::now(),
        }
    }
}

/// The revision to read `branch` at: the local branch when there is one, else
/// `origin/<branch>` when that exists (a CI checkout of another ref), else `branch` as given.
pub fn resolve_base(repo: &Repository, branch: &str) -> String {
    if repo.find_branch(branch, BranchType::Local).is_ok() {
        return branch.to_string();
    }
    let remote = format!("origin/{branch}");
    if repo.find_branch(&remote, BranchType::Remote).is_ok() {
        return remote;
    }
    branch.to_string()
}

/// Where the settings' filters file is in the repository (`/`-separated), or `None` when it is
/// outside the repository's working tree (or the repository is bare).
pub fn filters_path_in_repo(settings: &Settings, store: &PolicyStore) -> Option<String> {
    let workdir = store.repo().workdir()?.canonicalize().ok()?;
    let file = settings.resolve(&settings.filters);
    let name = file.file_name()?;
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => Path::new(".").to_path_buf(),
    };
    let full = parent.canonicalize().ok()?.join(name);
    let rel = full.strip_prefix(&workdir).ok()?;
    let parts: Option<Vec<&str>> = rel
        .components()
        .map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect();
    let parts = parts.filter(|p| !p.is_empty())?;
    Some(parts.join("/"))
}

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

/// A comment, as much of the event as the commands need.
#[derive(Debug, Clone)]
struct Comment {
    login: String,
    number: u64,
}

/// What the event asks for: `None` when it is to be ignored (not `created`, by a bot, no
/// command line).
fn read_event(event: &Value) -> Result<Option<(Comment, Vec<String>)>, DispatchError> {
    if event.get("action").and_then(Value::as_str) != Some("created") {
        return Ok(None);
    }
    let comment = event
        .get("comment")
        .filter(|c| c.is_object())
        .ok_or_else(|| DispatchError::Event("no comment object".into()))?;
    if comment.pointer("/user/type").and_then(Value::as_str) == Some("Bot") {
        return Ok(None);
    }
    let body = comment
        .get("body")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let lines = command_lines(body);
    if lines.is_empty() {
        return Ok(None);
    }
    let login = comment
        .pointer("/user/login")
        .and_then(Value::as_str)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| DispatchError::Event("no comment.user.login".into()))?
        .to_string();
    let number = event
        .pointer("/issue/number")
        .and_then(Value::as_u64)
        .ok_or_else(|| DispatchError::Event("no issue.number".into()))?;
    Ok(Some((Comment { login, number }, lines)))
}

/// Whether [`dispatch`] would make any request for `event` (a created comment, not by a bot,
/// with at least one command line), so a caller can skip connecting to GitHub; the error
/// [`dispatch`] would return for a payload that is not an `issue_comment` one.
pub fn wants_answer(event: &Value) -> Result<bool, DispatchError> {
    read_event(event).map(|e| e.is_some())
}

/// The command lines of a comment body: lines that start (after indentation) with `/repokid`
/// followed by a space or the end of the line, outside fenced code blocks.
pub fn command_lines(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fence: Option<&str> = None;
    for line in body.lines() {
        let t = line.trim();
        let marker = if t.starts_with("```") {
            Some("```")
        } else if t.starts_with("~~~") {
            Some("~~~")
        } else {
            None
        };
        match (fence, marker) {
            (None, Some(m)) => {
                fence = Some(m);
                continue;
            }
            (Some(f), Some(m)) if f == m => {
                fence = None;
                continue;
            }
            (Some(_), _) => continue,
            (None, None) => {}
        }
        if t == "/repokid" || t.starts_with("/repokid ") || t.starts_with("/repokid\t") {
            out.push(t.to_string());
        }
    }
    out
}

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Command {
    Show {
        account: String,
        role: String,
    },
    OptOut {
        account: String,
        role: String,
        reason: String,
        days: u64,
    },
    RemoveOptOut {
        account: String,
        role: String,
    },
    Rollback {
        account: String,
        role: String,
        selection: Option<usize>,
    },
    Help,
}

/// Splits the words of a command line: whitespace separates, `"…"` and `'…'` quote (inside
/// double quotes `\"` and `\\` escape).
fn split_words(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        None => return Err("a double quote is not closed".into()),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e @ ('"' | '\\')) => cur.push(e),
                            Some(other) => {
                                cur.push('\\');
                                cur.push(other);
                            }
                            None => return Err("a double quote is not closed".into()),
                        },
                        Some(other) => cur.push(other),
                    }
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        None => return Err("a single quote is not closed".into()),
                        Some('\'') => break,
                        Some(other) => cur.push(other),
                    }
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Parses a command line (`/repokid …`); the error says what is wrong, for the usage reply.
fn parse_command(line: &str) -> Result<Command, String> {
    let rest = line.trim().strip_prefix("/repokid").unwrap_or(line);
    let words = split_words(rest)?;
    let Some((sub, args)) = words.split_first() else {
        return Err("no command given".into());
    };
    let sub = sub.to_ascii_lowercase().replace('_', "-");
    let names = |args: &[String], what: &str| -> Result<(String, String), String> {
        match args {
            [account, role, ..] => {
                validate_account_id(account).map_err(|e| e.to_string())?;
                validate_role_name(role).map_err(|e| e.to_string())?;
                Ok((account.clone(), role.clone()))
            }
            _ => Err(format!("`{what}` needs ACCOUNT and ROLE")),
        }
    };
    let no_more = |extra: &[String], what: &str| -> Result<(), String> {
        match extra.first() {
            None => Ok(()),
            Some(w) => Err(format!("`{what}` takes no argument {w:?}")),
        }
    };
    match sub.as_str() {
        "help" | "usage" => Ok(Command::Help),
        "show" => {
            let (account, role) = names(args, "show")?;
            no_more(&args[2..], "show")?;
            Ok(Command::Show { account, role })
        }
        "remove-opt-out" => {
            let (account, role) = names(args, "remove-opt-out")?;
            no_more(&args[2..], "remove-opt-out")?;
            Ok(Command::RemoveOptOut { account, role })
        }
        "rollback" => {
            let (account, role) = names(args, "rollback")?;
            let selection = match &args[2..] {
                [] => None,
                [n] => Some(n.parse::<usize>().map_err(|_| {
                    format!("`rollback` takes a version number N (0 is the newest), not {n:?}")
                })?),
                [_, extra, ..] => return Err(format!("`rollback` takes no argument {extra:?}")),
            };
            Ok(Command::Rollback {
                account,
                role,
                selection,
            })
        }
        "opt-out" => {
            let (account, role) = names(args, "opt-out")?;
            let mut reason = None;
            let mut days = None;
            let mut rest = args[2..].iter();
            while let Some(w) = rest.next() {
                let (flag, inline) = match w.split_once('=') {
                    Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
                    _ => (w.as_str(), None),
                };
                let mut value = || {
                    inline
                        .clone()
                        .or_else(|| rest.next().cloned())
                        .ok_or_else(|| format!("`{flag}` needs a value"))
                };
                match flag {
                    "--reason" => reason = Some(value()?),
                    "--days" => {
                        let v = value()?;
                        days =
                            Some(v.parse::<u64>().map_err(|_| {
                                format!("`--days` takes a number of days, not {v:?}")
                            })?);
                    }
                    other => return Err(format!("`opt-out` takes no argument {other:?}")),
                }
            }
            let reason = reason
                .map(|r| r.split_whitespace().collect::<Vec<_>>().join(" "))
                .filter(|r| !r.is_empty())
                .ok_or("`opt-out` needs `--reason \"why\"`")?;
            if reason.chars().count() > MAX_REASON_CHARS {
                return Err(format!(
                    "the reason is longer than {MAX_REASON_CHARS} characters"
                ));
            }
            let days = days.unwrap_or(DEFAULT_OPT_OUT_DAYS);
            if !(1..=MAX_OPT_OUT_DAYS).contains(&days) {
                return Err(format!("`--days` must be 1 to {MAX_OPT_OUT_DAYS}"));
            }
            Ok(Command::OptOut {
                account,
                role,
                reason,
                days,
            })
        }
        other => Err(format!("unknown command {other:?}")),
    }
}

/// What a command produced, before it is posted.
struct Answer {
    outcome: Outcome,
    body: String,
    pull_request: Option<PrLink>,
}

impl Answer {
    fn new(outcome: Outcome, body: String) -> Answer {
        Answer {
            outcome,
            body,
            pull_request: None,
        }
    }
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
    let refusal = match ctx.github.permission(&comment.login) {
        Ok(p) if WRITERS.contains(&p.as_str()) => None,
        Ok(p) => {
            tracing::info!(login = %comment.login, permission = %p, "refused");
            Some(Answer::new(
                Outcome::Refused,
                format!(
                    "Sorry @{}, only people with write access to {configured} can run repokid \
                     commands.",
                    comment.login
                ),
            ))
        }
        Err(e) => Some(Answer::new(
            Outcome::Failed,
            format!(
                "Sorry @{}, I could not check your permission on {configured}, so nothing was \
                 done: {e}",
                comment.login
            ),
        )),
    };
    if let Some(answer) = refusal {
        return Ok(vec![post(ctx, &comment, lines.join("\n"), answer)]);
    }
    let mut replies = Vec::new();
    for line in lines {
        let answer = run_command(ctx, &comment, &line);
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

/// The quoted command heading every reply.
fn quote(line: &str) -> String {
    format!("> {line}\n\n")
}

fn run_command(ctx: &DispatchContext<'_>, comment: &Comment, line: &str) -> Answer {
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
    let result = match command {
        Command::Help => Ok(Answer::new(
            Outcome::Usage,
            format!("{}@{login}, {USAGE}", quote(line)),
        )),
        Command::Show { account, role } => show(ctx, &account, &role),
        Command::Rollback {
            account,
            role,
            selection: None,
        } => list_versions(ctx, &account, &role),
        Command::Rollback {
            account,
            role,
            selection: Some(n),
        } => rollback(ctx, comment, &account, &role, n),
        Command::OptOut {
            account,
            role,
            reason,
            days,
        } => opt_out(ctx, comment, &account, &role, &reason, days),
        Command::RemoveOptOut { account, role } => remove_opt_out(ctx, comment, &account, &role),
    };
    match result {
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

/// The base commit's id, for messages.
fn base_commit(ctx: &DispatchContext<'_>) -> Result<git2::Oid, String> {
    ctx.store
        .repo()
        .revparse_single(&ctx.base)
        .and_then(|o| o.peel_to_commit())
        .map(|c| c.id())
        .map_err(|e| format!("cannot read the base {}: {}", ctx.base, e.message()))
}

/// The recorded name of `role` in `account` at the base (matched case-insensitively, an exact
/// match preferred), or the "not found" error.
fn recorded_role(ctx: &DispatchContext<'_>, account: &str, role: &str) -> Result<String, String> {
    let repo = ctx.store.repo();
    let tree = repo
        .revparse_single(&ctx.base)
        .and_then(|o| o.peel_to_tree())
        .map_err(|e| format!("cannot read the base {}: {}", ctx.base, e.message()))?;
    let not_found = || {
        format!(
            "role {role} not found in account {account} (no policies/{account}/{role}.json on {})",
            ctx.base
        )
    };
    let Ok(entry) = tree.get_path(Path::new(&format!("{POLICIES_DIR}/{account}"))) else {
        return Err(not_found());
    };
    let Ok(dir) = repo.find_tree(entry.id()) else {
        return Err(not_found());
    };
    let mut found = None;
    for e in dir.iter() {
        if e.kind() != Some(ObjectType::Blob) {
            continue;
        }
        let Some(name) = e.name().ok().and_then(|n| n.strip_suffix(".json")) else {
            continue;
        };
        if name == role {
            return Ok(name.to_string());
        }
        if name.eq_ignore_ascii_case(role) && found.is_none() {
            found = Some(name.to_string());
        }
    }
    found.ok_or_else(not_found)
}

fn short(id: git2::Oid) -> String {
    id.to_string().chars().take(10).collect()
}

/// A Markdown table cell: one line, pipes escaped.
fn cell(s: &str) -> String {
    s.replace(['\n', '\r'], " ").replace('|', "\\|")
}

fn versions_table(versions: &[RoleVersion], limit: usize) -> String {
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

fn show(ctx: &DispatchContext<'_>, account: &str, role: &str) -> Result<Answer, String> {
    let role = recorded_role(ctx, account, role)?;
    let commit = base_commit(ctx)?;
    let policies = ctx
        .store
        .read_role(&ctx.base, account, &role)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("role {role} not found in account {account}"))?;
    let versions = role_versions(ctx.store.repo(), &ctx.base, account, &role, ctx.catalog)
        .map_err(|e| e.to_string())?;
    let grants = analyze(&policies, ctx.catalog);
    let path = role_path(account, &role).display().to_string();
    let mut head = format!(
        "**`{role}`** in `{account}`, as recorded on `{}` ({}):\n\n",
        ctx.base,
        short(commit)
    );
    let _ = writeln!(
        head,
        "* **{}** inline {}, **{}** permissions (wildcards expanded with the IAM action catalog){}",
        policies.len(),
        if policies.len() == 1 {
            "policy"
        } else {
            "policies"
        },
        grants.all.len(),
        if grants.unknown.is_empty() {
            String::new()
        } else {
            format!(
                ", and {} entries the catalog does not know",
                grants.unknown.len()
            )
        }
    );
    let _ = writeln!(
        head,
        "* inline size **{}** of {} characters (IAM's limit, whitespace excluded)\n",
        inline_size(&policies),
        ctx.settings.engine.size_limit
    );
    if !policies.is_empty() {
        head.push_str("| policy | statements | permissions |\n|---|---:|---:|\n");
        for (name, doc) in &policies {
            let one: PolicyMap = [(name.clone(), doc.clone())].into();
            let _ = writeln!(
                head,
                "| `{}` | {} | {} |",
                cell(name),
                doc.statements().len(),
                analyze(&one, ctx.catalog).all.len()
            );
        }
        head.push('\n');
    }
    let documents = format!(
        "<details><summary>Policy documents ({path})</summary>\n\n```json\n{}```\n\n</details>\n\n",
        to_canonical_json(&policies)
    );
    let mut tail = String::new();
    if !versions.is_empty() {
        tail.push_str("**Last changes** (newest first):\n\n");
        tail.push_str(&versions_table(&versions, SHOWN_VERSIONS));
        let _ = write!(
            tail,
            "\nList every version with `/repokid rollback {account} {role}`; restore one with \
             `/repokid rollback {account} {role} N`."
        );
    }
    let mut body = format!("{head}{documents}{tail}");
    if body.chars().count() + 200 > MAX_COMMENT_CHARS {
        let link = ctx
            .settings
            .github
            .blob_url(&ctx.settings.github.base_branch, &path)
            .map(|u| format!(" ([{path}]({u}))"))
            .unwrap_or_else(|| format!(" (`{path}`)"));
        body = format!(
            "{head}The policy documents are too large for a comment; see the file{link}.\n\n{tail}"
        );
    }
    Ok(Answer::new(Outcome::Done, body))
}

fn list_versions(ctx: &DispatchContext<'_>, account: &str, role: &str) -> Result<Answer, String> {
    let role = recorded_role(ctx, account, role).or_else(|e| {
        // A deleted role still has versions to restore.
        let v = role_versions(ctx.store.repo(), &ctx.base, account, role, ctx.catalog)
            .map_err(|e| e.to_string())?;
        if v.is_empty() {
            Err(e)
        } else {
            Ok(role.to_string())
        }
    })?;
    let versions = role_versions(ctx.store.repo(), &ctx.base, account, &role, ctx.catalog)
        .map_err(|e| e.to_string())?;
    if versions.is_empty() {
        return Err(format!(
            "policies/{account}/{role}.json has no history on {}",
            ctx.base
        ));
    }
    let body = format!(
        "Versions of **`{role}`** in `{account}` on `{}` (newest first):\n\n{}\nRestore one with \
         `/repokid rollback {account} {role} N`: a pull request brings that version back.",
        ctx.base,
        versions_table(&versions, MAX_LISTED_VERSIONS)
    );
    Ok(Answer::new(Outcome::Done, body))
}

/// Removes the local branch `name` so it can be rebuilt from the base (it belongs to the tool).
fn reset_branch(repo: &Repository, name: &str) -> Result<(), String> {
    match repo.find_branch(name, BranchType::Local) {
        Ok(mut b) => {
            if b.is_head() {
                return Err(format!(
                    "branch {name} is checked out here; it cannot be rebuilt"
                ));
            }
            b.delete()
                .map_err(|e| format!("cannot reset branch {name}: {}", e.message()))
        }
        Err(_) => Ok(()),
    }
}

/// Pushes `branch` (forced: the tool's branch, rebuilt from the base) and opens its pull request,
/// or updates the open one.
fn push_and_open(
    ctx: &DispatchContext<'_>,
    branch: &str,
    title: &str,
    body: &str,
) -> Result<PrLink, String> {
    let url = ctx
        .settings
        .github
        .git_url()
        .ok_or("no [github] repo or git-url to push to")?;
    let token = ctx.github.git_token().map_err(|e| e.to_string())?;
    push(
        ctx.store.repo(),
        &url,
        &[&format!("+refs/heads/{branch}:refs/heads/{branch}")],
        &token,
    )
    .map_err(|e| e.to_string())?;
    let gh = ctx.github;
    let open = |existing: Option<PullRequest>| -> Result<(PullRequest, bool), GitHubError> {
        match existing {
            Some(pr) if pr.state == "open" => Ok((gh.update_pr(pr.number, title, body)?, false)),
            _ => Ok((
                gh.create_pr(branch, &ctx.settings.github.base_branch, title, body)?,
                true,
            )),
        }
    };
    let (pr, opened) = gh
        .find_pr(branch)
        .and_then(open)
        .map_err(|e| format!("the branch {branch} was pushed, but {e}"))?;
    Ok(PrLink {
        number: pr.number,
        url: pr.html_url,
        opened,
        branch: branch.to_string(),
    })
}

fn pr_sentence(pr: &PrLink) -> String {
    if pr.opened {
        format!("opened #{} ({})", pr.number, pr.url)
    } else {
        format!("updated the open pull request #{} ({})", pr.number, pr.url)
    }
}

fn action_list(names: &[String], limit: usize) -> String {
    let mut out: String = names
        .iter()
        .take(limit)
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > limit {
        let _ = write!(out, " and {} more", names.len() - limit);
    }
    if out.is_empty() {
        out.push_str("nothing");
    }
    out
}

fn rollback(
    ctx: &DispatchContext<'_>,
    comment: &Comment,
    account: &str,
    role: &str,
    selection: usize,
) -> Result<Answer, String> {
    let role = recorded_role(ctx, account, role).or_else(|e| {
        let v = role_versions(ctx.store.repo(), &ctx.base, account, role, ctx.catalog)
            .map_err(|e| e.to_string())?;
        if v.is_empty() {
            Err(e)
        } else {
            Ok(role.to_string())
        }
    })?;
    let repo = ctx.store.repo();
    let versions =
        role_versions(repo, &ctx.base, account, &role, ctx.catalog).map_err(|e| e.to_string())?;
    let current = ctx
        .store
        .read_role(&ctx.base, account, &role)
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    let restored =
        restore(&versions, &current, selection, None, ctx.catalog).map_err(|e| e.to_string())?;
    let picked = &versions[selection];
    let branch = format!("repokid/rollback/{account}/{role}");
    let subject = format!(
        "repokid rollback: {role} in {account} to {}",
        short(picked.commit)
    );
    let commit_body = format!(
        "Requested by @{} in #{}.\n\nComes back ({}): {}\nGoes away ({}): {}",
        comment.login,
        comment.number,
        restored.comes_back.len(),
        restored.comes_back.join(", "),
        restored.goes_away.len(),
        restored.goes_away.join(", ")
    );
    reset_branch(repo, &branch)?;
    let written = ctx
        .store
        .write_account(&WriteAccount {
            base: Some(ctx.base.clone()),
            mode: WriteMode::Upsert,
            roles: [(role.clone(), restored.policies.clone())].into(),
            action: Action::Rollback,
            subject: subject.clone(),
            body: commit_body,
            extra_trailers: vec![(REQUESTED_BY_TRAILER.to_string(), comment.login.clone())],
            ..WriteAccount::new(branch.clone(), account.to_string())
        })
        .map_err(|e| e.to_string())?;
    if written.is_none() {
        return Ok(Answer::new(
            Outcome::Unchanged,
            format!(
                "`{role}` in `{account}` already matches version {selection} ({}) on `{}`; \
                 nothing to roll back.",
                short(picked.commit),
                ctx.base
            ),
        ));
    }
    let changes = |limit: usize| {
        format!(
            "Comes back ({}): {}\n\nGoes away ({}): {}",
            restored.comes_back.len(),
            action_list(&restored.comes_back, limit),
            restored.goes_away.len(),
            action_list(&restored.goes_away, limit)
        )
    };
    let title = format!(
        "repokid: roll back {role} in {account} to {}",
        short(picked.commit)
    );
    let pr_body = format!(
        "Restores `policies/{account}/{role}.json` to version {selection}: {} ({}, {}), as \
         requested by @{} in #{}.\n\n{}\n\nOnce merged, `repokid apply` writes it to IAM.",
        short(picked.commit),
        picked.time.format("%Y-%m-%d %H:%M UTC"),
        cell(&picked.subject),
        comment.login,
        comment.number,
        changes(PR_LISTED_ACTIONS)
    );
    let pr = push_and_open(ctx, &branch, &title, &pr_body)?;
    let body = format!(
        "@{}, I {} to roll `{role}` in `{account}` back to version {selection} ({}).\n\n{}",
        comment.login,
        pr_sentence(&pr),
        short(picked.commit),
        changes(REPLY_LISTED_ACTIONS)
    );
    Ok(Answer {
        outcome: Outcome::Done,
        body,
        pull_request: Some(pr),
    })
}

/// `filters.toml` at the base: its repository path, text, parsed form, and whether it exists.
struct Filters {
    path: String,
    text: String,
    config: FilterConfig,
    existed: bool,
}

fn read_filters(ctx: &DispatchContext<'_>) -> Result<Filters, String> {
    let path = ctx.filters_path.clone().ok_or(
        "the filters file is not inside the policy repository, so opt-outs cannot be proposed \
         as a pull request",
    )?;
    let repo = ctx.store.repo();
    let tree = repo
        .revparse_single(&ctx.base)
        .and_then(|o| o.peel_to_tree())
        .map_err(|e| format!("cannot read the base {}: {}", ctx.base, e.message()))?;
    let (text, existed) = match tree.get_path(Path::new(&path)) {
        Ok(entry) => {
            let blob = repo
                .find_blob(entry.id())
                .map_err(|e| format!("cannot read {path} on {}: {}", ctx.base, e.message()))?;
            let text = String::from_utf8(blob.content().to_vec())
                .map_err(|_| format!("{path} on {} is not UTF-8", ctx.base))?;
            (text, true)
        }
        Err(_) => (DEFAULT_FILTERS_TOML.to_string(), false),
    };
    let config = FilterConfig::parse(&text)
        .map_err(|e| format!("{path} on {} is invalid, fix it first: {e}", ctx.base))?;
    Ok(Filters {
        path,
        text,
        config,
        existed,
    })
}

fn entry_matches(e: &OptOutEntry, account: &str, role: &str) -> bool {
    e.account == account && e.role.eq_ignore_ascii_case(role)
}

/// A change of the filters file, proposed on its own branch.
struct FiltersChange<'t> {
    role: &'t str,
    text: String,
    branch: String,
    subject: String,
    commit_body: String,
    pr_body: String,
}

/// Commits `change.text` as the filters file on `change.branch` (rebuilt from the base), pushes
/// it and opens or updates the pull request; `None` when the file already says exactly that.
fn propose_filters(
    ctx: &DispatchContext<'_>,
    comment: &Comment,
    filters: &Filters,
    account: &str,
    change: FiltersChange<'_>,
) -> Result<Option<PrLink>, String> {
    reset_branch(ctx.store.repo(), &change.branch)?;
    let written = ctx
        .store
        .write_account(&WriteAccount {
            base: Some(ctx.base.clone()),
            mode: WriteMode::Upsert,
            action: Action::OptOut,
            subject: change.subject.clone(),
            body: change.commit_body,
            extra_trailers: vec![
                (ROLE_TRAILER.to_string(), change.role.to_string()),
                (REQUESTED_BY_TRAILER.to_string(), comment.login.clone()),
            ],
            extra_files: vec![(filters.path.clone(), change.text)],
            ..WriteAccount::new(change.branch.clone(), account.to_string())
        })
        .map_err(|e| e.to_string())?;
    if written.is_none() {
        return Ok(None);
    }
    push_and_open(ctx, &change.branch, &change.subject, &change.pr_body).map(Some)
}

fn opt_out(
    ctx: &DispatchContext<'_>,
    comment: &Comment,
    account: &str,
    role: &str,
    reason: &str,
    days: u64,
) -> Result<Answer, String> {
    let role = recorded_role(ctx, account, role)?;
    let filters = read_filters(ctx)?;
    let today = ctx.now.date_naive();
    let expires = today
        .checked_add_days(Days::new(days))
        .ok_or("that date is out of range")?
        .format("%Y-%m-%d")
        .to_string();
    let entry = OptOutEntry {
        account: account.to_string(),
        role: role.clone(),
        owner: comment.login.clone(),
        reason: reason.to_string(),
        expires: expires.parse().map_err(|e: String| e)?,
    };
    let replaced: Vec<&OptOutEntry> = filters
        .config
        .opt_out
        .entries
        .iter()
        .filter(|e| entry_matches(e, account, &role))
        .collect();
    if replaced.len() == 1 && *replaced[0] == entry {
        return Ok(Answer::new(
            Outcome::Unchanged,
            format!(
                "`{}` on `{}` already opts `{role}` in `{account}` out exactly so (by {} until \
                 {}); nothing to change.",
                filters.path, ctx.base, entry.owner, entry.expires
            ),
        ));
    }
    let mut expected = filters.config.clone();
    expected
        .opt_out
        .entries
        .retain(|e| !entry_matches(e, account, &role));
    expected.opt_out.entries.push(entry.clone());
    let without = if replaced.is_empty() {
        filters.text.clone()
    } else {
        remove_entries(&filters.text, account, &role)
    };
    let block = entry_block(&entry);
    let text = [
        insert_entry(&without, &block),
        append_entry(&without, &block),
    ]
    .into_iter()
    .find(|t| FilterConfig::parse(t).is_ok_and(|c| c == expected))
    .ok_or_else(|| {
        format!(
            "I could not add the entry to {} without changing anything else (is \
                 `opt-out.entries` written as an inline array?); please edit it by hand",
            filters.path
        )
    })?;
    let branch = format!("repokid/opt-out/{account}/{role}");
    let subject = format!("repokid opt-out: {role} in {account} until {expires}");
    let replaces = if replaced.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = replaced
            .iter()
            .map(|e| format!("by {} until {}", e.owner, e.expires))
            .collect();
        format!(" It replaces the current entry ({}).", list.join("; "))
    };
    let commit_body = format!(
        "Requested by @{} in #{}: {reason}",
        comment.login, comment.number
    );
    let created = if filters.existed {
        String::new()
    } else {
        format!(
            "\n\n`{}` did not exist on `{}`; it is created from the default.",
            filters.path, ctx.base
        )
    };
    let pr_body = format!(
        "Opts `{role}` in `{account}` out of repokid until **{expires}** (end of that day, UTC), \
         as requested by @{} in #{}.{replaces}\n\nAdds to `{}`:\n\n```toml\n{block}```\n\nWhile \
         the entry is in force, repokid proposes no change to the role. Merge to opt out; close \
         to decline.{created}",
        comment.login, comment.number, filters.path
    );
    let change = FiltersChange {
        role: &role,
        text,
        branch,
        subject,
        commit_body,
        pr_body,
    };
    let Some(pr) = propose_filters(ctx, comment, &filters, account, change)? else {
        return Ok(Answer::new(
            Outcome::Unchanged,
            format!(
                "`{}` on `{}` already has exactly this opt-out for `{role}` in `{account}`; \
                 nothing to change.",
                filters.path, ctx.base
            ),
        ));
    };
    let body = format!(
        "@{}, I {} to opt `{role}` in `{account}` out until **{expires}** (reason: {reason}).{replaces} \
         It takes effect once merged.",
        comment.login,
        pr_sentence(&pr)
    );
    Ok(Answer {
        outcome: Outcome::Done,
        body,
        pull_request: Some(pr),
    })
}

fn remove_opt_out(
    ctx: &DispatchContext<'_>,
    comment: &Comment,
    account: &str,
    role: &str,
) -> Result<Answer, String> {
    let filters = read_filters(ctx)?;
    let matching: Vec<&OptOutEntry> = filters
        .config
        .opt_out
        .entries
        .iter()
        .filter(|e| entry_matches(e, account, role))
        .collect();
    let Some(first) = matching.first() else {
        return Ok(Answer::new(
            Outcome::Unchanged,
            format!(
                "There is no opt-out for `{role}` in `{account}` in `{}` on `{}`; nothing to \
                 remove. (A role can also be opted out by its `{}` tag, which is changed in \
                 IAM, not here.)",
                filters.path, ctx.base, filters.config.opt_out.tag_key
            ),
        ));
    };
    // The branch is the one opt-out uses: named by the recorded role (else the entry's spelling).
    let role = recorded_role(ctx, account, role).unwrap_or_else(|_| first.role.clone());
    let mut expected = filters.config.clone();
    expected
        .opt_out
        .entries
        .retain(|e| !entry_matches(e, account, &role));
    let text = remove_entries(&filters.text, account, &role);
    if !FilterConfig::parse(&text).is_ok_and(|c| c == expected) {
        return Err(format!(
            "I could not remove the entry from {} without changing anything else (is \
             `opt-out.entries` written as an inline array?); please edit it by hand",
            filters.path
        ));
    }
    let listed: Vec<String> = matching
        .iter()
        .map(|e| format!("by {} until {}: {}", e.owner, e.expires, e.reason))
        .collect();
    let branch = format!("repokid/opt-out/{account}/{role}");
    let subject = format!("repokid opt-out: remove {role} in {account}");
    let commit_body = format!(
        "Requested by @{} in #{}.\n\nRemoved: {}",
        comment.login,
        comment.number,
        listed.join("; ")
    );
    let pr_body = format!(
        "Ends the opt-out of `{role}` in `{account}`, as requested by @{} in #{}.\n\nRemoved from \
         `{}`:\n\n{}\n\nOnce merged, repokid may propose changes to the role again.",
        comment.login,
        comment.number,
        filters.path,
        listed
            .iter()
            .map(|l| format!("* {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let change = FiltersChange {
        role: &role,
        text,
        branch,
        subject,
        commit_body,
        pr_body,
    };
    let pr = propose_filters(ctx, comment, &filters, account, change)?
        .ok_or("the filters file did not change")?;
    let body = format!(
        "@{}, I {} to end the opt-out of `{role}` in `{account}` ({}). It takes effect once \
         merged.",
        comment.login,
        pr_sentence(&pr),
        listed.join("; ")
    );
    Ok(Answer {
        outcome: Outcome::Done,
        body,
        pull_request: Some(pr),
    })
}

// ---------------------------------------------------------------------------------------------
// Editing filters.toml as text
// ---------------------------------------------------------------------------------------------

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The `[[opt-out.entries]]` table of `e`, in the documented format, lines ending in `\n`.
fn entry_block(e: &OptOutEntry) -> String {
    format!(
        "[[opt-out.entries]]\naccount = {}\nrole = {}\nowner = {}\nreason = {}\nexpires = {}\n",
        toml_string(&e.account),
        toml_string(&e.role),
        toml_string(&e.owner),
        toml_string(&e.reason),
        toml_string(e.expires.as_str())
    )
}

/// The table a header line opens (`opt-out.entries` for `[[opt-out.entries]] # …`), with
/// whether it is an array-of-tables header; `None` for any other line.
fn header(line: &str) -> Option<(String, bool)> {
    let t = line.trim();
    let (inner, array) = if let Some(rest) = t.strip_prefix("[[") {
        (&rest[..rest.find("]]")?], true)
    } else if let Some(rest) = t.strip_prefix('[') {
        (&rest[..rest.find(']')?], false)
    } else {
        return None;
    };
    let name: String = inner
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '"' && *c != '\'')
        .collect();
    Some((name, array))
}

fn is_opt_out_table(name: &str) -> bool {
    name == "opt-out" || name.starts_with("opt-out.")
}

fn newline_of(text: &str) -> &'static str {
    if text.contains("\r\n") { "\r\n" } else { "\n" }
}

fn with_newlines(block: &str, nl: &str) -> String {
    block.lines().map(|l| format!("{l}{nl}")).collect()
}

/// `text` with `block` inserted after the last paragraph of the last `[opt-out]` /
/// `[[opt-out.entries]]` table that holds a key or mentions `[[opt-out.entries]]` (in the default
/// file: the commented example), else appended at the end.
fn insert_entry(text: &str, block: &str) -> String {
    let nl = newline_of(text);
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let headers: Vec<(usize, String)> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| header(l).map(|(n, _)| (i, n)))
        .collect();
    let Some(pos) = headers.iter().rposition(|(_, n)| is_opt_out_table(n)) else {
        return append_entry(text, block);
    };
    let start = headers[pos].0;
    let end = headers.get(pos + 1).map_or(lines.len(), |(i, _)| *i);
    let mentions = |t: &str| {
        t.chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .contains("[[opt-out.entries]]")
    };
    let mut last = (start..end)
        .rev()
        .find(|&i| {
            let t = lines[i].trim();
            !t.is_empty() && (!t.starts_with('#') || mentions(t))
        })
        .unwrap_or(start);
    while last + 1 < end && !lines[last + 1].trim().is_empty() {
        last += 1;
    }
    let mut out: String = lines[..=last].concat();
    if !out.ends_with('\n') {
        out.push_str(nl);
    }
    out.push_str(nl);
    out.push_str(&with_newlines(block, nl));
    if let Some(next) = lines.get(last + 1)
        && !next.trim().is_empty()
    {
        out.push_str(nl);
    }
    out.push_str(&lines[last + 1..].concat());
    out
}

/// `text` with `block` appended after a blank line.
fn append_entry(text: &str, block: &str) -> String {
    let nl = newline_of(text);
    let mut out = text.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push_str(nl);
    }
    if !out.is_empty() && !out.ends_with(&format!("{nl}{nl}")) {
        out.push_str(nl);
    }
    out.push_str(&with_newlines(block, nl));
    out
}

/// `text` without the `[[opt-out.entries]]` tables for `role` (case-insensitively) in `account`:
/// each from its header to its last key line (comments inside it included), with one of the
/// blank lines around it.
fn remove_entries(text: &str, account: &str, role: &str) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let headers: Vec<(usize, String, bool)> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| header(l).map(|(n, a)| (i, n, a)))
        .collect();
    let mut drop = vec![false; lines.len()];
    for (k, (start, name, array)) in headers.iter().enumerate() {
        if !array || name != "opt-out.entries" {
            continue;
        }
        let end = headers.get(k + 1).map_or(lines.len(), |(i, _, _)| *i);
        let last = (start + 1..end)
            .rev()
            .find(|&i| {
                let t = lines[i].trim();
                !t.is_empty() && !t.starts_with('#')
            })
            .unwrap_or(*start);
        let table = lines[start + 1..=last].concat();
        let Ok(entry) = toml::from_str::<OptOutEntry>(&table) else {
            continue;
        };
        if !entry_matches(&entry, account, role) {
            continue;
        }
        for d in &mut drop[*start..=last] {
            *d = true;
        }
        // One blank line goes with the table, so no double blank line is left.
        let blank = |i: usize| lines.get(i).is_some_and(|l| l.trim().is_empty());
        if blank(last + 1) && (*start == 0 || blank(start - 1) || last + 2 >= lines.len()) {
            drop[last + 1] = true;
        } else if *start > 0 && blank(start - 1) && !blank(last + 1) {
            drop[start - 1] = true;
        }
    }
    lines
        .iter()
        .zip(drop)
        .filter(|(_, d)| !d)
        .map(|(l, _)| *l)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(role: &str, reason: &str) -> OptOutEntry {
        OptOutEntry {
            account: "111122223333".into(),
            role: role.into(),
            owner: "alice".into(),
            reason: reason.into(),
            expires: "2027-02-18".parse().expect("date"),
        }
    }

    #[test]
    fn words_and_quotes() {
        assert_eq!(
            split_words(r#" opt-out 1 r --reason "PCI \"audit\"" --days=30 'a b' "#)
                .expect("words"),
            [
                "opt-out",
                "1",
                "r",
                "--reason",
                "PCI \"audit\"",
                "--days=30",
                "a b"
            ]
        );
        assert_eq!(split_words(r#"x "" y"#).expect("empty"), ["x", "", "y"]);
        assert!(split_words("x \"open").is_err());
        assert!(split_words("x 'open").is_err());
    }

    #[test]
    fn commands_parse_and_explain_mistakes() {
        assert_eq!(
            parse_command("/repokid opt-out 111122223333 web --reason 'PCI audit' --days 30"),
            Ok(Command::OptOut {
                account: "111122223333".into(),
                role: "web".into(),
                reason: "PCI audit".into(),
                days: 30
            })
        );
        assert_eq!(
            parse_command("/repokid opt_out 111122223333 web --reason=x"),
            Ok(Command::OptOut {
                account: "111122223333".into(),
                role: "web".into(),
                reason: "x".into(),
                days: DEFAULT_OPT_OUT_DAYS
            })
        );
        assert_eq!(
            parse_command("/repokid rollback 111122223333 web 2"),
            Ok(Command::Rollback {
                account: "111122223333".into(),
                role: "web".into(),
                selection: Some(2)
            })
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
    fn command_lines_skip_code_blocks_and_quotes() {
        let body = "Please:\n/repokid show 111122223333 web\n  /repokid help\n> /repokid show x y\n\
                    ```\n/repokid rollback 1 2\n```\n/repokidx no\n/repokid";
        assert_eq!(
            command_lines(body),
            [
                "/repokid show 111122223333 web",
                "/repokid help",
                "/repokid"
            ]
        );
    }

    #[test]
    fn inserting_into_the_default_file_keeps_it_and_lands_after_the_example() {
        let e = entry("web", "PCI \"audit\" \\ until Jan");
        let block = entry_block(&e);
        let out = insert_entry(DEFAULT_FILTERS_TOML, &block);
        let mut expected = FilterConfig::parse(DEFAULT_FILTERS_TOML).expect("default");
        expected.opt_out.entries.push(e.clone());
        assert_eq!(FilterConfig::parse(&out).expect("valid"), expected);
        // Only lines were added, right after the commented example.
        let at = out.find("[[opt-out.entries]]\naccount").expect("inserted");
        assert!(
            out[..at].ends_with("# expires = \"2027-01-31\"\n\n"),
            "{out}"
        );
        assert!(out[at..].contains("\n\n# command: custom filters"), "{out}");
        assert_eq!(
            out.replace(&format!("{block}\n"), ""),
            DEFAULT_FILTERS_TOML,
            "nothing else changed"
        );
        // And removal gives the file back.
        assert_eq!(
            remove_entries(&out, "111122223333", "WEB"),
            DEFAULT_FILTERS_TOML
        );
    }

    #[test]
    fn entries_go_after_the_last_one_and_before_other_tables() {
        let text = "active = [\"opt-out\"]\n\n[opt-out]\ntag_key = \"\"\n\n# keep\n[[opt-out.entries]]\n\
                    account = \"111122223333\"\nrole = \"a\"\nowner = \"o\"\nreason = \"r\"\n\
                    expires = \"2027-01-01\"\n# trailing note\n\n[[command]]\nid = \"c\"\n\
                    command = [\"true\"]\n";
        let block = entry_block(&entry("b", "why"));
        let out = insert_entry(text, &block);
        assert!(
            out.contains(
                "expires = \"2027-01-01\"\n# trailing note\n\n[[opt-out.entries]]\naccount"
            ),
            "{out}"
        );
        assert!(
            out.contains("expires = \"2027-02-18\"\n\n[[command]]"),
            "{out}"
        );
        let c = FilterConfig::parse(&out).expect("valid");
        assert_eq!(c.opt_out.entries.len(), 2);
        assert_eq!(c.command.len(), 1);
        let back = remove_entries(&out, "111122223333", "b");
        assert_eq!(
            FilterConfig::parse(&back).expect("valid"),
            FilterConfig::parse(text).expect("valid")
        );
        let none = remove_entries(&back, "111122223333", "A");
        assert!(
            none.contains("# keep\n") && !none.contains("role = \"a\""),
            "{none}"
        );
        assert!(
            FilterConfig::parse(&none)
                .expect("valid")
                .opt_out
                .entries
                .is_empty()
        );
    }

    #[test]
    fn crlf_and_files_without_an_opt_out_table() {
        let text = "active = [\"age\"]\r\n[age]\r\nminimum_days = 30";
        let out = insert_entry(text, &entry_block(&entry("w", "r")));
        assert!(
            out.starts_with(
                "active = [\"age\"]\r\n[age]\r\nminimum_days = 30\r\n\r\n[[opt-out.entries]]\r\n"
            ),
            "{out:?}"
        );
        assert_eq!(
            FilterConfig::parse(&out)
                .expect("valid")
                .opt_out
                .entries
                .len(),
            1
        );
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
