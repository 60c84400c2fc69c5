//! Snapshots: exports with secrets in `DIR/snapshots/`, written safely and pruned.

use crate::error::{Result, StoreError};
use crate::Store;
use std::fs;
use std::io::{BufWriter, ErrorKind};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Folder of the snapshots in the state folder.
pub const SNAPSHOT_DIR: &str = "snapshots";
const PREFIX: &str = "pbxd-";
const SUFFIX: &str = ".jsonl";
const TMP_SUFFIX: &str = ".jsonl.tmp";

/// Is this a snapshot file name (`pbxd-YYYYMMDD-HHMMSS.jsonl`)?
fn is_snapshot(name: &str) -> bool {
    name.strip_prefix(PREFIX)
        .and_then(|r| r.strip_suffix(SUFFIX))
        .is_some_and(|stamp| {
            stamp.len() == 15
                && stamp.bytes().enumerate().all(|(i, b)| {
                    if i == 8 {
                        b == b'-'
                    } else {
                        b.is_ascii_digit()
                    }
                })
        })
}

/// The snapshots in `dir/snapshots`, oldest first (the names sort by time).
pub(crate) fn list(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let sdir = dir.join(SNAPSHOT_DIR);
    let rd = match fs::read_dir(&sdir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut names: Vec<String> = Vec::new();
    for e in rd {
        let e = e?;
        if let Some(name) = e.file_name().to_str().filter(|n| is_snapshot(n)) {
            names.push(name.to_string());
        }
    }
    names.sort();
    Ok(names.into_iter().map(|n| sdir.join(n)).collect())
}

/// The time of the newest snapshot in `dir/snapshots` (its modification time), if any; the
/// daemon uses it to decide whether the daily snapshot is due.
pub fn last_snapshot(dir: &Path) -> Option<SystemTime> {
    let newest = list(dir).ok()?.pop()?;
    fs::metadata(newest).and_then(|m| m.modified()).ok()
}

/// fsyncs a folder, so a rename or a new file in it survives a crash.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

impl Store {
    /// Writes an export with secrets to `dir/snapshots/pbxd-YYYYMMDD-HHMMSS.jsonl` (UTC, mode
    /// 0600; written to a temporary file, fsynced and renamed) and removes the oldest snapshots
    /// beyond the newest `keep` (at least the new one is always kept). Returns its path.
    pub fn snapshot(&self, dir: &Path, keep: usize) -> Result<PathBuf> {
        let sdir = dir.join(SNAPSHOT_DIR);
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Io { path, source }
        };
        if !sdir.exists() {
            fs::create_dir_all(&sdir).map_err(io(&sdir))?;
            fs::set_permissions(&sdir, fs::Permissions::from_mode(0o700)).map_err(io(&sdir))?;
        }
        let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S");
        let path = sdir.join(format!("{PREFIX}{stamp}{SUFFIX}"));
        let tmp = sdir.join(format!(".{PREFIX}{stamp}{TMP_SUFFIX}"));
        let file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io(&tmp))?;
        let mut w = BufWriter::new(file);
        let written = self.export(true, &mut w).and_then(|_| {
            let f = w.into_inner().map_err(|e| StoreError::Io {
                path: tmp.clone(),
                source: e.into_error(),
            })?;
            f.sync_all().map_err(io(&tmp))
        });
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        fs::rename(&tmp, &path).map_err(io(&path))?;
        sync_dir(&sdir).map_err(io(&sdir))?;

        // Prune: the oldest beyond `keep`, and temporary files left by an earlier crash.
        let all = list(dir).map_err(io(&sdir))?;
        let excess = all.len().saturating_sub(keep.max(1));
        for old in all.iter().take(excess).filter(|p| **p != path) {
            fs::remove_file(old).map_err(io(old))?;
        }
        if let Ok(rd) = fs::read_dir(&sdir) {
            for e in rd.flatten() {
                let name = e.file_name();
                let name = name.to_string_lossy();
                if name.starts_with('.') && name.ends_with(TMP_SUFFIX) && e.path() != tmp {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_names() {
        assert!(is_snapshot("pbxd-20250101-120000.jsonl"));
        assert!(!is_snapshot("pbxd-20250101-120000.jsonl.tmp"));
        assert!(!is_snapshot("pbxd-2025010-1120000.jsonl"));
        assert!(!is_snapshot("notes.txt"));
    }
}
