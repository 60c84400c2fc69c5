//! Server-side SIP digest authentication without I/O: RFC 3261 §22, RFC 7616 (SHA-256 digest)
//! and RFC 8760 (SHA-256 in SIP).
//!
//! * [`NonceManager`] issues self-validating nonces (a timestamp and a counter, authenticated
//!   with HMAC-SHA256 under a server secret), builds the `WWW-Authenticate` /
//!   `Proxy-Authenticate` values ([`NonceManager::challenge`]) and checks an `Authorization` /
//!   `Proxy-Authorization` answer ([`NonceManager::verify`]). Time is always passed in as `now`;
//!   nothing here reads a clock, draws random numbers or does I/O.
//! * [`parse_authorization`] reads the header value into [`Credentials`]; it never panics.
//! * Stored credentials are HA1 only (`H(user:realm:password)`, lowercase hex), as computed by the
//!   model, one per [`Algorithm`].
//!
//! How a UAS or proxy uses it:
//!
//! 1. No credentials: answer 401 (407 for a proxy) with every value of
//!    [`NonceManager::challenge`] as its own `WWW-Authenticate` (`Proxy-Authenticate`) header.
//! 2. Credentials present: [`parse_authorization`]. An error for which
//!    [`AuthError::is_bad_request`] is true is a 400; the other errors (an algorithm or qop that
//!    we did not offer) are answered like a failed authentication, with a fresh challenge.
//! 3. Look up the HA1 of `creds.username` for `creds.algorithm` and call
//!    [`NonceManager::verify`] with `None` if there is no such user. [`Outcome::Stale`] is answered
//!    with a challenge with `stale=true`; [`Outcome::Fail`] with a plain challenge, whatever its
//!    reason (the reason is for logs and metrics, never for the peer).
//!
//! The secret must be fresh for each `NonceManager` (for example drawn at process start): the
//! replay records live in memory only, so nonces of an earlier process must not validate.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use md5::Md5;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Longest `Authorization` value that [`parse_authorization`] reads.
pub const MAX_HEADER_LEN: usize = 4096;
/// Longest value of a single parameter.
pub const MAX_VALUE_LEN: usize = 1024;
/// Most parameters (known and unknown) in one value.
pub const MAX_PARAMS: usize = 32;

/// Digest algorithm (RFC 7616 §3.2; RFC 8760 §2 for SIP). The `-sess` variants and SHA-512-256
/// are not supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5`, the RFC 3261 default when `algorithm` is absent.
    Md5,
    /// `SHA-256` (RFC 8760).
    Sha256,
}

impl Algorithm {
    /// The name on the wire: `MD5` or `SHA-256`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    /// Reads an algorithm name, case-insensitively as the ABNF literals are. `SHA256` (without the
    /// hyphen) is not an RFC 8760 name and gives `None`.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        if name.eq_ignore_ascii_case("MD5") {
            Some(Algorithm::Md5)
        } else if name.eq_ignore_ascii_case("SHA-256") {
            Some(Algorithm::Sha256)
        } else {
            None
        }
    }

    /// Length of a digest of this algorithm in lowercase hex.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Md5 => 32,
            Algorithm::Sha256 => 64,
        }
    }

    /// `H(data)` as lowercase hex.
    fn hash_hex(self, parts: &[&[u8]]) -> String {
        match self {
            Algorithm::Md5 => {
                let mut h = Md5::new();
                for p in parts {
                    h.update(p);
                }
                hex::encode(h.finalize())
            }
            Algorithm::Sha256 => {
                let mut h = Sha256::new();
                for p in parts {
                    h.update(p);
                }
                hex::encode(h.finalize())
            }
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Quality of protection. Only `auth` is offered; `auth-int` is refused by the parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qop {
    /// `qop=auth`.
    Auth,
}

/// Why an `Authorization` value could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Longer than [`MAX_HEADER_LEN`].
    #[error("authorization value too long")]
    TooLong,
    /// Another scheme than `Digest` (for example `Basic`).
    #[error("not a digest authorization")]
    NotDigest,
    /// Syntax error at this byte offset.
    #[error("malformed authorization value at byte {0}")]
    Syntax(usize),
    /// A parameter value longer than [`MAX_VALUE_LEN`].
    #[error("parameter value too long")]
    ValueTooLong,
    /// More than [`MAX_PARAMS`] parameters.
    #[error("too many parameters")]
    TooManyParams,
    /// The same parameter twice.
    #[error("duplicate parameter")]
    Duplicate,
    /// A required parameter is absent.
    #[error("missing parameter {0}")]
    Missing(&'static str),
    /// `nc` is not 8 lowercase hex digits.
    #[error("invalid nonce count")]
    InvalidNonceCount,
    /// `nc` or `cnonce` without `qop`.
    #[error("nonce count or cnonce without qop")]
    UnexpectedNonceCount,
    /// An algorithm we do not offer (also `SHA256` without the hyphen and the `-sess` variants).
    #[error("unsupported algorithm")]
    UnsupportedAlgorithm,
    /// A qop we do not offer (`auth-int`, unknown).
    #[error("unsupported qop")]
    UnsupportedQop,
}

impl AuthError {
    /// `true` when the request deserves 400 Bad Request. `false` for an algorithm or qop that we
    /// did not offer: answer those like a failed authentication, with a fresh challenge, so that
    /// the client can pick one of ours.
    pub fn is_bad_request(&self) -> bool {
        !matches!(
            self,
            AuthError::UnsupportedAlgorithm | AuthError::UnsupportedQop
        )
    }
}

/// The parameters of a `Digest` `Authorization` / `Proxy-Authorization` value. `Debug` hides
/// `response`.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    /// The request digest as sent (normally lowercase hex).
    pub response: String,
    /// `MD5` when absent.
    pub algorithm: Algorithm,
    pub cnonce: Option<String>,
    pub opaque: Option<String>,
    /// `None`: the RFC 2069 form, without `cnonce` and `nc`.
    pub qop: Option<Qop>,
    /// Nonce count; present exactly when `qop` is.
    pub nc: Option<u32>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("realm", &self.realm)
            .field("nonce", &self.nonce)
            .field("uri", &self.uri)
            .field("response", &"<redacted>")
            .field("algorithm", &self.algorithm)
            .field("cnonce", &self.cnonce)
            .field("opaque", &self.opaque)
            .field("qop", &self.qop)
            .field("nc", &self.nc)
            .finish()
    }
}

impl Credentials {
    /// The request digest these credentials should carry for `method` and this HA1 (lowercase
    /// hex): `H(HA1:nonce:nc:cnonce:qop:H(method:uri))`, or `H(HA1:nonce:H(method:uri))` without
    /// qop (RFC 2069). Client side and tests; [`NonceManager::verify`] uses it too.
    pub fn expected_response(&self, method: &str, ha1: &str) -> String {
        let alg = self.algorithm;
        let ha2 = alg.hash_hex(&[method.as_bytes(), b":", self.uri.as_bytes()]);
        match (self.qop, self.nc) {
            (Some(Qop::Auth), Some(nc)) => {
                let nc = format!("{nc:08x}");
                let cnonce = self.cnonce.as_deref().unwrap_or("");
                alg.hash_hex(&[
                    ha1.as_bytes(),
                    b":",
                    self.nonce.as_bytes(),
                    b":",
                    nc.as_bytes(),
                    b":",
                    cnonce.as_bytes(),
                    b":auth:",
                    ha2.as_bytes(),
                ])
            }
            _ => alg.hash_hex(&[
                ha1.as_bytes(),
                b":",
                self.nonce.as_bytes(),
                b":",
                ha2.as_bytes(),
            ]),
        }
    }

    /// The header value (`Digest username="…", …`). CR and LF cannot be carried in a SIP
    /// quoted-string and are left out; every other character is kept, escaped where needed.
    pub fn to_header_value(&self) -> String {
        let mut out = String::from("Digest ");
        out.push_str("username=");
        push_quoted(&mut out, &self.username);
        out.push_str(", realm=");
        push_quoted(&mut out, &self.realm);
        out.push_str(", nonce=");
        push_quoted(&mut out, &self.nonce);
        out.push_str(", uri=");
        push_quoted(&mut out, &self.uri);
        out.push_str(", response=");
        push_quoted(&mut out, &self.response);
        out.push_str(", algorithm=");
        out.push_str(self.algorithm.as_str());
        if let Some(cnonce) = &self.cnonce {
            out.push_str(", cnonce=");
            push_quoted(&mut out, cnonce);
        }
        if let Some(opaque) = &self.opaque {
            out.push_str(", opaque=");
            push_quoted(&mut out, opaque);
        }
        if let Some(Qop::Auth) = self.qop {
            out.push_str(", qop=auth");
        }
        if let Some(nc) = self.nc {
            out.push_str(&format!(", nc={nc:08x}"));
        }
        out
    }
}

/// Appends `s` as a quoted-string (RFC 3261 §25.1): `"` and `\` and control characters other
/// than HTAB are escaped, CR and LF are dropped.
fn push_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '\r' | '\n' => {}
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c != '\t' && c.is_ascii_control() => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Reads a `Digest` `Authorization` / `Proxy-Authorization` header value.
///
/// Parameters may come in any order, values may be quoted-strings (with `\` escapes) or bare
/// tokens, names are case-insensitive, unknown parameters are ignored, a repeated parameter is an
/// error, and sizes are bounded ([`MAX_HEADER_LEN`], [`MAX_VALUE_LEN`], [`MAX_PARAMS`]).
pub fn parse_authorization(value: &str) -> Result<Credentials, AuthError> {
    if value.len() > MAX_HEADER_LEN {
        return Err(AuthError::TooLong);
    }
    let mut p = Parser {
        s: value.as_bytes(),
        pos: 0,
    };
    p.skip_ws();
    let scheme = p.token();
    if !scheme.eq_ignore_ascii_case("Digest") {
        return Err(AuthError::NotDigest);
    }
    if !p.skip_ws() {
        return Err(AuthError::Syntax(p.pos));
    }

    let mut fields = Fields::default();
    let mut count = 0usize;
    loop {
        p.skip_ws();
        if p.at_end() {
            break;
        }
        if p.eat(b',') {
            // Empty list element (RFC 7230 §7 #rule).
            continue;
        }
        let name_at = p.pos;
        let name = p.token();
        if name.is_empty() {
            return Err(AuthError::Syntax(name_at));
        }
        p.skip_ws();
        if !p.eat(b'=') {
            return Err(AuthError::Syntax(p.pos));
        }
        p.skip_ws();
        let value = p.value()?;
        count += 1;
        if count > MAX_PARAMS {
            return Err(AuthError::TooManyParams);
        }
        fields.set(name, value)?;
        p.skip_ws();
        if !p.at_end() && !p.eat(b',') {
            return Err(AuthError::Syntax(p.pos));
        }
    }
    fields.finish()
}

/// Raw values by name, before their meaning is checked.
#[derive(Default)]
struct Fields {
    username: Option<String>,
    realm: Option<String>,
    nonce: Option<String>,
    uri: Option<String>,
    response: Option<String>,
    algorithm: Option<String>,
    cnonce: Option<String>,
    opaque: Option<String>,
    qop: Option<String>,
    nc: Option<String>,
    /// Lowercased names of unknown parameters, for duplicate detection only.
    others: Vec<String>,
}

impl Fields {
    fn set(&mut self, name: &str, value: String) -> Result<(), AuthError> {
        let slot = match name.to_ascii_lowercase().as_str() {
            "username" => &mut self.username,
            "realm" => &mut self.realm,
            "nonce" => &mut self.nonce,
            "uri" => &mut self.uri,
            "response" => &mut self.response,
            "algorithm" => &mut self.algorithm,
            "cnonce" => &mut self.cnonce,
            "opaque" => &mut self.opaque,
            "qop" => &mut self.qop,
            "nc" => &mut self.nc,
            other => {
                if self.others.iter().any(|o| o == other) {
                    return Err(AuthError::Duplicate);
                }
                self.others.push(other.to_owned());
                return Ok(());
            }
        };
        if slot.is_some() {
            return Err(AuthError::Duplicate);
        }
        *slot = Some(value);
        Ok(())
    }

    fn finish(self) -> Result<Credentials, AuthError> {
        let algorithm = match &self.algorithm {
            None => Algorithm::Md5,
            Some(a) => Algorithm::from_name(a).ok_or(AuthError::UnsupportedAlgorithm)?,
        };
        let qop = match &self.qop {
            None => None,
            Some(q) if q.eq_ignore_ascii_case("auth") => Some(Qop::Auth),
            Some(_) => return Err(AuthError::UnsupportedQop),
        };
        let nc = match (&self.nc, qop) {
            (Some(nc), Some(_)) => Some(parse_nc(nc)?),
            (None, Some(_)) => return Err(AuthError::Missing("nc")),
            (Some(_), None) => return Err(AuthError::UnexpectedNonceCount),
            (None, None) => None,
        };
        match (&self.cnonce, qop) {
            (None, Some(_)) => return Err(AuthError::Missing("cnonce")),
            (Some(_), None) => return Err(AuthError::UnexpectedNonceCount),
            _ => {}
        }
        Ok(Credentials {
            username: self.username.ok_or(AuthError::Missing("username"))?,
            realm: self.realm.ok_or(AuthError::Missing("realm"))?,
            nonce: self.nonce.ok_or(AuthError::Missing("nonce"))?,
            uri: self.uri.ok_or(AuthError::Missing("uri"))?,
            response: self.response.ok_or(AuthError::Missing("response"))?,
            algorithm,
            cnonce: self.cnonce,
            opaque: self.opaque,
            qop,
            nc,
        })
    }
}

/// `nc-value = 8LHEX` (RFC 3261 §25.1).
fn parse_nc(s: &str) -> Result<u32, AuthError> {
    if s.len() != 8 || !s.bytes().all(is_lhex) {
        return Err(AuthError::InvalidNonceCount);
    }
    u32::from_str_radix(s, 16).map_err(|_| AuthError::InvalidNonceCount)
}

fn is_lhex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

/// A byte cursor. Every slice boundary it produces lies on an ASCII byte or the ends, so slicing
/// the `&str` it came from cannot split a character.
struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Skips linear white space (SP, HTAB, and CR/LF of a folded line); `true` if any.
    fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// A token (RFC 3261 §25.1), possibly empty.
    fn token(&mut self) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(is_token_char) {
            self.pos += 1;
        }
        // Token characters are ASCII, so both ends are character boundaries.
        std::str::from_utf8(self.s.get(start..self.pos).unwrap_or_default()).unwrap_or_default()
    }

    /// A quoted-string (unescaped) or a bare value: any run of visible characters other than `,`
    /// and `"`, so that sloppy clients sending `uri=sip:a@b` unquoted still get through.
    fn value(&mut self) -> Result<String, AuthError> {
        if self.eat(b'"') {
            return self.quoted_rest();
        }
        let start = self.pos;
        while self.peek().is_some_and(|b| {
            !matches!(
                b,
                b',' | b'"' | b' ' | b'\t' | b'\r' | b'\n' | 0..=0x1f | 0x7f
            )
        }) {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(AuthError::Syntax(start));
        }
        if self.pos - start > MAX_VALUE_LEN {
            return Err(AuthError::ValueTooLong);
        }
        let bytes = self.s.get(start..self.pos).unwrap_or_default();
        // The run stops only at ASCII bytes, so it is whole UTF-8.
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| AuthError::Syntax(start))
    }

    /// The rest of a quoted-string after its opening `"`.
    fn quoted_rest(&mut self) -> Result<String, AuthError> {
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(AuthError::Syntax(self.pos));
            };
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    // quoted-pair: any octet but CR and LF (RFC 3261 §25.1).
                    match self.peek() {
                        Some(e) if e != b'\r' && e != b'\n' && e < 0x80 => {
                            out.push(e);
                            self.pos += 1;
                        }
                        _ => return Err(AuthError::Syntax(self.pos)),
                    }
                }
                b'\t' => out.push(b),
                0..=0x1f | 0x7f => return Err(AuthError::Syntax(self.pos - 1)),
                _ => out.push(b),
            }
            if out.len() > MAX_VALUE_LEN {
                return Err(AuthError::ValueTooLong);
            }
        }
        // Only whole characters of the input and escaped ASCII were copied.
        String::from_utf8(out).map_err(|_| AuthError::Syntax(self.pos))
    }
}

fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

// --- client side: answering a provider's challenge (pbxd registering to a SIP trunk)

/// One `Digest` challenge of a `WWW-Authenticate` / `Proxy-Authenticate` value, as a client
/// reads it. `Debug` is harmless: a challenge carries no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    /// `MD5` when absent.
    pub algorithm: Algorithm,
    /// The server offered `qop=auth` (possibly among others such as `auth-int`).
    pub qop_auth: bool,
    /// The server offered only qop values we do not support (`auth-int`).
    pub qop_unsupported: bool,
    /// `stale=true`: the nonce expired, the credentials were right.
    pub stale: bool,
}

/// Why a challenge could not be read or answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChallengeError {
    /// Not parsable, another scheme, or too big.
    #[error("malformed challenge")]
    Malformed,
    /// An algorithm this client does not support (`SHA-512-256`, `-sess`, unknown).
    #[error("unsupported algorithm")]
    UnsupportedAlgorithm,
    /// Only `qop` values this client does not support.
    #[error("unsupported qop")]
    UnsupportedQop,
    /// No challenge in the response.
    #[error("no challenge")]
    None,
}

/// Reads one `Digest` challenge value (`Digest realm="…", nonce="…", …`). Sizes are bounded as
/// for [`parse_authorization`]; it never panics.
pub fn parse_challenge(value: &str) -> Result<Challenge, ChallengeError> {
    if value.len() > MAX_HEADER_LEN {
        return Err(ChallengeError::Malformed);
    }
    let mut p = Parser {
        s: value.as_bytes(),
        pos: 0,
    };
    p.skip_ws();
    if !p.token().eq_ignore_ascii_case("Digest") || !p.skip_ws() {
        return Err(ChallengeError::Malformed);
    }
    let (mut realm, mut nonce, mut opaque, mut algorithm, mut qop, mut stale) =
        (None, None, None, None, None, false);
    let mut count = 0usize;
    loop {
        p.skip_ws();
        if p.at_end() {
            break;
        }
        if p.eat(b',') {
            continue;
        }
        let name = p.token().to_ascii_lowercase();
        if name.is_empty() {
            return Err(ChallengeError::Malformed);
        }
        p.skip_ws();
        if !p.eat(b'=') {
            return Err(ChallengeError::Malformed);
        }
        p.skip_ws();
        let v = p.value().map_err(|_| ChallengeError::Malformed)?;
        count += 1;
        if count > MAX_PARAMS {
            return Err(ChallengeError::Malformed);
        }
        match name.as_str() {
            "realm" => realm = Some(v),
            "nonce" => nonce = Some(v),
            "opaque" => opaque = Some(v),
            "algorithm" => algorithm = Some(v),
            "qop" => qop = Some(v),
            "stale" => stale = v.eq_ignore_ascii_case("true"),
            _ => {}
        }
        p.skip_ws();
        if !p.at_end() && !p.eat(b',') {
            return Err(ChallengeError::Malformed);
        }
    }
    let algorithm = match algorithm {
        None => Algorithm::Md5,
        Some(a) => Algorithm::from_name(&a).ok_or(ChallengeError::UnsupportedAlgorithm)?,
    };
    let (qop_auth, qop_unsupported) = match &qop {
        None => (false, false),
        Some(q) => {
            let auth = q.split(',').any(|x| x.trim().eq_ignore_ascii_case("auth"));
            (auth, !auth)
        }
    };
    Ok(Challenge {
        realm: realm.ok_or(ChallengeError::Malformed)?,
        nonce: nonce.ok_or(ChallengeError::Malformed)?,
        opaque,
        algorithm,
        qop_auth,
        qop_unsupported,
        stale,
    })
}

/// Picks the challenge to answer from all `WWW-Authenticate` (or `Proxy-Authenticate`) values
/// of a response: SHA-256 when offered (RFC 8760 §2.4: the first supported one in the
/// server's order of preference, SHA-256 before MD5), else MD5. Values that cannot be
/// answered are skipped; the error of the last one is returned when none is usable.
pub fn pick_challenge<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> Result<Challenge, ChallengeError> {
    let mut best: Option<Challenge> = None;
    let mut err = ChallengeError::None;
    for v in values {
        match parse_challenge(v) {
            Ok(c) if c.qop_unsupported => err = ChallengeError::UnsupportedQop,
            Ok(c) => {
                let better = match &best {
                    None => true,
                    Some(b) => b.algorithm == Algorithm::Md5 && c.algorithm == Algorithm::Sha256,
                };
                if better {
                    best = Some(c);
                }
            }
            Err(e) => err = e,
        }
    }
    best.ok_or(err)
}

/// `H(user:realm:password)` as lowercase hex.
pub fn client_ha1(alg: Algorithm, username: &str, realm: &str, password: &str) -> String {
    alg.hash_hex(&[
        username.as_bytes(),
        b":",
        realm.as_bytes(),
        b":",
        password.as_bytes(),
    ])
}

/// The credentials that answer `challenge` for a request (`method`, Request-URI `uri`). With
/// `qop=auth` offered, `cnonce` (random, chosen by the caller) and the nonce count `nc`
/// (1 for the first use of a nonce) are used; otherwise the RFC 2069 form. The result's
/// [`Credentials::to_header_value`] is the `Authorization` / `Proxy-Authorization` value.
pub fn answer_challenge(
    challenge: &Challenge,
    method: &str,
    uri: &str,
    username: &str,
    password: &str,
    cnonce: &str,
    nc: u32,
) -> Credentials {
    let qop = challenge.qop_auth.then_some(Qop::Auth);
    let mut creds = Credentials {
        username: username.to_string(),
        realm: challenge.realm.clone(),
        nonce: challenge.nonce.clone(),
        uri: uri.to_string(),
        response: String::new(),
        algorithm: challenge.algorithm,
        cnonce: qop.map(|_| cnonce.to_string()),
        opaque: challenge.opaque.clone(),
        qop,
        nc: qop.map(|_| nc),
    };
    let ha1 = client_ha1(challenge.algorithm, username, &challenge.realm, password);
    creds.response = creds.expected_response(method, &ha1);
    creds
}

/// Settings of a [`NonceManager`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonceConfig {
    /// How long an issued nonce is accepted; afterwards it is [`NonceState::Stale`].
    pub lifetime: Duration,
    /// Most nonces whose highest nonce count is remembered (at least 1 is used).
    pub max_tracked: usize,
    /// Sent as `opaque` in every challenge and then required back unchanged.
    pub opaque: Option<String>,
}

impl Default for NonceConfig {
    fn default() -> Self {
        NonceConfig {
            lifetime: Duration::from_secs(300),
            max_tracked: 100_000,
            opaque: None,
        }
    }
}

/// What a nonce is worth, from [`NonceManager::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceState {
    /// Ours, in time, and the nonce count is new.
    Valid,
    /// Ours but too old (or its replay record was evicted): challenge again with `stale=true`.
    Stale,
    /// Not ours: forged, damaged, of another secret.
    Invalid,
    /// Ours, but the nonce count is not above the highest one seen, or a nonce used without qop
    /// is used again.
    Replay,
}

/// The verdict of [`NonceManager::verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Authenticated.
    Ok,
    /// The right password on an expired nonce: challenge again with `stale=true`.
    Stale,
    /// Not authenticated: challenge again without `stale`. The reason is for logs only.
    Fail(FailReason),
}

/// Why [`NonceManager::verify`] refused. An unknown user and a wrong password are deliberately
/// the same reason, so that not even a log-reading operator tool can tell them apart by accident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailReason {
    /// Wrong response: wrong password, unknown user, or wrong algorithm for the stored HA1.
    BadCredentials,
    /// `realm` is not ours.
    RealmMismatch,
    /// `uri` is not the Request-URI.
    UriMismatch,
    /// `opaque` is not the one we sent.
    OpaqueMismatch,
    /// The nonce is not ours.
    InvalidNonce,
    /// The nonce count was used before.
    Replay,
}

/// Domain separation for the nonce MAC.
const NONCE_MAC_LABEL: &[u8] = b"pbx-sip digest nonce v1";
/// Payload bytes: issue time in ms since the base instant (u64 BE) and a counter (u64 BE).
const NONCE_PAYLOAD: usize = 16;
/// Bytes of HMAC-SHA256 kept (leftmost).
const NONCE_TAG: usize = 16;
/// Hex length of a nonce.
const NONCE_HEX_LEN: usize = 2 * (NONCE_PAYLOAD + NONCE_TAG);

/// Replay record of one nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// Used without qop (RFC 2069): never again.
    Once,
    /// Highest nonce count accepted.
    Nc(u32),
}

/// A decoded, authentic nonce: (issue time in ms since base, counter). Orders by issue time.
type NonceKey = (u64, u64);

/// Issues and checks nonces, and verifies digest responses. Sans-IO: `now` comes from the caller.
///
/// Nonces are stateless until first used successfully; from then on the highest nonce count is
/// kept in a map bounded by [`NonceConfig::max_tracked`], so a peer without the password cannot
/// grow it. When the map is full, expired records go first, then the oldest; a nonce whose record
/// was evicted while still in time is treated as stale, never as new, so eviction cannot open a
/// replay window.
#[derive(Clone)]
pub struct NonceManager {
    mac: Hmac<Sha256>,
    base: Instant,
    config: NonceConfig,
    counter: u64,
    seen: BTreeMap<NonceKey, Seen>,
    /// Every key at or below this one has lost (or never had) its record.
    evicted_up_to: Option<NonceKey>,
}

impl fmt::Debug for NonceManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NonceManager")
            .field("config", &self.config)
            .field("issued", &self.counter)
            .field("tracked", &self.seen.len())
            .finish_non_exhaustive()
    }
}

impl NonceManager {
    /// `secret` keys the nonce MAC (fresh per manager, see the module docs); `base` is the
    /// instant that nonce timestamps count from.
    pub fn new(secret: [u8; 32], base: Instant, config: NonceConfig) -> Self {
        // HMAC pads a key shorter than the block to the block size with zeros (RFC 2104 §2), so
        // this 64-byte key gives HMAC(secret, ·) without the fallible `new_from_slice`.
        let mut key = [0u8; 64];
        key[..32].copy_from_slice(&secret);
        let mac = <Hmac<Sha256> as Mac>::new(&key.into());
        NonceManager {
            mac,
            base,
            config,
            counter: 0,
            seen: BTreeMap::new(),
            evicted_up_to: None,
        }
    }

    /// The settings.
    pub fn config(&self) -> &NonceConfig {
        &self.config
    }

    /// How many nonces have a replay record.
    pub fn tracked(&self) -> usize {
        self.seen.len()
    }

    fn millis(&self, now: Instant) -> u64 {
        let since = now.checked_duration_since(self.base).unwrap_or_default();
        u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
    }

    fn lifetime_ms(&self) -> u64 {
        u64::try_from(self.config.lifetime.as_millis()).unwrap_or(u64::MAX)
    }

    fn tag(&self, payload: &[u8; NONCE_PAYLOAD]) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(NONCE_MAC_LABEL);
        mac.update(payload);
        mac
    }

    /// A new nonce (64 lowercase hex characters).
    pub fn issue(&mut self, now: Instant) -> String {
        self.counter = self.counter.wrapping_add(1);
        let mut payload = [0u8; NONCE_PAYLOAD];
        payload[..8].copy_from_slice(&self.millis(now).to_be_bytes());
        payload[8..].copy_from_slice(&self.counter.to_be_bytes());
        let tag = self.tag(&payload).finalize().into_bytes();
        let mut out = hex::encode(payload);
        out.push_str(&hex::encode(tag.get(..NONCE_TAG).unwrap_or_default()));
        out
    }

    /// Decodes and authenticates a nonce.
    fn decode(&self, nonce: &str) -> Option<NonceKey> {
        if nonce.len() != NONCE_HEX_LEN || !nonce.bytes().all(is_lhex) {
            return None;
        }
        let mut raw = [0u8; NONCE_PAYLOAD + NONCE_TAG];
        hex::decode_to_slice(nonce, &mut raw).ok()?;
        let mut payload = [0u8; NONCE_PAYLOAD];
        payload.copy_from_slice(&raw[..NONCE_PAYLOAD]);
        self.tag(&payload)
            .verify_truncated_left(&raw[NONCE_PAYLOAD..])
            .ok()?;
        let mut ms = [0u8; 8];
        ms.copy_from_slice(&payload[..8]);
        let mut ctr = [0u8; 8];
        ctr.copy_from_slice(&payload[8..]);
        Some((u64::from_be_bytes(ms), u64::from_be_bytes(ctr)))
    }

    /// State of `nonce` for nonce count `nc` (`None`: no qop), without recording anything.
    fn inspect(
        &self,
        nonce: &str,
        nc: Option<u32>,
        now: Instant,
    ) -> (NonceState, Option<NonceKey>) {
        let Some(key) = self.decode(nonce) else {
            return (NonceState::Invalid, None);
        };
        let now_ms = self.millis(now);
        // From the future: issued under another base instant. Ours, so stale rather than invalid.
        if key.0 > now_ms || now_ms - key.0 > self.lifetime_ms() {
            return (NonceState::Stale, Some(key));
        }
        let state = match (self.seen.get(&key), nc) {
            (Some(Seen::Once), _) => NonceState::Replay,
            (Some(Seen::Nc(_)), None) => NonceState::Replay,
            (Some(Seen::Nc(last)), Some(n)) if n <= *last => NonceState::Replay,
            (Some(Seen::Nc(_)), Some(_)) => NonceState::Valid,
            (None, Some(0)) => NonceState::Replay,
            (None, _) if self.evicted_up_to.is_some_and(|w| key <= w) => NonceState::Stale,
            (None, _) => NonceState::Valid,
        };
        (state, Some(key))
    }

    /// Records that `key` was used with `nc`.
    fn record(&mut self, key: NonceKey, nc: Option<u32>, now: Instant) {
        self.prune(now);
        let entry = match nc {
            None => Seen::Once,
            Some(n) => Seen::Nc(n),
        };
        if !self.seen.contains_key(&key) {
            let max = self.config.max_tracked.max(1);
            while self.seen.len() >= max {
                // Nothing expired is left (pruned above): drop the oldest.
                match self.seen.pop_first() {
                    Some((old, _)) => self.raise_watermark(old),
                    None => break,
                }
            }
        }
        self.seen.insert(key, entry);
    }

    fn raise_watermark(&mut self, key: NonceKey) {
        if self.evicted_up_to.is_none_or(|w| key > w) {
            self.evicted_up_to = Some(key);
        }
    }

    /// Forgets the replay records of expired nonces (they are stale anyway). Called on every
    /// record; a driver may also call it when idle to give memory back.
    pub fn prune(&mut self, now: Instant) {
        let now_ms = self.millis(now);
        let lifetime = self.lifetime_ms();
        while let Some((&key, _)) = self.seen.first_key_value() {
            if now_ms.saturating_sub(key.0) <= lifetime {
                break;
            }
            self.seen.pop_first();
            self.raise_watermark(key);
        }
    }

    /// Checks `nonce` with nonce count `nc` (`None` when the request has no qop) and, when it is
    /// [`NonceState::Valid`], records the count. [`NonceManager::verify`] does not call this: it
    /// records only after the response is proven right, so that a peer without the password
    /// cannot burn the nonce counts of a legitimate client.
    pub fn check(&mut self, nonce: &str, nc: Option<u32>, now: Instant) -> NonceState {
        let (state, key) = self.inspect(nonce, nc, now);
        if let (NonceState::Valid, Some(key)) = (state, key) {
            self.record(key, nc, now);
        }
        state
    }

    /// The values of the `WWW-Authenticate` (or `Proxy-Authenticate`) headers: one per algorithm,
    /// in the order given (RFC 8760 §2.4 puts SHA-256 first; the caller decides), duplicates dropped, all with the same fresh nonce and
    /// `qop="auth"`, with `stale=true` when asked and `opaque` when configured. Empty when
    /// `algorithms` is.
    pub fn challenge(
        &mut self,
        realm: &str,
        algorithms: &[Algorithm],
        stale: bool,
        now: Instant,
    ) -> Vec<String> {
        let mut out = Vec::new();
        if algorithms.is_empty() {
            return out;
        }
        let nonce = self.issue(now);
        let mut done: Vec<Algorithm> = Vec::with_capacity(2);
        for &alg in algorithms {
            if done.contains(&alg) {
                continue;
            }
            done.push(alg);
            let mut v = String::from("Digest realm=");
            push_quoted(&mut v, realm);
            v.push_str(", nonce=\"");
            v.push_str(&nonce);
            v.push_str("\", algorithm=");
            v.push_str(alg.as_str());
            v.push_str(", qop=\"auth\"");
            if stale {
                v.push_str(", stale=true");
            }
            if let Some(opaque) = &self.config.opaque {
                v.push_str(", opaque=");
                push_quoted(&mut v, opaque);
            }
            out.push(v);
        }
        out
    }

    /// Verifies parsed credentials for a request with `method` and `request_uri` (the
    /// Request-URI as the caller received it; `uri` must equal it byte for byte).
    ///
    /// `ha1` is the stored HA1 of `creds.username` for `creds.algorithm` (hex), or `None` for an
    /// unknown user: then the same digest is computed over a dummy HA1 and the result is the same
    /// [`FailReason::BadCredentials`] as for a wrong password. The response is compared in
    /// constant time. An expired nonce gives [`Outcome::Stale`] only when the response is right
    /// (RFC 7616 §3.3), and a nonce count is recorded only on [`Outcome::Ok`].
    pub fn verify(
        &mut self,
        creds: &Credentials,
        method: &str,
        request_uri: &str,
        ha1: Option<&str>,
        expected_realm: &str,
        now: Instant,
    ) -> Outcome {
        const DUMMY_HA1: &str = "0000000000000000000000000000000000000000000000000000000000000000";
        let known = ha1.is_some();
        let ha1 = match ha1 {
            Some(h) => h.to_ascii_lowercase(),
            None => DUMMY_HA1
                .get(..creds.algorithm.hex_len())
                .unwrap_or(DUMMY_HA1)
                .to_owned(),
        };
        let expected = creds.expected_response(method, &ha1);
        let given = creds.response.to_ascii_lowercase();
        // Unknown users never pass, even with a response made from the (public) dummy HA1.
        let matched: bool = (expected.as_bytes().ct_eq(given.as_bytes())
            & subtle::Choice::from(u8::from(known)))
        .into();

        let (state, key) = self.inspect(&creds.nonce, creds.nc, now);

        if creds.realm != expected_realm {
            return Outcome::Fail(FailReason::RealmMismatch);
        }
        if creds.uri != request_uri {
            return Outcome::Fail(FailReason::UriMismatch);
        }
        if let Some(opaque) = &self.config.opaque {
            if creds.opaque.as_deref() != Some(opaque.as_str()) {
                return Outcome::Fail(FailReason::OpaqueMismatch);
            }
        }
        if state == NonceState::Invalid {
            return Outcome::Fail(FailReason::InvalidNonce);
        }
        if !matched {
            return Outcome::Fail(FailReason::BadCredentials);
        }
        match (state, key) {
            (NonceState::Valid, Some(key)) => {
                self.record(key, creds.nc, now);
                Outcome::Ok
            }
            (NonceState::Stale, _) => Outcome::Stale,
            (NonceState::Replay, _) => Outcome::Fail(FailReason::Replay),
            // Invalid was handled above; Valid always carries its key.
            _ => Outcome::Fail(FailReason::InvalidNonce),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Instant {
        Instant::now()
    }

    fn mgr(b: Instant) -> NonceManager {
        NonceManager::new([7u8; 32], b, NonceConfig::default())
    }

    #[test]
    fn padded_key_equals_slice_key() {
        let secret = [0x5au8; 32];
        let m = NonceManager::new(secret, base(), NonceConfig::default());
        let mut a = m.mac.clone();
        a.update(b"abc");
        #[allow(clippy::unwrap_used)]
        let mut b = <Hmac<Sha256> as Mac>::new_from_slice(&secret).unwrap();
        b.update(b"abc");
        assert_eq!(a.finalize().into_bytes(), b.finalize().into_bytes());
    }

    #[test]
    fn nonce_is_lowercase_hex_and_unique() {
        let b = base();
        let mut m = mgr(b);
        let n1 = m.issue(b);
        let n2 = m.issue(b);
        assert_eq!(n1.len(), NONCE_HEX_LEN);
        assert!(n1.bytes().all(is_lhex));
        assert_ne!(n1, n2);
        assert_eq!(m.check(&n1, Some(1), b), NonceState::Valid);
    }

    #[test]
    fn uppercase_nonce_is_invalid() {
        let b = base();
        let mut m = mgr(b);
        let n = m.issue(b).to_ascii_uppercase();
        assert_eq!(m.check(&n, Some(1), b), NonceState::Invalid);
    }

    #[test]
    fn nc_must_increase() {
        let b = base();
        let mut m = mgr(b);
        let n = m.issue(b);
        assert_eq!(m.check(&n, Some(0), b), NonceState::Replay);
        assert_eq!(m.check(&n, Some(1), b), NonceState::Valid);
        assert_eq!(m.check(&n, Some(1), b), NonceState::Replay);
        assert_eq!(m.check(&n, Some(3), b), NonceState::Valid);
        assert_eq!(m.check(&n, Some(2), b), NonceState::Replay);
        // A refused count is not recorded: 3 is still the highest.
        assert_eq!(m.check(&n, Some(3), b), NonceState::Replay);
        assert_eq!(m.check(&n, None, b), NonceState::Replay);
    }

    #[test]
    fn no_qop_nonce_is_single_use() {
        let b = base();
        let mut m = mgr(b);
        let n = m.issue(b);
        assert_eq!(m.check(&n, None, b), NonceState::Valid);
        assert_eq!(m.check(&n, None, b), NonceState::Replay);
        assert_eq!(m.check(&n, Some(5), b), NonceState::Replay);
    }

    #[test]
    fn lifetime_boundary() {
        let b = base();
        let mut m = mgr(b);
        let n = m.issue(b);
        let edge = b + Duration::from_secs(300);
        assert_eq!(m.check(&n, Some(1), edge), NonceState::Valid);
        let late = edge + Duration::from_millis(1);
        assert_eq!(m.check(&n, Some(2), late), NonceState::Stale);
    }

    #[test]
    fn nonce_from_the_future_is_stale() {
        let b = base();
        let later = b + Duration::from_secs(10);
        let mut m = mgr(b);
        let n = m.issue(later);
        assert_eq!(m.check(&n, Some(1), b), NonceState::Stale);
    }

    #[test]
    fn eviction_prefers_expired_then_oldest_and_never_reopens() {
        let b = base();
        let cfg = NonceConfig {
            lifetime: Duration::from_secs(10),
            max_tracked: 2,
            opaque: None,
        };
        let mut m = NonceManager::new([1u8; 32], b, cfg);
        let old = m.issue(b);
        assert_eq!(m.check(&old, Some(1), b), NonceState::Valid);
        let t1 = b + Duration::from_secs(8);
        let a = m.issue(t1);
        assert_eq!(m.check(&a, Some(1), t1), NonceState::Valid);
        assert_eq!(m.tracked(), 2);
        // `old` expires; using a third nonce evicts it, not `a`.
        let t2 = b + Duration::from_secs(11);
        let c = m.issue(t2);
        assert_eq!(m.check(&c, Some(1), t2), NonceState::Valid);
        assert_eq!(m.tracked(), 2);
        assert_eq!(m.check(&a, Some(1), t2), NonceState::Replay);
        // Full with nothing expired: the oldest (`a`) goes, and comes back stale, not valid.
        let d = m.issue(t2);
        assert_eq!(m.check(&d, Some(1), t2), NonceState::Valid);
        assert_eq!(m.tracked(), 2);
        assert_eq!(m.check(&a, Some(1), t2), NonceState::Stale);
        assert_eq!(m.check(&c, Some(1), t2), NonceState::Replay);
    }

    #[test]
    fn prune_drops_expired() {
        let b = base();
        let mut m = mgr(b);
        let n = m.issue(b);
        assert_eq!(m.check(&n, Some(1), b), NonceState::Valid);
        m.prune(b + Duration::from_secs(301));
        assert_eq!(m.tracked(), 0);
    }

    #[test]
    fn challenge_order_and_fields() {
        let b = base();
        let mut m = NonceManager::new(
            [2u8; 32],
            b,
            NonceConfig {
                opaque: Some("op".into()),
                ..NonceConfig::default()
            },
        );
        let c = m.challenge(
            "pbx \"x\"",
            &[Algorithm::Md5, Algorithm::Sha256, Algorithm::Md5],
            true,
            b,
        );
        assert_eq!(c.len(), 2);
        assert!(c[0].starts_with("Digest realm=\"pbx \\\"x\\\"\", nonce=\""));
        // The caller's order is kept (pbxd.toml `[sip] digest`), duplicates dropped.
        assert!(c[0].contains("algorithm=MD5, qop=\"auth\", stale=true, opaque=\"op\""));
        assert!(c[1].contains("algorithm=SHA-256"));
        let rfc = m.challenge("r", &[Algorithm::Sha256, Algorithm::Md5], false, b);
        assert!(rfc[0].contains("algorithm=SHA-256") && rfc[1].contains("algorithm=MD5"));
        assert!(m.challenge("r", &[], false, b).is_empty());
        let plain = m.challenge("r", &[Algorithm::Md5], false, b);
        assert!(!plain[0].contains("stale"));
    }

    #[test]
    fn parser_accepts_variants() {
        let v = "  digest  USERNAME = \"a\\\"b\" ,, realm=r, nonce=\"n\",uri=\"sip:x@y\",\r\n response=\"AB\", qop=\"auth\", nc=0000000a, cnonce=c, x-foo=\"bar, baz\", algorithm=\"sha-256\"";
        let c = parse_authorization(v).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.username, "a\"b");
        assert_eq!(c.realm, "r");
        assert_eq!(c.uri, "sip:x@y");
        assert_eq!(c.nc, Some(10));
        assert_eq!(c.cnonce.as_deref(), Some("c"));
        assert_eq!(c.algorithm, Algorithm::Sha256);
        assert_eq!(c.qop, Some(Qop::Auth));
    }

    #[test]
    fn parser_errors() {
        let ok = r#"Digest username="u", realm="r", nonce="n", uri="sip:r", response="00""#;
        assert!(parse_authorization(ok).is_ok());
        let cases: &[(&str, AuthError)] = &[
            (r#"Basic dXNlcjpwYXNz"#, AuthError::NotDigest),
            (r#"Digestusername="u""#, AuthError::NotDigest),
            (&format!("{ok}, realm=\"r2\""), AuthError::Duplicate),
            (&format!("{ok}, X=1, x=2"), AuthError::Duplicate),
            (
                &format!("{ok}, algorithm=SHA256"),
                AuthError::UnsupportedAlgorithm,
            ),
            (
                &format!("{ok}, algorithm=MD5-sess"),
                AuthError::UnsupportedAlgorithm,
            ),
            (
                &format!("{ok}, qop=auth-int, nc=00000001, cnonce=\"c\""),
                AuthError::UnsupportedQop,
            ),
            (
                &format!("{ok}, qop=auth, cnonce=\"c\""),
                AuthError::Missing("nc"),
            ),
            (
                &format!("{ok}, qop=auth, nc=00000001"),
                AuthError::Missing("cnonce"),
            ),
            (
                &format!("{ok}, qop=auth, nc=0000001, cnonce=\"c\""),
                AuthError::InvalidNonceCount,
            ),
            (
                &format!("{ok}, qop=auth, nc=0000000A, cnonce=\"c\""),
                AuthError::InvalidNonceCount,
            ),
            (
                &format!("{ok}, nc=00000001"),
                AuthError::UnexpectedNonceCount,
            ),
            (
                r#"Digest realm="r", nonce="n", uri="sip:r", response="00""#,
                AuthError::Missing("username"),
            ),
            (r#"Digest username="u"#, AuthError::Syntax(18)),
            (r#"Digest username="u" realm="r""#, AuthError::Syntax(20)),
            (r#"Digest username"#, AuthError::Syntax(15)),
            (r#"Digest username="a\"#, AuthError::Syntax(19)),
            ("Digest username=\"a\u{1}\"", AuthError::Syntax(18)),
        ];
        for (input, want) in cases {
            assert_eq!(parse_authorization(input).as_ref(), Err(want), "{input}");
        }
        let long = format!("Digest username=\"{}\"", "a".repeat(MAX_VALUE_LEN + 1));
        assert_eq!(parse_authorization(&long), Err(AuthError::ValueTooLong));
        let huge = "a".repeat(MAX_HEADER_LEN + 1);
        assert_eq!(parse_authorization(&huge), Err(AuthError::TooLong));
        let mut many = String::from(ok);
        for i in 0..MAX_PARAMS {
            many.push_str(&format!(", p{i}=1"));
        }
        assert_eq!(parse_authorization(&many), Err(AuthError::TooManyParams));
        assert!(!AuthError::UnsupportedAlgorithm.is_bad_request());
        assert!(AuthError::Duplicate.is_bad_request());
    }

    #[test]
    fn debug_hides_response() {
        let c = parse_authorization(
            r#"Digest username="u", realm="r", nonce="n", uri="sip:r", response="deadbeefcafe""#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("deadbeefcafe"), "{dbg}");
        assert!(dbg.contains("redacted"));
    }
}

#[cfg(test)]
mod client_tests {
    use super::*;

    const RFC7616_NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
    const RFC7616_OPAQUE: &str = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS";
    const RFC7616_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

    fn rfc7616(alg: &str) -> String {
        format!(
            "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm={alg}, nonce=\"{RFC7616_NONCE}\", opaque=\"{RFC7616_OPAQUE}\""
        )
    }

    /// RFC 7616 §3.9.1: the same request answered with SHA-256 and with MD5.
    #[test]
    fn rfc7616_example_vectors() {
        let sha = rfc7616("SHA-256");
        let md5 = rfc7616("MD5");
        let ch = pick_challenge([sha.as_str(), md5.as_str()]).unwrap_or_else(|_| unreachable!());
        assert_eq!(ch.algorithm, Algorithm::Sha256);
        assert!(ch.qop_auth);
        let c = answer_challenge(
            &ch,
            "GET",
            "/dir/index.html",
            "Mufasa",
            "Circle of Life",
            RFC7616_CNONCE,
            1,
        );
        assert_eq!(
            c.response,
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
        let ch = parse_challenge(&md5).unwrap_or_else(|_| unreachable!());
        let c = answer_challenge(
            &ch,
            "GET",
            "/dir/index.html",
            "Mufasa",
            "Circle of Life",
            RFC7616_CNONCE,
            1,
        );
        assert_eq!(c.response, "8ca523f5e9506fed4657c9700eebdbec");
        let v = c.to_header_value();
        assert!(v.contains("qop=auth"));
        assert!(v.contains("nc=00000001"));
        assert!(v.contains(&format!("opaque=\"{RFC7616_OPAQUE}\"")));
        // The server side accepts what the client side writes.
        let back = parse_authorization(&v).unwrap_or_else(|_| unreachable!());
        assert_eq!(back, c);
    }

    #[test]
    fn md5_only_and_no_qop() {
        let ch = pick_challenge(["Digest realm=\"sip.example\", nonce=\"abc\""])
            .unwrap_or_else(|_| unreachable!());
        assert_eq!(ch.algorithm, Algorithm::Md5);
        assert!(!ch.qop_auth && !ch.stale);
        let c = answer_challenge(&ch, "REGISTER", "sip:sip.example", "u", "p", "x", 1);
        assert_eq!(c.qop, None);
        assert_eq!(c.cnonce, None);
        let ha1 = client_ha1(Algorithm::Md5, "u", "sip.example", "p");
        let ha2 = Algorithm::Md5.hash_hex(&[b"REGISTER:sip:sip.example"]);
        assert_eq!(
            c.response,
            Algorithm::Md5.hash_hex(&[ha1.as_bytes(), b":abc:", ha2.as_bytes()])
        );
        assert!(!c.to_header_value().contains("nc="));
    }

    #[test]
    fn picks_sha256_and_skips_what_it_cannot_answer() {
        let ch = pick_challenge([
            "Digest realm=\"r\", nonce=\"1\", algorithm=MD5",
            "Digest realm=\"r\", nonce=\"2\", algorithm=SHA-512-256",
            "Digest realm=\"r\", nonce=\"3\", algorithm=SHA-256, stale=TRUE",
            "Basic realm=\"r\"",
        ])
        .unwrap_or_else(|_| unreachable!());
        assert_eq!((ch.nonce.as_str(), ch.stale), ("3", true));
        assert_eq!(
            pick_challenge(["Digest realm=\"r\", nonce=\"1\", algorithm=MD5-sess"]),
            Err(ChallengeError::UnsupportedAlgorithm)
        );
        assert_eq!(
            pick_challenge(["Digest realm=\"r\", nonce=\"1\", qop=\"auth-int\""]),
            Err(ChallengeError::UnsupportedQop)
        );
        assert_eq!(pick_challenge([]), Err(ChallengeError::None));
        assert_eq!(
            parse_challenge("Digest nonce=\"1\""),
            Err(ChallengeError::Malformed)
        );
        assert_eq!(
            parse_challenge("Digest realm=\"unterminated"),
            Err(ChallengeError::Malformed)
        );
        let long = format!("Digest realm=\"{}\", nonce=\"1\"", "a".repeat(5000));
        assert_eq!(parse_challenge(&long), Err(ChallengeError::Malformed));
    }

    #[test]
    fn server_and_client_agree() {
        let b = Instant::now();
        let mut m = NonceManager::new([3u8; 32], b, NonceConfig::default());
        let ha1 = client_ha1(Algorithm::Sha256, "acme01", "sip.example", "geheim");
        for value in m.challenge(
            "sip.example",
            &[Algorithm::Sha256, Algorithm::Md5],
            false,
            b,
        ) {
            let ch = parse_challenge(&value).unwrap_or_else(|_| unreachable!());
            if ch.algorithm != Algorithm::Sha256 {
                continue;
            }
            let c = answer_challenge(
                &ch,
                "REGISTER",
                "sip:sip.example",
                "acme01",
                "geheim",
                "cn",
                1,
            );
            let back = parse_authorization(&c.to_header_value()).unwrap_or_else(|_| unreachable!());
            assert_eq!(
                m.verify(
                    &back,
                    "REGISTER",
                    "sip:sip.example",
                    Some(&ha1),
                    "sip.example",
                    b
                ),
                Outcome::Ok
            );
        }
    }
}
