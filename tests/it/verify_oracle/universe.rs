//! The universe: actions, resources, condition keys and the request contexts over them.

use super::*;

/// Actions requests are made for: catalog actions, and two names the catalog does not list (a
/// future S3 action, a service that does not exist yet), which wildcards and `NotAction` reach.
pub(super) const ACTIONS: [&str; 12] = [
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
pub(super) const NA: usize = ACTIONS.len();

/// Resources requests are made on.
pub(super) const RESOURCES: [&str; 14] = [
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
pub(super) const NR: usize = RESOURCES.len();

/// Number of request contexts (one bit each in a `u64`).
pub(super) const NC: usize = 64;

/// The condition keys requests carry. Key names match case-insensitively.
pub(super) const KEYS: [&str; 7] = [
    "aws:PrincipalTag/team",
    "aws:TagKeys",
    "aws:MultiFactorAuthAge",
    "aws:CurrentTime",
    "aws:SecureTransport",
    "aws:SourceIp",
    "aws:SourceArn",
];
pub(super) const K_TEAM: usize = 0;
pub(super) const K_TAGS: usize = 1;
pub(super) const K_MFA: usize = 2;
pub(super) const K_TIME: usize = 3;
pub(super) const K_TLS: usize = 4;
pub(super) const K_IP: usize = 5;
pub(super) const K_ARN: usize = 6;

/// A key's value in one request: `None` when the request does not carry the key; a list (one
/// element for single-valued keys, any number for `aws:TagKeys`) otherwise.
pub(super) type Opt = Option<&'static [&'static str]>;

pub(super) const TEAM_OPTS: &[Opt] = &[
    Some(&["web"]),
    Some(&["ops"]),
    Some(&["Web"]),
    Some(&["dev"]),
    None,
];
pub(super) const TAG_OPTS: &[Opt] = &[
    None,
    Some(&[]),
    Some(&["a"]),
    Some(&["a", "b"]),
    Some(&["c"]),
    Some(&["b", "c"]),
];
pub(super) const MFA_OPTS: &[Opt] = &[Some(&["100"]), Some(&["3600"]), Some(&["5000"]), None];
/// `aws:CurrentTime` is always present.
pub(super) const TIME_OPTS: &[Opt] = &[
    Some(&["2024-06-01T00:00:00Z"]),
    Some(&["2026-01-01T00:00:00Z"]),
    Some(&["2026-06-01T12:00:00Z"]),
    Some(&["2028-01-01T00:00:00Z"]),
];
pub(super) const TLS_OPTS: &[Opt] = &[Some(&["true"]), Some(&["false"]), None];
pub(super) const IP_OPTS: &[Opt] = &[
    Some(&["10.1.2.3"]),
    Some(&["10.2.0.1"]),
    Some(&["192.0.2.7"]),
    Some(&["203.0.113.5"]),
    Some(&["2001:db8::1"]),
    None,
];
pub(super) const ARN_OPTS: &[Opt] = &[
    Some(&["arn:aws:sns:us-east-1:111122223333:topic1"]),
    Some(&["arn:aws:sns:eu-west-1:444455556666:topic2"]),
    Some(&["arn:aws:sqs:us-east-1:111122223333:queue1"]),
    None,
];
pub(super) const KEY_OPTS: [&[Opt]; 7] = [
    TEAM_OPTS, TAG_OPTS, MFA_OPTS, TIME_OPTS, TLS_OPTS, IP_OPTS, ARN_OPTS,
];

pub(super) type Ctx = [Opt; 7];

/// The request contexts: the first six walk every key through all its values (so each value
/// occurs), the rest combine values at random (fixed seed), so that conditions on two keys are
/// told apart too.
pub(super) fn contexts() -> &'static [Ctx] {
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

pub(super) fn describe_context(c: &Ctx) -> String {
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
