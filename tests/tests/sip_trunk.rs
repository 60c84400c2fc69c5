//! pbxd registering to a SIP provider, with SIPp as the provider's registrar
//! (tests/sipp/provider_*.xml):
//!
//! * a provider that challenges with MD5 digest and grants 5 s: pbxd answers the challenge
//!   (SIPp checks the Authorization with `verifyauth`), shows `geregistreerd` with the expiry in
//!   `pbxctl trunk status --json`, refreshes before it runs out, answers the OPTIONS keep-alive
//!   with an RTT, and never logs the secret;
//! * a provider that answers 403: `mislukt` with reason and code, attempts further and further
//!   apart (backoff), and recovery once a working provider answers on the same address.
#![allow(clippy::unwrap_used)]

use pbx_tests::*;
use serde_json::Value;
use std::time::{Duration, Instant};

const SECRET: &[u8] = b"Provider-Geheim-1\n";

fn start() -> Pbx {
    let pbx = Pbx::start(Opts::default());
    pbx.ctl(&["tenant", "add", "acme", "--domain", "acme.example"])
        .ok();
    pbx
}

fn add_trunk(pbx: &Pbx, port: u16) {
    pbx.ctl_in(
        &[
            "trunk",
            "add",
            "acme",
            "provider",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--username",
            "acme01",
            "--secret-stdin",
            "--register",
            "true",
            "--max-channels",
            "4",
        ],
        SECRET,
    )
    .ok();
}

fn status(pbx: &Pbx) -> Value {
    let v = pbx.ctl_json(&["trunk", "status", "--tenant", "acme"]);
    v.as_array()
        .and_then(|a| a.iter().find(|t| t["name"] == "provider"))
        .cloned()
        .unwrap_or(Value::Null)
}

fn wait_for(pbx: &Pbx, within: Duration, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let s = status(pbx);
        if pred(&s) {
            return s;
        }
        if Instant::now() > deadline {
            panic!("{what} not within {within:?}: {s}\n{}", pbx.log_text());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn registers_with_digest_refreshes_and_measures_rtt() {
    let pbx = start();
    let port = free_udp_port();
    let provider = Provider::start(&pbx, "provider_register.xml", "127.0.0.1", port, &[]);
    std::thread::sleep(Duration::from_millis(300));
    add_trunk(&pbx, port);
    let s = wait_for(&pbx, Duration::from_secs(10), "geregistreerd", |s| {
        s["state"] == "geregistreerd"
    });
    let until = s["registered_until_ms"].as_u64().unwrap();
    let now = now_ms();
    assert!(
        until > now && until <= now + 5_500,
        "expiry of 5 s expected: {s}"
    );
    assert_eq!(s["max_channels"], 4);
    assert_eq!(s["active_calls"], 0);
    // The refresh (at 4.5 s) gives a later expiry, again after a challenge.
    let s2 = wait_for(&pbx, Duration::from_secs(10), "refresh", |s| {
        s["registered_until_ms"].as_u64().unwrap_or(0) > until
    });
    assert_eq!(s2["state"], "geregistreerd");
    let log = provider.log();
    assert!(
        log.matches("auth goed").count() >= 2 && !log.contains("auth fout"),
        "two verified REGISTERs expected:\n{log}"
    );
    // OPTIONS answered: up with an RTT.
    let s3 = wait_for(&pbx, Duration::from_secs(10), "OPTIONS", |s| {
        s["up"] == true && s["rtt_ms"].is_u64()
    });
    assert!(s3["rtt_ms"].as_u64().unwrap() < 1000, "{s3}");
    // The table, in Dutch.
    let table = pbx.ctl(&["trunk", "status"]).ok().stdout.clone();
    assert!(
        table.contains("REGISTRATIE")
            && table.contains("geregistreerd")
            && table.contains("bereikbaar"),
        "{table}"
    );
    assert!(table.contains("0/4"), "{table}");
    // The secret is nowhere: not in the status, not in the log.
    let json = pbx.ctl(&["trunk", "status", "--json"]).ok().stdout.clone();
    assert!(!json.contains("Provider-Geheim-1"));
    assert!(!pbx.log_text().contains("Provider-Geheim-1"));
    assert!(pbx.log_text().contains("trunk geregistreerd"));
    // Disabling un-REGISTERs (expires 0) and shows uitgeschakeld.
    pbx.ctl(&["trunk", "set", "acme", "provider", "--enabled", "false"])
        .ok();
    wait_for(&pbx, Duration::from_secs(5), "uitgeschakeld", |s| {
        s["state"] == "uitgeschakeld"
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while !provider.log().contains("expires=0") {
        assert!(
            Instant::now() < deadline,
            "no un-REGISTER (expires 0) after disabling:\n{}",
            provider.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn refused_registration_backs_off_and_recovers() {
    let pbx = start();
    let port = free_udp_port();
    let refusing = Provider::start(&pbx, "provider_403.xml", "127.0.0.1", port, &[]);
    std::thread::sleep(Duration::from_millis(300));
    let mut events = pbx.events();
    add_trunk(&pbx, port);
    let s = wait_for(&pbx, Duration::from_secs(10), "mislukt", |s| {
        s["state"] == "mislukt"
    });
    assert_eq!(s["reason"], "geweigerd");
    assert_eq!(s["code"], 403);
    assert!(s["retry_ms"].is_u64(), "{s}");
    // Two failures; the second wait is longer than the first.
    let s = wait_for(&pbx, Duration::from_secs(15), "second failure", |s| {
        s["history"]
            .as_array()
            .map(|h| h.iter().filter(|e| e["change"] == "bezig").count() >= 2)
            .unwrap_or(false)
            && s["state"] == "mislukt"
    });
    let attempts: Vec<u64> = s["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["change"] == "bezig")
        .map(|e| e["at_ms"].as_u64().unwrap())
        .collect();
    let fails: Vec<u64> = s["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["change"] == "mislukt")
        .map(|e| e["at_ms"].as_u64().unwrap())
        .collect();
    let first_wait = attempts[1] - fails[0];
    let second_wait = s["retry_ms"].as_u64().unwrap() - fails[1];
    assert!(
        (3_900..=5_100).contains(&first_wait),
        "first backoff ~5 s: {first_wait} ms {s}"
    );
    assert!(
        second_wait > first_wait && second_wait >= 7_900,
        "second backoff longer: {second_wait} ms {s}"
    );
    let table = pbx.ctl(&["trunk", "status"]).ok().stdout.clone();
    assert!(
        table.contains("mislukt") && table.contains("geweigerd door de provider (403)"),
        "{table}"
    );
    assert!(pbx.log_text().contains("trunk: registratie mislukt"));
    // A working provider on the same address: the next attempt (after the backoff) succeeds.
    drop(refusing);
    let working = Provider::start(&pbx, "provider_register.xml", "127.0.0.1", port, &[]);
    let s = wait_for(&pbx, Duration::from_secs(15), "recovery", |s| {
        s["state"] == "geregistreerd"
    });
    assert!(s["reason"].is_null(), "{s}");
    assert!(working.log().contains("auth goed"));
    // The changes were on the event stream too.
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && !seen.contains(&"geregistreerd".to_string()) {
        if let Some(ev) = events.next(Duration::from_secs(1)) {
            if ev["type"] == "trunk" || ev.get("trunk").is_some() {
                let c = ev["change"]["change"]
                    .as_str()
                    .or_else(|| ev["trunk"]["change"]["change"].as_str())
                    .unwrap_or("")
                    .to_string();
                seen.push(c);
            }
        }
    }
    assert!(
        seen.contains(&"mislukt".to_string()) && seen.contains(&"geregistreerd".to_string()),
        "trunk events: {seen:?}"
    );
    // pbxd stops: an un-REGISTER (expires 0) goes to the provider.
    let mut pbx = pbx;
    pbx.sigterm();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !working.log().contains("expires=0") {
        assert!(
            Instant::now() < deadline,
            "no un-REGISTER when pbxd stopped:\n{}",
            working.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
