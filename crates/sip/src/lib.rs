//! SIP without I/O: the message facade over the parser, pbxd's own checks after parsing,
//! server-side digest authentication, and the transaction state machines of RFC 3261 §17
//! (with RFC 6026), driven by `handle_*(…, now)` and drained with `poll_*()`.

pub mod auth;
pub mod check;
pub mod msg;
pub mod trace;
pub mod transaction;
