//! The oracle: conditions (operators, values, the contexts a block accepts).

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    pub(super) fn holds<T: PartialOrd>(self, request: T, policy: T) -> bool {
        match self {
            Cmp::Eq => request == policy,
            Cmp::Lt => request < policy,
            Cmp::Le => request <= policy,
            Cmp::Gt => request > policy,
            Cmp::Ge => request >= policy,
        }
    }
}

/// What one request value is tested against one policy value with.
#[derive(Debug, Clone, Copy)]
pub(super) enum Test {
    StrEq,
    StrEqFold,
    StrLike,
    Num(Cmp),
    Date(Cmp),
    Bool,
    Ip,
    Arn,
}

/// An operator name (without qualifier and `IfExists`): whether it is negated, and its test.
/// A negated operator is the negation of its positive form: the request value must match none of
/// the policy's values.
pub(super) fn operator(name: &str) -> (bool, Test) {
    let ord = |rest: &str| -> Option<(bool, Cmp)> {
        Some(match rest {
            "Equals" => (false, Cmp::Eq),
            "NotEquals" => (true, Cmp::Eq),
            "LessThan" => (false, Cmp::Lt),
            "LessThanEquals" => (false, Cmp::Le),
            "GreaterThan" => (false, Cmp::Gt),
            "GreaterThanEquals" => (false, Cmp::Ge),
            _ => return None,
        })
    };
    match name {
        "StringEquals" => (false, Test::StrEq),
        "StringNotEquals" => (true, Test::StrEq),
        "StringEqualsIgnoreCase" => (false, Test::StrEqFold),
        "StringNotEqualsIgnoreCase" => (true, Test::StrEqFold),
        "StringLike" => (false, Test::StrLike),
        "StringNotLike" => (true, Test::StrLike),
        "Bool" => (false, Test::Bool),
        "IpAddress" => (false, Test::Ip),
        "NotIpAddress" => (true, Test::Ip),
        "ArnEquals" | "ArnLike" => (false, Test::Arn),
        "ArnNotEquals" | "ArnNotLike" => (true, Test::Arn),
        n => {
            if let Some((neg, c)) = n.strip_prefix("Numeric").and_then(ord) {
                (neg, Test::Num(c))
            } else if let Some((neg, c)) = n.strip_prefix("Date").and_then(ord) {
                (neg, Test::Date(c))
            } else {
                panic!("the oracle does not model condition operator {n}")
            }
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub(super) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Seconds since the epoch of `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SSZ`, or epoch seconds.
pub(super) fn parse_time(s: &str) -> Option<i64> {
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t.strip_suffix('Z')?)),
        None => (s, None),
    };
    let d: Vec<i64> = date
        .split('-')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let t: Vec<i64> = match time {
        Some(t) => t
            .split(':')
            .map(|x| x.parse().ok())
            .collect::<Option<_>>()?,
        None => vec![0, 0, 0],
    };
    (d.len() == 3 && t.len() == 3)
        .then(|| days_from_civil(d[0], d[1], d[2]) * 86_400 + t[0] * 3600 + t[1] * 60 + t[2])
}

/// An address as (bits, width) with the address left in the low `width` bits.
pub(super) fn parse_ip(s: &str) -> Option<(u128, u32)> {
    match s.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(a) => Some((u128::from(u32::from(a)), 32)),
        std::net::IpAddr::V6(a) => Some((u128::from(a), 128)),
    }
}

/// Whether address `ip` lies in `cidr` (a bare address is a one-host network).
pub(super) fn ip_in(ip: &str, cidr: &str) -> bool {
    let (net, len) = match cidr.split_once('/') {
        Some((a, l)) => (a, l.parse::<u32>().ok()),
        None => (cidr, None),
    };
    let (Some((a, aw)), Some((n, nw))) = (parse_ip(ip), parse_ip(net)) else {
        return false;
    };
    let len = len.unwrap_or(nw);
    if aw != nw || len > nw {
        return false;
    }
    let shift = nw - len;
    shift >= 128 || (a >> shift) == (n >> shift)
}

pub(super) fn test(t: Test, request: &str, policy: &str, reading: Reading) -> bool {
    match t {
        Test::StrEq => request == policy,
        Test::StrEqFold => request.to_lowercase() == policy.to_lowercase(),
        Test::StrLike => glob(policy.as_bytes(), request.as_bytes()),
        Test::Num(c) => match (request.parse::<f64>(), policy.parse::<f64>()) {
            (Ok(r), Ok(p)) => c.holds(r, p),
            _ => false,
        },
        Test::Date(c) => match (parse_time(request), parse_time(policy)) {
            (Some(r), Some(p)) => c.holds(r, p),
            _ => false,
        },
        Test::Bool => request.eq_ignore_ascii_case(policy),
        Test::Ip => ip_in(request, policy),
        Test::Arn => arn_matches(policy, request, reading),
    }
}

pub(super) fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("the oracle does not model condition value {other}"),
    }
}

/// One `(operator, key, values)` constraint in one request context. Semantics:
///
/// * values OR: a positive operator holds when the request value matches some policy value; a
///   negated one when it matches none;
/// * missing key: positive operators false, negated ones true, `…IfExists` true;
///   `ForAllValues:` true on a missing or empty key, `ForAnyValue:` false;
/// * `ForAllValues:` — every request value satisfies the operator; `ForAnyValue:` — some does;
/// * an unqualified operator on a multi-valued key (`aws:TagKeys`): "any value matches" — the
///   positive form holds when some request value matches some policy value, the negated form is
///   its negation (so both read a single-valued key as usual, and an empty list as no match);
/// * `Null`: `"true"` holds when the key is missing, `"false"` when it is present (an empty list
///   is present); several values OR;
/// * key names are case-insensitive; a key the universe does not know is missing everywhere.
pub(super) fn eval_constraint(
    op: &str,
    key: &str,
    values: &Value,
    ctx: &Ctx,
    reading: Reading,
) -> bool {
    Constraint::parse(op, key, values).eval(ctx, reading)
}

/// A constraint read once, to be evaluated in every context.
pub(super) struct Constraint {
    /// `"all"` (`ForAllValues:`), `"any"` (`ForAnyValue:`) or `""`.
    pub(super) qualifier: &'static str,
    /// `None` for `Null`; else whether the operator is negated, and its test.
    pub(super) op: Option<(bool, Test)>,
    pub(super) if_exists: bool,
    /// Index into [`KEYS`]; `None` for a key the universe does not know.
    pub(super) key: Option<usize>,
    pub(super) values: Vec<String>,
}

impl Constraint {
    pub(super) fn parse(op: &str, key: &str, values: &Value) -> Constraint {
        let values: Vec<String> = match values {
            Value::Array(a) => a.iter().map(scalar_text).collect(),
            v => vec![scalar_text(v)],
        };
        let (qualifier, rest) = if let Some(r) = op.strip_prefix("ForAllValues:") {
            ("all", r)
        } else if let Some(r) = op.strip_prefix("ForAnyValue:") {
            ("any", r)
        } else {
            ("", op)
        };
        let (name, if_exists) = match rest.strip_suffix("IfExists") {
            Some(n) if rest != "Null" => (n, true),
            _ => (rest, false),
        };
        Constraint {
            qualifier,
            op: (name != "Null").then(|| operator(name)),
            if_exists,
            key: KEYS.iter().position(|k| k.eq_ignore_ascii_case(key)),
            values,
        }
    }

    /// Whether its truth can depend on the reading of ARN patterns.
    pub(super) fn reads_arns(&self) -> bool {
        matches!(self.op, Some((_, Test::Arn)))
    }

    pub(super) fn eval(&self, ctx: &Ctx, reading: Reading) -> bool {
        let present: Opt = self.key.and_then(|k| ctx[k]);
        let Some((negated, t)) = self.op else {
            return self
                .values
                .iter()
                .any(|v| v.eq_ignore_ascii_case("true") == present.is_none());
        };
        let Some(list) = present else {
            return self.if_exists
                || match self.qualifier {
                    "all" => true,
                    "any" => false,
                    _ => negated,
                };
        };
        let positive = |v: &str| self.values.iter().any(|p| test(t, v, p, reading));
        match self.qualifier {
            "all" => list.iter().all(|v| positive(v) != negated),
            "any" => list.iter().any(|v| positive(v) != negated),
            _ => list.iter().any(|v| positive(v)) != negated,
        }
    }
}

/// The constraints of a `Condition` block (operators AND, keys AND).
pub(super) fn constraints(block: Option<&Value>) -> Vec<Constraint> {
    let Some(block) = block else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (op, keys) in block.as_object().unwrap() {
        for (key, values) in keys.as_object().unwrap() {
            out.push(Constraint::parse(op, key, values));
        }
    }
    out
}

/// The contexts (bits) in which every constraint holds.
pub(super) fn block_mask(block: &[Constraint], reading: Reading) -> u64 {
    let mut mask = 0u64;
    for (i, c) in contexts().iter().enumerate() {
        if block.iter().all(|x| x.eval(c, reading)) {
            mask |= 1 << i;
        }
    }
    mask
}
