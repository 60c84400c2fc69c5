//! Message catalogue of the PBX toolkit: Dutch first, English second.
//!
//! Every text a person reads is a [`Msg`]: a stable key with named arguments. It is rendered in
//! the reader's [`Lang`] from the one [`catalogue`] in this crate, so pbxd, pbxctl and pbxtop say
//! the same thing in the same words (see `GLOSSARY-nl.md`).

mod catalogue;

use std::fmt;

pub use catalogue::CATALOGUE;

/// The language of the interface.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Lang {
    /// Nederlands, the default.
    #[default]
    Nl,
    /// English, the second language.
    En,
}

impl Lang {
    /// Parses a language tag as found in `--lang`, `LANG` or `Accept-Language`
    /// (`nl`, `nl_NL.UTF-8`, `en-GB`, `en;q=0.8`).
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let t = tag.trim().to_ascii_lowercase();
        let primary: String = t.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
        match primary.as_str() {
            "nl" => Some(Lang::Nl),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language asked for explicitly, else `LC_ALL`, `LC_MESSAGES`, `LANG`; Dutch otherwise.
    pub fn detect(explicit: Option<&str>) -> Lang {
        if let Some(l) = explicit.and_then(Lang::from_tag) {
            return l;
        }
        for var in ["LC_ALL", "LC_MESSAGES", "LANG"] {
            if let Ok(v) = std::env::var(var) {
                if v.is_empty() {
                    continue;
                }
                // "C"/"POSIX" carry no language: keep looking, then fall back to Dutch.
                if let Some(l) = Lang::from_tag(&v) {
                    return l;
                }
            }
        }
        Lang::Nl
    }

    /// Picks the first supported language of an `Accept-Language` header value.
    pub fn from_accept_language(header: &str) -> Lang {
        header
            .split(',')
            .find_map(Lang::from_tag)
            .unwrap_or_default()
    }

    /// The tag sent in `Accept-Language`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Nl => "nl",
            Lang::En => "en",
        }
    }
}

/// A message: a catalogue key and its named arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msg {
    key: &'static str,
    args: Vec<(&'static str, String)>,
}

impl Msg {
    /// A message without arguments yet.
    pub fn new(key: &'static str) -> Msg {
        Msg {
            key,
            args: Vec::new(),
        }
    }

    /// Adds the argument `{name}`.
    #[must_use]
    pub fn arg(mut self, name: &'static str, value: impl fmt::Display) -> Msg {
        self.args.push((name, value.to_string()));
        self
    }

    /// The catalogue key.
    pub fn key(&self) -> &'static str {
        self.key
    }

    /// The arguments, in the order they were added.
    pub fn args(&self) -> &[(&'static str, String)] {
        &self.args
    }

    /// The text in `lang`. A key missing from the catalogue renders as the key with its
    /// arguments, so nothing is ever silently empty (a test keeps the catalogue complete).
    pub fn render(&self, lang: Lang) -> String {
        let Some(entry) = lookup(self.key) else {
            let mut s = self.key.to_string();
            for (k, v) in &self.args {
                s.push_str(&format!(" {k}={v}"));
            }
            return s;
        };
        let template = match lang {
            Lang::Nl => entry.1,
            Lang::En => entry.2,
        };
        fill(template, &self.args)
    }
}

impl fmt::Display for Msg {
    /// Dutch, the default language.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(Lang::Nl))
    }
}

/// Shorthand: renders `key` without arguments.
pub fn tr(lang: Lang, key: &'static str) -> String {
    Msg::new(key).render(lang)
}

fn lookup(key: &str) -> Option<&'static (&'static str, &'static str, &'static str)> {
    CATALOGUE.iter().find(|e| e.0 == key)
}

/// Replaces `{name}` by its argument; `{{` and `}}` are literal braces.
fn fill(template: &str, args: &[(&'static str, String)]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(pos) = rest.find(['{', '}']) {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        if tail.starts_with('{') {
            if let Some(end) = tail.find('}') {
                let name = &tail[1..end];
                match args.iter().find(|(k, _)| *k == name) {
                    Some((_, v)) => out.push_str(v),
                    None => out.push_str(&tail[..=end]),
                }
                rest = &tail[end + 1..];
                continue;
            }
        }
        out.push_str(&tail[..1]);
        rest = &tail[1..];
    }
    out.push_str(rest);
    out
}

/// The placeholders `{name}` of a template, for the catalogue's own checks.
pub fn placeholders(template: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(pos) = rest.find('{') {
        let tail = &rest[pos..];
        if let Some(after) = tail.strip_prefix("{{") {
            rest = after;
            continue;
        }
        match tail.find('}') {
            Some(end) => {
                names.push(tail[1..end].to_string());
                rest = &tail[end + 1..];
            }
            None => break,
        }
    }
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn language_tags() {
        assert_eq!(Lang::from_tag("nl_NL.UTF-8"), Some(Lang::Nl));
        assert_eq!(Lang::from_tag("en-GB"), Some(Lang::En));
        assert_eq!(Lang::from_tag("C"), None);
        assert_eq!(Lang::from_accept_language("de, en;q=0.8"), Lang::En);
        assert_eq!(Lang::from_accept_language("fr"), Lang::Nl);
        assert_eq!(Lang::detect(Some("en")), Lang::En);
    }

    #[test]
    fn fill_arguments() {
        let args = vec![("n", "5".to_string())];
        assert_eq!(fill("max {n} ({{n}})", &args), "max 5 ({n})");
        assert_eq!(fill("onbekend {x}", &args), "onbekend {x}");
    }

    #[test]
    fn catalogue_is_complete_and_consistent() {
        let mut seen = HashSet::new();
        for (key, nl, en) in CATALOGUE {
            assert!(seen.insert(*key), "dubbele sleutel {key}");
            assert!(
                !nl.trim().is_empty() && !en.trim().is_empty(),
                "lege tekst bij {key}"
            );
            assert_eq!(
                placeholders(nl),
                placeholders(en),
                "argumenten verschillen bij {key}"
            );
        }
    }

    /// Every `Msg::new("…")` and `tr(_, "…")` in the workspace names a key of the catalogue.
    #[test]
    fn every_key_used_in_the_workspace_exists() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let keys: HashSet<&str> = CATALOGUE.iter().map(|e| e.0).collect();
        let mut missing = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in rd.flatten() {
                let p = e.path();
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if p.is_dir() {
                    if name != "target" && !name.starts_with('.') {
                        stack.push(p);
                    }
                } else if name.ends_with(".rs") && !p.ends_with("i18n/src/lib.rs") {
                    let text = std::fs::read_to_string(&p).unwrap_or_default();
                    let mut found: Vec<&str> = Vec::new();
                    for (i, _) in text.match_indices("Msg::new(\"") {
                        let rest = &text[i + 9..];
                        found.extend(rest.split('"').next());
                    }
                    // `tr(any_lang, "key")`
                    for (i, _) in text.match_indices("tr(") {
                        let before = text[..i].chars().next_back().unwrap_or(' ');
                        if before.is_alphanumeric() || before == '_' || before == '.' {
                            continue;
                        }
                        let rest = &text[i + 3..];
                        if let Some(q) = rest
                            .find('"')
                            .filter(|q| *q < 24 && !rest[..*q].contains(')'))
                        {
                            found.extend(rest[q + 1..].split('"').next());
                        }
                    }
                    // Keys of namespaces that exist only in the catalogue (table headings, words).
                    for prefix in [
                        "\"col.",
                        "\"word.",
                        "\"top.",
                        "\"ctl.",
                        "\"api.",
                        "\"cli.",
                        "\"client.",
                    ] {
                        for (i, _) in text.match_indices(prefix) {
                            found.extend(text[i + 1..].split('"').next());
                        }
                    }
                    let key_shaped = |k: &str| {
                        k.contains('.')
                            && k.chars().all(|c| {
                                c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_'
                            })
                    };
                    for k in found {
                        if key_shaped(k) && !keys.contains(k) {
                            missing.push(format!("{}: {k}", p.display()));
                        }
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "sleutels ontbreken in de catalogus:\n{}",
            missing.join("\n")
        );
    }
}
