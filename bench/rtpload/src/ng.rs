//! rtpengine's ng control protocol: `<cookie> <bencoded dict>` over UDP, one request at a time
//! with a timeout and retries. `offer` takes A's SDP and gives the SDP for B (the port B sends
//! to), `answer` takes B's SDP and gives the SDP for A, `delete` ends the call.

use anyhow::{anyhow, bail, Context as _, Result};
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

/// A bencoded value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Int(i64),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Dict(Vec<(Vec<u8>, Value)>),
}

impl Value {
    pub fn str(s: &str) -> Value {
        Value::Bytes(s.as_bytes().to_vec())
    }

    /// A dictionary from pairs; keys are sorted on encoding.
    pub fn dict(pairs: Vec<(&str, Value)>) -> Value {
        Value::Dict(
            pairs
                .into_iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v))
                .collect(),
        )
    }

    /// The value of `key` in a dictionary.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(d) => d.iter().find(|(k, _)| k == key.as_bytes()).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Bytes(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::Int(i) => out.extend_from_slice(format!("i{i}e").as_bytes()),
            Value::Bytes(b) => {
                out.extend_from_slice(format!("{}:", b.len()).as_bytes());
                out.extend_from_slice(b);
            }
            Value::List(l) => {
                out.push(b'l');
                for v in l {
                    v.encode(out);
                }
                out.push(b'e');
            }
            Value::Dict(d) => {
                let mut sorted: Vec<&(Vec<u8>, Value)> = d.iter().collect();
                sorted.sort_by(|a, b| a.0.cmp(&b.0));
                out.push(b'd');
                for (k, v) in sorted {
                    Value::Bytes(k.clone()).encode(out);
                    v.encode(out);
                }
                out.push(b'e');
            }
        }
    }

    /// Decodes one value from the start of `input`; gives it and the rest.
    pub fn decode(input: &[u8]) -> Result<(Value, &[u8])> {
        Self::decode_depth(input, 0)
    }

    fn decode_depth(input: &[u8], depth: usize) -> Result<(Value, &[u8])> {
        if depth > 32 {
            bail!("bencode te diep genest");
        }
        let (&first, rest) = input
            .split_first()
            .ok_or_else(|| anyhow!("bencode onverwacht afgebroken"))?;
        match first {
            b'i' => {
                let end = rest
                    .iter()
                    .position(|&b| b == b'e')
                    .ok_or_else(|| anyhow!("bencode: geheel getal zonder einde"))?;
                let n = std::str::from_utf8(&rest[..end])?.parse()?;
                Ok((Value::Int(n), &rest[end + 1..]))
            }
            b'l' => {
                let mut items = Vec::new();
                let mut rest = rest;
                while rest.first() != Some(&b'e') {
                    let (v, r) = Self::decode_depth(rest, depth + 1)?;
                    items.push(v);
                    rest = r;
                }
                Ok((Value::List(items), &rest[1..]))
            }
            b'd' => {
                let mut items = Vec::new();
                let mut rest = rest;
                while rest.first() != Some(&b'e') {
                    let (k, r) = Self::decode_depth(rest, depth + 1)?;
                    let Value::Bytes(k) = k else {
                        bail!("bencode: sleutel is geen tekenreeks");
                    };
                    let (v, r) = Self::decode_depth(r, depth + 1)?;
                    items.push((k, v));
                    rest = r;
                }
                Ok((Value::Dict(items), &rest[1..]))
            }
            b'0'..=b'9' => {
                let colon = input
                    .iter()
                    .position(|&b| b == b':')
                    .ok_or_else(|| anyhow!("bencode: lengte zonder dubbele punt"))?;
                let len: usize = std::str::from_utf8(&input[..colon])?.parse()?;
                let body = input
                    .get(colon + 1..colon + 1 + len)
                    .ok_or_else(|| anyhow!("bencode: tekenreeks langer dan het bericht"))?;
                Ok((Value::Bytes(body.to_vec()), &input[colon + 1 + len..]))
            }
            other => bail!("bencode: onverwacht teken {:?}", char::from(other)),
        }
    }
}

/// An ng client on its own UDP socket.
pub struct Ng {
    sock: UdpSocket,
    server: SocketAddr,
    cookie: u64,
    buf: Vec<u8>,
}

impl Ng {
    pub fn new(server: SocketAddr) -> Result<Ng> {
        let bind: SocketAddr = if server.is_ipv4() {
            SocketAddr::from(([127, 0, 0, 1], 0))
        } else {
            SocketAddr::from(([0u16; 8], 0))
        };
        let sock = UdpSocket::bind(bind).context("ng-socket openen")?;
        sock.set_read_timeout(Some(Duration::from_millis(1000)))?;
        Ok(Ng {
            sock,
            server,
            cookie: rand::random::<u32>().into(),
            buf: vec![0u8; 65_536],
        })
    }

    /// Sends a command and waits for its answer (three tries); fails on `result: error`.
    pub fn request(&mut self, cmd: Value) -> Result<Value> {
        self.cookie += 1;
        let cookie = format!("{:x}", self.cookie);
        let mut msg = format!("{cookie} ").into_bytes();
        cmd.encode(&mut msg);
        for _ in 0..3 {
            self.sock.send_to(&msg, self.server)?;
            loop {
                let n = match self.sock.recv(&mut self.buf) {
                    Ok(n) => n,
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                        break
                    }
                    Err(e) => return Err(e.into()),
                };
                let reply = &self.buf[..n];
                let Some(sp) = reply.iter().position(|&b| b == b' ') else {
                    continue;
                };
                if &reply[..sp] != cookie.as_bytes() {
                    continue; // an answer to an earlier try
                }
                let (v, _) = Value::decode(&reply[sp + 1..])?;
                return match v.get("result").and_then(Value::as_str) {
                    Some("ok") => Ok(v),
                    other => Err(anyhow!(
                        "rtpengine: {} ({})",
                        other.unwrap_or("?"),
                        v.get("error-reason")
                            .and_then(Value::as_str)
                            .unwrap_or("geen reden")
                    )),
                };
            }
        }
        bail!("rtpengine antwoordt niet op {}", self.server)
    }

    fn flags() -> Value {
        Value::List(vec![Value::str("origin"), Value::str("session-connection")])
    }

    /// `offer`: A's SDP in, the SDP for B out.
    pub fn offer(&mut self, call_id: &str, from_tag: &str, sdp: &str) -> Result<String> {
        let v = self.request(Value::dict(vec![
            ("command", Value::str("offer")),
            ("call-id", Value::str(call_id)),
            ("from-tag", Value::str(from_tag)),
            ("sdp", Value::str(sdp)),
            ("replace", Self::flags()),
        ]))?;
        sdp_of(&v)
    }

    /// `answer`: B's SDP in, the SDP for A out.
    pub fn answer(
        &mut self,
        call_id: &str,
        from_tag: &str,
        to_tag: &str,
        sdp: &str,
    ) -> Result<String> {
        let v = self.request(Value::dict(vec![
            ("command", Value::str("answer")),
            ("call-id", Value::str(call_id)),
            ("from-tag", Value::str(from_tag)),
            ("to-tag", Value::str(to_tag)),
            ("sdp", Value::str(sdp)),
            ("replace", Self::flags()),
        ]))?;
        sdp_of(&v)
    }

    /// `delete`: the call ends.
    pub fn delete(&mut self, call_id: &str, from_tag: &str) -> Result<()> {
        self.request(Value::dict(vec![
            ("command", Value::str("delete")),
            ("call-id", Value::str(call_id)),
            ("from-tag", Value::str(from_tag)),
        ]))
        .map(|_| ())
    }
}

fn sdp_of(v: &Value) -> Result<String> {
    v.get("sdp")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| anyhow!("rtpengine-antwoord zonder sdp"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bencode_round_trip() {
        let v = Value::dict(vec![
            ("sdp", Value::str("v=0\r\n")),
            ("command", Value::str("offer")),
            ("n", Value::Int(-3)),
            ("replace", Value::List(vec![Value::str("origin")])),
        ]);
        let mut out = Vec::new();
        v.encode(&mut out);
        assert_eq!(
            out,
            b"d7:command5:offer1:ni-3e7:replacel6:origine3:sdp5:v=0\r\ne".to_vec()
        );
        let (back, rest) = Value::decode(&out).unwrap_or_else(|_| unreachable!());
        assert!(rest.is_empty());
        assert_eq!(back.get("command").and_then(Value::as_str), Some("offer"));
        assert_eq!(back.get("n"), Some(&Value::Int(-3)));
    }

    #[test]
    fn bencode_rejects_garbage() {
        for bad in [&b"d3:abc"[..], b"5:ab", b"i12", b"x", b"", b"d1:ai1ee1"] {
            if let Ok((v, rest)) = Value::decode(bad) {
                // Trailing bytes after a complete value are the caller's business.
                assert!(!rest.is_empty(), "{v:?}");
            }
        }
    }
}
