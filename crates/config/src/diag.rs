//! Diagnostics: one problem with its place (file:line:col), a stable code, a message and a tip.

use pbx_i18n::{Lang, Msg};
use pbx_model::Severity;
use std::path::{Component, Path, PathBuf};

/// One problem found in the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file it is about.
    pub file: PathBuf,
    /// Line, 1-based; 0 when the diagnostic is about the file as a whole (missing, unreadable).
    pub line: usize,
    /// Column in characters, 1-based; 0 together with `line == 0`.
    pub col: usize,
    /// Stable code for scripts and tests (see the crate documentation for the list).
    pub code: &'static str,
    /// What is wrong.
    pub msg: Msg,
    /// What to do about it.
    pub hint: Option<Msg>,
}

impl Diagnostic {
    /// A diagnostic about a whole file (no line and column).
    pub fn file_level(severity: Severity, file: &Path, code: &'static str, msg: Msg) -> Diagnostic {
        Diagnostic {
            severity,
            file: file.to_path_buf(),
            line: 0,
            col: 0,
            code,
            msg,
            hint: None,
        }
    }

    /// Adds a tip.
    #[must_use]
    pub fn with_hint(mut self, hint: Msg) -> Diagnostic {
        self.hint = Some(hint);
        self
    }

    /// Is this an error (not a warning)?
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// One line for people, like a compiler:
    /// `conf.d/tenants/demo.toml:12:5: fout: … (tip: …)`. The file is shown relative to `base`
    /// when it lies below it.
    pub fn render(&self, lang: Lang, base: &Path) -> String {
        let file = relative_to(&self.file, base);
        let sev = match self.severity {
            Severity::Error => pbx_i18n::tr(lang, "config.severity.error"),
            Severity::Warning => pbx_i18n::tr(lang, "config.severity.warning"),
        };
        let mut s = if self.line == 0 {
            format!("{}: {sev}: {}", file.display(), self.msg.render(lang))
        } else {
            format!(
                "{}:{}:{}: {sev}: {}",
                file.display(),
                self.line,
                self.col,
                self.msg.render(lang)
            )
        };
        if let Some(h) = &self.hint {
            s.push_str(&format!(
                " ({}: {})",
                pbx_i18n::tr(lang, "config.hint_label"),
                h.render(lang)
            ));
        }
        s
    }

    fn to_json(&self, lang: Lang) -> serde_json::Value {
        serde_json::json!({
            "severity": match self.severity { Severity::Error => "error", Severity::Warning => "warning" },
            "file": self.file.display().to_string(),
            "line": self.line,
            "col": self.col,
            "code": self.code,
            "message": self.msg.render(lang),
            "hint": self.hint.as_ref().map(|h| h.render(lang)),
        })
    }
}

/// `path` relative to `base` when it lies below it (compared lexically, after making both absolute).
fn relative_to(path: &Path, base: &Path) -> PathBuf {
    if let Ok(rel) = path.strip_prefix(base) {
        if !rel.as_os_str().is_empty() {
            return rel.to_path_buf();
        }
    }
    let (p, b) = (absolute(path), absolute(base));
    match p.strip_prefix(&b) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.to_path_buf(),
        _ => path.to_path_buf(),
    }
}

/// Makes a path absolute (against the current directory) and removes `.` and `..` lexically,
/// without touching the file system. Symlinks are not resolved on purpose: the path stays the one
/// the operator wrote.
pub(crate) fn absolute(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                // `/..` stays `/`.
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Everything a check found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Errors and warnings, sorted by file, line and column.
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    /// Number of errors.
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    /// Number of warnings.
    pub fn warnings(&self) -> usize {
        self.diagnostics.len() - self.errors()
    }

    /// No errors, and no warnings either when `deny_warnings` (`--deny-warnings`).
    pub fn is_ok(&self, deny_warnings: bool) -> bool {
        self.errors() == 0 && (!deny_warnings || self.warnings() == 0)
    }

    /// Did a path given to [`crate::check_paths`] or [`crate::load`] not exist? Callers exit
    /// with 66 (`EX_NOINPUT`) then.
    pub fn path_missing(&self) -> bool {
        self.diagnostics.iter().any(|d| d.code == "missing_path")
    }

    /// Stable machine output:
    /// `{"errors":n,"warnings":n,"diagnostics":[{"severity","file","line","col","code","message","hint"}]}`.
    pub fn to_json(&self, lang: Lang) -> serde_json::Value {
        serde_json::json!({
            "errors": self.errors(),
            "warnings": self.warnings(),
            "diagnostics": self.diagnostics.iter().map(|d| d.to_json(lang)).collect::<Vec<_>>(),
        })
    }

    /// Every diagnostic rendered for people, one per line.
    pub fn render(&self, lang: Lang, base: &Path) -> Vec<String> {
        self.diagnostics
            .iter()
            .map(|d| d.render(lang, base))
            .collect()
    }

    pub(crate) fn sort(&mut self) {
        self.diagnostics
            .sort_by(|a, b| (&a.file, a.line, a.col).cmp(&(&b.file, b.line, b.col)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_in_both_languages() {
        let d = Diagnostic {
            severity: Severity::Error,
            file: PathBuf::from("/etc/pbx/conf.d/tenants/demo.toml"),
            line: 12,
            col: 5,
            code: "unknown_key",
            msg: Msg::new("config.unknown_key")
                .arg("key", "nummer")
                .arg("allowed", "number, name"),
            hint: Some(Msg::new("config.unknown_key.hint")),
        };
        let nl = d.render(Lang::Nl, Path::new("/etc/pbx"));
        assert!(
            nl.starts_with("conf.d/tenants/demo.toml:12:5: fout: "),
            "{nl}"
        );
        assert!(nl.contains("(tip: "), "{nl}");
        let en = d.render(Lang::En, Path::new("/elders"));
        assert!(
            en.starts_with("/etc/pbx/conf.d/tenants/demo.toml:12:5: error: "),
            "{en}"
        );
        let w = Diagnostic {
            severity: Severity::Warning,
            line: 0,
            col: 0,
            hint: None,
            ..d
        };
        assert_eq!(
            w.render(Lang::En, Path::new("/etc/pbx")).split(": ").nth(1),
            Some("warning")
        );
        let r = Report {
            diagnostics: vec![w],
        };
        assert_eq!(
            (r.errors(), r.warnings(), r.is_ok(false), r.is_ok(true)),
            (0, 1, true, false)
        );
        let j = r.to_json(Lang::Nl);
        assert_eq!(j["warnings"], 1);
        assert_eq!(j["diagnostics"][0]["severity"], "warning");
        assert!(j["diagnostics"][0]["hint"].is_null());
    }

    #[test]
    fn lexical_absolute() {
        let p = absolute(Path::new("/a/b/../c/./d"));
        assert_eq!(p, PathBuf::from("/a/c/d"));
    }
}
