//! A deterministic synthetic organisation: roles with realistic policy shapes and usage data, for
//! benchmarks and property tests.
//!
//! Same seed, same catalog → same organisation, byte for byte. Policies mix exact actions, service
//! wildcards (`s3:*`), `Describe*`-style prefixes, `NotAction`, `"*"`, several policies per role,
//! Deny and NOREPO statements; usage has a spread of dates, missing services, never-used services,
//! action-level entries and some stale collections.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::engine::catalog::{ActionId, Catalog};
use crate::engine::usage::{LastAccessed, RoleUsage, ServiceUsage};

/// A small, fast, seedable PRNG (SplitMix64); good enough for test data, not for secrets.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// A random element.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Services most real roles use; drawing mostly from these gives usage data realistic overlap.
const COMMON: &[&str] = &[
    "s3",
    "ec2",
    "iam",
    "sts",
    "kms",
    "logs",
    "cloudwatch",
    "dynamodb",
    "sqs",
    "sns",
    "lambda",
    "ecr",
    "ecs",
    "eks",
    "rds",
    "secretsmanager",
    "ssm",
    "cloudformation",
    "elasticloadbalancing",
    "autoscaling",
    "route53",
    "acm",
    "events",
    "states",
    "kinesis",
    "firehose",
    "glue",
    "athena",
    "xray",
    "tag",
    "apigateway",
    "cloudfront",
    "elasticache",
    "es",
    "codebuild",
    "codepipeline",
    "sagemaker",
    "bedrock",
    "backup",
    "config",
];

const PREFIXES: &[&str] = &[
    "Describe", "Get", "List", "Put", "Create", "Delete", "Update",
];

/// Shape of the organisation.
#[derive(Debug, Clone, Copy)]
pub struct SynthOptions {
    /// Seed for the PRNG.
    pub seed: u64,
    /// Number of roles.
    pub roles: usize,
    /// Number of accounts the roles are spread over.
    pub accounts: usize,
}

/// One generated role: identity, its inline policies as a policy-file JSON text, and its usage.
#[derive(Debug, Clone)]
pub struct SynthRole {
    /// 12-digit account id.
    pub account: String,
    /// Role name.
    pub name: String,
    /// When the role was created.
    pub create_date: DateTime<Utc>,
    /// The role's policy file (`{"PolicyName": document, …}`), as text.
    pub policies_json: String,
    /// Its usage data.
    pub usage: RoleUsage,
}

impl SynthRole {
    /// The role's ARN.
    pub fn arn(&self) -> String {
        format!("arn:aws:iam::{}:role/{}", self.account, self.name)
    }
}

/// Generates an organisation.
pub fn generate(opts: SynthOptions, catalog: &Catalog, now: DateTime<Utc>) -> Vec<SynthRole> {
    let mut rng = Rng::new(opts.seed);
    let services: Vec<&str> = COMMON
        .iter()
        .copied()
        .filter(|s| catalog.service(s).is_some())
        .collect();
    let all_services: Vec<&str> = catalog
        .services()
        .iter()
        .map(|s| s.prefix.as_str())
        .collect();
    (0..opts.roles)
        .map(|i| {
            let account = format!(
                "{:012}",
                100_000_000_000u64 + (i % opts.accounts.max(1)) as u64
            );
            let name = format!("synthetic-role-{i:05}");
            let mut touched: Vec<String> = Vec::new();
            let mut policies = serde_json::Map::new();
            for p in 0..1 + rng.below(4) {
                let statements: Vec<Value> = (0..1 + rng.below(4))
                    .map(|s| {
                        statement(&mut rng, catalog, &services, &all_services, &mut touched, s)
                    })
                    .collect();
                policies.insert(
                    format!("policy-{p}"),
                    json!({"Version": "2012-10-17", "Statement": statements}),
                );
            }
            let usage = usage(&mut rng, catalog, &touched, &services, now);
            SynthRole {
                account,
                name,
                create_date: now - Duration::days(30 + rng.below(2000) as i64),
                policies_json: serde_json::to_string_pretty(&Value::Object(policies))
                    .unwrap_or_default(),
                usage,
            }
        })
        .collect()
}

fn random_action(rng: &mut Rng, catalog: &Catalog, service: &str) -> Option<ActionId> {
    let svc = catalog.service(service)?;
    let n = svc.actions.len();
    (n > 0).then(|| svc.actions.start + rng.below(n) as ActionId)
}

fn statement(
    rng: &mut Rng,
    catalog: &Catalog,
    common: &[&str],
    all: &[&str],
    touched: &mut Vec<String>,
    index: usize,
) -> Value {
    let roll = rng.below(100);
    let mut svc = |rng: &mut Rng| -> String {
        let s = if rng.chance(85) {
            *rng.pick(common)
        } else {
            *rng.pick(all)
        };
        if !touched.iter().any(|t| t == s) {
            touched.push(s.to_string());
        }
        s.to_string()
    };
    let (key, actions): (&str, Vec<String>) = match roll {
        0..=49 => {
            let mut v = Vec::new();
            for _ in 0..1 + rng.below(3) {
                let s = svc(rng);
                for _ in 0..1 + rng.below(8) {
                    if let Some(id) = random_action(rng, catalog, &s) {
                        // Authors write names in all sorts of case.
                        let name = catalog.name(id);
                        v.push(if rng.chance(10) {
                            name.to_ascii_lowercase()
                        } else {
                            name.to_string()
                        });
                    }
                }
            }
            ("Action", v)
        }
        50..=64 => (
            "Action",
            (0..1 + rng.below(3))
                .map(|_| format!("{}:*", svc(rng)))
                .collect(),
        ),
        65..=81 => (
            "Action",
            (0..1 + rng.below(3))
                .map(|_| format!("{}:{}*", svc(rng), rng.pick(PREFIXES)))
                .collect(),
        ),
        // Broad grants are rare in real accounts (and the costly case): about one statement in
        // two hundred each, so roughly one role in sixteen holds one.
        82..=84 if rng.chance(17) => (
            "NotAction",
            vec!["iam:*".to_string(), "organizations:*".to_string()],
        ),
        85..=87 if rng.chance(17) => ("Action", vec!["*".to_string()]),
        88..=89 => (
            "Action",
            vec![format!("{}:NoSuchAction{}", svc(rng), rng.below(10))],
        ),
        _ => ("Action", vec![format!("{}:*", svc(rng))]),
    };
    let mut st = serde_json::Map::new();
    if roll >= 95 {
        st.insert("Sid".into(), json!(format!("NOREPOKeep{index}")));
    } else if rng.chance(30) {
        st.insert("Sid".into(), json!(format!("Statement{index}")));
    }
    let effect = if (90..95).contains(&roll) {
        "Deny"
    } else {
        "Allow"
    };
    st.insert("Effect".into(), json!(effect));
    st.insert(
        key.into(),
        if actions.len() == 1 && rng.chance(30) {
            json!(actions[0])
        } else {
            json!(actions)
        },
    );
    st.insert("Resource".into(), json!("*"));
    if rng.chance(10) {
        st.insert(
            "Condition".into(),
            json!({"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}),
        );
    }
    Value::Object(st)
}

fn usage(
    rng: &mut Rng,
    catalog: &Catalog,
    touched: &[String],
    common: &[&str],
    now: DateTime<Utc>,
) -> RoleUsage {
    let mut services = BTreeMap::new();
    let extra: Vec<String> = (0..rng.below(6))
        .map(|_| rng.pick(common).to_string())
        .collect();
    for s in touched.iter().chain(&extra) {
        if rng.chance(12) {
            continue; // no entry: the engine must keep the service
        }
        let last_accessed = match rng.below(100) {
            0..=54 => {
                LastAccessed::At(now - Duration::days(rng.below(80) as i64) - Duration::hours(1))
            }
            55..=74 => LastAccessed::At(now - Duration::days(95 + rng.below(300) as i64)),
            75..=97 => LastAccessed::Never,
            _ => LastAccessed::Malformed("4102444800000".into()),
        };
        let actions = (rng.chance(30)).then(|| {
            let mut m = BTreeMap::new();
            if let Some(svc) = catalog.service(s) {
                for _ in 0..rng.below(12) {
                    let id = svc.actions.start + rng.below(svc.actions.len()) as ActionId;
                    let name = catalog.lower_name(id)[s.len() + 1..].to_string();
                    let la = if rng.chance(50) && matches!(last_accessed, LastAccessed::At(_)) {
                        last_accessed.clone()
                    } else {
                        LastAccessed::Never
                    };
                    m.insert(name, la);
                }
            }
            m
        });
        services.insert(
            s.clone(),
            ServiceUsage {
                last_accessed,
                actions,
            },
        );
    }
    RoleUsage {
        collected_at: Some(if rng.chance(5) {
            now - Duration::days(10)
        } else {
            now - Duration::hours(3)
        }),
        services,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::policy::parse_policy_map;
    use chrono::TimeZone;

    #[test]
    fn deterministic_and_parseable() {
        let c = Catalog::embedded();
        let now = Utc.with_ymd_and_hms(2026, 11, 21, 0, 0, 0).unwrap();
        let opts = SynthOptions {
            seed: 7,
            roles: 50,
            accounts: 3,
        };
        let a = generate(opts, c, now);
        let b = generate(opts, c, now);
        assert_eq!(a.len(), 50);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.policies_json, y.policies_json);
            assert_eq!(x.usage, y.usage);
            parse_policy_map(&x.name, &x.policies_json).unwrap();
        }
        let all = a
            .iter()
            .map(|r| r.policies_json.as_str())
            .collect::<String>();
        for shape in ["NotAction", "\"*\"", "Deny", "NOREPO", ":*", "Describe*"] {
            assert!(all.contains(shape), "no {shape} in 50 roles");
        }
    }
}
