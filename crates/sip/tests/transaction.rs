//! RFC 3261 §17 / RFC 6026 transactions, two `TransactionLayer`s wired through an in-memory
//! network in virtual time. Every message crosses the "wire" as bytes and is parsed again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use pbx_sip::transaction::{
    Config, TransactionError, TransactionLayer, TransportKind, TuEvent, TxKey, TxKind, TxState,
};
use rsipstack::sip::prelude::{HasHeaders, HeadersExt};
use rsipstack::sip::{
    ContentLength, Header, Headers, Method, Request, Response, SipMessage, StatusCode, To, Version,
};

const MS: Duration = Duration::from_millis(1);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Uac,
    Uas,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Deliver,
    Drop,
    Duplicate,
}

#[derive(Debug, Clone)]
struct Wire {
    from: Side,
    at: Duration,
    bytes: Bytes,
}

impl Wire {
    fn start_line(&self) -> String {
        let text = String::from_utf8_lossy(&self.bytes);
        text.lines().next().unwrap_or("").to_string()
    }
    fn msg(&self) -> SipMessage {
        SipMessage::try_from(self.bytes.to_vec()).expect("the layer emits parsable SIP")
    }
    fn is_request(&self, method: &str) -> bool {
        self.start_line().starts_with(&format!("{method} "))
    }
    fn is_status(&self, code: u16) -> bool {
        self.start_line().starts_with(&format!("SIP/2.0 {code} "))
    }
}

type Filter = Box<dyn FnMut(&Wire) -> Fate>;

/// Two layers and a lossy, ordered, zero-latency network between them, in virtual time.
struct Net {
    t0: Instant,
    now: Instant,
    uac: TransactionLayer,
    uas: TransactionLayer,
    transport: TransportKind,
    /// Every transmission, delivered or not.
    sent: Vec<Wire>,
    queue: VecDeque<Wire>,
    /// When set, `run` does not deliver: the test reorders `queue` itself.
    hold: bool,
    filter: Filter,
    uac_events: Vec<(Duration, TuEvent)>,
    uas_events: Vec<(Duration, TuEvent)>,
}

fn uac_addr() -> SocketAddr {
    "10.0.0.1:5060".parse().unwrap()
}
fn uas_addr() -> SocketAddr {
    "10.0.0.2:5060".parse().unwrap()
}

impl Net {
    fn new(transport: TransportKind) -> Self {
        Self::with_configs(transport, Config::default(), Config::default())
    }

    fn with_configs(transport: TransportKind, uac: Config, uas: Config) -> Self {
        let t0 = Instant::now();
        Self {
            t0,
            now: t0,
            uac: TransactionLayer::new(uac),
            uas: TransactionLayer::new(uas),
            transport,
            sent: Vec::new(),
            queue: VecDeque::new(),
            hold: false,
            filter: Box::new(|_| Fate::Deliver),
            uac_events: Vec::new(),
            uas_events: Vec::new(),
        }
    }

    fn elapsed(&self) -> Duration {
        self.now - self.t0
    }

    fn collect(&mut self) {
        let at = self.elapsed();
        for (side, layer) in [(Side::Uac, &mut self.uac), (Side::Uas, &mut self.uas)] {
            while let Some(t) = layer.poll_transmit() {
                let expected = match side {
                    Side::Uac => uas_addr(),
                    Side::Uas => uac_addr(),
                };
                assert_eq!(t.dest, expected, "transmit to the peer");
                assert_eq!(t.transport, self.transport);
                let wire = Wire {
                    from: side,
                    at,
                    bytes: t.bytes,
                };
                self.sent.push(wire.clone());
                match (self.filter)(&wire) {
                    Fate::Deliver => self.queue.push_back(wire),
                    Fate::Drop => {}
                    Fate::Duplicate => {
                        self.queue.push_back(wire.clone());
                        self.queue.push_back(wire);
                    }
                }
            }
            while let Some(e) = layer.poll_event() {
                match side {
                    Side::Uac => self.uac_events.push((at, e)),
                    Side::Uas => self.uas_events.push((at, e)),
                }
            }
        }
    }

    fn deliver_one(&mut self) -> bool {
        let Some(wire) = self.queue.pop_front() else {
            return false;
        };
        let msg = wire.msg();
        match wire.from {
            Side::Uac => self
                .uas
                .handle_incoming(msg, uac_addr(), self.transport, self.now),
            Side::Uas => self
                .uac
                .handle_incoming(msg, uas_addr(), self.transport, self.now),
        }
        true
    }

    /// Deliver until nothing is in flight (unless held).
    fn run(&mut self) {
        loop {
            self.collect();
            if self.hold || !self.deliver_one() {
                break;
            }
        }
    }

    fn next_timeout(&self) -> Option<Instant> {
        match (self.uac.poll_timeout(), self.uas.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Fire timers in order up to and including `t0 + d`.
    fn advance_to(&mut self, d: Duration) {
        let end = self.t0 + d;
        assert!(end >= self.now, "time runs forward");
        self.run();
        while let Some(next) = self.next_timeout() {
            if next > end {
                break;
            }
            self.now = next.max(self.now);
            self.uac.handle_timeout(self.now);
            self.uas.handle_timeout(self.now);
            self.run();
        }
        self.now = end;
        self.run();
    }

    fn send_request(&mut self, req: Request) -> TxKey {
        let key = self
            .uac
            .send_request(req, uas_addr(), self.transport, self.now)
            .unwrap();
        self.run();
        key
    }

    fn respond(&mut self, key: TxKey, resp: Response) {
        self.uas.send_response(key, resp, self.now).unwrap();
        self.run();
    }

    /// The request and key of the n-th new server transaction at the UAS.
    fn uas_request(&self, n: usize) -> (TxKey, Request) {
        self.uas_events
            .iter()
            .filter_map(|(_, e)| match e {
                TuEvent::Request { key, request, .. } => Some((*key, request.clone())),
                _ => None,
            })
            .nth(n)
            .expect("the UAS got the request")
    }

    fn times(&self, from: Side, pred: impl Fn(&Wire) -> bool) -> Vec<Duration> {
        self.sent
            .iter()
            .filter(|w| w.from == from && pred(w))
            .map(|w| w.at)
            .collect()
    }

    fn uac_codes(&self) -> Vec<(Duration, u16)> {
        self.uac_events
            .iter()
            .filter_map(|(at, e)| match e {
                TuEvent::Response { response, .. } => Some((*at, response.status_code.code())),
                _ => None,
            })
            .collect()
    }
}

fn terminated_at(events: &[(Duration, TuEvent)], key: TxKey) -> Option<Duration> {
    events.iter().find_map(|(at, e)| match e {
        TuEvent::Terminated { key: k } if *k == key => Some(*at),
        _ => None,
    })
}

fn via_proto(t: TransportKind) -> &'static str {
    if t.is_reliable() {
        "TCP"
    } else {
        "UDP"
    }
}

fn request(method: &str, branch: &str, call_id: &str, t: TransportKind) -> Request {
    let text = format!(
        "{method} sip:bob@example.com SIP/2.0\r\n\
         Via: SIP/2.0/{proto} 10.0.0.1:5060;branch={branch}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@example.com>;tag=a1\r\n\
         To: <sip:bob@example.com>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 {method}\r\n\
         Content-Length: 0\r\n\r\n",
        proto = via_proto(t)
    );
    Request::try_from(text.as_str()).unwrap()
}

fn invite(branch: &str, t: TransportKind) -> Request {
    request("INVITE", branch, "call-1", t)
}

/// A response as a UAS TU would build it (§8.2.6).
fn response(req: &Request, code: u16, tag: Option<&str>) -> Response {
    let mut headers = Headers::default();
    for h in req.headers.iter() {
        match h {
            Header::Via(_) | Header::From(_) | Header::CallId(_) | Header::CSeq(_) => {
                headers.push(h.clone())
            }
            Header::To(to) => match tag {
                Some(tag) => headers.push(Header::To(To::new(format!("{};tag={tag}", to.value())))),
                None => headers.push(h.clone()),
            },
            _ => {}
        }
    }
    headers.push(Header::ContentLength(ContentLength::new("0")));
    Response {
        status_code: StatusCode::from(code),
        wire_reason: None,
        version: Version::V2,
        headers,
        body: Vec::new(),
    }
}

fn header<'a>(msg: &'a SipMessage, name: &str) -> Vec<&'a str> {
    msg.headers()
        .iter()
        .filter(|h| h.name().eq_ignore_ascii_case(name))
        .map(|h| h.value())
        .collect()
}

// ---- client INVITE -------------------------------------------------------------------------

#[test]
fn invite_timer_a_then_486_acked_by_client_and_confirmed_with_timer_i() {
    let mut net = Net::new(TransportKind::Udp);
    let mut dropped = 0;
    net.filter = Box::new(move |w| {
        if w.is_request("INVITE") && dropped < 2 {
            dropped += 1;
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    // A proxied-looking INVITE: two Vias and a Route; the ACK keeps only the top Via.
    let text = "INVITE sip:bob@example.com SIP/2.0\r\n\
        Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-inv1\r\n\
        Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK-upstream\r\n\
        Route: <sip:proxy.example.com;lr>\r\n\
        Max-Forwards: 70\r\n\
        From: <sip:alice@example.com>;tag=a1\r\n\
        To: <sip:bob@example.com>\r\n\
        Call-ID: call-1\r\n\
        CSeq: 7 INVITE\r\n\
        Content-Length: 0\r\n\r\n";
    let key = net.send_request(Request::try_from(text).unwrap());
    assert_eq!(net.uac.state(key), Some(TxState::Calling));
    assert_eq!(net.uac.kind(key), Some(TxKind::ClientInvite));

    net.advance_to(ms(1500));
    // Timer A: 500 ms, then doubled; the third copy (t = 1.5 s) gets through.
    assert_eq!(
        net.times(Side::Uac, |w| w.is_request("INVITE")),
        [ms(0), ms(500), ms(1500)]
    );
    let (skey, sreq) = net.uas_request(0);
    assert_eq!(net.uas.state(skey), Some(TxState::Proceeding));
    net.respond(skey, response(&sreq, 180, Some("b1")));
    assert_eq!(net.uac.state(key), Some(TxState::Proceeding));

    // Proceeding: no more retransmissions, no 100 Trying (the TU answered within 200 ms).
    net.advance_to(ms(2000));
    assert_eq!(net.times(Side::Uac, |w| w.is_request("INVITE")).len(), 3);
    assert!(net.times(Side::Uas, |w| w.is_status(100)).is_empty());

    net.respond(skey, response(&sreq, 486, Some("b1")));
    assert_eq!(net.uac_codes(), [(ms(1500), 180), (ms(2000), 486)]);
    assert_eq!(net.uac.state(key), Some(TxState::Completed));
    // The ACK came from the client transaction itself, and confirmed the server transaction.
    let acks: Vec<&Wire> = net.sent.iter().filter(|w| w.is_request("ACK")).collect();
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].at, ms(2000));
    let ack = acks[0].msg();
    let SipMessage::Request(ack_req) = &ack else {
        panic!("ACK is a request")
    };
    assert_eq!(ack_req.method, Method::Ack);
    assert_eq!(ack_req.uri.to_string(), "sip:bob@example.com");
    assert_eq!(
        header(&ack, "Via"),
        ["SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-inv1"]
    );
    assert_eq!(header(&ack, "Route"), ["<sip:proxy.example.com;lr>"]);
    assert_eq!(header(&ack, "CSeq"), ["7 ACK"]);
    assert_eq!(header(&ack, "Call-ID"), ["call-1"]);
    assert_eq!(header(&ack, "From"), ["<sip:alice@example.com>;tag=a1"]);
    assert_eq!(
        ack.to_header().unwrap().tag().unwrap().unwrap().value(),
        "b1"
    );
    assert_eq!(net.uas.state(skey), Some(TxState::Confirmed));
    // The ACK was absorbed, not passed to the TU.
    assert!(!net
        .uas_events
        .iter()
        .any(|(_, e)| matches!(e, TuEvent::Ack { .. })));

    // Timer I = T4 = 5 s after the ACK; Timer D = 32 s after the 486.
    net.advance_to(ms(7000) - MS);
    assert_eq!(net.uas.state(skey), Some(TxState::Confirmed));
    net.advance_to(ms(7000));
    assert_eq!(net.uas.state(skey), None);
    assert_eq!(terminated_at(&net.uas_events, skey), Some(ms(7000)));
    net.advance_to(ms(34_000) - MS);
    assert_eq!(net.uac.state(key), Some(TxState::Completed));
    net.advance_to(ms(34_000));
    assert_eq!(terminated_at(&net.uac_events, key), Some(ms(34_000)));
    assert!(net.uac.is_empty() && net.uas.is_empty());
    assert_eq!(net.next_timeout(), None);
}

#[test]
fn timer_b_gives_408_at_64_t1() {
    let mut net = Net::new(TransportKind::Udp);
    net.filter = Box::new(|_| Fate::Drop);
    let key = net.send_request(invite("z9hG4bK-b", TransportKind::Udp));
    net.advance_to(ms(32_000) - MS);
    assert_eq!(net.uac.state(key), Some(TxState::Calling));
    assert!(net.uac_events.is_empty());
    net.advance_to(ms(40_000));
    assert_eq!(
        net.times(Side::Uac, |w| w.is_request("INVITE")),
        [0, 500, 1500, 3500, 7500, 15_500, 31_500].map(ms)
    );
    let timeout = net.uac_events.iter().find_map(|(at, e)| match e {
        TuEvent::Timeout { key: k, response } if *k == key => Some((*at, response.clone())),
        _ => None,
    });
    let (at, resp) = timeout.expect("Timer B fired");
    assert_eq!(at, ms(32_000));
    assert_eq!(resp.status_code.code(), 408);
    assert_eq!(resp.call_id_header().unwrap().value(), "call-1");
    assert_eq!(terminated_at(&net.uac_events, key), Some(ms(32_000)));
    assert_eq!(net.uac.state(key), None);
}

#[test]
fn timer_f_non_invite_retransmits_capped_at_t2() {
    let mut net = Net::new(TransportKind::Udp);
    net.filter = Box::new(|_| Fate::Drop);
    let key = net.send_request(request("OPTIONS", "z9hG4bK-f", "c-f", TransportKind::Udp));
    assert_eq!(net.uac.kind(key), Some(TxKind::ClientNonInvite));
    assert_eq!(net.uac.state(key), Some(TxState::Trying));
    net.advance_to(ms(40_000));
    assert_eq!(
        net.times(Side::Uac, |w| w.is_request("OPTIONS")),
        [0, 500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500].map(ms)
    );
    assert!(matches!(
        net.uac_events.first(),
        Some((at, TuEvent::Timeout { response, .. }))
            if *at == ms(32_000) && response.status_code.code() == 408
    ));
    assert_eq!(terminated_at(&net.uac_events, key), Some(ms(32_000)));
}

#[test]
fn non_invite_proceeding_retransmits_every_t2() {
    let mut net = Net::new(TransportKind::Udp);
    // Only the first request and the 100 get through; later requests and the UAS's
    // retransmitted provisional are lost.
    let mut requests = 0;
    net.filter = Box::new(move |w| {
        if w.from == Side::Uac {
            requests += 1;
            if requests == 1 {
                Fate::Deliver
            } else {
                Fate::Drop
            }
        } else {
            Fate::Deliver
        }
    });
    let key = net.send_request(request("REGISTER", "z9hG4bK-p", "c-p", TransportKind::Udp));
    let (skey, sreq) = net.uas_request(0);
    net.advance_to(ms(100));
    net.respond(skey, response(&sreq, 100, None));
    assert_eq!(net.uac.state(key), Some(TxState::Proceeding));
    assert_eq!(net.uas.state(skey), Some(TxState::Proceeding));
    net.advance_to(ms(12_000));
    // E was armed at 500 ms in Trying; from Proceeding on it is T2.
    assert_eq!(
        net.times(Side::Uac, |w| w.is_request("REGISTER")),
        [0, 500, 4500, 8500].map(ms)
    );
}

// ---- server INVITE -------------------------------------------------------------------------

#[test]
fn timer_h_without_ack_retransmits_final_then_terminates() {
    let mut net = Net::new(TransportKind::Udp);
    net.filter = Box::new(|w| {
        if w.is_request("ACK") {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    let key = net.send_request(invite("z9hG4bK-h", TransportKind::Udp));
    let (skey, sreq) = net.uas_request(0);
    net.respond(skey, response(&sreq, 603, Some("b1")));
    assert_eq!(net.uas.state(skey), Some(TxState::Completed));
    net.advance_to(ms(32_000) - MS);
    assert_eq!(net.uas.state(skey), Some(TxState::Completed));
    net.advance_to(ms(40_000));
    // Timer G: T1, doubling, capped at T2.
    let finals = [
        0, 500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500,
    ];
    assert_eq!(net.times(Side::Uas, |w| w.is_status(603)), finals.map(ms));
    // The client ACKs every copy itself and reports the 603 only once.
    assert_eq!(
        net.times(Side::Uac, |w| w.is_request("ACK")),
        finals.map(ms)
    );
    assert_eq!(net.uac_codes(), [(ms(0), 603)]);
    assert_eq!(
        terminated_at(&net.uac_events, key),
        Some(ms(32_000)),
        "Timer D"
    );
    assert!(net.uas_events.iter().any(
        |(at, e)| *at == ms(32_000) && matches!(e, TuEvent::AckTimeout { key } if *key == skey)
    ));
    assert_eq!(terminated_at(&net.uas_events, skey), Some(ms(32_000)));
}

#[test]
fn trying_is_sent_after_200ms_unless_the_tu_answers() {
    let mut net = Net::new(TransportKind::Udp);
    let key = net.send_request(invite("z9hG4bK-t", TransportKind::Udp));
    let (skey, _) = net.uas_request(0);
    net.advance_to(ms(199));
    assert!(net.times(Side::Uas, |w| w.is_status(100)).is_empty());
    net.advance_to(ms(5000));
    assert_eq!(net.times(Side::Uas, |w| w.is_status(100)), [ms(200)]);
    let trying = net.sent.iter().find(|w| w.is_status(100)).unwrap().msg();
    assert_eq!(trying.to_header().unwrap().tag().unwrap(), None);
    assert_eq!(net.uac_codes(), [(ms(200), 100)]);
    // The 100 moved the client to Proceeding before Timer A at 500 ms.
    assert_eq!(net.times(Side::Uac, |w| w.is_request("INVITE")), [ms(0)]);
    assert_eq!(net.uac.state(key), Some(TxState::Proceeding));
    assert_eq!(net.uas.state(skey), Some(TxState::Proceeding));
    // Proceeding has no timers on either side: Timer A and B were stopped, not just ignored.
    assert_eq!(net.uac.poll_timeout(), None);
    assert_eq!(net.uas.poll_timeout(), None);

    // A TU that answers within 200 ms: no 100 from the layer.
    let mut net = Net::new(TransportKind::Udp);
    net.send_request(invite("z9hG4bK-t2", TransportKind::Udp));
    let (skey, sreq) = net.uas_request(0);
    net.advance_to(ms(150));
    net.respond(skey, response(&sreq, 180, Some("b2")));
    net.advance_to(ms(5000));
    assert!(net.times(Side::Uas, |w| w.is_status(100)).is_empty());
    assert_eq!(net.times(Side::Uas, |w| w.is_status(180)), [ms(150)]);
}

#[test]
fn request_retransmission_gets_the_same_response_again() {
    // INVITE: a retransmission in Proceeding gets the latest provisional, in Completed the final.
    let mut net = Net::new(TransportKind::Udp);
    let key = net.send_request(invite("z9hG4bK-r", TransportKind::Udp));
    let (skey, sreq) = net.uas_request(0);
    net.respond(skey, response(&sreq, 180, Some("b1")));
    let inv = net.sent[0].clone();
    net.queue.push_back(inv.clone());
    net.run();
    assert_eq!(net.times(Side::Uas, |w| w.is_status(180)).len(), 2);
    // The 486 is lost; the retransmitted INVITE gets it again.
    net.hold = true;
    net.respond(skey, response(&sreq, 486, Some("b1")));
    assert_eq!(net.uas.state(skey), Some(TxState::Completed));
    net.queue.clear();
    net.queue.push_back(inv.clone());
    net.deliver_one();
    net.collect();
    let finals: Vec<&Wire> = net.sent.iter().filter(|w| w.is_status(486)).collect();
    assert_eq!(finals.len(), 2);
    assert_eq!(finals[0].bytes, finals[1].bytes);
    assert_eq!(net.uas_events.len(), 1, "no second Request event");
    assert_eq!(net.uas.stats().request_retransmissions, 2);
    let _ = key;

    // Non-INVITE: the duplicated request after the 200 gets the identical 200.
    let mut net = Net::new(TransportKind::Udp);
    net.send_request(request("OPTIONS", "z9hG4bK-o", "c-o", TransportKind::Udp));
    let (skey, sreq) = net.uas_request(0);
    // Trying: a retransmission is absorbed (nothing sent yet).
    let opt = net.sent[0].clone();
    net.queue.push_back(opt.clone());
    net.run();
    assert_eq!(net.times(Side::Uas, |_| true).len(), 0);
    net.respond(skey, response(&sreq, 200, Some("b9")));
    net.queue.push_back(opt);
    net.run();
    let oks: Vec<&Wire> = net.sent.iter().filter(|w| w.is_status(200)).collect();
    assert_eq!(oks.len(), 2);
    assert_eq!(oks[0].bytes, oks[1].bytes);
    // The client absorbs the retransmitted 200 in Completed.
    assert_eq!(net.uac_codes().len(), 1);
}

#[test]
fn duplicated_network_delivers_everything_once_to_the_tu() {
    let mut net = Net::new(TransportKind::Udp);
    net.filter = Box::new(|_| Fate::Duplicate);
    let key = net.send_request(invite("z9hG4bK-dup", TransportKind::Udp));
    let (skey, sreq) = net.uas_request(0);
    assert_eq!(
        net.uas_events
            .iter()
            .filter(|(_, e)| matches!(e, TuEvent::Request { .. }))
            .count(),
        1
    );
    net.respond(skey, response(&sreq, 404, Some("b1")));
    assert_eq!(net.uac_codes(), [(ms(0), 404)]);
    assert_eq!(net.uas.state(skey), Some(TxState::Confirmed));
    assert_eq!(net.uac.state(key), Some(TxState::Completed));
    // Both copies of the ACK were absorbed by the Confirmed transaction.
    assert_eq!(net.times(Side::Uac, |w| w.is_request("ACK")).len(), 2);
    assert!(!net
        .uas_events
        .iter()
        .any(|(_, e)| matches!(e, TuEvent::Ack { .. })));
    net.advance_to(ms(60_000));
    assert!(net.uac.is_empty() && net.uas.is_empty());
}

#[test]
fn reordered_provisional_after_final_is_ignored() {
    let mut net = Net::new(TransportKind::Udp);
    let key = net.send_request(invite("z9hG4bK-ro", TransportKind::Udp));
    let (skey, sreq) = net.uas_request(0);
    net.hold = true;
    net.uas
        .send_response(skey, response(&sreq, 180, Some("b1")), net.now)
        .unwrap();
    net.uas
        .send_response(skey, response(&sreq, 480, Some("b1")), net.now)
        .unwrap();
    net.collect();
    assert_eq!(net.queue.len(), 2);
    net.queue.swap(0, 1);
    net.hold = false;
    net.run();
    assert_eq!(net.uac_codes(), [(ms(0), 480)]);
    assert_eq!(net.uac.state(key), Some(TxState::Completed));
    assert_eq!(net.uas.state(skey), Some(TxState::Confirmed));
}

// ---- timers D, I, J, K on UDP vs TCP -------------------------------------------------------

struct Ends {
    client_non_invite: Duration,
    server_non_invite: Duration,
    client_invite: Duration,
    server_invite: Duration,
    transmissions: usize,
}

fn run_to_the_end(t: TransportKind) -> Ends {
    let mut net = Net::new(t);
    net.advance_to(ms(1000));
    let c = net.send_request(request("OPTIONS", "z9hG4bK-k", "c-k", t));
    let (s, sreq) = net.uas_request(0);
    net.respond(s, response(&sreq, 200, Some("b1")));
    let ci = net.send_request(invite("z9hG4bK-d", t));
    let (si, ireq) = net.uas_request(1);
    net.respond(si, response(&ireq, 486, Some("b2")));
    net.advance_to(ms(100_000));
    Ends {
        client_non_invite: terminated_at(&net.uac_events, c).unwrap() - ms(1000),
        server_non_invite: terminated_at(&net.uas_events, s).unwrap() - ms(1000),
        client_invite: terminated_at(&net.uac_events, ci).unwrap() - ms(1000),
        server_invite: terminated_at(&net.uas_events, si).unwrap() - ms(1000),
        transmissions: net.sent.len(),
    }
}

#[test]
fn timers_k_j_d_i_on_udp() {
    let e = run_to_the_end(TransportKind::Udp);
    assert_eq!(e.client_non_invite, ms(5000), "K = T4");
    assert_eq!(e.server_non_invite, ms(32_000), "J = 64·T1");
    assert_eq!(e.client_invite, ms(32_000), "D = 32 s");
    assert_eq!(e.server_invite, ms(5000), "I = T4");
    // OPTIONS, 200, INVITE, 486, ACK.
    assert_eq!(e.transmissions, 5);
}

#[test]
fn timers_k_j_d_i_are_zero_on_tcp_and_nothing_is_retransmitted() {
    let e = run_to_the_end(TransportKind::Tcp);
    assert_eq!(e.client_non_invite, Duration::ZERO);
    assert_eq!(e.server_non_invite, Duration::ZERO);
    assert_eq!(e.client_invite, Duration::ZERO);
    assert_eq!(e.server_invite, Duration::ZERO);
    assert_eq!(e.transmissions, 5);

    // No Timer A/E over TCP: a lost request is not retransmitted, Timer B/F still fire.
    let mut net = Net::new(TransportKind::Tcp);
    net.filter = Box::new(|_| Fate::Drop);
    let a = net.send_request(invite("z9hG4bK-ta", TransportKind::Tcp));
    let b = net.send_request(request("BYE", "z9hG4bK-tb", "c-t", TransportKind::Tcp));
    assert_eq!(net.next_timeout(), Some(net.t0 + ms(32_000)));
    net.advance_to(ms(40_000));
    assert_eq!(net.sent.len(), 2);
    assert_eq!(terminated_at(&net.uac_events, a), Some(ms(32_000)));
    assert_eq!(terminated_at(&net.uac_events, b), Some(ms(32_000)));

    // No Timer G over TCP: without an ACK, the 486 is sent once and H fires at 64·T1.
    let mut net = Net::new(TransportKind::Tcp);
    net.filter = Box::new(|w| {
        if w.is_request("ACK") {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    net.send_request(invite("z9hG4bK-tg", TransportKind::Tcp));
    let (s, sreq) = net.uas_request(0);
    net.respond(s, response(&sreq, 486, Some("b")));
    net.advance_to(ms(40_000));
    assert_eq!(net.times(Side::Uas, |w| w.is_status(486)), [ms(0)]);
    assert_eq!(terminated_at(&net.uas_events, s), Some(ms(32_000)));
}

// ---- 2xx: RFC 6026 Accepted ----------------------------------------------------------------

#[test]
fn invite_2xx_accepted_with_timers_m_and_l() {
    let mut net = Net::new(TransportKind::Udp);
    let key = net.send_request(invite("z9hG4bK-ok", TransportKind::Udp));
    let (skey, sreq) = net.uas_request(0);
    let ok = response(&sreq, 200, Some("b1"));
    net.respond(skey, ok.clone());
    assert_eq!(net.uas.state(skey), Some(TxState::Accepted));
    assert_eq!(net.uac.state(key), Some(TxState::Accepted));
    // The layer does not ACK a 2xx.
    assert!(net.times(Side::Uac, |w| w.is_request("ACK")).is_empty());

    // The UAS TU retransmits the 2xx (RFC 6026); every copy reaches the UAC TU.
    net.advance_to(ms(500));
    net.respond(skey, ok.clone());
    net.advance_to(ms(1500));
    net.respond(skey, ok);
    assert_eq!(
        net.uac_codes(),
        [(ms(0), 200), (ms(500), 200), (ms(1500), 200)]
    );
    // A non-2xx is refused in Accepted.
    assert_eq!(
        net.uas
            .send_response(skey, response(&sreq, 500, Some("b1")), net.now),
        Err(TransactionError::InvalidState(TxState::Accepted))
    );
    // A retransmitted INVITE is absorbed in Accepted: the TU does the 2xx retransmissions.
    let before = net.sent.len();
    net.queue.push_back(net.sent[0].clone());
    net.run();
    assert_eq!(net.sent.len(), before);

    // The dialog layer's ACK (new branch, outside any transaction) is passed up at the UAS.
    let mut ack = request("ACK", "z9hG4bK-ack2xx", "call-1", TransportKind::Udp);
    ack.headers.retain(|h| !matches!(h, Header::To(_)));
    ack.headers
        .push(Header::To(To::new("<sip:bob@example.com>;tag=b1")));
    net.uac
        .send_stateless(&SipMessage::Request(ack), uas_addr(), TransportKind::Udp);
    net.run();
    assert!(net.uas_events.iter().any(|(at, e)| *at == ms(1500)
        && matches!(e, TuEvent::Ack { key: None, request, .. } if request.method == Method::Ack)));

    // Timer L and Timer M: 64·T1 after the first 2xx.
    net.advance_to(ms(32_000) - MS);
    assert_eq!(net.uas.state(skey), Some(TxState::Accepted));
    assert_eq!(net.uac.state(key), Some(TxState::Accepted));
    net.advance_to(ms(32_000));
    assert_eq!(terminated_at(&net.uas_events, skey), Some(ms(32_000)));
    assert_eq!(terminated_at(&net.uac_events, key), Some(ms(32_000)));
    // After Timer M a late 2xx is a stray.
    net.uac.handle_incoming(
        SipMessage::Response(response(&sreq, 200, Some("b1"))),
        uas_addr(),
        TransportKind::Udp,
        net.now,
    );
    assert_eq!(net.uac.stats().stray_responses, 1);
    assert!(net.uac.poll_event().is_none());
}

#[test]
fn ack_matching_an_accepted_server_transaction_goes_to_the_tu() {
    let mut net = Net::new(TransportKind::Udp);
    net.send_request(invite("z9hG4bK-same", TransportKind::Udp));
    let (skey, sreq) = net.uas_request(0);
    net.respond(skey, response(&sreq, 200, Some("b1")));
    // An ACK reusing the INVITE's branch (seen from broken UAs): matched, passed up with the key.
    let mut ack = request("ACK", "z9hG4bK-same", "call-1", TransportKind::Udp);
    ack.headers.retain(|h| !matches!(h, Header::To(_)));
    ack.headers
        .push(Header::To(To::new("<sip:bob@example.com>;tag=b1")));
    net.uas.handle_incoming(
        SipMessage::Request(ack),
        uac_addr(),
        TransportKind::Udp,
        net.now,
    );
    net.run();
    assert!(net
        .uas_events
        .iter()
        .any(|(_, e)| matches!(e, TuEvent::Ack { key: Some(k), .. } if *k == skey)));
}

// ---- CANCEL --------------------------------------------------------------------------------

fn cancel_for(invite: &Request) -> Request {
    let mut c = invite.clone();
    c.method = Method::Cancel;
    c.headers.retain(|h| !matches!(h, Header::CSeq(_)));
    c.headers
        .push(Header::CSeq(rsipstack::sip::CSeq::new("1 CANCEL")));
    c
}

#[test]
fn cancel_matches_its_invite_and_gets_200_with_the_same_to_tag() {
    let mut net = Net::new(TransportKind::Udp);
    let inv = invite("z9hG4bK-c", TransportKind::Udp);
    let ikey = net.send_request(inv.clone());
    let (skey, sreq) = net.uas_request(0);
    net.advance_to(ms(100));
    net.respond(skey, response(&sreq, 180, Some("b7")));
    net.advance_to(ms(1000));
    let ckey = net.send_request(cancel_for(&inv));
    assert_ne!(ckey, ikey);
    // The UAS answered the CANCEL itself and told its TU.
    let oks: Vec<&Wire> = net.sent.iter().filter(|w| w.is_status(200)).collect();
    assert_eq!(oks.len(), 1);
    let ok = oks[0].msg();
    assert_eq!(header(&ok, "CSeq"), ["1 CANCEL"]);
    assert_eq!(
        ok.to_header().unwrap().tag().unwrap().unwrap().value(),
        "b7"
    );
    assert!(net.uas_events.iter().any(|(at, e)| *at == ms(1000)
        && matches!(e, TuEvent::Cancelled { invite, .. } if *invite == skey)));
    assert!(!net.uas_events.iter().any(
        |(_, e)| matches!(e, TuEvent::Request { request, .. } if request.method == Method::Cancel)
    ));
    assert!(net
        .uac_events
        .iter()
        .any(|(_, e)| matches!(e, TuEvent::Response { key, response } if *key == ckey && response.status_code.code() == 200)));
    // The TU ends the INVITE with 487; the client ACKs it.
    net.respond(skey, response(&sreq, 487, Some("b7")));
    assert_eq!(net.uac.state(ikey), Some(TxState::Completed));
    assert_eq!(net.uas.state(skey), Some(TxState::Confirmed));
    // A retransmitted CANCEL gets the same 200 and no second Cancelled.
    let cancel_wire = net
        .sent
        .iter()
        .find(|w| w.is_request("CANCEL"))
        .unwrap()
        .clone();
    net.queue.push_back(cancel_wire);
    net.run();
    assert_eq!(net.times(Side::Uas, |w| w.is_status(200)).len(), 2);
    assert_eq!(
        net.uas_events
            .iter()
            .filter(|(_, e)| matches!(e, TuEvent::Cancelled { .. }))
            .count(),
        1
    );
    // The CANCEL's own transaction is internal: its end is not reported to the TU.
    net.advance_to(ms(60_000));
    assert!(net.uas.is_empty());
    let terminated: Vec<TxKey> = net
        .uas_events
        .iter()
        .filter_map(|(_, e)| match e {
            TuEvent::Terminated { key } => Some(*key),
            _ => None,
        })
        .collect();
    assert_eq!(terminated, [skey]);
}

#[test]
fn cancel_without_a_matching_invite_gets_481() {
    let mut net = Net::new(TransportKind::Udp);
    let ckey = net.send_request(cancel_for(&invite("z9hG4bK-nope", TransportKind::Udp)));
    assert!(net.uac_events.iter().any(|(_, e)| matches!(
        e,
        TuEvent::Response { key, response } if *key == ckey && response.status_code.code() == 481
    )));
    assert_eq!(net.uas.stats().unmatched_cancels, 1);
    assert!(net.uas_events.is_empty(), "the CANCEL never reaches the TU");

    // A CANCEL whose sent-by differs does not match the INVITE either (§17.2.3).
    let mut net = Net::new(TransportKind::Udp);
    let inv = invite("z9hG4bK-sb", TransportKind::Udp);
    net.send_request(inv.clone());
    let mut c = cancel_for(&inv);
    c.headers.retain(|h| !matches!(h, Header::Via(_)));
    c.headers.push_front(Header::Via(rsipstack::sip::Via::new(
        "SIP/2.0/UDP 10.9.9.9:5060;branch=z9hG4bK-sb",
    )));
    net.uas.handle_incoming(
        SipMessage::Request(c),
        uac_addr(),
        TransportKind::Udp,
        net.now,
    );
    net.collect();
    assert_eq!(net.uas.stats().unmatched_cancels, 1);
    assert!(net.sent.iter().any(|w| w.is_status(481)));
}

// ---- RFC 2543 fallback -----------------------------------------------------------------------

#[test]
fn rfc2543_requests_match_without_the_magic_cookie() {
    let mut net = Net::new(TransportKind::Udp);
    let inv = invite("old-style-1", TransportKind::Udp);
    // The UAC side refuses to originate such a request...
    assert_eq!(
        net.uac
            .send_request(inv.clone(), uas_addr(), TransportKind::Udp, net.now),
        Err(TransactionError::MissingBranch)
    );
    // ...but the server side matches it with the RFC 2543 rules.
    let deliver = |net: &mut Net, req: &Request| {
        net.uas.handle_incoming(
            SipMessage::Request(req.clone()),
            uac_addr(),
            TransportKind::Udp,
            net.now,
        );
        net.collect();
    };
    deliver(&mut net, &inv);
    let (skey, sreq) = net.uas_request(0);
    net.respond(skey, response(&sreq, 486, Some("b3")));
    deliver(&mut net, &inv);
    assert_eq!(net.times(Side::Uas, |w| w.is_status(486)).len(), 2);
    // An ACK with the wrong To tag does not match; the right one confirms.
    let ack = |tag: &str| {
        let mut a = request("ACK", "old-style-1", "call-1", TransportKind::Udp);
        a.headers.retain(|h| !matches!(h, Header::To(_)));
        a.headers.push(Header::To(To::new(format!(
            "<sip:bob@example.com>;tag={tag}"
        ))));
        a
    };
    deliver(&mut net, &ack("other"));
    assert_eq!(net.uas.state(skey), Some(TxState::Completed));
    deliver(&mut net, &ack("b3"));
    assert_eq!(net.uas.state(skey), Some(TxState::Confirmed));
    // A request differing in CSeq is a new transaction.
    let mut next = inv.clone();
    next.headers.retain(|h| !matches!(h, Header::CSeq(_)));
    next.headers
        .push(Header::CSeq(rsipstack::sip::CSeq::new("2 INVITE")));
    deliver(&mut net, &next);
    assert_eq!(net.uas.len(), 2);
}

// ---- limits and robustness -----------------------------------------------------------------

#[test]
fn over_the_transaction_limit_new_requests_get_503_with_retry_after() {
    let uas = Config {
        max_transactions: 2,
        retry_after_secs: 17,
        ..Config::default()
    };
    let mut net = Net::with_configs(TransportKind::Udp, Config::default(), uas);
    let k1 = net.send_request(invite("z9hG4bK-l1", TransportKind::Udp));
    let _k2 = net.send_request(request("OPTIONS", "z9hG4bK-l2", "c-2", TransportKind::Udp));
    let k3 = net.send_request(request("INVITE", "z9hG4bK-l3", "c-3", TransportKind::Udp));
    assert_eq!(net.uas.len(), 2);
    assert_eq!(net.uas.stats().overload_rejections, 1);
    let rejected: Vec<&Wire> = net.sent.iter().filter(|w| w.is_status(503)).collect();
    assert_eq!(rejected.len(), 1);
    let r = rejected[0].msg();
    assert_eq!(header(&r, "Retry-After"), ["17"]);
    assert_eq!(header(&r, "Call-ID"), ["c-3"]);
    assert!(r.to_header().unwrap().tag().unwrap().is_some());
    assert!(net.uac_events.iter().any(|(_, e)| matches!(
        e,
        TuEvent::Response { key, response } if *key == k3 && response.status_code.code() == 503
    )));
    // The UAC ACKed the 503 itself; the UAS absorbed that ACK instead of passing it up.
    assert_eq!(net.uac.state(k3), Some(TxState::Completed));
    assert_eq!(net.times(Side::Uac, |w| w.is_request("ACK")).len(), 1);
    assert!(!net
        .uas_events
        .iter()
        .any(|(_, e)| matches!(e, TuEvent::Ack { .. })));
    // Only two Request events reached the UAS TU.
    assert_eq!(
        net.uas_events
            .iter()
            .filter(|(_, e)| matches!(e, TuEvent::Request { .. }))
            .count(),
        2
    );
    // A retransmission of the refused request is refused again.
    let refused = net
        .sent
        .iter()
        .find(|w| w.is_request("INVITE") && w.msg().call_id_header().unwrap().value() == "c-3")
        .unwrap()
        .clone();
    net.queue.push_back(refused);
    net.run();
    assert_eq!(net.uas.stats().overload_rejections, 2);
    // Once a transaction ends there is room again.
    let (s1, req1) = net.uas_request(0);
    net.respond(s1, response(&req1, 404, Some("x")));
    net.advance_to(ms(6000));
    assert_eq!(net.uac.state(k1), Some(TxState::Completed));
    net.send_request(request("INVITE", "z9hG4bK-l4", "c-4", TransportKind::Udp));
    assert_eq!(
        net.uas_request(2).1.call_id_header().unwrap().value(),
        "c-4"
    );

    // The client side is bounded too.
    let mut small = TransactionLayer::new(Config {
        max_transactions: 1,
        ..Config::default()
    });
    let now = net.now;
    small
        .send_request(
            invite("z9hG4bK-s1", TransportKind::Udp),
            uas_addr(),
            TransportKind::Udp,
            now,
        )
        .unwrap();
    assert_eq!(
        small.send_request(
            invite("z9hG4bK-s2", TransportKind::Udp),
            uas_addr(),
            TransportKind::Udp,
            now
        ),
        Err(TransactionError::Overloaded)
    );
}

#[test]
fn stale_keys_and_transport_errors() {
    let mut net = Net::new(TransportKind::Tcp);
    let key = net.send_request(request("OPTIONS", "z9hG4bK-x", "c-x", TransportKind::Tcp));
    let (skey, sreq) = net.uas_request(0);
    net.respond(skey, response(&sreq, 200, Some("t")));
    net.advance_to(ms(1));
    assert_eq!(net.uas.state(skey), None);
    assert_eq!(
        net.uas
            .send_response(skey, response(&sreq, 200, Some("t")), net.now),
        Err(TransactionError::UnknownTransaction)
    );
    assert_eq!(
        net.uac
            .send_response(key, response(&sreq, 200, None), net.now),
        Err(TransactionError::UnknownTransaction)
    );
    net.uac.handle_transport_error(key, net.now);
    assert!(net.uac.poll_event().is_none());

    let ikey = net.send_request(invite("z9hG4bK-te", TransportKind::Tcp));
    assert_eq!(
        net.uac
            .send_response(ikey, response(&sreq, 200, None), net.now),
        Err(TransactionError::NotAServerTransaction)
    );
    assert_eq!(
        net.uac.send_request(
            invite("z9hG4bK-te", TransportKind::Tcp),
            uas_addr(),
            TransportKind::Tcp,
            net.now
        ),
        Err(TransactionError::Duplicate)
    );
    net.uac.handle_transport_error(ikey, net.now);
    assert_eq!(
        net.uac.poll_event(),
        Some(TuEvent::TransportError { key: ikey })
    );
    assert_eq!(
        net.uac.poll_event(),
        Some(TuEvent::Terminated { key: ikey })
    );
    assert_eq!(net.uac.state(ikey), None);
    assert_eq!(
        net.uac.send_request(
            request("ACK", "z9hG4bK-a", "c", TransportKind::Tcp),
            uas_addr(),
            TransportKind::Tcp,
            net.now
        ),
        Err(TransactionError::AckIsNotATransaction)
    );
}

#[test]
fn abort_ends_a_client_invite_stuck_in_proceeding() {
    let mut net = Net::new(TransportKind::Udp);
    let key = net.send_request(invite("z9hG4bK-ab", TransportKind::Udp));
    let (skey, sreq) = net.uas_request(0);
    net.respond(skey, response(&sreq, 183, Some("b")));
    net.advance_to(ms(100_000));
    // No timer in Proceeding: still alive until the TU gives up.
    assert_eq!(net.uac.state(key), Some(TxState::Proceeding));
    assert_eq!(net.uac.poll_timeout(), None);
    net.uac.abort(key);
    net.uas.abort(skey);
    net.run();
    assert_eq!(terminated_at(&net.uac_events, key), Some(ms(100_000)));
    assert_eq!(terminated_at(&net.uas_events, skey), Some(ms(100_000)));
    assert!(net.uac.is_empty() && net.uas.is_empty());
    net.uac.abort(key);
    assert!(net.uac.poll_event().is_none());
}

// ---- properties ----------------------------------------------------------------------------

mod properties {
    use super::*;
    use proptest::prelude::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    fn count_finals(net: &Net, key: TxKey) -> (usize, usize, Option<u16>) {
        let mut finals = 0;
        let mut timeouts = 0;
        let mut code = None;
        for (_, e) in &net.uac_events {
            match e {
                TuEvent::Response { key: k, response }
                    if *k == key && response.status_code.code() >= 200 =>
                {
                    finals += 1;
                    code = Some(response.status_code.code());
                }
                TuEvent::Timeout { key: k, .. } if *k == key => timeouts += 1,
                _ => {}
            }
        }
        (finals, timeouts, code)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever the first ten transmissions suffer (loss, duplication), an INVITE answered
        /// with a non-2xx ends with exactly one outcome at the UAC, at most one request at the
        /// UAS TU, and both layers empty with no timer left.
        #[test]
        fn lossy_invite_always_resolves(
            fates in proptest::collection::vec(0u8..3, 0..=10),
            delay in 0u64..1000,
            code in prop::sample::select(vec![404u16, 486, 487, 603]),
        ) {
            let mut net = Net::new(TransportKind::Udp);
            let fates = Rc::new(RefCell::new(fates.into_iter()));
            let f = Rc::clone(&fates);
            net.filter = Box::new(move |_| match f.borrow_mut().next() {
                Some(0) => Fate::Drop,
                Some(1) => Fate::Duplicate,
                _ => Fate::Deliver,
            });
            let key = net.send_request(invite("z9hG4bK-prop", TransportKind::Udp));
            let end = ms(100_000);
            let mut answered = None;
            loop {
                if answered.is_none() {
                    let got = net.uas_events.iter().find_map(|(at, e)| match e {
                        TuEvent::Request { key, request, .. } => Some((*at, *key, request.clone())),
                        _ => None,
                    });
                    if let Some((at, skey, req)) = got {
                        net.advance_to(at + ms(delay));
                        // The transaction may be gone already only if the TU was told.
                        let _ = net.uas.send_response(skey, response(&req, code, Some("p")), net.now);
                        net.run();
                        answered = Some(skey);
                        continue;
                    }
                }
                match net.next_timeout() {
                    Some(n) if n <= net.t0 + end => net.advance_to(n - net.t0),
                    _ => break,
                }
            }
            net.advance_to(end);
            prop_assert!(net.uac.is_empty() && net.uas.is_empty());
            prop_assert_eq!(net.next_timeout(), None);
            let (finals, timeouts, got) = count_finals(&net, key);
            prop_assert_eq!(finals + timeouts, 1);
            if finals == 1 {
                prop_assert_eq!(got, Some(code));
            }
            let requests = net.uas_events.iter().filter(|(_, e)| matches!(e, TuEvent::Request { .. })).count();
            prop_assert!(requests <= 1);
            if requests == 0 {
                prop_assert_eq!(timeouts, 1);
            }
            if let Some(skey) = answered {
                prop_assert_eq!(net.uas_events.iter().filter(|(_, e)| matches!(e, TuEvent::Terminated { key } if *key == skey)).count(), 1);
            }
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Request {
            method: usize,
            branch: usize,
            sent_by: usize,
            cseq_method: usize,
            to_tag: bool,
            transport: bool,
        },
        Response {
            code: u16,
            branch: usize,
            cseq_method: usize,
        },
        TuRespond {
            key: usize,
            code: u16,
        },
        Send {
            method: usize,
            branch: usize,
        },
        Advance {
            ms: u64,
        },
        TransportError {
            key: usize,
        },
        Abort {
            key: usize,
        },
    }

    const METHODS: [&str; 6] = ["INVITE", "ACK", "CANCEL", "OPTIONS", "BYE", "REGISTER"];
    const BRANCHES: [&str; 5] = ["z9hG4bK-1", "z9hG4bK-2", "old-1", "z9hG4bK", ""];
    const SENT_BY: [&str; 2] = ["10.0.0.1:5060", "10.0.0.9"];

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (
                0..6usize,
                0..5usize,
                0..2usize,
                0..6usize,
                any::<bool>(),
                any::<bool>()
            )
                .prop_map(
                    |(method, branch, sent_by, cseq_method, to_tag, transport)| Op::Request {
                        method,
                        branch,
                        sent_by,
                        cseq_method,
                        to_tag,
                        transport
                    }
                ),
            (0u16..1000, 0..5usize, 0..6usize).prop_map(|(code, branch, cseq_method)| {
                Op::Response {
                    code,
                    branch,
                    cseq_method,
                }
            }),
            (0..8usize, 0u16..800).prop_map(|(key, code)| Op::TuRespond { key, code }),
            (0..6usize, 0..5usize).prop_map(|(method, branch)| Op::Send { method, branch }),
            (0u64..40_000).prop_map(|ms| Op::Advance { ms }),
            (0..8usize).prop_map(|key| Op::TransportError { key }),
            (0..8usize).prop_map(|key| Op::Abort { key }),
        ]
    }

    fn text_request(
        m: &str,
        branch: &str,
        sent_by: &str,
        cseq_m: &str,
        to_tag: bool,
        proto: &str,
    ) -> String {
        let branch = if branch.is_empty() {
            String::new()
        } else {
            format!(";branch={branch}")
        };
        let tag = if to_tag { ";tag=t1" } else { "" };
        format!(
            "{m} sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/{proto} {sent_by}{branch}\r\n\
             From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>{tag}\r\n\
             Call-ID: chaos\r\nCSeq: 1 {cseq_m}\r\nContent-Length: 0\r\n\r\n"
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Arbitrary inputs in arbitrary order: no panic, the limit holds, everything transmitted
        /// parses, and in the end only transactions waiting for their TU are left.
        #[test]
        fn arbitrary_inputs_never_break_the_layer(ops in proptest::collection::vec(op(), 1..60)) {
            let t0 = Instant::now();
            let mut now = t0;
            let mut layer = TransactionLayer::new(Config { max_transactions: 4, ..Config::default() });
            let mut keys: Vec<TxKey> = Vec::new();
            let peer = uac_addr();
            for op in ops {
                match op {
                    Op::Request { method, branch, sent_by, cseq_method, to_tag, transport } => {
                        let text = text_request(METHODS[method], BRANCHES[branch], SENT_BY[sent_by],
                            METHODS[cseq_method], to_tag, if transport { "TCP" } else { "UDP" });
                        if let Ok(msg) = SipMessage::try_from(text.as_str()) {
                            let t = if transport { TransportKind::Tcp } else { TransportKind::Udp };
                            layer.handle_incoming(msg, peer, t, now);
                        }
                    }
                    Op::Response { code, branch, cseq_method } => {
                        let req = Request::try_from(text_request("OPTIONS", BRANCHES[branch], SENT_BY[0],
                            METHODS[cseq_method], false, "UDP").as_str());
                        if let Ok(req) = req {
                            layer.handle_incoming(SipMessage::Response(response(&req, code, Some("r"))), peer, TransportKind::Udp, now);
                        }
                    }
                    Op::TuRespond { key, code } => {
                        if let Some(&k) = keys.get(key) {
                            let req = request("INVITE", "z9hG4bK-1", "chaos", TransportKind::Udp);
                            let _ = layer.send_response(k, response(&req, code, Some("s")), now);
                        }
                    }
                    Op::Send { method, branch } => {
                        let req = Request::try_from(text_request(METHODS[method], BRANCHES[branch], SENT_BY[0],
                            METHODS[method], false, "UDP").as_str());
                        if let Ok(req) = req {
                            if let Ok(k) = layer.send_request(req, uas_addr(), TransportKind::Udp, now) {
                                keys.push(k);
                            }
                        }
                    }
                    Op::Advance { ms: d } => {
                        now += ms(d);
                        layer.handle_timeout(now);
                        // Every timer that was due has fired.
                        prop_assert!(layer.poll_timeout().is_none_or(|t| t > now));
                    }
                    Op::TransportError { key } => {
                        if let Some(&k) = keys.get(key) {
                            layer.handle_transport_error(k, now);
                        }
                    }
                    Op::Abort { key } => {
                        if let Some(&k) = keys.get(key) {
                            layer.abort(k);
                        }
                    }
                }
                prop_assert!(layer.len() <= 4);
                while let Some(t) = layer.poll_transmit() {
                    prop_assert!(SipMessage::try_from(t.bytes.to_vec()).is_ok());
                }
                while let Some(e) = layer.poll_event() {
                    if let TuEvent::Request { key, .. } = e {
                        keys.push(key);
                    }
                }
            }
            now += ms(200_000);
            layer.handle_timeout(now);
            for &k in &keys {
                if let (Some(kind), Some(state)) = (layer.kind(k), layer.state(k)) {
                    let waiting = matches!(
                        (kind, state),
                        (TxKind::ServerInvite, TxState::Proceeding)
                            | (TxKind::ServerNonInvite, TxState::Trying | TxState::Proceeding)
                            | (TxKind::ClientInvite, TxState::Proceeding)
                    );
                    prop_assert!(waiting, "{kind:?} left in {state:?}");
                }
            }
            // Transactions waiting for their TU keep no timer.
            prop_assert_eq!(layer.poll_timeout(), None);
        }
    }
}

#[test]
fn cancel_before_any_provisional_gets_200_with_a_generated_tag() {
    let mut net = Net::new(TransportKind::Udp);
    let inv = invite("z9hG4bK-early", TransportKind::Udp);
    let ikey = net.send_request(inv.clone());
    let (skey, _) = net.uas_request(0);
    net.advance_to(ms(50));
    let ckey = net.send_request(cancel_for(&inv));
    let ok = net
        .sent
        .iter()
        .find(|w| w.from == Side::Uas && w.is_status(200))
        .expect("200 to the CANCEL")
        .msg();
    assert_eq!(header(&ok, "CSeq"), ["1 CANCEL"]);
    let tag = ok.to_header().unwrap().tag().unwrap().expect("a To tag");
    assert!(!tag.value().is_empty());
    assert!(net.uas_events.iter().any(|(at, e)| *at == ms(50)
        && matches!(e, TuEvent::Cancelled { invite, .. } if *invite == skey)));
    assert_eq!(net.uac.state(ckey), Some(TxState::Completed));
    assert_eq!(net.uac.state(ikey), Some(TxState::Calling));
    assert_eq!(net.uas.stats().unmatched_cancels, 0);
}

#[test]
fn absurd_timer_values_do_not_panic() {
    let config = Config {
        timers: pbx_sip::transaction::TimerConfig {
            t1: Duration::MAX,
            t2: Duration::MAX,
            t4: Duration::MAX,
        },
        trying_delay: Some(Duration::MAX),
        ..Config::default()
    };
    let mut net = Net::with_configs(TransportKind::Udp, config.clone(), config);
    let key = net.send_request(invite("z9hG4bK-max", TransportKind::Udp));
    let (skey, sreq) = net.uas_request(0);
    net.respond(skey, response(&sreq, 486, Some("m")));
    net.advance_to(ms(1_000_000));
    // Timers beyond what `Instant` can hold never fire; nothing panicked.
    assert_eq!(net.uac.state(key), Some(TxState::Completed));
    assert_eq!(net.uas.state(skey), Some(TxState::Confirmed));
    assert_eq!(net.next_timeout(), None);
}
