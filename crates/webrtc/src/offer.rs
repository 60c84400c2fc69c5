//! Checks a browser offer (before str0m sees it) and picks the codecs of both sides.

use std::str::FromStr;

use pbx_media::sdp::{Attribute, MediaDescription, SessionDescription};

use crate::{Codec, Error};

/// What the offer's audio section has, as the browser's payload types.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Offered {
    pub opus: Option<u8>,
    pub pcmu: Option<u8>,
    pub pcma: Option<u8>,
    /// telephone-event/8000.
    pub event_8k: Option<u8>,
    /// telephone-event/48000 (used only with Opus towards the browser).
    pub event_48k: Option<u8>,
    /// Every encoding name seen (for the error text).
    pub names: Vec<String>,
    /// The audio section's `a=mid`.
    pub mid: Option<String>,
}

impl Offered {
    pub fn pt(&self, codec: Codec) -> Option<u8> {
        match codec {
            Codec::Pcmu => self.pcmu,
            Codec::Pcma => self.pcma,
            Codec::Opus => self.opus,
        }
    }
}

/// The codecs of a leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Towards the browser.
    pub browser: Codec,
    /// On the plain side.
    pub plain: Codec,
}

fn has_attr(attrs: &[Attribute], want: &str) -> bool {
    attrs
        .iter()
        .any(|a| matches!(a, Attribute::Other { name, .. } if name.eq_ignore_ascii_case(want)))
}

fn scan_audio(m: &MediaDescription) -> Offered {
    let mut o = Offered::default();
    for pt in m.payload_types() {
        let Some(enc) = m.encoding(pt) else { continue };
        let rate = match m.rtpmap(pt) {
            Some(map) => map.clock_rate,
            None => pbx_media::rtp::static_clock_rate(pt).unwrap_or(0),
        };
        match (enc.to_ascii_lowercase().as_str(), rate) {
            ("opus", 48000) => {
                o.opus.get_or_insert(pt);
            }
            ("pcmu", 8000) => {
                o.pcmu.get_or_insert(pt);
            }
            ("pcma", 8000) => {
                o.pcma.get_or_insert(pt);
            }
            ("telephone-event", 8000) => {
                o.event_8k.get_or_insert(pt);
            }
            ("telephone-event", 48000) => {
                o.event_48k.get_or_insert(pt);
            }
            _ => {}
        }
        o.names.push(format!("{enc}/{rate}"));
    }
    o
}

/// Validates the offer: parseable, an audio section, ICE credentials, a DTLS fingerprint and no
/// SDES keys. Returns what the audio section offers.
pub(crate) fn check(sdp: &str) -> Result<Offered, Error> {
    let sd = SessionDescription::from_str(sdp).map_err(|e| Error::Sdp(dutch(&e)))?;
    let Some(audio) = sd
        .media
        .iter()
        .find(|m| m.media.eq_ignore_ascii_case("audio") && m.port != 0)
    else {
        return Err(Error::NoAudio);
    };
    if has_attr(&sd.attributes, "crypto")
        || sd.media.iter().any(|m| has_attr(&m.attributes, "crypto"))
    {
        return Err(Error::Sdes);
    }
    if !has_attr(&sd.attributes, "fingerprint") && !has_attr(&audio.attributes, "fingerprint") {
        return Err(Error::NoFingerprint);
    }
    let ice = |name| has_attr(&sd.attributes, name) || has_attr(&audio.attributes, name);
    if !ice("ice-ufrag") || !ice("ice-pwd") {
        return Err(Error::NoIce);
    }
    if !audio.protocol.to_ascii_uppercase().contains("SAVP") {
        return Err(Error::Sdp(format!(
            "profiel {} is geen (UDP/TLS/)RTP/SAVPF",
            audio.protocol
        )));
    }
    let mut o = scan_audio(audio);
    o.mid = audio.attributes.iter().find_map(|a| match a {
        Attribute::Other { name, value } if name == "mid" => value.clone(),
        _ => None,
    });
    Ok(o)
}

/// Picks the codecs: a G.711 (or Opus) both sides have, in the plain side's order, without
/// transcoding; else Opus to the browser and the plain side's first G.711.
pub(crate) fn plan(
    offered: &Offered,
    plain: &[Codec],
    force_transcode: bool,
) -> Result<Plan, Error> {
    let no_codec = || Error::NoCodec(offered.names.join(", "));
    if !force_transcode {
        if let Some(&c) = plain.iter().find(|&&c| offered.pt(c).is_some()) {
            return Ok(Plan {
                browser: c,
                plain: c,
            });
        }
    }
    let g711 = plain
        .iter()
        .copied()
        .find(|c| c.is_g711())
        .ok_or_else(no_codec)?;
    if offered.opus.is_some() {
        return Ok(Plan {
            browser: Codec::Opus,
            plain: g711,
        });
    }
    // No Opus: the other G.711 law (a table lookup, still no real transcoding cost).
    if force_transcode {
        return Err(no_codec());
    }
    let other = if g711 == Codec::Pcmu {
        Codec::Pcma
    } else {
        Codec::Pcmu
    };
    if offered.pt(other).is_some() {
        return Ok(Plan {
            browser: other,
            plain: g711,
        });
    }
    Err(no_codec())
}

/// A Dutch text for an SDP parse error of pbx-media (whose texts are English).
fn dutch(e: &pbx_media::sdp::SdpError) -> String {
    use pbx_media::sdp::SdpError as E;
    match e {
        E::TooLarge => format!("groter dan {} octetten", pbx_media::sdp::MAX_SDP_LEN),
        E::NotUtf8 => "geen geldige UTF-8".into(),
        E::BadVersion => "begint niet met v=0".into(),
        E::BadLine(n) => format!("regel {n} heeft niet de vorm <letter>=<waarde>"),
        E::MissingOrigin => "o=-regel ontbreekt".into(),
        E::BadOrigin(n) => format!("regel {n}: onjuiste o=-regel"),
        E::BadConnection(n) => format!("regel {n}: onjuiste c=-regel"),
        E::BadTiming(n) => format!("regel {n}: onjuiste t=-regel"),
        E::BadMedia(n) => format!("regel {n}: onjuiste m=-regel"),
        E::Duplicate(n, c) => format!("regel {n}: dubbele {c}=-regel"),
        E::TooManyMedia => "te veel mediasecties".into(),
        E::TooManyAttributes => "te veel attributen".into(),
        _ => format!("onleesbaar ({e})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offered(opus: bool, pcmu: bool, pcma: bool) -> Offered {
        Offered {
            opus: opus.then_some(111),
            pcmu: pcmu.then_some(0),
            pcma: pcma.then_some(8),
            event_8k: Some(126),
            event_48k: Some(110),
            names: vec![],
            mid: None,
        }
    }

    #[test]
    fn plan_prefers_shared_g711_then_transcodes() {
        let all = offered(true, true, true);
        let p = plan(&all, &[Codec::Pcmu, Codec::Pcma], false).expect("plan");
        assert_eq!((p.browser, p.plain), (Codec::Pcmu, Codec::Pcmu));
        let p = plan(&all, &[Codec::Pcma, Codec::Pcmu], false).expect("plan");
        assert_eq!((p.browser, p.plain), (Codec::Pcma, Codec::Pcma));
        let p = plan(&all, &[Codec::Pcmu], true).expect("plan");
        assert_eq!((p.browser, p.plain), (Codec::Opus, Codec::Pcmu));
        let p = plan(&offered(true, false, false), &[Codec::Pcma], false).expect("plan");
        assert_eq!((p.browser, p.plain), (Codec::Opus, Codec::Pcma));
        let p = plan(&offered(false, false, true), &[Codec::Pcmu], false).expect("plan");
        assert_eq!((p.browser, p.plain), (Codec::Pcma, Codec::Pcmu));
        assert!(plan(&offered(false, false, false), &[Codec::Pcmu], false).is_err());
        assert!(plan(&offered(true, false, false), &[Codec::Opus], true).is_err());
        let p = plan(&all, &[Codec::Opus, Codec::Pcmu], false).expect("plan");
        assert_eq!((p.browser, p.plain), (Codec::Opus, Codec::Opus));
    }
}
