//! Pools the generator draws from: actions, resources, condition families and values.

use super::*;

/// Action names written exactly (some in another case), including names the catalog lacks.
pub(super) const ACTION_EXACT: &[&str] = &[
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
pub(super) const ACTION_WILD: &[&str] = &[
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

pub(super) fn action_entry(rng: &mut Rng) -> String {
    if rng.chance(60) {
        rng.pick(ACTION_EXACT).to_string()
    } else {
        rng.pick(ACTION_WILD).to_string()
    }
}

/// Resource patterns, each with the pool patterns directly narrower than it (contained under
/// every reading of IAM's ARN matching, checked on the universe by `narrower_is_contained`).
/// `*` is wider than everything; the relation is closed transitively by [`narrower`].
pub(super) const RESOURCE_POOL: &[(&str, &[&str])] = &[
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

pub(super) fn resource_entry(rng: &mut Rng) -> String {
    rng.pick(RESOURCE_POOL).0.to_string()
}

/// The pool patterns strictly narrower than `p` (transitively).
pub(super) fn narrower(p: &str) -> Vec<&'static str> {
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
pub(super) enum Family {
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
pub(super) const FAMILIES: [Family; 10] = [
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

pub(super) const STR_OPS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
];
pub(super) const NUM_OPS: &[&str] = &[
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
];
pub(super) const DATE_OPS: &[&str] = &[
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
];
pub(super) const IP_OPS: &[&str] = &["IpAddress", "NotIpAddress"];
pub(super) const ARN_OPS: &[&str] = &["ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"];

/// Policy values per condition key (JSON, so numbers and booleans appear as both).
pub(super) fn values_for(key: usize) -> Vec<Value> {
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

pub(super) fn null_values() -> Vec<Value> {
    vec![json!("true"), json!("false"), json!(true), json!(false)]
}

/// The key as written: sometimes in another case.
pub(super) fn key_text(rng: &mut Rng, key: usize) -> String {
    if rng.chance(15) {
        KEYS[key].to_ascii_lowercase()
    } else {
        KEYS[key].to_string()
    }
}

pub(super) fn some_values(rng: &mut Rng, pool: &[Value], max: usize) -> (Vec<Value>, bool) {
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
pub(super) fn gen_cond(rng: &mut Rng, family: Family) -> Cond {
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
pub(super) struct Forms {
    pub(super) allow: [u64; 2],
    pub(super) not_action: [u64; 2],
    pub(super) not_resource: [u64; 2],
    pub(super) family: [u64; 10],
}

impl Forms {
    pub(super) fn describe(&self) -> String {
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
pub(super) fn gen_stmt(rng: &mut Rng, effect: Option<bool>, forms: Option<&mut Forms>) -> Stmt {
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

pub(super) fn gen_version(rng: &mut Rng) -> Option<&'static str> {
    match rng.below(10) {
        0..=4 => Some("2012-10-17"),
        5 => Some("2008-10-17"),
        _ => None,
    }
}

/// A base role: 1–4 statements in 1–3 policies.
pub(super) fn gen_model(rng: &mut Rng, forms: &mut Forms) -> Model {
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
