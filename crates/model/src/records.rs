//! Records that leave the live state: audit entries and export lines.

use crate::belplan::Belplan;
use crate::contact::Contact;
use crate::extension::Extension;
use crate::queue::{Queue, RingGroup};
use crate::tenant::Tenant;
use crate::trunk::Trunk;
use crate::user::User;
use serde::{Deserialize, Serialize};

/// One change, as written to the audit log. `before` and `after` never hold secrets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Sequence number, given by the store (increasing).
    #[serde(default)]
    pub seq: u64,
    /// Time, RFC 3339 UTC.
    pub time: String,
    /// Unix uid of the peer on the control socket.
    pub uid: u32,
    /// Unix user name of that uid, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Action: `tenant.add`, `extension.set`, `trunk.remove`, `import`, `apply` …
    pub action: String,
    /// Organisation, when the change is in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Object: `extension 1001`, `trunk kpn`.
    pub object: String,
    /// State before (public view), if it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<serde_json::Value>,
    /// State after (public view), if it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<serde_json::Value>,
}

/// The schema version of the export format.
pub const EXPORT_FORMAT: u32 = 1;

/// One line of `pbxctl export` (JSON lines). The first line is the header.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum ExportRecord {
    /// First line: format and origin.
    Header {
        /// [`EXPORT_FORMAT`].
        format: u32,
        /// pbxd version that wrote it.
        version: String,
        /// Were secrets included?
        secrets: bool,
    },
    /// An organisation.
    Tenant(Tenant),
    /// A user (hash and TOTP only with secrets).
    User(User),
    /// An extension (HA1 only with secrets).
    Extension(Extension),
    /// A trunk (never with its sealed secret; see `TrunkSecret`).
    Trunk(Trunk),
    /// A trunk secret in plain text, only when secrets were asked for; sealed again on import
    /// with the key of the importing store.
    TrunkSecret {
        /// Organisation.
        tenant: String,
        /// Trunk name.
        trunk: String,
        /// The secret.
        secret: String,
    },
    /// A user's TOTP secret in plain text (base32), only when secrets were asked for; sealed again
    /// on import with the key of the importing store.
    TotpSecret {
        /// Organisation.
        tenant: String,
        /// User name.
        user: String,
        /// The secret.
        secret: String,
    },
    /// A queue.
    Queue(Queue),
    /// A belgroep.
    RingGroup(RingGroup),
    /// The belplan of an organisation.
    Belplan {
        /// Organisation.
        tenant: String,
        /// Its belplan.
        belplan: Belplan,
    },
    /// A contact.
    Contact(Contact),
    /// A call detail record.
    Cdr(crate::calls::Cdr),
    /// An audit entry.
    Audit(AuditEntry),
}
