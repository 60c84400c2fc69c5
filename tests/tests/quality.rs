//! Call quality as pbxd measures it, against what the test did to the media: 1002 (SIPp) plays
//! SIPp's A-law recording (30 ms packets) through pbxd to 1001, whose media address is a socket
//! of this test. That socket is the impairing relay: it sends every packet back to pbxd as 1001's
//! audio, but drops a set share and holds some back, or sends nothing at all.
//!
//! * 10 % loss and bursts of delay on 1001's side: pbxd's CDR shows that loss (± 3 points) and
//!   jitter on leg a, clean audio on leg b, and a MOS on leg a that the E-model predicts for
//!   G.711 at 10 % loss (R ≈ 65, MOS ≈ 3.3) while leg b scores above 4; `pbxctl calls` shows
//!   the same live during the call.
//! * 1001 silent: one-way audio, live and in the CDR.
#![allow(clippy::unwrap_used)]

use pbx_tests::*;
use serde_json::Value;
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn the_cdr(pbx: &Pbx) -> Value {
    for _ in 0..50 {
        let list = pbx.ctl_json(&["cdr", "list"]);
        if let Some(id) = list
            .as_array()
            .and_then(|a| a.first())
            .and_then(|c| c["id"].as_str())
        {
            return pbx.ctl_json(&["cdr", "show", "acme", id]);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no CDR: {}", pbx.log_text());
}

fn leg<'a>(v: &'a Value, list: &str, name: &str) -> &'a Value {
    v[list]
        .as_array()
        .and_then(|l| l.iter().find(|l| l["leg"] == name))
        .unwrap_or_else(|| panic!("no leg {name} in {list}: {v}"))
}

/// The live view of the one call, once `pred` holds (or the last one seen).
fn live_until(pbx: &Pbx, within: Duration, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + within;
    let mut last = Value::Null;
    while Instant::now() < deadline {
        let calls = pbx.ctl_json(&["calls"]);
        if let Some(c) = calls.as_array().and_then(|a| a.first()) {
            last = c.clone();
            if pred(c) {
                return last;
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    last
}

fn centi(v: &Value) -> f64 {
    v.as_u64().map(|x| x as f64 / 100.0).unwrap_or(f64::NAN)
}

#[test]
fn loss_and_jitter_are_measured_and_lower_the_mos_as_the_e_model_predicts() {
    let (pbx, a, b) = two_extensions("[sip]\ndigest = [\"MD5\"]\n");
    let (sock, mport) = bind_udp();
    let stop = Arc::new(AtomicBool::new(false));
    let relay = impairing_relay(
        sock,
        stop.clone(),
        Impair {
            echo: true,
            drop_every: 10,
            delay_every: 7,
            delay: Duration::from_millis(60),
        },
    );
    let running = media_call(&pbx, &(a, b), "call_1001_pcmu_socket.xml", mport);
    // Live: after a few seconds leg a shows the loss and a lower MOS than leg b.
    let live = live_until(&pbx, Duration::from_secs(6), |c| {
        let q = &c["quality"];
        q.as_array().is_some_and(|l| l.len() == 2)
            && leg(c, "quality", "a")["avg_mos_centi"].is_u64()
            && leg(c, "quality", "b")["avg_mos_centi"].is_u64()
            && leg(c, "quality", "a")["history_centi"]
                .as_array()
                .is_some_and(|h| h.len() >= 2)
    });
    let (client, server) = running.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    let (got, sent) = relay.join().unwrap();
    assert_eq!(client.code, 0, "1001: {}\n{}", client.all(), pbx.log_text());
    assert_eq!(server.code, 0, "1002: {}", server.all());
    assert!(got > 100 && sent < got, "relay: {got} in, {sent} out");

    let live_a = centi(&leg(&live, "quality", "a")["avg_mos_centi"]);
    let live_b = centi(&leg(&live, "quality", "b")["avg_mos_centi"]);
    assert!(live_a < live_b, "live: {live}");
    assert!(live_b > 4.0, "live: {live}");

    let cdr = the_cdr(&pbx);
    let la = leg(&cdr, "legs", "a");
    let lb = leg(&cdr, "legs", "b");
    let loss_a = centi(&la["loss_centi_pct"]);
    assert!(
        (7.0..=13.0).contains(&loss_a),
        "10 % dropped, pbxd saw {loss_a} %: {cdr}"
    );
    assert!(centi(&lb["loss_centi_pct"]) < 1.0, "{cdr}");
    // Every 7th packet held back 60 ms (the ones behind it queue up): RFC 3550's smoothed
    // estimate lands in the tens of milliseconds (14.9 ms measured), well above leg b, which
    // SIPp plays unimpaired.
    let jitter_a = centi(&la["jitter_centi_ms"]);
    assert!(
        (5.0..=40.0).contains(&jitter_a),
        "jitter a {jitter_a} ms: {cdr}"
    );
    assert!(centi(&lb["jitter_centi_ms"]) < jitter_a / 2.0, "{cdr}");
    // E-model, G.711 at 10 % random loss: Ie,eff = 95·10/35.1 ≈ 27, R ≈ 65, MOS ≈ 3.3.
    let mos_a = centi(&la["mos_centi"]);
    let mos_b = centi(&lb["mos_centi"]);
    eprintln!(
        "gemeten: verlies a {loss_a} %, jitter a {} ms, MOS a {mos_a}, MOS b {mos_b}, live a {live_a} b {live_b}",
        centi(&la["jitter_centi_ms"])
    );
    assert!((2.8..=3.8).contains(&mos_a), "MOS a {mos_a}: {cdr}");
    assert!(mos_b > 4.2, "MOS b {mos_b}: {cdr}");
    let q = &cdr["quality"];
    assert!(centi(&q["worst_mos_centi"]) <= mos_a, "{cdr}");
    assert!(
        centi(&q["avg_mos_centi"]) > mos_a && centi(&q["avg_mos_centi"]) < mos_b,
        "{cdr}"
    );
    assert_eq!(q["one_way"], false, "{cdr}");
    assert_eq!(q["dead_air"], false, "{cdr}");
    let shown = pbx
        .ctl(&["cdr", "show", "acme", cdr["id"].as_str().unwrap()])
        .ok()
        .stdout
        .clone();
    assert!(shown.contains("mos_gemiddeld"), "{shown}");
}

#[test]
fn a_silent_side_is_one_way_audio_live_and_in_the_cdr() {
    let (pbx, a, b) = two_extensions("[sip]\ndigest = [\"MD5\"]\n");
    let (sock, mport) = bind_udp();
    let stop = Arc::new(AtomicBool::new(false));
    let relay = impairing_relay(
        sock,
        stop.clone(),
        Impair {
            echo: false,
            drop_every: 0,
            delay_every: 0,
            delay: Duration::ZERO,
        },
    );
    let running = media_call(&pbx, &(a, b), "call_1001_pcmu_socket_8s.xml", mport);
    let live = live_until(&pbx, Duration::from_secs(9), |c| c["one_way"] == true);
    let (client, server) = running.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    let (got, _) = relay.join().unwrap();
    assert_eq!(client.code, 0, "1001: {}\n{}", client.all(), pbx.log_text());
    assert_eq!(server.code, 0, "1002: {}", server.all());
    assert!(got > 100, "1001 heard 1002: {got}");
    assert_eq!(live["one_way"], true, "live: {live}");
    let cdr = the_cdr(&pbx);
    assert_eq!(cdr["quality"]["one_way"], true, "{cdr}");
    assert_eq!(cdr["quality"]["dead_air"], false, "{cdr}");
}

/// 1001's RTCP: answers every report of pbxd with a receiver report and an RTCP XR VoIP Metrics
/// block saying MOS-CQ 2.9 (RFC 3611 §4.7); gives the number of XR sent.
fn xr_phone(sock: UdpSocket, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u32> {
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    std::thread::spawn(move || {
        let mut sent = 0;
        let mut buf = [0u8; 1500];
        while !stop.load(Ordering::Relaxed) {
            let Ok((_, from)) = sock.recv_from(&mut buf) else {
                continue;
            };
            // RR without blocks from SSRC 0x10011001, then XR with one VoIP Metrics block.
            let mut p = vec![0x80, 201, 0, 1];
            p.extend_from_slice(&0x1001_1001u32.to_be_bytes());
            p.extend_from_slice(&[0x80, 207, 0, 10]);
            p.extend_from_slice(&0x1001_1001u32.to_be_bytes());
            p.extend_from_slice(&[7, 0, 0, 8]);
            p.extend_from_slice(&0u32.to_be_bytes());
            p.extend_from_slice(&[0; 16]);
            p.extend_from_slice(&[60, 127, 31, 29]); // R 60, MOS-LQ 3.1, MOS-CQ 2.9
            p.extend_from_slice(&[0; 8]);
            let _ = sock.send_to(&p, from);
            sent += 1;
        }
        sent
    })
}

#[test]
fn a_phones_rtcp_xr_mos_counts_instead_of_the_estimate() {
    let (pbx, a, b) = two_extensions("[sip]\ndigest = [\"MD5\"]\n");
    let (sock, mport) = bind_udp();
    let stop = Arc::new(AtomicBool::new(false));
    let relay = impairing_relay(
        sock,
        stop.clone(),
        Impair {
            echo: true,
            drop_every: 0,
            delay_every: 0,
            delay: Duration::ZERO,
        },
    );
    let (rtcp, rtcpport) = bind_udp();
    let xr = xr_phone(rtcp.try_clone().unwrap(), stop.clone());
    let running = media_call_with_rtcp(
        &pbx,
        &(a, b),
        "call_1001_pcmu_socket_8s.xml",
        mport,
        (rtcp, rtcpport),
    );
    // Clean audio both ways; once 1001 has sent its XR, leg a shows the phone's MOS-CQ.
    let live = live_until(&pbx, Duration::from_secs(9), |c| {
        c["quality"]
            .as_array()
            .is_some_and(|l| l.iter().any(|x| x["leg"] == "a" && x["mos_centi"] == 290))
    });
    let (client, server) = running.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    relay.join().unwrap();
    let sent = xr.join().unwrap();
    assert_eq!(client.code, 0, "1001: {}\n{}", client.all(), pbx.log_text());
    assert_eq!(server.code, 0, "1002: {}", server.all());
    assert!(sent >= 1, "pbxd sent 1001 an RTCP report to answer");
    assert_eq!(
        leg(&live, "quality", "a")["mos_centi"],
        290,
        "XR sent {sent}; live: {live}"
    );
    assert!(
        centi(&leg(&live, "quality", "b")["mos_centi"]) > 4.2,
        "leg b is pbxd's own estimate: {live}"
    );
    let cdr = the_cdr(&pbx);
    assert_eq!(cdr["quality"]["worst_mos_centi"], 290, "{cdr}");
}
