//! RTCP (RFC 3550 §6): compound packet parsing for SR, RR, SDES and BYE, zero-copy; builders for
//! SR, RR, SDES CNAME and BYE. Other packet types (APP, RTPFB, PSFB, XR…) are handed out as
//! [`RtcpPacket::Other`]; the VoIP Metrics blocks of XR (RFC 3611 §4.7) are read by
//! [`xr_voip_metrics`].

/// Packet type: sender report.
pub const PT_SR: u8 = 200;
/// Packet type: receiver report.
pub const PT_RR: u8 = 201;
/// Packet type: source description.
pub const PT_SDES: u8 = 202;
/// Packet type: goodbye.
pub const PT_BYE: u8 = 203;

const REPORT_BLOCK_LEN: usize = 24;
const SDES_CNAME: u8 = 1;

/// Why an RTCP packet was rejected, or could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtcpError {
    #[error("rtcp packet too short")]
    TooShort,
    #[error("rtcp version {0} is not 2")]
    BadVersion(u8),
    #[error("rtcp length field exceeds the datagram")]
    BadLength,
    #[error("rtcp padding is invalid")]
    BadPadding,
    #[error("rtcp packet body is malformed")]
    Malformed,
    #[error("too many report blocks or sources")]
    TooMany,
    #[error("sdes item longer than 255 octets")]
    ItemTooLong,
    #[error("compound rtcp must start with SR or RR and pad only its last packet")]
    NotCompound,
}

/// One reception report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportBlock {
    /// The source this block reports on.
    pub ssrc: u32,
    /// Fraction lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative number of packets lost (signed 24 bit; duplicates can make it negative).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR received, 0 if none.
    pub lsr: u32,
    /// Delay since that SR, in 1/65536 s.
    pub dlsr: u32,
}

impl ReportBlock {
    fn read(b: &[u8]) -> Self {
        let w = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        // Sign-extend the 24-bit cumulative loss.
        let lost = ((w(4) << 8) as i32) >> 8;
        Self {
            ssrc: w(0),
            fraction_lost: b[4],
            cumulative_lost: lost,
            highest_seq: w(8),
            jitter: w(12),
            lsr: w(16),
            dlsr: w(20),
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        let lost = self.cumulative_lost.clamp(-0x80_0000, 0x7f_ffff) as u32 & 0x00ff_ffff;
        out.extend_from_slice(&((u32::from(self.fraction_lost) << 24) | lost).to_be_bytes());
        out.extend_from_slice(&self.highest_seq.to_be_bytes());
        out.extend_from_slice(&self.jitter.to_be_bytes());
        out.extend_from_slice(&self.lsr.to_be_bytes());
        out.extend_from_slice(&self.dlsr.to_be_bytes());
    }
}

/// Iterator over the report blocks of an SR or RR.
#[derive(Debug, Clone)]
pub struct ReportBlocks<'a> {
    rest: &'a [u8],
}

impl Iterator for ReportBlocks<'_> {
    type Item = ReportBlock;
    fn next(&mut self) -> Option<ReportBlock> {
        if self.rest.len() < REPORT_BLOCK_LEN {
            return None;
        }
        let (b, rest) = self.rest.split_at(REPORT_BLOCK_LEN);
        self.rest = rest;
        Some(ReportBlock::read(b))
    }
}

/// Sender information of an SR.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SenderInfo {
    /// 64-bit NTP timestamp.
    pub ntp: u64,
    pub rtp_timestamp: u32,
    pub packet_count: u32,
    pub octet_count: u32,
}

/// A parsed sender report.
#[derive(Debug, Clone)]
pub struct SenderReport<'a> {
    pub ssrc: u32,
    pub info: SenderInfo,
    blocks: &'a [u8],
}

impl<'a> SenderReport<'a> {
    /// The reception report blocks.
    pub fn blocks(&self) -> ReportBlocks<'a> {
        ReportBlocks { rest: self.blocks }
    }
}

/// A parsed receiver report.
#[derive(Debug, Clone)]
pub struct ReceiverReport<'a> {
    pub ssrc: u32,
    blocks: &'a [u8],
}

impl<'a> ReceiverReport<'a> {
    /// The reception report blocks.
    pub fn blocks(&self) -> ReportBlocks<'a> {
        ReportBlocks { rest: self.blocks }
    }
}

/// One SDES chunk: a source and its items (type, value).
#[derive(Debug, Clone)]
pub struct SdesChunk<'a> {
    pub ssrc: u32,
    items: &'a [u8],
}

impl<'a> SdesChunk<'a> {
    /// Items as (type, value), END excluded.
    pub fn items(&self) -> SdesItems<'a> {
        SdesItems { rest: self.items }
    }
    /// The CNAME item, if present.
    pub fn cname(&self) -> Option<&'a [u8]> {
        self.items().find(|&(t, _)| t == SDES_CNAME).map(|(_, v)| v)
    }
}

/// Iterator over SDES items.
#[derive(Debug, Clone)]
pub struct SdesItems<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for SdesItems<'a> {
    type Item = (u8, &'a [u8]);
    fn next(&mut self) -> Option<(u8, &'a [u8])> {
        let (&t, rest) = self.rest.split_first()?;
        if t == 0 {
            return None;
        }
        let (&len, rest) = rest.split_first()?;
        let len = usize::from(len);
        if rest.len() < len {
            return None;
        }
        let (v, rest) = rest.split_at(len);
        self.rest = rest;
        Some((t, v))
    }
}

/// A parsed SDES packet.
#[derive(Debug, Clone)]
pub struct Sdes<'a> {
    count: u8,
    body: &'a [u8],
}

impl<'a> Sdes<'a> {
    /// The chunks (validated at parse time).
    pub fn chunks(&self) -> SdesChunks<'a> {
        SdesChunks {
            left: self.count,
            rest: self.body,
        }
    }
}

/// Iterator over SDES chunks.
#[derive(Debug, Clone)]
pub struct SdesChunks<'a> {
    left: u8,
    rest: &'a [u8],
}

/// Splits one chunk off `b`: returns (ssrc, items, rest) or None if malformed.
fn split_chunk(b: &[u8]) -> Option<(u32, &[u8], &[u8])> {
    if b.len() < 4 {
        return None;
    }
    let ssrc = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let mut i = 4;
    loop {
        let t = *b.get(i)?;
        if t == 0 {
            // END, then pad to the next 32-bit boundary (counting from the chunk start).
            let end = (i + 1).div_ceil(4) * 4;
            if end > b.len() {
                return None;
            }
            return Some((ssrc, &b[4..i], &b[end..]));
        }
        let len = usize::from(*b.get(i + 1)?);
        i += 2 + len;
        if i > b.len() {
            return None;
        }
    }
}

impl<'a> Iterator for SdesChunks<'a> {
    type Item = SdesChunk<'a>;
    fn next(&mut self) -> Option<SdesChunk<'a>> {
        if self.left == 0 {
            return None;
        }
        let (ssrc, items, rest) = split_chunk(self.rest)?;
        self.left -= 1;
        self.rest = rest;
        Some(SdesChunk { ssrc, items })
    }
}

/// A parsed BYE.
#[derive(Debug, Clone)]
pub struct Bye<'a> {
    ssrcs: &'a [u8],
    /// Reason for leaving, if given.
    pub reason: Option<&'a [u8]>,
}

impl<'a> Bye<'a> {
    /// The sources that leave.
    pub fn ssrcs(&self) -> impl Iterator<Item = u32> + 'a {
        self.ssrcs
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
    }
}

/// One packet of a compound RTCP datagram.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RtcpPacket<'a> {
    SenderReport(SenderReport<'a>),
    ReceiverReport(ReceiverReport<'a>),
    Sdes(Sdes<'a>),
    Bye(Bye<'a>),
    /// Any other packet type: the 5-bit count/format field and the body after the 4-byte header.
    Other {
        packet_type: u8,
        count: u8,
        body: &'a [u8],
    },
}

fn be32(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

fn parse_one(pt: u8, count: u8, body: &[u8]) -> Result<RtcpPacket<'_>, RtcpError> {
    let blocks_len = usize::from(count) * REPORT_BLOCK_LEN;
    match pt {
        PT_SR => {
            if body.len() < 24 + blocks_len {
                return Err(RtcpError::Malformed);
            }
            Ok(RtcpPacket::SenderReport(SenderReport {
                ssrc: be32(body, 0),
                info: SenderInfo {
                    ntp: (u64::from(be32(body, 4)) << 32) | u64::from(be32(body, 8)),
                    rtp_timestamp: be32(body, 12),
                    packet_count: be32(body, 16),
                    octet_count: be32(body, 20),
                },
                blocks: &body[24..24 + blocks_len],
            }))
        }
        PT_RR => {
            if body.len() < 4 + blocks_len {
                return Err(RtcpError::Malformed);
            }
            Ok(RtcpPacket::ReceiverReport(ReceiverReport {
                ssrc: be32(body, 0),
                blocks: &body[4..4 + blocks_len],
            }))
        }
        PT_SDES => {
            let mut rest = body;
            for _ in 0..count {
                let (_, _, r) = split_chunk(rest).ok_or(RtcpError::Malformed)?;
                rest = r;
            }
            Ok(RtcpPacket::Sdes(Sdes { count, body }))
        }
        PT_BYE => {
            let n = usize::from(count) * 4;
            if body.len() < n {
                return Err(RtcpError::Malformed);
            }
            let reason = match body.get(n) {
                Some(&len) => {
                    let len = usize::from(len);
                    Some(body.get(n + 1..n + 1 + len).ok_or(RtcpError::Malformed)?)
                }
                None => None,
            };
            Ok(RtcpPacket::Bye(Bye {
                ssrcs: &body[..n],
                reason,
            }))
        }
        _ => Ok(RtcpPacket::Other {
            packet_type: pt,
            count,
            body,
        }),
    }
}

/// Iterator over the packets of a compound RTCP datagram. It yields an error once and then stops.
#[derive(Debug, Clone)]
pub struct RtcpIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for RtcpIter<'a> {
    type Item = Result<RtcpPacket<'a>, RtcpError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let r = self.next_packet();
        if r.is_err() {
            self.rest = &[];
        }
        Some(r)
    }
}

impl<'a> RtcpIter<'a> {
    fn next_packet(&mut self) -> Result<RtcpPacket<'a>, RtcpError> {
        let b = self.rest;
        if b.len() < 4 {
            return Err(RtcpError::TooShort);
        }
        let version = b[0] >> 6;
        if version != 2 {
            return Err(RtcpError::BadVersion(version));
        }
        let len = (usize::from(u16::from_be_bytes([b[2], b[3]])) + 1) * 4;
        if len > b.len() {
            return Err(RtcpError::BadLength);
        }
        let (pkt, rest) = b.split_at(len);
        let mut body = &pkt[4..];
        if b[0] & 0x20 != 0 {
            let pad = usize::from(*pkt.last().ok_or(RtcpError::BadPadding)?);
            if pad == 0 || pad > body.len() {
                return Err(RtcpError::BadPadding);
            }
            body = &body[..body.len() - pad];
        }
        self.rest = rest;
        parse_one(b[1], b[0] & 0x1f, body)
    }
}

/// Iterates over the packets of a compound RTCP datagram. Never panics.
pub fn parse_compound(buf: &[u8]) -> RtcpIter<'_> {
    RtcpIter { rest: buf }
}

/// RFC 3550 A.2 validity check of a compound packet: every packet well formed, the first an SR
/// or RR, and only the last padded. Use it to drop garbage before acting on any of it.
pub fn validate_compound(buf: &[u8]) -> Result<(), RtcpError> {
    if buf.len() < 4 || (buf[1] != PT_SR && buf[1] != PT_RR) {
        return Err(RtcpError::NotCompound);
    }
    let mut rest = buf;
    while rest.len() >= 4 {
        let len = (usize::from(u16::from_be_bytes([rest[2], rest[3]])) + 1) * 4;
        if rest[0] & 0x20 != 0 && len != rest.len() {
            return Err(RtcpError::NotCompound);
        }
        rest = rest.get(len..).unwrap_or_default();
    }
    parse_compound(buf).try_for_each(|p| p.map(|_| ()))
}

/// True if `buf` looks like RTCP rather than RTP when both share a port (RFC 5761 §4: PT 192–223
/// in the second octet).
pub fn is_rtcp(buf: &[u8]) -> bool {
    buf.len() >= 4 && buf[0] >> 6 == 2 && (192..=223).contains(&buf[1])
}

fn header(out: &mut Vec<u8>, count: usize, pt: u8, body_len: usize) -> Result<(), RtcpError> {
    let words = (4 + body_len) / 4 - 1;
    if count > 31 {
        return Err(RtcpError::TooMany);
    }
    let words = u16::try_from(words).map_err(|_| RtcpError::TooMany)?;
    // count <= 31 was checked above.
    out.push(0x80 | count as u8);
    out.push(pt);
    out.extend_from_slice(&words.to_be_bytes());
    Ok(())
}

/// Appends a sender report to `out` (at most 31 blocks).
pub fn write_sr(
    out: &mut Vec<u8>,
    ssrc: u32,
    info: &SenderInfo,
    blocks: &[ReportBlock],
) -> Result<(), RtcpError> {
    header(
        out,
        blocks.len(),
        PT_SR,
        24 + REPORT_BLOCK_LEN * blocks.len(),
    )?;
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.extend_from_slice(&info.ntp.to_be_bytes());
    out.extend_from_slice(&info.rtp_timestamp.to_be_bytes());
    out.extend_from_slice(&info.packet_count.to_be_bytes());
    out.extend_from_slice(&info.octet_count.to_be_bytes());
    for b in blocks {
        b.write(out);
    }
    Ok(())
}

/// Appends a receiver report to `out` (at most 31 blocks).
pub fn write_rr(out: &mut Vec<u8>, ssrc: u32, blocks: &[ReportBlock]) -> Result<(), RtcpError> {
    header(
        out,
        blocks.len(),
        PT_RR,
        4 + REPORT_BLOCK_LEN * blocks.len(),
    )?;
    out.extend_from_slice(&ssrc.to_be_bytes());
    for b in blocks {
        b.write(out);
    }
    Ok(())
}

/// Appends an SDES packet with one chunk carrying a CNAME.
pub fn write_sdes_cname(out: &mut Vec<u8>, ssrc: u32, cname: &[u8]) -> Result<(), RtcpError> {
    let cname_len = u8::try_from(cname.len()).map_err(|_| RtcpError::ItemTooLong)?;
    // ssrc + type + len + text + END, padded to 4.
    let chunk_len = (4 + 2 + cname.len() + 1).div_ceil(4) * 4;
    header(out, 1, PT_SDES, chunk_len)?;
    let start = out.len();
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.push(SDES_CNAME);
    out.push(cname_len);
    out.extend_from_slice(cname);
    out.resize(start + chunk_len, 0);
    Ok(())
}

/// Appends a BYE for `ssrcs` with an optional reason.
pub fn write_bye(out: &mut Vec<u8>, ssrcs: &[u32], reason: Option<&[u8]>) -> Result<(), RtcpError> {
    let reason_len = match reason {
        Some(r) => 1 + usize::from(u8::try_from(r.len()).map_err(|_| RtcpError::ItemTooLong)?),
        None => 0,
    };
    let body_len = (4 * ssrcs.len() + reason_len).div_ceil(4) * 4;
    header(out, ssrcs.len(), PT_BYE, body_len)?;
    let start = out.len();
    for s in ssrcs {
        out.extend_from_slice(&s.to_be_bytes());
    }
    if let Some(r) = reason {
        // Length checked above.
        out.push(r.len() as u8);
        out.extend_from_slice(r);
    }
    out.resize(start + body_len, 0);
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn block(ssrc: u32) -> ReportBlock {
        ReportBlock {
            ssrc,
            fraction_lost: 5,
            cumulative_lost: -3,
            highest_seq: 0x0001_0005,
            jitter: 77,
            lsr: 0x1234_5678,
            dlsr: 65536,
        }
    }

    #[test]
    fn compound_round_trip() {
        let mut out = Vec::new();
        let info = SenderInfo {
            ntp: 0x0102_0304_0506_0708,
            rtp_timestamp: 160,
            packet_count: 10,
            octet_count: 1600,
        };
        write_sr(&mut out, 0xaaaa, &info, &[block(1), block(2)]).unwrap();
        write_rr(&mut out, 0xbbbb, &[block(3)]).unwrap();
        write_sdes_cname(&mut out, 0xaaaa, b"user@host").unwrap();
        write_bye(&mut out, &[0xaaaa, 0xcccc], Some(b"done")).unwrap();
        assert_eq!(out.len() % 4, 0);
        let pkts: Vec<_> = parse_compound(&out).collect::<Result<_, _>>().unwrap();
        assert_eq!(pkts.len(), 4);
        match &pkts[0] {
            RtcpPacket::SenderReport(sr) => {
                assert_eq!(sr.ssrc, 0xaaaa);
                assert_eq!(sr.info, info);
                let b: Vec<_> = sr.blocks().collect();
                assert_eq!(b, vec![block(1), block(2)]);
            }
            p => panic!("{p:?}"),
        }
        match &pkts[1] {
            RtcpPacket::ReceiverReport(rr) => {
                assert_eq!(rr.ssrc, 0xbbbb);
                assert_eq!(rr.blocks().collect::<Vec<_>>(), vec![block(3)]);
            }
            p => panic!("{p:?}"),
        }
        match &pkts[2] {
            RtcpPacket::Sdes(s) => {
                let c: Vec<_> = s.chunks().collect();
                assert_eq!(c.len(), 1);
                assert_eq!(c[0].ssrc, 0xaaaa);
                assert_eq!(c[0].cname(), Some(&b"user@host"[..]));
            }
            p => panic!("{p:?}"),
        }
        match &pkts[3] {
            RtcpPacket::Bye(b) => {
                assert_eq!(b.ssrcs().collect::<Vec<_>>(), vec![0xaaaa, 0xcccc]);
                assert_eq!(b.reason, Some(&b"done"[..]));
            }
            p => panic!("{p:?}"),
        }
        assert!(is_rtcp(&out));
    }

    #[test]
    fn parses_real_rr_with_sdes() {
        // An RR with one block followed by SDES CNAME "ab" as sent by a softphone.
        let raw: [u8; 48] = [
            0x81, 0xc9, 0x00, 0x07, 0x11, 0x22, 0x33, 0x44, // RR, ssrc
            0x55, 0x66, 0x77, 0x88, 0x0a, 0xff, 0xff, 0xfe, // block ssrc, 10/256 lost, -2 cum
            0x00, 0x00, 0x12, 0x34, 0x00, 0x00, 0x00, 0x10, // ext seq, jitter 16
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // lsr, dlsr
            0x81, 0xca, 0x00, 0x03, 0x11, 0x22, 0x33, 0x44, // SDES, ssrc
            0x01, 0x02, b'a', b'b', 0x00, 0x00, 0x00, 0x00, // CNAME "ab", END + pad
        ];
        let pkts: Vec<_> = parse_compound(&raw).collect::<Result<_, _>>().unwrap();
        let RtcpPacket::ReceiverReport(rr) = &pkts[0] else {
            panic!()
        };
        let b = rr.blocks().next().unwrap();
        assert_eq!(
            (b.fraction_lost, b.cumulative_lost, b.highest_seq, b.jitter),
            (10, -2, 0x1234, 16)
        );
        let RtcpPacket::Sdes(s) = &pkts[1] else {
            panic!()
        };
        assert_eq!(s.chunks().next().unwrap().cname(), Some(&b"ab"[..]));
    }

    #[test]
    fn rejects_garbage() {
        let errs = |b: &[u8]| parse_compound(b).find_map(Result::err);
        assert_eq!(errs(&[0x80, 0xc8, 0]), Some(RtcpError::TooShort));
        assert_eq!(errs(&[0x40, 0xc8, 0, 0]), Some(RtcpError::BadVersion(1)));
        assert_eq!(
            errs(&[0x80, 0xc9, 0, 5, 0, 0, 0, 0]),
            Some(RtcpError::BadLength)
        );
        // SR claiming one block with no room for it.
        let mut sr = vec![0x81, 0xc8, 0x00, 0x06];
        sr.extend_from_slice(&[0; 24]);
        assert_eq!(errs(&sr), Some(RtcpError::Malformed));
        // SDES item running past the end.
        assert_eq!(
            errs(&[0x81, 0xca, 0, 2, 0, 0, 0, 1, 1, 9, b'a', b'b']),
            Some(RtcpError::Malformed)
        );
        // Padding bit with a zero pad count.
        assert_eq!(
            errs(&[0xa0, 0xc9, 0, 1, 0, 0, 0, 0]),
            Some(RtcpError::BadPadding)
        );
        // The iterator stops after an error.
        let mut it = parse_compound(&[0x40, 0xc8, 0, 0, 0x80, 0xc9, 0, 1, 0, 0, 0, 0]);
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
    }

    #[test]
    fn compound_validation() {
        let mut ok = Vec::new();
        write_rr(&mut ok, 1, &[block(2)]).unwrap();
        write_sdes_cname(&mut ok, 1, b"x").unwrap();
        assert_eq!(validate_compound(&ok), Ok(()));
        // Starts with SDES.
        let mut bad = Vec::new();
        write_sdes_cname(&mut bad, 1, b"x").unwrap();
        write_rr(&mut bad, 1, &[]).unwrap();
        assert_eq!(validate_compound(&bad), Err(RtcpError::NotCompound));
        // Padding on a packet that is not the last one.
        let mut padded = ok.clone();
        padded[0] |= 0x20;
        assert_eq!(validate_compound(&padded), Err(RtcpError::NotCompound));
        // Truncated second packet.
        assert_eq!(
            validate_compound(&ok[..ok.len() - 4]),
            Err(RtcpError::BadLength)
        );
        assert_eq!(validate_compound(&[]), Err(RtcpError::NotCompound));
    }

    #[test]
    fn builders_enforce_limits() {
        let mut out = Vec::new();
        assert_eq!(
            write_rr(&mut out, 1, &[block(1); 32]),
            Err(RtcpError::TooMany)
        );
        assert_eq!(
            write_sdes_cname(&mut out, 1, &[b'a'; 256]),
            Err(RtcpError::ItemTooLong)
        );
        write_rr(&mut out, 1, &[]).unwrap();
        assert_eq!(out, [0x80, 0xc9, 0, 1, 0, 0, 0, 1]);
    }

    #[test]
    fn cumulative_lost_clamps_to_24_bits() {
        let mut out = Vec::new();
        let b = ReportBlock {
            cumulative_lost: 10_000_000,
            ..block(1)
        };
        write_rr(&mut out, 1, &[b]).unwrap();
        let Some(Ok(RtcpPacket::ReceiverReport(rr))) = parse_compound(&out).next() else {
            panic!()
        };
        assert_eq!(rr.blocks().next().unwrap().cumulative_lost, 0x7f_ffff);
    }
}

/// Packet type: extended report (RFC 3611).
pub const PT_XR: u8 = 207;

/// The VoIP Metrics report block of RTCP XR (RFC 3611 §4.7), as far as pbxd uses it: what the
/// phone itself measured and estimated about the stream it receives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VoipMetrics {
    /// SSRC of the stream the metrics are about.
    pub ssrc: u32,
    /// Packets lost, fraction in 1/256.
    pub loss_rate: u8,
    /// Packets discarded (late, jitter buffer), fraction in 1/256.
    pub discard_rate: u8,
    /// Round-trip delay in ms (0: unknown).
    pub round_trip_delay_ms: u16,
    /// End-system delay in ms (0: unknown).
    pub end_system_delay_ms: u16,
    /// R factor (127: unavailable).
    pub r_factor: u8,
    /// MOS listening quality ×10 (127: unavailable).
    pub mos_lq: u8,
    /// MOS conversational quality ×10 (127: unavailable).
    pub mos_cq: u8,
}

impl VoipMetrics {
    /// MOS-CQ, else MOS-LQ, as a MOS (1.0–5.0); `None` when the phone gives neither.
    pub fn mos(&self) -> Option<f64> {
        [self.mos_cq, self.mos_lq]
            .into_iter()
            .find(|m| (10..=50).contains(m))
            .map(|m| f64::from(m) / 10.0)
    }
}

/// Block type of the VoIP Metrics block.
const XR_VOIP_METRICS: u8 = 7;

/// The VoIP Metrics blocks of an XR packet's body (after the 4-byte header: the sender's SSRC,
/// then report blocks). Malformed blocks end the scan; never panics.
pub fn xr_voip_metrics(body: &[u8]) -> Vec<VoipMetrics> {
    let mut out = Vec::new();
    if body.len() < 4 {
        return out;
    }
    let mut rest = &body[4..];
    while rest.len() >= 4 {
        let bt = rest[0];
        let words = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
        let len = (words + 1) * 4;
        if len > rest.len() {
            break;
        }
        let block = &rest[..len];
        if bt == XR_VOIP_METRICS && len >= 36 {
            out.push(VoipMetrics {
                ssrc: be32(block, 4),
                loss_rate: block[8],
                discard_rate: block[9],
                round_trip_delay_ms: u16::from_be_bytes([block[16], block[17]]),
                end_system_delay_ms: u16::from_be_bytes([block[18], block[19]]),
                r_factor: block[24],
                mos_lq: block[26],
                mos_cq: block[27],
            });
        }
        rest = &rest[len..];
    }
    out
}

#[cfg(test)]
mod xr_tests {
    use super::*;

    /// An XR body: sender SSRC, a block of another type, a VoIP Metrics block.
    fn body(mos_lq: u8, mos_cq: u8) -> Vec<u8> {
        let mut b = 0x1111_2222u32.to_be_bytes().to_vec();
        // Block type 4 (receiver reference time), 2 words.
        b.extend_from_slice(&[4, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2]);
        // VoIP Metrics: BT 7, length 8 words.
        let mut v = vec![7, 0, 0, 8];
        v.extend_from_slice(&0xAABB_CCDDu32.to_be_bytes());
        v.extend_from_slice(&[26, 3, 0, 0]); // loss 26/256, discard 3/256, burst/gap density
        v.extend_from_slice(&[0, 0, 0, 0]); // burst and gap duration
        v.extend_from_slice(&[0, 80, 0, 40]); // round trip 80 ms, end system 40 ms
        v.extend_from_slice(&[0, 0, 0, 0]); // signal, noise, RERL, Gmin
        v.extend_from_slice(&[72, 127, mos_lq, mos_cq]); // R, ext R, MOS-LQ, MOS-CQ
        v.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]); // RX config … JB abs max
        b.extend_from_slice(&v);
        b
    }

    #[test]
    fn voip_metrics_are_read_from_an_xr_body() {
        let m = xr_voip_metrics(&body(38, 36));
        assert_eq!(m.len(), 1);
        let m = m[0];
        assert_eq!(m.ssrc, 0xAABB_CCDD);
        assert_eq!((m.loss_rate, m.discard_rate), (26, 3));
        assert_eq!((m.round_trip_delay_ms, m.end_system_delay_ms), (80, 40));
        assert_eq!(m.r_factor, 72);
        assert_eq!(m.mos(), Some(3.6), "MOS-CQ first");
        assert_eq!(
            xr_voip_metrics(&body(38, 127))[0].mos(),
            Some(3.8),
            "else MOS-LQ"
        );
        assert_eq!(xr_voip_metrics(&body(127, 127))[0].mos(), None);
    }

    #[test]
    fn truncated_and_garbage_bodies_give_nothing() {
        let b = body(38, 36);
        for n in 0..b.len() {
            let _ = xr_voip_metrics(&b[..n]);
        }
        assert!(xr_voip_metrics(&b[..b.len() - 1]).is_empty());
        assert!(xr_voip_metrics(&[0xff; 64]).is_empty());
    }
}
