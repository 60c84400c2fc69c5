//! TLS for the SIP (and later HTTPS) listeners: the certificate and key are read from PEM files
//! and can be replaced at runtime. New connections get the new certificate; connections that are
//! up keep theirs, so a certificate renewal (SIGHUP) drops no call. A file that cannot be read
//! or does not fit keeps the old certificate in force.

use pbx_i18n::Msg;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use tokio_rustls::TlsAcceptor;

/// Why a certificate could not be (re)loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// No certificate in the PEM file.
    #[error("no certificate in {0}")]
    NoCertificate(PathBuf),
    /// No private key in the PEM file.
    #[error("no private key in {0}")]
    NoKey(PathBuf),
    /// rustls refused the pair (key does not match, unsupported key type…).
    #[error("{0}")]
    Rustls(String),
}

impl TlsError {
    /// The message for people.
    pub fn msg(&self) -> Msg {
        match self {
            TlsError::Read { path, source } => Msg::new("net.tls_read")
                .arg("path", path.display())
                .arg("detail", source),
            TlsError::NoCertificate(p) => Msg::new("net.tls_no_cert").arg("path", p.display()),
            TlsError::NoKey(p) => Msg::new("net.tls_no_key").arg("path", p.display()),
            TlsError::Rustls(d) => Msg::new("net.tls_invalid").arg("detail", d),
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Builds an acceptor from a certificate chain and a key in PEM files.
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let cert_pem = read(cert)?;
    let key_pem = read(key)?;
    let chain: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|source| TlsError::Read {
            path: cert.to_path_buf(),
            source,
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(cert.to_path_buf()));
    }
    let key_der: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|source| TlsError::Read {
            path: key.to_path_buf(),
            source,
        })?
        .ok_or_else(|| TlsError::NoKey(key.to_path_buf()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rustls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The certificate in force, replaceable at runtime.
#[derive(Clone)]
pub struct TlsCertificate {
    cert: PathBuf,
    key: PathBuf,
    current: Arc<RwLock<TlsAcceptor>>,
}

impl TlsCertificate {
    /// Loads the certificate and key.
    pub fn load(cert: &Path, key: &Path) -> Result<TlsCertificate, TlsError> {
        let a = acceptor(cert, key)?;
        Ok(TlsCertificate {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            current: Arc::new(RwLock::new(a)),
        })
    }

    /// The acceptor for the next connection.
    pub fn acceptor(&self) -> TlsAcceptor {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Reads the files again (after a renewal, on SIGHUP). On an error the old certificate
    /// stays in force and the error is returned for the log.
    pub fn reload(&self) -> Result<(), TlsError> {
        let a = acceptor(&self.cert, &self.key)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = a;
        Ok(())
    }
}

/// A server name for [`client_connector`] (`alarm.example` or an IP address).
pub use rustls::pki_types::ServerName;

/// A TLS client (webhooks of alarms) that trusts the Mozilla root certificates built in with
/// `webpki-roots`, so the same binary verifies servers the same way on every machine. `None`
/// only if the crypto provider offers no safe protocol version.
pub fn client_connector() -> Option<tokio_rustls::TlsConnector> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .ok()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Some(tokio_rustls::TlsConnector::from(Arc::new(config)))
}
