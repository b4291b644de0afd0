//! Pushing branches over HTTPS with a token, through git2, on the crate's own TLS stack.
//!
//! git2 is built without its `https` feature (which would link OpenSSL), so this module gives
//! libgit2 a smart-HTTP *subtransport* implemented on reqwest (rustls), registered for the
//! `https` and `http` schemes. libgit2 keeps doing the git protocol (ref advertisement, pack
//! building, report-status); the subtransport only moves bytes:
//!
//! | libgit2 asks for   | request                                                 |
//! |--------------------|---------------------------------------------------------|
//! | `UploadPackLs`     | `GET  {url}/info/refs?service=git-upload-pack`          |
//! | `UploadPack`       | `POST {url}/git-upload-pack`                            |
//! | `ReceivePackLs`    | `GET  {url}/info/refs?service=git-receive-pack`         |
//! | `ReceivePack`      | `POST {url}/git-receive-pack`                           |
//!
//! A stream buffers what libgit2 writes (the request body); its first read sends the request
//! and from then on reads stream the response body.
//!
//! # How the token reaches the transport
//!
//! libgit2 creates a transport through the factory registered for the scheme, and that factory
//! only sees the [`git2::Remote`]. [`push`] therefore puts the token (with the origin it belongs
//! to) in a **thread-local** for the duration of its `Remote::push` call, and clears it when
//! the call returns or unwinds. libgit2 is synchronous: it calls the factory on the thread that
//! called `Remote::push`, and the subtransport it builds copies the token and is owned by that
//! one push. Concurrent pushes on other threads each see only their own thread-local, so they
//! can never pick up each other's token, even for the same URL; a transport created outside a
//! [`push`] (none is, in this crate) gets no token at all.
//!
//! The token is sent only as `Authorization: Basic base64(x-access-token:<token>)` (marked
//! sensitive in reqwest), only to the scheme, host and port of the URL given to [`push`]: not in
//! a URL, not to another host (a `url.<base>.pushInsteadOf` rewrite or a redirect), not over
//! plain `http://` except to a loopback address (tests), never logged and never stored.
//!
//! # Limitations
//!
//! * The request body is buffered in memory (the whole pack for a push), then sent with a
//!   `Content-Length`; git's `http.postBuffer` and chunked uploads do not apply.
//! * Each request has a 60 s timeout ([`TIMEOUT`]), including the upload of the pack.
//! * Proxies come from the `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` environment (reqwest); git's
//!   `http.*` settings (`http.proxy`, `http.sslCAInfo`, `http.extraHeader`…) are not read.
//! * Smart HTTP protocol v0/v1 only (no `Git-Protocol: version=2`), no dumb HTTP.
//! * [`push`] blocks. From async code call it inside `tokio::task::spawn_blocking`; it does not
//!   panic on a runtime thread, but it blocks that thread for the whole push.

use std::cell::RefCell;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::Duration;

use git2::transport::{Service, SmartSubtransport, SmartSubtransportStream, Transport};
use git2::{ErrorCode, Oid, PushOptions, RemoteCallbacks, Repository};
use reqwest::Url;
use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION};

/// Timeout of each HTTP request (connection, upload and response together).
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// The user name sent with the token: GitHub accepts it for installation and personal tokens.
const TOKEN_USER: &str = "x-access-token";

/// Redirects followed per request (same host and scheme only).
const MAX_REDIRECTS: usize = 5;

/// Lines of the remote's sideband messages (`remote: …`) kept for a rejection's message.
const MAX_REMOTE_LINES: usize = 20;

/// Why a [`push`] failed. Messages name the URL without any user or password, and never contain
/// the token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// The URL is not one this module pushes to.
    #[error("cannot push to {url}: {reason}")]
    InvalidUrl {
        /// The URL, without user information.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The arguments are not usable (no refspec, an empty token).
    #[error("cannot push to {url}: {reason}")]
    InvalidArgument {
        /// The URL, without user information.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The server refused the credentials (HTTP 401 or 403).
    #[error(
        "pushing to {url} failed: the token was refused (HTTP {status}); check that it is valid, \
         not expired, and allowed to write to the repository"
    )]
    Unauthorized {
        /// The URL, without user information.
        url: String,
        /// 401 or 403.
        status: u16,
    },
    /// HTTP 404: no repository at the URL (or, on GitHub, one the token cannot see).
    #[error(
        "pushing to {url} failed: no git repository there (HTTP 404); check the URL, and that \
         the token can access the repository"
    )]
    NotFound {
        /// The URL, without user information.
        url: String,
    },
    /// Any other unsuccessful HTTP status.
    #[error("pushing to {url} failed: {request} answered HTTP {status}")]
    HttpStatus {
        /// The URL, without user information.
        url: String,
        /// The request, e.g. `GET info/refs?service=git-receive-pack`.
        request: String,
        /// The HTTP status.
        status: u16,
    },
    /// The server answered, but not as a git smart-HTTP server.
    #[error(
        "not a git smart-HTTP server at {url}: {request} answered with Content-Type {content_type:?}"
    )]
    NotGitServer {
        /// The URL, without user information.
        url: String,
        /// The request whose answer was wrong.
        request: String,
        /// The Content-Type received (empty when none).
        content_type: String,
    },
    /// A redirect to another host, or from https to http, which is not followed.
    #[error(
        "pushing to {url} failed: redirected to {location}, which is not followed (another host, plain http, or too many redirects)"
    )]
    Redirect {
        /// The URL, without user information.
        url: String,
        /// Where the server redirected to (without user information).
        location: String,
    },
    /// The connection failed or timed out.
    #[error("pushing to {url} failed: network error: {detail}")]
    Network {
        /// The URL, without user information.
        url: String,
        /// What failed.
        detail: String,
    },
    /// One or more refs were not updated: a non-fast-forward without `+`, or a rejection by the
    /// server (protected branch, hook).
    #[error(
        "pushing to {url} was rejected: {}{}",
        list_rejections(refs),
        list_remote_messages(remote_messages)
    )]
    Rejected {
        /// The URL, without user information.
        url: String,
        /// The refs not updated, with the reason for each.
        refs: Vec<RejectedRef>,
        /// What the server said on the sideband (`remote: …` lines), last lines only.
        remote_messages: Vec<String>,
    },
    /// Any other failure reported by libgit2.
    #[error("pushing to {url} failed: {message}")]
    Git {
        /// The URL, without user information.
        url: String,
        /// libgit2's message.
        message: String,
        /// libgit2's error code.
        code: ErrorCode,
    },
}

/// A ref the push did not update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRef {
    /// The remote ref, e.g. `refs/heads/repokid/propose/1111`.
    pub name: String,
    /// Why, e.g. `non-fast-forward` or the server's `protected branch hook declined`.
    pub reason: String,
}

fn list_rejections(refs: &[RejectedRef]) -> String {
    let items: Vec<String> = refs
        .iter()
        .map(|r| format!("{} ({})", r.name, r.reason))
        .collect();
    items.join("; ")
}

fn list_remote_messages(lines: &[String]) -> String {
    if lines.is_empty() {
        String::new()
    } else {
        format!("; the remote said: {}", lines.join(" | "))
    }
}

/// Pushes `refspecs` (e.g. `"refs/heads/repokid/propose/1111:refs/heads/repokid/propose/1111"`,
/// with an optional leading `+` to force) from `repo` to `url` (`https://`, or `http://` to a
/// loopback address), authenticating with `token` as HTTP Basic `x-access-token:<token>`.
///
/// The remote is anonymous: nothing is written to the repository's configuration. Refs the
/// server (or libgit2's fast-forward check) refuses make the push fail with
/// [`PushError::Rejected`], naming each ref. Blocks until the push is done; see the
/// [module documentation](self) for how the token is handled.
pub fn push(repo: &Repository, url: &str, refspecs: &[&str], token: &str) -> Result<(), PushError> {
    let target = Target::parse(url)?;
    let shown = target.shown.clone();
    if refspecs.is_empty() {
        return Err(PushError::InvalidArgument {
            url: shown,
            reason: "no refspec to push".into(),
        });
    }
    if token.is_empty() {
        return Err(PushError::InvalidArgument {
            url: shown,
            reason: "the token is empty".into(),
        });
    }
    if let Some(message) = ensure_registered() {
        return Err(PushError::Git {
            url: shown,
            message: format!("cannot register the HTTP transport: {message}"),
            code: ErrorCode::GenericError,
        });
    }

    let failure: FailureSlot = Arc::new(Mutex::new(None));
    let _context = ContextGuard::set(PushContext {
        credentials: Arc::new(Credentials {
            origin: Origin::of(&target.url),
            token: token.to_owned(),
        }),
        failure: Arc::clone(&failure),
    });

    let rejected: RefCell<Vec<RejectedRef>> = RefCell::new(Vec::new());
    let updates: RefCell<Vec<Update>> = RefCell::new(Vec::new());
    let sideband: RefCell<Vec<u8>> = RefCell::new(Vec::new());
    let result = {
        let mut callbacks = RemoteCallbacks::new();
        callbacks.push_update_reference(|name, status| {
            if let Some(status) = status {
                rejected.borrow_mut().push(RejectedRef {
                    name: name.to_owned(),
                    reason: status.to_owned(),
                });
            }
            Ok(())
        });
        callbacks.push_negotiation(|list| {
            updates.borrow_mut().extend(list.iter().map(|u| Update {
                dst_refname: String::from_utf8_lossy(u.dst_refname_bytes()).into_owned(),
                // libgit2's `src` is the remote's current target, `dst` the new one.
                remote: u.src(),
                local: u.dst(),
            }));
            Ok(())
        });
        callbacks.sideband_progress(|data| {
            let mut buf = sideband.borrow_mut();
            // Keep the tail only: what explains a rejection comes last.
            buf.extend_from_slice(data);
            if buf.len() > 16 * 1024 {
                let cut = buf.len() - 8 * 1024;
                buf.drain(..cut);
            }
            true
        });
        let mut options = PushOptions::new();
        options.remote_callbacks(callbacks);
        tracing::debug!(url = %shown, refspecs = ?refspecs, "git push");
        repo.remote_anonymous(target.url.as_str())
            .and_then(|mut remote| remote.push(refspecs, Some(&mut options)))
    };

    let redact = |s: &str| s.replace(token, "***");
    let remote_messages = remote_lines(&String::from_utf8_lossy(&sideband.borrow()))
        .into_iter()
        .map(|l| redact(&l))
        .collect::<Vec<_>>();
    let rejected = rejected.into_inner();
    let failure = failure.lock().ok().and_then(|mut f| f.take());
    if let Err(e) = result {
        if let Some(failure) = failure {
            return Err(failure.into_push_error(&shown));
        }
        if rejected.is_empty() {
            return Err(if e.code() == ErrorCode::NotFastForward {
                PushError::Rejected {
                    refs: non_fast_forwards(repo, refspecs, &updates.into_inner(), e.message()),
                    url: shown,
                    remote_messages,
                }
            } else {
                PushError::Git {
                    url: shown,
                    message: redact(e.message()),
                    code: e.code(),
                }
            });
        }
    }
    if rejected.is_empty() {
        tracing::debug!(url = %shown, "git push done");
        return Ok(());
    }
    Err(PushError::Rejected {
        url: shown,
        refs: rejected
            .into_iter()
            .map(|r| RejectedRef {
                name: redact(&r.name),
                reason: redact(&r.reason),
            })
            .collect(),
        remote_messages,
    })
}

/// The URL pushed to: parsed, without user information, checked.
#[derive(Debug)]
struct Target {
    url: Url,
    /// For messages: the URL without user information (and without query or fragment).
    shown: String,
}

impl Target {
    fn parse(raw: &str) -> Result<Target, PushError> {
        let mut url = Url::parse(raw).map_err(|e| PushError::InvalidUrl {
            url: strip_userinfo_lossy(raw),
            reason: format!("not a URL ({e})"),
        })?;
        // Credentials never travel in the URL; the token is the authentication.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url.set_fragment(None);
        let shown = url.as_str().to_owned();
        let invalid = |reason: &str| PushError::InvalidUrl {
            url: shown.clone(),
            reason: reason.into(),
        };
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&url) => {}
            "http" => {
                return Err(invalid(
                    "plain http:// is only accepted for a loopback address; the token would \
                     travel in clear text",
                ));
            }
            _ => return Err(invalid("only https:// URLs are supported")),
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("the URL has no host"));
        }
        if url.query().is_some() {
            return Err(invalid("the URL has a query string"));
        }
        Ok(Target { url, shown })
    }
}

/// `raw` with anything between `://` and the last `@` of the authority removed, for messages
/// about a string that does not even parse as a URL.
fn strip_userinfo_lossy(raw: &str) -> String {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return if raw.contains('@') {
            "<invalid URL>".into()
        } else {
            raw.into()
        };
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => raw.into(),
    }
}

fn is_loopback(url: &Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Scheme, host and port: where the token may be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Origin {
    fn of(url: &Url) -> Origin {
        Origin {
            scheme: url.scheme().to_ascii_lowercase(),
            host: url.host_str().unwrap_or_default().to_ascii_lowercase(),
            port: url.port_or_known_default(),
        }
    }
}

/// The token and the one origin it is for. `Debug` never shows the token.
struct Credentials {
    origin: Origin,
    token: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("origin", &self.origin)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// What one push hands to the transports libgit2 creates for it.
#[derive(Clone)]
struct PushContext {
    credentials: Arc<Credentials>,
    failure: FailureSlot,
}

thread_local! {
    /// The context of the [`push`] running on this thread, if any. See the module documentation.
    static CONTEXT: RefCell<Option<PushContext>> = const { RefCell::new(None) };
}

/// Sets [`CONTEXT`] and restores the previous value when dropped, on return or unwind.
struct ContextGuard {
    previous: Option<PushContext>,
}

impl ContextGuard {
    fn set(context: PushContext) -> ContextGuard {
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
fn ensure_registered() -> Option<String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| register_transports().map_err(|e| e.message().to_owned()))
        .as_ref()
        .err()
        .cloned()
}

#[allow(unsafe_code)]
fn register_transports() -> Result<(), git2::Error> {
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
fn transport_factory(remote: &git2::Remote<'_>) -> Result<Transport, git2::Error> {
    let context = CONTEXT.with(|c| c.borrow().clone());
    let subtransport = HttpSubtransport::new(context)?;
    Transport::smart(remote, true, subtransport)
}

/// A transport failure, kept with its kind so [`push`] can report it precisely (libgit2 only
/// passes a message on).
#[derive(Debug, Clone)]
enum Failure {
    Status {
        request: String,
        status: u16,
        token_sent: bool,
    },
    NotGit {
        request: String,
        content_type: String,
    },
    Redirect {
        location: String,
    },
    Network {
        detail: String,
    },
}

type FailureSlot = Arc<Mutex<Option<Failure>>>;

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Status {
                request, status, ..
            } => write!(f, "{request} answered HTTP {status}"),
            Failure::NotGit {
                request,
                content_type,
            } => write!(
                f,
                "not a git smart-HTTP server: {request} answered with Content-Type {content_type:?}"
            ),
            Failure::Redirect { location } => write!(f, "redirect to {location} not followed"),
            Failure::Network { detail } => write!(f, "network error: {detail}"),
        }
    }
}

impl Failure {
    fn into_push_error(self, url: &str) -> PushError {
        let url = url.to_owned();
        match self {
            Failure::Status {
                status: status @ (401 | 403),
                token_sent: true,
                ..
            } => PushError::Unauthorized { url, status },
            Failure::Status { status: 404, .. } => PushError::NotFound { url },
            Failure::Status {
                request, status, ..
            } => PushError::HttpStatus {
                url,
                request,
                status,
            },
            Failure::NotGit {
                request,
                content_type,
            } => PushError::NotGitServer {
                url,
                request,
                content_type,
            },
            Failure::Redirect { location } => PushError::Redirect { url, location },
            Failure::Network { detail } => PushError::Network { url, detail },
        }
    }

    fn network(error: &reqwest::Error) -> Failure {
        let mut detail = if error.is_timeout() {
            format!("timed out after {} s", TIMEOUT.as_secs())
        } else {
            String::new()
        };
        // reqwest's own message is terse ("error sending request"); the causes say what failed.
        let mut source: Option<&dyn std::error::Error> = Some(error);
        while let Some(e) = source {
            let text = e.to_string();
            if !text.is_empty() && !detail.contains(&text) {
                if !detail.is_empty() {
                    detail.push_str(": ");
                }
                detail.push_str(&text);
            }
            source = e.source();
        }
        Failure::Network { detail }
    }
}

/// The HTTP side of one transport: a one-worker tokio runtime of its own (so the blocking
/// libgit2 calls never need, or disturb, a runtime of the caller's) and a reqwest client.
struct Http {
    runtime: Option<tokio::runtime::Runtime>,
    client: reqwest::Client,
}

impl Http {
    fn new() -> Result<Http, git2::Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("repokid-git-http")
            .enable_all()
            .build()
            .map_err(|e| git2::Error::from_str(&format!("cannot start the HTTP runtime: {e}")))?;
        let client = reqwest::Client::builder()
            .user_agent(concat!("repokid/", env!("CARGO_PKG_VERSION")))
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                let allowed = attempt.previous().first().is_some_and(|first| {
                    let (from, to) = (Origin::of(first), Origin::of(attempt.url()));
                    from.host == to.host
                        && from.port == to.port
                        && (from.scheme == to.scheme || to.scheme == "https")
                });
                if allowed && attempt.previous().len() <= MAX_REDIRECTS {
                    attempt.follow()
                } else {
                    attempt.stop()
                }
            }))
            .build()
            .map_err(|e| git2::Error::from_str(&format!("cannot build the HTTP client: {e}")))?;
        Ok(Http {
            runtime: Some(runtime),
            client,
        })
    }

    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
        if let Some(runtime) = &self.runtime {
            runtime.spawn(future);
        }
    }
}

impl Drop for Http {
    fn drop(&mut self) {
        // Never blocks, so dropping is fine anywhere, including on a caller's runtime thread.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// State shared by a subtransport and its streams.
struct Shared {
    http: Http,
    credentials: Option<Arc<Credentials>>,
    failure: FailureSlot,
    /// The repository URL as redirected by the last `info/refs` request, used by the `POST`
    /// that follows (as git does when a repository has moved).
    redirected_base: Arc<Mutex<Option<String>>>,
}

/// The smart-HTTP subtransport: turns libgit2's actions into HTTP requests.
struct HttpSubtransport {
    shared: Arc<Shared>,
}

impl HttpSubtransport {
    fn new(context: Option<PushContext>) -> Result<HttpSubtransport, git2::Error> {
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
struct Exchange {
    post: bool,
    /// Appended to the repository URL.
    suffix: &'static str,
    /// The request's Content-Type (POST only).
    content_type: Option<&'static str>,
    /// The Content-Type the answer must have (and the request's Accept).
    expect: &'static str,
}

impl Exchange {
    fn of(service: Service) -> Exchange {
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
    fn describe(&self) -> String {
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
enum Message {
    Data(Vec<u8>),
    End,
    Failed(Failure),
}

enum StreamState {
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
struct HttpStream {
    shared: Arc<Shared>,
    state: StreamState,
}

impl HttpStream {
    /// Sends the request; from then on the response body comes through the returned channel.
    fn start(&self, url: Url, exchange: Exchange, body: Vec<u8>) -> mpsc::Receiver<Message> {
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

    /// Records `failure` for [`push`] and turns it into the I/O error libgit2 reports.
    fn fail(&mut self, failure: Failure) -> io::Error {
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

/// A ref update libgit2 negotiated (`push_negotiation`), kept to explain a non-fast-forward.
struct Update {
    dst_refname: String,
    /// What the remote ref points to now (zero when it does not exist).
    remote: Oid,
    /// What it is to point to (zero for a deletion).
    local: Oid,
}

/// The refs behind libgit2's "cannot push non-fastforwardable reference", which names none:
/// the updates that are not forced, replace a remote commit, and do not descend from it.
fn non_fast_forwards(
    repo: &Repository,
    refspecs: &[&str],
    updates: &[Update],
    message: &str,
) -> Vec<RejectedRef> {
    let forced: Vec<String> = refspecs
        .iter()
        .filter_map(|s| s.strip_prefix('+'))
        .map(|s| full_ref(s.rsplit_once(':').map_or(s, |(_, dst)| dst)))
        .collect();
    let odb = repo.odb().ok();
    let refs: Vec<RejectedRef> = updates
        .iter()
        .filter(|u| !u.local.is_zero() && !u.remote.is_zero() && u.local != u.remote)
        .filter(|u| !forced.contains(&u.dst_refname))
        .filter_map(|u| {
            let known = odb.as_ref().is_some_and(|o| o.exists(u.remote));
            let reason = if !known {
                "non-fast-forward: the remote branch has commits that are not present locally; \
                 fetch them, or force with a leading '+'"
            } else if repo.graph_descendant_of(u.local, u.remote).unwrap_or(false) {
                return None;
            } else {
                "non-fast-forward: the local commit does not contain the remote one; force with \
                 a leading '+'"
            };
            Some(RejectedRef {
                name: u.dst_refname.clone(),
                reason: reason.into(),
            })
        })
        .collect();
    if !refs.is_empty() {
        return refs;
    }
    // Could not tell which: name every ref that was not forced.
    refspecs
        .iter()
        .filter(|s| !s.starts_with('+'))
        .map(|s| RejectedRef {
            name: full_ref(s.rsplit_once(':').map_or(*s, |(_, dst)| dst)),
            reason: message.to_owned(),
        })
        .collect()
}

/// `dst` of a refspec as a full ref name (`main` → `refs/heads/main`).
fn full_ref(dst: &str) -> String {
    if dst.starts_with("refs/") {
        dst.to_owned()
    } else {
        format!("refs/heads/{dst}")
    }
}

/// The meaningful lines of the remote's sideband text: no progress meters, last ones only.
fn remote_lines(text: &str) -> Vec<String> {
    let lines: Vec<String> = text
        .split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .filter(|l| !(l.contains("% (") || l.ends_with(", done.")))
        .map(str::to_owned)
        .collect();
    let skip = lines.len().saturating_sub(MAX_REMOTE_LINES);
    lines.into_iter().skip(skip).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_userinfo_and_need_https_or_loopback_http() {
        let t = Target::parse("https://x-access-token:secret@github.com/o/r.git").unwrap();
        assert_eq!(t.shown, "https://github.com/o/r.git");
        assert_eq!(t.url.as_str(), "https://github.com/o/r.git");
        assert!(Target::parse("http://127.0.0.1:8080/r.git").is_ok());
        assert!(Target::parse("http://[::1]:8080/r.git").is_ok());
        assert!(Target::parse("http://localhost/r.git").is_ok());
        let e = Target::parse("http://user:secret@example.com/r.git").unwrap_err();
        assert!(e.to_string().contains("http://example.com/r.git"), "{e}");
        assert!(!e.to_string().contains("secret"), "{e}");
        assert!(Target::parse("ssh://git@github.com/o/r.git").is_err());
        let e = Target::parse("https://user:secret@").unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
    }

    #[test]
    fn lossy_userinfo_stripping() {
        assert_eq!(strip_userinfo_lossy("https://a:b@h/p@q"), "https://h/p@q");
        assert_eq!(strip_userinfo_lossy("no url"), "no url");
        assert_eq!(strip_userinfo_lossy("a:b@c"), "<invalid URL>");
    }

    #[test]
    fn credentials_debug_hides_the_token() {
        let c = Credentials {
            origin: Origin::of(&Url::parse("https://github.com/").unwrap()),
            token: "ghs_secret".into(),
        };
        assert!(!format!("{c:?}").contains("ghs_secret"));
    }

    #[test]
    fn remote_lines_drop_progress() {
        let text = "Resolving deltas:  50% (1/2)\rResolving deltas: 100% (2/2), done.\nerror: GH006: Protected branch update failed\n";
        assert_eq!(
            remote_lines(text),
            vec!["error: GH006: Protected branch update failed"]
        );
    }

    #[test]
    fn full_ref_names() {
        assert_eq!(full_ref("main"), "refs/heads/main");
        assert_eq!(full_ref("refs/tags/v1"), "refs/tags/v1");
    }
}
