//! RFC 4475 (SIP torture test messages) and RFC 5118 (IPv6 torture messages), every file, each
//! with the outcome RFC 4475/5118 asks for, through `msg::parse` and `check::check_request` /
//! `check::check_response` as pbxd runs them.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::Path;

use pbx_sip::check::{check_request, check_response, Policy, Reject};
use pbx_sip::msg::{self, Host, Limits, ParseError, Parsed};

/// What the RFC asks of a receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// Well-formed and acceptable at this layer: parse and check pass.
    Valid,
    /// The request gets this answer (from `parse` or from `check_request`).
    Answer(u16),
    /// No answer: dropped (malformed responses).
    Drop,
}
use Want::*;

/// Which layer decides the outcome the RFC describes (for §3.3 application-layer cases).
#[derive(Debug, Clone, Copy)]
enum Layer {
    /// Decided here (parse + check).
    Here,
    /// Passes here; the named layer gives the RFC answer (e.g. registrar → 401).
    Later(#[allow(dead_code)] &'static str),
}
use Layer::*;

const RFC4475: &[(&str, Want, Layer, &str)] = &[
    // §3.1.1 valid messages
    ("wsinv", Valid, Here, "3.1.1.1 short tortuous INVITE"),
    (
        "intmeth",
        Answer(501),
        Here,
        "3.1.1.2 extension method parses; pbxd does not implement it",
    ),
    ("esc01", Valid, Here, "3.1.1.3 valid % escaping"),
    ("escnull", Valid, Here, "3.1.1.4 escaped NULs in URIs"),
    (
        "esc02",
        Answer(501),
        Here,
        "3.1.1.5 % that is not an escape; method RE%47IST%45R unknown",
    ),
    (
        "lwsdisp",
        Valid,
        Here,
        "3.1.1.6 no LWS between display name and <",
    ),
    ("longreq", Valid, Here, "3.1.1.7 long values"),
    (
        "dblreq",
        Valid,
        Here,
        "3.1.1.8 extra octets after Content-Length are ignored",
    ),
    ("semiuri", Valid, Here, "3.1.1.9 ; in the user part"),
    (
        "transports",
        Valid,
        Here,
        "3.1.1.10 unknown transports in Via",
    ),
    ("mpart01", Valid, Here, "3.1.1.11 multipart MIME"),
    (
        "unreason",
        Valid,
        Here,
        "3.1.1.12 UTF-8 reason phrase (response)",
    ),
    (
        "noreason",
        Valid,
        Here,
        "3.1.1.13 empty reason phrase (response)",
    ),
    // §3.1.2 invalid messages
    (
        "badinv01",
        Answer(400),
        Here,
        "3.1.2.1 extraneous separators in Via/Contact",
    ),
    (
        "clerr",
        Answer(400),
        Here,
        "3.1.2.2 Content-Length larger than the datagram",
    ),
    ("ncl", Answer(400), Here, "3.1.2.3 negative Content-Length"),
    ("scalar02", Answer(400), Here, "3.1.2.4 CSeq beyond 2^31"),
    (
        "scalarlg",
        Drop,
        Here,
        "3.1.2.5 overlarge scalars in a response",
    ),
    (
        "quotbal",
        Answer(400),
        Here,
        "3.1.2.6 unterminated quoted string",
    ),
    (
        "ltgtruri",
        Answer(400),
        Here,
        "3.1.2.7 <> around the Request-URI",
    ),
    (
        "lwsruri",
        Answer(400),
        Here,
        "3.1.2.8 LWS inside the Request-URI",
    ),
    (
        "lwsstart",
        Answer(400),
        Here,
        "3.1.2.9 several SP in the Request-Line",
    ),
    (
        "trws",
        Answer(400),
        Here,
        "3.1.2.10 SP at the end of the Request-Line",
    ),
    (
        "escruri",
        Answer(400),
        Here,
        "3.1.2.11 headers in the Request-URI",
    ),
    ("baddate", Answer(400), Here, "3.1.2.12 Date not in GMT"),
    (
        "regbadct",
        Answer(400),
        Here,
        "3.1.2.13 URI with ? outside <> in Contact",
    ),
    ("badaspec", Answer(400), Here, "3.1.2.14 spaces inside <>"),
    (
        "baddn",
        Answer(400),
        Here,
        "3.1.2.15 non-token display name",
    ),
    ("badvers", Answer(505), Here, "3.1.2.16 SIP/7.0"),
    (
        "mismatch01",
        Answer(400),
        Here,
        "3.1.2.17 CSeq method differs from the method",
    ),
    (
        "mismatch02",
        Answer(501),
        Here,
        "3.1.2.18 unknown method + mismatch: 501 preferred by the RFC",
    ),
    ("bigcode", Drop, Here, "3.1.2.19 status code 4294967301"),
    // §3.2 transaction layer
    (
        "badbranch",
        Valid,
        Here,
        "3.2.1 magic cookie without identifier",
    ),
    // §3.3 application layer
    (
        "insuf",
        Answer(400),
        Here,
        "3.3.1 missing Call-ID, From, To",
    ),
    (
        "unkscm",
        Answer(416),
        Here,
        "3.3.2 unknown Request-URI scheme",
    ),
    (
        "novelsc",
        Answer(416),
        Here,
        "3.3.3 soap.beep is not served by pbxd",
    ),
    (
        "unksm2",
        Answer(400),
        Here,
        "3.3.4 REGISTER with a non-SIP To (registrar rule, decided here)",
    ),
    (
        "bext01",
        Answer(420),
        Here,
        "3.3.5 unknown Require option tags",
    ),
    (
        "invut",
        Answer(415),
        Here,
        "3.3.6 unknown Content-Type in INVITE",
    ),
    (
        "regaut01",
        Valid,
        Later("registrar/auth: 401 with a Digest challenge"),
        "3.3.7 unknown auth scheme",
    ),
    (
        "multi01",
        Answer(400),
        Here,
        "3.3.8 several Call-ID/To/From/CSeq/Max-Forwards",
    ),
    (
        "mcl01",
        Answer(400),
        Here,
        "3.3.9 conflicting Content-Length",
    ),
    (
        "bcast",
        Valid,
        Later("transaction layer: top Via must be ours"),
        "3.3.10 broadcast in the second Via (response)",
    ),
    (
        "zeromf",
        Valid,
        Later("UAS core answers OPTIONS 200"),
        "3.3.11 Max-Forwards 0 on OPTIONS",
    ),
    (
        "cparam01",
        Valid,
        Later("registrar stores the Contact"),
        "3.3.12 Contact parameter",
    ),
    (
        "cparam02",
        Valid,
        Later("registrar stores the Contact"),
        "3.3.13 URI parameter in Contact",
    ),
    (
        "regescrt",
        Valid,
        Later("registrar stores the escaped Route as is"),
        "3.3.14 escaped headers in Contact URI",
    ),
    (
        "sdp01",
        Answer(406),
        Here,
        "3.3.15 Accept without SDP on INVITE",
    ),
    // §3.4 backward compatibility
    (
        "inv2543",
        Valid,
        Here,
        "3.4.1 RFC 2543 INVITE: no Max-Forwards, no branch",
    ),
];

const RFC5118: &[(&str, Want, &str)] = &[
    (
        "ipv6-good",
        Valid,
        "4.1 valid IPv6 in Request-URI, Via, Contact",
    ),
    (
        "ipv6-bad",
        Answer(400),
        "4.1 IPv6 without [ ] in the Request-URI",
    ),
    (
        "port-ambiguous",
        Valid,
        "4.2 [2001:db8::10:5070] is an address without port",
    ),
    ("port-unambiguous", Valid, "4.2 [2001:db8::10]:5070"),
    (
        "ipv6-correct-abnf-2-colons",
        Valid,
        "4.3 2-colon IPv4-in-IPv6",
    ),
    (
        "ipv6-bug-abnf-3-colons",
        Answer(400),
        "4.3 3 colons: invalid under the corrected ABNF (RFC 5954)",
    ),
    (
        "via-received-param-with-delim",
        Valid,
        "4.5 received=[IPv6]",
    ),
    ("via-received-param-no-delim", Valid, "4.5 received=IPv6"),
    (
        "ipv6-in-sdp-clfix",
        Valid,
        "4.6 IPv6 in SDP (corrected Content-Length)",
    ),
    (
        "ipv6-in-sdp",
        Answer(400),
        "4.6 as printed: Content-Length 268 > body",
    ),
    ("mult-ip-in-header", Valid, "4.7 several IPs in headers"),
    (
        "mult-ip-in-sdp-clfix",
        Valid,
        "4.8 several IPs in SDP (corrected Content-Length)",
    ),
    (
        "mult-ip-in-sdp",
        Valid,
        "4.8 as printed: Content-Length 181 < body, body truncated",
    ),
    (
        "ipv4-mapped-ipv6-clfix",
        Valid,
        "4.9 IPv4-mapped IPv6 (corrected Content-Length)",
    ),
    (
        "ipv4-mapped-ipv6",
        Valid,
        "4.9 as printed: Content-Length 236 < body, body truncated",
    ),
];

fn data(dir: &str, name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(dir)
        .join(format!("{name}.dat"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn files(dir: &str) -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(dir);
    std::fs::read_dir(path)
        .unwrap()
        .map(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .trim_end_matches(".dat")
                .to_string()
        })
        .collect()
}

/// What pbxd does with the bytes: the answer code, `Valid`, or `Drop`.
fn outcome(bytes: &[u8]) -> (Want, Option<Parsed>, Option<Reject>) {
    match msg::parse(bytes, &Limits::default()) {
        Err(ParseError::Reject { code, .. }) => (Answer(code), None, None),
        Err(_) => (Drop, None, None),
        Ok(p) => {
            if p.request().is_some() {
                match check_request(&p, bytes.len(), &Policy::default()) {
                    Ok(()) => (Valid, Some(p), None),
                    Err(r) if r.discard => (Drop, Some(p), Some(r)),
                    Err(r) => (Answer(r.code), Some(p), Some(r)),
                }
            } else {
                match check_response(&p) {
                    Ok(()) => (Valid, Some(p), None),
                    Err(_) => (Drop, Some(p), None),
                }
            }
        }
    }
}

#[test]
fn rfc4475_table_covers_every_file() {
    let listed: BTreeSet<String> = RFC4475.iter().map(|(n, ..)| n.to_string()).collect();
    assert_eq!(listed, files("rfc4475"));
    assert_eq!(listed.len(), 49);
    let listed: BTreeSet<String> = RFC5118.iter().map(|(n, ..)| n.to_string()).collect();
    assert_eq!(listed, files("rfc5118"));
}

#[test]
fn rfc4475_every_message_gets_its_answer() {
    let mut wrong = Vec::new();
    for (name, want, layer, what) in RFC4475 {
        let (got, _, reject) = outcome(&data("rfc4475", name));
        if got != *want {
            wrong.push(format!(
                "{name}: want {want:?}, got {got:?} {reject:?} ({what}; {layer:?})"
            ));
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

#[test]
fn rfc5118_every_message_gets_its_answer() {
    let mut wrong = Vec::new();
    for (name, want, what) in RFC5118 {
        let (got, _, reject) = outcome(&data("rfc5118", name));
        if got != *want {
            wrong.push(format!(
                "{name}: want {want:?}, got {got:?} {reject:?} ({what})"
            ));
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

#[test]
fn extension_methods_parse_and_keep_their_token() {
    let bytes = data("rfc4475", "intmeth");
    let p = msg::parse(&bytes, &Limits::default()).unwrap();
    assert_eq!(
        p.method_name(),
        "!interesting-Method0123456789_*+`.%indeed'~"
    );
    assert_eq!(p.method(), None);
    let c = msg::cseq(p.request().unwrap()).unwrap();
    assert_eq!(
        (c.seq, c.method.as_str()),
        (139122385, "!interesting-Method0123456789_*+`.%indeed'~")
    );
    let r = check_request(&p, bytes.len(), &Policy::default()).unwrap_err();
    assert_eq!(r.code, 501);
    assert!(r
        .extra_headers
        .iter()
        .any(|(n, v)| n == "Allow" && v.contains("INVITE")));

    let p = msg::parse(&data("rfc4475", "esc02"), &Limits::default()).unwrap();
    assert_eq!(p.method_name(), "RE%47IST%45R");
    // The %-looking header name is an extension header, not a Contact.
    assert_eq!(msg::contacts(p.request().unwrap()).unwrap().len(), 2);
    assert_eq!(p.value("C%6Fntact"), Some("<sip:alias2@host2.example.com>"));
}

#[test]
fn tortuous_invite_is_read_right() {
    let p = msg::parse(&data("rfc4475", "wsinv"), &Limits::default()).unwrap();
    let req = p.request().unwrap();
    assert_eq!(msg::max_forwards(req), Some(68));
    assert_eq!(msg::cseq(req).unwrap().seq, 9);
    assert_eq!(msg::to_tag(req).as_deref(), Some("1918181833n"));
    assert_eq!(msg::from_tag(req).as_deref(), Some("98asjd8"));
    let vias = msg::vias(req).unwrap();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[0].branch(), Some("390skdjuw"));
    assert_eq!(vias[1].transport, "TCP");
    assert_eq!(
        vias[2].host,
        Host::IpAddr("192.168.255.111".parse().unwrap())
    );
    assert_eq!(req.body.len(), 150);
    let contacts = msg::contacts(req).unwrap();
    assert_eq!(
        contacts[0].display.as_deref(),
        Some(r#"Quoted string \"\""#)
    );
    assert_eq!(
        p.value("newfangledheader"),
        Some("newfangled value continued newfangled value")
    );
}

#[test]
fn extra_octets_after_content_length_are_ignored() {
    let bytes = data("rfc4475", "dblreq");
    let p = msg::parse(&bytes, &Limits::default()).unwrap();
    assert_eq!(p.method_name(), "REGISTER");
    assert!(p.request().unwrap().body.is_empty());
    assert_eq!(
        msg::call_id(p.request().unwrap()),
        Some("dblreq.0ha0isndaksdj99sdfafnl3lk233412")
    );
}

#[test]
fn rejections_carry_their_headers_and_can_be_answered() {
    let (_, p, r) = outcome(&data("rfc4475", "bext01"));
    let r = r.unwrap();
    assert_eq!(
        r.extra_headers,
        vec![(
            "Unsupported".to_string(),
            "nothingSupportsThis, nothingSupportsThisEither".to_string()
        )]
    );
    let resp = r.response(p.unwrap().request().unwrap());
    let text = String::from_utf8(resp.to_bytes()).unwrap();
    assert!(text.starts_with("SIP/2.0 420 Bad Extension\r\n"), "{text}");
    assert!(
        text.contains("Unsupported: nothingSupportsThis, nothingSupportsThisEither\r\n"),
        "{text}"
    );
    assert!(
        text.contains("Via: SIP/2.0/TLS fold-and-staple.example.com;branch=z9hG4bKkdjuw\r\n"),
        "{text}"
    );

    let (_, _, r) = outcome(&data("rfc4475", "invut"));
    assert!(r
        .unwrap()
        .extra_headers
        .iter()
        .any(|(n, v)| n == "Accept" && v.contains("application/sdp")));

    let (_, _, r) = outcome(&data("rfc4475", "insuf"));
    assert_eq!(r.unwrap().reason, "Missing From Header");

    let (_, _, r) = outcome(&data("rfc4475", "scalar02"));
    assert_eq!(r.unwrap().reason, "Bad CSeq Header");

    // Parse-level rejections come with a skeleton to answer.
    match msg::parse(&data("rfc4475", "clerr"), &Limits::default()) {
        Err(ParseError::Reject {
            code: 400, request, ..
        }) => {
            let text = String::from_utf8(
                msg::response_to(&request, 400, "Content-Length Larger Than Body").to_bytes(),
            )
            .unwrap();
            assert!(
                text.contains("Call-ID: clerr.0ha0isndaksdjweiafasdk3\r\n"),
                "{text}"
            );
            assert!(text.contains("CSeq: 8 INVITE\r\n"), "{text}");
            assert!(text.contains("To: sip:j.user@example.com;tag="), "{text}");
        }
        other => panic!("{other:?}"),
    }
}

fn ip(s: &str) -> Host {
    Host::IpAddr(s.parse::<IpAddr>().unwrap())
}

#[test]
fn rfc5118_ipv6_hosts_are_read_right() {
    let p = msg::parse(&data("rfc5118", "ipv6-good"), &Limits::default()).unwrap();
    let req = p.request().unwrap();
    assert_eq!(req.uri.host_with_port.host, ip("2001:db8::10"));
    assert_eq!(msg::top_via(req).unwrap().host, ip("2001:db8::9:1"));
    let c = msg::typed_contacts(&p.message).unwrap();
    assert_eq!(c[0].uri.host_with_port.host, ip("2001:db8::1"));

    let p = msg::parse(&data("rfc5118", "port-ambiguous"), &Limits::default()).unwrap();
    let u = &p.request().unwrap().uri.host_with_port;
    assert_eq!((u.host.clone(), u.port), (ip("2001:db8::10:5070"), None));
    let p = msg::parse(&data("rfc5118", "port-unambiguous"), &Limits::default()).unwrap();
    let u = &p.request().unwrap().uri.host_with_port;
    assert_eq!(
        (u.host.clone(), u.port.map(|p| p.value())),
        (ip("2001:db8::10"), Some(5070))
    );

    let p = msg::parse(&data("rfc5118", "mult-ip-in-header"), &Limits::default()).unwrap();
    let vias = msg::vias(p.request().unwrap()).unwrap();
    assert_eq!(
        (vias[0].host.clone(), vias[0].port),
        (ip("2001:db8::9:1"), Some(6050))
    );
    assert_eq!(vias[1].host, ip("192.0.2.1"));
    assert_eq!(vias[2].host, ip("2001:db8::9:255"));
    assert_eq!(vias[2].received(), Some("192.0.2.200".parse().unwrap()));

    for name in [
        "via-received-param-with-delim",
        "via-received-param-no-delim",
    ] {
        let p = msg::parse(&data("rfc5118", name), &Limits::default()).unwrap();
        let v = msg::top_via(p.request().unwrap()).unwrap();
        assert_eq!(
            v.received(),
            Some("2001:db8::9:255".parse().unwrap()),
            "{name}"
        );
        assert_eq!(v.host, ip("2001:db8::9:1"));
    }

    let p = msg::parse(
        &data("rfc5118", "ipv4-mapped-ipv6-clfix"),
        &Limits::default(),
    )
    .unwrap();
    let v = msg::top_via(p.request().unwrap()).unwrap();
    assert_eq!((v.host, v.port), (ip("::ffff:192.0.2.10"), Some(19823)));
    assert_eq!(p.request().unwrap().body.len(), 245);
    let c = msg::contacts(p.request().unwrap()).unwrap();
    assert_eq!(c[0].uri, "sip:ted@[::ffff:192.0.2.2]");
}
