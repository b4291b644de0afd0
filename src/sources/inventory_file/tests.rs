//! Tests of the inventory file reader and writer.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::*;
use crate::engine::policy::PolicyMap;

/// Two pages of one account (the first truncated, as a paginated API call returns them) and a
/// page of a second account in the China partition, as the CLI and raw API print them.
const FIXTURE: &str = r#"[
  {
    "UserDetailList": [{"UserName": "alice", "Path": "/", "UserPolicyList": []}],
    "GroupDetailList": [],
    "RoleDetailList": [
      {
        "Path": "/service-role/",
        "RoleName": "orders-api",
        "RoleId": "AROAEXAMPLEORDERSAPI1",
        "Arn": "arn:aws:iam::111122223333:role/service-role/orders-api",
        "CreateDate": "2019-03-14T09:26:53+00:00",
        "AssumeRolePolicyDocument": "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22ecs-tasks.amazonaws.com%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D",
        "InstanceProfileList": [],
        "RolePolicyList": [
          {
            "PolicyName": "orders-table",
            "PolicyDocument": "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Sid%22%3A%22ReadOrders%22%2C%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%5B%22dynamodb%3AGetItem%22%2C%22dynamodb%3AQuery%22%5D%2C%22Resource%22%3A%22arn%3Aaws%3Adynamodb%3Aus-east-1%3A111122223333%3Atable%2Forders%22%7D%5D%7D"
          },
          {
            "PolicyName": "assets-read",
            "PolicyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"s3:Get*\",\"Resource\":\"arn:aws:s3:::orders-assets/*\"}}"
          }
        ],
        "AttachedManagedPolicies": [
          {"PolicyName": "AmazonSSMReadOnlyAccess", "PolicyArn": "arn:aws:iam::aws:policy/AmazonSSMReadOnlyAccess"}
        ],
        "Tags": [
          {"Key": "team", "Value": "orders"},
          {"Key": "repokid-opt-out", "Value": "owner=payments; until 2027-03-01"}
        ],
        "RoleLastUsed": {"LastUsedDate": "2026-11-19T22:01:07+00:00", "Region": "us-east-1"}
      }
    ],
    "Policies": [],
    "IsTruncated": true,
    "Marker": "AAEXAMPLEMARKER"
  },
  {
    "RoleDetailList": [
      {
        "Path": "/",
        "RoleName": "billing-batch",
        "RoleId": "AROAEXAMPLEBILLING001",
        "Arn": "arn:aws:iam::111122223333:role/billing-batch",
        "CreateDate": "2021-07-01T00:00:00Z",
        "AssumeRolePolicyDocument": {
          "Version": "2012-10-17",
          "Statement": [{"Effect": "Allow", "Principal": {"Service": "batch.amazonaws.com"}, "Action": "sts:AssumeRole"}]
        },
        "InstanceProfileList": [],
        "RolePolicyList": [
          {
            "PolicyName": "billing",
            "PolicyDocument": {
              "Version": "2012-10-17",
              "Statement": [
                {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::billing-exports/*"},
                {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}
              ]
            }
          }
        ],
        "AttachedManagedPolicies": []
      },
      {
        "Path": "/",
        "RoleName": "ci-deployer",
        "Arn": "arn:aws:iam::111122223333:role/ci-deployer",
        "AssumeRolePolicyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::111122223333:root\"},\"Action\":\"sts:AssumeRole\"}]}",
        "RolePolicyList": []
      }
    ],
    "IsTruncated": false
  },
  {
    "RoleDetailList": [
      {
        "Path": "/",
        "RoleName": "data-lake-reader",
        "RoleId": "AROAEXAMPLECNREADER1",
        "Arn": "arn:aws-cn:iam::444455556666:role/data-lake-reader",
        "CreateDate": "2022-02-02 10:00:00+08:00",
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []},
        "RolePolicyList": [
          {"PolicyName": "lake", "PolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}}
        ],
        "AttachedManagedPolicies": [
          {"PolicyName": "ReadOnlyAccess", "PolicyArn": "arn:aws-cn:iam::aws:policy/ReadOnlyAccess"}
        ]
      }
    ],
    "UserDetailList": [],
    "GroupDetailList": [],
    "Policies": [],
    "IsTruncated": false
  }
]"#;

fn parse(value: &Value) -> Result<Inventory, InventoryError> {
    parse_inventory("inv.json", value.to_string().as_bytes())
}

/// A one-page response holding `roles`.
fn page(roles: Vec<Value>) -> Value {
    json!({"RoleDetailList": roles, "UserDetailList": [], "GroupDetailList": [],
               "Policies": [], "IsTruncated": false})
}

fn role(name: &str) -> Value {
    json!({
        "Path": "/",
        "RoleName": name,
        "RoleId": format!("AROA{}", name.to_uppercase()),
        "Arn": format!("arn:aws:iam::111122223333:role/{name}"),
        "CreateDate": "2020-01-01T00:00:00+00:00",
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []},
        "RolePolicyList": [{"PolicyName": "p", "PolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}}],
        "AttachedManagedPolicies": []
    })
}

fn err(value: &Value) -> InventoryError {
    match parse(value) {
        Ok(inv) => panic!("expected an error, got {inv:?}"),
        Err(e) => e,
    }
}

#[test]
fn reads_pages_accounts_and_both_document_encodings() {
    let inv = parse_inventory("inv.json", FIXTURE.as_bytes()).unwrap();
    assert_eq!(
        inv.roles.keys().collect::<Vec<_>>(),
        ["111122223333", "444455556666"]
    );
    assert_eq!(inv.len(), 4);
    let names: Vec<&str> = inv.roles["111122223333"]
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(names, ["billing-batch", "ci-deployer", "orders-api"]);

    let orders = &inv.roles["111122223333"][2];
    assert_eq!(orders.path, "/service-role/");
    assert_eq!(orders.id.as_deref(), Some("AROAEXAMPLEORDERSAPI1"));
    assert_eq!(
        orders.create_date.map(|t| t.to_rfc3339()),
        Some("2019-03-14T09:26:53+00:00".to_string())
    );
    assert_eq!(
        orders.trust_policy["Statement"][0]["Principal"]["Service"],
        "ecs-tasks.amazonaws.com"
    );
    assert_eq!(
        orders.policies.keys().collect::<Vec<_>>(),
        ["assets-read", "orders-table"]
    );
    let table = &orders.policies["orders-table"].statements()[0];
    assert_eq!(table.entries(), ["dynamodb:GetItem", "dynamodb:Query"]);
    assert_eq!(table.sid(), Some("ReadOrders"));
    assert_eq!(
        orders.policies["assets-read"].statements()[0].entries(),
        ["s3:Get*"]
    );
    assert_eq!(
        orders.managed_policy_arns,
        ["arn:aws:iam::aws:policy/AmazonSSMReadOnlyAccess"]
    );
    assert_eq!(orders.tags.len(), 2);
    assert_eq!(
        orders.tag("repokid-opt-out"),
        Some("owner=payments; until 2027-03-01")
    );

    let billing = &inv.roles["111122223333"][0];
    assert_eq!(billing.policies["billing"].statements().len(), 2);
    assert_eq!(
        billing.create_date.map(|t| t.to_rfc3339()),
        Some("2021-07-01T00:00:00+00:00".to_string())
    );
    let ci = &inv.roles["111122223333"][1];
    assert!(ci.policies.is_empty() && ci.create_date.is_none() && ci.id.is_none());
    assert_eq!(
        ci.trust_policy["Statement"][0]["Principal"]["AWS"],
        "arn:aws:iam::111122223333:root"
    );
    assert!(ci.tags.is_empty() && ci.managed_policy_arns.is_empty());

    let lake = &inv.roles["444455556666"][0];
    assert_eq!(
        lake.arn,
        "arn:aws-cn:iam::444455556666:role/data-lake-reader"
    );
    assert_eq!(
        lake.create_date.map(|t| t.to_rfc3339()),
        Some("2022-02-02T02:00:00+00:00".to_string())
    );
}

#[test]
fn reads_the_single_merged_object_and_other_partitions() {
    let mut gov = role("gov-reader");
    gov["Arn"] = json!("arn:aws-us-gov:iam::111122223333:role/teams/data/gov-reader");
    gov["Path"] = json!("/teams/data/");
    let inv = parse(&page(vec![role("web"), gov])).unwrap();
    let roles = &inv.roles["111122223333"];
    assert_eq!(roles[0].name, "gov-reader");
    assert_eq!(roles[0].path, "/teams/data/");
    assert_eq!(roles[1].arn, "arn:aws:iam::111122223333:role/web");
    // With Path missing, the path comes from the ARN.
    let mut no_path = role("web");
    no_path["Arn"] = json!("arn:aws:iam::111122223333:role/svc/web");
    no_path.as_object_mut().map(|o| o.remove("Path"));
    assert_eq!(
        parse(&page(vec![no_path])).unwrap().roles["111122223333"][0].path,
        "/svc/"
    );
    // An account with no roles is no account; a UTF-8 byte-order mark is skipped.
    assert!(parse(&page(vec![])).unwrap().is_empty());
    let mut bom = b"\xef\xbb\xbf".to_vec();
    bom.extend_from_slice(page(vec![role("web")]).to_string().as_bytes());
    assert_eq!(parse_inventory("inv.json", &bom).unwrap().len(), 1);
}

#[test]
fn invalid_names_are_errors_naming_file_role_and_place() {
    let mut bad_account = role("web");
    bad_account["Arn"] = json!("arn:aws:iam::12345:role/web");
    let e = err(&page(vec![role("a"), bad_account]));
    assert_eq!(e.place, "RoleDetailList[1].Arn");
    assert_eq!(e.role.as_deref(), Some("web"));
    assert!(matches!(&*e.kind, InventoryErrorKind::Name(n) if n.what == "account id"));
    assert!(
        e.to_string().starts_with(
            "inv.json: RoleDetailList[1].Arn (role web): invalid account id \"12345\""
        ),
        "{e}"
    );

    let mut dots = role("x");
    dots["RoleName"] = json!("..");
    dots["Arn"] = json!("arn:aws:iam::111122223333:role/..");
    let e = err(&page(vec![dots]));
    assert_eq!(e.place, "RoleDetailList[0].RoleName");
    assert!(
        matches!(&*e.kind, InventoryErrorKind::Name(n) if n.what == "role name" && n.value == "..")
    );

    let mut slash = role("web");
    slash["RolePolicyList"][0]["PolicyName"] = json!("a/b");
    let e = err(&page(vec![slash]));
    assert_eq!(e.place, "RoleDetailList[0].RolePolicyList[0].PolicyName");
    assert_eq!(e.role.as_deref(), Some("web"));
    assert!(matches!(&*e.kind, InventoryErrorKind::Name(n) if n.what == "policy name"));
    assert!(e.to_string().contains("contains '/'"), "{e}");
}

#[test]
fn arns_must_be_iam_role_arns_matching_the_role() {
    for (arn, needle) in [
        (
            "arn:aws:iam::111122223333:role/other",
            "does not end in the role name",
        ),
        (
            "arn:aws:iam::111122223333:role/xweb",
            "does not end in the role name",
        ),
        ("arn:aws:iam::111122223333:user/web", "not a role ARN"),
        ("arn:aws:s3:::111122223333:role/web", "not an IAM ARN"),
        (
            "arn:aws:iam:us-east-1:111122223333:role/web",
            "not an IAM ARN",
        ),
        ("arn:gcp:iam::111122223333:role/web", "unknown partition"),
        ("111122223333/web", "not a role ARN"),
    ] {
        let mut r = role("web");
        r["Arn"] = json!(arn);
        let e = err(&page(vec![r]));
        assert_eq!(e.place, "RoleDetailList[0].Arn", "{arn}");
        assert!(e.to_string().contains(needle), "{arn}: {e}");
    }
    let mut r = role("web");
    r["Path"] = json!("/svc/");
    let e = err(&page(vec![r]));
    assert_eq!(e.place, "RoleDetailList[0].Path");
    assert!(matches!(*e.kind, InventoryErrorKind::Arn(_)));
}

#[test]
fn duplicates_are_errors() {
    // The same name twice, across pages, compared as IAM does (case-insensitively: on a
    // case-insensitive file system `Web.json` and `web.json` are one file).
    let mut upper = role("Web");
    upper["Arn"] = json!("arn:aws:iam::111122223333:role/Web");
    let e = err(&json!([page(vec![role("web")]), page(vec![upper])]));
    assert_eq!(e.place, "[1].RoleDetailList[0]");
    assert_eq!(
        *e.kind,
        InventoryErrorKind::DuplicateRole {
            account: "111122223333".into(),
            name: "Web".into(),
            other: "[0].RoleDetailList[0]".into(),
        }
    );
    // The same name in two accounts is two roles.
    let mut other_account = role("web");
    other_account["Arn"] = json!("arn:aws:iam::444455556666:role/web");
    assert_eq!(
        parse(&page(vec![role("web"), other_account]))
            .unwrap()
            .len(),
        2
    );

    let mut twice = role("web");
    let p = twice["RolePolicyList"][0].clone();
    twice["RolePolicyList"] = json!([p.clone(), p]);
    let e = err(&page(vec![twice]));
    assert_eq!(e.place, "RoleDetailList[0].RolePolicyList[1].PolicyName");
    assert!(
        matches!(&*e.kind, InventoryErrorKind::DuplicatePolicy { name, other }
            if name == "p" && other == "RoleDetailList[0].RolePolicyList[0].PolicyName")
    );
}

#[test]
fn truncated_files_fail_closed() {
    let mut last = page(vec![role("web")]);
    last["IsTruncated"] = json!(true);
    last["Marker"] = json!("abc");
    let e = err(&last);
    assert_eq!(e.place, "IsTruncated");
    assert_eq!(*e.kind, InventoryErrorKind::Truncated);
    assert!(e.to_string().contains("without --max-items"), "{e}");

    // The last page of an array; earlier pages may (must) say more follow.
    let e = err(&json!([page(vec![role("a")]), last]));
    assert_eq!(e.place, "[1].IsTruncated");
    let mut first = page(vec![role("a")]);
    first["IsTruncated"] = json!(true);
    assert_eq!(
        parse(&json!([first.clone(), page(vec![role("b")])]))
            .unwrap()
            .len(),
        2
    );

    // The CLI's --max-items resumption token.
    let mut max_items = page(vec![role("web")]);
    max_items["NextToken"] = json!("eyJNYXJrZXIiOiBudWxsfQ==");
    assert_eq!(*err(&max_items).kind, InventoryErrorKind::Truncated);

    // A truncated page followed by another account's page: the first account is incomplete.
    let mut other = role("b");
    other["Arn"] = json!("arn:aws:iam::444455556666:role/b");
    let e = err(&json!([first, page(vec![other])]));
    assert_eq!(e.place, "[1].RoleDetailList[0]");
    assert!(e.to_string().contains("remaining pages are missing"), "{e}");

    let mut odd = page(vec![]);
    odd["IsTruncated"] = json!("false");
    assert_eq!(err(&odd).place, "IsTruncated");
}

#[test]
fn bytes_that_are_not_utf8_or_not_json() {
    let e = parse_inventory("inv.json", b"{\n  \"RoleDetailList\": [\"caf\xe9\"]}").unwrap_err();
    assert_eq!(e.place, "line 2 column 26");
    assert!(matches!(*e.kind, InventoryErrorKind::NotUtf8(_)));
    assert_eq!(
        e.to_string(),
        "inv.json: line 2 column 26: not UTF-8 text: invalid byte 0xe9 at byte offset 27"
    );
    let e = parse_inventory("inv.json", b"\xff\xfe{\x00}\x00").unwrap_err();
    assert!(e.to_string().contains("UTF-16"), "{e}");

    let e = parse_inventory("inv.json", b"{\n  \"RoleDetailList\": [\n    {,\n  ]\n}").unwrap_err();
    assert_eq!(e.place, "line 3 column 6");
    assert!(matches!(*e.kind, InventoryErrorKind::Json(_)));
    assert!(
        e.to_string()
            .starts_with("inv.json: line 3 column 6: key must be a string"),
        "{e}"
    );

    let text = r#"{"RoleDetailList": [{"RoleName": "a", "RoleName": "b"}]}"#;
    let e = parse_inventory("inv.json", text.as_bytes()).unwrap_err();
    assert!(
        e.to_string()
            .contains("duplicate key \"RoleName\" at $.RoleDetailList[0]"),
        "{e}"
    );
    assert_eq!(e.place, "line 1 column 48");

    for (doc, needle) in [
        (json!([]), "empty array"),
        (json!(7), "found a number"),
        (json!([7]), "found a number"),
        (json!({"UserDetailList": []}), "missing RoleDetailList"),
    ] {
        assert!(err(&doc).to_string().contains(needle), "{doc}");
    }
}

#[test]
fn role_fields_of_the_wrong_shape() {
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "RolePolicyList",
            Value::Null,
            "RoleDetailList[0].RolePolicyList",
        ),
        (
            "RolePolicyList",
            json!({}),
            "RoleDetailList[0].RolePolicyList",
        ),
        (
            "AssumeRolePolicyDocument",
            Value::Null,
            "RoleDetailList[0].AssumeRolePolicyDocument",
        ),
        (
            "AssumeRolePolicyDocument",
            json!("%7B%22a"),
            "RoleDetailList[0].AssumeRolePolicyDocument",
        ),
        (
            "AssumeRolePolicyDocument",
            json!("[1]"),
            "RoleDetailList[0].AssumeRolePolicyDocument",
        ),
        (
            "CreateDate",
            json!("yesterday"),
            "RoleDetailList[0].CreateDate",
        ),
        (
            "CreateDate",
            json!(1_600_000_000),
            "RoleDetailList[0].CreateDate",
        ),
        ("RoleId", json!(5), "RoleDetailList[0].RoleId"),
        (
            "Tags",
            json!([{"Key": "k"}]),
            "RoleDetailList[0].Tags[0].Value",
        ),
        ("Tags", json!({"k": "v"}), "RoleDetailList[0].Tags"),
        (
            "AttachedManagedPolicies",
            json!([{"PolicyArn": "ReadOnly"}]),
            "RoleDetailList[0].AttachedManagedPolicies[0].PolicyArn",
        ),
        ("RoleName", json!(1), "RoleDetailList[0].RoleName"),
    ];
    for (key, value, place) in cases {
        let mut r = role("web");
        if value.is_null() {
            r.as_object_mut().map(|o| o.remove(key));
        } else {
            r[key] = value.clone();
        }
        let e = err(&page(vec![r]));
        assert_eq!(e.place, place, "{key} = {value}: {e}");
    }
    assert_eq!(err(&page(vec![json!("web")])).place, "RoleDetailList[0]");
    // A missing CreateDate is unknown, not an error.
    let mut r = role("web");
    r["CreateDate"] = Value::Null;
    assert_eq!(
        parse(&page(vec![r])).unwrap().roles["111122223333"][0].create_date,
        None
    );
}

#[test]
fn policy_document_errors_name_the_policy_and_the_place_inside() {
    let mut r = role("web");
    r["RolePolicyList"][0]["PolicyDocument"]["Statement"][0]["Effect"] = json!("Maybe");
    let e = err(&page(vec![role("a"), r]));
    assert_eq!(
        e.place,
        "RoleDetailList[1].RolePolicyList[0].PolicyDocument"
    );
    assert_eq!(
        e.to_string(),
        "inv.json: RoleDetailList[1].RolePolicyList[0].PolicyDocument (role web): policy \"p\": \
             Statement[0].Effect: must be \"Allow\" or \"Deny\", found \"Maybe\""
    );
    let mut r = role("web");
    r["RolePolicyList"][0]["PolicyDocument"] = json!(
        "%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22a%22%2C%22Action%22%3A%22b%22%7D%5D%7D"
    );
    let e = err(&page(vec![r]));
    assert!(
        matches!(&*e.kind, InventoryErrorKind::Policy(p) if p.message.contains("duplicate key")),
        "{e}"
    );
    let mut r = role("web");
    r["RolePolicyList"][0]["PolicyDocument"] = json!(3);
    assert_eq!(
        err(&page(vec![r])).place,
        "RoleDetailList[0].RolePolicyList[0].PolicyDocument"
    );
}

#[test]
fn round_trip() {
    let inv = parse_inventory("inv.json", FIXTURE.as_bytes()).unwrap();
    let roles: Vec<Role> = inv.iter().cloned().collect();
    let text = inventory_to_json(&roles);
    assert!(text.ends_with("  \"IsTruncated\": false\n}\n"), "{text}");
    let again = parse_inventory("out.json", text.as_bytes()).unwrap();
    assert_eq!(again, inv);
    // Documents are written as objects, dates as the CLI prints them.
    let v: Value = serde_json::from_str(&text).unwrap();
    let orders = &v["RoleDetailList"][2];
    assert_eq!(orders["RoleName"], "orders-api");
    assert_eq!(orders["CreateDate"], "2019-03-14T09:26:53+00:00");
    assert!(orders["AssumeRolePolicyDocument"].is_object());
    assert!(orders["RolePolicyList"][0]["PolicyDocument"].is_object());
    assert_eq!(
        orders["AttachedManagedPolicies"][0]["PolicyName"],
        "AmazonSSMReadOnlyAccess"
    );
    // A role built in code round-trips too.
    let plain = Role::new("111122223333", "web", PolicyMap::new());
    let again = parse_inventory(
        "x",
        inventory_to_json(std::slice::from_ref(&plain)).as_bytes(),
    )
    .unwrap();
    assert_eq!(again.roles["111122223333"], [plain]);
}

#[test]
fn the_bundled_demo_parses_and_has_usage_for_every_role_but_one() {
    // Written by examples/demo/make_demo.py; see examples/demo/README.md.
    let inventory_text = include_str!("../../../examples/demo/inventory.json");
    let usage_text = include_str!("../../../examples/demo/usage.json");
    let inv = parse_inventory("examples/demo/inventory.json", inventory_text.as_bytes()).unwrap();
    assert_eq!(inv.roles.keys().collect::<Vec<_>>(), ["111122223333"]);
    assert_eq!(inv.len(), 36);
    let now = DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let usage = crate::sources::usage::native::parse_native(usage_text, now).unwrap();
    let missing: Vec<&str> = inv
        .iter()
        .filter(|r| !usage.contains_key(&r.arn))
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(missing, ["vendor-sync"]);
    // Every usage entry belongs to a role of the inventory, and all were collected at once.
    assert!(usage.keys().all(|arn| inv.iter().any(|r| &r.arn == arn)));
    let collected = DateTime::parse_from_rfc3339("2026-11-20T06:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    assert!(usage.values().all(|u| u.collected_at == Some(collected)));
    // The generator writes both files exactly as repokid does.
    let roles: Vec<Role> = inv.iter().cloned().collect();
    assert!(
        inventory_to_json(&roles) == inventory_text,
        "inventory.json is not canonical"
    );
    assert!(
        crate::sources::usage::native::to_native_json(&usage) == usage_text,
        "usage.json is not canonical"
    );
}
