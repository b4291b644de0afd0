//! Commit messages: the generated subject, body and trailers, and reading trailers back.

use std::fmt::Write as _;

use git2::Commit;

use super::{BODY_LIST_LIMIT, WriteAccount};
use crate::store::names::validate_account_id;
use crate::store::{Action, trailers};

/// Whether `key` can be a trailer key: letters, digits and `-`, not empty.
pub(super) fn is_trailer_key(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The commit message: subject, body, then the trailers.
pub(super) fn commit_message(
    req: &WriteAccount,
    added: &[String],
    changed: &[String],
    removed: &[String],
) -> String {
    let mut msg = String::new();
    let subject = req.subject.trim();
    if subject.is_empty() {
        let _ = write!(
            msg,
            "repokid {}: {} ({} added, {} changed, {} removed)",
            req.action.as_str(),
            req.account,
            added.len(),
            changed.len(),
            removed.len()
        );
    } else {
        msg.push_str(subject);
    }
    msg.push_str("\n\n");
    let body = req.body.trim_matches(['\n', '\r']);
    if body.trim().is_empty() {
        for (label, roles) in [("Added", added), ("Changed", changed), ("Removed", removed)] {
            if roles.is_empty() {
                continue;
            }
            let _ = write!(msg, "{label}: ");
            let shown = roles.len().min(BODY_LIST_LIMIT);
            msg.push_str(&roles[..shown].join(", "));
            if roles.len() > shown {
                let _ = write!(msg, " and {} more", roles.len() - shown);
            }
            msg.push('\n');
        }
        msg.push('\n');
    } else {
        msg.push_str(body);
        msg.push_str("\n\n");
    }
    let standard = [
        (trailers::ACTION, req.action.as_str().to_string()),
        (trailers::ACCOUNT, req.account.clone()),
        (trailers::ROLES_ADDED, added.len().to_string()),
        (trailers::ROLES_CHANGED, changed.len().to_string()),
        (trailers::ROLES_REMOVED, removed.len().to_string()),
    ];
    for (key, value) in standard.iter().map(|(k, v)| (*k, v.as_str())).chain(
        req.extra_trailers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    ) {
        let _ = writeln!(msg, "{key}: {}", value.trim());
    }
    msg
}

/// The trailers of a commit message: the `Key: value` lines of its last paragraph, in order. A
/// line starting with whitespace continues the previous value. Empty when the message has only
/// one paragraph or its last paragraph is not all trailers.
pub fn parse_trailers(message: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = message
        .trim_end()
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .collect();
    // The last paragraph starts after the last blank line; there must be one (the subject is
    // never a trailer block).
    let Some(blank) = lines.iter().rposition(|l| l.trim().is_empty()) else {
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = Vec::new();
    for line in &lines[blank + 1..] {
        if line.starts_with([' ', '\t']) {
            match out.last_mut() {
                Some((_, value)) => {
                    value.push(' ');
                    value.push_str(line.trim());
                    continue;
                }
                None => return Vec::new(),
            }
        }
        match line.split_once(':') {
            Some((key, value)) if is_trailer_key(key) => {
                out.push((key.to_string(), value.trim().to_string()));
            }
            _ => return Vec::new(),
        }
    }
    out
}

/// What a commit written by the tool did: its `Repokid-Action` and, when present and valid, its
/// `Repokid-Account`. `None` for commits without a (known) action trailer.
pub fn commit_action(commit: &Commit<'_>) -> Option<(Action, Option<String>)> {
    let message = String::from_utf8_lossy(commit.message_bytes());
    let trailers = parse_trailers(&message);
    let action = trailers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(trailers::ACTION))
        .and_then(|(_, v)| Action::parse(v))?;
    let account = trailers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(trailers::ACCOUNT))
        .map(|(_, v)| v.clone())
        .filter(|a| validate_account_id(a).is_ok());
    Some((action, account))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailers_of_the_last_paragraph() {
        let msg = "repokid sync: 123456789012 (1 added, 0 changed, 0 removed)\n\n\
                   Added: web\n\n\
                   Repokid-Action: sync\nRepokid-Account: 123456789012\n\
                   Repokid-Roles-Added: 1\n";
        assert_eq!(
            parse_trailers(msg),
            vec![
                ("Repokid-Action".to_string(), "sync".to_string()),
                ("Repokid-Account".to_string(), "123456789012".to_string()),
                ("Repokid-Roles-Added".to_string(), "1".to_string()),
            ]
        );
    }

    #[test]
    fn not_trailers() {
        assert!(parse_trailers("Fix: a subject only").is_empty());
        assert!(parse_trailers("subject\n\nA body line.\nKey: value\n").is_empty());
        assert!(parse_trailers("").is_empty());
        assert_eq!(
            parse_trailers("s\r\n\r\nKey: a\r\n  b\r\n"),
            vec![("Key".to_string(), "a b".to_string())]
        );
    }

    #[test]
    fn generated_message() {
        let mut req = WriteAccount::new("main", "123456789012");
        req.extra_trailers = vec![("Repokid-Removed-Actions".into(), "42".into())];
        let msg = commit_message(&req, &["a".into(), "b".into()], &[], &["c".into()]);
        assert_eq!(
            msg,
            "repokid sync: 123456789012 (2 added, 0 changed, 1 removed)\n\n\
             Added: a, b\nRemoved: c\n\n\
             Repokid-Action: sync\nRepokid-Account: 123456789012\n\
             Repokid-Roles-Added: 2\nRepokid-Roles-Changed: 0\nRepokid-Roles-Removed: 1\n\
             Repokid-Removed-Actions: 42\n"
        );
        let parsed = parse_trailers(&msg);
        assert_eq!(parsed.len(), 6);
        assert_eq!(parsed[5].1, "42");
    }

    #[test]
    fn long_lists_are_summarised() {
        let req = WriteAccount::new("main", "123456789012");
        let many: Vec<String> = (0..BODY_LIST_LIMIT + 5).map(|i| format!("r{i}")).collect();
        let msg = commit_message(&req, &many, &[], &[]);
        assert!(msg.contains(" and 5 more\n"), "{msg}");
    }
}
