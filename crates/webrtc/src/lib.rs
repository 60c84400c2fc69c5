//! WebRTC adapter: turns one browser WebRTC leg (ICE, DTLS-SRTP, RTP in str0m's RTP mode) into a
//! plain RTP endpoint on loopback, so the rest of pbxd treats a browser like an ordinary SIP
//! phone.
//!
//! pbxd is always the answerer: the browser sends a complete offer (ICE gathered, no trickle),
//! [`Bridge::accept_offer`] returns the answer for the browser and a running bridge whose
//! [`Bridge::plain_sdp`] is used as if a SIP phone had sent it.
//!
//! Per leg one tokio task and two UDP sockets: the WebRTC side (one host candidate on the bind
//! address, plus the configured public address) and the plain side (RTP on an even port; the
//! RTCP port above it is bound but not served). RTP packets are forwarded without
//! depacketizing; only payload types (and for telephone-event the clock domain) are rewritten.
//! When the browser and the plain side share no codec but Opus and G.711 (or when
//! [`BridgeConfig::force_transcode`] is set) the bridge transcodes Opus <-> G.711 in 20 ms
//! frames with libopus and a windowed-sinc 48 kHz <-> 8 kHz resampler.
//!
//! Build needs libopus through pkg-config (Debian: `libopus-dev`, `pkg-config`). The DTLS/SRTP
//! crypto is pure Rust (see [`crypto`]); no OpenSSL, no aws-lc.

pub mod audio;
mod bridge;
mod client;
pub mod crypto;
mod offer;
mod rtc;

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

pub use bridge::{quality_report, Bridge, LegStats, PendingBridge};
pub use client::{Client, Received};

/// Codecs on either side of a bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 µ-law, 8000 Hz, static payload type 0.
    Pcmu,
    /// G.711 A-law, 8000 Hz, static payload type 8.
    Pcma,
    /// Opus 48000/2.
    Opus,
}

impl Codec {
    /// The SDP encoding name.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
            Codec::Opus => "opus",
        }
    }

    /// RTP clock rate.
    pub fn clock_rate(self) -> u32 {
        match self {
            Codec::Pcmu | Codec::Pcma => 8000,
            Codec::Opus => 48000,
        }
    }

    /// RTP timestamp units in one 20 ms frame.
    pub fn frame_ticks(self) -> u32 {
        self.clock_rate() / 50
    }

    /// The payload type this crate uses on the plain side (and the client offers).
    pub fn default_pt(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
            Codec::Opus => 111,
        }
    }

    /// G.711 (either law).
    pub fn is_g711(self) -> bool {
        matches!(self, Codec::Pcmu | Codec::Pcma)
    }
}

/// Telephone-event payload type on the plain side.
pub const PLAIN_EVENT_PT: u8 = 101;

/// Hands out UDP ports from pbxd's RTP range.
///
/// `take` returns an even port `p`; `p` and `p + 1` are then the caller's until `give_back(p)`
/// (the same pairs pbxd's relay uses for RTP and RTCP).
pub trait PortSource: Send + Sync {
    /// An even port whose pair is free, or `None` when the range is exhausted.
    fn take(&self) -> Option<u16>;
    /// Returns a port from `take`.
    fn give_back(&self, port: u16);
}

/// A simple [`PortSource`] over an inclusive range (even ports only), for tests and benchmarks.
#[derive(Debug)]
pub struct PortRange {
    free: Mutex<VecDeque<u16>>,
}

impl PortRange {
    /// All even ports `p` with `min <= p` and `p + 1 <= max`.
    pub fn new(min: u16, max: u16) -> Self {
        let start = min + (min % 2);
        let free = (start..max).step_by(2).collect();
        PortRange {
            free: Mutex::new(free),
        }
    }

    /// Ports still free.
    pub fn available(&self) -> usize {
        self.free.lock().map(|f| f.len()).unwrap_or(0)
    }
}

impl PortSource for PortRange {
    fn take(&self) -> Option<u16> {
        self.free.lock().ok()?.pop_front()
    }

    fn give_back(&self, port: u16) {
        if let Ok(mut f) = self.free.lock() {
            if !f.contains(&port) {
                f.push_back(port);
            }
        }
    }
}

/// Configuration of the bridges of one pbxd.
#[derive(Clone)]
pub struct BridgeConfig {
    /// Where the ICE/DTLS UDP socket binds (e.g. 127.0.0.1 or 0.0.0.0).
    pub bind_ip: IpAddr,
    /// Extra ICE host candidate (the configured public address, same port).
    pub public_ip: Option<IpAddr>,
    /// The plain RTP side binds here (loopback).
    pub plain_ip: IpAddr,
    /// UDP ports from pbxd's RTP range.
    pub ports: Arc<dyn PortSource>,
    /// What the plain side (the relay) may use, in preference order.
    pub plain_codecs: Vec<Codec>,
    /// Benchmark/testing: always Opus to the browser and G.711 on the plain side.
    pub force_transcode: bool,
}

impl std::fmt::Debug for BridgeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BridgeConfig")
            .field("bind_ip", &self.bind_ip)
            .field("public_ip", &self.public_ip)
            .field("plain_ip", &self.plain_ip)
            .field("plain_codecs", &self.plain_codecs)
            .field("force_transcode", &self.force_transcode)
            .finish()
    }
}

/// Why a leg could not be set up. The texts are Dutch: they reach people (logs, the softphone).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("ongeldig SDP-aanbod: {0}")]
    Sdp(String),
    #[error("het aanbod heeft geen DTLS-vingerafdruk (a=fingerprint); alleen DTLS-SRTP wordt ondersteund")]
    NoFingerprint,
    #[error("SDES-sleutels (a=crypto) worden niet ondersteund; alleen DTLS-SRTP")]
    Sdes,
    #[error("het aanbod heeft geen ICE-gegevens (a=ice-ufrag en a=ice-pwd)")]
    NoIce,
    #[error("het aanbod heeft geen audiostroom")]
    NoAudio,
    #[error("geen gemeenschappelijke codec met de browser (aangeboden: {0})")]
    NoCodec(String),
    #[error("geen vrije RTP-poort")]
    NoPorts,
    #[error("bind_ip {0} is geen bruikbaar ICE-adres; geef public_ip op")]
    NoCandidate(IpAddr),
    #[error("socketfout: {0}")]
    Io(#[from] std::io::Error),
    #[error("WebRTC-fout: {0}")]
    Rtc(String),
    #[error("Opus-fout: {0}")]
    Opus(String),
    #[error("geen DTLS-certificaat te maken")]
    Certificate,
    #[error("het SDP-antwoord is ongeldig: {0}")]
    Answer(String),
}
