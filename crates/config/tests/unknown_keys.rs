//! For every shipped example: an unknown key added to each table (the root, every `[table]`,
//! every `[[list]]` element and every inline table), one at a time, is rejected at its line.

use pbx_i18n::Lang;
use std::path::{Path, PathBuf};

const KEY: &str = "onbekende_sleutel";

/// Byte offsets just after each `{` that opens an inline table (outside strings and comments).
fn inline_tables(line: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' => quote = Some(c),
                '#' => break,
                '{' => out.push(i + 1),
                _ => {}
            },
        }
    }
    out
}

/// Every variant of `text` with one unknown key added, with the 1-based line it lands on.
fn variants(text: &str) -> Vec<(String, usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = vec![(format!("{KEY} = 1\n{text}"), 1, "root".to_string())];
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        if t.starts_with('[') {
            // Tables whose keys are free (a name → value map) take any key.
            if t.starts_with("[control.tenant_users]") {
                continue;
            }
            let mut l = lines.clone();
            let added = format!("{KEY} = 1");
            l.insert(i + 1, &added);
            out.push((l.join("\n") + "\n", i + 2, t.to_string()));
        }
        for at in inline_tables(line) {
            let changed = format!("{} {KEY} = 1,{}", &line[..at], &line[at..]);
            let mut l = lines.clone();
            l[i] = &changed;
            out.push((
                l.join("\n") + "\n",
                i + 1,
                format!("inline table in: {}", t),
            ));
        }
    }
    out
}

fn conf_d() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conf.d")
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
    for e in std::fs::read_dir(from).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_tree(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name()))
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        }
    }
}

#[test]
fn an_unknown_key_in_any_table_is_rejected_at_its_line() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let dir = tmp.path().join("conf.d");
    copy_tree(&conf_d(), &dir);
    let mut files = vec![PathBuf::from("pbxd.toml"), PathBuf::from("alarms.toml")];
    for e in std::fs::read_dir(dir.join("tenants"))
        .into_iter()
        .flatten()
        .flatten()
    {
        files.push(PathBuf::from("tenants").join(e.file_name()));
    }
    let mut tried = 0;
    let mut failures = Vec::new();
    for rel in &files {
        let path = dir.join(rel);
        let original =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for (text, line, what) in variants(&original) {
            std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let (loaded, report) = pbx_config::load(&dir);
            tried += 1;
            let hit = report.diagnostics.iter().any(|d| {
                d.code == "unknown_key"
                    && d.line == line
                    && d.file.ends_with(rel)
                    && d.msg.render(Lang::Nl).contains(KEY)
            });
            if !hit || report.errors() != 1 || loaded.is_some() {
                failures.push(format!(
                    "{} regel {line} ({what}): {:#?}",
                    rel.display(),
                    report.render(Lang::Nl, &dir)
                ));
            }
        }
        std::fs::write(&path, &original).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    // pbxd.toml: root, 3 listen, rtp, http, control, state, log; demo.toml: root, tenant, limits,
    // 2 users, 2 extensions + forwarding, queue + members + overflow, schedule + open, 3 rules × 2.
    assert!(tried >= 30, "maar {tried} varianten geprobeerd");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn inline_table_scanner() {
    assert_eq!(inline_tables(r#"a = { b = "{" } # {"#), vec![5]);
    assert_eq!(
        inline_tables(r#"m = [{ u = 'x' }, { u = "y\"{" }]"#),
        vec![6, 19]
    );
}
