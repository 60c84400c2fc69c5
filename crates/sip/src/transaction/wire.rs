//! Small local helpers over `rsipstack::sip` types: the fields transaction matching needs (top Via
//! branch and sent-by, method, CSeq, tags) and the few messages the layer builds itself (ACK for a
//! non-2xx final response, 100 Trying, 408, 481, 503, 200 to CANCEL).
//!
//! These duplicate a little of what the `msg` facade will offer; they are kept private here so
//! the transaction layer compiles on its own and can be switched over later.

use rsipstack::sip::headers::untyped::{
    CSeq as CSeqHeader, ContentLength, MaxForwards, RetryAfter, To as ToHeader, Via as ViaHeader,
};
use rsipstack::sip::prelude::{HeadersExt, ToTypedHeader};
use rsipstack::sip::{Header, Headers, Method, Request, Response, StatusCode, Version};

/// The RFC 3261 branch prefix (§8.1.1.7) that marks RFC 3261 transaction matching.
pub(crate) const MAGIC_COOKIE: &str = "z9hG4bK";

/// What matching needs from a request, extracted once.
#[derive(Debug, Clone)]
pub(crate) struct RequestInfo {
    pub branch: Option<String>,
    /// sent-by of the top Via, lower-cased (host[:port] as written).
    pub sent_by: String,
    /// The complete top Via value, for RFC 2543 matching.
    pub top_via: String,
    pub cseq: u32,
    pub cseq_method: Method,
    pub call_id: String,
    pub from_tag: Option<String>,
    pub to_tag: Option<String>,
}

impl RequestInfo {
    /// `None` when a field that matching needs is missing or unparsable.
    pub fn of(req: &Request) -> Option<Self> {
        let via = req.top_via_header().ok()?;
        let top_via = via.value().trim().to_string();
        let typed = via.typed().ok()?;
        let branch = typed.branch().map(|b| b.value().to_string());
        let sent_by = typed.sent_by().to_string().to_ascii_lowercase();
        let cseq = req.cseq_header().ok()?.typed().ok()?;
        let call_id = req.call_id_header().ok()?.value().trim().to_string();
        let from_tag = req
            .from_header()
            .ok()?
            .tag()
            .ok()?
            .map(|t| t.value().to_string());
        let to_tag = req
            .to_header()
            .ok()?
            .tag()
            .ok()?
            .map(|t| t.value().to_string());
        Some(Self {
            branch,
            sent_by,
            top_via,
            cseq: cseq.seq,
            cseq_method: cseq.method,
            call_id,
            from_tag,
            to_tag,
        })
    }

    /// The branch if it carries the RFC 3261 magic cookie.
    pub fn rfc3261_branch(&self) -> Option<&str> {
        self.branch
            .as_deref()
            .filter(|b| b.starts_with(MAGIC_COOKIE) && b.len() > MAGIC_COOKIE.len())
    }
}

/// What client matching (§17.1.3) needs from a response.
#[derive(Debug, Clone)]
pub(crate) struct ResponseInfo {
    pub branch: String,
    pub cseq_method: Method,
    pub code: u16,
}

impl ResponseInfo {
    pub fn of(resp: &Response) -> Option<Self> {
        let via = resp.top_via_header().ok()?.typed().ok()?;
        let branch = via.branch()?.value().to_string();
        let cseq = resp.cseq_header().ok()?.typed().ok()?;
        Some(Self {
            branch,
            cseq_method: cseq.method,
            code: resp.status_code.code(),
        })
    }
}

/// The To tag of a response, if any.
pub(crate) fn response_to_tag(resp: &Response) -> Option<String> {
    resp.to_header()
        .ok()?
        .tag()
        .ok()?
        .map(|t| t.value().to_string())
}

/// A response built by the layer itself from a request (§8.2.6.2): all Via, From, To (with
/// `to_tag` added when the request's To has none), Call-ID, CSeq, Content-Length 0.
pub(crate) fn response_for(req: &Request, code: u16, to_tag: Option<&str>) -> Response {
    let mut headers = Headers::default();
    for h in req.headers.iter() {
        match h {
            Header::Via(_) | Header::From(_) | Header::CallId(_) | Header::CSeq(_) => {
                headers.push(h.clone())
            }
            Header::To(to) => {
                let has_tag = matches!(to.tag(), Ok(Some(_)));
                match to_tag {
                    Some(tag) if !has_tag && code != 100 => headers.push(Header::To(
                        ToHeader::new(format!("{};tag={}", to.value().trim(), tag)),
                    )),
                    _ => headers.push(h.clone()),
                }
            }
            _ => {}
        }
    }
    headers.push(Header::ContentLength(ContentLength::new("0")));
    Response {
        status_code: StatusCode::from(code),
        wire_reason: None,
        version: Version::V2,
        headers,
        body: Vec::new(),
    }
}

/// 503 Service Unavailable with Retry-After, for overload.
pub(crate) fn overload_response(req: &Request, retry_after_secs: u32, tag: &str) -> Response {
    let mut resp = response_for(req, 503, Some(tag));
    resp.headers.push(Header::RetryAfter(RetryAfter::new(
        retry_after_secs.to_string(),
    )));
    resp
}

/// The ACK for a non-2xx final response (§17.1.1.3): Request-URI, Call-ID, From of the INVITE,
/// To of the response, only the top Via of the INVITE, CSeq number with method ACK, the INVITE's
/// Route headers.
pub(crate) fn ack_for(invite: &Request, resp: &Response) -> Option<Request> {
    let top_via = invite.top_via_header().ok()?;
    let cseq = invite.cseq_header().ok()?.typed().ok()?;
    let to = resp.to_header().ok()?.clone();
    let mut headers = Headers::default();
    headers.push(Header::Via(ViaHeader::new(top_via.value().trim())));
    for h in invite.headers.iter() {
        if matches!(h, Header::Route(_)) {
            headers.push(h.clone());
        }
    }
    headers.push(Header::MaxForwards(MaxForwards::new("70")));
    headers.push(Header::From(invite.from_header().ok()?.clone()));
    headers.push(Header::To(to));
    headers.push(Header::CallId(invite.call_id_header().ok()?.clone()));
    headers.push(Header::CSeq(CSeqHeader::new(format!("{} ACK", cseq.seq))));
    headers.push(Header::ContentLength(ContentLength::new("0")));
    Some(Request {
        method: Method::Ack,
        uri: invite.uri.clone(),
        version: Version::V2,
        headers,
        body: Vec::new(),
    })
}

/// A deterministic local tag for responses the layer builds (503, 481, 200 to CANCEL): FNV-1a
/// over the request's identity and the configured seed, so a retransmitted request gets the same
/// tag, and no randomness or clock is needed inside the core.
pub(crate) fn local_tag(seed: u64, info: &RequestInfo) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    let parts: [&str; 4] = [
        info.call_id.as_str(),
        info.from_tag.as_deref().unwrap_or(""),
        info.branch.as_deref().unwrap_or(""),
        info.top_via.as_str(),
    ];
    for part in parts {
        for b in part.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}
