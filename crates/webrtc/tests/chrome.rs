//! Real headless Chromium against a bridge: Chrome's offer, our answer, ICE + DTLS-SRTP, the
//! fake microphone's audio as PCMU on the plain side, DTMF from `RTCDTMFSender` as PT 101, and
//! the relay's echo back in Chrome (`inbound-rtp` packets). Skipped (with a note) when
//! /usr/bin/chromium is missing.

mod common;

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pbx_webrtc::{Bridge, Codec, PLAIN_EVENT_PT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const CHROMIUM: &str = "/usr/bin/chromium";

const PAGE: &str = r#"<!doctype html><html><body><script>
(async () => {
  const post = (p, b) => fetch(p, {method: 'POST', body: b}).then(r => r.text());
  try {
    const pc = new RTCPeerConnection();
    const s = await navigator.mediaDevices.getUserMedia({audio: true});
    for (const t of s.getAudioTracks()) pc.addTrack(t, s);
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise(r => {
      if (pc.iceGatheringState === 'complete') r();
      pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') r(); };
      setTimeout(r, 5000);
    });
    const answer = await post('/offer', pc.localDescription.sdp);
    await pc.setRemoteDescription({type: 'answer', sdp: answer});
    await new Promise(r => setTimeout(r, 2500));
    pc.getSenders()[0].dtmf.insertDTMF('5', 200, 100);
    await new Promise(r => setTimeout(r, 1500));
    let inbound = 0, state = pc.connectionState;
    (await pc.getStats()).forEach(s => { if (s.type === 'inbound-rtp' && s.kind === 'audio') inbound = s.packetsReceived; });
    await post('/result', JSON.stringify({inbound, state}));
  } catch (e) { await post('/result', JSON.stringify({error: String(e)})); }
})();
</script></body></html>"#;

async fn read_request(s: &mut TcpStream) -> Option<(String, String)> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let head_end = loop {
        let n = s.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 1 << 20 {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let path = head.split_whitespace().nth(1)?.to_string();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())
                .flatten()
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = s.read(&mut tmp).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&tmp[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..]).to_string();
    Some((path, body))
}

async fn respond(s: &mut TcpStream, ctype: &str, body: &str) {
    let r = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = s.write_all(r.as_bytes()).await;
}

#[tokio::test]
async fn headless_chromium_talks_to_a_bridge() {
    chromium_leg(false).await;
}

#[tokio::test]
async fn headless_chromium_with_opus_transcoding() {
    chromium_leg(true).await;
}

async fn chromium_leg(force_transcode: bool) {
    if !std::path::Path::new(CHROMIUM).exists() {
        eprintln!("overgeslagen: {CHROMIUM} ontbreekt (apt-get install chromium)");
        return;
    }
    let ports = common::ports();
    let cfg = common::config(ports.clone(), &[Codec::Pcmu, Codec::Pcma], force_transcode);
    let relay = Arc::new(common::relay().await);
    let relay_addr = relay.local_addr().expect("relay");
    let http = TcpListener::bind((common::LOOPBACK, 0))
        .await
        .expect("http");
    let url = format!("http://{}/", http.local_addr().expect("addr"));

    let bridge: Arc<Mutex<Option<Bridge>>> = Arc::default();
    let result: Arc<Mutex<Option<String>>> = Arc::default();
    let server = {
        let bridge = bridge.clone();
        let result = result.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = http.accept().await {
                let Some((path, body)) = read_request(&mut s).await else {
                    continue;
                };
                match path.as_str() {
                    "/offer" => match Bridge::accept_offer(&cfg, &body).await {
                        Ok((b, answer)) => {
                            b.set_plain_remote(relay_addr);
                            if let Ok(mut g) = bridge.lock() {
                                *g = Some(b);
                            }
                            respond(&mut s, "application/sdp", &answer).await;
                        }
                        Err(e) => respond(&mut s, "text/plain", &e.to_string()).await,
                    },
                    "/result" => {
                        if let Ok(mut g) = result.lock() {
                            *g = Some(body);
                        }
                        respond(&mut s, "text/plain", "ok").await;
                    }
                    _ => respond(&mut s, "text/html", PAGE).await,
                }
            }
        })
    };

    let profile = tempfile::tempdir().expect("profile dir");
    let mut chrome = tokio::process::Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(&url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromium starts");

    // The relay echoes, and keeps what it saw.
    let mut pcmu = 0usize;
    let mut events = Vec::new();
    let mut samples = Vec::new();
    let mut buf = vec![0u8; 2048];
    let deadline = Instant::now() + Duration::from_secs(40);
    while Instant::now() < deadline {
        if result.lock().map(|r| r.is_some()).unwrap_or(false) {
            break;
        }
        if let Ok(Ok((n, src))) =
            tokio::time::timeout(Duration::from_millis(100), relay.recv_from(&mut buf)).await
        {
            if let Some((pt, _, _, payload)) = common::parse(&buf[..n]) {
                if pt == 0 {
                    pcmu += 1;
                    pbx_webrtc::audio::g711_decode(Codec::Pcmu, &payload, &mut samples);
                } else if pt == PLAIN_EVENT_PT {
                    events.push(payload);
                }
            }
            let _ = relay.send_to(&buf[..n], src).await;
        }
    }
    let _ = chrome.kill().await;
    server.abort();
    let result = result.lock().ok().and_then(|r| r.clone());
    let b = bridge.lock().ok().and_then(|mut b| b.take());
    let b = b.expect("Chrome sent an offer and the bridge answered");
    assert_eq!(
        b.codecs(),
        if force_transcode {
            (Codec::Opus, Codec::Pcmu)
        } else {
            (Codec::Pcmu, Codec::Pcmu)
        }
    );
    let st = b.stats();
    eprintln!(
        "chrome: {result:?}; PCMU {pcmu}; events {}; bridge {st:?}",
        events.len()
    );
    let result = result.expect("Chrome reported");
    assert!(result.contains("\"state\":\"connected\""), "{result}");
    assert!(pcmu >= 100, "PCMU packets from Chrome: {pcmu}");
    assert!(
        pbx_webrtc::audio::energy(&samples) > 1000.0,
        "Chrome's fake mic is silent"
    );
    assert!(
        events.iter().any(|e| e.first() == Some(&5)),
        "no DTMF 5: {events:?}"
    );
    let inbound: u64 = result
        .split("\"inbound\":")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(inbound >= 50, "echo back in Chrome: {result}");
    b.close().await;
}
