//! Usage data from an Aardvark API (`POST /api/1/advisors`), fetched as Repokid fetches it.
//!
//! Per account of the inventory, `POST <url>?count=<page size>&page=<n>` with the JSON body
//! `{"phrase": "<account>"}`, page after page while `page size × page < total`. Aardvark matches
//! the phrase anywhere in an ARN (case-insensitively), so only ARNs whose account field is the
//! account are kept. The inventory's roles still missing afterwards are asked for once more by ARN
//! (`{"arn": [...]}`, in batches, paged the same way); a role Aardvark has no data for simply gets
//! no entry, so it fails closed later.
//!
//! Every page's role keys are merged into one object, which
//! [`crate::sources::usage::aardvark::aardvark_from_value`] reads: a saved
//! Aardvark response and the API are parsed by the same code.
//!
//! The client is blocking: each [`UsageSource::usage`] call runs its requests on a small
//! single-threaded runtime of its own (on a helper thread when called from inside a Tokio runtime).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::{StatusCode, Url};
use serde_json::{Map, Value, json};

use super::inventory_file::Inventory;
use super::{SourceError, Usage, UsageSource};
use crate::sources::usage::UsageError;
use crate::sources::usage::aardvark::aardvark_from_value;

/// Roles per page Repokid asks Aardvark for.
pub const DEFAULT_PAGE_SIZE: u32 = 1000;

/// The request timeout callers should use unless configured otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Role ARNs per `{"arn": [...]}` request for the roles the account queries did not return (keeps
/// the request body and the server's `IN (...)` list small).
const ARN_BATCH: usize = 500;

/// How much of an unexpected response body an error quotes.
const BODY_SNIPPET_CHARS: usize = 200;

/// Why the Aardvark API could not deliver usage data. Every variant names the URL; those about a
/// request also name what was asked (an account, or a number of role ARNs) and the page.
#[derive(Debug, thiserror::Error)]
pub enum AardvarkError {
    /// The configured URL or timeout is unusable.
    #[error("Aardvark URL {url:?}: {reason}")]
    Config {
        /// The URL as configured.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client or its runtime could not be set up.
    #[error("Aardvark at {url}: cannot set up the HTTP client: {message}")]
    Client {
        /// The API URL.
        url: String,
        /// Why.
        message: String,
    },
    /// No answer within the configured timeout (connecting or waiting for the response).
    #[error("Aardvark at {url} ({query}, page {page}): no answer within {}s: {message}", timeout.as_secs_f64())]
    Timeout {
        /// The API URL.
        url: String,
        /// What was asked (`account 123456789012`, `3 role ARNs`).
        query: String,
        /// The page asked for (from 1).
        page: u64,
        /// The configured timeout.
        timeout: Duration,
        /// The client's error, with its causes.
        message: String,
    },
    /// The server could not be reached, or the connection failed mid-request.
    #[error("Aardvark at {url} ({query}, page {page}): request failed: {message}")]
    Connection {
        /// The API URL.
        url: String,
        /// What was asked.
        query: String,
        /// The page asked for.
        page: u64,
        /// The client's error, with its causes.
        message: String,
    },
    /// The server answered with a status other than 200.
    #[error("Aardvark at {url} ({query}, page {page}) answered HTTP {status}: {body}")]
    Status {
        /// The API URL.
        url: String,
        /// What was asked.
        query: String,
        /// The page asked for.
        page: u64,
        /// The HTTP status.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// The response is not JSON, or not an object with the paging keys.
    #[error("Aardvark at {url} ({query}, page {page}): unexpected response: {message}")]
    Response {
        /// The API URL.
        url: String,
        /// What was asked.
        query: String,
        /// The page asked for.
        page: u64,
        /// What is wrong, quoting the start of the body when it is not JSON.
        message: String,
    },
    /// The role data of the responses could not be read as usage.
    #[error("Aardvark at {url}: unreadable usage data: {source}")]
    Usage {
        /// The API URL.
        url: String,
        /// Where and why.
        #[source]
        source: UsageError,
    },
}

/// Usage data from an Aardvark API.
#[derive(Debug, Clone)]
pub struct AardvarkSource {
    url: Url,
    timeout: Duration,
    page_size: u32,
}

impl AardvarkSource {
    /// A source for the API at `url` (the full endpoint, e.g.
    /// `http://aardvark.example:5000/api/1/advisors`), with `timeout` for connecting and for each
    /// request ([`DEFAULT_TIMEOUT`] unless configured). The URL must be `http` or `https`; the
    /// timeout must not be zero. Pages hold [`DEFAULT_PAGE_SIZE`] roles.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, AardvarkError> {
        let config = |reason: &str| AardvarkError::Config {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let parsed = Url::parse(url.trim()).map_err(|e| config(&format!("not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(config(&format!(
                "scheme {:?} is not supported (use http or https)",
                parsed.scheme()
            )));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(config("no host"));
        }
        if timeout.is_zero() {
            return Err(config("the timeout must be more than zero"));
        }
        Ok(Self {
            url: parsed,
            timeout,
            page_size: DEFAULT_PAGE_SIZE,
        })
    }

    /// The same source asking for `page_size` roles per page (at least 1); tests use small pages
    /// to exercise paging.
    #[must_use]
    pub fn with_page_size(mut self, page_size: u32) -> Self {
        self.page_size = page_size.max(1);
        self
    }

    /// The API URL.
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// Fetches every account's data and the stragglers, merged into one object keyed by role ARN.
    fn fetch(&self, inventory: &Inventory) -> Result<Map<String, Value>, AardvarkError> {
        let run = || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| self.client_error(&e))?;
            runtime.block_on(self.fetch_async(inventory))
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            // block_on panics inside a runtime: run ours on a thread of its own.
            std::thread::scope(|s| {
                s.spawn(run).join().unwrap_or_else(|_| {
                    Err(AardvarkError::Client {
                        url: self.url.to_string(),
                        message: "the request thread panicked".to_string(),
                    })
                })
            })
        } else {
            run()
        }
    }

    async fn fetch_async(
        &self,
        inventory: &Inventory,
    ) -> Result<Map<String, Value>, AardvarkError> {
        let client = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.timeout)
            .user_agent(concat!("repokid/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| self.client_error(&e))?;

        let mut merged = Map::new();
        for (account, roles) in &inventory.roles {
            if roles.is_empty() {
                continue;
            }
            let found = self
                .fetch_pages(
                    &client,
                    &json!({ "phrase": account }),
                    &format!("account {account}"),
                )
                .await?;
            merged.extend(
                found
                    .into_iter()
                    .filter(|(arn, _)| account_of(arn) == Some(account.as_str())),
            );
        }

        let missing: Vec<&str> = inventory
            .iter()
            .map(|r| r.arn.as_str())
            .filter(|arn| !merged.contains_key(*arn))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if !missing.is_empty() {
            tracing::debug!(url = %self.url, roles = missing.len(), "aardvark: asking for roles by ARN");
        }
        for batch in missing.chunks(ARN_BATCH) {
            // Aardvark compares ARNs case-insensitively; file its answers under the inventory's ARN.
            let wanted: BTreeMap<String, &str> =
                batch.iter().map(|a| (a.to_lowercase(), *a)).collect();
            let found = self
                .fetch_pages(
                    &client,
                    &json!({ "arn": batch }),
                    &format!("{} role ARNs", batch.len()),
                )
                .await?;
            for (arn, entries) in found {
                if let Some(ours) = wanted.get(&arn.to_lowercase()) {
                    merged.entry((*ours).to_string()).or_insert(entries);
                }
            }
        }
        Ok(merged)
    }

    /// Every page of one query, the role keys merged.
    async fn fetch_pages(
        &self,
        client: &reqwest::Client,
        body: &Value,
        query: &str,
    ) -> Result<Map<String, Value>, AardvarkError> {
        let mut merged = Map::new();
        let mut page: u64 = 1;
        loop {
            let value = self.fetch_page(client, body, query, page).await?;
            let Page {
                roles,
                count,
                total,
            } = split_page(value, page)
                .map_err(|message| self.response_error(query, page, message))?;
            tracing::debug!(url = %self.url, query, page, count, total, "aardvark page");
            let empty = roles.is_empty();
            merged.extend(roles);
            if !more_pages(self.page_size, page, total) {
                break;
            }
            if empty {
                // The data shrank while paging; the roles this misses fail closed.
                tracing::warn!(url = %self.url, query, page, total, "aardvark: empty page before the total was reached; stopping");
                break;
            }
            page += 1;
        }
        Ok(merged)
    }

    /// One page, as JSON.
    async fn fetch_page(
        &self,
        client: &reqwest::Client,
        body: &Value,
        query: &str,
        page: u64,
    ) -> Result<Value, AardvarkError> {
        let mut url = self.url.clone();
        url.query_pairs_mut()
            .append_pair("count", &self.page_size.to_string())
            .append_pair("page", &page.to_string());
        let response = client
            .post(url)
            .json(body)
            .send()
            .await
            .map_err(|e| self.request_error(query, page, &e))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| self.request_error(query, page, &e))?;
        if status != StatusCode::OK {
            return Err(AardvarkError::Status {
                url: self.url.to_string(),
                query: query.to_string(),
                page,
                status: status.as_u16(),
                body: snippet(&text),
            });
        }
        crate::engine::json::parse_strict(&text).map_err(|e| {
            self.response_error(query, page, format!("not JSON ({e}): {}", snippet(&text)))
        })
    }

    fn client_error(&self, e: &dyn std::error::Error) -> AardvarkError {
        AardvarkError::Client {
            url: self.url.to_string(),
            message: with_causes(e),
        }
    }

    fn request_error(&self, query: &str, page: u64, e: &reqwest::Error) -> AardvarkError {
        if e.is_timeout() {
            AardvarkError::Timeout {
                url: self.url.to_string(),
                query: query.to_string(),
                page,
                timeout: self.timeout,
                message: with_causes(e),
            }
        } else {
            AardvarkError::Connection {
                url: self.url.to_string(),
                query: query.to_string(),
                page,
                message: with_causes(e),
            }
        }
    }

    fn response_error(&self, query: &str, page: u64, message: String) -> AardvarkError {
        AardvarkError::Response {
            url: self.url.to_string(),
            query: query.to_string(),
            page,
            message,
        }
    }
}

impl UsageSource for AardvarkSource {
    fn describe(&self) -> String {
        format!("aardvark {}", self.url)
    }

    fn usage(&self, inventory: &Inventory, now: DateTime<Utc>) -> Result<Usage, SourceError> {
        let merged = self.fetch(inventory)?;
        let by_arn = aardvark_from_value(&Value::Object(merged), now).map_err(|source| {
            AardvarkError::Usage {
                url: self.url.to_string(),
                source,
            }
        })?;
        Ok(Usage {
            by_arn,
            failures: BTreeMap::new(),
        })
    }
}

/// One page of a response: its role keys, and the paging numbers.
#[derive(Debug)]
struct Page {
    roles: Map<String, Value>,
    count: u64,
    total: u64,
}

/// Splits a page into its role keys and its paging keys. `total` is required (without it the
/// client cannot know whether roles are missing); `page`, when present, must be the page asked for.
fn split_page(value: Value, asked: u64) -> Result<Page, String> {
    let Value::Object(mut roles) = value else {
        return Err(format!(
            "expected an object keyed by role ARN, got {}",
            kind(&value)
        ));
    };
    let mut number = |key: &str, required: bool| match roles.remove(key) {
        Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
        None if !required => Ok(None),
        None => Err(format!(
            "no {key:?} key (not an Aardvark advisors response?)"
        )),
        Some(other) => Err(format!(
            "{key:?} is {}, expected a non-negative integer",
            short(&other)
        )),
    };
    let total = number("total", true)?.unwrap_or_default();
    let page = number("page", false)?;
    let count = number("count", false)?;
    if let Some(page) = page
        && page != asked
    {
        return Err(format!("asked for page {asked}, got page {page}"));
    }
    let count = count.unwrap_or(roles.len() as u64);
    Ok(Page {
        roles,
        count,
        total,
    })
}

/// Whether pages after `page` hold more of the `total` roles.
fn more_pages(page_size: u32, page: u64, total: u64) -> bool {
    u64::from(page_size).saturating_mul(page) < total
}

/// The account field of an ARN (`arn:aws:iam::<account>:role/…`).
fn account_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(4)
}

/// The start of a body for an error message, on one line.
fn snippet(text: &str) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut chars = flat.chars();
    let head: String = chars.by_ref().take(BODY_SNIPPET_CHARS).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else if head.is_empty() {
        "(empty body)".to_string()
    } else {
        head
    }
}

/// A short rendering of a JSON value for an error message.
fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 40 {
        format!("{}…", text.chars().take(40).collect::<String>())
    } else {
        text
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An error and its causes, `: `-separated (reqwest's own message is only "error sending request").
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_continues_while_page_size_times_page_is_below_total() {
        assert!(!more_pages(1000, 1, 0));
        assert!(!more_pages(1000, 1, 1000));
        assert!(more_pages(1000, 1, 1001));
        assert!(more_pages(2, 1, 5));
        assert!(more_pages(2, 2, 5));
        assert!(!more_pages(2, 3, 5));
        assert!(!more_pages(2, 2, 4));
        assert!(!more_pages(u32::MAX, u64::MAX, u64::MAX), "no overflow");
    }

    #[test]
    fn a_page_splits_into_roles_and_paging_keys() {
        let page = split_page(
            json!({"arn:aws:iam::123456789012:role/a": [], "count": 1, "page": 2, "total": 3}),
            2,
        )
        .unwrap();
        assert_eq!(page.count, 1);
        assert_eq!(page.total, 3);
        assert_eq!(
            page.roles.keys().collect::<Vec<_>>(),
            ["arn:aws:iam::123456789012:role/a"]
        );

        let page = split_page(json!({"total": 0}), 1).unwrap();
        assert_eq!((page.count, page.total), (0, 0));
        assert!(page.roles.is_empty());
    }

    #[test]
    fn odd_pages_are_errors() {
        for (value, message) in [
            (json!([]), "expected an object"),
            (json!({"count": 0, "page": 1}), "no \"total\" key"),
            (json!({"total": "3"}), "\"total\" is \"3\""),
            (json!({"total": -1}), "non-negative integer"),
            (json!({"total": 1.5}), "non-negative integer"),
            (
                json!({"total": 3, "page": 1}),
                "asked for page 2, got page 1",
            ),
        ] {
            let err = split_page(value.clone(), 2).unwrap_err();
            assert!(err.contains(message), "{value}: {err}");
        }
    }

    #[test]
    fn account_field() {
        assert_eq!(
            account_of("arn:aws:iam::123456789012:role/x-210987654321"),
            Some("123456789012")
        );
        assert_eq!(
            account_of("arn:aws-cn:iam::123456789012:role/a"),
            Some("123456789012")
        );
        assert_eq!(account_of("not-an-arn"), None);
    }

    #[test]
    fn snippets_are_short_and_on_one_line() {
        assert_eq!(snippet(""), "(empty body)");
        assert_eq!(snippet("<p>\n  Not   Found\n</p>"), "<p> Not Found </p>");
        let long = "é".repeat(300);
        let s = snippet(&long);
        assert_eq!(s.chars().count(), BODY_SNIPPET_CHARS + 1);
        assert!(s.ends_with('…'));
    }

    #[test]
    fn urls_are_checked() {
        let t = DEFAULT_TIMEOUT;
        assert!(AardvarkSource::new("http://127.0.0.1:5000/api/1/advisors", t).is_ok());
        assert!(AardvarkSource::new("https://aardvark.example/api/1/advisors", t).is_ok());
        for (url, message) in [
            ("aardvark.example/api/1/advisors", "not a URL"),
            ("ftp://aardvark.example/", "scheme \"ftp\""),
            ("file:///tmp/x", "scheme \"file\""),
        ] {
            let err = AardvarkSource::new(url, t).unwrap_err().to_string();
            assert!(err.contains(message) && err.contains(url), "{url}: {err}");
        }
        let err = AardvarkSource::new("http://a.example/", Duration::ZERO).unwrap_err();
        assert!(err.to_string().contains("timeout"), "{err}");
        let source = AardvarkSource::new("http://a.example/api/1/advisors", t)
            .unwrap()
            .with_page_size(0);
        assert_eq!(source.page_size, 1);
        assert_eq!(
            source.describe(),
            "aardvark http://a.example/api/1/advisors"
        );
    }
}
