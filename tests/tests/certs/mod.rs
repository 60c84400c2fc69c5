//! Self-signed certificates for the TLS, WSS and browser tests.
#![allow(dead_code, clippy::unwrap_used)]

use rustls::pki_types::CertificateDer;
use std::path::Path;

/// A self-signed certificate for pbx.test in `dir/{name}.pem` and `dir/{name}.key` (mode 0600).
pub fn make_cert(dir: &Path, name: &str) -> CertificateDer<'static> {
    use std::os::unix::fs::PermissionsExt;
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["pbx.test".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
    let kp = dir.join(format!("{name}.key"));
    std::fs::write(&kp, key.serialize_pem()).unwrap();
    std::fs::set_permissions(&kp, std::fs::Permissions::from_mode(0o600)).unwrap();
    cert.der().clone()
}
