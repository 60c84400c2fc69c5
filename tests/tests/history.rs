//! History through pbxd: an answered and a busy call between SIPp phones end up in the roll-ups
//! of the minute, hour and day, for the organisation and globally, with the peak of calls and
//! the registrations; `pbxctl history` shows them, also after a restart; an organisation-scoped
//! view and bad input are handled.
#![allow(clippy::unwrap_used)]

use pbx_tests::*;
use serde_json::Value;
use std::time::{Duration, Instant};

fn sum(v: &Value, field: &str) -> u64 {
    v.as_array()
        .map(|a| a.iter().map(|p| p[field].as_u64().unwrap_or(0)).sum())
        .unwrap_or(0)
}

fn max(v: &Value, field: &str) -> u64 {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|p| p[field].as_u64().unwrap_or(0))
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

/// 1002 (registered from `port`, the same for every call: one contact) answers with `uas`.
fn call(pbx: &Pbx, pw: &(String, String), port: u16, uac: &str, uas: &str) {
    register_phone(pbx, "1002", &pw.1, "acme.example", port);
    let mut server = sipp_command(pbx, pbx.sip_port, uas, "1002", &pw.1, port);
    let server = std::thread::spawn(move || run_for(&mut server, None, Duration::from_secs(40)));
    std::thread::sleep(Duration::from_millis(300));
    let mut client = sipp_command(pbx, pbx.sip_port, uac, "1001", &pw.0, free_udp_port());
    client.args([
        "-set",
        "domain",
        "acme.example",
        "-set",
        "callee",
        "1002",
        "-auth_uri",
        "1002@acme.example",
    ]);
    let client = run_for(&mut client, None, Duration::from_secs(40));
    let server = server.join().unwrap();
    assert_eq!(client.code, 0, "{}\n{}", client.all(), pbx.log_text());
    assert_eq!(server.code, 0, "{}", server.all());
}

#[test]
fn calls_reach_the_rollups_of_minute_hour_and_day() {
    let (mut pbx, a, b) = two_extensions("[sip]\ndigest = [\"MD5\"]\n");
    let pw = (a, b);
    let port = free_udp_port();
    call(&pbx, &pw, port, "call_1001.xml", "uas_1002.xml");
    call(&pbx, &pw, port, "call_busy.xml", "uas_busy.xml");

    // Written every 5 s.
    let deadline = Instant::now() + Duration::from_secs(15);
    let minutes = loop {
        let v = pbx.ctl_json(&["history", "--per", "minuut", "--tenant", "acme"]);
        if sum(&v, "started") >= 2 {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "no history: {v}\n{}",
            pbx.log_text()
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(sum(&minutes, "started"), 2, "{minutes}");
    assert_eq!(sum(&minutes, "answered"), 1, "{minutes}");
    assert_eq!(sum(&minutes, "failed"), 1, "{minutes}");
    assert!(max(&minutes, "peak_calls") >= 1, "{minutes}");
    for per in ["uur", "dag"] {
        let v = pbx.ctl_json(&["history", "--per", per, "--tenant", "acme"]);
        assert_eq!(v.as_array().map(Vec::len), Some(1), "{per}: {v}");
        assert_eq!(v[0]["started"], 2, "{per}: {v}");
        assert_eq!(v[0]["asr_pct"], 50.0, "{per}: {v}");
    }
    let global = pbx.ctl_json(&["history", "--per", "dag"]);
    assert_eq!(global[0]["started"], 2, "{global}");
    // Registrations are sampled every 5 s.
    let deadline = Instant::now() + Duration::from_secs(10);
    while max(
        &pbx.ctl_json(&["history", "--per", "dag", "--tenant", "acme"]),
        "registrations",
    ) < 1
    {
        assert!(
            Instant::now() < deadline,
            "registrations not in the history"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let table = pbx
        .ctl(&["history", "--per", "uur", "--tenant", "acme"])
        .ok()
        .stdout
        .clone();
    assert!(table.contains("50.0"), "{table}");

    // Kept over a restart.
    pbx.restart();
    let v = pbx.ctl_json(&["history", "--per", "dag", "--tenant", "acme"]);
    assert_eq!(v[0]["started"], 2, "{v}");

    // Bad input.
    pbx.ctl(&["history", "--per", "week"]).code(64);
    pbx.ctl(&["history", "--trunk", "kpn"]).code(65);
}
