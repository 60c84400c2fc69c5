//! Helpers of the softphone tests: plain HTTP requests, login, the session cookie, and a
//! WebSocket client for the JSON protocol.
#![allow(dead_code, clippy::unwrap_used)]

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;
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
    /// Messages `ask` read past while waiting for its answer, for `next_of`.
    static SEEN: std::cell::RefCell<Vec<Value>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The next message of `type` (others are skipped), within 5 s.
pub async fn next_of(s: &mut Ws, kind: &str) -> Value {
    let earlier = SEEN.with(|b| {
        let mut b = b.borrow_mut();
        let i = b.iter().position(|v| v["type"] == kind)?;
        Some(b.remove(i))
    });
    if let Some(v) = earlier {
        return v;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let m = tokio::time::timeout_at(deadline, s.next())
            .await
            .unwrap_or_else(|_| panic!("no {kind} within 5 s"))
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
            SEEN.with(|b| b.borrow_mut().push(v));
        }
    }
}
