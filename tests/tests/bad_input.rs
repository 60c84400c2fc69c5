//! Bad input on the control socket gets a proper answer (stable code, Dutch message) or is
//! dropped, and never takes pbxd down.

use pbx_tests::*;
use std::io::Write;
use std::time::Duration;

fn tenants(pbx: &Pbx) -> Vec<String> {
    strings(&pbx.ctl_json(&["tenant", "list"]), "slug")
}

#[track_caller]
fn assert_alive(pbx: &mut Pbx, after: &str) {
    assert!(
        pbx.is_running(),
        "pbxd died after {after}; its output:\n{}",
        pbx.stderr_text()
    );
    assert!(pbx.answers(), "pbxd does not answer after {after}");
}

#[test]
fn malformed_json_unknown_endpoints_and_methods() {
    let mut pbx = Pbx::start(Opts::default());

    // Malformed JSON → 400 bad_request, Dutch message; the version headers are there.
    let r = pbx.request("POST", "/v1/tenants", br#"{"slug": "acme", "name": "#);
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.error_code(), "bad_request");
    assert!(
        r.error_message()
            .starts_with("ongeldige JSON in het verzoek"),
        "{r:?}"
    );
    assert_eq!(r.header("x-pbxd-api"), Some("1"), "{r:?}");
    assert!(
        r.header("x-pbxd-version").is_some_and(|v| !v.is_empty()),
        "{r:?}"
    );
    assert!(
        r.header("content-type")
            .is_some_and(|v| v.starts_with("application/json")),
        "{r:?}"
    );
    // Wrong JSON types and unknown fields too.
    let r = pbx.request("POST", "/v1/tenants", br#"{"slug": 42}"#);
    assert_eq!(
        (r.status, r.error_code()),
        (400, "bad_request".into()),
        "{r:?}"
    );
    let r = pbx.request("PATCH", "/v1/tenants/acme", br#"{"naam": "x"}"#);
    assert!(r.status == 400 || r.status == 404, "{r:?}");
    let r = pbx.request("POST", "/v1/tenants", b"\xff\xfe\x00 geen utf-8");
    assert_eq!(
        (r.status, r.error_code()),
        (400, "bad_request".into()),
        "{r:?}"
    );
    // In English when asked.
    let r = pbx.raw(b"POST /v1/tenants HTTP/1.1\r\nHost: pbxd\r\nConnection: close\r\nAccept-Language: en\r\nContent-Length: 1\r\n\r\n{");
    assert_eq!(r.status, 400);
    assert!(
        r.error_message().starts_with("invalid JSON in the request"),
        "{r:?}"
    );

    // Unknown endpoints → 404 unknown_endpoint.
    for path in [
        "/v1/bestaatniet",
        "/",
        "/v2/status",
        "/v1/tenants/acme/onzin",
        "/v1//tenants",
        "/v1/status/../tenants",
    ] {
        let r = pbx.request("GET", path, b"");
        assert_eq!(r.status, 404, "{path}: {r:?}");
        assert_eq!(r.error_code(), "unknown_endpoint", "{path}");
        assert!(
            r.error_message().starts_with("onbekend eindpunt"),
            "{path}: {r:?}"
        );
    }

    // A method the API does not know, and one the endpoint does not take.
    let r = pbx.request("BREW", "/v1/status", b"");
    assert_eq!(
        (r.status, r.error_code()),
        (400, "bad_request".into()),
        "{r:?}"
    );
    assert!(
        r.error_message().contains("BREW") && r.error_message().starts_with("methode"),
        "{r:?}"
    );
    let r = pbx.request("DELETE", "/v1/status", b"");
    assert_eq!(
        (r.status, r.error_code()),
        (400, "bad_request".into()),
        "{r:?}"
    );
    let r = pbx.request("PUT", "/v1/tenants", b"{}");
    assert_eq!(
        (r.status, r.error_code()),
        (400, "bad_request".into()),
        "{r:?}"
    );

    assert_alive(&mut pbx, "bad requests");
    assert!(tenants(&pbx).is_empty(), "a bad request created something");
}

#[test]
fn too_large_bodies_get_413_and_pbxd_stays_up() {
    let mut pbx = Pbx::start(Opts::default());
    let big = vec![b' '; 1024 * 1024 + 512 * 1024];

    // With Content-Length: refused before reading the body.
    let r = pbx.request("POST", "/v1/tenants", &big);
    assert_eq!(r.status, 413, "{r:?}");
    assert_eq!(r.error_code(), "too_large");
    assert!(
        r.error_message().contains("te groot") && r.error_message().contains("1048576"),
        "{r:?}"
    );
    assert_alive(&mut pbx, "a 1.5 MiB body with Content-Length");

    // Chunked, without a length: refused while reading.
    let mut req = b"POST /v1/tenants HTTP/1.1\r\nHost: pbxd\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for piece in big.chunks(64 * 1024) {
        write!(req, "{:x}\r\n", piece.len()).expect("write");
        req.extend_from_slice(piece);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let r = pbx.raw(&req);
    assert_eq!(r.status, 413, "{r:?}");
    assert_eq!(r.error_code(), "too_large");
    assert_alive(&mut pbx, "a 1.5 MiB chunked body");

    // Exactly at the limit is read (and then judged on its content).
    let mut at = br#"{"slug":"groot","name":"Groot"}"#.to_vec();
    at.resize(1024 * 1024, b' ');
    let r = pbx.request("POST", "/v1/tenants", &at);
    assert_eq!(r.status, 201, "a body of exactly 1 MiB is allowed: {r:?}");

    // A few in parallel.
    let socket = pbx.socket.clone();
    let hs: Vec<_> = (0..4)
        .map(|_| {
            let socket = socket.clone();
            let big = big.clone();
            std::thread::spawn(move || {
                let mut req = format!("POST /v1/tenants HTTP/1.1\r\nHost: pbxd\r\nConnection: close\r\nContent-Length: {}\r\n\r\n", big.len()).into_bytes();
                req.extend_from_slice(&big);
                RawResponse::parse(&raw_bytes(&socket, &req, Duration::from_secs(15))).map(|r| r.status)
            })
        })
        .collect();
    for h in hs {
        assert_eq!(h.join().expect("thread"), Some(413));
    }
    assert_alive(&mut pbx, "parallel large bodies");
    assert_eq!(tenants(&pbx), ["groot"]);
}

#[test]
fn garbage_and_truncated_requests_do_not_kill_pbxd() {
    let mut pbx = Pbx::start(Opts::default());
    pbx.ctl(&["tenant", "add", "acme"]).ok();
    let short = Duration::from_secs(1);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "binary garbage",
            b"\x00\x01\x02\xff\xfe garbage \r\n\r\n".to_vec(),
        ),
        ("no HTTP at all", b"hallo pbxd, hoe gaat het?\n\n".to_vec()),
        (
            "bad version",
            b"GET /v1/status HTTP/9.9\r\nHost: x\r\n\r\n".to_vec(),
        ),
        (
            "header without colon",
            b"GET /v1/status HTTP/1.1\r\nHost x\r\nzomaar tekst\r\n\r\n".to_vec(),
        ),
        (
            "huge header",
            [
                b"GET /v1/status HTTP/1.1\r\nX-Groot: ".to_vec(),
                vec![b'a'; 200 * 1024],
                b"\r\n\r\n".to_vec(),
            ]
            .concat(),
        ),
        (
            "many headers",
            [
                b"GET /v1/status HTTP/1.1\r\n".to_vec(),
                (0..500)
                    .flat_map(|i| format!("X-H{i}: {i}\r\n").into_bytes())
                    .collect(),
                b"\r\n".to_vec(),
            ]
            .concat(),
        ),
        (
            "two content-lengths",
            b"POST /v1/tenants HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n{}{}{}{}"
                .to_vec(),
        ),
        (
            "bad chunk size",
            b"POST /v1/tenants HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"
                .to_vec(),
        ),
        (
            "negative length",
            b"POST /v1/tenants HTTP/1.1\r\nContent-Length: -1\r\n\r\n{}".to_vec(),
        ),
        (
            "truncated head",
            b"POST /v1/tenants HTTP/1.1\r\nContent-Le".to_vec(),
        ),
        (
            "truncated body",
            b"POST /v1/tenants HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"slug\":\"half\"".to_vec(),
        ),
        ("request line only", b"GET".to_vec()),
        ("empty", Vec::new()),
        (
            "pipelined with garbage",
            b"GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n\x00\x00\x00GARBAGE\r\n\r\n".to_vec(),
        ),
    ];
    for (what, req) in &cases {
        let got = pbx.raw_bytes(req, short);
        if let Some(r) = RawResponse::parse(&got) {
            assert!(
                r.status < 500,
                "{what}: a server error for bad input: {r:?}"
            );
        }
        assert_alive(&mut pbx, what);
    }
    // Connections that open and vanish, and slow ones that never finish, all at once.
    let mut idle = Vec::new();
    for _ in 0..50 {
        if let Ok(mut s) = std::os::unix::net::UnixStream::connect(&pbx.socket) {
            let _ = s.write_all(b"GET /v1/sta");
            idle.push(s);
        }
    }
    assert_alive(&mut pbx, "50 half-written requests");
    drop(idle);
    assert_alive(&mut pbx, "50 vanished connections");
    assert_eq!(tenants(&pbx), ["acme"], "bad input changed the state");
}
