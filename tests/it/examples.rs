//! The library examples (`examples/webhook_hook.rs`, `examples/tag_filter.rs`), tested through
//! their own code on the bundled demo data.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

#[allow(dead_code)] // the tests use only part of each example
#[path = "../../examples/webhook_hook.rs"]
mod webhook_hook;

#[allow(dead_code)]
#[path = "../../examples/tag_filter.rs"]
mod tag_filter;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use repokid::engine::{Catalog, Ineligible};
use repokid::ops::PlannedRole;
use serde_json::Value;

const ACCOUNT: &str = "111122223333";

/// One request the test server received.
#[derive(Debug, Clone)]
struct Request {
    /// The request line, e.g. `POST /hook HTTP/1.1`.
    line: String,
    /// Header names (lowercase) and values.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A local HTTP server answering every request with one status. It handles at most
/// `max_connections` connections, then stops; [`Server::finish`] stops it earlier.
struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<Request>>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(status: u16, max_connections: usize) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, requests) = (stop.clone(), requests.clone());
            std::thread::spawn(move || {
                for _ in 0..max_connections {
                    let Ok((stream, _)) = listener.accept() else {
                        continue;
                    };
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Some(request) = serve(stream, status) {
                        requests.lock().unwrap().push(request);
                    }
                }
            })
        };
        Server {
            addr,
            stop,
            requests,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://{}/repokid/hook", self.addr)
    }

    /// Stops the server and returns what it received, in order.
    fn finish(mut self) -> Vec<Request> {
        self.shutdown();
        self.requests.lock().unwrap().clone()
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            // Wake a pending accept; refused when the server has already stopped.
            let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
            thread.join().unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.shutdown();
        }
    }
}

/// Reads one request (head, then `Content-Length` bytes of body) and answers `status`.
fn serve(stream: TcpStream, status: u16) -> Option<Request> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let line = line.trim_end().to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (name, value) = h.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    let reason = if status == 200 { "OK" } else { "Error" };
    let answer =
        format!("HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    (&stream).write_all(answer.as_bytes()).ok()?;
    Some(Request {
        line,
        headers,
        body,
    })
}

/// The removable actions of a planned role, in catalog order.
fn removable(p: &PlannedRole) -> Vec<String> {
    let c = Catalog::embedded();
    p.plan
        .decisions
        .sorted()
        .into_iter()
        .filter(|(_, r)| r.is_removable())
        .map(|(id, _)| c.name(id).to_string())
        .collect()
}

fn names<'a>(roles: impl IntoIterator<Item = &'a PlannedRole>) -> BTreeSet<String> {
    roles.into_iter().map(|p| p.role.name.clone()).collect()
}

#[test]
fn webhook_posts_one_body_per_role_with_its_removal_list() {
    let server = Server::start(200, 64);
    let host = server.addr.to_string();
    let (report, planned) = webhook_hook::plan_demo(&server.url()).unwrap();
    let requests = server.finish();

    // The hook observes: the demo outcome is unchanged (README of examples/demo, with the grace
    // period off): 24 proposals, platform-automation over the size limit.
    let eligible: Vec<&PlannedRole> = planned.iter().filter(|p| p.plan.eligible()).collect();
    assert_eq!(eligible.len(), 24);
    assert!(
        planned
            .iter()
            .all(|p| webhook_hook::hook_failed(p).is_none())
    );
    let over_size: Vec<&PlannedRole> = planned
        .iter()
        .filter(|p| {
            p.plan
                .ineligible
                .iter()
                .any(|i| matches!(i, Ineligible::OverSizeLimit(_)))
        })
        .collect();
    assert_eq!(
        names(over_size.clone()),
        BTreeSet::from(["platform-automation".to_string()])
    );

    // One POST per role the hook saw with something to remove: the eligible roles, and the one
    // whose rewrite is refused afterwards for its size.
    let posted = webhook_hook::posted(&planned);
    assert_eq!(
        names(posted.clone()),
        names(eligible.iter().copied().chain(over_size))
    );
    assert_eq!(requests.len(), posted.len());

    let c = Catalog::embedded();
    for (request, p) in requests.iter().zip(&posted) {
        assert_eq!(request.line, "POST /repokid/hook HTTP/1.1");
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert_eq!(request.header("connection"), Some("close"));
        assert_eq!(
            request.header("content-length"),
            Some(request.body.len().to_string().as_str())
        );
        assert_eq!(request.header("host"), Some(host.as_str()));
        let json = request.json();
        assert_eq!(json["hook"], "webhook");
        assert_eq!(json["account"], ACCOUNT);
        assert_eq!(json["role"], p.role.name.as_str());
        assert_eq!(json["arn"], p.role.arn.as_str());
        assert_eq!(json["usage_window_days"], 90);
        let sent: Vec<String> =
            serde_json::from_value(json["potentially_removable"].clone()).unwrap();
        assert_eq!(sent, removable(p), "{}", p.role.name);
        // For a proposed role, that is exactly what the report removes.
        if let Some(r) = report
            .roles
            .iter()
            .find(|r| r.role == p.role.name && r.eligible)
        {
            let reported: Vec<String> = r.removed.iter().map(|a| a.action.clone()).collect();
            assert_eq!(sent, reported, "{}", p.role.name);
        }
        assert!(sent.iter().all(|a| c.lookup(a).is_some()));
    }

    // Spot checks from the demo README.
    let body = |role: &str| {
        requests
            .iter()
            .map(Request::json)
            .find(|j| j["role"] == role)
            .unwrap_or_else(|| panic!("no POST for {role}"))
    };
    let orders = body("orders-api");
    let orders: Vec<&str> = orders["potentially_removable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(orders.contains(&"sns:Publish"), "{orders:?}");
    assert!(
        !orders.iter().any(|a| a.starts_with("dynamodb:")),
        "{orders:?}"
    );
    let ci = body("ci-deployer");
    assert!(
        !ci["potentially_removable"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "iam:PassRole")
    );
    for role in [
        "payments-api",
        "vendor-sync",
        "terraform-state",
        "image-resizer-fn",
    ] {
        assert!(
            !requests.iter().any(|r| r.json()["role"] == role),
            "{role} was posted"
        );
    }
}

#[test]
fn webhook_error_answer_makes_the_role_ineligible_naming_the_hook() {
    let server = Server::start(500, 64);
    let (report, planned) = webhook_hook::plan_demo(&server.url()).unwrap();
    let requests = server.finish();

    let failed: Vec<&PlannedRole> = planned
        .iter()
        .filter(|p| webhook_hook::hook_failed(p).is_some())
        .collect();
    // Every role the hook posted for failed, and nothing is proposed.
    assert_eq!(failed.len(), requests.len());
    assert_eq!(failed.len(), 25);
    assert!(webhook_hook::posted(&planned).is_empty());
    assert!(report.roles.iter().all(|r| !r.eligible));
    for p in &failed {
        let message = webhook_hook::hook_failed(p).unwrap();
        assert!(message.contains("HTTP 500"), "{message}");
        assert!(message.contains("/repokid/hook"), "{message}");
    }
    let orders = report
        .roles
        .iter()
        .find(|r| r.role == "orders-api")
        .unwrap();
    assert!(orders.removed.is_empty());
    match orders.reasons.as_slice() {
        [Ineligible::HookFailed { hook, message }] => {
            assert_eq!(hook, "webhook");
            assert!(message.contains("500"), "{message}");
        }
        other => panic!("expected one HookFailed, got {other:?}"),
    }
    let summary = orders.reasons[0].summary();
    assert!(summary.contains("webhook"), "{summary}");
    // Roles the hook did not run for keep their own reasons.
    let payments = report
        .roles
        .iter()
        .find(|r| r.role == "payments-api")
        .unwrap();
    assert!(matches!(
        payments.reasons.as_slice(),
        [Ineligible::Filtered { .. }]
    ));
}

#[test]
fn unreachable_webhook_makes_the_role_ineligible_naming_the_hook() {
    // A port nothing listens on: bind, note it, close.
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{addr}/hook");
    let (report, planned) = webhook_hook::plan_demo(&url).unwrap();
    assert!(report.roles.iter().all(|r| !r.eligible));
    let p = planned
        .iter()
        .find(|p| p.role.name == "orders-api")
        .unwrap();
    match p.plan.ineligible.as_slice() {
        [Ineligible::HookFailed { hook, message }] => {
            assert_eq!(hook, "webhook");
            assert!(message.contains("cannot connect"), "{message}");
        }
        other => panic!("expected one HookFailed, got {other:?}"),
    }
}

#[test]
fn webhook_url_parsing() {
    use webhook_hook::{HttpUrl, parse_url};
    let url = |host: &str, port, path: &str| HttpUrl {
        host: host.into(),
        port,
        path: path.into(),
    };
    assert_eq!(
        parse_url("http://127.0.0.1:8080/a/b?x=1"),
        Ok(url("127.0.0.1", 8080, "/a/b?x=1"))
    );
    assert_eq!(
        parse_url("http://example.com"),
        Ok(url("example.com", 80, "/"))
    );
    assert_eq!(
        parse_url("http://example.com?x"),
        Ok(url("example.com", 80, "/?x"))
    );
    assert_eq!(
        parse_url("http://[::1]:9000/h"),
        Ok(url("[::1]", 9000, "/h"))
    );
    assert_eq!(parse_url("http://[::1]/h"), Ok(url("[::1]", 80, "/h")));
    for bad in [
        "https://example.com/",
        "example.com",
        "http://:80/",
        "http://h:99999/",
        "http://u@h/",
    ] {
        assert!(parse_url(bad).is_err(), "{bad}");
    }
}

#[test]
fn tag_filter_excludes_exactly_the_tagged_demo_roles() {
    use tag_filter::{FILTER_ID, TagFilter};
    let filter = TagFilter {
        key: "team".into(),
        value: "payments".into(),
    };
    let (inventory, _) = tag_filter::demo_inputs().unwrap();
    let tagged: BTreeSet<String> = inventory.roles[ACCOUNT]
        .iter()
        .filter(|r| r.tags.iter().any(|(k, v)| k == "team" && v == "payments"))
        .map(|r| r.name.clone())
        .collect();
    assert_eq!(
        tagged,
        BTreeSet::from([
            "payments-api".to_string(),
            "payments-reconciler".to_string()
        ])
    );

    let (report, planned) = tag_filter::plan_demo(filter).unwrap();
    let excluded: BTreeSet<String> = report
        .roles
        .iter()
        .filter(|r| !tag_filter::tag_hits(r).is_empty())
        .map(|r| r.role.clone())
        .collect();
    assert_eq!(excluded, tagged);
    for r in report.roles.iter().filter(|r| tagged.contains(&r.role)) {
        assert!(!r.eligible);
        let hits = tag_filter::tag_hits(r);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].filter, FILTER_ID);
        assert_eq!(hits[0].reason, "tagged team=payments");
        // The custom filter runs after the configured ones: the opt-out tag hits first.
        let Ineligible::Filtered { hits } = &r.reasons[0] else {
            panic!("{:?}", r.reasons);
        };
        let ids: Vec<&str> = hits.iter().map(|h| h.filter.as_str()).collect();
        assert_eq!(ids, ["opt-out", "tag"]);
        assert!(r.reasons[0].summary().contains("tagged team=payments"));
    }
    // The report's JSON names the filter too.
    let json = serde_json::to_value(&report).unwrap();
    let text = json.to_string();
    assert!(text.contains("\"filter\":\"tag\""), "{text:.400}");
    // Nothing else changed: the demo's 24 proposals stand.
    assert_eq!(planned.iter().filter(|p| p.plan.eligible()).count(), 24);
}

#[test]
fn tag_filter_on_another_tag_excludes_eligible_roles() {
    let filter = tag_filter::TagFilter {
        key: "team".into(),
        value: "orders".into(),
    };
    let (report, _) = tag_filter::plan_demo(filter).unwrap();
    let excluded: BTreeSet<&str> = report
        .roles
        .iter()
        .filter(|r| !tag_filter::tag_hits(r).is_empty())
        .map(|r| r.role.as_str())
        .collect();
    assert_eq!(excluded, BTreeSet::from(["orders-api", "orders-worker"]));
    let orders = report
        .roles
        .iter()
        .find(|r| r.role == "orders-api")
        .unwrap();
    assert!(!orders.eligible);
    assert!(orders.removed.is_empty());
    assert_eq!(report.roles.iter().filter(|r| r.eligible).count(), 22);
}
