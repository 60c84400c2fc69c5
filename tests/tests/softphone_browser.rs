//! The softphone page in headless Chromium (Debian's /usr/bin/chromium, driven by
//! playwright-core through `tests/browser/run.mjs`) against a real pbxd, with fake media: the
//! browser's microphone plays a 600 Hz WAV.
//!
//! * A SIP phone (SIPp, 1002) calls the agent: the page rings, the agent answers; the page's
//!   received audio (WebAudio) shows the caller's 1 kHz tone; the SIP side hears the browser's
//!   600 Hz; hold and resume reach the SIP side (sendonly / sendrecv); the dial pad's digits
//!   arrive there as RFC 4733; the agent hangs up and gives notes and an afcodering, which the
//!   CDR carries.
//! * The agent dials 1002 from the dial field and hears it; a browser calls another browser.
//! * Security and robustness of the page's WebSocket (no session, foreign Origin, garbage), and
//!   lockout after wrong passwords, through the page.
#![allow(clippy::unwrap_used)]

mod web;

use pbx_tests::*;
use pbx_webrtc::audio::{energy, goertzel};
use pbx_webrtc::Codec;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use web::{scenario, SipMedia};

const PW: &str = "Zeer-Geheim-Wachtwoord-7";

/// pbxd with `[http]`, acme with afcoderingen, extensions 1001 (agent anna) and 1002 (agent
/// bert, for browser-to-browser); gives the HTTP port and 1002's SIP password.
fn setup() -> (Pbx, u16, String) {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (pbx, _pw1, pw2) = two_extensions(&format!(
        "[sip]\ndigest = [\"MD5\"]\n\n[http]\naddress = \"127.0.0.1:{port}\"\ntls = false\n"
    ));
    for u in ["anna", "bert"] {
        pbx.ctl_in(
            &[
                "user",
                "add",
                "acme",
                u,
                "--name",
                u,
                "--role",
                "agent",
                "--password-stdin",
            ],
            format!("{PW}\n").as_bytes(),
        )
        .ok();
    }
    pbx.ctl(&["extension", "set", "acme", "1001", "--owner", "anna"])
        .ok();
    pbx.ctl(&[
        "tenant",
        "set",
        "acme",
        "--afcodering",
        "afgehandeld=Afgehandeld",
        "--afcodering",
        "terugbellen=Terugbellen",
    ])
    .ok();
    (pbx, port, pw2)
}

/// The median over whole seconds of the share of `hz` in the signal (Goertzel power / mean
/// square; a clean sine gives 0.5).
fn tone_share(pcm: &[i16], hz: f32) -> f64 {
    let mut v: Vec<f64> = pcm
        .chunks_exact(8000)
        .map(|w| goertzel(w, hz, 8000) / energy(w).max(1.0))
        .collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Digits of a run of telephone-event codes (each event is sent in several packets).
fn digits(events: &[u8]) -> String {
    let mut d: Vec<u8> = events.to_vec();
    d.dedup();
    d.iter()
        .map(|e| match e {
            0..=9 => char::from(b'0' + e),
            10 => '*',
            11 => '#',
            _ => '?',
        })
        .collect()
}

fn last_cdr(pbx: &Pbx) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let l = pbx.ctl_json(&["cdr", "list", "--tenant", "acme"]);
        if let Some(c) = l.as_array().and_then(|a| a.last()) {
            if c.get("afcodering").is_some() || Instant::now() > deadline {
                return c.clone();
            }
        }
        assert!(Instant::now() < deadline, "no CDR");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn chromium_agent_answers_a_sip_call_hears_it_holds_dials_digits_and_wraps_up() {
    let (pbx, port, pw2) = setup();
    let media = SipMedia::start();
    let base = format!("http://localhost:{port}");
    let caller_port = free_udp_port();
    let caller = web::sipp_caller(
        &pbx,
        "call_to_browser_held.xml",
        "1002",
        &pw2,
        caller_port,
        "1001",
        media.port,
    );
    // The call starts once the page is logged in and beschikbaar (the browser's phone is then
    // registered).
    let caller = web::call_once_registered(pbx, "1001", caller);
    let (code, out, err) = scenario(
        "answer",
        &json!({
            "base": base,
            "organisatie": "acme",
            "gebruiker": "anna",
            "wachtwoord": PW,
            "hz": 1000,
            "mic_hz": 600,
            "digits": "123#",
            "notities": "Klant belde over factuur 42",
            "afcodering": "afgehandeld",
        }),
    );
    let (pbx, caller) = caller.join().unwrap();
    let (pcm, events) = media.finish();
    assert_eq!(
        code,
        0,
        "browser: {out}\n{err}\n--- pbxd:\n{}",
        pbx.log_text()
    );
    eprintln!("browser: {out}");
    assert_eq!(caller.code, 0, "SIPp 1002: {}", caller.all());
    // The browser heard 1 kHz (checked in the page with WebAudio); the SIP side heard 600 Hz.
    assert!(out["toon"]["ratio"].as_f64().unwrap_or(0.0) >= 0.3, "{out}");
    // Per second, the median: a second of hold, digits or a glitch of the loaded machine does not
    // decide it (a clean tone is 0.5).
    let share = tone_share(&pcm, 600.0);
    assert!(
        pcm.len() > 8000 && share > 0.3,
        "600 Hz at the SIP side: {} samples, median share {share:.2}",
        pcm.len()
    );
    assert_eq!(
        digits(&events),
        "123#",
        "RFC 4733 at the SIP side: {events:?}"
    );
    let cdr = last_cdr(&pbx);
    assert_eq!(cdr["notes"], "Klant belde over factuur 42", "{cdr}");
    assert_eq!(cdr["afcodering"], "afgehandeld", "{cdr}");
    assert_eq!(cdr["afloop"], "beantwoord", "{cdr}");
}

/// The agent reloads the page during a call: the call comes back with its audio (the page sends
/// `call:reoffer`, pbxd re-INVITEs the caller's side to the new bridge, SIPp checks sendrecv),
/// and the page hears the caller's 1 kHz again; the SIP side hears the page's 600 Hz after the
/// reload; the caller hangs up.
#[test]
fn chromium_agent_reloads_the_page_during_a_call_and_keeps_it() {
    let (pbx, port, pw2) = setup();
    let media = SipMedia::start();
    let caller = web::sipp_caller(
        &pbx,
        "call_agent_reloads.xml",
        "1002",
        &pw2,
        free_udp_port(),
        "1001",
        media.port,
    );
    let caller = web::call_once_registered(pbx, "1001", caller);
    let (code, out, err) = scenario(
        "reload",
        &json!({
            "base": format!("http://localhost:{port}"),
            "organisatie": "acme",
            "gebruiker": "anna",
            "wachtwoord": PW,
            "hz": 1000,
            "mic_hz": 600,
        }),
    );
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
    assert!(
        out["toon_na"]["ratio"].as_f64().unwrap_or(0.0) >= 0.3,
        "{out}"
    );
    let tail = &pcm[pcm.len().saturating_sub(8000)..];
    let (p, e) = (goertzel(tail, 600.0, 8000), energy(tail));
    assert!(
        tail.len() >= 8000 && p / e > 0.3,
        "600 Hz at the SIP side after the reload: {} samples, {p:.0}/{e:.0}",
        pcm.len()
    );
}

/// The agent dials 1002 (SIPp, A-law only, media at the test) from the dial field: the page
/// hears the SIP side's 1 kHz, the SIP side hears the browser's 600 Hz (pbxd transcodes
/// PCMU↔PCMA), the agent hangs up; the CDR says 1001 → 1002 beantwoord.
#[test]
fn chromium_agent_dials_a_sip_phone_and_both_hear_each_other() {
    let (pbx, port, pw2) = setup();
    let (callee, media) = web::answering_phone(
        &pbx,
        "1002",
        &pw2,
        "uas_1002_pcma_socket.xml",
        Codec::Pcma,
        Duration::from_secs(60),
    );
    let (code, out, err) = scenario(
        "dial",
        &json!({
            "base": format!("http://localhost:{port}"),
            "organisatie": "acme",
            "gebruiker": "anna",
            "wachtwoord": PW,
            "nummer": "1002",
            "hz": 1000,
            "mic_hz": 600,
        }),
    );
    let callee = callee.join().unwrap();
    let (pcm, _) = media.finish();
    assert_eq!(
        code,
        0,
        "browser: {out}\n{err}\n--- pbxd:\n{}",
        pbx.log_text()
    );
    assert_eq!(callee.code, 0, "SIPp 1002: {}", callee.all());
    // Per second, the median: a second of hold, digits or a glitch of the loaded machine does not
    // decide it (a clean tone is 0.5).
    let share = tone_share(&pcm, 600.0);
    assert!(
        pcm.len() > 8000 && share > 0.3,
        "600 Hz at the SIP side: {} samples, median share {share:.2}",
        pcm.len()
    );
    let cdr = last_cdr(&pbx);
    assert_eq!(
        (
            cdr["caller"]["number"].as_str(),
            cdr["callee"]["number"].as_str(),
            cdr["afloop"].as_str()
        ),
        (Some("1001"), Some("1002"), Some("beantwoord")),
        "{cdr}"
    );
}

/// Two browsers: anna (1001) dials bert (1002); each hears the other's microphone tone, over
/// Opus end to end.
#[test]
fn chromium_browser_calls_browser() {
    let (pbx, port, _pw2) = setup();
    pbx.ctl(&["extension", "set", "acme", "1002", "--owner", "bert"])
        .ok();
    let (code, out, err) = scenario(
        "two-browsers",
        &json!({
            "base": format!("http://localhost:{port}"),
            "organisatie": "acme",
            "a": {"gebruiker": "anna", "wachtwoord": PW},
            "b": {"gebruiker": "bert", "wachtwoord": PW},
            "nummer": "1002",
            "hz_a": 600,
            "hz_b": 800,
        }),
    );
    assert_eq!(
        code,
        0,
        "browsers: {out}\n{err}\n--- pbxd:\n{}",
        pbx.log_text()
    );
    assert!(
        out["toon_bij_a"]["ratio"].as_f64().unwrap_or(0.0) >= 0.3,
        "{out}"
    );
    assert!(
        out["toon_bij_b"]["ratio"].as_f64().unwrap_or(0.0) >= 0.3,
        "{out}"
    );
    let cdr = last_cdr(&pbx);
    assert_eq!(cdr["afloop"], "beantwoord", "{cdr}");
    // Opus end to end: the bridges pass it through, no G.711 and no transcoding on the way.
    assert_eq!(cdr["codecs"], json!(["opus"]), "{cdr}");
}

/// Through the page's own paths: the WebSocket refuses a missing or forged session and a
/// foreign Origin; garbage gets `error` events on a socket that stays open; five wrong
/// passwords lock the user.
#[test]
fn chromium_security_garbage_and_lockout() {
    let (pbx, port, _pw2) = setup();
    let base = format!("http://localhost:{port}");
    let (code, out, err) = scenario(
        "ws-security",
        &json!({"base": base, "organisatie": "acme", "gebruiker": "anna", "wachtwoord": PW}),
    );
    assert_eq!(code, 0, "ws-security: {out}\n{err}");
    let (code, out, err) = scenario(
        "malformed",
        &json!({"base": base, "organisatie": "acme", "gebruiker": "anna", "wachtwoord": PW, "binair": true}),
    );
    assert_eq!(
        code,
        0,
        "malformed: {out}\n{err}\n--- pbxd:\n{}",
        pbx.log_text()
    );
    let (code, out, err) = scenario(
        "login-fail",
        &json!({"base": base, "organisatie": "acme", "gebruiker": "bert", "wachtwoord": PW, "pogingen": 5}),
    );
    assert_eq!(code, 0, "login-fail: {out}\n{err}");
    let users = pbx.ctl_json(&["user", "list", "acme"]);
    let bert = users
        .as_array()
        .and_then(|l| l.iter().find(|u| u["username"] == "bert"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(bert["state"], "locked", "{users}");
}

/// Direct doorverbinden from the page: SIPp 1002 calls the agent, the agent answers (and hears
/// 1002's tone), types 1003 and transfers; 1003 (SIPp) answers and hears 1002; the page has no
/// call left. 1002 hangs up later, 1003 gets the BYE.
#[test]
fn chromium_agent_transfers_a_caller_directly() {
    let (pbx, port, pw2) = setup();
    let pw3 = pbx.ctl_json(&["extension", "add", "acme", "1003", "--name", "Kees"])["password"]
        .as_str()
        .unwrap()
        .to_string();
    let (target, target_media) = web::answering_phone(
        &pbx,
        "1003",
        &pw3,
        "uas_1002_pcma_socket.xml",
        Codec::Pcma,
        Duration::from_secs(60),
    );
    let caller_media = SipMedia::start();
    let caller = web::sipp_caller(
        &pbx,
        "call_1001_pcmu_socket_8s.xml",
        "1002",
        &pw2,
        free_udp_port(),
        "1001",
        caller_media.port,
    );
    let caller = web::call_once_registered(pbx, "1001", caller);
    let (code, out, err) = scenario(
        "transfer",
        &json!({
            "base": format!("http://localhost:{port}"),
            "organisatie": "acme",
            "gebruiker": "anna",
            "wachtwoord": PW,
            "doel": "1003",
            "hz": 1000,
            "meet_ms": 1000,
        }),
    );
    let (pbx, caller) = caller.join().unwrap();
    let target = target.join().unwrap();
    let (heard, _) = target_media.finish();
    let _ = caller_media.finish();
    assert_eq!(
        code,
        0,
        "browser: {out}\n{err}\n--- pbxd:\n{}",
        pbx.log_text()
    );
    assert_eq!(caller.code, 0, "1002: {}", caller.all());
    assert_eq!(target.code, 0, "1003: {}", target.all());
    let (p, e) = (goertzel(&heard, 1000.0, 8000), energy(&heard));
    assert!(
        heard.len() > 8000 && p / e > 0.3,
        "1002's 1 kHz at 1003: {} samples, {p:.0}/{e:.0}",
        heard.len()
    );
    let cdr = last_cdr(&pbx);
    assert!(
        cdr["forwarded_to"]
            .as_array()
            .is_some_and(|l| l.iter().any(|n| n == "1003")),
        "{cdr}"
    );
}

/// Doorverbinden met ruggespraak: SIPp 1002 calls the agent; the agent answers, consults 1003
/// (1002 is held: sendonly), talks to 1003, and completes: 1002 and 1003 get re-INVITEs
/// (sendrecv) that point their media at each other's relay, the page has no call left, and
/// 1003 hears 1002's tone (not the browser's any more). 1003 hangs up; 1002 gets the BYE.
#[test]
fn chromium_agent_consults_and_transfers() {
    let (pbx, port, pw2) = setup();
    let pw3 = pbx.ctl_json(&["extension", "add", "acme", "1003", "--name", "Kees"])["password"]
        .as_str()
        .unwrap()
        .to_string();
    let (target, target_media) = web::answering_phone(
        &pbx,
        "1003",
        &pw3,
        "uas_consulted.xml",
        Codec::Pcma,
        Duration::from_secs(60),
    );
    let caller_media = SipMedia::start();
    let caller = web::sipp_caller(
        &pbx,
        "call_to_browser_held.xml",
        "1002",
        &pw2,
        free_udp_port(),
        "1001",
        caller_media.port,
    );
    let caller = web::call_once_registered(pbx, "1001", caller);
    let (code, out, err) = scenario(
        "consult",
        &json!({
            "base": format!("http://localhost:{port}"),
            "organisatie": "acme",
            "gebruiker": "anna",
            "wachtwoord": PW,
            "doel": "1003",
            "hz": 1000,
            "hz_doel": 1000,
            "meet_ms": 1000,
        }),
    );
    let (pbx, caller) = caller.join().unwrap();
    let target = target.join().unwrap();
    let (heard, _) = target_media.finish();
    let _ = caller_media.finish();
    assert_eq!(
        code,
        0,
        "browser: {out}\n{err}\n--- pbxd:\n{}",
        pbx.log_text()
    );
    assert_eq!(caller.code, 0, "1002: {}", caller.all());
    assert_eq!(target.code, 0, "1003: {}", target.all());
    // The last two seconds at 1003: 1002's 1 kHz, not the browser's 600 Hz.
    let tail = &heard[heard.len().saturating_sub(16_000)..];
    let (p1k, p600, e) = (
        goertzel(tail, 1000.0, 8000),
        goertzel(tail, 600.0, 8000),
        energy(tail),
    );
    assert!(
        tail.len() >= 8000 && p1k / e > 0.3 && p600 < p1k / 10.0,
        "1002's tone at 1003 after the transfer: {} samples, 1 kHz {p1k:.0}, 600 Hz {p600:.0}, {e:.0}",
        tail.len()
    );
}
