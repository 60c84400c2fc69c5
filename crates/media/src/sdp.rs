//! SDP (RFC 8866, the successor of RFC 4566), the subset a PBX needs.
//!
//! Parsing accepts CRLF or bare LF, blank lines and trailing white space, keeps lines it does not
//! interpret (`i=`, `u=`, `e=`, `p=`, `r=`, `z=`, `k=`, unknown letters) and keeps every attribute
//! in its original order, so that `to_string()` of a parsed description reproduces a canonical
//! (CRLF) input byte for byte. Known attributes (`rtpmap`, `fmtp`, `ptime`, `maxptime`,
//! direction, `rtcp`, `rtcp-mux`) are typed; all others stay opaque. Sizes are bounded by
//! [`MAX_SDP_LEN`], [`MAX_MEDIA`] and [`MAX_ATTRIBUTES`]. Nothing here panics on input.

use std::fmt::{self, Write as _};
use std::net::IpAddr;
use std::str::FromStr;

/// Largest SDP body accepted, in octets.
pub const MAX_SDP_LEN: usize = 32 * 1024;
/// Most media sections accepted.
pub const MAX_MEDIA: usize = 32;
/// Most attributes (session plus all media) accepted.
pub const MAX_ATTRIBUTES: usize = 512;
/// Most formats on one m= line.
pub const MAX_FORMATS: usize = 64;

/// Why an SDP body was rejected. Line numbers count from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdpError {
    #[error("sdp larger than {MAX_SDP_LEN} octets")]
    TooLarge,
    #[error("sdp is not valid utf-8")]
    NotUtf8,
    #[error("sdp does not start with v=0")]
    BadVersion,
    #[error("line {0}: not of the form <letter>=<value>")]
    BadLine(usize),
    #[error("missing o= line")]
    MissingOrigin,
    #[error("line {0}: malformed o= line")]
    BadOrigin(usize),
    #[error("line {0}: malformed c= line")]
    BadConnection(usize),
    #[error("line {0}: malformed t= line")]
    BadTiming(usize),
    #[error("line {0}: malformed m= line")]
    BadMedia(usize),
    #[error("line {0}: duplicate {1}= line")]
    Duplicate(usize, char),
    #[error("more than {MAX_MEDIA} media sections")]
    TooManyMedia,
    #[error("more than {MAX_ATTRIBUTES} attributes")]
    TooManyAttributes,
}

/// The `o=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub username: String,
    /// Kept as text: some agents send ids beyond 64 bits.
    pub session_id: String,
    pub session_version: u64,
    pub net_type: String,
    pub addr_type: String,
    pub address: String,
}

/// A `c=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub net_type: String,
    pub addr_type: String,
    /// Address, possibly with `/ttl` or `/count` for multicast.
    pub address: String,
}

impl Connection {
    /// `IN IP4` or `IN IP6` for an IP address.
    pub fn new(ip: IpAddr) -> Self {
        Self {
            net_type: "IN".into(),
            addr_type: if ip.is_ipv4() { "IP4" } else { "IP6" }.into(),
            address: ip.to_string(),
        }
    }

    /// The address as an IP, if it is one (without a multicast suffix).
    pub fn ip(&self) -> Option<IpAddr> {
        self.address.split('/').next()?.parse().ok()
    }

    /// True for the RFC 2543 hold address 0.0.0.0 (or `::`).
    pub fn is_unspecified(&self) -> bool {
        self.ip().is_some_and(|ip| ip.is_unspecified())
    }
}

/// Media direction (RFC 3264 §5.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Direction {
    #[default]
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SendRecv => "sendrecv",
            Self::SendOnly => "sendonly",
            Self::RecvOnly => "recvonly",
            Self::Inactive => "inactive",
        }
    }
    /// Whether this side sends.
    pub fn sends(self) -> bool {
        matches!(self, Self::SendRecv | Self::SendOnly)
    }
    /// Whether this side receives.
    pub fn receives(self) -> bool {
        matches!(self, Self::SendRecv | Self::RecvOnly)
    }
    /// From send and receive flags.
    pub fn from_flags(send: bool, recv: bool) -> Self {
        match (send, recv) {
            (true, true) => Self::SendRecv,
            (true, false) => Self::SendOnly,
            (false, true) => Self::RecvOnly,
            (false, false) => Self::Inactive,
        }
    }
}

/// `a=rtpmap:<pt> <name>/<rate>[/<channels>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    pub payload_type: u8,
    pub encoding: String,
    pub clock_rate: u32,
    pub channels: Option<u16>,
}

/// One attribute line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Attribute {
    RtpMap(RtpMap),
    Fmtp {
        payload_type: u8,
        params: String,
    },
    Ptime(u32),
    MaxPtime(u32),
    Direction(Direction),
    /// `a=rtcp:<port> [<nettype> <addrtype> <address>]` (RFC 3605); the rest is kept as text.
    Rtcp {
        port: u16,
        rest: Option<String>,
    },
    RtcpMux,
    /// Any other attribute, value after the first `:`.
    Other {
        name: String,
        value: Option<String>,
    },
}

impl Attribute {
    fn parse(s: &str) -> Self {
        let (name, value) = match s.split_once(':') {
            Some((n, v)) => (n, Some(v)),
            None => (s, None),
        };
        let typed = match (name, value) {
            ("rtpmap", Some(v)) => parse_rtpmap(v).map(Self::RtpMap),
            ("fmtp", Some(v)) => v.split_once(' ').and_then(|(pt, params)| {
                Some(Self::Fmtp {
                    payload_type: parse_pt(pt)?,
                    params: params.to_owned(),
                })
            }),
            ("ptime", Some(v)) => v.parse().ok().map(Self::Ptime),
            ("maxptime", Some(v)) => v.parse().ok().map(Self::MaxPtime),
            ("rtcp", Some(v)) => {
                let (port, rest) = match v.split_once(' ') {
                    Some((p, r)) => (p, Some(r.to_owned())),
                    None => (v, None),
                };
                port.parse().ok().map(|port| Self::Rtcp { port, rest })
            }
            ("rtcp-mux", None) => Some(Self::RtcpMux),
            ("sendrecv", None) => Some(Self::Direction(Direction::SendRecv)),
            ("sendonly", None) => Some(Self::Direction(Direction::SendOnly)),
            ("recvonly", None) => Some(Self::Direction(Direction::RecvOnly)),
            ("inactive", None) => Some(Self::Direction(Direction::Inactive)),
            _ => None,
        };
        typed.unwrap_or_else(|| Self::Other {
            name: name.to_owned(),
            value: value.map(str::to_owned),
        })
    }
}

fn parse_pt(s: &str) -> Option<u8> {
    s.parse().ok().filter(|&pt| pt <= 127)
}

fn parse_rtpmap(v: &str) -> Option<RtpMap> {
    let (pt, rest) = v.split_once(' ')?;
    let mut parts = rest.trim().split('/');
    let encoding = parts.next()?.to_owned();
    if encoding.is_empty() {
        return None;
    }
    let clock_rate = parts.next()?.parse().ok()?;
    let channels = match parts.next() {
        Some(c) => Some(c.parse().ok()?),
        None => None,
    };
    if parts.next().is_some() {
        return None;
    }
    Some(RtpMap {
        payload_type: parse_pt(pt)?,
        encoding,
        clock_rate,
        channels,
    })
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RtpMap(m) => {
                write!(
                    f,
                    "rtpmap:{} {}/{}",
                    m.payload_type, m.encoding, m.clock_rate
                )?;
                if let Some(c) = m.channels {
                    write!(f, "/{c}")?;
                }
                Ok(())
            }
            Self::Fmtp {
                payload_type,
                params,
            } => write!(f, "fmtp:{payload_type} {params}"),
            Self::Ptime(p) => write!(f, "ptime:{p}"),
            Self::MaxPtime(p) => write!(f, "maxptime:{p}"),
            Self::Direction(d) => f.write_str(d.as_str()),
            Self::Rtcp { port, rest } => match rest {
                Some(r) => write!(f, "rtcp:{port} {r}"),
                None => write!(f, "rtcp:{port}"),
            },
            Self::RtcpMux => f.write_str("rtcp-mux"),
            Self::Other { name, value } => match value {
                Some(v) => write!(f, "{name}:{v}"),
                None => f.write_str(name),
            },
        }
    }
}

/// A line kept as is: its type letter and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub kind: char,
    pub value: String,
}

/// Helpers shared by the session and media levels.
fn find_direction(attrs: &[Attribute]) -> Option<Direction> {
    attrs.iter().rev().find_map(|a| match a {
        Attribute::Direction(d) => Some(*d),
        _ => None,
    })
}

/// One media section (`m=` and what follows it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// `audio`, `video`, `application`…
    pub media: String,
    pub port: u16,
    pub port_count: Option<u16>,
    /// `RTP/AVP`, `RTP/SAVPF`, `UDP/TLS/RTP/SAVPF`…
    pub protocol: String,
    /// Format list; payload type numbers for RTP.
    pub formats: Vec<String>,
    /// `i=`, then `k=` and unknown lines.
    pub other: Vec<Line>,
    pub connection: Option<Connection>,
    /// `b=` values.
    pub bandwidth: Vec<String>,
    pub attributes: Vec<Attribute>,
}

impl MediaDescription {
    /// A section with no connection, bandwidth or attributes.
    pub fn new(media: &str, port: u16, protocol: &str, formats: Vec<String>) -> Self {
        Self {
            media: media.to_owned(),
            port,
            port_count: None,
            protocol: protocol.to_owned(),
            formats,
            other: Vec::new(),
            connection: None,
            bandwidth: Vec::new(),
            attributes: Vec::new(),
        }
    }

    /// The rtpmap of a payload type.
    pub fn rtpmap(&self, pt: u8) -> Option<&RtpMap> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::RtpMap(m) if m.payload_type == pt => Some(m),
            _ => None,
        })
    }
    /// The encoding name of a payload type: its rtpmap, else the static name of RFC 3551
    /// (`PCMU` for 0, `PCMA` for 8, …).
    pub fn encoding(&self, pt: u8) -> Option<String> {
        if let Some(m) = self.rtpmap(pt) {
            return Some(m.encoding.clone());
        }
        let name = match pt {
            0 => "PCMU",
            3 => "GSM",
            4 => "G723",
            8 => "PCMA",
            9 => "G722",
            13 => "CN",
            18 => "G729",
            _ => return None,
        };
        Some(name.to_string())
    }

    /// The fmtp parameters of a payload type.
    pub fn fmtp(&self, pt: u8) -> Option<&str> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Fmtp {
                payload_type,
                params,
            } if *payload_type == pt => Some(params.as_str()),
            _ => None,
        })
    }

    /// `a=ptime`, if present.
    pub fn ptime(&self) -> Option<u32> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Ptime(p) => Some(*p),
            _ => None,
        })
    }

    /// `a=maxptime`, if present.
    pub fn maxptime(&self) -> Option<u32> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::MaxPtime(p) => Some(*p),
            _ => None,
        })
    }

    /// The direction attribute of this section, if any (see
    /// [`SessionDescription::media_direction`] for the effective one).
    pub fn direction(&self) -> Option<Direction> {
        find_direction(&self.attributes)
    }

    /// Whether `a=rtcp-mux` is present.
    pub fn rtcp_mux(&self) -> bool {
        self.attributes.contains(&Attribute::RtcpMux)
    }

    /// Payload type numbers among the formats (non-numeric formats skipped).
    pub fn payload_types(&self) -> impl Iterator<Item = u8> + '_ {
        self.formats.iter().filter_map(|f| parse_pt(f))
    }

    fn write(&self, out: &mut String) {
        let _ = write!(out, "m={} {}", self.media, self.port);
        if let Some(n) = self.port_count {
            let _ = write!(out, "/{n}");
        }
        let _ = write!(out, " {}", self.protocol);
        for f in &self.formats {
            out.push(' ');
            out.push_str(f);
        }
        out.push_str("\r\n");
        write_lines(out, &self.other, |k| k == 'i');
        if let Some(c) = &self.connection {
            write_connection(out, c);
        }
        for b in &self.bandwidth {
            let _ = write!(out, "b={b}\r\n");
        }
        write_lines(out, &self.other, |k| k != 'i');
        for a in &self.attributes {
            let _ = write!(out, "a={a}\r\n");
        }
    }
}

/// A `t=` line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timing {
    pub start: u64,
    pub stop: u64,
}

/// A whole session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    pub origin: Origin,
    pub session_name: String,
    /// `i=`, `u=`, `e=`, `p=`, then `r=`, `z=`, `k=` and unknown lines, each group in input order.
    pub other: Vec<Line>,
    pub connection: Option<Connection>,
    pub bandwidth: Vec<String>,
    pub timing: Vec<Timing>,
    pub attributes: Vec<Attribute>,
    pub media: Vec<MediaDescription>,
}

fn write_connection(out: &mut String, c: &Connection) {
    let _ = write!(out, "c={} {} {}\r\n", c.net_type, c.addr_type, c.address);
}

fn write_lines(out: &mut String, lines: &[Line], pick: impl Fn(char) -> bool) {
    for l in lines.iter().filter(|l| pick(l.kind)) {
        let _ = write!(out, "{}={}\r\n", l.kind, l.value);
    }
}

fn parse_connection(v: &str, line: usize) -> Result<Connection, SdpError> {
    let mut it = v.split_ascii_whitespace();
    match (it.next(), it.next(), it.next(), it.next()) {
        (Some(n), Some(t), Some(a), None) => Ok(Connection {
            net_type: n.to_owned(),
            addr_type: t.to_owned(),
            address: a.to_owned(),
        }),
        _ => Err(SdpError::BadConnection(line)),
    }
}

fn parse_origin(v: &str, line: usize) -> Result<Origin, SdpError> {
    let f: Vec<&str> = v.split_ascii_whitespace().collect();
    if f.len() != 6 {
        return Err(SdpError::BadOrigin(line));
    }
    Ok(Origin {
        username: f[0].to_owned(),
        session_id: f[1].to_owned(),
        session_version: f[2].parse().map_err(|_| SdpError::BadOrigin(line))?,
        net_type: f[3].to_owned(),
        addr_type: f[4].to_owned(),
        address: f[5].to_owned(),
    })
}

fn parse_media(v: &str, line: usize) -> Result<MediaDescription, SdpError> {
    let bad = || SdpError::BadMedia(line);
    let mut it = v.split_ascii_whitespace();
    let media = it.next().ok_or_else(bad)?;
    let port_field = it.next().ok_or_else(bad)?;
    let protocol = it.next().ok_or_else(bad)?;
    let (port, port_count) = match port_field.split_once('/') {
        Some((p, n)) => (p, Some(n.parse().map_err(|_| bad())?)),
        None => (port_field, None),
    };
    let port = port.parse().map_err(|_| bad())?;
    let formats: Vec<String> = it.map(str::to_owned).collect();
    if formats.len() > MAX_FORMATS {
        return Err(bad());
    }
    let mut m = MediaDescription::new(media, port, protocol, formats);
    m.port_count = port_count;
    Ok(m)
}

impl SessionDescription {
    /// Parses an SDP body given as bytes (checks size and UTF-8 first).
    pub fn parse_bytes(body: &[u8]) -> Result<Self, SdpError> {
        if body.len() > MAX_SDP_LEN {
            return Err(SdpError::TooLarge);
        }
        let s = std::str::from_utf8(body).map_err(|_| SdpError::NotUtf8)?;
        s.parse()
    }

    /// The effective direction of media section `index`: its own attribute, else the session's,
    /// else sendrecv.
    pub fn media_direction(&self, index: usize) -> Direction {
        self.media
            .get(index)
            .and_then(MediaDescription::direction)
            .or_else(|| find_direction(&self.attributes))
            .unwrap_or_default()
    }

    /// The effective connection of media section `index`.
    pub fn media_connection(&self, index: usize) -> Option<&Connection> {
        self.media
            .get(index)
            .and_then(|m| m.connection.as_ref())
            .or(self.connection.as_ref())
    }
}

impl FromStr for SessionDescription {
    type Err = SdpError;

    fn from_str(s: &str) -> Result<Self, SdpError> {
        if s.len() > MAX_SDP_LEN {
            return Err(SdpError::TooLarge);
        }
        let mut lines = s
            .split('\n')
            .map(str::trim_end)
            .enumerate()
            .map(|(i, l)| (i + 1, l))
            .filter(|(_, l)| !l.is_empty());
        match lines.next() {
            Some((_, "v=0")) => {}
            _ => return Err(SdpError::BadVersion),
        }
        let mut origin = None;
        let mut session_name = None;
        let mut other = Vec::new();
        let mut connection = None;
        let mut bandwidth = Vec::new();
        let mut timing = Vec::new();
        let mut attributes = Vec::new();
        let mut media: Vec<MediaDescription> = Vec::new();
        let mut attr_count = 0usize;
        for (n, line) in lines {
            let b = line.as_bytes();
            if b.len() < 2 || b[1] != b'=' || !b[0].is_ascii_alphabetic() {
                return Err(SdpError::BadLine(n));
            }
            let kind = char::from(b[0]);
            let value = &line[2..];
            if kind == 'a' {
                attr_count += 1;
                if attr_count > MAX_ATTRIBUTES {
                    return Err(SdpError::TooManyAttributes);
                }
            }
            if kind == 'm' {
                if media.len() == MAX_MEDIA {
                    return Err(SdpError::TooManyMedia);
                }
                media.push(parse_media(value, n)?);
                continue;
            }
            if let Some(m) = media.last_mut() {
                match kind {
                    'c' if m.connection.is_some() => return Err(SdpError::Duplicate(n, 'c')),
                    'c' => m.connection = Some(parse_connection(value, n)?),
                    'b' => m.bandwidth.push(value.to_owned()),
                    'a' => m.attributes.push(Attribute::parse(value)),
                    _ => m.other.push(Line {
                        kind,
                        value: value.to_owned(),
                    }),
                }
                continue;
            }
            match kind {
                'v' => return Err(SdpError::Duplicate(n, 'v')),
                'o' if origin.is_some() => return Err(SdpError::Duplicate(n, 'o')),
                'o' => origin = Some(parse_origin(value, n)?),
                's' if session_name.is_some() => return Err(SdpError::Duplicate(n, 's')),
                's' => session_name = Some(value.to_owned()),
                'c' if connection.is_some() => return Err(SdpError::Duplicate(n, 'c')),
                'c' => connection = Some(parse_connection(value, n)?),
                'b' => bandwidth.push(value.to_owned()),
                't' => {
                    let mut it = value.split_ascii_whitespace();
                    let (Some(a), Some(b), None) = (it.next(), it.next(), it.next()) else {
                        return Err(SdpError::BadTiming(n));
                    };
                    timing.push(Timing {
                        start: a.parse().map_err(|_| SdpError::BadTiming(n))?,
                        stop: b.parse().map_err(|_| SdpError::BadTiming(n))?,
                    });
                }
                'a' => attributes.push(Attribute::parse(value)),
                _ => other.push(Line {
                    kind,
                    value: value.to_owned(),
                }),
            }
        }
        if timing.is_empty() {
            timing.push(Timing::default());
        }
        // Kept lines go where RFC 8866 puts them on output; sort them the same way here so that a
        // parsed description equals its own re-parse.
        other.sort_by_key(|l: &Line| !matches!(l.kind, 'i' | 'u' | 'e' | 'p'));
        for m in &mut media {
            m.other.sort_by_key(|l: &Line| l.kind != 'i');
        }
        Ok(Self {
            origin: origin.ok_or(SdpError::MissingOrigin)?,
            // Lenient: some agents omit s= or t=; we write "s=-" and "t=0 0" back.
            session_name: session_name.unwrap_or_else(|| "-".to_owned()),
            other,
            connection,
            bandwidth,
            timing,
            attributes,
            media,
        })
    }
}

impl fmt::Display for SessionDescription {
    /// Canonical form: CRLF line ends, lines in RFC 8866 order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::with_capacity(512);
        let o = &self.origin;
        let _ = write!(
            out,
            "v=0\r\no={} {} {} {} {} {}\r\ns={}\r\n",
            o.username,
            o.session_id,
            o.session_version,
            o.net_type,
            o.addr_type,
            o.address,
            self.session_name
        );
        write_lines(&mut out, &self.other, |k| {
            matches!(k, 'i' | 'u' | 'e' | 'p')
        });
        if let Some(c) = &self.connection {
            write_connection(&mut out, c);
        }
        for b in &self.bandwidth {
            let _ = write!(out, "b={b}\r\n");
        }
        if self.timing.is_empty() {
            out.push_str("t=0 0\r\n");
        }
        for t in &self.timing {
            let _ = write!(out, "t={} {}\r\n", t.start, t.stop);
        }
        write_lines(&mut out, &self.other, |k| {
            !matches!(k, 'i' | 'u' | 'e' | 'p')
        });
        for a in &self.attributes {
            let _ = write!(out, "a={a}\r\n");
        }
        for m in &self.media {
            m.write(&mut out);
        }
        f.write_str(&out)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Chrome-like WebRTC offer (trimmed to audio), canonical CRLF.
    pub const CHROME_OFFER: &str = "v=0\r\n\
o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n\
s=-\r\n\
t=0 0\r\n\
a=group:BUNDLE 0\r\n\
a=extmap-allow-mixed\r\n\
a=msid-semantic: WMS stream1\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n\
c=IN IP4 0.0.0.0\r\n\
a=rtcp:9 IN IP4 0.0.0.0\r\n\
a=ice-ufrag:Xq0C\r\n\
a=ice-pwd:1o1DJkCPs3JOvB0Nd1LYTCvV\r\n\
a=ice-options:trickle\r\n\
a=fingerprint:sha-256 8C:0E:2B:5D:57:8A:69:2E:BA:13:3A:4F:4B:97:6B:9A:2F:6F:2A:8E:0D:64:18:0D:C4:0E:93:A2:33:C6:B2:0B\r\n\
a=setup:actpass\r\n\
a=mid:0\r\n\
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n\
a=sendrecv\r\n\
a=msid:stream1 track1\r\n\
a=rtcp-mux\r\n\
a=rtpmap:111 opus/48000/2\r\n\
a=rtcp-fb:111 transport-cc\r\n\
a=fmtp:111 minptime=10;useinbandfec=1\r\n\
a=rtpmap:63 red/48000/2\r\n\
a=fmtp:63 111/111\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:13 CN/8000\r\n\
a=rtpmap:110 telephone-event/48000\r\n\
a=rtpmap:126 telephone-event/8000\r\n\
a=ssrc:3735928559 cname:4TOk42mSjXCkVIa6\r\n";

    /// Linphone-style G.711 offer with an unknown line letter and session-level bandwidth.
    pub const LINPHONE_OFFER: &str = "v=0\r\n\
o=alice 3456 789 IN IP4 192.0.2.10\r\n\
s=Talk\r\n\
c=IN IP4 192.0.2.10\r\n\
b=AS:380\r\n\
t=0 0\r\n\
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics\r\n\
m=audio 7078 RTP/AVP 96 0 8 101 97\r\n\
a=rtpmap:96 opus/48000/2\r\n\
a=fmtp:96 useinbandfec=1\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=rtpmap:97 telephone-event/48000\r\n\
a=rtcp:7079\r\n\
a=ptime:20\r\n\
a=maxptime:40\r\n\
a=rtcp-fb:* trr-int 1000\r\n";

    /// SIPp-style minimal offer: static types, no rtpmap, LF only.
    pub const SIPP_OFFER: &str = "v=0\n\
o=user1 53655765 2353687637 IN IP4 127.0.0.1\n\
s=-\n\
c=IN IP4 127.0.0.1\n\
t=0 0\n\
m=audio 6000 RTP/AVP 0\n\
a=rtpmap:0 PCMU/8000\n";

    #[test]
    fn chrome_round_trip_is_exact() {
        let sdp: SessionDescription = CHROME_OFFER.parse().unwrap();
        assert_eq!(sdp.to_string(), CHROME_OFFER);
        let m = &sdp.media[0];
        assert_eq!(m.protocol, "UDP/TLS/RTP/SAVPF");
        assert_eq!(
            m.payload_types().collect::<Vec<_>>(),
            [111, 63, 9, 0, 8, 13, 110, 126]
        );
        let opus = m.rtpmap(111).unwrap();
        assert_eq!(
            (opus.encoding.as_str(), opus.clock_rate, opus.channels),
            ("opus", 48000, Some(2))
        );
        assert_eq!(m.fmtp(111), Some("minptime=10;useinbandfec=1"));
        assert!(m.rtcp_mux());
        assert_eq!(sdp.media_direction(0), Direction::SendRecv);
        assert!(sdp.media_connection(0).unwrap().is_unspecified());
        assert!(m.attributes.contains(&Attribute::Rtcp {
            port: 9,
            rest: Some("IN IP4 0.0.0.0".into())
        }));
        // Opaque attributes keep their position.
        assert_eq!(
            m.attributes[1],
            Attribute::Other {
                name: "ice-ufrag".into(),
                value: Some("Xq0C".into())
            }
        );
    }

    #[test]
    fn linphone_round_trip_is_exact() {
        let sdp: SessionDescription = LINPHONE_OFFER.parse().unwrap();
        assert_eq!(sdp.to_string(), LINPHONE_OFFER);
        assert_eq!(sdp.bandwidth, ["AS:380"]);
        let m = &sdp.media[0];
        assert_eq!((m.ptime(), m.maxptime()), (Some(20), Some(40)));
        assert_eq!(m.rtpmap(97).unwrap().clock_rate, 48000);
        assert_eq!(m.rtpmap(0), None);
        assert_eq!(
            sdp.media_connection(0).unwrap().ip(),
            Some("192.0.2.10".parse().unwrap())
        );
    }

    #[test]
    fn sipp_lf_only_canonicalises_to_crlf() {
        let sdp: SessionDescription = SIPP_OFFER.parse().unwrap();
        let out = sdp.to_string();
        assert_eq!(out, SIPP_OFFER.replace('\n', "\r\n"));
        assert_eq!(out.parse::<SessionDescription>().unwrap(), sdp);
        assert_eq!(sdp.origin.session_version, 2353687637);
    }

    #[test]
    fn unknown_lines_and_order() {
        let body = "v=0\r\no=- 1 1 IN IP4 h\r\ns=x\r\ni=info\r\nu=http://x\r\ne=a@b\r\nt=0 0\r\nr=7d 1h 0 25h\r\nx=experimental\r\na=sendonly\r\nm=audio 0 RTP/AVP 0\r\ni=media info\r\nc=IN IP6 ::1\r\nb=TIAS:64000\r\nk=prompt\r\na=foo\r\na=rtpmap:bad\r\n";
        let sdp: SessionDescription = body.parse().unwrap();
        assert_eq!(sdp.to_string(), body);
        assert_eq!(sdp.media_direction(0), Direction::SendOnly);
        assert_eq!(
            sdp.media[0].attributes[1],
            Attribute::Other {
                name: "rtpmap".into(),
                value: Some("bad".into())
            }
        );
    }

    #[test]
    fn errors() {
        let p = |s: &str| s.parse::<SessionDescription>().unwrap_err();
        assert_eq!(p(""), SdpError::BadVersion);
        assert_eq!(p("v=1\r\n"), SdpError::BadVersion);
        assert_eq!(p("v=0\r\ns=x\r\n"), SdpError::MissingOrigin);
        assert_eq!(p("v=0\r\no=a b\r\n"), SdpError::BadOrigin(2));
        assert_eq!(p("v=0\r\no=- 1 x IN IP4 h\r\n"), SdpError::BadOrigin(2));
        assert_eq!(p("v=0\r\nhello\r\n"), SdpError::BadLine(2));
        assert_eq!(
            p("v=0\r\no=- 1 1 IN IP4 h\r\nm=audio x RTP/AVP 0\r\n"),
            SdpError::BadMedia(3)
        );
        assert_eq!(
            p("v=0\r\no=- 1 1 IN IP4 h\r\nm=audio 70000 RTP/AVP 0\r\n"),
            SdpError::BadMedia(3)
        );
        assert_eq!(
            p("v=0\r\no=- 1 1 IN IP4 h\r\nc=IN IP4\r\n"),
            SdpError::BadConnection(3)
        );
        assert_eq!(
            p("v=0\r\no=- 1 1 IN IP4 h\r\nt=0\r\n"),
            SdpError::BadTiming(3)
        );
        assert_eq!(
            p("v=0\r\no=- 1 1 IN IP4 h\r\no=- 1 1 IN IP4 h\r\n"),
            SdpError::Duplicate(3, 'o')
        );
        let many = format!(
            "v=0\r\no=- 1 1 IN IP4 h\r\n{}",
            "m=audio 1 RTP/AVP 0\r\n".repeat(33)
        );
        assert_eq!(p(&many), SdpError::TooManyMedia);
        let attrs = format!("v=0\r\no=- 1 1 IN IP4 h\r\n{}", "a=x\r\n".repeat(513));
        assert_eq!(p(&attrs), SdpError::TooManyAttributes);
        let big = format!(
            "v=0\r\no=- 1 1 IN IP4 h\r\ns={}\r\n",
            "x".repeat(MAX_SDP_LEN)
        );
        assert_eq!(p(&big), SdpError::TooLarge);
        assert_eq!(
            SessionDescription::parse_bytes(b"v=0\r\n\xff"),
            Err(SdpError::NotUtf8)
        );
    }

    #[test]
    fn defaults_for_missing_s_and_t() {
        let sdp: SessionDescription = "v=0\no=- 1 1 IN IP4 h\nm=audio 5 RTP/AVP 8\n"
            .parse()
            .unwrap();
        assert_eq!(
            sdp.to_string(),
            "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio 5 RTP/AVP 8\r\n"
        );
    }

    #[test]
    fn encoding_names_from_rtpmap_or_static_types() {
        let sdp: SessionDescription = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let m = &sdp.media[0];
        assert_eq!(m.encoding(8).as_deref(), Some("PCMA"));
        assert_eq!(m.encoding(0).as_deref(), Some("PCMU"));
        assert_eq!(m.encoding(101).as_deref(), Some("telephone-event"));
        assert_eq!(m.encoding(96), None);
    }
}
