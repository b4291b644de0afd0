//! The command line: argument parsing with clap, then one module per command. Commands build
//! plain requests for the library and hand results to an output writer; exit codes are
//! 0 (ok), 1 (something failed) and 2 (usage error — clap's own code).

mod catalog;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::engine::Catalog;

/// Least privilege for AWS IAM roles, as code in git.
///
/// repokid records every role's inline policies under policies/ACCOUNT/ROLE.json, removes the
/// permissions Access Advisor shows unused, and proposes the result for review.
#[derive(Debug, Parser)]
#[command(
    name = "repokid",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Use this IAM action catalog (iam-catalog v1 TSV) instead of the embedded one.
    #[arg(long, global = true, value_name = "FILE")]
    catalog: Option<PathBuf>,

    /// Output format: human-readable tables, or JSON for scripts.
    #[arg(long, global = true, value_enum, default_value_t = Format::Human)]
    format: Format,

    /// Log more (-v: info, -vv: debug, -vvv: trace). Logs go to stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Tables and sentences.
    Human,
    /// One JSON document (with a "version" field) on stdout.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect the IAM action catalog.
    #[command(subcommand)]
    Catalog(catalog::CatalogCommand),
}

/// Runs the CLI and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match run(&cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    let loaded = LoadedCatalog::load(cli.catalog.as_ref())?;
    match &cli.command {
        Command::Catalog(cmd) => catalog::run(cmd, &loaded, cli.format),
    }
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("REPOKID_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .try_init();
}

/// The catalog in use and where it came from.
pub struct LoadedCatalog {
    catalog: &'static Catalog,
    origin: String,
}

impl LoadedCatalog {
    fn load(path: Option<&PathBuf>) -> anyhow::Result<LoadedCatalog> {
        use anyhow::Context;
        match path {
            None => Ok(LoadedCatalog {
                catalog: Catalog::embedded(),
                origin: "embedded".into(),
            }),
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read catalog {}", p.display()))?;
                let catalog = Catalog::parse(&text)
                    .with_context(|| format!("invalid catalog {}", p.display()))?;
                // The CLI lives for one command; leaking the catalog gives it the embedded one's lifetime.
                Ok(LoadedCatalog {
                    catalog: Box::leak(Box::new(catalog)),
                    origin: p.display().to_string(),
                })
            }
        }
    }
}
