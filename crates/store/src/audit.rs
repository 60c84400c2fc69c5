//! The audit log: every change, with a sequence number given here.

use crate::codec::{encode, u64_key, Tid};
use crate::error::Result;
use crate::Store;
use pbx_model::AuditEntry;

/// Meta key of the last audit sequence number.
pub(crate) const META_AUDIT_SEQ: &[u8] = b"audit_seq";

impl Store {
    /// Appends an entry, giving it the next sequence number (its own `seq` is ignored); flushed
    /// before it returns. Numbers only go up, also across restarts.
    pub fn append_audit(&self, mut entry: AuditEntry) -> Result<u64> {
        self.mutate(|p| {
            let seq = self
                .get::<u64>(Tid::Meta, META_AUDIT_SEQ)?
                .unwrap_or(0)
                .saturating_add(1);
            entry.seq = seq;
            p.put(Tid::Audit, u64_key(seq), encode(&entry)?);
            p.put(Tid::Meta, META_AUDIT_SEQ, encode(&seq)?);
            Ok(seq)
        })
    }

    /// The last `limit` entries, of one organisation or of all; oldest first, newest last.
    pub fn audit(&self, tenant: Option<&str>, limit: usize) -> Result<Vec<AuditEntry>> {
        let mut out = Vec::new();
        for kv in self.tree(Tid::Audit).iter().rev() {
            if out.len() >= limit {
                break;
            }
            let (k, v) = kv.map_err(|e| self.db_err(e))?;
            let e: AuditEntry = self.decode_at(Tid::Audit, &k, &v)?;
            if tenant.is_none() || e.tenant.as_deref() == tenant {
                out.push(e);
            }
        }
        out.reverse();
        Ok(out)
    }
}
