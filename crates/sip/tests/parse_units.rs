//! Framing, limits, folding, Content-Length, the stream framer and the rate limiter.
#![allow(clippy::unwrap_used)]

use std::net::IpAddr;
use std::time::{Duration, Instant};

use pbx_sip::check::{check_request, Policy, RateLimiter};
use pbx_sip::msg::{self, Limits, ParseError, StreamEvent, StreamFramer};

fn request(extra: &str, body: &str) -> String {
    format!(
        "MESSAGE sip:a@b.example SIP/2.0\r\nVia: SIP/2.0/UDP h.example;branch=z9hG4bK1\r\n\
         From: <sip:x@y.example>;tag=1\r\nTo: <sip:a@b.example>\r\nCall-ID: c1\r\n\
         CSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\n{extra}\r\n{body}"
    )
}

fn code(r: Result<msg::Parsed, ParseError>) -> Option<u16> {
    r.err().and_then(|e| e.code())
}

#[test]
fn oversized_message_is_413_when_answerable_and_dropped_otherwise() {
    let limits = Limits {
        max_message: 300,
        ..Limits::default()
    };
    let big = request(
        "Content-Type: text/plain\r\nContent-Length: 400\r\n",
        &"x".repeat(400),
    );
    match msg::parse(big.as_bytes(), &limits) {
        Err(ParseError::Reject {
            code: 413, request, ..
        }) => assert_eq!(msg::call_id(&*request), Some("c1")),
        other => panic!("{other:?}"),
    }
    // The header section alone does not fit: nothing to answer from.
    let huge_head = request(&format!("X-Pad: {}\r\n", "p".repeat(400)), "");
    assert!(matches!(
        msg::parse(huge_head.as_bytes(), &limits),
        Err(ParseError::Discard(_))
    ));
    // Within the limit it parses.
    let ok = request("Content-Length: 0\r\n", "");
    assert!(msg::parse(ok.as_bytes(), &limits).is_ok());
}

#[test]
fn too_many_headers_and_too_long_lines_are_400() {
    let limits = Limits {
        max_headers: 10,
        ..Limits::default()
    };
    // The base request has 6 header fields: 4 more fit, 5 more do not.
    let head = |n: usize| -> String { (0..n).map(|i| format!("X-H{i}: v\r\n")).collect() };
    let many = head(5);
    match msg::parse(request(&many, "").as_bytes(), &limits) {
        Err(ParseError::Reject {
            code: 400, reason, ..
        }) => assert_eq!(reason, "Too Many Headers"),
        other => panic!("{other:?}"),
    }
    assert!(msg::parse(request(&head(4), "").as_bytes(), &limits).is_ok());

    let limits = Limits {
        max_line: 100,
        ..Limits::default()
    };
    let long = format!("Subject: {}\r\n", "s".repeat(100));
    match msg::parse(request(&long, "").as_bytes(), &limits) {
        Err(ParseError::Reject {
            code: 400, reason, ..
        }) => assert_eq!(reason, "Line Too Long"),
        other => panic!("{other:?}"),
    }
    // The same length folded over two lines is fine: the limit is per physical line.
    let folded = format!("Subject: {}\r\n {}\r\n", "s".repeat(50), "s".repeat(50));
    assert!(msg::parse(request(&folded, "").as_bytes(), &limits).is_ok());
}

#[test]
fn folded_headers_are_unfolded() {
    let text = "OPTIONS sip:a@b.example SIP/2.0\r\nVia: SIP/2.0/UDP\r\n  h.example\r\n\t;branch=z9hG4bK9\r\n\
                From: <sip:x@y.example>\r\n ;tag=7\r\nTo: <sip:a@b.example>\r\nCall-ID: c2\r\nCSeq:\r\n 4\r\n OPTIONS\r\n\
                Subject: one\r\n   two\r\n\r\n";
    let p = msg::parse(text.as_bytes(), &Limits::default()).unwrap();
    let req = p.request().unwrap();
    assert_eq!(msg::top_via(req).unwrap().branch(), Some("z9hG4bK9"));
    assert_eq!(msg::from_tag(req).as_deref(), Some("7"));
    assert_eq!(msg::cseq(req).unwrap().seq, 4);
    assert_eq!(p.value("subject"), Some("one two"));
    assert!(check_request(&p, text.len(), &Policy::default()).is_ok());
    // A continuation before any header is malformed.
    let bad = "OPTIONS sip:a@b.example SIP/2.0\r\n cont\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: 1 OPTIONS\r\n\r\n";
    assert_eq!(
        code(msg::parse(bad.as_bytes(), &Limits::default())),
        Some(400)
    );
}

#[test]
fn bare_lf_line_ends_are_accepted() {
    let text = request("Content-Length: 0\r\n", "").replace("\r\n", "\n");
    let p = msg::parse(text.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(msg::call_id(p.request().unwrap()), Some("c1"));
}

#[test]
fn content_length_on_datagrams() {
    let limits = Limits::default();
    // Longer body than Content-Length: truncated.
    let t = request(
        "Content-Type: text/plain\r\nContent-Length: 3\r\n",
        "abcdef",
    );
    let p = msg::parse(t.as_bytes(), &limits).unwrap();
    assert_eq!(p.request().unwrap().body, b"abc");
    assert_eq!(p.body_span.len(), 3);
    assert!(check_request(&p, t.len(), &Policy::default()).is_ok());
    // Shorter: 400.
    let t = request(
        "Content-Type: text/plain\r\nContent-Length: 30\r\n",
        "abcdef",
    );
    assert_eq!(code(msg::parse(t.as_bytes(), &limits)), Some(400));
    // Missing on UDP: the rest of the datagram.
    let t = request("Content-Type: text/plain\r\n", "abcdef");
    assert_eq!(
        msg::parse(t.as_bytes(), &limits)
            .unwrap()
            .request()
            .unwrap()
            .body,
        b"abcdef"
    );
    // Negative, huge, non-numeric, conflicting: 400.
    for cl in ["-1", "99999999999999999999999", "12a", ""] {
        let t = request(&format!("Content-Length: {cl}\r\n"), "");
        assert_eq!(code(msg::parse(t.as_bytes(), &limits)), Some(400), "{cl}");
    }
    let t = request("Content-Length: 0\r\nl: 1\r\n", "x");
    assert_eq!(code(msg::parse(t.as_bytes(), &limits)), Some(400));
    // A body without Content-Type is a 400 at check time.
    let t = request("Content-Length: 3\r\n", "abc");
    let p = msg::parse(t.as_bytes(), &limits).unwrap();
    assert_eq!(
        check_request(&p, t.len(), &Policy::default())
            .unwrap_err()
            .code,
        400
    );
}

#[test]
fn responses_with_errors_are_discarded() {
    let t = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nContent-Length: 99\r\n\r\n";
    assert!(matches!(
        msg::parse(t.as_bytes(), &Limits::default()),
        Err(ParseError::Discard(_))
    ));
    assert!(matches!(
        msg::parse(b"\r\n\r\n", &Limits::default()),
        Err(ParseError::Discard(_))
    ));
    assert!(matches!(
        msg::parse(b"", &Limits::default()),
        Err(ParseError::Discard(_))
    ));
}

#[test]
fn ack_failures_are_never_answered() {
    let t = "ACK sip:a@b.example SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\n\
             To: <sip:a@b.example>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    let p = msg::parse(t.as_bytes(), &Limits::default()).unwrap();
    let r = check_request(&p, t.len(), &Policy::default()).unwrap_err();
    assert!(r.discard);
}

#[test]
fn unsupported_require_and_zero_max_forwards() {
    let t = request("Require: 100rel, foo\r\nContent-Length: 0\r\n", "");
    let p = msg::parse(t.as_bytes(), &Limits::default()).unwrap();
    let r = check_request(&p, t.len(), &Policy::default()).unwrap_err();
    assert_eq!((r.code, r.extra_headers[0].1.as_str()), (420, "foo"));
    let t = request("Content-Length: 0\r\n", "").replace("Max-Forwards: 70", "Max-Forwards: 0");
    let p = msg::parse(t.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(
        check_request(&p, t.len(), &Policy::default())
            .unwrap_err()
            .code,
        483
    );
}

// --- stream framer ---------------------------------------------------------------------------

fn framed(f: &mut StreamFramer) -> Vec<Result<StreamEvent, ParseError>> {
    let mut out = Vec::new();
    while let Some(e) = f.next() {
        let stop = e.is_err();
        out.push(e);
        if stop {
            break;
        }
    }
    out
}

#[test]
fn stream_messages_split_across_pushes() {
    let one = request("Content-Type: text/plain\r\nContent-Length: 5\r\n", "hello");
    let mut f = StreamFramer::new(Limits::default());
    for chunk in one.as_bytes().chunks(7) {
        assert!(framed(&mut f).is_empty());
        f.push(chunk);
    }
    assert_eq!(
        framed(&mut f),
        vec![Ok(StreamEvent::Message(one.clone().into_bytes()))]
    );
    assert_eq!(f.buffered(), 0);
    let p = msg::parse(one.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(p.request().unwrap().body, b"hello");
}

#[test]
fn stream_two_messages_in_one_push_and_keepalives() {
    let a = request("Content-Type: text/plain\r\nContent-Length: 1\r\n", "a");
    let b = request("Content-Length: 0\r\n", "");
    let mut f = StreamFramer::new(Limits::default());
    f.push(format!("\r\n\r\n{a}{b}\r\n\r\n\r\n").as_bytes());
    assert_eq!(
        framed(&mut f),
        vec![
            Ok(StreamEvent::Ping),
            Ok(StreamEvent::Message(a.into_bytes())),
            Ok(StreamEvent::Message(b.into_bytes())),
            Ok(StreamEvent::Ping),
        ]
    );
    // A lone CRLF (a pong) is waited on and then skipped before the next message.
    f.push(b"\r");
    assert!(framed(&mut f).is_empty());
    f.push(b"\r\n");
    assert!(framed(&mut f).is_empty());
    let c = request("Content-Length: 0\r\n", "");
    f.push(c.as_bytes());
    assert_eq!(
        framed(&mut f),
        vec![Ok(StreamEvent::Message(c.into_bytes()))]
    );
}

#[test]
fn stream_errors_close_the_connection() {
    let mut f = StreamFramer::new(Limits::default());
    f.push(request("", "").as_bytes());
    assert_eq!(
        framed(&mut f),
        vec![Err(ParseError::Stream("missing Content-Length"))]
    );
    f.push(request("Content-Length: 0\r\n", "").as_bytes());
    assert!(matches!(f.next(), Some(Err(ParseError::Stream(_)))));

    let limits = Limits {
        max_message: 500,
        ..Limits::default()
    };
    let mut f = StreamFramer::new(limits);
    f.push(request("Content-Length: 100000\r\n", "").as_bytes());
    assert_eq!(
        framed(&mut f),
        vec![Err(ParseError::Stream("message too large"))]
    );
    let mut f = StreamFramer::new(limits);
    f.push(&[b'A'; 600]);
    assert_eq!(
        framed(&mut f),
        vec![Err(ParseError::Stream("header section too large"))]
    );
    let mut f = StreamFramer::new(limits);
    f.push(request("Content-Length: 1\r\nContent-Length: 2\r\n", "").as_bytes());
    assert_eq!(
        framed(&mut f),
        vec![Err(ParseError::Stream("bad Content-Length"))]
    );
}

// --- rate limiter ---------------------------------------------------------------------------

#[test]
fn rate_limiter_in_virtual_time() {
    let t0 = Instant::now();
    let a: IpAddr = "192.0.2.1".parse().unwrap();
    let b: IpAddr = "2001:db8::1".parse().unwrap();
    let mut rl = RateLimiter::new(3, 2.0, 100);
    assert!((0..3).all(|_| rl.allow(a, t0)));
    assert!(!rl.allow(a, t0));
    assert!(rl.allow(b, t0), "sources are independent");
    assert!(!rl.allow(a, t0 + Duration::from_millis(400)));
    assert!(rl.allow(a, t0 + Duration::from_millis(600)));
    assert!(!rl.allow(a, t0 + Duration::from_millis(600)));
    // A long pause refills to capacity, not beyond.
    let later = t0 + Duration::from_secs(3600);
    assert!((0..3).all(|_| rl.allow(a, later)));
    assert!(!rl.allow(a, later));
    assert_eq!(rl.dropped(), 4);
}

#[test]
fn rate_limiter_map_is_bounded() {
    let t0 = Instant::now();
    let mut rl = RateLimiter::new(2, 1.0, 16);
    for i in 0..1000u32 {
        let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
        rl.allow(ip, t0 + Duration::from_millis(u64::from(i)));
        rl.allow(ip, t0 + Duration::from_millis(u64::from(i)));
        assert!(rl.sources() <= 16);
    }
    // A source that exhausted its bucket is still limited while it stays in the map.
    let x: IpAddr = "198.51.100.7".parse().unwrap();
    let t = t0 + Duration::from_secs(2);
    assert!(rl.allow(x, t) && rl.allow(x, t));
    assert!(!rl.allow(x, t));
}

#[test]
fn stream_reads_folded_and_compact_content_length_and_bounds_its_buffer() {
    let m = request("l:\r\n 2\r\nContent-Type: text/plain\r\n", "hi");
    let mut f = StreamFramer::new(Limits::default());
    f.push(m.as_bytes());
    assert_eq!(
        framed(&mut f),
        vec![Ok(StreamEvent::Message(m.into_bytes()))]
    );

    let limits = Limits {
        max_message: 100,
        ..Limits::default()
    };
    let mut f = StreamFramer::new(limits);
    f.push(&[b'x'; 401]);
    assert_eq!(f.buffered(), 0);
    assert_eq!(
        framed(&mut f),
        vec![Err(ParseError::Stream("buffer limit"))]
    );
}
