//! The oracle: roles compiled to per-cell context masks, and the violations between two.

use super::*;

/// One statement as the product set it matches, per reading.
pub(super) struct OStmt {
    pub(super) allow: bool,
    pub(super) actions: u16,
    pub(super) resources: [u16; 2],
    pub(super) contexts: [u64; 2],
}

pub(super) fn string_list(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().map(|x| x.as_str().unwrap()).collect(),
        other => panic!("not a string list: {other}"),
    }
}

/// Every statement of a role (`{"policy name": document, …}`), read from its JSON.
pub(super) fn oracle_compile(role: &Value) -> Vec<OStmt> {
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
pub(super) struct Sets {
    pub(super) allow: [u64; NA * NR],
    pub(super) deny: [u64; NA * NR],
}

pub(super) fn sets(stmts: &[OStmt], reading: usize) -> Sets {
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
pub(super) struct Violation {
    pub(super) reading: Reading,
    pub(super) action: usize,
    pub(super) resource: usize,
    pub(super) context: usize,
    pub(super) base_allow: bool,
    pub(super) base_deny: bool,
    pub(super) head_allow: bool,
    pub(super) head_deny: bool,
}

impl Violation {
    pub(super) fn describe(&self) -> String {
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
pub(super) fn violations(base: &Value, head: &Value) -> [Option<Violation>; 2] {
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

pub(super) fn first_violation(base: &Value, head: &Value) -> Option<Violation> {
    let [a, b] = violations(base, head);
    a.or(b)
}
