//! pbxtop end to end: pbxd with two extensions, a SIPp call between them, and pbxtop running in
//! a detached tmux session (a real terminal of 100×30). On the Gesprekken tab (key `2`) the
//! board shows the call with caller and callee; `q` ends pbxtop and gives the terminal back.
#![allow(clippy::unwrap_used)]

use pbx_tests::*;
use std::process::Command;
use std::time::{Duration, Instant};

/// tmux on its own server (`-L`), so the test never touches a user's sessions.
fn tmux(server: &str) -> Command {
    let mut c = Command::new("tmux");
    c.args(["-u", "-L", server]);
    c
}

fn capture(server: &str) -> String {
    let out = tmux(server)
        .args(["capture-pane", "-p", "-t", "top"])
        .output()
        .expect("tmux capture-pane");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Stops our tmux server when the test ends, also on a failed assertion.
struct Server(String);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = tmux(&self.0).arg("kill-server").output();
    }
}

#[test]
fn pbxtop_shows_a_live_call_on_the_gesprekken_tab() {
    assert!(
        Command::new("tmux").arg("-V").output().is_ok(),
        "tmux ontbreekt: installeer het Debian-pakket tmux (scripts/test.sh doet dat)"
    );
    let (pbx, pw_a, pw_b) = two_extensions("[sip]\ndigest = [\"MD5\", \"SHA-256\"]\n");

    // 1002 registers and answers; 1001 calls and stays on the line for 12 s (the shipped
    // scenario with a longer pause, written next to pbxd's files).
    let port = free_udp_port();
    register_phone(&pbx, "1002", &pw_b, "acme.example", port);
    let mut uas = sipp_command(&pbx, pbx.sip_port, "uas_1002.xml", "1002", &pw_b, port);
    let uas = std::thread::spawn(move || run_for(&mut uas, None, Duration::from_secs(40)));
    let scenario = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sipp/call_1001.xml"),
    )
    .unwrap()
    .replace(
        "<pause milliseconds=\"2000\"/>",
        "<pause milliseconds=\"12000\"/>",
    );
    let long = pbx.root.join("call_1001_long.xml");
    std::fs::write(&long, scenario).unwrap();

    // pbxtop in tmux, before the call starts.
    let server = Server(format!("pbxtop-test-{}", std::process::id()));
    let shell = format!(
        "PBXCTL_SOCKET='{}' '{}' --lang nl; echo pbxtop-einde $?; sleep 60",
        pbx.socket.display(),
        bin("pbxtop").display()
    );
    let st = tmux(&server.0)
        .args([
            "new-session",
            "-d",
            "-s",
            "top",
            "-x",
            "100",
            "-y",
            "30",
            &shell,
        ])
        .status()
        .expect("tmux new-session");
    assert!(st.success(), "tmux new-session: {st:?}");

    std::thread::sleep(Duration::from_millis(500));
    let mut uac = sipp_command(
        &pbx,
        pbx.sip_port,
        long.to_str().unwrap(),
        "1001",
        &pw_a,
        free_udp_port(),
    );
    uac.args([
        "-set",
        "domain",
        "acme.example",
        "-set",
        "callee",
        "1002",
        "-auth_uri",
        "1002@acme.example",
    ]);
    let uac = std::thread::spawn(move || run_for(&mut uac, None, Duration::from_secs(40)));

    let deadline = Instant::now() + Duration::from_secs(10);
    let mut screen = String::new();
    let mut seen = false;
    while Instant::now() < deadline {
        let _ = tmux(&server.0)
            .args(["send-keys", "-t", "top", "2"])
            .status();
        std::thread::sleep(Duration::from_millis(500));
        screen = capture(&server.0);
        if screen
            .lines()
            .any(|l| l.contains("acme") && l.contains("1001") && l.contains("1002"))
        {
            seen = true;
            break;
        }
    }
    assert!(
        seen,
        "the call 1001 → 1002 on the Gesprekken tab:\n{screen}\n--- pbxd log:\n{}",
        pbx.log_text()
    );
    // Shown with --nocapture, for a look at the board.
    eprintln!("{screen}");
    assert!(screen.contains("Gesprekken: 1"), "{screen}");
    assert!(
        !screen.contains("pbxtop-einde"),
        "pbxtop still runs: {screen}"
    );

    // Enter: the call's detail with its SIP ladder (traces are found by the A leg's Call-ID).
    send(&server.0, &["Enter"]);
    let (ok, detail) = wait_for(&server.0, "INVITE", Duration::from_secs(5));
    assert!(ok, "the ladder in the detail view:\n{detail}");
    send(&server.0, &["Escape"]);

    // q ends the board with exit 0 and the shell prompt's line shows it.
    let _ = tmux(&server.0)
        .args(["send-keys", "-t", "top", "q"])
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && !capture(&server.0).contains("pbxtop-einde") {
        std::thread::sleep(Duration::from_millis(200));
    }
    let after = capture(&server.0);
    assert!(
        after.contains("pbxtop-einde 0"),
        "pbxtop stops with 0 on q:\n{after}"
    );
    assert!(
        !after.contains("Gesprekken: 1"),
        "the alternate screen is left on exit:\n{after}"
    );

    let (uac, uas) = (uac.join().unwrap(), uas.join().unwrap());
    assert_eq!(uac.code, 0, "caller: {}", uac.all());
    assert_eq!(uas.code, 0, "callee: {}", uas.all());
}

/// Waits until the pane shows `what`; gives the last screen.
fn wait_for(server: &str, what: &str, within: Duration) -> (bool, String) {
    let deadline = Instant::now() + within;
    loop {
        let s = capture(server);
        if s.contains(what) {
            return (true, s);
        }
        if Instant::now() >= deadline {
            return (false, s);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn send(server: &str, keys: &[&str]) {
    let mut c = tmux(server);
    c.args(["send-keys", "-t", "top"]).args(keys);
    let _ = c.status();
}

#[test]
fn pbxtop_reconnects_after_a_pbxd_restart_and_keeps_tab_and_filter() {
    assert!(
        Command::new("tmux").arg("-V").output().is_ok(),
        "tmux ontbreekt: installeer het Debian-pakket tmux (scripts/test.sh doet dat)"
    );
    let mut pbx = Pbx::start(Opts::default());
    pbx.ctl(&["tenant", "add", "acme", "--domain", "acme.example"])
        .ok();
    let server = Server(format!("pbxtop-herstart-{}", std::process::id()));
    let shell = format!(
        "PBXCTL_SOCKET='{}' '{}' --lang nl; echo pbxtop-einde $?; sleep 60",
        pbx.socket.display(),
        bin("pbxtop").display()
    );
    let st = tmux(&server.0)
        .args([
            "new-session",
            "-d",
            "-s",
            "top",
            "-x",
            "100",
            "-y",
            "30",
            &shell,
        ])
        .status()
        .expect("tmux new-session");
    assert!(st.success(), "tmux new-session: {st:?}");
    let (ok, s) = wait_for(&server.0, "1 organisaties", Duration::from_secs(10));
    assert!(ok, "board up: {s}");

    // Trunks tab, filter "org:acme".
    send(&server.0, &["4", "/"]);
    send(&server.0, &["-l", "org:acme"]);
    send(&server.0, &["Enter"]);
    let (ok, s) = wait_for(&server.0, "filter: org:acme", Duration::from_secs(5));
    assert!(ok && s.contains("┌ Trunks"), "tab and filter set: {s}");

    pbx.sigterm();
    let (ok, s) = wait_for(
        &server.0,
        "verbinding verbroken, opnieuw verbinden…",
        Duration::from_secs(10),
    );
    assert!(ok, "says the connection is gone: {s}");
    assert!(!s.contains("pbxtop-einde"), "pbxtop keeps running: {s}");

    pbx.restart();
    let (ok, s) = wait_for(&server.0, "1 organisaties", Duration::from_secs(10));
    assert!(ok, "connected again: {s}\n--- pbxd:\n{}", pbx.stderr_text());
    assert!(
        s.contains("┌ Trunks") && s.contains("filter: org:acme"),
        "tab and filter kept: {s}"
    );
    assert!(!s.contains("verbinding verbroken"), "{s}");
    send(&server.0, &["q"]);
    let (ok, s) = wait_for(&server.0, "pbxtop-einde 0", Duration::from_secs(5));
    assert!(ok, "{s}");
}
