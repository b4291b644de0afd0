//! Reading the event: which comment, by whom, and its command lines split into words.

use serde_json::Value;

use super::answer::Comment;
use crate::store::names::{validate_account_id, validate_role_name};

/// The event is not one [`dispatch`](super::dispatch) can answer.
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

/// What the event asks for: `None` when it is to be ignored (not `created`, by a bot, no
/// command line).
pub(super) fn read_event(event: &Value) -> Result<Option<(Comment, Vec<String>)>, DispatchError> {
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

/// Splits the words of a command line: whitespace separates, `"…"` and `'…'` quote (inside
/// double quotes `\"` and `\\` escape).
pub(super) fn split_words(s: &str) -> Result<Vec<String>, String> {
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

/// The ACCOUNT and ROLE arguments of `what`, validated.
pub(super) fn account_and_role(args: &[String], what: &str) -> Result<(String, String), String> {
    match args {
        [account, role, ..] => {
            validate_account_id(account).map_err(|e| e.to_string())?;
            validate_role_name(role).map_err(|e| e.to_string())?;
            Ok((account.clone(), role.clone()))
        }
        _ => Err(format!("`{what}` needs ACCOUNT and ROLE")),
    }
}

/// An error naming the first of `extra`, arguments `what` does not take.
pub(super) fn no_more(extra: &[String], what: &str) -> Result<(), String> {
    match extra.first() {
        None => Ok(()),
        Some(w) => Err(format!("`{what}` takes no argument {w:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
