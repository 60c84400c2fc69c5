//! Registration of pbxd to SIP providers (trunks) and OPTIONS keep-alives per trunk, in virtual
//! time (milliseconds since the Unix epoch, as the registrar uses).
//!
//! The core decides when a REGISTER, an un-REGISTER or an OPTIONS goes out and what the answers
//! mean; the driver builds and sends the requests (and the digest answer, with the secret the
//! core never sees) and reports what came back. Inputs: [`TrunkReg::set`], [`TrunkReg::remove`],
//! [`TrunkReg::shutdown`], [`TrunkReg::register_response`], [`TrunkReg::register_failed`],
//! [`TrunkReg::ping_answered`], [`TrunkReg::ping_failed`], [`TrunkReg::handle_timeout`], each
//! with `now`; output from [`TrunkReg::poll_action`]; the next deadline from
//! [`TrunkReg::poll_timeout`]. It never reads a clock or draws random numbers (the backoff jitter
//! comes from a seeded generator in the config).
//!
//! # Decisions
//! * Every REGISTER (also a refresh) first goes without credentials; a 401/407 with a usable
//!   challenge is answered once with credentials ([`Action::Register`] with `auth`). A second
//!   401/407 fails the attempt, unless it says `stale=true` (then one more, at most
//!   [`MAX_AUTH_TRIES`] in all).
//! * Refresh at `granted − min(granted/10, 30 s)`, with the lifetime the provider granted.
//! * 423 takes the provider's Min-Expires (at most [`MAX_INTERVAL_TRIES`] times in a row).
//! * A failure waits `backoff_min` doubling up to `backoff_max`, times a jitter in
//!   `[0.8, 1.0]`, then tries again; success resets the backoff.
//! * While a refresh is out the trunk stays `geregistreerd`; when it fails it is `mislukt`.
//! * Disabling, removing or [`TrunkReg::shutdown`] sends an un-REGISTER (expires 0) when the
//!   provider has a binding; a removed trunk is forgotten when that is answered or failed.
//! * OPTIONS: the first right away, then every `ping_interval`; one out at a time. Any answer
//!   means up (and gives the RTT); `max_ping_failures` lost pings in a row, or one transport
//!   error, mean down.
//! * The history keeps the last `history` changes of state and up/down.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Debug;

/// Most REGISTERs with credentials per attempt (the first, and retries after `stale=true`).
pub const MAX_AUTH_TRIES: u32 = 3;
/// Most 423 answers in a row before the attempt fails.
pub const MAX_INTERVAL_TRIES: u32 = 3;

/// Settings of the trunk registrations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrunkRegConfig {
    /// First wait after a failure, ms.
    pub backoff_min_ms: u64,
    /// Longest wait after failures, ms.
    pub backoff_max_ms: u64,
    /// Time between two OPTIONS to one trunk, ms; 0 = no OPTIONS.
    pub ping_interval_ms: u64,
    /// An OPTIONS without an answer after this long is lost, ms.
    pub ping_timeout_ms: u64,
    /// Lost OPTIONS in a row before a trunk is down.
    pub max_ping_failures: u32,
    /// Entries kept in the history of each trunk.
    pub history: usize,
    /// Seed of the backoff jitter.
    pub seed: u64,
}

impl Default for TrunkRegConfig {
    fn default() -> TrunkRegConfig {
        TrunkRegConfig {
            backoff_min_ms: 5_000,
            backoff_max_ms: 300_000,
            ping_interval_ms: 30_000,
            ping_timeout_ms: 4_000,
            max_ping_failures: 3,
            history: 50,
            seed: 0x9e37_79b9_7f4a_7c15,
        }
    }
}

/// What a trunk should do, as the driver reads it from the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec {
    /// The trunk is enabled.
    pub enabled: bool,
    /// It registers (has credentials with `register = true`).
    pub register: bool,
    /// Requested lifetime, s.
    pub expires: u32,
    /// Changes when anything the REGISTER depends on changes (host, user, secret …): the
    /// trunk then registers anew.
    pub fingerprint: u64,
}

/// Why a registration failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The provider refused (4xx–6xx other than auth and 423).
    Rejected,
    /// The credentials were refused (401/407 after answering the challenge).
    AuthFailed,
    /// 401/407 without a challenge pbxd can answer.
    Challenge,
    /// 423 too often.
    Interval,
    /// No answer (transaction timeout).
    Timeout,
    /// The request could not be sent.
    Transport,
}

impl Reason {
    /// Stable name (API, i18n key `trunk.reason.<name>`).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Rejected => "geweigerd",
            Reason::AuthFailed => "authenticatie",
            Reason::Challenge => "uitdaging",
            Reason::Interval => "interval",
            Reason::Timeout => "geen_antwoord",
            Reason::Transport => "transport",
        }
    }
}

/// Registration state of a trunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// The trunk does not register (IP-authenticated).
    Geen,
    /// The first REGISTER (or one after a failure) is out.
    Bezig,
    /// Registered until this time (ms).
    Geregistreerd {
        /// End of the granted lifetime, ms.
        until_ms: u64,
    },
    /// The last attempt failed; the next comes at `retry_ms`.
    Mislukt {
        /// Why.
        reason: Reason,
        /// The SIP status code, when there was one.
        code: Option<u16>,
        /// Next attempt, ms.
        retry_ms: u64,
    },
    /// Disabled.
    Uitgeschakeld,
}

impl State {
    /// Stable name: `geen`, `bezig`, `geregistreerd`, `mislukt`, `uitgeschakeld`.
    pub fn as_str(&self) -> &'static str {
        match self {
            State::Geen => "geen",
            State::Bezig => "bezig",
            State::Geregistreerd { .. } => "geregistreerd",
            State::Mislukt { .. } => "mislukt",
            State::Uitgeschakeld => "uitgeschakeld",
        }
    }
}

/// A change in the history of a trunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// The registration state changed.
    State(State),
    /// The trunk answered OPTIONS again (or for the first time).
    Up,
    /// OPTIONS lost or a transport error.
    Down,
}

/// One history entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    /// When, ms.
    pub at_ms: u64,
    /// What.
    pub change: Change,
}

/// The challenge part of a 401/407, as the driver judged it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChallengeInfo {
    /// None, or none pbxd can answer.
    Unusable,
    /// A challenge pbxd can answer (the driver keeps it).
    Usable {
        /// `stale=true`.
        stale: bool,
    },
}

/// A final response to a REGISTER, as the driver read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegResponse {
    /// Status code.
    pub code: u16,
    /// The lifetime granted (the `expires` of pbxd's Contact, else the Expires header), s.
    pub granted: Option<u32>,
    /// Min-Expires of a 423, s.
    pub min_expires: Option<u32>,
    /// For 401/407.
    pub challenge: ChallengeInfo,
}

/// What the driver has to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action<K> {
    /// Send a REGISTER with this lifetime; with credentials (answering the last challenge)
    /// when `auth`. Report [`TrunkReg::register_response`] or [`TrunkReg::register_failed`].
    Register {
        /// The trunk.
        key: K,
        /// Expires, s.
        expires: u32,
        /// Answer the last challenge.
        auth: bool,
    },
    /// Send a REGISTER with expires 0 (same reporting).
    Unregister {
        /// The trunk.
        key: K,
        /// Answer the last challenge.
        auth: bool,
    },
    /// Send an OPTIONS; report [`TrunkReg::ping_answered`] or [`TrunkReg::ping_failed`].
    Ping(K),
    /// The OPTIONS got no answer in time: stop its request (it counted as lost).
    AbandonPing(K),
    /// The state or up/down changed (for logs and events; also in the history).
    Changed {
        /// The trunk.
        key: K,
        /// The change.
        entry: HistoryEntry,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Attempt {
    Idle,
    Registering {
        auth_tries: u32,
        interval_tries: u32,
    },
    Unregistering {
        auth: bool,
    },
}

/// What the API shows of a trunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    /// Registration state.
    pub state: State,
    /// Last RTT of an OPTIONS, ms.
    pub rtt_ms: Option<u64>,
    /// `None` until the first OPTIONS was answered or lost.
    pub up: Option<bool>,
    /// Oldest first.
    pub history: Vec<HistoryEntry>,
}

#[derive(Clone, Debug)]
struct Entry {
    spec: Spec,
    state: State,
    /// Lifetime asked for (raised by 423).
    expires: u32,
    attempt: Attempt,
    failures: u32,
    next_register: Option<u64>,
    /// The provider has (or may have) a binding of pbxd.
    bound: bool,
    leaving: bool,
    next_ping: u64,
    ping_out: Option<u64>,
    lost: u32,
    up: Option<bool>,
    rtt_ms: Option<u64>,
    history: VecDeque<HistoryEntry>,
}

/// The registrations and keep-alives of all trunks.
#[derive(Debug)]
pub struct TrunkReg<K> {
    config: TrunkRegConfig,
    trunks: BTreeMap<K, Entry>,
    actions: VecDeque<Action<K>>,
    rng: u64,
}

impl<K: Clone + Ord + Debug> TrunkReg<K> {
    /// A core without trunks.
    pub fn new(config: TrunkRegConfig) -> TrunkReg<K> {
        TrunkReg {
            config,
            trunks: BTreeMap::new(),
            actions: VecDeque::new(),
            rng: config.seed | 1,
        }
    }

    /// The settings.
    pub fn config(&self) -> &TrunkRegConfig {
        &self.config
    }

    /// The trunks known (also those leaving).
    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.trunks
            .iter()
            .filter(|(_, e)| !e.leaving)
            .map(|(k, _)| k)
    }

    /// What the API shows of a trunk.
    pub fn view(&self, key: &K) -> Option<View> {
        self.trunks.get(key).filter(|e| !e.leaving).map(|e| View {
            state: e.state,
            rtt_ms: e.rtt_ms,
            up: e.up,
            history: e.history.iter().copied().collect(),
        })
    }

    /// Adds a trunk or updates its spec. A changed spec starts a new registration (or an
    /// un-REGISTER when the trunk no longer registers).
    pub fn set(&mut self, key: K, spec: Spec, now: u64) {
        let Some(e) = self.trunks.get_mut(&key) else {
            let state = initial_state(&spec);
            let mut e = Entry {
                spec,
                state,
                expires: spec.expires,
                attempt: Attempt::Idle,
                failures: 0,
                next_register: (spec.enabled && spec.register).then_some(now),
                bound: false,
                leaving: false,
                next_ping: now,
                ping_out: None,
                lost: 0,
                up: None,
                rtt_ms: None,
                history: VecDeque::new(),
            };
            push_history(
                &mut e.history,
                self.config.history,
                now,
                Change::State(state),
            );
            self.actions.push_back(Action::Changed {
                key: key.clone(),
                entry: HistoryEntry {
                    at_ms: now,
                    change: Change::State(state),
                },
            });
            self.trunks.insert(key, e);
            self.handle_timeout(now);
            return;
        };
        if e.spec == spec && !e.leaving {
            return;
        }
        let was_bound = e.bound;
        e.spec = spec;
        e.leaving = false;
        e.expires = spec.expires;
        e.failures = 0;
        e.next_ping = now;
        if spec.enabled && spec.register {
            e.attempt = Attempt::Idle;
            e.next_register = Some(now);
        } else {
            e.next_register = None;
            if was_bound {
                e.attempt = Attempt::Unregistering { auth: false };
                e.bound = false;
                self.actions.push_back(Action::Unregister {
                    key: key.clone(),
                    auth: false,
                });
            } else {
                e.attempt = Attempt::Idle;
            }
            if !spec.enabled {
                e.ping_out = None;
                e.up = None;
                e.rtt_ms = None;
            }
        }
        let state = match e.state {
            State::Geregistreerd { .. } if spec.enabled && spec.register => e.state,
            _ => initial_state(&spec),
        };
        self.set_state(&key, state, now);
        self.handle_timeout(now);
    }

    /// Forgets a trunk; un-REGISTERs first when the provider has a binding.
    pub fn remove(&mut self, key: &K) {
        let Some(e) = self.trunks.get_mut(key) else {
            return;
        };
        if e.bound {
            e.leaving = true;
            e.bound = false;
            e.next_register = None;
            e.ping_out = None;
            e.attempt = Attempt::Unregistering { auth: false };
            self.actions.push_back(Action::Unregister {
                key: key.clone(),
                auth: false,
            });
        } else {
            self.trunks.remove(key);
        }
    }

    /// pbxd stops: an un-REGISTER for every trunk the provider has a binding of.
    pub fn shutdown(&mut self) {
        let keys: Vec<K> = self.trunks.keys().cloned().collect();
        for k in keys {
            self.remove(&k);
        }
    }

    /// A final response to the REGISTER (or un-REGISTER) that is out.
    pub fn register_response(&mut self, key: &K, r: RegResponse, now: u64) {
        let Some(e) = self.trunks.get_mut(key) else {
            return;
        };
        match e.attempt {
            Attempt::Idle => {}
            Attempt::Unregistering { auth } => {
                if matches!(r.code, 401 | 407)
                    && !auth
                    && matches!(r.challenge, ChallengeInfo::Usable { .. })
                {
                    e.attempt = Attempt::Unregistering { auth: true };
                    self.actions.push_back(Action::Unregister {
                        key: key.clone(),
                        auth: true,
                    });
                } else {
                    self.unregistered(key);
                }
            }
            Attempt::Registering {
                auth_tries,
                interval_tries,
            } => match r.code {
                200..=299 => {
                    let granted = r.granted.filter(|g| *g > 0).unwrap_or(e.expires);
                    let ms = u64::from(granted) * 1000;
                    e.attempt = Attempt::Idle;
                    e.failures = 0;
                    e.bound = true;
                    e.next_register = Some(now + ms - (ms / 10).min(30_000));
                    self.set_state(key, State::Geregistreerd { until_ms: now + ms }, now);
                }
                401 | 407 => match r.challenge {
                    ChallengeInfo::Usable { stale }
                        if (auth_tries == 0 || stale) && auth_tries < MAX_AUTH_TRIES =>
                    {
                        e.attempt = Attempt::Registering {
                            auth_tries: auth_tries + 1,
                            interval_tries,
                        };
                        let expires = e.expires;
                        self.actions.push_back(Action::Register {
                            key: key.clone(),
                            expires,
                            auth: true,
                        });
                    }
                    ChallengeInfo::Usable { .. } => {
                        self.fail(key, Reason::AuthFailed, Some(r.code), now)
                    }
                    ChallengeInfo::Unusable => self.fail(key, Reason::Challenge, Some(r.code), now),
                },
                423 => match r.min_expires {
                    Some(min) if min > e.expires && interval_tries < MAX_INTERVAL_TRIES => {
                        e.expires = min;
                        e.attempt = Attempt::Registering {
                            auth_tries: 0,
                            interval_tries: interval_tries + 1,
                        };
                        self.actions.push_back(Action::Register {
                            key: key.clone(),
                            expires: min,
                            auth: false,
                        });
                    }
                    _ => self.fail(key, Reason::Interval, Some(423), now),
                },
                code => self.fail(key, Reason::Rejected, Some(code), now),
            },
        }
    }

    /// The REGISTER (or un-REGISTER) that is out got no answer (`transport` false) or could
    /// not be sent (`transport` true).
    pub fn register_failed(&mut self, key: &K, transport: bool, now: u64) {
        let Some(e) = self.trunks.get(key) else {
            return;
        };
        match e.attempt {
            Attempt::Idle => {}
            Attempt::Unregistering { .. } => self.unregistered(key),
            Attempt::Registering { .. } => {
                let reason = if transport {
                    Reason::Transport
                } else {
                    Reason::Timeout
                };
                self.fail(key, reason, None, now);
            }
        }
    }

    /// The OPTIONS that is out was answered (any status).
    pub fn ping_answered(&mut self, key: &K, now: u64) {
        let Some(e) = self.trunks.get_mut(key) else {
            return;
        };
        let Some(sent) = e.ping_out.take() else {
            return;
        };
        e.rtt_ms = Some(now.saturating_sub(sent));
        e.lost = 0;
        e.next_ping = sent + self.config.ping_interval_ms;
        if e.up != Some(true) {
            e.up = Some(true);
            self.record(key, Change::Up, now);
        }
    }

    /// The OPTIONS that is out timed out in the transaction layer (`transport` false) or
    /// could not be sent (`transport` true).
    pub fn ping_failed(&mut self, key: &K, transport: bool, now: u64) {
        let Some(e) = self.trunks.get_mut(key) else {
            return;
        };
        if e.ping_out.take().is_none() {
            return;
        }
        self.lost(key, transport, now);
    }

    fn lost(&mut self, key: &K, transport: bool, now: u64) {
        let Some(e) = self.trunks.get_mut(key) else {
            return;
        };
        e.lost += 1;
        e.next_ping = now + self.config.ping_interval_ms;
        if (transport || e.lost >= self.config.max_ping_failures) && e.up != Some(false) {
            e.up = Some(false);
            self.record(key, Change::Down, now);
        }
    }

    /// Due REGISTERs, OPTIONS and lost OPTIONS.
    pub fn handle_timeout(&mut self, now: u64) {
        let cfg = self.config;
        let keys: Vec<K> = self.trunks.keys().cloned().collect();
        for key in keys {
            let Some(e) = self.trunks.get_mut(&key) else {
                continue;
            };
            if e.leaving {
                continue;
            }
            if e.attempt == Attempt::Idle
                && e.spec.enabled
                && e.spec.register
                && e.next_register.is_some_and(|t| t <= now)
            {
                e.next_register = None;
                e.attempt = Attempt::Registering {
                    auth_tries: 0,
                    interval_tries: 0,
                };
                let expires = e.expires;
                let registered = matches!(e.state, State::Geregistreerd { .. });
                self.actions.push_back(Action::Register {
                    key: key.clone(),
                    expires,
                    auth: false,
                });
                if !registered {
                    self.set_state(&key, State::Bezig, now);
                }
            }
            let Some(e) = self.trunks.get_mut(&key) else {
                continue;
            };
            if !e.spec.enabled || cfg.ping_interval_ms == 0 {
                continue;
            }
            match e.ping_out {
                Some(sent) if sent + cfg.ping_timeout_ms <= now => {
                    e.ping_out = None;
                    self.actions.push_back(Action::AbandonPing(key.clone()));
                    self.lost(&key, false, now);
                }
                Some(_) => {}
                None if e.next_ping <= now => {
                    e.ping_out = Some(now);
                    self.actions.push_back(Action::Ping(key.clone()));
                }
                None => {}
            }
        }
    }

    /// The next deadline, ms.
    pub fn poll_timeout(&self) -> Option<u64> {
        let cfg = self.config;
        self.trunks
            .values()
            .filter(|e| !e.leaving)
            .flat_map(|e| {
                let reg = (e.attempt == Attempt::Idle && e.spec.enabled && e.spec.register)
                    .then_some(e.next_register)
                    .flatten();
                let ping = (e.spec.enabled && cfg.ping_interval_ms > 0).then(|| match e.ping_out {
                    Some(sent) => sent + cfg.ping_timeout_ms,
                    None => e.next_ping,
                });
                [reg, ping]
            })
            .flatten()
            .min()
    }

    /// The next thing to do.
    pub fn poll_action(&mut self) -> Option<Action<K>> {
        self.actions.pop_front()
    }

    fn unregistered(&mut self, key: &K) {
        let Some(e) = self.trunks.get_mut(key) else {
            return;
        };
        e.attempt = Attempt::Idle;
        e.bound = false;
        if e.leaving {
            self.trunks.remove(key);
        }
    }

    fn fail(&mut self, key: &K, reason: Reason, code: Option<u16>, now: u64) {
        let jitter = self.next_jitter();
        let cfg = self.config;
        let Some(e) = self.trunks.get_mut(key) else {
            return;
        };
        let exp = e.failures.min(20);
        e.failures = e.failures.saturating_add(1);
        let base = cfg
            .backoff_min_ms
            .saturating_mul(1u64 << exp)
            .min(cfg.backoff_max_ms);
        // jitter in [0.8, 1.0]
        let delay = base - base * (jitter % 201) / 1000;
        e.attempt = Attempt::Idle;
        e.bound = false;
        e.expires = e.spec.expires.max(e.expires);
        e.next_register = Some(now + delay.max(1));
        self.set_state(
            key,
            State::Mislukt {
                reason,
                code,
                retry_ms: now + delay.max(1),
            },
            now,
        );
    }

    fn next_jitter(&mut self) -> u64 {
        // xorshift64
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    fn set_state(&mut self, key: &K, state: State, now: u64) {
        let Some(e) = self.trunks.get_mut(key) else {
            return;
        };
        let same = e.state == state;
        e.state = state;
        if !same {
            self.record(key, Change::State(state), now);
        }
    }

    fn record(&mut self, key: &K, change: Change, now: u64) {
        let Some(e) = self.trunks.get_mut(key) else {
            return;
        };
        push_history(&mut e.history, self.config.history, now, change);
        self.actions.push_back(Action::Changed {
            key: key.clone(),
            entry: HistoryEntry { at_ms: now, change },
        });
    }
}

fn initial_state(spec: &Spec) -> State {
    if !spec.enabled {
        State::Uitgeschakeld
    } else if spec.register {
        State::Bezig
    } else {
        State::Geen
    }
}

fn push_history(h: &mut VecDeque<HistoryEntry>, max: usize, at_ms: u64, change: Change) {
    if max == 0 {
        return;
    }
    while h.len() >= max {
        h.pop_front();
    }
    h.push_back(HistoryEntry { at_ms, change });
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000_000;

    fn spec() -> Spec {
        Spec {
            enabled: true,
            register: true,
            expires: 600,
            fingerprint: 1,
        }
    }

    fn core() -> TrunkReg<&'static str> {
        TrunkReg::new(TrunkRegConfig::default())
    }

    fn drain(c: &mut TrunkReg<&'static str>) -> Vec<Action<&'static str>> {
        std::iter::from_fn(|| c.poll_action())
            .filter(|a| !matches!(a, Action::Changed { .. }))
            .collect()
    }

    fn ok(granted: u32) -> RegResponse {
        RegResponse {
            code: 200,
            granted: Some(granted),
            min_expires: None,
            challenge: ChallengeInfo::Unusable,
        }
    }

    fn challenge(code: u16, stale: bool) -> RegResponse {
        RegResponse {
            code,
            granted: None,
            min_expires: None,
            challenge: ChallengeInfo::Usable { stale },
        }
    }

    fn code(code: u16) -> RegResponse {
        RegResponse {
            code,
            granted: None,
            min_expires: None,
            challenge: ChallengeInfo::Unusable,
        }
    }

    fn reg(expires: u32, auth: bool) -> Action<&'static str> {
        Action::Register {
            key: "kpn",
            expires,
            auth,
        }
    }

    #[test]
    fn registers_with_digest_and_refreshes_before_expiry() {
        let mut c = core();
        c.set("kpn", spec(), T0);
        assert_eq!(drain(&mut c), vec![reg(600, false), Action::Ping("kpn")]);
        assert_eq!(c.view(&"kpn").map(|v| v.state), Some(State::Bezig));
        c.register_response(&"kpn", challenge(401, false), T0 + 10);
        assert_eq!(drain(&mut c), vec![reg(600, true)]);
        c.register_response(&"kpn", ok(300), T0 + 20);
        assert_eq!(
            c.view(&"kpn").map(|v| v.state),
            Some(State::Geregistreerd {
                until_ms: T0 + 20 + 300_000
            })
        );
        // Refresh at granted − 30 s, not before.
        c.handle_timeout(T0 + 20 + 269_999);
        assert!(!drain(&mut c).contains(&reg(600, false)));
        c.handle_timeout(T0 + 20 + 270_000);
        assert!(drain(&mut c).contains(&reg(600, false)));
        // Still registered while the refresh is out.
        assert_eq!(
            c.view(&"kpn").map(|v| v.state.as_str()),
            Some("geregistreerd")
        );
    }

    #[test]
    fn short_lifetimes_refresh_at_nine_tenths() {
        let mut c: TrunkReg<&'static str> = TrunkReg::new(TrunkRegConfig {
            ping_interval_ms: 0,
            ..TrunkRegConfig::default()
        });
        c.set("kpn", spec(), T0);
        drain(&mut c);
        c.register_response(&"kpn", ok(5), T0);
        assert_eq!(c.poll_timeout(), Some(T0 + 4_500));
    }

    #[test]
    fn wrong_password_fails_and_stale_retries() {
        let mut c = core();
        c.set("kpn", spec(), T0);
        drain(&mut c);
        c.register_response(&"kpn", challenge(401, false), T0);
        c.register_response(&"kpn", challenge(401, true), T0);
        c.register_response(&"kpn", challenge(407, true), T0);
        assert_eq!(
            drain(&mut c),
            vec![reg(600, true), reg(600, true), reg(600, true)]
        );
        c.register_response(&"kpn", challenge(401, true), T0);
        assert!(matches!(
            c.view(&"kpn").map(|v| v.state),
            Some(State::Mislukt {
                reason: Reason::AuthFailed,
                code: Some(401),
                ..
            })
        ));
        let mut c = core();
        c.set("kpn", spec(), T0);
        drain(&mut c);
        c.register_response(&"kpn", code(401), T0);
        assert!(matches!(
            c.view(&"kpn").map(|v| v.state),
            Some(State::Mislukt {
                reason: Reason::Challenge,
                ..
            })
        ));
    }

    #[test]
    fn interval_too_brief_takes_min_expires() {
        let mut c = core();
        c.set(
            "kpn",
            Spec {
                expires: 60,
                ..spec()
            },
            T0,
        );
        drain(&mut c);
        let r = RegResponse {
            min_expires: Some(3600),
            ..code(423)
        };
        c.register_response(&"kpn", r, T0);
        assert_eq!(drain(&mut c), vec![reg(3600, false)]);
        c.register_response(&"kpn", ok(3600), T0);
        assert_eq!(
            c.view(&"kpn").map(|v| v.state.as_str()),
            Some("geregistreerd")
        );
        // A 423 without a higher Min-Expires fails.
        c.handle_timeout(T0 + 3_600_000);
        drain(&mut c);
        c.register_response(
            &"kpn",
            RegResponse {
                min_expires: Some(60),
                ..code(423)
            },
            T0 + 3_600_000,
        );
        assert!(matches!(
            c.view(&"kpn").map(|v| v.state),
            Some(State::Mislukt {
                reason: Reason::Interval,
                ..
            })
        ));
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_five_minutes_and_recovers() {
        let mut c = core();
        c.set("kpn", spec(), T0);
        drain(&mut c);
        let mut now = T0;
        let mut delays = Vec::new();
        for _ in 0..10 {
            c.register_response(&"kpn", code(403), now);
            let Some(State::Mislukt { retry_ms, code, .. }) = c.view(&"kpn").map(|v| v.state)
            else {
                panic!("not failed");
            };
            assert_eq!(code, Some(403));
            delays.push(retry_ms - now);
            // Nothing before the retry time.
            c.handle_timeout(retry_ms - 1);
            assert!(!drain(&mut c)
                .iter()
                .any(|a| matches!(a, Action::Register { .. })));
            now = retry_ms;
            c.handle_timeout(now);
            assert!(drain(&mut c).contains(&reg(600, false)));
        }
        for (i, d) in delays.iter().enumerate() {
            let base = (5_000u64 << i).min(300_000);
            assert!(*d <= base && *d >= base * 8 / 10, "delay {i}: {d}");
        }
        assert!(delays.windows(2).take(5).all(|w| w[1] > w[0]));
        c.register_response(&"kpn", ok(600), now);
        assert_eq!(
            c.view(&"kpn").map(|v| v.state.as_str()),
            Some("geregistreerd")
        );
        // Back to the short delay after a recovery.
        c.handle_timeout(now + 570_000);
        drain(&mut c);
        c.register_failed(&"kpn", false, now + 570_000);
        let Some(State::Mislukt {
            retry_ms, reason, ..
        }) = c.view(&"kpn").map(|v| v.state)
        else {
            panic!("not failed");
        };
        assert_eq!(reason, Reason::Timeout);
        assert!(retry_ms - (now + 570_000) <= 5_000);
    }

    #[test]
    fn disable_and_remove_unregister_once_bound() {
        let mut c = core();
        c.set("kpn", spec(), T0);
        drain(&mut c);
        c.register_response(&"kpn", ok(600), T0);
        c.set(
            "kpn",
            Spec {
                enabled: false,
                ..spec()
            },
            T0 + 1,
        );
        assert_eq!(
            drain(&mut c),
            vec![Action::Unregister {
                key: "kpn",
                auth: false
            }]
        );
        assert_eq!(
            c.view(&"kpn").map(|v| v.state.as_str()),
            Some("uitgeschakeld")
        );
        c.register_response(&"kpn", challenge(401, false), T0 + 2);
        assert_eq!(
            drain(&mut c),
            vec![Action::Unregister {
                key: "kpn",
                auth: true
            }]
        );
        c.register_response(&"kpn", ok(0), T0 + 3);
        assert_eq!(c.poll_timeout(), None);
        // Enabled again: registers; removed: un-REGISTER, then gone.
        c.set("kpn", spec(), T0 + 4);
        drain(&mut c);
        c.register_response(&"kpn", ok(600), T0 + 5);
        c.remove(&"kpn");
        assert_eq!(
            drain(&mut c),
            vec![Action::Unregister {
                key: "kpn",
                auth: false
            }]
        );
        assert_eq!(c.view(&"kpn"), None);
        c.register_failed(&"kpn", false, T0 + 6);
        assert_eq!(c.keys().count(), 0);
        assert_eq!(c.poll_timeout(), None);
        // A trunk that never registered leaves quietly; shutdown un-REGISTERs the bound ones.
        c.set(
            "a",
            Spec {
                register: false,
                ..spec()
            },
            T0,
        );
        c.set("b", spec(), T0);
        drain(&mut c);
        c.register_response(&"b", ok(600), T0);
        c.shutdown();
        assert_eq!(
            drain(&mut c),
            vec![Action::Unregister {
                key: "b",
                auth: false
            }]
        );
    }

    #[test]
    fn options_give_rtt_and_up_down_with_history() {
        let mut c = core();
        c.set(
            "kpn",
            Spec {
                register: false,
                ..spec()
            },
            T0,
        );
        assert_eq!(drain(&mut c), vec![Action::Ping("kpn")]);
        assert_eq!(c.view(&"kpn").map(|v| v.state), Some(State::Geen));
        c.ping_answered(&"kpn", T0 + 42);
        let v = c.view(&"kpn").unwrap_or_else(|| unreachable!());
        assert_eq!((v.rtt_ms, v.up), (Some(42), Some(true)));
        assert_eq!(c.poll_timeout(), Some(T0 + 30_000));
        // Three lost pings make it down.
        let mut now = T0 + 30_000;
        for i in 0..3 {
            c.handle_timeout(now);
            assert_eq!(drain(&mut c), vec![Action::Ping("kpn")]);
            now += 4_000;
            c.handle_timeout(now);
            assert_eq!(drain(&mut c), vec![Action::AbandonPing("kpn")]);
            let up = c.view(&"kpn").and_then(|v| v.up);
            assert_eq!(up, Some(i < 2));
            now += 30_000;
        }
        c.handle_timeout(now);
        drain(&mut c);
        c.ping_answered(&"kpn", now + 7);
        let v = c.view(&"kpn").unwrap_or_else(|| unreachable!());
        assert_eq!((v.rtt_ms, v.up), (Some(7), Some(true)));
        let changes: Vec<Change> = v.history.iter().map(|h| h.change).collect();
        assert_eq!(
            changes,
            vec![
                Change::State(State::Geen),
                Change::Up,
                Change::Down,
                Change::Up
            ]
        );
        // A transport error is down at once.
        now += 30_000;
        c.handle_timeout(now);
        drain(&mut c);
        c.ping_failed(&"kpn", true, now);
        assert_eq!(c.view(&"kpn").and_then(|v| v.up), Some(false));
    }

    #[test]
    fn history_is_bounded() {
        let mut c: TrunkReg<&'static str> = TrunkReg::new(TrunkRegConfig {
            history: 5,
            ..TrunkRegConfig::default()
        });
        c.set("kpn", spec(), T0);
        let mut now = T0;
        for _ in 0..20 {
            drain(&mut c);
            c.register_response(&"kpn", ok(600), now);
            now += 1_000_000;
            c.handle_timeout(now);
            drain(&mut c);
            c.register_response(&"kpn", code(503), now);
            now += 1_000_000;
            c.handle_timeout(now);
        }
        let v = c.view(&"kpn").unwrap_or_else(|| unreachable!());
        assert_eq!(v.history.len(), 5);
        assert!(v.history.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
    }

    #[test]
    fn responses_without_a_request_out_change_nothing() {
        let mut c = core();
        c.register_response(&"none", ok(600), T0);
        c.ping_answered(&"none", T0);
        c.set(
            "kpn",
            Spec {
                enabled: false,
                ..spec()
            },
            T0,
        );
        drain(&mut c);
        c.register_response(&"kpn", ok(600), T0);
        c.ping_answered(&"kpn", T0);
        c.register_failed(&"kpn", true, T0);
        assert_eq!(c.view(&"kpn").map(|v| v.state), Some(State::Uitgeschakeld));
        assert_eq!(c.poll_timeout(), None);
    }
}
