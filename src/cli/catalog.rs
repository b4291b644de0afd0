//! `repokid catalog info|expand`.

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::json;

use super::{Format, LoadedCatalog};
use crate::engine::{AccessLevel, Expansion};

/// Catalog subcommands.
#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Print where the catalog came from and how many services and actions it has.
    Info,
    /// Expand action patterns (IAM wildcards `*` and `?`, case-insensitive) into catalog actions.
    Expand {
        /// Patterns such as `s3:Get*`, `ec2*:Describe*` or `*`.
        #[arg(required = true)]
        patterns: Vec<String>,
    },
}

pub fn run(
    cmd: &CatalogCommand,
    loaded: &LoadedCatalog,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let c = loaded.catalog;
    match cmd {
        CatalogCommand::Info => {
            let mut levels: BTreeMap<AccessLevel, usize> = BTreeMap::new();
            for id in 0..c.len() as u32 {
                *levels.entry(c.level(id)).or_default() += 1;
            }
            match format {
                Format::Json => {
                    let levels: BTreeMap<&str, usize> =
                        levels.iter().map(|(l, n)| (l.as_str(), *n)).collect();
                    let doc = json!({
                        "version": 1,
                        "source": c.source(),
                        "updated": c.updated(),
                        "origin": loaded.origin,
                        "services": c.services().len(),
                        "actions": c.len(),
                        "levels": levels,
                    });
                    println!("{}", serde_json::to_string_pretty(&doc)?);
                }
                Format::Human => {
                    println!("source    {} ({})", c.source(), loaded.origin);
                    if let Some(updated) = c.updated() {
                        println!("updated   {updated}");
                    }
                    println!("services  {}", c.services().len());
                    println!("actions   {}", c.len());
                    let parts: Vec<String> =
                        levels.iter().map(|(l, n)| format!("{l} {n}")).collect();
                    println!("levels    {}", parts.join(", "));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        CatalogCommand::Expand { patterns } => {
            let mut out = serde_json::Map::new();
            let mut unknown = false;
            for p in patterns {
                let names: Vec<&str> = match c.expand(p) {
                    Expansion::Known(set) => set.iter().map(|id| c.name(id)).collect(),
                    Expansion::Unknown => {
                        unknown = true;
                        Vec::new()
                    }
                };
                match format {
                    Format::Human => {
                        if names.is_empty() {
                            eprintln!("{p}: matches no action in the catalog");
                        }
                        for n in &names {
                            println!("{n}");
                        }
                    }
                    Format::Json => {
                        out.insert(p.clone(), json!(names));
                    }
                }
            }
            if format == Format::Json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({"version": 1, "expansions": out}))?
                );
            }
            Ok(if unknown {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}
