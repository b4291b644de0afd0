//! IAM's `GetServiceLastAccessedDetails` response, as the AWS CLI prints it (PascalCase keys).
//!
//! ```json
//! {
//!   "JobStatus": "COMPLETED", "JobType": "ACTION_LEVEL",
//!   "JobCreationDate": "2026-11-20T10:00:00+00:00", "JobCompletionDate": "2026-11-20T10:00:05+00:00",
//!   "ServicesLastAccessed": [
//!     {"ServiceName": "Amazon S3", "ServiceNamespace": "s3", "LastAuthenticated": "2026-11-01T12:00:00+00:00",
//!      "TotalAuthenticatedEntities": 1,
//!      "TrackedActionsLastAccessed": [{"ActionName": "CreateBucket", "LastAccessedTime": "2026-11-01T12:00:00+00:00"}]}
//!   ],
//!   "IsTruncated": false
//! }
//! ```
//!
//! Only a `COMPLETED` job is accepted, and only a complete one: a response whose last page says
//! `IsTruncated: true` is an error, since the services on the missing pages would otherwise read as
//! never used. Absent `LastAuthenticated` / `LastAccessedTime` mean never; timestamps are RFC 3339
//! strings or (from some SDKs) epoch numbers.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::UsageError;
use super::shared::{
    check_arn, collected_at_from_epoch, epoch_number, join, kind, parse_json, short,
};
use crate::engine::usage::{
    LastAccessed, RoleUsage, ServiceUsage, UsageByArn, add_service, merge_last,
    plausible_collected_at,
};

/// Parses one role's `GetServiceLastAccessedDetails` response: a response object, or an array of
/// the pages of one job (merged). Places in errors are relative to the document
/// (`ServicesLastAccessed[2].ServiceNamespace`, `[1].IsTruncated` for a page).
pub fn parse_gslad(text: &str, now: DateTime<Utc>) -> Result<RoleUsage, UsageError> {
    role_from_value(&parse_json(text)?, "", now)
}

/// Parses `GetServiceLastAccessedDetails` responses for many roles: an object keyed by role ARN
/// whose values are either a response or an array of response pages (merged).
pub fn parse_gslad_by_arn(text: &str, now: DateTime<Utc>) -> Result<UsageByArn, UsageError> {
    let value = parse_json(text)?;
    let Value::Object(top) = &value else {
        return Err(UsageError::new(
            "$",
            format!("expected an object keyed by role ARN, got {}", kind(&value)),
        ));
    };
    if top.contains_key("JobStatus") || top.contains_key("ServicesLastAccessed") {
        return Err(UsageError::new(
            "$",
            "this is a single GetServiceLastAccessedDetails response; key it by role ARN \
             ({\"arn:aws:iam::…:role/…\": response})",
        ));
    }
    let mut out = UsageByArn::new();
    for (arn, response) in top {
        check_arn(arn, arn)?;
        out.insert(arn.clone(), role_from_value(response, arn, now)?);
    }
    Ok(out)
}

/// A response or an array of pages, at `place` (empty at the document root).
fn role_from_value(
    value: &Value,
    place: &str,
    now: DateTime<Utc>,
) -> Result<RoleUsage, UsageError> {
    match value {
        Value::Object(page) => {
            let page = parse_page(page, place, now)?;
            if page.truncated {
                return Err(truncated(place));
            }
            Ok(page.usage)
        }
        Value::Array(pages) => merge_pages(pages, place, now),
        other => Err(UsageError::new(
            root(place),
            format!(
                "expected a GetServiceLastAccessedDetails response or an array of its pages, got {}",
                kind(other)
            ),
        )),
    }
}

fn merge_pages(pages: &[Value], place: &str, now: DateTime<Utc>) -> Result<RoleUsage, UsageError> {
    if pages.is_empty() {
        return Err(UsageError::new(root(place), "no response pages"));
    }
    let mut usage = RoleUsage::default();
    // Oldest collection time over the pages; unknown as soon as one page has none.
    let mut collected_at: Option<DateTime<Utc>> = None;
    let mut all_dated = true;
    for (i, page) in pages.iter().enumerate() {
        let page_place = format!("{place}[{i}]");
        let Value::Object(page) = page else {
            return Err(UsageError::new(
                page_place,
                format!("expected a response page object, got {}", kind(page)),
            ));
        };
        let page = parse_page(page, &page_place, now)?;
        if page.truncated && i + 1 == pages.len() {
            return Err(truncated(&page_place));
        }
        match page.usage.collected_at {
            Some(t) => collected_at = Some(collected_at.map_or(t, |c| c.min(t))),
            None => all_dated = false,
        }
        for (namespace, service) in page.usage.services {
            add_service(&mut usage.services, namespace, service);
        }
    }
    usage.collected_at = collected_at.filter(|_| all_dated);
    Ok(usage)
}

struct Page {
    usage: RoleUsage,
    truncated: bool,
}

fn parse_page(
    page: &Map<String, Value>,
    place: &str,
    now: DateTime<Utc>,
) -> Result<Page, UsageError> {
    check_status(page, place)?;
    let action_level = match page.get("JobType") {
        None => false,
        Some(Value::String(t)) if t == "SERVICE_LEVEL" => false,
        Some(Value::String(t)) if t == "ACTION_LEVEL" => true,
        Some(other) => {
            return Err(UsageError::new(
                join(place, "JobType"),
                format!(
                    "unknown JobType {} (expected SERVICE_LEVEL or ACTION_LEVEL)",
                    short(other)
                ),
            ));
        }
    };
    let truncated = match page.get("IsTruncated") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(UsageError::new(
                join(place, "IsTruncated"),
                format!("expected a boolean, got {}", kind(other)),
            ));
        }
    };
    let collected_at = job_date(page.get("JobCompletionDate"), now)
        .or_else(|| job_date(page.get("JobCreationDate"), now));
    let entries = match page.get("ServicesLastAccessed") {
        Some(Value::Array(entries)) => entries,
        Some(other) => {
            return Err(UsageError::new(
                join(place, "ServicesLastAccessed"),
                format!("expected an array, got {}", kind(other)),
            ));
        }
        None => {
            return Err(UsageError::new(
                join(place, "ServicesLastAccessed"),
                "missing ServicesLastAccessed",
            ));
        }
    };
    let mut services = BTreeMap::new();
    for (i, entry) in entries.iter().enumerate() {
        let place = join(place, &format!("ServicesLastAccessed[{i}]"));
        let (namespace, usage) = parse_service(entry, &place, action_level, now)?;
        add_service(&mut services, namespace, usage);
    }
    Ok(Page {
        usage: RoleUsage {
            collected_at,
            services,
        },
        truncated,
    })
}

/// Fails unless `JobStatus` is `COMPLETED`.
fn check_status(page: &Map<String, Value>, place: &str) -> Result<(), UsageError> {
    let status_place = join(place, "JobStatus");
    match page.get("JobStatus") {
        Some(Value::String(s)) if s == "COMPLETED" => Ok(()),
        Some(Value::String(s)) if s == "FAILED" => {
            let error = page.get("Error");
            let field = |k: &str| error.and_then(|e| e.get(k)).and_then(Value::as_str);
            let detail = match (field("Code"), field("Message")) {
                (Some(code), Some(message)) => format!(": {code}: {message}"),
                (None, Some(message)) => format!(": {message}"),
                (Some(code), None) => format!(": {code}"),
                (None, None) => " (no error message given)".to_string(),
            };
            Err(UsageError::new(status_place, format!("job FAILED{detail}")))
        }
        Some(Value::String(s)) => Err(UsageError::new(
            status_place,
            format!(
                "job status is {s:?}, not COMPLETED: wait for the job to finish and fetch again"
            ),
        )),
        Some(other) => Err(UsageError::new(
            status_place,
            format!("expected a string, got {}", kind(other)),
        )),
        None => Err(UsageError::new(status_place, "missing JobStatus")),
    }
}

fn parse_service(
    entry: &Value,
    place: &str,
    action_level: bool,
    now: DateTime<Utc>,
) -> Result<(String, ServiceUsage), UsageError> {
    let Value::Object(entry) = entry else {
        return Err(UsageError::new(
            place,
            format!("expected a service object, got {}", kind(entry)),
        ));
    };
    let namespace = match entry.get("ServiceNamespace") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_ascii_lowercase(),
        Some(Value::String(_)) => {
            return Err(UsageError::new(
                join(place, "ServiceNamespace"),
                "empty service namespace",
            ));
        }
        Some(other) => {
            return Err(UsageError::new(
                join(place, "ServiceNamespace"),
                format!("expected a string, got {}", kind(other)),
            ));
        }
        None => {
            return Err(UsageError::new(
                join(place, "ServiceNamespace"),
                "missing ServiceNamespace",
            ));
        }
    };
    let last_accessed = timestamp(entry.get("LastAuthenticated"), now);
    let actions = match entry.get("TrackedActionsLastAccessed") {
        // Service-level jobs carry no action data; ignore any that appears.
        _ if !action_level => None,
        None | Some(Value::Null) => None,
        Some(Value::Array(tracked)) => {
            let mut actions = BTreeMap::new();
            for (i, action) in tracked.iter().enumerate() {
                let place = join(place, &format!("TrackedActionsLastAccessed[{i}]"));
                let (name, last) = parse_action(action, &place, now)?;
                let merged = match actions.remove(&name) {
                    Some(prev) => merge_last(prev, last),
                    None => last,
                };
                actions.insert(name, merged);
            }
            Some(actions)
        }
        Some(other) => {
            return Err(UsageError::new(
                join(place, "TrackedActionsLastAccessed"),
                format!("expected an array, got {}", kind(other)),
            ));
        }
    };
    Ok((
        namespace,
        ServiceUsage {
            last_accessed,
            actions,
        },
    ))
}

fn parse_action(
    action: &Value,
    place: &str,
    now: DateTime<Utc>,
) -> Result<(String, LastAccessed), UsageError> {
    let Value::Object(action) = action else {
        return Err(UsageError::new(
            place,
            format!("expected an action object, got {}", kind(action)),
        ));
    };
    let name = match action.get("ActionName") {
        Some(Value::String(s)) => {
            // The action part only, should a prefix (`s3:CreateBucket`) ever appear.
            let name = s
                .rsplit_once(':')
                .map_or(s.as_str(), |(_, name)| name)
                .trim();
            if name.is_empty() {
                return Err(UsageError::new(
                    join(place, "ActionName"),
                    "empty action name",
                ));
            }
            name.to_ascii_lowercase()
        }
        Some(other) => {
            return Err(UsageError::new(
                join(place, "ActionName"),
                format!("expected a string, got {}", kind(other)),
            ));
        }
        None => {
            return Err(UsageError::new(
                join(place, "ActionName"),
                "missing ActionName",
            ));
        }
    };
    Ok((name, timestamp(action.get("LastAccessedTime"), now)))
}

/// A `LastAuthenticated` / `LastAccessedTime` value: absent or null is never, an RFC 3339 string
/// or an epoch number (fractions truncated) is normalised, anything else is malformed (used).
fn timestamp(value: Option<&Value>, now: DateTime<Utc>) -> LastAccessed {
    match value {
        None | Some(Value::Null) => LastAccessed::Never,
        Some(Value::String(s)) => LastAccessed::from_rfc3339(s, now),
        Some(Value::Number(n)) => epoch_number(n, now, true),
        Some(other) => LastAccessed::Malformed(short(other)),
    }
}

/// `JobCompletionDate` / `JobCreationDate`; unreadable or implausibly future values give `None`.
fn job_date(value: Option<&Value>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match value? {
        Value::String(s) => DateTime::parse_from_rfc3339(s.trim())
            .ok()
            .and_then(|t| plausible_collected_at(t.with_timezone(&Utc), now)),
        Value::Number(n) => collected_at_from_epoch(n, now),
        _ => None,
    }
}

fn truncated(place: &str) -> UsageError {
    UsageError::new(
        join(place, "IsTruncated"),
        "truncated response: fetch all pages (follow Marker) and pass them as an array; \
         services on missing pages would otherwise look unused",
    )
}

fn root(place: &str) -> &str {
    if place.is_empty() { "$" } else { place }
}

#[cfg(test)]
mod tests;
