//! Roll-ups (history): `g scope \0 start_ms(be)` → [`Rollup`], in the `rollups` tree.
//!
//! Written by pbxd's history task once a minute (merged into what is there: minute, hour and
//! day of each scope in one transaction) and without waiting for the flush (roll-ups are derived
//! data; sled writes them within its flush interval and at shutdown). Old roll-ups are removed
//! by [`Store::prune_rollups`] in batches, so a large removal never holds the writer lock long.

use crate::codec::{encode, Tid};
use crate::error::Result;
use crate::Store;
use pbx_model::history::{Granularity, Rollup};

/// Most keys removed per transaction by [`Store::prune_rollups`].
const PRUNE_BATCH: usize = 1000;

fn scope_prefix(g: Granularity, scope: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(scope.len() + 2);
    k.push(g.tag());
    k.extend_from_slice(scope.as_bytes());
    k.push(0);
    k
}

fn rollup_key(g: Granularity, scope: &str, start_ms: u64) -> Vec<u8> {
    let mut k = scope_prefix(g, scope);
    k.extend_from_slice(&start_ms.to_be_bytes());
    k
}

impl Store {
    /// Merges roll-ups into the stored ones (one transaction).
    pub fn add_rollups(&self, items: &[(Granularity, String, u64, Rollup)]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        // Items for the same bucket are merged first: the plan is not read back.
        let mut merged: std::collections::BTreeMap<Vec<u8>, Rollup> = Default::default();
        for (g, scope, start, r) in items {
            merged
                .entry(rollup_key(*g, scope, g.start(*start)))
                .or_default()
                .merge(r);
        }
        self.mutate_lazy(|p| {
            for (key, r) in merged {
                let mut cur: Rollup = self.get(Tid::Rollups, &key)?.unwrap_or_default();
                cur.merge(&r);
                p.put(Tid::Rollups, key, encode(&cur)?);
            }
            Ok(())
        })
    }

    /// The roll-ups of a scope with `from_ms <= start < to_ms`, oldest first.
    pub fn rollups(
        &self,
        g: Granularity,
        scope: &str,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<(u64, Rollup)>> {
        let prefix = scope_prefix(g, scope);
        let lo = rollup_key(g, scope, from_ms);
        let hi = rollup_key(g, scope, to_ms);
        let mut out = Vec::new();
        for kv in self.tree(Tid::Rollups).range(lo..hi) {
            let (k, v) = kv.map_err(|e| self.db_err(e))?;
            let Some(ts) = k
                .strip_prefix(prefix.as_slice())
                .and_then(|t| <[u8; 8]>::try_from(t).ok())
            else {
                continue;
            };
            out.push((
                u64::from_be_bytes(ts),
                self.decode_at(Tid::Rollups, &k, &v)?,
            ));
        }
        Ok(out)
    }

    /// The scopes that have roll-ups of this granularity (`""`, `org:…`, `trunk:…`).
    pub fn rollup_scopes(&self, g: Granularity) -> Result<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        for k in self.tree(Tid::Rollups).scan_prefix([g.tag()]).keys() {
            let k = k.map_err(|e| self.db_err(e))?;
            let Some(end) = k.iter().skip(1).position(|b| *b == 0) else {
                continue;
            };
            let scope = String::from_utf8_lossy(&k[1..1 + end]).into_owned();
            if out.last() != Some(&scope) {
                out.push(scope);
            }
        }
        out.dedup();
        Ok(out)
    }

    /// Removes roll-ups of granularity `g` that start before `before_ms`, in batches of
    /// [`PRUNE_BATCH`]; returns how many.
    pub fn prune_rollups(&self, g: Granularity, before_ms: u64) -> Result<usize> {
        let mut removed = 0;
        for scope in self.rollup_scopes(g)? {
            loop {
                let lo = scope_prefix(g, &scope);
                let hi = rollup_key(g, &scope, before_ms);
                let keys: Vec<sled::IVec> = self
                    .tree(Tid::Rollups)
                    .range(lo..hi)
                    .keys()
                    .take(PRUNE_BATCH)
                    .collect::<std::result::Result<_, _>>()
                    .map_err(|e| self.db_err(e))?;
                if keys.is_empty() {
                    break;
                }
                removed += keys.len();
                self.mutate_lazy(|p| {
                    for k in &keys {
                        p.del(Tid::Rollups, k);
                    }
                    Ok(())
                })?;
            }
        }
        Ok(removed)
    }
}
