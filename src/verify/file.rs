//! One changed role file: where it is, what it holds, whether IAM would accept it, and what the
//! role gains.

use git2::{ErrorCode, FileMode, Oid, Repository, Tree};
use serde_json::Value;

use super::locate::LineIndex;
use super::report::{FileReport, Problem, VerifyError, git_err};
use crate::engine::grammar::{PathSeg, check_document};
use crate::engine::json::parse_strict;
use crate::engine::policy::{PolicyDocument, PolicyMap, inline_size, policy_map_from_value};
use crate::store::POLICIES_DIR;
use crate::store::names::{validate_account_id, validate_policy_name, validate_role_name};

/// A role file's account and role, when `path` is `policies/<account>/<RoleName>.json` with both
/// valid.
pub(super) fn parse_role_path(path: &str) -> Result<(String, String), String> {
    let wrong = || {
        format!(
            "not a role file: files under {POLICIES_DIR}/ must be \
             {POLICIES_DIR}/<12-digit account>/<RoleName>.json"
        )
    };
    let parts: Vec<&str> = path.split('/').collect();
    let [_, account, file] = parts.as_slice() else {
        return Err(wrong());
    };
    let Some(role) = file.strip_suffix(".json") else {
        return Err(wrong());
    };
    validate_account_id(account).map_err(|e| e.to_string())?;
    validate_role_name(role).map_err(|e| e.to_string())?;
    Ok((account.to_string(), role.to_string()))
}

/// What a tree holds at a path.
pub(super) enum Entry {
    /// Nothing.
    Missing,
    /// Something that is not a regular file: a symbolic link, a submodule, a directory.
    Other(&'static str),
    /// A regular file's bytes.
    File(Vec<u8>),
}

/// The entry at `path` in `tree`.
pub(super) fn entry(repo: &Repository, tree: &Tree<'_>, path: &str) -> Result<Entry, VerifyError> {
    match tree.get_path(std::path::Path::new(path)) {
        Ok(e) => entry_of(repo, Some((e.id(), e.filemode())), path),
        Err(e) if e.code() == ErrorCode::NotFound => Ok(Entry::Missing),
        Err(e) => Err(git_err(format!("reading {path}"))(e)),
    }
}

/// The entry with this object id and file mode (`None`: absent), read for `path`.
pub(super) fn entry_of(
    repo: &Repository,
    side: Option<(Oid, i32)>,
    path: &str,
) -> Result<Entry, VerifyError> {
    let Some((id, mode)) = side else {
        return Ok(Entry::Missing);
    };
    if mode == i32::from(FileMode::Link) {
        return Ok(Entry::Other("a symbolic link"));
    }
    if mode == i32::from(FileMode::Commit) {
        return Ok(Entry::Other("a submodule"));
    }
    if mode == i32::from(FileMode::Tree) {
        return Ok(Entry::Other("a directory"));
    }
    let blob = repo
        .find_blob(id)
        .map_err(git_err(format!("reading {path}")))?;
    Ok(Entry::File(blob.content().to_vec()))
}

pub(super) fn problem(
    file: &str,
    line: Option<usize>,
    column: Option<usize>,
    message: String,
) -> Problem {
    Problem {
        file: file.to_string(),
        line,
        column,
        message,
    }
}

/// A role file read strictly: its text, its JSON and its policy map.
pub(super) struct Parsed {
    pub text: String,
    pub map: PolicyMap,
    /// The grammar errors of its documents, with where they are.
    pub grammar: Vec<(Vec<PathSeg>, String)>,
}

/// Reads a role file; the problems name the line and column where known.
pub(super) fn parse_file(path: &str, bytes: &[u8]) -> Result<Parsed, Vec<Problem>> {
    parse_text(path, bytes).map_err(|p| vec![p])?.finish(path)
}

/// A role file as JSON, its documents checked against IAM's grammar, not yet in the policy
/// model.
struct Unmodelled<'a> {
    text: &'a str,
    value: Value,
    grammar: Vec<(Vec<PathSeg>, String)>,
}

impl Unmodelled<'_> {
    /// Reads the policy model. When that fails and the grammar check found errors, those are
    /// the problems (they say more precisely what is wrong, and where).
    fn finish(self, path: &str) -> Result<Parsed, Vec<Problem>> {
        let Unmodelled {
            text,
            value,
            grammar,
        } = self;
        match policy_map_from_value(path, value) {
            Ok(map) => Ok(Parsed {
                text: text.to_string(),
                map,
                grammar,
            }),
            Err(e) => {
                let index = LineIndex::new(text);
                if !grammar.is_empty() {
                    return Err(grammar
                        .into_iter()
                        .map(|(at, m)| problem(path, index.line(&at), None, m))
                        .collect());
                }
                let line = index.line(&[PathSeg::Key(e.policy.clone())]);
                let message = if e.policy == path {
                    format!("{}: {}", e.place, e.message)
                } else {
                    e.to_string()
                };
                Err(vec![problem(path, line, None, message)])
            }
        }
    }
}

fn parse_text<'a>(path: &str, bytes: &'a [u8]) -> Result<Unmodelled<'a>, Problem> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let (line, column) = line_column(bytes, e.valid_up_to());
        problem(
            path,
            Some(line),
            Some(column),
            "not UTF-8: a role file must be UTF-8 JSON".to_string(),
        )
    })?;
    let value = parse_strict(text).map_err(|e| json_problem(path, &e))?;
    let Value::Object(policies) = &value else {
        return Err(problem(
            path,
            Some(1),
            None,
            "must be a JSON object of policy name → policy document".to_string(),
        ));
    };
    let mut grammar = Vec::new();
    for (name, doc) in policies {
        let decoded;
        let doc = match doc {
            // A URL-encoded document (as IAM's API returns them): checked once decoded, placed
            // at the policy's line.
            Value::String(s) => match PolicyDocument::parse(name, s) {
                Ok(d) => {
                    decoded = d.to_value();
                    &decoded
                }
                Err(_) => doc,
            },
            doc => doc,
        };
        for e in check_document(doc) {
            let mut at = vec![PathSeg::Key(name.clone())];
            if !matches!(policies.get(name), Some(Value::String(_))) {
                at.extend(e.path.iter().cloned());
            }
            grammar.push((at, format!("policy {name:?}: {}: {}", e.place(), e.message)));
        }
    }
    Ok(Unmodelled {
        text,
        value,
        grammar,
    })
}

/// A serde_json error as `file:line:column: message`, without serde_json's own ` at line …`.
fn json_problem(path: &str, e: &serde_json::Error) -> Problem {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = text.strip_suffix(&suffix).unwrap_or(&text).to_string();
    let (line, column) = if e.line() == 0 {
        (None, None)
    } else {
        (Some(e.line()), Some(e.column()))
    };
    problem(path, line, column, format!("invalid JSON: {message}"))
}

/// 1-based line and column (in characters) of byte `offset`.
fn line_column(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[start..]).chars().count() + 1;
    (line, column)
}

/// The head side of a changed file: every problem IAM or the store would have with it, and its
/// policies when it parsed.
pub(super) fn check_head(
    head: Entry,
    report: &mut FileReport,
    size_limit: usize,
) -> Result<Option<Parsed>, VerifyError> {
    let path = report.path.clone();
    if let Err(message) = parse_role_path(&path) {
        report.errors.push(problem(&path, None, None, message));
        return Ok(None);
    }
    let bytes = match head {
        Entry::File(bytes) => bytes,
        Entry::Other(kind) => {
            report.errors.push(problem(
                &path,
                None,
                None,
                format!("is {kind}; a role file must be a regular file"),
            ));
            return Ok(None);
        }
        // The diff said it is there; a race with nothing to check.
        Entry::Missing => return Ok(None),
    };
    let parsed = match parse_file(&path, &bytes) {
        Ok(p) => p,
        Err(problems) => {
            report.errors.extend(problems);
            return Ok(None);
        }
    };
    let mut located: Vec<(Vec<PathSeg>, String)> = Vec::new();
    for name in parsed.map.keys() {
        if let Err(e) = validate_policy_name(name) {
            located.push((vec![PathSeg::Key(name.clone())], e.to_string()));
        }
    }
    located.extend(parsed.grammar.iter().cloned());
    if !located.is_empty() {
        let index = LineIndex::new(&parsed.text);
        for (at, message) in located {
            report
                .errors
                .push(problem(&path, index.line(&at), None, message));
        }
    }
    let size = inline_size(&parsed.map);
    report.size = Some(size);
    if size > size_limit {
        report.errors.push(problem(
            &path,
            None,
            None,
            format!(
                "the role's inline policies are {size} characters (whitespace excluded), over \
                 the limit of {size_limit}"
            ),
        ));
    }
    Ok(Some(parsed))
}

/// The policies of the file at `path` in `tree`, for comparison: `None` when absent; an empty map
/// with a note when it is not a readable role file (then everything at head counts as new).
pub(super) fn read_side(
    side: Entry,
    path: &str,
    notes: &mut Vec<String>,
    what: &str,
) -> Option<PolicyMap> {
    match side {
        Entry::Missing => None,
        Entry::Other(kind) => {
            notes.push(format!(
                "was {kind} at {what}; everything it grants counts as new"
            ));
            Some(PolicyMap::new())
        }
        Entry::File(bytes) => match parse_file(path, &bytes) {
            Ok(p) => Some(p.map),
            Err(problems) => {
                let first = problems.first().map_or("", |p| p.message.as_str());
                notes.push(format!(
                    "did not parse at {what} ({first}); everything it grants counts as new"
                ));
                Some(PolicyMap::new())
            }
        },
    }
}

/// Where a statement starts in a role file's text: `[policy, "Statement", index]` (no index for
/// a single-statement object).
pub(super) fn statement_path(parsed: &Parsed, policy: &str, index: usize) -> Vec<PathSeg> {
    let mut at = vec![PathSeg::Key(policy.to_string())];
    if let Some(doc) = parsed.map.get(policy) {
        at.push(PathSeg::Key("Statement".to_string()));
        if !doc.is_single_statement() {
            at.push(PathSeg::Index(index));
        }
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_paths() {
        assert_eq!(
            parse_role_path("policies/111122223333/web.json").unwrap(),
            ("111122223333".to_string(), "web".to_string())
        );
        for bad in [
            "policies/README.md",
            "policies/111122223333/web.yaml",
            "policies/11112222333/web.json",
            "policies/111122223333/sub/web.json",
            "policies/111122223333/a b.json",
        ] {
            assert!(parse_role_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn problems_name_line_and_column() {
        let e = &parse_file("p.json", b"{\n  \"a\": 1,\n}\n").err().unwrap()[0];
        assert_eq!(e.line, Some(3));
        assert!(
            e.to_string()
                .starts_with("p.json:3:1: invalid JSON: trailing comma"),
            "{e}"
        );
        let e = &parse_file("p.json", b"{\n\"a\": \"\xff\"}").err().unwrap()[0];
        assert_eq!((e.line, e.column), (Some(2), Some(7)));
        let e = &parse_file("p.json", b"{\"a\": {\"Statement\": 1}}")
            .err()
            .unwrap()[0];
        assert!(e.message.contains("Statement"), "{e}");
        assert_eq!(e.line, Some(1));
    }

    #[test]
    fn grammar_errors_are_placed() {
        let text = "{\n  \"p\": {\n    \"Version\": \"2012-10-17\",\n    \"Statement\": [\n      {\"Effect\": \"allow\", \"Action\": \"s3:GetObject\", \"Resource\": \"*\"}\n    ]\n  }\n}\n";
        let parsed = parse_file("f.json", text.as_bytes()).unwrap();
        assert_eq!(parsed.grammar.len(), 1, "{:?}", parsed.grammar);
        let index = LineIndex::new(&parsed.text);
        assert_eq!(index.line(&parsed.grammar[0].0), Some(5));
        assert!(
            parsed.grammar[0].1.contains("Effect"),
            "{:?}",
            parsed.grammar
        );
    }
}
