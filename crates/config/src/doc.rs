//! A TOML file with spans: parsing with recovery, positions, and deserialisation that keeps going
//! after the first problem so every unknown key and wrong type is reported at once.

use crate::diag::Diagnostic;
use pbx_i18n::Msg;
use pbx_model::Severity;
use serde::de::DeserializeOwned;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::de::{DeArray, DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

/// A byte range in a file.
pub(crate) type Span = Range<usize>;

/// The text of a file and where its lines start.
pub(crate) struct Source {
    pub path: PathBuf,
    pub text: String,
    line_starts: Vec<usize>,
}

impl Source {
    pub fn new(path: &Path, text: String) -> Source {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Source {
            path: path.to_path_buf(),
            text,
            line_starts,
        }
    }

    /// Line and column (1-based, column in characters) of a byte offset.
    pub fn pos(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.line_starts.get(line).copied().unwrap_or(0);
        let col = self
            .text
            .get(start..offset)
            .map(|s| s.chars().count())
            .unwrap_or(0)
            + 1;
        (line + 1, col)
    }

    /// The source text of a span, on one line and shortened, to quote in a message.
    pub fn snippet(&self, span: &Span) -> String {
        let s = self.text.get(span.clone()).unwrap_or("").trim();
        let s = s.lines().next().unwrap_or("");
        if s.chars().count() > 40 {
            format!("{}…", s.chars().take(40).collect::<String>())
        } else {
            s.to_string()
        }
    }

    pub fn diag(
        &self,
        severity: Severity,
        span: &Span,
        code: &'static str,
        msg: Msg,
    ) -> Diagnostic {
        let (line, col) = self.pos(span.start);
        Diagnostic {
            severity,
            file: self.path.clone(),
            line,
            col,
            code,
            msg,
            hint: None,
        }
    }

    pub fn error(&self, span: &Span, code: &'static str, msg: Msg) -> Diagnostic {
        self.diag(Severity::Error, span, code, msg)
    }

    pub fn warning(&self, span: &Span, code: &'static str, msg: Msg) -> Diagnostic {
        self.diag(Severity::Warning, span, code, msg)
    }

    /// Parses the document; syntax errors become diagnostics. `None` when there were any: a
    /// document repaired by guessing would only add confusing follow-up errors.
    pub fn parse(&self, out: &mut Vec<Diagnostic>) -> Option<Spanned<DeValue<'_>>> {
        let (doc, errors) = DeTable::parse_recoverable(&self.text);
        if errors.is_empty() {
            let span = doc.span();
            return Some(Spanned::new(span, DeValue::Table(doc.into_inner())));
        }
        for e in errors {
            let span = e.span().unwrap_or(0..0);
            out.push(
                self.error(
                    &span,
                    "syntax",
                    Msg::new("config.syntax").arg("detail", e.message().trim()),
                )
                .with_hint(Msg::new("config.syntax.hint")),
            );
        }
        None
    }
}

/// The span from a key to the end of its value, or `None` when the key is absent.
pub(crate) fn entry_span(table: &Spanned<DeValue<'_>>, key: &str) -> Option<Span> {
    let DeValue::Table(t) = table.get_ref() else {
        return None;
    };
    let (k, v) = t.get_key_value(key)?;
    let (a, b) = (k.span(), v.span());
    // Values of `[[x]]`/`[x.y]` carry the header's span, which comes before the key of a
    // dotted or parent table; take the key then.
    Some(if b.start >= a.start {
        a.start..b.end.max(a.end)
    } else {
        a
    })
}

/// The value under `key`, if any.
pub(crate) fn get<'a, 'i>(
    table: &'a Spanned<DeValue<'i>>,
    key: &str,
) -> Option<&'a Spanned<DeValue<'i>>> {
    match table.get_ref() {
        DeValue::Table(t) => t.get(key),
        _ => None,
    }
}

/// A string value somewhere below `v` equal to one of `wanted`, for pointing at the exact list
/// element a message is about (`members = ["1001", "1009"]` → `"1009"`).
pub(crate) fn find_string(v: &Spanned<DeValue<'_>>, wanted: &[&str]) -> Option<Span> {
    match v.get_ref() {
        DeValue::String(s) if wanted.contains(&s.as_ref()) => Some(v.span()),
        DeValue::Array(a) => a.iter().find_map(|e| find_string(e, wanted)),
        DeValue::Table(t) => t.iter().find_map(|(_, e)| find_string(e, wanted)),
        _ => None,
    }
}

#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

/// Finds the node an error span names: a key, or a value (table entry or list element).
fn locate(v: &Spanned<DeValue<'_>>, span: &Span, path: &mut Vec<Step>) -> bool {
    match v.get_ref() {
        DeValue::Table(t) => {
            for (k, val) in t.iter() {
                path.push(Step::Key(k.get_ref().to_string()));
                if k.span() == *span || locate(val, span, path) {
                    return true;
                }
                path.pop();
            }
        }
        DeValue::Array(a) => {
            for (i, el) in a.iter().enumerate() {
                path.push(Step::Index(i));
                if locate(el, span, path) {
                    return true;
                }
                path.pop();
            }
        }
        _ => {}
    }
    v.span() == *span
}

fn remove_at(v: &mut DeValue<'_>, path: &[Step]) -> bool {
    match (v, path) {
        (DeValue::Table(t), [Step::Key(k)]) => t.remove(k.as_str()).is_some(),
        (DeValue::Array(a), [Step::Index(i)]) => {
            let mut kept = DeArray::new();
            for (j, el) in a.iter().enumerate() {
                if j != *i {
                    kept.push(el.clone());
                }
            }
            *a = kept;
            true
        }
        (DeValue::Table(t), [Step::Key(k), rest @ ..]) => t
            .get_mut(k.as_str())
            .is_some_and(|c| remove_at(c.get_mut(), rest)),
        (DeValue::Array(a), [Step::Index(i), rest @ ..]) => {
            a.get_mut(*i).is_some_and(|c| remove_at(c.get_mut(), rest))
        }
        _ => false,
    }
}

/// The dotted key of a path, list positions left out: `forwarding.always`, `members.user`.
fn key_of(prefix: &str, path: &[Step]) -> String {
    let mut parts: Vec<&str> = if prefix.is_empty() {
        Vec::new()
    } else {
        vec![prefix]
    };
    parts.extend(path.iter().filter_map(|s| match s {
        Step::Key(k) => Some(k.as_str()),
        Step::Index(_) => None,
    }));
    parts.join(".")
}

/// Words between backticks in a serde message.
fn ticks(s: &str) -> Vec<&str> {
    s.split('`').skip(1).step_by(2).collect()
}

/// Turns one serde error into a diagnostic with a Dutch (and English) message.
fn translate(src: &Source, span: &Span, key: &str, message: &str) -> Diagnostic {
    let found = src.snippet(span);
    let t = ticks(message);
    let list = |xs: &[&str]| {
        if xs.is_empty() {
            "-".to_string()
        } else {
            xs.join(", ")
        }
    };
    if message.starts_with("unknown field") {
        let name = t.first().copied().unwrap_or(key);
        let shown = if key.is_empty() || key.ends_with(name) {
            key.to_string()
        } else {
            name.to_string()
        };
        return src
            .error(
                span,
                "unknown_key",
                Msg::new("config.unknown_key")
                    .arg("key", shown)
                    .arg("allowed", list(t.get(1..).unwrap_or(&[]))),
            )
            .with_hint(Msg::new("config.unknown_key.hint"));
    }
    if message.starts_with("missing field") {
        let name = t.first().copied().unwrap_or("?");
        let full = if key.is_empty() {
            name.to_string()
        } else {
            format!("{key}.{name}")
        };
        return src.error(
            span,
            "missing_key",
            Msg::new("config.missing_key").arg("key", full),
        );
    }
    if message.starts_with("unknown variant") {
        return src.error(
            span,
            "invalid",
            Msg::new("config.unknown_value")
                .arg("key", key)
                .arg("found", found)
                .arg("allowed", list(t.get(1..).unwrap_or(&[]))),
        );
    }
    let expected = message
        .rsplit_once("expected ")
        .map(|(_, e)| e.trim())
        .unwrap_or("");
    if message.starts_with("invalid value") && !expected.is_empty() {
        let range = match expected {
            "u8" => Some("0-255"),
            "u16" => Some("0-65535"),
            "u32" => Some("0-4294967295"),
            "u64" | "usize" => Some("0-18446744073709551615"),
            _ => None,
        };
        if let Some(range) = range {
            return src.error(
                span,
                "type",
                Msg::new("config.out_of_range")
                    .arg("key", key)
                    .arg("found", found)
                    .arg("range", range),
            );
        }
    }
    if message.starts_with("invalid type") || message.starts_with("invalid value") {
        let found_table = message.starts_with("invalid type: map");
        let e = expected.to_ascii_lowercase();
        let msg = if e.contains("sequence") || e.contains("array") {
            if found_table {
                Msg::new("config.expect_table_array")
            } else {
                Msg::new("config.expect_list")
            }
        } else if e.contains("bool") {
            Msg::new("config.expect_bool")
        } else if e.contains("string")
            || e.contains("char")
            || e.contains("enum")
            || e.contains("variant")
        {
            Msg::new("config.expect_string")
        } else if e.contains("struct") || e.contains("map") || e.contains("table") {
            Msg::new("config.expect_table")
        } else if [
            "u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64", "integer", "usize",
        ]
        .iter()
        .any(|n| e.contains(n))
        {
            Msg::new("config.expect_integer")
        } else {
            Msg::new("config.invalid_value").arg("detail", message)
        };
        let found = if found_table {
            key.rsplit('.').next().unwrap_or(key).to_string()
        } else {
            found
        };
        return src.error(span, "type", msg.arg("key", key).arg("found", found));
    }
    src.error(
        span,
        "type",
        Msg::new("config.invalid_value")
            .arg("key", key)
            .arg("found", found)
            .arg("detail", message),
    )
}

/// Deserialises one value into `T`, reporting every unknown key and wrong value, not only the
/// first: after each error the offending key or list element is taken out and it is tried again.
///
/// Returns the value when what is left deserialises (an object with a bad optional field is kept,
/// so follow-up checks still see it), `None` when a required part is missing or broken.
/// `prefix` names the value in messages (`""` for an object's own keys).
pub(crate) fn deserialize<T: DeserializeOwned>(
    src: &Source,
    value: &Spanned<DeValue<'_>>,
    prefix: &str,
    out: &mut Vec<Diagnostic>,
) -> Option<T> {
    let mut work = value.clone();
    let mut removed: Vec<String> = Vec::new();
    // Each round removes one node, so the loop ends; the bound only guards against a bug.
    for _ in 0..256 {
        let err = match T::deserialize(ValueDeserializer::from(work.clone())) {
            Ok(v) => return Some(v),
            Err(e) => e,
        };
        let span = err.span().unwrap_or_else(|| work.span());
        let message = err.message().to_string();
        let mut path = Vec::new();
        let found = locate(&work, &span, &mut path);
        // A required field we took out ourselves after reporting it: say nothing more, but drop
        // the table that lacks it (or give up when that is the value itself).
        let ours = message.starts_with("missing field")
            && ticks(&message)
                .first()
                .is_some_and(|f| removed.iter().any(|r| r == f));
        if !ours {
            out.push(translate(src, &span, &key_of(prefix, &path), &message));
        }
        if !found || path.is_empty() {
            return None;
        }
        if let Some(Step::Key(k)) = path.last() {
            removed.push(k.clone());
        }
        if !remove_at(work.get_mut(), &path) {
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct T {
        number: String,
        port: Option<u16>,
        flag: Option<bool>,
        sub: Option<Sub>,
        list: Option<Vec<Sub>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sub {
        a: String,
    }

    type Found = Vec<(usize, usize, &'static str, String)>;

    fn run(text: &str) -> (Option<T>, Found) {
        let src = Source::new(Path::new("x.toml"), text.to_string());
        let mut out = Vec::new();
        let doc = src.parse(&mut out);
        let t = doc
            .as_ref()
            .and_then(|d| deserialize::<T>(&src, d, "", &mut out));
        (
            t,
            out.into_iter()
                .map(|d| (d.line, d.col, d.code, d.msg.to_string()))
                .collect(),
        )
    }

    #[test]
    fn every_problem_of_a_table_is_reported() {
        let (t, d) = run("number = '1'\nbogus = 1\nport = 70000\nflag = 'ja'\nsub = { a = 'x', b = 2 }\nlist = [{ a = 1 }, { a = 'y' }]\n");
        assert!(t.is_some());
        let codes: Vec<_> = d.iter().map(|x| (x.0, x.1, x.2)).collect();
        assert_eq!(
            codes,
            vec![
                (2, 1, "unknown_key"),
                (4, 8, "type"),
                (6, 15, "type"),
                (3, 8, "type"),
                (5, 18, "unknown_key")
            ]
        );
        assert!(d[3].3.contains("0-65535"), "{}", d[3].3);
        assert!(d[4].3.contains("sub.b"), "{}", d[4].3);
    }

    #[test]
    fn missing_required_field_stops_quietly_after_removal() {
        let (t, d) = run("number = 5\n");
        assert!(t.is_none());
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].0, d[0].1, d[0].2), (1, 10, "type"));
        let (_, d) = run("port = 1\n");
        assert_eq!(d[0].2, "missing_key");
    }

    #[test]
    fn syntax_errors_have_positions() {
        let (t, d) = run("number = '1'\nport = \n");
        assert!(t.is_none());
        assert_eq!(d[0].2, "syntax");
        assert_eq!(d[0].0, 2);
    }

    #[test]
    fn positions_count_characters() {
        let src = Source::new(Path::new("x"), "a = 'é'\nb = 1".to_string());
        assert_eq!(src.pos(0), (1, 1));
        assert_eq!(src.pos(src.text.find('b').unwrap_or(0)), (2, 1));
        assert_eq!(src.pos(src.text.len()), (2, 6));
    }
}
