//! pbxtop and pbxctl as clients: pbxtop prints the snapshot; both say in Dutch, with exit 69,
//! that pbxd is not running and how to start it.

use pbx_tests::*;
use std::time::Duration;

#[test]
fn pbxtop_once_prints_the_snapshot() {
    let pbx = Pbx::start(Opts {
        tenants_from: Some(shipped_conf().join("tenants")),
        ..Opts::default()
    });
    pbx.ctl(&[
        "tenant",
        "add",
        "acme",
        "--name",
        "Acme BV",
        "--max-extensions",
        "25",
    ])
    .ok();
    pbx.ctl(&["extension", "add", "acme", "3001"]).ok();
    let r = pbx.top(&["--once"]);
    r.ok();
    assert!(
        r.stdout.contains("2 organisaties, 3 extensies"),
        "Dutch header with the counts: {r:?}"
    );
    assert!(
        r.stdout.contains("Demo BV") && r.stdout.contains("Acme BV"),
        "organisation names: {r:?}"
    );
    let acme = r
        .stdout
        .lines()
        .find(|l| l.starts_with("acme"))
        .unwrap_or_else(|| panic!("no line for acme: {r:?}"));
    assert!(
        acme.contains("1/25"),
        "extensions against the limit: {acme}"
    );
    let demo = r
        .stdout
        .lines()
        .find(|l| l.starts_with("demo"))
        .unwrap_or_else(|| panic!("no line for demo: {r:?}"));
    assert!(demo.contains("2/50"), "{demo}");

    let en = pbx.top(&["--once", "--lang", "en"]);
    en.ok();
    assert!(
        en.stdout.contains("2 organisations, 3 extensions"),
        "{en:?}"
    );

    // PBXCTL_SOCKET works as well as --socket.
    let mut c = command("pbxtop");
    c.arg("--once").env("PBXCTL_SOCKET", &pbx.socket);
    let r = run(&mut c, None);
    r.ok();
    assert!(r.stdout.contains("Acme BV"), "{r:?}");
}

#[test]
fn pbxtop_without_pbxd_exits_69() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let socket = tmp.path().join("control.sock");
    let mut c = command("pbxtop");
    c.arg("--socket").arg(&socket).arg("--once");
    let r = run(&mut c, None);
    r.code(69);
    assert!(r.stderr.contains("pbxd draait niet"), "{r:?}");
    assert!(
        r.stderr.contains(socket.to_str().unwrap_or("?")),
        "names the socket: {r:?}"
    );
    assert!(r.stdout.is_empty(), "{r:?}");

    // The board itself, started when pbxd is not running: the same answer, not a panic and not a
    // board that waits forever.
    let mut c = command("pbxtop");
    c.arg("--socket").arg(&socket);
    let r = run_for(&mut c, None, Duration::from_secs(10));
    assert!(!r.stderr.contains("panicked"), "pbxtop panicked: {r:?}");
    assert_eq!(r.code, 69, "pbxtop without pbxd: {r:?}");
    assert!(r.stderr.contains("pbxd draait niet"), "{r:?}");
}

#[test]
fn pbxctl_without_pbxd_exits_69_and_says_how_to_start_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let socket = tmp.path().join("control.sock");
    for args in [
        vec!["status"],
        vec!["tenant", "list"],
        vec!["tenant", "add", "acme"],
        vec!["api", "/v1/status"],
        vec!["reload"],
    ] {
        let r = pbxctl(&socket, &args, None);
        r.code(69);
        assert!(r.stderr.contains("pbxd draait niet"), "{args:?}: {r:?}");
        assert!(
            r.stderr.contains(socket.to_str().unwrap_or("?")),
            "{args:?}: names the socket: {r:?}"
        );
        assert!(
            r.stderr.contains("systemctl start pbxd") && r.stderr.contains("pbxd --config"),
            "{args:?}: says how to start pbxd: {r:?}"
        );
    }
    let en = pbxctl(&socket, &["--lang", "en", "status"], None);
    en.code(69);
    assert!(
        en.stderr.contains("pbxd is not running") && en.stderr.contains("systemctl start pbxd"),
        "{en:?}"
    );

    // A stale socket file left by a killed pbxd: still "not running".
    let mut pbx = Pbx::start(Opts::default());
    pbx.kill9();
    assert!(pbx.socket.exists(), "kill -9 leaves the socket file");
    let r = pbx.ctl(&["status"]);
    r.code(69);
    assert!(r.stderr.contains("pbxd draait niet"), "{r:?}");
    let mut c = command("pbxtop");
    c.arg("--socket").arg(&pbx.socket).arg("--once");
    run(&mut c, None).code(69);
    // pbxd starts over the stale file.
    pbx.spawn();
    pbx.wait_ready();
    pbx.ctl(&["status"]).ok();

    // A second pbxd on the same socket is refused and leaves the first one alone.
    let mut second = command("pbxd");
    second.arg("--config").arg(&pbx.conf);
    let r = run_for(&mut second, None, Duration::from_secs(15));
    assert!(
        r.code != 0 && r.code != TIMED_OUT,
        "a second pbxd on the same socket/state: {r:?}"
    );
    assert!(looks_dutch(&r.stderr), "{r:?}");
    assert!(pbx.is_running());
    pbx.ctl(&["status"]).ok();
}

#[test]
fn pbxctl_finds_the_socket_through_the_config() {
    let pbx = Pbx::start(Opts::default());
    let mut c = command("pbxctl");
    c.arg("--config").arg(&pbx.conf).args(["status", "--json"]);
    let r = run(&mut c, None);
    r.ok();
    assert_eq!(r.json()["pid"].as_i64(), Some(i64::from(pbx.pid())));
    let mut c = command("pbxctl");
    c.env("PBXCTL_SOCKET", &pbx.socket)
        .args(["status", "--json"]);
    run(&mut c, None).ok();
}

/// `pbxctl … | head`: the reader goes away early. pbxctl must stop quietly (like ls or git),
/// not panic with a backtrace.
#[test]
fn pbxctl_into_a_closed_pipe_does_not_panic() {
    let pbx = Pbx::start(Opts::default());
    pbx.ctl(&["tenant", "add", "acme"]).ok();
    let csv = pbx.root.join("veel.csv");
    let mut text = String::from("name,phone,notes\n");
    for i in 0..3000 {
        text.push_str(&format!(
            "Contact {i},0201{i:06},een notitie die de uitvoer wat groter maakt\n"
        ));
    }
    std::fs::write(&csv, text).expect("write csv");
    pbx.ctl(&["contact", "import", "acme", csv.to_str().expect("utf-8")])
        .ok();
    let err = pbx.root.join("pipe.err");
    for args in [
        "contact list acme --limit 5000 --json",
        "contact list acme --limit 5000",
        "audit --json",
        "export",
    ] {
        let script = format!(
            "{} --socket {} {args} 2>{} | head -c 10 >/dev/null; exit ${{PIPESTATUS[0]}}",
            bin("pbxctl").display(),
            pbx.socket.display(),
            err.display()
        );
        let mut c = std::process::Command::new("bash");
        c.arg("-c")
            .arg(&script)
            .env_remove("LANG")
            .env_remove("LC_ALL");
        let r = run(&mut c, None);
        let stderr = std::fs::read_to_string(&err).unwrap_or_default();
        assert!(
            !stderr.contains("panicked") && r.code != 101,
            "`pbxctl {args} | head` panics (exit {}):\n{}",
            r.code,
            stderr.lines().take(3).collect::<Vec<_>>().join("\n")
        );
    }
}
