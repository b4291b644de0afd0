//! AWS misbehaving: throttling and 5xx answers, paged inventories, an IAM that stops answering in
//! the middle of `repokid apply`, and what `apply` costs in calls.
//!
//! * `stand_in_*`: an in-process wiremock server answering IAM's query protocol, driven through
//!   the library (`Aws` + `InventorySource`), for the answers moto never gives (429, 5xx,
//!   `Marker` paging).
//! * The rest: the `repokid` binary against moto (tests/it/common/moto.rs), directly or through a
//!   proxy that goes dark after a set number of requests (tests/it/common/flaky_proxy.rs).

#![allow(clippy::unwrap_used)]

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::flaky_proxy::{Dark, FlakyProxy};
use crate::common::moto::{self, MotoAccount};
use crate::common::{git, new_repo, repokid_env};
use repokid::aws::{Aws, AwsSettings};
use repokid::sources::InventorySource;
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, method};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

// ---------------------------------------------------------------------------------------------
// A. Retries and paging against an in-process stand-in for IAM
// ---------------------------------------------------------------------------------------------

const ACCOUNT: &str = "111122223333";
const GAAD: &str = "iam:GetAccountAuthorizationDetails";

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const READ: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":"arn:aws:s3:::bucket/*"}]}"#;

/// IAM's own encoding of documents in GAAD: percent-encoded JSON.
fn url_encoded(doc: &str) -> String {
    percent_encoding::utf8_percent_encode(doc, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A JSON document as plain XML text.
fn xml_escaped(doc: &str) -> String {
    doc.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// One `RoleDetailList` member; `trust` and the policy documents are given as they go in the
/// XML (URL-encoded or XML-escaped).
fn role_xml(name: &str, trust: &str, policies: &[(&str, &str)]) -> String {
    let policies: String = policies
        .iter()
        .map(|(p, d)| {
            format!(
                "<member><PolicyName>{p}</PolicyName><PolicyDocument>{d}</PolicyDocument></member>"
            )
        })
        .collect();
    format!(
        "<member><Path>/</Path><RoleName>{name}</RoleName><RoleId>AROAEXAMPLE{up}</RoleId>\
         <Arn>arn:aws:iam::{ACCOUNT}:role/{name}</Arn><CreateDate>2025-01-01T00:00:00Z</CreateDate>\
         <AssumeRolePolicyDocument>{trust}</AssumeRolePolicyDocument>\
         <RolePolicyList>{policies}</RolePolicyList>\
         <AttachedManagedPolicies/><Tags/><InstanceProfileList/></member>",
        up = name.to_uppercase()
    )
}

/// A GAAD page holding `roles` (from [`role_xml`]); `marker` set means `IsTruncated`.
fn gaad_page(roles: &[String], marker: Option<&str>) -> String {
    let paging = match marker {
        Some(m) => format!("<IsTruncated>true</IsTruncated><Marker>{m}</Marker>"),
        None => "<IsTruncated>false</IsTruncated>".to_string(),
    };
    format!(
        r#"<GetAccountAuthorizationDetailsResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <GetAccountAuthorizationDetailsResult>
    {paging}
    <RoleDetailList>{}</RoleDetailList>
    <UserDetailList/><GroupDetailList/><Policies/>
  </GetAccountAuthorizationDetailsResult>
  <ResponseMetadata><RequestId>1</RequestId></ResponseMetadata>
</GetAccountAuthorizationDetailsResponse>"#,
        roles.concat()
    )
}

fn xml(status: u16, body: String) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body, "text/xml")
}

fn body(r: &Request) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

/// A wiremock server on a runtime of its own (`Aws` blocks on its own runtime, so the test
/// thread must not be inside one).
struct StandIn {
    rt: tokio::runtime::Runtime,
    server: MockServer,
}

impl StandIn {
    fn start() -> StandIn {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let server = rt.block_on(MockServer::start());
        StandIn { rt, server }
    }

    /// Answers GAAD requests, well formed as the inventory sends them (Filter Role, MaxItems
    /// 1000: other requests get wiremock's 404 and fail the test), with `response`; lower
    /// `priority` first, at most `times` times. `marker`: only requests with
    /// (`Some`) or without (`None`) a Marker.
    fn gaad(
        &self,
        priority: u8,
        times: Option<u64>,
        marker: Option<&str>,
        response: ResponseTemplate,
    ) {
        let marker = marker.map(|m| format!("Marker={m}"));
        let mut mock = Mock::given(method("POST"))
            .and(body_string_contains(
                "Action=GetAccountAuthorizationDetails",
            ))
            .and(body_string_contains("Version=2010-05-08"))
            .and(body_string_contains("Filter.member.1=Role"))
            .and(body_string_contains("MaxItems=1000"))
            .and(move |r: &Request| match &marker {
                Some(m) => body(r).split('&').any(|kv| kv == m),
                None => !body(r).contains("Marker="),
            })
            .respond_with(response)
            .with_priority(priority);
        if let Some(n) = times {
            mock = mock.up_to_n_times(n);
        }
        self.rt.block_on(mock.mount(&self.server));
    }

    fn requests(&self) -> Vec<Request> {
        self.rt
            .block_on(self.server.received_requests())
            .unwrap_or_default()
    }

    /// A connection to the stand-in with fixed credentials and no AssumeRole.
    fn aws(&self, max_attempts: u32) -> Aws {
        Aws::connect_with(
            &AwsSettings {
                endpoint_url: Some(self.server.uri()),
                region: Some("us-east-1".into()),
                assume_role: String::new(),
                max_attempts,
                call_timeout_seconds: 5,
                ..Default::default()
            },
            Some(aws_sdk_iam::config::Credentials::new(
                "AKIDEXAMPLE",
                "secret",
                None,
                None,
                "test",
            )),
        )
        .unwrap()
    }
}

fn throttling_body() -> String {
    "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>\
     <RequestId>r1</RequestId></ErrorResponse>"
        .to_string()
}

/// Answers GAAD with `failures`, one each, in order, then with a page holding role `app`; reads
/// the inventory with 5 attempts and checks it succeeded after exactly `failures.len()` retries,
/// which count as one call.
fn retried_until_the_page(what: &str, failures: Vec<ResponseTemplate>) {
    let iam = StandIn::start();
    let page = gaad_page(
        &[role_xml(
            "app",
            &url_encoded(TRUST),
            &[("read", &url_encoded(READ))],
        )],
        None,
    );
    let n = failures.len();
    for (i, f) in failures.into_iter().enumerate() {
        iam.gaad(1 + i as u8, Some(1), None, f);
    }
    iam.gaad(1 + n as u8, None, None, xml(200, page));

    let aws = iam.aws(5);
    let started = Instant::now();
    let result = aws.inventory(&[ACCOUNT.into()]);
    let took = started.elapsed();
    let requests = iam.requests();
    println!("{what}, page: {} requests in {took:?}", requests.len());
    let inv = result.unwrap_or_else(|e| {
        panic!(
            "{what}: inventory failed after {} requests (not retried?): {e}",
            requests.len()
        )
    });
    let roles = &inv.roles[ACCOUNT];
    assert_eq!(
        roles.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["app"]
    );
    assert_eq!(
        roles[0].policies["read"].to_value(),
        serde_json::from_str::<Value>(READ).unwrap()
    );
    // The failures and the success on the wire, one call in the counts.
    assert_eq!(requests.len(), n + 1, "{what}");
    assert_eq!(
        aws.calls.snapshot(),
        BTreeMap::from([(GAAD.to_string(), 1)])
    );
}

#[test]
fn stand_in_throttling_and_5xx_are_retried_and_the_call_counts_once() {
    retried_until_the_page(
        "429, 400 Throttling, 503",
        vec![
            // A bare 429 (no error body: what a proxy or gateway in front of IAM sends).
            ResponseTemplate::new(429),
            xml(400, throttling_body()),
            ResponseTemplate::new(503),
        ],
    );
}

#[test]
fn stand_in_a_persistent_500_fails_after_max_attempts_naming_account_and_call() {
    let iam = StandIn::start();
    iam.gaad(
        1,
        None,
        None,
        xml(
            500,
            "<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceFailure</Code>\
             <Message>Internal failure</Message></Error><RequestId>r2</RequestId></ErrorResponse>"
                .into(),
        ),
    );
    let max_attempts = 3;
    let aws = iam.aws(max_attempts);
    let started = Instant::now();
    let err = aws.inventory(&[ACCOUNT.into()]).unwrap_err().to_string();
    println!(
        "persistent 500, {max_attempts} attempts: {:?}; {err}",
        started.elapsed()
    );
    assert_eq!(iam.requests().len(), max_attempts as usize, "{err}");
    assert!(err.contains(&format!("account {ACCOUNT}")), "{err}");
    assert!(err.contains(GAAD), "{err}");
    assert_eq!(aws.calls.snapshot()[GAAD], 1);
}

#[test]
fn stand_in_marker_pages_are_followed_and_both_document_encodings_parse() {
    let iam = StandIn::start();
    let plain_read = xml_escaped(READ);
    let page1 = gaad_page(
        &[
            role_xml("a", &url_encoded(TRUST), &[("p", &url_encoded(READ))]),
            role_xml("b", &xml_escaped(TRUST), &[("p", &plain_read)]),
        ],
        Some("m1"),
    );
    let page2 = gaad_page(
        &[role_xml("c", &url_encoded(TRUST), &[("p", &plain_read)])],
        None,
    );
    iam.gaad(1, None, Some("m1"), xml(200, page2));
    iam.gaad(2, None, None, xml(200, page1));

    let aws = iam.aws(2);
    let inv = aws.inventory(&[ACCOUNT.into()]).unwrap();
    let roles = &inv.roles[ACCOUNT];
    assert_eq!(
        roles.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
    let trust: Value = serde_json::from_str(TRUST).unwrap();
    let read: Value = serde_json::from_str(READ).unwrap();
    for r in roles {
        assert_eq!(r.trust_policy, trust, "trust policy of {}", r.name);
        assert_eq!(r.policies.len(), 1, "{}", r.name);
        assert_eq!(
            r.policies["p"].to_value(),
            read,
            "inline policy of {}",
            r.name
        );
        assert_eq!(r.arn, format!("arn:aws:iam::{ACCOUNT}:role/{}", r.name));
    }
    let requests = iam.requests();
    assert_eq!(requests.len(), 2);
    assert!(
        !body(&requests[0]).contains("Marker="),
        "{}",
        body(&requests[0])
    );
    assert!(
        body(&requests[1]).contains("Marker=m1"),
        "{}",
        body(&requests[1])
    );
    assert_eq!(aws.calls.snapshot()[GAAD], 2);
}

#[test]
fn stand_in_a_truncated_page_without_a_new_marker_is_an_error_not_a_loop() {
    // The same marker again: the second request asks for m1 and is told "more after m1".
    let iam = StandIn::start();
    let role = role_xml("a", &url_encoded(TRUST), &[("p", &url_encoded(READ))]);
    let again = gaad_page(std::slice::from_ref(&role), Some("m1"));
    iam.gaad(1, None, Some("m1"), xml(200, again.clone()));
    iam.gaad(2, None, None, xml(200, again));
    let aws = iam.aws(2);
    let err = aws.inventory(&[ACCOUNT.into()]).unwrap_err().to_string();
    assert!(err.contains(&format!("account {ACCOUNT}")), "{err}");
    assert!(err.contains(GAAD) && err.contains("Marker"), "{err}");
    assert_eq!(iam.requests().len(), 2, "{err}");
    assert_eq!(aws.calls.snapshot()[GAAD], 2);

    // IsTruncated with no Marker at all: one request, then the error.
    let iam = StandIn::start();
    let no_marker = gaad_page(&[role], None).replace(
        "<IsTruncated>false</IsTruncated>",
        "<IsTruncated>true</IsTruncated>",
    );
    iam.gaad(1, None, None, xml(200, no_marker));
    let aws = iam.aws(2);
    let err = aws.inventory(&[ACCOUNT.into()]).unwrap_err().to_string();
    assert!(err.contains("Marker"), "{err}");
    assert_eq!(iam.requests().len(), 1, "{err}");
}

// ---------------------------------------------------------------------------------------------
// Against moto: one account, four roles, the proposal merged
// ---------------------------------------------------------------------------------------------

const APP: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Data","Effect":"Allow","Action":["s3:GetObject","s3:PutObject","sqs:SendMessage","sqs:ReceiveMessage"],"Resource":"*"}]}"#;
const LEGACY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:GetItem","Resource":"*"}]}"#;
const STEADY: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":"*"}]}"#;
const QUEUE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sqs:SendMessage","sns:Publish"],"Resource":"*"}]}"#;

/// The roles, in the name order apply visits them, with their inline policies (created in name
/// order, so any listing order is the same):
/// * `a-app`: `data` loses sqs (put), `legacy` (dynamodb, unused) goes (delete): 2 writes.
/// * `b-queue`: `old` (dynamodb) goes (delete), `send` loses sns:Publish (put): 2 writes.
/// * `c-steady`: uses all it has: unchanged by the merge.
/// * `d-notify`: `send` loses sns:Publish (put): 1 write.
fn populate(acct: &MotoAccount) {
    acct.create_role("a-app", &[("data", APP), ("legacy", LEGACY)]);
    acct.create_role("b-queue", &[("old", LEGACY), ("send", QUEUE)]);
    acct.create_role("c-steady", &[("s3", STEADY)]);
    acct.create_role("d-notify", &[("send", QUEUE)]);
    let ago = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    let used = |ns: &str, name: &str| json!({"ServiceNamespace": ns, "ServiceName": name, "LastAuthenticated": ago, "TotalAuthenticatedEntities": 1});
    let never = |ns: &str, name: &str| json!({"ServiceNamespace": ns, "ServiceName": name, "LastAuthenticated": null});
    moto::seed_access_advisor(&json!({
        acct.arn("a-app"): [used("s3", "Amazon S3"), never("sqs", "Amazon SQS"), never("dynamodb", "Amazon DynamoDB")],
        acct.arn("b-queue"): [used("sqs", "Amazon SQS"), never("sns", "Amazon SNS"), never("dynamodb", "Amazon DynamoDB")],
        acct.arn("c-steady"): [used("s3", "Amazon S3")],
        acct.arn("d-notify"): [used("sqs", "Amazon SQS"), never("sns", "Amazon SNS")],
    }));
}

const ROLES: [&str; 4] = ["a-app", "b-queue", "c-steady", "d-notify"];
const CHANGED: [&str; 3] = ["a-app", "b-queue", "d-notify"];

/// The same call budget as a CI job would have: 2 attempts, 2 s per attempt.
const MAX_ATTEMPTS: usize = 2;
const CALL_TIMEOUT_SECONDS: u64 = 2;

fn settings(account: &str) -> String {
    format!(
        "accounts = [\"{account}\"]\n\n[sources]\ninventory-source = \"aws\"\nusage-source = \"access-advisor\"\n\n\
         [aws]\nassume-role = \"RepokidRole\"\naccess-advisor-timeout-seconds = 60\n\
         max-attempts = {MAX_ATTEMPTS}\ncall-timeout-seconds = {CALL_TIMEOUT_SECONDS}\n"
    )
}

/// Runs repokid against `endpoint` (moto, or a proxy in front of it).
fn run(dir: &Path, args: &[&str], endpoint: &str) -> (i32, String, String) {
    let mut env: Vec<(&str, String)> = moto::aws_env()
        .into_iter()
        .filter(|(k, _)| *k != "AWS_ENDPOINT_URL")
        .collect();
    env.push(("AWS_ENDPOINT_URL", endpoint.to_string()));
    repokid_env(dir, args, &env)
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let (code, out, err) = run(dir, args, moto::endpoint());
    assert_eq!(code, 0, "repokid {args:?} failed:\n{out}\n{err}");
    out
}

/// A repository where `acct` was synced, its proposal made and merged into main (a merge
/// commit, as a reviewer would on GitHub); exactly [`CHANGED`] roles differ from the sync.
fn synced_and_merged(acct: &MotoAccount) -> tempfile::TempDir {
    let repo = new_repo();
    let dir = repo.path();
    std::fs::write(dir.join("repokid.toml"), settings(&acct.id)).unwrap();
    // The roles were created a moment ago; the age filter would keep them out of scope.
    std::fs::write(dir.join("filters.toml"), "[age]\nminimum_days = 0\n").unwrap();
    git(dir, &["add", "repokid.toml", "filters.toml"]);
    git(dir, &["commit", "-q", "-m", "settings"]);
    let out = ok(dir, &["sync"]);
    assert!(out.contains(&format!("{}: 4 added", acct.id)), "{out}");
    let synced = git(dir, &["rev-parse", "HEAD"]);
    ok(dir, &["propose", "--grace-days", "0"]);
    git(
        dir,
        &[
            "merge",
            "-q",
            "--no-ff",
            "-m",
            &format!("Merge pull request: repokid/propose/{}", acct.id),
            &format!("repokid/propose/{}", acct.id),
        ],
    );
    let changed = git(dir, &["diff", "--name-only", synced.trim(), "HEAD"]);
    let expected: Vec<String> = CHANGED
        .iter()
        .map(|r| format!("policies/{}/{r}.json", acct.id))
        .collect();
    assert_eq!(changed.lines().collect::<Vec<_>>(), expected, "{changed}");
    repo
}

fn file_policies(dir: &Path, account: &str, role: &str) -> serde_json::Map<String, Value> {
    let text =
        std::fs::read_to_string(dir.join(format!("policies/{account}/{role}.json"))).unwrap();
    serde_json::from_str::<Value>(&text)
        .unwrap()
        .as_object()
        .unwrap()
        .clone()
}

fn doc(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// The report's roles of `account`.
fn roles_of<'a>(report: &'a Value, account: &str) -> &'a Vec<Value> {
    report["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account"] == account)
        .unwrap_or_else(|| panic!("no report for {account}: {report:#}"))["roles"]
        .as_array()
        .unwrap()
}

fn statuses(report: &Value, account: &str) -> Vec<(String, String)> {
    roles_of(report, account)
        .iter()
        .map(|r| {
            (
                r["role"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// The report's `aws_calls`, as numbers by call.
fn calls(report: &Value) -> BTreeMap<String, u64> {
    report["aws_calls"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect()
}

fn counts(v: &[(&str, usize)]) -> BTreeMap<String, u64> {
    v.iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| (k.to_string(), *n as u64))
        .collect()
}

/// Every file under policies/, by path.
fn policy_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for line in git(dir, &["ls-files", "policies"]).lines() {
        out.insert(line.to_string(), std::fs::read(dir.join(line)).unwrap());
    }
    out
}

// ---------------------------------------------------------------------------------------------
// B. IAM stops answering in the middle of an apply
// ---------------------------------------------------------------------------------------------

/// What reaches IAM, in order, when the apply runs: the STS AssumeRole, then per changed role
/// in name order: ListRolePolicies + GetRolePolicy per live policy, the puts, the deletes, and
/// the read-back (ListRolePolicies + GetRolePolicy per target policy).
fn apply_sequence() -> Vec<&'static str> {
    vec![
        "AssumeRole",
        // a-app
        "ListRolePolicies a-app",
        "GetRolePolicy a-app/data",
        "GetRolePolicy a-app/legacy",
        "PutRolePolicy a-app/data",
        "DeleteRolePolicy a-app/legacy",
        "ListRolePolicies a-app",
        "GetRolePolicy a-app/data",
        // b-queue
        "ListRolePolicies b-queue",
        "GetRolePolicy b-queue/old",
        "GetRolePolicy b-queue/send",
        "PutRolePolicy b-queue/send",
        "DeleteRolePolicy b-queue/old",
        "ListRolePolicies b-queue",
        "GetRolePolicy b-queue/send",
        // d-notify
        "ListRolePolicies d-notify",
        "GetRolePolicy d-notify/send",
        "PutRolePolicy d-notify/send",
        "ListRolePolicies d-notify",
        "GetRolePolicy d-notify/send",
    ]
}

/// IAM answers the first `N` requests and then nothing: N covers the AssumeRole, all of a-app
/// (7 calls) and b-queue's reads (3) and first write (its put), so the endpoint dies between
/// b-queue's two writes, the worst place: a role half written.
const N: usize = 1 + 7 + 3 + 1;

fn dead_endpoint_mid_apply(dark: Dark) {
    let acct = MotoAccount::fresh();
    populate(&acct);
    let repo = synced_and_merged(&acct);
    let dir = repo.path();
    let id = acct.id.as_str();
    let head = git(dir, &["rev-parse", "HEAD"]);
    let files = policy_files(dir);

    let proxy = FlakyProxy::start(moto::endpoint(), Some(N), dark);
    let started = Instant::now();
    let (code, out, err) = run(
        dir,
        &["apply", "--commit", "--format", "json"],
        &proxy.endpoint,
    );
    let took = started.elapsed();
    println!("apply with IAM going dark ({dark:?}) after {N} requests: {took:?}");
    let report: Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: exit {code}\n{out}\n{err}"));
    let ctx = format!(
        "exit {code}, {took:?}\n{report:#}\n{err}\nproxy: {:#?}",
        proxy.log()
    );

    assert_ne!(code, 0, "{ctx}");
    assert!(proxy.problems().is_empty(), "{:?}\n{ctx}", proxy.problems());
    // Exactly the first N calls reached IAM; the next one was tried max-attempts times.
    assert_eq!(proxy.forwarded(), apply_sequence()[..N], "{ctx}");
    assert_eq!(
        proxy.dropped(),
        vec!["DeleteRolePolicy b-queue/old"; MAX_ATTEMPTS],
        "{ctx}"
    );
    // A dead endpoint must not hang the job: at most a few call timeouts.
    assert!(took < Duration::from_secs(60), "{ctx}");
    if dark == Dark::Hang {
        // What bounded it: each attempt at the silent call timed out.
        let timeouts = Duration::from_secs(MAX_ATTEMPTS as u64 * CALL_TIMEOUT_SECONDS);
        assert!(took >= timeouts, "{ctx}");
    }

    assert_eq!(
        statuses(&report, id),
        pairs(&[
            ("a-app", "applied"),
            ("b-queue", "failed"),
            ("d-notify", "not-attempted")
        ]),
        "{ctx}"
    );
    let failed = &roles_of(&report, id)[1];
    let message = failed["message"].as_str().unwrap();
    println!("b-queue failed ({dark:?}): {message}");
    if dark == Dark::Hang {
        assert!(message.contains("timeout"), "{ctx}");
    }
    assert!(
        message.starts_with("after 1 of 2 writes: ")
            && message.contains(&format!(
                "account {id}: iam:DeleteRolePolicy b-queue/old failed"
            )),
        "{ctx}"
    );
    assert_eq!(report["accounts"][0]["recorded"], false, "{ctx}");
    // The baseline did not move, and the files are as they were: nothing lost.
    assert!(
        git(dir, &["for-each-ref", "refs/repokid"]).is_empty(),
        "{ctx}"
    );
    assert_eq!(git(dir, &["rev-parse", "HEAD"]), head);
    assert!(git(dir, &["status", "--porcelain"]).is_empty());
    assert_eq!(policy_files(dir), files);
    // Live IAM is as far as the apply got: a-app written, b-queue half written (its put, not
    // its delete), d-notify untouched.
    assert_eq!(acct.policies("a-app"), file_policies(dir, id, "a-app"));
    let b = acct.policies("b-queue");
    assert_eq!(b["send"], file_policies(dir, id, "b-queue")["send"]);
    assert_eq!(b["old"], doc(LEGACY));
    assert_eq!(acct.policies("d-notify")["send"], doc(QUEUE));

    // IAM is back: the next run converges from the same baseline.
    let (code, out, err) = run(
        dir,
        &["apply", "--commit", "--format", "json"],
        moto::endpoint(),
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        statuses(&report, id),
        pairs(&[
            ("a-app", "in-sync"),
            ("b-queue", "applied"),
            ("d-notify", "applied")
        ]),
        "{report:#}"
    );
    let b = &roles_of(&report, id)[1];
    assert_eq!(b["puts"], json!([]), "{report:#}");
    assert_eq!(b["deletes"], json!(["old"]), "{report:#}");
    for role in ROLES {
        assert_eq!(acct.policies(role), file_policies(dir, id, role), "{role}");
    }
    assert_eq!(
        git(dir, &["rev-parse", &format!("refs/repokid/applied/{id}")]),
        git(dir, &["rev-parse", "HEAD"])
    );
}

#[test]
fn iam_closing_connections_mid_apply_fails_the_role_stops_the_account_and_a_rerun_converges() {
    dead_endpoint_mid_apply(Dark::Close);
}

#[test]
fn iam_hanging_mid_apply_is_bounded_by_the_call_timeout_and_a_rerun_converges() {
    dead_endpoint_mid_apply(Dark::Hang);
}

// ---------------------------------------------------------------------------------------------
// C. What an apply costs
// ---------------------------------------------------------------------------------------------

#[test]
fn apply_reads_changed_roles_once_writes_and_reads_back_and_never_touches_unchanged_ones() {
    let acct = MotoAccount::fresh();
    populate(&acct);
    let repo = synced_and_merged(&acct);
    let dir = repo.path();
    let id = acct.id.as_str();
    // d-notify already holds its merged file (applied by hand): changed in git, in sync live.
    let notify = file_policies(dir, id, "d-notify");
    acct.put_policy("d-notify", "send", &notify["send"].to_string());

    // Per changed role: its inline policies live before the apply, and in the merged file.
    let live: BTreeMap<&str, usize> = CHANGED
        .iter()
        .map(|r| (*r, acct.policies(r).len()))
        .collect();
    let target: BTreeMap<&str, usize> = CHANGED
        .iter()
        .map(|r| (*r, file_policies(dir, id, r).len()))
        .collect();
    assert_eq!(
        live,
        BTreeMap::from([("a-app", 2), ("b-queue", 2), ("d-notify", 1)])
    );
    assert_eq!(
        target,
        BTreeMap::from([("a-app", 1), ("b-queue", 1), ("d-notify", 1)])
    );
    let writing = ["a-app", "b-queue"]; // need writes
    let in_sync = ["d-notify"]; // changed in git, already live
    let changed: Vec<&str> = writing.iter().chain(&in_sync).copied().collect();
    let (puts, deletes) = (1 + 1, 1 + 1); // a-app: data, legacy; b-queue: send, old
    let sum = |roles: &[&str], n: &BTreeMap<&str, usize>| roles.iter().map(|r| n[r]).sum::<usize>();

    let proxy = FlakyProxy::start(moto::endpoint(), None, Dark::Close);
    let apply = |args: &[&str]| -> Value {
        let (code, out, err) = run(dir, args, &proxy.endpoint);
        assert_eq!(code, 0, "{out}\n{err}");
        serde_json::from_str(&out).unwrap()
    };
    let untouched = |log: &[common::flaky_proxy::Seen]| {
        assert!(
            !log.iter().any(|s| s.call.contains("c-steady")),
            "an unchanged role was read: {log:#?}"
        );
    };

    // Dry run: one read of each changed role, no write.
    let dry = apply(&["apply", "--format", "json"]);
    assert_eq!(
        statuses(&dry, id),
        pairs(&[
            ("a-app", "would-apply"),
            ("b-queue", "would-apply"),
            ("d-notify", "in-sync")
        ])
    );
    let expected = counts(&[
        ("iam:ListRolePolicies", changed.len()),
        ("iam:GetRolePolicy", sum(&changed, &live)),
    ]);
    assert_eq!(calls(&dry), expected, "{dry:#}");
    // On the wire: the AssumeRole and exactly the counted calls (no retry, no other call).
    let log = proxy.log();
    assert_eq!(
        log.len(),
        1 + expected.values().sum::<u64>() as usize,
        "{log:#?}"
    );
    untouched(&log);

    let before = proxy.log().len();
    // Commit: roles needing writes are read, written and read back; in-sync roles read once.
    let applied = apply(&["apply", "--commit", "--format", "json"]);
    assert_eq!(
        statuses(&applied, id),
        pairs(&[
            ("a-app", "applied"),
            ("b-queue", "applied"),
            ("d-notify", "in-sync")
        ])
    );
    let expected = counts(&[
        ("iam:ListRolePolicies", 2 * writing.len() + in_sync.len()),
        (
            "iam:GetRolePolicy",
            sum(&writing, &live) + sum(&writing, &target) + sum(&in_sync, &live),
        ),
        ("iam:PutRolePolicy", puts),
        ("iam:DeleteRolePolicy", deletes),
    ]);
    // Written out: List 2·2 + 1 = 5; Get (2 + 2) + (1 + 1) + 1 = 7; Put 2; Delete 2.
    assert_eq!(
        expected,
        counts(&[
            ("iam:ListRolePolicies", 5),
            ("iam:GetRolePolicy", 7),
            ("iam:PutRolePolicy", 2),
            ("iam:DeleteRolePolicy", 2)
        ])
    );
    assert_eq!(calls(&applied), expected, "{applied:#}");
    let log = proxy.log()[before..].to_vec();
    assert_eq!(
        log.len(),
        1 + expected.values().sum::<u64>() as usize,
        "{log:#?}"
    );
    untouched(&log);
    for role in ROLES {
        assert_eq!(acct.policies(role), file_policies(dir, id, role), "{role}");
    }

    // Converged: nothing changed since the recorded baseline, so no call at all (not even the
    // AssumeRole).
    let before = proxy.log().len();
    let again = apply(&["apply", "--commit", "--format", "json"]);
    assert!(statuses(&again, id).is_empty(), "{again:#}");
    assert!(calls(&again).is_empty(), "{again:#}");
    assert_eq!(proxy.log().len(), before);
}
