//! Pure-Rust crypto provider for str0m 0.25 (DTLS through dimpl's RustCrypto backend, SRTP with
//! the `aes`/`aes-gcm`/`ctr` crates, STUN HMAC-SHA1).
//!
//! str0m's own `rust-crypto` feature needs `str0m-rust-crypto 0.7`, which the registry does not
//! offer (only 0.6, built for str0m 0.24). This module is `str0m-rust-crypto 0.6.0`
//! (MIT OR Apache-2.0, by the str0m authors) moved to the 0.8 provider traits of `str0m-proto`:
//! a SHA-1 provider, `send_application_data` returning the written length, and a self-signed
//! certificate from rcgen because dimpl's generator is tied to aws-lc.

mod dtls;
mod sha1;
mod sha256;
mod srtp;

use std::sync::OnceLock;

use str0m_proto::crypto::dtls::DtlsCert;
use str0m_proto::crypto::CryptoProvider;

/// The provider with all parts: SRTP, SHA-1 HMAC, SHA-1, SHA-256 and DTLS.
pub fn provider() -> CryptoProvider {
    static SRTP: srtp::RustCryptoSrtpProvider = srtp::RustCryptoSrtpProvider;
    static SHA1_HMAC: sha1::RustCryptoSha1HmacProvider = sha1::RustCryptoSha1HmacProvider;
    static SHA1: sha1::RustCryptoSha1Provider = sha1::RustCryptoSha1Provider;
    static SHA256: sha256::RustCryptoSha256Provider = sha256::RustCryptoSha256Provider;
    static DTLS: dtls::RustCryptoDtlsProvider = dtls::RustCryptoDtlsProvider;
    CryptoProvider {
        srtp_provider: &SRTP,
        sha1_hmac_provider: &SHA1_HMAC,
        sha1_provider: &SHA1,
        sha256_provider: &SHA256,
        dtls_provider: &DTLS,
    }
}

/// A fresh self-signed ECDSA P-256 certificate for DTLS (DER certificate, PKCS#8 key).
pub(crate) fn self_signed_certificate() -> Option<DtlsCert> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).ok()?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).ok()?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, "pbxd");
    params.distinguished_name = dn;
    params.is_ca = rcgen::IsCa::NoCa;
    // A random serial: Firefox refuses two certificates with the same issuer and serial.
    let mut serial = [0u8; 16];
    rand::Rng::fill(&mut rand::thread_rng(), &mut serial[..]);
    serial[0] &= 0x7f;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    let cert = params.self_signed(&key).ok()?;
    Some(DtlsCert {
        certificate: cert.der().to_vec(),
        private_key: key.serialize_der(),
    })
}

/// One certificate per process: generating a key per leg costs setup time for nothing (the
/// fingerprint is signalled per leg in the SDP anyway).
pub(crate) fn shared_certificate() -> Option<DtlsCert> {
    static CERT: OnceLock<Option<DtlsCert>> = OnceLock::new();
    CERT.get_or_init(self_signed_certificate).clone()
}
