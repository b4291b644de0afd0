//! A transport failure, kept with its kind so the push can report it precisely (libgit2 only
//! passes a message on).

use std::fmt;
use std::sync::{Arc, Mutex};

use super::error::PushError;
use super::http::TIMEOUT;

/// A transport failure, kept with its kind so [`push`](super::push) can report it precisely (libgit2 only
/// passes a message on).
#[derive(Debug, Clone)]
pub(super) enum Failure {
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

pub(super) type FailureSlot = Arc<Mutex<Option<Failure>>>;

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
    pub(super) fn into_push_error(self, url: &str) -> PushError {
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

    pub(super) fn network(error: &reqwest::Error) -> Failure {
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
