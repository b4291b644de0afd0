//! The usage formats: readers that turn outside usage data into the engine's model
//! ([`crate::engine::usage`]).
//!
//! * [`aardvark`] — Aardvark's `/api/1/advisors` response;
//! * [`gslad`] — IAM's `GetServiceLastAccessedDetails` response, as the AWS CLI prints it;
//! * [`native`] — repokid's own documented file format (read and written).
//!
//! All of them produce [`UsageByArn`](crate::engine::usage::UsageByArn) and fail with a
//! [`UsageError`] naming the place. Which one a file is in is decided by
//! [`crate::sources::usage_file`].

pub mod aardvark;
pub mod gslad;
pub mod native;
mod shared;
#[cfg(test)]
mod test_support;

/// A usage document that could not be read. The message names the place (`roles[…].services.s3`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{place}: {message}")]
pub struct UsageError {
    /// Where in the document, e.g. `arn:aws:iam::123456789012:role/x[2].lastAuthenticated`.
    pub place: String,
    /// What is wrong.
    pub message: String,
}

impl UsageError {
    pub(crate) fn new(place: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            place: place.into(),
            message: message.into(),
        }
    }
}
