//! Mid-call offers: re-INVITE and UPDATE (RFC 3311) for hold and resume, relayed from one leg
//! to the other with the SDP pointed at the relay. A session refresh without SDP (RFC 4028
//! style, or a phone's keep-alive) is answered per leg by pbxd itself: a B2BUA's two dialogs
//! are refreshed independently.
//!
//! One offer per call at a time: a second one while the first is being relayed gets 491
//! Request Pending (RFC 3261 §14.2). An UPDATE goes on as UPDATE only when the other side
//! listed UPDATE in its Allow; otherwise as a re-INVITE, and its answer comes back to the
//! offerer in the 200 to the UPDATE.

use super::{body_sdp, build_request, clock, random_hex, reason, via_transport_name, with_body};
use super::{OkRetx, T1};
use crate::sip::Service;
use pbx_engine::call::{CallRef, CallState, LegId, OfferMethod, Side};
use pbx_sip::msg::{self, Request, Response};
use pbx_sip::transaction::{TransportKind, TxKey};
use std::net::SocketAddr;
use std::time::Instant;

/// A mid-call offer that is being relayed to the other side.
pub(super) struct MidOffer {
    /// The offerer's server transaction.
    pub(super) key: TxKey,
    /// The offerer's request.
    pub(super) request: Request,
    /// The offerer.
    pub(super) from: Side,
    /// The transport the offer came over (a 2xx to a re-INVITE over UDP is retransmitted).
    pub(super) transport: TransportKind,
    /// The method sent to the other side, once sent.
    pub(super) out: Option<msg::Method>,
}

/// The relay's side index of a call side.
pub(super) fn idx(side: Side) -> usize {
    match side {
        Side::A => 0,
        Side::B => 1,
    }
}

/// Does this Allow value list UPDATE?
pub(super) fn allows_update(allow: Option<&str>) -> bool {
    allow.is_some_and(|v| {
        v.split(',')
            .any(|m| m.trim().eq_ignore_ascii_case("UPDATE"))
    })
}

/// A request inside one of the call's dialogs, ready to send.
pub(super) struct DialogRequest {
    pub(super) request: Request,
    pub(super) dest: SocketAddr,
    pub(super) transport: TransportKind,
}

impl Service {
    /// The call and side an in-dialog request belongs to: Call-ID and both tags must match
    /// (RFC 3261 §12.2.2).
    pub(super) fn dialog_of(&self, req: &Request) -> Option<(CallRef, Side)> {
        let cid = msg::call_id(req).unwrap_or_default();
        let (from_tag, to_tag) = (msg::from_tag(req), msg::to_tag(req));
        let a_match = self.calls.by_a_call_id.get(cid).filter(|c| {
            self.calls.a.get(*c).is_some_and(|a| {
                to_tag.as_deref() == Some(a.local_tag.as_str())
                    && from_tag.as_deref() == a.invite_from_tag.as_deref()
            })
        });
        if let Some(c) = a_match {
            return Some((c.clone(), Side::A));
        }
        let b_match = self.calls.by_b_call_id.get(cid).filter(|l| {
            self.calls.legs.get(*l).is_some_and(|b| {
                to_tag.as_deref() == Some(b.local_tag.as_str())
                    && from_tag.is_some()
                    && from_tag == b.remote_tag
            })
        });
        b_match.map(|l| (l.call.clone(), Side::B))
    }

    /// Builds a request in the dialog with `side` (the winning B leg for B). `new_cseq`: a new
    /// transaction (the CSeq goes up); otherwise the CSeq of the last one (an ACK).
    pub(super) fn dialog_request(
        &mut self,
        call: &CallRef,
        side: Side,
        method: &str,
        new_cseq: bool,
        sdp: Option<&str>,
    ) -> Option<DialogRequest> {
        let leg = match side {
            Side::A => None,
            Side::B => Some(self.calls.winner.get(call)?.clone()),
        };
        self.leg_request(call, leg.as_ref(), method, new_cseq, sdp)
    }

    /// As [`Service::dialog_request`], with A's dialog (`leg` None) or the dialog of one B leg
    /// (also one that is not the winner: a late answer gets ACK and BYE).
    pub(super) fn leg_request(
        &mut self,
        call: &CallRef,
        leg: Option<&LegId>,
        method: &str,
        new_cseq: bool,
        sdp: Option<&str>,
    ) -> Option<DialogRequest> {
        let (target, from, to, call_id, cseq, dest, transport) = match leg {
            None => {
                let a = self.calls.a.get_mut(call)?;
                if new_cseq {
                    a.cseq += 1;
                }
                (
                    a.target.clone(),
                    format!("{};tag={}", a.local, a.local_tag),
                    a.remote.clone(),
                    a.call_id.clone(),
                    a.cseq,
                    a.source,
                    a.transport,
                )
            }
            Some(leg) => {
                let b = self.calls.legs.get_mut(leg)?;
                if new_cseq {
                    b.cseq += 1;
                }
                (
                    b.target.clone(),
                    format!("{};tag={}", b.from, b.local_tag),
                    format!("{};tag={}", b.to, b.remote_tag.as_deref().unwrap_or("")),
                    b.call_id.clone(),
                    b.cseq,
                    b.dest,
                    b.transport,
                )
            }
        };
        let own = self.own_addr_for_phone(dest, transport);
        let mut text = format!(
            "{method} {target} SIP/2.0\r\nVia: SIP/2.0/{} {own};branch=z9hG4bK{};rport\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nMax-Forwards: 70\r\n",
            via_transport_name(transport),
            random_hex(10),
        );
        if method == "INVITE" || method == "UPDATE" {
            text.push_str(&format!(
                "Contact: <sip:pbxd@{own}{}>\r\nAllow: {}\r\n",
                super::contact_transport(transport),
                crate::sip::ALLOW
            ));
        }
        text.push_str(&super::body_part(sdp));
        Some(DialogRequest {
            request: build_request(text)?,
            dest,
            transport,
        })
    }

    /// A re-INVITE or UPDATE from one side of a call.
    pub(super) fn on_mid_offer(
        &mut self,
        key: TxKey,
        req: Request,
        transport: TransportKind,
        now: Instant,
    ) {
        let Some((call, side)) = self.dialog_of(&req) else {
            let r = msg::response_to(&req, 481, "Call/Transaction Does Not Exist");
            return self.respond(key, r, now);
        };
        let is_invite = req.method == msg::Method::Invite;
        // The offerer's Contact is its new remote target (RFC 3261 §12.2.2).
        if let Some(c) = msg::contacts(&req).and_then(|c| c.into_iter().next()) {
            self.set_target(&call, side, c.uri);
        }
        let answered = self
            .calls
            .core
            .get(&call)
            .is_some_and(|v| v.state == CallState::Answered);
        if !answered || self.calls.mid.contains_key(&call) {
            // Early UPDATE, or an offer while one is on its way (RFC 3261 §14.2, RFC 3311 §5.2).
            let mut r = msg::response_to(&req, 491, "Request Pending");
            r.headers.push(msg::make_header(
                "Retry-After",
                (1 + rand::random::<u8>() % 3).to_string(),
            ));
            return self.respond(key, r, now);
        }
        let Some(sdp) = body_sdp(&req.body) else {
            // A session refresh: answered here. A re-INVITE without SDP gets our last SDP
            // to this side as the offer (its ACK brings the unchanged answer).
            let body = if is_invite {
                self.calls.last_sdp.get(&(call.clone(), idx(side))).cloned()
            } else {
                None
            };
            return self.answer_mid(key, &req, &call, side, transport, 200, body, now);
        };
        let sdp = match self.calls.relays.get_mut(&call) {
            Some(relay) => relay.offer_from(idx(side), &sdp),
            None => sdp,
        };
        self.calls.mid.insert(
            call.clone(),
            MidOffer {
                key,
                request: req,
                from: side,
                transport,
                out: None,
            },
        );
        let method = if is_invite {
            OfferMethod::Invite
        } else {
            OfferMethod::Update
        };
        if self
            .calls
            .core
            .handle_reinvite(&call, side, method, Some(sdp), clock())
            .is_err()
        {
            if let Some(m) = self.calls.mid.remove(&call) {
                let r = msg::response_to(&m.request, 491, "Request Pending");
                self.respond(key, r, now);
            }
        }
        self.drain_calls(now);
    }

    fn set_target(&mut self, call: &CallRef, side: Side, uri: String) {
        match side {
            Side::A => {
                if let Some(a) = self.calls.a.get_mut(call) {
                    a.target = uri;
                }
            }
            Side::B => {
                let leg = self.calls.winner.get(call).cloned();
                if let Some(b) = leg.and_then(|l| self.calls.legs.get_mut(&l)) {
                    b.target = uri;
                }
            }
        }
    }

    /// Sends the relayed offer to `to` (engine action `Reinvite`).
    pub(super) fn send_mid_offer(
        &mut self,
        call: &CallRef,
        to: Side,
        method: OfferMethod,
        sdp: Option<String>,
        now: Instant,
    ) {
        let update_ok = match to {
            Side::A => self.calls.a.get(call).is_some_and(|a| a.allow_update),
            Side::B => self
                .calls
                .winner
                .get(call)
                .and_then(|l| self.calls.legs.get(l))
                .is_some_and(|b| b.allow_update),
        };
        let m = if method == OfferMethod::Update && update_ok {
            msg::Method::Update
        } else {
            msg::Method::Invite
        };
        let name = if m == msg::Method::Update {
            "UPDATE"
        } else {
            "INVITE"
        };
        let sent = self
            .dialog_request(call, to, name, true, sdp.as_deref())
            .and_then(|d| {
                self.tx
                    .send_request(d.request, d.dest, d.transport, now)
                    .ok()
            });
        match sent {
            Some(key) => {
                self.calls.by_mid_tx.insert(key, call.clone());
                if let Some(mid) = self.calls.mid.get_mut(call) {
                    mid.out = Some(m);
                }
                if let Some(s) = sdp {
                    self.calls.last_sdp.insert((call.clone(), idx(to)), s);
                }
            }
            None => {
                tracing::debug!(call = %call, "SIP: re-INVITE niet verstuurd");
                let _ = self
                    .calls
                    .core
                    .handle_reinvite_answer(call, to, 503, None, clock());
            }
        }
    }

    /// The final answer of the other side to a relayed offer (or 408/503 for none).
    pub(super) fn on_mid_response(&mut self, key: TxKey, resp: Option<&Response>, code: u16) {
        let Some(call) = self.calls.by_mid_tx.get(&key).cloned() else {
            return;
        };
        if code < 200 {
            return;
        }
        self.calls.by_mid_tx.remove(&key);
        let Some((from, out)) = self.calls.mid.get(&call).map(|m| (m.from, m.out)) else {
            return;
        };
        let to = from.other();
        let mut sdp = None;
        if let Some(resp) = resp.filter(|_| (200..300).contains(&code)) {
            if out == Some(msg::Method::Invite) {
                // ACK for the 2xx: a request of its own (RFC 3261 §13.2.2.4).
                if let Some(d) = self.dialog_request(&call, to, "ACK", false, None) {
                    self.tx.send_stateless(
                        &msg::SipMessage::Request(d.request),
                        d.dest,
                        d.transport,
                    );
                }
            }
            if let Some(c) = msg::contacts(resp).and_then(|c| c.into_iter().next()) {
                self.set_target(&call, to, c.uri);
            }
            sdp = body_sdp(&resp.body).map(|s| match self.calls.relays.get_mut(&call) {
                Some(relay) => relay.answer_from(idx(to), &s),
                None => s,
            });
        } else if let Some(relay) = self.calls.relays.get_mut(&call) {
            // Refused (or no answer): the media stays as it was before the offer.
            relay.offer_rejected();
        }
        let _ = self
            .calls
            .core
            .handle_reinvite_answer(&call, to, code, sdp, clock());
        self.drain_calls(Instant::now());
    }

    /// The engine's answer for the offerer (action `ReinviteAnswer`).
    pub(super) fn send_mid_answer(
        &mut self,
        call: &CallRef,
        to: Side,
        code: u16,
        sdp: Option<String>,
        now: Instant,
    ) {
        if code < 200 {
            return;
        }
        let Some(mid) = self.calls.mid.remove(call) else {
            return;
        };
        if mid.from != to {
            return;
        }
        self.answer_mid(
            mid.key,
            &mid.request,
            call,
            to,
            mid.transport,
            code,
            sdp,
            now,
        );
    }

    /// Answers a mid-call request; a 2xx to a re-INVITE over UDP is retransmitted until its
    /// ACK comes.
    #[allow(clippy::too_many_arguments)]
    fn answer_mid(
        &mut self,
        key: TxKey,
        req: &Request,
        call: &CallRef,
        side: Side,
        transport: TransportKind,
        code: u16,
        sdp: Option<String>,
        now: Instant,
    ) {
        let mut r = msg::response_to(req, code, reason(code));
        let ok = (200..300).contains(&code);
        if ok {
            r.headers.push(msg::make_header(
                "Contact",
                format!("<sip:pbxd@{}>", self.own_addr()),
            ));
            r.headers
                .push(msg::make_header("Allow", crate::sip::ALLOW.to_string()));
            if let Some(s) = &sdp {
                self.calls
                    .last_sdp
                    .insert((call.clone(), idx(side)), s.clone());
            }
        }
        let r = with_body(r, sdp.as_deref());
        if ok && req.method == msg::Method::Invite && transport == TransportKind::Udp {
            self.calls.mid_retx.insert(
                call.clone(),
                (
                    key,
                    OkRetx {
                        response: r.clone(),
                        next: now + T1,
                        interval: T1,
                        give_up: now + 64 * T1,
                    },
                ),
            );
        }
        self.respond(key, r, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_update_from_allow() {
        assert!(allows_update(Some("INVITE, ACK, BYE, UPDATE")));
        assert!(allows_update(Some("update")));
        assert!(!allows_update(Some("INVITE, ACK, UPDATED")));
        assert!(!allows_update(None));
    }
}
