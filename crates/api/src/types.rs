//! Requests, responses and events of the control API.

use pbx_model::{
    Action, AuditEntry, Belplan, Codec, ErrorCode, Extension, Forwarding, Member, Queue,
    RecordingPolicy, Role, Strategy, TenantBundle, TenantStatus, Transport, UserState,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The error body of every failed request: `{"error": {...}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ApiError,
}

/// An error as the API reports it: stable code, message and hint in the caller's language.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// Stable code.
    pub code: ErrorCode,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// `GET /v1/status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// Program version of pbxd.
    pub version: String,
    /// API major version.
    pub api: u32,
    /// Seconds since start.
    pub uptime_secs: u64,
    /// Process id.
    pub pid: u32,
    /// Config folder.
    pub config_dir: String,
    /// State folder.
    pub state_dir: String,
    /// Store schema version.
    pub schema_version: u32,
    /// Organisations visible to the caller.
    pub tenants: usize,
    /// Extensions visible to the caller.
    pub extensions: usize,
    /// Time of the last successful config load (RFC 3339).
    pub config_loaded: String,
    /// The caller as pbxd sees it.
    pub you: Caller,
    /// SIP counters (received, rate_limited, discarded, rejected, registered, auth_failed).
    #[serde(default)]
    pub sip: BTreeMap<String, u64>,
}

/// An active call, for `pbxctl calls` and pbxtop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallInfo {
    /// pbxd's id of the call (for `pbxctl call hangup`).
    pub id: String,
    /// SIP Call-ID of the caller's leg (for `pbxctl trace`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub call_id: String,
    /// Organisation.
    pub tenant: String,
    /// Caller.
    pub caller: pbx_model::Party,
    /// Party dialled.
    pub callee: pbx_model::Party,
    /// Forward targets in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forwarded_to: Vec<String>,
    /// `routing`, `ringing`, `answered`.
    pub state: String,
    /// One side holds the other.
    pub on_hold: bool,
    /// Start (Unix ms).
    pub started_ms: u64,
    /// Answer (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_ms: Option<u64>,
    /// The legs to the callee's phones: contact and state.
    pub legs: Vec<CallLeg>,
    /// Media quality of the caller's side (`a`) and the called side (`b`), updated every
    /// second while media flows through pbxd.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quality: Vec<LegLive>,
    /// Audio goes one way only now (5 s or more).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub one_way: bool,
    /// No audio either way now (5 s or more).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dead_air: bool,
}

/// The live quality of one side of a call: what pbxd receives from it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegLive {
    /// `a` or `b`.
    pub leg: String,
    /// Negotiated codec.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub codec: String,
    /// Packets received.
    pub packets: u64,
    /// Loss in the last second, hundredths of a percent.
    pub loss_centi_pct: u32,
    /// Interarrival jitter, hundredths of a ms.
    pub jitter_centi_ms: u32,
    /// Round-trip time from RTCP, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<u32>,
    /// MOS of the last second (E-model), hundredths; absent without audio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mos_centi: Option<u32>,
    /// Average MOS so far, hundredths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg_mos_centi: Option<u32>,
    /// The last MOS values (up to 60, one a second), hundredths, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history_centi: Vec<u32>,
}

/// `GET /v1/trunk-status`: what pbxd knows of a trunk (registration, keep-alive). Never
/// carries a secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrunkStatus {
    /// Organisation.
    pub tenant: String,
    /// Trunk name.
    pub name: String,
    /// `geen` (no registration), `bezig`, `geregistreerd`, `mislukt`, `uitgeschakeld`.
    pub state: String,
    /// Why it failed (`geweigerd`, `authenticatie`, `uitdaging`, `interval`, `geen_antwoord`,
    /// `transport`, `geen_geheim`, `transport_niet_ondersteund`); i18n key `trunk.reason.<reason>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// SIP status code of the failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    /// Next attempt after a failure (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_ms: Option<u64>,
    /// End of the registration the provider granted (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_until_ms: Option<u64>,
    /// Round-trip time of the last answered OPTIONS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<u64>,
    /// OPTIONS answered (`true`), lost or transport error (`false`); absent before the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up: Option<bool>,
    /// Calls on the trunk now (0 until outbound calls exist).
    pub active_calls: u32,
    /// Maximum concurrent calls.
    pub max_channels: u32,
    /// The last changes, oldest first.
    #[serde(default)]
    pub history: Vec<TrunkChange>,
}

/// `GET /v1/history`: one bucket of the roll-ups.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryPoint {
    /// Start of the bucket (Unix ms).
    pub start_ms: u64,
    /// Calls started.
    pub started: u64,
    /// Answered.
    pub answered: u64,
    /// Not answered.
    pub failed: u64,
    /// Answer-seizure ratio, percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asr_pct: Option<f64>,
    /// Average duration of answered calls, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg_duration_secs: Option<f64>,
    /// Most calls at once.
    pub peak_calls: u32,
    /// Average MOS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mos_avg: Option<f64>,
    /// 5th-percentile MOS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mos_p5: Option<f64>,
    /// Most registrations.
    pub registrations: u32,
    /// Trunk availability, percent (trunk scopes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_pct: Option<f64>,
}

/// `GET /v1/alarms`: an alarm (a rule of `alarms.toml` for one scope key).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlarmInfo {
    /// `rule` or `rule:key`, for `pbxctl alarm ack|silence`.
    pub id: String,
    /// Rule name.
    pub rule: String,
    /// Scope key: organisation, `org/trunk`, address; empty for global rules.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key: String,
    /// Organisation, when the alarm belongs to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Metric (`mos`, `verlies` …).
    pub metric: String,
    /// `info`, `waarschuwing`, `kritiek`.
    pub severity: String,
    /// `firing` or `resolved`.
    pub state: String,
    /// The value over the window.
    pub value: f64,
    /// The threshold.
    pub threshold: f64,
    /// In this state since (Unix ms).
    pub since_ms: u64,
    /// Acknowledged.
    pub acked: bool,
    /// Silenced until (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silenced_until_ms: Option<u64>,
}

/// `GET /v1/toll-fraud`: the toll-fraud guard's counters of one organisation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TollFraudCounters {
    /// Organisation.
    pub tenant: String,
    /// Outside calls now (112 included).
    pub outside_calls: u32,
    /// Of which to 112.
    pub emergency_calls: u32,
    /// The limit of concurrent outside calls.
    pub max_outside_calls: u32,
    /// International calls started in the last hour.
    pub international_last_hour: u32,
    /// Their limit.
    pub max_international_per_hour: u32,
    /// Calls to betaalnummers started in the last hour.
    pub betaalnummers_last_hour: u32,
    /// Their limit.
    pub max_betaalnummers_per_hour: u32,
    /// Calls blocked per limit since pbxd started (`max_outside_calls`,
    /// `max_international_per_hour`, `max_betaalnummers_per_hour`).
    pub blocked: BTreeMap<String, u64>,
}

/// A change of a trunk's state or reachability.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrunkChange {
    /// When (Unix ms).
    pub at_ms: u64,
    /// A state (`geregistreerd`, `mislukt` …) or `up` / `down`.
    pub change: String,
    /// Why, for `mislukt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// SIP status code, for `mislukt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
}

/// A leg of a call towards one phone of the callee.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallLeg {
    /// The contact it rings.
    pub contact: String,
    /// `trying`, `ringing`, `answered`, `failed`, `cancelled` …
    pub state: String,
}

/// `GET /v1/trace/{call-id}`: the SIP messages of a call, credentials redacted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceView {
    /// The Call-ID.
    pub call_id: String,
    /// Messages not kept (over the per-call limit).
    pub dropped: usize,
    /// The messages in order.
    pub messages: Vec<TraceMessage>,
}

/// A softphone agent (`GET /v1/agents`): a user who logged in on the softphone since pbxd
/// started.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentInfo {
    /// Organisation.
    pub tenant: String,
    /// Login name.
    pub user: String,
    /// Full name.
    pub name: String,
    /// Extension, if the user owns one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    /// `beschikbaar`, `pauze`, `niet_storen` or `afgemeld`.
    pub status: String,
    /// Reason of a pause.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Since when (Unix ms) in this status.
    pub since_ms: u64,
    /// Open softphone pages.
    pub pages: u32,
    /// Calls in progress on the softphone.
    pub calls: u32,
}

/// The live state of a wachtrij (`GET /v1/queue-status`): callers for its number ringing at
/// its members ("waiting") or answered, its members' agents, and today's figures (UTC day) from
/// the CDRs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueInfo {
    /// Organisation.
    pub tenant: String,
    /// The queue's number.
    pub number: String,
    /// Name.
    pub name: String,
    /// Strategy (`ringall`, …).
    pub strategy: String,
    /// Callers waiting now (their call rings at the members).
    pub waiting: u32,
    /// The longest of those waits, seconds.
    pub longest_wait_s: u64,
    /// Calls of the queue in progress (answered).
    pub talking: u32,
    /// Members configured.
    pub members: u32,
    /// Members logged in on the softphone (any status but `afgemeld`).
    pub logged_in: u32,
    /// Members `beschikbaar` and not in a call.
    pub available: u32,
    /// Calls to the queue today.
    pub offered_today: u32,
    /// Of those answered.
    pub answered_today: u32,
    /// Of those lost (caller hung up, or nobody answered).
    pub lost_today: u32,
    /// Average wait of the answered ones, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg_wait_s: Option<u64>,
    /// Share of today's calls answered within 20 s, percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_level_pct: Option<u32>,
}

/// One message of a trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceMessage {
    /// Unix ms.
    pub time_ms: u64,
    /// `in` or `out`, seen from pbxd.
    pub way: String,
    /// Transport.
    pub transport: String,
    /// Source address.
    pub src: String,
    /// Destination address.
    pub dst: String,
    /// The message text.
    pub text: String,
}

/// Who the caller is and what it may do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    /// Unix uid.
    pub uid: u32,
    /// Unix user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `beheerder`, or the organisation the caller is limited to.
    pub scope: Scope,
}

/// The rights of a caller on the control socket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Everything (root or the admin group).
    Beheerder,
    /// One organisation.
    Tenant(String),
    /// Nothing.
    None,
}

/// A line of `pbxctl tenant list`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSummary {
    /// The organisation.
    #[serde(flatten)]
    pub tenant: pbx_model::Tenant,
    /// Number of extensions.
    pub extensions: usize,
    /// Number of users.
    pub users: usize,
    /// Number of trunks.
    pub trunks: usize,
    /// Number of queues.
    pub queues: usize,
}

/// `PATCH /v1/tenants/{t}`: only the fields given change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantPatch {
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New list of domains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domains: Option<Vec<String>>,
    /// New limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_extensions: Option<u32>,
    /// New limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_calls: Option<u32>,
    /// New limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_outside_calls: Option<u32>,
    /// New status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TenantStatus>,
    /// New recording policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<RecordingPolicy>,
    /// New retention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
    /// International numbers allowed at all (toll fraud).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub international: Option<bool>,
    /// Betaalnummers allowed at all (toll fraud).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub betaalnummers: Option<bool>,
    /// International calls per sliding hour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_international_per_hour: Option<u32>,
    /// Calls to betaalnummers per sliding hour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_betaalnummers_per_hour: Option<u32>,
    /// Longest outside call in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_call_secs: Option<u32>,
    /// New list of afcoderingen (replaces the old one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub afcoderingen: Option<Vec<pbx_model::tenant::Afcodering>>,
    /// New afrondtijd in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub afrondtijd_s: Option<u32>,
}

/// Query flags of destructive requests: `?dry_run=true&force=true`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removed {
    /// What was (or would be, with `dry_run`) removed: `extensie 1001`, …
    pub removed: Vec<String>,
    /// Only shown, nothing changed.
    pub dry_run: bool,
}

/// `POST /v1/tenants/{t}/users`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserCreate {
    /// Login name.
    pub username: String,
    /// Full name.
    pub name: String,
    /// E-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Role.
    pub role: Role,
    /// Login password (hashed with argon2id; never stored plain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Call permission classes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission: Option<Vec<String>>,
}

/// `PATCH /v1/tenants/{t}/users/{u}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New e-mail (empty clears it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// New role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// New call permission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission: Option<Vec<String>>,
    /// New state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<UserState>,
}

/// `POST …/users/{u}/password` and `…/extensions/{n}/reset-password`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordSet {
    /// The new password; for extensions, empty means: generate one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// `POST …/users/{u}/totp`: switch two-factor login on (a new secret) or off.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TotpSet {
    /// On or off.
    pub enable: bool,
}

/// The answer when TOTP is switched on: the secret, shown once, and the URI for a QR code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpEnabled {
    /// The user (without secrets).
    pub user: pbx_model::User,
    /// Base32 secret; only when switched on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// `otpauth://` URI; only when switched on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
}

/// `POST /v1/tenants/{t}/extensions`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtensionCreate {
    /// Number.
    pub number: String,
    /// Display name.
    pub name: String,
    /// Owner user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// SIP password; generated when missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Codecs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codecs: Option<Vec<Codec>>,
    /// Forwarding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarding: Option<Forwarding>,
    /// Recording policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<RecordingPolicy>,
    /// Max registrations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_registrations: Option<u8>,
}

/// `PATCH /v1/tenants/{t}/extensions/{n}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtensionPatch {
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New owner (empty clears it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// New codecs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codecs: Option<Vec<Codec>>,
    /// New forwarding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarding: Option<Forwarding>,
    /// New recording policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<RecordingPolicy>,
    /// New max registrations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_registrations: Option<u8>,
}

/// Answer to creating an extension or resetting its password. The password is shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionCreated {
    /// The extension (without credentials).
    pub extension: Extension,
    /// The generated password, only when pbxd made one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// `POST /v1/tenants/{t}/trunks` and `PATCH …/trunks/{name}` (all optional on PATCH).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkSpec {
    /// Name (create only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Provider host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Transport.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<Transport>,
    /// Register at the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub register: Option<bool>,
    /// Auth user name (empty removes the credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Secret (sealed at rest, never returned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Registration lifetime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<u32>,
    /// Allowed source networks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<String>>,
    /// DIDs (any Dutch or E.164 form; normalised).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dids: Option<Vec<String>>,
    /// Caller ID (empty clears it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_id: Option<String>,
    /// Max channels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_channels: Option<u32>,
    /// Codecs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codecs: Option<Vec<Codec>>,
    /// Priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
    /// Enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// `POST /v1/tenants/{t}/queues` and `PATCH …/queues/{n}` (all optional on PATCH).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSpec {
    /// Number (create only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    /// Ring timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ring_timeout_secs: Option<u32>,
    /// Max wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_wait_secs: Option<u32>,
    /// Afrondtijd.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrapup_secs: Option<u32>,
    /// Overflow target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overflow: Option<Action>,
    /// Wachtmuziek.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moh: Option<String>,
}

/// `POST /v1/tenants/{t}/queues/{n}/members`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MembersChange {
    /// Members to add (or whose penalty changes).
    #[serde(default)]
    pub add: Vec<Member>,
    /// User names to remove.
    #[serde(default)]
    pub remove: Vec<String>,
}

/// The answer for a queue.
pub type QueueView = Queue;

/// The answer for a belplan.
pub type BelplanView = Belplan;

/// One contact in an import batch; numbers in any Dutch or E.164 form.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    /// Name.
    pub name: String,
    /// Company.
    #[serde(default)]
    pub company: String,
    /// Phone numbers.
    #[serde(default)]
    pub phones: Vec<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Notes.
    #[serde(default)]
    pub notes: String,
    /// Free fields.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
}

/// `POST /v1/tenants/{t}/contacts/import`: a batch of contacts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactBatch {
    /// Row number of the first contact in the source file (for error messages).
    #[serde(default)]
    pub first_row: usize,
    /// The contacts.
    pub contacts: Vec<ContactInput>,
}

/// A row that could not be imported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedRow {
    /// Row number in the source.
    pub row: usize,
    /// Why.
    pub message: String,
}

/// The answer to a contact batch.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactImportResult {
    /// Imported contacts.
    pub imported: usize,
    /// Rejected rows.
    pub rejected: Vec<RejectedRow>,
}

/// The answer to `POST /v1/reload`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadResult {
    /// Was the new configuration taken?
    pub ok: bool,
    /// The problems that kept the old one.
    pub errors: Vec<String>,
    /// Organisations from conf.d that were new and have been created.
    pub seeded: Vec<String>,
}

/// An organisation declared in conf.d, sent with `plan` / `apply`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclaredSpec {
    /// The organisation as declared (trunk secrets left out).
    pub bundle: TenantBundle,
    /// Plain trunk secrets by trunk name.
    #[serde(default)]
    pub trunk_secrets: BTreeMap<String, String>,
}

/// `POST /v1/plan` and `/v1/apply`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyRequest {
    /// The declared organisations.
    pub tenants: Vec<DeclaredSpec>,
}

/// What a change does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeOp {
    /// Created.
    Add,
    /// Changed.
    Change,
    /// Removed.
    Remove,
}

/// One difference between conf.d and the running state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Add, change or remove.
    pub op: ChangeOp,
    /// Organisation.
    pub tenant: String,
    /// Object: `extensie 1001`, `trunk kpn`, `belplan`.
    pub object: String,
    /// Changed fields (for `change`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}

/// The answer to plan/apply.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The differences.
    pub changes: Vec<Change>,
    /// Were they applied?
    pub applied: bool,
}

/// The answer to `POST /v1/import`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportResult {
    /// Counts per kind of object.
    pub counts: BTreeMap<String, u64>,
}

/// An event on `GET /v1/events` (one JSON object per line). The stream starts with a snapshot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The full state the caller may see; sent first and after a lag.
    Snapshot {
        /// Status.
        status: Status,
        /// Organisations.
        tenants: Vec<TenantSummary>,
    },
    /// A change was made (the audit entry).
    Changed {
        /// The entry.
        entry: AuditEntry,
    },
    /// The configuration was reloaded (or refused).
    Reloaded {
        /// Taken or refused.
        ok: bool,
        /// Problems when refused.
        errors: Vec<String>,
    },
    /// A phone registered, unregistered, its registration expired, or it became unreachable
    /// (keep-alives unanswered, connection closed) or reachable again.
    Registration {
        /// `registered`, `unregistered`, `expired`, `unreachable` or `reachable`.
        change: String,
        /// The registration.
        registration: pbx_model::Registration,
    },
    /// A call started, rang, was answered, changed (forward, hold) or ended.
    Call {
        /// `started`, `ringing`, `answered`, `updated`, `ended`.
        change: String,
        /// The call.
        call: CallInfo,
    },
    /// A call was refused with 503 because a limit was reached.
    LimitReached {
        /// Organisation of the refused call.
        tenant: String,
        /// The limit.
        limit: u32,
        /// `tenant` (the organisation's max_calls) or `system` (pbxd's own).
        scope: String,
    },
    /// An alarm started firing, is still firing (reminder) or resolved.
    Alarm {
        /// `firing`, `reminder` or `resolved`.
        change: String,
        /// The alarm.
        alarm: AlarmInfo,
    },
    /// The toll-fraud guard blocked outside calls of an organisation (an alarm: at most one per
    /// organisation and limit per minute).
    TollFraud {
        /// Organisation.
        tenant: String,
        /// `max_outside_calls`, `max_international_per_hour` or `max_betaalnummers_per_hour`.
        limit: String,
        /// Its value.
        max: u32,
        /// Calls this limit blocked since pbxd started.
        blocked_total: u64,
    },
    /// A trunk's registration state or reachability changed.
    Trunk {
        /// Organisation.
        tenant: String,
        /// Trunk name.
        name: String,
        /// The change.
        change: TrunkChange,
    },
    /// Keep-alive, every 15 s.
    Ping,
}
