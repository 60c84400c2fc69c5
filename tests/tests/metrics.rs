//! `/metrics` on the `[http]` endpoint, as Prometheus scrapes it: registrations, active and
//! ended calls, the MOS histogram of a call with media, trunk state and channels, alarms.
#![allow(clippy::unwrap_used)]

use pbx_tests::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn get(port: u16, method: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|x| x.1)
        .unwrap_or("")
        .to_string();
    (status, body)
}

fn value(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn metrics_show_registrations_calls_mos_trunks_and_alarms() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (pbx, pw1, pw2) = two_extensions(&format!(
        "[sip]\ndigest = [\"MD5\"]\n\n[http]\naddress = \"127.0.0.1:{port}\"\ntls = false\n"
    ));
    pbx.ctl(&[
        "trunk",
        "add",
        "acme",
        "kpn",
        "--host",
        "127.0.0.1",
        "--port",
        "9",
        "--max-channels",
        "6",
    ])
    .ok();

    // A call with media both ways: 1002 plays, 1001's socket echoes.
    let (sock, mport) = bind_udp();
    let stop = Arc::new(AtomicBool::new(false));
    let echo = impairing_relay(
        sock,
        stop.clone(),
        Impair {
            echo: true,
            drop_every: 0,
            delay_every: 0,
            delay: Duration::ZERO,
        },
    );
    let running = media_call(&pbx, &(pw1, pw2), "call_1001_pcmu_socket.xml", mport);
    // During the call (1001 dials 0.5 s after 1002 is up): one active call.
    std::thread::sleep(Duration::from_millis(3000));
    let (status, body) = get(port, "GET", "/metrics");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        value(&body, "pbx_calls_active{tenant=\"acme\"}"),
        Some(1.0),
        "{body}"
    );
    let (client, server) = running.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    echo.join().unwrap();
    assert_eq!(client.code, 0, "{}\n{}", client.all(), pbx.log_text());
    assert_eq!(server.code, 0, "{}", server.all());

    std::thread::sleep(Duration::from_millis(300));
    let (status, body) = get(port, "GET", "/metrics");
    assert_eq!(status, 200);
    assert_eq!(value(&body, "pbx_up"), Some(1.0), "{body}");
    assert_eq!(
        value(&body, "pbx_registrations{tenant=\"acme\"}"),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        value(&body, "pbx_calls_active{tenant=\"acme\"}"),
        None,
        "{body}"
    );
    assert_eq!(
        value(
            &body,
            "pbx_calls_total{tenant=\"acme\",direction=\"intern\",afloop=\"beantwoord\"}"
        ),
        Some(1.0),
        "{body}"
    );
    // Clean media both ways: MOS about 4.39, above the last bucket but one.
    assert_eq!(value(&body, "pbx_call_mos_count"), Some(1.0), "{body}");
    assert_eq!(
        value(&body, "pbx_call_mos_bucket{le=\"4\"}"),
        Some(0.0),
        "{body}"
    );
    assert_eq!(
        value(&body, "pbx_call_mos_bucket{le=\"+Inf\"}"),
        Some(1.0),
        "{body}"
    );
    let sum = value(&body, "pbx_call_mos_sum").unwrap();
    assert!((4.2..4.5).contains(&sum), "{body}");
    assert_eq!(
        value(
            &body,
            "pbx_trunk_channels_max{tenant=\"acme\",trunk=\"kpn\"}"
        ),
        Some(6.0),
        "{body}"
    );
    assert_eq!(
        value(&body, "pbx_trunk_registered{tenant=\"acme\",trunk=\"kpn\"}"),
        Some(0.0),
        "{body}"
    );
    assert_eq!(
        value(&body, "pbx_alarms_firing{severity=\"kritiek\"}"),
        Some(0.0),
        "{body}"
    );
    assert!(value(&body, "pbx_sip_messages_total{kind=\"received\"}").unwrap() > 5.0);
    // Every sample line is in the text format.
    for l in body.lines().filter(|l| !l.starts_with('#')) {
        let (series, v) = l.rsplit_once(' ').unwrap();
        assert!(series.starts_with("pbx_"), "{l}");
        assert!(v.parse::<f64>().is_ok(), "{l}");
    }
    assert_eq!(get(port, "POST", "/metrics").0, 405);
    assert_eq!(get(port, "GET", "/anders").0, 404);
}
