//! pbxtop end to end: pbxd with two extensions, a SIPp call between them, and pbxtop running in
//! a detached tmux session (a real terminal of 100×30). On the Gesprekken tab (key `2`) the
//! board shows the call with caller and callee; `q` ends pbxtop and gives the terminal back.
#![allow(clippy::unwrap_used)]

use pbx_tests::*;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
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

/// The numbers `d.dd` of the screen line that shows the call 1001 → 1002 (MOS A, MOS B: the
/// first two such numbers; jitter has one decimal).
fn mos_of_row(screen: &str) -> Option<(f64, f64)> {
    let row = screen
        .lines()
        .find(|l| l.contains("1001") && l.contains("1002") && l.contains("acme"))?;
    let nums: Vec<f64> = row
        .split_whitespace()
        .filter(|w| w.len() == 4 && w.as_bytes()[1] == b'.')
        .filter_map(|w| w.parse().ok())
        .collect();
    Some((*nums.first()?, *nums.get(1)?))
}

/// A call with media through an impairing relay (every 10th packet of 1001 dropped): pbxtop's
/// Gesprekken tab shows MOS A about as the E-model predicts for 10 % loss (≈ 3.4) and MOS B
/// unimpaired (≈ 4.4); the detail shows the ladder, and ↓ Enter the raw second message.
#[test]
fn pbxtop_shows_the_mos_of_a_live_call_with_media_and_its_raw_messages() {
    assert!(
        Command::new("tmux").arg("-V").output().is_ok(),
        "tmux ontbreekt: installeer het Debian-pakket tmux (scripts/test.sh doet dat)"
    );
    let (pbx, pw_a, pw_b) = two_extensions("[sip]\ndigest = [\"MD5\"]\n");
    let server = Server(format!("pbxtop-mos-{}", std::process::id()));
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
    let (ok, s) = wait_for(&server.0, "Overzicht", Duration::from_secs(10));
    assert!(ok, "board up: {s}");
    send(&server.0, &["2"]);

    // 1001's media is a socket of the test that echoes pbxd's stream, dropping every 10th
    // packet; the call lasts 14 s.
    let scenario = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sipp/call_1001_pcmu_socket.xml"),
    )
    .unwrap()
    .replace(
        "<pause milliseconds=\"5000\"/>",
        "<pause milliseconds=\"14000\"/>",
    );
    let long = pbx.root.join("call_1001_pcmu_socket_long.xml");
    std::fs::write(&long, scenario).unwrap();
    let (sock, mport) = bind_udp();
    let stop = Arc::new(AtomicBool::new(false));
    let relay = impairing_relay(
        sock,
        stop.clone(),
        Impair {
            echo: true,
            drop_every: 10,
            delay_every: 0,
            delay: Duration::ZERO,
        },
    );
    let running = media_call(&pbx, &(pw_a, pw_b), long.to_str().unwrap(), mport);

    // The E-model settles after a few seconds of media: look from 4 s on, until MOS A is below 4.
    std::thread::sleep(Duration::from_secs(4));
    let deadline = Instant::now() + Duration::from_secs(12);
    let mut screen = String::new();
    let mut mos = None;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        screen = capture(&server.0);
        mos = mos_of_row(&screen);
        if mos.is_some_and(|(a, _)| a < 4.0) {
            break;
        }
    }
    eprintln!("{screen}");
    let Some((mos_a, mos_b)) = mos else {
        panic!(
            "no MOS on the Gesprekken tab:\n{screen}\n--- pbxd:\n{}",
            pbx.log_text()
        );
    };
    assert!(
        (2.8..=3.9).contains(&mos_a),
        "MOS A {mos_a} with 10 % loss (E-model ≈ 3.4):\n{screen}"
    );
    assert!(mos_b > 4.2, "MOS B {mos_b} unimpaired:\n{screen}");

    // Detail: the MOS table and the ladder; ↓ Enter: the raw second message (pbxd's answer).
    send(&server.0, &["Enter"]);
    let (ok, s) = wait_for(&server.0, "INVITE", Duration::from_secs(5));
    assert!(ok && s.contains("GEM."), "detail with ladder: {s}");
    send(&server.0, &["Down"]);
    send(&server.0, &["Enter"]);
    let (ok, s) = wait_for(&server.0, "Bericht 2 van", Duration::from_secs(5));
    assert!(ok, "raw message view: {s}");
    assert!(s.contains("SIP/2.0") && s.contains("Call-ID:"), "{s}");
    assert!(!s.contains("response=\""), "credentials redacted: {s}");
    send(&server.0, &["Escape"]);
    let (ok, s) = wait_for(&server.0, "SIP-verloop", Duration::from_secs(5));
    assert!(ok, "back at the ladder: {s}");
    send(&server.0, &["Escape", "q"]);
    let (ok, s) = wait_for(&server.0, "pbxtop-einde 0", Duration::from_secs(5));
    assert!(ok, "{s}");

    let (client, callee) = running.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    let _ = relay.join();
    assert_eq!(client.code, 0, "1001: {}", client.all());
    assert_eq!(callee.code, 0, "1002: {}", callee.all());
}
