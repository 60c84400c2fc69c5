//! `pbxd --check` and `pbxctl check` are one loader: the same verdict, exit code and
//! diagnostics (`file:line:col: fout: …`), in text and in JSON.

use pbx_tests::*;
use std::path::Path;

fn pbxd_check(cwd: &Path, dir: &str, extra: &[&str]) -> Run {
    let mut c = command("pbxd");
    c.current_dir(cwd)
        .arg("--check")
        .arg("--config")
        .arg(dir)
        .args(extra);
    run(&mut c, None)
}

fn ctl_check(cwd: &Path, dir: &str, extra: &[&str]) -> Run {
    let mut c = command("pbxctl");
    c.current_dir(cwd).arg("check").arg(dir).args(extra);
    run(&mut c, None)
}

/// The diagnostic lines (`file:line:col: fout|waarschuwing: …`) of an output, sorted.
fn diagnostics(out: &str) -> Vec<String> {
    let mut v: Vec<String> = out
        .lines()
        .filter(|l| {
            let mut parts = l.splitn(4, ':');
            let (_, line, col) = (parts.next(), parts.next(), parts.next());
            line.is_some_and(|x| x.parse::<u32>().is_ok())
                && col.is_some_and(|x| x.parse::<u32>().is_ok())
        })
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

fn summary(out: &str) -> Option<String> {
    out.lines()
        .find(|l| l.contains("fout(en)") || l.contains("error(s)"))
        .map(str::to_string)
}

#[test]
fn shipped_conf_d_passes_both() {
    let tmp = tempfile::tempdir().expect("tempdir");
    copy_dir(&shipped_conf(), &tmp.path().join("conf.d"));
    let d = pbxd_check(tmp.path(), "conf.d", &[]);
    let c = ctl_check(tmp.path(), "conf.d", &[]);
    d.code(0);
    c.code(0);
    assert_eq!(summary(&d.all()), summary(&c.all()), "{d:?}\n{c:?}");
    assert_eq!(
        summary(&c.all()).as_deref(),
        Some("0 fout(en), 0 waarschuwing(en)"),
        "{c:?}"
    );
    let dj = pbxd_check(tmp.path(), "conf.d", &["--json"]);
    let cj = ctl_check(tmp.path(), "conf.d", &["--json"]);
    dj.code(0);
    cj.code(0);
    assert_eq!(dj.json(), cj.json());
    assert_eq!(cj.json()["errors"], 0);
    // --deny-warnings: still clean.
    pbxd_check(tmp.path(), "conf.d", &["--deny-warnings"]).code(0);
    ctl_check(tmp.path(), "conf.d", &["--deny-warnings"]).code(0);
    // The shipped folder itself, in place.
    let root = workspace_root();
    pbxd_check(&root, "conf.d", &[]).code(0);
    ctl_check(&root, "conf.d", &[]).code(0);
}

#[test]
fn a_broken_copy_fails_both_the_same_way() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let conf = tmp.path().join("conf.d");
    copy_dir(&shipped_conf(), &conf);
    let demo = conf.join("tenants").join("demo.toml");
    let text = std::fs::read_to_string(&demo).expect("read demo.toml");
    assert!(
        text.contains("max_extensions = 50")
            && text.contains("overflow = { extension = \"1001\" }"),
        "the shipped demo.toml changed; adapt this test"
    );
    let text = text
        .replace("max_extensions = 50", "max_extensionz = 50")
        .replace(
            "overflow = { extension = \"1001\" }",
            "overflow = { extension = \"1009\" }",
        );
    std::fs::write(&demo, text).expect("write demo.toml");
    let pbxd_toml = conf.join("pbxd.toml");
    let text = std::fs::read_to_string(&pbxd_toml).expect("read pbxd.toml");
    assert!(
        text.contains("level = \"info\""),
        "the shipped pbxd.toml changed; adapt this test"
    );
    std::fs::write(
        &pbxd_toml,
        text.replace("level = \"info\"", "level = \"info;debug\""),
    )
    .expect("write pbxd.toml");
    std::fs::write(
        conf.join("tenants").join("kapot.toml"),
        "[tenant]\nslug = \"kapot\"\nname = \"Kapot\n",
    )
    .expect("write kapot.toml");

    let d = pbxd_check(tmp.path(), "conf.d", &[]);
    let c = ctl_check(tmp.path(), "conf.d", &[]);
    d.code(1);
    c.code(1);
    let (dd, cd) = (diagnostics(&d.all()), diagnostics(&c.all()));
    assert_eq!(dd, cd, "pbxd --check and pbxctl check report differently");
    let errors: Vec<&String> = cd.iter().filter(|l| l.contains(": fout: ")).collect();
    assert!(
        errors.len() >= 4,
        "every error is reported at once: {cd:#?}"
    );
    for (file, what) in [
        ("conf.d/tenants/demo.toml:", "max_extensionz"),
        ("conf.d/tenants/demo.toml:", "1009"),
        ("conf.d/pbxd.toml:", "info;debug"),
        ("conf.d/tenants/kapot.toml:3:", ""),
    ] {
        assert!(
            errors
                .iter()
                .any(|l| l.starts_with(file) && l.contains(what)),
            "no `{file}…: fout:` line about {what:?}: {cd:#?}"
        );
    }
    assert_eq!(summary(&d.all()), summary(&c.all()));

    let dj = pbxd_check(tmp.path(), "conf.d", &["--json"]);
    let cj = ctl_check(tmp.path(), "conf.d", &["--json"]);
    dj.code(1);
    cj.code(1);
    assert_eq!(
        dj.json(),
        cj.json(),
        "--json differs between pbxd --check and pbxctl check"
    );
    let j = cj.json();
    assert_eq!(j["errors"].as_u64(), Some(errors.len() as u64));
    for d in j["diagnostics"].as_array().into_iter().flatten() {
        for k in ["severity", "file", "code", "message"] {
            assert!(d[k].is_string(), "{k} in {d}");
        }
        assert!(d["line"].is_u64() && d["col"].is_u64(), "{d}");
    }
    assert!(
        j["diagnostics"]
            .as_array()
            .is_some_and(|a| a.iter().any(|d| d["code"] == "unknown_key")),
        "{j}"
    );
    assert!(
        j["diagnostics"]
            .as_array()
            .is_some_and(|a| a.iter().any(|d| d["code"] == "syntax")),
        "{j}"
    );

    // English on request, with the same places.
    let en = ctl_check(tmp.path(), "conf.d", &["--lang", "en"]);
    en.code(1);
    assert!(
        en.stdout.contains(": error: ") && !en.stdout.contains(": fout: "),
        "{en:?}"
    );

    // pbxd itself refuses to start on it, with the same lines.
    let mut start = command("pbxd");
    start.current_dir(tmp.path()).arg("--config").arg("conf.d");
    let s = run(&mut start, None);
    assert_eq!(s.code, 65, "pbxd refuses a broken conf.d with 65: {s:?}");
    assert_eq!(
        diagnostics(&s.all())
            .into_iter()
            .filter(|l| l.contains(": fout: "))
            .collect::<Vec<_>>(),
        errors.into_iter().cloned().collect::<Vec<_>>()
    );

    // A path that does not exist: 66 from both.
    pbxd_check(tmp.path(), "nergens", &[]).code(66);
    ctl_check(tmp.path(), "nergens", &[]).code(66);
}

#[test]
fn warnings_count_only_with_deny_warnings() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let conf = tmp.path().join("conf.d");
    copy_dir(&shipped_conf(), &conf);
    let pbxd_toml = conf.join("pbxd.toml");
    let text = std::fs::read_to_string(&pbxd_toml).expect("read pbxd.toml");
    assert!(
        text.contains("port_min = 20000"),
        "the shipped pbxd.toml changed; adapt this test"
    );
    // An RTP range starting on an odd port is a warning, not an error.
    std::fs::write(
        &pbxd_toml,
        text.replace("port_min = 20000", "port_min = 20001")
            .replace("port_max = 20999", "port_max = 21000"),
    )
    .expect("write");
    let d = pbxd_check(tmp.path(), "conf.d", &[]);
    let c = ctl_check(tmp.path(), "conf.d", &[]);
    d.code(0);
    c.code(0);
    assert_eq!(diagnostics(&d.all()), diagnostics(&c.all()));
    assert!(
        diagnostics(&c.all())
            .iter()
            .any(|l| l.starts_with("conf.d/pbxd.toml:") && l.contains(": waarschuwing: ")),
        "{c:?}"
    );
    pbxd_check(tmp.path(), "conf.d", &["--deny-warnings"]).code(1);
    ctl_check(tmp.path(), "conf.d", &["--deny-warnings"]).code(1);
}
