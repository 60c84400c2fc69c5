//! Organisations are walled off in the softphone. anna is an agent of acme (1001), bob an agent
//! of beta (2001) who is in a call with a SIP phone of beta (2002, SIPp). Over her own WebSocket
//! anna must not see bob (welcome, presence, agents), beta's contacts or calls, nor act on bob's
//! call (hang up, hold, transfer, notes, afcodering, DTMF, consult), nor reach beta's numbers by
//! dialling them; bob's page gets nothing of hers and beta's SIPp phone gets no second INVITE.
#![allow(clippy::unwrap_used)]

mod web;

use futures_util::StreamExt;
use pbx_tests::*;
use pbx_webrtc::{Client, Codec};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use web::*;

const PW: &str = "Zeer-Geheim-Wachtwoord-7";

fn add_agent(pbx: &Pbx, tenant: &str, user: &str, ext: &str) {
    pbx.ctl_in(
        &[
            "user",
            "add",
            tenant,
            user,
            "--name",
            user,
            "--role",
            "agent",
            "--password-stdin",
        ],
        format!("{PW}\n").as_bytes(),
    )
    .ok();
    pbx.ctl(&["extension", "set", tenant, ext, "--owner", user])
        .ok();
}

/// Everything that arrives on `s` within `d` (text messages as JSON).
async fn drain(s: &mut Ws, d: Duration) -> Vec<Value> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + d;
    while let Ok(Some(Ok(m))) = tokio::time::timeout_at(deadline, s.next()).await {
        if let Message::Text(t) = m {
            out.push(serde_json::from_str(t.as_str()).unwrap_or(Value::Null));
        }
    }
    out
}

#[test]
fn an_agent_cannot_see_call_or_touch_anything_of_another_organisation() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (pbx, _pw1, _pw2) = two_extensions(&format!(
        "[sip]\ndigest = [\"MD5\"]\n\n[http]\naddress = \"127.0.0.1:{port}\"\ntls = false\n"
    ));
    add_agent(&pbx, "acme", "anna", "1001");
    pbx.ctl(&["tenant", "add", "beta", "--domain", "beta.example"])
        .ok();
    pbx.ctl(&["extension", "add", "beta", "2001", "--name", "Bob"])
        .ok();
    let pw2002 = pbx.ctl_json(&["extension", "add", "beta", "2002", "--name", "Balie"])["password"]
        .as_str()
        .expect("pbxctl extension add shows the generated password")
        .to_string();
    add_agent(&pbx, "beta", "bob", "2001");
    pbx.ctl_in(
        &["contact", "import", "beta", "-"],
        b"name,company,phone\nGeheim BV,Geheim,+31209999999\n",
    )
    .ok();
    pbx.ctl_in(
        &["contact", "import", "acme", "-"],
        b"name,company,phone\nKlant BV,Klant,+31201234567\n",
    )
    .ok();
    // beta's SIP phone 2002 answers one call (bob's) and waits for its BYE.
    let media = SipMedia::start_with(Codec::Pcma);
    let sipp_port = free_udp_port();
    register_phone(&pbx, "2002", &pw2002, "beta.example", sipp_port);
    let mut uas = sipp_command(
        &pbx,
        pbx.sip_port,
        "uas_1002_pcma_socket.xml",
        "2002",
        &pw2002,
        sipp_port,
    );
    uas.args(["-set", "mport", &media.port.to_string()]);
    let uas = std::thread::spawn(move || run_for(&mut uas, None, Duration::from_secs(40)));

    let cookie = |org: &str, user: &str| {
        let r = login(port, org, user, PW, None);
        assert_eq!(r.status, 200, "{org}/{user}: {}", r.body);
        session_cookie(&r)
    };
    let (ca, cb) = (cookie("acme", "anna"), cookie("beta", "bob"));
    // anna's session cookie is no key to beta's page data.
    let me = http(port, "GET", "/api/me", &[("Cookie", &ca)], "");
    assert_eq!(me.status, 200);
    assert!(
        !me.body.contains("beta") && !me.body.contains("bob"),
        "{}",
        me.body
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let own = format!("http://localhost:{port}");
    rt.block_on(async {
        let mut b = ws(port, Some(&cb), &own).await.unwrap();
        let wb = next_of(&mut b, "welcome").await;
        assert_eq!(wb["organisatie"], "beta", "{wb}");
        let r = ask(&mut b, "b1", json!({"type": "agent:login"})).await;
        assert_eq!(r["type"], "ok", "{r}");
        // bob calls beta's 2002.
        let (mut client, offer) = Client::offer("127.0.0.1".parse().unwrap(), &[Codec::Pcmu])
            .await
            .unwrap();
        let r = ask(
            &mut b,
            "b2",
            json!({"type": "call:dial", "nummer": "2002", "sdp": offer}),
        )
        .await;
        assert_eq!(r["type"], "ok", "{r}");
        let bobs_call = r["call"].as_str().unwrap().to_string();
        client.accept_answer(r["sdp"].as_str().unwrap()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let st = next_of(&mut b, "call:state").await;
            if st["state"] == "verbonden" {
                break;
            }
            assert!(Instant::now() < deadline, "{st}");
        }
        let bobs_pbx_call = pbx
            .ctl_json(&["calls", "--tenant", "beta"])
            .as_array()
            .and_then(|l| l.first().cloned())
            .unwrap_or_default()["id"]
            .as_str()
            .unwrap_or("")
            .to_string();

        // anna connects while bob is in his call.
        let mut a = ws(port, Some(&ca), &own).await.unwrap();
        let wa = next_of(&mut a, "welcome").await;
        assert_eq!(wa["organisatie"], "acme", "{wa}");
        let text = wa.to_string();
        assert!(
            !text.contains("bob") && !text.contains("2001") && !text.contains("beta"),
            "{wa}"
        );
        let r = ask(&mut a, "a1", json!({"type": "agent:login"})).await;
        assert_eq!(r["type"], "ok", "{r}");
        // Presence: acme's agents only (anna herself), while bob is in a call.
        let p = next_of(&mut a, "presence").await;
        assert!(
            !p.to_string().contains("bob") && !p.to_string().contains("2001"),
            "{p}"
        );
        // Contacts and history: only acme's.
        for q in ["geheim", "+31209999999", "0209999999", ""] {
            let c = ask(&mut a, "a2", json!({"type": "contacts:search", "q": q})).await;
            assert!(!c.to_string().contains("Geheim"), "{q}: {c}");
        }
        let c = ask(
            &mut a,
            "a3",
            json!({"type": "contacts:search", "q": "klant"}),
        )
        .await;
        assert_eq!(c["items"][0]["naam"], "Klant BV", "{c}");
        let h = ask(&mut a, "a4", json!({"type": "history:list", "limit": 500})).await;
        assert_eq!(h["type"], "ok", "{h}");
        assert!(
            !h.to_string().contains("2002") && !h.to_string().contains("2001"),
            "{h}"
        );

        // bob's call, by its page id or by pbxd's id: not found for anna, whatever she tries.
        for id in [bobs_call.as_str(), bobs_pbx_call.as_str()] {
            for (n, msg) in [
                json!({"type": "call:hangup", "call": id}),
                json!({"type": "call:hold", "call": id}),
                json!({"type": "call:unhold", "call": id}),
                json!({"type": "call:dtmf", "call": id, "digits": "1"}),
                json!({"type": "call:transfer", "call": id, "nummer": "1002"}),
                json!({"type": "call:consult", "call": id, "nummer": "1002", "sdp": "v=0\r\n"}),
                json!({"type": "call:consult_complete", "call": id}),
                json!({"type": "call:notes", "call": id, "notes": "van anna"}),
                json!({"type": "call:disposition", "call": id, "code": "afgehandeld"}),
                json!({"type": "call:answer", "call": id, "sdp": "v=0\r\n"}),
                json!({"type": "call:reject", "call": id}),
            ]
            .into_iter()
            .enumerate()
            {
                let r = ask(&mut a, &format!("x{n}"), msg.clone()).await;
                assert_eq!(r["type"], "error", "{msg} → {r}");
            }
        }
        // Dialling beta's numbers from acme reaches nothing of beta: acme has no 2001/2002 and no
        // belplan rule to beta, so each call ends without being answered.
        for (n, nummer) in ["2001", "2002"].into_iter().enumerate() {
            let (cl, offer) = Client::offer("127.0.0.1".parse().unwrap(), &[Codec::Pcmu])
                .await
                .unwrap();
            let r = ask(
                &mut a,
                &format!("d{n}"),
                json!({"type": "call:dial", "nummer": nummer, "sdp": offer}),
            )
            .await;
            if r["type"] == "ok" {
                let end = next_of_in(&mut a, "call:ended", Duration::from_secs(15)).await;
                assert_ne!(end["afloop"], "beantwoord", "{nummer}: {end}");
            }
            cl.close().await;
        }
        // A SIP address of beta as the number is refused outright.
        let r = ask(
            &mut a,
            "d9",
            json!({"type": "call:dial", "nummer": "2001@beta.example", "sdp": "v=0\r\n"}),
        )
        .await;
        assert_eq!(r["type"], "error", "{r}");

        // bob's page saw nothing of anna, and his call is untouched.
        let seen = drain(&mut b, Duration::from_millis(500)).await;
        let text = serde_json::to_string(&seen).unwrap();
        assert!(
            !text.contains("anna")
                && !text.contains("call:incoming")
                && !text.contains("\"call:ended\""),
            "{text}"
        );
        let calls = pbx.ctl_json(&["calls", "--tenant", "beta"]);
        assert_eq!(calls.as_array().map(Vec::len), Some(1), "{calls}");
        // bob's CDR will carry no note of anna's.
        let r = ask(
            &mut b,
            "b3",
            json!({"type": "call:hangup", "call": bobs_call}),
        )
        .await;
        assert_eq!(r["type"], "ok", "{r}");
        next_of(&mut b, "call:ended").await;
        client.close().await;
    });
    let uas = uas.join().unwrap();
    let _ = media.finish();
    assert_eq!(uas.code, 0, "2002 (one call only): {}", uas.all());
    let cdrs = pbx.ctl_json(&["cdr", "list", "--tenant", "beta"]);
    let cdr = cdrs
        .as_array()
        .and_then(|l| l.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(cdr["afloop"], "beantwoord", "{cdrs}");
    assert!(cdr.get("notes").is_none_or(|n| n.is_null()), "{cdr}");
    // anna's calls are acme's, none of them reached beta.
    let acme = pbx.ctl_json(&["cdr", "list", "--tenant", "acme"]);
    assert!(
        acme.as_array().is_some_and(|l| l
            .iter()
            .all(|c| c["tenant"] == "acme" && c["afloop"] != "beantwoord")),
        "{acme}"
    );
}
