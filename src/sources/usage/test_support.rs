//! Strategies shared by the usage readers' property tests.

use proptest::prelude::*;
use serde_json::Value;

const KEYS: &[&str] = &[
    "version",
    "collected_at",
    "roles",
    "services",
    "last_accessed",
    "actions",
    "arn:aws:iam::123456789012:role/a",
    "count",
    "page",
    "total",
    "lastAuthenticated",
    "lastUpdated",
    "serviceNamespace",
    "JobStatus",
    "JobType",
    "JobCompletionDate",
    "JobCreationDate",
    "ServicesLastAccessed",
    "ServiceNamespace",
    "LastAuthenticated",
    "TrackedActionsLastAccessed",
    "ActionName",
    "LastAccessedTime",
    "IsTruncated",
    "Error",
    "Message",
    "s3",
    "s3:GetObject",
];

const STRINGS: &[&str] = &[
    "COMPLETED",
    "FAILED",
    "IN_PROGRESS",
    "ACTION_LEVEL",
    "SERVICE_LEVEL",
    "2020-12-17T02:01:36Z",
    "2099-01-01T00:00:00+00:00",
    "Thu, 17 Dec 2020 02:01:36 GMT",
    "2020-12-17 02:01:36",
    "s3",
    "S3",
    "GetObject",
    "s3:GetObject",
    "ec2:RunInstances",
    "",
];

/// Arbitrary JSON, biased towards the keys and values the usage parsers look at.
pub(crate) fn arb_json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        3 => prop::sample::select(KEYS).prop_map(String::from),
        1 => any::<String>(),
    ]
    .boxed();
    let string = prop_oneof![
        2 => prop::sample::select(STRINGS).prop_map(String::from),
        1 => any::<String>(),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop::sample::select(&[0_i64, 1, 1_545_787_620_000, 1_545_787_620, 154_578_762, -1][..])
            .prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        string.prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}
