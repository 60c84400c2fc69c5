//! Calls through the B2BUA with SIPp: a SIPp UAS registers as 1002 (register.xml, then
//! uas_*.xml on the same address), a SIPp UAC as 1001 calls it with Proxy-Authorization
//! (INVITE → 407 → INVITE). The CDR written when the call ends is checked with pbxctl.
//!
//! SIPp cannot take an INVITE with a new Call-ID inside a client scenario, so the UAS
//! registers first and then listens on the registered address in a second run.
#![allow(clippy::unwrap_used)]

use pbx_tests::*;
use std::process::Command;
use std::time::Duration;

fn sipp_cmd(pbx: &Pbx, file: &str, user: &str, password: &str, port: u16) -> Command {
    sipp_command(pbx, pbx.sip_port, file, user, password, port)
}

fn start() -> (Pbx, String, String) {
    start_with("")
}

fn start_with(extra_toml: &str) -> (Pbx, String, String) {
    two_extensions(&format!(
        "[sip]\ndigest = [\"MD5\", \"SHA-256\"]\n{extra_toml}"
    ))
}

/// Registers 1002 from a fresh port, then runs `uas` there in the background; then 1001 runs
/// `uac`. Gives (uac, uas).
fn call(pbx: &Pbx, pw_a: &str, pw_b: &str, uac: &str, uas: &str) -> (Run, Run) {
    call_with(pbx, pw_a, pw_b, uac, uas, &[])
}

fn call_with(
    pbx: &Pbx,
    pw_a: &str,
    pw_b: &str,
    uac: &str,
    uas: &str,
    uas_extra: &[&str],
) -> (Run, Run) {
    let port = free_udp_port();
    register_phone(pbx, "1002", pw_b, "acme.example", port);
    let mut server = sipp_cmd(pbx, uas, "1002", pw_b, port);
    server.args(uas_extra);
    let server = std::thread::spawn(move || run_for(&mut server, None, Duration::from_secs(40)));
    std::thread::sleep(Duration::from_millis(500));
    let mut client = sipp_cmd(pbx, uac, "1001", pw_a, free_udp_port());
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
    (client, server.join().unwrap())
}

fn cdrs(pbx: &Pbx) -> serde_json::Value {
    // The CDR is flushed when the call ends; give the last BYE a moment.
    for _ in 0..50 {
        let list = pbx.ctl_json(&["cdr", "list"]);
        if list.as_array().is_some_and(|a| !a.is_empty()) {
            return list;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    pbx.ctl_json(&["cdr", "list"])
}

#[test]
fn answered_call_between_two_sipp_phones_writes_a_cdr() {
    let (pbx, pw_a, pw_b) = start();
    let mut events = pbx.events();
    assert_eq!(
        events
            .next(Duration::from_secs(10))
            .map(|e| e["type"].clone()),
        Some("snapshot".into())
    );
    let (uac, uas) = call(&pbx, &pw_a, &pw_b, "call_1001.xml", "uas_1002.xml");
    assert_eq!(
        uac.code,
        0,
        "uac 1001: {}\nuas: {}\n{}",
        uac.all(),
        uas.all(),
        pbx.log_text()
    );
    assert_eq!(
        uas.code,
        0,
        "uas 1002: {}\n{}",
        uas.all(),
        pbx.stderr_text()
    );
    let list = cdrs(&pbx);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    let cdr = &list[0];
    assert_eq!(cdr["afloop"], "beantwoord", "{cdr}");
    assert_eq!(cdr["caller"]["number"], "1001", "{cdr}");
    assert_eq!(cdr["callee"]["number"], "1002", "{cdr}");
    let billsec = (cdr["end_ms"].as_u64().unwrap() - cdr["answer_ms"].as_u64().unwrap()) / 1000;
    assert!(billsec >= 1, "{cdr}");

    // The event stream told the story of the call, in order.
    let mut changes = Vec::new();
    while let Some(e) = events.next(Duration::from_secs(5)) {
        if e["type"] == "call" {
            assert_eq!(e["call"]["caller"]["number"], "1001", "{e}");
            changes.push(e["change"].as_str().unwrap_or("").to_string());
            if e["change"] == "ended" {
                break;
            }
        }
    }
    let pos = |c: &str| changes.iter().position(|x| x == c);
    assert!(
        pos("started").is_some() && pos("answered").is_some() && pos("ended").is_some(),
        "{changes:?}"
    );
    assert!(
        pos("started") < pos("answered") && pos("answered") < pos("ended"),
        "{changes:?}"
    );
}

#[test]
fn busy_callee_gives_486_and_a_bezet_cdr() {
    let (pbx, pw_a, pw_b) = start();
    let (uac, uas) = call(&pbx, &pw_a, &pw_b, "call_busy.xml", "uas_busy.xml");
    assert_eq!(
        uac.code,
        0,
        "uac 1001: {}\nuas: {}\n{}",
        uac.all(),
        uas.all(),
        pbx.log_text()
    );
    assert_eq!(
        uas.code,
        0,
        "uas 1002: {}\n{}",
        uas.all(),
        pbx.stderr_text()
    );
    let list = cdrs(&pbx);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["afloop"], "bezet", "{list}");
    assert_eq!(list[0]["caller"]["number"], "1001", "{list}");
}

/// SIPp's own A-law recording goes from 1001 through the relay to 1002, which echoes it back:
/// both legs of the CDR count packets, and no RTP reaches a phone directly.
#[test]
fn rtp_flows_through_the_relay_both_ways() {
    const PCAP: &str = "/usr/share/sip-tester/g711a.pcap";
    assert!(
        std::path::Path::new(PCAP).exists(),
        "{PCAP} ontbreekt: installeer het Debian-pakket sip-tester (scripts/test.sh doet dat)"
    );
    let (pbx, pw_a, pw_b) = start();
    let (uac, uas) = call_with(
        &pbx,
        &pw_a,
        &pw_b,
        "call_1001_rtp.xml",
        "uas_1002_rtp.xml",
        &["-rtp_echo"],
    );
    assert_eq!(
        uac.code,
        0,
        "uac 1001: {}\nuas: {}\n{}",
        uac.all(),
        uas.all(),
        pbx.log_text()
    );
    assert_eq!(uas.code, 0, "uas 1002: {}", uas.all());
    let list = cdrs(&pbx);
    let cdr = &list[0];
    assert_eq!(cdr["afloop"], "beantwoord", "{cdr}");
    assert_eq!(cdr["codecs"][0], "PCMA", "{cdr}");
    let legs = cdr["legs"].as_array().unwrap();
    let packets = |leg: &str| {
        legs.iter()
            .find(|l| l["leg"] == leg)
            .and_then(|l| l["packets"].as_u64())
            .unwrap_or(0)
    };
    // 2 s of 20 ms packets is about 100; allow for start-up.
    assert!(packets("a") >= 50, "A sent too little: {cdr}");
    assert!(packets("b") >= 50, "B echoed too little: {cdr}");
}

#[test]
fn caller_cancels_while_ringing() {
    let (pbx, pw_a, pw_b) = start();
    let (uac, uas) = call(&pbx, &pw_a, &pw_b, "call_cancel.xml", "uas_cancel.xml");
    assert_eq!(
        uac.code,
        0,
        "uac 1001: {}\nuas: {}\n{}",
        uac.all(),
        uas.all(),
        pbx.log_text()
    );
    assert_eq!(uas.code, 0, "uas 1002: {}", uas.all());
    let list = cdrs(&pbx);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["afloop"], "geannuleerd", "{list}");
    assert_eq!(list[0]["sip_code"], 487, "{list}");
}

#[test]
fn callee_hangs_up_and_pbxd_sends_bye_to_the_caller() {
    let (pbx, pw_a, pw_b) = start();
    let (uac, uas) = call(&pbx, &pw_a, &pw_b, "call_hangup.xml", "uas_hangup.xml");
    assert_eq!(
        uac.code,
        0,
        "uac 1001: {}\nuas: {}\n{}",
        uac.all(),
        uas.all(),
        pbx.log_text()
    );
    assert_eq!(uas.code, 0, "uas 1002: {}", uas.all());
    let list = cdrs(&pbx);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["afloop"], "beantwoord", "{list}");
    assert_eq!(list[0]["hangup_by"], "gebelde", "{list}");
}

/// `pbxctl calls` shows the answered call; `pbxctl call hangup` ends it: both phones get a BYE,
/// the CDR says pbxd (systeem) hung up, and the audit log has the uid.
#[test]
fn pbxctl_lists_and_hangs_up_a_call() {
    let (pbx, pw_a, pw_b) = start();
    let pbx = std::sync::Arc::new(pbx);
    let p2 = pbx.clone();
    let (a, b) = (pw_a.clone(), pw_b.clone());
    let call = std::thread::spawn(move || call(&p2, &a, &b, "call_hangup.xml", "uas_1002.xml"));
    let mut id = None;
    for _ in 0..100 {
        let calls = pbx.ctl_json(&["calls"]);
        if let Some(c) = calls
            .as_array()
            .and_then(|a| a.iter().find(|c| c["state"] == "answered"))
        {
            assert_eq!(c["caller"]["number"], "1001", "{c}");
            assert_eq!(c["callee"]["number"], "1002", "{c}");
            assert_eq!(c["tenant"], "acme");
            id = c["id"].as_str().map(String::from);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let id = id.expect("the answered call shows in pbxctl calls");
    let table = pbx.ctl(&["calls"]);
    table.ok();
    assert!(
        table.stdout.contains("in gesprek") && table.stdout.contains("1002"),
        "{}",
        table.stdout
    );
    pbx.ctl(&["call", "hangup", &id]).ok();
    let (uac, uas) = call.join().unwrap();
    assert_eq!(uac.code, 0, "caller must get the BYE: {}", uac.all());
    assert_eq!(uas.code, 0, "callee must get the BYE: {}", uas.all());
    let list = cdrs(&pbx);
    assert_eq!(list[0]["hangup_by"], "systeem", "{list}");
    assert_eq!(list[0]["afloop"], "beantwoord", "{list}");
    assert_eq!(pbx.ctl_json(&["calls"]).as_array().map(Vec::len), Some(0));
    let audit = pbx.ctl_json(&["audit"]);
    let entry = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "call.hangup")
        .expect("audit entry");
    assert_eq!(entry["uid"].as_u64(), Some(u64::from(my_uid())));
    // An unknown call: 66 and a Dutch message.
    let gone = pbx.ctl(&["call", "hangup", &id]);
    gone.code(66);
    assert!(gone.stderr.contains("bestaat niet"), "{}", gone.stderr);
}

/// 100 calls, started at 50 per second and each lasting 2 s, between two SIPp phones: every
/// one is answered and leaves a CDR, and pbxd carries dozens at once.
#[test]
fn hundred_calls_concurrently() {
    let pbx = Pbx::start(Opts {
        extra_toml: "[sip]\ndigest = [\"MD5\", \"SHA-256\"]\nrate_per_second = 100000\nrate_burst = 100000\n".into(),
        ..Opts::default()
    });
    pbx.ctl(&[
        "tenant",
        "add",
        "acme",
        "--domain",
        "acme.example",
        "--max-calls",
        "200",
        "--max-outside-calls",
        "10",
    ])
    .ok();
    let pw_a = add_extension(&pbx, "acme", "1001");
    let pw_b = add_extension(&pbx, "acme", "1002");
    let port = free_udp_port();
    register_phone(&pbx, "1002", &pw_b, "acme.example", port);
    let mut server = sipp_cmd(&pbx, "uas_1002.xml", "1002", &pw_b, port);
    server.args(["-m", "100"]);
    let server = std::thread::spawn(move || run_for(&mut server, None, Duration::from_secs(60)));
    std::thread::sleep(Duration::from_millis(500));
    let pbx = std::sync::Arc::new(pbx);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (pbx, done) = (pbx.clone(), done.clone());
        std::thread::spawn(move || {
            let mut peak = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let n = pbx
                    .ctl_json(&["calls"])
                    .as_array()
                    .map(Vec::len)
                    .unwrap_or(0);
                peak = peak.max(n);
                std::thread::sleep(Duration::from_millis(200));
            }
            peak
        })
    };
    let mut client = sipp_cmd(&pbx, "call_1001.xml", "1001", &pw_a, free_udp_port());
    client.args([
        "-set",
        "domain",
        "acme.example",
        "-set",
        "callee",
        "1002",
        "-auth_uri",
        "1002@acme.example",
        "-m",
        "100",
        "-l",
        "100",
        "-r",
        "50",
    ]);
    let client = run_for(&mut client, None, Duration::from_secs(60));
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = watcher.join().unwrap();
    let server = server.join().unwrap();
    assert_eq!(client.code, 0, "caller side: {}", client.all());
    assert_eq!(server.code, 0, "callee side: {}", server.all());
    let mut list = pbx.ctl_json(&["cdr", "list"]);
    for _ in 0..50 {
        if list.as_array().map(Vec::len) == Some(100) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        list = pbx.ctl_json(&["cdr", "list"]);
    }
    let cdrs = list.as_array().unwrap();
    assert_eq!(cdrs.len(), 100, "{list}");
    assert!(cdrs.iter().all(|c| c["afloop"] == "beantwoord"), "{list}");
    assert!(peak >= 50, "at most {peak} calls at once were seen");
}

/// Polls `pbxctl calls` until the call is on hold; gives whether it ever was.
fn saw_hold(pbx: &Pbx) -> bool {
    for _ in 0..60 {
        let calls = pbx.ctl_json(&["calls"]);
        if calls
            .as_array()
            .is_some_and(|a| a.iter().any(|c| c["on_hold"] == true))
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Hold and resume: one side sends an offer with a=sendonly and then a=sendrecv (re-INVITE or
/// UPDATE); pbxd relays each to the other side with the relay's address and the direction kept,
/// and the answer back; `pbxctl calls` shows the call on hold meanwhile.
fn hold_and_resume(uac: &'static str, uas: &'static str) {
    let (pbx, pw_a, pw_b) = start();
    let pbx = std::sync::Arc::new(pbx);
    let p2 = pbx.clone();
    let call = std::thread::spawn(move || call(&p2, &pw_a, &pw_b, uac, uas));
    let held = saw_hold(&pbx);
    let (uac, uas) = call.join().unwrap();
    assert_eq!(
        uac.code,
        0,
        "uac 1001: {}\nuas: {}\n{}",
        uac.all(),
        uas.all(),
        pbx.log_text()
    );
    assert_eq!(uas.code, 0, "uas 1002: {}", uas.all());
    assert!(held, "pbxctl calls must show the call on hold");
    let list = cdrs(&pbx);
    assert_eq!(list[0]["afloop"], "beantwoord", "{list}");
    assert_eq!(pbx.ctl_json(&["calls"]).as_array().map(Vec::len), Some(0));
}

#[test]
fn caller_holds_and_resumes_with_reinvite() {
    hold_and_resume("call_hold.xml", "uas_held.xml");
}

#[test]
fn callee_holds_with_update_and_the_caller_gets_update() {
    hold_and_resume("call_held_update.xml", "uas_update_hold.xml");
}

/// The caller did not list UPDATE in its Allow: the callee's UPDATE reaches it as a re-INVITE.
#[test]
fn callee_holds_with_update_and_the_caller_gets_reinvite() {
    hold_and_resume("call_held_invite.xml", "uas_update_hold.xml");
}

/// No RTP from either phone: after `media_timeout` pbxd hangs up both sides itself, so no call
/// outlives its phones; the CDR says pbxd (systeem) ended it.
#[test]
fn a_call_without_media_is_hung_up_after_the_media_timeout() {
    let (pbx, pw_a, pw_b) = start_with("[rtp]\nmedia_timeout = 5\n");
    let started = std::time::Instant::now();
    let (uac, uas) = call(&pbx, &pw_a, &pw_b, "call_hangup.xml", "uas_1002.xml");
    assert_eq!(uac.code, 0, "caller must get the BYE: {}", uac.all());
    assert_eq!(uas.code, 0, "callee must get the BYE: {}", uas.all());
    assert!(started.elapsed() >= Duration::from_secs(5));
    let list = cdrs(&pbx);
    assert_eq!(list[0]["hangup_by"], "systeem", "{list}");
    assert_eq!(list[0]["afloop"], "beantwoord", "{list}");
}

/// Session refreshes without SDP (UPDATE, re-INVITE) are answered by pbxd per leg; the callee
/// (uas_1002.xml: only INVITE, ACK, BYE) sees none of them; a re-INVITE outside any dialog
/// gets 481.
#[test]
fn session_refreshes_are_answered_per_leg() {
    let (pbx, pw_a, pw_b) = start();
    let (uac, uas) = call(&pbx, &pw_a, &pw_b, "call_refresh.xml", "uas_1002.xml");
    assert_eq!(
        uac.code,
        0,
        "uac 1001: {}\nuas: {}\n{}",
        uac.all(),
        uas.all(),
        pbx.log_text()
    );
    assert_eq!(uas.code, 0, "uas 1002: {}", uas.all());
    assert_eq!(cdrs(&pbx)[0]["afloop"], "beantwoord");
}
