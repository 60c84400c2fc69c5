//! systemd notification (Type=notify): READY=1 once the socket is open, RELOADING=1/READY=1 on
//! SIGHUP, STOPPING=1 on SIGTERM; pbxd exits 0 and removes its socket.

use pbx_tests::*;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

/// Receives datagrams until one contains `want` (or `timeout`); returns everything received.
fn recv_until(sock: &UnixDatagram, want: &str, timeout: Duration) -> (bool, Vec<String>) {
    let deadline = Instant::now() + timeout;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while let Some(left) = deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
    {
        let _ = sock.set_read_timeout(Some(left));
        match sock.recv(&mut buf) {
            Ok(n) => {
                let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                let hit = msg.lines().any(|l| l == want);
                got.push(msg);
                if hit {
                    return (true, got);
                }
            }
            Err(_) => break,
        }
    }
    (false, got)
}

#[test]
fn ready_reloading_and_stopping_are_notified() {
    let mut pbx = Pbx::prepare(Opts::default());
    let path = pbx.root.join("notify.sock");
    let sock = UnixDatagram::bind(&path).expect("bind notify socket");
    pbx.set_env("NOTIFY_SOCKET", path.to_str().expect("utf-8 path"));
    pbx.spawn();

    let (ready, got) = recv_until(&sock, "READY=1", START_TIMEOUT);
    assert!(
        ready,
        "no READY=1 from pbxd; received {got:?}; output:\n{}",
        pbx.stderr_text()
    );
    // READY means ready: the socket answers right away.
    pbx.ctl(&["status"]).ok();

    pbx.sighup();
    let (reloaded, got) = recv_until(&sock, "READY=1", Duration::from_secs(10));
    assert!(reloaded, "no READY=1 after SIGHUP; received {got:?}");
    assert!(
        got.iter().any(|m| m.lines().any(|l| l == "RELOADING=1")),
        "RELOADING=1 before READY=1 on SIGHUP: {got:?}"
    );

    let socket = pbx.socket.clone();
    pbx.signal(nix::sys::signal::Signal::SIGTERM);
    let (stopping, got) = recv_until(&sock, "STOPPING=1", Duration::from_secs(10));
    assert!(stopping, "no STOPPING=1 on SIGTERM; received {got:?}");
    let status = pbx.wait_exit(Duration::from_secs(10)).unwrap_or_else(|| {
        panic!(
            "pbxd did not exit after SIGTERM; output:\n{}",
            pbx.stderr_text()
        )
    });
    assert_eq!(
        status.code(),
        Some(0),
        "exit status after SIGTERM; output:\n{}",
        pbx.stderr_text()
    );
    assert!(
        !socket.exists(),
        "pbxd left its socket {} behind",
        socket.display()
    );
    assert!(pbx.log_text().contains("pbxd stopt"), "{}", pbx.log_text());
}

#[test]
fn sigterm_with_an_open_event_stream_still_exits_promptly() {
    let mut pbx = Pbx::start(Opts::default());
    let mut ev = pbx.events();
    assert!(ev.next(Duration::from_secs(10)).is_some(), "no snapshot");
    let started = Instant::now();
    let status = pbx.sigterm();
    assert_eq!(status.code(), Some(0));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "SIGTERM took {:?}",
        started.elapsed()
    );
    assert!(!pbx.socket.exists());
    // The data is there after a restart (flushed on stop).
    pbx.spawn();
    pbx.wait_ready();
    pbx.ctl(&["status"]).ok();
}

#[test]
fn sigint_stops_too() {
    let mut pbx = Pbx::start(Opts::default());
    pbx.ctl(&["tenant", "add", "acme"]).ok();
    pbx.signal(nix::sys::signal::Signal::SIGINT);
    let status = pbx
        .wait_exit(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("pbxd ignores SIGINT"));
    assert_eq!(status.code(), Some(0));
    pbx.spawn();
    pbx.wait_ready();
    assert_eq!(
        strings(&pbx.ctl_json(&["tenant", "list"]), "slug"),
        ["acme"]
    );
}
