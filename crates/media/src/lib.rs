//! Media without I/O: RTP/RTCP, SDP offer/answer, G.711 and transcoding, per-leg statistics.
//!
//! Everything here is a pure function of its input: no sockets, no clock reads (time comes in as
//! arguments), and no panics on network input. The RTP/RTCP code is our own zero-copy parser
//! rather than the `rtp` crate named in the design: `rtp` 0.17 depends on `webrtc-util`, which
//! brings tokio, nix and async-trait into this pure crate, and its `Packet::unmarshal` copies
//! every payload into a `Bytes`. The relay path here parses, updates statistics and rewrites a
//! header in place without allocating (`examples/relay_cost.rs` measures it).
//!
//! Modules: [`rtp`] and [`rtcp`] (wire formats), [`stats`] (RFC 3550 A.1/A.3/A.8, RTT),
//! [`g711`] (µ-law, A-law, PCMU↔PCMA), [`dtmf`] (RFC 4733), [`sdp`] (RFC 8866 subset) and
//! [`negotiate`] (RFC 3264 offer/answer, bridge decision); for a relay in the middle of a call,
//! [`anchor`] (offer/answer between two legs) and [`relay`] (the per-call packet path); for
//! announcements and the keuzemenu, [`wav`] (prompt files to 8 kHz mono), [`player`] (prompts as
//! RTP in virtual time), [`dtmf_in`] (digits from RFC 4733 and SIP INFO, menu collection) and
//! [`inband`] (Goertzel DTMF detection in the audio).

pub mod anchor;
pub mod dtmf;
pub mod dtmf_in;
pub mod emodel;
pub mod g711;
pub mod inband;
pub mod negotiate;
pub mod player;
pub mod quality;
pub mod relay;
pub mod rtcp;
pub mod rtp;
pub mod sdp;
pub mod stats;
pub mod wav;

pub use negotiate::{
    answer, bridge_mode, common_codec, create_offer, BridgeMode, Codec, LocalMedia,
};
pub use rtp::{RtpPacket, RtpPacketMut};
pub use sdp::SessionDescription;
pub use stats::{LegStats, NtpTime, ReceiveStats, SendStats};
