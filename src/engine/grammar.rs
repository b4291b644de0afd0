//! The grammar IAM enforces on identity-based policy documents (`PutRolePolicy` and friends).
//!
//! The policy model ([`crate::engine::policy`]) accepts anything it can rewrite safely; this module
//! answers the narrower question "would IAM accept this document?", so that `verify` can reject a
//! change in review instead of letting `apply` fail against AWS. Every violation is reported (not
//! just the first) with the JSON path where it sits, so a reviewer can fix them all in one go.
//!
//! The rules were checked against every version of every AWS managed policy (6,194 documents);
//! where real AWS documents contradict a stricter reading of the documentation, the rule follows
//! the documents and says so.

use std::fmt::{self, Write as _};

use serde_json::{Map, Value};

/// One place in a document, as a JSON path from the document root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSeg {
    /// A member of an object, by its (decoded) key.
    Key(String),
    /// An element of an array, 0-based.
    Index(usize),
}

/// A grammar error: where (path inside the document) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrammarError {
    /// Where the offending value sits; empty for the document itself.
    pub path: Vec<PathSeg>,
    /// What is wrong and what IAM allows instead.
    pub message: String,
}

impl GrammarError {
    /// `Statement[1].Effect` style rendering of the path ("document" when empty). Keys that would
    /// make the rendering ambiguous (empty, or containing `.`, brackets, quotes or whitespace) are
    /// written as `["key"]`.
    pub fn place(&self) -> String {
        let mut out = String::new();
        for seg in &self.path {
            // Writing to a String cannot fail.
            let _ = match seg {
                PathSeg::Key(key) if is_plain_key(key) && out.is_empty() => write!(out, "{key}"),
                PathSeg::Key(key) if is_plain_key(key) => write!(out, ".{key}"),
                // Value's Display is JSON, so the key comes out quoted and escaped.
                PathSeg::Key(key) => write!(out, "[{}]", Value::String(key.clone())),
                PathSeg::Index(i) => write!(out, "[{i}]"),
            };
        }
        // Only the empty path renders as nothing: a key renders as at least `[""]`.
        if out.is_empty() {
            out.push_str("document");
        }
        out
    }
}

impl fmt::Display for GrammarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.place(), self.message)
    }
}

impl std::error::Error for GrammarError {}

fn is_plain_key(key: &str) -> bool {
    !key.is_empty()
        && !key
            .chars()
            .any(|c| matches!(c, '.' | '[' | ']' | '"') || c.is_whitespace() || c.is_control())
}

/// The base condition operators IAM knows, before any `IfExists` suffix or set qualifier.
#[rustfmt::skip] // One row per family reads better than one name per line.
pub const OPERATORS: &[&str] = &[
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
    "StringLike", "StringNotLike",
    "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
    "NumericGreaterThan", "NumericGreaterThanEquals",
    "DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool", "BinaryEquals", "IpAddress", "NotIpAddress",
    "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike",
    "Null",
];

/// The set operator prefix of a condition operator (`ForAllValues:StringLike`): how a
/// multi-valued request key is compared with the policy's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetQualifier {
    /// `ForAllValues:` — every request value must match some policy value.
    ForAllValues,
    /// `ForAnyValue:` — at least one request value must match some policy value.
    ForAnyValue,
}

/// Splits a condition operator name into its set qualifier, base operator (one of [`OPERATORS`])
/// and whether it carries `IfExists`. `None` when IAM would reject the name: unknown or
/// differently-cased base, two qualifiers, or `Null` with `IfExists` or a qualifier (a test for
/// the key's presence has nothing to qualify).
pub fn parse_operator(name: &str) -> Option<(Option<SetQualifier>, &'static str, bool)> {
    let (qualifier, rest) = if let Some(rest) = name.strip_prefix("ForAllValues:") {
        (Some(SetQualifier::ForAllValues), rest)
    } else if let Some(rest) = name.strip_prefix("ForAnyValue:") {
        (Some(SetQualifier::ForAnyValue), rest)
    } else {
        (None, name)
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (rest, false),
    };
    // Return the table's own &'static str so callers can compare by value without lifetimes.
    let base = OPERATORS.iter().copied().find(|op| *op == base)?;
    if base == "Null" && (if_exists || qualifier.is_some()) {
        return None;
    }
    Some((qualifier, base, if_exists))
}

/// Every grammar error of one policy document (a parsed `serde_json::Value`), in document order.
/// Errors about a container (a missing key, both `Action` and `NotAction`) come before the errors
/// of its members, as the container starts before them.
pub fn check_document(doc: &Value) -> Vec<GrammarError> {
    let mut checker = Checker::default();
    checker.document(doc);
    checker.errors
}

const TOP_KEYS: &[&str] = &["Version", "Id", "Statement"];
const STATEMENT_KEYS: &[&str] = &[
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

/// Walks a document keeping the current path, so an error costs one clone of the path and a
/// valid document costs no path allocations beyond the pushed segments.
#[derive(Default)]
struct Checker {
    path: Vec<PathSeg>,
    errors: Vec<GrammarError>,
}

impl Checker {
    fn error(&mut self, message: String) {
        let path = self.path.clone();
        self.errors.push(GrammarError { path, message });
    }

    /// An error of the form "`what`, found `value`".
    fn found(&mut self, what: &str, value: &Value) {
        self.error(format!("{what}, found {}", describe(value)));
    }

    fn within(&mut self, seg: PathSeg, check: impl FnOnce(&mut Self)) {
        self.path.push(seg);
        check(self);
        self.path.pop();
    }

    fn document(&mut self, doc: &Value) {
        let Some(map) = doc.as_object() else {
            self.found("a policy document must be a JSON object", doc);
            return;
        };
        if !map.contains_key("Statement") {
            self.error(
                "missing Statement: IAM requires an object or a non-empty array of objects".into(),
            );
        }
        for (key, value) in map {
            self.within(PathSeg::Key(key.clone()), |c| match key.as_str() {
                "Version" => c.version(value),
                "Id" if !value.is_string() => {
                    c.found("Id must be a string", value);
                }
                "Id" => {}
                "Statement" => c.statements(value),
                _ => c.error(unknown_key(key, TOP_KEYS)),
            });
        }
    }

    fn version(&mut self, value: &Value) {
        if !matches!(value.as_str(), Some("2012-10-17" | "2008-10-17")) {
            self.found(
                r#"Version must be "2012-10-17" or "2008-10-17" (or omitted)"#,
                value,
            );
        }
    }

    fn statements(&mut self, value: &Value) {
        match value {
            // A single statement is its own place: `Statement.Effect`, no index.
            Value::Object(map) => self.statement(map),
            Value::Array(items) if items.is_empty() => self.error(
                "Statement must not be an empty array; IAM requires at least one statement".into(),
            ),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.within(PathSeg::Index(i), |c| match item {
                        Value::Object(map) => c.statement(map),
                        other => c.found("each statement must be a JSON object", other),
                    });
                }
            }
            other => self.found(
                "Statement must be an object or a non-empty array of objects",
                other,
            ),
        }
    }

    fn statement(&mut self, map: &Map<String, Value>) {
        if !map.contains_key("Effect") {
            self.error(r#"missing Effect: IAM requires "Allow" or "Deny""#.into());
        }
        for (element, not) in [("Action", "NotAction"), ("Resource", "NotResource")] {
            match (map.contains_key(element), map.contains_key(not)) {
                (true, true) => self.error(format!(
                    "both {element} and {not}: a statement takes exactly one of them"
                )),
                (false, false) if element == "Action" => self.error(
                    "missing Action (or NotAction): IAM requires exactly one in every statement"
                        .into(),
                ),
                (false, false) => self.error(
                    "missing Resource (or NotResource): IAM requires one in identity-based policies"
                        .into(),
                ),
                _ => {}
            }
        }
        for (key, value) in map {
            self.within(PathSeg::Key(key.clone()), |c| match key.as_str() {
                "Sid" => c.sid(value),
                "Effect" if matches!(value.as_str(), Some("Allow" | "Deny")) => {}
                "Effect" => c.found(
                    r#"Effect must be exactly "Allow" or "Deny" (case-sensitive)"#,
                    value,
                ),
                "Action" | "NotAction" => c.entries(key, value, action_problem),
                "Resource" | "NotResource" => c.entries(key, value, resource_problem),
                "Condition" => c.condition(value),
                "Principal" | "NotPrincipal" => c.error(format!(
                    "{key} is not allowed in an identity-based policy (it belongs in a resource \
                     or trust policy)"
                )),
                _ => c.error(unknown_key(key, STATEMENT_KEYS)),
            });
        }
    }

    fn sid(&mut self, value: &Value) {
        match value.as_str() {
            None => self.found("Sid must be a string of ASCII letters and digits", value),
            Some("") => {
                self.error("Sid must not be empty; IAM allows ASCII letters and digits".into())
            }
            Some(sid) if !sid.bytes().all(|b| b.is_ascii_alphanumeric()) => self.error(format!(
                "Sid {} may contain only ASCII letters and digits (A-Z, a-z, 0-9)",
                describe(value)
            )),
            Some(_) => {}
        }
    }

    /// `Action`, `Resource` and their `Not` forms: a string or a non-empty array of strings, each
    /// entry checked by `problem` (which returns what is wrong with it, if anything).
    fn entries(&mut self, element: &str, value: &Value, problem: fn(&str) -> Option<String>) {
        let check = |c: &mut Self, entry: &str| {
            if let Some(problem) = problem(entry) {
                c.error(format!("{element} entry {} {problem}", quote(entry)));
            }
        };
        match value {
            Value::String(entry) => check(self, entry),
            Value::Array(items) if items.is_empty() => self.error(format!(
                "{element} must not be an empty array; IAM requires a string or a non-empty array \
                 of strings"
            )),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.within(PathSeg::Index(i), |c| match item {
                        Value::String(entry) => check(c, entry),
                        other => c.found(&format!("each {element} entry must be a string"), other),
                    });
                }
            }
            other => self.found(
                &format!("{element} must be a string or a non-empty array of strings"),
                other,
            ),
        }
    }

    fn condition(&mut self, value: &Value) {
        let Some(operators) = value.as_object() else {
            self.found("Condition must be an object of condition operators", value);
            return;
        };
        for (operator, block) in operators {
            self.within(PathSeg::Key(operator.clone()), |c| {
                let parsed = parse_operator(operator);
                if parsed.is_none() {
                    c.error(operator_problem(operator));
                }
                let is_null = matches!(parsed, Some((_, "Null", _)));
                let Some(keys) = block.as_object() else {
                    let what = format!("the {operator} block must be an object of keys to values");
                    c.found(&what, block);
                    return;
                };
                for (key, values) in keys {
                    c.within(PathSeg::Key(key.clone()), |c| {
                        if key.is_empty() {
                            c.error("a condition key must not be empty".into());
                        }
                        c.condition_values(values, is_null);
                    });
                }
            });
        }
    }

    /// A condition key's values: a scalar or a non-empty array of scalars; `Null` takes only
    /// true/false (it tests whether the key is absent).
    fn condition_values(&mut self, value: &Value, is_null: bool) {
        let scalar = |c: &mut Self, v: &Value| match v {
            Value::Bool(_) => {}
            Value::String(s) if !is_null || s == "true" || s == "false" => {}
            Value::String(_) | Value::Number(_) if is_null => {
                c.found(r#"a Null condition value must be "true" or "false""#, v);
            }
            Value::String(_) | Value::Number(_) => {}
            other => c.found(
                "a condition value must be a string, number or boolean",
                other,
            ),
        };
        match value {
            Value::Array(items) if items.is_empty() => self.error(
                "a condition key's values must not be an empty array; IAM requires a value or a \
                 non-empty array of values"
                    .into(),
            ),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.within(PathSeg::Index(i), |c| scalar(c, item));
                }
            }
            other => scalar(self, other),
        }
    }
}

fn action_problem(entry: &str) -> Option<String> {
    // Relaxed by the corpus: AWS managed policies contain "lambda:ListFunctions " (SecurityAudit
    // v5, v6), "access-analyzer:ListTagsForResource " (ReadOnlyAccess v61, v62),
    // "ec2: DescribeAccountAttributes" (ViewOnlyAccess v1) and "amplifybackend: *"
    // (AdministratorAccess-Amplify v1), so IAM accepts whitespace after the colon and at the end.
    // Leading whitespace and whitespace inside the prefix or the name stay errors.
    if entry.starts_with(char::is_whitespace) {
        return Some("has leading whitespace, which IAM rejects".into());
    }
    let entry = entry.trim_end();
    if entry == "*" {
        return None;
    }
    let Some((prefix, name)) = entry.split_once(':') else {
        return Some(
            r#"must be "*" or service:action (IAM: "Actions must be prefaced by a vendor")"#.into(),
        );
    };
    let name = name.trim_start();
    let only = |s: &str, extra: &[u8]| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
    };
    if prefix.is_empty() {
        Some("has an empty service prefix before ':'".into())
    } else if !only(prefix, b"-*?") {
        Some("has a service prefix with characters other than letters, digits, - * ?".into())
    } else if name.is_empty() {
        Some("has an empty action name after ':'".into())
    } else if !only(name, b"-_*?") {
        Some("has an action name with characters other than letters, digits, - _ * ?".into())
    } else {
        None
    }
}

fn resource_problem(entry: &str) -> Option<String> {
    if entry.is_empty() {
        Some(r#"is empty; IAM requires "*" or an ARN"#.into())
    } else if entry != entry.trim() {
        Some("has leading or trailing whitespace, which IAM rejects".into())
    } else if entry.bytes().all(|b| b == b'*') || entry.starts_with("arn:") {
        None
    } else {
        Some(r#"must be "*" or an ARN starting with "arn:""#.into())
    }
}

/// Why `parse_operator` rejected `name`, as specifically as possible.
fn operator_problem(name: &str) -> String {
    let rest = name
        .strip_prefix("ForAllValues:")
        .or_else(|| name.strip_prefix("ForAnyValue:"));
    let qualified = rest.is_some();
    let rest = rest.unwrap_or(name);
    let base = rest.strip_suffix("IfExists").unwrap_or(rest);
    if rest.starts_with("ForAllValues:") || rest.starts_with("ForAnyValue:") {
        format!("condition operator {name} has two set qualifiers; IAM allows at most one")
    } else if base == "Null" && base != rest {
        format!("condition operator {name} is not allowed: Null cannot take IfExists")
    } else if base == "Null" && qualified {
        format!("condition operator {name} is not allowed: Null cannot take a set qualifier")
    } else if let Some(op) = OPERATORS.iter().find(|op| op.eq_ignore_ascii_case(base)) {
        format!(
            "unknown condition operator {name}: operator names are case-sensitive (did you mean {op}?)"
        )
    } else {
        format!(
            "unknown condition operator {name}; IAM knows {}, each optionally with the suffix \
             IfExists (not Null) and the prefix ForAllValues: or ForAnyValue:",
            OPERATORS.join(", ")
        )
    }
}

fn unknown_key(key: &str, allowed: &[&str]) -> String {
    let list = allowed.join(", ");
    match allowed.iter().find(|k| k.eq_ignore_ascii_case(key)) {
        Some(k) => format!("unknown key {key}; keys are case-sensitive (did you mean {k}?)"),
        None => format!("unknown key {key}; IAM allows {list}"),
    }
}

/// A short description of a value for messages: strings quoted, containers by kind.
fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => quote(s),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
        other => other.to_string(),
    }
}

/// `s` as a JSON string, cut at 80 characters so one huge value does not swamp the report.
fn quote(s: &str) -> String {
    const LIMIT: usize = 80;
    match s.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", Value::String(s[..cut].to_string())),
        None => Value::String(s.to_string()).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Golden cases: a document on one line, then its expected errors ("place: message"), each
    /// indented; an expected error ending in "..." matches as a prefix. A document followed by no
    /// error lines must be valid.
    const CASES: &str = r#"
{"Version": "2012-10-17", "Statement": [{"Sid": "S3Read1", "Effect": "Allow", "Action": ["s3:Get*", "s3:List?ucket"], "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]}, {"Effect": "Deny", "NotAction": "iam:*", "NotResource": "*", "Condition": {"ForAnyValue:StringLikeIfExists": {"aws:TagKeys": ["a*", "b"]}, "Null": {"aws:RequestTag/x": false, "aws:ResourceTag/y": "true"}, "NumericLessThan": {"s3:max-keys": 10}, "Bool": {"aws:SecureTransport": [true]}}}]}
{"Id": "x", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "**"}}
{"Version": "2008-10-17", "Statement": {"Effect": "Deny", "Action": ["*:*", "ec2-x:Describe_x?", "lambda:ListFunctions ", "ec2: DescribeInstances"], "NotResource": ["*", "***"], "Condition": {}}}
[1]
    document: a policy document must be a JSON object, found an array
{"Version": "2012-10-18", "Id": 5, "Foo": 1, "version": 1}
    document: missing Statement: IAM requires an object or a non-empty array of objects
    Version: Version must be "2012-10-17" or "2008-10-17" (or omitted), found "2012-10-18"
    Id: Id must be a string, found 5
    Foo: unknown key Foo; IAM allows Version, Id, Statement
    version: unknown key version; keys are case-sensitive (did you mean Version?)
{"Statement": []}
    Statement: Statement must not be an empty array; IAM requires at least one statement
{"Statement": "x"}
    Statement: Statement must be an object or a non-empty array of objects, found "x"
{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}, null]}
    Statement[1]: each statement must be a JSON object, found null
{"Statement": [{"Sid": "my-sid", "Effect": "allow", "Action": "*", "NotAction": "*", "Resource": "*", "Principal": "*", "Effekt": 1}]}
    Statement[0]: both Action and NotAction: a statement takes exactly one of them
    Statement[0].Sid: Sid "my-sid" may contain only ASCII letters and digits (A-Z, a-z, 0-9)
    Statement[0].Effect: Effect must be exactly "Allow" or "Deny" (case-sensitive), found "allow"
    Statement[0].Principal: Principal is not allowed in an identity-based policy (it belongs in a resource or trust policy)
    Statement[0].Effekt: unknown key Effekt; IAM allows Sid, Effect, Action, NotAction, Resource, NotResource, Condition
{"Statement": {"Sid": "", "NotPrincipal": {}, "Resource": "*", "NotResource": "*"}}
    Statement: missing Effect: IAM requires "Allow" or "Deny"
    Statement: missing Action (or NotAction): IAM requires exactly one in every statement
    Statement: both Resource and NotResource: a statement takes exactly one of them
    Statement.Sid: Sid must not be empty; IAM allows ASCII letters and digits
    Statement.NotPrincipal: NotPrincipal is not allowed in an identity-based policy (it belongs in a resource or trust policy)
{"Statement": [{"Effect": "Deny", "Action": "*"}, {"Effect": "Deny", "Action": "*", "Resource": "*", "Sid": 1}]}
    Statement[0]: missing Resource (or NotResource): IAM requires one in identity-based policies
    Statement[1].Sid: Sid must be a string of ASCII letters and digits, found 1
{"Statement": {"Effect": "Allow", "Action": ["s3GetObject", ":Get", "s3: ", "s3:Get Object", "s_3:Get", " s3:Get", "s3:a:b", 7], "Resource": "*"}}
    Statement.Action[0]: Action entry "s3GetObject" must be "*" or service:action (IAM: "Actions must be prefaced by a vendor")
    Statement.Action[1]: Action entry ":Get" has an empty service prefix before ':'
    Statement.Action[2]: Action entry "s3: " has an empty action name after ':'
    Statement.Action[3]: Action entry "s3:Get Object" has an action name with characters other than letters, digits, - _ * ?
    Statement.Action[4]: Action entry "s_3:Get" has a service prefix with characters other than letters, digits, - * ?
    Statement.Action[5]: Action entry " s3:Get" has leading whitespace, which IAM rejects
    Statement.Action[6]: Action entry "s3:a:b" has an action name with characters other than letters, digits, - _ * ?
    Statement.Action[7]: each Action entry must be a string, found 7
{"Statement": {"Effect": "Allow", "Action": [], "NotAction": {}, "Resource": "*"}}
    Statement: both Action and NotAction: a statement takes exactly one of them
    Statement.Action: Action must not be an empty array; IAM requires a string or a non-empty array of strings
    Statement.NotAction: NotAction must be a string or a non-empty array of strings, found an object
{"Statement": {"Effect": "Allow", "Action": "*", "Resource": ["", " arn:aws:s3:::b", "arn:aws:s3:::b ", "bucket", "ARN:x"]}}
    Statement.Resource[0]: Resource entry "" is empty; IAM requires "*" or an ARN
    Statement.Resource[1]: Resource entry " arn:aws:s3:::b" has leading or trailing whitespace, which IAM rejects
    Statement.Resource[2]: Resource entry "arn:aws:s3:::b " has leading or trailing whitespace, which IAM rejects
    Statement.Resource[3]: Resource entry "bucket" must be "*" or an ARN starting with "arn:"
    Statement.Resource[4]: Resource entry "ARN:x" must be "*" or an ARN starting with "arn:"
{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": []}}
    Statement.Condition: Condition must be an object of condition operators, found an array
{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEqual": {"a:b": "x"}, "stringEquals": {"a:b": "x"}, "NullIfExists": {"a:b": "true"}, "ForAllValues:Null": {"a:b": "true"}, "ForAnyValue:ForAllValues:StringLike": {"a:b": "x"}, "StringLike": {"": "x", "aws:username": [], "a:c": [null, {}], "a:d": ["x", 1, true]}, "Null": {"a:b": "yes", "a:c": [1]}, "Bool": "x"}}]}
    Statement[0].Condition.StringEqual: unknown condition operator StringEqual; IAM knows StringEquals, StringNotEquals, ...
    Statement[0].Condition.stringEquals: unknown condition operator stringEquals: operator names are case-sensitive (did you mean StringEquals?)
    Statement[0].Condition.NullIfExists: condition operator NullIfExists is not allowed: Null cannot take IfExists
    Statement[0].Condition.ForAllValues:Null: condition operator ForAllValues:Null is not allowed: Null cannot take a set qualifier
    Statement[0].Condition.ForAnyValue:ForAllValues:StringLike: condition operator ForAnyValue:ForAllValues:StringLike has two set qualifiers; IAM allows at most one
    Statement[0].Condition.StringLike[""]: a condition key must not be empty
    Statement[0].Condition.StringLike.aws:username: a condition key's values must not be an empty array; IAM requires a value or a non-empty array of values
    Statement[0].Condition.StringLike.a:c[0]: a condition value must be a string, number or boolean, found null
    Statement[0].Condition.StringLike.a:c[1]: a condition value must be a string, number or boolean, found an object
    Statement[0].Condition.Null.a:b: a Null condition value must be "true" or "false", found "yes"
    Statement[0].Condition.Null.a:c[0]: a Null condition value must be "true" or "false", found 1
    Statement[0].Condition.Bool: the Bool block must be an object of keys to values, found "x"
"#;

    #[test]
    fn golden_cases() {
        let mut cases: Vec<(&str, Vec<&str>)> = Vec::new();
        for line in CASES.lines().filter(|l| !l.trim().is_empty()) {
            match (line.strip_prefix("    "), cases.last_mut()) {
                (Some(expected), Some((_, errors))) => errors.push(expected),
                _ => cases.push((line, Vec::new())),
            }
        }
        assert_eq!(cases.len(), 16);
        for (doc, expected) in cases {
            let value: Value = serde_json::from_str(doc).unwrap();
            let got: Vec<String> = check_document(&value)
                .iter()
                .map(|e| e.to_string())
                .collect();
            let matches = |(g, e): (&String, &&str)| match e.strip_suffix("...") {
                Some(prefix) => g.starts_with(prefix),
                None => g == e,
            };
            let ok = got.len() == expected.len() && got.iter().zip(&expected).all(matches);
            assert!(ok, "{doc}\n got: {got:#?}\n expected: {expected:#?}");
        }
    }

    #[test]
    fn place_renders_paths() {
        let k = |k: &str| PathSeg::Key(k.to_string());
        let path = vec![k("a.b"), k(""), k("c"), PathSeg::Index(0)];
        let e = GrammarError {
            path,
            message: "m".into(),
        };
        assert_eq!(e.to_string(), r#"["a.b"][""].c[0]: m"#);
        let e = GrammarError {
            path: vec![],
            message: "m".into(),
        };
        assert_eq!(e.to_string(), "document: m");
    }

    #[test]
    fn operators_parse() {
        assert_eq!(OPERATORS.len(), 27);
        for op in OPERATORS {
            assert_eq!(parse_operator(op), Some((None, *op, false)));
        }
        let (any, all) = (
            Some(SetQualifier::ForAnyValue),
            Some(SetQualifier::ForAllValues),
        );
        assert_eq!(
            parse_operator("ForAnyValue:BoolIfExists"),
            Some((any, "Bool", true))
        );
        assert_eq!(
            parse_operator("ForAllValues:ArnLike"),
            Some((all, "ArnLike", false))
        );
        let bad = "NullIfExists ForAnyValue:Null stringlike IfExists BoolIfExistsIfExists \
                   ForAllValues:ForAnyValue:Bool forallvalues:Bool";
        for name in bad.split_whitespace().chain([""]) {
            assert_eq!(parse_operator(name), None, "{name}");
        }
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let doc = serde_json::json!({"Statement": {"Effect": "x".repeat(200), "Action": "*", "Resource": "*"}});
        let message = &check_document(&doc)[0].message;
        assert!(
            message.ends_with(&format!("found \"{}\"…", "x".repeat(80))),
            "{message}"
        );
    }
}
