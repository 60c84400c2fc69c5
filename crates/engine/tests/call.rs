//! The B2BUA call core in virtual time: forking, forwarding, limits, hold, timers and CDRs.

#![allow(clippy::unwrap_used)]

use pbx_engine::call::{
    best_response, sdp_holds, Action, CallError, CallEvent, CallRef, CallState, CalleeInfo, Calls,
    Clock, Config, ContactRef, Hunt, HuntKind, HuntStep, InviteIn, LegId, LegState, LimitScope,
    OfferMethod, Side, Target,
};
use pbx_model::{Afloop, Cdr, Forwarding, HangupBy, Party};
use std::time::{Duration, Instant};

/// The extension whose forwarding the tests follow.
const BY: &str = "1002";

const T0_MS: u64 = 1_700_000_000_000;

struct H {
    calls: Calls,
    now: Clock,
    start: Instant,
}

impl H {
    fn new() -> H {
        H::with(Config::default())
    }

    fn with(cfg: Config) -> H {
        let start = Instant::now();
        H {
            calls: Calls::new(cfg),
            now: Clock::new(start, T0_MS),
            start,
        }
    }

    /// Moves virtual time on and fires what is due.
    fn advance(&mut self, d: Duration) -> Vec<Action> {
        self.now = self.now.after(d);
        if self.calls.poll_timeout().is_some_and(|t| t <= self.now.at) {
            self.calls.handle_timeout(self.now);
        }
        self.drain()
    }

    fn secs(&mut self, s: u64) -> Vec<Action> {
        self.advance(Duration::from_secs(s))
    }

    fn drain(&mut self) -> Vec<Action> {
        let mut v = Vec::new();
        while let Some(a) = self.calls.poll_action() {
            v.push(a);
        }
        v
    }

    fn invite(&mut self, inv: InviteIn) -> Vec<Action> {
        self.calls.handle_invite(inv, self.now).unwrap();
        self.drain()
    }

    fn resp(&mut self, call: &str, n: u32, code: u16, sdp: Option<&str>) -> Vec<Action> {
        self.calls
            .handle_response(&leg(call, n), code, sdp.map(str::to_string), self.now);
        self.drain()
    }

    fn callee(&mut self, call: &str, info: Option<CalleeInfo>) -> Vec<Action> {
        self.calls
            .handle_callee(&CallRef::from(call), info, self.now)
            .unwrap();
        self.drain()
    }

    fn bye(&mut self, call: &str, from: Side) -> Vec<Action> {
        self.calls
            .handle_bye(&CallRef::from(call), from, self.now)
            .unwrap();
        self.drain()
    }

    fn activity(&mut self, call: &str) {
        self.calls
            .handle_media_activity(&CallRef::from(call), self.now)
            .unwrap();
    }

    fn ms(&self) -> u64 {
        self.now.unix_ms
    }

    /// Answers `call` on leg 1 of a single-contact callee.
    fn answered(&mut self, call: &str) -> Vec<Action> {
        let mut v = self.invite(invite(call, "1002", Some(ext("1002", &["c1"]))));
        v.extend(self.resp(call, 1, 180, None));
        v.extend(self.resp(call, 1, 200, Some("v=0 b")));
        v
    }
}

fn leg(call: &str, n: u32) -> LegId {
    LegId {
        call: CallRef::from(call),
        n,
    }
}

fn cr(call: &str) -> CallRef {
    CallRef::from(call)
}

fn ext(number: &str, contacts: &[&str]) -> CalleeInfo {
    CalleeInfo {
        number: number.into(),
        name: format!("Toestel {number}"),
        forwarding: Forwarding {
            no_answer_secs: 20,
            ..Forwarding::default()
        },
        contacts: contacts.iter().map(|c| ContactRef::from(*c)).collect(),
    }
}

fn fwd(mut e: CalleeInfo, f: impl FnOnce(&mut Forwarding)) -> CalleeInfo {
    f(&mut e.forwarding);
    e
}

fn invite(call: &str, number: &str, callee: Option<CalleeInfo>) -> InviteIn {
    invite_t(call, "acme", 20, number, callee)
}

fn invite_t(
    call: &str,
    tenant: &str,
    max: u32,
    number: &str,
    callee: Option<CalleeInfo>,
) -> InviteIn {
    InviteIn {
        call_ref: cr(call),
        call_id: format!("sip-{call}"),
        tenant: tenant.into(),
        tenant_max_calls: max,
        caller: Party {
            number: "1001".into(),
            name: "Anna".into(),
        },
        callee_number: number.into(),
        target: Target::Extension(callee),
        direction: pbx_model::Direction::Intern,
        emergency: false,
        max_call: None,
        offer_sdp: Some("v=0 a".into()),
        max_forwards: 70,
    }
}

fn cdr(v: &[Action]) -> &Cdr {
    let cdrs: Vec<&Cdr> = v
        .iter()
        .filter_map(|a| match a {
            Action::Cdr(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(cdrs.len(), 1, "one CDR in {v:#?}");
    cdrs[0]
}

/// The actions without events, CDRs and releases: what goes on the wire.
fn wire(v: &[Action]) -> Vec<Action> {
    v.iter()
        .filter(|a| {
            !matches!(
                a,
                Action::Event(_) | Action::Cdr(_) | Action::Released { .. }
            )
        })
        .cloned()
        .collect()
}

fn has_event(v: &[Action], f: impl Fn(&CallEvent) -> bool) -> bool {
    v.iter().any(|a| matches!(a, Action::Event(e) if f(e)))
}

/// CDR, then Ended (when admitted), then Released, as the last actions.
fn assert_ends(v: &[Action], call: &str) {
    let cdr_at = v.iter().position(|a| matches!(a, Action::Cdr(_)));
    let rel_at = v
        .iter()
        .position(|a| matches!(a, Action::Released { call: c } if c == &cr(call)));
    let (Some(c), Some(r)) = (cdr_at, rel_at) else {
        panic!("no CDR or Released in {v:#?}");
    };
    assert!(c < r, "CDR must come before Released: {v:#?}");
    assert_eq!(r, v.len() - 1, "Released is the last action");
}

#[test]
fn first_2xx_wins_others_are_cancelled_and_late_2xx_is_acked_and_byed() {
    let mut h = H::new();
    let v = h.invite(invite("c", "1002", Some(ext("1002", &["phone", "soft"]))));
    assert!(has_event(&v, |e| matches!(e, CallEvent::Started(_))));
    assert_eq!(
        wire(&v),
        vec![
            Action::SendInvite {
                leg: leg("c", 1),
                contact: ContactRef::from("phone"),
                sdp: Some("v=0 a".into()),
                max_forwards: 69,
            },
            Action::SendInvite {
                leg: leg("c", 2),
                contact: ContactRef::from("soft"),
                sdp: Some("v=0 a".into()),
                max_forwards: 69,
            },
        ]
    );
    assert!(h.resp("c", 1, 100, None).is_empty());
    let v = h.resp("c", 1, 180, None);
    assert_eq!(
        wire(&v),
        vec![Action::Provisional {
            call: cr("c"),
            code: 180,
            sdp: None
        }]
    );
    assert!(has_event(&v, |e| matches!(e, CallEvent::Ringing(_))));
    // Relayed once: a second 180 from the other fork is not.
    assert!(h.resp("c", 2, 180, None).is_empty());
    h.secs(4);
    let v = h.resp("c", 2, 200, Some("v=0 soft"));
    assert_eq!(
        wire(&v),
        vec![
            Action::AckB {
                leg: leg("c", 2),
                sdp: None
            },
            Action::Answer {
                call: cr("c"),
                sdp: Some("v=0 soft".into())
            },
            Action::Cancel { leg: leg("c", 1) },
        ]
    );
    assert!(has_event(&v, |e| matches!(e, CallEvent::Answered(_))));
    // The cancelled fork answered anyway: ACK and BYE it.
    assert_eq!(
        h.resp("c", 1, 200, Some("v=0 phone")),
        vec![Action::AckAndBye { leg: leg("c", 1) }]
    );
    // A retransmitted 2xx of the winner is ACKed again.
    assert_eq!(
        h.resp("c", 2, 200, Some("v=0 soft")),
        vec![Action::AckB {
            leg: leg("c", 2),
            sdp: None
        }]
    );
    let view = h.calls.get(&cr("c")).unwrap();
    assert_eq!(view.state, CallState::Answered);
    assert_eq!(view.legs[0].state, LegState::Ended);
    assert_eq!(view.legs[1].state, LegState::Answered);
}

#[test]
fn bye_from_a_and_from_b() {
    for (from, to, by) in [
        (Side::A, Side::B, HangupBy::Beller),
        (Side::B, Side::A, HangupBy::Gebelde),
    ] {
        let mut h = H::new();
        h.answered("c");
        h.secs(30);
        let v = h.bye("c", from);
        assert_eq!(wire(&v), vec![Action::Bye { call: cr("c"), to }]);
        let c = cdr(&v);
        assert_eq!(c.hangup_by, by);
        assert_eq!(c.afloop, Afloop::Beantwoord);
        assert_eq!(c.sip_code, 200);
        assert_eq!(c.billsec(), 30);
        assert!(has_event(
            &v,
            |e| matches!(e, CallEvent::Ended(v) if v.state == CallState::Ended)
        ));
        assert_ends(&v, "c");
        assert!(h.calls.is_empty());
        assert_eq!(
            h.calls.handle_bye(&cr("c"), from, h.now),
            Err(CallError::UnknownCall)
        );
    }
}

#[test]
fn cancel_while_ringing() {
    let mut h = H::new();
    h.invite(invite("c", "1002", Some(ext("1002", &["p1", "p2"]))));
    h.resp("c", 1, 180, None);
    h.secs(7);
    h.calls.handle_cancel(&cr("c"), h.now).unwrap();
    let v = h.drain();
    assert_eq!(
        wire(&v),
        vec![
            Action::Cancel { leg: leg("c", 1) },
            Action::Cancel { leg: leg("c", 2) },
            Action::Reject {
                call: cr("c"),
                code: 487
            },
        ]
    );
    let c = cdr(&v);
    assert_eq!(c.afloop, Afloop::Geannuleerd);
    assert_eq!(c.sip_code, 487);
    assert_eq!(c.hangup_by, HangupBy::Beller);
    assert_eq!(c.answer_ms, None);
    assert_eq!(c.end_ms - c.start_ms, 7_000);
    assert_ends(&v, "c");
    // The forks' 487s are absorbed; a 2xx that crossed the CANCEL is ACKed and BYEd.
    assert!(h.resp("c", 1, 487, None).is_empty());
    assert_eq!(
        h.resp("c", 2, 200, Some("x")),
        vec![Action::AckAndBye { leg: leg("c", 2) }]
    );
    assert_eq!(h.calls.poll_timeout(), None);
}

#[test]
fn all_forks_busy_gives_486() {
    let mut h = H::new();
    h.invite(invite("c", "1002", Some(ext("1002", &["p1", "p2"]))));
    assert!(h.resp("c", 1, 486, None).is_empty());
    let v = h.resp("c", 2, 600, None);
    // 6xx wins over 486 (RFC 3261 §16.7).
    assert_eq!(
        wire(&v),
        vec![Action::Reject {
            call: cr("c"),
            code: 600
        }]
    );
    let mut h = H::new();
    h.invite(invite("c", "1002", Some(ext("1002", &["p1", "p2"]))));
    h.resp("c", 1, 480, None);
    let v = h.resp("c", 2, 486, None);
    assert_eq!(
        wire(&v),
        vec![Action::Reject {
            call: cr("c"),
            code: 486
        }]
    );
    let c = cdr(&v);
    assert_eq!((c.afloop, c.sip_code), (Afloop::Bezet, 486));
    assert_eq!(c.hangup_by, HangupBy::Gebelde);
    assert_ends(&v, "c");
}

#[test]
fn busy_forward_looks_up_the_target_and_rings_it() {
    let mut h = H::new();
    let e = fwd(ext("1002", &["p1", "p2"]), |f| f.busy = Some("1003".into()));
    h.invite(invite("c", "1002", Some(e)));
    h.resp("c", 1, 486, None);
    let v = h.resp("c", 2, 486, None);
    assert_eq!(
        wire(&v),
        vec![Action::NeedTarget {
            call: cr("c"),
            number: "1003".into(),
            by: BY.into(),
        }]
    );
    assert_eq!(h.calls.get(&cr("c")).unwrap().state, CallState::Routing);
    let v = h.callee("c", Some(ext("1003", &["p3"])));
    assert_eq!(
        wire(&v),
        vec![Action::SendInvite {
            leg: leg("c", 3),
            contact: ContactRef::from("p3"),
            sdp: Some("v=0 a".into()),
            max_forwards: 69,
        }]
    );
    let v = h.resp("c", 3, 200, Some("v=0 p3"));
    assert!(wire(&v).contains(&Action::Answer {
        call: cr("c"),
        sdp: Some("v=0 p3".into())
    }));
    let view = h.calls.get(&cr("c")).unwrap();
    assert_eq!(view.forwarded_to, vec!["1003".to_string()]);
    // The record keeps the number dialled.
    let v = h.bye("c", Side::A);
    assert_eq!(cdr(&v).callee.number, "1002");
}

#[test]
fn no_answer_timeout_forwards_after_no_answer_secs() {
    let mut h = H::new();
    let e = fwd(ext("1002", &["p1", "p2"]), |f| {
        f.no_answer = Some("1003".into());
        f.no_answer_secs = 15;
    });
    h.invite(invite("c", "1002", Some(e)));
    h.resp("c", 1, 180, None);
    assert_eq!(
        h.calls.poll_timeout(),
        Some(h.start + Duration::from_secs(15))
    );
    assert!(h.secs(14).is_empty());
    let v = h.secs(1);
    assert_eq!(
        wire(&v),
        vec![
            Action::Cancel { leg: leg("c", 1) },
            Action::Cancel { leg: leg("c", 2) },
            Action::NeedTarget {
                call: cr("c"),
                number: "1003".into(),
                by: BY.into(),
            },
        ]
    );
    // The cancelled forks' 487s do not end the forwarded call.
    assert!(h.resp("c", 1, 487, None).is_empty());
    assert!(h.resp("c", 2, 487, None).is_empty());
    // The target does not exist.
    let v = h.callee("c", None);
    assert_eq!(
        wire(&v),
        vec![Action::Reject {
            call: cr("c"),
            code: 404
        }]
    );
    assert_ends(&v, "c");
}

#[test]
fn no_answer_without_forward_gives_480_after_ring_timeout() {
    let mut h = H::with(Config {
        ring_timeout: Duration::from_secs(45),
        ..Config::default()
    });
    h.invite(invite("c", "1002", Some(ext("1002", &["p1"]))));
    h.resp("c", 1, 180, None);
    assert!(h.secs(44).is_empty());
    let v = h.secs(1);
    assert_eq!(
        wire(&v),
        vec![
            Action::Cancel { leg: leg("c", 1) },
            Action::Reject {
                call: cr("c"),
                code: 480
            },
        ]
    );
    let c = cdr(&v);
    assert_eq!(c.afloop, Afloop::GeenAntwoord);
    assert_eq!(c.hangup_by, HangupBy::Systeem);
    assert_eq!(c.end_ms - c.start_ms, 45_000);
}

#[test]
fn forks_that_time_out_forward_on_no_answer() {
    let mut h = H::new();
    let e = fwd(ext("1002", &["p1"]), |f| f.no_answer = Some("1003".into()));
    h.invite(invite("c", "1002", Some(e)));
    let v = h.resp("c", 1, 408, None);
    assert_eq!(
        wire(&v),
        vec![Action::NeedTarget {
            call: cr("c"),
            number: "1003".into(),
            by: BY.into(),
        }]
    );
}

#[test]
fn forward_always_inside_and_outside() {
    let mut h = H::new();
    let e = fwd(ext("1002", &["p1"]), |f| f.always = Some("1003".into()));
    let v = h.invite(invite("c", "1002", Some(e)));
    assert_eq!(
        wire(&v),
        vec![Action::NeedTarget {
            call: cr("c"),
            number: "1003".into(),
            by: BY.into(),
        }]
    );
    let v = h.callee("c", Some(ext("1003", &["p3"])));
    assert!(matches!(&wire(&v)[..], [Action::SendInvite { contact, .. }] if contact.0 == "p3"));

    let e = fwd(ext("1002", &["p1"]), |f| {
        f.always = Some("0612345678".into())
    });
    let v = h.invite(invite("d", "1002", Some(e)));
    assert_eq!(
        wire(&v),
        vec![Action::NeedTarget {
            call: cr("d"),
            number: "0612345678".into(),
            by: "1002".into(),
        }]
    );
    h.calls.handle_forward_failed(&cr("d"), 503, h.now).unwrap();
    let v = h.drain();
    assert_eq!(
        wire(&v),
        vec![Action::Reject {
            call: cr("d"),
            code: 503
        }]
    );
    assert_eq!(cdr(&v).afloop, Afloop::Mislukt);
}

#[test]
fn forward_loops_are_detected() {
    let mut h = H::new();
    let e1 = fwd(ext("1001", &["p1"]), |f| f.always = Some("1002".into()));
    let e2 = fwd(ext("1002", &["p2"]), |f| f.always = Some("1001".into()));
    h.invite(invite("c", "1001", Some(e1)));
    let v = h.callee("c", Some(e2));
    assert_eq!(
        wire(&v),
        vec![Action::Reject {
            call: cr("c"),
            code: 482
        }]
    );
    assert_ends(&v, "c");

    // A chain without a repeat, but too long: 2000 → 2001 → … ; the sixth hop is refused.
    let mut h = H::new();
    let chain = |n: u32| {
        fwd(ext(&n.to_string(), &["p"]), |f| {
            f.always = Some((n + 1).to_string())
        })
    };
    h.invite(invite("c", "2000", Some(chain(2000))));
    for n in 2001..=2004 {
        let v = h.callee("c", Some(chain(n)));
        assert!(
            matches!(&wire(&v)[..], [Action::NeedTarget { .. }]),
            "{v:#?}"
        );
    }
    let v = h.callee("c", Some(chain(2005)));
    assert_eq!(
        wire(&v),
        vec![Action::Reject {
            call: cr("c"),
            code: 482
        }]
    );
}

#[test]
fn unknown_callee_and_no_contacts() {
    let mut h = H::new();
    let v = h.invite(invite("c", "1999", None));
    assert_eq!(
        wire(&v),
        vec![Action::Reject {
            call: cr("c"),
            code: 404
        }]
    );
    assert_eq!(cdr(&v).afloop, Afloop::Mislukt);
    assert_ends(&v, "c");

    let v = h.invite(invite("d", "1002", Some(ext("1002", &[]))));
    assert_eq!(
        wire(&v),
        vec![Action::Reject {
            call: cr("d"),
            code: 480
        }]
    );
    assert_eq!(cdr(&v).afloop, Afloop::GeenAntwoord);

    // Without contacts the no-answer forward is taken at once.
    let e = fwd(ext("1002", &[]), |f| f.no_answer = Some("1003".into()));
    let v = h.invite(invite("e", "1002", Some(e)));
    assert_eq!(
        wire(&v),
        vec![Action::NeedTarget {
            call: cr("e"),
            number: "1003".into(),
            by: BY.into(),
        }]
    );
}

#[test]
fn concurrent_call_limit_of_the_organisation() {
    let mut h = H::new();
    h.invite(invite_t("c1", "acme", 1, "1002", Some(ext("1002", &["p"]))));
    let v = h.invite(invite_t("c2", "acme", 1, "1003", Some(ext("1003", &["p"]))));
    assert!(has_event(&v, |e| matches!(
        e,
        CallEvent::LimitReached { tenant, limit: 1, scope: LimitScope::Tenant } if tenant == "acme"
    )));
    assert!(!has_event(&v, |e| matches!(e, CallEvent::Started(_))));
    assert_eq!(
        wire(&v),
        vec![Action::Reject {
            call: cr("c2"),
            code: 503
        }]
    );
    assert_eq!(cdr(&v).sip_code, 503);
    assert_ends(&v, "c2");
    // Another organisation is not affected.
    let v = h.invite(invite_t(
        "c3",
        "bakker",
        1,
        "1002",
        Some(ext("1002", &["q"])),
    ));
    assert!(matches!(&wire(&v)[..], [Action::SendInvite { .. }]));
    // When the first call ends there is room again.
    h.calls.handle_cancel(&cr("c1"), h.now).unwrap();
    h.drain();
    let v = h.invite(invite_t("c4", "acme", 1, "1002", Some(ext("1002", &["p"]))));
    assert!(matches!(&wire(&v)[..], [Action::SendInvite { .. }]));
}

#[test]
fn system_call_limit() {
    let mut h = H::with(Config {
        max_calls: 1,
        ..Config::default()
    });
    h.invite(invite_t(
        "c1",
        "acme",
        20,
        "1002",
        Some(ext("1002", &["p"])),
    ));
    let v = h.invite(invite_t(
        "c2",
        "bakker",
        20,
        "1002",
        Some(ext("1002", &["p"])),
    ));
    assert!(has_event(&v, |e| matches!(
        e,
        CallEvent::LimitReached {
            scope: LimitScope::System,
            ..
        }
    )));
    assert_eq!(
        wire(&v),
        vec![Action::Reject {
            call: cr("c2"),
            code: 503
        }]
    );
    assert_eq!(h.calls.len(), 1);
}

#[test]
fn max_forwards_zero_gives_483() {
    let mut h = H::new();
    let mut inv = invite("c", "1002", Some(ext("1002", &["p"])));
    inv.max_forwards = 0;
    let v = h.invite(inv);
    assert_eq!(
        wire(&v),
        vec![Action::Reject {
            call: cr("c"),
            code: 483
        }]
    );
    assert_ends(&v, "c");
    assert!(h.calls.is_empty());
}

#[test]
fn duplicate_invite_and_unknown_calls() {
    let mut h = H::new();
    h.invite(invite("c", "1002", Some(ext("1002", &["p"]))));
    assert_eq!(
        h.calls
            .handle_invite(invite("c", "1002", Some(ext("1002", &["p"]))), h.now),
        Err(CallError::Duplicate)
    );
    assert!(h.drain().is_empty());
    assert_eq!(
        h.calls.handle_cancel(&cr("x"), h.now),
        Err(CallError::UnknownCall)
    );
    // A re-INVITE before answer and a BYE from B before answer do not fit.
    assert_eq!(
        h.calls
            .handle_reinvite(&cr("c"), Side::A, OfferMethod::Invite, None, h.now),
        Err(CallError::WrongState)
    );
    assert_eq!(
        h.calls.handle_bye(&cr("c"), Side::B, h.now),
        Err(CallError::WrongState)
    );
    // CANCEL after answer does nothing.
    h.resp("c", 1, 200, Some("b"));
    assert_eq!(
        h.calls.handle_cancel(&cr("c"), h.now),
        Err(CallError::WrongState)
    );
    assert_eq!(h.calls.get(&cr("c")).unwrap().state, CallState::Answered);
}

#[test]
fn hold_and_resume_are_relayed_and_tracked() {
    let mut h = H::new();
    h.answered("c");
    h.drain();
    let hold = "v=0\r\nm=audio 4000 RTP/AVP 8\r\na=sendonly\r\n";
    h.calls
        .handle_reinvite(
            &cr("c"),
            Side::A,
            OfferMethod::Invite,
            Some(hold.into()),
            h.now,
        )
        .unwrap();
    assert_eq!(
        h.drain(),
        vec![Action::Reinvite {
            call: cr("c"),
            to: Side::B,
            method: OfferMethod::Invite,
            sdp: Some(hold.into())
        }]
    );
    // Not held until B accepted.
    assert!(!h.calls.get(&cr("c")).unwrap().on_hold);
    // Glare: B offers while A's offer is out.
    h.calls
        .handle_reinvite(
            &cr("c"),
            Side::B,
            OfferMethod::Update,
            Some("v=0".into()),
            h.now,
        )
        .unwrap();
    assert_eq!(
        h.drain(),
        vec![Action::ReinviteAnswer {
            call: cr("c"),
            to: Side::B,
            code: 491,
            sdp: None
        }]
    );
    // The answer must come from B, not from A.
    assert_eq!(
        h.calls
            .handle_reinvite_answer(&cr("c"), Side::A, 200, None, h.now),
        Err(CallError::WrongState)
    );
    h.calls
        .handle_reinvite_answer(&cr("c"), Side::B, 200, Some("v=0 recvonly".into()), h.now)
        .unwrap();
    let v = h.drain();
    assert_eq!(
        wire(&v),
        vec![Action::ReinviteAnswer {
            call: cr("c"),
            to: Side::A,
            code: 200,
            sdp: Some("v=0 recvonly".into())
        }]
    );
    assert!(has_event(
        &v,
        |e| matches!(e, CallEvent::Updated(v) if v.on_hold)
    ));
    assert!(h.calls.get(&cr("c")).unwrap().on_hold);
    // No RTP while held does not end the call.
    assert!(h.secs(600).is_empty());
    let resume = "v=0\r\nm=audio 4000 RTP/AVP 8\r\na=sendrecv\r\n";
    h.calls
        .handle_reinvite(
            &cr("c"),
            Side::A,
            OfferMethod::Update,
            Some(resume.into()),
            h.now,
        )
        .unwrap();
    h.calls
        .handle_reinvite_answer(&cr("c"), Side::B, 200, Some("v=0".into()), h.now)
        .unwrap();
    h.drain();
    assert!(!h.calls.get(&cr("c")).unwrap().on_hold);
    // After resume the media timer runs again.
    let v = h.secs(60);
    assert!(wire(&v).contains(&Action::Bye {
        call: cr("c"),
        to: Side::A
    }));
}

#[test]
fn a_refused_hold_does_not_hold() {
    let mut h = H::new();
    h.answered("c");
    h.calls
        .handle_reinvite(
            &cr("c"),
            Side::B,
            OfferMethod::Invite,
            Some("a=inactive".into()),
            h.now,
        )
        .unwrap();
    h.calls
        .handle_reinvite_answer(&cr("c"), Side::A, 488, None, h.now)
        .unwrap();
    assert!(!h.calls.get(&cr("c")).unwrap().on_hold);
    // The offer is no longer pending: a new one is relayed.
    h.drain();
    h.calls
        .handle_reinvite(
            &cr("c"),
            Side::B,
            OfferMethod::Invite,
            Some("a=inactive".into()),
            h.now,
        )
        .unwrap();
    assert!(matches!(
        &h.drain()[..],
        [Action::Reinvite { to: Side::A, .. }]
    ));
}

#[test]
fn media_inactivity_hangs_up_both_legs() {
    let mut h = H::new();
    h.answered("c");
    h.drain();
    h.secs(50);
    h.activity("c");
    assert!(h.secs(59).is_empty());
    let v = h.secs(1);
    assert_eq!(
        wire(&v),
        vec![
            Action::Bye {
                call: cr("c"),
                to: Side::A
            },
            Action::Bye {
                call: cr("c"),
                to: Side::B
            },
        ]
    );
    let c = cdr(&v);
    assert_eq!(c.hangup_by, HangupBy::Systeem);
    assert_eq!(c.billsec(), 110);
    assert_ends(&v, "c");
}

#[test]
fn max_call_duration_hangs_up_both_legs() {
    let mut h = H::with(Config {
        max_call: Duration::from_secs(3600),
        ..Config::default()
    });
    h.answered("c");
    h.drain();
    for _ in 0..119 {
        assert!(h.secs(30).is_empty());
        h.activity("c");
    }
    let v = h.secs(30);
    assert_eq!(wire(&v).len(), 2, "{v:#?}");
    let c = cdr(&v);
    assert_eq!(c.hangup_by, HangupBy::Systeem);
    assert_eq!(c.billsec(), 3600);
    assert_eq!(h.calls.poll_timeout(), None);
}

#[test]
fn system_hangup_from_the_api() {
    let mut h = H::new();
    h.answered("c");
    h.drain();
    h.calls
        .handle_hangup(&cr("c"), HangupBy::Systeem, h.now)
        .unwrap();
    let v = h.drain();
    assert_eq!(wire(&v).len(), 2);
    assert_eq!(cdr(&v).hangup_by, HangupBy::Systeem);

    // Before answer: the forks are cancelled and A gets 487.
    h.invite(invite("d", "1002", Some(ext("1002", &["p"]))));
    h.calls
        .handle_hangup(&cr("d"), HangupBy::Systeem, h.now)
        .unwrap();
    let v = h.drain();
    assert_eq!(
        wire(&v),
        vec![
            Action::Cancel { leg: leg("d", 1) },
            Action::Reject {
                call: cr("d"),
                code: 487
            }
        ]
    );
    assert_eq!(cdr(&v).hangup_by, HangupBy::Systeem);
}

#[test]
fn cdr_fields_and_order() {
    let mut h = H::new();
    let start = h.ms();
    h.invite(invite("c", "1002", Some(ext("1002", &["p1"]))));
    h.secs(3);
    h.resp("c", 1, 180, None);
    h.advance(Duration::from_millis(2_500));
    let answer = h.ms();
    h.resp("c", 1, 200, Some("v=0 b"));
    h.secs(30);
    h.activity("c");
    h.advance(Duration::from_millis(31_999));
    let v = h.bye("c", Side::B);
    let c = cdr(&v);
    assert_eq!(c.id, "c");
    assert_eq!(c.call_id, "sip-c");
    assert_eq!(c.tenant, "acme");
    assert_eq!(
        c.caller,
        Party {
            number: "1001".into(),
            name: "Anna".into()
        }
    );
    assert_eq!(c.callee.number, "1002");
    assert_eq!(c.callee.name, "Toestel 1002");
    assert_eq!(c.direction, pbx_model::Direction::Intern);
    assert_eq!(c.start_ms, start);
    assert_eq!(c.answer_ms, Some(answer));
    assert_eq!(c.end_ms, answer + 61_999);
    assert_eq!(c.billsec(), 61);
    assert_eq!(c.duration_secs(), 67);
    assert!(c.codecs.is_empty() && c.legs.is_empty());
    assert_ends(&v, "c");
    let ended = v
        .iter()
        .position(|a| matches!(a, Action::Event(CallEvent::Ended(_))))
        .unwrap();
    let cdr_at = v.iter().position(|a| matches!(a, Action::Cdr(_))).unwrap();
    assert!(cdr_at < ended);
}

#[test]
fn delayed_offer_waits_for_the_ack_of_a() {
    let mut h = H::new();
    let mut inv = invite("c", "1002", Some(ext("1002", &["p"])));
    inv.offer_sdp = None;
    let v = h.invite(inv);
    assert!(matches!(
        &wire(&v)[..],
        [Action::SendInvite { sdp: None, .. }]
    ));
    let v = h.resp("c", 1, 200, Some("offer-b"));
    assert_eq!(
        wire(&v),
        vec![Action::Answer {
            call: cr("c"),
            sdp: Some("offer-b".into())
        }]
    );
    // A retransmitted 2xx before A's ACK is not ACKed without the answer.
    assert!(h.resp("c", 1, 200, Some("offer-b")).is_empty());
    h.calls
        .handle_ack(&cr("c"), Some("answer-a".into()), h.now)
        .unwrap();
    assert_eq!(
        h.drain(),
        vec![Action::AckB {
            leg: leg("c", 1),
            sdp: Some("answer-a".into())
        }]
    );
}

#[test]
fn early_media_is_relayed_once() {
    let mut h = H::new();
    h.invite(invite("c", "1002", Some(ext("1002", &["p1", "p2"]))));
    assert_eq!(wire(&h.resp("c", 1, 180, None)).len(), 1);
    let v = h.resp("c", 2, 183, Some("early"));
    assert_eq!(
        wire(&v),
        vec![Action::Provisional {
            call: cr("c"),
            code: 183,
            sdp: Some("early".into())
        }]
    );
    assert!(!has_event(&v, |e| matches!(e, CallEvent::Ringing(_))));
    assert!(h.resp("c", 1, 183, Some("early too")).is_empty());
}

#[test]
fn list_shows_calls_per_organisation() {
    let mut h = H::new();
    h.invite(invite_t(
        "c1",
        "acme",
        20,
        "1002",
        Some(ext("1002", &["p1", "p2"])),
    ));
    h.secs(1);
    h.invite(invite_t(
        "c2",
        "bakker",
        20,
        "1002",
        Some(ext("1002", &["q"])),
    ));
    h.secs(1);
    h.resp("c1", 1, 180, None);
    h.resp("c1", 2, 200, Some("b"));
    let all = h.calls.list(None);
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].id, cr("c1"));
    assert_eq!(all[1].id, cr("c2"));
    let acme = h.calls.list(Some("acme"));
    assert_eq!(acme.len(), 1);
    let v = &acme[0];
    assert_eq!(v.tenant, "acme");
    assert_eq!(v.caller.number, "1001");
    assert_eq!(v.callee.number, "1002");
    assert_eq!(v.state, CallState::Answered);
    assert_eq!(v.started_ms, T0_MS);
    assert_eq!(v.answered_ms, Some(T0_MS + 2_000));
    assert_eq!(
        v.legs
            .iter()
            .map(|l| (l.contact.0.as_str(), l.state))
            .collect::<Vec<_>>(),
        vec![("p1", LegState::Cancelling), ("p2", LegState::Answered)]
    );
    let b = h.calls.list(Some("bakker"));
    assert_eq!(b[0].state, CallState::Ringing);
    assert_eq!(b[0].legs[0].state, LegState::Trying);
    assert!(h.calls.list(Some("niemand")).is_empty());
}

#[test]
fn best_response_rules() {
    assert_eq!(best_response(&[486, 603]), 603);
    assert_eq!(best_response(&[480, 486, 408]), 486);
    assert_eq!(best_response(&[404, 404]), 404);
    assert_eq!(best_response(&[404, 480]), 480);
    assert_eq!(best_response(&[408, 480]), 480);
    assert_eq!(best_response(&[503, 480]), 480);
    assert_eq!(best_response(&[503, 500]), 500);
    assert_eq!(best_response(&[488, 480]), 488);
    assert_eq!(best_response(&[302]), 480);
    assert_eq!(best_response(&[]), 480);
}

#[test]
fn hold_is_read_from_the_direction_attribute() {
    assert!(sdp_holds("v=0\r\nm=audio 1 RTP/AVP 0\r\na=sendonly\r\n"));
    assert!(sdp_holds("v=0\na=inactive\n"));
    assert!(!sdp_holds("v=0\r\na=sendrecv\r\n"));
    assert!(!sdp_holds("v=0\r\n"));
    // A media-level sendrecv overrides a session-level sendonly.
    assert!(!sdp_holds(
        "v=0\r\na=sendonly\r\nm=audio 1 RTP/AVP 0\r\na=sendrecv\r\n"
    ));
}

#[test]
fn durations_too_large_for_instant_do_not_panic() {
    let mut h = H::with(Config {
        ring_timeout: Duration::MAX,
        max_call: Duration::MAX,
        media_timeout: Duration::MAX,
        hold_timeout: Duration::MAX,
        max_calls: 10,
        trunk_response_timeout: Duration::MAX,
        outside_ring_timeout: Duration::MAX,
    });
    h.answered("c");
    assert_eq!(h.calls.poll_timeout(), None);
    h.activity("c");
    assert!(h.advance(Duration::MAX).is_empty());
    assert_eq!(h.calls.get(&cr("c")).unwrap().state, CallState::Answered);
}

/// Random input in any order never panics, and every call ends with one CDR followed by one
/// Released, and leaves no timer or tenant count behind.
#[test]
fn random_input_keeps_the_invariants() {
    let mut seed: u64 = 0x5eed_1234_abcd_0001;
    let mut rnd = move |n: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    let codes = [
        100, 180, 183, 200, 200, 404, 408, 480, 486, 487, 488, 500, 503, 600, 603, 302,
    ];
    let numbers = ["1001", "1002", "1003", "0612345678"];
    let mut h = H::with(Config {
        max_calls: 8,
        ..Config::default()
    });
    let mut all = Vec::new();
    let mut log = Vec::new();
    let callee = |rnd: &mut dyn FnMut(u64) -> u64| {
        let nr = numbers[rnd(3) as usize];
        let mut e = ext(nr, &["p1", "p2", "p3"][..rnd(4) as usize]);
        for slot in [
            &mut e.forwarding.always,
            &mut e.forwarding.busy,
            &mut e.forwarding.no_answer,
        ] {
            if rnd(4) == 0 {
                *slot = Some(numbers[rnd(4) as usize].to_string());
            }
        }
        (rnd(5) != 0).then_some(e)
    };
    for _ in 0..100_000 {
        let id = format!("c{}", rnd(12));
        let call = cr(&id);
        match rnd(12) {
            0 => {
                let c = callee(&mut rnd);
                let mut inv = invite_t(&id, ["a", "b"][rnd(2) as usize], 3, "1002", c);
                inv.max_forwards = rnd(3) as u8;
                if rnd(4) == 0 {
                    inv.offer_sdp = None;
                }
                if h.calls.handle_invite(inv, h.now).is_ok() {
                    all.push(id.clone());
                }
            }
            1..=3 => {
                let code = codes[rnd(codes.len() as u64) as usize];
                let n = rnd(4) as u32 + 1;
                h.calls.handle_response(&leg(&id, n), code, None, h.now);
            }
            4 => {
                let _ = h.calls.handle_cancel(&call, h.now);
            }
            5 => {
                let side = [Side::A, Side::B][rnd(2) as usize];
                let _ = h.calls.handle_bye(&call, side, h.now);
            }
            6 => {
                let c = callee(&mut rnd);
                let _ = h.calls.handle_callee(&call, c, h.now);
            }
            7 => {
                let side = [Side::A, Side::B][rnd(2) as usize];
                let sdp = ["a=sendonly", "a=sendrecv", "a=inactive"][rnd(3) as usize];
                let _ = h.calls.handle_reinvite(
                    &call,
                    side,
                    OfferMethod::Invite,
                    Some(sdp.into()),
                    h.now,
                );
            }
            8 => {
                let side = [Side::A, Side::B][rnd(2) as usize];
                let code = [100, 200, 488, 491][rnd(4) as usize];
                let _ = h
                    .calls
                    .handle_reinvite_answer(&call, side, code, None, h.now);
            }
            9 => {
                let _ = h.calls.handle_ack(&call, Some("x".into()), h.now);
                let _ = h.calls.handle_media_activity(&call, h.now);
                let _ = h.calls.handle_forward_failed(&call, 503, h.now);
            }
            10 => {
                let _ = h.calls.handle_hangup(&call, HangupBy::Systeem, h.now);
            }
            _ => {
                h.now = h.now.after(Duration::from_secs(rnd(40)));
                h.calls.handle_timeout(h.now);
            }
        }
        log.extend(h.drain());
    }
    for v in h.calls.list(None) {
        h.calls
            .handle_hangup(&v.id, HangupBy::Systeem, h.now)
            .unwrap();
    }
    log.extend(h.drain());
    assert!(h.calls.is_empty());
    assert_eq!(h.calls.poll_timeout(), None);
    assert!(all.len() > 100, "only {} calls", all.len());
    // The walk reached the interesting places.
    let count = |f: &dyn Fn(&Action) -> bool| log.iter().filter(|a| f(a)).count();
    let seen = [
        count(&|a| matches!(a, Action::Answer { .. })),
        count(&|a| matches!(a, Action::AckAndBye { .. })),
        count(&|a| matches!(a, Action::NeedTarget { .. })),
        count(&|a| matches!(a, Action::Reinvite { .. })),
        count(&|a| matches!(a, Action::Reject { code: 482, .. })),
        count(&|a| matches!(a, Action::Reject { code: 503, .. })),
        count(&|a| matches!(a, Action::Reject { code: 480, .. })),
        count(&|a| matches!(a, Action::Bye { .. })),
    ];
    assert!(seen.iter().all(|&n| n > 0), "{seen:?}");
    // An id may be used again after its call ended: one CDR + Released pair per INVITE taken.
    let mut ids = all.clone();
    ids.sort();
    ids.dedup();
    for id in &ids {
        let mine: Vec<&Action> = log
            .iter()
            .filter(|a| match a {
                Action::Cdr(c) => c.id == *id,
                Action::Released { call } => call.0 == *id,
                _ => false,
            })
            .collect();
        let taken = all.iter().filter(|a| *a == id).count();
        assert_eq!(mine.len(), 2 * taken, "{id}: {mine:#?}");
        for pair in mine.chunks(2) {
            assert!(
                matches!(pair, [Action::Cdr(_), Action::Released { .. }]),
                "{id}: {mine:#?}"
            );
        }
    }
    // No tenant count was left behind: three calls per organisation fit again.
    for i in 0..3 {
        let v = h.invite(invite_t(
            &format!("z{i}"),
            "a",
            3,
            "1002",
            Some(ext("1002", &["p"])),
        ));
        assert!(
            matches!(&wire(&v)[..], [Action::SendInvite { .. }]),
            "{v:#?}"
        );
    }
}

/// A held call whose phones are gone still ends: after the hold timeout without RTP.
#[test]
fn a_held_call_without_media_ends_after_the_hold_timeout() {
    let mut h = H::new();
    h.answered("c");
    h.calls
        .handle_reinvite(
            &cr("c"),
            Side::A,
            OfferMethod::Invite,
            Some("v=0\r\na=inactive\r\n".into()),
            h.now,
        )
        .unwrap();
    h.calls
        .handle_reinvite_answer(&cr("c"), Side::B, 200, Some("v=0".into()), h.now)
        .unwrap();
    h.drain();
    assert!(h.calls.get(&cr("c")).unwrap().on_hold);
    assert!(h.secs(3599).is_empty());
    let v = h.secs(1);
    assert!(wire(&v).contains(&Action::Bye {
        call: cr("c"),
        to: Side::A
    }));
    assert_eq!(cdr(&v).hangup_by, HangupBy::Systeem);
}

// ---- hunts: trunks with failover, belgroepen, pbxd answering itself ----

fn step(label: &str, contacts: &[&str], ring: u64) -> HuntStep {
    HuntStep {
        label: label.into(),
        contacts: contacts.iter().map(|c| ContactRef::from(*c)).collect(),
        ring: Duration::from_secs(ring),
    }
}

fn target_invite(call: &str, target: Target) -> InviteIn {
    let mut inv = invite(call, "0201234567", None);
    inv.target = target;
    inv.direction = pbx_model::Direction::Uitgaand;
    inv
}

fn trunks(steps: Vec<HuntStep>) -> Target {
    Target::Hunt(Hunt {
        kind: HuntKind::Trunks,
        steps,
        fallback: None,
    })
}

fn sent_to(v: &[Action]) -> Vec<String> {
    v.iter()
        .filter_map(|a| match a {
            Action::SendInvite { contact, .. } => Some(contact.0.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn trunks_fail_over_on_5xx_and_the_cdr_names_every_attempt() {
    let mut h = H::new();
    let v = h.invite(target_invite(
        "c",
        trunks(vec![step("a", &["ta"], 120), step("b", &["tb"], 120)]),
    ));
    assert_eq!(sent_to(&v), vec!["ta"]);
    let v = h.resp("c", 1, 503, None);
    assert_eq!(
        sent_to(&v),
        vec!["tb"],
        "503 from the first provider: the next"
    );
    h.resp("c", 2, 180, None);
    let v = h.resp("c", 2, 200, Some("b"));
    assert!(v.iter().any(|a| matches!(a, Action::Answer { .. })));
    h.calls.handle_bye(&cr("c"), Side::A, h.now).unwrap();
    let v = h.drain();
    let c = cdr(&v);
    assert_eq!(c.trunk.as_deref(), Some("b"));
    assert_eq!(
        c.attempts.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        vec!["a:503", "b:200"]
    );
    assert_eq!(c.direction, pbx_model::Direction::Uitgaand);
}

#[test]
fn a_final_answer_of_the_called_party_does_not_fail_over() {
    for code in [486, 404, 603] {
        let mut h = H::new();
        h.invite(target_invite(
            "c",
            trunks(vec![step("a", &["ta"], 120), step("b", &["tb"], 120)]),
        ));
        let v = h.resp("c", 1, code, None);
        assert!(sent_to(&v).is_empty(), "{code} must not fail over");
        assert!(v.contains(&Action::Reject {
            call: cr("c"),
            code
        }));
        let c = cdr(&v);
        assert_eq!(c.trunk.as_deref(), Some("a"));
        assert_eq!(c.attempts.len(), 1);
    }
}

#[test]
fn a_silent_provider_fails_over_but_a_ringing_number_does_not() {
    let mut h = H::new();
    h.invite(target_invite(
        "c",
        trunks(vec![step("a", &["ta"], 120), step("b", &["tb"], 120)]),
    ));
    // Not even 100 Trying from trunk a within the response timeout.
    let v = h.secs(5);
    assert!(v.contains(&Action::Cancel { leg: leg("c", 1) }));
    assert_eq!(sent_to(&v), vec!["tb"]);
    // Trunk b answers 100 and 180: the number rings its full time, then 480, no failover.
    h.resp("c", 2, 100, None);
    h.resp("c", 2, 180, None);
    assert!(h.secs(60).is_empty());
    let v = h.secs(60);
    assert!(v.contains(&Action::Reject {
        call: cr("c"),
        code: 480
    }));
    let c = cdr(&v);
    assert_eq!(
        c.attempts.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        vec!["a:408", "b:480"]
    );
}

#[test]
fn trunks_without_a_free_channel_are_skipped_and_all_failing_gives_503() {
    let mut h = H::new();
    let v = h.invite(target_invite(
        "c",
        trunks(vec![step("a", &[], 120), step("b", &["tb"], 120)]),
    ));
    assert_eq!(sent_to(&v), vec!["tb"]);
    let v = h.resp("c", 1, 500, None);
    assert!(v.contains(&Action::Reject {
        call: cr("c"),
        code: 503
    }));
    assert_eq!(
        cdr(&v)
            .attempts
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>(),
        vec!["a:503", "b:500"]
    );
}

#[test]
fn an_emergency_call_passes_the_organisation_limit() {
    let mut h = H::new();
    h.invite(invite_t("x", "acme", 1, "1002", Some(ext("1002", &["p"]))));
    let mut inv = target_invite("e", trunks(vec![step("a", &["ta"], 120)]));
    inv.tenant_max_calls = 1;
    inv.emergency = true;
    let v = h.invite(inv);
    assert_eq!(sent_to(&v), vec!["ta"]);
    let mut inv = target_invite("f", trunks(vec![step("a", &["ta"], 120)]));
    inv.tenant_max_calls = 1;
    let v = h.invite(inv);
    assert!(v.contains(&Action::Reject {
        call: cr("f"),
        code: 503
    }));
}

#[test]
fn a_sequential_belgroep_rings_members_in_turn_then_the_fallback() {
    let mut h = H::new();
    let group = Target::Hunt(Hunt {
        kind: HuntKind::Group,
        steps: vec![
            step("1001", &["p1"], 10),
            step("1002", &[], 10),
            step("1003", &["p3"], 10),
        ],
        fallback: Some("1009".into()),
    });
    let v = h.invite(target_invite("g", group));
    assert_eq!(sent_to(&v), vec!["p1"]);
    let v = h.secs(10);
    assert!(v.contains(&Action::Cancel { leg: leg("g", 1) }));
    assert_eq!(sent_to(&v), vec!["p3"], "1002 has no phone: skipped");
    // Busy: next (none left), so the fallback.
    let v = h.resp("g", 2, 486, None);
    assert!(v.iter().any(|a| matches!(a,
        Action::NeedTarget { number, by, .. } if number == "1009" && by == "0201234567")));
    let v = h.callee("g", Some(ext("1009", &["p9"])));
    assert_eq!(sent_to(&v), vec!["p9"]);
}

#[test]
fn a_simultaneous_belgroep_without_fallback_gives_480() {
    let mut h = H::new();
    let group = Target::Hunt(Hunt {
        kind: HuntKind::Group,
        steps: vec![step("groep", &["p1", "p2"], 20)],
        fallback: None,
    });
    let v = h.invite(target_invite("g", group));
    assert_eq!(sent_to(&v), vec!["p1", "p2"]);
    let v = h.secs(20);
    assert!(v.contains(&Action::Reject {
        call: cr("g"),
        code: 480
    }));
}

#[test]
fn pbxd_answers_itself_then_transfers_and_a_failed_transfer_ends_with_bye() {
    let mut h = H::new();
    let v = h.invite(target_invite("m", Target::Local));
    assert_eq!(wire(&v), vec![Action::Local { call: cr("m") }]);
    h.calls
        .handle_local_answer(&cr("m"), Some("menu".into()), h.now)
        .unwrap();
    let v = h.drain();
    assert!(v.contains(&Action::Answer {
        call: cr("m"),
        sdp: Some("menu".into())
    }));
    // A choice: ring 1002 with the relay's offer; its ringing is not relayed to A.
    h.calls
        .handle_transfer(
            &cr("m"),
            Target::Extension(Some(ext("1002", &["p"]))),
            Some("offer".into()),
            h.now,
        )
        .unwrap();
    let v = h.drain();
    assert!(v.iter().any(|a| matches!(a,
        Action::SendInvite { sdp: Some(s), .. } if s == "offer")));
    assert!(h
        .resp("m", 1, 180, None)
        .iter()
        .all(|a| !matches!(a, Action::Provisional { .. })));
    let v = h.resp("m", 1, 486, None);
    assert!(v.contains(&Action::Bye {
        call: cr("m"),
        to: Side::A
    }));
    assert!(!v.iter().any(|a| matches!(a, Action::Reject { .. })));
    assert!(h.calls.is_empty());

    // Answered transfer: B gets its ACK, A no second 200.
    h.invite(target_invite("n", Target::Local));
    h.calls.handle_local_answer(&cr("n"), None, h.now).unwrap();
    h.drain();
    h.calls
        .handle_transfer(
            &cr("n"),
            Target::Extension(Some(ext("1002", &["p"]))),
            None,
            h.now,
        )
        .unwrap();
    h.drain();
    let v = h.resp("n", 1, 200, Some("b"));
    assert!(v.contains(&Action::AckB {
        leg: leg("n", 1),
        sdp: None
    }));
    assert!(!v.iter().any(|a| matches!(a, Action::Answer { .. })));
    h.calls.handle_bye(&cr("n"), Side::B, h.now).unwrap();
    let v = h.drain();
    assert_eq!(cdr(&v).afloop, Afloop::Beantwoord);

    // An announcement before a refusal: 183, then the code.
    h.invite(target_invite("r", Target::Local));
    h.calls
        .handle_early(&cr("r"), Some("ann".into()), h.now)
        .unwrap();
    h.calls.handle_forward_failed(&cr("r"), 403, h.now).unwrap();
    let v = h.drain();
    assert!(v.contains(&Action::Provisional {
        call: cr("r"),
        code: 183,
        sdp: Some("ann".into())
    }));
    assert!(v.contains(&Action::Reject {
        call: cr("r"),
        code: 403
    }));
}
