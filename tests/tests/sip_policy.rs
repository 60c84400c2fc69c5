//! What an organisation may do with calls: its concurrent-call limit (503, a `limit_reached`
//! event and an audit entry) and no calls into another organisation (numbers are looked up in
//! the caller's own organisation only).
#![allow(clippy::unwrap_used)]

use pbx_tests::*;
use std::time::Duration;

fn caller(pbx: &Pbx, scenario: &str, pw: &str, vars: &[&str], auth_uri: &str) -> Run {
    let mut c = sipp_command(pbx, pbx.sip_port, scenario, "1001", pw, free_udp_port());
    c.args(vars).args(["-auth_uri", auth_uri]);
    run_for(&mut c, None, Duration::from_secs(40))
}

/// With `--max-calls 1` a second call while the first is answered gets 503; the event stream
/// says `limit_reached` and the audit log has an entry by pbxd; the first call is unharmed.
#[test]
fn the_call_limit_gives_503_an_event_and_an_audit_entry() {
    let pbx = Pbx::start(Opts {
        extra_toml: "[sip]\ndigest = [\"MD5\"]\n".into(),
        ..Opts::default()
    });
    pbx.ctl(&[
        "tenant",
        "add",
        "acme",
        "--domain",
        "acme.example",
        "--max-calls",
        "1",
        "--max-outside-calls",
        "1",
    ])
    .ok();
    let pw_a = add_extension(&pbx, "acme", "1001");
    let pw_b = add_extension(&pbx, "acme", "1002");
    let port = free_udp_port();
    register_phone(&pbx, "1002", &pw_b, "acme.example", port);
    let mut events = pbx.events();
    let mut uas = sipp_command(&pbx, pbx.sip_port, "uas_1002.xml", "1002", &pw_b, port);
    let uas = std::thread::spawn(move || run_for(&mut uas, None, Duration::from_secs(40)));
    let pbx = std::sync::Arc::new(pbx);
    let p2 = pbx.clone();
    let pw = pw_a.clone();
    let first = std::thread::spawn(move || {
        let vars = ["-set", "domain", "acme.example", "-set", "callee", "1002"];
        caller(&p2, "call_1001.xml", &pw, &vars, "1002@acme.example")
    });
    let mut answered = false;
    for _ in 0..100 {
        let calls = pbx.ctl_json(&["calls"]);
        if calls
            .as_array()
            .is_some_and(|a| a.iter().any(|c| c["state"] == "answered"))
        {
            answered = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(answered, "the first call must be answered");
    let vars = ["-set", "domain", "acme.example", "-set", "callee", "1002"];
    let second = caller(&pbx, "call_limit.xml", &pw_a, &vars, "1002@acme.example");
    assert_eq!(
        second.code,
        0,
        "the second call must get 503: {}",
        second.all()
    );
    let ev = events
        .next_of("limit_reached", Duration::from_secs(5))
        .expect("a limit_reached event");
    assert_eq!(ev["tenant"], "acme", "{ev}");
    assert_eq!(ev["limit"], 1, "{ev}");
    let first = first.join().unwrap();
    assert_eq!(first.code, 0, "the first call goes on: {}", first.all());
    assert_eq!(uas.join().unwrap().code, 0);
    let audit = pbx.ctl_json(&["audit"]);
    let entry = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "call.limit_reached")
        .unwrap_or_else(|| panic!("no audit entry: {audit}"));
    assert_eq!(entry["tenant"], "acme");
    assert_eq!(entry["user"], "pbxd");
}

/// 1001 of acme dials 2001, which exists in globex only (and is registered there): 404, and
/// globex's phone never rings.
#[test]
fn a_call_into_another_organisation_is_refused() {
    let pbx = Pbx::start(Opts {
        extra_toml: "[sip]\ndigest = [\"MD5\"]\n".into(),
        ..Opts::default()
    });
    pbx.ctl(&["tenant", "add", "acme", "--domain", "acme.example"])
        .ok();
    pbx.ctl(&["tenant", "add", "globex", "--domain", "globex.example"])
        .ok();
    let pw_a = add_extension(&pbx, "acme", "1001");
    let pw_g = add_extension(&pbx, "globex", "2001");
    register_phone(&pbx, "2001", &pw_g, "globex.example", free_udp_port());
    let vars = [
        "-set",
        "domain",
        "acme.example",
        "-set",
        "callee",
        "2001",
        "-set",
        "callee_domain",
        "globex.example",
    ];
    let run = caller(
        &pbx,
        "call_other_org.xml",
        &pw_a,
        &vars,
        "2001@globex.example",
    );
    assert_eq!(
        run.code,
        0,
        "1001 must get 404: {}\n{}",
        run.all(),
        pbx.log_text()
    );
    let list = pbx.ctl_json(&["cdr", "list"]);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|c| c["afloop"] != "beantwoord"),
        "{list}"
    );
}
