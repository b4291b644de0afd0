//! Usage straight from IAM Access Advisor: `GenerateServiceLastAccessedDetails` per role, then
//! `GetServiceLastAccessedDetails` polled with backoff until the job completes, every result page
//! fetched. Jobs run concurrently up to `access-advisor-jobs`; a job that fails or does not finish
//! in time is reported for its role (which then has no usage data and is not rightsized).
//!
//! Responses are turned back into the JSON the AWS CLI prints and read by the same parser as a
//! usage file ([`crate::sources::usage::gslad`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_iam::types::{AccessAdvisorUsageGranularityType, JobStatusType};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{Aws, AwsError, CallCounts, chrono_date};
use crate::sources::inventory_file::Inventory;
use crate::sources::usage::gslad::parse_gslad;
use crate::sources::{SourceError, Usage, UsageSource};

const GENERATE: &str = "iam:GenerateServiceLastAccessedDetails";
const GET: &str = "iam:GetServiceLastAccessedDetails";

/// Service-level or action-level data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Granularity {
    /// When each service was last used.
    #[default]
    Service,
    /// Also when each tracked action was last used.
    Action,
}

/// Access Advisor as a [`UsageSource`].
#[derive(Debug)]
pub struct AccessAdvisor<'a> {
    aws: &'a Aws,
    /// Service or action level.
    pub granularity: Granularity,
    /// Services per result page (`MaxItems`, 1–1000).
    pub page_size: i32,
    /// First wait before polling a job; doubles up to [`AccessAdvisor::max_poll_interval`].
    pub first_poll: Duration,
    /// Longest wait between polls.
    pub max_poll_interval: Duration,
}

impl<'a> AccessAdvisor<'a> {
    /// Access Advisor through `aws`.
    pub fn new(aws: &'a Aws, granularity: Granularity) -> Self {
        AccessAdvisor {
            aws,
            granularity,
            page_size: 1000,
            first_poll: Duration::from_millis(250),
            max_poll_interval: Duration::from_secs(8),
        }
    }
}

impl UsageSource for AccessAdvisor<'_> {
    fn describe(&self) -> String {
        format!("access-advisor ({:?} level)", self.granularity).to_lowercase()
    }

    fn usage(&self, inventory: &Inventory, now: DateTime<Utc>) -> Result<Usage, SourceError> {
        let mut jobs = Vec::new();
        for (account, roles) in &inventory.roles {
            let iam = self.aws.iam(account)?;
            jobs.extend(roles.iter().map(|r| Job {
                iam: iam.clone(),
                account: account.clone(),
                arn: r.arn.clone(),
            }));
        }
        let settings = self.aws.settings();
        let limit = settings.access_advisor_jobs.max(1);
        let timeout = Duration::from_secs(settings.access_advisor_timeout_seconds.max(1));
        let poll = Poll {
            granularity: match self.granularity {
                Granularity::Service => AccessAdvisorUsageGranularityType::ServiceLevel,
                Granularity::Action => AccessAdvisorUsageGranularityType::ActionLevel,
            },
            page_size: self.page_size.clamp(1, 1000),
            first: self.first_poll,
            max: self.max_poll_interval,
            calls: self.aws.calls.clone(),
        };
        let total = jobs.len();
        let results: Vec<(String, Result<Vec<Value>, String>)> = self.aws.block_on(async move {
            let semaphore = Arc::new(tokio::sync::Semaphore::new(limit));
            let poll = Arc::new(poll);
            let mut set = tokio::task::JoinSet::new();
            for job in jobs {
                let Ok(permit) = semaphore.clone().acquire_owned().await else {
                    break;
                };
                let poll = poll.clone();
                set.spawn(async move {
                    let _permit = permit;
                    let arn = job.arn.clone();
                    let result = match tokio::time::timeout(timeout, poll.run(&job)).await {
                        Ok(r) => r,
                        Err(_) => Err(format!(
                            "the Access Advisor job did not complete within {} s",
                            timeout.as_secs()
                        )),
                    };
                    (arn, result)
                });
            }
            let mut out = Vec::with_capacity(total);
            while let Some(joined) = set.join_next().await {
                match joined {
                    Ok(r) => out.push(r),
                    Err(e) => tracing::error!(error = %e, "Access Advisor task failed"),
                }
            }
            out
        });
        let mut usage = Usage::default();
        for (arn, result) in results {
            let parsed = result.and_then(|pages| {
                let text = Value::Array(pages).to_string();
                parse_gslad(&text, now).map_err(|e| format!("unusable response: {e}"))
            });
            match parsed {
                Ok(u) => {
                    usage.by_arn.insert(arn, u);
                }
                Err(message) => {
                    tracing::warn!(role = %arn, "no usage data: {message}");
                    usage.failures.insert(arn, message);
                }
            }
        }
        if usage.by_arn.len() + usage.failures.len() < total {
            tracing::warn!(
                missing = total - usage.by_arn.len() - usage.failures.len(),
                "some Access Advisor jobs did not report"
            );
        }
        Ok(usage)
    }
}

struct Job {
    iam: aws_sdk_iam::Client,
    account: String,
    arn: String,
}

struct Poll {
    granularity: AccessAdvisorUsageGranularityType,
    page_size: i32,
    first: Duration,
    max: Duration,
    calls: Arc<CallCounts>,
}

impl Poll {
    /// Generates the job, polls it to completion and returns every page as the CLI's JSON.
    async fn run(&self, job: &Job) -> Result<Vec<Value>, String> {
        let account = Some(job.account.as_str());
        self.calls.record(GENERATE);
        let generated = job
            .iam
            .generate_service_last_accessed_details()
            .arn(&job.arn)
            .granularity(self.granularity.clone())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(account, GENERATE, &e).to_string())?;
        let job_id = generated
            .job_id()
            .ok_or_else(|| format!("{GENERATE} returned no JobId for {}", job.arn))?
            .to_string();
        let mut wait = self.first;
        let mut pages = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            if pages.is_empty() {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(self.max);
            }
            self.calls.record(GET);
            let page = job
                .iam
                .get_service_last_accessed_details()
                .job_id(&job_id)
                .max_items(self.page_size)
                .set_marker(marker.clone())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(account, GET, &e).to_string())?;
            match page.job_status() {
                JobStatusType::InProgress if pages.is_empty() => continue,
                JobStatusType::Completed => {}
                JobStatusType::Failed => {
                    let why = page
                        .error()
                        .map(|e| format!("{}: {}", e.code(), e.message()))
                        .unwrap_or_else(|| "no reason given".into());
                    return Err(format!("Access Advisor job {job_id} FAILED: {why}"));
                }
                other => {
                    return Err(format!(
                        "Access Advisor job {job_id} reported {} while its pages were being read",
                        other.as_str()
                    ));
                }
            }
            let truncated = page.is_truncated();
            let next = page.marker().map(str::to_string);
            pages.push(page_json(&page));
            match (truncated, next) {
                (true, Some(m)) if Some(&m) != marker.as_ref() => marker = Some(m),
                (true, _) => {
                    return Err(format!(
                        "Access Advisor job {job_id}: IsTruncated without a new Marker"
                    ));
                }
                (false, _) => return Ok(pages),
            }
        }
    }
}

fn date(d: Option<&aws_sdk_iam::primitives::DateTime>) -> Option<Value> {
    d.and_then(chrono_date).map(|d| Value::from(d.to_rfc3339()))
}

/// One response page in the AWS CLI's JSON shape.
fn page_json(
    p: &aws_sdk_iam::operation::get_service_last_accessed_details::GetServiceLastAccessedDetailsOutput,
) -> Value {
    let services: Vec<Value> = p
        .services_last_accessed()
        .iter()
        .map(|s| {
            let mut m = serde_json::Map::new();
            m.insert("ServiceName".into(), s.service_name().into());
            m.insert("ServiceNamespace".into(), s.service_namespace().into());
            if let Some(d) = date(s.last_authenticated()) {
                m.insert("LastAuthenticated".into(), d);
            }
            if let Some(n) = s.total_authenticated_entities() {
                m.insert("TotalAuthenticatedEntities".into(), n.into());
            }
            if has_action_data(s) {
                let actions: Vec<Value> = s
                    .tracked_actions_last_accessed()
                    .iter()
                    .map(|a| {
                        let mut m = serde_json::Map::new();
                        if let Some(n) = a.action_name() {
                            m.insert("ActionName".into(), n.into());
                        }
                        if let Some(d) = date(a.last_accessed_time()) {
                            m.insert("LastAccessedTime".into(), d);
                        }
                        Value::Object(m)
                    })
                    .collect();
                m.insert("TrackedActionsLastAccessed".into(), Value::Array(actions));
            }
            Value::Object(m)
        })
        .collect();
    let mut out = BTreeMap::new();
    out.insert("JobStatus", json!(p.job_status().as_str()));
    if let Some(t) = p.job_type() {
        out.insert("JobType", json!(t.as_str()));
    }
    // Required fields the response left out read as the epoch: leave them out again.
    let given = |d: &aws_sdk_iam::primitives::DateTime| (d.secs() > 0).then_some(*d);
    if let Some(d) = date(given(p.job_creation_date()).as_ref()) {
        out.insert("JobCreationDate", d);
    }
    if let Some(d) = date(given(p.job_completion_date()).as_ref()) {
        out.insert("JobCompletionDate", d);
    }
    out.insert("ServicesLastAccessed", Value::Array(services));
    out.insert("IsTruncated", json!(p.is_truncated()));
    json!(out)
}

/// Whether the service entry carries action-level data (the SDK gives an empty slice both for
/// "none" and for "absent").
fn has_action_data(s: &aws_sdk_iam::types::ServiceLastAccessed) -> bool {
    s.tracked_actions_last_accessed.is_some()
}
