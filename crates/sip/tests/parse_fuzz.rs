//! Network input never panics: random bytes and mutated valid messages through `parse`,
//! `check_request`/`check_response`, the accessors and the stream framer.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use pbx_sip::check::{check_request, check_response, Policy};
use pbx_sip::msg::{self, Limits, StreamFramer};
use proptest::prelude::*;

fn corpus() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for dir in ["rfc4475", "rfc5118"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(dir);
        for e in std::fs::read_dir(path).unwrap() {
            out.push(std::fs::read(e.unwrap().path()).unwrap());
        }
    }
    out.sort();
    out
}

fn small_limits() -> Limits {
    Limits {
        max_message: 4096,
        max_headers: 32,
        max_line: 256,
    }
}

fn run(bytes: &[u8]) {
    for limits in [Limits::default(), small_limits()] {
        match msg::parse(bytes, &limits) {
            Ok(p) => {
                if let Some(req) = p.request() {
                    if let Err(r) = check_request(&p, bytes.len(), &Policy::default()) {
                        let _ = r.response(req).to_bytes();
                    }
                    let _ = msg::response_to(req, 200, "OK").to_bytes();
                    // What pbxd does to every received request (RFC 3581).
                    let mut stamped = req.clone();
                    let source = "[2001:db8::1]:5070".parse().unwrap();
                    if msg::stamp_via(&mut stamped, source) {
                        let _ = msg::response_to(&stamped, 200, "OK").to_bytes();
                        let _ = msg::top_via(&stamped);
                    }
                } else {
                    let _ = check_response(&p);
                }
                let m = &p.message;
                let _ = (
                    msg::vias(m),
                    msg::top_via(m),
                    msg::to_tag(m),
                    msg::from_tag(m),
                );
                let _ = (
                    msg::call_id(m),
                    msg::cseq(m),
                    msg::max_forwards(m),
                    msg::expires(m),
                );
                let _ = (msg::contacts(m), msg::typed_contacts(m));
            }
            Err(msg::ParseError::Reject {
                request,
                code,
                reason,
            }) => {
                let _ = msg::response_to(&request, code, reason).to_bytes();
            }
            Err(_) => {}
        }
        let mut f = StreamFramer::new(limits);
        for chunk in bytes.chunks(97) {
            f.push(chunk);
            while let Some(e) = f.next() {
                match e {
                    Ok(msg::StreamEvent::Message(m)) => {
                        let _ = msg::parse(&m, &limits);
                    }
                    Ok(msg::StreamEvent::Ping) => {}
                    Err(_) => break,
                }
            }
        }
    }
}

/// A mutation: (position fraction, kind, byte).
fn mutate(base: &[u8], edits: &[(f64, u8, u8)]) -> Vec<u8> {
    let mut v = base.to_vec();
    const SPECIAL: &[u8] = b"\r\n \t:;,<>\"\\[]@?%=/0";
    for &(at, kind, byte) in edits {
        let i = ((v.len() as f64) * at) as usize;
        let i = i.min(v.len());
        match kind % 5 {
            0 if i < v.len() => v[i] = byte,
            1 => v.insert(i, SPECIAL[byte as usize % SPECIAL.len()]),
            2 if i < v.len() => {
                v.remove(i);
            }
            3 => v.truncate(i),
            _ => {
                let end = (i + byte as usize % 40).min(v.len());
                let dup = v[i..end].to_vec();
                v.splice(i..i, dup);
            }
        }
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        run(&bytes);
    }

    #[test]
    fn mutated_torture_messages_never_panic(
        which in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((0.0f64..1.0, any::<u8>(), any::<u8>()), 1..8),
    ) {
        let corpus = corpus();
        let base = &corpus[which.index(corpus.len())];
        run(&mutate(base, &edits));
    }

}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn sip_like_lines_never_panic(lines in proptest::collection::vec(
        "(INVITE|SIP/2.0|ACK|Via|v|CSeq|Content-Length|l|To|From|Contact|m|Max-Forwards)?[ :;,<>\"\\\\\\[\\]@a-z0-9./=-]{0,40}",
        0..12,
    )) {
        let text = lines.join("\r\n") + "\r\n\r\n";
        run(text.as_bytes());
    }
}

#[test]
fn every_corpus_message_survives_every_truncation() {
    for m in corpus() {
        for cut in (0..m.len()).step_by(3) {
            run(&m[..cut]);
        }
    }
}
