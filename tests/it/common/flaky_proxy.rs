//! An HTTP/1.1 proxy in front of a server (moto) that forwards a fixed number of requests and
//! then goes dark, to play an endpoint that stops answering in the middle of a run.
//!
//! Each client request (head up to `\r\n\r\n`, body by `Content-Length`) is forwarded over a new
//! upstream connection with `Connection: close`; the whole response is read and written back
//! with a `Content-Length`, and the client connection is kept alive for its next request. Once
//! `budget` requests have been forwarded, every later request is dropped ([`Dark::Close`]: the
//! connection is closed without a response) or never answered ([`Dark::Hang`]: the connection
//! stays open and silent until the client gives up).
//!
//! Every request is logged as `Action RoleName/PolicyName` from its form body (IAM and STS use
//! the AWS query protocol), with whether it was forwarded, so a test can assert exactly which
//! calls reached the server.

#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy does with requests once its budget is spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dark {
    /// Close the connection without a response.
    Close,
    /// Keep the connection open and never answer.
    Hang,
}

/// One request the proxy received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// `Action RoleName/PolicyName` (the parts the body has), e.g. `PutRolePolicy app/data`.
    pub call: String,
    /// Whether it was forwarded (and answered); false once the proxy is dark.
    pub forwarded: bool,
}

struct State {
    upstream: String,
    budget: Option<usize>,
    dark: Dark,
    log: Mutex<Vec<Seen>>,
    problems: Mutex<Vec<String>>,
    stop: AtomicBool,
}

/// A running proxy; stops accepting when dropped.
pub struct FlakyProxy {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    state: Arc<State>,
}

impl FlakyProxy {
    /// A proxy to `upstream` (`http://host:port`) that forwards `budget` requests (all of them
    /// when `None`) and then goes dark as `dark` says.
    pub fn start(upstream: &str, budget: Option<usize>, dark: Dark) -> FlakyProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(State {
            upstream: upstream.trim_start_matches("http://").to_string(),
            budget,
            dark,
            log: Mutex::new(Vec::new()),
            problems: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let st = Arc::clone(&state);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let st = Arc::clone(&st);
                std::thread::spawn(move || {
                    if let Err(e) = serve(&st, conn) {
                        st.problems.lock().unwrap().push(e);
                    }
                });
            }
        });
        FlakyProxy { endpoint, state }
    }

    /// Every request received so far, in order.
    pub fn log(&self) -> Vec<Seen> {
        self.state.log.lock().unwrap().clone()
    }

    /// The calls forwarded so far, in order.
    pub fn forwarded(&self) -> Vec<String> {
        self.log()
            .into_iter()
            .filter(|s| s.forwarded)
            .map(|s| s.call)
            .collect()
    }

    /// The calls dropped so far, in order.
    pub fn dropped(&self) -> Vec<String> {
        self.log()
            .into_iter()
            .filter(|s| !s.forwarded)
            .map(|s| s.call)
            .collect()
    }

    /// What went wrong inside the proxy (requests it could not handle); empty when all is well.
    pub fn problems(&self) -> Vec<String> {
        self.state.problems.lock().unwrap().clone()
    }
}

impl Drop for FlakyProxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees `stop`.
        let _ = TcpStream::connect(self.endpoint.trim_start_matches("http://"));
    }
}

/// An HTTP message: the head lines (start line first) and the body.
struct Message {
    head: Vec<String>,
    body: Vec<u8>,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.head[1..].iter().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// The message with `Connection`-related and framing headers replaced by `extra` and a
    /// `Content-Length`.
    fn to_bytes(&self, extra: &[&str]) -> Vec<u8> {
        let hop = [
            "connection",
            "keep-alive",
            "proxy-connection",
            "transfer-encoding",
            "content-length",
        ];
        let mut out = String::new();
        out.push_str(&self.head[0]);
        out.push_str("\r\n");
        for l in &self.head[1..] {
            let name = l
                .split(':')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if !hop.contains(&name.as_str()) {
                out.push_str(l);
                out.push_str("\r\n");
            }
        }
        for e in extra {
            out.push_str(e);
            out.push_str("\r\n");
        }
        out.push_str(&format!("Content-Length: {}\r\n\r\n", self.body.len()));
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// Reads one message head; `None` at a clean end of stream.
fn read_head(r: &mut impl BufRead) -> Result<Option<Vec<String>>, String> {
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        let n = r
            .read_line(&mut line)
            .map_err(|e| format!("reading: {e}"))?;
        if n == 0 {
            return if head.is_empty() {
                Ok(None)
            } else {
                Err(format!("end of stream inside a head: {head:?}"))
            };
        }
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        if line.is_empty() {
            if head.is_empty() {
                continue; // stray CRLF between messages
            }
            return Ok(Some(head));
        }
        head.push(line);
    }
}

/// Reads one request; `None` when the client closed the connection.
fn read_request(r: &mut impl BufRead) -> Result<Option<Message>, String> {
    let Some(head) = read_head(r)? else {
        return Ok(None);
    };
    let mut m = Message {
        head,
        body: Vec::new(),
    };
    if m.header("transfer-encoding").is_some() {
        // The SDK frames query-protocol bodies with Content-Length; chunked requests are not
        // needed, so they are reported rather than half-supported.
        return Err(format!("chunked request not supported: {:?}", m.head));
    }
    let len: usize = m
        .header("content-length")
        .map(|v| v.parse().map_err(|e| format!("content-length {v:?}: {e}")))
        .transpose()?
        .unwrap_or(0);
    m.body = vec![0; len];
    r.read_exact(&mut m.body)
        .map_err(|e| format!("reading a body: {e}"))?;
    Ok(Some(m))
}

/// The form parameter `key` of a query-protocol body, decoded.
fn form_param(body: &str, key: &str) -> Option<String> {
    body.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| {
            percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

fn describe(req: &Message) -> String {
    let body = String::from_utf8_lossy(&req.body);
    let mut call = form_param(&body, "Action").unwrap_or_else(|| req.head[0].clone());
    if let Some(role) = form_param(&body, "RoleName") {
        call.push(' ');
        call.push_str(&role);
        if let Some(p) = form_param(&body, "PolicyName") {
            call.push('/');
            call.push_str(&p);
        }
    }
    call
}

/// Forwards `req` upstream over a new connection and returns the whole response.
fn forward(upstream: &str, req: &Message) -> Result<Message, String> {
    let mut up = TcpStream::connect(upstream).map_err(|e| format!("connecting upstream: {e}"))?;
    up.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    up.write_all(&req.to_bytes(&["Connection: close"]))
        .map_err(|e| format!("writing upstream: {e}"))?;
    let mut r = BufReader::new(up);
    let head = read_head(&mut r)?.ok_or("upstream closed without a response")?;
    let mut resp = Message {
        head,
        body: Vec::new(),
    };
    if resp
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            r.read_line(&mut size)
                .map_err(|e| format!("reading a chunk: {e}"))?;
            let size = size.trim().split(';').next().unwrap_or("");
            let n = usize::from_str_radix(size, 16).map_err(|e| format!("chunk {size:?}: {e}"))?;
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk)
                .map_err(|e| format!("reading a chunk: {e}"))?;
            if n == 0 {
                break;
            }
            resp.body.extend_from_slice(&chunk[..n]);
        }
    } else if let Some(len) = resp.header("content-length") {
        let len: usize = len.parse().map_err(|e| format!("content-length: {e}"))?;
        resp.body = vec![0; len];
        r.read_exact(&mut resp.body)
            .map_err(|e| format!("reading a response: {e}"))?;
    } else {
        r.read_to_end(&mut resp.body)
            .map_err(|e| format!("reading a response: {e}"))?;
    }
    Ok(resp)
}

/// Serves one client connection: request after request until the client closes it or the
/// proxy goes dark.
fn serve(st: &State, client: TcpStream) -> Result<(), String> {
    let mut writer = client.try_clone().map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(client);
    loop {
        let Some(req) = read_request(&mut reader)? else {
            return Ok(());
        };
        let call = describe(&req);
        let forward_it = {
            let mut log = st.log.lock().unwrap();
            let forwarded = log.iter().filter(|s| s.forwarded).count();
            let ok = st.budget.is_none_or(|b| forwarded < b);
            log.push(Seen {
                call: call.clone(),
                forwarded: ok,
            });
            ok
        };
        if !forward_it {
            match st.dark {
                Dark::Close => {
                    let _ = writer.shutdown(Shutdown::Both);
                }
                Dark::Hang => {
                    // Silent until the client gives up and closes.
                    let mut sink = Vec::new();
                    let _ = reader.read_to_end(&mut sink);
                }
            }
            return Ok(());
        }
        let resp = forward(&st.upstream, &req).map_err(|e| format!("{call}: {e}"))?;
        writer
            .write_all(&resp.to_bytes(&[]))
            .map_err(|e| format!("{call}: writing the response: {e}"))?;
    }
}
