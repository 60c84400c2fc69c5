//! A standard WebRTC SIP client, JsSIP 3.13 from npm, in headless Chromium (fake microphone at
//! 600 Hz) against a real pbxd over `wss` with a self-signed certificate; the other side is a
//! SIPp phone on UDP whose media is a socket of the test (1 kHz out, recorded in).
//!
//! * JsSIP registers with digest and calls 1002: JsSIP hears 1 kHz, the SIP side hears 600 Hz;
//!   JsSIP holds and resumes with its own re-INVITEs (SIPp checks a=sendonly and a=sendrecv)
//!   and hangs up; the CDR says beantwoord.
//! * SIPp 1002 calls JsSIP (pbxd's INVITE carries the WebRTC offer of a bridge; JsSIP answers
//!   it with its default options), JsSIP hears 1 kHz; SIPp holds and resumes (pbxd sends JsSIP
//!   re-INVITEs without SDP, so JsSIP offers again; the answers to SIPp say recvonly and
//!   sendrecv) and hangs up.
#![allow(clippy::unwrap_used)]

mod certs;
mod web;

use pbx_tests::*;
use pbx_webrtc::audio::{energy, goertzel};
use pbx_webrtc::Codec;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use web::{scenario, SipMedia};

/// pbxd with a wss listener and acme (1001 for JsSIP, 1002 for SIPp); gives pbxd, the wss
/// port and both SIP passwords. The certificate's folder must outlive pbxd.
fn start(certs: &std::path::Path) -> (Pbx, u16, String, String) {
    certs::make_cert(certs, "live");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (pbx, a, b) = two_extensions(&format!(
        "[sip]\ndigest = [\"MD5\"]\n\n[tls]\ncertificate = \"{}\"\nkey = \"{}\"\n\n[[listen]]\ntransport = \"wss\"\naddress = \"127.0.0.1:{port}\"\n",
        certs.join("live.pem").display(),
        certs.join("live.key").display()
    ));
    (pbx, port, a, b)
}

fn jssip_args(port: u16, password: &str, richting: &str) -> Value {
    json!({
        "wss": format!("wss://127.0.0.1:{port}"),
        "domein": "acme.example",
        "gebruiker": "1001",
        "wachtwoord": password,
        "richting": richting,
        "hz": 1000,
        "mic_hz": 600,
    })
}

/// The last CDR of acme, once there is one.
fn last_cdr(pbx: &Pbx) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let l = pbx.ctl_json(&["cdr", "list", "--tenant", "acme"]);
        if let Some(c) = l.as_array().and_then(|a| a.last()) {
            return c.clone();
        }
        assert!(Instant::now() < deadline, "no CDR");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn assert_heard_600(pcm: &[i16]) {
    let (p, e) = (goertzel(pcm, 600.0, 8000), energy(pcm));
    assert!(
        pcm.len() > 8000 && p / e > 0.3,
        "600 Hz van JsSIP aan de SIP-kant: {} samples, {p:.0}/{e:.0}",
        pcm.len()
    );
}

#[test]
fn jssip_in_chromium_registers_over_wss_calls_a_sip_phone_holds_and_hangs_up() {
    let certs = tempfile::tempdir().unwrap();
    let (pbx, port, pw1, pw2) = start(certs.path());
    let (callee, media) = web::answering_phone(
        &pbx,
        "1002",
        &pw2,
        "uas_held_socket.xml",
        Codec::Pcmu,
        Duration::from_secs(60),
    );
    let mut args = jssip_args(port, &pw1, "bellen");
    args["nummer"] = json!("1002");
    args["wacht"] = json!(true);
    let (code, out, err) = scenario("jssip", &args);
    let callee = callee.join().unwrap();
    let (pcm, _) = media.finish();
    assert_eq!(
        code,
        0,
        "browser: {out}\n{err}\n--- pbxd:\n{}",
        pbx.log_text()
    );
    eprintln!("browser: {out}");
    assert_eq!(callee.code, 0, "SIPp 1002: {}", callee.all());
    assert!(out["toon"]["ratio"].as_f64().unwrap_or(0.0) >= 0.3, "{out}");
    assert!(
        out["toon_na_wacht"]["ratio"].as_f64().unwrap_or(0.0) >= 0.3,
        "{out}"
    );
    assert_heard_600(&pcm);
    let cdr = last_cdr(&pbx);
    assert_eq!(cdr["afloop"], "beantwoord", "{cdr}");
    assert_eq!(cdr["caller"]["number"], "1001", "{cdr}");
    assert_eq!(cdr["callee"]["number"], "1002", "{cdr}");
    // JsSIP unregistered at the end.
    assert!(!web::is_registered(&pbx, "1001"), "1001 nog geregistreerd");
}

#[test]
fn a_sip_phone_calls_jssip_in_chromium_which_answers_and_follows_hold() {
    let certs = tempfile::tempdir().unwrap();
    let (pbx, port, pw1, pw2) = start(certs.path());
    let media = SipMedia::start();
    let caller = web::sipp_caller(
        &pbx,
        "call_to_jssip.xml",
        "1002",
        &pw2,
        free_udp_port(),
        "1001",
        media.port,
    );
    // SIPp calls once JsSIP is registered.
    let caller = web::call_once_registered(pbx, "1001", caller);
    let mut args = jssip_args(port, &pw1, "opnemen");
    if std::env::var_os("PBX_JSSIP_DEBUG").is_some() {
        args["debug"] = json!(true);
        args["console_regels"] = json!(400);
    }
    let (code, out, err) = scenario("jssip", &args);
    let (pbx, caller) = caller.join().unwrap();
    let (pcm, _) = media.finish();
    assert_eq!(
        code,
        0,
        "browser: {out}\n{err}\n--- pbxd:\n{}",
        pbx.log_text()
    );
    eprintln!("browser: {out}");
    assert_eq!(caller.code, 0, "SIPp 1002: {}", caller.all());
    assert!(out["toon"]["ratio"].as_f64().unwrap_or(0.0) >= 0.3, "{out}");
    // The hold and the resume each reached JsSIP as a re-INVITE.
    assert_eq!(out["reinvites"], 2, "{out}");
    assert_heard_600(&pcm);
    let cdr = last_cdr(&pbx);
    assert_eq!(cdr["afloop"], "beantwoord", "{cdr}");
    assert_eq!(cdr["caller"]["number"], "1002", "{cdr}");
}
