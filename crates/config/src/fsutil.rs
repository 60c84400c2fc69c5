//! Files next to the configuration: reading, resolving relative paths, permission bits.

use crate::diag::{absolute, Diagnostic};
use pbx_i18n::Msg;
use pbx_model::Severity;
use std::path::{Path, PathBuf};

/// Resolves `p` against `dir` (the folder of the file that names it), absolute and without `..`.
pub(crate) fn resolve(dir: &Path, p: &str) -> PathBuf {
    absolute(&dir.join(p))
}

/// Permission bits of a file (`0o777` part), when the platform has them.
pub(crate) fn mode(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .ok()
            .map(|m| m.permissions().mode() & 0o777)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// `0644` for messages.
pub(crate) fn mode_text(mode: u32) -> String {
    format!("{mode:04o}")
}

/// Reads a configuration file; a missing or unreadable file becomes a diagnostic.
pub(crate) fn read_text(path: &Path, out: &mut Vec<Diagnostic>) -> Option<String> {
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(s) => Some(s),
            Err(_) => {
                out.push(Diagnostic::file_level(
                    Severity::Error,
                    path,
                    "read_failed",
                    Msg::new("config.read_failed")
                        .arg("path", path.display())
                        .arg("detail", "UTF-8"),
                ));
                None
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            out.push(Diagnostic::file_level(
                Severity::Error,
                path,
                "not_found",
                Msg::new("config.not_found").arg("path", path.display()),
            ));
            None
        }
        Err(e) => {
            out.push(Diagnostic::file_level(
                Severity::Error,
                path,
                "read_failed",
                Msg::new("config.read_failed")
                    .arg("path", path.display())
                    .arg("detail", e),
            ));
            None
        }
    }
}

/// Why a file named in the configuration cannot be used.
pub(crate) enum FileProblem {
    Missing,
    NotAFile,
    Unreadable(String),
}

impl FileProblem {
    /// The message for this problem with the file at `path`.
    pub(crate) fn msg(&self, path: &Path) -> Msg {
        match self {
            FileProblem::Missing => Msg::new("config.not_found").arg("path", path.display()),
            FileProblem::NotAFile => Msg::new("config.not_a_file").arg("path", path.display()),
            FileProblem::Unreadable(e) => Msg::new("config.read_failed")
                .arg("path", path.display())
                .arg("detail", e),
        }
    }
}

/// Can the file be opened for reading (and is it a file)?
pub(crate) fn check_readable(path: &Path) -> Result<(), FileProblem> {
    match std::fs::File::open(path) {
        Ok(f) => match f.metadata() {
            Ok(m) if m.is_file() => Ok(()),
            Ok(_) => Err(FileProblem::NotAFile),
            Err(e) => Err(FileProblem::Unreadable(e.to_string())),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(FileProblem::Missing),
        Err(e) => Err(FileProblem::Unreadable(e.to_string())),
    }
}
