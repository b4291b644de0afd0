//! `display-role-cache`, `find-roles-with-permissions` and `remove-permissions-from-roles`: the
//! recorded roles, read from the policy store.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::inputs::open_store;
use super::{Ctx, Format};
use crate::engine::grants::analyze;
use crate::engine::policy::inline_size;
use crate::engine::rewrite::rewrite;
use crate::engine::{ActionSet, Catalog, Expansion};
use crate::store::git::{WriteAccount, WriteMode};
use crate::store::names::{validate_account_id, validate_role_name};
use crate::store::{Action, trailers};

/// Arguments of `display-role-cache`.
#[derive(Debug, clap::Args)]
pub struct RoleCacheArgs {
    /// The account id.
    account: String,
    /// Read at this revision.
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    rev: String,
}

/// `repokid display-role-cache`: the recorded roles of an account.
pub fn run_role_cache(a: &RoleCacheArgs, ctx: &Ctx) -> Result<ExitCode> {
    validate_account_id(&a.account)?;
    let ws = ctx.workspace()?;
    let store = open_store(ctx.repo.as_ref(), &ws)?;
    let roles = store.read_account(&a.rev, &a.account)?;
    let catalog = ctx.catalog.catalog;
    let rows: Vec<(String, usize, usize, usize)> = roles
        .iter()
        .map(|(name, p)| {
            (
                name.clone(),
                p.len(),
                analyze(p, catalog).all.len(),
                inline_size(p),
            )
        })
        .collect();
    match ctx.format {
        Format::Json => {
            let doc: Vec<_> = rows
                .iter()
                .map(|(n, p, a, s)| serde_json::json!({"role": n, "policies": p, "permissions": a, "size": s}))
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(
                    &serde_json::json!({"version": 1, "account": a.account, "roles": doc})
                )?
            );
        }
        Format::Human => {
            let w = rows.iter().map(|r| r.0.len()).max().unwrap_or(4).max(4);
            println!(
                "{:<w$}  {:>8}  {:>11}  {:>6}",
                "ROLE", "POLICIES", "PERMISSIONS", "SIZE"
            );
            for (n, p, perms, s) in &rows {
                println!("{n:<w$}  {p:>8}  {perms:>11}  {s:>6}");
            }
            println!(
                "\n{} roles recorded for {} at {}",
                rows.len(),
                a.account,
                a.rev
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn expand_all(catalog: &Catalog, perms: &[String]) -> Result<ActionSet> {
    let mut set = catalog.empty_set();
    for p in perms {
        match catalog.expand(p) {
            Expansion::Known(s) => set.union_with(&s),
            Expansion::Unknown => anyhow::bail!("{p} matches no action in the catalog"),
        }
    }
    Ok(set)
}

/// Arguments of `find-roles-with-permissions`.
#[derive(Debug, clap::Args)]
pub struct FindArgs {
    /// Permissions to look for; wildcards allowed (`iam:Create*`).
    #[arg(required = true)]
    permissions: Vec<String>,
    /// Only this account (repeatable; default: every recorded account).
    #[arg(long = "account", value_name = "ID")]
    accounts: Vec<String>,
    /// Also write the matching role ARNs, one per line, for `remove-permissions-from-roles`.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// `repokid find-roles-with-permissions`: roles whose policies grant any of the permissions,
/// wildcards in policies expanded (Repokid's version found nothing, W11).
pub fn run_find(a: &FindArgs, ctx: &Ctx) -> Result<ExitCode> {
    let ws = ctx.workspace()?;
    let store = open_store(ctx.repo.as_ref(), &ws)?;
    let catalog = ctx.catalog.catalog;
    let wanted = expand_all(catalog, &a.permissions)?;
    let accounts = if a.accounts.is_empty() {
        store.accounts("HEAD")?
    } else {
        a.accounts.clone()
    };
    let mut found: Vec<(String, String, Vec<String>)> = Vec::new();
    for account in &accounts {
        validate_account_id(account)?;
        for (role, policies) in store.read_account("HEAD", account)? {
            let mut hit = analyze(&policies, catalog).all;
            hit.intersect_with(&wanted);
            if !hit.is_empty() {
                found.push((
                    account.clone(),
                    role,
                    hit.iter().map(|id| catalog.name(id).to_string()).collect(),
                ));
            }
        }
    }
    if let Some(path) = &a.output {
        let text: String = found
            .iter()
            .map(|(acc, role, _)| format!("arn:aws:iam::{acc}:role/{role}\n"))
            .collect();
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    match ctx.format {
        Format::Json => {
            let doc: Vec<_> = found
                .iter()
                .map(|(acc, role, perms)| serde_json::json!({"account": acc, "role": role, "permissions": perms}))
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({"version": 1, "roles": doc}))?
            );
        }
        Format::Human => {
            for (acc, role, perms) in &found {
                println!("{acc}  {role}  {}", perms.join(", "));
            }
            println!(
                "\n{} roles grant at least one of: {}",
                found.len(),
                a.permissions.join(", ")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `remove-permissions-from-roles`.
#[derive(Debug, clap::Args)]
pub struct RemoveArgs {
    /// File of role ARNs, one per line (as `find-roles-with-permissions --output` writes).
    #[arg(long, value_name = "FILE")]
    role_file: PathBuf,
    /// Permissions to remove; wildcards allowed.
    #[arg(required = true)]
    permissions: Vec<String>,
    /// Start the proposal branches from this revision.
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    base: String,
}

fn parse_role_arn(arn: &str) -> Option<(String, String)> {
    let rest = arn.strip_prefix("arn:")?;
    let parts: Vec<&str> = rest.splitn(5, ':').collect();
    if parts.len() != 5 || parts[1] != "iam" {
        return None;
    }
    let name = parts[4].strip_prefix("role/")?.rsplit('/').next()?;
    Some((parts[3].to_string(), name.to_string()))
}

/// `repokid remove-permissions-from-roles`: removes the named permissions from the listed roles
/// as a proposal (a branch per account); Deny and NOREPO statements are left alone.
pub fn run_remove(a: &RemoveArgs, ctx: &Ctx) -> Result<ExitCode> {
    let ws = ctx.workspace()?;
    let store = open_store(ctx.repo.as_ref(), &ws)?;
    let catalog = ctx.catalog.catalog;
    let remove = expand_all(catalog, &a.permissions)?;
    let text = std::fs::read_to_string(&a.role_file)
        .with_context(|| format!("cannot read {}", a.role_file.display()))?;
    let mut by_account: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let (account, role) = parse_role_arn(line.trim()).with_context(|| {
            format!(
                "{} line {}: not a role ARN: {line}",
                a.role_file.display(),
                i + 1
            )
        })?;
        validate_account_id(&account)
            .with_context(|| format!("{} line {}", a.role_file.display(), i + 1))?;
        validate_role_name(&role)
            .with_context(|| format!("{} line {}", a.role_file.display(), i + 1))?;
        by_account.entry(account).or_default().push(role);
    }
    let mut failures = 0;
    for (account, roles) in by_account {
        let mut changed = BTreeMap::new();
        let mut lines = Vec::new();
        let mut total = 0;
        for role in roles {
            let Some(policies) = store.read_role(&a.base, &account, &role)? else {
                eprintln!("{account}/{role}: not recorded at {}; skipped", a.base);
                failures += 1;
                continue;
            };
            let grants = analyze(&policies, catalog);
            let mut hit = grants.all.clone();
            hit.intersect_with(&remove);
            hit.difference_with(&grants.norepo);
            if hit.is_empty() {
                println!("{account}/{role}: grants none of them");
                continue;
            }
            match rewrite(&policies, &grants, &hit, catalog, &ws.settings.engine) {
                Ok(rw) => {
                    total += hit.len();
                    lines.push(format!(
                        "{role}: remove {}",
                        hit.iter()
                            .map(|id| catalog.name(id))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                    println!("{account}/{role}: removes {} action(s)", hit.len());
                    changed.insert(role, rw.policies);
                }
                Err(e) => {
                    eprintln!("{account}/{role}: {e}; skipped");
                    failures += 1;
                }
            }
        }
        if changed.is_empty() {
            continue;
        }
        let branch = format!("repokid/remove-permissions/{account}");
        let written = store.write_account(&WriteAccount {
            base: Some(a.base.clone()),
            mode: WriteMode::Upsert,
            roles: changed,
            action: Action::RemovePermissions,
            subject: format!(
                "repokid: remove {} from {account}",
                a.permissions.join(", ")
            ),
            body: lines.join("\n"),
            extra_trailers: vec![(trailers::REMOVED_ACTIONS.to_string(), total.to_string())],
            ..WriteAccount::new(branch.clone(), account.clone())
        })?;
        if let Some(w) = written {
            println!(
                "{account}: committed {:.10} on branch {branch}",
                w.commit.to_string()
            );
        }
    }
    Ok(if failures > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
