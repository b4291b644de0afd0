//! The smart-HTTP transport registered with libgit2: the per-push context it reads, the
//! subtransport turning libgit2's actions into HTTP requests, and its streams.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::Duration;

use git2::transport::{Service, SmartSubtransport, SmartSubtransportStream, Transport};
use reqwest::Url;
use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION};

use super::failure::{Failure, FailureSlot};
use super::http::{Http, TIMEOUT};
use super::target::{Credentials, Origin, TOKEN_USER};

/// What one push hands to the transports libgit2 creates for it.
#[derive(Clone)]
pub(super) struct PushContext {
    pub(super) credentials: Arc<Credentials>,
    pub(super) failure: FailureSlot,
}

thread_local! {
    /// The context of the [`push`](super::push) running on this thread, if any. See the module documentation.
    static CONTEXT: RefCell<Option<PushContext>> = const { RefCell::new(None) };
}

/// Sets [`CONTEXT`] and restores the previous value when dropped, on return or unwind.
pub(super) struct ContextGuard {
    pub(super) previous: Option<PushContext>,
}

impl ContextGuard {
    pub(super) fn set(context: PushContext) -> ContextGuard {
        let previous = CONTEXT.with(|c| c.replace(Some(context)));
        ContextGuard { previous }
    }
}

impl Drop for ContextGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CONTEXT.with(|c| *c.borrow_mut() = previous);
    }
}

/// Registers the transports once; `Some(message)` when that failed.
pub(super) fn ensure_registered() -> Option<String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| register_transports().map_err(|e| e.message().to_owned()))
        .as_ref()
        .err()
        .cloned()
}

#[allow(unsafe_code)]
pub(super) fn register_transports() -> Result<(), git2::Error> {
    // SAFETY: `git2::transport::register` is unsafe only because libgit2 appends to its global
    // list of custom transports without a lock, so it must not run while another thread looks a
    // transport up (which libgit2 does when a remote connects) or registers one. Here:
    // * it runs exactly once, inside `OnceLock::get_or_init`, which blocks every other caller
    //   of `ensure_registered` until it has finished, and `push` calls `ensure_registered`
    //   before it creates its remote, so no push looks a transport up during registration;
    // * `push` is the only code in repokid that connects a git2 remote (the policy store works
    //   on local repositories only: no fetch, clone or ls-remote), so nothing else can;
    // * the factory is a plain `fn`: `Send + Sync + 'static`, as the list keeps it forever.
    unsafe {
        git2::transport::register("https", transport_factory)?;
        git2::transport::register("http", transport_factory)?;
    }
    Ok(())
}

/// Called by libgit2, on the thread connecting the remote, for every `http(s)://` remote.
pub(super) fn transport_factory(remote: &git2::Remote<'_>) -> Result<Transport, git2::Error> {
    let context = CONTEXT.with(|c| c.borrow().clone());
    let subtransport = HttpSubtransport::new(context)?;
    Transport::smart(remote, true, subtransport)
}

/// State shared by a subtransport and its streams.
pub(super) struct Shared {
    pub(super) http: Http,
    pub(super) credentials: Option<Arc<Credentials>>,
    pub(super) failure: FailureSlot,
    /// The repository URL as redirected by the last `info/refs` request, used by the `POST`
    /// that follows (as git does when a repository has moved).
    pub(super) redirected_base: Arc<Mutex<Option<String>>>,
}

/// The smart-HTTP subtransport: turns libgit2's actions into HTTP requests.
pub(super) struct HttpSubtransport {
    pub(super) shared: Arc<Shared>,
}

impl HttpSubtransport {
    pub(super) fn new(context: Option<PushContext>) -> Result<HttpSubtransport, git2::Error> {
        let (credentials, failure) = match context {
            Some(c) => (Some(c.credentials), c.failure),
            None => (None, Arc::new(Mutex::new(None))),
        };
        Ok(HttpSubtransport {
            shared: Arc::new(Shared {
                http: Http::new()?,
                credentials,
                failure,
                redirected_base: Arc::new(Mutex::new(None)),
            }),
        })
    }
}

/// What a service asks of HTTP.
pub(super) struct Exchange {
    pub(super) post: bool,
    /// Appended to the repository URL.
    pub(super) suffix: &'static str,
    /// The request's Content-Type (POST only).
    pub(super) content_type: Option<&'static str>,
    /// The Content-Type the answer must have (and the request's Accept).
    pub(super) expect: &'static str,
}

impl Exchange {
    pub(super) fn of(service: Service) -> Exchange {
        match service {
            Service::UploadPackLs => Exchange {
                post: false,
                suffix: "/info/refs?service=git-upload-pack",
                content_type: None,
                expect: "application/x-git-upload-pack-advertisement",
            },
            Service::UploadPack => Exchange {
                post: true,
                suffix: "/git-upload-pack",
                content_type: Some("application/x-git-upload-pack-request"),
                expect: "application/x-git-upload-pack-result",
            },
            Service::ReceivePackLs => Exchange {
                post: false,
                suffix: "/info/refs?service=git-receive-pack",
                content_type: None,
                expect: "application/x-git-receive-pack-advertisement",
            },
            Service::ReceivePack => Exchange {
                post: true,
                suffix: "/git-receive-pack",
                content_type: Some("application/x-git-receive-pack-request"),
                expect: "application/x-git-receive-pack-result",
            },
        }
    }

    /// For messages, e.g. `GET info/refs?service=git-receive-pack`.
    pub(super) fn describe(&self) -> String {
        let method = if self.post { "POST" } else { "GET" };
        format!("{method} {}", &self.suffix[1..])
    }
}

impl SmartSubtransport for HttpSubtransport {
    fn action(
        &self,
        url: &str,
        service: Service,
    ) -> Result<Box<dyn SmartSubtransportStream>, git2::Error> {
        let exchange = Exchange::of(service);
        let base = {
            let mut redirected = self
                .shared
                .redirected_base
                .lock()
                .map_err(|_| git2::Error::from_str("HTTP transport state poisoned"))?;
            match service {
                // A new advertisement starts from the URL libgit2 has.
                Service::UploadPackLs | Service::ReceivePackLs => {
                    *redirected = None;
                    url.to_owned()
                }
                Service::UploadPack | Service::ReceivePack => {
                    redirected.clone().unwrap_or_else(|| url.to_owned())
                }
            }
        };
        let mut request_url = Url::parse(&format!(
            "{}{}",
            base.trim_end_matches('/'),
            exchange.suffix
        ))
        .map_err(|e| {
            git2::Error::from_str(&format!("invalid URL for {}: {e}", exchange.describe()))
        })?;
        let _ = request_url.set_username("");
        let _ = request_url.set_password(None);
        Ok(Box::new(HttpStream {
            shared: Arc::clone(&self.shared),
            state: StreamState::Writing {
                url: request_url,
                exchange,
                body: Vec::new(),
            },
        }))
    }

    fn close(&self) -> Result<(), git2::Error> {
        Ok(())
    }
}

/// What the request task sends to the reading stream.
pub(super) enum Message {
    Data(Vec<u8>),
    End,
    Failed(Failure),
}

pub(super) enum StreamState {
    /// Collecting the request body; nothing sent yet.
    Writing {
        url: Url,
        exchange: Exchange,
        body: Vec<u8>,
    },
    /// The request is sent; the response body arrives on `receiver`.
    Reading {
        receiver: mpsc::Receiver<Message>,
        chunk: Vec<u8>,
        offset: usize,
    },
    /// The response has been read to its end.
    Done,
    /// The request failed; every read repeats the failure.
    Failed(String),
}

/// One request/response exchange, as libgit2's smart protocol reads and writes it.
pub(super) struct HttpStream {
    pub(super) shared: Arc<Shared>,
    pub(super) state: StreamState,
}

impl HttpStream {
    /// Sends the request; from then on the response body comes through the returned channel.
    pub(super) fn start(
        &self,
        url: Url,
        exchange: Exchange,
        body: Vec<u8>,
    ) -> mpsc::Receiver<Message> {
        let shared = &self.shared;
        let request_name = exchange.describe();
        let mut request = if exchange.post {
            shared.http.client.post(url.clone()).body(body)
        } else {
            shared.http.client.get(url.clone())
        };
        request = request.header(ACCEPT, exchange.expect);
        if let Some(content_type) = exchange.content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        let token_sent = match &shared.credentials {
            Some(c) if c.origin == Origin::of(&url) => {
                // basic_auth marks the header sensitive.
                request = request.basic_auth(TOKEN_USER, Some(&c.token));
                true
            }
            Some(c) => {
                tracing::warn!(
                    url = %url,
                    origin = ?c.origin,
                    "git request to another origin than the one pushed to; the token is not sent"
                );
                false
            }
            None => false,
        };
        tracing::debug!(request = %request_name, url = %url, "git smart-HTTP request");

        let (sender, receiver) = mpsc::sync_channel(16);
        // Not the whole `Shared`: the task must never hold the last reference to the runtime
        // it runs on.
        let redirected_base = Arc::clone(&shared.redirected_base);
        shared.http.spawn(async move {
            let send = |message: Message| {
                // Blocks only this transport's own runtime worker, and only while libgit2 has
                // not read the earlier chunks yet.
                tokio::task::block_in_place(|| sender.send(message).is_ok())
            };
            let mut response = match request.send().await {
                Ok(r) => r,
                Err(e) => {
                    send(Message::Failed(Failure::network(&e)));
                    return;
                }
            };
            let status = response.status();
            tracing::debug!(request = %request_name, status = status.as_u16(), "git smart-HTTP response");
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .and_then(|l| response.url().join(l).ok())
                    .map(|mut l| {
                        let _ = l.set_username("");
                        let _ = l.set_password(None);
                        l.to_string()
                    })
                    .unwrap_or_else(|| "an unknown location".into());
                send(Message::Failed(Failure::Redirect { location }));
                return;
            }
            if !status.is_success() {
                send(Message::Failed(Failure::Status {
                    request: request_name,
                    status: status.as_u16(),
                    token_sent,
                }));
                return;
            }
            let content_type = response
                .headers()
                .get(CONTENT_TYPE)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .unwrap_or_default();
            let mime = content_type.split(';').next().unwrap_or_default().trim();
            if !mime.eq_ignore_ascii_case(exchange.expect) {
                send(Message::Failed(Failure::NotGit {
                    request: request_name,
                    content_type,
                }));
                return;
            }
            if !exchange.post && response.url() != &url {
                // Followed a (same-host) redirect: the POST goes where the refs came from.
                let mut base = response.url().clone();
                base.set_query(None);
                let base = base.as_str().trim_end_matches("/info/refs").to_owned();
                if let Ok(mut redirected) = redirected_base.lock() {
                    *redirected = Some(base);
                }
            }
            loop {
                let message = match response.chunk().await {
                    Ok(Some(bytes)) => Message::Data(bytes.to_vec()),
                    Ok(None) => Message::End,
                    Err(e) => Message::Failed(Failure::network(&e)),
                };
                let last = !matches!(message, Message::Data(_));
                if !send(message) || last {
                    return;
                }
            }
        });
        receiver
    }

    /// Records `failure` for [`push`](super::push) and turns it into the I/O error libgit2 reports.
    pub(super) fn fail(&mut self, failure: Failure) -> io::Error {
        let message = failure.to_string();
        if let Ok(mut slot) = self.shared.failure.lock() {
            // The first failure is the cause; later ones are consequences.
            slot.get_or_insert(failure);
        }
        self.state = StreamState::Failed(message.clone());
        io::Error::other(message)
    }
}

impl Read for HttpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match &mut self.state {
                StreamState::Writing { .. } => {
                    let StreamState::Writing {
                        url,
                        exchange,
                        body,
                    } = std::mem::replace(&mut self.state, StreamState::Done)
                    else {
                        unreachable!("matched above")
                    };
                    let receiver = self.start(url, exchange, body);
                    self.state = StreamState::Reading {
                        receiver,
                        chunk: Vec::new(),
                        offset: 0,
                    };
                }
                StreamState::Reading {
                    receiver,
                    chunk,
                    offset,
                } => {
                    if *offset < chunk.len() {
                        let n = buf.len().min(chunk.len() - *offset);
                        buf[..n].copy_from_slice(&chunk[*offset..*offset + n]);
                        *offset += n;
                        return Ok(n);
                    }
                    // reqwest enforces TIMEOUT; the margin only guards against a lost task.
                    match receiver.recv_timeout(TIMEOUT + Duration::from_secs(5)) {
                        Ok(Message::Data(data)) => {
                            *chunk = data;
                            *offset = 0;
                        }
                        Ok(Message::End) => self.state = StreamState::Done,
                        Ok(Message::Failed(failure)) => return Err(self.fail(failure)),
                        Err(mpsc::RecvTimeoutError::Timeout) => {
                            return Err(self.fail(Failure::Network {
                                detail: format!("timed out after {} s", TIMEOUT.as_secs()),
                            }));
                        }
                        Err(mpsc::RecvTimeoutError::Disconnected) => {
                            return Err(self.fail(Failure::Network {
                                detail: "the response ended unexpectedly".into(),
                            }));
                        }
                    }
                }
                StreamState::Done => return Ok(0),
                StreamState::Failed(message) => return Err(io::Error::other(message.clone())),
            }
        }
    }
}

impl Write for HttpStream {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match &mut self.state {
            StreamState::Writing { body, .. } => {
                body.extend_from_slice(data);
                Ok(data.len())
            }
            _ => Err(io::Error::other(
                "git smart-HTTP: write after the response was read",
            )),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
