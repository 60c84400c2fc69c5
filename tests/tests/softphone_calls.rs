//! Calls of a browser agent through a real pbxd: the "browser" is the WebRTC client of
//! `pbx_webrtc` (ICE, DTLS-SRTP like Chrome) driven over the softphone's JSON WebSocket; the
//! other phone is SIPp with its media at a socket of the test.
//!
//! * SIPp (1002) calls the agent's extension 1001: `call:incoming`, answer with an offer,
//!   audio both ways (tones checked with Goertzel at both ends), `call:dtmf` arriving at the
//!   SIP side as RFC 4733, notes during the call, SIPp hangs up, afcodering after it; the CDR
//!   carries both, and the agent is back on beschikbaar.
//! * The agent dials 1002 (SIPp), holds, resumes (SIPp checks sendonly/sendrecv), hangs up.
//! * Not beschikbaar: the extension does not ring in the browser (480 for the caller).
#![allow(clippy::unwrap_used)]

mod web;

use pbx_tests::*;
use pbx_webrtc::audio::{energy, goertzel, tone};
use pbx_webrtc::{Client, Codec};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use web::*;

const PW: &str = "Zeer-Geheim-Wachtwoord-7";

/// pbxd with `[http]`, extensions 1001 (owned by agent anna) and 1002; gives the HTTP port,
/// 1002's SIP password and anna's session cookie.
fn setup() -> (Pbx, u16, String, String) {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (pbx, _pw1, pw2) = two_extensions(&format!(
        "[sip]\ndigest = [\"MD5\"]\n\n[http]\naddress = \"127.0.0.1:{port}\"\ntls = false\n"
    ));
    pbx.ctl_in(
        &[
            "user",
            "add",
            "acme",
            "anna",
            "--name",
            "Anna",
            "--role",
            "agent",
            "--password-stdin",
        ],
        format!("{PW}\n").as_bytes(),
    )
    .ok();
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
    let r = login(port, "acme", "anna", PW, None);
    assert_eq!(r.status, 200, "{}", r.body);
    let cookie = session_cookie(&r);
    (pbx, port, pw2, cookie)
}

/// Waits until `pbxctl registrations` shows 1001 registered (or not).
fn wait_registered(pbx: &Pbx, want: bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let regs = pbx.ctl_json(&["registrations"]);
        let has = regs
            .as_array()
            .is_some_and(|l| l.iter().any(|r| r["extension"] == "1001"));
        if has == want || Instant::now() > deadline {
            assert_eq!(has, want, "registrations: {regs}");
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// (payload type, payload) of RTP packets arriving at `sock` for `d`, with the sender.
async fn rtp_for(
    sock: &tokio::net::UdpSocket,
    d: Duration,
) -> (Vec<(u8, Vec<u8>)>, Option<SocketAddr>) {
    let mut out = Vec::new();
    let mut from = None;
    let deadline = tokio::time::Instant::now() + d;
    let mut buf = [0u8; 2048];
    while let Ok(Ok((n, src))) = tokio::time::timeout_at(deadline, sock.recv_from(&mut buf)).await {
        if n >= 12 && buf[0] >> 6 == 2 {
            out.push((buf[1] & 0x7f, buf[12..n].to_vec()));
            from = Some(src);
        }
    }
    (out, from)
}

fn ulaw(samples: &[u8]) -> Vec<i16> {
    let mut out = Vec::new();
    pbx_webrtc::audio::g711_decode(Codec::Pcmu, samples, &mut out);
    out
}

/// The next CDR of acme (polls `pbxctl cdr list`).
fn the_cdr(pbx: &Pbx) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let l = pbx.ctl_json(&["cdr", "list", "--tenant", "acme"]);
        if let Some(c) = l.as_array().and_then(|a| a.last()) {
            return c.clone();
        }
        assert!(Instant::now() < deadline, "no CDR");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_sip_phone_calls_the_browser_agent_audio_both_ways_dtmf_notes_and_afcodering() {
    let (pbx, port, pw2, cookie) = setup();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let own = format!("http://localhost:{port}");
    let mut s = rt.block_on(ws(port, Some(&cookie), &own)).unwrap();
    rt.block_on(next_of(&mut s, "welcome"));

    // Not beschikbaar: not registered, a call gets no browser.
    wait_registered(&pbx, false);
    let a = rt.block_on(ask(&mut s, "1", json!({"type": "agent:login"})));
    assert_eq!(a["type"], "ok", "{a}");
    wait_registered(&pbx, true);

    // 1002 calls 1001 for 8 s, its media at a socket of the test.
    let media = rt
        .block_on(tokio::net::UdpSocket::bind("127.0.0.1:0"))
        .unwrap();
    let mport = media.local_addr().unwrap().port();
    let mut caller = web::sipp_caller(
        &pbx,
        "call_1001_pcmu_socket_8s.xml",
        "1002",
        &pw2,
        free_udp_port(),
        "1001",
        mport,
    );
    let caller = std::thread::spawn(move || run_for(&mut caller, None, Duration::from_secs(40)));

    rt.block_on(async {
        let inc = next_of(&mut s, "call:incoming").await;
        assert_eq!(inc["van"], "1002", "{inc}");
        let call = inc["call"].as_str().unwrap().to_string();
        let (mut client, offer) = Client::offer(
            "127.0.0.1".parse().unwrap(),
            &[Codec::Opus, Codec::Pcmu, Codec::Pcma],
        )
        .await
        .unwrap();
        let a = ask(
            &mut s,
            "2",
            json!({"type": "call:answer", "call": call, "sdp": offer}),
        )
        .await;
        assert_eq!(a["type"], "ok", "{a}");
        client.accept_answer(a["sdp"].as_str().unwrap()).unwrap();
        assert!(
            client.connected(Duration::from_secs(5)).await,
            "ICE/DTLS up"
        );
        let st = next_of(&mut s, "call:state").await;
        assert_eq!(st["state"], "verbonden", "{st}");

        // The browser speaks 1 kHz for 1.5 s; the SIP side hears it.
        let send = async {
            for f in 0..75u64 {
                client
                    .send_audio(&tone(1000.0, 8000, 8000.0, f * 160, 160))
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            client
        };
        let (mut client, (heard, relay)) =
            tokio::join!(send, rtp_for(&media, Duration::from_millis(1700)));
        let pcm: Vec<i16> = heard
            .iter()
            .filter(|(pt, _)| *pt == 0)
            .flat_map(|(_, p)| ulaw(p))
            .collect();
        let (p1k, e) = (goertzel(&pcm, 1000.0, 8000), energy(&pcm));
        assert!(
            pcm.len() > 8000 && p1k / e > 0.3,
            "1 kHz at the SIP side: {} samples, {p1k:.0}/{e:.0}",
            pcm.len()
        );

        // The SIP side speaks 600 Hz back to the relay; the browser hears it.
        let relay = relay.expect("the relay sent to the SIP side");
        let mut got = Vec::new();
        let mut seq = 1u16;
        let t0 = tokio::time::Instant::now();
        while t0.elapsed() < Duration::from_millis(1500) {
            let mut pkt = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78];
            pkt[2..4].copy_from_slice(&seq.to_be_bytes());
            pkt[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
            let mut payload = Vec::new();
            pbx_webrtc::audio::g711_encode(
                Codec::Pcmu,
                &tone(600.0, 8000, 8000.0, u64::from(seq) * 160, 160),
                &mut payload,
            );
            pkt.extend_from_slice(&payload);
            media.send_to(&pkt, relay).await.unwrap();
            seq += 1;
            while let Some(r) = client.recv(Duration::from_millis(1)).await {
                client.decode(&r.payload, &mut got);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        while let Some(r) = client.recv(Duration::from_millis(200)).await {
            client.decode(&r.payload, &mut got);
        }
        let (p600, e) = (goertzel(&got, 600.0, 8000), energy(&got));
        assert!(
            got.len() > 4000 && p600 / e > 0.3,
            "600 Hz in the browser: {} samples, {p600:.0}/{e:.0}",
            got.len()
        );

        // Dial-pad digits reach the SIP side as RFC 4733 (payload type 101, event 5 then 9).
        let a = ask(
            &mut s,
            "3",
            json!({"type": "call:dtmf", "call": call, "digits": "59"}),
        )
        .await;
        assert_eq!(a["type"], "ok", "{a}");
        let (pkts, _) = rtp_for(&media, Duration::from_millis(800)).await;
        let events: Vec<u8> = pkts
            .iter()
            .filter(|(pt, p)| *pt == 101 && p.len() >= 4)
            .map(|(_, p)| p[0])
            .collect();
        let mut digits = events.clone();
        digits.dedup();
        assert_eq!(
            digits,
            vec![5, 9],
            "telephone-events at the SIP side: {events:?}"
        );

        // Notes during the call; SIPp hangs up after its 8 s.
        let a = ask(
            &mut s,
            "4",
            json!({"type": "call:notes", "call": call, "notes": "Klant wil teruggebeld worden"}),
        )
        .await;
        assert_eq!(a["type"], "ok", "{a}");
        let end = next_of(&mut s, "call:ended").await;
        assert_eq!(end["afloop"], "beantwoord", "{end}");
        let a = ask(
            &mut s,
            "5",
            json!({"type": "call:disposition", "call": call, "code": "verzonnen"}),
        )
        .await;
        assert_eq!(a["type"], "error", "not in acme's list: {a}");
        let a = ask(
            &mut s,
            "6",
            json!({"type": "call:disposition", "call": call, "code": "terugbellen"}),
        )
        .await;
        assert_eq!(a["type"], "ok", "{a}");
        let st = next_of(&mut s, "agent:status").await;
        assert_eq!(st["status"], "beschikbaar", "{st}");
        client.close().await;
    });
    let caller = caller.join().unwrap();
    assert_eq!(caller.code, 0, "1002: {}\n{}", caller.all(), pbx.log_text());
    let cdr = the_cdr(&pbx);
    assert_eq!(cdr["notes"], "Klant wil teruggebeld worden", "{cdr}");
    assert_eq!(cdr["afcodering"], "terugbellen", "{cdr}");
    assert_eq!(cdr["callee"]["number"], "1001", "{cdr}");
    assert_eq!(cdr["afloop"], "beantwoord", "{cdr}");
}

/// The agent dials 1002 (SIPp, registered), puts it on hold and back (SIPp checks a=sendonly,
/// then a=sendrecv in pbxd's re-INVITEs) and hangs up; the CDR has 1001 → 1002 answered.
#[test]
fn the_browser_agent_dials_holds_resumes_and_hangs_up() {
    let (pbx, port, pw2, cookie) = setup();
    let sipp_port = free_udp_port();
    register_phone(&pbx, "1002", &pw2, "acme.example", sipp_port);
    let mut callee = sipp_command(&pbx, pbx.sip_port, "uas_held.xml", "1002", &pw2, sipp_port);
    let callee = std::thread::spawn(move || run_for(&mut callee, None, Duration::from_secs(40)));
    std::thread::sleep(Duration::from_millis(300));

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let own = format!("http://localhost:{port}");
        let mut s = ws(port, Some(&cookie), &own).await.unwrap();
        next_of(&mut s, "welcome").await;
        // Dialling does not need beschikbaar (pauze: no calls come in, but one may call out).
        let a = ask(
            &mut s,
            "0",
            json!({"type": "agent:status", "status": "pauze", "reden": "terugbellen"}),
        )
        .await;
        assert_eq!(a["type"], "ok", "{a}");
        let (mut client, offer) =
            Client::offer("127.0.0.1".parse().unwrap(), &[Codec::Opus, Codec::Pcmu])
                .await
                .unwrap();
        let a = ask(
            &mut s,
            "1",
            json!({"type": "call:dial", "nummer": "1002", "sdp": offer}),
        )
        .await;
        assert_eq!(a["type"], "ok", "{a}");
        let call = a["call"].as_str().unwrap().to_string();
        client.accept_answer(a["sdp"].as_str().unwrap()).unwrap();
        assert!(
            client.connected(Duration::from_secs(5)).await,
            "ICE/DTLS up"
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let st = next_of(&mut s, "call:state").await;
            if st["state"] == "verbonden" {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{st}");
        }
        for (id, kind, want) in [
            ("2", "call:hold", "in_de_wacht"),
            ("3", "call:unhold", "verbonden"),
        ] {
            let a = ask(&mut s, id, json!({"type": kind, "call": call})).await;
            assert_eq!(a["type"], "ok", "{kind}: {a}");
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            loop {
                let st = next_of(&mut s, "call:state").await;
                if st["state"] == want {
                    break;
                }
                assert!(tokio::time::Instant::now() < deadline, "{kind}: {st}");
            }
        }
        let a = ask(&mut s, "4", json!({"type": "call:hangup", "call": call})).await;
        assert_eq!(a["type"], "ok", "{a}");
        let end = next_of(&mut s, "call:ended").await;
        assert_eq!(end["afloop"], "beantwoord", "{end}");
        // Unknown calls and other people's calls are "niet gevonden".
        let a = ask(
            &mut s,
            "5",
            json!({"type": "call:hangup", "call": "bestaat-niet"}),
        )
        .await;
        assert_eq!(
            (a["type"].as_str(), a["code"].as_str()),
            (Some("error"), Some("niet_gevonden")),
            "{a}"
        );
        client.close().await;
    });
    let callee = callee.join().unwrap();
    assert_eq!(callee.code, 0, "1002: {}\n{}", callee.all(), pbx.log_text());
    let cdr = the_cdr(&pbx);
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

/// Direct doorverbinden: SIPp (1002) calls the agent (1001), the agent answers and transfers
/// to 1003 (SIPp, A-law, media at the test). 1002 keeps its dialog (no re-INVITE: pbxd's relay
/// moves its media), 1003 answers and hears 1002's tone, the browser gets BYE; 1002 hangs up
/// later and 1003 gets the BYE. The CDR names 1003 among the forwards.
#[test]
fn the_browser_agent_transfers_a_caller_to_another_extension() {
    let (pbx, port, pw2, cookie) = setup();
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
        Duration::from_secs(40),
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let own = format!("http://localhost:{port}");
    let mut s = rt.block_on(ws(port, Some(&cookie), &own)).unwrap();
    rt.block_on(next_of(&mut s, "welcome"));
    let a = rt.block_on(ask(&mut s, "1", json!({"type": "agent:login"})));
    assert_eq!(a["type"], "ok", "{a}");
    wait_registered(&pbx, true);

    let caller_media = web::SipMedia::start();
    let mut caller = web::sipp_caller(
        &pbx,
        "call_1001_pcmu_socket_8s.xml",
        "1002",
        &pw2,
        free_udp_port(),
        "1001",
        caller_media.port,
    );
    let caller = std::thread::spawn(move || run_for(&mut caller, None, Duration::from_secs(40)));

    rt.block_on(async {
        let inc = next_of(&mut s, "call:incoming").await;
        let call = inc["call"].as_str().unwrap().to_string();
        let (mut client, offer) = Client::offer("127.0.0.1".parse().unwrap(), &[Codec::Pcmu])
            .await
            .unwrap();
        let a = ask(
            &mut s,
            "2",
            json!({"type": "call:answer", "call": call, "sdp": offer}),
        )
        .await;
        assert_eq!(a["type"], "ok", "{a}");
        client.accept_answer(a["sdp"].as_str().unwrap()).unwrap();
        assert!(
            client.connected(Duration::from_secs(5)).await,
            "ICE/DTLS up"
        );
        // The agent says something first, so 1002's phone hears pbxd and talks back (its
        // socket answers where the relay's packets come from).
        for f in 0..25u64 {
            client
                .send_audio(&tone(600.0, 8000, 8000.0, f * 160, 160))
                .unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // An extension that does not exist is refused; the call stays.
        let a = ask(
            &mut s,
            "3",
            json!({"type": "call:transfer", "call": call, "nummer": "1999"}),
        )
        .await;
        assert_eq!(a["type"], "error", "{a}");
        let a = ask(
            &mut s,
            "4",
            json!({"type": "call:transfer", "call": call, "nummer": "1003"}),
        )
        .await;
        assert_eq!(a["type"], "ok", "{a}");
        let end = next_of(&mut s, "call:ended").await;
        assert_eq!(end["call"], call.as_str(), "{end}");
        client.close().await;
    });
    let caller = caller.join().unwrap();
    let target = target.join().unwrap();
    let (heard, _) = target_media.finish();
    let _ = caller_media.finish();
    assert_eq!(caller.code, 0, "1002: {}\n{}", caller.all(), pbx.log_text());
    assert_eq!(target.code, 0, "1003: {}", target.all());
    let (p, e) = (goertzel(&heard, 1000.0, 8000), energy(&heard));
    assert!(
        heard.len() > 8000 && p / e > 0.3,
        "1002's 1 kHz at 1003: {} samples, {p:.0}/{e:.0}",
        heard.len()
    );
    let cdr = the_cdr(&pbx);
    assert_eq!(cdr["afloop"], "beantwoord", "{cdr}");
    assert!(
        cdr["forwarded_to"]
            .as_array()
            .is_some_and(|l| l.iter().any(|n| n == "1003")),
        "{cdr}"
    );
}

/// Two browsers talk Opus end to end; the one that called (anna, 1001) consults a SIP phone
/// (1003, A-law only) and completes: bert's bridge follows pbxd's G.711 re-INVITE and
/// transcodes, so 1003 hears bert's 800 Hz; 1003 hangs up, which ends bert's call.
#[test]
fn browsers_on_opus_consult_a_sip_phone_and_the_transfer_joins_them() {
    let (pbx, port, _pw2, cookie_a) = setup();
    pbx.ctl_in(
        &[
            "user",
            "add",
            "acme",
            "bert",
            "--name",
            "Bert",
            "--role",
            "agent",
            "--password-stdin",
        ],
        format!("{PW}\n").as_bytes(),
    )
    .ok();
    pbx.ctl(&["extension", "set", "acme", "1002", "--owner", "bert"])
        .ok();
    let r = login(port, "acme", "bert", PW, None);
    assert_eq!(r.status, 200, "{}", r.body);
    let cookie_b = session_cookie(&r);
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
        Duration::from_secs(40),
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let own = format!("http://localhost:{port}");
    let lo = "127.0.0.1".parse().unwrap();
    rt.block_on(async {
        let mut a = ws(port, Some(&cookie_a), &own).await.unwrap();
        let mut b = ws(port, Some(&cookie_b), &own).await.unwrap();
        next_of(&mut a, "welcome").await;
        next_of(&mut b, "welcome").await;
        let r = ask(&mut b, "1", json!({"type": "agent:login"})).await;
        assert_eq!(r["type"], "ok", "{r}");
        // bert's phone is registered (only browsers on 1002).
        let deadline = Instant::now() + Duration::from_secs(5);
        while !web::is_registered(&pbx, "1002") {
            assert!(Instant::now() < deadline, "1002 not registered");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let (mut ca, offer) = Client::offer(lo, &[Codec::Opus, Codec::Pcmu])
            .await
            .unwrap();
        let r = ask(
            &mut a,
            "2",
            json!({"type": "call:dial", "nummer": "1002", "sdp": offer}),
        )
        .await;
        assert_eq!(r["type"], "ok", "{r}");
        let first = r["call"].as_str().unwrap().to_string();
        ca.accept_answer(r["sdp"].as_str().unwrap()).unwrap();
        let inc = next_of(&mut b, "call:incoming").await;
        let (mut cb, offer) = Client::offer(lo, &[Codec::Opus, Codec::Pcmu])
            .await
            .unwrap();
        let r = ask(
            &mut b,
            "3",
            json!({"type": "call:answer", "call": inc["call"], "sdp": offer}),
        )
        .await;
        assert_eq!(r["type"], "ok", "{r}");
        cb.accept_answer(r["sdp"].as_str().unwrap()).unwrap();
        assert!(ca.connected(Duration::from_secs(5)).await, "anna ICE/DTLS");
        assert!(cb.connected(Duration::from_secs(5)).await, "bert ICE/DTLS");
        assert_eq!(
            (ca.codec(), cb.codec()),
            (Some(Codec::Opus), Some(Codec::Opus))
        );
        for f in 0..25u64 {
            cb.send_audio(&tone(800.0, 8000, 8000.0, f * 160, 160))
                .unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // anna consults 1003 (G.711) and completes.
        let (mut cc, offer) = Client::offer(lo, &[Codec::Opus, Codec::Pcmu])
            .await
            .unwrap();
        let r = ask(
            &mut a,
            "4",
            json!({"type": "call:consult", "call": first, "nummer": "1003", "sdp": offer}),
        )
        .await;
        assert_eq!(r["type"], "ok", "{r}");
        cc.accept_answer(r["sdp"].as_str().unwrap()).unwrap();
        assert!(
            cc.connected(Duration::from_secs(5)).await,
            "consult ICE/DTLS"
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let r = ask(
                &mut a,
                "5",
                json!({"type": "call:consult_complete", "call": first}),
            )
            .await;
            if r["type"] == "ok" {
                break;
            }
            assert!(Instant::now() < deadline, "consult_complete: {r}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // bert talks; 1003 must hear it through bert's bridge (now Opus -> G.711).
        for f in 25..145u64 {
            cb.send_audio(&tone(800.0, 8000, 8000.0, f * 160, 160))
                .unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // 1003 hangs up four seconds after the transfer; that ends bert's call.
        let end = next_of_in(&mut b, "call:ended", Duration::from_secs(8)).await;
        assert_eq!(end["call"], inc["call"], "{end}");
        for c in [ca, cb, cc] {
            c.close().await;
        }
    });
    let target = target.join().unwrap();
    let (heard, _) = target_media.finish();
    assert_eq!(target.code, 0, "1003: {}\n{}", target.all(), pbx.log_text());
    // The last two seconds at 1003 (after the transfer): bert's 800 Hz.
    let tail = &heard[heard.len().saturating_sub(16000)..];
    let (p, e) = (goertzel(tail, 800.0, 8000), energy(tail));
    assert!(
        tail.len() >= 8000 && p / e > 0.3,
        "bert's 800 Hz at 1003: {} samples, {p:.0}/{e:.0}\n{}",
        heard.len(),
        pbx.log_text()
    );
}

/// Direct doorverbinden of a call the agent made: the agent dials 1002 (SIPp, media at the
/// test), then transfers it to 1003 (SIPp, A-law). The call goes on hold (1002 sees
/// sendonly), a hidden call to 1003 is answered and joined (1002 gets sendrecv pointing at the
/// new relay), the page sees the call end as `doorverbonden`, 1003 hears 1002's 1 kHz and hangs
/// up after four seconds, which ends 1002's call too.
#[test]
fn the_browser_agent_transfers_a_call_it_made() {
    let (pbx, port, pw2, cookie) = setup();
    let pw3 = pbx.ctl_json(&["extension", "add", "acme", "1003", "--name", "Kees"])["password"]
        .as_str()
        .unwrap()
        .to_string();
    let (callee, callee_media) = web::answering_phone(
        &pbx,
        "1002",
        &pw2,
        "uas_held_socket.xml",
        Codec::Pcmu,
        Duration::from_secs(40),
    );
    let (target, target_media) = web::answering_phone(
        &pbx,
        "1003",
        &pw3,
        "uas_consulted.xml",
        Codec::Pcma,
        Duration::from_secs(40),
    );
    std::thread::sleep(Duration::from_millis(300));

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let own = format!("http://localhost:{port}");
        let mut s = ws(port, Some(&cookie), &own).await.unwrap();
        next_of(&mut s, "welcome").await;
        let (mut client, offer) = Client::offer("127.0.0.1".parse().unwrap(), &[Codec::Pcmu])
            .await
            .unwrap();
        let a = ask(
            &mut s,
            "1",
            json!({"type": "call:dial", "nummer": "1002", "sdp": offer}),
        )
        .await;
        assert_eq!(a["type"], "ok", "{a}");
        let call = a["call"].as_str().unwrap().to_string();
        client.accept_answer(a["sdp"].as_str().unwrap()).unwrap();
        assert!(
            client.connected(Duration::from_secs(5)).await,
            "ICE/DTLS up"
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let st = next_of(&mut s, "call:state").await;
            if st["state"] == "verbonden" {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{st}");
        }
        // The agent talks first, so 1002's socket learns where to send.
        for f in 0..25u64 {
            client
                .send_audio(&tone(600.0, 8000, 8000.0, f * 160, 160))
                .unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let a = ask(
            &mut s,
            "2",
            json!({"type": "call:transfer", "call": call, "nummer": "1003"}),
        )
        .await;
        assert_eq!(a["type"], "ok", "{a}");
        let end = next_of(&mut s, "call:ended").await;
        assert_eq!(
            (end["call"].as_str(), end["afloop"].as_str()),
            (Some(call.as_str()), Some("doorverbonden")),
            "{end}"
        );
        client.close().await;
    });
    let callee = callee.join().unwrap();
    let target = target.join().unwrap();
    let (heard, _) = target_media.finish();
    let _ = callee_media.finish();
    assert_eq!(callee.code, 0, "1002: {}\n{}", callee.all(), pbx.log_text());
    assert_eq!(target.code, 0, "1003: {}", target.all());
    let tail = &heard[heard.len().saturating_sub(16000)..];
    let (p, e) = (goertzel(tail, 1000.0, 8000), energy(tail));
    assert!(
        tail.len() >= 8000 && p / e > 0.3,
        "1002's 1 kHz at 1003: {} samples, {p:.0}/{e:.0}",
        heard.len()
    );
}

/// A direct transfer of a call the agent made, to a number that does not exist: the call goes
/// on hold, 1002 hears pbxd's announcement, the call comes back (1002 sees sendonly, then
/// sendrecv), the page gets an `error` with code `doorverbinden` and the call is verbonden
/// again; the agent hangs up.
#[test]
fn a_failed_transfer_of_a_call_the_agent_made_gives_the_call_back() {
    let (pbx, port, pw2, cookie) = setup();
    let sipp_port = free_udp_port();
    register_phone(&pbx, "1002", &pw2, "acme.example", sipp_port);
    let mut callee = sipp_command(&pbx, pbx.sip_port, "uas_held.xml", "1002", &pw2, sipp_port);
    let callee = std::thread::spawn(move || run_for(&mut callee, None, Duration::from_secs(40)));
    std::thread::sleep(Duration::from_millis(300));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let own = format!("http://localhost:{port}");
        let mut s = ws(port, Some(&cookie), &own).await.unwrap();
        next_of(&mut s, "welcome").await;
        let (mut client, offer) = Client::offer("127.0.0.1".parse().unwrap(), &[Codec::Pcmu])
            .await
            .unwrap();
        let a = ask(
            &mut s,
            "1",
            json!({"type": "call:dial", "nummer": "1002", "sdp": offer}),
        )
        .await;
        assert_eq!(a["type"], "ok", "{a}");
        let call = a["call"].as_str().unwrap().to_string();
        client.accept_answer(a["sdp"].as_str().unwrap()).unwrap();
        assert!(
            client.connected(Duration::from_secs(5)).await,
            "ICE/DTLS up"
        );
        let wait_state = |want: &'static str| {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            (want, deadline)
        };
        let (want, deadline) = wait_state("verbonden");
        loop {
            let st = next_of(&mut s, "call:state").await;
            if st["state"] == want {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{st}");
        }
        let a = ask(
            &mut s,
            "2",
            json!({"type": "call:transfer", "call": call, "nummer": "1999"}),
        )
        .await;
        assert_eq!(a["type"], "ok", "{a}");
        // pbxd first plays its announcement for an unknown number (early media, heard by 1002:
        // the hidden call's media already goes there), then answers 404.
        let e = next_of_in(&mut s, "error", Duration::from_secs(20)).await;
        assert_eq!(
            (e["code"].as_str(), e["call"].as_str()),
            (Some("doorverbinden"), Some(call.as_str())),
            "{e}"
        );
        assert!(
            e["message"].as_str().is_some_and(|m| m.contains("1999")),
            "{e}"
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let st = next_of(&mut s, "call:state").await;
            if st["state"] == "verbonden" && st["call"] == call.as_str() {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{st}");
        }
        let a = ask(&mut s, "3", json!({"type": "call:hangup", "call": call})).await;
        assert_eq!(a["type"], "ok", "{a}");
        let end = next_of(&mut s, "call:ended").await;
        assert_eq!(end["afloop"], "beantwoord", "{end}");
        client.close().await;
    });
    let callee = callee.join().unwrap();
    assert_eq!(callee.code, 0, "1002: {}\n{}", callee.all(), pbx.log_text());
}

/// The page is reloaded during a call: its peer connection and WebSocket are gone, the call is
/// not. The new page gets the call's `call:state` and sends `call:reoffer` with a new offer; pbxd
/// answers it with a new bridge and points the relay there with a re-INVITE (SIPp 1002 checks
/// that it keeps sendrecv). Both sides hear each other again: the new page the SIP side's 1 kHz,
/// the SIP side the page's 800 Hz. A reoffer for an unknown call is `niet_gevonden`.
#[test]
fn after_a_reload_the_page_gets_its_audio_back_with_call_reoffer() {
    let (pbx, port, pw2, cookie) = setup();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let own = format!("http://localhost:{port}");
    let lo: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    let mut s = rt.block_on(ws(port, Some(&cookie), &own)).unwrap();
    rt.block_on(next_of(&mut s, "welcome"));
    let a = rt.block_on(ask(&mut s, "1", json!({"type": "agent:login"})));
    assert_eq!(a["type"], "ok", "{a}");
    wait_registered(&pbx, true);

    let caller_media = web::SipMedia::start();
    let mut caller = web::sipp_caller(
        &pbx,
        "call_agent_reloads.xml",
        "1002",
        &pw2,
        free_udp_port(),
        "1001",
        caller_media.port,
    );
    let caller = std::thread::spawn(move || run_for(&mut caller, None, Duration::from_secs(40)));

    let got = rt.block_on(async move {
        let inc = next_of(&mut s, "call:incoming").await;
        let call = inc["call"].as_str().unwrap().to_string();
        let (mut first, offer) = Client::offer(lo, &[Codec::Pcmu]).await.unwrap();
        let a = ask(
            &mut s,
            "2",
            json!({"type": "call:answer", "call": call, "sdp": offer}),
        )
        .await;
        assert_eq!(a["type"], "ok", "{a}");
        first.accept_answer(a["sdp"].as_str().unwrap()).unwrap();
        assert!(first.connected(Duration::from_secs(5)).await, "ICE/DTLS up");
        for f in 0..40u64 {
            first
                .send_audio(&tone(600.0, 8000, 8000.0, f * 160, 160))
                .unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The reload: media and WebSocket gone.
        first.close().await;
        drop(s);
        let mut s = ws(port, Some(&cookie), &own).await.unwrap();
        next_of(&mut s, "welcome").await;
        // The call in progress comes right after, as `call:state`.
        let st = next_of(&mut s, "call:state").await;
        assert_eq!(
            (st["call"].as_str(), st["state"].as_str()),
            (Some(call.as_str()), Some("verbonden")),
            "{st}"
        );
        let (mut second, offer) = Client::offer(lo, &[Codec::Pcmu]).await.unwrap();
        let r = ask(
            &mut s,
            "3",
            json!({"type": "call:reoffer", "call": "bestaat-niet", "sdp": offer}),
        )
        .await;
        assert_eq!(
            (r["type"].as_str(), r["code"].as_str()),
            (Some("error"), Some("niet_gevonden")),
            "{r}"
        );
        let r = ask(
            &mut s,
            "4",
            json!({"type": "call:reoffer", "call": call, "sdp": offer}),
        )
        .await;
        assert_eq!(r["type"], "ok", "{r}");
        second.accept_answer(r["sdp"].as_str().unwrap()).unwrap();
        assert!(
            second.connected(Duration::from_secs(5)).await,
            "new ICE/DTLS up"
        );
        let mut got = Vec::new();
        for f in 0..100u64 {
            second
                .send_audio(&tone(800.0, 8000, 8000.0, f * 160, 160))
                .unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
            while let Some(p) = second.recv(Duration::from_millis(1)).await {
                second.decode(&p.payload, &mut got);
            }
        }
        let end = next_of_in(&mut s, "call:ended", Duration::from_secs(10)).await;
        assert_eq!(end["call"], call.as_str(), "{end}");
        second.close().await;
        got
    });
    let caller = caller.join().unwrap();
    let (heard, _) = caller_media.finish();
    assert_eq!(caller.code, 0, "1002: {}\n{}", caller.all(), pbx.log_text());
    // The new page hears the SIP side's 1 kHz.
    let tail = &got[got.len().saturating_sub(8000)..];
    let (p, e) = (goertzel(tail, 1000.0, 8000), energy(tail));
    assert!(
        tail.len() >= 4000 && p / e > 0.3,
        "1 kHz at the reloaded page: {} samples, {p:.0}/{e:.0}",
        got.len()
    );
    // The SIP side hears the new page's 800 Hz at the end.
    let tail = &heard[heard.len().saturating_sub(8000)..];
    let (p, e) = (goertzel(tail, 800.0, 8000), energy(tail));
    assert!(
        tail.len() >= 8000 && p / e > 0.3,
        "800 Hz at the SIP side: {} samples, {p:.0}/{e:.0}",
        heard.len()
    );
}
