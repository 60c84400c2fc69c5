//! Alarms end to end: a call with 10 % loss on one side (the impairing socket of
//! `quality.rs`) ends with an average MOS under the rule's threshold; the `lage_mos` alarm of
//! the organisation fires and resolves once its window has passed. Every sink gets it: the
//! webhook receiver of this test (which answers 503 once, so pbxd retries), an SMTP sink of this
//! test (plain SMTP on loopback), a command that writes the notice to a file, the control API's
//! event stream, and `pbxctl alarm list|ack|silence`. `pbxd restarted` fires at the start.
//! A wachtrij with a caller who gives up: its live state (`GET /v1/queue-status`, `pbxctl queue
//! status`, `/metrics`) and the queue alarms (`wachtrij_wachtend`, `wachtrij_verloren`) per queue.
#![allow(clippy::unwrap_used)]

use pbx_tests::*;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Bodies POSTed to the webhook receiver; the first request gets 503.
fn webhook_receiver() -> (u16, Arc<Mutex<Vec<Value>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let g = got.clone();
    std::thread::spawn(move || {
        let mut first = true;
        for s in l.incoming().flatten() {
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut r = BufReader::new(s);
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0u8; len];
            let _ = r.read_exact(&mut body);
            if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                g.lock().unwrap().push(v);
            }
            let status = if first {
                "503 Service Unavailable"
            } else {
                "200 OK"
            };
            first = false;
            let _ = r.get_mut().write_all(
                format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            );
        }
    });
    (port, got)
}

/// A minimal SMTP sink: the DATA of every message.
fn smtp_sink() -> (u16, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let got: Arc<Mutex<Vec<String>>> = Arc::default();
    let g = got.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut w = s.try_clone().unwrap();
            let mut r = BufReader::new(s);
            let _ = w.write_all(b"220 smtp.test ESMTP\r\n");
            let mut data: Option<String> = None;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if let Some(d) = data.as_mut() {
                    if line == ".\r\n" {
                        g.lock().unwrap().push(std::mem::take(d));
                        data = None;
                        let _ = w.write_all(b"250 OK\r\n");
                    } else {
                        d.push_str(&line);
                    }
                    continue;
                }
                let cmd = line.to_ascii_uppercase();
                let reply: &[u8] = if cmd.starts_with("EHLO") {
                    b"250-smtp.test\r\n250 8BITMIME\r\n"
                } else if cmd.starts_with("DATA") {
                    data = Some(String::new());
                    b"354 go\r\n"
                } else if cmd.starts_with("QUIT") {
                    let _ = w.write_all(b"221 bye\r\n");
                    break;
                } else {
                    b"250 OK\r\n"
                };
                let _ = w.write_all(reply);
            }
        }
    });
    (port, got)
}

fn wait_for<T>(within: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what} not within {within:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_low_mos_alarm_fires_reaches_every_sink_and_resolves() {
    let (hook_port, hooks) = webhook_receiver();
    let (smtp_port, mails) = smtp_sink();
    let mut pbx = Pbx::prepare(Opts {
        extra_toml: "[sip]\ndigest = [\"MD5\"]\n".into(),
        ..Opts::default()
    });
    let cmd_out = pbx.root.join("alarm-commando.json");
    let script = pbx.root.join("alarm.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncat >> '{}'\necho >> '{}'\n",
            cmd_out.display(),
            cmd_out.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        pbx.conf.join("alarms.toml"),
        format!(
            r#"
[[alarm]]
naam = "lage_mos"
metriek = "mos"
voorwaarde = "onder"
drempel = 4.0
venster_s = 8
ernst = "waarschuwing"
bereik = "organisatie"
herhaal_s = 0

[[alarm]]
naam = "herstart"
metriek = "herstart"
voorwaarde = "boven"
drempel = 0
venster_s = 600
ernst = "info"

[[melding]]
soort = "webhook"
url = "http://127.0.0.1:{hook_port}/pbx"
pogingen = 3
ernst_vanaf = "waarschuwing"

[[melding]]
soort = "email"
server = "127.0.0.1:{smtp_port}"
tls = "geen"
van = "pbx@acme.example"
aan = ["noc@acme.example"]
ernst_vanaf = "waarschuwing"

[[melding]]
soort = "commando"
commando = ["{}"]
"#,
            script.display()
        ),
    )
    .unwrap();
    pbx.spawn();
    pbx.wait_ready();
    pbx.ctl(&["tenant", "add", "acme", "--domain", "acme.example"])
        .ok();
    let pw1 = add_extension(&pbx, "acme", "1001");
    let pw2 = add_extension(&pbx, "acme", "1002");
    let mut events = pbx.events();

    // pbxd started: the herstart alarm (info) fires; it goes to the command, not the webhook.
    let list = wait_for(Duration::from_secs(5), "herstart alarm", || {
        let l = pbx.ctl_json(&["alarm", "list"]);
        l.as_array()
            .filter(|a| {
                a.iter()
                    .any(|x| x["rule"] == "herstart" && x["state"] == "firing")
            })
            .map(|_| l.clone())
    });
    assert_eq!(list[0]["severity"], "info", "{list}");

    // A call with 10 % loss on 1001's side.
    let (sock, mport) = bind_udp();
    let stop = Arc::new(AtomicBool::new(false));
    let echo = impairing_relay(
        sock,
        stop.clone(),
        Impair {
            echo: true,
            drop_every: 10,
            delay_every: 0,
            delay: Duration::ZERO,
        },
    );
    let (client, server) = media_call(&pbx, &(pw1, pw2), "call_1001_pcmu_socket.xml", mport)
        .join()
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    echo.join().unwrap();
    assert_eq!(client.code, 0, "{}\n{}", client.all(), pbx.log_text());
    assert_eq!(server.code, 0, "{}", server.all());

    // Fires: event, list, webhook (after one retry), e-mail, command.
    let ev = wait_for(Duration::from_secs(5), "alarm event", || {
        let e = events.next_of("alarm", Duration::from_millis(500))?;
        (e["alarm"]["rule"] == "lage_mos").then_some(e)
    });
    assert_eq!(ev["change"], "firing", "{ev}");
    assert_eq!(ev["alarm"]["id"], "lage_mos:acme", "{ev}");
    assert!(ev["alarm"]["value"].as_f64().unwrap() < 4.0, "{ev}");
    let posted = wait_for(Duration::from_secs(8), "webhook", || {
        let h = hooks.lock().unwrap().clone();
        (h.iter().filter(|b| b["rule"] == "lage_mos").count() >= 2).then_some(h)
    });
    assert_eq!(posted[0]["change"], "firing", "{posted:?}");
    assert_eq!(posted[0], posted[1], "the retry posts the same notice");
    assert!(
        posted.iter().all(|b| b["rule"] != "herstart"),
        "info is below ernst_vanaf"
    );
    let mail = wait_for(Duration::from_secs(5), "e-mail", || {
        mails.lock().unwrap().first().cloned()
    });
    assert!(mail.contains("lage_mos"), "{mail}");
    assert!(mail.contains("noc@acme.example"), "{mail}");
    let cmd = wait_for(Duration::from_secs(5), "command", || {
        std::fs::read_to_string(&cmd_out)
            .ok()
            .filter(|t| t.contains("lage_mos"))
    });
    assert!(cmd.contains("herstart"), "info goes to the command: {cmd}");

    // Acknowledge and silence through pbxctl; both in the audit log.
    let list = pbx.ctl_json(&["alarm", "list"]);
    let a = list
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "lage_mos:acme")
        .unwrap();
    assert_eq!(a["state"], "firing", "{list}");
    let acked = pbx.ctl_json(&["alarm", "ack", "lage_mos:acme"]);
    assert_eq!(acked["acked"], true, "{acked}");
    pbx.ctl(&["alarm", "silence", "herstart", "10"]).ok();
    pbx.ctl(&["alarm", "ack", "bestaat-niet"]).code(66);
    let audit = pbx.ctl_json(&["audit"]);
    assert!(audit.to_string().contains("alarm.ack"), "{audit}");
    assert!(audit.to_string().contains("alarm.silence"), "{audit}");
    let table = pbx.ctl(&["alarm", "list"]).ok().stdout.clone();
    assert!(table.contains("lage_mos:acme"), "{table}");

    // The window (8 s) passes without new calls: resolved, also at the webhook.
    let ev = wait_for(Duration::from_secs(15), "resolved", || {
        let e = events.next_of("alarm", Duration::from_millis(500))?;
        (e["alarm"]["rule"] == "lage_mos" && e["change"] == "resolved").then_some(e)
    });
    assert_eq!(ev["alarm"]["state"], "resolved", "{ev}");
    wait_for(Duration::from_secs(5), "resolved webhook", || {
        hooks
            .lock()
            .unwrap()
            .iter()
            .any(|b| b["change"] == "resolved")
            .then_some(())
    });
}

#[test]
fn alarms_toml_mistakes_are_reported_at_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("conf.d");
    copy_dir(&shipped_conf(), &conf);
    std::fs::write(
        conf.join("alarms.toml"),
        "[[alarm]]\nnaam = \"x\"\nmetriek = \"onzin\"\nvoorwaarde = \"onder\"\ndrempel = 1\n\n[[melding]]\nsoort = \"webhook\"\n",
    )
    .unwrap();
    let r = run(command("pbxctl").args(["check"]).arg(&conf), None);
    assert_eq!(r.code, 1, "{}", r.all());
    let out = r.all();
    assert!(out.contains("alarms.toml:3:"), "{out}");
    assert!(out.contains("metriek"), "{out}");
    assert!(out.contains("alarms.toml:7:"), "{out}");
    assert!(out.contains("url"), "{out}");
    // The shipped file is clean.
    let r = run(command("pbxctl").args(["check"]).arg(shipped_conf()), None);
    assert_eq!(r.code, 0, "{}", r.all());
}

/// A wachtrij (500, member jan on 1001) with a caller who gives up after seven seconds of
/// ringing: `GET /v1/queue-status` shows the waiting caller and the members, the
/// `wachtrij_wachtend` alarm fires while it waits and resolves after, the lost call counts for
/// today and fires `wachtrij_verloren`, both per queue (`acme/500`).
#[test]
fn a_queue_shows_its_waiting_caller_and_a_lost_call_fires_the_queue_alarms() {
    let http_port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut pbx = Pbx::prepare(Opts {
        extra_toml: format!(
            "[sip]\ndigest = [\"MD5\"]\n\n[http]\naddress = \"127.0.0.1:{http_port}\"\ntls = false\n"
        ),
        ..Opts::default()
    });
    std::fs::write(
        pbx.conf.join("alarms.toml"),
        r#"
[[alarm]]
naam = "wachtrij_druk"
metriek = "wachtrij_wachtend"
voorwaarde = "boven"
drempel = 0
venster_s = 6
ernst = "waarschuwing"
bereik = "wachtrij"
herhaal_s = 0

[[alarm]]
naam = "wachtrij_verloren"
metriek = "wachtrij_verloren"
voorwaarde = "boven"
drempel = 0
venster_s = 600
ernst = "waarschuwing"
bereik = "wachtrij"
"#,
    )
    .unwrap();
    pbx.spawn();
    pbx.wait_ready();
    pbx.ctl(&["tenant", "add", "acme", "--domain", "acme.example"])
        .ok();
    let pw1 = add_extension(&pbx, "acme", "1001");
    let pw2 = add_extension(&pbx, "acme", "1002");
    pbx.ctl_in(
        &[
            "user",
            "add",
            "acme",
            "jan",
            "--name",
            "Jan",
            "--role",
            "agent",
            "--password-stdin",
        ],
        b"Zeer-Geheim-Wachtwoord-7\n",
    )
    .ok();
    pbx.ctl(&["extension", "set", "acme", "1001", "--owner", "jan"])
        .ok();
    pbx.ctl(&["queue", "add", "acme", "500", "--name", "Klantenservice"])
        .ok();
    pbx.ctl(&["queue", "members", "acme", "500", "--add", "jan"])
        .ok();
    let status = |pbx: &Pbx| -> Value {
        let v: Value =
            serde_json::from_str(&pbx.ctl(&["api", "/v1/queue-status"]).ok().stdout).unwrap();
        v.as_array()
            .and_then(|l| l.iter().find(|q| q["number"] == "500"))
            .cloned()
            .unwrap_or_default()
    };
    let q = status(&pbx);
    assert_eq!(
        (
            q["name"].as_str(),
            q["waiting"].as_u64(),
            q["members"].as_u64()
        ),
        (Some("Klantenservice"), Some(0), Some(1)),
        "{q}"
    );

    // 1001 rings and is cancelled; 1002 calls the queue and gives up after seven seconds.
    let port = free_udp_port();
    register_phone(&pbx, "1001", &pw1, "acme.example", port);
    let mut member = sipp_command(&pbx, pbx.sip_port, "uas_cancel.xml", "1001", &pw1, port);
    let member = std::thread::spawn(move || run_for(&mut member, None, Duration::from_secs(40)));
    std::thread::sleep(Duration::from_millis(500));
    let mut caller = sipp_command(
        &pbx,
        pbx.sip_port,
        "call_cancel_7s.xml",
        "1002",
        &pw2,
        free_udp_port(),
    );
    caller.args([
        "-set",
        "domain",
        "acme.example",
        "-set",
        "callee",
        "500",
        "-auth_uri",
        "500@acme.example",
    ]);
    let caller = std::thread::spawn(move || run_for(&mut caller, None, Duration::from_secs(40)));
    let waiting = wait_for(Duration::from_secs(6), "a caller waiting in 500", || {
        let q = status(&pbx);
        (q["waiting"] == 1).then_some(q)
    });
    assert_eq!(
        (waiting["talking"].as_u64(), waiting["logged_in"].as_u64()),
        (Some(0), Some(0)),
        "{waiting}"
    );
    // pbxctl shows it too, as a table and as JSON.
    let table = pbx.ctl(&["queue", "status", "acme"]).ok().stdout.clone();
    assert!(
        table.contains("WACHTEND") && table.contains("Klantenservice"),
        "{table}"
    );
    let json = pbx.ctl_json(&["queue", "status"]);
    assert_eq!(json[0]["number"], "500", "{json}");
    // Prometheus sees the same.
    let metrics = http_get(http_port, "/metrics");
    assert!(
        metrics.contains("pbx_queue_waiting{tenant=\"acme\",queue=\"500\"} 1"),
        "{metrics}"
    );
    let alarm = |rule: &str, state: &str| {
        let l = pbx.ctl_json(&["alarm", "list"]);
        l.as_array().and_then(|a| {
            a.iter()
                .find(|x| x["rule"] == rule && x["state"] == state)
                .cloned()
        })
    };
    let busy = wait_for(Duration::from_secs(8), "wachtrij_druk firing", || {
        alarm("wachtrij_druk", "firing")
    });
    assert_eq!(busy["id"], "wachtrij_druk:acme/500", "{busy}");
    let caller = caller.join().unwrap();
    let member = member.join().unwrap();
    assert_eq!(caller.code, 0, "1002: {}", caller.all());
    assert_eq!(member.code, 0, "1001: {}", member.all());
    let lost = wait_for(Duration::from_secs(5), "wachtrij_verloren firing", || {
        alarm("wachtrij_verloren", "firing")
    });
    assert_eq!(lost["id"], "wachtrij_verloren:acme/500", "{lost}");
    let q = status(&pbx);
    assert_eq!(
        (
            q["waiting"].as_u64(),
            q["offered_today"].as_u64(),
            q["answered_today"].as_u64(),
            q["lost_today"].as_u64(),
            q["service_level_pct"].as_u64()
        ),
        (Some(0), Some(1), Some(0), Some(1), Some(0)),
        "{q}"
    );
    let metrics = http_get(http_port, "/metrics");
    assert!(
        metrics.contains("pbx_queue_lost_today{tenant=\"acme\",queue=\"500\"} 1"),
        "{metrics}"
    );
    // Nobody waits any more: the pressure alarm resolves.
    wait_for(Duration::from_secs(15), "wachtrij_druk resolved", || {
        alarm("wachtrij_druk", "resolved")
    });
}

/// The body of a plain HTTP GET on loopback.
fn http_get(port: u16, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or(out)
}
