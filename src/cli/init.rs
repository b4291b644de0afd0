//! `repokid init` and `repokid config FILE`: write the commented settings and filters files.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::filters::DEFAULT_FILTERS_TOML;
use crate::settings::DEFAULT_SETTINGS_TOML;

/// Arguments of `init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Directory to write repokid.toml and filters.toml into.
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Overwrite existing files.
    #[arg(long)]
    force: bool,
}

/// Arguments of `config`.
#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    /// The settings file to write.
    file: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    force: bool,
}

fn write_new(path: &Path, text: &str, force: bool) -> Result<bool> {
    if path.exists() && !force {
        eprintln!(
            "{} exists; left as it is (use --force to overwrite)",
            path.display()
        );
        return Ok(false);
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(true)
}

/// `repokid init`.
pub fn run_init(a: &InitArgs) -> Result<ExitCode> {
    std::fs::create_dir_all(&a.dir)
        .with_context(|| format!("cannot create {}", a.dir.display()))?;
    write_new(&a.dir.join("repokid.toml"), DEFAULT_SETTINGS_TOML, a.force)?;
    write_new(&a.dir.join("filters.toml"), DEFAULT_FILTERS_TOML, a.force)?;
    Ok(ExitCode::SUCCESS)
}

/// `repokid config FILE`.
pub fn run_config(a: &ConfigArgs) -> Result<ExitCode> {
    write_new(&a.file, DEFAULT_SETTINGS_TOML, a.force)?;
    let filters = a
        .file
        .parent()
        .unwrap_or(Path::new("."))
        .join("filters.toml");
    write_new(&filters, DEFAULT_FILTERS_TOML, false)?;
    Ok(ExitCode::SUCCESS)
}
