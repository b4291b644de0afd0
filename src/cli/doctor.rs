//! `repokid doctor`: what the loop needs from the repository's settings on GitHub, and what is
//! missing, each with a fix ([`crate::github::doctor`]).

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Result;

use super::{Ctx, Format};
use crate::github::client::{GitHub, token_from_env};
use crate::github::doctor::{Diagnosis, DoctorOptions, Status, doctor};

/// Arguments of `doctor`.
#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// The environment apply.yml runs in.
    #[arg(long, value_name = "NAME", default_value = "iam-apply")]
    environment: String,
    /// Check what scheduling needs too (`repokid/schedule` required, merge commits allowed).
    /// Default: when the repository variable REPOKID_SCHEDULE is "true".
    #[arg(long)]
    schedule: bool,
}

/// `repokid doctor`.
pub fn run(a: &DoctorArgs, ctx: &Ctx) -> Result<ExitCode> {
    let ws = ctx.workspace()?;
    let gh = GitHub::connect(&ws.settings.github, &ws.settings.base_dir, token_from_env())?;
    let opts = DoctorOptions {
        environment: a.environment.clone(),
        schedule: a.schedule.then_some(true),
    };
    let d = doctor(&gh, &ws.settings.github, &ws.settings.base_dir, &opts)?;
    match ctx.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "version": 1,
                "healthy": d.healthy(),
                "diagnosis": d,
            }))?
        ),
        Format::Human => print!("{}", human(&d)),
    }
    Ok(if d.healthy() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The diagnosis as a table: one row per check, what was found, and the fix for each that is
/// not as the loop needs it.
fn human(d: &Diagnosis) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "repokid doctor: {} (default branch {}; scheduling {}: {})\n",
        d.repository,
        d.default_branch,
        if d.scheduling { "on" } else { "off" },
        d.scheduling_from
    );
    let _ = writeln!(out, "{:<13} {:<26} WHAT THE LOOP NEEDS", "STATUS", "CHECK");
    for c in &d.checks {
        let status = match (c.status, c.required) {
            (Status::Ok, _) => "ok",
            (Status::Missing, true) => "MISSING",
            (Status::Missing, false) => "missing (rec)",
            (Status::Unknown, true) => "UNKNOWN",
            (Status::Unknown, false) => "unknown (rec)",
        };
        let _ = writeln!(out, "{status:<13} {:<26} {}", c.id, c.what);
        let _ = writeln!(out, "{:<40} found: {}", "", c.found);
        if c.status != Status::Ok {
            let _ = writeln!(out, "{:<40} fix: {}", "", c.fix);
        }
    }
    let not_met = d
        .checks
        .iter()
        .filter(|c| c.required && c.status != Status::Ok)
        .count();
    let _ = writeln!(
        out,
        "\n{}",
        if not_met == 0 {
            "Everything the loop needs is set (rec: recommended, not required).".to_string()
        } else {
            format!(
                "{not_met} required setting(s) missing or not readable with this token: fix \
                 them as shown (rec: recommended, not required)."
            )
        }
    );
    out
}
