//! DTMF input for a keuzemenu (IVR): [`DtmfReceiver`] turns RFC 4733 telephone-event packets into
//! digits, [`parse_info`] reads the digit of a SIP INFO body, and [`MenuCollector`] collects a
//! choice with first-digit and inter-digit timeouts, in virtual time.
//!
//! **RFC 4733 receiving.** All packets of one event carry the same RTP timestamp (the event's
//! start, §2.5.1.2) and a growing duration; the last three carry the E bit. A digit is reported
//! once, on the first packet of an event seen — which is usually the start packet (marker bit),
//! but may be a later one or only the end packets when the start was lost. After that:
//! - repeated packets and the (usually three) end packets with that timestamp are ignored;
//! - a packet with a new timestamp is a new event, also when the previous event never ended
//!   (its end packets were lost) or the same key was pressed again;
//! - a different event code with the same timestamp (a non-conforming sender) is a new event;
//! - a packet with an older timestamp (serial-number comparison) is a late copy and ignored,
//!   unless it lies more than [`LATE_WINDOW`] back: then the sender restarted its stream with a
//!   new timestamp base and it is a new event ([`DtmfReceiver::reset`] does the same explicitly);
//! - a long event is split into segments with new timestamps (§2.5.2.3): a segment with the same
//!   event code, no marker, starting where the not-yet-ended previous segment's duration reached,
//!   continues the event and is not reported again;
//! - events outside 0–15 (flash, tones) are not digits and are ignored; the volume is passed on
//!   but not used to filter, since phones fill it in very differently.

use std::time::Duration;

use crate::dtmf::{digit_to_event, event_to_digit, TelephoneEvent};

/// Longest SIP INFO body looked at.
pub const MAX_INFO_BODY: usize = 1024;
/// Most digits a menu may ask for.
pub const MAX_MENU_DIGITS: usize = 32;

/// How far (in 8 kHz timestamp units, 10 s) a packet may lie before the current event and still
/// count as a late copy rather than a restarted stream.
pub const LATE_WINDOW: u32 = 80_000;

/// A digit received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digit {
    /// 0–9, *, #, A–D.
    pub digit: char,
    /// Power level in −dBm0 (RFC 4733), when known.
    pub volume: Option<u8>,
    /// Duration in milliseconds (SIP INFO), when given.
    pub duration_ms: Option<u32>,
}

/// Turns RFC 4733 telephone-event packets of one stream into digits.
#[derive(Debug, Clone, Default)]
pub struct DtmfReceiver {
    current: Option<Current>,
}

#[derive(Debug, Clone, Copy)]
struct Current {
    timestamp: u32,
    event: u8,
    ended: bool,
    /// Highest duration seen, in timestamp units.
    duration: u16,
}

impl DtmfReceiver {
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets the current event, e.g. when the stream's SSRC changed.
    pub fn reset(&mut self) {
        self.current = None;
    }

    /// Handles the payload of one telephone-event packet with its RTP timestamp and marker bit;
    /// returns the digit if this packet starts a new key press. Malformed payloads are ignored.
    pub fn handle_packet(&mut self, timestamp: u32, marker: bool, payload: &[u8]) -> Option<Digit> {
        let ev = TelephoneEvent::parse(payload).ok()?;
        if let Some(cur) = &mut self.current {
            if timestamp == cur.timestamp && ev.event == cur.event {
                cur.ended |= ev.end;
                cur.duration = cur.duration.max(ev.duration);
                return None;
            }
            // Older than the current event: a late or duplicated packet. Far older: the stream
            // was restarted with another timestamp base (new SSRC), so a new event.
            let back = cur.timestamp.wrapping_sub(timestamp);
            if (timestamp.wrapping_sub(cur.timestamp) as i32) < 0 && back <= LATE_WINDOW {
                return None;
            }
            // Continuation segment of a long event.
            let expected = cur.timestamp.wrapping_add(u32::from(cur.duration));
            if !marker
                && !cur.ended
                && ev.event == cur.event
                && timestamp != cur.timestamp
                && timestamp.wrapping_sub(expected).wrapping_add(160) <= 320
            {
                *cur = Current {
                    timestamp,
                    event: ev.event,
                    ended: ev.end,
                    duration: ev.duration,
                };
                return None;
            }
        }
        self.current = Some(Current {
            timestamp,
            event: ev.event,
            ended: ev.end,
            duration: ev.duration,
        });
        let digit = event_to_digit(ev.event)?;
        Some(Digit {
            digit,
            volume: Some(ev.volume),
            duration_ms: None,
        })
    }
}

/// The digit in a SIP INFO body of type `application/dtmf-relay` (`Signal=5`, `Duration=160`) or
/// `application/dtmf` (`5`); `None` for other types or bodies that carry no digit. Parameters of
/// the content type are ignored; names are case-insensitive. `Signal=10` and `11` (sent by some
/// phones) mean `*` and `#`.
pub fn parse_info(content_type: &str, body: &[u8]) -> Option<Digit> {
    if body.len() > MAX_INFO_BODY {
        return None;
    }
    let body = std::str::from_utf8(body).ok()?;
    let mime = content_type.split(';').next()?.trim();
    if mime.eq_ignore_ascii_case("application/dtmf-relay") {
        let mut digit = None;
        let mut duration_ms = None;
        for line in body.lines() {
            let Some((name, value)) = line.split_once('=') else {
                continue;
            };
            let (name, value) = (name.trim(), value.trim());
            if name.eq_ignore_ascii_case("signal") {
                digit = signal_digit(value);
            } else if name.eq_ignore_ascii_case("duration") {
                duration_ms = value.parse().ok();
            }
        }
        Some(Digit {
            digit: digit?,
            volume: None,
            duration_ms,
        })
    } else if mime.eq_ignore_ascii_case("application/dtmf") {
        Some(Digit {
            digit: signal_digit(body.trim())?,
            volume: None,
            duration_ms: None,
        })
    } else {
        None
    }
}

fn signal_digit(value: &str) -> Option<char> {
    match value {
        "10" => Some('*'),
        "11" => Some('#'),
        _ => {
            let mut chars = value.chars();
            let c = chars.next()?;
            if chars.next().is_some() {
                return None;
            }
            // Normalise through the event code: 'a' → 'A'.
            event_to_digit(digit_to_event(c)?)
        }
    }
}

/// What a menu collection came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MenuResult {
    /// A complete, valid entry (without the terminating `#`).
    Digits(String),
    /// No digit within the first-digit timeout.
    Timeout,
    /// An entry that is not one of the choices, or `#` alone.
    Invalid(String),
}

/// How a menu collects its choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuConfig {
    /// Most digits of an entry (1..=[`MAX_MENU_DIGITS`]); reaching it completes the entry.
    pub max_digits: usize,
    /// From [`MenuCollector::start`] (normally the end of the prompt) to the first digit.
    pub first_digit_timeout: Duration,
    /// Between digits; when it runs out the entry so far is complete.
    pub inter_digit_timeout: Duration,
    /// Ends an entry early (`#` by default); not part of the entry.
    pub terminator: Option<char>,
    /// The valid entries; empty means any entry is valid. With choices, an entry completes as
    /// soon as it is a choice that no longer choice starts with, and is invalid as soon as no
    /// choice starts with it.
    pub choices: Vec<String>,
}

impl Default for MenuConfig {
    fn default() -> Self {
        Self {
            max_digits: 1,
            first_digit_timeout: Duration::from_secs(5),
            inter_digit_timeout: Duration::from_secs(3),
            terminator: Some('#'),
            choices: Vec::new(),
        }
    }
}

/// Collects one menu entry; see [`MenuConfig`]. Digits may arrive before [`MenuCollector::start`]
/// (barge-in while the prompt plays); the first-digit timer only runs after it.
#[derive(Debug, Clone)]
pub struct MenuCollector {
    config: MenuConfig,
    digits: String,
    /// When the first-digit timer started (None: not started).
    started: Option<Duration>,
    last_digit: Option<Duration>,
    result: Option<MenuResult>,
    taken: bool,
}

impl MenuCollector {
    pub fn new(mut config: MenuConfig) -> Self {
        config.max_digits = config.max_digits.clamp(1, MAX_MENU_DIGITS);
        Self {
            config,
            digits: String::new(),
            started: None,
            last_digit: None,
            result: None,
            taken: false,
        }
    }

    /// Starts (or restarts) the first-digit timer, normally when the prompt has finished.
    pub fn start(&mut self, now: Duration) {
        self.started = Some(now);
    }

    /// Whether a digit has been received (the call logic stops the prompt on the first one).
    pub fn has_digits(&self) -> bool {
        !self.digits.is_empty()
    }

    /// Handles one received digit.
    pub fn handle_digit(&mut self, digit: char, now: Duration) {
        if self.result.is_some() {
            return;
        }
        if Some(digit) == self.config.terminator {
            self.finish();
            return;
        }
        self.digits.push(digit);
        self.last_digit = Some(now);
        if self.digits.len() >= self.config.max_digits {
            self.finish();
            return;
        }
        if !self.config.choices.is_empty() {
            let d = self.digits.as_str();
            let prefix_of_longer = self
                .config
                .choices
                .iter()
                .any(|c| c.len() > d.len() && c.starts_with(d));
            if !prefix_of_longer {
                // Either a complete choice or nothing can make it one.
                self.finish();
            }
        }
    }

    fn finish(&mut self) {
        let d = std::mem::take(&mut self.digits);
        let valid =
            !d.is_empty() && (self.config.choices.is_empty() || self.config.choices.contains(&d));
        self.result = Some(if valid {
            MenuResult::Digits(d)
        } else {
            MenuResult::Invalid(d)
        });
    }

    /// When [`MenuCollector::poll`] should next be called.
    pub fn poll_timeout(&self) -> Option<Duration> {
        if self.taken {
            return None;
        }
        if self.result.is_some() {
            return Some(self.last_digit.or(self.started).unwrap_or_default());
        }
        match self.last_digit {
            Some(t) => Some(t.saturating_add(self.config.inter_digit_timeout)),
            None => self
                .started
                .map(|t| t.saturating_add(self.config.first_digit_timeout)),
        }
    }

    /// The result, once there is one (returned once).
    pub fn poll(&mut self, now: Duration) -> Option<MenuResult> {
        if self.taken {
            return None;
        }
        if self.result.is_none() {
            match (self.last_digit, self.started) {
                (Some(t), _) if now >= t.saturating_add(self.config.inter_digit_timeout) => {
                    self.finish()
                }
                (None, Some(t)) if now >= t.saturating_add(self.config.first_digit_timeout) => {
                    self.result = Some(MenuResult::Timeout);
                }
                _ => {}
            }
        }
        let r = self.result.take();
        self.taken = r.is_some();
        r
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn ev(event: u8, end: bool, duration: u16) -> [u8; 4] {
        let mut b = [0u8; 4];
        TelephoneEvent {
            event,
            end,
            volume: 10,
            duration,
        }
        .write(&mut b)
        .unwrap();
        b
    }

    fn digits(r: &mut DtmfReceiver, pkts: &[(u32, bool, [u8; 4])]) -> String {
        pkts.iter()
            .filter_map(|(ts, m, p)| r.handle_packet(*ts, *m, p))
            .map(|d| d.digit)
            .collect()
    }

    #[test]
    fn one_press_with_three_end_packets_is_one_digit() {
        let mut r = DtmfReceiver::new();
        let d = r.handle_packet(1000, true, &ev(5, false, 160)).unwrap();
        assert_eq!(
            d,
            Digit {
                digit: '5',
                volume: Some(10),
                duration_ms: None
            }
        );
        let rest = [
            (1000, false, ev(5, false, 320)),
            (1000, false, ev(5, false, 480)),
            (1000, false, ev(5, true, 640)),
            (1000, false, ev(5, true, 640)),
            (1000, false, ev(5, true, 640)),
        ];
        assert_eq!(digits(&mut r, &rest), "");
    }

    #[test]
    fn repeated_key_new_digit_without_end_and_lost_start() {
        let mut r = DtmfReceiver::new();
        let pkts = [
            // "1" pressed twice: new timestamp each time.
            (0, true, ev(1, false, 160)),
            (0, false, ev(1, true, 800)),
            (0, false, ev(1, true, 800)),
            (4000, true, ev(1, false, 160)),
            (4000, false, ev(1, true, 800)),
            // "2" whose end packets were lost, directly followed by "3".
            (8000, true, ev(2, false, 160)),
            (8000, false, ev(2, false, 320)),
            (9000, true, ev(3, false, 160)),
            // A late end packet of "2": older timestamp, ignored.
            (8000, false, ev(2, true, 800)),
            // "4" of which only the end packets arrived.
            (12000, false, ev(4, true, 800)),
            (12000, false, ev(4, true, 800)),
            // Flash (16) is not a digit; '#' is.
            (16000, true, ev(16, false, 160)),
            (20000, true, ev(11, true, 400)),
        ];
        assert_eq!(digits(&mut r, &pkts), "11234#");
        // Malformed payloads are ignored.
        assert_eq!(r.handle_packet(30000, true, &[1, 2]), None);
    }

    #[test]
    fn long_event_segments_are_one_digit() {
        let mut r = DtmfReceiver::new();
        let pkts = [
            (0, true, ev(7, false, 65000)),
            (0, false, ev(7, false, 65535)),
            // Next segment starts where the previous reached (§2.5.2.3), no marker.
            (65535, false, ev(7, false, 160)),
            (65535, false, ev(7, true, 2000)),
            // After the end, the same key again is a new press.
            (80000, true, ev(7, false, 160)),
        ];
        assert_eq!(digits(&mut r, &pkts), "77");
    }

    #[test]
    fn restarted_stream_with_lower_timestamps() {
        let mut r = DtmfReceiver::new();
        let pkts = [
            (3_000_000, true, ev(1, true, 800)),
            // New SSRC after a re-INVITE: timestamps far below.
            (1000, true, ev(2, false, 160)),
            (1000, false, ev(2, true, 800)),
        ];
        assert_eq!(digits(&mut r, &pkts), "12");
        r.reset();
        assert_eq!(digits(&mut r, &[(1000, true, ev(2, false, 160))]), "2");
    }

    #[test]
    fn timestamp_wrap() {
        let mut r = DtmfReceiver::new();
        let pkts = [
            (u32::MAX - 100, true, ev(9, false, 160)),
            (u32::MAX - 100, false, ev(9, true, 800)),
            (500, true, ev(8, false, 160)),
            (u32::MAX - 100, false, ev(9, true, 800)),
        ];
        assert_eq!(digits(&mut r, &pkts), "98");
    }

    #[test]
    fn sip_info_bodies() {
        let d = parse_info("application/dtmf-relay", b"Signal=5\r\nDuration=160\r\n").unwrap();
        assert_eq!((d.digit, d.duration_ms), ('5', Some(160)));
        let d = parse_info(
            "Application/DTMF-Relay; charset=x",
            b"signal = #\nduration= 250",
        )
        .unwrap();
        assert_eq!((d.digit, d.duration_ms), ('#', Some(250)));
        assert_eq!(
            parse_info("application/dtmf-relay", b"Signal=10")
                .unwrap()
                .digit,
            '*'
        );
        assert_eq!(
            parse_info("application/dtmf-relay", b"Signal=d")
                .unwrap()
                .digit,
            'D'
        );
        assert_eq!(parse_info("application/dtmf", b"5\r\n").unwrap().digit, '5');
        assert_eq!(parse_info("application/dtmf", b" * ").unwrap().digit, '*');
        assert_eq!(parse_info("application/dtmf-relay", b"Duration=160"), None);
        assert_eq!(parse_info("application/dtmf-relay", b"Signal=55"), None);
        assert_eq!(parse_info("application/dtmf", b"x"), None);
        assert_eq!(parse_info("text/plain", b"5"), None);
        assert_eq!(parse_info("application/dtmf", &[0xff, 0xfe]), None);
        assert_eq!(parse_info("application/dtmf", &[b'5'; 2000]), None);
    }

    fn s(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn menu(max: usize, choices: &[&str]) -> MenuCollector {
        MenuCollector::new(MenuConfig {
            max_digits: max,
            first_digit_timeout: s(5000),
            inter_digit_timeout: s(2000),
            terminator: Some('#'),
            choices: choices.iter().map(|c| c.to_string()).collect(),
        })
    }

    #[test]
    fn first_digit_timeout_runs_only_after_start() {
        let mut m = menu(1, &[]);
        assert_eq!(m.poll_timeout(), None);
        assert_eq!(m.poll(s(100_000)), None);
        m.start(s(100_000));
        assert_eq!(m.poll_timeout(), Some(s(105_000)));
        assert_eq!(m.poll(s(104_999)), None);
        assert_eq!(m.poll(s(105_000)), Some(MenuResult::Timeout));
        assert_eq!(m.poll(s(200_000)), None);
        assert_eq!(m.poll_timeout(), None);
    }

    #[test]
    fn single_digit_menu_completes_at_once() {
        let mut m = menu(1, &["1", "2"]);
        m.start(s(0));
        m.handle_digit('2', s(1000));
        assert_eq!(m.poll(s(1000)), Some(MenuResult::Digits("2".into())));
        let mut m = menu(1, &["1", "2"]);
        m.start(s(0));
        m.handle_digit('7', s(1000));
        assert_eq!(m.poll(s(1000)), Some(MenuResult::Invalid("7".into())));
    }

    #[test]
    fn barge_in_before_start() {
        let mut m = menu(1, &[]);
        m.handle_digit('3', s(10));
        assert!(m.poll_timeout().is_some());
        assert_eq!(m.poll(s(10)), Some(MenuResult::Digits("3".into())));
    }

    #[test]
    fn multi_digit_with_inter_digit_timeout_and_hash() {
        let mut m = menu(4, &[]);
        m.start(s(0));
        m.handle_digit('1', s(4000));
        assert!(m.has_digits());
        assert_eq!(m.poll_timeout(), Some(s(6000)));
        m.handle_digit('2', s(5500));
        assert_eq!(m.poll(s(7499)), None);
        assert_eq!(m.poll(s(7500)), Some(MenuResult::Digits("12".into())));

        let mut m = menu(4, &[]);
        m.start(s(0));
        m.handle_digit('4', s(100));
        m.handle_digit('2', s(200));
        m.handle_digit('#', s(300));
        assert_eq!(m.poll(s(300)), Some(MenuResult::Digits("42".into())));

        let mut m = menu(3, &[]);
        m.start(s(0));
        for (i, d) in "9876".chars().enumerate() {
            m.handle_digit(d, s(100 * i as u64));
        }
        assert_eq!(m.poll(s(400)), Some(MenuResult::Digits("987".into())));

        let mut m = menu(4, &[]);
        m.start(s(0));
        m.handle_digit('#', s(300));
        assert_eq!(m.poll(s(300)), Some(MenuResult::Invalid(String::new())));
    }

    #[test]
    fn choices_of_different_lengths() {
        // "1" is a prefix of "12": after "1" wait for more, then take "1" on the timeout.
        let choices = ["1", "12", "3"];
        let mut m = menu(3, &choices);
        m.start(s(0));
        m.handle_digit('1', s(100));
        assert_eq!(m.poll(s(2099)), None);
        assert_eq!(m.poll(s(2100)), Some(MenuResult::Digits("1".into())));
        let mut m = menu(3, &choices);
        m.start(s(0));
        m.handle_digit('1', s(100));
        m.handle_digit('2', s(200));
        assert_eq!(m.poll(s(200)), Some(MenuResult::Digits("12".into())));
        let mut m = menu(3, &choices);
        m.start(s(0));
        m.handle_digit('1', s(100));
        m.handle_digit('5', s(200));
        assert_eq!(m.poll(s(200)), Some(MenuResult::Invalid("15".into())));
        let mut m = menu(3, &["10", "20"]);
        m.start(s(0));
        m.handle_digit('1', s(100));
        assert_eq!(m.poll(s(2100)), Some(MenuResult::Invalid("1".into())));
    }

    #[test]
    fn rtp_and_info_feed_one_menu() {
        let mut r = DtmfReceiver::new();
        let mut m = menu(2, &["12", "21"]);
        m.start(s(0));
        if let Some(d) = r.handle_packet(1000, true, &ev(1, false, 160)) {
            m.handle_digit(d.digit, s(500));
        }
        r.handle_packet(1000, false, &ev(1, true, 800));
        if let Some(d) = parse_info("application/dtmf-relay", b"Signal=2\r\nDuration=100") {
            m.handle_digit(d.digit, s(900));
        }
        assert_eq!(m.poll(s(900)), Some(MenuResult::Digits("12".into())));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_input_never_panics(
            pkts in prop::collection::vec((any::<u32>(), any::<bool>(), prop::collection::vec(any::<u8>(), 0..8)), 0..20),
            ct in "[ -~]{0,30}",
            body in prop::collection::vec(any::<u8>(), 0..64),
        ) {
            let mut r = DtmfReceiver::new();
            let mut m = menu(3, &["1", "22"]);
            m.start(Duration::ZERO);
            for (i, (ts, mk, p)) in pkts.iter().enumerate() {
                if let Some(d) = r.handle_packet(*ts, *mk, p) {
                    m.handle_digit(d.digit, s(i as u64));
                }
            }
            let _ = parse_info(&ct, &body);
            let _ = parse_info("application/dtmf-relay", &body);
            let _ = m.poll(s(u64::from(u32::MAX)));
        }
    }
}
