//! Keeping a checked-out branch's working tree in step: refusing to write over uncommitted
//! changes, and updating the files and index entries after the commit.

use std::path::Path;

use git2::{ErrorCode, Oid, Status, StatusOptions};

use super::{NewExtra, NewFile, PolicyStore, WriteAccount, account_dir};
use crate::store::{POLICIES_DIR, StoreError};

impl PolicyStore {
    /// [`StoreError::Dirty`] if one of `req.extra_files` has staged, unstaged or untracked changes
    /// in the working tree.
    pub(super) fn refuse_if_extras_dirty(&self, req: &WriteAccount) -> Result<(), StoreError> {
        for (path, _) in &req.extra_files {
            let status = match self.repo.status_file(Path::new(path)) {
                Ok(s) => s,
                Err(e) if e.code() == ErrorCode::NotFound => continue,
                Err(e) => {
                    return Err(StoreError::git(
                        self.ctx(format!("checking {path} for changes")),
                    )(e));
                }
            };
            if status != Status::CURRENT && !status.contains(Status::IGNORED) {
                return Err(StoreError::Dirty {
                    path: self.root().join(path).display().to_string(),
                });
            }
        }
        Ok(())
    }

    /// [`StoreError::Dirty`] if `policies/<account>/` has staged, unstaged or untracked changes in
    /// the working tree.
    pub(super) fn refuse_if_dirty(&self, account: &str) -> Result<(), StoreError> {
        let dir = account_dir(account);
        let prefix = format!("{dir}/");
        let mut opts = StatusOptions::new();
        opts.pathspec(&prefix)
            .include_untracked(true)
            .recurse_untracked_dirs(true)
            .include_ignored(false)
            .include_unmodified(false)
            .exclude_submodules(true);
        let statuses = self
            .repo
            .statuses(Some(&mut opts))
            .map_err(StoreError::git(
                self.ctx(format!("checking {dir} for changes")),
            ))?;
        let dirty = statuses.iter().any(|s| {
            s.status() != Status::CURRENT
                && !s.status().contains(Status::IGNORED)
                && s.path_bytes().starts_with(prefix.as_bytes())
        });
        if dirty {
            return Err(StoreError::Dirty {
                path: self.root().join(&dir).display().to_string(),
            });
        }
        Ok(())
    }

    /// Brings `dir`'s files and index entries in line with a commit that wrote `files` and deleted
    /// `removed`.
    pub(super) fn update_worktree(
        &self,
        dir: &str,
        files: &[NewFile],
        removed: &[String],
        extras: &[NewExtra<'_>],
    ) -> Result<(), String> {
        let workdir = self
            .repo
            .workdir()
            .ok_or_else(|| "the repository has no working tree".to_string())?;
        let abs_dir = workdir.join(dir);
        let mut index = self
            .repo
            .index()
            .map_err(|e| format!("opening the index: {}", e.message()))?;
        index
            .read(false)
            .map_err(|e| format!("reading the index: {}", e.message()))?;
        if !files.is_empty() {
            std::fs::create_dir_all(&abs_dir)
                .map_err(|e| format!("creating {}: {e}", abs_dir.display()))?;
        }
        for f in files {
            let rel = format!("{dir}/{}.json", f.role);
            let abs = abs_dir.join(format!("{}.json", f.role));
            std::fs::write(&abs, f.text.as_bytes())
                .map_err(|e| format!("writing {}: {e}", abs.display()))?;
            let entry = index_entry(&abs, &rel, f.id, f.mode)?;
            index
                .add(&entry)
                .map_err(|e| format!("updating the index for {rel}: {}", e.message()))?;
        }
        for role in removed {
            let rel = format!("{dir}/{role}.json");
            let abs = abs_dir.join(format!("{role}.json"));
            match std::fs::remove_file(&abs) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("deleting {}: {e}", abs.display())),
            }
            index
                .remove_path(Path::new(&rel))
                .map_err(|e| format!("updating the index for {rel}: {}", e.message()))?;
        }
        if !removed.is_empty() {
            // Like git, leave no empty directories behind (these fail harmlessly when not empty).
            let _ = std::fs::remove_dir(&abs_dir);
            let _ = std::fs::remove_dir(workdir.join(POLICIES_DIR));
        }
        for extra in extras {
            let abs = workdir.join(extra.path);
            if let Some(parent) = abs.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("creating {}: {e}", parent.display()))?;
            }
            std::fs::write(&abs, extra.text.as_bytes())
                .map_err(|e| format!("writing {}: {e}", abs.display()))?;
            let entry = index_entry(&abs, extra.path, extra.id, extra.mode)?;
            index
                .add(&entry)
                .map_err(|e| format!("updating the index for {}: {}", extra.path, e.message()))?;
        }
        index
            .write()
            .map_err(|e| format!("writing the index: {}", e.message()))
    }
}

/// An index entry for a file just written, with its stat data so `git status` need not re-read it.
fn index_entry(abs: &Path, rel: &str, id: Oid, mode: i32) -> Result<git2::IndexEntry, String> {
    let meta = std::fs::metadata(abs).map_err(|e| format!("reading {}: {e}", abs.display()))?;
    let path = rel.as_bytes().to_vec();
    // The low 12 bits of the flags hold the path length (capped), as in git.
    let flags = path.len().min(0xfff) as u16;
    #[cfg(unix)]
    let entry = {
        use std::os::unix::fs::MetadataExt;
        // Git stores these truncated to 32 bits, so the casts are what git does.
        git2::IndexEntry {
            ctime: git2::IndexTime::new(meta.ctime() as i32, meta.ctime_nsec() as u32),
            mtime: git2::IndexTime::new(meta.mtime() as i32, meta.mtime_nsec() as u32),
            dev: meta.dev() as u32,
            ino: meta.ino() as u32,
            mode: mode as u32,
            uid: meta.uid(),
            gid: meta.gid(),
            file_size: meta.len() as u32,
            id,
            flags,
            flags_extended: 0,
            path,
        }
    };
    #[cfg(not(unix))]
    let entry = {
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .unwrap_or_default();
        let time = git2::IndexTime::new(mtime.as_secs() as i32, mtime.subsec_nanos());
        git2::IndexEntry {
            ctime: time,
            mtime: time,
            dev: 0,
            ino: 0,
            mode: mode as u32,
            uid: 0,
            gid: 0,
            file_size: meta.len() as u32,
            id,
            flags,
            flags_extended: 0,
            path,
        }
    };
    Ok(entry)
}
