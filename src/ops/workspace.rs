//! The workspace a run works in: settings, filters, hooks and the catalog, loaded once.

use std::path::Path;
use std::sync::Arc;

use super::OpsError;
use crate::engine::Catalog;
use crate::filters::{Filter, FilterConfig};
use crate::hooks::{BatchDecisionHook, DecisionHook, LifecycleHook};
use crate::settings::Settings;

/// Settings, filters, hooks and catalog, loaded once per run.
pub struct Workspace {
    /// `repokid.toml`.
    pub settings: Settings,
    /// `filters.toml`.
    pub filters: FilterConfig,
    /// Contents of the blocklist file `filters.toml` names, if any.
    pub blocklist: Option<String>,
    /// The IAM action catalog.
    pub catalog: &'static Catalog,
    /// Hooks in the removable-permission calculation: the `[[hooks]]` commands of the settings,
    /// to which library users may add their own [`DecisionHook`]s.
    pub hooks: Vec<Box<dyn DecisionHook>>,
    /// Batch hooks in the calculation, run once per account after the per-role hooks: the
    /// `[[hooks]]` commands with `batch = true`, to which library users may add their own
    /// [`BatchDecisionHook`]s.
    pub batch_hooks: Vec<Box<dyn BatchDecisionHook>>,
    /// Hooks around [`propose`](super::propose()): the `[[hooks]]` commands with `events`, to which library users
    /// may add their own [`LifecycleHook`]s.
    pub lifecycle_hooks: Vec<Box<dyn LifecycleHook>>,
    /// Custom filters added by library users, run after the configured ones in every account.
    pub custom_filters: Vec<Arc<dyn Filter>>,
}

impl std::fmt::Debug for Workspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workspace")
            .field("settings", &self.settings)
            .field("filters", &self.filters)
            .field("blocklist", &self.blocklist)
            .field(
                "hooks",
                &self.hooks.iter().map(|h| h.name()).collect::<Vec<_>>(),
            )
            .field(
                "batch_hooks",
                &self
                    .batch_hooks
                    .iter()
                    .map(|h| h.name())
                    .collect::<Vec<_>>(),
            )
            .field(
                "lifecycle_hooks",
                &self
                    .lifecycle_hooks
                    .iter()
                    .map(|h| h.name())
                    .collect::<Vec<_>>(),
            )
            .field("custom_filters", &self.custom_filters)
            .finish_non_exhaustive()
    }
}

impl Workspace {
    /// Loads settings from `settings_path` (defaults when it is absent and `must_exist` is false)
    /// and the filters file it names (the built-in defaults when that file is absent).
    pub fn load(
        settings_path: &Path,
        must_exist: bool,
        catalog: &'static Catalog,
    ) -> Result<Workspace, OpsError> {
        let settings = Settings::load(settings_path, must_exist)?;
        let filters_path = settings.resolve(&settings.filters);
        let shown = filters_path.display().to_string();
        let text = match std::fs::read_to_string(&filters_path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                crate::filters::DEFAULT_FILTERS_TOML.to_string()
            }
            Err(source) => {
                return Err(OpsError::Io {
                    path: shown,
                    source,
                });
            }
        };
        let filters = FilterConfig::parse(&text).map_err(|source| OpsError::Filters {
            path: shown.clone(),
            source,
        })?;
        let blocklist = match filters.blocklist_file() {
            Some(p) => {
                let base = filters_path.parent().unwrap_or(Path::new("."));
                let p = base.join(p);
                Some(std::fs::read_to_string(&p).map_err(|source| OpsError::Io {
                    path: p.display().to_string(),
                    source,
                })?)
            }
            None => None,
        };
        let hooks = settings
            .command_hooks()
            .into_iter()
            .map(|h| Box::new(h) as Box<dyn DecisionHook>)
            .collect();
        let batch_hooks = settings
            .batch_hooks()
            .into_iter()
            .map(|h| Box::new(h) as Box<dyn BatchDecisionHook>)
            .collect();
        let lifecycle_hooks = settings
            .lifecycle_hooks()
            .into_iter()
            .map(|h| Box::new(h) as Box<dyn LifecycleHook>)
            .collect();
        Ok(Workspace {
            settings,
            filters,
            blocklist,
            catalog,
            hooks,
            batch_hooks,
            lifecycle_hooks,
            custom_filters: Vec::new(),
        })
    }
}
