//! A moto server (IAM + STS, with the Access Advisor extension in tests/servers/moto_with_aa.py)
//! for the tests and benchmarks that talk to "AWS".
//!
//! `REPOKID_TEST_MOTO_ENDPOINT` names a running server (scripts/test starts one); otherwise one is
//! started per test process from the venv `scripts/test-env` installs, and stops when the process
//! exits (it reads its stdin to EOF). No server and no venv is an error, never a skipped test.
//!
//! Accounts: the base credentials act in moto's default account; `MotoAccount` assumes
//! `RepokidRole` in another account (moto's cross-account AssumeRole), so every test works in
//! fresh accounts of its own and tests never see each other's roles.

#![allow(dead_code, clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region};

/// Base credentials the tests use: distinctive, so a test can prove they never leak.
pub const ACCESS_KEY: &str = "AKIAREPOKIDTESTKEY01";
/// See [`ACCESS_KEY`].
pub const SECRET_KEY: &str = "repokid-test-secret-never-printed-0123456789";
/// See [`ACCESS_KEY`].
pub const SESSION_TOKEN: &str = "repokid-test-session-token-never-printed";

struct Server {
    endpoint: String,
    _child: Option<Child>,
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The endpoint of the shared moto server, started on first use.
pub fn endpoint() -> &'static str {
    static SERVER: OnceLock<Server> = OnceLock::new();
    &SERVER.get_or_init(start).endpoint
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start() -> Server {
    if let Ok(endpoint) = std::env::var("REPOKID_TEST_MOTO_ENDPOINT") {
        return Server {
            endpoint,
            _child: None,
        };
    }
    let python = std::env::var_os("REPOKID_TEST_MOTO_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/test-env/moto/bin/python"));
    assert!(
        python.exists(),
        "moto is not installed ({} is missing): run scripts/test-env once (scripts/test does)",
        python.display()
    );
    let port = free_port();
    let log = std::fs::File::create(std::env::temp_dir().join(format!("repokid-moto-{port}.log")))
        .unwrap();
    let child = Command::new(&python)
        .arg(root().join("tests/servers/moto_with_aa.py"))
        .args([
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "--exit-on-stdin-eof",
        ])
        .stdin(Stdio::piped())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let endpoint = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while http(&endpoint, "GET", "/moto-api/", "").is_none() {
        assert!(
            Instant::now() < deadline,
            "moto did not start on {endpoint} within 30 s (log: {})",
            std::env::temp_dir()
                .join(format!("repokid-moto-{port}.log"))
                .display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Server {
        endpoint,
        _child: Some(child),
    }
}

/// A minimal HTTP/1.1 request (the harness needs no client library); the response body, or
/// `None` when nothing answers.
pub fn http(endpoint: &str, method: &str, path: &str, body: &str) -> Option<String> {
    let addr = endpoint.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200")
        .then(|| body.to_string())
        .or_else(|| panic!("{method} {path}: {head}"))
}

/// A fresh 12-digit account id, unique per call and per process.
pub fn fresh_account() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let salt = (std::process::id() as u64 % 9_000) * 1_000
        + (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_micros() as u64
            % 1_000);
    format!("{:012}", 300_000_000_000 + salt * 1_000 + n)
}

/// Environment for a `repokid` process talking to moto with the test credentials.
pub fn aws_env() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint().to_string()),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
        ("AWS_SESSION_TOKEN", SESSION_TOKEN.into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_CONFIG_FILE", "/nonexistent/repokid-test".into()),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/repokid-test".into(),
        ),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ]
}

/// Seeds Access Advisor data: role ARN → service entries (see moto_with_aa.py).
pub fn seed_access_advisor(data: &serde_json::Value) {
    http(endpoint(), "POST", "/_aa/seed", &data.to_string()).unwrap();
}

/// Makes Access Advisor jobs for `account`'s roles complete at `now` (replaying later nights
/// without the usage data going stale).
pub fn set_access_advisor_clock(account: &str, now: chrono::DateTime<chrono::Utc>) {
    let body = serde_json::json!({"account": account, "now": now.to_rfc3339()});
    http(endpoint(), "POST", "/_aa/clock", &body.to_string()).unwrap();
}

/// IAM in one account of moto, reached by assuming `RepokidRole` there.
pub struct MotoAccount {
    /// The account id.
    pub id: String,
    rt: tokio::runtime::Runtime,
    iam: aws_sdk_iam::Client,
}

impl MotoAccount {
    /// A fresh account.
    pub fn fresh() -> MotoAccount {
        MotoAccount::new(&fresh_account())
    }

    /// Account `id`.
    pub fn new(id: &str) -> MotoAccount {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let base = aws_sdk_sts::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(endpoint())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(
                ACCESS_KEY,
                SECRET_KEY,
                Some(SESSION_TOKEN.into()),
                None,
                "test",
            ))
            .build();
        let sts = aws_sdk_sts::Client::from_conf(base);
        let creds = rt
            .block_on(
                sts.assume_role()
                    .role_arn(format!("arn:aws:iam::{id}:role/RepokidRole"))
                    .role_session_name("repokid-test-setup")
                    .send(),
            )
            .unwrap()
            .credentials
            .unwrap();
        let conf = aws_sdk_iam::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(endpoint())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(
                creds.access_key_id,
                creds.secret_access_key,
                Some(creds.session_token),
                None,
                "test-assumed",
            ))
            .build();
        MotoAccount {
            id: id.to_string(),
            rt,
            iam: aws_sdk_iam::Client::from_conf(conf),
        }
    }

    /// The ARN of role `name` (path `/`).
    pub fn arn(&self, name: &str) -> String {
        format!("arn:aws:iam::{}:role/{name}", self.id)
    }

    /// Creates a role with a Lambda trust policy and these inline policies (name, JSON).
    pub fn create_role(&self, name: &str, policies: &[(&str, &str)]) {
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        self.rt
            .block_on(
                self.iam
                    .create_role()
                    .role_name(name)
                    .assume_role_policy_document(trust)
                    .send(),
            )
            .unwrap();
        for (p, doc) in policies {
            self.put_policy(name, p, doc);
        }
    }

    /// Puts an inline policy (out of band, as far as repokid knows).
    pub fn put_policy(&self, role: &str, name: &str, doc: &str) {
        self.rt
            .block_on(
                self.iam
                    .put_role_policy()
                    .role_name(role)
                    .policy_name(name)
                    .policy_document(doc)
                    .send(),
            )
            .unwrap();
    }

    /// The role's inline policies as parsed JSON, by name (documents URL-decoded).
    pub fn policies(&self, role: &str) -> serde_json::Map<String, serde_json::Value> {
        let names = self
            .rt
            .block_on(self.iam.list_role_policies().role_name(role).send())
            .unwrap()
            .policy_names;
        let mut out = serde_json::Map::new();
        for n in names {
            let doc = self
                .rt
                .block_on(
                    self.iam
                        .get_role_policy()
                        .role_name(role)
                        .policy_name(&n)
                        .send(),
                )
                .unwrap()
                .policy_document;
            let text = percent_encoding::percent_decode_str(&doc)
                .decode_utf8()
                .unwrap()
                .into_owned();
            out.insert(n, serde_json::from_str(&text).unwrap());
        }
        out
    }
}
