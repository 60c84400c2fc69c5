//! What the bridge and the test client share around a str0m `Rtc`: configuration, the drain
//! loop and feeding received datagrams.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::format::{Codec as SCodec, FormatParams};
use str0m::media::Frequency;
use str0m::net::{Protocol, Receive};
use str0m::{Event, Input, Output, Rtc, RtcConfig};
use tokio::net::UdpSocket;

use crate::{Codec, Error};

/// Interval of str0m's statistics events.
pub(crate) const STATS_INTERVAL: Duration = Duration::from_secs(1);

/// An `RtcConfig` in RTP mode with our crypto provider, a shared certificate and no codecs yet.
pub(crate) fn base_config() -> Result<RtcConfig, Error> {
    let cert = crate::crypto::shared_certificate().ok_or(Error::Certificate)?;
    Ok(Rtc::builder()
        .set_crypto_provider(Arc::new(crate::crypto::provider()))
        .set_dtls_cert(cert)
        .set_rtp_mode(true)
        .clear_codecs()
        .set_stats_interval(Some(STATS_INTERVAL)))
}

/// Adds an audio codec with the payload type this crate uses for it.
pub(crate) fn enable(cfg: &mut RtcConfig, codec: Codec) {
    let cc = cfg.codec_config();
    match codec {
        Codec::Pcmu => cc.enable_pcmu(true, false),
        Codec::Pcma => cc.enable_pcma(true, false),
        Codec::Opus => cc.enable_opus(true, false),
    }
}

/// Adds telephone-event at `rate` Hz (events 0-16) with payload type `pt`.
pub(crate) fn enable_events(cfg: &mut RtcConfig, pt: u8, rate: u32) {
    let freq = if rate == 48000 {
        Frequency::FORTY_EIGHT_KHZ
    } else {
        Frequency::EIGHT_KHZ
    };
    cfg.codec_config().add_config(
        pt.into(),
        None,
        SCodec::Tele,
        freq,
        None,
        FormatParams::parse_line("0-16"),
    );
}

/// Our codec for a str0m codec.
pub(crate) fn from_str0m(c: SCodec) -> Option<Codec> {
    match c {
        SCodec::Opus => Some(Codec::Opus),
        SCodec::PCMU => Some(Codec::Pcmu),
        SCodec::PCMA => Some(Codec::Pcma),
        _ => None,
    }
}

/// Drains `poll_output` to the next timeout: transmits go out on `sock` (a full socket buffer
/// drops the datagram, as the network would), events go to `on_event`. `Err` when str0m fails.
pub(crate) fn drain(
    rtc: &mut Rtc,
    sock: &UdpSocket,
    mut on_event: impl FnMut(Event),
) -> Result<Instant, String> {
    loop {
        match rtc.poll_output() {
            Ok(Output::Timeout(t)) => return Ok(t),
            Ok(Output::Transmit(t)) => {
                // Errors (unreachable address family, buffer full) lose this datagram only.
                let _ = sock.try_send_to(&t.contents, t.destination);
            }
            Ok(Output::Event(e)) => on_event(e),
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Feeds one datagram to `rtc` if it is STUN, DTLS, RTP or RTCP; other bytes are ignored.
pub(crate) fn feed(
    rtc: &mut Rtc,
    source: SocketAddr,
    destination: SocketAddr,
    buf: &[u8],
) -> Result<(), String> {
    let Ok(recv) = Receive::new(Protocol::Udp, source, destination, buf) else {
        return Ok(());
    };
    let input = Input::Receive(Instant::now(), recv);
    if !rtc.accepts(&input) {
        return Ok(());
    }
    rtc.handle_input(input).map_err(|e| e.to_string())
}

/// Moves str0m's clock to now.
pub(crate) fn tick(rtc: &mut Rtc) -> Result<(), String> {
    rtc.handle_input(Input::Timeout(Instant::now()))
        .map_err(|e| e.to_string())
}

/// Extends 16-bit RTP sequence numbers (and tracks a 32-bit timestamp the same way).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Extender {
    last: Option<u64>,
}

impl Extender {
    /// The extended value of `v` (width `bits`), closest to the previous one.
    pub fn extend(&mut self, v: u64, bits: u32) -> u64 {
        let span = 1u64 << bits;
        let ext = match self.last {
            None => v,
            Some(last) => {
                let base = last & !(span - 1);
                let cands = [base.wrapping_sub(span), base, base + span];
                let mut best = base + v;
                let mut dist = u64::MAX;
                for c in cands {
                    let x = c.wrapping_add(v);
                    if c > last + span {
                        continue;
                    }
                    let d = x.abs_diff(last);
                    if d < dist {
                        dist = d;
                        best = x;
                    }
                }
                best
            }
        };
        if self.last.is_none_or(|l| ext > l) {
            self.last = Some(ext);
        }
        ext
    }
}

#[cfg(test)]
mod tests {
    use super::Extender;

    #[test]
    fn extender_wraps_both_ways() {
        let mut e = Extender::default();
        assert_eq!(e.extend(65534, 16), 65534);
        assert_eq!(e.extend(65535, 16), 65535);
        assert_eq!(e.extend(1, 16), 65537);
        assert_eq!(e.extend(65535, 16), 65535);
        assert_eq!(e.extend(2, 16), 65538);
        let mut t = Extender::default();
        assert_eq!(
            t.extend(u64::from(u32::MAX) - 159, 32),
            u64::from(u32::MAX) - 159
        );
        assert_eq!(t.extend(1, 32), (1u64 << 32) + 1);
    }
}
