//! Domain types of the PBX and their rules: organisations, users, extensions, trunks, queues,
//! belgroepen, belplannen, contacts, call permissions and the Dutch numbering plan.
//!
//! Pure: no I/O, no clock reads (times come in as arguments), no panics on any input.

pub mod belplan;
pub mod bundle;
pub mod calls;
pub mod contact;
pub mod error;
pub mod extension;
pub mod history;
pub mod holidays;
pub mod names;
pub mod numbering;
pub mod pattern;
pub mod queue;
pub mod records;
pub mod secret;
pub mod tenant;
pub mod tollfraud;
pub mod trunk;
pub mod user;

pub use belplan::{Action, Belplan, Rule, RuleMatch, Schedule, TimeRange};
pub use bundle::{Detach, Finding, Loc, ObjKind, Severity, TenantBundle};
pub use calls::{
    Afloop, Attempt, CallQuality, Cdr, Direction, HangupBy, LegQuality, Party, Registration,
};
pub use contact::Contact;
pub use error::{ErrorCode, ModelError};
pub use extension::{Codec, Extension, Forwarding, SipCredentials};
pub use names::{check_extension_number, check_slug, check_username};
pub use numbering::{CallPermission, NumberClass, E164};
pub use pattern::Pattern;
pub use queue::{Member, Queue, RingGroup, RingStrategy, Strategy};
pub use records::{AuditEntry, ExportRecord, EXPORT_FORMAT};
pub use secret::{Sealed, SecretKey};
pub use tenant::{Limits, RecordingPolicy, Tenant, TenantStatus};
pub use trunk::{IpNet, Transport, Trunk, TrunkRegistration};
pub use user::{Role, User, UserState};
