//! Phones behind NAT, with SIPp: a SIPp "phone" registers as 1002 from its loopback socket
//! with Via and Contact at the private 10.0.0.1:5060 (register_nat.xml). pbxd must answer with
//! `received`/`rport` (RFC 3581), flag the registration as NAT, send its keep-alive OPTIONS to
//! the real source address (uas_options.xml answers them there), route a call from 1001 to
//! that address, and — once the phone stops answering — mark it unreachable so a call gets 480,
//! until it answers again. Nothing is ever sent to 10.0.0.1: pbxd only uses source addresses.
//!
//! SIPp cannot take a request with a new Call-ID inside a client scenario, so the phone
//! registers first and then listens on the registered port in separate runs.
#![allow(clippy::unwrap_used)]

use pbx_tests::*;
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

fn sipp_cmd(pbx: &Pbx, file: &str, user: &str, password: &str, port: u16) -> Command {
    sipp_command(pbx, pbx.sip_port, file, user, password, port)
}

/// pbxd with keep-alives every second, and extensions 1001 and 1002 with their passwords.
fn start() -> (Pbx, String, String) {
    two_extensions("[sip]\ndigest = [\"MD5\", \"SHA-256\"]\nkeepalive_interval = 1\n")
}

/// Registers 1002 "behind NAT" from `port`; checks the Via of both answers.
fn register_nat(pbx: &Pbx, pw: &str, port: u16) {
    let log = pbx.root.join(format!("register_nat_{port}.log"));
    let mut reg = sipp_cmd(pbx, "register_nat.xml", "1002", pw, port);
    reg.args([
        "-set",
        "domain",
        "acme.example",
        "-auth_uri",
        "acme.example",
    ])
    .arg("-trace_logs")
    .arg("-log_file")
    .arg(&log);
    let reg = run_for(&mut reg, None, Duration::from_secs(30));
    assert_eq!(reg.code, 0, "register_nat 1002: {}", reg.all());
    // check_it in the scenario already failed the call without received/rport; the values:
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        text.contains(&format!(
            "via-401 received=127.0.0.1 rport={port} rport={port}"
        )) && text.contains(&format!(
            "via-200 received=127.0.0.1 rport={port} rport={port}"
        )),
        "Via of the answers must carry received=127.0.0.1 and rport={port}:\n{text}"
    );
}

fn registration(pbx: &Pbx, ext: &str) -> Value {
    let regs = pbx.ctl_json(&["registrations", "--tenant", "acme"]);
    regs.as_array()
        .and_then(|a| a.iter().find(|r| r["extension"] == ext))
        .cloned()
        .unwrap_or_else(|| panic!("no registration of {ext}: {regs}"))
}

fn unreachable(r: &Value) -> bool {
    r["unreachable"].as_bool().unwrap_or(false)
}

/// Waits until the registration of `ext` is (un)reachable.
fn wait_reachability(pbx: &Pbx, ext: &str, want_unreachable: bool, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let r = registration(pbx, ext);
        if unreachable(&r) == want_unreachable {
            return r;
        }
        if Instant::now() > deadline {
            panic!(
                "{ext} did not become {} within {within:?}: {r}\n{}",
                if want_unreachable {
                    "unreachable"
                } else {
                    "reachable"
                },
                pbx.log_text()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The phone at `port` waits for one keep-alive and answers it.
fn answer_one_keepalive(pbx: &Pbx, pw: &str, port: u16) {
    let mut opt = sipp_cmd(pbx, "uas_options.xml", "1002", pw, port);
    let opt = run_for(&mut opt, None, Duration::from_secs(30));
    assert_eq!(
        opt.code,
        0,
        "uas_options: {}\n{}",
        opt.all(),
        pbx.log_text()
    );
}

/// 1001 calls 1002 with `scenario`.
fn call_1002(pbx: &Pbx, pw_a: &str, scenario: &str) -> Run {
    let mut client = sipp_cmd(pbx, scenario, "1001", pw_a, free_udp_port());
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

fn cdrs(pbx: &Pbx, n: usize) -> Value {
    for _ in 0..50 {
        let list = pbx.ctl_json(&["cdr", "list"]);
        if list.as_array().is_some_and(|a| a.len() >= n) {
            return list;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    pbx.ctl_json(&["cdr", "list"])
}

#[test]
fn phone_behind_nat_gets_received_rport_keepalives_and_calls_at_its_source() {
    let (pbx, pw_a, pw_b) = start();
    let port = free_udp_port();
    register_nat(&pbx, &pw_b, port);

    // The registration: NAT, reachable, the Contact as written, the real source.
    let r = registration(&pbx, "1002");
    assert_eq!(r["nat"], true, "{r}");
    assert!(!unreachable(&r), "{r}");
    assert_eq!(r["contact"], "sip:1002@10.0.0.1:5060", "{r}");
    assert_eq!(r["source"], format!("udp:127.0.0.1:{port}"), "{r}");
    let table = pbx.ctl(&["registrations"]);
    table.ok();
    assert!(
        table.stdout.contains("NAT") && table.stdout.contains("ja"),
        "{}",
        table.stdout
    );
    // A phone on the open network (register.xml: Via and Contact are its source) is no NAT.
    let mut plain = sipp_cmd(&pbx, "register.xml", "1001", &pw_a, free_udp_port());
    plain.args([
        "-set",
        "domain",
        "acme.example",
        "-auth_uri",
        "acme.example",
    ]);
    let plain = run_for(&mut plain, None, Duration::from_secs(30));
    assert_eq!(plain.code, 0, "register 1001: {}", plain.all());
    let r1001 = registration(&pbx, "1001");
    assert!(
        r1001.get("nat").is_none() && !unreachable(&r1001),
        "{r1001}"
    );

    // pbxd's keep-alive reaches the phone at its source address, Request-URI its Contact.
    answer_one_keepalive(&pbx, &pw_b, port);
    let st = pbx.ctl_json(&["status"]);
    assert!(st["sip"]["keepalives"].as_u64().unwrap_or(0) >= 1, "{st}");

    // A call from 1001 rings the phone at its source address (10.0.0.1 is never tried),
    // while keep-alives keep arriving there.
    let mut phone = sipp_cmd(&pbx, "uas_nat.xml", "1002", &pw_b, port);
    phone.args(["-m", "1000"]);
    let phone = std::thread::spawn(move || run_for(&mut phone, None, Duration::from_secs(40)));
    std::thread::sleep(Duration::from_millis(300));
    wait_reachability(&pbx, "1002", false, Duration::from_secs(10));
    let uac = call_1002(&pbx, &pw_a, "call_1001.xml");
    let phone = phone.join().unwrap();
    assert_eq!(
        uac.code,
        0,
        "uac 1001: {}\nphone: {}\n{}",
        uac.all(),
        phone.all(),
        pbx.log_text()
    );
    assert_eq!(phone.code, 0, "phone 1002: {}", phone.all());
    let list = cdrs(&pbx, 1);
    assert_eq!(list[0]["afloop"], "beantwoord", "{list}");
}

#[test]
fn phone_that_stops_answering_keepalives_is_unreachable_and_gets_no_calls() {
    let (pbx, pw_a, pw_b) = start();
    let mut events = pbx.events();
    let port = free_udp_port();
    register_nat(&pbx, &pw_b, port);
    // Nobody listens at the phone's address any more: three keep-alives (one per second)
    // go unanswered.
    let r = wait_reachability(&pbx, "1002", true, Duration::from_secs(15));
    assert_eq!(r["nat"], true, "{r}");
    let table = pbx.ctl(&["registrations"]);
    assert!(table.stdout.contains("onbereikbaar"), "{}", table.stdout);
    let st = pbx.ctl_json(&["status"]);
    assert!(
        st["sip"]["keepalive_timeouts"].as_u64().unwrap_or(0) >= 3,
        "{st}"
    );

    // A call to it is not attempted: 480 Temporarily Unavailable.
    let uac = call_1002(&pbx, &pw_a, "call_unavailable.xml");
    assert_eq!(uac.code, 0, "uac 1001: {}\n{}", uac.all(), pbx.log_text());
    let list = cdrs(&pbx, 1);
    assert_eq!(list[0]["sip_code"], 480, "{list}");
    assert_eq!(list[0]["afloop"], "geen_antwoord", "{list}");

    // It answers again: reachable.
    answer_one_keepalive(&pbx, &pw_b, port);
    wait_reachability(&pbx, "1002", false, Duration::from_secs(10));

    // The event stream told both changes.
    let mut changes = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let Some(e) = events.next(Duration::from_secs(2)) else {
            continue;
        };
        if e["type"] == "registration" && e["registration"]["extension"] == "1002" {
            changes.push(e["change"].as_str().unwrap_or("").to_string());
            if e["change"] == "reachable" {
                break;
            }
        }
    }
    let pos = |c: &str| changes.iter().position(|x| x == c);
    assert!(
        pos("registered") < pos("unreachable") && pos("unreachable") < pos("reachable"),
        "{changes:?}"
    );
    assert!(pos("registered").is_some(), "{changes:?}");
}

/// TCP/TLS registrations get no OPTIONS: pbxd cannot open connections to phones, so a
/// registration is reachable while its connection is open and unreachable once it closes.
#[test]
fn tcp_registration_is_unreachable_once_its_connection_closes() {
    let tcp = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let pbx = Pbx::start(Opts {
        extra_toml: format!(
            "[sip]\ndigest = [\"MD5\", \"SHA-256\"]\nkeepalive_interval = 1\n\n[[listen]]\ntransport = \"tcp\"\naddress = \"127.0.0.1:{tcp}\"\n"
        ),
        ..Opts::default()
    });
    pbx.ctl(&["tenant", "add", "acme", "--domain", "acme.example"])
        .ok();
    let created = pbx.ctl_json(&["extension", "add", "acme", "1001", "--name", "Jan"]);
    let pw = created["password"].as_str().unwrap().to_string();
    let mut events = pbx.events();
    let mut reg = sipp_command(&pbx, tcp, "register.xml", "1001", &pw, free_udp_port());
    reg.args([
        "-t",
        "t1",
        "-set",
        "domain",
        "acme.example",
        "-auth_uri",
        "acme.example",
    ]);
    let reg = run_for(&mut reg, None, Duration::from_secs(30));
    assert_eq!(reg.code, 0, "register over tcp: {}", reg.all());
    // SIPp has exited, its connection is closed.
    let r = wait_reachability(&pbx, "1001", true, Duration::from_secs(10));
    assert!(
        r["source"]
            .as_str()
            .unwrap_or("")
            .starts_with("tcp:127.0.0.1:"),
        "{r}"
    );
    assert!(r.get("nat").is_none(), "{r}");
    let mut saw = false;
    while let Some(e) = events.next(Duration::from_secs(5)) {
        if e["type"] == "registration" && e["change"] == "unreachable" {
            assert_eq!(e["registration"]["extension"], "1001", "{e}");
            saw = true;
            break;
        }
    }
    assert!(saw, "no unreachable event");
    // No keep-alive ever went to a TCP registration.
    let st = pbx.ctl_json(&["status"]);
    assert_eq!(st["sip"]["keepalives"], 0, "{st}");
}
