//! Shared helpers of the integration tests (loopback only, free ports).
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use pbx_webrtc::{BridgeConfig, Codec, PortRange};
use tokio::net::UdpSocket;

pub const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A port range of 400 ports at a random place in 20000..60000 (binds that fail are skipped).
pub fn ports() -> Arc<PortRange> {
    let base = 20000 + (rand_u16() % 200) * 200;
    Arc::new(PortRange::new(base, base + 399))
}

fn rand_u16() -> u16 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(7);
    (t ^ std::process::id().rotate_left(7)) as u16
}

pub fn config(ports: Arc<PortRange>, plain: &[Codec], force_transcode: bool) -> BridgeConfig {
    BridgeConfig {
        bind_ip: LOOPBACK,
        public_ip: None,
        plain_ip: LOOPBACK,
        ports,
        plain_codecs: plain.to_vec(),
        force_transcode,
    }
}

/// The "relay": a plain UDP socket on loopback.
pub async fn relay() -> UdpSocket {
    UdpSocket::bind(SocketAddr::new(LOOPBACK, 0))
        .await
        .expect("relay socket")
}

/// An RTP packet: version 2, no extension.
pub fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x80, pt | if marker { 0x80 } else { 0 }];
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&ts.to_be_bytes());
    v.extend_from_slice(&ssrc.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// (pt, seq, ts, payload) of an RTP packet.
pub fn parse(buf: &[u8]) -> Option<(u8, u16, u32, Vec<u8>)> {
    if buf.len() < 12 || buf[0] >> 6 != 2 {
        return None;
    }
    let cc = usize::from(buf[0] & 0x0f);
    let mut off = 12 + 4 * cc;
    if buf[0] & 0x10 != 0 {
        let len = usize::from(u16::from_be_bytes([*buf.get(off + 2)?, *buf.get(off + 3)?]));
        off += 4 + 4 * len;
    }
    Some((
        buf[1] & 0x7f,
        u16::from_be_bytes([buf[2], buf[3]]),
        u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
        buf.get(off..)?.to_vec(),
    ))
}

/// Receives one datagram within `t`.
pub async fn recv(sock: &UdpSocket, t: Duration) -> Option<(Vec<u8>, SocketAddr)> {
    let mut buf = vec![0u8; 2048];
    match tokio::time::timeout(t, sock.recv_from(&mut buf)).await {
        Ok(Ok((n, src))) => Some((buf[..n].to_vec(), src)),
        _ => None,
    }
}
