//! Helpers of the softphone tests: plain HTTP requests, login, the session cookie, and a
//! WebSocket client for the JSON protocol.
#![allow(dead_code, clippy::unwrap_used)]

use futures_util::{SinkExt, StreamExt};
use pbx_webrtc::audio::tone;
use pbx_webrtc::Codec;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, Message};

pub struct Http {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

pub fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Http {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!(
        "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    Http {
        status: head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0),
        headers: head.to_string(),
        body: body.to_string(),
    }
}

pub fn login(port: u16, org: &str, user: &str, pw: &str, totp: Option<&str>) -> Http {
    let mut b = json!({"organisatie": org, "gebruiker": user, "wachtwoord": pw});
    if let Some(t) = totp {
        b["totp"] = json!(t);
    }
    http(port, "POST", "/api/login", &[], &b.to_string())
}

pub fn code(h: &Http) -> String {
    serde_json::from_str::<Value>(&h.body)
        .map(|v| v["code"].as_str().unwrap_or("").to_string())
        .unwrap_or_default()
}

pub fn session_cookie(h: &Http) -> String {
    let line = h
        .headers
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("no Set-Cookie: {}", h.headers));
    assert!(
        line.contains("HttpOnly") && line.contains("SameSite=Strict"),
        "{line}"
    );
    line.split_once(':')
        .unwrap()
        .1
        .trim()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

pub type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

pub async fn ws(port: u16, cookie: Option<&str>, origin: &str) -> Result<Ws, tungstenite::Error> {
    let mut req = format!("ws://localhost:{port}/ws")
        .into_client_request()
        .unwrap();
    req.headers_mut().insert("Origin", origin.parse().unwrap());
    if let Some(c) = cookie {
        req.headers_mut().insert("Cookie", c.parse().unwrap());
    }
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    tokio_tungstenite::client_async(req, tcp)
        .await
        .map(|(s, _)| s)
}

thread_local! {
    /// Messages `ask` read past while waiting for its answer, for `next_of`, per socket (by its
    /// local address: a test may hold several).
    static SEEN: std::cell::RefCell<std::collections::HashMap<Option<SocketAddr>, Vec<Value>>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

fn key(s: &Ws) -> Option<SocketAddr> {
    s.get_ref().local_addr().ok()
}

/// The next message of `type` (others are skipped), within 5 s.
pub async fn next_of(s: &mut Ws, kind: &str) -> Value {
    next_of_in(s, kind, Duration::from_secs(5)).await
}

/// The next message of `type` (others are skipped), within `d`.
pub async fn next_of_in(s: &mut Ws, kind: &str, d: Duration) -> Value {
    let earlier = SEEN.with(|b| {
        let mut b = b.borrow_mut();
        let l = b.get_mut(&key(s))?;
        let i = l.iter().position(|v| v["type"] == kind)?;
        Some(l.remove(i))
    });
    if let Some(v) = earlier {
        return v;
    }
    let deadline = tokio::time::Instant::now() + d;
    loop {
        let m = tokio::time::timeout_at(deadline, s.next())
            .await
            .unwrap_or_else(|_| panic!("no {kind} within {d:?}"))
            .unwrap_or_else(|| panic!("socket closed waiting for {kind}"))
            .unwrap();
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            if v["type"] == kind {
                return v;
            }
        }
    }
}

pub async fn ask(s: &mut Ws, id: &str, mut msg: Value) -> Value {
    msg["v"] = json!(1);
    msg["id"] = json!(id);
    s.send(Message::Text(msg.to_string().into())).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let m = tokio::time::timeout_at(deadline, s.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            if v["re"] == id {
                return v;
            }
            SEEN.with(|b| b.borrow_mut().entry(key(s)).or_default().push(v));
        }
    }
}

/// The SIP side's media: sends a 1 kHz PCMU tone to the relay (once it knows where from the
/// relay's first packet) and keeps what arrives: PCMU samples and telephone-event codes.
pub struct SipMedia {
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(Vec<i16>, Vec<u8>)>,
}

impl SipMedia {
    pub fn start() -> SipMedia {
        SipMedia::start_with(Codec::Pcmu)
    }

    /// With the codec the SIP side speaks (PCMU, payload type 0, or PCMA, 8).
    pub fn start_with(codec: Codec) -> SipMedia {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(5)))
            .unwrap();
        let port = sock.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut pcm, mut events) = (Vec::new(), Vec::new());
            let mut relay: Option<SocketAddr> = None;
            let mut next = Instant::now();
            let mut seq: u16 = 1;
            let mut buf = [0u8; 2048];
            let deadline = Instant::now() + Duration::from_secs(90);
            while !s2.load(Ordering::Relaxed) && Instant::now() < deadline {
                if let Ok((n, src)) = sock.recv_from(&mut buf) {
                    if n >= 12 && buf[0] >> 6 == 2 {
                        relay = Some(src);
                        match buf[1] & 0x7f {
                            0 => pbx_webrtc::audio::g711_decode(Codec::Pcmu, &buf[12..n], &mut pcm),
                            8 => pbx_webrtc::audio::g711_decode(Codec::Pcma, &buf[12..n], &mut pcm),
                            101 if n >= 16 => events.push(buf[12]),
                            _ => {}
                        }
                    }
                }
                if let (Some(r), true) = (relay, Instant::now() >= next) {
                    let pt = if codec == Codec::Pcma { 8 } else { 0 };
                    let mut pkt = vec![0x80, pt, 0, 0, 0, 0, 0, 0, 0x10, 0x02, 0x10, 0x02];
                    pkt[2..4].copy_from_slice(&seq.to_be_bytes());
                    pkt[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
                    let mut payload = Vec::new();
                    let t = tone(1000.0, 8000, 8000.0, u64::from(seq) * 160, 160);
                    pbx_webrtc::audio::g711_encode(codec, &t, &mut payload);
                    pkt.extend_from_slice(&payload);
                    let _ = sock.send_to(&pkt, r);
                    seq = seq.wrapping_add(1);
                    next += Duration::from_millis(20);
                }
            }
            (pcm, events)
        });
        SipMedia { port, stop, thread }
    }

    pub fn finish(self) -> (Vec<i16>, Vec<u8>) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

/// SIPp running `scenario` as `user` (from `local_port`) that calls `callee` of acme.example,
/// with its media at the test's socket `mport` (`-set mport`) and RTCP on a free port.
pub fn sipp_caller(
    pbx: &pbx_tests::Pbx,
    scenario: &str,
    user: &str,
    password: &str,
    local_port: u16,
    callee: &str,
    mport: u16,
) -> Command {
    let mut cmd = pbx_tests::sipp_command(pbx, pbx.sip_port, scenario, user, password, local_port);
    cmd.args([
        "-set",
        "domain",
        "acme.example",
        "-set",
        "callee",
        callee,
        "-auth_uri",
        &format!("{callee}@acme.example"),
        "-set",
        "mport",
        &mport.to_string(),
        "-set",
        "rtcpport",
        &pbx_tests::free_udp_port().to_string(),
    ]);
    cmd
}

/// A SIP phone of acme: `ext` registered from a free port, then SIPp running the UAS `scenario`
/// there (for at most `limit`), its media at a [`SipMedia`] socket speaking `codec`.
pub fn answering_phone(
    pbx: &pbx_tests::Pbx,
    ext: &str,
    password: &str,
    scenario: &str,
    codec: Codec,
    limit: Duration,
) -> (std::thread::JoinHandle<pbx_tests::Run>, SipMedia) {
    let media = SipMedia::start_with(codec);
    let port = pbx_tests::free_udp_port();
    pbx_tests::register_phone(pbx, ext, password, "acme.example", port);
    let mut cmd = pbx_tests::sipp_command(pbx, pbx.sip_port, scenario, ext, password, port);
    cmd.args(["-set", "mport", &media.port.to_string()]);
    let run = std::thread::spawn(move || pbx_tests::run_for(&mut cmd, None, limit));
    (run, media)
}

/// Is `ext` of any organisation registered now (`pbxctl registrations`)?
pub fn is_registered(pbx: &pbx_tests::Pbx, ext: &str) -> bool {
    pbx.ctl_json(&["registrations"])
        .as_array()
        .is_some_and(|l| l.iter().any(|r| r["extension"] == ext))
}

/// Runs `cmd` (a SIPp caller, at most 60 s) on its own thread once `ext` is registered (the
/// browser's phone registers when the page is logged in and beschikbaar; 30 s at most); gives
/// pbxd back with the run.
pub fn call_once_registered(
    pbx: pbx_tests::Pbx,
    ext: &'static str,
    mut cmd: Command,
) -> std::thread::JoinHandle<(pbx_tests::Pbx, pbx_tests::Run)> {
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline && !is_registered(&pbx, ext) {
            std::thread::sleep(Duration::from_millis(200));
        }
        let r = pbx_tests::run_for(&mut cmd, None, Duration::from_secs(60));
        (pbx, r)
    })
}

pub fn browser_dir() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("browser")
}

/// Runs a scenario of `tests/browser/run.mjs`; gives its exit code, its JSON line and stderr.
pub fn scenario(name: &str, args: &Value) -> (i32, Value, String) {
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "Chromium ontbreekt: installeer de Debian-pakketten chromium en chromium-driver (scripts/test.sh doet dat)"
    );
    assert!(
        browser_dir().join("node_modules/playwright-core").exists(),
        "playwright-core ontbreekt: npm ci in tests/browser (scripts/test.sh doet dat)"
    );
    let out = Command::new("node")
        .arg(browser_dir().join("run.mjs"))
        .arg(name)
        .arg(args.to_string())
        .output()
        .expect("node starten");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let line = stdout.lines().last().unwrap_or("").to_string();
    let v = serde_json::from_str(&line).unwrap_or(json!({ "stdout": stdout }));
    (out.status.code().unwrap_or(-1), v, stderr)
}
