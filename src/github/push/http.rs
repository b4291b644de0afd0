//! The HTTP client of one transport: its own one-worker runtime, a timeout, redirects kept to
//! the same host.

use std::time::Duration;

use super::target::Origin;

/// Timeout of each HTTP request (connection, upload and response together).
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Redirects followed per request (same host and scheme only).
pub(super) const MAX_REDIRECTS: usize = 5;

/// The HTTP side of one transport: a one-worker tokio runtime of its own (so the blocking
/// libgit2 calls never need, or disturb, a runtime of the caller's) and a reqwest client.
pub(super) struct Http {
    pub(super) runtime: Option<tokio::runtime::Runtime>,
    pub(super) client: reqwest::Client,
}

impl Http {
    pub(super) fn new() -> Result<Http, git2::Error> {
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

    pub(super) fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
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
