//! The answer to a real Chrome 156 offer, and offers that must be refused.

mod common;

use std::time::Instant;

use pbx_webrtc::{Bridge, Codec, Error};

const CHROME: &str = include_str!("data/chrome156-offer.sdp");

fn lines(sdp: &str) -> Vec<&str> {
    sdp.lines().map(str::trim_end).collect()
}

#[tokio::test]
async fn chrome156_offer_gets_pcmu_and_telephone_event_8000() {
    let ports = common::ports();
    let cfg = common::config(ports.clone(), &[Codec::Pcmu, Codec::Pcma], false);
    let before = ports.available();
    let (bridge, answer) = Bridge::accept_offer(&cfg, CHROME).await.expect("answer");
    eprintln!("{answer}\n{}", bridge.plain_sdp());
    let l = lines(&answer);
    let m = l
        .iter()
        .find(|x| x.starts_with("m=audio "))
        .expect("m=audio");
    let fmts: Vec<&str> = m.split_whitespace().skip(3).collect();
    assert_eq!(
        m.split_whitespace().nth(2),
        Some("UDP/TLS/RTP/SAVPF"),
        "{answer}"
    );
    assert_eq!(fmts, ["0", "126"], "{answer}");
    assert!(l.contains(&"a=rtpmap:0 PCMU/8000"), "{answer}");
    assert!(l.contains(&"a=rtpmap:126 telephone-event/8000"), "{answer}");
    assert!(!answer.contains("telephone-event/48000"), "{answer}");
    assert!(!answer.contains("opus"), "{answer}");
    assert!(
        l.iter().any(|x| x.starts_with("a=fingerprint:sha-256 ")),
        "{answer}"
    );
    // Chrome offers actpass; the answerer must pick a role.
    assert!(
        l.contains(&"a=setup:active") || l.contains(&"a=setup:passive"),
        "{answer}"
    );
    assert!(l.iter().any(|x| x.starts_with("a=ice-ufrag:")), "{answer}");
    assert!(l.iter().any(|x| x.starts_with("a=ice-pwd:")), "{answer}");
    assert!(l.contains(&"a=mid:0"), "{answer}");
    let port = bridge.webrtc_addr().port();
    let cand = l
        .iter()
        .find(|x| x.starts_with("a=candidate:"))
        .expect("candidate");
    let f: Vec<&str> = cand.split_whitespace().collect();
    assert_eq!(
        (f[2], f[4], f[5], f[7]),
        ("udp", "127.0.0.1", &*port.to_string(), "host")
    );

    let plain = bridge.plain_sdp();
    let pl = lines(&plain);
    let pport = bridge.plain_addr().port();
    assert_eq!(pport % 2, 0);
    assert!(pl.contains(&"c=IN IP4 127.0.0.1"), "{plain}");
    assert!(
        pl.contains(&&*format!("m=audio {pport} RTP/AVP 0 101")),
        "{plain}"
    );
    for want in [
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=ptime:20",
        "a=sendrecv",
    ] {
        assert!(pl.contains(&want), "{want} in {plain}");
    }
    assert_eq!(ports.available(), before - 2);
    bridge.close().await;
    assert_eq!(ports.available(), before);
}

#[tokio::test]
async fn chrome156_offer_with_pcma_first_and_forced_opus() {
    let ports = common::ports();
    let cfg = common::config(ports.clone(), &[Codec::Pcma], false);
    let (b, answer) = Bridge::accept_offer(&cfg, CHROME).await.expect("answer");
    assert!(answer.contains("a=rtpmap:8 PCMA/8000"), "{answer}");
    assert!(
        answer.contains("a=rtpmap:126 telephone-event/8000"),
        "{answer}"
    );
    assert!(!answer.contains("telephone-event/48000"), "{answer}");
    assert_eq!(b.codecs(), (Codec::Pcma, Codec::Pcma));
    b.close().await;

    let cfg = common::config(ports.clone(), &[Codec::Pcmu], true);
    let (b, answer) = Bridge::accept_offer(&cfg, CHROME).await.expect("answer");
    assert!(answer.contains("a=rtpmap:111 opus/48000/2"), "{answer}");
    assert!(!answer.contains("PCMU"), "{answer}");
    assert_eq!(b.codecs(), (Codec::Opus, Codec::Pcmu));
    assert!(b.plain_sdp().contains("a=rtpmap:0 PCMU/8000"));
    b.close().await;
}

async fn refused(sdp: &str) -> Error {
    let ports = common::ports();
    let before = ports.available();
    let cfg = common::config(ports.clone(), &[Codec::Pcmu], false);
    let e = Bridge::accept_offer(&cfg, sdp)
        .await
        .expect_err("must be refused");
    assert_eq!(ports.available(), before, "ports given back after {e}");
    e
}

#[tokio::test]
async fn garbage_and_insecure_offers_are_refused_in_dutch() {
    for garbage in [
        "",
        "hallo",
        "v=0\r\n",
        "v=1\r\no=- 1 1 IN IP4 1.2.3.4\r\n",
        "\u{0}\u{1}\u{2}",
        &"a".repeat(100_000),
        &CHROME.replace("m=audio 50399 UDP/TLS/RTP/SAVPF", "m=audio x"),
    ] {
        let e = refused(garbage).await;
        let t = e.to_string();
        assert!(
            t.contains("SDP") || t.contains("audiostroom") || t.contains("ongeldig"),
            "{t}"
        );
    }
    let no_fp: String = CHROME
        .lines()
        .filter(|l| !l.starts_with("a=fingerprint"))
        .map(|l| format!("{l}\n"))
        .collect();
    let e = refused(&no_fp).await;
    assert!(matches!(e, Error::NoFingerprint), "{e}");
    assert!(e.to_string().contains("vingerafdruk"), "{e}");

    let sdes = CHROME.replace(
        "a=mid:0\r\n",
        "a=mid:0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n",
    );
    let e = refused(&sdes).await;
    assert!(matches!(e, Error::Sdes), "{e}");

    let only_video = CHROME.replace("m=audio", "m=video");
    assert!(matches!(refused(&only_video).await, Error::NoAudio));

    let no_common: String = CHROME
        .replace(" 111 63 9 0 8 13 110 126", " 9 13")
        .lines()
        .filter(|l| !l.contains(" opus/") && !l.contains("PCM"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    let e = refused(&no_common).await;
    assert!(matches!(e, Error::NoCodec(_)), "{e}");
    assert!(
        e.to_string().contains("geen gemeenschappelijke codec"),
        "{e}"
    );

    // A byte flipped anywhere must never panic.
    let started = Instant::now();
    let bytes = CHROME.as_bytes();
    for i in (0..bytes.len()).step_by(23) {
        let mut b = bytes.to_vec();
        b[i] ^= 0x5a;
        if let Ok(s) = String::from_utf8(b) {
            let ports = common::ports();
            let cfg = common::config(ports, &[Codec::Pcmu], false);
            if let Ok((br, _)) = Bridge::accept_offer(&cfg, &s).await {
                br.close().await;
            }
        }
    }
    assert!(started.elapsed().as_secs() < 60);
}

#[tokio::test]
async fn public_ip_is_an_extra_candidate_and_unspecified_bind_needs_it() {
    use std::net::{IpAddr, Ipv4Addr};
    let public = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 5));
    let ports = common::ports();
    let mut cfg = common::config(ports.clone(), &[Codec::Pcmu], false);
    cfg.public_ip = Some(public);
    let (b, answer) = Bridge::accept_offer(&cfg, CHROME).await.expect("answer");
    let port = b.webrtc_addr().port().to_string();
    let cands: Vec<Vec<&str>> = lines(&answer)
        .into_iter()
        .filter(|l| l.starts_with("a=candidate:"))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(cands.len(), 2, "{answer}");
    assert!(
        cands.iter().any(|c| c[4] == "127.0.0.1" && c[5] == port),
        "{answer}"
    );
    assert!(
        cands.iter().any(|c| c[4] == "203.0.113.5" && c[5] == port),
        "{answer}"
    );
    b.close().await;

    cfg.bind_ip = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    let (b, answer) = Bridge::accept_offer(&cfg, CHROME).await.expect("answer");
    let cands: Vec<&str> = lines(&answer)
        .into_iter()
        .filter(|l| l.starts_with("a=candidate:"))
        .collect();
    assert_eq!(cands.len(), 1, "{answer}");
    assert!(cands[0].contains(" 203.0.113.5 "), "{answer}");
    b.close().await;

    cfg.public_ip = None;
    let before = ports.available();
    let e = Bridge::accept_offer(&cfg, CHROME)
        .await
        .expect_err("no candidate");
    assert!(matches!(e, Error::NoCandidate(_)), "{e}");
    assert!(e.to_string().contains("public_ip"), "{e}");
    assert_eq!(ports.available(), before);
}
