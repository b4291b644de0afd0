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
use std::sync::{Arc, Mutex};

use git2::{ErrorCode, PushOptions, RemoteCallbacks, Repository};

mod error;
mod failure;
mod http;
mod target;
mod transport;
mod update;

pub use error::{PushError, RejectedRef};
pub use http::TIMEOUT;

use failure::FailureSlot;
use target::{Credentials, Origin, Target};
use transport::{ContextGuard, PushContext, ensure_registered};
use update::{Update, non_fast_forwards, remote_lines};

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
