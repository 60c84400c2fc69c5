//! Property tests: every parser takes arbitrary network input without panicking, and what parses
//! survives a serialise/parse round trip.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use pbx_media::anchor::Anchor;
use pbx_media::dtmf::TelephoneEvent;
use pbx_media::negotiate::{answer, read_answer, Codec, LocalMedia};
use pbx_media::relay::RelayCore;
use pbx_media::rtcp::{parse_compound, RtcpPacket};
use pbx_media::rtp::{RtpHeader, RtpPacket, RtpPacketMut};
use pbx_media::sdp::{SessionDescription, MAX_SDP_LEN};
use pbx_media::stats::{NtpTime, ReceiveStats};
use proptest::prelude::*;

fn walk_rtcp(buf: &[u8]) -> usize {
    let _ = pbx_media::rtcp::validate_compound(buf);
    let _ = pbx_media::rtcp::is_rtcp(buf);
    let mut n = 0;
    for p in parse_compound(buf) {
        match p {
            Ok(RtcpPacket::SenderReport(sr)) => n += sr.blocks().count(),
            Ok(RtcpPacket::ReceiverReport(rr)) => n += rr.blocks().count(),
            Ok(RtcpPacket::Sdes(s)) => {
                for c in s.chunks() {
                    n += c.items().count() + usize::from(c.cname().is_some());
                }
            }
            Ok(RtcpPacket::Bye(b)) => n += b.ssrcs().count(),
            Ok(_) => n += 1,
            Err(_) => break,
        }
    }
    n
}

fn sdp_line() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z]=[ -~]{0,40}",
        "a=(rtpmap|fmtp|ptime|maxptime|rtcp|rtcp-mux|sendonly|recvonly|inactive|sendrecv)(:[0-9a-zA-Z/ .=;-]{0,24})?",
        "a=rtpmap:[0-9]{1,3} (PCMU|PCMA|opus|G722|telephone-event)/(8000|48000)(/2)?",
        "m=(audio|video) [0-9]{1,6}(/[0-9])? (RTP/AVP|RTP/SAVPF|UDP/TLS/RTP/SAVPF)( [0-9]{1,3}){0,6}",
        "c=IN IP(4|6) [0-9.:a-f]{1,15}",
        "t=[0-9]{1,3} [0-9]{1,3}",
        "[ -~]{0,20}",
    ]
}

fn sdp_body() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(sdp_line(), 0..30),
        prop::bool::ANY,
        prop::bool::ANY,
    )
        .prop_map(|(lines, crlf, header)| {
            let eol = if crlf { "\r\n" } else { "\n" };
            let mut s = String::new();
            if header {
                s.push_str("v=0");
                s.push_str(eol);
                s.push_str("o=- 1 1 IN IP4 192.0.2.1");
                s.push_str(eol);
            }
            for l in lines {
                s.push_str(&l);
                s.push_str(eol);
            }
            s
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn rtp_random_bytes(mut buf in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(p) = RtpPacket::parse(&buf) {
            prop_assert!(p.header_len() + p.payload().len() + p.padding_len() == buf.len());
            let _ = (p.extension(), p.csrc(0), p.csrc(14));
        }
        if let Ok(mut p) = RtpPacketMut::parse(&mut buf) {
            p.set_sequence(1);
            p.set_timestamp(2);
            p.set_ssrc(3);
            p.set_marker(true);
            prop_assert!(p.set_payload_type(96).is_ok());
            let n = p.payload_mut().len();
            prop_assert_eq!(p.as_packet().payload().len(), n);
        }
    }

    #[test]
    fn rtp_header_round_trip(
        marker in any::<bool>(), pt in 0u8..128, seq in any::<u16>(), ts in any::<u32>(),
        ssrc in any::<u32>(), csrcs in prop::collection::vec(any::<u32>(), 0..16),
        ext in prop::option::of((any::<u16>(), prop::collection::vec(any::<u8>(), 0..4).prop_map(|v| v.repeat(4)))),
        payload in prop::collection::vec(any::<u8>(), 0..64), padding in any::<u8>(),
    ) {
        let h = RtpHeader {
            marker, payload_type: pt, sequence: seq, timestamp: ts, ssrc, csrcs: &csrcs,
            extension: ext.as_ref().map(|(id, d)| (*id, d.as_slice())),
        };
        let mut out = vec![0u8; 1500];
        let n = h.write(&payload, padding, &mut out).unwrap();
        let p = RtpPacket::parse(&out[..n]).unwrap();
        prop_assert_eq!((p.marker(), p.payload_type(), p.sequence(), p.timestamp(), p.ssrc()), (marker, pt, seq, ts, ssrc));
        prop_assert_eq!(p.payload(), &payload[..]);
        prop_assert_eq!(p.padding_len(), usize::from(padding));
        prop_assert_eq!(usize::from(p.csrc_count()), csrcs.len());
        prop_assert_eq!(p.extension().map(|(i, d)| (i, d.to_vec())), ext);
    }

    #[test]
    fn rtcp_random_bytes(buf in prop::collection::vec(any::<u8>(), 0..300)) {
        walk_rtcp(&buf);
    }

    #[test]
    fn rtcp_plausible_headers(
        first in 0x80u8..0xc0, pt in 192u8..210, words in 0u16..20,
        body in prop::collection::vec(any::<u8>(), 0..120),
    ) {
        let mut buf = vec![first, pt];
        buf.extend_from_slice(&words.to_be_bytes());
        buf.extend_from_slice(&body);
        walk_rtcp(&buf);
    }

    #[test]
    fn telephone_event_random(buf in prop::collection::vec(any::<u8>(), 0..8)) {
        if let Ok(e) = TelephoneEvent::parse(&buf) {
            let mut out = [0u8; 4];
            e.write(&mut out).unwrap();
            prop_assert_eq!(TelephoneEvent::parse(&out).unwrap(), e);
        }
    }

    #[test]
    fn sdp_random_bytes(buf in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = SessionDescription::parse_bytes(&buf);
    }

    #[test]
    fn sdp_structured(body in sdp_body()) {
        if let Ok(sdp) = body.parse::<SessionDescription>() {
            let text = sdp.to_string();
            if text.len() <= MAX_SDP_LEN {
                prop_assert_eq!(text.parse::<SessionDescription>().unwrap(), sdp.clone());
            }
            let mut local = LocalMedia::new("192.0.2.99".parse().unwrap());
            local.codecs.push(Codec::opus());
            local.allow_transcoding = true;
            if let Ok(a) = answer(&sdp, &local, &[1000, 1002, 1004]) {
                prop_assert_eq!(a.sdp.media.len(), sdp.media.len());
                let back: SessionDescription = a.sdp.to_string().parse().unwrap();
                prop_assert_eq!(back, a.sdp);
            }
            let _ = read_answer(&sdp);
        }
    }

    #[test]
    fn stats_random_stream(
        pkts in prop::collection::vec((any::<u16>(), any::<u32>(), 0usize..2000, any::<u64>()), 0..200),
        rate in prop::sample::select(vec![0u32, 8000, 16000, 48000, 90000]),
        ntp in any::<u64>(),
    ) {
        let mut s = ReceiveStats::new(rate);
        for (seq, ts, len, at) in pkts {
            s.handle_packet(seq, ts, len, Duration::from_nanos(at));
        }
        s.handle_sender_report(ntp, NtpTime(ntp / 2));
        let rb = s.report_block(1, NtpTime(ntp));
        let _ = s.handle_report_block(&rb, NtpTime(ntp));
        let snap = s.snapshot();
        prop_assert!(snap.loss_percent >= 0.0 && snap.jitter_ms >= 0.0);
        let _ = NtpTime::from_unix(Duration::MAX);
    }

    #[test]
    fn anchor_any_sdp_sequence(
        sdps in prop::collection::vec((0usize..2, sdp_body()), 1..6),
    ) {
        let mut a = Anchor::new("192.0.2.99".parse().unwrap(), [1000, 1002], 5);
        for (side, body) in sdps {
            let (out, _) = a.handle(side, &body);
            // What we produce from a description that parsed parses again, the same.
            if body.parse::<SessionDescription>().is_ok() {
                let back: SessionDescription = out.parse().unwrap();
                prop_assert_eq!(back.to_string(), out);
            }
            let plan = a.plan();
            prop_assert!(plan.legs.iter().all(|l| l.rtp.is_none_or(|r| !r.ip().is_unspecified())));
        }
    }

    #[test]
    fn relay_core_any_packets(
        offer in sdp_body(),
        answer in sdp_body(),
        pkts in prop::collection::vec(
            (0usize..2, any::<bool>(), 0u8..3, any::<u8>(), any::<u16>(), any::<u32>(), any::<u32>(),
             prop::collection::vec(any::<u8>(), 0..64), 0u32..100_000),
            0..80),
    ) {
        let mut a = Anchor::new("192.0.2.99".parse().unwrap(), [1000, 1002], 5);
        a.handle(0, "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n");
        a.handle(1, "v=0\r\no=- 1 1 IN IP4 192.0.2.2\r\ns=-\r\nc=IN IP4 192.0.2.2\r\nt=0 0\r\nm=audio 5000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\n");
        let mut core = RelayCore::new(9, NtpTime(1 << 40));
        core.set_plan(&a.plan(), Duration::ZERO);
        let mut out = Vec::new();
        for (i, (side, rtcp, src, first, seq, ts, ssrc, body, ms)) in pkts.into_iter().enumerate() {
            if i == 40 {
                a.handle(1, &offer);
                a.handle(0, &answer);
                core.set_plan(&a.plan(), Duration::from_millis(u64::from(ms)));
            }
            let src = match src {
                0 => "192.0.2.1:4000",
                1 => "192.0.2.2:5001",
                _ => "192.0.2.3:6000",
            };
            // Mostly well-formed headers, to get past the parser.
            let mut buf = vec![0x80 | (first & 0x3f), first, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
            buf[2..4].copy_from_slice(&seq.to_be_bytes());
            buf[4..8].copy_from_slice(&ts.to_be_bytes());
            buf[8..12].copy_from_slice(&ssrc.to_be_bytes());
            buf.extend_from_slice(&body);
            let now = Duration::from_millis(u64::from(ms));
            let len = buf.len();
            let _ = core.handle(side, rtcp, src.parse().unwrap(), &mut buf, now);
            prop_assert_eq!(buf.len(), len);
            while core.poll_report(now, &mut out).is_some() {
                prop_assert!(pbx_media::rtcp::validate_compound(&out).is_ok());
            }
        }
        let _ = (core.snapshot(0), core.snapshot(1), core.next_report());
    }
}
