//! The one error type of the store, with a Dutch/English message for people.

use pbx_i18n::Msg;
use pbx_model::ErrorCode;
use std::io;
use std::path::PathBuf;

/// What went wrong in the store. `Display` is a short English line for logs; [`StoreError::msg`]
/// is the message for people (Dutch first), with the recovery where there is one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A file or folder of the state folder could not be used.
    #[error("cannot use {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Another process (a running pbxd) holds the store.
    #[error("store in {dir} is locked by another process")]
    Locked {
        /// The state folder.
        dir: PathBuf,
    },
    /// The database files are damaged, truncated or not a store at all.
    #[error("store in {dir} is damaged: {detail}")]
    Corrupt {
        /// The state folder.
        dir: PathBuf,
        /// What was found.
        detail: String,
    },
    /// The database folder is gone while the state folder shows that there was one.
    #[error("store in {dir} has vanished ({evidence} remains)")]
    Vanished {
        /// The state folder.
        dir: PathBuf,
        /// The file that shows a store existed (a snapshot or `secret.key`).
        evidence: PathBuf,
    },
    /// The store was written by a newer pbxd.
    #[error("store schema {found} is newer than this program supports ({supported})")]
    NewerSchema {
        /// The state folder.
        dir: PathBuf,
        /// Schema version on disk.
        found: u32,
        /// Newest schema version this code knows.
        supported: u32,
    },
    /// A schema migration failed.
    #[error("migration of schema {from} failed: {detail}")]
    Migration {
        /// The state folder.
        dir: PathBuf,
        /// The version migrated from.
        from: u32,
        /// What failed.
        detail: String,
    },
    /// The key file that seals trunk secrets is missing.
    #[error("secret key file {path} is missing")]
    KeyMissing {
        /// The key file.
        path: PathBuf,
    },
    /// The key file is not 64 hex characters.
    #[error("secret key file {path} is invalid")]
    KeyInvalid {
        /// The key file.
        path: PathBuf,
    },
    /// The key file does not belong to this store.
    #[error("secret key {path} does not belong to the store in {dir}")]
    KeyMismatch {
        /// The key file.
        path: PathBuf,
        /// The state folder.
        dir: PathBuf,
    },
    /// A stored record could not be decoded.
    #[error("bad record in tree {tree}, key {key}: {detail}")]
    Decode {
        /// The state folder.
        dir: PathBuf,
        /// Tree name.
        tree: &'static str,
        /// Key, readable.
        key: String,
        /// What is wrong.
        detail: String,
    },
    /// A record could not be encoded.
    #[error("cannot encode record: {0}")]
    Encode(String),
    /// The database reported an error.
    #[error("database error: {0}")]
    Db(String),
    /// The organisation does not exist.
    #[error("organisation {tenant} does not exist")]
    NoTenant {
        /// Slug.
        tenant: String,
    },
    /// The contact does not exist.
    #[error("contact {id} of organisation {tenant} does not exist")]
    NoContact {
        /// Slug.
        tenant: String,
        /// Contact id.
        id: u64,
    },
    /// An object names another organisation than the one it is stored in.
    #[error("object belongs to organisation {found}, not {expected}")]
    WrongTenant {
        /// The organisation written to.
        expected: String,
        /// The organisation the object names.
        found: String,
    },
    /// A name cannot be part of a key (empty, too long, or with a NUL).
    #[error("invalid name for a key: {value:?}")]
    BadName {
        /// The name.
        value: String,
    },
    /// A sealed secret could not be opened.
    #[error("{msg}")]
    Secret {
        /// The model's message.
        msg: Msg,
    },
    /// Import needs an empty store.
    #[error("import needs an empty store ({dir})")]
    NotEmpty {
        /// The state folder.
        dir: PathBuf,
    },
    /// An import line is bad; nothing was written. The message names the line.
    #[error("{msg}")]
    Import {
        /// Message with the line number.
        msg: Msg,
    },
    /// The import could not be read.
    #[error("cannot read the import: {0}")]
    Read(#[source] io::Error),
    /// The export could not be written.
    #[error("cannot write the export: {0}")]
    Write(#[source] io::Error),
}

impl StoreError {
    /// The message for people, Dutch first.
    pub fn msg(&self) -> Msg {
        match self {
            StoreError::Io { path, source } => Msg::new("store.io")
                .arg("path", path.display())
                .arg("detail", source),
            StoreError::Locked { dir } => Msg::new("store.locked").arg("dir", dir.display()),
            StoreError::Corrupt { dir, detail } => Msg::new("store.corrupt")
                .arg("dir", dir.display())
                .arg("detail", detail),
            StoreError::Vanished { dir, evidence } => Msg::new("store.vanished")
                .arg("dir", dir.display())
                .arg("evidence", evidence.display()),
            StoreError::NewerSchema {
                dir,
                found,
                supported,
            } => Msg::new("store.newer_schema")
                .arg("dir", dir.display())
                .arg("found", found)
                .arg("supported", supported),
            StoreError::Migration { dir, from, detail } => Msg::new("store.migration")
                .arg("dir", dir.display())
                .arg("from", from)
                .arg("to", from.saturating_add(1))
                .arg("detail", detail),
            StoreError::KeyMissing { path } => {
                Msg::new("store.key_missing").arg("path", path.display())
            }
            StoreError::KeyInvalid { path } => {
                Msg::new("store.key_invalid").arg("path", path.display())
            }
            StoreError::KeyMismatch { path, dir } => Msg::new("store.key_mismatch")
                .arg("path", path.display())
                .arg("dir", dir.display()),
            StoreError::Decode {
                dir,
                tree,
                key,
                detail,
            } => Msg::new("store.decode")
                .arg("dir", dir.display())
                .arg("tree", tree)
                .arg("key", key)
                .arg("detail", detail),
            StoreError::Encode(detail) | StoreError::Db(detail) => {
                Msg::new("store.db").arg("detail", detail)
            }
            StoreError::NoTenant { tenant } => Msg::new("store.no_tenant").arg("tenant", tenant),
            StoreError::NoContact { tenant, id } => Msg::new("store.no_contact")
                .arg("tenant", tenant)
                .arg("id", id),
            StoreError::WrongTenant { expected, found } => Msg::new("store.wrong_tenant")
                .arg("expected", expected)
                .arg("found", found),
            StoreError::BadName { value } => {
                Msg::new("store.bad_name").arg("value", value.escape_debug())
            }
            StoreError::Secret { msg } | StoreError::Import { msg } => msg.clone(),
            StoreError::NotEmpty { dir } => Msg::new("store.not_empty").arg("dir", dir.display()),
            StoreError::Read(e) => Msg::new("store.read").arg("detail", e),
            StoreError::Write(e) => Msg::new("store.write").arg("detail", e),
        }
    }

    /// The stable error code of the control API.
    pub fn code(&self) -> ErrorCode {
        match self {
            StoreError::NoTenant { .. } | StoreError::NoContact { .. } => ErrorCode::NotFound,
            StoreError::WrongTenant { .. }
            | StoreError::BadName { .. }
            | StoreError::Import { .. } => ErrorCode::Invalid,
            StoreError::NotEmpty { .. } => ErrorCode::Conflict,
            StoreError::Read(_) => ErrorCode::BadRequest,
            _ => ErrorCode::Store,
        }
    }

    /// Is this one of the errors that mean "the data on disk cannot be trusted; restore a
    /// snapshot"?
    pub fn is_corruption(&self) -> bool {
        matches!(
            self,
            StoreError::Corrupt { .. } | StoreError::Vanished { .. } | StoreError::Decode { .. }
        )
    }
}

/// The result type of the store.
pub type Result<T> = std::result::Result<T, StoreError>;
