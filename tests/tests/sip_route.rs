//! Calls in and out through SIP trunks, with SIPp playing the providers on their own loopback
//! addresses (127.0.0.2 and 127.0.0.3) and the phones on 127.0.0.1:
//!
//! * outbound: the belplan sends `0…` numbers to trunk group [a, b]; a provider answering 503
//!   fails over to the next, which demands digest authentication on the INVITE; 486 from the
//!   called party does not fail over; the CDR names the trunk and every attempt;
//! * permissions: 0900 without the class is refused with 403 after a Dutch announcement (183)
//!   and an audit entry; 112 always goes out, also for a user with only internal calls;
//! * toll fraud: at `max_outside_calls` the next outside call is refused, with an alarm event,
//!   an audit entry and the counters in `pbxctl tenant toll-fraud`;
//! * inbound: a DID from the trunk lands on its extension, a belgroep rings its members in
//!   turn, a keuzemenu answers and connects the key pressed (SIP INFO); an unknown DID gets
//!   404 and is counted; a call from an address that is no trunk's is not taken as inbound.
#![allow(clippy::unwrap_used)]

use pbx_tests::*;
use serde_json::Value;
use std::process::Command;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const SECRET: &str = "Provider-Geheim-1";

struct Org {
    pbx: Pbx,
    pw: Vec<String>,
    /// Trunk ports: a on 127.0.0.2, b on 127.0.0.3 (UDP), c on 127.0.0.4 (TCP).
    pa: u16,
    pb: u16,
    pc: u16,
}

/// A free UDP port on `ip`.
fn free_port_on(ip: &str) -> u16 {
    for _ in 0..100 {
        let p = free_udp_port();
        if std::net::UdpSocket::bind((ip, p)).is_ok() {
            return p;
        }
    }
    panic!("geen vrije poort op {ip}");
}

/// Organisation acme from a tenant file: users jan (nationaal) and piet (intern), extensions
/// 1001 (jan), 1002 (piet), 1003; trunks a (127.0.0.2) and b (127.0.0.3, digest user acme01)
/// with DIDs; belgroep 600 (1002 then 1003, 3 s each, fallback 1001); keuzemenu hoofd (1 →
/// 1002, 2 → belgroep 600); the belplan; `extra` is added to `[tenant]`.
fn org(limits: &str) -> Org {
    let (pa, pb) = (free_port_on("127.0.0.2"), free_port_on("127.0.0.3"));
    let pc = {
        let l = std::net::TcpListener::bind(("127.0.0.4", 0)).unwrap();
        l.local_addr().unwrap().port()
    };
    let tenant = format!(
        r#"
[tenant]
slug = "acme"
name = "Acme BV"
domains = ["acme.example"]

[tenant.limits]
max_calls = 20
{limits}

[[user]]
username = "jan"
name = "Jan"
role = "agent"
permission = ["nationaal"]

[[user]]
username = "piet"
name = "Piet"
role = "agent"
permission = ["intern"]

[[extension]]
number = "1001"
name = "Jan"
owner = "jan"

[[extension]]
number = "1002"
name = "Piet"
owner = "piet"

[[extension]]
number = "1003"
name = "Balie"

[[trunk]]
name = "a"
host = "127.0.0.2"
port = {pa}
allow = ["127.0.0.2"]
dids = ["+31201234567", "+31201234568"]
caller_id = "+31201234500"
priority = 1
max_channels = 4

[[trunk]]
name = "b"
host = "127.0.0.3"
port = {pb}
allow = ["127.0.0.3"]
username = "acme01"
secret_file = "acme-b.secret"
register = false
dids = ["+31201234569"]
priority = 2

[[trunk]]
name = "c"
host = "127.0.0.4"
port = {pc}
transport = "tcp"
allow = ["127.0.0.5"]
dids = ["+31201234570"]
priority = 3

[[ring_group]]
number = "600"
name = "Team"
strategy = "opvolgend"
members = ["1002", "1003"]
timeout_secs = 5
fallback = {{ extension = "1001" }}

[[menu]]
name = "hoofd"
prompt = "menu"
choices = {{ "1" = {{ extension = "1002" }}, "2" = {{ belgroep = "600" }} }}
timeout_secs = 5

[[rule]]
name = "gratis-via-tcp"
match = {{ pattern = "_0800XXXX" }}
action = {{ trunks = ["c"] }}

[[rule]]
name = "betaalnummers"
match = {{ pattern = "_090X." }}
action = {{ trunks = ["a", "b"] }}

[[rule]]
name = "buiten"
match = {{ pattern = "_0[1-9]XXXXXXXX" }}
action = {{ trunks = ["a", "b"] }}

[[rule]]
match = {{ did = "+31201234567" }}
action = {{ extension = "1002" }}

[[rule]]
match = {{ did = "+31201234568" }}
action = {{ belgroep = "600" }}

[[rule]]
match = {{ did = "+31201234570" }}
action = {{ extension = "1002" }}

[[rule]]
match = {{ did = "+31201234569" }}
action = {{ keuzemenu = "hoofd" }}
"#
    );
    let mut pbx = Pbx::prepare(
        Opts {
            extra_toml: "[sip]\ndigest = [\"MD5\"]\n".into(),
            env: std::env::var("PBXD_LOG")
                .map(|v| vec![("PBXD_LOG".to_string(), v)])
                .unwrap_or_default(),
            ..Opts::default()
        }
        .tenant("acme.toml", &tenant),
    );
    let secret = pbx.conf.join("tenants").join("acme-b.secret");
    std::fs::write(&secret, SECRET).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    pbx.spawn();
    pbx.wait_ready();
    let pw = ["1001", "1002", "1003"]
        .iter()
        .map(|n| {
            pbx.ctl_json(&["extension", "reset-password", "acme", n])["password"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    // Both trunks known to the SIP service (read every second).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let st = pbx.ctl_json(&["trunk", "status", "--tenant", "acme"]);
        if st.as_array().is_some_and(|a| a.len() == 3) {
            break;
        }
        assert!(Instant::now() < deadline, "trunks niet bekend: {st}");
        std::thread::sleep(Duration::from_millis(100));
    }
    Org {
        pbx,
        pw,
        pa,
        pb,
        pc,
    }
}

/// 1001 (or `who`) dials `number` with `scenario`.
fn dial(o: &Org, who: usize, number: &str, scenario: &str) -> Run {
    run_for(
        &mut dial_command(o, who, number, scenario),
        None,
        Duration::from_secs(40),
    )
}

/// The SIPp command with which extension `who` dials `number`.
fn dial_command(o: &Org, who: usize, number: &str, scenario: &str) -> Command {
    let ext = ["1001", "1002", "1003"][who];
    let mut c = sipp_command(
        &o.pbx,
        o.pbx.sip_port,
        scenario,
        ext,
        &o.pw[who],
        free_udp_port(),
    );
    c.args([
        "-set",
        "domain",
        "acme.example",
        "-set",
        "callee",
        number,
        "-auth_uri",
        &format!("{number}@acme.example"),
    ]);
    c
}

/// Registers extension `who` and runs `scenario` there in the background.
fn phone(o: &Org, who: usize, scenario: &str) -> JoinHandle<Run> {
    let ext = ["1001", "1002", "1003"][who];
    let port = free_udp_port();
    register_phone(&o.pbx, ext, &o.pw[who], "acme.example", port);
    let mut server = sipp_command(&o.pbx, o.pbx.sip_port, scenario, ext, &o.pw[who], port);
    std::thread::spawn(move || run_for(&mut server, None, Duration::from_secs(40)))
}

/// The provider on 127.0.0.2 calls `did` with `scenario`.
fn provider_calls(o: &Org, ip: &str, scenario: &str, sets: &[(&str, &str)]) -> Run {
    let file = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("sipp")
        .join(scenario);
    let mut c = Command::new("sipp");
    c.current_dir(&o.pbx.root)
        .arg(format!("127.0.0.1:{}", o.pbx.sip_port))
        .arg("-sf")
        .arg(file)
        .args(["-m", "1", "-i", ip, "-p", &free_port_on(ip).to_string()])
        .args(["-mp", &free_media_ports().to_string()])
        .args(["-timeout", "20s", "-timeout_error", "-nostdin"]);
    for (k, v) in sets {
        c.args(["-set", k, v]);
    }
    run_for(&mut c, None, Duration::from_secs(40))
}

fn last_cdr(pbx: &Pbx) -> Value {
    for _ in 0..50 {
        let list = pbx.ctl_json(&["cdr", "list"]);
        if let Some(c) = list.as_array().and_then(|a| a.last()) {
            return c.clone();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("geen CDR");
}

#[test]
fn outbound_fails_over_from_503_to_a_provider_that_demands_digest() {
    let o = org("");
    let a = Provider::start(&o.pbx, "provider_503.xml", "127.0.0.2", o.pa, &[]);
    let b = Provider::start(&o.pbx, "provider_uas_auth.xml", "127.0.0.3", o.pb, &[]);
    std::thread::sleep(Duration::from_millis(300));
    let uac = dial(&o, 0, "0201234567", "call_1001.xml");
    assert_eq!(
        uac.code,
        0,
        "1001: {}\n{}\na: {}\nb: {}",
        uac.all(),
        o.pbx.log_text(),
        a.log(),
        b.log()
    );
    assert_eq!(a.invites().len(), 1, "a: {}", a.log());
    let b_log = b.log();
    assert!(b_log.contains("auth goed"), "b: {b_log}");
    let inv = b.invites();
    assert!(
        inv[0].contains(&format!("ruri=sip:+31201234567@127.0.0.3:{}", o.pb)),
        "{inv:?}"
    );
    // No own number on 1001 and none on trunk b: the provider fills it in; never anonymous.
    assert!(!inv[0].contains("privacy=id"), "{inv:?}");

    let cdr = last_cdr(&o.pbx);
    assert_eq!(cdr["direction"], "uitgaand", "{cdr}");
    assert_eq!(cdr["afloop"], "beantwoord", "{cdr}");
    assert_eq!(cdr["trunk"], "b", "{cdr}");
    assert_eq!(
        cdr["attempts"],
        serde_json::json!([{"trunk": "a", "code": 503}, {"trunk": "b", "code": 200}]),
        "{cdr}"
    );
    // pbxctl cdr shows the trunk and the failover.
    let table = o.pbx.ctl(&["cdr", "list"]).ok().stdout.clone();
    assert!(
        table.contains("a:503") && table.contains("b:200"),
        "{table}"
    );
    let csv = o.pbx.ctl(&["cdr", "export"]).ok().stdout.clone();
    assert!(csv.lines().next().unwrap_or("").contains("trunk"), "{csv}");
    // The secret never shows.
    assert!(!o.pbx.log_text().contains(SECRET));
    let status = o.pbx.ctl_json(&["trunk", "status", "--tenant", "acme"]);
    assert!(!status.to_string().contains(SECRET));
}

#[test]
fn a_busy_called_party_does_not_fail_over_and_the_caller_id_is_the_trunks() {
    let o = org("");
    let a = Provider::start(&o.pbx, "provider_486.xml", "127.0.0.2", o.pa, &[]);
    let b = Provider::start(&o.pbx, "provider_uas.xml", "127.0.0.3", o.pb, &[]);
    std::thread::sleep(Duration::from_millis(300));
    let uac = dial(&o, 0, "0612345678", "call_busy.xml");
    assert_eq!(
        uac.code,
        0,
        "1001 gets 486: {}\n{}",
        uac.all(),
        o.pbx.log_text()
    );
    assert_eq!(a.invites().len(), 1, "a: {}", a.log());
    assert!(
        b.invites().is_empty(),
        "486 must not fail over: {}",
        b.log()
    );
    let cdr = last_cdr(&o.pbx);
    assert_eq!(cdr["sip_code"], 486, "{cdr}");
    assert_eq!(
        cdr["attempts"],
        serde_json::json!([{"trunk": "a", "code": 486}]),
        "{cdr}"
    );

    // Answered on a: From and P-Asserted-Identity carry trunk a's caller ID; with *31* the
    // number is withheld (only asserted, Privacy: id).
    drop(a);
    let a = Provider::start(&o.pbx, "provider_uas.xml", "127.0.0.2", o.pa, &[]);
    std::thread::sleep(Duration::from_millis(300));
    let uac = dial(&o, 0, "0612345678", "call_1001.xml");
    assert_eq!(uac.code, 0, "{}", uac.all());
    let uac = dial(&o, 0, "*31*0612345678", "call_1001.xml");
    assert_eq!(uac.code, 0, "{}", uac.all());
    let inv = a.invites();
    assert_eq!(inv.len(), 2, "{}", a.log());
    assert!(
        inv[0].contains("from=<sip:+31201234500@127.0.0.2"),
        "{inv:?}"
    );
    assert!(
        inv[0].contains("pai=<sip:+31201234500@127.0.0.2"),
        "{inv:?}"
    );
    assert!(inv[1].contains("ruri=sip:+31612345678@"), "{inv:?}");
    assert!(
        inv[1].contains("Anonymous") && inv[1].contains("privacy=id"),
        "{inv:?}"
    );
    assert!(inv[1].contains("pai=<sip:+31201234500@"), "{inv:?}");
}

#[test]
fn premium_numbers_without_permission_get_403_with_an_announcement_and_112_always_goes_out() {
    let o = org("max_outside_calls = 0");
    let a = Provider::start(&o.pbx, "provider_uas.xml", "127.0.0.2", o.pa, &[]);
    std::thread::sleep(Duration::from_millis(300));
    let uac = dial(&o, 0, "09001234567", "call_403.xml");
    assert_eq!(uac.code, 0, "{}\n{}", uac.all(), o.pbx.log_text());
    assert!(a.invites().is_empty(), "{}", a.log());
    let cdr = last_cdr(&o.pbx);
    assert_eq!(cdr["sip_code"], 403, "{cdr}");
    let audit = o.pbx.ctl_json(&["audit", "--tenant", "acme"]);
    assert!(
        audit.to_string().contains("call.refused"),
        "audit entry for the refusal: {audit}"
    );
    let log = o.pbx.log_text();
    assert!(log.contains("gesprek geweigerd"), "{log}");

    // Piet may only call internally and the organisation has no outside channels: 112 still
    // goes out, first, as 112.
    let uac = dial(&o, 1, "112", "call_1001.xml");
    assert_eq!(uac.code, 0, "{}\n{}", uac.all(), o.pbx.log_text());
    let inv = a.invites();
    assert_eq!(inv.len(), 1, "{}", a.log());
    assert!(inv[0].contains("ruri=sip:112@127.0.0.2"), "{inv:?}");
    let cdr = last_cdr(&o.pbx);
    assert_eq!(cdr["afloop"], "beantwoord", "{cdr}");
    assert_eq!(cdr["trunk"], "a", "{cdr}");
}

#[test]
fn the_toll_fraud_guard_blocks_outside_calls_over_the_limit() {
    let o = org("max_outside_calls = 1");
    let _a = Provider::start(&o.pbx, "provider_uas.xml", "127.0.0.2", o.pa, &[]);
    std::thread::sleep(Duration::from_millis(300));
    let mut events = o.pbx.events();
    let first = {
        let mut c = dial_command(&o, 0, "0201234567", "call_1001.xml");
        std::thread::spawn(move || run_for(&mut c, None, Duration::from_secs(40)))
    };
    // While the first is up, the second outside call is blocked.
    std::thread::sleep(Duration::from_millis(1000));
    let second = dial(&o, 0, "0201234568", "call_403.xml");
    assert_eq!(second.code, 0, "{}\n{}", second.all(), o.pbx.log_text());
    let first = first.join().unwrap();
    assert_eq!(first.code, 0, "{}", first.all());
    let ev = events
        .next_of("toll_fraud", Duration::from_secs(5))
        .expect("toll_fraud event");
    assert_eq!(ev["limit"], "max_outside_calls", "{ev}");
    assert_eq!(ev["max"], 1, "{ev}");
    let audit = o.pbx.ctl_json(&["audit", "--tenant", "acme"]);
    assert!(audit.to_string().contains("call.toll_fraud"), "{audit}");
    let counters = o.pbx.ctl_json(&["tenant", "toll-fraud", "acme"]);
    assert_eq!(counters[0]["tenant"], "acme", "{counters}");
    assert_eq!(counters[0]["max_outside_calls"], 1, "{counters}");
    assert_eq!(counters[0]["blocked"]["max_outside_calls"], 1, "{counters}");
    let table = o
        .pbx
        .ctl(&["tenant", "toll-fraud", "acme"])
        .ok()
        .stdout
        .clone();
    assert!(table.contains("acme"), "{table}");
}

#[test]
fn inbound_dids_reach_their_extension_and_unknown_ones_get_404() {
    let o = org("");
    let callee = phone(&o, 1, "uas_1002.xml");
    std::thread::sleep(Duration::from_millis(300));
    let call = provider_calls(
        &o,
        "127.0.0.2",
        "provider_call.xml",
        &[("did", "+31201234567")],
    );
    assert_eq!(call.code, 0, "{}\n{}", call.all(), o.pbx.log_text());
    let uas = callee.join().unwrap();
    assert_eq!(uas.code, 0, "1002: {}", uas.all());
    let cdr = last_cdr(&o.pbx);
    assert_eq!(cdr["direction"], "inkomend", "{cdr}");
    assert_eq!(cdr["trunk"], "a", "{cdr}");
    assert_eq!(cdr["caller"]["number"], "+31612345678", "{cdr}");
    assert_eq!(cdr["callee"]["number"], "+31201234567", "{cdr}");
    assert_eq!(cdr["afloop"], "beantwoord", "{cdr}");

    // A DID in national form in the Request-URI is the same number.
    let call = provider_calls(
        &o,
        "127.0.0.2",
        "provider_call_404.xml",
        &[("did", "0201239999")],
    );
    assert_eq!(call.code, 0, "{}", call.all());
    let status = o.pbx.ctl_json(&["status"]);
    assert_eq!(status["sip"]["unknown_did"], 1, "{status}");
    // An address that is no trunk's cannot call in on a DID.
    let call = provider_calls(
        &o,
        "127.0.0.9",
        "provider_call_404.xml",
        &[("did", "+31201234567")],
    );
    assert_eq!(call.code, 0, "{}", call.all());
}

#[test]
fn an_inbound_belgroep_rings_its_members_in_turn() {
    let o = org("");
    let busy = phone(&o, 1, "uas_busy.xml");
    let answers = phone(&o, 2, "uas_1002.xml");
    std::thread::sleep(Duration::from_millis(300));
    let call = provider_calls(
        &o,
        "127.0.0.2",
        "provider_call.xml",
        &[("did", "+31201234568")],
    );
    assert_eq!(call.code, 0, "{}\n{}", call.all(), o.pbx.log_text());
    assert_eq!(busy.join().unwrap().code, 0);
    assert_eq!(answers.join().unwrap().code, 0);
    let cdr = last_cdr(&o.pbx);
    assert_eq!(cdr["afloop"], "beantwoord", "{cdr}");
    assert_eq!(cdr["callee"]["number"], "+31201234568", "{cdr}");
}

#[test]
fn a_keuzemenu_answers_and_connects_the_key_pressed() {
    let o = org("");
    let callee = phone(&o, 1, "uas_1002.xml");
    std::thread::sleep(Duration::from_millis(300));
    let call = provider_calls(
        &o,
        "127.0.0.3",
        "provider_call_menu.xml",
        &[("did", "+31201234569"), ("key", "1")],
    );
    assert_eq!(call.code, 0, "{}\n{}", call.all(), o.pbx.log_text());
    let uas = callee.join().unwrap();
    assert_eq!(uas.code, 0, "1002 rang after key 1: {}", uas.all());
    let cdr = last_cdr(&o.pbx);
    assert_eq!(cdr["direction"], "inkomend", "{cdr}");
    assert_eq!(cdr["trunk"], "b", "{cdr}");
    assert_eq!(cdr["afloop"], "beantwoord", "{cdr}");
    assert!(
        o.pbx.log_text().contains("keuzemenu"),
        "{}",
        o.pbx.log_text()
    );
}

#[test]
fn a_keuzemenu_takes_rfc4733_keys_from_the_media() {
    let o = org("");
    let callee = phone(&o, 1, "uas_1002.xml");
    std::thread::sleep(Duration::from_millis(300));
    let call = provider_calls(
        &o,
        "127.0.0.3",
        "provider_call_menu_rtp.xml",
        &[("did", "+31201234569")],
    );
    assert_eq!(call.code, 0, "{}\n{}", call.all(), o.pbx.log_text());
    let uas = callee.join().unwrap();
    assert_eq!(uas.code, 0, "1002 rang after RTP key 1: {}", uas.all());
    let log = o.pbx.log_text();
    assert!(log.contains("keuze=extensie 1002"), "{log}");
}

#[test]
fn forwarding_to_an_outside_number_goes_through_the_owners_permission() {
    let o = org("");
    let a = Provider::start(&o.pbx, "provider_uas.xml", "127.0.0.2", o.pa, &[]);
    // 1002 belongs to piet, who may only call internally: its forward outside is refused.
    o.pbx
        .ctl(&[
            "extension",
            "set",
            "acme",
            "1002",
            "--forward-always",
            "0612345678",
        ])
        .ok();
    let uac = dial(&o, 0, "1002", "call_403.xml");
    assert_eq!(uac.code, 0, "{}\n{}", uac.all(), o.pbx.log_text());
    assert!(a.invites().is_empty(), "{}", a.log());
    // 1003 has no owner (nationaal): its forward goes out over trunk a.
    o.pbx
        .ctl(&[
            "extension",
            "set",
            "acme",
            "1003",
            "--forward-always",
            "0612345678",
        ])
        .ok();
    let uac = dial(&o, 0, "1003", "call_1001.xml");
    assert_eq!(uac.code, 0, "{}\n{}", uac.all(), o.pbx.log_text());
    let inv = a.invites();
    assert_eq!(inv.len(), 1, "{}", a.log());
    assert!(
        inv[0].contains("ruri=sip:+31612345678@127.0.0.2"),
        "{inv:?}"
    );
    let cdr = last_cdr(&o.pbx);
    assert_eq!(
        cdr["forwarded_to"],
        serde_json::json!(["0612345678"]),
        "{cdr}"
    );
    assert_eq!(cdr["trunk"], "a", "{cdr}");
}

#[test]
fn a_tcp_trunk_carries_calls_out_and_an_allow_listed_address_calls_in() {
    let o = org("");
    let c = Provider::start_over(&o.pbx, "provider_uas.xml", "127.0.0.4", o.pc, &[], true);
    // Gratis numbers go out over trunk c, over TCP.
    let uac = dial(&o, 0, "08001234", "call_1001.xml");
    assert_eq!(
        uac.code,
        0,
        "{}\n{}\nc: {}",
        uac.all(),
        o.pbx.log_text(),
        c.log()
    );
    let inv = c.invites();
    assert_eq!(inv.len(), 1, "{}", c.log());
    assert!(inv[0].contains("ruri=sip:+318001234@127.0.0.4"), "{inv:?}");
    assert!(
        inv[0].to_ascii_lowercase().contains(";transport=tcp"),
        "{inv:?}"
    );
    let cdr = last_cdr(&o.pbx);
    assert_eq!(cdr["trunk"], "c", "{cdr}");
    assert_eq!(cdr["afloop"], "beantwoord", "{cdr}");
    // Trunk c is IP-authenticated for 127.0.0.5: a call from there is inbound on c.
    let callee = phone(&o, 1, "uas_1002.xml");
    std::thread::sleep(Duration::from_millis(300));
    let call = provider_calls(
        &o,
        "127.0.0.5",
        "provider_call.xml",
        &[("did", "+31201234570")],
    );
    assert_eq!(call.code, 0, "{}\n{}", call.all(), o.pbx.log_text());
    assert_eq!(callee.join().unwrap().code, 0);
    let cdr = last_cdr(&o.pbx);
    assert_eq!(cdr["direction"], "inkomend", "{cdr}");
    assert_eq!(cdr["trunk"], "c", "{cdr}");
    let status = o.pbx.ctl_json(&["trunk", "status", "--tenant", "acme"]);
    let c_status = status
        .as_array()
        .and_then(|a| a.iter().find(|t| t["name"] == "c"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        c_status["active_calls"], 0,
        "channels given back: {c_status}"
    );
    assert_eq!(c_status["max_channels"], 10, "{c_status}");
}
