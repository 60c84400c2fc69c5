//! Client <-> Bridge over loopback: ICE, DTLS-SRTP, media both ways, telephone-event,
//! transcoding, and a bridge that gives up without ICE.

mod common;

use std::time::{Duration, Instant};

use pbx_webrtc::audio::{self, energy, goertzel, tone};
use pbx_webrtc::{Bridge, Client, Codec, PLAIN_EVENT_PT};

const SECOND: Duration = Duration::from_secs(1);

/// Asserts a clear 1 kHz tone in 8 kHz samples (most of the energy at 1 kHz, and loud).
fn assert_tone(samples: &[i16], what: &str) {
    assert!(
        samples.len() >= 1600,
        "{what}: only {} samples",
        samples.len()
    );
    let p1k = goertzel(samples, 1000.0, 8000);
    let p2k = goertzel(samples, 2000.0, 8000);
    let e = energy(samples);
    // A pure sine: Goertzel power / mean square = 0.5.
    assert!(p1k / e > 0.35, "{what}: 1 kHz {p1k:.0} of {e:.0}");
    assert!(p2k < 0.01 * p1k, "{what}: 2 kHz {p2k:.0} vs {p1k:.0}");
    assert!(e > 1.0e6, "{what}: too quiet ({e:.0})");
}

async fn connect(
    codecs_client: &[Codec],
    plain: &[Codec],
    force: bool,
) -> (Client, Bridge, tokio::net::UdpSocket) {
    let ports = common::ports();
    let cfg = common::config(ports, plain, force);
    let (mut client, offer) = Client::offer(common::LOOPBACK, codecs_client)
        .await
        .expect("offer");
    let (bridge, answer) = Bridge::accept_offer(&cfg, &offer).await.expect("answer");
    client.accept_answer(&answer).expect("accept answer");
    let relay = common::relay().await;
    bridge.set_plain_remote(relay.local_addr().expect("relay addr"));
    assert!(client.connected(5 * SECOND).await, "ICE/DTLS not up");
    (client, bridge, relay)
}

#[tokio::test]
async fn pcmu_tone_both_ways_and_telephone_event() {
    let (mut client, bridge, relay) = connect(
        &[Codec::Opus, Codec::Pcmu, Codec::Pcma],
        &[Codec::Pcmu, Codec::Pcma],
        false,
    )
    .await;
    assert_eq!(client.codec(), Some(Codec::Pcmu));
    assert_eq!(client.event_pt(), Some(126));
    assert_eq!(bridge.codecs(), (Codec::Pcmu, Codec::Pcmu));

    // Browser -> plain: 1 s of 1 kHz PCMU.
    let mut got = Vec::new();
    let mut pts = Vec::new();
    for f in 0..50u64 {
        client
            .send_audio(&tone(1000.0, 8000, 8000.0, f * 160, 160))
            .expect("send");
        tokio::time::sleep(Duration::from_millis(20)).await;
        while let Some((buf, _)) = common::recv(&relay, Duration::from_millis(1)).await {
            if let Some((pt, _, _, payload)) = common::parse(&buf) {
                pts.push(pt);
                audio::g711_decode(Codec::Pcmu, &payload, &mut got);
            }
        }
    }
    let deadline = Instant::now() + SECOND;
    while got.len() < 48 * 160 && Instant::now() < deadline {
        if let Some((buf, _)) = common::recv(&relay, Duration::from_millis(200)).await {
            if let Some((pt, _, _, payload)) = common::parse(&buf) {
                pts.push(pt);
                audio::g711_decode(Codec::Pcmu, &payload, &mut got);
            }
        }
    }
    assert!(pts.iter().all(|&pt| pt == 0), "{pts:?}");
    assert!(
        got.len() >= 45 * 160,
        "{} samples on the plain side",
        got.len()
    );
    assert_tone(&got[800..], "browser -> plain");

    // A telephone-event (digit 5) from the browser arrives as PT 101.
    client.send_event(5, false, 160, true);
    client.send_event(5, true, 800, false);
    let mut events = Vec::new();
    let deadline = Instant::now() + 2 * SECOND;
    while events.len() < 2 && Instant::now() < deadline {
        if let Some((buf, _)) = common::recv(&relay, Duration::from_millis(200)).await {
            if let Some((pt, _, ts, payload)) = common::parse(&buf) {
                if pt != 0 {
                    events.push((pt, ts, payload));
                }
            }
        }
    }
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events.iter().all(|e| e.0 == PLAIN_EVENT_PT), "{events:?}");
    assert_eq!(events[0].1, events[1].1, "one event, one timestamp");
    assert_eq!(events[0].2[0], 5);
    assert_eq!(events[1].2[1] & 0x80, 0x80, "end bit");

    // Plain -> browser: the relay sends 1 s of PCMU, the client decodes a 1 kHz tone.
    let dst = bridge.plain_addr();
    for f in 0..50u16 {
        let mut payload = Vec::new();
        audio::g711_encode(
            Codec::Pcmu,
            &tone(1000.0, 8000, 8000.0, u64::from(f) * 160, 160),
            &mut payload,
        );
        let pkt = common::rtp(
            0,
            1000 + f,
            16000 + u32::from(f) * 160,
            0x1234,
            f == 0,
            &payload,
        );
        relay.send_to(&pkt, dst).await.expect("send");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut back = Vec::new();
    let mut back_pts = Vec::new();
    while let Some(p) = client.recv(Duration::from_millis(500)).await {
        back_pts.push(p.pt);
        client.decode(&p.payload, &mut back);
    }
    assert!(back_pts.iter().all(|&pt| pt == 0), "{back_pts:?}");
    assert!(
        back.len() >= 45 * 160,
        "{} samples at the client",
        back.len()
    );
    assert_tone(&back[800..], "plain -> browser");

    // A telephone-event from the relay reaches the browser with the browser's PT.
    let ev = common::rtp(PLAIN_EVENT_PT, 2000, 99999, 0x1234, true, &[7, 10, 0, 160]);
    relay.send_to(&ev, dst).await.expect("send");
    let p = client.recv(2 * SECOND).await.expect("event at the client");
    assert_eq!((p.pt, p.payload[0]), (126, 7));

    let st = bridge.stats();
    assert!(st.connected);
    assert!(st.packets_in >= 50 && st.packets_out >= 50, "{st:?}");
    assert!(st.plain_out >= 50 && st.plain_in >= 50, "{st:?}");
    assert!(st.first_plain_packet.is_some());
    client.close().await;
    bridge.close().await;
}

#[tokio::test]
async fn opus_only_browser_is_transcoded_to_pcmu_and_back() {
    let (mut client, bridge, relay) = connect(&[Codec::Opus], &[Codec::Pcmu], false).await;
    assert_eq!(client.codec(), Some(Codec::Opus));
    assert_eq!(bridge.codecs(), (Codec::Opus, Codec::Pcmu));
    assert!(bridge.plain_sdp().contains("RTP/AVP 0 101"));

    let mut got = Vec::new();
    let mut meta = Vec::new();
    for f in 0..50u64 {
        client
            .send_audio(&tone(1000.0, 8000, 8000.0, f * 160, 160))
            .expect("send");
        tokio::time::sleep(Duration::from_millis(20)).await;
        while let Some((buf, _)) = common::recv(&relay, Duration::from_millis(1)).await {
            if let Some((pt, seq, ts, payload)) = common::parse(&buf) {
                meta.push((pt, seq, ts, payload.len()));
                audio::g711_decode(Codec::Pcmu, &payload, &mut got);
            }
        }
    }
    while let Some((buf, _)) = common::recv(&relay, Duration::from_millis(300)).await {
        if let Some((pt, seq, ts, payload)) = common::parse(&buf) {
            meta.push((pt, seq, ts, payload.len()));
            audio::g711_decode(Codec::Pcmu, &payload, &mut got);
        }
    }
    assert!(meta.iter().all(|m| m.0 == 0 && m.3 == 160), "{meta:?}");
    for w in meta.windows(2) {
        assert_eq!(
            w[1].2.wrapping_sub(w[0].2),
            160u32.wrapping_mul(u32::from(w[1].1.wrapping_sub(w[0].1))),
            "{w:?}"
        );
    }
    assert!(got.len() >= 45 * 160, "{} samples", got.len());
    assert_tone(&got[1600..], "opus -> pcmu");

    // Way back: PCMU from the relay becomes Opus for the browser.
    let dst = bridge.plain_addr();
    for f in 0..50u16 {
        let mut payload = Vec::new();
        audio::g711_encode(
            Codec::Pcmu,
            &tone(1000.0, 8000, 8000.0, u64::from(f) * 160, 160),
            &mut payload,
        );
        let pkt = common::rtp(
            0,
            500 + f,
            8000 + u32::from(f) * 160,
            0x4321,
            f == 0,
            &payload,
        );
        relay.send_to(&pkt, dst).await.expect("send");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut back = Vec::new();
    let mut tss = Vec::new();
    while let Some(p) = client.recv(Duration::from_millis(500)).await {
        assert_eq!(p.pt, 111);
        tss.push(p.ts);
        client.decode(&p.payload, &mut back);
    }
    for w in tss.windows(2) {
        assert_eq!(w[1].wrapping_sub(w[0]), 960, "{tss:?}");
    }
    assert!(back.len() >= 45 * 160, "{} samples", back.len());
    assert_tone(&back[1600..], "pcmu -> opus");

    // DTMF while transcoding: Chrome's offer has both event rates, so with Opus the answer
    // has telephone-event/48000; it still arrives as 101 (8000 Hz) on the plain side.
    assert_eq!((client.event_pt(), client.event_rate()), (Some(110), 48000));
    client.send_event(3, true, 800, true);
    let mut ev = None;
    while let Some((buf, _)) = common::recv(&relay, 2 * SECOND).await {
        if let Some((pt, _, _, payload)) = common::parse(&buf) {
            if pt == PLAIN_EVENT_PT {
                ev = Some(payload);
                break;
            }
        }
    }
    let ev = ev.expect("event on the plain side");
    assert_eq!(ev[0], 3);
    assert_eq!(
        u16::from_be_bytes([ev[2], ev[3]]),
        800,
        "duration in 8 kHz units"
    );
    client.close().await;
    bridge.close().await;
}

/// A browser on Opus offered to the plain side with alternatives: Opus pass-through until the
/// answer says PCMU, then the bridge transcodes (for a call to a browser that ends up at a
/// phone without Opus, e.g. forwarded).
#[tokio::test]
async fn opus_offer_with_alternatives_follows_a_pcmu_answer() {
    let (mut client, bridge, relay) = connect(
        &[Codec::Opus, Codec::Pcmu],
        &[Codec::Opus, Codec::Pcmu, Codec::Pcma],
        false,
    )
    .await;
    assert_eq!(bridge.codecs(), (Codec::Opus, Codec::Opus));
    let offer = bridge.plain_offer_sdp();
    assert!(offer.contains("RTP/AVP 111 0 8 101"), "{offer}");
    assert!(offer.contains("a=rtpmap:111 opus/48000/2"), "{offer}");
    // An answer without any codec of ours changes nothing.
    assert_eq!(
        bridge.set_plain_answer("v=0\r\nm=audio 4000 RTP/AVP 9\r\n"),
        None
    );
    // Opus both ways: the browser's Opus reaches the relay as it is (pt 111, 48 kHz clock).
    client
        .send_audio(&tone(1000.0, 8000, 8000.0, 0, 160))
        .expect("send");
    let first = loop {
        let (buf, _) = common::recv(&relay, 2 * SECOND)
            .await
            .expect("rtp at the relay");
        if let Some((pt, ..)) = common::parse(&buf) {
            break pt;
        }
    };
    assert_eq!(first, 111);
    // The far end answered PCMU: from now on µ-law on the plain side.
    let answer =
        "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n";
    assert_eq!(bridge.set_plain_answer(answer), Some(Codec::Pcmu));
    assert_eq!(bridge.codecs(), (Codec::Opus, Codec::Pcmu));
    tokio::time::sleep(Duration::from_millis(50)).await;
    while common::recv(&relay, Duration::from_millis(50))
        .await
        .is_some()
    {}
    let mut got = Vec::new();
    let mut pts = Vec::new();
    for f in 1..90u64 {
        client
            .send_audio(&tone(1000.0, 8000, 8000.0, f * 160, 160))
            .expect("send");
        tokio::time::sleep(Duration::from_millis(20)).await;
        while let Some((buf, _)) = common::recv(&relay, Duration::from_millis(1)).await {
            if let Some((pt, _, _, payload)) = common::parse(&buf) {
                pts.push(pt);
                audio::g711_decode(Codec::Pcmu, &payload, &mut got);
            }
        }
    }
    assert!(pts.iter().all(|&p| p == 0), "{pts:?}");
    assert!(got.len() >= 80 * 160, "{} samples", got.len());
    // A decoder that joins a running Opus stream needs a moment (CELT predicts each frame's
    // energy from the one before, which it did not see): the tone is checked after 1 s.
    assert_tone(&got[8000..], "opus -> pcmu after the answer");
    client.close().await;
    bridge.close().await;
}

/// A bridge can also offer (calls to a WebRTC SIP client): here a second bridge plays the
/// browser and answers. PCMU from one plain side arrives at the other's, telephone-event too.
#[tokio::test]
async fn a_bridge_offers_and_a_browser_answers() {
    let ports = common::ports();
    let (pending, offer) = Bridge::offer(&common::config(
        ports.clone(),
        &[Codec::Pcma, Codec::Pcmu],
        false,
    ))
    .await
    .expect("offer");
    assert!(offer.contains("UDP/TLS/RTP/SAVPF 8 0"), "{offer}");
    assert!(offer.contains("a=fingerprint:"), "{offer}");
    assert!(offer.contains("telephone-event/8000"), "{offer}");
    // The "browser" only has PCMU: the answer picks it, the offering bridge follows.
    let (browser, answer) = Bridge::accept_offer(
        &common::config(ports.clone(), &[Codec::Pcmu], false),
        &offer,
    )
    .await
    .expect("answer");
    let ours = pending.accept_answer(&answer).expect("accept answer");
    assert_eq!(ours.codecs(), (Codec::Pcmu, Codec::Pcmu));
    assert!(
        ours.plain_sdp().contains("RTP/AVP 0 101"),
        "{}",
        ours.plain_sdp()
    );
    let (relay_a, relay_b) = (common::relay().await, common::relay().await);
    ours.set_plain_remote(relay_a.local_addr().expect("addr"));
    browser.set_plain_remote(relay_b.local_addr().expect("addr"));
    let dst = ours.plain_addr();
    let mut got = Vec::new();
    for f in 0..100u16 {
        let mut payload = Vec::new();
        audio::g711_encode(
            Codec::Pcmu,
            &tone(1000.0, 8000, 8000.0, u64::from(f) * 160, 160),
            &mut payload,
        );
        let pkt = common::rtp(0, 100 + f, u32::from(f) * 160, 0x1111, f == 0, &payload);
        relay_a.send_to(&pkt, dst).await.expect("send");
        tokio::time::sleep(Duration::from_millis(20)).await;
        while let Some((buf, _)) = common::recv(&relay_b, Duration::from_millis(1)).await {
            if let Some((0, _, _, payload)) = common::parse(&buf) {
                audio::g711_decode(Codec::Pcmu, &payload, &mut got);
            }
        }
    }
    assert!(
        got.len() >= 50 * 160,
        "{} samples through both bridges",
        got.len()
    );
    assert_tone(&got[1600..], "offering bridge -> answering bridge");
    // A bad answer is refused in Dutch and gives the ports back.
    let before = ports.available();
    let (pending, _) = Bridge::offer(&common::config(ports.clone(), &[Codec::Pcmu], false))
        .await
        .expect("offer");
    let e = pending
        .accept_answer("v=0\r\n")
        .expect_err("garbage answer");
    assert!(e.to_string().contains("antwoord"), "{e}");
    assert_eq!(ports.available(), before);
    ours.close().await;
    browser.close().await;
}

#[tokio::test]
async fn bridge_without_ice_closes_and_gives_ports_back() {
    let ports = common::ports();
    let before = ports.available();
    let cfg = common::config(ports.clone(), &[Codec::Pcmu], false);
    let (client, offer) = Client::offer(common::LOOPBACK, &[Codec::Pcmu])
        .await
        .expect("offer");
    // The client never gets the answer: no ICE.
    let started = Instant::now();
    let (bridge, _answer) = Bridge::accept_offer(&cfg, &offer).await.expect("answer");
    assert_eq!(ports.available(), before - 2);
    tokio::time::timeout(15 * SECOND, bridge.on_closed())
        .await
        .expect("closes by itself");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(9) && took < Duration::from_secs(15),
        "{took:?}"
    );
    assert!(bridge.is_closed());
    let st = bridge.stats();
    assert!(!st.connected);
    assert!(
        st.closed.as_deref().is_some_and(|r| r.contains("ICE")),
        "{st:?}"
    );
    // Ports come back without close().
    let deadline = Instant::now() + SECOND;
    while ports.available() != before && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(ports.available(), before);
    drop(client);
    bridge.close().await;
}

#[tokio::test]
async fn browser_gone_closes_the_bridge() {
    let (client, bridge, _relay) = connect(&[Codec::Pcmu], &[Codec::Pcmu], false).await;
    let closed = bridge.on_closed();
    client.close().await;
    tokio::time::timeout(Duration::from_secs(40), closed)
        .await
        .expect("bridge notices the browser is gone");
    assert!(bridge.stats().closed.is_some());
    bridge.close().await;
}
