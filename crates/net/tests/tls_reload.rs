//! A certificate renewal (reload) reaches new connections, keeps existing ones up, and a broken
//! file keeps the old certificate in force.
#![allow(clippy::unwrap_used)]

use pbx_net::tls::TlsCertificate;
use rustls::pki_types::{CertificateDer, ServerName};
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;

/// A self-signed certificate for `pbx.test`, written as PEM; returns its DER for the client.
fn make_cert(dir: &Path, name: &str) -> CertificateDer<'static> {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["pbx.test".to_string()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
    std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
    cert.der().clone()
}

fn connector(trust: &CertificateDer<'static>) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trust.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(cfg))
}

async fn connect(
    port: u16,
    trust: &CertificateDer<'static>,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    connector(trust)
        .connect(ServerName::try_from("pbx.test").unwrap(), tcp)
        .await
}

#[tokio::test]
async fn reload_reaches_new_connections_and_keeps_old_ones() {
    let dir = tempfile::tempdir().unwrap();
    let a = make_cert(dir.path(), "a");
    let b = make_cert(dir.path(), "b");
    // The live files are cert.pem/cert.key; start with A.
    std::fs::copy(dir.path().join("a.pem"), dir.path().join("cert.pem")).unwrap();
    std::fs::copy(dir.path().join("a.key"), dir.path().join("cert.key")).unwrap();
    let tls =
        TlsCertificate::load(&dir.path().join("cert.pem"), &dir.path().join("cert.key")).unwrap();

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server_tls = tls.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = server_tls.acceptor();
            tokio::spawn(async move {
                let Ok(mut s) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = [0u8; 64];
                // Echo until the peer closes.
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            });
        }
    });

    let mut old = connect(port, &a).await.expect("certificate A at start");
    old.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    old.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");

    // Renewal: B replaces A on disk, then reload.
    std::fs::copy(dir.path().join("b.pem"), dir.path().join("cert.pem")).unwrap();
    std::fs::copy(dir.path().join("b.key"), dir.path().join("cert.key")).unwrap();
    tls.reload().unwrap();
    assert!(
        connect(port, &a).await.is_err(),
        "a new connection must present B"
    );
    connect(port, &b)
        .await
        .expect("a new connection presents B");
    // The connection made before the renewal keeps working.
    old.write_all(b"pong").await.unwrap();
    old.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"pong");

    // A broken key file: the reload fails with a clear error and B stays in force.
    std::fs::write(dir.path().join("cert.key"), "geen sleutel").unwrap();
    let err = tls.reload().unwrap_err();
    assert!(
        err.msg().to_string().contains("privésleutel"),
        "{}",
        err.msg()
    );
    connect(port, &b)
        .await
        .expect("B still in force after a failed reload");
    // A key that does not belong to the certificate is refused too.
    std::fs::copy(dir.path().join("a.key"), dir.path().join("cert.key")).unwrap();
    assert!(tls.reload().is_err());
    connect(port, &b).await.expect("B still in force");
    // A missing file.
    std::fs::remove_file(dir.path().join("cert.pem")).unwrap();
    assert!(tls
        .reload()
        .unwrap_err()
        .msg()
        .to_string()
        .contains("niet te lezen"));
}
