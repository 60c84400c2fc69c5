//! Schema versions and the migrations between them.
//!
//! `MIGRATIONS[n]` takes a store from schema `n` to `n + 1`. On open, every migration from the
//! stored version up to [`SCHEMA_VERSION`] runs in one go, then the new version is written and
//! the database flushed. A migration must be idempotent: if the process dies half-way, the old
//! version is still on disk and the same migrations run again on the next open.

use crate::codec::{decode, phone_key, Tid};
use crate::error::{Result, StoreError};
use pbx_model::Contact;
use std::path::Path;

/// A migration from schema `n` to `n + 1`; the error is a detail for the message.
type Migration = fn(&sled::Db) -> std::result::Result<(), String>;

/// The migrations, indexed by the version they start from.
const MIGRATIONS: &[Migration] = &[v0_to_v1];

/// The schema version this code writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Runs the migrations from `from` up to [`SCHEMA_VERSION`].
pub(crate) fn run(dir: &Path, db: &sled::Db, from: u32) -> Result<()> {
    for v in from..SCHEMA_VERSION {
        let Some(m) = MIGRATIONS.get(v as usize) else {
            continue;
        };
        m(db).map_err(|detail| StoreError::Migration {
            dir: dir.to_path_buf(),
            from: v,
            detail,
        })?;
    }
    Ok(())
}

/// Schema 0 had no phone index: build it from the contacts.
fn v0_to_v1(db: &sled::Db) -> std::result::Result<(), String> {
    let contacts = db
        .open_tree(Tid::Contacts.name())
        .map_err(|e| e.to_string())?;
    let phones = db
        .open_tree(Tid::Phones.name())
        .map_err(|e| e.to_string())?;
    let mut batch = sled::Batch::default();
    for kv in contacts.iter() {
        let (k, v) = kv.map_err(|e| e.to_string())?;
        let c: Contact = decode(&v).map_err(|d| {
            format!(
                "contacts {}: {d}",
                crate::codec::show_key(Tid::Contacts, &k)
            )
        })?;
        let empty = crate::contacts::index_value().map_err(|e| e.to_string())?;
        for p in &c.phones {
            batch.insert(phone_key(&c.tenant, p.as_str(), c.id), empty.clone());
        }
    }
    phones.apply_batch(batch).map_err(|e| e.to_string())
}
