//! Registrations and call detail records.

use crate::codec::{check_name, encode, key2, prefix, Tid};
use crate::error::Result;
use crate::Store;
use pbx_model::{Afloop, Cdr, Registration};

/// `slug\0extension\0contact`.
fn registration_key(r: &Registration) -> Vec<u8> {
    let mut k = key2(&r.tenant, &r.extension);
    k.push(0);
    k.extend_from_slice(r.contact.as_bytes());
    k
}

/// `slug\0<end ms big-endian>id`: per organisation in order of ending.
pub(crate) fn cdr_key(c: &Cdr) -> Vec<u8> {
    let mut k = prefix(&c.tenant);
    k.extend_from_slice(&c.end_ms.to_be_bytes());
    k.extend_from_slice(c.id.as_bytes());
    k
}

/// Which CDRs to list.
#[derive(Clone, Debug, Default)]
pub struct CdrFilter {
    /// Only this organisation.
    pub tenant: Option<String>,
    /// Ended at or after (Unix ms).
    pub from_ms: Option<u64>,
    /// Ended before (Unix ms).
    pub to_ms: Option<u64>,
    /// Caller or callee number contains this.
    pub number: Option<String>,
    /// Only this afloop.
    pub afloop: Option<Afloop>,
    /// At most this many, the newest (0 = no limit).
    pub limit: usize,
}

impl CdrFilter {
    fn keeps(&self, c: &Cdr) -> bool {
        self.from_ms.is_none_or(|f| c.end_ms >= f)
            && self.to_ms.is_none_or(|t| c.end_ms < t)
            && self.afloop.is_none_or(|a| c.afloop == a)
            && self
                .number
                .as_deref()
                .is_none_or(|n| c.caller.number.contains(n) || c.callee.number.contains(n))
    }
}

impl Store {
    /// Stores (or refreshes) a registration. Not flushed before returning: phones refresh their
    /// registrations, and shutdown flushes (see [`Store::mutate_lazy`]).
    pub fn put_registration(&self, r: &Registration) -> Result<()> {
        check_name(&r.tenant)?;
        check_name(&r.extension)?;
        check_name(&r.contact)?;
        let key = registration_key(r);
        let value = encode(r)?;
        self.mutate_lazy(|p| {
            p.put(Tid::Registrations, key, value);
            Ok(())
        })
    }

    /// Stores several registrations in one batch (lazily, like [`Store::put_registration`]).
    pub fn put_registrations(&self, regs: &[Registration]) -> Result<()> {
        let mut rows = Vec::with_capacity(regs.len());
        for r in regs {
            check_name(&r.tenant)?;
            check_name(&r.extension)?;
            check_name(&r.contact)?;
            rows.push((registration_key(r), encode(r)?));
        }
        self.mutate_lazy(|p| {
            for (k, v) in rows {
                p.put(Tid::Registrations, k, v);
            }
            Ok(())
        })
    }

    /// Removes a registration (un-REGISTER); not an error when it is not there.
    pub fn remove_registration(&self, r: &Registration) -> Result<()> {
        let key = registration_key(r);
        self.mutate_lazy(|p| {
            p.del(Tid::Registrations, key);
            Ok(())
        })
    }

    /// The registrations of an organisation, or of all.
    pub fn registrations(&self, tenant: Option<&str>) -> Result<Vec<Registration>> {
        let pre = tenant.map(prefix).unwrap_or_default();
        self.scan(Tid::Registrations, &pre)
    }

    /// Drops the registrations that expired at `now_ms`; returns them.
    pub fn prune_registrations(&self, now_ms: u64) -> Result<Vec<Registration>> {
        let expired: Vec<Registration> = self
            .registrations(None)?
            .into_iter()
            .filter(|r| r.expired(now_ms))
            .collect();
        if !expired.is_empty() {
            let keys: Vec<Vec<u8>> = expired.iter().map(registration_key).collect();
            self.mutate_lazy(|p| {
                for k in keys {
                    p.del(Tid::Registrations, k);
                }
                Ok(())
            })?;
        }
        Ok(expired)
    }

    /// Writes a CDR and flushes it before returning: the call's resources are freed after this.
    pub fn append_cdr(&self, c: &Cdr) -> Result<()> {
        check_name(&c.tenant)?;
        check_name(&c.id)?;
        let key = cdr_key(c);
        let value = encode(c)?;
        self.mutate(|p| {
            p.put(Tid::Cdrs, key, value);
            Ok(())
        })
    }

    /// CDRs matching the filter, oldest first; with a limit the newest `limit`.
    pub fn cdrs(&self, f: &CdrFilter) -> Result<Vec<Cdr>> {
        let pre = f.tenant.as_deref().map(prefix).unwrap_or_default();
        let all = match (
            f.tenant.as_deref(),
            f.from_ms.is_some() || f.to_ms.is_some(),
        ) {
            // Keys are `tenant\0 end_ms id`: a period of one organisation is a range.
            (Some(t), true) => {
                let at = |ms: u64| {
                    let mut k = prefix(t);
                    k.extend_from_slice(&ms.to_be_bytes());
                    k
                };
                let (from, to) = (at(f.from_ms.unwrap_or(0)), at(f.to_ms.unwrap_or(u64::MAX)));
                let mut v = Vec::new();
                for kv in self.tree(Tid::Cdrs).range(from..to) {
                    let (k, val) = kv.map_err(|e| self.db_err(e))?;
                    v.push(self.decode_at::<Cdr>(Tid::Cdrs, &k, &val)?);
                }
                v
            }
            _ => self.scan::<Cdr>(Tid::Cdrs, &pre)?,
        };
        let mut out: Vec<Cdr> = all.into_iter().filter(|c| f.keeps(c)).collect();
        out.sort_by(|a, b| (a.end_ms, &a.id).cmp(&(b.end_ms, &b.id)));
        if f.limit > 0 && out.len() > f.limit {
            out.drain(..out.len() - f.limit);
        }
        Ok(out)
    }

    /// Adds an agent's notes and/or afcodering to the CDR with pbxd id `id` (searched from the
    /// newest: it is a call that just ended). Flushed before returning. `Ok(false)`: no such CDR.
    pub fn annotate_cdr(
        &self,
        tenant: &str,
        id: &str,
        notes: Option<&str>,
        afcodering: Option<&str>,
    ) -> Result<bool> {
        check_name(tenant)?;
        let pre = prefix(tenant);
        let mut found = None;
        for kv in self.tree(Tid::Cdrs).scan_prefix(&pre).rev() {
            let (k, v) = kv.map_err(|e| self.db_err(e))?;
            if !k.ends_with(id.as_bytes()) {
                continue;
            }
            let c: Cdr = self.decode_at(Tid::Cdrs, &k, &v)?;
            if c.id == id {
                found = Some((k.to_vec(), c));
                break;
            }
        }
        let Some((key, mut c)) = found else {
            return Ok(false);
        };
        if let Some(n) = notes {
            c.notes = n.to_string();
        }
        if let Some(a) = afcodering {
            c.afcodering = Some(a.to_string());
        }
        let value = encode(&c)?;
        self.mutate(|p| {
            p.put(Tid::Cdrs, key, value);
            Ok(())
        })?;
        Ok(true)
    }

    /// One CDR by id.
    pub fn cdr(&self, tenant: &str, id: &str) -> Result<Option<Cdr>> {
        Ok(self
            .scan::<Cdr>(Tid::Cdrs, &prefix(tenant))?
            .into_iter()
            .find(|c| c.id == id))
    }

    /// Removes the CDRs of an organisation that ended before `before_ms` (retention); returns
    /// how many.
    pub fn prune_cdrs(&self, tenant: &str, before_ms: u64) -> Result<usize> {
        let old: Vec<Vec<u8>> = self
            .scan::<Cdr>(Tid::Cdrs, &prefix(tenant))?
            .iter()
            .filter(|c| c.end_ms < before_ms)
            .map(cdr_key)
            .collect();
        let n = old.len();
        if n > 0 {
            self.mutate(|p| {
                for k in old {
                    p.del(Tid::Cdrs, k);
                }
                Ok(())
            })?;
        }
        Ok(n)
    }
}
