//! RFC 4733 telephone-event payload (§2.3) and DTMF digit mapping (§3.2).

/// Length of one event payload.
pub const EVENT_LEN: usize = 4;

/// Why a telephone-event payload was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DtmfError {
    #[error("telephone-event payload shorter than 4 octets")]
    TooShort,
    #[error("volume {0} exceeds 63")]
    BadVolume(u8),
    #[error("output buffer too small")]
    BufferTooSmall,
}

/// One telephone event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TelephoneEvent {
    /// Event code (0–15 for DTMF).
    pub event: u8,
    /// E bit: the last packet(s) of the event.
    pub end: bool,
    /// Power level in −dBm0 (0–63).
    pub volume: u8,
    /// Duration in timestamp units.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Parses the first event of a payload. The R bit is ignored as the RFC requires; extra
    /// octets (redundant events, RFC 4733 §2.5.1.6) are left to the caller.
    pub fn parse(payload: &[u8]) -> Result<Self, DtmfError> {
        if payload.len() < EVENT_LEN {
            return Err(DtmfError::TooShort);
        }
        Ok(Self {
            event: payload[0],
            end: payload[1] & 0x80 != 0,
            volume: payload[1] & 0x3f,
            duration: u16::from_be_bytes([payload[2], payload[3]]),
        })
    }

    /// Writes the event into `out`, returning 4.
    pub fn write(&self, out: &mut [u8]) -> Result<usize, DtmfError> {
        if self.volume > 63 {
            return Err(DtmfError::BadVolume(self.volume));
        }
        let out = out.get_mut(..EVENT_LEN).ok_or(DtmfError::BufferTooSmall)?;
        out[0] = self.event;
        out[1] = if self.end { 0x80 } else { 0 } | self.volume;
        out[2..4].copy_from_slice(&self.duration.to_be_bytes());
        Ok(EVENT_LEN)
    }

    /// The DTMF digit this event stands for, if any.
    pub fn digit(&self) -> Option<char> {
        event_to_digit(self.event)
    }
}

/// DTMF digit (0–9, *, #, A–D, case-insensitive) → event code.
pub fn digit_to_event(digit: char) -> Option<u8> {
    match digit {
        '0'..='9' => Some(digit as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        'A'..='D' => Some(digit as u8 - b'A' + 12),
        'a'..='d' => Some(digit as u8 - b'a' + 12),
        _ => None,
    }
}

/// Event code → DTMF digit.
pub fn event_to_digit(event: u8) -> Option<char> {
    match event {
        0..=9 => Some(char::from(b'0' + event)),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + event - 12)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trip() {
        let e = TelephoneEvent {
            event: 11,
            end: true,
            volume: 10,
            duration: 1600,
        };
        let mut buf = [0u8; 4];
        assert_eq!(e.write(&mut buf), Ok(4));
        assert_eq!(buf, [11, 0x8a, 0x06, 0x40]);
        assert_eq!(TelephoneEvent::parse(&buf), Ok(e));
        assert_eq!(e.digit(), Some('#'));
    }

    #[test]
    fn reserved_bit_ignored_and_errors() {
        assert_eq!(
            TelephoneEvent::parse(&[5, 0x40 | 7, 0, 160]).unwrap(),
            TelephoneEvent {
                event: 5,
                end: false,
                volume: 7,
                duration: 160
            }
        );
        assert_eq!(TelephoneEvent::parse(&[1, 2, 3]), Err(DtmfError::TooShort));
        let bad = TelephoneEvent {
            volume: 64,
            ..Default::default()
        };
        assert_eq!(bad.write(&mut [0; 4]), Err(DtmfError::BadVolume(64)));
        assert_eq!(
            TelephoneEvent::default().write(&mut [0; 3]),
            Err(DtmfError::BufferTooSmall)
        );
    }

    #[test]
    fn digit_mapping() {
        let digits = "0123456789*#ABCD";
        for (code, d) in digits.chars().enumerate() {
            assert_eq!(digit_to_event(d), Some(code as u8));
            assert_eq!(event_to_digit(code as u8), Some(d));
        }
        assert_eq!(digit_to_event('b'), Some(13));
        assert_eq!(digit_to_event('E'), None);
        assert_eq!(event_to_digit(16), None);
    }
}
