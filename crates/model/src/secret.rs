//! Secrets: argon2id password hashes, SIP HA1 digests, sealed trunk secrets, generated passwords
//! and the strength check for SIP passwords.

use crate::error::{ErrorCode, ModelError};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use pbx_i18n::Msg;
use rand::rngs::OsRng;
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use std::fmt;

/// Hashes a login password with argon2id (PHC string form).
pub fn hash_password(password: &str) -> Result<String, ModelError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| ModelError::new(ErrorCode::Internal, Msg::new("secret.hash_failed")))
}

/// Checks a login password against its argon2id hash; false on any malformed hash.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(h) => Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok(),
        Err(_) => false,
    }
}

/// HA1 = H(username:realm:password) of RFC 7616 for MD5, lowercase hex.
pub fn ha1_md5(user: &str, realm: &str, password: &str) -> String {
    hex::encode(md5::Md5::digest(
        format!("{user}:{realm}:{password}").as_bytes(),
    ))
}

/// HA1 = H(username:realm:password) of RFC 7616 for SHA-256, lowercase hex.
pub fn ha1_sha256(user: &str, realm: &str, password: &str) -> String {
    hex::encode(sha2::Sha256::digest(
        format!("{user}:{realm}:{password}").as_bytes(),
    ))
}

/// Length of generated passwords.
pub const GENERATED_LEN: usize = 20;

/// A strong random password: 20 characters from an alphabet without look-alikes (~115 bits).
pub fn generate_password() -> String {
    const CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = OsRng;
    (0..GENERATED_LEN)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

/// A new TOTP secret (RFC 6238): 20 random bytes, base32 (RFC 4648) without padding.
pub fn generate_totp_secret() -> String {
    let mut bytes = [0u8; 20];
    OsRng.fill_bytes(&mut bytes);
    base32(&bytes)
}

/// RFC 4648 base32 without padding, as authenticator apps expect it.
pub fn base32(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let mut buf: u32 = 0;
    let mut bits = 0;
    for &b in data {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buf >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buf << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Decodes RFC 4648 base32 (upper or lower case, padding and spaces ignored).
pub fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let mut buf: u64 = 0;
    let mut bits = 0;
    for c in s.chars().filter(|c| !matches!(c, '=' | ' ')) {
        let v = match c.to_ascii_uppercase() {
            c @ 'A'..='Z' => c as u64 - 'A' as u64,
            c @ '2'..='7' => c as u64 - '2' as u64 + 26,
            _ => return None,
        };
        buf = (buf << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The six-digit TOTP code (RFC 6238: HMAC-SHA1, 30 s steps) of `key` for time step `step`.
pub fn totp_code(key: &[u8], step: u64) -> u32 {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = <Hmac<sha1::Sha1> as Mac>::new_from_slice(key) else {
        // HMAC takes keys of any length; this branch is never taken.
        return u32::MAX;
    };
    mac.update(&step.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let off = usize::from(h[19] & 0x0f);
    let bin = (u32::from(h[off] & 0x7f) << 24)
        | (u32::from(h[off + 1]) << 16)
        | (u32::from(h[off + 2]) << 8)
        | u32::from(h[off + 3]);
    bin % 1_000_000
}

/// Checks a TOTP code typed by a person against the base32 secret at Unix time `now_secs`:
/// the current step and one on either side (clock drift). A step at or before `used` (the last
/// step that logged in) is refused, so a code cannot be used twice. Gives the step that matched.
pub fn verify_totp(secret_b32: &str, code: &str, now_secs: u64, used: Option<u64>) -> Option<u64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let want: u32 = code.parse().ok()?;
    let key = base32_decode(secret_b32)?;
    let now = now_secs / 30;
    let mut hit = None;
    for step in [now.saturating_sub(1), now, now + 1] {
        // Every candidate is computed: the time taken does not tell which one matched.
        let same = subtle::ConstantTimeEq::ct_eq(&totp_code(&key, step), &want);
        if bool::from(same) && used.is_none_or(|u| step > u) {
            hit = Some(step);
        }
    }
    hit
}

/// Minimum length of a SIP password chosen by a person.
pub const MIN_SIP_PASSWORD: usize = 12;

const COMMON: &[&str] = &[
    "password",
    "wachtwoord",
    "welkom",
    "qwerty",
    "123456",
    "abc123",
    "geheim",
    "letmein",
    "admin",
];

/// Is this SIP password strong enough? At least 12 characters, three kinds of characters
/// (or 16+ characters), not built around the extension number or a common word.
pub fn check_sip_password(password: &str, extension: &str) -> Result<(), ModelError> {
    let weak = |m: Msg| {
        Err(
            ModelError::new(ErrorCode::WeakPassword, m.arg("min", MIN_SIP_PASSWORD))
                .hint(Msg::new("secret.weak.hint")),
        )
    };
    if password.chars().count() < MIN_SIP_PASSWORD {
        return weak(Msg::new("secret.weak_short"));
    }
    let lower = password.to_lowercase();
    if !extension.is_empty() && lower.contains(extension) {
        return weak(Msg::new("secret.weak_number"));
    }
    if COMMON.iter().any(|w| lower.contains(w)) {
        return weak(Msg::new("secret.weak_common"));
    }
    let kinds = [
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_ascii_alphanumeric()),
    ]
    .iter()
    .filter(|k| **k)
    .count();
    let distinct = {
        let mut v: Vec<char> = password.chars().collect();
        v.sort_unstable();
        v.dedup();
        v.len()
    };
    if distinct < 6 || (kinds < 3 && password.chars().count() < 16) {
        return weak(Msg::new("secret.weak_simple"));
    }
    Ok(())
}

/// The key that seals trunk secrets at rest: 32 random bytes, kept in the state folder
/// (`secret.key`, mode 0600) or in a file named in the configuration.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl SecretKey {
    /// A new random key.
    pub fn generate() -> SecretKey {
        let mut k = [0u8; 32];
        OsRng.fill_bytes(&mut k);
        SecretKey(k)
    }

    /// The key from its file form (64 hex characters, whitespace ignored).
    pub fn from_file_text(text: &str) -> Result<SecretKey, ModelError> {
        let bytes = hex::decode(text.trim())
            .map_err(|_| ModelError::invalid(Msg::new("secret.key_format")))?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| ModelError::invalid(Msg::new("secret.key_format")))?;
        Ok(SecretKey(arr))
    }

    /// The file form of the key.
    pub fn to_file_text(&self) -> String {
        format!("{}\n", hex::encode(self.0))
    }

    /// Seals a secret: `v1:` + base64(nonce ‖ ciphertext ‖ tag).
    pub fn seal(&self, plain: &str) -> Sealed {
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&self.0));
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        // Encryption with a valid key and nonce size cannot fail for in-memory buffers.
        let ct = cipher
            .encrypt(Nonce::from_slice(&nonce), plain.as_bytes())
            .unwrap_or_default();
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ct);
        Sealed(format!("v1:{}", B64.encode(blob)))
    }

    /// Opens a sealed secret; fails with a clear message when the key does not fit.
    pub fn open(&self, sealed: &Sealed) -> Result<String, ModelError> {
        let bad = || ModelError::new(ErrorCode::Invalid, Msg::new("secret.unseal"));
        let b = sealed.0.strip_prefix("v1:").ok_or_else(bad)?;
        let blob = B64.decode(b).map_err(|_| bad())?;
        if blob.len() < 12 + 16 {
            return Err(bad());
        }
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&self.0));
        let plain = cipher
            .decrypt(Nonce::from_slice(&blob[..12]), &blob[12..])
            .map_err(|_| bad())?;
        String::from_utf8(plain).map_err(|_| bad())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

/// A sealed secret, safe to store; its `Debug` never shows the ciphertext.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sealed(pub String);

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealed(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totp_matches_rfc_6238_and_refuses_reuse() {
        // RFC 6238 appendix B, SHA-1, key "12345678901234567890": T = 59 s → 94287082 (8
        // digits), so 287082 with six.
        let key = b"12345678901234567890";
        assert_eq!(totp_code(key, 59 / 30), 287_082);
        assert_eq!(totp_code(key, 1_111_111_109 / 30), 81_804);
        let secret = base32(key);
        assert_eq!(base32_decode(&secret).as_deref(), Some(&key[..]));
        assert_eq!(verify_totp(&secret, "287082", 59, None), Some(1));
        assert_eq!(verify_totp(&secret, "287082", 59, Some(1)), None);
        assert_eq!(verify_totp(&secret, "287083", 59, None), None);
        assert_eq!(verify_totp(&secret, "28708", 59, None), None);
        assert_eq!(verify_totp(&secret, "2870a2", 59, None), None);
        // One step of clock drift either way.
        assert_eq!(verify_totp(&secret, "287082", 59 + 30, None), Some(1));
        assert_eq!(verify_totp(&secret, "287082", 59 + 90, None), None);
        assert_eq!(base32_decode("a1"), None);
    }

    #[test]
    fn password_hash_round_trip() {
        let h = hash_password("Correct-Horse-9").unwrap_or_default();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("Correct-Horse-9", &h));
        assert!(!verify_password("correct-horse-9", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn ha1_known_values() {
        // RFC 2617 §3.5 example; SHA-256 value computed independently (Python hashlib).
        assert_eq!(
            ha1_md5("Mufasa", "testrealm@host.com", "Circle Of Life"),
            "939e7578ed9e3c518a452acee763bce9"
        );
        assert_eq!(
            ha1_sha256("Mufasa", "http-auth@example.org", "Circle of Life"),
            "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232"
        );
    }

    #[test]
    fn generated_passwords_are_strong_and_distinct() {
        let a = generate_password();
        let b = generate_password();
        assert_eq!(a.len(), GENERATED_LEN);
        assert_ne!(a, b);
        assert!(check_sip_password(&a, "1001").is_ok() || a.contains("1001"));
    }

    #[test]
    fn weak_sip_passwords() {
        for (pw, why) in [
            ("Kort1!", "short"),
            ("Abcdef1001xyz!", "number"),
            ("MijnWachtwoord1!", "common"),
            ("aaaaaaaaaaaaaaaaaa", "simple"),
            ("kleinelettersab", "simple"),
        ] {
            let e = check_sip_password(pw, "1001").err();
            assert!(
                e.is_some_and(|e| e.code == ErrorCode::WeakPassword),
                "{pw} ({why})"
            );
        }
        assert!(check_sip_password("Zonnebloem-Tulp-42", "1001").is_ok());
        assert!(check_sip_password("zonnebloem tulp roos margriet", "1001").is_ok());
    }

    #[test]
    fn base32_rfc4648_vectors() {
        // RFC 4648 §10, without padding.
        for (plain, enc) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32(plain.as_bytes()), enc);
        }
        assert_eq!(generate_totp_secret().len(), 32);
    }

    #[test]
    fn seal_and_open() {
        let k = SecretKey::generate();
        let s = k.seal("provider-geheim");
        assert!(s.0.starts_with("v1:") && !s.0.contains("provider-geheim"));
        assert_eq!(k.open(&s).ok().as_deref(), Some("provider-geheim"));
        assert!(SecretKey::generate().open(&s).is_err());
        assert!(k.open(&Sealed("v1:kapot".into())).is_err());
        let k2 = SecretKey::from_file_text(&k.to_file_text()).ok();
        assert_eq!(
            k2.map(|k| k.open(&s).ok()),
            Some(Some("provider-geheim".to_string()))
        );
        assert!(format!("{:?}", s).find("v1:").is_none());
    }
}
