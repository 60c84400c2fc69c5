//! pbxd's own checks after parsing. The parser is lenient; these checks give every malformed or
//! unacceptable request the answer RFC 3261 prescribes (§8.2 order: method, then headers, then
//! content), with the RFC 4475 torture tests as the yardstick. Responses that fail are dropped.
//!
//! Decisions (RFC 4475 lets a receiver choose in several cases; pbxd picks the strict one):
//! - Max-Forwards may be absent (RFC 2543 peers, RFC 4475 §3.4 `inv2543`); when present it must
//!   be 0–255 (`scalar02`). Zero gives 483 unless the method is OPTIONS, which pbxd answers itself
//!   (RFC 3261 §16.3 step 2, RFC 4475 `zeromf`).
//! - A branch without the magic cookie is RFC 2543 style and accepted (`badbranch`, `inv2543`).
//! - An unknown method with a CSeq mismatch gets 501, as RFC 4475 §3.1.2.18 prefers (`mismatch02`).
//! - Trailing white space in the Request-Line, a Date not in GMT, spaces inside `< >` get 400
//!   (`trws`, `baddate`, `badaspec`; RFC 4475 allows the strict answer).
//! - Proxy-Require is for proxies; pbxd answers as a UAS and looks at Require only.
//! - No response is ever sent to an ACK ([`Reject::discard`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::msg::{
    digits, is_token, parse_cseq, parse_name_addrs, parse_via, response_to, uri_scheme,
    via_sent_by, Parsed, Request, Response, SipMessage,
};

/// What pbxd implements and understands; passed in by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Implemented methods (the Allow list). Others get 501.
    pub methods: Vec<String>,
    /// Supported option tags (Require). Others get 420.
    pub option_tags: Vec<String>,
    /// Request-URI schemes served. Others get 416.
    pub uri_schemes: Vec<String>,
    /// Body types understood in INVITE, UPDATE and PRACK. Others get 415.
    pub session_types: Vec<String>,
}

impl Default for Policy {
    fn default() -> Self {
        let v = |xs: &[&str]| xs.iter().map(|s| (*s).to_string()).collect();
        Self {
            methods: v(&[
                "INVITE",
                "ACK",
                "CANCEL",
                "BYE",
                "OPTIONS",
                "REGISTER",
                "INFO",
                "UPDATE",
                "PRACK",
                "REFER",
                "NOTIFY",
                "SUBSCRIBE",
                "MESSAGE",
            ]),
            option_tags: v(&["100rel", "replaces", "timer", "path", "outbound"]),
            uri_schemes: v(&["sip", "sips", "tel"]),
            session_types: v(&["application/sdp", "multipart/mixed"]),
        }
    }
}

/// The answer a request gets instead of being processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub code: u16,
    pub reason: &'static str,
    /// Headers the answer must carry (Allow for 405/501, Unsupported for 420, Accept for 415).
    pub extra_headers: Vec<(String, String)>,
    /// No answer may be sent (an ACK, or no readable Via to send it to): drop and count.
    pub discard: bool,
}

impl Reject {
    fn new(code: u16, reason: &'static str) -> Self {
        Self {
            code,
            reason,
            extra_headers: Vec::new(),
            discard: false,
        }
    }

    fn with(mut self, name: &str, value: String) -> Self {
        self.extra_headers.push((name.to_string(), value));
        self
    }

    /// 405 with Allow, for the layer that knows which methods a target accepts.
    pub fn method_not_allowed(allow: &[&str]) -> Self {
        Self::new(405, "Method Not Allowed").with("Allow", allow.join(", "))
    }

    /// The response to send: `response_to` plus the extra headers.
    pub fn response(&self, req: &Request) -> Response {
        let mut r = response_to(req, self.code, self.reason);
        for (name, value) in &self.extra_headers {
            r.headers.push(crate::msg::make_header(name, value.clone()));
        }
        r
    }
}

const SINGLE: &[(&str, &str)] = &[
    ("from", "Multiple From Headers"),
    ("to", "Multiple To Headers"),
    ("call-id", "Multiple Call-ID Headers"),
    ("cseq", "Multiple CSeq Headers"),
    ("max-forwards", "Multiple Max-Forwards Headers"),
    ("content-type", "Multiple Content-Type Headers"),
    ("content-length", "Multiple Content-Length Headers"),
    ("expires", "Multiple Expires Headers"),
];

const MANDATORY: &[(&str, &str)] = &[
    ("from", "Missing From Header"),
    ("to", "Missing To Header"),
    ("call-id", "Missing Call-ID Header"),
    ("cseq", "Missing CSeq Header"),
];

/// pbxd's checks on a parsed request. `datagram_len` is the size of the datagram (or framed
/// stream message) `p` came from; it bounds the Content-Length again.
pub fn check_request(p: &Parsed, datagram_len: usize, policy: &Policy) -> Result<(), Reject> {
    let is_ack = p.method_token.is_none() && p.method_name() == "ACK";
    check_request_inner(p, datagram_len, policy).map_err(|mut r| {
        // RFC 3261 §17.2.1 / §17.2.3: an ACK is never answered. Without a readable Via there is
        // nowhere to send an answer (RFC 3261 §18.2.2).
        let via_ok = p
            .values("via")
            .next()
            .is_some_and(|v| via_sent_by(v).is_some());
        r.discard = is_ack || !via_ok;
        r
    })
}

fn check_request_inner(p: &Parsed, datagram_len: usize, policy: &Policy) -> Result<(), Reject> {
    let SipMessage::Request(_) = &p.message else {
        return Err(Reject::new(400, "Not A Request"));
    };
    let method = p.method_name();

    // SIP-Version (RFC 3261 §8.2, §21.5.6).
    if p.version != "SIP/2.0" {
        return Err(Reject::new(505, "Version Not Supported"));
    }

    // Framing, again: the body must lie inside what arrived.
    if p.body_span.end > datagram_len || p.content_length.is_some_and(|cl| cl != p.body_span.len())
    {
        return Err(Reject::new(400, "Bad Content-Length"));
    }

    // Via: present and readable (RFC 3261 §8.1.1.7, §20.42).
    let mut vias = p.values("via").peekable();
    if vias.peek().is_none() {
        return Err(Reject::new(400, "Missing Via Header"));
    }
    if vias.any(|v| parse_via(v).is_err()) {
        return Err(Reject::new(400, "Bad Via Header"));
    }

    // Mandatory headers (RFC 3261 §8.1.1; Max-Forwards excepted for RFC 2543 peers).
    for (key, reason) in MANDATORY {
        if p.value(key).is_none() {
            return Err(Reject::new(400, reason));
        }
    }

    // Single-valued headers given twice with differing values (RFC 4475 `multi01`).
    for (key, reason) in SINGLE {
        let mut values = p.values(key);
        if let Some(first) = values.next() {
            if values.any(|v| v != first) {
                return Err(Reject::new(400, reason));
            }
        }
    }

    let call_id = p.value("call-id").unwrap_or("");
    if call_id.is_empty() || call_id.bytes().any(|b| b <= b' ') {
        return Err(Reject::new(400, "Bad Call-ID Header"));
    }
    let cseq = p
        .value("cseq")
        .and_then(parse_cseq)
        .filter(|c| c.seq < 1 << 31)
        .ok_or_else(|| Reject::new(400, "Bad CSeq Header"))?;
    let max_forwards = match p.value("max-forwards") {
        None => None,
        Some(v) => Some(
            digits(v)
                .filter(|n| *n <= 255)
                .ok_or_else(|| Reject::new(400, "Bad Max-Forwards Header"))?,
        ),
    };
    // Syntax of the headers pbxd relies on.
    for (key, list, reason) in [
        ("from", false, "Bad From Header"),
        ("to", false, "Bad To Header"),
        ("contact", true, "Bad Contact Header"),
        ("route", true, "Bad Route Header"),
        ("record-route", true, "Bad Record-Route Header"),
    ] {
        for v in p.values(key) {
            let Ok(addrs) = parse_name_addrs(v, list) else {
                return Err(Reject::new(400, reason));
            };
            if key == "contact" {
                for a in &addrs {
                    for (name, value) in &a.params {
                        if name.eq_ignore_ascii_case("expires")
                            && value
                                .as_deref()
                                .and_then(digits)
                                .is_none_or(|n| n > u64::from(u32::MAX))
                        {
                            return Err(Reject::new(400, "Bad Contact Expires"));
                        }
                    }
                }
            }
        }
    }
    if let Some(v) = p.value("expires") {
        if digits(v).is_none_or(|n| n > u64::from(u32::MAX)) {
            return Err(Reject::new(400, "Bad Expires Header"));
        }
    }
    if let Some(v) = p.value("date") {
        if !v.ends_with(" GMT") {
            return Err(Reject::new(400, "Bad Date Header"));
        }
    }
    let content_type = match p.value("content-type") {
        None => None,
        Some(v) => Some(media_type(v).ok_or_else(|| Reject::new(400, "Bad Content-Type Header"))?),
    };
    if !p.body_span.is_empty() && content_type.is_none() {
        return Err(Reject::new(400, "Missing Content-Type Header"));
    }

    // Request-URI: no headers component in a SIP URI (RFC 3261 §19.1.1 table; `escruri`).
    let ruri = p.request_uri.as_deref().unwrap_or("");
    let scheme = uri_scheme(ruri).unwrap_or_default();
    if (scheme == "sip" || scheme == "sips") && {
        let rest = &ruri[scheme.len() + 1..];
        rest[rest.find('@').map_or(0, |at| at + 1)..].contains('?')
    } {
        return Err(Reject::new(400, "Headers In Request-URI"));
    }

    // Method inspection (RFC 3261 §8.2.1).
    if !policy.methods.contains(&method) {
        return Err(Reject::new(501, "Not Implemented").with("Allow", policy.methods.join(", ")));
    }
    if cseq.method != method {
        return Err(Reject::new(400, "CSeq Method Mismatch"));
    }

    // Max-Forwards (RFC 3261 §16.3 step 2).
    if max_forwards == Some(0) && method != "OPTIONS" {
        return Err(Reject::new(483, "Too Many Hops"));
    }

    // Request-URI scheme (RFC 3261 §8.2.2.1; `unkscm`, `novelsc`).
    if !policy
        .uri_schemes
        .iter()
        .any(|s| s.eq_ignore_ascii_case(&scheme))
    {
        return Err(Reject::new(416, "Unsupported URI Scheme"));
    }

    // Require (RFC 3261 §8.2.2.3; not for ACK and CANCEL).
    if method != "ACK" && method != "CANCEL" {
        let unsupported: Vec<&str> = p
            .values("require")
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .filter(|t| !policy.option_tags.iter().any(|s| s.eq_ignore_ascii_case(t)))
            .collect();
        if !unsupported.is_empty() {
            return Err(
                Reject::new(420, "Bad Extension").with("Unsupported", unsupported.join(", "))
            );
        }
    }

    // Content processing (RFC 3261 §8.2.3) for the methods carrying session descriptions.
    let session = matches!(method.as_str(), "INVITE" | "UPDATE" | "PRACK");
    if session && !p.body_span.is_empty() {
        if let Some(ct) = &content_type {
            if !policy
                .session_types
                .iter()
                .any(|t| t.eq_ignore_ascii_case(ct))
            {
                return Err(Reject::new(415, "Unsupported Media Type")
                    .with("Accept", policy.session_types.join(", ")));
            }
        }
    }
    // An INVITE whose Accept rules out SDP cannot be answered with a session (`sdp01`).
    if method == "INVITE" && p.value("accept").is_some() {
        let ok = p
            .values("accept")
            .flat_map(|v| v.split(','))
            .filter_map(media_type)
            .any(|t| t == "*/*" || t == "application/*" || t == "application/sdp");
        if !ok {
            return Err(Reject::new(406, "Not Acceptable"));
        }
    }

    // REGISTER: the address-of-record is a SIP or SIPS URI (RFC 3261 §10.2; `unksm2`).
    if method == "REGISTER" {
        let aor = p
            .value("to")
            .and_then(|v| parse_name_addrs(v, false).ok())
            .and_then(|a| a.into_iter().next())
            .and_then(|a| uri_scheme(&a.uri));
        if !matches!(aor.as_deref(), Some("sip" | "sips")) {
            return Err(Reject::new(400, "To Is Not A SIP URI"));
        }
    }
    Ok(())
}

/// `type/subtype` of a Content-Type or media-range, lower case, parameters dropped.
fn media_type(v: &str) -> Option<String> {
    let main = v.split(';').next()?.trim();
    let (t, s) = main.split_once('/')?;
    let (t, s) = (t.trim(), s.trim());
    let star_ok = |x: &str| x == "*" || is_token(x);
    if !star_ok(t) || !star_ok(s) {
        return None;
    }
    Some(format!(
        "{}/{}",
        t.to_ascii_lowercase(),
        s.to_ascii_lowercase()
    ))
}

/// Why a response is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("response dropped: {0}")]
pub struct Dropped(pub &'static str);

/// pbxd's checks on a parsed response: anything malformed is dropped (RFC 3261 §18.1.2).
pub fn check_response(p: &Parsed) -> Result<(), Dropped> {
    let SipMessage::Response(r) = &p.message else {
        return Err(Dropped("not a response"));
    };
    if p.version != "SIP/2.0" {
        return Err(Dropped("version"));
    }
    if !(100..=699).contains(&r.status_code.code()) {
        return Err(Dropped("status code"));
    }
    let vias: Vec<&str> = p.values("via").collect();
    if vias.is_empty() || vias.iter().any(|v| parse_via(v).is_err()) {
        return Err(Dropped("Via"));
    }
    for key in ["from", "to", "call-id", "cseq"] {
        let mut values = p.values(key);
        let Some(first) = values.next() else {
            return Err(Dropped("missing header"));
        };
        if values.any(|v| v != first) {
            return Err(Dropped("multiple single-valued headers"));
        }
    }
    for key in ["from", "to"] {
        if p.values(key).any(|v| parse_name_addrs(v, false).is_err()) {
            return Err(Dropped("From/To"));
        }
    }
    if p.value("cseq")
        .and_then(parse_cseq)
        .is_none_or(|c| c.seq >= 1 << 31)
    {
        return Err(Dropped("CSeq"));
    }
    if p.values("contact")
        .any(|v| parse_name_addrs(v, true).is_err())
    {
        return Err(Dropped("Contact"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Per-source rate limiting
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// A token bucket per source IP: `capacity` messages in a burst, `per_second` refill. The map
/// holds at most `max_sources` entries: idle ones (bucket full again) go first, else the one
/// seen longest ago. Time comes in as `now`; nothing here reads a clock.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    capacity: f64,
    per_second: f64,
    max_sources: usize,
    buckets: HashMap<IpAddr, Bucket>,
    dropped: u64,
}

impl RateLimiter {
    /// `capacity` ≥ 1 and `per_second` > 0 are enforced (smaller values are raised).
    pub fn new(capacity: u32, per_second: f64, max_sources: usize) -> Self {
        Self {
            capacity: f64::from(capacity.max(1)),
            per_second: if per_second > 0.0 { per_second } else { 1e-9 },
            max_sources: max_sources.max(1),
            buckets: HashMap::new(),
            dropped: 0,
        }
    }

    /// Whether a message from `src` may be processed now; `false` means drop it (counted).
    pub fn allow(&mut self, src: IpAddr, now: Instant) -> bool {
        if !self.buckets.contains_key(&src) && self.buckets.len() >= self.max_sources {
            self.evict(now);
        }
        let capacity = self.capacity;
        let rate = self.per_second;
        let b = self.buckets.entry(src).or_insert(Bucket {
            tokens: capacity,
            last: now,
        });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(capacity);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            self.dropped += 1;
            false
        }
    }

    /// Messages refused so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Sources tracked.
    pub fn sources(&self) -> usize {
        self.buckets.len()
    }

    fn evict(&mut self, now: Instant) {
        let full_after = Duration::from_secs_f64((self.capacity / self.per_second).min(1e9));
        let (capacity, rate) = (self.capacity, self.per_second);
        self.buckets.retain(|_, b| {
            let refilled = b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * rate;
            refilled < capacity && now.saturating_duration_since(b.last) < full_after
        });
        if self.buckets.len() >= self.max_sources {
            if let Some(oldest) = self
                .buckets
                .iter()
                .min_by_key(|(_, b)| b.last)
                .map(|(ip, _)| *ip)
            {
                self.buckets.remove(&oldest);
            }
        }
    }
}
