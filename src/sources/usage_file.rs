//! Usage data from a file: repokid's native format, an Aardvark `/api/1/advisors` response, or
//! `GetServiceLastAccessedDetails` responses keyed by role ARN. The format is detected from the
//! document's shape unless named.

use std::path::Path;

use super::usage::{UsageError, aardvark, gslad, native};
use crate::engine::usage::UsageByArn;
use chrono::{DateTime, Utc};

/// Which usage format a file holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum UsageFormat {
    /// Decide from the document's shape.
    #[default]
    Auto,
    /// repokid's native format (docs/usage-format.md).
    Native,
    /// Aardvark's `/api/1/advisors` response.
    Aardvark,
    /// `GetServiceLastAccessedDetails` responses keyed by role ARN.
    Gslad,
}

/// A usage file that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum UsageFileError {
    /// The file could not be read.
    #[error("cannot read usage file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid usage data.
    #[error("usage file {path} ({format:?} format): {source}")]
    Invalid {
        /// The file.
        path: String,
        /// The format it was read as.
        format: UsageFormat,
        /// Where and what.
        #[source]
        source: UsageError,
    },
}

/// Reads a usage file.
pub fn load_usage(
    path: &Path,
    format: UsageFormat,
    now: DateTime<Utc>,
) -> Result<UsageByArn, UsageFileError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| UsageFileError::Io {
        path: shown.clone(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| UsageFileError::Invalid {
        path: shown.clone(),
        format,
        source: UsageError {
            place: format!("byte {}", e.utf8_error().valid_up_to()),
            message: "not UTF-8".into(),
        },
    })?;
    parse_usage(&shown, &text, format, now)
}

/// Parses usage data from text; `source` names it in errors.
pub fn parse_usage(
    source: &str,
    text: &str,
    format: UsageFormat,
    now: DateTime<Utc>,
) -> Result<UsageByArn, UsageFileError> {
    let format = match format {
        UsageFormat::Auto => detect(text),
        f => f,
    };
    let parsed = match format {
        UsageFormat::Native | UsageFormat::Auto => native::parse_native(text, now),
        UsageFormat::Aardvark => aardvark::parse_aardvark(text, now),
        UsageFormat::Gslad => gslad::parse_gslad_by_arn(text, now),
    };
    parsed.map_err(|e| UsageFileError::Invalid {
        path: source.to_string(),
        format,
        source: e,
    })
}

/// Guesses the format from the top of the document without parsing it all: the native format has
/// a `version` key; GSLAD responses carry `JobStatus`/`ServicesLastAccessed`; anything else keyed by
/// ARN is taken as Aardvark.
fn detect(text: &str) -> UsageFormat {
    let head: String = text.chars().take(4096).collect();
    if head.contains("\"version\"") && head.contains("\"roles\"") {
        return UsageFormat::Native;
    }
    if head.contains("\"ServicesLastAccessed\"") || head.contains("\"JobStatus\"") {
        return UsageFormat::Gslad;
    }
    if head.contains("\"serviceNamespace\"") {
        return UsageFormat::Aardvark;
    }
    // Anything else is read as native, whose reader explains what it expected.
    UsageFormat::Native
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
    }

    #[test]
    fn detects_each_format() {
        let native = r#"{"version":1,"collected_at":"2026-11-20T06:00:00Z","roles":{"arn:aws:iam::111122223333:role/a":{"services":{"s3":{"last_accessed":null}}}}}"#;
        let aardvark = r#"{"arn:aws:iam::111122223333:role/a":[{"lastAuthenticated":0,"lastUpdated":"Thu, 19 Nov 2026 02:01:36 GMT","serviceName":"S3","serviceNamespace":"s3","totalAuthenticatedEntities":0}]}"#;
        let gslad = r#"{"arn:aws:iam::111122223333:role/a":{"JobStatus":"COMPLETED","JobType":"SERVICE_LEVEL","JobCompletionDate":"2026-11-20T06:00:00Z","ServicesLastAccessed":[{"ServiceName":"S3","ServiceNamespace":"s3","TotalAuthenticatedEntities":0}],"IsTruncated":false}}"#;
        assert_eq!(detect(native), UsageFormat::Native);
        assert_eq!(detect(aardvark), UsageFormat::Aardvark);
        assert_eq!(detect(gslad), UsageFormat::Gslad);
        for text in [native, aardvark, gslad] {
            let u = parse_usage("f", text, UsageFormat::Auto, now()).unwrap();
            assert!(u.contains_key("arn:aws:iam::111122223333:role/a"));
        }
        let e = parse_usage(
            "usage.json",
            "{\"version\": 9, \"roles\": {}}",
            UsageFormat::Auto,
            now(),
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("usage file usage.json"), "{e}");
    }
}
