//! SIP over WebSocket (RFC 7118): a phone in this test speaks SIP over a WebSocket (tokio-
//! tungstenite, subprotocol `sip`, Via `SIP/2.0/WS` with a `.invalid` host like a browser) to a
//! real pbxd; SIPp phones on UDP are the other side of its calls.
//!
//! * ws: REGISTER with SHA-256 digest, `pbxctl registrations` shows `ws:`; a SIPp call to the
//!   WebSocket phone (INVITE, 180/200, ACK, BYE over its WebSocket), a call from it to a SIPp
//!   UAS (407 challenge answered with MD5), both CDRs beantwoord, traces with transport `ws`;
//!   after the WebSocket closes the registration is unreachable and a call to it gets 480.
//! * wss with a self-signed certificate: the same REGISTER and a call from the phone.
//! * A handshake without subprotocol `sip` gets 400; one that never comes is closed after
//!   10 s; garbage frames are dropped and the connection goes on; an oversized frame closes with
//!   1009; pings get pongs, CRLF keep-alives a CRLF. (The idle limits are unit tests with
//!   paused time in pbxd/src/sip/ws.rs.)
#![allow(clippy::unwrap_used)]

mod certs;

use certs::make_cert;

use futures_util::{SinkExt, StreamExt};
use pbx_tests::*;
use rustls::pki_types::{CertificateDer, ServerName};
use sha2::Digest;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// The host a browser phone puts in its Via and Contact (RFC 7118 §5.2).
const HOST: &str = "df7jal23ls0d.invalid";

fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn random_hex() -> String {
    format!("{:016x}", rand::random::<u64>())
}

fn md5_hex(s: &str) -> String {
    hex::encode(md5::Md5::digest(s.as_bytes()))
}

fn sha256_hex(s: &str) -> String {
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

fn status(msg: &str) -> u16 {
    msg.strip_prefix("SIP/2.0 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// The value of the first header `name` (case-insensitive, long name).
fn header(msg: &str, name: &str) -> Option<String> {
    msg.lines().take_while(|l| !l.is_empty()).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

fn headers(msg: &str, name: &str) -> Vec<String> {
    msg.lines()
        .take_while(|l| !l.is_empty())
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
        .collect()
}

/// The digest answer to the challenge of `algorithm` in `resp` (header `challenge_header`).
fn authorization(
    resp: &str,
    challenge_header: &str,
    algorithm: &str,
    (user, password): (&str, &str),
    method: &str,
    uri: &str,
) -> String {
    let ch = headers(resp, challenge_header)
        .into_iter()
        .find(|c| c.contains(&format!("algorithm={algorithm}")))
        .unwrap_or_else(|| panic!("no {algorithm} challenge in {resp}"));
    let param = |name: &str| {
        let i = ch.find(&format!("{name}=")).unwrap() + name.len() + 1;
        let rest = &ch[i..];
        match rest.strip_prefix('"') {
            Some(r) => r[..r.find('"').unwrap()].to_string(),
            None => rest.split([',', ' ']).next().unwrap().to_string(),
        }
    };
    let (realm, nonce) = (param("realm"), param("nonce"));
    let h = |s: &str| {
        if algorithm == "MD5" {
            md5_hex(s)
        } else {
            sha256_hex(s)
        }
    };
    let ha1 = h(&format!("{user}:{realm}:{password}"));
    let ha2 = h(&format!("{method}:{uri}"));
    let cnonce = random_hex();
    let response = h(&format!("{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}"));
    format!("Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", algorithm={algorithm}, cnonce=\"{cnonce}\", qop=auth, nc=00000001")
}

/// A SIP phone on a WebSocket, as a browser softphone would be.
struct WsPhone {
    ws: WebSocketStream<Box<dyn Io>>,
    /// `WS` or `WSS`.
    via: &'static str,
    /// Contact user (random, like JsSIP).
    contact_user: String,
}

/// A TLS client that trusts only `cert`.
fn client_config(cert: &CertificateDer<'static>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}

/// Opens a WebSocket to pbxd offering `protocol` (None: no Sec-WebSocket-Protocol at all);
/// `trust` makes it wss with that certificate trusted.
async fn open(
    port: u16,
    protocol: Option<&str>,
    trust: Option<&CertificateDer<'static>>,
) -> Result<WebSocketStream<Box<dyn Io>>, WsError> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let (stream, url): (Box<dyn Io>, String) = match trust {
        None => (Box::new(tcp), format!("ws://127.0.0.1:{port}/")),
        Some(cert) => {
            let tls = tokio_rustls::TlsConnector::from(client_config(cert))
                .connect(ServerName::try_from("pbx.test").unwrap(), tcp)
                .await
                .unwrap();
            (Box::new(tls), format!("wss://pbx.test:{port}/"))
        }
    };
    let mut req = url.into_client_request().unwrap();
    if let Some(p) = protocol {
        req.headers_mut()
            .insert("sec-websocket-protocol", p.parse().unwrap());
    }
    let (ws, resp) = tokio_tungstenite::client_async(req, stream).await?;
    if protocol.is_some() {
        assert_eq!(
            resp.headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok()),
            Some("sip")
        );
    }
    Ok(ws)
}

impl WsPhone {
    async fn connect(port: u16, trust: Option<&CertificateDer<'static>>) -> WsPhone {
        let ws = open(port, Some("sip"), trust).await.unwrap();
        WsPhone {
            ws,
            via: if trust.is_some() { "WSS" } else { "WS" },
            contact_user: format!("ws{}", &random_hex()[..8]),
        }
    }

    fn contact(&self) -> String {
        format!(
            "sip:{}@{HOST};transport={}",
            self.contact_user,
            self.via.to_ascii_lowercase()
        )
    }

    fn via(&self) -> String {
        format!(
            "Via: SIP/2.0/{} {HOST};branch=z9hG4bK{}\r\n",
            self.via,
            random_hex()
        )
    }

    async fn send(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.unwrap();
    }

    /// The next SIP message (text or binary frame); None on timeout or close.
    async fn recv(&mut self, timeout: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let m = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()??
                .ok()?;
            match m {
                Message::Text(t) => return Some(t.to_string()),
                Message::Binary(b) => return Some(String::from_utf8_lossy(&b).into_owned()),
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// The next final response (1xx skipped, or kept when `provisional`).
    async fn response(&mut self, provisional: bool) -> String {
        loop {
            let m = self
                .recv(Duration::from_secs(10))
                .await
                .expect("a response over the WebSocket");
            assert!(m.starts_with("SIP/2.0 "), "expected a response: {m}");
            if provisional || status(&m) >= 200 {
                return m;
            }
        }
    }

    /// The next request of `method`.
    async fn request(&mut self, method: &str, timeout: Duration) -> String {
        let m = self
            .recv(timeout)
            .await
            .unwrap_or_else(|| panic!("expected {method} over the WebSocket"));
        assert!(
            m.starts_with(&format!("{method} ")),
            "expected {method}: {m}"
        );
        m
    }

    /// REGISTER with digest (`algorithm`) as `user`; gives the 200.
    async fn register(&mut self, user: &str, password: &str, algorithm: &str) -> String {
        let call_id = random_hex();
        let contact = self.contact();
        let make = |via: String, cseq: u32, auth: Option<String>| {
            format!(
                "REGISTER sip:acme.example SIP/2.0\r\n{via}Max-Forwards: 70\r\nTo: <sip:{user}@acme.example>\r\nFrom: <sip:{user}@acme.example>;tag=reg{cseq}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\nContact: <{contact}>;expires=600\r\n{}User-Agent: ws-test\r\nContent-Length: 0\r\n\r\n",
                auth.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default()
            )
        };
        let first = make(self.via(), 1, None);
        self.send(&first).await;
        let challenge = self.response(false).await;
        assert_eq!(status(&challenge), 401, "{challenge}");
        let auth = authorization(
            &challenge,
            "www-authenticate",
            algorithm,
            (user, password),
            "REGISTER",
            "sip:acme.example",
        );
        let second = make(self.via(), 2, Some(auth));
        self.send(&second).await;
        self.response(false).await
    }

    /// Answers an INVITE that came over the WebSocket: 180, 200 with SDP; gives the To tag.
    async fn answer(&mut self, invite: &str) -> String {
        let tag = random_hex();
        let vias: String = headers(invite, "via")
            .iter()
            .map(|v| format!("Via: {v}\r\n"))
            .collect();
        let common = format!(
            "{vias}From: {}\r\nTo: {};tag={tag}\r\nCall-ID: {}\r\nCSeq: {}\r\nContact: <{}>\r\n",
            header(invite, "from").unwrap(),
            header(invite, "to").unwrap(),
            header(invite, "call-id").unwrap(),
            header(invite, "cseq").unwrap(),
            self.contact(),
        );
        self.send(&format!(
            "SIP/2.0 180 Ringing\r\n{common}Content-Length: 0\r\n\r\n"
        ))
        .await;
        let sdp = sdp();
        self.send(&format!(
            "SIP/2.0 200 OK\r\n{common}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        ))
        .await;
        tag
    }

    /// Answers a request with 200 OK (BYE).
    async fn ok(&mut self, req: &str) {
        let vias: String = headers(req, "via")
            .iter()
            .map(|v| format!("Via: {v}\r\n"))
            .collect();
        self.send(&format!(
            "SIP/2.0 200 OK\r\n{vias}From: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {}\r\nContent-Length: 0\r\n\r\n",
            header(req, "from").unwrap(),
            header(req, "to").unwrap(),
            header(req, "call-id").unwrap(),
            header(req, "cseq").unwrap(),
        ))
        .await;
    }

    /// Calls `callee` as `user`: INVITE, 407, INVITE with Proxy-Authorization (MD5), 180/200,
    /// ACK, `talk`, BYE, 200. Gives the Call-ID.
    async fn call(&mut self, user: &str, password: &str, callee: &str, talk: Duration) -> String {
        let call_id = random_hex();
        let from_tag = random_hex();
        let uri = format!("sip:{callee}@acme.example");
        let contact = self.contact();
        let sdp = sdp();
        let invite = |via: String, cseq: u32, auth: Option<String>| {
            format!(
                "INVITE {uri} SIP/2.0\r\n{via}Max-Forwards: 70\r\nTo: <{uri}>\r\nFrom: <sip:{user}@acme.example>;tag={from_tag}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\nContact: <{contact}>\r\n{}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
                auth.map(|a| format!("Proxy-Authorization: {a}\r\n")).unwrap_or_default(),
                sdp.len()
            )
        };
        let via1 = self.via();
        self.send(&invite(via1.clone(), 1, None)).await;
        let challenge = self.response(false).await;
        assert_eq!(status(&challenge), 407, "{challenge}");
        // ACK for the non-2xx final answer: same branch, To with the tag of the answer.
        self.send(&format!(
            "ACK {uri} SIP/2.0\r\n{via1}Max-Forwards: 70\r\nTo: {}\r\nFrom: <sip:{user}@acme.example>;tag={from_tag}\r\nCall-ID: {call_id}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
            header(&challenge, "to").unwrap()
        ))
        .await;
        let auth = authorization(
            &challenge,
            "proxy-authenticate",
            "MD5",
            (user, password),
            "INVITE",
            &uri,
        );
        self.send(&invite(self.via(), 2, Some(auth))).await;
        let ok = self.response(false).await;
        assert_eq!(status(&ok), 200, "{ok}");
        let to = header(&ok, "to").unwrap();
        let target = header(&ok, "contact")
            .unwrap()
            .trim_start_matches('<')
            .split('>')
            .next()
            .unwrap()
            .to_string();
        let in_dialog = |via: String, cseq: u32, method: &str| {
            format!(
                "{method} {target} SIP/2.0\r\n{via}Max-Forwards: 70\r\nTo: {to}\r\nFrom: <sip:{user}@acme.example>;tag={from_tag}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n"
            )
        };
        self.send(&in_dialog(self.via(), 2, "ACK")).await;
        tokio::time::sleep(talk).await;
        self.send(&in_dialog(self.via(), 3, "BYE")).await;
        let bye_ok = self.response(false).await;
        assert_eq!(status(&bye_ok), 200, "{bye_ok}");
        assert!(bye_ok.contains("CSeq: 3 BYE"), "{bye_ok}");
        call_id
    }
}

/// Plain RTP SDP (WebRTC media is bridged elsewhere).
fn sdp() -> String {
    "v=0\r\no=ws 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n".to_string()
}

/// pbxd with a ws listener (a wss one when `wss` holds live.pem and live.key), organisation
/// acme with 1001 and 1002; gives pbxd, the ws/wss port and the passwords.
fn start(wss: Option<&Path>) -> (Pbx, u16, String, String) {
    let port = free_tcp_port();
    let listener = match wss {
        None => format!("[[listen]]\ntransport = \"ws\"\naddress = \"127.0.0.1:{port}\"\n"),
        Some(dir) => format!(
            "[tls]\ncertificate = \"{}\"\nkey = \"{}\"\n\n[[listen]]\ntransport = \"wss\"\naddress = \"127.0.0.1:{port}\"\n",
            dir.join("live.pem").display(),
            dir.join("live.key").display()
        ),
    };
    let (pbx, a, b) = two_extensions(&format!(
        "[sip]\ndigest = [\"MD5\", \"SHA-256\"]\n\n{listener}"
    ));
    (pbx, port, a, b)
}

/// The CDRs once `n` are written.
fn cdrs(pbx: &Pbx, n: usize) -> serde_json::Value {
    for _ in 0..50 {
        let list = pbx.ctl_json(&["cdr", "list"]);
        if list.as_array().is_some_and(|a| a.len() >= n) {
            return list;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    pbx.ctl_json(&["cdr", "list"])
}

/// SIPp as 1002 calling `callee` with `scenario` in a thread.
fn sipp_call(
    pbx: &Pbx,
    scenario: &str,
    password: &str,
    callee: &str,
) -> std::thread::JoinHandle<Run> {
    let mut client = sipp_command(
        pbx,
        pbx.sip_port,
        scenario,
        "1002",
        password,
        free_udp_port(),
    );
    client.args([
        "-set",
        "domain",
        "acme.example",
        "-set",
        "callee",
        callee,
        "-auth_uri",
        &format!("{callee}@acme.example"),
    ]);
    std::thread::spawn(move || run_for(&mut client, None, Duration::from_secs(40)))
}

/// 1002 registers with SIPp and waits as UAS (uas_1002.xml) in a thread.
fn sipp_uas(pbx: &Pbx, password: &str) -> std::thread::JoinHandle<Run> {
    let port = free_udp_port();
    register_phone(pbx, "1002", password, "acme.example", port);
    let mut server = sipp_command(pbx, pbx.sip_port, "uas_1002.xml", "1002", password, port);
    let server = std::thread::spawn(move || run_for(&mut server, None, Duration::from_secs(40)));
    std::thread::sleep(Duration::from_millis(500));
    server
}

fn registration_of(pbx: &Pbx, ext: &str) -> serde_json::Value {
    pbx.ctl_json(&["registrations"])
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["extension"] == ext)
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_phone_registers_and_calls_both_ways_then_is_unreachable_after_close() {
    let t0 = Instant::now();
    let (pbx, port, pw_a, pw_b) = start(None);
    let mut phone = WsPhone::connect(port, None).await;

    // REGISTER with SHA-256 digest over the WebSocket: 200 with the contact.
    let ok = phone.register("1001", &pw_a, "SHA-256").await;
    assert_eq!(status(&ok), 200, "{ok}");
    assert!(
        ok.contains(&format!("<{}>;expires=600", phone.contact())),
        "{ok}"
    );
    // The Via of the answer got received and rport (the host is .invalid).
    let via = header(&ok, "via").unwrap();
    assert!(
        via.starts_with(&format!("SIP/2.0/WS {HOST};")) && via.contains("received=127.0.0.1"),
        "{via}"
    );
    let reg = registration_of(&pbx, "1001");
    assert!(
        reg["source"].as_str().unwrap().starts_with("ws:127.0.0.1:"),
        "{reg}"
    );
    assert_eq!(reg["contact"], phone.contact(), "{reg}");
    let table = pbx.ctl(&["registrations"]);
    table.ok();
    assert!(table.stdout.contains("ws:127.0.0.1:"), "{}", table.stdout);

    // SIPp 1002 (UDP) calls 1001: the INVITE comes over the WebSocket.
    let uac = sipp_call(&pbx, "call_1001.xml", &pw_b, "1001");
    let invite = phone.request("INVITE", Duration::from_secs(15)).await;
    // The Request-URI is the registered contact (the transport parameter's case may change).
    let first_line = invite.lines().next().unwrap().to_ascii_lowercase();
    assert_eq!(
        first_line,
        format!("invite {} sip/2.0", phone.contact()),
        "{invite}"
    );
    let top_via = header(&invite, "via").unwrap();
    assert!(
        top_via.starts_with(&format!("SIP/2.0/WS 127.0.0.1:{port};")),
        "{invite}"
    );
    assert!(
        header(&invite, "contact")
            .unwrap()
            .contains(";transport=ws"),
        "{invite}"
    );
    let incoming_call_id = header(&invite, "call-id").unwrap();
    phone.answer(&invite).await;
    phone.request("ACK", Duration::from_secs(10)).await;
    let bye = phone.request("BYE", Duration::from_secs(10)).await;
    assert!(
        header(&bye, "via")
            .unwrap()
            .starts_with(&format!("SIP/2.0/WS 127.0.0.1:{port};")),
        "{bye}"
    );
    phone.ok(&bye).await;
    let uac = tokio::task::spawn_blocking(move || uac.join().unwrap())
        .await
        .unwrap();
    assert_eq!(uac.code, 0, "uac 1002: {}\n{}", uac.all(), pbx.log_text());
    let list = cdrs(&pbx, 1);
    assert_eq!(list[0]["afloop"], "beantwoord", "{list}");
    assert_eq!(list[0]["callee"]["number"], "1001", "{list}");
    eprintln!("ws: registratie en inkomend gesprek na {:?}", t0.elapsed());

    // The WebSocket phone calls SIPp 1002 (UDP), with a 407 over the WebSocket.
    let uas = sipp_uas(&pbx, &pw_b);
    let outgoing = phone
        .call("1001", &pw_a, "1002", Duration::from_secs(1))
        .await;
    let uas = tokio::task::spawn_blocking(move || uas.join().unwrap())
        .await
        .unwrap();
    assert_eq!(uas.code, 0, "uas 1002: {}\n{}", uas.all(), pbx.log_text());
    let list = cdrs(&pbx, 2);
    let out_cdr = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["caller"]["number"] == "1001")
        .unwrap_or_else(|| panic!("{list}"));
    assert_eq!(out_cdr["afloop"], "beantwoord", "{out_cdr}");
    eprintln!("ws: uitgaand gesprek na {:?}", t0.elapsed());

    // Traces record the WebSocket legs with transport ws.
    for id in [&incoming_call_id, &outgoing] {
        let trace = pbx.ctl_json(&["trace", id]);
        let text = trace.to_string();
        assert!(text.contains("\"transport\":\"ws\""), "{id}: {text}");
    }

    // The WebSocket closes: the registration is unreachable, a call to 1001 gets 480.
    phone.ws.close(None).await.unwrap();
    drop(phone);
    let deadline = Instant::now() + Duration::from_secs(10);
    while registration_of(&pbx, "1001")["unreachable"] != true {
        assert!(
            Instant::now() < deadline,
            "{}",
            registration_of(&pbx, "1001")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let unavailable = sipp_call(&pbx, "call_unavailable.xml", &pw_b, "1001");
    let unavailable = tokio::task::spawn_blocking(move || unavailable.join().unwrap())
        .await
        .unwrap();
    assert_eq!(
        unavailable.code,
        0,
        "call to the closed WebSocket: {}\n{}",
        unavailable.all(),
        pbx.log_text()
    );
    eprintln!("ws: klaar na {:?}", t0.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_with_a_self_signed_certificate() {
    let t0 = Instant::now();
    let certs = tempfile::tempdir().unwrap();
    let cert = make_cert(certs.path(), "live");
    let (pbx, port, pw_a, pw_b) = start(Some(certs.path()));
    let mut phone = WsPhone::connect(port, Some(&cert)).await;
    let ok = phone.register("1001", &pw_a, "MD5").await;
    assert_eq!(status(&ok), 200, "{ok}");
    assert!(
        ok.contains(&format!(
            "<sip:{}@{HOST};transport=wss>",
            phone.contact_user
        )),
        "{ok}"
    );
    let reg = registration_of(&pbx, "1001");
    assert!(
        reg["source"]
            .as_str()
            .unwrap()
            .starts_with("wss:127.0.0.1:"),
        "{reg}"
    );

    // A call from the wss phone to SIPp 1002 over UDP.
    let uas = sipp_uas(&pbx, &pw_b);
    let call_id = phone
        .call("1001", &pw_a, "1002", Duration::from_millis(500))
        .await;
    let uas = tokio::task::spawn_blocking(move || uas.join().unwrap())
        .await
        .unwrap();
    assert_eq!(uas.code, 0, "uas 1002: {}\n{}", uas.all(), pbx.log_text());
    let list = cdrs(&pbx, 1);
    assert_eq!(list[0]["afloop"], "beantwoord", "{list}");
    let trace = pbx.ctl_json(&["trace", &call_id]).to_string();
    assert!(trace.contains("\"transport\":\"wss\""), "{trace}");

    // A renewed certificate (SIGHUP) reaches new wss connections, as for tls; the open
    // connection goes on.
    let renewed = make_cert(certs.path(), "live");
    pbx.sighup();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await;
        let ok = match tcp {
            Ok(tcp) => tokio_rustls::TlsConnector::from(client_config(&renewed))
                .connect(ServerName::try_from("pbx.test").unwrap(), tcp)
                .await
                .is_ok(),
            Err(_) => false,
        };
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "wss keeps the old certificate");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let again = WsPhone::connect(port, Some(&renewed)).await;
    drop(again);
    let ok = phone.register("1001", &pw_a, "SHA-256").await;
    assert_eq!(status(&ok), 200, "{ok}");
    eprintln!("wss: klaar na {:?}", t0.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_needs_sip_and_bad_frames_do_not_kill_the_connection() {
    let t0 = Instant::now();
    let (pbx, port, _, _) = start(None);

    // A connection that never completes its handshake is closed after 10 s.
    let silent = tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let opened = Instant::now();
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(20), s.read(&mut buf)).await;
        (opened.elapsed(), n.map(|r| r.unwrap_or(0)))
    });

    // Without subprotocol sip (none, or another one): 400.
    for protocol in [None, Some("chat")] {
        match open(port, protocol, None).await {
            Err(WsError::Http(resp)) => assert_eq!(resp.status().as_u16(), 400, "{protocol:?}"),
            Err(e) => panic!("{protocol:?}: refused, but not with 400: {e}"),
            Ok(_) => panic!("{protocol:?}: handshake without subprotocol sip accepted"),
        }
    }

    let mut phone = WsPhone::connect(port, None).await;
    let options = |phone: &WsPhone, n: u32| {
        format!(
            "OPTIONS sip:acme.example SIP/2.0\r\n{}Max-Forwards: 70\r\nTo: <sip:acme.example>\r\nFrom: <sip:1001@acme.example>;tag=o{n}\r\nCall-ID: opt-{n}\r\nCSeq: {n} OPTIONS\r\nContent-Length: 0\r\n\r\n",
            phone.via()
        )
    };
    // Garbage in a text frame and in a binary frame: dropped, the connection stays.
    phone.send("dit is geen SIP\r\n\r\n").await;
    phone
        .ws
        .send(Message::binary(vec![0u8, 159, 146, 150, 255]))
        .await
        .unwrap();
    let o = options(&phone, 1);
    phone.send(&o).await;
    let r = phone.response(false).await;
    assert_eq!(status(&r), 200, "{r}");
    assert!(r.contains("CSeq: 1 OPTIONS"), "{r}");
    // A request with a broken header still gets its 400 over the WebSocket.
    let broken = options(&phone, 2).replace("Content-Length: 0", "Content-Length: veel");
    phone.send(&broken).await;
    let r = phone.response(false).await;
    assert_eq!(status(&r), 400, "{r}");
    assert!(r.contains("CSeq: 2 OPTIONS"), "{r}");
    // CRLF keep-alive: answered with CRLF.
    phone.send("\r\n\r\n").await;
    assert_eq!(
        phone.recv(Duration::from_secs(5)).await.as_deref(),
        Some("\r\n")
    );
    // Ping: pong.
    phone
        .ws
        .send(Message::Ping(b"hallo".to_vec().into()))
        .await
        .unwrap();
    let pong = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match phone.ws.next().await {
                Some(Ok(Message::Pong(p))) => return p.to_vec(),
                Some(Ok(_)) => continue,
                other => panic!("{other:?}"),
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(pong, b"hallo");
    let o = options(&phone, 3);
    phone.send(&o).await;
    assert_eq!(status(&phone.response(false).await), 200);

    // A frame above the SIP size limit: close 1009.
    let big = format!("{}{}", options(&phone, 4), "x".repeat(70_000));
    let _ = phone.ws.send(Message::text(big)).await;
    let close = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match phone.ws.next().await {
                Some(Ok(Message::Close(c))) => return c,
                Some(Ok(_)) => continue,
                other => panic!("no close frame: {other:?}"),
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(close.map(|c| c.code), Some(CloseCode::Size));

    // pbxd is fine: a new connection works.
    let mut phone = WsPhone::connect(port, None).await;
    let o = options(&phone, 5);
    phone.send(&o).await;
    assert_eq!(status(&phone.response(false).await), 200);
    assert!(pbx.answers());
    let (waited, read) = silent.await.unwrap();
    assert_eq!(read.ok(), Some(0), "closed without a byte");
    assert!(
        waited >= Duration::from_secs(9) && waited < Duration::from_secs(15),
        "{waited:?}"
    );
    eprintln!("handshake en frames: klaar na {:?}", t0.elapsed());
}
