//! Why a push failed, in words that never contain the token.

use git2::ErrorCode;

/// Why a [`push`](super::push) failed. Messages name the URL without any user or password, and never contain
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

pub(super) fn list_rejections(refs: &[RejectedRef]) -> String {
    let items: Vec<String> = refs
        .iter()
        .map(|r| format!("{} ({})", r.name, r.reason))
        .collect();
    items.join("; ")
}

pub(super) fn list_remote_messages(lines: &[String]) -> String {
    if lines.is_empty() {
        String::new()
    } else {
        format!("; the remote said: {}", lines.join(" | "))
    }
}
