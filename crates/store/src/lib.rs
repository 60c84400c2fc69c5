//! The state of pbxd in sled: typed trees, schema version and migrations, export and import,
//! snapshots. The only crate of the workspace that uses sled.
//!
//! Layout of a state folder `DIR`:
//!
//! ```text
//! DIR/db/                         sled database
//! DIR/secret.key                  key that seals trunk secrets (mode 0600), unless a key file is given
//! DIR/snapshots/pbxd-*.jsonl      daily exports with secrets (mode 0600)
//! ```
//!
//! Every value is one version byte followed by JSON. Every mutating method flushes before it
//! returns `Ok`, so a caller may acknowledge a change as soon as the call returns; changes that
//! touch more than one tree are one sled transaction. Writers are serialised by a mutex in the
//! [`Store`] (sled's own file lock keeps other processes out), so the reads a change depends on
//! cannot go stale before its transaction commits.
//!
//! sled recovers a damaged log by keeping what it can read and dropping the rest, which would
//! open a damaged store as an older or empty one. So every commit also counts up a generation
//! in the meta tree, and after each flush that generation is written to `DIR/db/pbx-generation`
//! (atomically, by rename). A database that opens with a lower generation than that file has
//! lost acknowledged changes and is refused, as is a database without its schema marker, one
//! whose records cannot be read, and one that sled cannot open or panics on.

mod audit;
mod calls;
pub use calls::CdrFilter;
mod codec;
mod contacts;
mod error;
mod export;
mod history;
mod migrate;
mod objects;
mod snapshot;

pub use error::{Result, StoreError};
pub use export::ImportSummary;
pub use migrate::SCHEMA_VERSION;
pub use snapshot::{last_snapshot, SNAPSHOT_DIR};

use codec::{decode, encode, show_key, Tid};
use pbx_model::{Sealed, SecretKey};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// Name of the database folder in the state folder.
pub const DB_DIR: &str = "db";
/// Name of the default key file in the state folder.
pub const KEY_FILE: &str = "secret.key";

/// Meta key of the schema version (u32).
const META_SCHEMA: &[u8] = b"schema_version";
/// Meta key of a value sealed at creation, to tell whether a key file belongs to the store.
const META_KEY_CHECK: &[u8] = b"key_check";
/// The plain text of the key check.
const KEY_CHECK_TEXT: &str = "pbx-store key check";
/// Meta key of the generation: counted up by every commit.
const META_GENERATION: &[u8] = b"generation";
/// The file beside sled's files with the last generation known to be on disk.
pub const GENERATION_FILE: &str = "pbx-generation";

/// The store: an open sled database and the key that seals trunk secrets.
pub struct Store {
    dir: PathBuf,
    db: sled::Db,
    trees: Vec<sled::Tree>,
    key: SecretKey,
    schema: u32,
    writer: Mutex<()>,
    /// The generation last written to [`GENERATION_FILE`].
    watermark: Mutex<u64>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

/// Changes to commit in one transaction, per tree.
#[derive(Default)]
pub(crate) struct Plan {
    batches: BTreeMap<Tid, sled::Batch>,
}

impl Plan {
    pub(crate) fn put(&mut self, tree: Tid, key: impl AsRef<[u8]>, value: Vec<u8>) {
        self.batches
            .entry(tree)
            .or_default()
            .insert(key.as_ref(), value);
    }

    pub(crate) fn del(&mut self, tree: Tid, key: impl AsRef<[u8]>) {
        self.batches.entry(tree).or_default().remove(key.as_ref());
    }
}

impl Store {
    /// Opens (or creates) the store in the state folder `dir`. Trunk secrets are sealed with the
    /// key in `key_file` (which must exist), else with `dir/secret.key` (created, mode 0600, when
    /// the store is new). A damaged, truncated, locked or vanished store is an error, never an
    /// empty store; so is a key that does not belong to the store and a schema newer than this
    /// code. Older schemas are migrated.
    pub fn open(dir: &Path, key_file: Option<&Path>) -> Result<Store> {
        // sled may panic on damaged files, while opening or at the first reads: that is a
        // damaged store too.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Store::open_inner(dir, key_file)
        }))
        .unwrap_or_else(|p| {
            Err(StoreError::Corrupt {
                dir: dir.to_path_buf(),
                detail: panic_text(p.as_ref()),
            })
        })
    }

    fn open_inner(dir: &Path, key_file: Option<&Path>) -> Result<Store> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Io { path, source }
        };
        if !dir.exists() {
            fs::create_dir_all(dir).map_err(io(dir))?;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io(dir))?;
        }
        let db_dir = dir.join(DB_DIR);
        let existed = match fs::read_dir(&db_dir) {
            Ok(mut rd) => rd.next().is_some(),
            Err(e) if e.kind() == ErrorKind::NotFound => false,
            Err(e) => return Err(io(&db_dir)(e)),
        };
        if !existed {
            if let Some(evidence) = vanished_evidence(dir) {
                return Err(StoreError::Vanished {
                    dir: dir.to_path_buf(),
                    evidence,
                });
            }
        }

        let key_path = key_file
            .map(Path::to_path_buf)
            .unwrap_or_else(|| dir.join(KEY_FILE));
        let key = match read_key(&key_path)? {
            Some(k) => Some(k),
            None if key_file.is_some() || existed => {
                return Err(StoreError::KeyMissing { path: key_path })
            }
            None => None,
        };

        let db = open_sled(dir, &db_dir)?;
        if existed && !db.was_recovered() {
            return Err(StoreError::Corrupt {
                dir: dir.to_path_buf(),
                detail: "sled vond geen gegevens / sled found no data".into(),
            });
        }
        let sled_err = |e: sled::Error| open_error(dir, e);
        let mut trees = Vec::with_capacity(Tid::ALL.len());
        for t in Tid::ALL {
            trees.push(db.open_tree(t.name()).map_err(sled_err)?);
        }
        let meta = &trees[Tid::Meta.index()];
        let found: Option<u32> = match meta.get(META_SCHEMA).map_err(sled_err)? {
            Some(v) => Some(decode(&v).map_err(|detail| StoreError::Decode {
                dir: dir.to_path_buf(),
                tree: Tid::Meta.name(),
                key: show_key(Tid::Meta, META_SCHEMA),
                detail,
            })?),
            None if existed => {
                return Err(StoreError::Corrupt {
                    dir: dir.to_path_buf(),
                    detail: "schemaversie ontbreekt / schema version missing".into(),
                })
            }
            None => None,
        };
        if let Some(found) = found.filter(|v| *v > SCHEMA_VERSION) {
            return Err(StoreError::NewerSchema {
                dir: dir.to_path_buf(),
                found,
                supported: SCHEMA_VERSION,
            });
        }

        let key = match key {
            Some(k) => k,
            None => write_new_key(&key_path)?,
        };
        match meta.get(META_KEY_CHECK).map_err(sled_err)? {
            Some(v) => {
                let sealed: Sealed = decode(&v).map_err(|detail| StoreError::Decode {
                    dir: dir.to_path_buf(),
                    tree: Tid::Meta.name(),
                    key: show_key(Tid::Meta, META_KEY_CHECK),
                    detail,
                })?;
                if key.open(&sealed).ok().as_deref() != Some(KEY_CHECK_TEXT) {
                    return Err(StoreError::KeyMismatch {
                        path: key_path,
                        dir: dir.to_path_buf(),
                    });
                }
            }
            None => {
                meta.insert(META_KEY_CHECK, encode(&key.seal(KEY_CHECK_TEXT))?)
                    .map_err(sled_err)?;
            }
        }

        // The generation on disk may be ahead of the file (a crash between flush and the file
        // write), never behind it.
        let generation: u64 = match meta.get(META_GENERATION).map_err(sled_err)? {
            Some(v) => decode(&v).map_err(|detail| StoreError::Decode {
                dir: dir.to_path_buf(),
                tree: Tid::Meta.name(),
                key: show_key(Tid::Meta, META_GENERATION),
                detail,
            })?,
            None => 0,
        };
        match read_generation(&db_dir)? {
            Some(mark) if mark > generation => {
                return Err(StoreError::Corrupt {
                    dir: dir.to_path_buf(),
                    detail: format!("generatie {generation} is ouder dan de laatst bevestigde {mark} / generation {generation} is older than the last acknowledged {mark}"),
                })
            }
            Some(_) => {}
            None if generation > 0 => {
                return Err(StoreError::Corrupt {
                    dir: dir.to_path_buf(),
                    detail: format!("{GENERATION_FILE} ontbreekt / is missing"),
                })
            }
            None => {}
        }
        if existed {
            verify(dir, &trees)?;
        }

        let from = found.unwrap_or(SCHEMA_VERSION);
        migrate::run(dir, &db, from)?;
        if found != Some(SCHEMA_VERSION) {
            meta.insert(META_SCHEMA, encode(&SCHEMA_VERSION)?)
                .map_err(sled_err)?;
        }
        db.flush().map_err(sled_err)?;
        write_generation(&db_dir, generation)?;
        Ok(Store {
            dir: dir.to_path_buf(),
            db,
            trees,
            key,
            schema: SCHEMA_VERSION,
            writer: Mutex::new(()),
            watermark: Mutex::new(generation),
        })
    }

    /// The state folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The schema version of the open store (always [`SCHEMA_VERSION`] after open).
    pub fn schema_version(&self) -> u32 {
        self.schema
    }

    /// Seals a secret with this store's key.
    pub fn seal(&self, plain: &str) -> Sealed {
        self.key.seal(plain)
    }

    /// Opens a secret sealed with this store's key.
    pub fn open_secret(&self, sealed: &Sealed) -> Result<String> {
        self.key
            .open(sealed)
            .map_err(|e| StoreError::Secret { msg: e.msg })
    }

    /// Writes everything to disk (every mutating method already does this).
    pub fn flush(&self) -> Result<()> {
        self.db.flush().map(|_| ()).map_err(|e| self.db_err(e))
    }

    /// Bytes the database takes on disk.
    pub fn size_on_disk(&self) -> Result<u64> {
        self.db.size_on_disk().map_err(|e| self.db_err(e))
    }

    // --- internals shared by the modules

    pub(crate) fn tree(&self, t: Tid) -> &sled::Tree {
        &self.trees[t.index()]
    }

    pub(crate) fn db_err(&self, e: sled::Error) -> StoreError {
        match e {
            sled::Error::Corruption { .. } => StoreError::Corrupt {
                dir: self.dir.clone(),
                detail: e.to_string(),
            },
            other => StoreError::Db(other.to_string()),
        }
    }

    pub(crate) fn decode_err(&self, tree: Tid, key: &[u8], detail: String) -> StoreError {
        StoreError::Decode {
            dir: self.dir.clone(),
            tree: tree.name(),
            key: show_key(tree, key),
            detail,
        }
    }

    pub(crate) fn decode_at<T: DeserializeOwned>(
        &self,
        tree: Tid,
        key: &[u8],
        bytes: &[u8],
    ) -> Result<T> {
        decode(bytes).map_err(|d| self.decode_err(tree, key, d))
    }

    /// One value.
    pub(crate) fn get<T: DeserializeOwned>(&self, tree: Tid, key: &[u8]) -> Result<Option<T>> {
        match self.tree(tree).get(key).map_err(|e| self.db_err(e))? {
            Some(v) => self.decode_at(tree, key, &v).map(Some),
            None => Ok(None),
        }
    }

    /// Every value under a prefix, in key order.
    pub(crate) fn scan<T: DeserializeOwned>(&self, tree: Tid, prefix: &[u8]) -> Result<Vec<T>> {
        let mut out = Vec::new();
        for kv in self.tree(tree).scan_prefix(prefix) {
            let (k, v) = kv.map_err(|e| self.db_err(e))?;
            out.push(self.decode_at(tree, &k, &v)?);
        }
        Ok(out)
    }

    /// Every key under a prefix.
    pub(crate) fn keys(&self, tree: Tid, prefix: &[u8]) -> Result<Vec<sled::IVec>> {
        self.tree(tree)
            .scan_prefix(prefix)
            .keys()
            .map(|k| k.map_err(|e| self.db_err(e)))
            .collect()
    }

    pub(crate) fn contains(&self, tree: Tid, key: &[u8]) -> Result<bool> {
        self.tree(tree)
            .contains_key(key)
            .map_err(|e| self.db_err(e))
    }

    /// Takes the writer lock. A panic in another writer poisons nothing that matters: the data
    /// lives in sled, the mutex guards no state of its own.
    pub(crate) fn lock(&self) -> MutexGuard<'_, ()> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Commits a plan in one transaction with the next generation (writer lock held by the
    /// caller); returns that generation, for [`Store::durable`].
    pub(crate) fn commit(&self, mut plan: Plan) -> Result<Option<u64>> {
        if plan.batches.is_empty() {
            return Ok(None);
        }
        let generation = self
            .get::<u64>(Tid::Meta, META_GENERATION)?
            .unwrap_or(0)
            .saturating_add(1);
        plan.put(Tid::Meta, META_GENERATION, encode(&generation)?);
        let (ids, batches): (Vec<Tid>, Vec<sled::Batch>) = plan.batches.into_iter().unzip();
        let trees: Vec<&sled::Tree> = ids.iter().map(|t| self.tree(*t)).collect();
        use sled::Transactional;
        let res: sled::transaction::TransactionResult<(), ()> = trees[..].transaction(|tx| {
            for (t, b) in tx.iter().zip(&batches) {
                t.apply_batch(b)?;
            }
            Ok(())
        });
        res.map_err(|e| match e {
            sled::transaction::TransactionError::Storage(e) => self.db_err(e),
            sled::transaction::TransactionError::Abort(()) => {
                StoreError::Db("transaction aborted".into())
            }
        })?;
        Ok(Some(generation))
    }

    /// Flushes, then records `generation` as acknowledged in [`GENERATION_FILE`].
    pub(crate) fn durable(&self, generation: Option<u64>) -> Result<()> {
        self.flush()?;
        let Some(generation) = generation else {
            return Ok(());
        };
        let mut mark = self.watermark.lock().unwrap_or_else(|p| p.into_inner());
        if generation > *mark {
            write_generation(&self.dir.join(DB_DIR), generation)?;
            *mark = generation;
        }
        Ok(())
    }

    /// Like [`Store::mutate`] but without waiting for the flush: for data that is refreshed by
    /// the network anyway (registrations). sled writes it within its flush interval (500 ms) and
    /// at [`Store::flush`] on shutdown.
    pub(crate) fn mutate_lazy<T>(&self, build: impl FnOnce(&mut Plan) -> Result<T>) -> Result<T> {
        let _guard = self.lock();
        let mut plan = Plan::default();
        let out = build(&mut plan)?;
        self.commit(plan)?;
        Ok(out)
    }

    /// Runs a change: `build` reads what it needs and fills a plan under the writer lock, the
    /// plan is committed atomically, then the database is flushed before `Ok` is returned.
    pub(crate) fn mutate<T>(&self, build: impl FnOnce(&mut Plan) -> Result<T>) -> Result<T> {
        let (out, generation) = {
            let _guard = self.lock();
            let mut plan = Plan::default();
            let out = build(&mut plan)?;
            (out, self.commit(plan)?)
        };
        self.durable(generation)?;
        Ok(out)
    }
}

/// Reads every record once, so a store whose pages cannot be read is refused at open, not at
/// the first lookup. Only the version byte is checked here; the JSON is checked where it is read.
fn verify(dir: &Path, trees: &[sled::Tree]) -> Result<()> {
    let corrupt = |detail: String| StoreError::Corrupt {
        dir: dir.to_path_buf(),
        detail,
    };
    for (t, tree) in Tid::ALL.iter().zip(trees) {
        for kv in tree.iter() {
            let (k, v) = kv.map_err(|e| corrupt(e.to_string()))?;
            if v.first() != Some(&codec::VALUE_VERSION) {
                return Err(StoreError::Decode {
                    dir: dir.to_path_buf(),
                    tree: t.name(),
                    key: show_key(*t, &k),
                    detail: "onbekende versie / unknown version".into(),
                });
            }
        }
    }
    Ok(())
}

fn read_generation(db_dir: &Path) -> Result<Option<u64>> {
    let path = db_dir.join(GENERATION_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => match text
            .strip_prefix("generation ")
            .and_then(|r| r.strip_suffix('\n'))
            .and_then(|n| n.parse().ok())
        {
            Some(n) => Ok(Some(n)),
            None => Err(StoreError::Corrupt {
                dir: db_dir.parent().unwrap_or(db_dir).to_path_buf(),
                detail: format!("{GENERATION_FILE} is beschadigd / is damaged"),
            }),
        },
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) if e.kind() == ErrorKind::InvalidData => Err(StoreError::Corrupt {
            dir: db_dir.parent().unwrap_or(db_dir).to_path_buf(),
            detail: format!("{GENERATION_FILE}: {e}"),
        }),
        Err(source) => Err(StoreError::Io { path, source }),
    }
}

/// Writes the generation file atomically: temporary file, fsync, rename, fsync of the folder.
fn write_generation(db_dir: &Path, generation: u64) -> Result<()> {
    let path = db_dir.join(GENERATION_FILE);
    let tmp = db_dir.join(format!("{GENERATION_FILE}.tmp"));
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| StoreError::Io { path: p, source }
    };
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io(&tmp))?;
    f.write_all(format!("generation {generation}\n").as_bytes())
        .map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    fs::rename(&tmp, &path).map_err(io(&path))?;
    snapshot::sync_dir(db_dir).map_err(io(db_dir))
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "sled panic".into())
}

/// A file that shows a store existed in `dir`: a snapshot or the default key file.
fn vanished_evidence(dir: &Path) -> Option<PathBuf> {
    if let Some(s) = snapshot::list(dir).ok().and_then(|v| v.into_iter().last()) {
        return Some(s);
    }
    let key = dir.join(KEY_FILE);
    key.exists().then_some(key)
}

fn read_key(path: &Path) -> Result<Option<SecretKey>> {
    match fs::read_to_string(path) {
        Ok(text) => {
            SecretKey::from_file_text(&text)
                .map(Some)
                .map_err(|_| StoreError::KeyInvalid {
                    path: path.to_path_buf(),
                })
        }
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) if e.kind() == ErrorKind::InvalidData => Err(StoreError::KeyInvalid {
            path: path.to_path_buf(),
        }),
        Err(source) => Err(StoreError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn write_new_key(path: &Path) -> Result<SecretKey> {
    let io = |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    let key = SecretKey::generate();
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    f.write_all(key.to_file_text().as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    if let Some(parent) = path.parent() {
        snapshot::sync_dir(parent).map_err(io)?;
    }
    Ok(key)
}

/// How long an open waits for sled's lock to come free (a store closed a moment ago in this
/// process can hold it while sled's background threads finish).
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Opens sled with its default settings (the ones every store was made with).
fn open_sled(dir: &Path, db_dir: &Path) -> Result<sled::Db> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match sled::Config::new().path(db_dir).open() {
            Ok(db) => return Ok(db),
            Err(e) => {
                let err = open_error(dir, e);
                if matches!(err, StoreError::Locked { .. }) && std::time::Instant::now() < deadline
                {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    continue;
                }
                return Err(err);
            }
        }
    }
}

fn open_error(dir: &Path, e: sled::Error) -> StoreError {
    match e {
        sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
            StoreError::Locked {
                dir: dir.to_path_buf(),
            }
        }
        sled::Error::Io(io) if io.kind() == ErrorKind::PermissionDenied => StoreError::Io {
            path: dir.join(DB_DIR),
            source: io,
        },
        other => StoreError::Corrupt {
            dir: dir.to_path_buf(),
            detail: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_is_shareable_between_threads() {
        fn check<T: Send + Sync>() {}
        check::<Store>();
        check::<StoreError>();
    }

    #[test]
    fn generation_file_round_trip() {
        let dir = std::env::temp_dir().join(format!("pbx-store-gen-{}", std::process::id()));
        let _ = fs::create_dir_all(&dir);
        assert!(matches!(read_generation(&dir), Ok(None)));
        assert!(write_generation(&dir, 42).is_ok());
        assert!(matches!(read_generation(&dir), Ok(Some(42))));
        let _ = fs::write(dir.join(GENERATION_FILE), "generation 4");
        assert!(matches!(
            read_generation(&dir),
            Err(StoreError::Corrupt { .. })
        ));
        let _ = fs::remove_dir_all(&dir);
    }
}
