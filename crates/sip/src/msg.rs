//! The one facade over the SIP parser. Nothing else in pbxd names `rsipstack`: the rest of the
//! code says `pbx_sip::msg::…`.
//!
//! [`parse`] frames a datagram before the parser sees it (RFC 3261 §7, §18.3): it finds the end
//! of the header section (CRLF or bare LF line ends), enforces [`Limits`], unfolds continuation
//! lines (§7.3.1), checks the start line strictly, applies Content-Length, and keeps what the
//! parser cannot hold (an extension method token, the raw Request-URI, every header field as
//! written, byte spans). [`StreamFramer`] cuts messages out of a TCP/TLS byte stream.
//!
//! Errors say what the RFC answer is: [`ParseError::Reject`] carries the status code, the reason
//! and a skeleton request (Via, From, To, Call-ID, CSeq) to build the answer with
//! [`response_to`]; [`ParseError::Discard`] means no answer (responses are never answered,
//! RFC 3261 §18.1.2 / §16.3).

use std::ops::Range;

use sha2::{Digest, Sha256};

pub use rsipstack::sip::headers::{make_header, typed, untyped};
pub use rsipstack::sip::{param, Error as ParserError};
pub use rsipstack::sip::{
    HasHeaders, Header, Headers, HeadersExt, Host, HostWithPort, Method, Param, Port, Request,
    Response, Scheme, SipMessage, StatusCode, StatusCodeKind, Transport, Uri, Version,
};

/// Size limits applied before anything is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest message in bytes (the largest UDP payload by default). Larger → 413 or discard.
    pub max_message: usize,
    /// Most header fields after unfolding. More → 400.
    pub max_headers: usize,
    /// Longest physical line in the header section. Longer → 400.
    pub max_line: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message: 65_535,
            max_headers: 128,
            max_line: 8192,
        }
    }
}

/// Why a message got no further than [`parse`] (or [`StreamFramer::next`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// A request that can still be answered: send `response_to(&request, code, reason)`.
    /// `request` is a skeleton holding only the readable Via, From, To, Call-ID and CSeq.
    #[error("request rejected: {code} {reason}")]
    Reject {
        code: u16,
        reason: &'static str,
        request: Box<Request>,
    },
    /// Nothing may be sent back: count it and drop it.
    #[error("message discarded: {0}")]
    Discard(&'static str),
    /// The byte stream cannot be framed any more: close the connection.
    #[error("stream closed: {0}")]
    Stream(&'static str),
}

impl ParseError {
    /// The status code the RFC prescribes, when the message gets an answer.
    pub fn code(&self) -> Option<u16> {
        match self {
            Self::Reject { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// One header field as it arrived, unfolded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The name as written (`v`, `TO `, `C%6Fntact` …), without surrounding white space.
    pub name: String,
    /// Lower-case long form (`v` → `via`, `l` → `content-length`).
    pub key: String,
    /// The value with folds replaced by one space, trimmed.
    pub value: String,
    /// Byte span of the field (all its physical lines) in the input.
    pub span: Range<usize>,
}

/// A message the parser could hold, plus what it cannot hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The parsed message. For an extension method, `Request::method` holds a stand-in
    /// (`OPTIONS`): use [`Parsed::method_name`] / [`Parsed::method`].
    pub message: SipMessage,
    /// The real method token when it is not one the parser knows (`NEWMETHOD`, `RE%47IST%45R`).
    pub method_token: Option<String>,
    /// The Request-URI exactly as written.
    pub request_uri: Option<String>,
    /// The SIP-Version text of the start line (`SIP/2.0`).
    pub version: String,
    /// Every header field in order, as written (unfolded).
    pub fields: Vec<Field>,
    /// Bytes before the body: leading CRLF, start line, headers and the empty line.
    pub head_len: usize,
    /// Byte span of the body in the input (after Content-Length was applied).
    pub body_span: Range<usize>,
    /// The Content-Length value, when present.
    pub content_length: Option<usize>,
}

impl Parsed {
    /// The request, if this is one.
    pub fn request(&self) -> Option<&Request> {
        match &self.message {
            SipMessage::Request(r) => Some(r),
            SipMessage::Response(_) => None,
        }
    }

    /// The response, if this is one.
    pub fn response(&self) -> Option<&Response> {
        match &self.message {
            SipMessage::Response(r) => Some(r),
            SipMessage::Request(_) => None,
        }
    }

    /// The method token of a request as written (empty for a response).
    pub fn method_name(&self) -> String {
        match (&self.method_token, &self.message) {
            (Some(t), _) => t.clone(),
            (None, SipMessage::Request(r)) => r.method.to_string(),
            (None, SipMessage::Response(_)) => String::new(),
        }
    }

    /// The method when the parser knows it; `None` for an extension method or a response.
    pub fn method(&self) -> Option<Method> {
        match (&self.method_token, &self.message) {
            (None, SipMessage::Request(r)) => Some(r.method),
            _ => None,
        }
    }

    /// Values of every field with this (long, case-insensitive) name, compact forms included.
    pub fn values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + 'a {
        let key = name.to_ascii_lowercase();
        self.fields
            .iter()
            .filter(move |f| f.key == key)
            .map(|f| f.value.as_str())
    }

    /// The first value of a field.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values(name).next()
    }
}

// ---------------------------------------------------------------------------------------------
// Framing and parsing
// ---------------------------------------------------------------------------------------------

const COMPACT: &[(&str, &str)] = &[
    ("a", "accept-contact"),
    ("b", "referred-by"),
    ("c", "content-type"),
    ("d", "request-disposition"),
    ("e", "content-encoding"),
    ("f", "from"),
    ("i", "call-id"),
    ("j", "reject-contact"),
    ("k", "supported"),
    ("l", "content-length"),
    ("m", "contact"),
    ("n", "identity-info"),
    ("o", "event"),
    ("r", "refer-to"),
    ("s", "subject"),
    ("t", "to"),
    ("u", "allow-events"),
    ("v", "via"),
    ("x", "session-expires"),
    ("y", "identity"),
];

fn field_key(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    for (short, long) in COMPACT {
        if lower == *short {
            return (*long).to_string();
        }
    }
    lower
}

/// RFC 3261 `token` character.
pub(crate) fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_char)
}

/// The header section as scanned, before the parser.
struct Head {
    start_line: String,
    fields: Vec<Field>,
    /// Offset of the body (just after the empty line).
    body_start: usize,
    /// The first framing problem (400-class reason), if any.
    problem: Option<&'static str>,
}

/// Scans start line and header fields of `data` (leading CR/LF already skipped by the caller).
/// `None` when the header section has no end inside `data`.
fn scan_head(data: &[u8], base: usize, limits: &Limits) -> Option<Head> {
    let mut pos = 0usize;
    let mut start_line: Option<String> = None;
    let mut fields: Vec<Field> = Vec::new();
    let mut problem: Option<&'static str> = None;
    fn set(p: &mut Option<&'static str>, why: &'static str) {
        if p.is_none() {
            *p = Some(why);
        }
    }
    loop {
        let rest = data.get(pos..)?;
        let lf = rest.iter().position(|&b| b == b'\n')?;
        let line_end = if lf > 0 && rest[lf - 1] == b'\r' {
            lf - 1
        } else {
            lf
        };
        let raw = &rest[..line_end];
        let line_start = pos;
        pos += lf + 1;
        if raw.len() > limits.max_line {
            set(&mut problem, "Line Too Long");
        }
        let Ok(line) = std::str::from_utf8(raw) else {
            set(&mut problem, "Invalid UTF-8 In Header");
            if start_line.is_none() {
                start_line = Some(String::new());
            }
            continue;
        };
        if line.bytes().any(|b| b == b'\r') {
            set(&mut problem, "Bare CR In Header");
        }
        if start_line.is_none() {
            start_line = Some(line.to_string());
            continue;
        }
        if line.is_empty() {
            return Some(Head {
                start_line: start_line.unwrap_or_default(),
                fields,
                body_start: pos,
                problem,
            });
        }
        if line.starts_with([' ', '\t']) {
            match fields.last_mut() {
                Some(f) => {
                    let more = line.trim_matches([' ', '\t']);
                    if !more.is_empty() {
                        if !f.value.is_empty() {
                            f.value.push(' ');
                        }
                        f.value.push_str(more);
                    }
                    f.span.end = base + pos;
                }
                None => set(&mut problem, "Continuation Before First Header"),
            }
            continue;
        }
        let Some(colon) = line.find(':') else {
            set(&mut problem, "Malformed Header Line");
            continue;
        };
        let name = line[..colon].trim_end_matches([' ', '\t']);
        if !is_token(name) {
            set(&mut problem, "Malformed Header Name");
            continue;
        }
        if fields.len() >= limits.max_headers {
            set(&mut problem, "Too Many Headers");
            continue;
        }
        fields.push(Field {
            name: name.to_string(),
            key: field_key(name),
            value: line[colon + 1..].trim_matches([' ', '\t']).to_string(),
            span: base + line_start..base + pos,
        });
    }
}

/// What the start line of a request says.
struct RequestLine {
    method: String,
    uri: String,
    version: String,
}

fn split_request_line(line: &str) -> Result<RequestLine, &'static str> {
    let parts: Vec<&str> = line.split(' ').collect();
    if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
        return Err("Malformed Request-Line");
    }
    let (method, uri, version) = (parts[0], parts[1], parts[2]);
    if !is_token(method) {
        return Err("Malformed Method");
    }
    if uri.starts_with('<') || uri.bytes().any(|b| b.is_ascii_whitespace() || b < 0x21) {
        return Err("Malformed Request-URI");
    }
    if !is_sip_version(version) {
        return Err("Malformed SIP-Version");
    }
    check_request_uri(uri)?;
    Ok(RequestLine {
        method: method.to_string(),
        uri: uri.to_string(),
        version: version.to_string(),
    })
}

fn is_sip_version(v: &str) -> bool {
    let Some(rest) = v.strip_prefix("SIP/") else {
        return false;
    };
    let Some((maj, min)) = rest.split_once('.') else {
        return false;
    };
    !maj.is_empty()
        && !min.is_empty()
        && maj.bytes().all(|b| b.is_ascii_digit())
        && min.bytes().all(|b| b.is_ascii_digit())
        && maj.len() <= 3
        && min.len() <= 3
}

/// The scheme of a URI (`sip`, `tel`, `nobodyknowsthisscheme`), lower case.
pub fn uri_scheme(uri: &str) -> Option<String> {
    let (scheme, _) = uri.split_once(':')?;
    let mut b = scheme.bytes();
    let first = b.next()?;
    if !first.is_ascii_alphabetic()
        || !b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
    {
        return None;
    }
    Some(scheme.to_ascii_lowercase())
}

/// Checks a Request-URI: an absolute URI; for SIP and SIPS, a valid hostport (RFC 3261 §25.1,
/// with the IPv6 reference of RFC 5954: `[2001:db8:::1]` and a bare `2001:db8::1` are errors).
fn check_request_uri(uri: &str) -> Result<(), &'static str> {
    let Some(scheme) = uri_scheme(uri) else {
        return Err("Malformed Request-URI");
    };
    if scheme != "sip" && scheme != "sips" {
        return Ok(());
    }
    let rest = &uri[scheme.len() + 1..];
    let after_user = match rest.find('@') {
        Some(at) => &rest[at + 1..],
        None => rest,
    };
    let hostport = after_user.split([';', '?']).next().unwrap_or(after_user);
    parse_hostport(hostport)
        .map(|_| ())
        .ok_or("Malformed Request-URI Host")
}

/// `host [":" port]` with host a name, an IPv4 address or an `[IPv6]` reference.
pub(crate) fn parse_hostport(s: &str) -> Option<(Host, Option<u16>)> {
    let (host, port) = if let Some(inner) = s.strip_prefix('[') {
        let close = inner.find(']')?;
        let ip: std::net::Ipv6Addr = inner[..close].parse().ok()?;
        let tail = &inner[close + 1..];
        let port = match tail.strip_prefix(':') {
            Some(p) => Some(parse_port(p)?),
            None if tail.is_empty() => None,
            None => return None,
        };
        (Host::IpAddr(std::net::IpAddr::V6(ip)), port)
    } else {
        let (h, port) = match s.split_once(':') {
            Some((h, p)) => (h, Some(parse_port(p)?)),
            None => (s, None),
        };
        if h.is_empty()
            || !h
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        {
            return None;
        }
        let host = match h.parse::<std::net::Ipv4Addr>() {
            Ok(ip) => Host::IpAddr(std::net::IpAddr::V4(ip)),
            Err(_) => Host::Domain(h.into()),
        };
        (host, port)
    };
    Some((host, port))
}

fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse().ok()
}

/// A decimal number made only of digits (no sign, no spaces), saturating at `u64::MAX`.
pub(crate) fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |acc, b| {
        acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

/// Parses one datagram (UDP) or one message cut by [`StreamFramer`].
///
/// Content-Length (RFC 3261 §18.3): a body longer than Content-Length is truncated; shorter is
/// a 400; without Content-Length the body is the rest of the datagram.
pub fn parse(datagram: &[u8], limits: &Limits) -> Result<Parsed, ParseError> {
    // RFC 3261 §7.5: CRLF before the start line is ignored (keep-alives, RFC 5626 §4.4.1).
    let skip = datagram
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .ok_or(ParseError::Discard("empty or keep-alive"))?;
    let too_large = datagram.len() > limits.max_message;
    let window = &datagram[skip..datagram.len().min(limits.max_message.max(skip))];
    let Some(head) = scan_head(window, skip, limits) else {
        return Err(ParseError::Discard(if too_large {
            "message too large"
        } else {
            "no end of header section"
        }));
    };
    let is_response = head.start_line.starts_with("SIP/");
    let fail = |code: u16, reason: &'static str, head: &Head| -> ParseError {
        if is_response {
            ParseError::Discard(reason)
        } else {
            match skeleton(head) {
                Some(request) => ParseError::Reject {
                    code,
                    reason,
                    request: Box::new(request),
                },
                None => ParseError::Discard(reason),
            }
        }
    };
    if too_large {
        return Err(fail(413, "Request Entity Too Large", &head));
    }
    if let Some(why) = head.problem {
        return Err(fail(400, why, &head));
    }

    // Content-Length: every copy must be the same plain number.
    let mut content_length: Option<u64> = None;
    for f in head.fields.iter().filter(|f| f.key == "content-length") {
        let Some(n) = digits(&f.value) else {
            return Err(fail(400, "Bad Content-Length", &head));
        };
        if content_length.is_some_and(|c| c != n) {
            return Err(fail(400, "Conflicting Content-Length", &head));
        }
        content_length = Some(n);
    }
    let body_start = skip + head.body_start;
    let available = datagram.len() - body_start;
    let body_len = match content_length {
        Some(n) if n > limits.max_message as u64 => {
            return Err(fail(400, "Bad Content-Length", &head));
        }
        Some(n) if n as usize > available => {
            return Err(fail(400, "Content-Length Larger Than Body", &head));
        }
        Some(n) => n as usize,
        None => available,
    };
    let body = &datagram[body_start..body_start + body_len];

    // The start line.
    let (start, method_token, request_uri, version) = if is_response {
        let version = head
            .start_line
            .split(' ')
            .next()
            .unwrap_or_default()
            .to_string();
        let code = head.start_line.get(version.len() + 1..).unwrap_or("");
        let code = code.split(' ').next().unwrap_or("");
        if !is_sip_version(&version)
            || code.len() != 3
            || !code.bytes().all(|b| b.is_ascii_digit())
            || !(100..=699).contains(&digits(code).unwrap_or(0))
        {
            return Err(ParseError::Discard("malformed Status-Line"));
        }
        (head.start_line.clone(), None, None, version)
    } else {
        let rl = match split_request_line(&head.start_line) {
            Ok(rl) => rl,
            Err(why) => return Err(fail(400, why, &head)),
        };
        let known = Method::all()
            .into_iter()
            .find(|m| m.to_string() == rl.method);
        let (shown, token) = match known {
            Some(m) => (m.to_string(), None),
            None => (Method::Options.to_string(), Some(rl.method.clone())),
        };
        (
            format!("{shown} {} {}", rl.uri, rl.version),
            token,
            Some(rl.uri),
            rl.version,
        )
    };

    let mut text = String::with_capacity(head.body_start + 16);
    text.push_str(&start);
    text.push_str("\r\n");
    for f in &head.fields {
        text.push_str(&f.name);
        text.push_str(": ");
        text.push_str(&f.value);
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    let mut message = match rsipstack::sip::parser::parse_message(text.as_bytes()) {
        Ok(m) => m,
        Err(_) => return Err(fail(400, "Bad Request", &head)),
    };
    match &mut message {
        SipMessage::Request(r) => r.body = body.to_vec(),
        SipMessage::Response(r) => r.body = body.to_vec(),
    }
    Ok(Parsed {
        message,
        method_token,
        request_uri,
        version,
        fields: head.fields,
        head_len: body_start,
        body_span: body_start..body_start + body_len,
        content_length: content_length.map(|n| n as usize),
    })
}

/// A request holding only the readable Via, From, To, Call-ID and CSeq, so that an error can
/// be answered. `None` when no top Via can be read or there is no CSeq.
fn skeleton(head: &Head) -> Option<Request> {
    let mut headers = Headers::default();
    let mut method = Method::Options;
    let mut via_ok = false;
    let mut has_cseq = false;
    for f in &head.fields {
        match f.key.as_str() {
            "via" => {
                if !via_ok {
                    via_ok = via_sent_by(&f.value).is_some();
                }
                headers.push(Header::Via(untyped::Via::new(f.value.clone())));
            }
            "from" | "to" | "call-id" => headers.push(make_header(&f.key, f.value.clone())),
            "cseq" => {
                if !has_cseq {
                    if let Some(m) = f
                        .value
                        .split_whitespace()
                        .nth(1)
                        .and_then(|t| Method::all().into_iter().find(|m| m.to_string() == t))
                    {
                        method = m;
                    }
                }
                has_cseq = true;
                headers.push(Header::CSeq(untyped::CSeq::new(f.value.clone())));
            }
            _ => {}
        }
    }
    (via_ok && has_cseq).then(|| Request {
        method,
        uri: Uri::default(),
        version: Version::V2,
        headers,
        body: Vec::new(),
    })
}

// ---------------------------------------------------------------------------------------------
// Stream framing (TCP, TLS)
// ---------------------------------------------------------------------------------------------

/// What a stream yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// One whole message (start line to end of body), for [`parse`].
    Message(Vec<u8>),
    /// An RFC 5626 keep-alive ping (CRLFCRLF): answer with one CRLF (pong).
    Ping,
}

/// Cuts SIP messages out of a byte stream by Content-Length (mandatory on streams,
/// RFC 3261 §18.3). After an error the framer stays broken: close the connection.
#[derive(Debug, Clone)]
pub struct StreamFramer {
    buf: Vec<u8>,
    limits: Limits,
    broken: Option<&'static str>,
    /// Length of the message at the front once its header section was read.
    pending: Option<usize>,
}

impl StreamFramer {
    /// A framer that holds at most `limits.max_message` bytes of one message.
    pub fn new(limits: Limits) -> Self {
        Self {
            buf: Vec::new(),
            limits,
            broken: None,
            pending: None,
        }
    }

    /// Bytes held but not yet framed.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Appends bytes read from the connection. Call [`StreamFramer::next`] until it gives
    /// `None` after every push: more than four times `max_message` unframed breaks the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.broken.is_none() {
            self.buf.extend_from_slice(bytes);
            if self.buf.len() > self.limits.max_message.saturating_mul(4) {
                self.broken = Some("buffer limit");
                self.buf = Vec::new();
            }
        }
    }

    /// The next event, `None` when more bytes are needed.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Result<StreamEvent, ParseError>> {
        if let Some(why) = self.broken {
            return Some(Err(ParseError::Stream(why)));
        }
        // RFC 5626 §4.4.1 keep-alive ping, and stray CRLF (pongs) before a start line.
        if self.buf.starts_with(b"\r\n\r\n") {
            self.buf.drain(..4);
            return Some(Ok(StreamEvent::Ping));
        }
        let lead = self
            .buf
            .iter()
            .position(|&b| b != b'\r' && b != b'\n')
            .unwrap_or(self.buf.len());
        if lead == self.buf.len() {
            // Only CR/LF so far: wait while it may still become a ping.
            if !b"\r\n\r\n".starts_with(&self.buf) {
                self.buf.clear();
            }
            return None;
        }
        self.buf.drain(..lead);
        if let Some(total) = self.pending {
            return (self.buf.len() >= total)
                .then(|| self.take(total))
                .flatten();
        }
        let Some(end) = find_head_end(&self.buf) else {
            if self.buf.len() > self.limits.max_message {
                return Some(Err(self.break_with("header section too large")));
            }
            return None;
        };
        // The same reading of the header section as `parse` (folding, compact forms).
        let mut cl: Option<u64> = None;
        let fields = scan_head(&self.buf[..end], 0, &self.limits)
            .map(|h| h.fields)
            .unwrap_or_default();
        for f in fields.iter().filter(|f| f.key == "content-length") {
            match digits(&f.value) {
                Some(n) if cl.is_none_or(|c| c == n) => cl = Some(n),
                _ => return Some(Err(self.break_with("bad Content-Length"))),
            }
        }
        let Some(cl) = cl else {
            return Some(Err(self.break_with("missing Content-Length")));
        };
        let total = (end as u64).saturating_add(cl);
        if total > self.limits.max_message as u64 {
            return Some(Err(self.break_with("message too large")));
        }
        let total = total as usize;
        if self.buf.len() < total {
            self.pending = Some(total);
            return None;
        }
        self.take(total)
    }

    fn take(&mut self, total: usize) -> Option<Result<StreamEvent, ParseError>> {
        self.pending = None;
        let rest = self.buf.split_off(total);
        let msg = std::mem::replace(&mut self.buf, rest);
        Some(Ok(StreamEvent::Message(msg)))
    }

    fn break_with(&mut self, why: &'static str) -> ParseError {
        self.broken = Some(why);
        self.buf = Vec::new();
        ParseError::Stream(why)
    }
}

/// Offset just past the empty line that ends the header section (CRLFCRLF or LFLF).
fn find_head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(lf) = buf[i..].iter().position(|&b| b == b'\n') {
        let next = i + lf + 1;
        if buf.get(next) == Some(&b'\n') {
            return Some(next + 1);
        }
        if buf.get(next) == Some(&b'\r') && buf.get(next + 1) == Some(&b'\n') {
            return Some(next + 2);
        }
        i = next;
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Via, name-addr: pbxd's own readers (the parser keeps these as text)
// ---------------------------------------------------------------------------------------------

/// One Via hop (`via-parm`, RFC 3261 §20.42).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViaHop {
    /// `SIP/2.0`.
    pub protocol: String,
    /// The transport token as written, upper case (`UDP`, `TCP`, `TLS`, `WS`, `UNKNOWN` …).
    pub transport: String,
    /// sent-by host.
    pub host: Host,
    /// sent-by port.
    pub port: Option<u16>,
    /// Parameters in order, names as written.
    pub params: Vec<(String, Option<String>)>,
}

impl ViaHop {
    fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }

    /// The branch parameter.
    pub fn branch(&self) -> Option<&str> {
        self.param("branch").flatten()
    }

    /// The received parameter, with or without `[ ]` around an IPv6 address (RFC 5118 §4.5).
    pub fn received(&self) -> Option<std::net::IpAddr> {
        let v = self.param("received").flatten()?;
        let v = v
            .strip_prefix('[')
            .and_then(|v| v.strip_suffix(']'))
            .unwrap_or(v);
        v.parse().ok()
    }

    /// `None`: no rport; `Some(None)`: rport without value (RFC 3581); `Some(Some(p))`: filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.param("rport").map(|v| v.and_then(|p| p.parse().ok()))
    }

    /// Whether the branch carries the RFC 3261 magic cookie.
    pub fn has_magic_cookie(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with("z9hG4bK"))
    }
}

/// A small cursor over header text.
struct Cur<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cur<'a> {
    fn new(s: &'a str) -> Self {
        Self {
            s: s.as_bytes(),
            i: 0,
        }
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn ws(&mut self) -> bool {
        let start = self.i;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
        self.i > start
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.i;
        while self.peek().is_some_and(&f) {
            self.i += 1;
        }
        // The input is a &str and every predicate stops only at ASCII bytes or at the end, so
        // the cut lies on char boundaries; a non-UTF-8 cut (impossible) degrades to "".
        std::str::from_utf8(&self.s[start..self.i]).unwrap_or("")
    }
    fn token(&mut self) -> &'a str {
        self.take_while(is_token_char)
    }
    fn done(&self) -> bool {
        self.i >= self.s.len()
    }
    /// A quoted string (opening quote at the cursor); returns its inner text.
    fn quoted(&mut self) -> Result<&'a str, &'static str> {
        if !self.eat(b'"') {
            return Err("expected quoted string");
        }
        let start = self.i;
        loop {
            match self.peek() {
                None => return Err("Unterminated Quoted String"),
                Some(b'\\') => {
                    self.i += 1;
                    match self.peek() {
                        None | Some(b'\r' | b'\n') => return Err("Unterminated Quoted String"),
                        Some(_) => self.i += 1,
                    }
                }
                Some(b'"') => {
                    let inner = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
                    self.i += 1;
                    return Ok(inner);
                }
                Some(_) => self.i += 1,
            }
        }
    }
    /// `*( SEMI generic-param )`.
    fn params(&mut self) -> Result<Vec<(String, Option<String>)>, &'static str> {
        Ok(self
            .params_spanned()?
            .into_iter()
            .map(|(n, v, _)| (n, v))
            .collect())
    }
    /// As [`Cur::params`], with the byte range of each parameter (from the white space before
    /// its `;` to the end of its value).
    fn params_spanned(&mut self) -> Result<Vec<Param3>, &'static str> {
        let mut out = Vec::new();
        loop {
            let save = self.i;
            let start = save;
            self.ws();
            if !self.eat(b';') {
                self.i = save;
                return Ok(out);
            }
            self.ws();
            let name = self.token();
            if name.is_empty() {
                return Err("Empty Parameter");
            }
            let save = self.i;
            self.ws();
            let value = if self.eat(b'=') {
                self.ws();
                if self.peek() == Some(b'"') {
                    Some(self.quoted()?.to_string())
                } else {
                    let v =
                        self.take_while(|b| is_token_char(b) || matches!(b, b'[' | b']' | b':'));
                    if v.is_empty() {
                        return Err("Empty Parameter Value");
                    }
                    Some(v.to_string())
                }
            } else {
                self.i = save;
                None
            };
            out.push((name.to_string(), value, start..self.i));
        }
    }
}

/// A parameter: name, value, byte range in the header value.
type Param3 = (String, Option<String>, Range<usize>);

/// Parses a Via header value (one or more comma-separated hops).
pub fn parse_via(value: &str) -> Result<Vec<ViaHop>, &'static str> {
    let mut c = Cur::new(value);
    let mut hops = Vec::new();
    loop {
        hops.push(via_hop(&mut c)?.0);
        c.ws();
        if c.done() {
            return Ok(hops);
        }
        if !c.eat(b',') {
            return Err("Malformed Via");
        }
    }
}

/// One `via-parm` at the cursor, with the byte ranges of its parameters; the cursor ends right
/// after the last parameter.
fn via_hop(c: &mut Cur<'_>) -> Result<(ViaHop, Vec<Range<usize>>), &'static str> {
    c.ws();
    let name = c.token();
    c.ws();
    let version = if c.eat(b'/') {
        c.ws();
        c.token()
    } else {
        ""
    };
    c.ws();
    let slash = c.eat(b'/');
    c.ws();
    let transport = c.token();
    if name.is_empty() || version.is_empty() || !slash || transport.is_empty() {
        return Err("Malformed Via");
    }
    if !c.ws() {
        return Err("Malformed Via");
    }
    let host = if c.peek() == Some(b'[') {
        c.take_while(|b| b != b']' && b != b';' && b != b',')
    } else {
        c.take_while(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    };
    let mut hostport = host.to_string();
    if host.starts_with('[') {
        if !c.eat(b']') {
            return Err("Malformed Via");
        }
        hostport.push(']');
    }
    let save = c.i;
    c.ws();
    if c.eat(b':') {
        c.ws();
        hostport.push(':');
        hostport.push_str(c.take_while(|b| b.is_ascii_digit()));
    } else {
        c.i = save;
    }
    let (host, port) = parse_hostport(&hostport).ok_or("Malformed Via sent-by")?;
    let mut params = Vec::new();
    let mut spans = Vec::new();
    for (n, v, span) in c.params_spanned()? {
        params.push((n, v));
        spans.push(span);
    }
    Ok((
        ViaHop {
            protocol: format!("{name}/{version}"),
            transport: transport.to_ascii_uppercase(),
            host,
            port,
            params,
        },
        spans,
    ))
}

/// The top Via value as a server writes it back after receiving the request from `source`
/// (RFC 3261 §18.2.1, RFC 3581 §4): `received=<source ip>` when the sent-by host is not that
/// IP, or whenever the client asked for `rport`; an `rport` without value gets the source
/// port. A `received` the client wrote itself is replaced. Only the first hop of the value
/// changes, and the rest keeps its bytes. `None` when nothing changes or the first hop cannot
/// be read (the request is then answered as it is).
pub fn stamped_via(value: &str, source: std::net::SocketAddr) -> Option<String> {
    let mut c = Cur::new(value);
    let (hop, spans) = via_hop(&mut c).ok()?;
    let end = c.i;
    let ip = source.ip().to_canonical();
    let asked_rport = hop.param("rport").is_some();
    let fill_rport = matches!(hop.param("rport"), Some(None));
    let same_host = matches!(&hop.host, Host::IpAddr(h) if h.to_canonical() == ip);
    let received = asked_rport || !same_host;
    if !received && !fill_rport {
        return None;
    }
    let mut out = String::with_capacity(value.len() + 40);
    let mut last = 0;
    for ((name, v), span) in hop.params.iter().zip(&spans) {
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        if is("received") && received {
            out.push_str(value.get(last..span.start)?);
            last = span.end;
        } else if is("rport") && v.is_none() {
            out.push_str(value.get(last..span.start)?);
            out.push_str(&format!(";rport={}", source.port()));
            last = span.end;
        }
    }
    out.push_str(value.get(last..end)?);
    if received {
        out.push_str(&format!(";received={ip}"));
    }
    out.push_str(value.get(end..)?);
    Some(out)
}

/// Applies [`stamped_via`] to the top Via of a received request; says whether it changed.
pub fn stamp_via(req: &mut Request, source: std::net::SocketAddr) -> bool {
    let Some(via) = req.headers.iter_mut().find_map(|h| match h {
        Header::Via(v) => Some(v),
        _ => None,
    }) else {
        return false;
    };
    match stamped_via(via.value(), source) {
        Some(v) => {
            *via = untyped::Via::new(v);
            true
        }
        None => false,
    }
}

/// The sent-by of the first hop, even when its parameters are malformed: enough to answer
/// (RFC 3261 §18.2.2 sends to the source address and the sent-by port).
pub fn via_sent_by(value: &str) -> Option<(Host, Option<u16>)> {
    let first = value.split([';', ',']).next().unwrap_or(value);
    let hop = parse_via(first).ok()?.into_iter().next()?;
    Some((hop.host, hop.port))
}

/// One `name-addr` / `addr-spec` with its header parameters (From, To, Contact, Route …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// Display name without quotes (escapes kept as written).
    pub display: Option<String>,
    /// The URI text.
    pub uri: String,
    /// Whether the URI was inside `< >`.
    pub bracketed: bool,
    /// Header parameters in order.
    pub params: Vec<(String, Option<String>)>,
}

impl NameAddr {
    /// The tag parameter.
    pub fn tag(&self) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("tag"))
            .and_then(|(_, v)| v.as_deref())
    }
}

/// Parses a From/To-style value (`list`: Contact/Route-style comma-separated list).
/// A Contact of `*` gives one entry with uri `*`.
pub fn parse_name_addrs(value: &str, list: bool) -> Result<Vec<NameAddr>, &'static str> {
    if list && value.trim() == "*" {
        return Ok(vec![NameAddr {
            display: None,
            uri: "*".into(),
            bracketed: false,
            params: Vec::new(),
        }]);
    }
    let mut c = Cur::new(value);
    let mut out = Vec::new();
    loop {
        c.ws();
        let mut display = None;
        let bracketed;
        if c.peek() == Some(b'"') {
            display = Some(c.quoted()?.to_string());
            c.ws();
            if !c.eat(b'<') {
                return Err("Malformed Name-Addr");
            }
            bracketed = true;
        } else {
            let save = c.i;
            let words = c.take_while(|b| is_token_char(b) || b == b' ' || b == b'\t');
            if c.eat(b'<') {
                let w = words.trim_matches([' ', '\t']);
                if !w.is_empty() {
                    display = Some(w.to_string());
                }
                bracketed = true;
            } else {
                c.i = save;
                bracketed = false;
            }
        }
        let uri = if bracketed {
            let u = c.take_while(|b| b != b'>');
            if !c.eat(b'>') {
                return Err("Missing '>'");
            }
            if u.is_empty() || u.bytes().any(|b| b == b' ' || b == b'\t' || b == b'<') {
                return Err("Malformed URI In Name-Addr");
            }
            u.to_string()
        } else {
            let u = c.take_while(|b| {
                b > b' ' && b != b';' && b != b'"' && b != b'<' && b != b'>' && (!list || b != b',')
            });
            if u.contains('?') || (!list && u.contains(',')) {
                return Err("URI With Headers Outside <>");
            }
            u.to_string()
        };
        if uri_scheme(&uri).is_none() {
            return Err("Malformed URI In Name-Addr");
        }
        let params = c.params()?;
        out.push(NameAddr {
            display,
            uri,
            bracketed,
            params,
        });
        c.ws();
        if c.done() {
            return Ok(out);
        }
        if !(list && c.eat(b',')) {
            return Err("Malformed Name-Addr");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Accessors and the answer helper
// ---------------------------------------------------------------------------------------------

fn first_value<M: HasHeaders + ?Sized>(m: &M, f: impl Fn(&Header) -> bool) -> Option<&str> {
    m.headers().iter().find(|h| f(h)).map(Header::value)
}

/// Every Via hop in order (comma-separated hops split). `None` if any Via cannot be read.
pub fn vias<M: HasHeaders + ?Sized>(m: &M) -> Option<Vec<ViaHop>> {
    let mut out = Vec::new();
    for h in m.headers().iter() {
        if let Header::Via(v) = h {
            out.extend(parse_via(v.value()).ok()?);
        }
    }
    Some(out)
}

/// The top Via hop.
pub fn top_via<M: HasHeaders + ?Sized>(m: &M) -> Option<ViaHop> {
    let v = first_value(m, |h| matches!(h, Header::Via(_)))?;
    parse_via(v).ok()?.into_iter().next()
}

/// The tag of To.
pub fn to_tag<M: HasHeaders + ?Sized>(m: &M) -> Option<String> {
    let v = first_value(m, |h| matches!(h, Header::To(_)))?;
    parse_name_addrs(v, false)
        .ok()?
        .first()?
        .tag()
        .map(str::to_string)
}

/// The tag of From.
pub fn from_tag<M: HasHeaders + ?Sized>(m: &M) -> Option<String> {
    let v = first_value(m, |h| matches!(h, Header::From(_)))?;
    parse_name_addrs(v, false)
        .ok()?
        .first()?
        .tag()
        .map(str::to_string)
}

/// The Call-ID.
pub fn call_id<M: HasHeaders + ?Sized>(m: &M) -> Option<&str> {
    first_value(m, |h| matches!(h, Header::CallId(_))).map(str::trim)
}

/// CSeq: sequence number and method token as written (extension methods included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeqValue {
    pub seq: u32,
    pub method: String,
}

/// Parses a CSeq value (`1*DIGIT LWS Method`); the number must fit 32 bits.
pub fn parse_cseq(value: &str) -> Option<CSeqValue> {
    let mut it = value.split_ascii_whitespace();
    let seq = digits(it.next()?)?;
    let method = it.next()?;
    if it.next().is_some() || !is_token(method) {
        return None;
    }
    Some(CSeqValue {
        seq: u32::try_from(seq).ok()?,
        method: method.to_string(),
    })
}

/// The CSeq header.
pub fn cseq<M: HasHeaders + ?Sized>(m: &M) -> Option<CSeqValue> {
    parse_cseq(first_value(m, |h| matches!(h, Header::CSeq(_)))?)
}

/// Max-Forwards (0–255).
pub fn max_forwards<M: HasHeaders + ?Sized>(m: &M) -> Option<u8> {
    let v = first_value(m, |h| matches!(h, Header::MaxForwards(_)))?;
    u8::try_from(digits(v.trim())?).ok()
}

/// The Expires header (delta-seconds, 32 bits).
pub fn expires<M: HasHeaders + ?Sized>(m: &M) -> Option<u32> {
    let v = first_value(m, |h| matches!(h, Header::Expires(_)))?;
    u32::try_from(digits(v.trim())?).ok()
}

/// Every Contact (all Contact headers, comma lists split). `None` if one cannot be read.
pub fn contacts<M: HasHeaders + ?Sized>(m: &M) -> Option<Vec<NameAddr>> {
    let mut out = Vec::new();
    for h in m.headers().iter() {
        if let Header::Contact(c) = h {
            out.extend(parse_name_addrs(c.value(), true).ok()?);
        }
    }
    Some(out)
}

/// The Contacts as the parser's typed values (`None` if one cannot be read).
pub fn typed_contacts(m: &SipMessage) -> Option<Vec<typed::Contact>> {
    m.typed_contact_headers().ok()
}

/// A status code with the given reason phrase (the standard one keeps the named variant).
pub fn status(code: u16, reason: &str) -> StatusCode {
    let standard = StatusCode::from(code);
    if reason.is_empty() || standard.text().eq_ignore_ascii_case(reason) {
        standard
    } else {
        StatusCode::Other(code, reason.to_string())
    }
}

/// A To tag that is the same for the same request (RFC 3261 §8.2.7, stateless answers):
/// derived from Call-ID, From tag, top branch and CSeq.
pub fn stable_tag(req: &Request) -> String {
    let mut h = Sha256::new();
    for part in [
        call_id(req).unwrap_or(""),
        from_tag(req).as_deref().unwrap_or(""),
        top_via(req).as_ref().and_then(ViaHop::branch).unwrap_or(""),
        first_value(req, |h| matches!(h, Header::CSeq(_))).unwrap_or(""),
    ] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex::encode(&h.finalize()[..8])
}

/// The answer to a request per RFC 3261 §8.2.6: Via(s), From, To (with a To tag when it had
/// none and the code is above 100), Call-ID and CSeq copied; Content-Length 0.
pub fn response_to(req: &Request, code: u16, reason: &str) -> Response {
    response_with_tag(req, code, reason, &stable_tag(req))
}

/// As [`response_to`], with the caller's To tag (for dialog-creating answers).
pub fn response_with_tag(req: &Request, code: u16, reason: &str, tag: &str) -> Response {
    let mut headers = Headers::default();
    for h in req.headers.iter() {
        match h {
            Header::Via(_) | Header::From(_) | Header::CallId(_) | Header::CSeq(_) => {
                headers.push(h.clone())
            }
            Header::To(to) => {
                let mut value = to.value().to_string();
                if code > 100 && to_tag(req).is_none() {
                    value.push_str(";tag=");
                    value.push_str(tag);
                }
                headers.push(Header::To(untyped::To::new(value)));
            }
            _ => {}
        }
    }
    headers.push(Header::ContentLength(untyped::ContentLength::new("0")));
    Response {
        status_code: status(code, reason),
        wire_reason: None,
        version: Version::V2,
        headers,
        body: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const OPTIONS: &str = "OPTIONS sip:a@b.example SIP/2.0\r\nVia: SIP/2.0/UDP h.example;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b.example>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn parses_and_answers() {
        let p = parse(OPTIONS.as_bytes(), &Limits::default()).unwrap();
        let req = p.request().unwrap();
        let r = response_to(req, 404, "Not Found");
        let text = String::from_utf8(r.to_bytes()).unwrap();
        assert!(text.starts_with("SIP/2.0 404 Not Found\r\n"), "{text}");
        assert!(text.contains(";tag="), "{text}");
        assert_eq!(to_tag(&r), Some(stable_tag(req)));
        assert_eq!(
            response_to(req, 100, "Trying")
                .to_bytes()
                .windows(4)
                .filter(|w| w == b"tag=")
                .count(),
            1
        );
    }

    #[test]
    fn via_gets_received_and_rport() {
        let src: std::net::SocketAddr = "192.0.2.1:9988".parse().unwrap();
        // RFC 3581 §4: the empty rport is filled in, received is added even when equal.
        assert_eq!(
            stamped_via(
                "SIP/2.0/UDP 10.1.1.1:4540;rport;branch=z9hG4bKkjshdyff",
                src
            )
            .as_deref(),
            Some("SIP/2.0/UDP 10.1.1.1:4540;rport=9988;branch=z9hG4bKkjshdyff;received=192.0.2.1")
        );
        assert_eq!(
            stamped_via("SIP/2.0/UDP 192.0.2.1:9988;branch=z9hG4bK1;rport", src).as_deref(),
            Some("SIP/2.0/UDP 192.0.2.1:9988;branch=z9hG4bK1;rport=9988;received=192.0.2.1")
        );
        // RFC 3261 §18.2.1: received only when the host differs (a name always differs).
        assert_eq!(
            stamped_via("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1", src),
            None
        );
        assert_eq!(
            stamped_via("SIP/2.0/TCP phone.example;branch=z9hG4bK1", src).as_deref(),
            Some("SIP/2.0/TCP phone.example;branch=z9hG4bK1;received=192.0.2.1")
        );
        // A filled-in rport is kept; a received written by the client is replaced; only the
        // first hop changes.
        assert_eq!(
            stamped_via(
                "SIP/2.0/UDP 10.0.0.1 ; received=1.1.1.1 ;rport=5 ;branch=z9hG4bK1 , SIP/2.0/UDP 10.0.0.2;rport",
                src
            )
            .as_deref(),
            Some("SIP/2.0/UDP 10.0.0.1 ;rport=5 ;branch=z9hG4bK1;received=192.0.2.1 , SIP/2.0/UDP 10.0.0.2;rport")
        );
        // IPv6 (RFC 5118 §4.5): received without brackets; an IPv4-mapped source counts as IPv4.
        let v6: std::net::SocketAddr = "[2001:db8::9]:5070".parse().unwrap();
        assert_eq!(
            stamped_via("SIP/2.0/UDP [2001:db8::9]:5070;branch=z9hG4bK1;rport", v6).as_deref(),
            Some("SIP/2.0/UDP [2001:db8::9]:5070;branch=z9hG4bK1;rport=5070;received=2001:db8::9")
        );
        let mapped: std::net::SocketAddr = "[::ffff:192.0.2.1]:5060".parse().unwrap();
        assert_eq!(
            stamped_via("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1", mapped),
            None
        );
        // Unreadable: left alone.
        assert_eq!(stamped_via("nonsense", src), None);
    }

    #[test]
    fn stamped_request_still_reads_and_answers_with_it() {
        let text = OPTIONS.replace(
            "h.example;branch=z9hG4bK1",
            "10.0.0.1:5060;rport;branch=z9hG4bK1",
        );
        let mut p = parse(text.as_bytes(), &Limits::default()).unwrap();
        let SipMessage::Request(req) = &mut p.message else {
            panic!("request")
        };
        let v6: std::net::SocketAddr = "[2001:db8::9]:40000".parse().unwrap();
        assert!(stamp_via(req, v6));
        // The parser's own typed view (used by the transaction layer) still reads it.
        use rsipstack::sip::ToTypedHeader;
        let typed = req.top_via_header().unwrap().typed().unwrap();
        assert_eq!(typed.branch().unwrap().value(), "z9hG4bK1");
        let hop = top_via(req).unwrap();
        assert_eq!(hop.rport(), Some(Some(40000)));
        assert_eq!(hop.received(), Some("2001:db8::9".parse().unwrap()));
        let r = response_to(req, 200, "OK");
        let out = String::from_utf8(r.to_bytes()).unwrap();
        assert!(
            out.contains("Via: SIP/2.0/UDP 10.0.0.1:5060;rport=40000;branch=z9hG4bK1;received=2001:db8::9\r\n"),
            "{out}"
        );
    }

    #[test]
    fn custom_reason_is_sent() {
        let p = parse(OPTIONS.as_bytes(), &Limits::default()).unwrap();
        let r = response_to(p.request().unwrap(), 400, "Missing Call-ID");
        assert!(r.to_bytes().starts_with(b"SIP/2.0 400 Missing Call-ID\r\n"));
    }
}
