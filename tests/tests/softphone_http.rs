//! The softphone's HTTP side against a real pbxd with `[http]`: the page, login with argon2id
//! and TOTP, lockout after five failures (durable, audited, the same answer for unknown users),
//! the session cookie, and the WebSocket: refused without a session or with a foreign Origin;
//! with one: `welcome`, agent status and presence, contacts, history, notes and afcodering on
//! the CDR, errors for malformed messages; logout closes it.
#![allow(clippy::unwrap_used)]

mod web;

use futures_util::{SinkExt, StreamExt};
use pbx_tests::*;
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::{self, Message};
use web::*;

#[test]
fn login_lockout_totp_and_the_websocket() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (pbx, _pw1, _pw2) = two_extensions(&format!(
        "[http]\naddress = \"127.0.0.1:{port}\"\ntls = false\n"
    ));
    let pw = "Zeer-Geheim-Wachtwoord-7";
    for (user, role) in [
        ("anna", "agent"),
        ("bert", "agent"),
        ("carla", "supervisor"),
    ] {
        pbx.ctl_in(
            &[
                "user",
                "add",
                "acme",
                user,
                "--name",
                user,
                "--role",
                role,
                "--password-stdin",
            ],
            format!("{pw}\n").as_bytes(),
        )
        .ok();
    }
    pbx.ctl(&["extension", "set", "acme", "1001", "--owner", "anna"])
        .ok();

    // The page, with its hardening headers.
    let page = http(port, "GET", "/", &[], "");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<html lang=\"nl\""), "{}", page.body);
    assert!(
        page.headers.contains("content-security-policy"),
        "{}",
        page.headers
    );
    assert_eq!(http(port, "GET", "/assets/app.js", &[], "").status, 200);
    assert_eq!(
        http(port, "GET", "/assets/../secret.key", &[], "").status,
        404
    );

    // Wrong password, unknown user, unknown organisation: one answer.
    for (o, u, p) in [
        ("acme", "anna", "fout"),
        ("acme", "niemand", pw),
        ("bestaatniet", "anna", pw),
    ] {
        let r = login(port, o, u, p, None);
        assert_eq!(
            (r.status, code(&r)),
            (401, "onjuist".to_string()),
            "{o}/{u}: {}",
            r.body
        );
    }
    assert_eq!(login(port, "acme", "anna", pw, None).status, 200);

    // bert: five wrong passwords → locked, also with the right one; durable and audited.
    for i in 0..5 {
        let r = login(port, "acme", "bert", "fout", None);
        let want = if i < 4 { "onjuist" } else { "geblokkeerd" };
        assert_eq!(code(&r), want, "attempt {}: {}", i + 1, r.body);
    }
    let r = login(port, "acme", "bert", pw, None);
    assert_eq!(code(&r), "geblokkeerd", "{}", r.body);
    let users = pbx.ctl_json(&["user", "list", "acme"]);
    let bert = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "bert")
        .unwrap()
        .clone();
    assert_eq!(bert["state"], "locked", "{users}");
    assert!(
        bert.get("password_hash").is_none(),
        "no hash in output: {bert}"
    );
    let audit = pbx.ctl(&["audit", "--tenant", "acme"]).ok().stdout.clone();
    assert!(audit.contains("user.lock"), "{audit}");
    // An unknown user "locks" the same way.
    for _ in 0..5 {
        login(port, "acme", "spook", "x", None);
    }
    assert_eq!(
        code(&login(port, "acme", "spook", "x", None)),
        "geblokkeerd"
    );
    pbx.ctl(&["user", "unlock", "acme", "bert"]).ok();
    assert_eq!(login(port, "acme", "bert", pw, None).status, 200);

    // carla: TOTP on. Password alone → totp_nodig; a wrong code → totp_onjuist; the right one
    // works once.
    let on = pbx.ctl_json(&["user", "totp", "acme", "carla"]);
    let secret = on["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("{on}"))
        .to_string();
    assert_eq!(code(&login(port, "acme", "carla", pw, None)), "totp_nodig");
    assert_eq!(
        code(&login(port, "acme", "carla", pw, Some("000000"))),
        "totp_onjuist"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let key = pbx_model::secret::base32_decode(&secret).unwrap();
    let good = format!("{:06}", pbx_model::secret::totp_code(&key, now / 30));
    assert_eq!(login(port, "acme", "carla", pw, Some(&good)).status, 200);
    assert_eq!(
        code(&login(port, "acme", "carla", pw, Some(&good))),
        "totp_onjuist",
        "a code works once"
    );

    // anna's session.
    let r = login(port, "acme", "anna", pw, None);
    let me: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(me["toestel"], "1001", "{me}");
    let cookie = session_cookie(&r);
    assert_eq!(
        http(port, "GET", "/api/me", &[("Cookie", &cookie)], "").status,
        200
    );
    assert_eq!(http(port, "GET", "/api/me", &[], "").status, 401);

    // A finished call of 1001 for the history and the afcodering.
    pbx.ctl_in(
        &["contact", "import", "acme", "-"],
        b"name,company,phone\nKlant BV,Klant,+31201234567\n",
    )
    .ok();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let own = format!("http://localhost:{port}");
        // No session; a wrong Origin; a forged cookie.
        let Err(e) = ws(port, None, &own).await else {
            panic!("refused without session")
        };
        assert!(
            matches!(&e, tungstenite::Error::Http(r) if r.status() == 401),
            "{e:?}"
        );
        let Err(e) = ws(port, Some(&cookie), "http://evil.example").await else {
            panic!("refused")
        };
        assert!(
            matches!(&e, tungstenite::Error::Http(r) if r.status() == 403),
            "{e:?}"
        );
        let Err(e) = ws(port, Some("pbx_sessie=vervalst"), &own).await else {
            panic!("refused")
        };
        assert!(
            matches!(&e, tungstenite::Error::Http(r) if r.status() == 401),
            "{e:?}"
        );

        let mut s = ws(port, Some(&cookie), &own).await.unwrap();
        let w = next_of(&mut s, "welcome").await;
        assert_eq!(
            (
                w["gebruiker"].as_str(),
                w["toestel"].as_str(),
                w["status"].as_str()
            ),
            (Some("anna"), Some("1001"), Some("afgemeld")),
            "{w}"
        );
        assert_eq!(w["organisatie"], "acme");

        let a = ask(&mut s, "1", json!({"type": "agent:login"})).await;
        assert_eq!(a["type"], "ok", "{a}");
        let st = next_of(&mut s, "agent:status").await;
        assert_eq!(st["status"], "beschikbaar");
        let a = ask(
            &mut s,
            "2",
            json!({"type": "agent:status", "status": "pauze", "reden": "lunch"}),
        )
        .await;
        assert_eq!(a["type"], "ok");
        // Presence comes on connecting and after each change: the last one shows the pause.
        let mut me = Value::Null;
        let mut p = Value::Null;
        for _ in 0..4 {
            p = next_of(&mut s, "presence").await;
            me = p["gebruikers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|u| u["gebruiker"] == "anna")
                .unwrap()
                .clone();
            if me["status"] == "pauze" {
                break;
            }
        }
        assert_eq!(
            (me["status"].as_str(), me["toestel"].as_str()),
            (Some("pauze"), Some("1001")),
            "{p}"
        );

        // pbxtop's Agenten tab reads the same state from the control API.
        let agents: Value =
            serde_json::from_str(&pbx.ctl(&["api", "/v1/agents"]).ok().stdout).unwrap();
        let anna = agents
            .as_array()
            .and_then(|l| l.iter().find(|a| a["user"] == "anna"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            (
                anna["status"].as_str(),
                anna["reason"].as_str(),
                anna["extension"].as_str()
            ),
            (Some("pauze"), Some("lunch"), Some("1001")),
            "{agents}"
        );
        let c = ask(
            &mut s,
            "3",
            json!({"type": "contacts:search", "q": "klant"}),
        )
        .await;
        assert_eq!(c["items"][0]["naam"], "Klant BV", "{c}");
        let h = ask(&mut s, "4", json!({"type": "history:list", "limit": 10})).await;
        assert_eq!(h["type"], "ok", "{h}");

        // Malformed messages: an error each, the socket stays open.
        for (i, bad) in [
            "{kapot",
            "[]",
            r#"{"v":1,"type":"call:dail"}"#,
            r#"{"v":9,"type":"agent:login"}"#,
        ]
        .iter()
        .enumerate()
        {
            s.send(Message::Text((*bad).into())).await.unwrap();
            let e = next_of(&mut s, "error").await;
            assert_eq!(e["code"], "ongeldig", "{bad}: {e}");
            assert!(!e["message"].as_str().unwrap_or("").is_empty(), "{i}");
        }
        s.send(Message::Binary(vec![1, 2, 3].into())).await.unwrap();
        assert_eq!(next_of(&mut s, "error").await["code"], "ongeldig");
        let a = ask(
            &mut s,
            "5",
            json!({"type": "call:disposition", "call": "c-onbekend", "code": "bestaat-niet"}),
        )
        .await;
        assert_eq!(
            (a["type"].as_str(), a["code"].as_str()),
            (Some("error"), Some("ongeldig")),
            "{a}"
        );
        let a = ask(&mut s, "6", json!({"type": "agent:login"})).await;
        assert_eq!(a["type"], "ok", "still usable: {a}");

        // Too big a message closes the socket (1009).
        let big = format!(
            r#"{{"v":1,"type":"call:notes","call":"x","notes":"{}"}}"#,
            "a".repeat(70_000)
        );
        let _ = s.send(Message::Text(big.into())).await;
        let mut closed = false;
        while let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(5), s.next()).await {
            match m {
                Ok(Message::Close(f)) => {
                    assert_eq!(f.map(|f| u16::from(f.code)), Some(1009));
                    closed = true;
                    break;
                }
                Ok(_) => {}
                Err(_) => {
                    closed = true;
                    break;
                }
            }
        }
        assert!(closed, "socket closed after a 70 kB message");

        // Logout ends the session: open sockets close, the cookie no longer works.
        let mut s = ws(port, Some(&cookie), &own).await.unwrap();
        next_of(&mut s, "welcome").await;
        let out = http(port, "POST", "/api/logout", &[("Cookie", &cookie)], "");
        assert_eq!(out.status, 204);
        let mut ended = false;
        while let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(5), s.next()).await {
            if matches!(m, Ok(Message::Close(_)) | Err(_)) {
                ended = true;
                break;
            }
        }
        assert!(ended, "socket closed on logout");
        assert_eq!(
            http(port, "GET", "/api/me", &[("Cookie", &cookie)], "").status,
            401
        );
    });
}
