//! AWS: the live source of roles and usage, and the sink `apply` writes to.
//!
//! Credentials and region come from aws-config's standard chain (environment, profiles, SSO, web
//! identity / OIDC as in GitHub Actions); `--profile` and `--region` narrow it. For each account the
//! tool assumes the configured role (`arn:<partition>:iam::<account>:role/<assume-role>`) and uses
//! those credentials for everything in that account; credentials are refreshed before they expire
//! and never logged.
//!
//! * [`inventory`] — roles from `GetAccountAuthorizationDetails` ([`crate::sources::InventorySource`]).
//! * [`access_advisor`] — usage from `GenerateServiceLastAccessedDetails` /
//!   `GetServiceLastAccessedDetails` ([`crate::sources::UsageSource`]).
//! * [`live`] — reading and writing inline policies ([`crate::apply::LiveIam`]).
//!
//! The AWS SDK is asynchronous; [`Aws`] owns a small tokio runtime and the rest of the crate stays
//! synchronous. Throttling (`Throttling`, HTTP 429) and 5xx responses are retried by the SDK's
//! standard retry strategy with exponential backoff (`max-attempts`).

pub mod access_advisor;
pub mod inventory;
pub mod live;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_iam::error::ProvideErrorMetadata;
use serde::Deserialize;

/// `[aws]` in `repokid.toml`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct AwsSettings {
    /// Region for the clients (IAM is global; STS uses it). Default: the chain's, else `us-east-1`.
    pub region: Option<String>,
    /// A named profile from `~/.aws/config`.
    pub profile: Option<String>,
    /// The role assumed in each account (a name, or `path/name`). Empty: use the base
    /// credentials directly (one account, e.g. from a laptop).
    pub assume_role: String,
    /// The STS session name (shows in CloudTrail).
    pub session_name: String,
    /// The external id the assumed role's trust policy requires, if any.
    pub external_id: Option<String>,
    /// `aws`, `aws-cn` or `aws-us-gov`; default from the region.
    pub partition: Option<String>,
    /// An endpoint for IAM and STS instead of AWS's (a stand-in such as moto). `AWS_ENDPOINT_URL`
    /// works too.
    pub endpoint_url: Option<String>,
    /// Attempts per call, retries included (throttling, 5xx, timeouts).
    pub max_attempts: u32,
    /// Access Advisor jobs in flight at once (per run).
    pub access_advisor_jobs: usize,
    /// How long to wait for one Access Advisor job before reporting it failed.
    pub access_advisor_timeout_seconds: u64,
    /// Timeout of one call attempt.
    pub call_timeout_seconds: u64,
}

impl Default for AwsSettings {
    fn default() -> Self {
        AwsSettings {
            region: None,
            profile: None,
            assume_role: "RepokidRole".into(),
            session_name: "repokid".into(),
            external_id: None,
            partition: None,
            endpoint_url: None,
            max_attempts: 5,
            access_advisor_jobs: 8,
            access_advisor_timeout_seconds: 300,
            call_timeout_seconds: 30,
        }
    }
}

/// An AWS call that failed. The message comes from the SDK's error chain (no credentials are
/// ever part of it).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}{call} failed: {message}", account.as_ref().map(|a| format!("account {a}: ")).unwrap_or_default())]
pub struct AwsError {
    /// The account, when the call was made in one.
    pub account: Option<String>,
    /// The call, e.g. `iam:GetAccountAuthorizationDetails` (with the role where there is one).
    pub call: String,
    /// AWS's error code (`NoSuchEntity`, `AccessDenied`, `Throttling`), when there is one.
    pub code: Option<String>,
    /// What happened.
    pub message: String,
}

// The AWS client implements the sources' traits; their error carries it boxed.
impl From<AwsError> for crate::sources::SourceError {
    fn from(e: AwsError) -> Self {
        crate::sources::SourceError::Remote(Box::new(e))
    }
}

impl AwsError {
    /// An error from an SDK call.
    pub fn from_sdk<E>(account: Option<&str>, call: impl Into<String>, err: &E) -> AwsError
    where
        E: std::error::Error + ProvideErrorMetadata + 'static,
    {
        // AWS's own code and message when it sent them; otherwise the chain of causes (the SDK's
        // DisplayErrorContext would append a Debug dump of the whole raw response).
        let message = match (err.code(), err.message()) {
            (Some(c), Some(m)) => format!("{c}: {m}"),
            (Some(c), None) => c.to_string(),
            (None, Some(m)) => m.to_string(),
            (None, None) => {
                let mut parts = vec![err.to_string()];
                let mut cause = err.source();
                while let Some(c) = cause {
                    let text = c.to_string();
                    if !parts.iter().any(|p| p.contains(&text)) {
                        parts.push(text);
                    }
                    cause = c.source();
                }
                parts.join(": ")
            }
        };
        AwsError {
            account: account.map(str::to_string),
            call: call.into(),
            code: err.code().map(str::to_string),
            message,
        }
    }

    /// An error without an SDK error behind it.
    pub fn other(
        account: Option<&str>,
        call: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        AwsError {
            account: account.map(str::to_string),
            call: call.into(),
            code: None,
            message: message.into(),
        }
    }

    /// Whether AWS said the entity does not exist.
    pub fn is_not_found(&self) -> bool {
        self.code.as_deref() == Some("NoSuchEntity")
    }
}

/// The partition of a region: `aws-cn` for `cn-*`, `aws-us-gov` for `us-gov-*`, else `aws`.
pub fn partition_of_region(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else {
        "aws"
    }
}

/// Counts of AWS calls by operation (`iam:GetAccountAuthorizationDetails` …), for reports and
/// benchmarks. A retried call counts once.
#[derive(Debug, Default)]
pub struct CallCounts(Mutex<BTreeMap<String, u64>>);

impl CallCounts {
    /// Records one call.
    pub fn record(&self, op: &str) {
        if let Ok(mut m) = self.0.lock() {
            *m.entry(op.to_string()).or_default() += 1;
        }
    }

    /// The counts so far.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// The total so far.
    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }
}

/// A connection to AWS: the base configuration from the standard chain, one IAM client per
/// account (through AssumeRole), and the runtime the SDK runs on.
pub struct Aws {
    runtime: tokio::runtime::Runtime,
    base: SdkConfig,
    settings: AwsSettings,
    partition: String,
    clients: Mutex<HashMap<String, aws_sdk_iam::Client>>,
    /// Calls made so far, by operation.
    pub calls: Arc<CallCounts>,
}

impl std::fmt::Debug for Aws {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aws")
            .field("settings", &self.settings)
            .field("partition", &self.partition)
            .finish_non_exhaustive()
    }
}

impl Aws {
    /// Loads the standard credential chain (narrowed by `settings.profile` / `settings.region`).
    /// No call is made until an account is used.
    pub fn connect(settings: &AwsSettings) -> Result<Aws, AwsError> {
        Aws::connect_with(settings, None)
    }

    /// Like [`Aws::connect`], with fixed base credentials instead of the standard chain's (for
    /// stand-ins and tests).
    pub fn connect_with(
        settings: &AwsSettings,
        credentials: Option<aws_sdk_iam::config::Credentials>,
    ) -> Result<Aws, AwsError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| AwsError::other(None, "starting the AWS runtime", e.to_string()))?;
        let retry = RetryConfig::standard()
            .with_max_attempts(settings.max_attempts.max(1))
            .with_initial_backoff(Duration::from_millis(200))
            .with_max_backoff(Duration::from_secs(20));
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .operation_attempt_timeout(Duration::from_secs(settings.call_timeout_seconds.max(1)))
            .connect_timeout(Duration::from_secs(10))
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(retry)
            .timeout_config(timeouts);
        if let Some(p) = &settings.profile {
            loader = loader.profile_name(p);
        }
        if let Some(r) = &settings.region {
            loader = loader.region(Region::new(r.clone()));
        }
        if let Some(u) = &settings.endpoint_url {
            loader = loader.endpoint_url(u);
        }
        if let Some(c) = credentials {
            loader = loader.credentials_provider(c);
        }
        let mut base = runtime.block_on(loader.load());
        if base.region().is_none() {
            base = base
                .into_builder()
                .region(Region::from_static("us-east-1"))
                .build();
        }
        let region = base.region().map(|r| r.to_string()).unwrap_or_default();
        let partition = settings
            .partition
            .clone()
            .unwrap_or_else(|| partition_of_region(&region).to_string());
        Ok(Aws {
            runtime,
            base,
            settings: settings.clone(),
            partition,
            clients: Mutex::new(HashMap::new()),
            calls: Arc::new(CallCounts::default()),
        })
    }

    /// The settings this connection was made with.
    pub fn settings(&self) -> &AwsSettings {
        &self.settings
    }

    /// The partition ARNs are built in (`aws`, `aws-cn`, `aws-us-gov`).
    pub fn partition(&self) -> &str {
        &self.partition
    }

    /// The ARN of the role assumed in `account`, or `None` when no role is assumed.
    pub fn assume_role_arn(&self, account: &str) -> Option<String> {
        let name = self.settings.assume_role.trim_matches('/');
        (!name.is_empty()).then(|| format!("arn:{}:iam::{account}:role/{name}", self.partition))
    }

    /// Runs a future on the connection's runtime.
    pub(crate) fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }

    /// The IAM client for `account` (assuming the configured role there), made once per run.
    pub(crate) fn iam(&self, account: &str) -> Result<aws_sdk_iam::Client, AwsError> {
        crate::store::names::validate_account_id(account)
            .map_err(|e| AwsError::other(Some(account), "choosing the account", e.to_string()))?;
        let mut clients = self
            .clients
            .lock()
            .map_err(|_| AwsError::other(Some(account), "IAM client", "client cache poisoned"))?;
        if let Some(c) = clients.get(account) {
            return Ok(c.clone());
        }
        let mut conf = aws_sdk_iam::config::Builder::from(&self.base);
        if let Some(arn) = self.assume_role_arn(account) {
            let mut b = AssumeRoleProvider::builder(arn.clone())
                .session_name(self.settings.session_name.clone())
                .configure(&self.base);
            if let Some(id) = &self.settings.external_id {
                b = b.external_id(id.clone());
            }
            tracing::debug!(account, role = %arn, "assuming role");
            conf = conf.credentials_provider(self.runtime.block_on(b.build()));
        }
        let conf = conf.retry_classifier(TooManyRequests).build();
        let client = aws_sdk_iam::Client::from_conf(conf);
        clients.insert(account.to_string(), client.clone());
        Ok(client)
    }
}

/// Retries HTTP 429 as throttling. The SDK's standard classifiers retry 5xx and AWS's throttling
/// error codes, but a bare 429 (from a proxy or gateway, often with no error body) would
/// otherwise fail the call at once.
#[derive(Debug)]
struct TooManyRequests;

impl aws_sdk_iam::config::retry::ClassifyRetry for TooManyRequests {
    fn classify_retry(
        &self,
        ctx: &aws_sdk_iam::config::interceptors::InterceptorContext,
    ) -> aws_sdk_iam::config::retry::RetryAction {
        match ctx.response().map(|r| r.status().as_u16()) {
            Some(429) => aws_sdk_iam::config::retry::RetryAction::throttling_error(),
            _ => aws_sdk_iam::config::retry::RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "HTTP 429 is throttling"
    }
}

/// A date from the SDK as chrono's.
pub(crate) fn chrono_date(
    d: &aws_sdk_iam::primitives::DateTime,
) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(d.secs(), d.subsec_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_follow_the_region() {
        assert_eq!(partition_of_region("us-east-1"), "aws");
        assert_eq!(partition_of_region("eu-west-3"), "aws");
        assert_eq!(partition_of_region("cn-north-1"), "aws-cn");
        assert_eq!(partition_of_region("us-gov-west-1"), "aws-us-gov");
    }

    #[test]
    fn error_names_account_and_call() {
        let e = AwsError::other(Some("111122223333"), "iam:GetRolePolicy app/inline", "boom");
        assert_eq!(
            e.to_string(),
            "account 111122223333: iam:GetRolePolicy app/inline failed: boom"
        );
    }
}
