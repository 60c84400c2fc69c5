//! RTP header (RFC 3550 §5.1), zero-copy.
//!
//! [`RtpPacket`] is a validated read-only view over a datagram, [`RtpPacketMut`] rewrites the fixed
//! header in place (payload type, marker, sequence number, timestamp, SSRC) for the relay path, and
//! [`RtpHeader`] writes a new packet into a caller-supplied buffer. Nothing here allocates.

/// Size of the fixed RTP header.
pub const FIXED_HEADER_LEN: usize = 12;

/// Why a datagram is not a valid RTP packet, or a packet does not fit a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtpError {
    #[error("packet shorter than its header")]
    TooShort,
    #[error("rtp version {0} is not 2")]
    BadVersion(u8),
    #[error("padding length does not fit the packet")]
    BadPadding,
    #[error("payload type {0} is out of range")]
    BadPayloadType(u8),
    #[error("too many csrcs")]
    TooManyCsrcs,
    #[error("header extension is not a multiple of 4 bytes or too long")]
    BadExtension,
    #[error("output buffer too small")]
    BufferTooSmall,
}

/// Offsets found while validating a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    header_len: usize,
    payload_end: usize,
}

fn layout(buf: &[u8]) -> Result<Layout, RtpError> {
    if buf.len() < FIXED_HEADER_LEN {
        return Err(RtpError::TooShort);
    }
    let version = buf[0] >> 6;
    if version != 2 {
        return Err(RtpError::BadVersion(version));
    }
    let cc = usize::from(buf[0] & 0x0f);
    let mut header_len = FIXED_HEADER_LEN + 4 * cc;
    if buf.len() < header_len {
        return Err(RtpError::TooShort);
    }
    if buf[0] & 0x10 != 0 {
        if buf.len() < header_len + 4 {
            return Err(RtpError::TooShort);
        }
        let words = usize::from(u16::from_be_bytes([
            buf[header_len + 2],
            buf[header_len + 3],
        ]));
        header_len += 4 + 4 * words;
        if buf.len() < header_len {
            return Err(RtpError::TooShort);
        }
    }
    let mut payload_end = buf.len();
    if buf[0] & 0x20 != 0 {
        let pad = usize::from(buf[buf.len() - 1]);
        if pad == 0 || pad > buf.len() - header_len {
            return Err(RtpError::BadPadding);
        }
        payload_end -= pad;
    }
    Ok(Layout {
        header_len,
        payload_end,
    })
}

macro_rules! getters {
    () => {
        /// Always 2 for a parsed packet.
        pub fn version(&self) -> u8 {
            self.buf[0] >> 6
        }
        /// P bit.
        pub fn has_padding(&self) -> bool {
            self.buf[0] & 0x20 != 0
        }
        /// X bit.
        pub fn has_extension(&self) -> bool {
            self.buf[0] & 0x10 != 0
        }
        /// CC field.
        pub fn csrc_count(&self) -> u8 {
            self.buf[0] & 0x0f
        }
        /// M bit.
        pub fn marker(&self) -> bool {
            self.buf[1] & 0x80 != 0
        }
        /// PT field (7 bits).
        pub fn payload_type(&self) -> u8 {
            self.buf[1] & 0x7f
        }
        /// Sequence number.
        pub fn sequence(&self) -> u16 {
            u16::from_be_bytes([self.buf[2], self.buf[3]])
        }
        /// RTP timestamp.
        pub fn timestamp(&self) -> u32 {
            u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]])
        }
        /// Synchronisation source.
        pub fn ssrc(&self) -> u32 {
            u32::from_be_bytes([self.buf[8], self.buf[9], self.buf[10], self.buf[11]])
        }
        /// The i-th contributing source, if present.
        pub fn csrc(&self, i: usize) -> Option<u32> {
            if i >= usize::from(self.csrc_count()) {
                return None;
            }
            let o = FIXED_HEADER_LEN + 4 * i;
            Some(u32::from_be_bytes([
                self.buf[o],
                self.buf[o + 1],
                self.buf[o + 2],
                self.buf[o + 3],
            ]))
        }
        /// Header extension as (profile-defined id, data), if the X bit is set.
        pub fn extension(&self) -> Option<(u16, &[u8])> {
            if !self.has_extension() {
                return None;
            }
            let o = FIXED_HEADER_LEN + 4 * usize::from(self.csrc_count());
            let id = u16::from_be_bytes([self.buf[o], self.buf[o + 1]]);
            Some((id, &self.buf[o + 4..self.layout.header_len]))
        }
        /// Length of the header including CSRCs and extension.
        pub fn header_len(&self) -> usize {
            self.layout.header_len
        }
        /// Payload without padding.
        pub fn payload(&self) -> &[u8] {
            &self.buf[self.layout.header_len..self.layout.payload_end]
        }
        /// Number of padding octets (0 without the P bit).
        pub fn padding_len(&self) -> usize {
            self.buf.len() - self.layout.payload_end
        }
    };
}

/// A validated, read-only RTP packet.
#[derive(Debug, Clone, Copy)]
pub struct RtpPacket<'a> {
    buf: &'a [u8],
    layout: Layout,
}

impl<'a> RtpPacket<'a> {
    /// Validates `buf` as one RTP packet. Never panics.
    pub fn parse(buf: &'a [u8]) -> Result<Self, RtpError> {
        let layout = layout(buf)?;
        Ok(Self { buf, layout })
    }

    /// The whole datagram.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    getters!();
}

/// A validated RTP packet whose fixed header can be rewritten in place.
#[derive(Debug)]
pub struct RtpPacketMut<'a> {
    buf: &'a mut [u8],
    layout: Layout,
}

impl<'a> RtpPacketMut<'a> {
    /// Validates `buf` as one RTP packet. Never panics.
    pub fn parse(buf: &'a mut [u8]) -> Result<Self, RtpError> {
        let layout = layout(buf)?;
        Ok(Self { buf, layout })
    }

    getters!();

    /// Sets the 7-bit payload type.
    pub fn set_payload_type(&mut self, pt: u8) -> Result<(), RtpError> {
        if pt > 127 {
            return Err(RtpError::BadPayloadType(pt));
        }
        self.buf[1] = (self.buf[1] & 0x80) | pt;
        Ok(())
    }
    /// Sets or clears the marker bit.
    pub fn set_marker(&mut self, marker: bool) {
        self.buf[1] = (self.buf[1] & 0x7f) | if marker { 0x80 } else { 0 };
    }
    /// Sets the sequence number.
    pub fn set_sequence(&mut self, seq: u16) {
        self.buf[2..4].copy_from_slice(&seq.to_be_bytes());
    }
    /// Sets the timestamp.
    pub fn set_timestamp(&mut self, ts: u32) {
        self.buf[4..8].copy_from_slice(&ts.to_be_bytes());
    }
    /// Sets the SSRC.
    pub fn set_ssrc(&mut self, ssrc: u32) {
        self.buf[8..12].copy_from_slice(&ssrc.to_be_bytes());
    }
    /// Payload for in-place transcoding of equal-size codecs (PCMU↔PCMA).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.layout.header_len..self.layout.payload_end]
    }
    /// Read-only view of the same packet.
    pub fn as_packet(&self) -> RtpPacket<'_> {
        RtpPacket {
            buf: self.buf,
            layout: self.layout,
        }
    }
}

/// Fields of an RTP header to write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RtpHeader<'a> {
    pub marker: bool,
    pub payload_type: u8,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    /// At most 15.
    pub csrcs: &'a [u32],
    /// (profile id, data); data length must be a multiple of 4.
    pub extension: Option<(u16, &'a [u8])>,
}

impl RtpHeader<'_> {
    /// Header length once written.
    pub fn len(&self) -> usize {
        FIXED_HEADER_LEN
            + 4 * self.csrcs.len()
            + self.extension.map_or(0, |(_, data)| 4 + data.len())
    }

    /// Always false: a header has at least 12 bytes.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Writes header, `payload` and `padding` octets of padding (0 = none) into `out`; returns the
    /// packet length.
    pub fn write(&self, payload: &[u8], padding: u8, out: &mut [u8]) -> Result<usize, RtpError> {
        if self.payload_type > 127 {
            return Err(RtpError::BadPayloadType(self.payload_type));
        }
        if self.csrcs.len() > 15 {
            return Err(RtpError::TooManyCsrcs);
        }
        if let Some((_, data)) = self.extension {
            if data.len() % 4 != 0 || data.len() / 4 > usize::from(u16::MAX) {
                return Err(RtpError::BadExtension);
            }
        }
        let header_len = self.len();
        let total = header_len + payload.len() + usize::from(padding);
        if out.len() < total {
            return Err(RtpError::BufferTooSmall);
        }
        // Both casts are in range: csrcs.len() <= 15 was checked above.
        out[0] = 0x80
            | if padding > 0 { 0x20 } else { 0 }
            | if self.extension.is_some() { 0x10 } else { 0 }
            | (self.csrcs.len() as u8);
        out[1] = self.payload_type | if self.marker { 0x80 } else { 0 };
        out[2..4].copy_from_slice(&self.sequence.to_be_bytes());
        out[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        out[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        let mut o = FIXED_HEADER_LEN;
        for c in self.csrcs {
            out[o..o + 4].copy_from_slice(&c.to_be_bytes());
            o += 4;
        }
        if let Some((id, data)) = self.extension {
            out[o..o + 2].copy_from_slice(&id.to_be_bytes());
            // In range: checked above.
            out[o + 2..o + 4].copy_from_slice(&((data.len() / 4) as u16).to_be_bytes());
            o += 4;
            out[o..o + data.len()].copy_from_slice(data);
            o += data.len();
        }
        out[o..o + payload.len()].copy_from_slice(payload);
        o += payload.len();
        if padding > 0 {
            let end = o + usize::from(padding);
            out[o..end - 1].fill(0);
            out[end - 1] = padding;
            o = end;
        }
        Ok(o)
    }
}

/// Clock rate of a static payload type (RFC 3551 table 4), for audio types.
pub fn static_clock_rate(pt: u8) -> Option<u32> {
    match pt {
        0 | 3 | 4 | 5 | 7 | 8 | 9 | 12 | 13 | 15 | 18 => Some(8000),
        6 => Some(16000),
        10 | 11 => Some(44100),
        14 => Some(90000),
        16 => Some(11025),
        17 => Some(22050),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trip_full_header() {
        let csrcs = [1, 2, 0xdead_beef];
        let ext = [9u8, 8, 7, 6, 5, 4, 3, 2];
        let h = RtpHeader {
            marker: true,
            payload_type: 111,
            sequence: 65535,
            timestamp: 0xffff_fff0,
            ssrc: 0x1234_5678,
            csrcs: &csrcs,
            extension: Some((0xbede, &ext)),
        };
        let mut buf = [0u8; 128];
        let n = h.write(b"hello", 3, &mut buf).unwrap();
        assert_eq!(n, 12 + 12 + 4 + 8 + 5 + 3);
        let p = RtpPacket::parse(&buf[..n]).unwrap();
        assert_eq!(p.version(), 2);
        assert!(p.marker() && p.has_padding() && p.has_extension());
        assert_eq!(p.payload_type(), 111);
        assert_eq!(p.sequence(), 65535);
        assert_eq!(p.timestamp(), 0xffff_fff0);
        assert_eq!(p.ssrc(), 0x1234_5678);
        assert_eq!(p.csrc_count(), 3);
        assert_eq!(p.csrc(2), Some(0xdead_beef));
        assert_eq!(p.csrc(3), None);
        assert_eq!(p.extension(), Some((0xbede, &ext[..])));
        assert_eq!(p.payload(), b"hello");
        assert_eq!(p.padding_len(), 3);
    }

    #[test]
    fn minimal_round_trip_and_rewrite() {
        let h = RtpHeader {
            payload_type: 0,
            sequence: 7,
            timestamp: 160,
            ssrc: 42,
            ..Default::default()
        };
        let mut buf = [0u8; 64];
        let n = h.write(&[0xff; 20], 0, &mut buf).unwrap();
        assert_eq!(n, 32);
        let mut p = RtpPacketMut::parse(&mut buf[..n]).unwrap();
        p.set_payload_type(8).unwrap();
        p.set_marker(true);
        p.set_sequence(1000);
        p.set_timestamp(99);
        p.set_ssrc(0xabcd);
        assert_eq!(p.set_payload_type(128), Err(RtpError::BadPayloadType(128)));
        p.payload_mut()[0] = 0xd5;
        let r = RtpPacket::parse(&buf[..n]).unwrap();
        assert_eq!(
            (
                r.payload_type(),
                r.marker(),
                r.sequence(),
                r.timestamp(),
                r.ssrc()
            ),
            (8, true, 1000, 99, 0xabcd)
        );
        assert_eq!(r.payload()[0], 0xd5);
        assert_eq!(r.payload().len(), 20);
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(
            RtpPacket::parse(&[0x80; 11]).unwrap_err(),
            RtpError::TooShort
        );
        assert_eq!(
            RtpPacket::parse(&[0x40; 12]).unwrap_err(),
            RtpError::BadVersion(1)
        );
        // CC = 2 but no room for CSRCs.
        let mut b = [0u8; 12];
        b[0] = 0x82;
        assert_eq!(RtpPacket::parse(&b).unwrap_err(), RtpError::TooShort);
        // Padding count zero, and padding longer than the payload.
        let mut b = [0u8; 14];
        b[0] = 0xa0;
        assert_eq!(RtpPacket::parse(&b).unwrap_err(), RtpError::BadPadding);
        b[13] = 3;
        assert_eq!(RtpPacket::parse(&b).unwrap_err(), RtpError::BadPadding);
        b[13] = 2;
        assert_eq!(RtpPacket::parse(&b).unwrap().payload().len(), 0);
        // Extension length beyond the packet.
        let mut b = [0u8; 16];
        b[0] = 0x90;
        b[15] = 1;
        assert_eq!(RtpPacket::parse(&b).unwrap_err(), RtpError::TooShort);
    }

    #[test]
    fn write_rejects_bad_input() {
        let mut small = [0u8; 12];
        let h = RtpHeader::default();
        assert_eq!(h.write(b"x", 0, &mut small), Err(RtpError::BufferTooSmall));
        let ext = [0u8; 3];
        let h = RtpHeader {
            extension: Some((1, &ext)),
            ..Default::default()
        };
        assert_eq!(h.write(b"", 0, &mut [0u8; 64]), Err(RtpError::BadExtension));
        let cs = [0u32; 16];
        let h = RtpHeader {
            csrcs: &cs,
            ..Default::default()
        };
        assert_eq!(
            h.write(b"", 0, &mut [0u8; 128]),
            Err(RtpError::TooManyCsrcs)
        );
    }

    #[test]
    fn static_rates() {
        assert_eq!(static_clock_rate(0), Some(8000));
        assert_eq!(static_clock_rate(9), Some(8000)); // G.722's famous RTP clock quirk
        assert_eq!(static_clock_rate(96), None);
    }
}
