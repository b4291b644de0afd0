//! Condition blocks, and when one implies another.
//!
//! A block is a conjunction of constraints `(operator, key, values)`. Block H implies block B when
//! every constraint of B is implied by some constraint of H: extra constraints in H only make it
//! stricter. One constraint implies another only when both are on the same key (keys are
//! case-insensitive), with the same set qualifier (`ForAllValues:`, `ForAnyValue:` or none), and
//! H carries `IfExists` only if B does; then, value by value:
//!
//! * positive operators (`StringEquals`, `StringLike`, `ArnLike`, `IpAddress`, `Bool`, …): every
//!   value of H is matched by some value of B (a literal by a `Like` pattern, a CIDR inside a
//!   wider one, a lowercase-equal value for `…IgnoreCase`);
//! * negated operators (`StringNotEquals`, `NotIpAddress`, `ArnNotLike`, …): the other way round,
//!   every value of B is matched by some value of H;
//! * ordering operators (`NumericLessThan`, `DateGreaterThan`, …): H's bound is at least as tight.
//!
//! Everything else (different operators on a key, a positive against a negated operator, values
//! that do not parse, an operator not known) is implied only by the identical constraint. That is
//! incomplete on purpose: "cannot prove" is the safe answer.

use std::net::IpAddr;

use serde_json::Value;

use super::automaton::{Pattern, Tok, Vars};
use super::resource::{ArnPattern, Item, items};

/// `ForAllValues:` / `ForAnyValue:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Qualifier {
    None,
    ForAll,
    ForAny,
}

/// How a string value matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StrKind {
    Exact,
    Fold,
    Glob,
}

/// An ordering comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ord {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Str { kind: StrKind, negated: bool },
    Num(Ord),
    Date(Ord),
    Bool,
    Binary,
    Ip { negated: bool },
    Arn { negated: bool },
    Null,
    Unknown,
}

/// One `(operator, key, values)` constraint.
#[derive(Debug, Clone)]
pub struct Constraint {
    /// The operator as written (`ForAnyValue:StringLikeIfExists`).
    pub operator: String,
    /// The condition key as written.
    pub key: String,
    key_lower: String,
    qualifier: Qualifier,
    op: Op,
    if_exists: bool,
    /// The values as strings (numbers and booleans in their JSON text).
    pub values: Vec<String>,
    /// Whether `${…}` in the values are policy variables (version 2012-10-17).
    vars_on: bool,
}

impl Constraint {
    /// `StringEquals aws:SourceVpc ["vpc-1"]`.
    pub fn describe(&self) -> String {
        let values: Vec<String> = self.values.iter().map(|v| format!("{v:?}")).collect();
        format!("{} {} [{}]", self.operator, self.key, values.join(", "))
    }

    fn same(&self, other: &Constraint) -> bool {
        self.operator == other.operator
            && self.key_lower == other.key_lower
            && self.values == other.values
            && self.vars_on == other.vars_on
    }
}

/// A statement's `Condition` block.
#[derive(Debug, Clone, Default)]
pub struct Conditions {
    /// Every constraint, in the order written.
    pub constraints: Vec<Constraint>,
}

fn parse_operator(op: &str) -> (Qualifier, Op, bool) {
    let (qualifier, rest) = if let Some(r) = op.strip_prefix("ForAllValues:") {
        (Qualifier::ForAll, r)
    } else if let Some(r) = op.strip_prefix("ForAnyValue:") {
        (Qualifier::ForAny, r)
    } else {
        (Qualifier::None, op)
    };
    let (name, if_exists) = match rest.strip_suffix("IfExists") {
        Some(n) if n != "Null" => (n, true),
        _ => (rest, false),
    };
    let ord = |s: &str| {
        Some(match s {
            "Equals" => Ord::Eq,
            "NotEquals" => Ord::Ne,
            "LessThan" => Ord::Lt,
            "LessThanEquals" => Ord::Le,
            "GreaterThan" => Ord::Gt,
            "GreaterThanEquals" => Ord::Ge,
            _ => return None,
        })
    };
    let s = |kind, negated| Op::Str { kind, negated };
    let op = match name {
        "StringEquals" => s(StrKind::Exact, false),
        "StringNotEquals" => s(StrKind::Exact, true),
        "StringEqualsIgnoreCase" => s(StrKind::Fold, false),
        "StringNotEqualsIgnoreCase" => s(StrKind::Fold, true),
        "StringLike" => s(StrKind::Glob, false),
        "StringNotLike" => s(StrKind::Glob, true),
        "Bool" => Op::Bool,
        "BinaryEquals" => Op::Binary,
        "IpAddress" => Op::Ip { negated: false },
        "NotIpAddress" => Op::Ip { negated: true },
        "ArnEquals" | "ArnLike" => Op::Arn { negated: false },
        "ArnNotEquals" | "ArnNotLike" => Op::Arn { negated: true },
        "Null" => Op::Null,
        n => match (n.strip_prefix("Numeric"), n.strip_prefix("Date")) {
            (Some(o), _) => ord(o).map_or(Op::Unknown, Op::Num),
            (_, Some(o)) => ord(o).map_or(Op::Unknown, Op::Date),
            _ => Op::Unknown,
        },
    };
    (qualifier, op, if_exists)
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Conditions {
    /// Reads a `Condition` value. What does not have the documented shape becomes a constraint
    /// of unknown operator, implied only by itself.
    pub fn parse(value: Option<&Value>, vars_on: bool) -> Conditions {
        let mut constraints = Vec::new();
        let Some(value) = value else {
            return Conditions::default();
        };
        let Value::Object(ops) = value else {
            constraints.push(opaque("Condition", value, vars_on));
            return Conditions { constraints };
        };
        for (operator, keys) in ops {
            let Value::Object(keys) = keys else {
                constraints.push(opaque(operator, keys, vars_on));
                continue;
            };
            let (qualifier, op, if_exists) = parse_operator(operator);
            for (key, values) in keys {
                let has_vars = vars_on && values.to_string().contains("${");
                let list: Option<Vec<String>> = match values {
                    Value::Array(items) => items.iter().map(scalar).collect(),
                    v => scalar(v).map(|s| vec![s]),
                };
                // A value that is not a scalar or a list of scalars: only identity can cover it.
                let (op, values) = match list {
                    Some(l) => (op, l),
                    None => (Op::Unknown, vec![values.to_string()]),
                };
                constraints.push(Constraint {
                    operator: operator.clone(),
                    key: key.clone(),
                    key_lower: key.to_ascii_lowercase(),
                    qualifier,
                    op,
                    if_exists,
                    values,
                    vars_on: has_vars,
                });
            }
        }
        Conditions { constraints }
    }

    /// Whether there is no constraint.
    pub fn is_empty(&self) -> bool {
        self.constraints.is_empty()
    }

    /// The first constraint of `other` that this block does not imply, or `None` when this block
    /// implies `other`.
    pub fn unimplied<'a>(&self, other: &'a Conditions, vars: &Vars) -> Option<&'a Constraint> {
        other
            .constraints
            .iter()
            .find(|b| !self.constraints.iter().any(|h| implies(h, b, vars)))
    }
}

fn opaque(operator: &str, v: &Value, vars_on: bool) -> Constraint {
    Constraint {
        operator: operator.to_string(),
        key: String::new(),
        key_lower: String::new(),
        qualifier: Qualifier::None,
        op: Op::Unknown,
        if_exists: false,
        values: vec![v.to_string()],
        vars_on,
    }
}

/// Whether constraint `h` implies constraint `b` for every request.
fn implies(h: &Constraint, b: &Constraint, vars: &Vars) -> bool {
    // The identical constraint is the same predicate, whatever the operator (the only proof for
    // an operator not known here).
    if h.same(b) {
        return true;
    }
    if h.key_lower != b.key_lower || h.qualifier != b.qualifier || (h.if_exists && !b.if_exists) {
        return false;
    }
    match (h.op, b.op) {
        (
            Op::Str {
                kind: hk,
                negated: hn,
            },
            Op::Str {
                kind: bk,
                negated: bn,
            },
        ) if hn == bn => {
            if hn {
                // Negated: every value B excludes, H excludes too.
                covers(&b.values, bk, b.vars_on, &h.values, hk, h.vars_on, vars)
            } else {
                covers(&h.values, hk, h.vars_on, &b.values, bk, b.vars_on, vars)
            }
        }
        (Op::Num(ho), Op::Num(bo)) => ordered(&h.values, ho, &b.values, bo, |s| {
            s.trim().parse::<f64>().ok()
        }),
        (Op::Date(ho), Op::Date(bo)) => ordered(&h.values, ho, &b.values, bo, parse_date),
        (Op::Bool, Op::Bool) => subset(&h.values, &b.values, |s| {
            matches!(s.to_ascii_lowercase().as_str(), "true" | "false")
                .then(|| s.to_ascii_lowercase())
        }),
        (Op::Binary, Op::Binary) if !h.vars_on && !b.vars_on => {
            subset(&h.values, &b.values, |s| Some(s.to_string()))
        }
        (Op::Ip { negated: hn }, Op::Ip { negated: bn }) if hn == bn => {
            let (inner, outer) = if hn {
                (&b.values, &h.values)
            } else {
                (&h.values, &b.values)
            };
            cidrs_within(inner, outer)
        }
        (Op::Arn { negated: hn }, Op::Arn { negated: bn }) if hn == bn => {
            let (inner, iv, outer, ov) = if hn {
                (&b.values, b.vars_on, &h.values, h.vars_on)
            } else {
                (&h.values, h.vars_on, &b.values, b.vars_on)
            };
            let outer: Vec<ArnPattern> = outer.iter().map(|o| ArnPattern::new(o, ov)).collect();
            inner.iter().all(|i| {
                let i = ArnPattern::new(i, iv);
                outer.iter().any(|o| i.contained_in(o, vars).is_yes())
            })
        }
        (Op::Null, Op::Null) => {
            let norm = |v: &[String]| {
                let mut v: Vec<String> = v.iter().map(|s| s.to_ascii_lowercase()).collect();
                v.sort();
                v.dedup();
                v
            };
            norm(&h.values) == norm(&b.values)
        }
        _ => false,
    }
}

/// A string value as a pattern: `Like` values are globs, `Equals` values literals; `${…}` is a
/// variable when `vars_on`.
fn value_pattern(s: &str, kind: StrKind, vars_on: bool, vars: &Vars) -> Pattern {
    let glob = kind == StrKind::Glob;
    Pattern::new(
        items(s, vars_on, vars)
            .into_iter()
            .map(|i| match i {
                Item::Star if glob => Tok::Any { colon: true },
                Item::Quest if glob => Tok::One { colon: true },
                Item::Star => Tok::Lit('*'),
                Item::Quest => Tok::Lit('?'),
                Item::Lit(c) => Tok::Lit(c),
                Item::Var(v) => Tok::Var(v),
            })
            .collect(),
    )
}

/// Whether every value of `inner` (matched as `ik`) is matched by some value of `outer` (matched
/// as `ok`): the strings `inner` accepts are all accepted by `outer`.
fn covers(
    inner: &[String],
    ik: StrKind,
    iv: bool,
    outer: &[String],
    ok: StrKind,
    ov: bool,
    vars: &Vars,
) -> bool {
    match (ik, ok) {
        // Case-folded values: compare lowercased, and only plain text (no wildcard, no variable).
        (StrKind::Fold, StrKind::Fold) | (StrKind::Exact | StrKind::Glob, StrKind::Fold) => {
            let plain = |s: &str, k: StrKind, v: bool| {
                !(v && s.contains("${"))
                    && !(k == StrKind::Glob && (s.contains('*') || s.contains('?')))
            };
            inner.iter().all(|i| {
                plain(i, ik, iv)
                    && outer
                        .iter()
                        .any(|o| plain(o, ok, ov) && i.to_lowercase() == o.to_lowercase())
            })
        }
        (StrKind::Fold, _) => false,
        _ => {
            let outer: Vec<Pattern> = outer
                .iter()
                .map(|o| value_pattern(o, ok, ov, vars))
                .collect();
            inner.iter().all(|i| {
                let p = value_pattern(i, ik, iv, vars);
                outer.iter().any(|o| p.contained_in(o, vars).is_yes())
            })
        }
    }
}

fn subset(h: &[String], b: &[String], norm: impl Fn(&str) -> Option<String>) -> bool {
    let b: Option<Vec<String>> = b.iter().map(|s| norm(s)).collect();
    let Some(b) = b else { return false };
    h.iter().all(|s| norm(s).is_some_and(|n| b.contains(&n)))
}

/// Ordering operators: whether `h_op h_values` implies `b_op b_values` for every value.
fn ordered(
    h: &[String],
    ho: Ord,
    b: &[String],
    bo: Ord,
    parse: impl Fn(&str) -> Option<f64>,
) -> bool {
    let parse_all = |v: &[String]| -> Option<Vec<f64>> { v.iter().map(|s| parse(s)).collect() };
    let (Some(hv), Some(bv)) = (parse_all(h), parse_all(b)) else {
        return false;
    };
    if hv.is_empty() || bv.is_empty() {
        return false;
    }
    let max = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let (hmax, hmin, bmax, bmin) = (max(&hv), min(&hv), max(&bv), min(&bv));
    match (ho, bo) {
        (Ord::Eq, Ord::Eq) => hv.iter().all(|x| bv.contains(x)),
        (Ord::Ne, Ord::Ne) => bv.iter().all(|x| hv.contains(x)),
        (Ord::Eq, Ord::Lt) => hmax < bmax,
        (Ord::Eq, Ord::Le) => hmax <= bmax,
        (Ord::Eq, Ord::Gt) => hmin > bmin,
        (Ord::Eq, Ord::Ge) => hmin >= bmin,
        (Ord::Lt, Ord::Lt) | (Ord::Le, Ord::Le) | (Ord::Lt, Ord::Le) => hmax <= bmax,
        (Ord::Le, Ord::Lt) => hmax < bmax,
        (Ord::Gt, Ord::Gt) | (Ord::Ge, Ord::Ge) | (Ord::Gt, Ord::Ge) => hmin >= bmin,
        (Ord::Ge, Ord::Gt) => hmin > bmin,
        _ => false,
    }
}

/// A date value as seconds since the epoch: RFC 3339, a date, a date and time without zone
/// (UTC), or epoch seconds.
fn parse_date(s: &str) -> Option<f64> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Some(n as f64);
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.timestamp() as f64 + f64::from(d.timestamp_subsec_nanos()) / 1e9);
    }
    for f in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, f) {
            return Some(d.and_utc().timestamp() as f64);
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp() as f64)
}

/// A CIDR (or a bare address: one host).
fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let s = s.trim();
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l.parse::<u8>().ok()?)),
        None => (s, None),
    };
    let addr: IpAddr = addr.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = len.unwrap_or(max);
    (len <= max).then_some((addr, len))
}

fn prefix_bits(addr: IpAddr) -> (u128, u8) {
    match addr {
        IpAddr::V4(a) => (u128::from(u32::from(a)) << 96, 32),
        IpAddr::V6(a) => (u128::from(a), 128),
    }
}

/// Whether network `inner` lies inside network `outer`.
fn cidr_within(inner: (IpAddr, u8), outer: (IpAddr, u8)) -> bool {
    let ((i, imax), (o, omax)) = (prefix_bits(inner.0), prefix_bits(outer.0));
    if imax != omax || inner.1 < outer.1 {
        return false;
    }
    // Compare the top `outer.1` bits (of the family's width, left-aligned in 128 bits).
    let keep = u32::from(outer.1);
    if keep == 0 {
        return true;
    }
    let mask = u128::MAX << (128 - keep);
    i & mask == o & mask
}

fn cidrs_within(inner: &[String], outer: &[String]) -> bool {
    let outer: Option<Vec<(IpAddr, u8)>> = outer.iter().map(|s| parse_cidr(s)).collect();
    let Some(outer) = outer else { return false };
    inner
        .iter()
        .all(|s| parse_cidr(s).is_some_and(|i| outer.iter().any(|o| cidr_within(i, *o))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Whether block `h` implies block `b`.
    fn implies(h: Value, b: Value) -> bool {
        let v = Vars::default();
        let (h, b) = (
            Conditions::parse(Some(&h), true),
            Conditions::parse(Some(&b), true),
        );
        h.unimplied(&b, &v).is_none()
    }

    #[test]
    fn stricter_blocks_imply_looser_ones() {
        let vpc = json!({"StringEquals": {"aws:SourceVpc": "vpc-1"}});
        assert!(implies(vpc.clone(), vpc.clone()));
        assert!(implies(
            json!({"StringEquals": {"aws:SourceVpc": "vpc-1", "aws:x": "y"}}),
            vpc.clone()
        ));
        assert!(implies(vpc.clone(), json!({})));
        assert!(!implies(json!({}), vpc.clone()));
        assert!(!implies(
            json!({"StringEquals": {"aws:SourceVpc": ["vpc-1", "vpc-2"]}}),
            vpc.clone()
        ));
        assert!(implies(
            vpc.clone(),
            json!({"StringEquals": {"aws:sourcevpc": ["vpc-1", "vpc-2"]}})
        ));
        assert!(implies(
            vpc.clone(),
            json!({"StringLike": {"aws:SourceVpc": "vpc-*"}})
        ));
        assert!(!implies(
            json!({"StringLike": {"aws:SourceVpc": "vpc-*"}}),
            vpc.clone()
        ));
        assert!(implies(
            vpc.clone(),
            json!({"StringEqualsIgnoreCase": {"aws:SourceVpc": "VPC-1"}})
        ));
        assert!(!implies(
            json!({"StringEqualsIgnoreCase": {"aws:SourceVpc": "vpc-1"}}),
            vpc.clone()
        ));
        assert!(!implies(
            json!({"StringEqualsIfExists": {"aws:SourceVpc": "vpc-1"}}),
            vpc.clone()
        ));
        assert!(implies(
            vpc.clone(),
            json!({"StringEqualsIfExists": {"aws:SourceVpc": "vpc-1"}})
        ));
        assert!(!implies(
            json!({"ForAnyValue:StringEquals": {"aws:SourceVpc": "vpc-1"}}),
            vpc
        ));
    }

    #[test]
    fn negated_operators_flip() {
        let ne = json!({"StringNotEquals": {"aws:PrincipalTag/team": ["a", "b"]}});
        assert!(implies(
            ne.clone(),
            json!({"StringNotEquals": {"aws:PrincipalTag/team": "a"}})
        ));
        assert!(!implies(
            json!({"StringNotEquals": {"aws:PrincipalTag/team": "a"}}),
            ne
        ));
        assert!(implies(
            json!({"StringNotLike": {"k": "a*"}}),
            json!({"StringNotEquals": {"k": "ab"}})
        ));
        assert!(!implies(
            json!({"StringEquals": {"k": "x"}}),
            json!({"StringNotEquals": {"k": "y"}})
        ));
    }

    #[test]
    fn numbers_dates_ips_arns() {
        assert!(implies(
            json!({"NumericLessThan": {"aws:MultiFactorAuthAge": 300}}),
            json!({"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}})
        ));
        assert!(!implies(
            json!({"NumericLessThan": {"aws:MultiFactorAuthAge": 7200}}),
            json!({"NumericLessThan": {"aws:MultiFactorAuthAge": 3600}})
        ));
        assert!(implies(
            json!({"DateGreaterThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}}),
            json!({"DateGreaterThan": {"aws:CurrentTime": "2025-01-01"}})
        ));
        assert!(implies(
            json!({"IpAddress": {"aws:SourceIp": "10.1.0.0/16"}}),
            json!({"IpAddress": {"aws:SourceIp": ["10.0.0.0/8"]}})
        ));
        assert!(!implies(
            json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
            json!({"IpAddress": {"aws:SourceIp": "10.1.0.0/16"}})
        ));
        assert!(implies(
            json!({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
            json!({"NotIpAddress": {"aws:SourceIp": "10.1.0.0/16"}})
        ));
        assert!(implies(
            json!({"IpAddress": {"aws:SourceIp": "2001:db8::1"}}),
            json!({"IpAddress": {"aws:SourceIp": "2001:db8::/32"}})
        ));
        assert!(implies(
            json!({"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:1:t"}}),
            json!({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:1:*"}})
        ));
        assert!(!implies(
            json!({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:*:*"}}),
            json!({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:1:*"}})
        ));
        assert!(implies(
            json!({"Bool": {"aws:SecureTransport": true}}),
            json!({"Bool": {"aws:SecureTransport": "true"}})
        ));
        assert!(!implies(
            json!({"Null": {"k": "true"}}),
            json!({"Null": {"k": "false"}})
        ));
    }

    #[test]
    fn unknown_operators_only_by_identity() {
        let odd = json!({"StringMaybe": {"k": "v"}});
        assert!(implies(odd.clone(), odd.clone()));
        assert!(!implies(json!({"StringEquals": {"k": "v"}}), odd));
    }

    #[test]
    fn variables_compare_only_literally() {
        assert!(implies(
            json!({"StringLike": {"s3:prefix": "home/${aws:username}/*"}}),
            json!({"StringLike": {"s3:prefix": "home/*"}})
        ));
        assert!(!implies(
            json!({"StringLike": {"s3:prefix": "home/*"}}),
            json!({"StringLike": {"s3:prefix": "home/${aws:username}/*"}})
        ));
    }
}
