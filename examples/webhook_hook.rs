//! A [`DecisionHook`] that posts each role's removal list to a webhook, as JSON over plain HTTP.
//!
//! The hook observes and does not decide: it returns no verdicts, so the engine's decisions stand.
//! It uses only `std::net::TcpStream` (HTTP/1.1, `Connection: close`), so it works with any
//! `http://host:port/path` endpoint without a TLS stack. A connection error or a non-2xx answer is
//! a [`HookError`] naming the hook, which makes that role ineligible (`Ineligible::HookFailed`):
//! a role is not rightsized unless the webhook has seen its removal list.
//!
//! Run it on the bundled demo data (`examples/demo/`), with the grace period off because there is
//! no repository history to date the permissions:
//!
//! ```sh
//! cargo run --example webhook_hook -- http://127.0.0.1:8080/repokid
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, TimeZone, Utc};
use repokid::engine::usage::UsageByArn;
use repokid::engine::{Catalog, Ineligible};
use repokid::filters::{DEFAULT_FILTERS_TOML, FilterConfig};
use repokid::hooks::{DecisionHook, HookContext, HookError, HookVerdict};
use repokid::ops::{self, PlanOptions, PlannedRole, Workspace};
use repokid::report::PlanReport;
use repokid::settings::Settings;
use repokid::sources::inventory_file::{Inventory, parse_inventory};
use repokid::sources::usage_file::{UsageFormat, parse_usage};
use serde::Serialize;

/// The hook's name, in evidence and errors.
pub const HOOK_NAME: &str = "webhook";

/// How long connecting, sending and waiting for the status line may each take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The longest status line accepted from the server.
const MAX_STATUS_LINE: u64 = 8 * 1024;

/// Posts every role's potentially removable actions to `url` (`http://host[:port][/path]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookHook {
    /// Where to POST, e.g. `http://127.0.0.1:8080/repokid`.
    pub url: String,
}

/// The JSON body posted for one role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemovalNotice<'a> {
    /// The hook that sent it.
    pub hook: &'a str,
    /// 12-digit account id.
    pub account: &'a str,
    /// Role name.
    pub role: &'a str,
    /// Role ARN.
    pub arn: &'a str,
    /// The actions the engine would remove (canonical names, catalog order).
    pub potentially_removable: &'a [String],
    /// The usage window the decisions were made with, in days.
    pub usage_window_days: i64,
}

/// The parts of an `http://` URL needed to send a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// Host name or address (IPv6 addresses keep their brackets).
    pub host: String,
    /// Port (80 when the URL has none).
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

/// Parses `http://host[:port][/path]`; anything else (https, user info, no host) is an error.
pub fn parse_url(url: &str) -> Result<HttpUrl, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url:?} is not an http:// URL (only plain HTTP is supported)"))?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest[i..].starts_with('/') => (&rest[..i], rest[i..].to_string()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_string()),
    };
    if authority.contains('@') {
        return Err(format!("{url:?}: user info is not supported"));
    }
    // `[::1]:8080`, `[::1]`, `host:8080` or `host`.
    let (host, port) = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => {
            let port = authority[i + 1..]
                .parse::<u16>()
                .map_err(|_| format!("{url:?}: bad port {:?}", &authority[i + 1..]))?;
            (&authority[..i], port)
        }
        _ => (authority, 80),
    };
    if host.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    Ok(HttpUrl {
        host: host.to_string(),
        port,
        path,
    })
}

/// POSTs `body` as JSON to `url` and returns the status code, whatever it is.
pub fn post_json(url: &HttpUrl, body: &[u8]) -> Result<u16, String> {
    let target = format!("{}:{}", url.host, url.port);
    let addrs: Vec<_> = target
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {target}: {e}"))?
        .collect();
    let mut last_error = format!("{target} resolves to no address");
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, TIMEOUT) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last_error = format!("cannot connect to {addr}: {e}"),
        }
    }
    let mut stream = stream.ok_or(last_error)?;
    let io = |e: std::io::Error| format!("{target}: {e}");
    stream.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(io)?;

    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: repokid-webhook-example\r\n\
         Content-Type: application/json\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n",
        path = url.path,
        host = if url.port == 80 {
            url.host.clone()
        } else {
            target.clone()
        },
        len = body.len(),
    );
    stream.write_all(head.as_bytes()).map_err(io)?;
    stream.write_all(body).map_err(io)?;
    stream.flush().map_err(io)?;

    let mut line = String::new();
    BufReader::new(&stream)
        .take(MAX_STATUS_LINE)
        .read_line(&mut line)
        .map_err(|e| format!("{target}: no status line: {e}"))?;
    parse_status_line(&line).ok_or_else(|| {
        format!(
            "{target}: bad status line {:?}",
            line.trim_end_matches(['\r', '\n'])
        )
    })
}

/// The code of an `HTTP/1.x NNN reason` status line.
fn parse_status_line(line: &str) -> Option<u16> {
    let mut parts = line.trim_end_matches(['\r', '\n']).splitn(3, ' ');
    let version = parts.next()?;
    let code = parts.next()?;
    if !version.starts_with("HTTP/1.") || code.len() != 3 {
        return None;
    }
    code.parse().ok()
}

impl WebhookHook {
    /// Sends the notice for `ctx`; an error is the message for the [`HookError`].
    fn notify(&self, ctx: &HookContext) -> Result<(), String> {
        let url = parse_url(&self.url)?;
        let body = serde_json::to_vec(&RemovalNotice {
            hook: HOOK_NAME,
            account: &ctx.account,
            role: &ctx.role,
            arn: &ctx.arn,
            potentially_removable: &ctx.potentially_removable,
            usage_window_days: ctx.usage_window_days,
        })
        .map_err(|e| format!("cannot encode the notice: {e}"))?;
        let status = post_json(&url, &body).map_err(|e| format!("POST {}: {e}", self.url))?;
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(format!("POST {} answered HTTP {status}", self.url))
        }
    }
}

impl DecisionHook for WebhookHook {
    fn name(&self) -> &str {
        HOOK_NAME
    }

    /// Runs after the deciding hooks, so the webhook sees the final removal list.
    fn priority(&self) -> i32 {
        i32::MAX
    }

    /// Posts the removal list (a role with nothing removable is not posted) and decides nothing.
    fn decide(&self, ctx: &HookContext) -> Result<Vec<HookVerdict>, HookError> {
        if ctx.potentially_removable.is_empty() {
            return Ok(Vec::new());
        }
        self.notify(ctx)
            .map_err(|message| HookError::new(HOOK_NAME, message))?;
        Ok(Vec::new())
    }
}

/// When the demo data is planned: six hours after it was collected.
pub fn demo_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

/// The bundled demo inventory and usage (`examples/demo/`).
pub fn demo_inputs() -> anyhow::Result<(Inventory, UsageByArn)> {
    let inventory = parse_inventory("inventory.json", include_bytes!("demo/inventory.json"))?;
    let usage = parse_usage(
        "usage.json",
        include_str!("demo/usage.json"),
        UsageFormat::Auto,
        demo_now(),
    )?;
    Ok((inventory, usage))
}

/// Default settings and the bundled `filters.toml`, with `hooks`.
pub fn workspace(hooks: Vec<Box<dyn DecisionHook>>) -> anyhow::Result<Workspace> {
    Ok(Workspace {
        settings: Settings::default(),
        filters: FilterConfig::parse(DEFAULT_FILTERS_TOML)?,
        blocklist: None,
        catalog: Catalog::embedded(),
        hooks,
        batch_hooks: Vec::new(),
        lifecycle_hooks: Vec::new(),
        custom_filters: Vec::new(),
    })
}

/// Plans the demo data with the webhook hook posting to `url`: no repository (so the grace period
/// is off: there is no history to date the permissions), at [`demo_now`].
pub fn plan_demo(url: &str) -> anyhow::Result<(PlanReport, Vec<PlannedRole>)> {
    let ws = workspace(vec![Box::new(WebhookHook {
        url: url.to_string(),
    })])?;
    let (inventory, usage) = demo_inputs()?;
    let opts = PlanOptions {
        grace_days: Some(0),
        ..PlanOptions::default()
    };
    Ok(ops::plan(&ws, None, &inventory, &usage, &opts, demo_now())?)
}

/// Whether the hook failed for this role.
pub fn hook_failed(p: &PlannedRole) -> Option<&str> {
    p.plan.ineligible.iter().find_map(|i| match i {
        Ineligible::HookFailed { hook, message } if hook == HOOK_NAME => Some(message.as_str()),
        _ => None,
    })
}

/// The roles whose removal list was posted: the hook ran for them (they passed the filters and
/// the usage checks), had something to post, and did not fail.
pub fn posted(planned: &[PlannedRole]) -> Vec<&PlannedRole> {
    planned
        .iter()
        .filter(|p| !p.plan.decisions.removable().is_empty() && hook_failed(p).is_none())
        .collect()
}

#[allow(dead_code)] // unused where the tests include this file as a module
fn main() -> anyhow::Result<()> {
    let url = std::env::args()
        .nth(1)
        .context("usage: webhook_hook http://HOST:PORT/PATH")?;
    parse_url(&url).map_err(anyhow::Error::msg)?;
    let (_, planned) = plan_demo(&url)?;
    let failed: Vec<&PlannedRole> = planned
        .iter()
        .filter(|p| hook_failed(p).is_some())
        .collect();
    println!(
        "posted {} role(s) to {url}; {} failed",
        posted(&planned).len(),
        failed.len()
    );
    for p in failed {
        println!("  {}: {}", p.role.name, hook_failed(p).unwrap_or_default());
    }
    Ok(())
}
