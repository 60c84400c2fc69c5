//! Call traces: the SIP messages of each call, kept bounded in count and age, with credentials
//! redacted before they are stored, so `pbxctl trace <call-id>` can show the ladder between the
//! legs and the raw messages.

use std::collections::{HashMap, VecDeque};

/// Which way a message went, seen from pbxd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Way {
    /// Received.
    In,
    /// Sent.
    Out,
}

/// One message of a trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEntry {
    /// When (Unix ms).
    pub time_ms: u64,
    /// In or out.
    pub way: Way,
    /// `udp`, `tcp`, `tls`, `ws`, `wss`.
    pub transport: &'static str,
    /// Source address.
    pub src: String,
    /// Destination address.
    pub dst: String,
    /// The message, credentials redacted.
    pub text: String,
}

impl TraceEntry {
    /// The start line (`INVITE sip:… SIP/2.0`, `SIP/2.0 200 OK`).
    pub fn first_line(&self) -> &str {
        self.text.lines().next().unwrap_or("")
    }
}

/// Limits of the trace buffer.
#[derive(Clone, Copy, Debug)]
pub struct TraceLimits {
    /// Calls kept; the oldest trace goes first.
    pub max_calls: usize,
    /// Messages kept per call; later ones are counted, not kept.
    pub max_messages: usize,
    /// Age in ms after the last message after which a trace is dropped.
    pub max_age_ms: u64,
    /// Bytes kept of one message.
    pub max_message_bytes: usize,
}

impl Default for TraceLimits {
    fn default() -> TraceLimits {
        TraceLimits {
            max_calls: 10_000,
            max_messages: 200,
            max_age_ms: 3_600_000,
            max_message_bytes: 8192,
        }
    }
}

#[derive(Debug, Default)]
struct Trace {
    entries: Vec<TraceEntry>,
    dropped: usize,
    last_ms: u64,
}

/// The traces of recent calls, by Call-ID.
#[derive(Debug, Default)]
pub struct TraceBuffer {
    limits: TraceLimits,
    traces: HashMap<String, Trace>,
    order: VecDeque<String>,
}

/// Credentials and keys in a SIP message replaced by `…`: the digest `response`, `nonce`,
/// `cnonce` and `opaque` of (Proxy-)Authorization and the key of SDES `a=crypto:` lines.
pub fn redact(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    for (i, line) in msg.split_inclusive('\n').enumerate() {
        // Compared in place: a lower-cased copy of every header name cost an allocation per
        // line of every traced message (bench/sip/calls.sh).
        let name = line.split(':').next().unwrap_or("").trim();
        if i > 0
            && (name.eq_ignore_ascii_case("authorization")
                || name.eq_ignore_ascii_case("proxy-authorization"))
        {
            out.push_str(&redact_params(
                line,
                &["response", "nonce", "cnonce", "opaque"],
            ));
        } else if let Some(rest) = line.strip_prefix("a=crypto:") {
            // a=crypto:<tag> <suite> inline:<key>|…
            let mut parts: Vec<&str> = rest.splitn(3, ' ').collect();
            if parts.len() == 3 {
                parts[2] = if parts[2].starts_with("inline:") {
                    "inline:…"
                } else {
                    "…"
                };
            }
            out.push_str("a=crypto:");
            out.push_str(&parts.join(" "));
            if line.ends_with('\n') && !out.ends_with('\n') {
                out.push_str(if line.ends_with("\r\n") { "\r\n" } else { "\n" });
            }
        } else {
            out.push_str(line);
        }
    }
    out
}

fn redact_params(line: &str, names: &[&str]) -> String {
    let mut out = String::with_capacity(line.len());
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &line[i..];
        let hit = names.iter().find(|n| {
            rest.len() > n.len()
                && rest[..n.len()].eq_ignore_ascii_case(n)
                && rest[n.len()..].trim_start().starts_with('=')
                && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
        });
        let Some(name) = hit else {
            let ch = rest.chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
            continue;
        };
        let eq = i + rest.find('=').unwrap_or(name.len());
        out.push_str(&line[i..=eq]);
        let mut j = eq + 1;
        while j < bytes.len() && bytes[j] == b' ' {
            j += 1;
        }
        if j < bytes.len() && bytes[j] == b'"' {
            let end = line[j + 1..]
                .find('"')
                .map(|e| j + 1 + e + 1)
                .unwrap_or(bytes.len());
            out.push_str("\"…\"");
            i = end;
        } else {
            let end = line[j..]
                .find([',', ' ', '\r', '\n'])
                .map(|e| j + e)
                .unwrap_or(bytes.len());
            out.push('…');
            i = end;
        }
    }
    out
}

impl TraceBuffer {
    /// An empty buffer.
    pub fn new(limits: TraceLimits) -> TraceBuffer {
        TraceBuffer {
            limits,
            ..TraceBuffer::default()
        }
    }

    /// Records a message of the call `call_id`.
    pub fn record(&mut self, call_id: &str, mut entry: TraceEntry) {
        if call_id.is_empty() || self.limits.max_calls == 0 {
            return;
        }
        if entry.text.len() > self.limits.max_message_bytes {
            let mut cut = self.limits.max_message_bytes;
            while !entry.text.is_char_boundary(cut) {
                cut -= 1;
            }
            entry.text.truncate(cut);
        }
        entry.text = redact(&entry.text);
        if !self.traces.contains_key(call_id) {
            while self.traces.len() >= self.limits.max_calls {
                match self.order.pop_front() {
                    Some(old) => {
                        self.traces.remove(&old);
                    }
                    None => break,
                }
            }
            self.order.push_back(call_id.to_string());
            self.traces.insert(call_id.to_string(), Trace::default());
        }
        // The key is copied only for a new trace, not for every message.
        let Some(t) = self.traces.get_mut(call_id) else {
            return;
        };
        t.last_ms = t.last_ms.max(entry.time_ms);
        if t.entries.len() < self.limits.max_messages {
            t.entries.push(entry);
        } else {
            t.dropped += 1;
        }
    }

    /// The messages of a call and how many were not kept.
    pub fn get(&self, call_id: &str) -> Option<(&[TraceEntry], usize)> {
        self.traces
            .get(call_id)
            .map(|t| (t.entries.as_slice(), t.dropped))
    }

    /// Drops traces whose last message is older than the limit.
    pub fn evict(&mut self, now_ms: u64) {
        let max_age = self.limits.max_age_ms;
        self.traces
            .retain(|_, t| now_ms.saturating_sub(t.last_ms) < max_age);
        let traces = &self.traces;
        self.order.retain(|id| traces.contains_key(id));
    }

    /// Number of calls traced.
    pub fn len(&self) -> usize {
        self.traces.len()
    }

    /// Nothing traced?
    pub fn is_empty(&self) -> bool {
        self.traces.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(t: u64, way: Way, src: &str, dst: &str, text: &str) -> TraceEntry {
        TraceEntry {
            time_ms: t,
            way,
            transport: "udp",
            src: src.into(),
            dst: dst.into(),
            text: text.into(),
        }
    }

    #[test]
    fn credentials_are_redacted() {
        let msg = "REGISTER sip:acme SIP/2.0\r\nAuthorization: Digest username=\"1001\", realm=\"acme\", nonce=\"abc\", uri=\"sip:acme\", response=\"0123456789abcdef\", cnonce=\"xyz\", nc=00000001, qop=auth\r\nContent-Length: 0\r\n\r\n";
        let r = redact(msg);
        assert!(
            !r.contains("0123456789abcdef") && !r.contains("\"abc\"") && !r.contains("xyz"),
            "{r}"
        );
        assert!(
            r.contains("username=\"1001\"")
                && r.contains("response=\"…\"")
                && r.contains("nc=00000001"),
            "{r}"
        );
        let sdp = "v=0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:32\r\n";
        let r = redact(sdp);
        assert!(
            !r.contains("WVNfX19") && r.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:…\r\n"),
            "{r}"
        );
        let proxy =
            "INVITE sip:x SIP/2.0\nProxy-Authorization: Digest response=deadbeef,username=\"a\"\n";
        assert!(!redact(proxy).contains("deadbeef"));
    }

    #[test]
    fn bounded_by_calls_messages_and_age() {
        let mut b = TraceBuffer::new(TraceLimits {
            max_calls: 2,
            max_messages: 3,
            max_age_ms: 1000,
            max_message_bytes: 64,
        });
        for i in 0..5 {
            b.record("c1", e(i, Way::In, "a", "b", "OPTIONS sip:x SIP/2.0"));
        }
        assert_eq!(b.get("c1").map(|(m, d)| (m.len(), d)), Some((3, 2)));
        b.record("c2", e(10, Way::In, "a", "b", &"X".repeat(100)));
        assert_eq!(b.get("c2").map(|(m, _)| m[0].text.len()), Some(64));
        b.record("c3", e(20, Way::In, "a", "b", "BYE"));
        assert!(b.get("c1").is_none() && b.len() == 2);
        b.evict(1015);
        assert!(b.get("c2").is_none() && b.get("c3").is_some());
    }
}
