//! The policy corpus in `tests/data/policies/`: odd-but-valid policy files (`*.json`) must survive
//! parse → canonicalise → re-parse unchanged, and invalid ones (`*.invalid.json`) must be rejected
//! with an error that says which policy and where.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::fs;
use std::path::{Path, PathBuf};

use repokid::engine::json::parse_strict_slice;
use repokid::engine::policy::{
    INLINE_SIZE_LIMIT, inline_size, parse_policy_map, to_canonical_json,
};

const INVALID_SUFFIX: &str = ".invalid.json";

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/policies")
}

/// The corpus files, sorted, split into (valid, invalid).
fn corpus() -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut files: Vec<PathBuf> = fs::read_dir(corpus_dir())
        .expect("tests/data/policies is readable")
        .map(|e| e.expect("directory entry is readable").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .partition(|p| !file_name(p).ends_with(INVALID_SUFFIX))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .expect("a corpus path has a file name")
        .to_string_lossy()
        .into_owned()
}

/// The name errors are reported under: the path relative to the crate, as a user would type it.
fn source_name(path: &Path) -> String {
    format!("tests/data/policies/{}", file_name(path))
}

#[test]
fn valid_policies_round_trip_through_canonical_form() {
    let (valid, _) = corpus();
    assert!(valid.len() >= 12, "only {} valid files", valid.len());
    for path in &valid {
        let name = file_name(path);
        let text = fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("{name}: cannot read as UTF-8: {e}"));
        let map = parse_policy_map(&source_name(path), &text)
            .unwrap_or_else(|e| panic!("{name}: rejected: {e}"));
        let canonical = to_canonical_json(&map);
        let reparsed = parse_policy_map(&source_name(path), &canonical).unwrap_or_else(|e| {
            panic!("{name}: canonical form does not re-parse: {e}\n{canonical}")
        });
        assert!(
            reparsed == map,
            "{name}: canonical form re-parses to a different map\n{canonical}"
        );
        assert_eq!(
            to_canonical_json(&reparsed),
            canonical,
            "{name}: canonicalising twice is not a fixed point"
        );
        if name == "near-limit-10k.json" {
            let size = inline_size(&map);
            assert!(
                (9_500..=INLINE_SIZE_LIMIT).contains(&size),
                "{name}: inline size {size} is not near the {INLINE_SIZE_LIMIT} limit"
            );
        }
    }
}

/// For some files, the place the error must point at (a fragment of its Display).
fn expected_place(name: &str) -> Option<&'static str> {
    Some(match name {
        "duplicate-key.invalid.json" => "duplicate key \"Action\" at $.dup.Statement[0]",
        "duplicate-policy-name.invalid.json" => "duplicate key \"same\" at $",
        "action-number.invalid.json" => "Statement[0].Action: must be a string or an array",
        "action-array-with-number.invalid.json" => "Statement[0].Action[1]: must be a string",
        "action-and-notaction.invalid.json" => "Statement[0]: has both Action and NotAction",
        "neither-action.invalid.json" => "Statement[0]: has neither Action nor NotAction",
        "effect-maybe.invalid.json" => "Statement[1].Effect: must be \"Allow\" or \"Deny\"",
        "statement-string.invalid.json" => "Statement: must be an object or an array",
        "trailing-garbage.invalid.json" => "trailing characters at line 4 column 1",
        "non-utf8.invalid.json" => "line 2 column",
        "condition-not-object.invalid.json" => "Statement[0].Condition: must be a JSON object",
        "resource-object.invalid.json" => "Statement.Resource: must be a string or an array",
        "missing-statement.invalid.json" => "document: missing Statement",
        "top-level-array.invalid.json" => "file: must be a JSON object",
        "url-encoded-duplicate.invalid.json" => "duplicate key \"Action\" at $.Statement[0]",
        "url-encoded-not-utf8.invalid.json" => "document: URL-encoded document is not UTF-8",
        "sid-number.invalid.json" => "Statement[0].Sid: must be a string",
        _ => return None,
    })
}

#[test]
fn invalid_policies_are_rejected_naming_policy_and_place() {
    let (_, invalid) = corpus();
    assert!(invalid.len() >= 8, "only {} invalid files", invalid.len());
    for path in &invalid {
        let name = file_name(path);
        let bytes = fs::read(path).unwrap();
        let message = match std::str::from_utf8(&bytes) {
            Err(utf8) => {
                // Not text at all: the strict byte parser must refuse it and say where.
                let e = parse_strict_slice(&bytes)
                    .err()
                    .unwrap_or_else(|| panic!("{name}: non-UTF-8 bytes accepted"));
                let msg = e.to_string();
                assert!(
                    msg.contains("line ") && msg.contains("column "),
                    "{name}: error does not give a position: {msg}"
                );
                assert_eq!(
                    e.line(),
                    1 + bytes[..utf8.valid_up_to()]
                        .iter()
                        .filter(|&&b| b == b'\n')
                        .count(),
                    "{name}: error on the wrong line: {msg}"
                );
                msg
            }
            Ok(text) => {
                let source = source_name(path);
                let e = match parse_policy_map(&source, text) {
                    Ok(map) => panic!("{name}: accepted, read as {map:?}"),
                    Err(e) => e,
                };
                let msg = e.to_string();
                // Errors in the file as a whole name the file; errors inside a document name
                // the policy (a key of the file's top-level object).
                let names_source = e.policy == source;
                let names_policy = text.contains(&format!("\"{}\"", e.policy));
                assert!(
                    names_source || names_policy,
                    "{name}: error names neither the file nor a policy in it: {msg}"
                );
                assert!(
                    msg.contains(&format!("{:?}", e.policy)),
                    "{name}: Display does not name the policy: {msg}"
                );
                assert!(
                    !e.place.is_empty() && msg.contains(&e.place),
                    "{name}: no place: {msg}"
                );
                if e.place == "file" || e.place == "document" {
                    // Whole-text errors must still point inside the text, unless they are about
                    // the document's shape as a whole.
                    let shape = e.message.starts_with("must be")
                        || e.message.starts_with("missing")
                        || e.message.starts_with("a policy document")
                        || e.message.starts_with("URL-encoded document");
                    assert!(
                        shape || e.message.contains("line "),
                        "{name}: syntax error without a line: {msg}"
                    );
                }
                msg
            }
        };
        if let Some(fragment) = expected_place(&name) {
            assert!(
                message.contains(fragment),
                "{name}: expected {fragment:?} in the error, got: {message}"
            );
        }
    }
}
