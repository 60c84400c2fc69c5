//! Call forwarding of an extension (always, busy, no answer) and loop detection, with SIPp
//! phones: 1001 calls 1002; 1002 and 1003 are SIPp UASes that registered first. The CDR names
//! the party dialled and the forward targets.
#![allow(clippy::unwrap_used)]

use pbx_tests::*;
use std::thread::JoinHandle;
use std::time::Duration;

fn start() -> (Pbx, Vec<String>) {
    let pbx = Pbx::start(Opts {
        extra_toml: "[sip]\ndigest = [\"MD5\"]\n".into(),
        ..Opts::default()
    });
    pbx.ctl(&["tenant", "add", "acme", "--domain", "acme.example"])
        .ok();
    let pws = ["1001", "1002", "1003"]
        .iter()
        .map(|n| add_extension(&pbx, "acme", n))
        .collect();
    (pbx, pws)
}

/// Registers `ext` from a fresh port, then runs `scenario` there in the background.
fn phone(pbx: &Pbx, ext: &str, pw: &str, scenario: &str) -> JoinHandle<Run> {
    let port = free_udp_port();
    register_phone(pbx, ext, pw, "acme.example", port);
    let mut server = sipp_command(pbx, pbx.sip_port, scenario, ext, pw, port);
    std::thread::spawn(move || run_for(&mut server, None, Duration::from_secs(40)))
}

/// 1001 runs `scenario` towards 1002.
fn dial(pbx: &Pbx, pw: &str, scenario: &str) -> Run {
    std::thread::sleep(Duration::from_millis(300));
    let mut client = sipp_command(pbx, pbx.sip_port, scenario, "1001", pw, free_udp_port());
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
    run_for(&mut client, None, Duration::from_secs(40))
}

fn last_cdr(pbx: &Pbx) -> serde_json::Value {
    for _ in 0..50 {
        let list = pbx.ctl_json(&["cdr", "list"]);
        if let Some(c) = list.as_array().and_then(|a| a.first()) {
            return c.clone();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("geen CDR");
}

fn forward(pbx: &Pbx, ext: &str, args: &[&str]) {
    let mut all = vec!["extension", "set", "acme", ext];
    all.extend_from_slice(args);
    pbx.ctl(&all).ok();
}

#[test]
fn forward_always_rings_the_target_only() {
    let (pbx, pw) = start();
    forward(&pbx, "1002", &["--forward-always", "1003"]);
    let target = phone(&pbx, "1003", &pw[2], "uas_1002.xml");
    let uac = dial(&pbx, &pw[0], "call_1001.xml");
    let uas = target.join().unwrap();
    assert_eq!(uac.code, 0, "1001: {}\n{}", uac.all(), pbx.log_text());
    assert_eq!(uas.code, 0, "1003: {}", uas.all());
    let cdr = last_cdr(&pbx);
    assert_eq!(cdr["afloop"], "beantwoord", "{cdr}");
    assert_eq!(cdr["callee"]["number"], "1002", "{cdr}");
    assert_eq!(cdr["forwarded_to"], serde_json::json!(["1003"]), "{cdr}");
}

#[test]
fn forward_on_busy() {
    let (pbx, pw) = start();
    forward(&pbx, "1002", &["--forward-busy", "1003"]);
    let busy = phone(&pbx, "1002", &pw[1], "uas_busy.xml");
    let target = phone(&pbx, "1003", &pw[2], "uas_1002.xml");
    let uac = dial(&pbx, &pw[0], "call_1001.xml");
    assert_eq!(uac.code, 0, "1001: {}\n{}", uac.all(), pbx.log_text());
    assert_eq!(busy.join().unwrap().code, 0, "1002 was busy");
    assert_eq!(target.join().unwrap().code, 0, "1003 answered");
    let cdr = last_cdr(&pbx);
    assert_eq!(cdr["afloop"], "beantwoord", "{cdr}");
    assert_eq!(cdr["forwarded_to"], serde_json::json!(["1003"]), "{cdr}");
}

/// 1002 rings for its no-answer time (5 s) and gets a CANCEL; then 1003 rings and answers.
#[test]
fn forward_on_no_answer_cancels_the_first_phone() {
    let (pbx, pw) = start();
    forward(
        &pbx,
        "1002",
        &["--forward-no-answer", "1003", "--no-answer-secs", "5"],
    );
    let ringing = phone(&pbx, "1002", &pw[1], "uas_cancel.xml");
    let target = phone(&pbx, "1003", &pw[2], "uas_1002.xml");
    let started = std::time::Instant::now();
    let uac = dial(&pbx, &pw[0], "call_1001.xml");
    assert_eq!(uac.code, 0, "1001: {}\n{}", uac.all(), pbx.log_text());
    let r = ringing.join().unwrap();
    assert_eq!(r.code, 0, "1002 must get the CANCEL: {}", r.all());
    assert_eq!(target.join().unwrap().code, 0, "1003 answered");
    assert!(started.elapsed() >= Duration::from_secs(5));
    let cdr = last_cdr(&pbx);
    assert_eq!(cdr["afloop"], "beantwoord", "{cdr}");
    assert_eq!(cdr["forwarded_to"], serde_json::json!(["1003"]), "{cdr}");
}

/// 1002 → 1003 → 1002: a loop; the caller gets 482 and nobody rings.
#[test]
fn a_forwarding_loop_is_refused() {
    let (pbx, pw) = start();
    forward(&pbx, "1002", &["--forward-always", "1003"]);
    forward(&pbx, "1003", &["--forward-always", "1002"]);
    let uac = dial(&pbx, &pw[0], "call_loop.xml");
    assert_eq!(
        uac.code,
        0,
        "1001 must get 482: {}\n{}",
        uac.all(),
        pbx.log_text()
    );
    let cdr = last_cdr(&pbx);
    assert_eq!(cdr["sip_code"], 482, "{cdr}");
    assert_eq!(cdr["afloop"], "mislukt", "{cdr}");
}
