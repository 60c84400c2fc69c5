//! Every RFC 4475 and RFC 5118 message sent to the real pbxd over UDP: the daemon stays up and
//! keeps answering, requests get an answer in the RFC's range, responses are dropped silently.
#![allow(clippy::unwrap_used)]

use pbx_tests::*;
use std::net::UdpSocket;
use std::path::PathBuf;
use std::time::Duration;

fn corpus() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../crates/sip/tests/data");
    let mut files = Vec::new();
    for dir in ["rfc4475", "rfc5118"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap().flatten() {
            files.push(e.path());
        }
    }
    files.sort();
    assert!(files.len() >= 60, "torture corpus missing: {}", files.len());
    files
}

fn call_id_of(msg: &str) -> Option<String> {
    msg.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        let name = name.trim();
        (name.eq_ignore_ascii_case("call-id") || name == "i").then(|| value.trim().to_string())
    })
}

#[test]
fn torture_messages_never_take_pbxd_down() {
    let pbx = Pbx::start(Opts::default());
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let target = format!("127.0.0.1:{}", pbx.sip_port);
    let mut answered = 0;
    for f in corpus() {
        let bytes = std::fs::read(&f).unwrap();
        sock.send_to(&bytes, &target).unwrap();
        let is_request = !bytes.starts_with(b"SIP/2.0");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let call_id = call_id_of(&text);
        // Read until the answer to this message arrives; INVITE answers are retransmitted
        // (Timer G) because this client never ACKs, so older answers are skipped by Call-ID.
        let deadline = std::time::Instant::now() + Duration::from_millis(400);
        let mut buf = [0u8; 65_536];
        while std::time::Instant::now() < deadline {
            let Ok((n, _)) = sock.recv_from(&mut buf) else {
                break;
            };
            let answer = String::from_utf8_lossy(&buf[..n]).into_owned();
            if call_id.is_none() || call_id_of(&answer) != call_id {
                continue;
            }
            let code: u16 = answer
                .split(' ')
                .nth(1)
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            assert!(
                is_request,
                "{}: a response must never be answered, got {answer}",
                f.display()
            );
            assert!((200..700).contains(&code), "{}: answer {code}", f.display());
            answered += 1;
            break;
        }
    }
    assert!(answered >= 35, "only {answered} requests were answered");
    // Still alive: the control API answers and a fresh OPTIONS gets 200.
    pbx.ctl(&["status"]).ok();
    let options = format!(
        "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {};branch=z9hG4bK-alive\r\nFrom: <sip:t@127.0.0.1>;tag=a\r\nTo: <sip:127.0.0.1>\r\nCall-ID: alive\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        sock.local_addr().unwrap()
    );
    sock.send_to(options.as_bytes(), &target).unwrap();
    let mut buf = [0u8; 65_536];
    let alive = loop {
        let (n, _) = sock
            .recv_from(&mut buf)
            .expect("pbxd answers OPTIONS after the torture run");
        let answer = String::from_utf8_lossy(&buf[..n]).into_owned();
        if call_id_of(&answer).as_deref() == Some("alive") {
            break answer;
        }
    };
    assert!(alive.starts_with("SIP/2.0 200"), "{alive}");
    let st = pbx.ctl_json(&["status"]);
    assert!(st["sip"]["received"].as_u64().unwrap_or(0) >= 60, "{st}");
}
