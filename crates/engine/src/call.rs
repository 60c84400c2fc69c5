//! The B2BUA call state machine: one caller leg (A) and one or more forked callee legs (B), in
//! virtual time, without SIP message types.
//!
//! The SIP glue turns requests and responses into `handle_*` calls and the [`Action`]s drained
//! with [`Calls::poll_action`] back into SIP. SDP bodies are opaque strings; only the direction
//! attribute is read, to know whether a call is on hold.
//!
//! Every call given to [`Calls::handle_invite`] ends with exactly one [`Action::Cdr`] followed by
//! one [`Action::Released`]. Responses for legs of calls that are gone are absorbed; a late 2xx
//! still gets [`Action::AckAndBye`], so no phone is left with a half-open dialog.
//!
//! What the glue does around this core:
//! - sends 100 Trying, answers CANCEL and BYE with 200, ACKs the 2xx it sends to A, and absorbs
//!   retransmissions in the transaction layer; a retransmitted INVITE gives
//!   [`CallError::Duplicate`];
//! - reports every final response of a B leg, including its own Timer B (408) and transport
//!   errors (503), so that a round of forks can complete;
//! - answers 481 when a `handle_*` gives [`CallError::UnknownCall`];
//! - keeps the B dialog of the leg in [`Action::AckB`] for BYE, re-INVITE and UPDATE to side B;
//! - reports RTP now and then with [`Calls::handle_media_activity`] and adds codecs and quality
//!   to [`Action::Cdr`] before flushing it.

use pbx_model::extension::MAX_REGISTRATIONS_CEILING;
use pbx_model::{Afloop, Cdr, Direction, Forwarding, HangupBy, Party};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

/// At most this many forward hops per call; one more is a loop (482).
pub const MAX_FORWARD_HOPS: usize = 5;

/// At most this many forks (contacts rung at once) per callee.
pub const MAX_FORKS: usize = MAX_REGISTRATIONS_CEILING as usize;

/// Limits and timers of the call core.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// How long a callee rings when its extension has no no-answer forward.
    pub ring_timeout: Duration,
    /// Longest answered call; then both legs are hung up.
    pub max_call: Duration,
    /// An answered call without RTP from either leg for this long is hung up.
    pub media_timeout: Duration,
    /// The same while the call is on hold (no RTP is expected then, but a call whose phones
    /// are gone must still end).
    pub hold_timeout: Duration,
    /// Most calls at once over all organisations; more get 503.
    pub max_calls: usize,
    /// How long a trunk may stay silent after an INVITE (not even 100 Trying) before the next
    /// trunk of the group is tried.
    pub trunk_response_timeout: Duration,
    /// How long an outside number rings before the call gives up (480).
    pub outside_ring_timeout: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            ring_timeout: Duration::from_secs(60),
            max_call: Duration::from_secs(4 * 3600),
            media_timeout: Duration::from_secs(60),
            hold_timeout: Duration::from_secs(3600),
            max_calls: 10_000,
            trunk_response_timeout: Duration::from_secs(5),
            outside_ring_timeout: Duration::from_secs(120),
        }
    }
}

/// A reading of the clock, taken by the driver: monotonic for timers, Unix ms for records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    /// Monotonic time, for timers.
    pub at: Instant,
    /// Wall-clock time in Unix ms, for the CDR.
    pub unix_ms: u64,
}

impl Clock {
    /// A clock reading.
    pub fn new(at: Instant, unix_ms: u64) -> Clock {
        Clock { at, unix_ms }
    }

    /// The same clock `d` later (both halves move together). A duration beyond what `Instant`
    /// can hold leaves the monotonic half where it is.
    pub fn after(self, d: Duration) -> Clock {
        Clock {
            at: self.at.checked_add(d).unwrap_or(self.at),
            unix_ms: self
                .unix_ms
                .saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        }
    }
}

/// The glue's id of a call (unique in pbxd; becomes [`Cdr::id`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallRef(pub String);

impl From<&str> for CallRef {
    fn from(s: &str) -> CallRef {
        CallRef(s.to_string())
    }
}

impl From<String> for CallRef {
    fn from(s: String) -> CallRef {
        CallRef(s)
    }
}

impl fmt::Display for CallRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A registered contact of an extension, as the glue knows it (opaque here).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContactRef(pub String);

impl From<&str> for ContactRef {
    fn from(s: &str) -> ContactRef {
        ContactRef(s.to_string())
    }
}

/// One B leg: a fork of a call. It names its call, so the glue needs no lookup.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LegId {
    /// The call.
    pub call: CallRef,
    /// Number of the leg within the call, from 1.
    pub n: u32,
}

/// The caller's side (A) or the called side (B, the leg that answered).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Side {
    /// The caller.
    A,
    /// The called party.
    B,
}

impl Side {
    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }

    fn idx(self) -> usize {
        match self {
            Side::A => 0,
            Side::B => 1,
        }
    }
}

/// Which request carried a mid-call offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OfferMethod {
    /// re-INVITE.
    Invite,
    /// UPDATE (RFC 3311).
    Update,
}

/// The extension being called, as found by the glue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalleeInfo {
    /// Extension number.
    pub number: String,
    /// Display name.
    pub name: String,
    /// Its call forwarding.
    pub forwarding: Forwarding,
    /// Its registered contacts, in the order to ring them (all at once).
    pub contacts: Vec<ContactRef>,
}

/// How a hunt moves on from a step that did not answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HuntKind {
    /// The trunks of an outside call: the next trunk only when the provider failed (5xx, 408,
    /// silence for [`Config::trunk_response_timeout`]); a final answer of the called party (486,
    /// 404, 603 …) ends the call with that answer.
    Trunks,
    /// A belgroep: the next step after any failure or when the step's ring time is over; at
    /// the end the fallback.
    Group,
}

/// One step of a hunt: contacts rung at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HuntStep {
    /// What the step is, for the CDR and traces: the trunk name or the member's number.
    pub label: String,
    /// The contacts to ring (empty: the step fails at once with 480, or 503 for a trunk).
    pub contacts: Vec<ContactRef>,
    /// How long the step rings.
    pub ring: Duration,
}

/// Ringing steps one after the other (see [`HuntKind`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hunt {
    /// How failures move on.
    pub kind: HuntKind,
    /// The steps, in order.
    pub steps: Vec<HuntStep>,
    /// Where a belgroep's call goes when no step answered (a number, resolved like a forward).
    pub fallback: Option<String>,
}

/// Where a call (or a forward, or a keuzemenu choice) goes, as the glue resolved it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// An extension; `None` when there is no such extension (404).
    Extension(Option<CalleeInfo>),
    /// A belgroep or the trunks of an outside call.
    Hunt(Hunt),
    /// pbxd answers itself (announcement, keuzemenu): [`Action::Local`].
    Local,
    /// Refuse with this status.
    Reject(u16),
}

/// One trunk tried for a call, for the CDR.
pub use pbx_model::Attempt;

/// A decoded initial INVITE from an extension.
#[derive(Clone, Debug)]
pub struct InviteIn {
    /// The glue's id of the call.
    pub call_ref: CallRef,
    /// SIP Call-ID of the caller's leg (for the CDR).
    pub call_id: String,
    /// Organisation slug.
    pub tenant: String,
    /// The organisation's limit of simultaneous calls.
    pub tenant_max_calls: u32,
    /// The caller.
    pub caller: Party,
    /// The number dialled.
    pub callee_number: String,
    /// Where the call goes.
    pub target: Target,
    /// Internal, inbound from a trunk, or outbound.
    pub direction: Direction,
    /// 112: admitted even at the organisation's call limit.
    pub emergency: bool,
    /// Longest answered call, when shorter than [`Config::max_call`] (outside calls).
    pub max_call: Option<Duration>,
    /// The offer, or `None` for a delayed offer (the answer comes in A's ACK).
    pub offer_sdp: Option<String>,
    /// Max-Forwards of the request.
    pub max_forwards: u8,
}

/// Where a call is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallState {
    /// Waiting for a callee lookup or an outside route (after a forward).
    Routing,
    /// INVITEs are out to the callee's contacts.
    Ringing,
    /// A fork answered.
    Answered,
    /// Over (only seen in the view of [`CallEvent::Ended`]).
    Ended,
}

/// Where a B leg is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LegState {
    /// INVITE sent, no provisional response yet.
    Trying,
    /// A provisional response came.
    Ringing,
    /// It answered and won.
    Answered,
    /// CANCEL sent, waiting for the final response.
    Cancelling,
    /// It failed with this final status.
    Failed(u16),
    /// Done: a cancelled leg finished, or a late 2xx that was ACKed and BYEd.
    Ended,
}

impl LegState {
    fn live(self) -> bool {
        matches!(self, LegState::Trying | LegState::Ringing)
    }
}

/// A B leg in a [`CallView`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegView {
    /// Number of the leg within the call.
    pub n: u32,
    /// The contact it rings.
    pub contact: ContactRef,
    /// Its state.
    pub state: LegState,
}

/// A snapshot of a call, for `pbxctl calls`, pbxtop and the event stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallView {
    /// The call.
    pub id: CallRef,
    /// Organisation.
    pub tenant: String,
    /// Caller.
    pub caller: Party,
    /// The party dialled.
    pub callee: Party,
    /// Forward targets in order (empty when not forwarded).
    pub forwarded_to: Vec<String>,
    /// State.
    pub state: CallState,
    /// Every B leg so far.
    pub legs: Vec<LegView>,
    /// Start (Unix ms).
    pub started_ms: u64,
    /// Answer (Unix ms).
    pub answered_ms: Option<u64>,
    /// Is one side holding the other?
    pub on_hold: bool,
}

/// Which limit was reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitScope {
    /// The organisation's `max_calls`.
    Tenant,
    /// [`Config::max_calls`] of pbxd.
    System,
}

/// Events for the control API's event stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallEvent {
    /// A call was admitted.
    Started(CallView),
    /// The first provisional response came from a fork.
    Ringing(CallView),
    /// A fork answered.
    Answered(CallView),
    /// Forwarded, or put on or off hold.
    Updated(CallView),
    /// The call ended.
    Ended(CallView),
    /// A call was refused with 503 because of a limit.
    LimitReached {
        /// Organisation of the refused call.
        tenant: String,
        /// The limit.
        limit: u32,
        /// Whose limit.
        scope: LimitScope,
    },
}

/// What the glue must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send an INVITE to a contact: a new B leg.
    SendInvite {
        /// The new leg.
        leg: LegId,
        /// Where to.
        contact: ContactRef,
        /// The offer (A's offer, or none for a delayed offer).
        sdp: Option<String>,
        /// Max-Forwards for the new request.
        max_forwards: u8,
    },
    /// Send this provisional response to A.
    Provisional {
        /// The call.
        call: CallRef,
        /// 180 or 183 (or another 1xx from the fork).
        code: u16,
        /// Early media answer.
        sdp: Option<String>,
    },
    /// Send 200 OK to A.
    Answer {
        /// The call.
        call: CallRef,
        /// The winning fork's SDP.
        sdp: Option<String>,
    },
    /// Send this final error response to A's INVITE.
    Reject {
        /// The call.
        call: CallRef,
        /// Status code.
        code: u16,
    },
    /// CANCEL the INVITE of this leg.
    Cancel {
        /// The leg.
        leg: LegId,
    },
    /// ACK the 2xx of the winning leg (again for every retransmitted 2xx).
    AckB {
        /// The leg.
        leg: LegId,
        /// The answer for a delayed offer (from A's ACK); `None` otherwise.
        sdp: Option<String>,
    },
    /// ACK this 2xx and send BYE at once: a fork that answered too late.
    AckAndBye {
        /// The leg.
        leg: LegId,
    },
    /// Send BYE to one side of an answered call.
    Bye {
        /// The call.
        call: CallRef,
        /// A, or the winning B leg.
        to: Side,
    },
    /// Relay a mid-call offer to this side.
    Reinvite {
        /// The call.
        call: CallRef,
        /// Side to send it to.
        to: Side,
        /// re-INVITE or UPDATE.
        method: OfferMethod,
        /// The offer.
        sdp: Option<String>,
    },
    /// Answer a mid-call offer on this side (a relayed answer, or 491 Request Pending).
    ReinviteAnswer {
        /// The call.
        call: CallRef,
        /// Side that sent the offer.
        to: Side,
        /// Status code.
        code: u16,
        /// The answer.
        sdp: Option<String>,
    },
    /// Resolve this forward target (an extension, belgroep, outside number …) and call
    /// [`Calls::handle_target`], or [`Calls::handle_forward_failed`].
    NeedTarget {
        /// The call.
        call: CallRef,
        /// The number as configured.
        number: String,
        /// The extension whose forwarding (or belgroep whose fallback) this is: its owner's
        /// call permission applies to outside numbers.
        by: String,
    },
    /// pbxd itself is the far end (announcement, keuzemenu): the glue answers A
    /// ([`Calls::handle_local_answer`]), sends early media ([`Calls::handle_early`]), moves the
    /// call on ([`Calls::handle_target`]) or refuses it ([`Calls::handle_forward_failed`]).
    Local {
        /// The call.
        call: CallRef,
    },
    /// An event for the control API.
    Event(CallEvent),
    /// The record of the ended call; the glue adds media info, then flushes it.
    Cdr(Cdr),
    /// The call is gone; free its resources.
    Released {
        /// The call.
        call: CallRef,
    },
}

/// Why an input was not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallError {
    /// No such call (any more): answer 481.
    UnknownCall,
    /// The input does not fit the call's state (CANCEL after answer, re-INVITE before answer…).
    WrongState,
    /// A call with this id exists already (a retransmitted INVITE).
    Duplicate,
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CallError::UnknownCall => "unknown call",
            CallError::WrongState => "not possible in this call state",
            CallError::Duplicate => "call exists already",
        })
    }
}

impl std::error::Error for CallError {}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    /// Ringing (no answer) or waiting for a route.
    Ring,
    /// Longest call.
    MaxCall,
    /// No RTP.
    Media,
}

impl Timer {
    fn idx(self) -> usize {
        match self {
            Timer::Ring => 0,
            Timer::MaxCall => 1,
            Timer::Media => 2,
        }
    }
}

#[derive(Clone, Debug)]
struct Leg {
    n: u32,
    contact: ContactRef,
    round: u32,
    state: LegState,
}

/// What a call in [`CallState::Routing`] waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Await {
    /// [`Calls::handle_target`] for a forward.
    Target,
    /// The glue's media application ([`Action::Local`]).
    Local,
}

/// A hunt under way.
#[derive(Clone, Debug)]
struct HuntState {
    kind: HuntKind,
    steps: VecDeque<HuntStep>,
    fallback: Option<String>,
    /// The step now ringing: its label and ring time.
    current: Option<(String, Duration)>,
    /// Did the trunk of the current step answer anything yet (also 100 Trying)?
    heard: bool,
}

#[derive(Clone, Debug)]
struct Pending {
    from: Side,
    /// Hold state the offer asks for, when it has SDP.
    hold: Option<bool>,
}

#[derive(Clone, Debug)]
struct Call {
    id: CallRef,
    call_id: String,
    tenant: String,
    admitted: bool,
    caller: Party,
    callee: Party,
    offer: Option<String>,
    max_forwards: u8,
    state: CallState,
    awaiting: Option<Await>,
    /// Numbers this call was routed to: the callee first, then every forward target.
    chain: Vec<String>,
    /// Forwarding of the extension now being rung.
    forwarding: Forwarding,
    round: u32,
    next_leg: u32,
    legs: Vec<Leg>,
    winner: Option<u32>,
    relayed_provisional: bool,
    relayed_early_sdp: bool,
    /// Delayed offer: A's ACK carries the answer for the winner's ACK.
    ack_sdp: Option<String>,
    ack_waiting: bool,
    start_ms: u64,
    answer_ms: Option<u64>,
    pending: Option<Pending>,
    /// Held by A, held by B.
    held: [bool; 2],
    timers: [Option<Instant>; 3],
    direction: Direction,
    emergency: bool,
    max_call: Duration,
    hunt: Option<HuntState>,
    /// pbxd answered A itself (announcement, keuzemenu); a B leg may come later.
    local: bool,
    /// Trunks tried, and the one that carries the call.
    attempts: Vec<Attempt>,
    trunk: Option<String>,
}

impl Call {
    fn view(&self) -> CallView {
        CallView {
            id: self.id.clone(),
            tenant: self.tenant.clone(),
            caller: self.caller.clone(),
            callee: self.callee.clone(),
            forwarded_to: self.chain.iter().skip(1).cloned().collect(),
            state: self.state,
            legs: self
                .legs
                .iter()
                .map(|l| LegView {
                    n: l.n,
                    contact: l.contact.clone(),
                    state: l.state,
                })
                .collect(),
            started_ms: self.start_ms,
            answered_ms: self.answer_ms,
            on_hold: self.on_hold(),
        }
    }

    fn on_hold(&self) -> bool {
        self.held[0] || self.held[1]
    }

    fn leg_id(&self, n: u32) -> LegId {
        LegId {
            call: self.id.clone(),
            n,
        }
    }
}

/// The call core.
#[derive(Debug, Default)]
pub struct Calls {
    cfg: Config,
    calls: BTreeMap<CallRef, Call>,
    /// Timer index: (deadline, call, kind).
    timers: BTreeSet<(Instant, CallRef, Timer)>,
    per_tenant: HashMap<String, u32>,
    actions: VecDeque<Action>,
}

impl Calls {
    /// An empty core.
    pub fn new(cfg: Config) -> Calls {
        Calls {
            cfg,
            ..Calls::default()
        }
    }

    /// The next thing for the glue to do.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When [`Calls::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|t| t.0)
    }

    /// Admitted calls of an organisation now.
    pub fn active(&self, tenant: &str) -> u32 {
        self.per_tenant.get(tenant).copied().unwrap_or(0)
    }

    /// Number of calls.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// No calls?
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// Calls of one organisation, or all, oldest first.
    pub fn list(&self, tenant: Option<&str>) -> Vec<CallView> {
        let mut v: Vec<CallView> = self
            .calls
            .values()
            .filter(|c| tenant.is_none_or(|t| c.tenant == t))
            .map(Call::view)
            .collect();
        v.sort_by(|a, b| (a.started_ms, &a.id).cmp(&(b.started_ms, &b.id)));
        v
    }

    /// One call.
    pub fn get(&self, call: &CallRef) -> Option<CallView> {
        self.calls.get(call).map(Call::view)
    }

    /// An initial INVITE from an extension.
    pub fn handle_invite(&mut self, inv: InviteIn, now: Clock) -> Result<(), CallError> {
        if self.calls.contains_key(&inv.call_ref) {
            return Err(CallError::Duplicate);
        }
        let callee_name = match &inv.target {
            Target::Extension(Some(c)) => c.name.clone(),
            _ => String::new(),
        };
        let max_call = inv
            .max_call
            .map_or(self.cfg.max_call, |m| m.min(self.cfg.max_call));
        let mut call = Call {
            id: inv.call_ref,
            call_id: inv.call_id,
            tenant: inv.tenant,
            admitted: false,
            caller: inv.caller,
            callee: Party {
                number: inv.callee_number.clone(),
                name: callee_name,
            },
            offer: inv.offer_sdp,
            max_forwards: inv.max_forwards.saturating_sub(1),
            state: CallState::Routing,
            awaiting: None,
            chain: vec![inv.callee_number],
            forwarding: Forwarding::default(),
            round: 0,
            next_leg: 1,
            legs: Vec::new(),
            winner: None,
            relayed_provisional: false,
            relayed_early_sdp: false,
            ack_sdp: None,
            ack_waiting: false,
            start_ms: now.unix_ms,
            answer_ms: None,
            pending: None,
            held: [false; 2],
            timers: [None; 3],
            direction: inv.direction,
            emergency: inv.emergency,
            max_call,
            hunt: None,
            local: false,
            attempts: Vec::new(),
            trunk: None,
        };
        if inv.max_forwards == 0 {
            self.reject(&mut call, 483, HangupBy::Systeem, now);
            return Ok(());
        }
        if self.calls.len() >= self.cfg.max_calls && !call.emergency {
            self.limit(
                &mut call,
                u32::try_from(self.cfg.max_calls).unwrap_or(u32::MAX),
                LimitScope::System,
                now,
            );
            return Ok(());
        }
        let active = self.per_tenant.get(&call.tenant).copied().unwrap_or(0);
        if active >= inv.tenant_max_calls && !call.emergency {
            self.limit(&mut call, inv.tenant_max_calls, LimitScope::Tenant, now);
            return Ok(());
        }
        call.admitted = true;
        *self.per_tenant.entry(call.tenant.clone()).or_insert(0) += 1;
        self.actions
            .push_back(Action::Event(CallEvent::Started(call.view())));
        self.route(&mut call, inv.target, now);
        self.keep(call);
        Ok(())
    }

    /// The result of [`Action::NeedTarget`] for an extension number: the extension, or `None`
    /// when there is no such extension.
    pub fn handle_callee(
        &mut self,
        call: &CallRef,
        callee: Option<CalleeInfo>,
        now: Clock,
    ) -> Result<(), CallError> {
        self.handle_target(call, Target::Extension(callee), now)
    }

    /// The result of [`Action::NeedTarget`]: where the forward goes.
    pub fn handle_target(
        &mut self,
        call: &CallRef,
        target: Target,
        now: Clock,
    ) -> Result<(), CallError> {
        self.with_call(call, |s, c| {
            if c.awaiting != Some(Await::Target) {
                return Err(CallError::WrongState);
            }
            c.awaiting = None;
            s.route(c, target, now);
            Ok(())
        })
    }

    /// pbxd answers A itself after [`Action::Local`] (a keuzemenu, an announcement after
    /// answer): [`Action::Answer`] with `sdp`, the call counts as answered from now.
    pub fn handle_local_answer(
        &mut self,
        call: &CallRef,
        sdp: Option<String>,
        now: Clock,
    ) -> Result<(), CallError> {
        self.with_call(call, |s, c| {
            if c.awaiting != Some(Await::Local) || c.local {
                return Err(CallError::WrongState);
            }
            c.awaiting = None;
            c.local = true;
            c.state = CallState::Answered;
            c.answer_ms = Some(now.unix_ms);
            s.actions.push_back(Action::Answer {
                call: c.id.clone(),
                sdp,
            });
            set_timer(&mut s.timers, c, Timer::Ring, None);
            set_timer(
                &mut s.timers,
                c,
                Timer::MaxCall,
                now.at.checked_add(c.max_call),
            );
            set_timer(
                &mut s.timers,
                c,
                Timer::Media,
                now.at.checked_add(s.cfg.media_timeout),
            );
            s.actions
                .push_back(Action::Event(CallEvent::Answered(c.view())));
            Ok(())
        })
    }

    /// Early media from pbxd itself after [`Action::Local`] (an announcement before a refusal):
    /// 183 with `sdp` to A.
    pub fn handle_early(
        &mut self,
        call: &CallRef,
        sdp: Option<String>,
        _now: Clock,
    ) -> Result<(), CallError> {
        self.with_call(call, |s, c| {
            if c.awaiting != Some(Await::Local) || c.local {
                return Err(CallError::WrongState);
            }
            if !c.relayed_early_sdp {
                c.relayed_provisional = true;
                c.relayed_early_sdp = sdp.is_some();
                s.actions.push_back(Action::Provisional {
                    call: c.id.clone(),
                    code: 183,
                    sdp,
                });
            }
            Ok(())
        })
    }

    /// A call pbxd answered itself goes on to `target` (a keuzemenu choice): B legs get
    /// `offer` (the relay's offer for the media A already has).
    pub fn handle_transfer(
        &mut self,
        call: &CallRef,
        target: Target,
        offer: Option<String>,
        now: Clock,
    ) -> Result<(), CallError> {
        self.with_call(call, |s, c| {
            if !c.local || c.winner.is_some() || c.state != CallState::Answered {
                return Err(CallError::WrongState);
            }
            c.offer = offer;
            c.state = CallState::Ringing;
            s.route(c, target, now);
            Ok(())
        })
    }

    /// Blind transfer by B (direct doorverbinden): an answered call goes on to `target`
    /// without its B side. B gets a BYE; A keeps its dialog and its media port and hears the
    /// relay (pbxd's local mode) until a new B answers `offer` (the relay's offer for the media
    /// A already has). `to` is what B dialled, kept with the call's forwards for the CDR. When
    /// nobody answers, A gets a BYE, as after a keuzemenu.
    pub fn handle_blind_transfer(
        &mut self,
        call: &CallRef,
        target: Target,
        offer: Option<String>,
        to: &str,
        now: Clock,
    ) -> Result<(), CallError> {
        self.with_call(call, |s, c| {
            if c.state != CallState::Answered || c.winner.is_none() {
                return Err(CallError::WrongState);
            }
            s.actions.push_back(Action::Bye {
                call: c.id.clone(),
                to: Side::B,
            });
            c.winner = None;
            c.local = true;
            c.offer = offer;
            c.state = CallState::Ringing;
            c.chain.push(to.to_string());
            s.route(c, target, now);
            Ok(())
        })
    }

    /// The forward after [`Action::ForwardOutside`] (or a lookup) failed: reject A with `code`.
    pub fn handle_forward_failed(
        &mut self,
        call: &CallRef,
        code: u16,
        now: Clock,
    ) -> Result<(), CallError> {
        self.with_call(call, |s, c| {
            if c.awaiting.is_none() {
                return Err(CallError::WrongState);
            }
            let code = final_code(code);
            c.awaiting = None;
            s.reject(c, code, HangupBy::Systeem, now);
            Ok(())
        })
    }

    /// A response to the INVITE of a B leg. Timer B or a transport error is a 408 or 503 from
    /// the glue. Responses for unknown legs are absorbed (a late 2xx gets ACK and BYE).
    pub fn handle_response(&mut self, leg: &LegId, code: u16, sdp: Option<String>, now: Clock) {
        if !(100..=699).contains(&code) {
            return;
        }
        let res = self.with_call(&leg.call, |s, c| {
            s.response(c, leg.n, code, sdp, now);
            Ok(())
        });
        if res.is_err() && (200..=299).contains(&code) {
            self.actions
                .push_back(Action::AckAndBye { leg: leg.clone() });
        }
    }

    /// CANCEL from A (or BYE on A's early dialog).
    pub fn handle_cancel(&mut self, call: &CallRef, now: Clock) -> Result<(), CallError> {
        self.with_call(call, |s, c| {
            if c.state == CallState::Answered || c.local {
                return Err(CallError::WrongState);
            }
            s.reject(c, 487, HangupBy::Beller, now);
            Ok(())
        })
    }

    /// A's ACK of the 2xx; `sdp` is the answer to a delayed offer.
    pub fn handle_ack(
        &mut self,
        call: &CallRef,
        sdp: Option<String>,
        _now: Clock,
    ) -> Result<(), CallError> {
        self.with_call(call, |s, c| {
            let (Some(n), CallState::Answered) = (c.winner, c.state) else {
                return Err(CallError::WrongState);
            };
            if c.ack_waiting {
                c.ack_waiting = false;
                c.ack_sdp = sdp.clone();
                s.actions.push_back(Action::AckB {
                    leg: c.leg_id(n),
                    sdp,
                });
            }
            Ok(())
        })
    }

    /// BYE from one side of an answered call. A BYE from A before answer is a CANCEL.
    pub fn handle_bye(&mut self, call: &CallRef, from: Side, now: Clock) -> Result<(), CallError> {
        self.with_call(call, |s, c| match (c.state, from) {
            (CallState::Ringing | CallState::Routing, Side::A) if c.local => {
                // A hung up while pbxd had it (keuzemenu) or while a transfer rang.
                s.cancel_live(c);
                s.end(c, 200, HangupBy::Beller, now);
                Ok(())
            }
            (CallState::Answered, _) => {
                s.actions.push_back(Action::Bye {
                    call: c.id.clone(),
                    to: from.other(),
                });
                let by = match from {
                    Side::A => HangupBy::Beller,
                    Side::B => HangupBy::Gebelde,
                };
                s.end(c, 200, by, now);
                Ok(())
            }
            (_, Side::A) => {
                s.reject(c, 487, HangupBy::Beller, now);
                Ok(())
            }
            (_, Side::B) => Err(CallError::WrongState),
        })
    }

    /// Ends a call from outside (`pbxctl call hangup`: [`HangupBy::Systeem`]).
    pub fn handle_hangup(
        &mut self,
        call: &CallRef,
        by: HangupBy,
        now: Clock,
    ) -> Result<(), CallError> {
        self.with_call(call, |s, c| {
            s.hang_up(c, by, now);
            Ok(())
        })
    }

    /// A re-INVITE or UPDATE with an offer from one side of an answered call.
    pub fn handle_reinvite(
        &mut self,
        call: &CallRef,
        from: Side,
        method: OfferMethod,
        sdp: Option<String>,
        _now: Clock,
    ) -> Result<(), CallError> {
        self.with_call(call, |s, c| {
            if c.state != CallState::Answered {
                return Err(CallError::WrongState);
            }
            if c.pending.is_some() {
                // RFC 3261 §14.2: an offer while one is outstanding.
                s.actions.push_back(Action::ReinviteAnswer {
                    call: c.id.clone(),
                    to: from,
                    code: 491,
                    sdp: None,
                });
                return Ok(());
            }
            c.pending = Some(Pending {
                from,
                hold: sdp.as_deref().map(sdp_holds),
            });
            s.actions.push_back(Action::Reinvite {
                call: c.id.clone(),
                to: from.other(),
                method,
                sdp,
            });
            Ok(())
        })
    }

    /// The response of `from` to a relayed mid-call offer.
    pub fn handle_reinvite_answer(
        &mut self,
        call: &CallRef,
        from: Side,
        code: u16,
        sdp: Option<String>,
        now: Clock,
    ) -> Result<(), CallError> {
        self.with_call(call, |s, c| {
            let Some(p) = c.pending.clone() else {
                return Err(CallError::WrongState);
            };
            if p.from != from.other() || c.state != CallState::Answered {
                return Err(CallError::WrongState);
            }
            s.actions.push_back(Action::ReinviteAnswer {
                call: c.id.clone(),
                to: p.from,
                code,
                sdp,
            });
            if code < 200 {
                return Ok(());
            }
            c.pending = None;
            if let (Some(hold), 200..=299) = (p.hold, code) {
                let was = c.on_hold();
                c.held[p.from.idx()] = hold;
                if was != c.on_hold() {
                    // No RTP is expected while held: the longer hold timeout applies.
                    let media = now.at.checked_add(if c.on_hold() {
                        s.cfg.hold_timeout
                    } else {
                        s.cfg.media_timeout
                    });
                    set_timer(&mut s.timers, c, Timer::Media, media);
                    s.actions
                        .push_back(Action::Event(CallEvent::Updated(c.view())));
                }
            }
            Ok(())
        })
    }

    /// RTP came on a leg of this call (the glue reports it now and then, not per packet).
    pub fn handle_media_activity(&mut self, call: &CallRef, now: Clock) -> Result<(), CallError> {
        self.with_call(call, |s, c| {
            if c.state == CallState::Answered {
                let at = now.at.checked_add(if c.on_hold() {
                    s.cfg.hold_timeout
                } else {
                    s.cfg.media_timeout
                });
                set_timer(&mut s.timers, c, Timer::Media, at);
            }
            Ok(())
        })
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Clock) {
        while let Some((at, id, kind)) = self.timers.first().cloned() {
            if at > now.at {
                break;
            }
            self.timers.pop_first();
            let _ = self.with_call(&id, |s, c| {
                if c.timers[kind.idx()] == Some(at) {
                    c.timers[kind.idx()] = None;
                    s.fire(c, kind, now);
                }
                Ok(())
            });
        }
    }

    // ---- inside ----

    /// Runs `f` on a call taken out of the table; puts it back unless it ended.
    fn with_call<F>(&mut self, id: &CallRef, f: F) -> Result<(), CallError>
    where
        F: FnOnce(&mut Calls, &mut Call) -> Result<(), CallError>,
    {
        let Some(mut call) = self.calls.remove(id) else {
            return Err(CallError::UnknownCall);
        };
        let res = f(self, &mut call);
        self.keep(call);
        res
    }

    fn keep(&mut self, call: Call) {
        if call.state != CallState::Ended {
            self.calls.insert(call.id.clone(), call);
        }
    }

    fn limit(&mut self, c: &mut Call, limit: u32, scope: LimitScope, now: Clock) {
        self.actions
            .push_back(Action::Event(CallEvent::LimitReached {
                tenant: c.tenant.clone(),
                limit,
                scope,
            }));
        self.reject(c, 503, HangupBy::Systeem, now);
    }

    /// Rings the target, forwards, hands the call to the glue, or rejects.
    fn route(&mut self, c: &mut Call, target: Target, now: Clock) {
        c.hunt = None;
        let callee = match target {
            Target::Extension(Some(callee)) => callee,
            Target::Extension(None) => return self.reject(c, 404, HangupBy::Systeem, now),
            Target::Reject(code) => {
                return self.reject(c, final_code(code), HangupBy::Systeem, now);
            }
            Target::Local => {
                c.state = CallState::Routing;
                c.awaiting = Some(Await::Local);
                if !c.local {
                    // Guards the glue: a call it never answers or refuses ends.
                    set_timer(
                        &mut self.timers,
                        c,
                        Timer::Ring,
                        now.at.checked_add(self.cfg.ring_timeout),
                    );
                }
                self.actions.push_back(Action::Local { call: c.id.clone() });
                return;
            }
            Target::Hunt(h) => {
                c.forwarding = Forwarding::default();
                c.hunt = Some(HuntState {
                    kind: h.kind,
                    steps: h.steps.into(),
                    fallback: h.fallback,
                    current: None,
                    heard: false,
                });
                return self.next_step(c, now);
            }
        };
        c.forwarding = callee.forwarding.clone();
        if let Some(t) = &callee.forwarding.always {
            self.forward(c, t.clone(), now);
        } else if callee.contacts.is_empty() {
            match &callee.forwarding.no_answer {
                Some(t) => self.forward(c, t.clone(), now),
                None => self.reject(c, 480, HangupBy::Systeem, now),
            }
        } else {
            self.fork(c, &callee, now);
        }
    }

    fn fork(&mut self, c: &mut Call, callee: &CalleeInfo, now: Clock) {
        let ring = if callee.forwarding.no_answer.is_some() {
            Duration::from_secs(u64::from(callee.forwarding.no_answer_secs))
        } else {
            self.cfg.ring_timeout
        };
        self.fork_contacts(c, &callee.contacts, ring, now);
    }

    /// The next step of the hunt; when none is left, the fallback or the best answer.
    fn next_step(&mut self, c: &mut Call, now: Clock) {
        loop {
            let Some(h) = c.hunt.as_mut() else { return };
            let Some(step) = h.steps.pop_front() else {
                let (kind, fallback) = (h.kind, h.fallback.take());
                c.hunt = None;
                match (kind, fallback) {
                    (HuntKind::Group, Some(f)) => self.forward(c, f, now),
                    (HuntKind::Group, None) => self.reject(c, 480, HangupBy::Systeem, now),
                    (HuntKind::Trunks, _) => {
                        let codes: Vec<u16> = c.attempts.iter().map(|a| a.code).collect();
                        let code = if codes.iter().any(|&x| provider_failed(x)) {
                            503
                        } else {
                            best_response(&codes)
                        };
                        self.reject(c, code, HangupBy::Systeem, now)
                    }
                }
                return;
            };
            if step.contacts.is_empty() {
                if h.kind == HuntKind::Trunks {
                    c.attempts.push(Attempt {
                        trunk: step.label,
                        code: 503,
                    });
                }
                continue;
            }
            let ring = match h.kind {
                HuntKind::Trunks => self.cfg.trunk_response_timeout.min(step.ring),
                HuntKind::Group => step.ring,
            };
            h.current = Some((step.label, step.ring));
            h.heard = false;
            self.fork_contacts(c, &step.contacts, ring, now);
            return;
        }
    }

    /// The trunk of the current step gave up (`code`): the next trunk when the provider failed,
    /// else the end of the call with the called party's answer.
    fn trunk_failed(&mut self, c: &mut Call, code: u16, now: Clock) {
        if let Some((label, _)) = c.hunt.as_mut().and_then(|h| h.current.take()) {
            c.attempts.push(Attempt { trunk: label, code });
        }
        if provider_failed(code) {
            self.next_step(c, now);
        } else {
            c.hunt = None;
            self.reject(c, code, HangupBy::Gebelde, now);
        }
    }

    fn fork_contacts(&mut self, c: &mut Call, contacts: &[ContactRef], ring: Duration, now: Clock) {
        c.round += 1;
        c.state = CallState::Ringing;
        for contact in contacts.iter().take(MAX_FORKS) {
            let n = c.next_leg;
            c.next_leg += 1;
            c.legs.push(Leg {
                n,
                contact: contact.clone(),
                round: c.round,
                state: LegState::Trying,
            });
            self.actions.push_back(Action::SendInvite {
                leg: c.leg_id(n),
                contact: contact.clone(),
                sdp: c.offer.clone(),
                max_forwards: c.max_forwards,
            });
        }
        set_timer(&mut self.timers, c, Timer::Ring, now.at.checked_add(ring));
        if c.round > 1 {
            self.actions
                .push_back(Action::Event(CallEvent::Updated(c.view())));
        }
    }

    fn forward(&mut self, c: &mut Call, target: String, now: Clock) {
        self.cancel_live(c);
        if c.chain.len() > MAX_FORWARD_HOPS || c.chain.contains(&target) {
            self.reject(c, 482, HangupBy::Systeem, now);
            return;
        }
        c.chain.push(target.clone());
        c.state = CallState::Routing;
        // Guards the wait for the glue as well.
        set_timer(
            &mut self.timers,
            c,
            Timer::Ring,
            now.at.checked_add(self.cfg.ring_timeout),
        );
        let by = c.chain[c.chain.len() - 2].clone();
        c.awaiting = Some(Await::Target);
        self.actions.push_back(Action::NeedTarget {
            call: c.id.clone(),
            number: target,
            by,
        });
        self.actions
            .push_back(Action::Event(CallEvent::Updated(c.view())));
    }

    fn response(&mut self, c: &mut Call, n: u32, code: u16, sdp: Option<String>, now: Clock) {
        let Some(i) = c.legs.iter().position(|l| l.n == n) else {
            if (200..=299).contains(&code) {
                self.actions
                    .push_back(Action::AckAndBye { leg: c.leg_id(n) });
            }
            return;
        };
        let leg_state = c.legs[i].state;
        let current = c.legs[i].round == c.round && c.state == CallState::Ringing;
        if (100..=199).contains(&code) && current && leg_state.live() {
            self.heard(c, now);
        }
        match code {
            100 => {}
            101..=199 => {
                if !(current && leg_state.live()) {
                    return;
                }
                c.legs[i].state = LegState::Ringing;
                if c.local {
                    // A was answered by pbxd: it hears the keuzemenu's ringback, not B's.
                    return;
                }
                let first = !c.relayed_provisional;
                let early = sdp.is_some() && !c.relayed_early_sdp;
                if first || early {
                    c.relayed_provisional = true;
                    c.relayed_early_sdp |= sdp.is_some();
                    self.actions.push_back(Action::Provisional {
                        call: c.id.clone(),
                        code,
                        sdp,
                    });
                }
                if first {
                    self.actions
                        .push_back(Action::Event(CallEvent::Ringing(c.view())));
                }
            }
            200..=299 => {
                if current && leg_state.live() {
                    self.answer(c, i, sdp, now);
                } else if c.winner == Some(n) {
                    if !c.ack_waiting {
                        self.actions.push_back(Action::AckB {
                            leg: c.leg_id(n),
                            sdp: c.ack_sdp.clone(),
                        });
                    }
                } else {
                    c.legs[i].state = LegState::Ended;
                    self.actions
                        .push_back(Action::AckAndBye { leg: c.leg_id(n) });
                }
            }
            _ => {
                match leg_state {
                    LegState::Trying | LegState::Ringing => {
                        c.legs[i].state = LegState::Failed(code)
                    }
                    LegState::Cancelling => c.legs[i].state = LegState::Ended,
                    _ => return,
                }
                if current && self.round_failed(c) {
                    self.all_failed(c, now);
                }
            }
        }
    }

    /// The trunk of the current step answered something: it is alive, so the call now rings
    /// for the step's full ring time and no longer fails over on silence.
    fn heard(&mut self, c: &mut Call, now: Clock) {
        let Some(h) = c.hunt.as_mut() else { return };
        if h.kind != HuntKind::Trunks || h.heard {
            return;
        }
        h.heard = true;
        let ring = h
            .current
            .as_ref()
            .map_or(self.cfg.outside_ring_timeout, |s| s.1);
        set_timer(&mut self.timers, c, Timer::Ring, now.at.checked_add(ring));
    }

    fn round_failed(&self, c: &Call) -> bool {
        c.legs
            .iter()
            .filter(|l| l.round == c.round)
            .all(|l| matches!(l.state, LegState::Failed(_)))
    }

    /// Every fork of the current round failed: forward or reject with the best response.
    fn all_failed(&mut self, c: &mut Call, now: Clock) {
        let codes: Vec<u16> = c
            .legs
            .iter()
            .filter(|l| l.round == c.round)
            .filter_map(|l| match l.state {
                LegState::Failed(code) => Some(code),
                _ => None,
            })
            .collect();
        let best = best_response(&codes);
        match c.hunt.as_ref().map(|h| h.kind) {
            Some(HuntKind::Trunks) => return self.trunk_failed(c, best, now),
            Some(HuntKind::Group) => return self.next_step(c, now),
            None => {}
        }
        let target = match best {
            486 | 600 => c.forwarding.busy.clone(),
            408 | 480 => c.forwarding.no_answer.clone(),
            _ => None,
        };
        match target {
            Some(t) => self.forward(c, t, now),
            None => self.reject(c, best, HangupBy::Gebelde, now),
        }
    }

    fn answer(&mut self, c: &mut Call, i: usize, sdp: Option<String>, now: Clock) {
        let n = c.legs[i].n;
        c.legs[i].state = LegState::Answered;
        c.winner = Some(n);
        c.state = CallState::Answered;
        if let Some(h) = c.hunt.take() {
            if let (HuntKind::Trunks, Some((label, _))) = (h.kind, h.current) {
                c.attempts.push(Attempt {
                    trunk: label.clone(),
                    code: 200,
                });
                c.trunk = Some(label);
            }
        }
        if c.local {
            // A was answered by pbxd long ago; B joins the media A already has.
            self.actions.push_back(Action::AckB {
                leg: c.leg_id(n),
                sdp: None,
            });
            self.cancel_live(c);
            set_timer(&mut self.timers, c, Timer::Ring, None);
            self.actions
                .push_back(Action::Event(CallEvent::Answered(c.view())));
            return;
        }
        c.answer_ms = Some(now.unix_ms);
        if c.offer.is_some() {
            self.actions.push_back(Action::AckB {
                leg: c.leg_id(n),
                sdp: None,
            });
        } else {
            c.ack_waiting = true;
        }
        self.actions.push_back(Action::Answer {
            call: c.id.clone(),
            sdp,
        });
        self.cancel_live(c);
        set_timer(&mut self.timers, c, Timer::Ring, None);
        set_timer(
            &mut self.timers,
            c,
            Timer::MaxCall,
            now.at.checked_add(c.max_call),
        );
        set_timer(
            &mut self.timers,
            c,
            Timer::Media,
            now.at.checked_add(self.cfg.media_timeout),
        );
        self.actions
            .push_back(Action::Event(CallEvent::Answered(c.view())));
    }

    fn cancel_live(&mut self, c: &mut Call) {
        for l in c.legs.iter_mut().filter(|l| l.state.live()) {
            l.state = LegState::Cancelling;
            self.actions.push_back(Action::Cancel {
                leg: LegId {
                    call: c.id.clone(),
                    n: l.n,
                },
            });
        }
    }

    fn fire(&mut self, c: &mut Call, kind: Timer, now: Clock) {
        match (kind, c.state) {
            (Timer::Ring, CallState::Ringing) if c.hunt.is_some() => {
                self.cancel_live(c);
                let (kind, heard) = c
                    .hunt
                    .as_ref()
                    .map_or((HuntKind::Group, false), |h| (h.kind, h.heard));
                match (kind, heard) {
                    // The provider never answered: the next trunk.
                    (HuntKind::Trunks, false) => self.trunk_failed(c, 408, now),
                    // The outside number rang too long.
                    (HuntKind::Trunks, true) => {
                        if let Some((label, _)) = c.hunt.as_mut().and_then(|h| h.current.take()) {
                            c.attempts.push(Attempt {
                                trunk: label.clone(),
                                code: 480,
                            });
                            c.trunk = Some(label);
                        }
                        c.hunt = None;
                        self.reject(c, 480, HangupBy::Systeem, now)
                    }
                    (HuntKind::Group, _) => self.next_step(c, now),
                }
            }
            (Timer::Ring, CallState::Ringing) => {
                self.cancel_live(c);
                match c.forwarding.no_answer.clone() {
                    Some(t) => self.forward(c, t, now),
                    None => self.reject(c, 480, HangupBy::Systeem, now),
                }
            }
            (Timer::Ring, CallState::Routing) => self.reject(c, 480, HangupBy::Systeem, now),
            (Timer::MaxCall | Timer::Media, state) if state == CallState::Answered || c.local => {
                self.hang_up(c, HangupBy::Systeem, now)
            }
            _ => {}
        }
    }

    fn hang_up(&mut self, c: &mut Call, by: HangupBy, now: Clock) {
        if c.state == CallState::Answered || c.local {
            self.cancel_live(c);
            for to in [Side::A, Side::B] {
                self.actions.push_back(Action::Bye {
                    call: c.id.clone(),
                    to,
                });
            }
            self.end(c, 200, by, now);
        } else {
            self.reject(c, 487, by, now);
        }
    }

    /// Ends a call that was not answered: CANCEL what still rings, answer A with `code`.
    fn reject(&mut self, c: &mut Call, code: u16, by: HangupBy, now: Clock) {
        self.cancel_live(c);
        if c.local {
            // A has pbxd's 200 already: a transfer that failed ends with BYE.
            self.actions.push_back(Action::Bye {
                call: c.id.clone(),
                to: Side::A,
            });
        } else {
            self.actions.push_back(Action::Reject {
                call: c.id.clone(),
                code,
            });
        }
        self.end(c, code, by, now);
    }

    /// The call is over: CDR, event, release.
    fn end(&mut self, c: &mut Call, code: u16, by: HangupBy, now: Clock) {
        let answered = c.answer_ms.is_some();
        let (afloop, sip_code) = if answered {
            (Afloop::Beantwoord, 200)
        } else {
            (Afloop::from_sip(code), code)
        };
        for kind in [Timer::Ring, Timer::MaxCall, Timer::Media] {
            set_timer(&mut self.timers, c, kind, None);
        }
        c.state = CallState::Ended;
        c.pending = None;
        self.actions.push_back(Action::Cdr(Cdr {
            id: c.id.0.clone(),
            tenant: c.tenant.clone(),
            call_id: c.call_id.clone(),
            caller: c.caller.clone(),
            callee: c.callee.clone(),
            forwarded_to: c.chain.iter().skip(1).cloned().collect(),
            direction: c.direction,
            start_ms: c.start_ms,
            answer_ms: c.answer_ms,
            end_ms: now.unix_ms.max(c.start_ms),
            afloop,
            sip_code,
            hangup_by: by,
            codecs: Vec::new(),
            legs: Vec::new(),
            trunk: c
                .trunk
                .clone()
                .or_else(|| c.attempts.last().map(|a| a.trunk.clone())),
            attempts: std::mem::take(&mut c.attempts),
            quality: None,
            notes: String::new(),
            afcodering: None,
        }));
        if c.admitted {
            c.admitted = false;
            if let Some(n) = self.per_tenant.get_mut(&c.tenant) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.per_tenant.remove(&c.tenant);
                }
            }
            self.actions
                .push_back(Action::Event(CallEvent::Ended(c.view())));
        }
        self.actions
            .push_back(Action::Released { call: c.id.clone() });
    }
}

/// Sets or clears a timer of a call and its index entry. `None` also stands for a deadline too
/// far away for `Instant`: such a timer never fires.
fn set_timer(
    index: &mut BTreeSet<(Instant, CallRef, Timer)>,
    c: &mut Call,
    kind: Timer,
    at: Option<Instant>,
) {
    if let Some(old) = c.timers[kind.idx()].take() {
        index.remove(&(old, c.id.clone(), kind));
    }
    if let Some(at) = at {
        index.insert((at, c.id.clone(), kind));
        c.timers[kind.idx()] = Some(at);
    }
}

/// A refusal status as given by the glue: a final error (4xx–6xx), else 503.
fn final_code(code: u16) -> u16 {
    if (400..=699).contains(&code) {
        code
    } else {
        503
    }
}

/// Does this final answer of a trunk say the provider failed (then the next trunk is tried),
/// rather than the called party answering (486, 404, 603 …)?
fn provider_failed(code: u16) -> bool {
    (500..=599).contains(&code) || code == 408
}

/// Does this SDP put the other side on hold? True when it has direction attributes and all are
/// `a=sendonly` or `a=inactive` (a media-level `a=sendrecv` overrides a session-level one).
pub fn sdp_holds(sdp: &str) -> bool {
    let mut any = false;
    for line in sdp.lines().map(str::trim) {
        match line {
            "a=sendonly" | "a=inactive" => any = true,
            "a=sendrecv" | "a=recvonly" => return false,
            _ => {}
        }
    }
    any
}

/// The response for A when every fork failed (RFC 3261 §16.7 step 6, as a B2BUA): a 6xx wins;
/// otherwise the lowest class; within 4xx 486 first, then other 4xx, 480, 408, and 404 last.
/// 3xx from a phone is not followed and counts as 480. An empty list gives 480.
pub fn best_response(codes: &[u16]) -> u16 {
    fn rank(code: u16) -> (u8, u8, u16) {
        match code {
            600..=699 => (0, 0, code),
            486 => (1, 0, code),
            480 => (1, 2, code),
            408 => (1, 3, code),
            404 => (1, 4, code),
            400..=499 => (1, 1, code),
            _ => (2, 0, code),
        }
    }
    codes
        .iter()
        .map(|&c| if (300..=399).contains(&c) { 480 } else { c })
        .min_by_key(|&c| rank(c))
        .unwrap_or(480)
}
