//! SIP transactions (RFC 3261 §17, with the Accepted states of RFC 6026), without I/O.
//!
//! [`TransactionLayer`] holds the four state machines — client INVITE, client non-INVITE, server
//! INVITE, server non-INVITE — for any number of transactions. It is driven with
//! `handle_incoming`, `send_request`, `send_response`, `handle_transport_error` and
//! `handle_timeout`, each given the current `now`; its output is drained with
//! [`poll_transmit`](TransactionLayer::poll_transmit) and
//! [`poll_event`](TransactionLayer::poll_event) until `None`, and the next deadline comes from
//! [`poll_timeout`](TransactionLayer::poll_timeout). It never reads a clock or a socket.
//!
//! # Matching
//! * Client (§17.1.3): top Via branch of the response + CSeq method.
//! * Server (§17.2.3), branch with the magic cookie `z9hG4bK`: branch + sent-by of the top Via
//!   (compared as written, lower-cased; `host` and `host:5060` differ) + method, where ACK and
//!   CANCEL look up the INVITE.
//! * RFC 2543 fallback (no magic cookie), deliberately simple: Request-URI, From tag, Call-ID,
//!   CSeq number, method (ACK → INVITE) and the complete top Via value must be equal; then the
//!   To tag must equal the request's To tag, or for an ACK the To tag of the final response the
//!   transaction sent.
//!
//! # Decisions
//! * Responses from a server transaction go to the source address and transport the request came
//!   from (symmetric response routing, as with `rport`/connection reuse) rather than to the Via
//!   sent-by of §18.2.2.
//! * Timer D is `max(32 s, 64·T1)` on unreliable transports; D, I, J and K are zero on reliable
//!   ones (the transaction then terminates at the next `handle_timeout(now)`); A, E and G are not
//!   used on reliable transports.
//! * The 100 Trying of a server INVITE transaction is sent after `trying_delay` (200 ms) unless
//!   the TU answered first; a retransmitted INVITE in Proceeding gets the latest provisional.
//! * CANCEL is answered by the layer: 200 when it matches an INVITE server transaction (and the TU
//!   gets [`TuEvent::Cancelled`] while that INVITE is still in Proceeding; the TU sends the 487),
//!   481 otherwise. The CANCEL has its own (internal) non-INVITE server transaction, so its
//!   retransmissions get the same answer; the TU never sees its key.
//! * An ACK that matches no transaction (the ACK for a 2xx) goes to the TU as
//!   [`TuEvent::Ack`] with `key: None`; one matching an INVITE server transaction in Accepted goes
//!   up with its key. ACKs in Completed/Confirmed are absorbed.
//! * Over [`Config::max_transactions`] live transactions a new server request (not ACK) is
//!   answered statelessly with 503 + Retry-After and counted; `send_request` returns
//!   [`TransactionError::Overloaded`]. A matching CANCEL is still answered (statelessly). The
//!   ACK for such a 503 is recognised by its To tag (derived from the request) and absorbed.
//! * A client INVITE in Proceeding has no timer (§17.1.1.2) and a server transaction waits for
//!   its TU: the TU ends those with [`TransactionLayer::abort`] when it gives up.
//! * Responses matching no client transaction are dropped and counted (§18.1.2).

mod wire;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rsipstack::sip::{Method, Request, Response, SipMessage};

use wire::{RequestInfo, ResponseInfo};

/// RFC 3261 timer base values (Table 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// Round-trip estimate; default 500 ms.
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses; default 4 s.
    pub t2: Duration,
    /// Maximum time a message stays in the network; default 5 s.
    pub t4: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl TimerConfig {
    /// 64·T1: timers B, F, H, J (unreliable), L, M.
    pub fn t1x64(&self) -> Duration {
        self.t1.saturating_mul(64)
    }
}

/// Configuration of a [`TransactionLayer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub timers: TimerConfig,
    /// Live transactions (client + server) at most; new server requests beyond it get 503.
    pub max_transactions: usize,
    /// Seconds in the Retry-After of the overload 503.
    pub retry_after_secs: u32,
    /// Delay before a server INVITE transaction sends 100 Trying itself (§17.2.1); `None` never.
    pub trying_delay: Option<Duration>,
    /// Mixed into the To tags the layer generates (503, 481, 200 to CANCEL); the driver should
    /// give a random value.
    pub tag_seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            timers: TimerConfig::default(),
            max_transactions: 10_000,
            retry_after_secs: 5,
            trying_delay: Some(Duration::from_millis(200)),
            tag_seed: 0,
        }
    }
}

/// The transport a message travels over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    Udp,
    Tcp,
    Tls,
    Ws,
    Wss,
}

impl TransportKind {
    /// Reliable transports need no retransmissions (§17.1.1.2 and others).
    pub fn is_reliable(self) -> bool {
        !matches!(self, Self::Udp)
    }
}

/// Handle of one transaction. Keys are never reused; a stale key is simply unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TxKey(u64);

/// Bytes to put on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The transaction that sent it (`None` for stateless answers), for
    /// [`TransactionLayer::handle_transport_error`].
    pub key: Option<TxKey>,
    pub dest: SocketAddr,
    pub transport: TransportKind,
    pub bytes: Bytes,
}

/// Something the transaction user (UA core, dialog layer) has to know.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TuEvent {
    /// A new request created a server transaction; answer it with `send_response(key, …)`.
    Request {
        key: TxKey,
        request: Request,
        source: SocketAddr,
        transport: TransportKind,
    },
    /// A response for a client transaction (including 2xx retransmissions in Accepted).
    Response { key: TxKey, response: Response },
    /// Timer B or F fired: the request got no final response; `response` is a synthesised 408.
    Timeout { key: TxKey, response: Response },
    /// Timer H fired: the final non-2xx response of a server INVITE transaction was never ACKed.
    AckTimeout { key: TxKey },
    /// The transport failed for this transaction (reported with `handle_transport_error`).
    TransportError { key: TxKey },
    /// The transaction is gone; its key is stale from now on.
    Terminated { key: TxKey },
    /// An ACK for a 2xx: matching no transaction (`key: None`, the usual case) or an INVITE
    /// server transaction in Accepted. The dialog layer handles it.
    Ack {
        key: Option<TxKey>,
        request: Request,
        source: SocketAddr,
        transport: TransportKind,
    },
    /// A CANCEL matched this INVITE server transaction in Proceeding; 200 was sent to the CANCEL.
    /// The TU should answer the INVITE with 487.
    Cancelled { invite: TxKey, request: Request },
}

/// State of a live transaction (a terminated one is gone: [`TransactionLayer::state`] is `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxState {
    Calling,
    Trying,
    Proceeding,
    Completed,
    Confirmed,
    Accepted,
}

/// Which of the four machines a transaction runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxKind {
    ClientInvite,
    ClientNonInvite,
    ServerInvite,
    ServerNonInvite,
}

/// Errors of the TU-facing calls. Nothing here is fatal; the layer is unchanged by a failed call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransactionError {
    #[error("request has no top via with an rfc 3261 branch")]
    MissingBranch,
    #[error("request lacks a usable via, cseq, call-id, from or to")]
    MalformedRequest,
    #[error("cseq method does not match the request method")]
    CseqMethodMismatch,
    #[error("ack is not sent in a transaction")]
    AckIsNotATransaction,
    #[error("a transaction with this branch and method already exists")]
    Duplicate,
    #[error("too many live transactions")]
    Overloaded,
    #[error("unknown transaction")]
    UnknownTransaction,
    #[error("not a server transaction")]
    NotAServerTransaction,
    #[error("status code out of range")]
    BadStatus,
    #[error("response not allowed in state {0:?}")]
    InvalidState(TxState),
}

/// Counters for things dropped or refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// New server requests refused with 503 because of `max_transactions`.
    pub overload_rejections: u64,
    /// Incoming messages without the fields matching needs.
    pub malformed: u64,
    /// Responses matching no client transaction.
    pub stray_responses: u64,
    /// CANCELs answered with 481.
    pub unmatched_cancels: u64,
    /// Request retransmissions absorbed or answered by a server transaction.
    pub request_retransmissions: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Timer {
    A,
    B,
    D,
    E,
    F,
    K,
    G,
    H,
    I,
    J,
    L,
    M,
    /// Send 100 Trying if the TU has not answered (§17.2.1).
    Trying,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum IndexKey {
    Client {
        branch: String,
        method: Method,
    },
    Rfc3261 {
        branch: String,
        sent_by: String,
        method: Method,
    },
    Rfc2543 {
        request_uri: String,
        from_tag: Option<String>,
        call_id: String,
        cseq: u32,
        method: Method,
        top_via: String,
    },
}

impl IndexKey {
    /// The server key of `req` when looked up as `method` (ACK and CANCEL look up INVITE).
    fn server(req: &Request, info: &RequestInfo, method: Method) -> Self {
        match info.rfc3261_branch() {
            Some(branch) => Self::Rfc3261 {
                branch: branch.to_string(),
                sent_by: info.sent_by.clone(),
                method,
            },
            None => Self::Rfc2543 {
                request_uri: req.uri.to_string(),
                from_tag: info.from_tag.clone(),
                call_id: info.call_id.clone(),
                cseq: info.cseq,
                method,
                top_via: info.top_via.clone(),
            },
        }
    }
}

#[derive(Debug)]
struct Tx {
    kind: TxKind,
    state: TxState,
    /// Client: destination; server: where the request came from.
    peer: SocketAddr,
    transport: TransportKind,
    request: Request,
    info: RequestInfo,
    /// Client: the request as sent, for retransmission.
    request_bytes: Bytes,
    /// Server: latest provisional response sent.
    provisional: Option<Bytes>,
    /// Server: final response sent (Completed); client INVITE: the ACK sent (Completed).
    final_bytes: Option<Bytes>,
    /// Server: To tag of the last response sent (RFC 2543 ACK matching, 200 to CANCEL).
    to_tag: Option<String>,
    /// Current interval of Timer A, E or G.
    interval: Duration,
    timers: Vec<(Timer, Instant)>,
    index: IndexKey,
    /// Layer-internal (the CANCEL server transactions): no `Terminated` event.
    internal: bool,
}

/// The sans-IO transaction layer. See the module documentation.
#[derive(Debug)]
pub struct TransactionLayer {
    config: Config,
    next_id: u64,
    txs: HashMap<TxKey, Tx>,
    index: HashMap<IndexKey, TxKey>,
    timers: BTreeSet<(Instant, TxKey, Timer)>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<TuEvent>,
    stats: Stats,
}

impl TransactionLayer {
    pub fn new(config: Config) -> Self {
        Self {
            config,
            next_id: 1,
            txs: HashMap::new(),
            index: HashMap::new(),
            timers: BTreeSet::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Number of live transactions.
    pub fn len(&self) -> usize {
        self.txs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    /// State of a live transaction; `None` once terminated (or for a stale key).
    pub fn state(&self, key: TxKey) -> Option<TxState> {
        self.txs.get(&key).map(|tx| tx.state)
    }

    pub fn kind(&self, key: TxKey) -> Option<TxKind> {
        self.txs.get(&key).map(|tx| tx.kind)
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<TuEvent> {
        self.events.pop_front()
    }

    /// The earliest pending timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|(at, _, _)| *at)
    }

    /// Start a client transaction and transmit `req` to `dest`. The request must carry a top Via
    /// with an RFC 3261 branch and a CSeq whose method is the request's.
    pub fn send_request(
        &mut self,
        req: Request,
        dest: SocketAddr,
        transport: TransportKind,
        now: Instant,
    ) -> Result<TxKey, TransactionError> {
        if req.method == Method::Ack {
            return Err(TransactionError::AckIsNotATransaction);
        }
        let info = RequestInfo::of(&req).ok_or(TransactionError::MalformedRequest)?;
        if info.cseq_method != req.method {
            return Err(TransactionError::CseqMethodMismatch);
        }
        let branch = info
            .rfc3261_branch()
            .ok_or(TransactionError::MissingBranch)?
            .to_string();
        let index = IndexKey::Client {
            branch,
            method: req.method,
        };
        if self.index.contains_key(&index) {
            return Err(TransactionError::Duplicate);
        }
        if self.txs.len() >= self.config.max_transactions {
            return Err(TransactionError::Overloaded);
        }
        let invite = req.method == Method::Invite;
        let bytes = Bytes::from(req.to_bytes());
        let key = self.insert(Tx {
            kind: if invite {
                TxKind::ClientInvite
            } else {
                TxKind::ClientNonInvite
            },
            state: if invite {
                TxState::Calling
            } else {
                TxState::Trying
            },
            peer: dest,
            transport,
            request: req,
            info,
            request_bytes: bytes.clone(),
            provisional: None,
            final_bytes: None,
            to_tag: None,
            interval: self.config.timers.t1,
            timers: Vec::new(),
            index,
            internal: false,
        });
        self.push_transmit(Some(key), dest, transport, bytes);
        let t = self.config.timers;
        if !transport.is_reliable() {
            self.arm(key, if invite { Timer::A } else { Timer::E }, now, t.t1);
        }
        self.arm(
            key,
            if invite { Timer::B } else { Timer::F },
            now,
            t.t1x64(),
        );
        Ok(key)
    }

    /// Transmit a message outside any transaction (the ACK for a 2xx, a stateless response).
    pub fn send_stateless(&mut self, msg: &SipMessage, dest: SocketAddr, transport: TransportKind) {
        self.push_transmit(None, dest, transport, Bytes::from(msg.to_bytes()));
    }

    /// Send a response from the TU on server transaction `key`.
    pub fn send_response(
        &mut self,
        key: TxKey,
        resp: Response,
        now: Instant,
    ) -> Result<(), TransactionError> {
        let code = resp.status_code.code();
        if !(100..=699).contains(&code) {
            return Err(TransactionError::BadStatus);
        }
        let t = self.config.timers;
        let tx = self
            .txs
            .get_mut(&key)
            .ok_or(TransactionError::UnknownTransaction)?;
        let bytes = Bytes::from(resp.to_bytes());
        let to_tag = wire::response_to_tag(&resp);
        let reliable = tx.transport.is_reliable();
        match (tx.kind, tx.state) {
            (TxKind::ServerInvite, TxState::Proceeding) => {
                if to_tag.is_some() {
                    tx.to_tag = to_tag;
                }
                let (peer, transport) = (tx.peer, tx.transport);
                if code < 200 {
                    tx.provisional = Some(bytes.clone());
                    self.push_transmit(Some(key), peer, transport, bytes);
                    self.disarm(key, Timer::Trying);
                } else if code < 300 {
                    // RFC 6026: 2xx moves to Accepted; the TU retransmits the 2xx itself.
                    tx.state = TxState::Accepted;
                    self.push_transmit(Some(key), peer, transport, bytes);
                    self.disarm_all(key);
                    self.arm(key, Timer::L, now, t.t1x64());
                } else {
                    tx.state = TxState::Completed;
                    tx.final_bytes = Some(bytes.clone());
                    tx.interval = t.t1;
                    self.push_transmit(Some(key), peer, transport, bytes);
                    self.disarm_all(key);
                    if !reliable {
                        self.arm(key, Timer::G, now, t.t1);
                    }
                    self.arm(key, Timer::H, now, t.t1x64());
                }
                Ok(())
            }
            (TxKind::ServerInvite, TxState::Accepted) if (200..300).contains(&code) => {
                let (peer, transport) = (tx.peer, tx.transport);
                self.push_transmit(Some(key), peer, transport, bytes);
                Ok(())
            }
            (TxKind::ServerNonInvite, TxState::Trying | TxState::Proceeding) => {
                if to_tag.is_some() {
                    tx.to_tag = to_tag;
                }
                let (peer, transport) = (tx.peer, tx.transport);
                if code < 200 {
                    tx.state = TxState::Proceeding;
                    tx.provisional = Some(bytes.clone());
                } else {
                    tx.state = TxState::Completed;
                    tx.final_bytes = Some(bytes.clone());
                    tx.provisional = None;
                    // Completed only replays `final_bytes` for 32 s (Timer J): the parsed request
                    // is never read again, so its headers and body are released now. At 1,000
                    // REGISTER/s that is ~64,000 transactions in this state.
                    tx.request.headers = Default::default();
                    tx.request.body = Vec::new();
                    let j = if reliable { Duration::ZERO } else { t.t1x64() };
                    self.disarm_all(key);
                    self.arm(key, Timer::J, now, j);
                }
                self.push_transmit(Some(key), peer, transport, bytes);
                Ok(())
            }
            (TxKind::ClientInvite | TxKind::ClientNonInvite, _) => {
                Err(TransactionError::NotAServerTransaction)
            }
            (_, state) => Err(TransactionError::InvalidState(state)),
        }
    }

    /// The transport could not deliver for transaction `key` (§17.1.4, §17.2.4): the TU is told
    /// and the transaction terminates. Unknown keys are ignored.
    pub fn handle_transport_error(&mut self, key: TxKey, _now: Instant) {
        if let Some(tx) = self.txs.get(&key) {
            if !tx.internal {
                self.events.push_back(TuEvent::TransportError { key });
            }
            self.terminate(key);
        }
    }

    /// The TU gives up on a transaction (e.g. a client INVITE still in Proceeding 64·T1 after
    /// its CANCEL, §9.1; a server transaction it will never answer). It is removed at once with a
    /// [`TuEvent::Terminated`]; nothing is sent. Unknown keys are ignored.
    pub fn abort(&mut self, key: TxKey) {
        self.terminate(key);
    }

    /// A message arrived from `source` over `transport`.
    pub fn handle_incoming(
        &mut self,
        msg: SipMessage,
        source: SocketAddr,
        transport: TransportKind,
        now: Instant,
    ) {
        match msg {
            SipMessage::Request(req) => self.on_request(req, source, transport, now),
            SipMessage::Response(resp) => self.on_response(resp, now),
        }
    }

    /// Fire every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(at, key, timer)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.remove(&(at, key, timer));
            if let Some(tx) = self.txs.get_mut(&key) {
                tx.timers.retain(|(t, _)| *t != timer);
            }
            self.fire(key, timer, now);
        }
    }

    // ---- internals -------------------------------------------------------------------------

    fn insert(&mut self, tx: Tx) -> TxKey {
        let key = TxKey(self.next_id);
        self.next_id = self.next_id.wrapping_add(1);
        self.index.insert(tx.index.clone(), key);
        self.txs.insert(key, tx);
        key
    }

    fn push_transmit(
        &mut self,
        key: Option<TxKey>,
        dest: SocketAddr,
        transport: TransportKind,
        bytes: Bytes,
    ) {
        self.transmits.push_back(Transmit {
            key,
            dest,
            transport,
            bytes,
        });
    }

    /// (Re)start `timer` of `key` to fire `after` from `now`. A deadline beyond what `Instant`
    /// can hold (absurd configuration) means the timer never fires.
    fn arm(&mut self, key: TxKey, timer: Timer, now: Instant, after: Duration) {
        self.disarm(key, timer);
        let Some(at) = now.checked_add(after) else {
            return;
        };
        let Some(tx) = self.txs.get_mut(&key) else {
            return;
        };
        tx.timers.push((timer, at));
        self.timers.insert((at, key, timer));
    }

    fn disarm(&mut self, key: TxKey, timer: Timer) {
        let Some(tx) = self.txs.get_mut(&key) else {
            return;
        };
        if let Some(pos) = tx.timers.iter().position(|(t, _)| *t == timer) {
            let (_, old) = tx.timers.swap_remove(pos);
            self.timers.remove(&(old, key, timer));
        }
    }

    fn disarm_all(&mut self, key: TxKey) {
        let Some(tx) = self.txs.get_mut(&key) else {
            return;
        };
        for (timer, at) in tx.timers.drain(..) {
            self.timers.remove(&(at, key, timer));
        }
    }

    fn terminate(&mut self, key: TxKey) {
        self.disarm_all(key);
        if let Some(tx) = self.txs.remove(&key) {
            if self.index.get(&tx.index) == Some(&key) {
                self.index.remove(&tx.index);
            }
            if !tx.internal {
                self.events.push_back(TuEvent::Terminated { key });
            }
        }
    }

    fn retransmit(&mut self, key: TxKey, which: Retransmit) {
        let Some(tx) = self.txs.get(&key) else {
            return;
        };
        let bytes = match which {
            Retransmit::Request => Some(tx.request_bytes.clone()),
            Retransmit::Provisional => tx.provisional.clone(),
            Retransmit::Final => tx.final_bytes.clone(),
        };
        if let Some(bytes) = bytes {
            let (peer, transport) = (tx.peer, tx.transport);
            self.push_transmit(Some(key), peer, transport, bytes);
        }
    }

    fn fire(&mut self, key: TxKey, timer: Timer, now: Instant) {
        let t = self.config.timers;
        let Some(tx) = self.txs.get_mut(&key) else {
            return;
        };
        match (tx.kind, tx.state, timer) {
            (TxKind::ClientInvite, TxState::Calling, Timer::A) => {
                tx.interval = tx.interval.saturating_mul(2);
                let next = tx.interval;
                self.retransmit(key, Retransmit::Request);
                self.arm(key, Timer::A, now, next);
            }
            (TxKind::ClientNonInvite, TxState::Trying | TxState::Proceeding, Timer::E) => {
                tx.interval = if tx.state == TxState::Trying {
                    tx.interval.saturating_mul(2).min(t.t2)
                } else {
                    t.t2
                };
                let next = tx.interval;
                self.retransmit(key, Retransmit::Request);
                self.arm(key, Timer::E, now, next);
            }
            (TxKind::ClientInvite, TxState::Calling, Timer::B)
            | (TxKind::ClientNonInvite, TxState::Trying | TxState::Proceeding, Timer::F) => {
                let response = wire::response_for(&tx.request, 408, None);
                self.events.push_back(TuEvent::Timeout { key, response });
                self.terminate(key);
            }
            (TxKind::ClientInvite, TxState::Completed, Timer::D)
            | (TxKind::ClientInvite, TxState::Accepted, Timer::M)
            | (TxKind::ClientNonInvite, TxState::Completed, Timer::K)
            | (TxKind::ServerInvite, TxState::Confirmed, Timer::I)
            | (TxKind::ServerInvite, TxState::Accepted, Timer::L)
            | (TxKind::ServerNonInvite, TxState::Completed, Timer::J) => self.terminate(key),
            (TxKind::ServerInvite, TxState::Proceeding, Timer::Trying)
                if tx.provisional.is_none() =>
            {
                let resp = wire::response_for(&tx.request, 100, None);
                let bytes = Bytes::from(resp.to_bytes());
                tx.provisional = Some(bytes.clone());
                let (peer, transport) = (tx.peer, tx.transport);
                self.push_transmit(Some(key), peer, transport, bytes);
            }
            (TxKind::ServerInvite, TxState::Completed, Timer::G) => {
                tx.interval = tx.interval.saturating_mul(2).min(t.t2);
                let next = tx.interval;
                self.retransmit(key, Retransmit::Final);
                self.arm(key, Timer::G, now, next);
            }
            (TxKind::ServerInvite, TxState::Completed, Timer::H) => {
                self.events.push_back(TuEvent::AckTimeout { key });
                self.terminate(key);
            }
            // A timer left over from an earlier state: nothing to do.
            _ => {}
        }
    }

    fn on_response(&mut self, resp: Response, now: Instant) {
        let Some(info) = ResponseInfo::of(&resp) else {
            self.stats.malformed += 1;
            return;
        };
        if !(100..=699).contains(&info.code) {
            self.stats.malformed += 1;
            return;
        }
        let index = IndexKey::Client {
            branch: info.branch.clone(),
            method: info.cseq_method,
        };
        let Some(&key) = self.index.get(&index) else {
            self.stats.stray_responses += 1;
            return;
        };
        let t = self.config.timers;
        let Some(tx) = self.txs.get_mut(&key) else {
            self.stats.stray_responses += 1;
            return;
        };
        let reliable = tx.transport.is_reliable();
        let code = info.code;
        match (tx.kind, tx.state) {
            (TxKind::ClientInvite, TxState::Calling | TxState::Proceeding) => {
                if code < 200 {
                    if tx.state == TxState::Calling {
                        tx.state = TxState::Proceeding;
                        self.disarm_all(key);
                    }
                } else if code < 300 {
                    tx.state = TxState::Accepted;
                    self.disarm_all(key);
                    self.arm(key, Timer::M, now, t.t1x64());
                } else {
                    tx.state = TxState::Completed;
                    match wire::ack_for(&tx.request, &resp) {
                        Some(ack) => {
                            let bytes = Bytes::from(ack.to_bytes());
                            tx.final_bytes = Some(bytes.clone());
                            let (peer, transport) = (tx.peer, tx.transport);
                            self.push_transmit(Some(key), peer, transport, bytes);
                        }
                        // The response lacks a To header; the TU still learns of it.
                        None => self.stats.malformed += 1,
                    }
                    self.disarm_all(key);
                    let d = if reliable {
                        Duration::ZERO
                    } else {
                        t.t1x64().max(Duration::from_secs(32))
                    };
                    self.arm(key, Timer::D, now, d);
                }
                self.events.push_back(TuEvent::Response {
                    key,
                    response: resp,
                });
            }
            // A retransmitted final response: ACK again, do not bother the TU.
            (TxKind::ClientInvite, TxState::Completed) if code >= 300 => {
                self.retransmit(key, Retransmit::Final);
            }
            // RFC 6026: every 2xx (retransmissions, other forks) goes to the TU.
            (TxKind::ClientInvite, TxState::Accepted) if (200..300).contains(&code) => {
                self.events.push_back(TuEvent::Response {
                    key,
                    response: resp,
                });
            }
            (TxKind::ClientNonInvite, TxState::Trying | TxState::Proceeding) => {
                if code < 200 {
                    tx.state = TxState::Proceeding;
                } else {
                    tx.state = TxState::Completed;
                    self.disarm_all(key);
                    let k = if reliable { Duration::ZERO } else { t.t4 };
                    self.arm(key, Timer::K, now, k);
                }
                self.events.push_back(TuEvent::Response {
                    key,
                    response: resp,
                });
            }
            // Completed non-INVITE: retransmissions are absorbed; so are 1xx after a final and
            // non-2xx in Accepted. Server kinds cannot be in the client index.
            _ => {}
        }
    }

    /// Find a server transaction, with the extra To-tag check of RFC 2543 matching.
    fn lookup_server(&self, index: &IndexKey, info: &RequestInfo, is_ack: bool) -> Option<TxKey> {
        let key = *self.index.get(index)?;
        let tx = self.txs.get(&key)?;
        if matches!(index, IndexKey::Rfc2543 { .. }) {
            let ok = if is_ack {
                tx.to_tag.is_none() || tx.to_tag == info.to_tag
            } else {
                tx.info.to_tag == info.to_tag
            };
            if !ok {
                return None;
            }
        }
        Some(key)
    }

    fn on_request(
        &mut self,
        req: Request,
        source: SocketAddr,
        transport: TransportKind,
        now: Instant,
    ) {
        let Some(info) = RequestInfo::of(&req) else {
            self.stats.malformed += 1;
            return;
        };
        if info.cseq_method != req.method {
            self.stats.malformed += 1;
            return;
        }
        match req.method {
            Method::Ack => self.on_ack(req, info, source, transport, now),
            Method::Cancel => self.on_cancel(req, info, source, transport, now),
            method => {
                let index = IndexKey::server(&req, &info, method);
                if let Some(key) = self.lookup_server(&index, &info, false) {
                    self.on_request_retransmission(key);
                    return;
                }
                if self.txs.len() >= self.config.max_transactions {
                    self.reject_overload(&req, &info, source, transport);
                    return;
                }
                let invite = method == Method::Invite;
                let key = self.insert(Tx {
                    kind: if invite {
                        TxKind::ServerInvite
                    } else {
                        TxKind::ServerNonInvite
                    },
                    state: if invite {
                        TxState::Proceeding
                    } else {
                        TxState::Trying
                    },
                    peer: source,
                    transport,
                    request: req.clone(),
                    info,
                    request_bytes: Bytes::new(),
                    provisional: None,
                    final_bytes: None,
                    to_tag: None,
                    interval: self.config.timers.t1,
                    timers: Vec::new(),
                    index,
                    internal: false,
                });
                if invite {
                    if let Some(delay) = self.config.trying_delay {
                        self.arm(key, Timer::Trying, now, delay);
                    }
                }
                self.events.push_back(TuEvent::Request {
                    key,
                    request: req,
                    source,
                    transport,
                });
            }
        }
    }

    fn on_request_retransmission(&mut self, key: TxKey) {
        let Some(tx) = self.txs.get(&key) else {
            return;
        };
        self.stats.request_retransmissions += 1;
        match tx.state {
            TxState::Proceeding => self.retransmit(key, Retransmit::Provisional),
            TxState::Completed => self.retransmit(key, Retransmit::Final),
            // Trying (non-INVITE, nothing sent yet), Confirmed, Accepted (RFC 6026: the TU
            // retransmits the 2xx): absorbed.
            _ => {}
        }
    }

    fn reject_overload(
        &mut self,
        req: &Request,
        info: &RequestInfo,
        source: SocketAddr,
        transport: TransportKind,
    ) {
        self.stats.overload_rejections += 1;
        let tag = wire::local_tag(self.config.tag_seed, info);
        let resp = wire::overload_response(req, self.config.retry_after_secs, &tag);
        self.push_transmit(None, source, transport, Bytes::from(resp.to_bytes()));
    }

    fn on_ack(
        &mut self,
        req: Request,
        info: RequestInfo,
        source: SocketAddr,
        transport: TransportKind,
        now: Instant,
    ) {
        let index = IndexKey::server(&req, &info, Method::Invite);
        let found = self
            .lookup_server(&index, &info, true)
            .and_then(|key| self.txs.get_mut(&key).map(|tx| (key, tx)));
        let Some((key, tx)) = found else {
            // The ACK for a 503 this layer sent statelessly carries the tag it generated (the
            // tag depends only on fields the ACK shares with the INVITE): absorbed.
            if info.to_tag.as_deref() == Some(wire::local_tag(self.config.tag_seed, &info).as_str())
            {
                self.stats.request_retransmissions += 1;
                return;
            }
            // The ACK for a 2xx is its own transaction-less request: the dialog layer's.
            self.events.push_back(TuEvent::Ack {
                key: None,
                request: req,
                source,
                transport,
            });
            return;
        };
        if tx.kind != TxKind::ServerInvite {
            return;
        }
        match tx.state {
            TxState::Completed => {
                tx.state = TxState::Confirmed;
                let i = if tx.transport.is_reliable() {
                    Duration::ZERO
                } else {
                    self.config.timers.t4
                };
                self.disarm_all(key);
                self.arm(key, Timer::I, now, i);
            }
            TxState::Accepted => self.events.push_back(TuEvent::Ack {
                key: Some(key),
                request: req,
                source,
                transport,
            }),
            // Confirmed: a retransmitted ACK, absorbed. Proceeding: an ACK before any final
            // response makes no sense; dropped.
            _ => self.stats.request_retransmissions += 1,
        }
    }

    fn on_cancel(
        &mut self,
        req: Request,
        info: RequestInfo,
        source: SocketAddr,
        transport: TransportKind,
        now: Instant,
    ) {
        let own = IndexKey::server(&req, &info, Method::Cancel);
        if let Some(key) = self.lookup_server(&own, &info, false) {
            self.on_request_retransmission(key);
            return;
        }
        let invite_index = IndexKey::server(&req, &info, Method::Invite);
        let invite = self
            .lookup_server(&invite_index, &info, false)
            .and_then(|key| self.txs.get(&key).map(|tx| (key, tx)))
            .filter(|(_, tx)| tx.kind == TxKind::ServerInvite)
            .map(|(key, tx)| (key, tx.state, tx.to_tag.clone()));
        let local = wire::local_tag(self.config.tag_seed, &info);
        let (code, tag) = match &invite {
            Some((_, _, Some(tag))) => (200, tag.clone()),
            Some(_) => (200, local),
            None => {
                self.stats.unmatched_cancels += 1;
                (481, local)
            }
        };
        let resp = wire::response_for(&req, code, Some(&tag));
        if self.txs.len() >= self.config.max_transactions {
            // No room for a CANCEL transaction: answer statelessly, still honour the CANCEL.
            self.push_transmit(None, source, transport, Bytes::from(resp.to_bytes()));
        } else {
            let key = self.insert(Tx {
                kind: TxKind::ServerNonInvite,
                state: TxState::Trying,
                peer: source,
                transport,
                request: req.clone(),
                info,
                request_bytes: Bytes::new(),
                provisional: None,
                final_bytes: None,
                to_tag: None,
                interval: self.config.timers.t1,
                timers: Vec::new(),
                index: own,
                internal: true,
            });
            // Cannot fail: the transaction was just created in Trying with a valid status.
            let _ = self.send_response(key, resp, now);
        }
        if let Some((invite_key, TxState::Proceeding, _)) = invite {
            self.events.push_back(TuEvent::Cancelled {
                invite: invite_key,
                request: req,
            });
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Retransmit {
    Request,
    Provisional,
    Final,
}
