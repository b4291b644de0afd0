//! The policy model: inline policy documents parsed losslessly.
//!
//! A document keeps every key in the order the author wrote it (unknown keys too), so a statement
//! the engine does not change serialises exactly as it was read. Accepted shapes:
//!
//! * `Statement`: one statement object, or an array of them;
//! * `Action` / `NotAction` (exactly one per statement): a string or an array of strings;
//! * `Resource` / `NotResource`: a string or an array of strings;
//! * `Condition`: an object; `Sid`: a string; `Effect`: `Allow` or `Deny`;
//! * `Principal` and any other key: preserved as written.
//!
//! Documents may arrive URL-encoded (as IAM's API returns them); [`PolicyDocument::parse`]
//! decodes them. Duplicate JSON keys are an error.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::json::parse_strict;

/// A role's inline policies by name. Serialised in canonical form by [`to_canonical_json`].
pub type PolicyMap = BTreeMap<String, PolicyDocument>;

/// A policy that could not be read; names the policy and the place inside it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy {policy:?}: {place}: {message}")]
pub struct PolicyError {
    /// Policy name (or the file it came from).
    pub policy: String,
    /// Where: `Statement[1].Action[0]`, `document`, `line 3 column 7`.
    pub place: String,
    /// What is wrong.
    pub message: String,
}

fn perr(policy: &str, place: impl Into<String>, message: impl Into<String>) -> PolicyError {
    PolicyError {
        policy: policy.to_string(),
        place: place.into(),
        message: message.into(),
    }
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Grants.
    Allow,
    /// Denies; never rewritten or expanded.
    Deny,
}

/// Whether a statement lists the actions it covers or the ones it excludes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    /// `Action`: the listed actions.
    Action,
    /// `NotAction`: every action except the listed ones.
    NotAction,
}

impl ActionKind {
    /// The JSON key.
    pub fn key(self) -> &'static str {
        match self {
            ActionKind::Action => "Action",
            ActionKind::NotAction => "NotAction",
        }
    }
}

/// One statement, with its keys as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    // Shared, so copying a policy map (every rewrite does) copies no JSON.
    fields: Arc<Map<String, Value>>,
    effect: Effect,
    kind: ActionKind,
    entries: Arc<[String]>,
}

/// Statements whose `Sid` starts with this (case-sensitive, as in Repokid) are never rewritten.
pub const NOREPO_PREFIX: &str = "NOREPO";

impl Statement {
    /// `Allow` or `Deny`.
    pub fn effect(&self) -> Effect {
        self.effect
    }

    /// `Action` or `NotAction`.
    pub fn kind(&self) -> ActionKind {
        self.kind
    }

    /// The `Action`/`NotAction` entries as written.
    pub fn entries(&self) -> &[String] {
        &self.entries
    }

    /// The `Sid`, if any.
    pub fn sid(&self) -> Option<&str> {
        self.fields.get("Sid").and_then(Value::as_str)
    }

    /// Whether the statement is marked `NOREPO…` and therefore left alone.
    pub fn is_norepo(&self) -> bool {
        self.sid().is_some_and(|s| s.starts_with(NOREPO_PREFIX))
    }

    /// The statement's keys and values as written.
    pub fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }

    /// A copy with `Action` set to `actions` (a `NotAction` key is replaced in place, so the key
    /// order stays the author's). Everything else — Sid, Effect, Resource, Condition, unknown keys —
    /// is kept.
    pub fn with_actions(&self, actions: Vec<String>) -> Statement {
        let as_string = actions.len() == 1
            && self
                .fields
                .get(self.kind.key())
                .is_some_and(Value::is_string);
        let mut value = Some(if as_string {
            Value::String(actions[0].clone())
        } else {
            Value::Array(actions.iter().cloned().map(Value::String).collect())
        });
        let mut fields = Map::with_capacity(self.fields.len());
        for (k, v) in self.fields.iter() {
            if k == self.kind.key() {
                fields.insert("Action".to_string(), value.take().unwrap_or(Value::Null));
            } else {
                fields.insert(k.clone(), v.clone());
            }
        }
        Statement {
            fields: Arc::new(fields),
            effect: self.effect,
            kind: ActionKind::Action,
            entries: actions.into(),
        }
    }

    fn from_value(policy: &str, place: &str, v: Value) -> Result<Statement, PolicyError> {
        let Value::Object(fields) = v else {
            return Err(perr(policy, place, "a statement must be a JSON object"));
        };
        let effect = match fields.get("Effect") {
            Some(Value::String(s)) if s.eq_ignore_ascii_case("allow") => Effect::Allow,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("deny") => Effect::Deny,
            Some(other) => {
                return Err(perr(
                    policy,
                    format!("{place}.Effect"),
                    format!("must be \"Allow\" or \"Deny\", found {other}"),
                ));
            }
            None => return Err(perr(policy, place, "missing Effect")),
        };
        let kind = match (
            fields.contains_key("Action"),
            fields.contains_key("NotAction"),
        ) {
            (true, false) => ActionKind::Action,
            (false, true) => ActionKind::NotAction,
            (true, true) => {
                return Err(perr(policy, place, "has both Action and NotAction"));
            }
            (false, false) => {
                return Err(perr(policy, place, "has neither Action nor NotAction"));
            }
        };
        let entries = string_or_array(
            policy,
            &format!("{place}.{}", kind.key()),
            &fields[kind.key()],
        )?;
        for key in ["Resource", "NotResource"] {
            if let Some(v) = fields.get(key) {
                string_or_array(policy, &format!("{place}.{key}"), v)?;
            }
        }
        if let Some(v) = fields.get("Condition")
            && !v.is_object()
        {
            return Err(perr(
                policy,
                format!("{place}.Condition"),
                "must be a JSON object",
            ));
        }
        if let Some(v) = fields.get("Sid")
            && !v.is_string()
        {
            return Err(perr(policy, format!("{place}.Sid"), "must be a string"));
        }
        Ok(Statement {
            fields: Arc::new(fields),
            effect,
            kind,
            entries: entries.into(),
        })
    }
}

fn string_or_array(policy: &str, place: &str, v: &Value) -> Result<Vec<String>, PolicyError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s.clone()),
                other => Err(perr(
                    policy,
                    format!("{place}[{i}]"),
                    format!("must be a string, found {other}"),
                )),
            })
            .collect(),
        other => Err(perr(
            policy,
            place,
            format!("must be a string or an array of strings, found {other}"),
        )),
    }
}

/// One policy document.
#[derive(Debug, Clone)]
pub struct PolicyDocument {
    /// Top-level keys in the author's order; the `Statement` value here is a placeholder, rebuilt
    /// from `statements` by [`PolicyDocument::to_value`].
    fields: Arc<Map<String, Value>>,
    statements: Vec<Statement>,
    single_statement: bool,
}

impl PolicyDocument {
    /// Parses a document from text, URL-decoding it first if it is URL-encoded (as IAM returns
    /// documents). `policy` names it in errors.
    pub fn parse(policy: &str, text: &str) -> Result<PolicyDocument, PolicyError> {
        let decoded;
        let text = if looks_url_encoded(text) {
            decoded = percent_encoding::percent_decode_str(text)
                .decode_utf8()
                .map_err(|e| {
                    perr(
                        policy,
                        "document",
                        format!("URL-encoded document is not UTF-8: {e}"),
                    )
                })?;
            decoded.as_ref()
        } else {
            text
        };
        let value = parse_strict(text).map_err(|e| perr(policy, "document", e.to_string()))?;
        PolicyDocument::from_value(policy, value)
    }

    /// Builds a document from parsed JSON (already checked for duplicate keys).
    pub fn from_value(policy: &str, value: Value) -> Result<PolicyDocument, PolicyError> {
        let Value::Object(mut fields) = value else {
            return Err(perr(
                policy,
                "document",
                "a policy document must be a JSON object",
            ));
        };
        if let Some(v) = fields.get("Version")
            && !v.is_string()
        {
            return Err(perr(policy, "Version", "must be a string"));
        }
        // Take the statements out, leaving a placeholder that keeps the key's position; they live
        // in `statements` and `to_value` puts them back.
        let raw = match fields.get_mut("Statement") {
            Some(v) => std::mem::take(v),
            None => return Err(perr(policy, "document", "missing Statement")),
        };
        let (statements, single_statement) = match raw {
            Value::Array(items) => (
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, s)| Statement::from_value(policy, &format!("Statement[{i}]"), s))
                    .collect::<Result<Vec<_>, _>>()?,
                false,
            ),
            obj @ Value::Object(_) => {
                (vec![Statement::from_value(policy, "Statement", obj)?], true)
            }
            other => {
                return Err(perr(
                    policy,
                    "Statement",
                    format!("must be an object or an array of objects, found {other}"),
                ));
            }
        };
        Ok(PolicyDocument {
            fields: Arc::new(fields),
            statements,
            single_statement,
        })
    }

    /// The `Version` as written, if any.
    pub fn version(&self) -> Option<&str> {
        self.fields.get("Version").and_then(Value::as_str)
    }

    /// Whether policy variables (`${aws:username}`) are substituted: only in version 2012-10-17
    /// documents; in older ones (or without a version) they are literal text.
    pub fn has_policy_variables(&self) -> bool {
        self.version() == Some("2012-10-17")
    }

    /// Whether `Statement` is written as one object rather than an array.
    pub fn is_single_statement(&self) -> bool {
        self.single_statement
    }

    /// The statements in order.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    /// A copy with the statements replaced (the other top-level keys are kept).
    pub fn with_statements(&self, statements: Vec<Statement>) -> PolicyDocument {
        PolicyDocument {
            fields: self.fields.clone(),
            single_statement: self.single_statement && statements.len() == 1,
            statements,
        }
    }

    /// The document as JSON, keys in the author's order.
    pub fn to_value(&self) -> Value {
        let statement = if self.single_statement && self.statements.len() == 1 {
            Value::Object((*self.statements[0].fields).clone())
        } else {
            Value::Array(
                self.statements
                    .iter()
                    .map(|s| Value::Object((*s.fields).clone()))
                    .collect(),
            )
        };
        let mut out = Map::with_capacity(self.fields.len());
        for (k, v) in self.fields.iter() {
            if k == "Statement" {
                out.insert(k.clone(), statement.clone());
            } else {
                out.insert(k.clone(), v.clone());
            }
        }
        Value::Object(out)
    }
}

impl PartialEq for PolicyDocument {
    /// Documents are equal when they serialise the same (key order included).
    fn eq(&self, other: &Self) -> bool {
        self.to_value() == other.to_value()
    }
}

fn looks_url_encoded(text: &str) -> bool {
    let t = text.trim_start();
    t.starts_with("%7B") || t.starts_with("%7b") || (!t.starts_with('{') && t.contains('%'))
}

/// Parses a policy file: a JSON object mapping policy names to documents. `source` (a path or
/// role name) is named in errors. Each document may be an object or a URL-encoded string.
pub fn parse_policy_map(source: &str, text: &str) -> Result<PolicyMap, PolicyError> {
    let value = parse_strict(text).map_err(|e| perr(source, "file", e.to_string()))?;
    policy_map_from_value(source, value)
}

/// Like [`parse_policy_map`] for an already-parsed JSON value.
pub fn policy_map_from_value(source: &str, value: Value) -> Result<PolicyMap, PolicyError> {
    let Value::Object(map) = value else {
        return Err(perr(
            source,
            "file",
            "must be a JSON object of policy name → policy document",
        ));
    };
    let mut out = PolicyMap::new();
    for (name, doc) in map {
        let doc = match doc {
            Value::String(s) => PolicyDocument::parse(&name, &s)?,
            other => PolicyDocument::from_value(&name, other)?,
        };
        out.insert(name, doc);
    }
    Ok(out)
}

/// The canonical file form: outer keys sorted, 2-space indentation, trailing newline; statements
/// and keys in the author's order.
pub fn to_canonical_json(map: &PolicyMap) -> String {
    let obj: Map<String, Value> = map.iter().map(|(k, v)| (k.clone(), v.to_value())).collect();
    let mut s = serde_json::to_string_pretty(&Value::Object(obj)).unwrap_or_default();
    s.push('\n');
    s
}

/// IAM's limit on the aggregate size of a role's inline policies.
pub const INLINE_SIZE_LIMIT: usize = 10_240;

/// Size of a role's inline policies by IAM's rule: characters, whitespace excluded, summed over
/// all inline policies. Policy names are counted too, which keeps the figure on the safe side.
pub fn inline_size(map: &PolicyMap) -> usize {
    map.iter()
        .map(|(name, doc)| name.chars().count() + document_size(doc))
        .sum()
}

/// Size of one document by IAM's rule: the characters of its compact JSON form, whitespace
/// excluded. Computed by walking the document, without serialising it.
pub fn document_size(doc: &PolicyDocument) -> usize {
    let mut size = 2 + doc.fields.len().saturating_sub(1);
    for (k, v) in doc.fields.iter() {
        size += str_size(k) + 1;
        size += if k == "Statement" {
            if doc.single_statement && doc.statements.len() == 1 {
                object_size(&doc.statements[0].fields)
            } else {
                2 + doc.statements.len().saturating_sub(1)
                    + doc
                        .statements
                        .iter()
                        .map(|s| object_size(&s.fields))
                        .sum::<usize>()
            }
        } else {
            value_size(v)
        };
    }
    size
}

fn str_size(s: &str) -> usize {
    2 + s
        .chars()
        .map(|c| match c {
            '"' | '\\' | '\n' | '\r' | '\t' | '\u{08}' | '\u{0c}' => 2,
            c if (c as u32) < 0x20 => 6,
            c if c.is_whitespace() => 0,
            _ => 1,
        })
        .sum::<usize>()
}

fn object_size(m: &Map<String, Value>) -> usize {
    2 + m.len().saturating_sub(1)
        + m.iter()
            .map(|(k, v)| str_size(k) + 1 + value_size(v))
            .sum::<usize>()
}

/// Characters of a JSON value's compact form, whitespace excluded (IAM's rule).
pub fn value_size(v: &Value) -> usize {
    match v {
        Value::Null => 4,
        Value::Bool(true) => 4,
        Value::Bool(false) => 5,
        Value::Number(n) => n.to_string().len(),
        Value::String(s) => str_size(s),
        Value::Array(a) => 2 + a.len().saturating_sub(1) + a.iter().map(value_size).sum::<usize>(),
        Value::Object(m) => object_size(m),
    }
}

impl fmt::Display for PolicyDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = serde_json::to_string_pretty(&self.to_value()).map_err(|_| fmt::Error)?;
        f.write_str(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_shapes_and_order() {
        let text = r#"{"Version":"2012-10-17","Statement":{"Sid":"A","Effect":"Allow","Action":"s3:GetObject","Resource":"*","X-Custom":[1,2]}}"#;
        let doc = PolicyDocument::parse("p", text).unwrap();
        assert_eq!(doc.statements().len(), 1);
        assert_eq!(doc.statements()[0].entries(), ["s3:GetObject"]);
        assert_eq!(serde_json::to_string(&doc.to_value()).unwrap(), text);
    }

    #[test]
    fn url_encoded_documents_are_decoded() {
        let enc = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3A%2A%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D";
        let doc = PolicyDocument::parse("p", enc).unwrap();
        assert_eq!(doc.statements()[0].entries(), ["s3:*"]);
    }

    #[test]
    fn errors_name_policy_and_place() {
        let e = PolicyDocument::parse(
            "web",
            r#"{"Statement":[{"Effect":"Allow","Action":"a"},{"Effect":"Allow","Action":[1]}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.policy, "web");
        assert_eq!(e.place, "Statement[1].Action[0]");
        let e = PolicyDocument::parse(
            "web",
            r#"{"Statement":[{"Effect":"Allow","Action":"a","Action":"b"}]}"#,
        )
        .unwrap_err();
        assert!(e.message.contains("duplicate key"), "{e}");
        let e = PolicyDocument::parse("web", r#"{"Statement":[{"Effect":"Maybe","Action":"a"}]}"#)
            .unwrap_err();
        assert_eq!(e.place, "Statement[0].Effect");
        let e = PolicyDocument::parse(
            "web",
            r#"{"Statement":[{"Effect":"Allow","Action":"a","NotAction":"b"}]}"#,
        )
        .unwrap_err();
        assert!(e.message.contains("both"));
        assert!(
            PolicyDocument::parse(
                "web",
                r#"{"Statement":[{"Effect":"Allow","Action":"a","Condition":"x"}]}"#
            )
            .is_err()
        );
        assert!(PolicyDocument::parse("web", "[]").is_err());
    }

    #[test]
    fn with_actions_replaces_notaction_in_place() {
        let doc = PolicyDocument::parse(
            "p",
            r#"{"Statement":[{"Sid":"S","Effect":"Allow","NotAction":["iam:*"],"Resource":"*"}]}"#,
        )
        .unwrap();
        let s = doc.statements()[0].with_actions(vec!["s3:GetObject".into()]);
        assert_eq!(
            serde_json::to_string(&Value::Object(s.fields().clone())).unwrap(),
            r#"{"Sid":"S","Effect":"Allow","Action":["s3:GetObject"],"Resource":"*"}"#
        );
    }

    #[test]
    fn canonical_form_and_size() {
        let map = parse_policy_map(
            "f",
            r#"{"b":{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]},"a":{"Statement":[]}}"#,
        )
        .unwrap();
        let text = to_canonical_json(&map);
        assert!(text.starts_with("{\n  \"a\""));
        assert!(text.ends_with("}\n"));
        assert_eq!(parse_policy_map("f", &text).unwrap(), map);
        // "a" + {"Statement":[]} (16) + "b" + the other document (66)
        let b = r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
        assert_eq!(inline_size(&map), 1 + 16 + 1 + b.len());
    }

    #[test]
    fn size_walk_matches_compact_serialisation() {
        let text = r#"{"Version":"2012-10-17","X":[1,false],"Statement":{"Sid":"a b\n\"q\"\u0001","Effect":"Allow","Action":["s3:Get*"],"Resource":"*","Condition":{"NumericLessThan":{"aws:MultiFactorAuthAge":3600},"Bool":{"x":true,"y":null}}}}"#;
        let doc = PolicyDocument::parse("p", text).unwrap();
        let compact = serde_json::to_string(&doc.to_value()).unwrap();
        assert_eq!(
            document_size(&doc),
            compact.chars().filter(|c| !c.is_whitespace()).count()
        );
    }
}
