//! `repokid::engine::access::compare` checked against an IAM evaluation oracle.
//!
//! **The oracle** brute-forces IAM's evaluation logic for identity-based policies over a finite
//! universe: [`ACTIONS`] (catalog actions and names the catalog does not list), [`RESOURCES`]
//! (concrete ARNs), and [`NC`] request contexts over the condition keys in [`KEYS`]. It reads the
//! policies' JSON itself and shares no matching code with `src/engine`: its glob, ARN matcher,
//! condition evaluator, date and CIDR parsers are written here, from IAM's documentation
//! (`shared/reference/iam-evaluation.md`). One statement matches a product set (its actions ×
//! its resources × the contexts its condition accepts), so a role evaluates to, per (action,
//! resource) cell, a bitmask of contexts its Allows match and one its Denies match.
//!
//! **The property** `compare` claims (module docs of `engine::access`): for every request r,
//! (A) head allows r ⇒ base allows r (allows: some Allow matches and no Deny does), and
//! (B) base denies r ⇒ head denies r. A **miss** is a pair where the oracle finds an r violating
//! (A) or (B) and `compare` says `grants_nothing_new()`. Zero misses is required; the first one
//! is reduced and printed in full.
//!
//! **The pairs**: a base role (1–3 policies, 1–4 statements, each statement's form drawn
//! uniformly from Allow/Deny × Action/NotAction × Resource/NotResource × ten condition families),
//! and a head made from it by 1–3 mutations: random ones (widening and narrowing) for the miss
//! check, removal-only ones for the completeness check (at least 99% proved). The harness's
//! power is checked too: `oracle_catches_blind_provers` feeds `compare` roles with one part
//! erased (a condition family, the set qualifiers, `IfExists`, Deny, `NotAction`, `NotResource`,
//! resources, unknown actions) and requires a miss for each within a few thousand pairs.
//!
//! Sizes: `REPOKID_ORACLE_PAIRS` (default 10,000 of each kind), `REPOKID_ORACLE_SEED` (default
//! [`DEFAULT_SEED`], printed), `REPOKID_ORACLE_SHOW=<pair index>` prints one pair of each kind
//! and checks only that one. The documented big run:
//!
//! ```text
//! REPOKID_ORACLE_PAIRS=1000000 cargo test --release --test it verify_oracle:: -- --nocapture
//! ```

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::Instant;

use repokid::engine::Catalog;
use repokid::engine::access::{Comparison, compare};
use repokid::engine::policy::{PolicyMap, policy_map_from_value};
use serde_json::{Map, Value, json};

// ================================================================================================
// Configuration
// ================================================================================================

/// The seed when `REPOKID_ORACLE_SEED` is not set.
const DEFAULT_SEED: u64 = 0x5EED_2026_0A11;

struct Config {
    pairs: u64,
    seed: u64,
    show: Option<u64>,
}

fn config() -> Config {
    let num = |name: &str| -> Option<u64> {
        let v = std::env::var(name).ok()?;
        let v = v.trim().replace('_', "");
        let parsed = match v.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => v.parse(),
        };
        Some(parsed.unwrap_or_else(|_| panic!("{name}={v} is not a number")))
    };
    Config {
        pairs: num("REPOKID_ORACLE_PAIRS").unwrap_or(10_000),
        seed: num("REPOKID_ORACLE_SEED").unwrap_or(DEFAULT_SEED),
        show: num("REPOKID_ORACLE_SHOW"),
    }
}

// ================================================================================================
// A tiny deterministic RNG (splitmix64)
// ================================================================================================

struct Rng(u64);

impl Rng {
    /// The generator of pair `i` of stream `stream`: every pair can be regenerated on its own.
    fn for_pair(seed: u64, stream: u64, i: u64) -> Rng {
        let mut r = Rng(seed
            .wrapping_add(stream.wrapping_mul(0xA24B_AED4_963E_E407))
            .wrapping_add(i.wrapping_mul(0x9FB2_1C65_1E98_DF25)));
        r.next();
        r
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        assert!(n > 0);
        (self.next() % n as u64) as usize
    }

    /// True with probability `pct`%.
    fn chance(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }

    fn pick<T: Clone>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())].clone()
    }
}

// ================================================================================================
// The universe
// ================================================================================================

/// Actions requests are made for: catalog actions, and two names the catalog does not list (a
/// future S3 action, a service that does not exist yet), which wildcards and `NotAction` reach.
const ACTIONS: [&str; 12] = [
    "s3:GetObject",
    "s3:GetObjectAcl",
    "s3:PutObject",
    "s3:ListBucket",
    "s3:DeleteObject",
    "s3:GetFutureThing",
    "ec2:DescribeInstances",
    "ec2:RunInstances",
    "iam:PassRole",
    "iam:DeleteRole",
    "sqs:SendMessage",
    "newsvc:DoThing",
];
const NA: usize = ACTIONS.len();

/// Resources requests are made on.
const RESOURCES: [&str; 14] = [
    "arn:aws:s3:::logs",
    "arn:aws:s3:::logs/a.txt",
    "arn:aws:s3:::logs/2024/b.txt",
    "arn:aws:s3:::logsarchive/a.txt",
    "arn:aws:s3:::data/x:y.csv",
    "arn:aws:s3:::data/report.csv",
    "arn:aws-cn:s3:::logs/a.txt",
    "arn:aws:iam::111122223333:role/app/web",
    "arn:aws:iam::111122223333:role/admin",
    "arn:aws:iam::444455556666:role/app/web",
    "arn:aws:ec2:us-east-1:111122223333:instance/i-0abc",
    "arn:aws:ec2:eu-west-1:111122223333:instance/i-0abc",
    "arn:aws:sqs:us-east-1:111122223333:queue1",
    "arn:aws:logs:us-east-1:111122223333:log-group:app:log-stream:s1",
];
const NR: usize = RESOURCES.len();

/// Number of request contexts (one bit each in a `u64`).
const NC: usize = 64;

/// The condition keys requests carry. Key names match case-insensitively.
const KEYS: [&str; 7] = [
    "aws:PrincipalTag/team",
    "aws:TagKeys",
    "aws:MultiFactorAuthAge",
    "aws:CurrentTime",
    "aws:SecureTransport",
    "aws:SourceIp",
    "aws:SourceArn",
];
const K_TEAM: usize = 0;
const K_TAGS: usize = 1;
const K_MFA: usize = 2;
const K_TIME: usize = 3;
const K_TLS: usize = 4;
const K_IP: usize = 5;
const K_ARN: usize = 6;

/// A key's value in one request: `None` when the request does not carry the key; a list (one
/// element for single-valued keys, any number for `aws:TagKeys`) otherwise.
type Opt = Option<&'static [&'static str]>;

const TEAM_OPTS: &[Opt] = &[
    Some(&["web"]),
    Some(&["ops"]),
    Some(&["Web"]),
    Some(&["dev"]),
    None,
];
const TAG_OPTS: &[Opt] = &[
    None,
    Some(&[]),
    Some(&["a"]),
    Some(&["a", "b"]),
    Some(&["c"]),
    Some(&["b", "c"]),
];
const MFA_OPTS: &[Opt] = &[Some(&["100"]), Some(&["3600"]), Some(&["5000"]), None];
/// `aws:CurrentTime` is always present.
const TIME_OPTS: &[Opt] = &[
    Some(&["2024-06-01T00:00:00Z"]),
    Some(&["2026-01-01T00:00:00Z"]),
    Some(&["2026-06-01T12:00:00Z"]),
    Some(&["2028-01-01T00:00:00Z"]),
];
const TLS_OPTS: &[Opt] = &[Some(&["true"]), Some(&["false"]), None];
const IP_OPTS: &[Opt] = &[
    Some(&["10.1.2.3"]),
    Some(&["10.2.0.1"]),
    Some(&["192.0.2.7"]),
    Some(&["203.0.113.5"]),
    Some(&["2001:db8::1"]),
    None,
];
const ARN_OPTS: &[Opt] = &[
    Some(&["arn:aws:sns:us-east-1:111122223333:topic1"]),
    Some(&["arn:aws:sns:eu-west-1:444455556666:topic2"]),
    Some(&["arn:aws:sqs:us-east-1:111122223333:queue1"]),
    None,
];
const KEY_OPTS: [&[Opt]; 7] = [
    TEAM_OPTS, TAG_OPTS, MFA_OPTS, TIME_OPTS, TLS_OPTS, IP_OPTS, ARN_OPTS,
];

type Ctx = [Opt; 7];

/// The request contexts: the first six walk every key through all its values (so each value
/// occurs), the rest combine values at random (fixed seed), so that conditions on two keys are
/// told apart too.
fn contexts() -> &'static [Ctx] {
    static CONTEXTS: OnceLock<Vec<Ctx>> = OnceLock::new();
    CONTEXTS.get_or_init(|| {
        let mut rng = Rng(0xC0_47E7);
        (0..NC)
            .map(|i| {
                let mut c: Ctx = [None; 7];
                for (k, opts) in KEY_OPTS.iter().enumerate() {
                    c[k] = if i < 6 {
                        opts[i % opts.len()]
                    } else {
                        opts[rng.below(opts.len())]
                    };
                }
                c
            })
            .collect()
    })
}

fn describe_context(c: &Ctx) -> String {
    KEYS.iter()
        .zip(c.iter())
        .map(|(k, v)| match v {
            None => format!("{k}: (missing)"),
            Some(vs) if *k == KEYS[K_TAGS] => format!("{k}: {vs:?}"),
            Some(vs) => format!("{k}: {:?}", vs[0]),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

// ================================================================================================
// The oracle: matching
// ================================================================================================

/// Glob over bytes: `*` any run (possibly empty), `?` exactly one byte, everything else literal.
/// (The universe and the pools are ASCII.)
fn glob(p: &[u8], t: &[u8]) -> bool {
    match p.split_first() {
        None => t.is_empty(),
        Some((b'*', rest)) => (0..=t.len()).any(|i| glob(rest, &t[i..])),
        Some((b'?', rest)) => !t.is_empty() && glob(rest, &t[1..]),
        Some((c, rest)) => t.first() == Some(c) && glob(rest, &t[1..]),
    }
}

/// `Action`/`NotAction` entries match case-insensitively (service prefix and action name).
fn action_matches(pattern: &str, action: &str) -> bool {
    glob(
        pattern.to_ascii_lowercase().as_bytes(),
        action.to_ascii_lowercase().as_bytes(),
    )
}

/// How an ARN pattern (`Resource`, `NotResource`, `ArnLike` values) is read. The miss check runs
/// under both; a violation under either counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// The reading of IAM's documentation, and the primary one here: pattern and ARN are split
    /// at their first five colons (`arn:partition:service:region:account:resource`); `*` and `?`
    /// match within a segment; the sixth segment keeps any further colons and its wildcards cross
    /// them. A pattern of fewer than six segments matches only if its last character is `*`, and
    /// then by prefix: its segments match the ARN's first ones, its last segment (ending in `*`)
    /// absorbs the rest of its ARN segment and every segment after it. `*` alone matches every
    /// resource. Matching is case-sensitive.
    Segments,
    /// The whole ARN as one glob: every `*` may cross colons. A looser reading `compare` also
    /// claims to be sound under (its module docs: "under every plausible reading").
    Plain,
}
const READINGS: [Reading; 2] = [Reading::Segments, Reading::Plain];

fn arn_matches(pattern: &str, arn: &str, reading: Reading) -> bool {
    if pattern == "*" {
        return true;
    }
    if reading == Reading::Plain {
        return glob(pattern.as_bytes(), arn.as_bytes());
    }
    let ps: Vec<&str> = pattern.splitn(6, ':').collect();
    let xs: Vec<&str> = arn.splitn(6, ':').collect();
    if ps.len() < 6 {
        if !pattern.ends_with('*') || xs.len() < ps.len() {
            return false;
        }
        return ps
            .iter()
            .zip(&xs)
            .all(|(p, x)| glob(p.as_bytes(), x.as_bytes()));
    }
    xs.len() == 6
        && ps
            .iter()
            .zip(&xs)
            .all(|(p, x)| glob(p.as_bytes(), x.as_bytes()))
}

// ================================================================================================
// The oracle: conditions
// ================================================================================================

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds<T: PartialOrd>(self, request: T, policy: T) -> bool {
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
enum Test {
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
fn operator(name: &str) -> (bool, Test) {
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
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Seconds since the epoch of `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SSZ`, or epoch seconds.
fn parse_time(s: &str) -> Option<i64> {
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
fn parse_ip(s: &str) -> Option<(u128, u32)> {
    match s.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(a) => Some((u128::from(u32::from(a)), 32)),
        std::net::IpAddr::V6(a) => Some((u128::from(a), 128)),
    }
}

/// Whether address `ip` lies in `cidr` (a bare address is a one-host network).
fn ip_in(ip: &str, cidr: &str) -> bool {
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

fn test(t: Test, request: &str, policy: &str, reading: Reading) -> bool {
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

fn scalar_text(v: &Value) -> String {
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
fn eval_constraint(op: &str, key: &str, values: &Value, ctx: &Ctx, reading: Reading) -> bool {
    Constraint::parse(op, key, values).eval(ctx, reading)
}

/// A constraint read once, to be evaluated in every context.
struct Constraint {
    /// `"all"` (`ForAllValues:`), `"any"` (`ForAnyValue:`) or `""`.
    qualifier: &'static str,
    /// `None` for `Null`; else whether the operator is negated, and its test.
    op: Option<(bool, Test)>,
    if_exists: bool,
    /// Index into [`KEYS`]; `None` for a key the universe does not know.
    key: Option<usize>,
    values: Vec<String>,
}

impl Constraint {
    fn parse(op: &str, key: &str, values: &Value) -> Constraint {
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
    fn reads_arns(&self) -> bool {
        matches!(self.op, Some((_, Test::Arn)))
    }

    fn eval(&self, ctx: &Ctx, reading: Reading) -> bool {
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
fn constraints(block: Option<&Value>) -> Vec<Constraint> {
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
fn block_mask(block: &[Constraint], reading: Reading) -> u64 {
    let mut mask = 0u64;
    for (i, c) in contexts().iter().enumerate() {
        if block.iter().all(|x| x.eval(c, reading)) {
            mask |= 1 << i;
        }
    }
    mask
}

// ================================================================================================
// The oracle: roles
// ================================================================================================

/// One statement as the product set it matches, per reading.
struct OStmt {
    allow: bool,
    actions: u16,
    resources: [u16; 2],
    contexts: [u64; 2],
}

fn string_list(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().map(|x| x.as_str().unwrap()).collect(),
        other => panic!("not a string list: {other}"),
    }
}

/// Every statement of a role (`{"policy name": document, …}`), read from its JSON.
fn oracle_compile(role: &Value) -> Vec<OStmt> {
    let mut out = Vec::new();
    for doc in role.as_object().unwrap().values() {
        let statements: Vec<&Value> = match &doc["Statement"] {
            Value::Array(a) => a.iter().collect(),
            one => vec![one],
        };
        for st in statements {
            let allow = match st["Effect"].as_str().unwrap() {
                "Allow" => true,
                "Deny" => false,
                other => panic!("effect {other}"),
            };
            let (entries, not_action) = match st.get("Action") {
                Some(a) => (string_list(a), false),
                None => (string_list(&st["NotAction"]), true),
            };
            let mut actions = 0u16;
            for (i, a) in ACTIONS.iter().enumerate() {
                if entries.iter().any(|e| action_matches(e, a)) != not_action {
                    actions |= 1 << i;
                }
            }
            let (res, not_resource) = match st.get("Resource") {
                Some(r) => (string_list(r), false),
                None => (string_list(&st["NotResource"]), true),
            };
            let mut resources = [0u16; 2];
            let mut ctxs = [0u64; 2];
            let block = constraints(st.get("Condition"));
            for (ri, reading) in READINGS.iter().enumerate() {
                for (i, arn) in RESOURCES.iter().enumerate() {
                    if res.iter().any(|p| arn_matches(p, arn, *reading)) != not_resource {
                        resources[ri] |= 1 << i;
                    }
                }
                ctxs[ri] = if ri > 0 && !block.iter().any(Constraint::reads_arns) {
                    ctxs[0]
                } else {
                    block_mask(&block, *reading)
                };
            }
            out.push(OStmt {
                allow,
                actions,
                resources,
                contexts: ctxs,
            });
        }
    }
    out
}

/// Per (action, resource) cell: the contexts some Allow matches, and those some Deny matches.
struct Sets {
    allow: [u64; NA * NR],
    deny: [u64; NA * NR],
}

fn sets(stmts: &[OStmt], reading: usize) -> Sets {
    let mut s = Sets {
        allow: [0; NA * NR],
        deny: [0; NA * NR],
    };
    for st in stmts {
        let target = if st.allow { &mut s.allow } else { &mut s.deny };
        for a in 0..NA {
            if st.actions & (1 << a) == 0 {
                continue;
            }
            for r in 0..NR {
                if st.resources[reading] & (1 << r) != 0 {
                    target[a * NR + r] |= st.contexts[reading];
                }
            }
        }
    }
    s
}

/// A request violating (A) or (B).
#[derive(Debug, Clone)]
struct Violation {
    reading: Reading,
    action: usize,
    resource: usize,
    context: usize,
    base_allow: bool,
    base_deny: bool,
    head_allow: bool,
    head_deny: bool,
}

impl Violation {
    fn describe(&self) -> String {
        let bit = |cell: bool| if cell { "yes" } else { "no" };
        let allowed = |allow: bool, deny: bool| allow && !deny;
        let what = if allowed(self.head_allow, self.head_deny)
            && !allowed(self.base_allow, self.base_deny)
        {
            "(A) head allows the request and base does not"
        } else {
            "(B) base denies the request and head does not"
        };
        format!(
            "request: action {}, resource {}\n  context: {}\n  reading of ARN patterns: {:?}\n  \
             base: Allow matches {}, Deny matches {}; head: Allow matches {}, Deny matches {}\n  \
             => {what}",
            ACTIONS[self.action],
            RESOURCES[self.resource],
            describe_context(&contexts()[self.context]),
            self.reading,
            bit(self.base_allow),
            bit(self.base_deny),
            bit(self.head_allow),
            bit(self.head_deny),
        )
    }
}

/// The first request violating (A) or (B), per reading.
fn violations(base: &Value, head: &Value) -> [Option<Violation>; 2] {
    let (b, h) = (oracle_compile(base), oracle_compile(head));
    let mut out = [None, None];
    for (ri, reading) in READINGS.iter().enumerate() {
        let (bs, hs) = (sets(&b, ri), sets(&h, ri));
        for cell in 0..NA * NR {
            let (ba, bd, ha, hd) = (bs.allow[cell], bs.deny[cell], hs.allow[cell], hs.deny[cell]);
            let bad = (ha & !hd & !(ba & !bd)) | (bd & !hd);
            if bad != 0 {
                let c = bad.trailing_zeros() as usize;
                let bit = |m: u64| m & (1 << c) != 0;
                out[ri] = Some(Violation {
                    reading: *reading,
                    action: cell / NR,
                    resource: cell % NR,
                    context: c,
                    base_allow: bit(ba),
                    base_deny: bit(bd),
                    head_allow: bit(ha),
                    head_deny: bit(hd),
                });
                break;
            }
        }
    }
    out
}

fn first_violation(base: &Value, head: &Value) -> Option<Violation> {
    let [a, b] = violations(base, head);
    a.or(b)
}

// ================================================================================================
// Policies: a model the generator and mutations work on, serialised to JSON for both sides
// ================================================================================================

#[derive(Debug, Clone, PartialEq)]
struct Cond {
    op: String,
    key: String,
    values: Vec<Value>,
    /// Written as a list even with one value.
    list: bool,
}

#[derive(Debug, Clone, PartialEq)]
struct Stmt {
    sid: Option<String>,
    allow: bool,
    not_action: bool,
    actions: Vec<String>,
    not_resource: bool,
    resources: Vec<String>,
    conds: Vec<Cond>,
    /// Lists written as lists even with one entry.
    list: bool,
}

#[derive(Debug, Clone, PartialEq)]
struct Pol {
    name: String,
    version: Option<&'static str>,
    /// A single statement written as an object, not an array.
    single: bool,
    stmts: Vec<Stmt>,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Model {
    pols: Vec<Pol>,
}

fn strings_json(v: &[String], list: bool) -> Value {
    if v.len() == 1 && !list {
        Value::String(v[0].clone())
    } else {
        Value::Array(v.iter().cloned().map(Value::String).collect())
    }
}

impl Stmt {
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        if let Some(s) = &self.sid {
            m.insert("Sid".into(), json!(s));
        }
        m.insert(
            "Effect".into(),
            json!(if self.allow { "Allow" } else { "Deny" }),
        );
        m.insert(
            (if self.not_action {
                "NotAction"
            } else {
                "Action"
            })
            .into(),
            strings_json(&self.actions, self.list),
        );
        m.insert(
            (if self.not_resource {
                "NotResource"
            } else {
                "Resource"
            })
            .into(),
            strings_json(&self.resources, self.list),
        );
        if !self.conds.is_empty() {
            let mut block = Map::new();
            for c in &self.conds {
                let keys = block
                    .entry(c.op.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                let v = if c.values.len() == 1 && !c.list {
                    c.values[0].clone()
                } else {
                    Value::Array(c.values.clone())
                };
                keys.as_object_mut().unwrap().insert(c.key.clone(), v);
            }
            m.insert("Condition".into(), Value::Object(block));
        }
        Value::Object(m)
    }
}

impl Model {
    fn to_json(&self) -> Value {
        let mut out = Map::new();
        for p in &self.pols {
            let mut doc = Map::new();
            if let Some(v) = p.version {
                doc.insert("Version".into(), json!(v));
            }
            let stmts: Vec<Value> = p.stmts.iter().map(Stmt::to_json).collect();
            doc.insert(
                "Statement".into(),
                if p.single && stmts.len() == 1 {
                    stmts[0].clone()
                } else {
                    Value::Array(stmts)
                },
            );
            out.insert(p.name.clone(), Value::Object(doc));
        }
        Value::Object(out)
    }

    fn refs(&self, pred: impl Fn(&Stmt) -> bool) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for (p, pol) in self.pols.iter().enumerate() {
            for (i, s) in pol.stmts.iter().enumerate() {
                if pred(s) {
                    out.push((p, i));
                }
            }
        }
        out
    }

    fn pick(&self, rng: &mut Rng, pred: impl Fn(&Stmt) -> bool) -> Option<(usize, usize)> {
        let all = self.refs(pred);
        (!all.is_empty()).then(|| all[rng.below(all.len())])
    }

    fn stmt(&mut self, at: (usize, usize)) -> &mut Stmt {
        &mut self.pols[at.0].stmts[at.1]
    }

    fn fresh_name(&self) -> String {
        (0..)
            .map(|i| format!("p{i}"))
            .find(|n| self.pols.iter().all(|p| &p.name != n))
            .unwrap()
    }

    /// Drops statements left without actions or resources and policies left without statements,
    /// and keeps one constraint per (operator, key) as JSON would.
    fn cleanup(&mut self) {
        for p in &mut self.pols {
            p.stmts
                .retain(|s| !s.actions.is_empty() && !s.resources.is_empty());
            for s in &mut p.stmts {
                let mut seen = BTreeSet::new();
                let mut kept = Vec::new();
                for c in s.conds.drain(..).rev() {
                    if seen.insert((c.op.clone(), c.key.clone())) {
                        kept.push(c);
                    }
                }
                kept.reverse();
                s.conds = kept;
            }
        }
        self.pols.retain(|p| !p.stmts.is_empty());
    }

    fn where_(&self, at: (usize, usize)) -> String {
        format!("{}[{}]", self.pols[at.0].name, at.1)
    }
}

fn policy_map(v: &Value) -> PolicyMap {
    policy_map_from_value("oracle", v.clone()).unwrap()
}

fn engine(base: &Value, head: &Value) -> Comparison {
    compare(&policy_map(base), &policy_map(head), Catalog::embedded())
}

// ================================================================================================
// Pools
// ================================================================================================

/// Action names written exactly (some in another case), including names the catalog lacks.
const ACTION_EXACT: &[&str] = &[
    "s3:GetObject",
    "s3:GetObjectAcl",
    "s3:PutObject",
    "s3:ListBucket",
    "s3:DeleteObject",
    "s3:GetFutureThing",
    "ec2:DescribeInstances",
    "ec2:RunInstances",
    "iam:PassRole",
    "iam:DeleteRole",
    "sqs:SendMessage",
    "newsvc:DoThing",
    "S3:getobject",
    "IAM:PassRole",
    "NewSvc:dothing",
    "EC2:describeInstances",
];

/// Action patterns with wildcards.
const ACTION_WILD: &[&str] = &[
    "*",
    "s3:*",
    "s3:Get*",
    "s3:GetObject*",
    "s3:?etObject",
    "s3:*Object",
    "s3:Get?utureThing",
    "S3:Put*",
    "ec2:*",
    "ec2:Describe*",
    "ec2:*Instances",
    "iam:*",
    "iam:*Role",
    "sqs:*",
    "newsvc:*",
];

fn action_entry(rng: &mut Rng) -> String {
    if rng.chance(60) {
        rng.pick(ACTION_EXACT).to_string()
    } else {
        rng.pick(ACTION_WILD).to_string()
    }
}

/// Resource patterns, each with the pool patterns directly narrower than it (contained under
/// every reading of IAM's ARN matching, checked on the universe by `narrower_is_contained`).
/// `*` is wider than everything; the relation is closed transitively by [`narrower`].
const RESOURCE_POOL: &[(&str, &[&str])] = &[
    ("*", &[]),
    ("arn:aws:s3:*", &["arn:aws:s3:::*"]),
    (
        "arn:aws:s3:::*",
        &[
            "arn:aws:s3:::logs*",
            "arn:aws:s3:::*/a.txt",
            "arn:aws:s3:::data/*",
        ],
    ),
    (
        "arn:aws:s3:::logs*",
        &["arn:aws:s3:::logs/*", "arn:aws:s3:::logs"],
    ),
    (
        "arn:aws:s3:::logs/*",
        &[
            "arn:aws:s3:::logs/a.txt",
            "arn:aws:s3:::logs/????/*",
            "arn:aws:s3:::logs/*/b.txt",
        ],
    ),
    ("arn:aws:s3:::logs/????/*", &[]),
    ("arn:aws:s3:::logs/*/b.txt", &[]),
    ("arn:aws:s3:::logs/a.txt", &[]),
    ("arn:aws:s3:::logs", &[]),
    ("arn:aws:s3:::*/a.txt", &["arn:aws:s3:::logs/a.txt"]),
    (
        "arn:aws:s3:::data/*",
        &["arn:aws:s3:::data/x:*", "arn:aws:s3:::data/x?y.csv"],
    ),
    ("arn:aws:s3:::data/x:*", &[]),
    ("arn:aws:s3:::data/x?y.csv", &[]),
    (
        "arn:*:s3:::logs/*",
        &["arn:aws:s3:::logs/*", "arn:aws-cn:s3:::logs/*"],
    ),
    ("arn:aws-cn:s3:::*", &["arn:aws-cn:s3:::logs/*"]),
    ("arn:aws-cn:s3:::logs/*", &[]),
    (
        "arn:aws:iam::111122223333:*",
        &["arn:aws:iam::111122223333:role/*"],
    ),
    (
        "arn:aws:iam::111122223333:role/*",
        &[
            "arn:aws:iam::111122223333:role/app/*",
            "arn:aws:iam::111122223333:role/admin",
        ],
    ),
    (
        "arn:aws:iam::*:role/app/*",
        &["arn:aws:iam::111122223333:role/app/*"],
    ),
    ("arn:aws:iam::111122223333:role/app/*", &[]),
    ("arn:aws:iam::111122223333:role/admin", &[]),
    (
        "arn:aws:ec2:*:*:*",
        &["arn:aws:ec2:*:111122223333:instance/*"],
    ),
    (
        "arn:aws:ec2:*:111122223333:instance/*",
        &["arn:aws:ec2:us-east-?:111122223333:instance/*"],
    ),
    (
        "arn:aws:ec2:us-east-?:111122223333:instance/*",
        &["arn:aws:ec2:us-east-1:111122223333:instance/*"],
    ),
    ("arn:aws:ec2:us-east-1:111122223333:instance/*", &[]),
    ("arn:aws:sqs:*:111122223333:*", &[]),
    (
        "arn:aws:logs:*:111122223333:log-group:*",
        &["arn:aws:logs:us-east-1:111122223333:log-group:app:*"],
    ),
    ("arn:aws:logs:us-east-1:111122223333:log-group:app:*", &[]),
];

fn resource_entry(rng: &mut Rng) -> String {
    rng.pick(RESOURCE_POOL).0.to_string()
}

/// The pool patterns strictly narrower than `p` (transitively).
fn narrower(p: &str) -> Vec<&'static str> {
    static TABLE: OnceLock<BTreeMap<&'static str, Vec<&'static str>>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let direct: BTreeMap<&str, &[&str]> = RESOURCE_POOL.iter().copied().collect();
        let mut out = BTreeMap::new();
        for (p, _) in RESOURCE_POOL {
            let mut all = BTreeSet::new();
            if *p == "*" {
                all.extend(RESOURCE_POOL.iter().map(|(q, _)| *q).filter(|q| *q != "*"));
            } else {
                let mut todo: Vec<&str> = direct[p].to_vec();
                while let Some(q) = todo.pop() {
                    if all.insert(q) {
                        todo.extend(direct.get(q).copied().unwrap_or_default());
                    }
                }
            }
            out.insert(*p, all.into_iter().collect());
        }
        out
    });
    table.get(p).cloned().unwrap_or_default()
}

/// Statement forms: Allow/Deny × Action/NotAction × Resource/NotResource × condition family,
/// each drawn with equal weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    None,
    String,
    Numeric,
    Date,
    Bool,
    Ip,
    Arn,
    Null,
    Set,
    IfExists,
}
const FAMILIES: [Family; 10] = [
    Family::None,
    Family::String,
    Family::Numeric,
    Family::Date,
    Family::Bool,
    Family::Ip,
    Family::Arn,
    Family::Null,
    Family::Set,
    Family::IfExists,
];

const STR_OPS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
];
const NUM_OPS: &[&str] = &[
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
];
const DATE_OPS: &[&str] = &[
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
];
const IP_OPS: &[&str] = &["IpAddress", "NotIpAddress"];
const ARN_OPS: &[&str] = &["ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"];

/// Policy values per condition key (JSON, so numbers and booleans appear as both).
fn values_for(key: usize) -> Vec<Value> {
    match key {
        K_TEAM => ["web", "ops", "Web", "WEB", "dev", "w*", "*", "o?s", "*e*"]
            .iter()
            .map(|s| json!(s))
            .collect(),
        K_TAGS => ["a", "b", "c", "a*", "*", "?"]
            .iter()
            .map(|s| json!(s))
            .collect(),
        K_MFA => vec![
            json!(100),
            json!(3600),
            json!(5000),
            json!("300"),
            json!("3600.0"),
            json!(0),
        ],
        K_TIME => [
            "2025-01-01T00:00:00Z",
            "2026-01-01T00:00:00Z",
            "2026-06-01",
            "2027-01-01T00:00:00Z",
            "1767225600",
        ]
        .iter()
        .map(|s| json!(s))
        .collect(),
        K_TLS => vec![json!(true), json!(false), json!("true"), json!("false")],
        K_IP => [
            "10.0.0.0/8",
            "10.1.0.0/16",
            "10.1.2.3",
            "10.1.2.3/32",
            "192.0.2.0/24",
            "203.0.113.0/25",
            "0.0.0.0/0",
            "2001:db8::/32",
        ]
        .iter()
        .map(|s| json!(s))
        .collect(),
        K_ARN => [
            "arn:aws:sns:us-east-1:111122223333:topic1",
            "arn:aws:sns:*:111122223333:*",
            "arn:aws:sns:*:*:*",
            "arn:aws:sqs:*:111122223333:*",
            "arn:aws:*:*:111122223333:*",
            "arn:aws:sns:us-east-1:*",
        ]
        .iter()
        .map(|s| json!(s))
        .collect(),
        _ => unreachable!(),
    }
}

fn null_values() -> Vec<Value> {
    vec![json!("true"), json!("false"), json!(true), json!(false)]
}

/// The key as written: sometimes in another case.
fn key_text(rng: &mut Rng, key: usize) -> String {
    if rng.chance(15) {
        KEYS[key].to_ascii_lowercase()
    } else {
        KEYS[key].to_string()
    }
}

fn some_values(rng: &mut Rng, pool: &[Value], max: usize) -> (Vec<Value>, bool) {
    let n = 1 + rng.below(max);
    let mut v: Vec<Value> = Vec::new();
    for _ in 0..n {
        let x = rng.pick(pool);
        if !v.contains(&x) {
            v.push(x);
        }
    }
    let list = v.len() > 1 || rng.chance(30);
    (v, list)
}

/// One constraint of a family (not `None`).
fn gen_cond(rng: &mut Rng, family: Family) -> Cond {
    let (op, key) = match family {
        Family::None => unreachable!(),
        Family::String => (
            rng.pick(STR_OPS).to_string(),
            if rng.chance(80) { K_TEAM } else { K_TAGS },
        ),
        Family::Numeric => (rng.pick(NUM_OPS).to_string(), K_MFA),
        Family::Date => (rng.pick(DATE_OPS).to_string(), K_TIME),
        Family::Bool => ("Bool".to_string(), K_TLS),
        Family::Ip => (rng.pick(IP_OPS).to_string(), K_IP),
        Family::Arn => (rng.pick(ARN_OPS).to_string(), K_ARN),
        Family::Null => {
            let key = rng.below(KEYS.len());
            let (values, list) = some_values(rng, &null_values(), 1);
            return Cond {
                op: "Null".into(),
                key: key_text(rng, key),
                values,
                list,
            };
        }
        Family::Set => {
            let q = if rng.chance(50) {
                "ForAllValues:"
            } else {
                "ForAnyValue:"
            };
            (
                format!("{q}{}", rng.pick(STR_OPS)),
                if rng.chance(75) { K_TAGS } else { K_TEAM },
            )
        }
        Family::IfExists => {
            let inner = rng.pick(&[
                Family::String,
                Family::Numeric,
                Family::Date,
                Family::Bool,
                Family::Ip,
                Family::Arn,
                Family::Set,
            ]);
            let mut c = gen_cond(rng, inner);
            c.op.push_str("IfExists");
            return c;
        }
    };
    let (values, list) = some_values(rng, &values_for(key), 2);
    Cond {
        op,
        key: key_text(rng, key),
        values,
        list,
    }
}

/// How many statements of each form the base roles drew (printed, to show the weights).
#[derive(Default)]
struct Forms {
    allow: [u64; 2],
    not_action: [u64; 2],
    not_resource: [u64; 2],
    family: [u64; 10],
}

impl Forms {
    fn describe(&self) -> String {
        let total = (self.allow[0] + self.allow[1]).max(1) as f64;
        let pct = |n: u64| format!("{:.1}%", 100.0 * n as f64 / total);
        let fam: Vec<String> = FAMILIES
            .iter()
            .zip(self.family)
            .map(|(f, n)| format!("{f:?} {}", pct(n)))
            .collect();
        format!(
            "{} statements: Allow {}, NotAction {}, NotResource {}; conditions: {}",
            total,
            pct(self.allow[1]),
            pct(self.not_action[1]),
            pct(self.not_resource[1]),
            fam.join(", ")
        )
    }
}

/// A statement of a uniformly drawn form (`effect` forces Allow or Deny).
fn gen_stmt(rng: &mut Rng, effect: Option<bool>, forms: Option<&mut Forms>) -> Stmt {
    let allow = effect.unwrap_or_else(|| rng.chance(50));
    let not_action = rng.chance(50);
    let not_resource = rng.chance(50);
    let fi = rng.below(FAMILIES.len());
    if let Some(f) = forms {
        f.allow[usize::from(allow)] += 1;
        f.not_action[usize::from(not_action)] += 1;
        f.not_resource[usize::from(not_resource)] += 1;
        f.family[fi] += 1;
    }
    let n_actions = 1 + rng.below(if not_action { 2 } else { 3 });
    let mut actions = Vec::new();
    for _ in 0..n_actions {
        let a = action_entry(rng);
        if !actions.contains(&a) {
            actions.push(a);
        }
    }
    let mut resources = Vec::new();
    for _ in 0..1 + rng.below(2) {
        let r = resource_entry(rng);
        if !resources.contains(&r) {
            resources.push(r);
        }
    }
    let mut conds = Vec::new();
    if FAMILIES[fi] != Family::None {
        conds.push(gen_cond(rng, FAMILIES[fi]));
        if rng.chance(20) {
            let extra = rng.pick(&FAMILIES[1..]);
            conds.push(gen_cond(rng, extra));
        }
    }
    Stmt {
        sid: rng.chance(30).then(|| format!("S{}", rng.below(100))),
        allow,
        not_action,
        actions,
        not_resource,
        resources,
        conds,
        list: rng.chance(30),
    }
}

fn gen_version(rng: &mut Rng) -> Option<&'static str> {
    match rng.below(10) {
        0..=4 => Some("2012-10-17"),
        5 => Some("2008-10-17"),
        _ => None,
    }
}

/// A base role: 1–4 statements in 1–3 policies.
fn gen_model(rng: &mut Rng, forms: &mut Forms) -> Model {
    let n = 1 + rng.below(4);
    let np = 1 + rng.below(n.min(3));
    let mut m = Model::default();
    for i in 0..np {
        m.pols.push(Pol {
            name: format!("p{i}"),
            version: gen_version(rng),
            single: rng.chance(50),
            stmts: Vec::new(),
        });
    }
    for i in 0..n {
        let p = if i < np { i } else { rng.below(np) };
        let s = gen_stmt(rng, None, Some(forms));
        m.pols[p].stmts.push(s);
    }
    m.cleanup();
    m
}

// ================================================================================================
// Mutations
// ================================================================================================

const RANDOM_KINDS: &[&str] = &[
    "add-action",
    "drop-action",
    "replace-resource",
    "add-resource",
    "drop-resource",
    "drop-condition",
    "loosen-condition",
    "change-operator",
    "delete-statement",
    "add-statement",
    "move-action",
    "move-statement",
    "flip-not",
    "flip-effect",
    "split-statement",
    "merge-statements",
    "change-case",
    "toggle-version",
];

/// Inserts `s` into a random policy of `m`, or a new one.
fn insert_stmt(rng: &mut Rng, m: &mut Model, s: Stmt) -> String {
    if m.pols.is_empty() || rng.chance(25) {
        let name = m.fresh_name();
        m.pols.push(Pol {
            name: name.clone(),
            version: gen_version(rng),
            single: rng.chance(50),
            stmts: vec![s],
        });
        name
    } else {
        let p = rng.below(m.pols.len());
        let i = rng.below(m.pols[p].stmts.len() + 1);
        m.pols[p].stmts.insert(i, s);
        format!("{}[{i}]", m.pols[p].name)
    }
}

/// The family a constraint's operator belongs to, as the list of operators to switch between.
fn op_family(base: &str) -> &'static [&'static str] {
    for ops in [STR_OPS, NUM_OPS, DATE_OPS, IP_OPS, ARN_OPS] {
        if ops.contains(&base) {
            return ops;
        }
    }
    &[]
}

fn split_op(op: &str) -> (&str, &str, bool) {
    let (q, rest) = if let Some(r) = op.strip_prefix("ForAllValues:") {
        ("ForAllValues:", r)
    } else if let Some(r) = op.strip_prefix("ForAnyValue:") {
        ("ForAnyValue:", r)
    } else {
        ("", op)
    };
    match rest.strip_suffix("IfExists") {
        Some(b) => (q, b, true),
        None => (q, rest, false),
    }
}

fn key_index(key: &str) -> Option<usize> {
    KEYS.iter().position(|k| k.eq_ignore_ascii_case(key))
}

/// One random mutation (widening, narrowing or neutral), described. `None` when it does not
/// apply to `m`.
fn apply_random(kind: &str, rng: &mut Rng, m: &mut Model) -> Option<String> {
    match kind {
        "add-action" => {
            let at = m.pick(rng, |_| true)?;
            let a = action_entry(rng);
            m.stmt(at).actions.push(a.clone());
            Some(format!("{kind} {a} to {}", m.where_(at)))
        }
        "drop-action" => {
            let at = m.pick(rng, |s| s.actions.len() > 1)?;
            let s = m.stmt(at);
            let a = s.actions.remove(rng.below(s.actions.len()));
            Some(format!("{kind} {a} from {}", m.where_(at)))
        }
        "replace-resource" => {
            let at = m.pick(rng, |_| true)?;
            let r = resource_entry(rng);
            let s = m.stmt(at);
            let i = rng.below(s.resources.len());
            let old = std::mem::replace(&mut s.resources[i], r.clone());
            Some(format!("{kind} {old} by {r} in {}", m.where_(at)))
        }
        "add-resource" => {
            let at = m.pick(rng, |_| true)?;
            let r = resource_entry(rng);
            m.stmt(at).resources.push(r.clone());
            Some(format!("{kind} {r} to {}", m.where_(at)))
        }
        "drop-resource" => {
            let at = m.pick(rng, |s| s.resources.len() > 1)?;
            let s = m.stmt(at);
            let r = s.resources.remove(rng.below(s.resources.len()));
            Some(format!("{kind} {r} from {}", m.where_(at)))
        }
        "drop-condition" => {
            let at = m.pick(rng, |s| !s.conds.is_empty())?;
            let s = m.stmt(at);
            let c = s.conds.remove(rng.below(s.conds.len()));
            Some(format!("{kind} {} {} from {}", c.op, c.key, m.where_(at)))
        }
        "loosen-condition" => {
            let at = m.pick(rng, |s| !s.conds.is_empty())?;
            let s = m.stmt(at);
            let ci = rng.below(s.conds.len());
            let c = &mut s.conds[ci];
            let pool = if c.op == "Null" {
                null_values()
            } else {
                values_for(key_index(&c.key)?)
            };
            let v = rng.pick(&pool);
            let how = if rng.chance(50) {
                c.values.push(v.clone());
                c.list = true;
                "add value"
            } else {
                let i = rng.below(c.values.len());
                c.values[i] = v.clone();
                "set value"
            };
            let d = format!("{kind}: {how} {v} to {} {}", c.op, c.key);
            Some(format!("{d} in {}", m.where_(at)))
        }
        "change-operator" => {
            let at = m.pick(rng, |s| s.conds.iter().any(|c| c.op != "Null"))?;
            let s = m.stmt(at);
            let idx: Vec<usize> = (0..s.conds.len())
                .filter(|i| s.conds[*i].op != "Null")
                .collect();
            let c = &mut s.conds[rng.pick(&idx)];
            let (q, base, if_exists) = split_op(&c.op);
            let (mut q, mut base, mut if_exists) = (q.to_string(), base.to_string(), if_exists);
            match rng.below(3) {
                0 => if_exists = !if_exists,
                1 => q = rng.pick(&["", "ForAllValues:", "ForAnyValue:"]).to_string(),
                _ => {
                    let fam = op_family(&base);
                    if fam.is_empty() {
                        return None;
                    }
                    base = rng.pick(fam).to_string();
                }
            }
            let new = format!("{q}{base}{}", if if_exists { "IfExists" } else { "" });
            if new == c.op {
                return None;
            }
            let old = std::mem::replace(&mut c.op, new.clone());
            let d = format!("{kind} {old} to {new} on {}", c.key);
            Some(format!("{d} in {}", m.where_(at)))
        }
        "delete-statement" => {
            let at = m.pick(rng, |_| true)?;
            let d = format!("{kind} {}", m.where_(at));
            m.pols[at.0].stmts.remove(at.1);
            Some(d)
        }
        "add-statement" => {
            let s = gen_stmt(rng, None, None);
            let eff = if s.allow { "Allow" } else { "Deny" };
            let at = insert_stmt(rng, m, s);
            Some(format!("{kind} ({eff}) at {at}"))
        }
        "move-action" => {
            let from = m.pick(rng, |s| !s.not_action)?;
            let to = m.pick(rng, |s| !s.not_action)?;
            if from == to {
                return None;
            }
            let s = m.stmt(from);
            let a = s.actions.remove(rng.below(s.actions.len()));
            m.stmt(to).actions.push(a.clone());
            Some(format!(
                "{kind} {a} from {} to {}",
                m.where_(from),
                m.where_(to)
            ))
        }
        "move-statement" => {
            let at = m.pick(rng, |_| true)?;
            let d = m.where_(at);
            let s = m.pols[at.0].stmts.remove(at.1);
            let to = insert_stmt(rng, m, s);
            Some(format!("{kind} {d} to {to}"))
        }
        "flip-not" => {
            let at = m.pick(rng, |_| true)?;
            let s = m.stmt(at);
            let what = if rng.chance(50) {
                s.not_action = !s.not_action;
                "Action/NotAction"
            } else {
                s.not_resource = !s.not_resource;
                "Resource/NotResource"
            };
            Some(format!("{kind} {what} of {}", m.where_(at)))
        }
        "flip-effect" => {
            let at = m.pick(rng, |_| true)?;
            let s = m.stmt(at);
            s.allow = !s.allow;
            Some(format!("{kind} of {}", m.where_(at)))
        }
        "split-statement" => {
            let at = m.pick(rng, |s| !s.not_action && s.actions.len() > 1)?;
            let s = m.stmt(at);
            let k = 1 + rng.below(s.actions.len() - 1);
            let mut second = s.clone();
            second.actions = s.actions.split_off(k);
            second.sid = None;
            let d = format!("{kind} {}", m.where_(at));
            m.pols[at.0].stmts.insert(at.1 + 1, second);
            Some(d)
        }
        "merge-statements" => {
            let a = m.pick(rng, |s| !s.not_action)?;
            let allow = m.pols[a.0].stmts[a.1].allow;
            let b = m.pick(rng, |s| !s.not_action && s.allow == allow)?;
            if a == b {
                return None;
            }
            let moved = m.pols[b.0].stmts[b.1].actions.clone();
            m.stmt(a).actions.extend(moved);
            let d = format!("{kind} {} into {}", m.where_(b), m.where_(a));
            m.pols[b.0].stmts.remove(b.1);
            Some(d)
        }
        "change-case" => {
            let at = m.pick(rng, |_| true)?;
            let s = m.stmt(at);
            if !s.conds.is_empty() && rng.chance(50) {
                let i = rng.below(s.conds.len());
                let c = &mut s.conds[i];
                c.key = if c.key.chars().any(|x| x.is_ascii_uppercase()) {
                    c.key.to_ascii_lowercase()
                } else {
                    c.key.to_ascii_uppercase()
                };
            } else {
                let i = rng.below(s.actions.len());
                s.actions[i] = s.actions[i].to_ascii_uppercase();
            }
            Some(format!("{kind} in {}", m.where_(at)))
        }
        "toggle-version" => {
            let p = rng.below(m.pols.len().max(1));
            let pol = m.pols.get_mut(p)?;
            pol.version = match pol.version {
                Some(_) => None,
                None => Some("2012-10-17"),
            };
            Some(format!("{kind} of {}", pol.name))
        }
        _ => unreachable!("{kind}"),
    }
}

fn mutate_random(rng: &mut Rng, m: &mut Model) -> String {
    loop {
        let kind = rng.pick(RANDOM_KINDS);
        if let Some(d) = apply_random(kind, rng, m) {
            m.cleanup();
            return d;
        }
    }
}

const REMOVAL_KINDS: &[&str] = &[
    "drop-allow-action",
    "narrow-allow-resource",
    "add-allow-condition",
    "add-deny",
    "delete-allow-statement",
];

/// One removal-only mutation; `None` when it does not apply.
fn apply_removal(kind: &str, rng: &mut Rng, m: &mut Model) -> Option<String> {
    match kind {
        "drop-allow-action" => {
            let at = m.pick(rng, |s| s.allow && !s.not_action)?;
            let d = m.where_(at);
            let s = m.stmt(at);
            if s.actions.len() > 1 {
                let a = s.actions.remove(rng.below(s.actions.len()));
                Some(format!("{kind} {a} from {d}"))
            } else {
                m.pols[at.0].stmts.remove(at.1);
                Some(format!("{kind}: delete {d} (its only action)"))
            }
        }
        "narrow-allow-resource" => {
            let at = m.pick(rng, |s| {
                s.allow && !s.not_resource && s.resources.iter().any(|r| !narrower(r).is_empty())
            })?;
            let s = m.stmt(at);
            let idx: Vec<usize> = (0..s.resources.len())
                .filter(|i| !narrower(&s.resources[*i]).is_empty())
                .collect();
            let i = rng.pick(&idx);
            let new = rng.pick(&narrower(&s.resources[i])).to_string();
            let old = std::mem::replace(&mut s.resources[i], new.clone());
            Some(format!("{kind} {old} to {new} in {}", m.where_(at)))
        }
        "add-allow-condition" => {
            let at = m.pick(rng, |s| s.allow)?;
            let family = rng.pick(&FAMILIES[1..]);
            let c = gen_cond(rng, family);
            let s = m.stmt(at);
            if s.conds.iter().any(|x| x.op == c.op && x.key == c.key) {
                return None;
            }
            let d = format!("{kind} {} {} {:?}", c.op, c.key, c.values);
            s.conds.push(c);
            Some(format!("{d} to {}", m.where_(at)))
        }
        "add-deny" => {
            let s = gen_stmt(rng, Some(false), None);
            let at = insert_stmt(rng, m, s);
            Some(format!("{kind} at {at}"))
        }
        "delete-allow-statement" => {
            let at = m.pick(rng, |s| s.allow)?;
            let d = m.where_(at);
            m.pols[at.0].stmts.remove(at.1);
            Some(format!("{kind} {d}"))
        }
        _ => unreachable!("{kind}"),
    }
}

fn mutate_removal(rng: &mut Rng, m: &mut Model) -> (&'static str, String) {
    loop {
        let kind = rng.pick(REMOVAL_KINDS);
        if let Some(d) = apply_removal(kind, rng, m) {
            m.cleanup();
            return (kind, d);
        }
    }
}

// ================================================================================================
// Reporting and reduction of a miss
// ================================================================================================

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap()
}

/// Whether (base, head) is a miss: the oracle finds a violation and `compare` proves none.
fn is_miss(base: &Model, head: &Model) -> Option<Violation> {
    let (b, h) = (base.to_json(), head.to_json());
    let v = first_violation(&b, &h)?;
    engine(&b, &h).grants_nothing_new().then_some(v)
}

/// Every model one step smaller than `m`.
fn smaller(m: &Model) -> Vec<Model> {
    let mut out = Vec::new();
    for p in 0..m.pols.len() {
        let mut x = m.clone();
        x.pols.remove(p);
        out.push(x);
        for i in 0..m.pols[p].stmts.len() {
            let mut x = m.clone();
            x.pols[p].stmts.remove(i);
            x.cleanup();
            out.push(x);
            let s = &m.pols[p].stmts[i];
            for a in 0..s.actions.len() {
                if s.actions.len() > 1 {
                    let mut x = m.clone();
                    x.pols[p].stmts[i].actions.remove(a);
                    out.push(x);
                }
            }
            for r in 0..s.resources.len() {
                if s.resources.len() > 1 {
                    let mut x = m.clone();
                    x.pols[p].stmts[i].resources.remove(r);
                    out.push(x);
                }
            }
            for c in 0..s.conds.len() {
                let mut x = m.clone();
                x.pols[p].stmts[i].conds.remove(c);
                out.push(x);
                for v in 0..s.conds[c].values.len() {
                    if s.conds[c].values.len() > 1 {
                        let mut x = m.clone();
                        x.pols[p].stmts[i].conds[c].values.remove(v);
                        out.push(x);
                    }
                }
            }
            if s.sid.is_some() {
                let mut x = m.clone();
                x.pols[p].stmts[i].sid = None;
                out.push(x);
            }
        }
    }
    out
}

/// Greedy reduction of a miss: remove policies, statements, entries, constraints and values
/// from either side while the pair stays a miss.
fn reduce(mut base: Model, mut head: Model) -> (Model, Model) {
    loop {
        let mut progressed = false;
        for b in smaller(&base) {
            if is_miss(&b, &head).is_some() {
                base = b;
                progressed = true;
                break;
            }
        }
        if !progressed {
            for h in smaller(&head) {
                if is_miss(&base, &h).is_some() {
                    head = h;
                    progressed = true;
                    break;
                }
            }
        }
        if !progressed {
            return (base, head);
        }
    }
}

fn report_miss(label: &str, base: &Model, head: &Model, mutations: &[String]) -> String {
    let mut out = String::new();
    let v = is_miss(base, head).unwrap();
    writeln!(out, "MISS in {label}: compare() proved that head grants nothing new, and the oracle finds a request that contradicts it.").unwrap();
    writeln!(out, "mutations: {}", mutations.join("; ")).unwrap();
    writeln!(out, "base:\n{}", pretty(&base.to_json())).unwrap();
    writeln!(out, "head:\n{}", pretty(&head.to_json())).unwrap();
    writeln!(out, "{}", v.describe()).unwrap();
    let (rb, rh) = reduce(base.clone(), head.clone());
    let rv = is_miss(&rb, &rh).unwrap();
    writeln!(out, "\nREDUCED:").unwrap();
    writeln!(out, "base:\n{}", pretty(&rb.to_json())).unwrap();
    writeln!(out, "head:\n{}", pretty(&rh.to_json())).unwrap();
    writeln!(out, "{}", rv.describe()).unwrap();
    out
}

fn secs(t: Instant) -> String {
    format!("{:.1} s", t.elapsed().as_secs_f64())
}

fn pct(n: u64, d: u64) -> String {
    if d == 0 {
        "-".to_string()
    } else {
        format!("{:.3}%", 100.0 * n as f64 / d as f64)
    }
}

fn pair_range(cfg: &Config) -> Vec<u64> {
    match cfg.show {
        Some(i) => vec![i],
        None => (0..cfg.pairs).collect(),
    }
}

fn show(label: &str, i: u64, base: &Model, head: &Model, muts: &[String], c: &Comparison) {
    let (b, h) = (base.to_json(), head.to_json());
    eprintln!("--- {label} pair {i}: {}", muts.join("; "));
    eprintln!("base:\n{}\nhead:\n{}", pretty(&b), pretty(&h));
    for v in violations(&b, &h).iter().flatten() {
        eprintln!("oracle: {}", v.describe());
    }
    for f in &c.findings {
        eprintln!("finding: {}", f.message);
    }
    eprintln!("grants_nothing_new: {}", c.grants_nothing_new());
}

// ================================================================================================
// The property tests
// ================================================================================================

/// Random pairs (widening, narrowing and neutral mutations): every pair the oracle finds
/// widening, `compare` flags. Zero misses.
#[test]
fn random_pairs_have_no_misses() {
    let cfg = config();
    let start = Instant::now();
    let mut forms = Forms::default();
    let (mut pairs, mut widening, mut flagged, mut misses) = (0u64, 0u64, 0u64, 0u64);
    let (mut seg_only_plain, mut plain_only, mut unproved_quiet) = (0u64, 0u64, 0u64);
    let mut first: Option<String> = None;
    let (mut t_oracle, mut t_engine) = (0f64, 0f64);
    for i in pair_range(&cfg) {
        let mut rng = Rng::for_pair(cfg.seed, 1, i);
        let base = gen_model(&mut rng, &mut forms);
        let mut head = base.clone();
        let muts: Vec<String> = (0..1 + rng.below(3))
            .map(|_| mutate_random(&mut rng, &mut head))
            .collect();
        let (b, h) = (base.to_json(), head.to_json());
        let t = Instant::now();
        let [seg, plain] = violations(&b, &h);
        t_oracle += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let c = engine(&b, &h);
        t_engine += t.elapsed().as_secs_f64();
        if cfg.show.is_some() {
            show("random", i, &base, &head, &muts, &c);
        }
        pairs += 1;
        match (&seg, &plain) {
            (Some(_), None) => seg_only_plain += 1,
            (None, Some(_)) => plain_only += 1,
            _ => {}
        }
        if seg.is_some() || plain.is_some() {
            widening += 1;
            if c.grants_nothing_new() {
                misses += 1;
                if first.is_none() {
                    first = Some(report_miss(
                        &format!("random pair {i} (seed {:#x})", cfg.seed),
                        &base,
                        &head,
                        &muts,
                    ));
                }
            } else {
                flagged += 1;
            }
        } else if !c.grants_nothing_new() {
            unproved_quiet += 1;
        }
    }
    eprintln!(
        "verify oracle, random pairs (seed {:#x}):\n  \
         pairs run:                         {pairs}\n  \
         oracle finds a widening:           {widening} ({} of pairs; {seg_only_plain} under the \
         segment reading only, {plain_only} under the plain reading only)\n  \
         verify fails (not proved):         {}\n  \
         .. on the oracle's widenings:      {flagged} (must be all)\n  \
         .. on pairs widening nothing here: {unproved_quiet} (widening beyond the universe, or \
         not provable statement by statement)\n  \
         misses:                            {misses}\n  \
         forms: {}\n  \
         elapsed:                           {} (oracle {t_oracle:.1} s, compare {t_engine:.1} s)",
        cfg.seed,
        pct(widening, pairs),
        flagged + unproved_quiet,
        forms.describe(),
        secs(start)
    );
    if let Some(report) = first {
        panic!("{misses} miss(es); the first:\n{report}");
    }
}

/// Removal-only pairs: the oracle agrees they widen nothing, and `compare` proves at least 99%.
#[test]
fn removal_only_pairs_are_proved() {
    let cfg = config();
    let start = Instant::now();
    let mut forms = Forms::default();
    let (mut pairs, mut proved) = (0u64, 0u64);
    let mut by_kind: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    let mut unproved: Vec<String> = Vec::new();
    let (mut t_oracle, mut t_engine) = (0f64, 0f64);
    for i in pair_range(&cfg) {
        let mut rng = Rng::for_pair(cfg.seed, 2, i);
        let base = gen_model(&mut rng, &mut forms);
        let mut head = base.clone();
        let mut kinds = BTreeSet::new();
        let muts: Vec<String> = (0..1 + rng.below(3))
            .map(|_| {
                let (k, d) = mutate_removal(&mut rng, &mut head);
                kinds.insert(k);
                d
            })
            .collect();
        let (b, h) = (base.to_json(), head.to_json());
        let t = Instant::now();
        let sanity = first_violation(&b, &h);
        t_oracle += t.elapsed().as_secs_f64();
        if let Some(v) = sanity {
            panic!(
                "removal-only pair {i} widens per the oracle (a bug in the mutations or the \
                 oracle): {}\nbase:\n{}\nhead:\n{}\n{}",
                muts.join("; "),
                pretty(&b),
                pretty(&h),
                v.describe()
            );
        }
        let t = Instant::now();
        let c = engine(&b, &h);
        t_engine += t.elapsed().as_secs_f64();
        if cfg.show.is_some() {
            show("removal-only", i, &base, &head, &muts, &c);
        }
        pairs += 1;
        let ok = c.grants_nothing_new();
        proved += u64::from(ok);
        for k in &kinds {
            let e = by_kind.entry(k).or_default();
            e.0 += 1;
            e.1 += u64::from(ok);
        }
        if !ok && unproved.len() < 5 {
            unproved.push(format!(
                "pair {i}: {}\nbase: {}\nhead: {}\nfindings: {}",
                muts.join("; "),
                serde_json::to_string(&b).unwrap(),
                serde_json::to_string(&h).unwrap(),
                c.findings
                    .iter()
                    .map(|f| f.message.as_str())
                    .collect::<Vec<_>>()
                    .join(" | ")
            ));
        }
    }
    let kinds: Vec<String> = by_kind
        .iter()
        .map(|(k, (n, p))| format!("{k} {}", pct(*p, *n)))
        .collect();
    let rate = proved as f64 / pairs.max(1) as f64;
    eprintln!(
        "verify oracle, removal-only pairs (seed {:#x}):\n  \
         pairs run:                         {pairs} (the oracle agrees none widens)\n  \
         proved:                            {proved} ({})\n  \
         proved by mutation kind present:   {}\n  \
         forms: {}\n  \
         elapsed:                           {} (oracle {t_oracle:.1} s, compare {t_engine:.1} s)",
        cfg.seed,
        pct(proved, pairs),
        kinds.join(", "),
        forms.describe(),
        secs(start)
    );
    if !unproved.is_empty() {
        eprintln!("unproved examples:\n{}", unproved.join("\n\n"));
    }
    assert!(
        rate >= 0.99 || cfg.show.is_some(),
        "only {} of removal-only pairs proved (need 99%)",
        pct(proved, pairs)
    );
}

// ================================================================================================
// The oracle's own checks
// ================================================================================================

#[test]
fn oracle_matches_arns_as_documented() {
    use Reading::*;
    let m = |p: &str, a: &str| arn_matches(p, a, Segments);
    assert!(m("*", "arn:aws:s3:::logs"));
    assert!(m(
        "arn:aws:s3:::bucket/*/test/*",
        "arn:aws:s3:::bucket/1/2/test/3/x"
    ));
    assert!(m("arn:aws:s3:::data/x:*", "arn:aws:s3:::data/x:y.csv"));
    assert!(m("arn:aws:s3:::data/x?y.csv", "arn:aws:s3:::data/x:y.csv"));
    assert!(m("arn:aws:s3:*", "arn:aws:s3:::logs/a.txt"));
    assert!(!m("arn:aws:s3", "arn:aws:s3:::logs/a.txt"));
    assert!(!m("arn:aws:s3:::logs/*", "arn:aws:s3:::logs"));
    assert!(!m("arn:aws:s3:::logs/*", "arn:aws-cn:s3:::logs/a.txt"));
    assert!(m("arn:*:s3:::logs/*", "arn:aws-cn:s3:::logs/a.txt"));
    assert!(m(
        "arn:aws:logs:*:111122223333:log-group:*",
        "arn:aws:logs:us-east-1:111122223333:log-group:app:log-stream:s1"
    ));
    // A wildcard before the resource part stays in its segment (the plain reading lets it
    // cross colons).
    let odd = "arn:aws:ec2:us-east-1:x:111122223333:instance/i";
    assert!(!m("arn:aws:ec2:*:111122223333:instance/*", odd));
    assert!(arn_matches(
        "arn:aws:ec2:*:111122223333:instance/*",
        odd,
        Plain
    ));
    assert!(!m("arn:aws:s3:::LOGS/*", "arn:aws:s3:::logs/a.txt"));
}

#[test]
fn oracle_evaluates_conditions_as_documented() {
    let ctx = |team: Opt, tags: Opt| -> Ctx {
        let mut c: Ctx = [None; 7];
        c[K_TEAM] = team;
        c[K_TAGS] = tags;
        c[K_TIME] = Some(&["2026-06-01T12:00:00Z"]);
        c[K_IP] = Some(&["10.1.2.3"]);
        c
    };
    let e =
        |op: &str, key: &str, v: Value, c: &Ctx| eval_constraint(op, key, &v, c, Reading::Segments);
    let missing = ctx(None, None);
    let web = ctx(Some(&["web"]), Some(&[]));
    let ab = ctx(Some(&["Web"]), Some(&["a", "b"]));
    let t = "aws:PrincipalTag/team";
    // Missing key: positive false, negated true, IfExists true.
    assert!(!e("StringEquals", t, json!("web"), &missing));
    assert!(e("StringNotEquals", t, json!("web"), &missing));
    assert!(e("StringEqualsIfExists", t, json!("web"), &missing));
    assert!(e(
        "StringEquals",
        "AWS:principaltag/TEAM",
        json!("web"),
        &web
    ));
    assert!(!e("StringEquals", t, json!("web"), &ab));
    assert!(e("StringEqualsIgnoreCase", t, json!("web"), &ab));
    assert!(e("StringNotEquals", t, json!(["ops", "dev"]), &web));
    assert!(!e("StringNotEquals", t, json!(["ops", "web"]), &web));
    assert!(e("StringLike", t, json!("w*"), &web));
    // Set operators on missing and empty keys.
    let k = "aws:TagKeys";
    assert!(e("ForAllValues:StringEquals", k, json!("a"), &missing));
    assert!(e("ForAllValues:StringEquals", k, json!("a"), &web));
    assert!(!e("ForAnyValue:StringEquals", k, json!("a"), &missing));
    assert!(!e("ForAnyValue:StringEquals", k, json!("a"), &web));
    assert!(!e("ForAllValues:StringEquals", k, json!("a"), &ab));
    assert!(e("ForAllValues:StringEquals", k, json!(["a", "b"]), &ab));
    assert!(e("ForAnyValue:StringNotEquals", k, json!("a"), &ab));
    assert!(e("StringEquals", k, json!("b"), &ab));
    assert!(!e("StringNotEquals", k, json!("b"), &ab));
    // Null.
    assert!(e("Null", t, json!("true"), &missing));
    assert!(!e("Null", t, json!(true), &web));
    assert!(e("Null", k, json!("false"), &web));
    // Dates, IPs.
    let time = "aws:CurrentTime";
    assert!(e("DateGreaterThan", time, json!("2026-06-01"), &web));
    assert!(e("DateLessThan", time, json!("1798761600"), &web));
    assert!(!e("DateEquals", time, json!("2026-06-01"), &web));
    assert!(e("IpAddress", "aws:SourceIp", json!("10.0.0.0/8"), &web));
    assert!(!e(
        "IpAddress",
        "aws:SourceIp",
        json!("2001:db8::/32"),
        &web
    ));
    assert!(e(
        "NotIpAddress",
        "aws:SourceIp",
        json!(["192.0.2.0/24"]),
        &web
    ));
    assert!(e("IpAddress", "aws:SourceIp", json!("0.0.0.0/0"), &web));
    assert_eq!(parse_time("2026-01-01T00:00:00Z"), Some(1_767_225_600));
}

#[test]
fn oracle_sees_known_widenings() {
    let role = |stmts: Value| json!({"p": {"Version": "2012-10-17", "Statement": stmts}});
    let logs =
        json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::logs/*"});
    let star = json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"});
    let deny = json!({"Effect": "Deny", "Action": "iam:*", "Resource": "*"});
    let trap = json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
        "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}}});
    let any = json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
        "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": ["a"]}}});
    let future = json!({"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"});
    let listed =
        json!({"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectAcl"], "Resource": "*"});
    let widens = |b: Value, h: Value| first_violation(&role(b), &role(h)).is_some();
    assert!(widens(json!([logs.clone()]), json!([star.clone()])));
    assert!(!widens(json!([star.clone()]), json!([logs.clone()])));
    assert!(widens(
        json!([star.clone(), deny.clone()]),
        json!([star.clone()])
    ));
    assert!(!widens(json!([star.clone()]), json!([star.clone(), deny])));
    // Neither set operator contains the other: ForAllValues also holds on a missing or empty
    // key, ForAnyValue also holds on [a, b].
    assert!(widens(json!([any.clone()]), json!([trap.clone()])));
    assert!(widens(json!([trap.clone()]), json!([any])));
    assert!(!widens(json!([trap.clone()]), json!([trap])));
    assert!(widens(json!([listed.clone()]), json!([future.clone()])));
    assert!(!widens(json!([future]), json!([listed])));
}

/// The narrowing relation of the resource pool holds on the universe under both readings, and
/// each pattern differs from the ones it contains somewhere (else narrowing tests nothing).
#[test]
fn narrower_is_contained() {
    for (p, _) in RESOURCE_POOL {
        for q in narrower(p) {
            for reading in READINGS {
                for arn in RESOURCES {
                    assert!(
                        !arn_matches(q, arn, reading) || arn_matches(p, arn, reading),
                        "{q} is not inside {p} on {arn} ({reading:?})"
                    );
                }
            }
        }
    }
}

/// What a deliberately broken prover overlooks: `compare` is given both roles with that part
/// erased, so it proves pairs that differ only there.
#[derive(Debug, Clone, Copy)]
enum Blind {
    /// Constraints whose operator's family is this (`String`, `Numeric`, …).
    Family(&'static str),
    /// The `ForAllValues:` / `ForAnyValue:` qualifiers.
    Qualifiers,
    /// `IfExists`.
    IfExists,
    /// Deny statements.
    Deny,
    /// `NotAction` (read as `Action`).
    NotAction,
    /// `NotResource` (read as `Resource`).
    NotResource,
    /// Resources (every statement on `*`).
    Resources,
    /// Actions the catalog does not list.
    UnknownActions,
}

fn blind(m: &Model, what: Blind) -> Model {
    let mut m = m.clone();
    for p in &mut m.pols {
        if matches!(what, Blind::Deny) {
            p.stmts.retain(|s| s.allow);
        }
        for s in &mut p.stmts {
            match what {
                Blind::Family(f) => s.conds.retain(|c| !split_op(&c.op).1.starts_with(f)),
                Blind::Qualifiers => {
                    for c in &mut s.conds {
                        let (_, base, if_exists) = split_op(&c.op);
                        c.op = format!("{base}{}", if if_exists { "IfExists" } else { "" });
                    }
                }
                Blind::IfExists => {
                    for c in &mut s.conds {
                        if let Some(b) = c.op.strip_suffix("IfExists") {
                            c.op = b.to_string();
                        }
                    }
                }
                Blind::NotAction => s.not_action = false,
                Blind::NotResource => s.not_resource = false,
                Blind::Resources => s.resources = vec!["*".into()],
                Blind::UnknownActions => s.actions.retain(|a| {
                    let a = a.to_ascii_lowercase();
                    a != "s3:getfuturething" && a != "newsvc:dothing"
                }),
                Blind::Deny => {}
            }
        }
    }
    m.cleanup();
    m
}

/// The harness has the power to catch each kind of blindness: random pairs, checked against a
/// prover that overlooks one part of the policies, give a miss within a few thousand pairs.
#[test]
fn oracle_catches_blind_provers() {
    let cfg = config();
    let blinds = [
        Blind::Family("String"),
        Blind::Family("Numeric"),
        Blind::Family("Date"),
        Blind::Family("Bool"),
        Blind::Family("IpAddress"),
        Blind::Family("NotIpAddress"),
        Blind::Family("Arn"),
        Blind::Family("Null"),
        Blind::Qualifiers,
        Blind::IfExists,
        Blind::Deny,
        Blind::NotAction,
        Blind::NotResource,
        Blind::Resources,
        Blind::UnknownActions,
    ];
    let mut found = Vec::new();
    for what in blinds {
        let mut forms = Forms::default();
        let hit = (0..5_000u64).find(|i| {
            let mut rng = Rng::for_pair(cfg.seed, 3, *i);
            let base = gen_model(&mut rng, &mut forms);
            let mut head = base.clone();
            for _ in 0..1 + rng.below(3) {
                mutate_random(&mut rng, &mut head);
            }
            first_violation(&base.to_json(), &head.to_json()).is_some()
                && engine(&blind(&base, what).to_json(), &blind(&head, what).to_json())
                    .grants_nothing_new()
        });
        let Some(i) = hit else {
            panic!("5,000 random pairs never catch a prover blind to {what:?}");
        };
        found.push(format!("{what:?} after {} pairs", i + 1));
    }
    eprintln!("verify oracle, blind provers caught: {}", found.join(", "));
}
