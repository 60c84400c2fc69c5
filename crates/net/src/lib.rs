//! The tokio side of pbxd's network: what the sans-IO cores need from sockets. This part: TLS
//! certificates that are replaced on SIGHUP without dropping connections.

pub mod tls;
