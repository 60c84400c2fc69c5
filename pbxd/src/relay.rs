//! Media anchoring: per call two UDP sockets (RTP only; RTCP on port+1 is not relayed yet), one
//! facing A and one facing B, and a tokio task that forwards packets between them.
//!
//! RTP-bleed protection: a side's address is learned only from packets whose source IP is the
//! IP signalled in its SDP, within 5 s after that SDP; the first such source is latched and no
//! other source is accepted afterwards. Before latching, packets go to the signalled address.
//!
//! The SDP rewrite here is deliberately small: `c=` and the port of every active `m=` line are
//! replaced. RTP headers are read with `pbx_media`, and its RFC 3550 statistics give packets,
//! bytes, loss and jitter per leg for the CDR. Both legs get the same codec (pass-through, no
//! transcoding yet: B always answers from A's own offer).

use pbx_config::RtpConfig;
use pbx_media::rtp::static_clock_rate;
use pbx_media::sdp::{Attribute, Connection};
use pbx_media::{ReceiveStats, RtpPacket, SessionDescription};
use pbx_model::LegQuality;
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long after its SDP a side's address may be learned.
const LEARN_WINDOW: Duration = Duration::from_secs(5);

/// Hands out relay port pairs from the configured range.
pub(crate) struct RelayPool {
    bind: IpAddr,
    announce: IpAddr,
    min: u16,
    max: u16,
    next: u16,
    used: Arc<Mutex<BTreeSet<u16>>>,
}

#[derive(Default)]
struct Side {
    signalled: Option<SocketAddr>,
    signalled_at: Option<Instant>,
    latched: Option<SocketAddr>,
    /// RFC 3550 reception statistics of what this side sends (created at its first packet, with
    /// the clock rate of its payload type).
    stats: Option<ReceiveStats>,
}

impl Side {
    fn accept(&mut self, src: SocketAddr, now: Instant) -> bool {
        if let Some(l) = self.latched {
            return l == src;
        }
        let (Some(sig), Some(at)) = (self.signalled, self.signalled_at) else {
            return false;
        };
        if src.ip() == sig.ip() && now.duration_since(at) <= LEARN_WINDOW {
            self.latched = Some(src);
            return true;
        }
        false
    }

    fn dest(&self) -> Option<SocketAddr> {
        self.latched.or(self.signalled)
    }

    fn count(&mut self, pkt: &[u8], arrival: Duration) {
        let Ok(rtp) = RtpPacket::parse(pkt) else {
            return;
        };
        let stats = self.stats.get_or_insert_with(|| {
            ReceiveStats::new(static_clock_rate(rtp.payload_type()).unwrap_or(8000))
        });
        stats.handle_packet(
            rtp.sequence(),
            rtp.timestamp(),
            rtp.payload().len(),
            arrival,
        );
    }

    fn quality(&self, leg: &str, codec: &str) -> LegQuality {
        let q = self
            .stats
            .as_ref()
            .map(ReceiveStats::snapshot)
            .unwrap_or_default();
        // Hundredths, for the exact integer fields of the CDR.
        let centi = |v: f64| {
            if v.is_finite() && v > 0.0 {
                (v * 100.0).round().min(f64::from(u32::MAX)) as u32
            } else {
                0
            }
        };
        LegQuality {
            leg: leg.to_string(),
            codec: codec.to_string(),
            packets: q.packets,
            lost: q.lost,
            loss_centi_pct: centi(q.loss_percent),
            jitter_centi_ms: centi(q.jitter_ms),
            rtt_ms: q.rtt_ms.map(|r| r.round() as u32),
        }
    }
}

#[derive(Default)]
struct Shared {
    /// A and B (what each sends to us).
    sides: [Side; 2],
    activity: bool,
}

/// The media relay of one call.
pub(crate) struct Relay {
    announce: IpAddr,
    /// Port facing A, port facing B.
    ports: [u16; 2],
    shared: Arc<Mutex<Shared>>,
    task: tokio::task::JoinHandle<()>,
    used: Arc<Mutex<BTreeSet<u16>>>,
}

impl RelayPool {
    pub(crate) fn new(cfg: &RtpConfig, sip_ip: IpAddr) -> RelayPool {
        let announce = cfg
            .public_address
            .as_deref()
            .and_then(|a| a.parse().ok())
            .unwrap_or(if sip_ip.is_unspecified() {
                IpAddr::from([127, 0, 0, 1])
            } else {
                sip_ip
            });
        let min = cfg.port_min + cfg.port_min % 2;
        RelayPool {
            bind: sip_ip,
            announce,
            min,
            max: cfg.port_max,
            next: min,
            used: Arc::default(),
        }
    }

    fn bind_one(&mut self) -> Option<std::net::UdpSocket> {
        let span = u32::from(self.max.saturating_sub(self.min)) / 2 + 1;
        for _ in 0..span {
            let port = self.next;
            self.next = if port.saturating_add(2) > self.max {
                self.min
            } else {
                port + 2
            };
            if self.used.lock().map(|u| u.contains(&port)).unwrap_or(true) {
                continue;
            }
            if let Ok(s) = std::net::UdpSocket::bind(SocketAddr::new(self.bind, port)) {
                if let Ok(mut u) = self.used.lock() {
                    u.insert(port);
                }
                return Some(s);
            }
        }
        None
    }

    /// Two sockets and their forwarding task; `None` when the range is exhausted.
    pub(crate) fn open(&mut self) -> Option<Relay> {
        let a = self.bind_one()?;
        let Some(b) = self.bind_one() else {
            if let (Ok(mut u), Ok(addr)) = (self.used.lock(), a.local_addr()) {
                u.remove(&addr.port());
            }
            return None;
        };
        let ports = [a.local_addr().ok()?.port(), b.local_addr().ok()?.port()];
        let release = |used: &Arc<Mutex<BTreeSet<u16>>>| {
            if let Ok(mut u) = used.lock() {
                u.remove(&ports[0]);
                u.remove(&ports[1]);
            }
        };
        let ok = a.set_nonblocking(true).is_ok() && b.set_nonblocking(true).is_ok();
        let socks = match (
            ok.then(|| tokio::net::UdpSocket::from_std(a).ok())
                .flatten(),
            ok.then(|| tokio::net::UdpSocket::from_std(b).ok())
                .flatten(),
        ) {
            (Some(a), Some(b)) => [a, b],
            _ => {
                release(&self.used);
                return None;
            }
        };
        let shared: Arc<Mutex<Shared>> = Arc::default();
        let task = tokio::spawn(forward(socks, shared.clone()));
        Some(Relay {
            announce: self.announce,
            ports,
            shared,
            task,
            used: self.used.clone(),
        })
    }
}

/// Forwards packets: what A sends to socket 0 goes out of socket 1 to B, and back.
async fn forward(socks: [tokio::net::UdpSocket; 2], shared: Arc<Mutex<Shared>>) {
    // Arrival times for the jitter computation, relative to the start of the relay.
    let epoch = Instant::now();
    let mut bufs = [vec![0u8; 2048], vec![0u8; 2048]];
    loop {
        let [ba, bb] = &mut bufs;
        let (from, n, src) = tokio::select! {
            r = socks[0].recv_from(ba) => match r { Ok((n, s)) => (0usize, n, s), Err(_) => continue },
            r = socks[1].recv_from(bb) => match r { Ok((n, s)) => (1usize, n, s), Err(_) => continue },
        };
        let to = 1 - from;
        let dest = {
            let Ok(mut sh) = shared.lock() else { return };
            let now = Instant::now();
            if !sh.sides[from].accept(src, now) {
                continue;
            }
            sh.sides[from].count(&bufs[from][..n], epoch.elapsed());
            sh.activity = true;
            sh.sides[to].dest()
        };
        if let Some(dest) = dest {
            let _ = socks[to].send_to(&bufs[from][..n], dest).await;
        }
    }
}

/// Points an SDP at the relay: the origin and connection addresses become the relay's, the port
/// of every active stream becomes `port`, and `a=rtcp` goes (RTCP is not relayed yet, so the
/// phone's own RTCP address must not be handed out). Gives the address the phone signalled, for
/// learning. An SDP that does not parse is passed on unchanged, without an address to learn.
fn rewrite(sdp: &str, ip: IpAddr, port: u16) -> (String, Option<SocketAddr>) {
    let Ok(mut s) = sdp.parse::<SessionDescription>() else {
        tracing::warn!("SDP niet te ontleden; ongewijzigd doorgegeven");
        return (sdp.to_string(), None);
    };
    let session_ip = s.connection.as_ref().and_then(Connection::ip);
    let mut signalled = None;
    for m in s.media.iter_mut().filter(|m| m.port != 0) {
        if signalled.is_none() {
            signalled = m
                .connection
                .as_ref()
                .and_then(Connection::ip)
                .or(session_ip)
                .map(|i| SocketAddr::new(i, m.port));
        }
        m.port = port;
        if m.connection.is_some() {
            m.connection = Some(Connection::new(ip));
        }
        m.attributes
            .retain(|a| !matches!(a, Attribute::Rtcp { .. }));
    }
    if s.connection.is_some() {
        s.connection = Some(Connection::new(ip));
    }
    s.origin.addr_type = if ip.is_ipv4() { "IP4" } else { "IP6" }.to_string();
    s.origin.address = ip.to_string();
    (s.to_string(), signalled)
}

impl Relay {
    /// A's offer, rewritten for B (B sends to the socket facing B).
    pub(crate) fn offer_from_a(&mut self, sdp: &str) -> String {
        let (out, sig) = rewrite(sdp, self.announce, self.ports[1]);
        self.signal(0, sig);
        out
    }

    /// B's answer, rewritten for A (A sends to the socket facing A).
    pub(crate) fn answer_from_b(&mut self, sdp: &str) -> String {
        let (out, sig) = rewrite(sdp, self.announce, self.ports[0]);
        self.signal(1, sig);
        out
    }

    fn signal(&mut self, side: usize, sig: Option<SocketAddr>) {
        if let Ok(mut sh) = self.shared.lock() {
            let s = &mut sh.sides[side];
            if s.signalled != sig {
                s.signalled = sig;
                s.signalled_at = Some(Instant::now());
            }
        }
    }

    /// Whether RTP flowed since the last call.
    pub(crate) fn take_activity(&self) -> bool {
        self.shared
            .lock()
            .map(|mut s| std::mem::take(&mut s.activity))
            .unwrap_or(false)
    }

    /// Receive quality of both legs, for the CDR.
    pub(crate) fn quality(&self, codec: &str) -> Vec<LegQuality> {
        let Ok(sh) = self.shared.lock() else {
            return Vec::new();
        };
        vec![
            sh.sides[0].quality("a", codec),
            sh.sides[1].quality("b", codec),
        ]
    }

    /// Stops forwarding and frees the ports.
    pub(crate) fn close(self) {
        self.task.abort();
        if let Ok(mut u) = self.used.lock() {
            u.remove(&self.ports[0]);
            u.remove(&self.ports[1]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_connection_and_port() {
        let sdp = "v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtcp:4001\r\n";
        let (out, sig) = rewrite(sdp, IpAddr::from([127, 0, 0, 1]), 30000);
        assert!(out.contains("c=IN IP4 127.0.0.1\r\n"), "{out}");
        assert!(out.contains("m=audio 30000 RTP/AVP 0 8\r\n"), "{out}");
        assert!(!out.contains("a=rtcp:"), "{out}");
        assert!(
            !out.contains("10.0.0.5"),
            "the phone's address must not leak: {out}"
        );
        assert!(out.contains("o=- 1 1 IN IP4 127.0.0.1\r\n"), "{out}");
        assert_eq!(
            sig,
            Some("10.0.0.5:4000".parse().unwrap_or_else(|_| unreachable!()))
        );
    }

    #[test]
    fn learns_only_from_the_signalled_ip() {
        let mut s = Side {
            signalled: Some("10.0.0.5:4000".parse().unwrap_or_else(|_| unreachable!())),
            signalled_at: Some(Instant::now()),
            ..Side::default()
        };
        let other: SocketAddr = "10.0.0.6:4000".parse().unwrap_or_else(|_| unreachable!());
        let nat: SocketAddr = "10.0.0.5:4100".parse().unwrap_or_else(|_| unreachable!());
        assert!(!s.accept(other, Instant::now()));
        assert!(s.accept(nat, Instant::now()));
        assert!(!s.accept(other, Instant::now()));
        assert_eq!(s.dest(), Some(nat));
    }
}
