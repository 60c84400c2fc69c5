//! The control API of pbxd: every endpoint, request, response, event and error, once.
//!
//! HTTP/1.1 + JSON on a Unix socket, paths under `/v1/`. pbxd serves it; pbxctl and pbxtop call
//! it with these types. A client checks [`HEADER_API`] and refuses a server of another major API.

pub mod ladder;
mod route;
mod types;

pub use route::{Method, Query, Route};
pub use types::*;

/// Major version of the API; part of every path (`/v1/…`).
pub const API_VERSION: u32 = 1;
/// Response header with the server's program version.
pub const HEADER_VERSION: &str = "x-pbxd-version";
/// Response header with the API major version.
pub const HEADER_API: &str = "x-pbxd-api";
/// Largest request body for ordinary endpoints.
pub const MAX_BODY: usize = 1024 * 1024;
/// Largest request body for `/v1/import` and contact imports.
pub const MAX_IMPORT_BODY: usize = 256 * 1024 * 1024;
/// Largest batch of contacts in one request.
pub const MAX_CONTACT_BATCH: usize = 5000;
