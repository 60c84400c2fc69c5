//! Call control without I/O: the registrar now; routing, B2BUA legs and queues follow. The engine
//! takes decoded input and the current time, and hands back decisions; it never touches a
//! socket or the store.

pub mod alarms;
pub mod call;
pub mod keepalive;
pub mod registrar;
pub mod route;
pub mod tollfraud;
pub mod trunkreg;
