//! The Aardvark client against the real Aardvark 0.4.1 API (tests/servers/aardvark_server.py,
//! installed by `scripts/test-env`), and against sockets that fail in the ways networks do.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use repokid::engine::usage::LastAccessed;
use repokid::engine::{PolicyMap, Role};
use repokid::sources::aardvark::{AardvarkError, AardvarkSource};
use repokid::sources::inventory_file::Inventory;
use repokid::sources::{SourceError, UsageSource};
use serde_json::json;

const A: &str = "111111111111";
const B: &str = "222222222222";
/// Every seeded role's `lastUpdated`, as passed to the server (naive UTC).
const LAST_UPDATED: &str = "2026-11-21T23:21:28";
/// 2026-11-16T23:21:28.219Z in epoch milliseconds.
const S3_USED_MS: i64 = 1_794_871_288_219;
/// 2018-12-26T01:27:00Z in epoch milliseconds.
const KMS_USED_MS: i64 = 1_545_787_620_000;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap()
}

fn arn(account: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:role/{name}")
}

fn at(s: &str) -> LastAccessed {
    LastAccessed::At(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc))
}

/// What the shared server holds: six roles of account A (more than one page of 2), two of
/// account B, one of them with A's account id in its name (Aardvark's phrase search matches it).
fn seed() -> serde_json::Value {
    let used = |ns: &str, name: &str, ms: i64| {
        json!({"serviceNamespace": ns, "serviceName": name, "lastAuthenticated": ms,
               "totalAuthenticatedEntities": 1})
    };
    let never = |ns: &str, name: &str| {
        json!({"serviceNamespace": ns, "serviceName": name, "lastAuthenticated": 0,
               "totalAuthenticatedEntities": 0})
    };
    let mut seed = serde_json::Map::new();
    seed.insert(
        arn(A, "app-a"),
        json!([
            used("s3", "Amazon S3", S3_USED_MS),
            never("sqs", "Amazon SQS"),
            used("kms", "AWS Key Management Service", KMS_USED_MS)
        ]),
    );
    for name in ["app-b", "app-c", "app-d", "app-e"] {
        seed.insert(arn(A, name), json!([used("s3", "Amazon S3", S3_USED_MS)]));
    }
    seed.insert(arn(A, "no-data"), json!([]));
    seed.insert(arn(B, "other"), json!([never("ec2", "Amazon EC2")]));
    seed.insert(
        arn(B, &format!("mirror-{A}")),
        json!([used("s3", "Amazon S3", S3_USED_MS)]),
    );
    serde_json::Value::Object(seed)
}

/// A running Aardvark server. It exits when its stdin closes: when dropped, or when the test
/// process ends (the shared server is never dropped).
struct Server {
    child: Child,
    _stdin: ChildStdin,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(seed: &serde_json::Value) -> Server {
        let python = python();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/aardvark_server.py");
        let dir = tempfile::tempdir().unwrap();
        let seed_file = dir.path().join("seed.json");
        std::fs::write(&seed_file, seed.to_string()).unwrap();
        let stderr_file = dir.path().join("stderr.log");
        let port = free_port();
        let mut child = Command::new(&python)
            .arg(&script)
            .arg(port.to_string())
            .arg(&seed_file)
            .args(["--last-updated", LAST_UPDATED, "--exit-on-stdin-eof"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // A file, not a pipe: nobody drains a pipe, and a full one would stall the server.
            .stderr(std::fs::File::create(&stderr_file).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line == format!("READY {port}") => break,
                Ok(_) => continue,
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "aardvark_server.py did not print READY {port} ({e:?}); its stderr:\n{}",
                        std::fs::read_to_string(&stderr_file).unwrap_or_default()
                    );
                }
            }
        }
        Server {
            child,
            _stdin: stdin,
            port,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/api/1/advisors", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The server all tests share (read-only data).
fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| Server::start(&seed()))
}

/// The test environment's Python: `REPOKID_TEST_AARDVARK_PYTHON`, else the venv scripts/test-env
/// builds. Missing is a failure, not a skip.
fn python() -> PathBuf {
    let path = std::env::var_os("REPOKID_TEST_AARDVARK_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-env/aardvark/bin/python")
        });
    assert!(
        path.exists(),
        "no Python with Aardvark 0.4.1 at {}: run scripts/test-env (it installs one under \
         target/test-env) or set REPOKID_TEST_AARDVARK_PYTHON",
        path.display()
    );
    path
}

/// A port nothing listens on (bound, read, released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn inventory(roles: &[(&str, &str)]) -> Inventory {
    let mut inv = Inventory::default();
    for (account, name) in roles {
        let role = Role::new(account, name, PolicyMap::new());
        assert_eq!(role.arn, arn(account, name), "seed ARNs match Role::new's");
        inv.roles.entry(account.to_string()).or_default().push(role);
    }
    inv
}

/// A client with pages of 2; its debug log shows in a failing test's output.
fn source(url: &str) -> AardvarkSource {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("repokid=debug")
        .with_test_writer()
        .try_init();
    AardvarkSource::new(url, Duration::from_secs(10))
        .unwrap()
        .with_page_size(2)
}

fn aardvark_error(result: Result<repokid::sources::Usage, SourceError>) -> AardvarkError {
    match result {
        Err(SourceError::Aardvark(e)) => e,
        Err(other) => panic!("expected an Aardvark error, got {other}"),
        Ok(usage) => panic!("expected an error, got {usage:?}"),
    }
}

#[test]
fn an_account_over_several_pages() {
    let server = server();
    let src = source(&server.url());
    assert_eq!(src.describe(), format!("aardvark {}", server.url()));
    let inv = inventory(&[
        (A, "app-a"),
        (A, "app-b"),
        (A, "app-c"),
        (A, "app-d"),
        (A, "app-e"),
    ]);
    let usage = src.usage(&inv, now()).unwrap();
    assert!(usage.failures.is_empty());
    // Everything Aardvark has for the account (no-data too, which the inventory lacks), over four
    // pages of two, and nothing of account B, though B's mirror-111111111111 matches the phrase.
    let expected: Vec<String> = ["app-a", "app-b", "app-c", "app-d", "app-e", "no-data"]
        .iter()
        .map(|n| arn(A, n))
        .collect();
    assert_eq!(usage.by_arn.keys().cloned().collect::<Vec<_>>(), expected);

    let a = &usage.by_arn[&arn(A, "app-a")];
    assert_eq!(
        a.collected_at,
        Some(Utc.with_ymd_and_hms(2026, 11, 21, 23, 21, 28).unwrap()),
        "lastUpdated"
    );
    assert_eq!(a.services.keys().collect::<Vec<_>>(), ["kms", "s3", "sqs"]);
    assert_eq!(a.services["s3"].last_accessed, at("2026-11-16T23:21:28Z"));
    assert_eq!(a.services["sqs"].last_accessed, LastAccessed::Never);
    assert_eq!(a.services["kms"].last_accessed, at("2018-12-26T01:27:00Z"));
    assert_eq!(a.services["s3"].actions, None);
    for name in ["app-b", "app-c", "app-d", "app-e"] {
        let r = &usage.by_arn[&arn(A, name)];
        assert_eq!(r.services.len(), 1, "{name}");
        assert_eq!(r.services["s3"].last_accessed, at("2026-11-16T23:21:28Z"));
    }

    // Both accounts: each gets its own roles, the mirror role under B.
    let usage = src
        .usage(&inventory(&[(A, "app-a"), (B, "other")]), now())
        .unwrap();
    assert_eq!(usage.by_arn.len(), 8);
    assert_eq!(
        usage.by_arn[&arn(B, "other")].services["ec2"].last_accessed,
        LastAccessed::Never
    );
    assert!(usage.by_arn.contains_key(&arn(B, &format!("mirror-{A}"))));

    // The default page size gets the same in one page.
    let one_page = AardvarkSource::new(&server.url(), Duration::from_secs(10)).unwrap();
    assert_eq!(one_page.usage(&inv, now()).unwrap().by_arn.len(), 6);
}

#[test]
fn roles_without_data_get_no_entry_and_stragglers_are_asked_for_by_arn() {
    let server = server();
    // ghost: unknown to Aardvark. App-E: Aardvark holds it as app-e; the account query files it
    // under app-e, and the by-ARN query (which Aardvark matches case-insensitively) finds it for
    // the inventory's spelling.
    let inv = inventory(&[(A, "ghost"), (A, "no-data"), (A, "App-E"), (B, "ghost")]);
    let usage = source(&server.url()).usage(&inv, now()).unwrap();
    assert!(usage.failures.is_empty(), "missing data is not a failure");
    assert!(!usage.by_arn.contains_key(&arn(A, "ghost")));
    assert!(!usage.by_arn.contains_key(&arn(B, "ghost")));

    let no_data = &usage.by_arn[&arn(A, "no-data")];
    assert!(no_data.services.is_empty());
    assert_eq!(no_data.collected_at, None, "no entries, no collection time");

    assert_eq!(
        usage.by_arn[&arn(A, "App-E")],
        usage.by_arn[&arn(A, "app-e")]
    );
}

#[test]
fn nothing_listening_names_the_url() {
    let url = format!("http://127.0.0.1:{}/api/1/advisors", free_port());
    let started = Instant::now();
    let err = aardvark_error(source(&url).usage(&inventory(&[(A, "app-a")]), now()));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(matches!(err, AardvarkError::Connection { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&url), "{message}");
    assert!(message.contains(&format!("account {A}")), "{message}");
}

#[test]
fn a_server_that_never_answers_times_out_naming_the_url() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/api/1/advisors",
        listener.local_addr().unwrap().port()
    );
    // Accepts, reads nothing, answers nothing; the connections stay open until the process ends.
    std::thread::spawn(move || {
        let mut held: Vec<TcpStream> = Vec::new();
        for stream in listener.incoming() {
            held.extend(stream.ok());
        }
    });
    let timeout = Duration::from_secs(1);
    let src = AardvarkSource::new(&url, timeout).unwrap();
    let started = Instant::now();
    let err = aardvark_error(src.usage(&inventory(&[(A, "app-a")]), now()));
    let elapsed = started.elapsed();
    assert!(
        elapsed >= timeout && elapsed < timeout * 4,
        "took {elapsed:?}"
    );
    assert!(matches!(err, AardvarkError::Timeout { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&url), "{message}");
    assert!(message.contains("within 1s"), "{message}");
}

#[test]
fn a_status_other_than_200_names_status_and_url() {
    let server = server();
    let url = format!("http://127.0.0.1:{}/api/1/nothing", server.port);
    let err = aardvark_error(source(&url).usage(&inventory(&[(A, "app-a")]), now()));
    match &err {
        AardvarkError::Status { status, body, .. } => {
            assert_eq!(*status, 404);
            assert!(body.contains("Not Found"), "{body}");
            assert!(body.chars().count() <= 201, "{body}");
        }
        other => panic!("expected a status error, got {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains(&url) && message.contains("HTTP 404"),
        "{message}"
    );
}

/// A one-trick HTTP server: answers every request with 200 and `body`. Returns its URL.
fn canned(body: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/api/1/advisors",
        listener.local_addr().unwrap().port()
    );
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            // Read the whole request (headers, then Content-Length bytes) before answering.
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let n = stream.read(&mut buf).unwrap_or(0);
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request).to_ascii_lowercase();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length: usize = text[..end]
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    if n == 0 || request.len() >= end + 4 + length {
                        break;
                    }
                } else if n == 0 {
                    break;
                }
            }
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[test]
fn a_response_that_is_not_the_advisors_shape_is_an_error() {
    for (body, expected) in [
        ("ok", "not JSON"),
        (r#"{"count": 0, "page": 1}"#, "no \"total\" key"),
        (
            r#"["arn:aws:iam::111111111111:role/app-a"]"#,
            "expected an object",
        ),
    ] {
        let url = canned(body);
        let err = aardvark_error(source(&url).usage(&inventory(&[(A, "app-a")]), now()));
        assert!(matches!(err, AardvarkError::Response { .. }), "{err:?}");
        let message = err.to_string();
        assert!(
            message.contains(&url) && message.contains(expected),
            "{message}"
        );
    }

    // Role data the usage parser rejects names the URL too.
    let url = canned(
        r#"{"arn:aws:iam::111111111111:role/app-a": [{"serviceNamespace": "s3"}], "total": 1}"#,
    );
    let err = aardvark_error(source(&url).usage(&inventory(&[(A, "app-a")]), now()));
    assert!(matches!(err, AardvarkError::Usage { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&url) && message.contains("lastAuthenticated"),
        "{message}"
    );
}

#[test]
fn works_when_called_from_inside_a_tokio_runtime() {
    // The client blocks on a runtime of its own; inside another one it moves to a helper thread
    // instead of panicking.
    let server = server();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let usage = runtime
        .block_on(async { source(&server.url()).usage(&inventory(&[(A, "app-a")]), now()) })
        .unwrap();
    assert_eq!(usage.by_arn.len(), 6);
}
