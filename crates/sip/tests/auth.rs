//! Digest authentication: RFC 7616 vectors, a SIP REGISTER round trip with a client written
//! here (independent of the crate's own digest code), and parser properties. Virtual time only:
//! every instant is `base + Duration`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use md5::Md5;
use pbx_sip::auth::{
    parse_authorization, Algorithm, AuthError, Credentials, FailReason, NonceConfig, NonceManager,
    Outcome, Qop,
};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

fn h(alg: Algorithm, data: &str) -> String {
    match alg {
        Algorithm::Md5 => hex::encode(Md5::digest(data.as_bytes())),
        Algorithm::Sha256 => hex::encode(Sha256::digest(data.as_bytes())),
    }
}

fn ha1(alg: Algorithm, user: &str, realm: &str, password: &str) -> String {
    h(alg, &format!("{user}:{realm}:{password}"))
}

// ---------------------------------------------------------------- RFC 7616 §3.9.1

const RFC_NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
const RFC_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
const RFC_OPAQUE: &str = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS";

/// The Authorization value of RFC 7616 §3.9.1 (folded over lines as in the RFC).
fn rfc_authorization(alg: &str, response: &str) -> String {
    format!(
        "Digest username=\"Mufasa\",\r\n       realm=\"http-auth@example.org\",\r\n       \
         uri=\"/dir/index.html\",\r\n       algorithm={alg},\r\n       nonce=\"{RFC_NONCE}\",\r\n       \
         nc=00000001,\r\n       cnonce=\"{RFC_CNONCE}\",\r\n       qop=auth,\r\n       \
         response=\"{response}\",\r\n       opaque=\"{RFC_OPAQUE}\""
    )
}

fn check_rfc_vector(alg: Algorithm, expected: &str) {
    let creds = parse_authorization(&rfc_authorization(alg.as_str(), expected))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(creds.username, "Mufasa");
    assert_eq!(creds.realm, "http-auth@example.org");
    assert_eq!(creds.uri, "/dir/index.html");
    assert_eq!(creds.algorithm, alg);
    assert_eq!(creds.nonce, RFC_NONCE);
    assert_eq!(creds.cnonce.as_deref(), Some(RFC_CNONCE));
    assert_eq!(creds.opaque.as_deref(), Some(RFC_OPAQUE));
    assert_eq!(creds.qop, Some(Qop::Auth));
    assert_eq!(creds.nc, Some(1));
    assert_eq!(creds.response, expected);

    let key = ha1(alg, "Mufasa", "http-auth@example.org", "Circle of Life");
    assert_eq!(creds.expected_response("GET", &key), expected);
    // The errata: "Circle Of Life" (capital O, as in RFC 2617) must not match.
    let wrong = ha1(alg, "Mufasa", "http-auth@example.org", "Circle Of Life");
    assert_ne!(creds.expected_response("GET", &wrong), expected);

    // The RFC's nonce is not one of ours: the right password does not help.
    let base = Instant::now();
    let mut mgr = NonceManager::new([9; 32], base, NonceConfig::default());
    let out = mgr.verify(
        &creds,
        "GET",
        "/dir/index.html",
        Some(&key),
        "http-auth@example.org",
        base,
    );
    assert_eq!(out, Outcome::Fail(FailReason::InvalidNonce));
}

#[test]
fn rfc7616_md5_vector() {
    check_rfc_vector(Algorithm::Md5, "8ca523f5e9506fed4657c9700eebdbec");
}

#[test]
fn rfc7616_sha256_vector() {
    check_rfc_vector(
        Algorithm::Sha256,
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
    );
}

// ---------------------------------------------------------------- a SIP registrar and a UA

const REALM: &str = "pbx.example.net";
const RURI: &str = "sip:pbx.example.net";
const ALGS: [Algorithm; 2] = [Algorithm::Sha256, Algorithm::Md5];

/// Registrar side: the nonce manager and HA1 per (user, algorithm), as the model stores them.
struct Registrar {
    mgr: NonceManager,
    ha1: HashMap<(String, Algorithm), String>,
}

impl Registrar {
    fn new(secret: [u8; 32], base: Instant) -> Self {
        let mut ha1s = HashMap::new();
        for alg in ALGS {
            for (user, pw) in [("1001", "s3cret-1001"), ("1002", "hunter2")] {
                ha1s.insert((user.to_owned(), alg), ha1(alg, user, REALM, pw));
            }
        }
        Registrar {
            mgr: NonceManager::new(secret, base, NonceConfig::default()),
            ha1: ha1s,
        }
    }

    fn challenge(&mut self, stale: bool, now: Instant) -> Vec<String> {
        self.mgr.challenge(REALM, &ALGS, stale, now)
    }

    /// REGISTER sip:pbx.example.net with this Authorization value.
    fn register(&mut self, authorization: &str, now: Instant) -> Outcome {
        self.request("REGISTER", RURI, authorization, now)
    }

    fn request(&mut self, method: &str, ruri: &str, authorization: &str, now: Instant) -> Outcome {
        let creds = parse_authorization(authorization).unwrap_or_else(|e| panic!("{e}"));
        let stored = self
            .ha1
            .get(&(creds.username.clone(), creds.algorithm))
            .cloned();
        self.mgr
            .verify(&creds, method, ruri, stored.as_deref(), REALM, now)
    }
}

/// The parameters of one challenge, read by a deliberately simple client-side parser.
#[derive(Debug, Clone)]
struct Challenge {
    realm: String,
    nonce: String,
    algorithm: Algorithm,
    stale: bool,
}

fn read_challenge(value: &str) -> Challenge {
    let rest = value.strip_prefix("Digest ").expect("Digest scheme");
    let mut params = HashMap::new();
    for part in rest.split(", ") {
        let (k, v) = part.split_once('=').expect("name=value");
        params.insert(k.to_owned(), v.trim_matches('"').to_owned());
    }
    assert_eq!(params.get("qop").map(String::as_str), Some("auth"));
    Challenge {
        realm: params["realm"].clone(),
        nonce: params["nonce"].clone(),
        algorithm: Algorithm::from_name(&params["algorithm"]).expect("known algorithm"),
        stale: params.get("stale").is_some_and(|s| s == "true"),
    }
}

/// What a UA does: HA1 from the password, HA2 = H(method:uri), and the qop=auth response.
struct Answer<'a> {
    user: &'a str,
    password: &'a str,
    realm: &'a str,
    nonce: &'a str,
    algorithm: Algorithm,
    method: &'a str,
    uri: &'a str,
    nc: Option<u32>,
    cnonce: &'a str,
}

impl Answer<'_> {
    fn new<'a>(c: &'a Challenge, user: &'a str, password: &'a str, nc: u32) -> Answer<'a> {
        Answer {
            user,
            password,
            realm: &c.realm,
            nonce: &c.nonce,
            algorithm: c.algorithm,
            method: "REGISTER",
            uri: RURI,
            nc: Some(nc),
            cnonce: "0a4f113b",
        }
    }

    fn response_with_ha1(&self, ha1: &str) -> String {
        let ha2 = h(self.algorithm, &format!("{}:{}", self.method, self.uri));
        match self.nc {
            Some(nc) => h(
                self.algorithm,
                &format!("{ha1}:{}:{nc:08x}:{}:auth:{ha2}", self.nonce, self.cnonce),
            ),
            None => h(self.algorithm, &format!("{ha1}:{}:{ha2}", self.nonce)),
        }
    }

    fn header_with_response(&self, response: &str) -> String {
        let mut v = format!(
            "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", response=\"{response}\", algorithm={}",
            self.user,
            self.realm,
            self.nonce,
            self.uri,
            self.algorithm.as_str()
        );
        if let Some(nc) = self.nc {
            v.push_str(&format!(
                ", cnonce=\"{}\", qop=auth, nc={nc:08x}",
                self.cnonce
            ));
        }
        v
    }

    fn header(&self) -> String {
        let key = ha1(self.algorithm, self.user, self.realm, self.password);
        self.header_with_response(&self.response_with_ha1(&key))
    }
}

/// Runs `f` once per algorithm with a fresh registrar and a fresh challenge for that algorithm.
fn each_algorithm(f: impl Fn(&mut Registrar, Challenge, Instant)) {
    for alg in ALGS {
        let base = Instant::now();
        let mut reg = Registrar::new([42; 32], base);
        let challenges = reg.challenge(false, base);
        let c = challenges
            .iter()
            .map(|v| read_challenge(v))
            .find(|c| c.algorithm == alg)
            .expect("a challenge per algorithm");
        assert!(!c.stale);
        f(&mut reg, c, base);
    }
}

#[test]
fn challenge_offers_sha256_first() {
    let base = Instant::now();
    let mut reg = Registrar::new([42; 32], base);
    let values = reg.challenge(false, base);
    assert_eq!(values.len(), 2);
    let first = read_challenge(&values[0]);
    let second = read_challenge(&values[1]);
    assert_eq!(first.algorithm, Algorithm::Sha256);
    assert_eq!(second.algorithm, Algorithm::Md5);
    assert_eq!(first.realm, REALM);
    assert_eq!(first.nonce, second.nonce);
}

#[test]
fn register_round_trip_ok() {
    each_algorithm(|reg, c, base| {
        let t = base + Duration::from_secs(1);
        let a1 = Answer::new(&c, "1001", "s3cret-1001", 1);
        assert_eq!(reg.register(&a1.header(), t), Outcome::Ok, "{c:?}");
        // The same nonce again with the next nonce count (a refresh) also passes.
        let a2 = Answer::new(&c, "1001", "s3cret-1001", 2);
        assert_eq!(reg.register(&a2.header(), t), Outcome::Ok);
        // Counts are kept per nonce, not per user: a second UA answering the same nonce
        // (which a registrar never hands to two UAs) cannot reuse a count already seen.
        let b2 = Answer::new(&c, "1002", "hunter2", 2);
        assert_eq!(
            reg.register(&b2.header(), t),
            Outcome::Fail(FailReason::Replay)
        );
        let b3 = Answer::new(&c, "1002", "hunter2", 3);
        assert_eq!(reg.register(&b3.header(), t), Outcome::Ok);
    });
}

#[test]
fn wrong_password_fails() {
    each_algorithm(|reg, c, base| {
        let a = Answer::new(&c, "1001", "s3cret-1002", 1);
        assert_eq!(
            reg.register(&a.header(), base),
            Outcome::Fail(FailReason::BadCredentials)
        );
    });
}

#[test]
fn unknown_user_fails_like_a_wrong_password() {
    each_algorithm(|reg, c, base| {
        let unknown = Answer::new(&c, "9999", "whatever", 1);
        let wrong_pw = Answer::new(&c, "1001", "whatever", 1);
        let u = reg.register(&unknown.header(), base);
        let w = reg.register(&wrong_pw.header(), base);
        assert_eq!(u, Outcome::Fail(FailReason::BadCredentials));
        assert_eq!(u, w);
        // Not even a response computed over an all-zero "dummy" HA1 gets an unknown user in.
        let zero = "0".repeat(c.algorithm.hex_len());
        let forged = unknown.header_with_response(&unknown.response_with_ha1(&zero));
        assert_eq!(
            reg.register(&forged, base),
            Outcome::Fail(FailReason::BadCredentials)
        );
    });
}

#[test]
fn replayed_nonce_count_fails() {
    each_algorithm(|reg, c, base| {
        let a3 = Answer::new(&c, "1001", "s3cret-1001", 3).header();
        assert_eq!(reg.register(&a3, base), Outcome::Ok);
        assert_eq!(
            reg.register(&a3, base),
            Outcome::Fail(FailReason::Replay),
            "same request twice"
        );
        let a2 = Answer::new(&c, "1001", "s3cret-1001", 2).header();
        assert_eq!(
            reg.register(&a2, base),
            Outcome::Fail(FailReason::Replay),
            "lower count"
        );
        let a4 = Answer::new(&c, "1001", "s3cret-1001", 4).header();
        assert_eq!(reg.register(&a4, base), Outcome::Ok);
    });
}

#[test]
fn failed_attempt_does_not_burn_the_nonce_count() {
    each_algorithm(|reg, c, base| {
        let mut evil = Answer::new(&c, "1001", "guess", u32::MAX);
        evil.cnonce = "evil";
        assert_eq!(
            reg.register(&evil.header(), base),
            Outcome::Fail(FailReason::BadCredentials)
        );
        let good = Answer::new(&c, "1001", "s3cret-1001", 1);
        assert_eq!(reg.register(&good.header(), base), Outcome::Ok);
    });
}

#[test]
fn rfc2069_answer_is_single_use() {
    each_algorithm(|reg, c, base| {
        let mut a = Answer::new(&c, "1001", "s3cret-1001", 1);
        a.nc = None;
        let v = a.header();
        assert!(!v.contains("qop"));
        assert_eq!(reg.register(&v, base), Outcome::Ok);
        assert_eq!(reg.register(&v, base), Outcome::Fail(FailReason::Replay));
    });
}

#[test]
fn expired_nonce_is_stale_then_reauth_succeeds() {
    each_algorithm(|reg, c, base| {
        let late = base + Duration::from_secs(301);
        let a = Answer::new(&c, "1001", "s3cret-1001", 1);
        assert_eq!(reg.register(&a.header(), late), Outcome::Stale);
        // Still in time at exactly the lifetime.
        let edge = base + Duration::from_secs(300);
        assert_eq!(reg.register(&a.header(), edge), Outcome::Ok);
        // Stale is only for the right password.
        let wrong = Answer::new(&c, "1001", "nope", 2);
        assert_eq!(
            reg.register(&wrong.header(), late),
            Outcome::Fail(FailReason::BadCredentials)
        );
        // The registrar re-challenges with stale=true and the UA answers the new nonce.
        let again = reg.challenge(true, late);
        let fresh = again
            .iter()
            .map(|v| read_challenge(v))
            .find(|n| n.algorithm == c.algorithm)
            .expect("challenge");
        assert!(fresh.stale);
        assert_ne!(fresh.nonce, c.nonce);
        let b = Answer::new(&fresh, "1001", "s3cret-1001", 1);
        assert_eq!(reg.register(&b.header(), late), Outcome::Ok);
    });
}

#[test]
fn forged_nonce_fails_even_with_the_right_password() {
    each_algorithm(|reg, c, base| {
        for i in [0, 17, 40, c.nonce.len() - 1] {
            let mut forged = c.nonce.clone().into_bytes();
            forged[i] = if forged[i] == b'0' { b'1' } else { b'0' };
            let forged = String::from_utf8(forged).expect("ascii");
            let mut a = Answer::new(&c, "1001", "s3cret-1001", 1);
            a.nonce = &forged;
            assert_eq!(
                reg.register(&a.header(), base),
                Outcome::Fail(FailReason::InvalidNonce),
                "byte {i}"
            );
        }
        let mut short = Answer::new(&c, "1001", "s3cret-1001", 1);
        let trimmed = &c.nonce[..c.nonce.len() - 2];
        short.nonce = trimmed;
        assert_eq!(
            reg.register(&short.header(), base),
            Outcome::Fail(FailReason::InvalidNonce)
        );
    });
}

#[test]
fn nonce_of_another_secret_fails() {
    each_algorithm(|reg, ours, base| {
        let mut other = Registrar::new([43; 32], base);
        let theirs = other
            .challenge(false, base)
            .iter()
            .map(|v| read_challenge(v))
            .filter(|c| c.algorithm == ours.algorithm)
            .collect::<Vec<_>>();
        assert_eq!(theirs.len(), 1);
        for c in &theirs {
            let a = Answer::new(c, "1001", "s3cret-1001", 1);
            assert_eq!(other.register(&a.header(), base), Outcome::Ok);
            let a = Answer::new(c, "1001", "s3cret-1001", 2);
            assert_eq!(
                reg.register(&a.header(), base),
                Outcome::Fail(FailReason::InvalidNonce)
            );
        }
    });
}

#[test]
fn realm_mismatch_fails() {
    each_algorithm(|reg, c, base| {
        let mut a = Answer::new(&c, "1001", "s3cret-1001", 1);
        a.realm = "other.example.net";
        assert_eq!(
            reg.register(&a.header(), base),
            Outcome::Fail(FailReason::RealmMismatch)
        );
    });
}

#[test]
fn uri_mismatch_fails() {
    each_algorithm(|reg, c, base| {
        let mut a = Answer::new(&c, "1001", "s3cret-1001", 1);
        a.uri = "sip:other.example.net";
        assert_eq!(
            reg.register(&a.header(), base),
            Outcome::Fail(FailReason::UriMismatch)
        );
        // The digest is bound to the method too.
        let b = Answer::new(&c, "1001", "s3cret-1001", 2);
        assert_eq!(
            reg.request("INVITE", RURI, &b.header(), base),
            Outcome::Fail(FailReason::BadCredentials)
        );
    });
}

#[test]
fn ha1_of_the_other_algorithm_fails() {
    let base = Instant::now();
    let mut reg = Registrar::new([42; 32], base);
    let c = read_challenge(&reg.challenge(false, base)[0]);
    assert_eq!(c.algorithm, Algorithm::Sha256);
    let a = Answer::new(&c, "1001", "s3cret-1001", 1);
    let creds = parse_authorization(&a.header()).expect("parse");
    let md5_ha1 = ha1(Algorithm::Md5, "1001", REALM, "s3cret-1001");
    assert_eq!(
        reg.mgr
            .verify(&creds, "REGISTER", RURI, Some(&md5_ha1), REALM, base),
        Outcome::Fail(FailReason::BadCredentials)
    );
}

#[test]
fn absent_algorithm_means_md5() {
    let base = Instant::now();
    let mut reg = Registrar::new([42; 32], base);
    let c = read_challenge(&reg.challenge(false, base)[1]);
    assert_eq!(c.algorithm, Algorithm::Md5);
    let v = Answer::new(&c, "1001", "s3cret-1001", 1)
        .header()
        .replace(", algorithm=MD5", "");
    assert!(!v.contains("algorithm"));
    assert_eq!(reg.register(&v, base), Outcome::Ok);
}

#[test]
fn opaque_must_come_back() {
    let base = Instant::now();
    let cfg = NonceConfig {
        opaque: Some("tenant-7".into()),
        ..NonceConfig::default()
    };
    let mut mgr = NonceManager::new([5; 32], base, cfg);
    let values = mgr.challenge(REALM, &[Algorithm::Sha256], false, base);
    assert!(values[0].ends_with(", opaque=\"tenant-7\""));
    let c = read_challenge(values[0].trim_end_matches(", opaque=\"tenant-7\""));
    let key = ha1(Algorithm::Sha256, "1001", REALM, "pw");
    let a = Answer::new(&c, "1001", "pw", 1);
    let without = parse_authorization(&a.header()).expect("parse");
    assert_eq!(
        mgr.verify(&without, "REGISTER", RURI, Some(&key), REALM, base),
        Outcome::Fail(FailReason::OpaqueMismatch)
    );
    let with = parse_authorization(&format!("{}, opaque=\"tenant-7\"", a.header())).expect("parse");
    assert_eq!(
        mgr.verify(&with, "REGISTER", RURI, Some(&key), REALM, base),
        Outcome::Ok
    );
}

#[test]
fn unsupported_algorithm_is_a_rechallenge_not_a_400() {
    let err = parse_authorization(
        r#"Digest username="1001", realm="r", nonce="n", uri="sip:r", response="00", algorithm=SHA-512-256"#,
    )
    .expect_err("unsupported");
    assert_eq!(err, AuthError::UnsupportedAlgorithm);
    assert!(!err.is_bad_request());
}

// ---------------------------------------------------------------- properties

fn arb_text() -> impl Strategy<Value = String> {
    // Anything but CR and LF, which a SIP quoted-string cannot carry.
    "[^\r\n]{0,40}"
}

prop_compose! {
    fn arb_credentials()(
        username in arb_text(),
        realm in arb_text(),
        nonce in arb_text(),
        uri in arb_text(),
        response in "[0-9a-f]{0,64}",
        sha in any::<bool>(),
        qop in proptest::option::of((arb_text(), any::<u32>())),
        opaque in proptest::option::of(arb_text()),
    ) -> Credentials {
        let (cnonce, nc) = match qop {
            Some((c, n)) => (Some(c), Some(n)),
            None => (None, None),
        };
        Credentials {
            username,
            realm,
            nonce,
            uri,
            response,
            algorithm: if sha { Algorithm::Sha256 } else { Algorithm::Md5 },
            qop: nc.map(|_| Qop::Auth),
            cnonce,
            opaque,
            nc,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_never_panics(s in any::<String>()) {
        let _ = parse_authorization(&s);
    }

    #[test]
    fn parse_never_panics_on_digest_like_input(
        s in "Digest [a-z=\", \\\\\t\r\né0-9\u{1}]{0,200}"
    ) {
        let _ = parse_authorization(&s);
    }

    #[test]
    fn round_trip(c in arb_credentials()) {
        let v = c.to_header_value();
        let back = parse_authorization(&v);
        prop_assert_eq!(back, Ok(c), "{}", v);
    }

    #[test]
    fn verify_never_panics_on_parsed_garbage(
        s in "Digest [a-z=\", 0-9]{0,120}",
        secs in 0u64..1000,
    ) {
        if let Ok(c) = parse_authorization(&s) {
            let base = Instant::now();
            let mut mgr = NonceManager::new([1; 32], base, NonceConfig::default());
            let out = mgr.verify(&c, "REGISTER", &c.uri, None, &c.realm, base + Duration::from_secs(secs));
            prop_assert!(matches!(out, Outcome::Fail(_)));
        }
    }
}
