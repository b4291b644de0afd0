//! The oracle's own checks, and the harness's power against blind provers.

use super::*;

#[test]
pub(super) fn oracle_matches_arns_as_documented() {
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
pub(super) fn oracle_evaluates_conditions_as_documented() {
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
pub(super) fn oracle_sees_known_widenings() {
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
pub(super) fn narrower_is_contained() {
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
pub(super) enum Blind {
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

pub(super) fn blind(m: &Model, what: Blind) -> Model {
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
pub(super) fn oracle_catches_blind_provers() {
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
