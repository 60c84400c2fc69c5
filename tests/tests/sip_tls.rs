//! SIP over TLS: a REGISTER over TLS is answered; a renewed certificate (SIGHUP) reaches new
//! connections while a connection made before keeps working.
#![allow(clippy::unwrap_used)]

mod certs;

use certs::make_cert;

use pbx_tests::*;
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

fn connect(port: u16, trust: &CertificateDer<'static>) -> std::io::Result<Tls> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trust.clone()).unwrap();
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let conn =
        rustls::ClientConnection::new(Arc::new(cfg), ServerName::try_from("pbx.test").unwrap())
            .unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", port))?;
    tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut s = rustls::StreamOwned::new(conn, tcp);
    // Complete the handshake now, so a certificate the client refuses is an error here.
    while s.conn.is_handshaking() {
        s.conn.complete_io(&mut s.sock)?;
    }
    Ok(s)
}

/// Sends one request and reads one response (headers and an empty body).
fn ask(s: &mut Tls, method: &str, branch: &str) -> String {
    let local = s.sock.local_addr().unwrap();
    let msg = format!(
        "{method} sip:acme.example SIP/2.0\r\nVia: SIP/2.0/TLS {local};branch={branch}\r\nFrom: <sip:1001@acme.example>;tag=t1\r\nTo: <sip:1001@acme.example>\r\nCall-ID: {branch}\r\nCSeq: 1 {method}\r\nContact: <sips:1001@{local}>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    s.write_all(msg.as_bytes()).unwrap();
    s.flush().unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !out.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed");
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn register_over_tls_and_certificate_renewal_on_sighup() {
    let certs = tempfile::tempdir().unwrap();
    let a = make_cert(certs.path(), "a");
    let b = make_cert(certs.path(), "b");
    let live_cert = certs.path().join("live.pem");
    let live_key = certs.path().join("live.key");
    std::fs::copy(certs.path().join("a.pem"), &live_cert).unwrap();
    std::fs::copy(certs.path().join("a.key"), &live_key).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let pbx = Pbx::start(Opts {
        extra_toml: format!(
            "[tls]\ncertificate = \"{}\"\nkey = \"{}\"\n\n[[listen]]\ntransport = \"tls\"\naddress = \"127.0.0.1:{port}\"\n",
            live_cert.display(),
            live_key.display()
        ),
        ..Opts::default()
    });
    pbx.ctl(&["tenant", "add", "acme", "--domain", "acme.example"])
        .ok();
    pbx.ctl(&["extension", "add", "acme", "1001"]).ok();

    let mut old = connect(port, &a).expect("TLS with certificate A");
    let r = ask(&mut old, "REGISTER", "z9hG4bK-tls1");
    assert!(r.starts_with("SIP/2.0 401"), "{r}");
    assert!(r.contains("WWW-Authenticate: Digest"), "{r}");

    // Renewal: B on disk, SIGHUP.
    std::fs::copy(certs.path().join("b.pem"), &live_cert).unwrap();
    std::fs::copy(certs.path().join("b.key"), &live_key).unwrap();
    pbx.sighup();
    let mut renewed = false;
    for _ in 0..50 {
        if connect(port, &b).is_ok() {
            renewed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        renewed,
        "new connections must get certificate B after SIGHUP"
    );
    assert!(
        connect(port, &a).is_err(),
        "certificate A must be gone for new connections"
    );
    // The connection made before the renewal still works.
    let r = ask(&mut old, "OPTIONS", "z9hG4bK-tls2");
    assert!(r.starts_with("SIP/2.0 200"), "{r}");
}
