//! sd_notify: READY, STOPPING, RELOADING and WATCHDOG for systemd's Type=notify.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// Sends a state line to `$NOTIFY_SOCKET`, if systemd gave one. Failures are ignored: without
/// systemd there is nobody to tell.
pub fn notify(state: &str) {
    let Ok(path) = std::env::var("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(sock) = UnixDatagram::unbound() else {
        return;
    };
    if let Some(abstract_name) = path.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        if let Ok(addr) =
            std::os::unix::net::SocketAddr::from_abstract_name(abstract_name.as_bytes())
        {
            let _ = sock.send_to_addr(state.as_bytes(), &addr);
        }
    } else {
        let _ = sock.send_to(state.as_bytes(), &path);
    }
}

/// The watchdog interval systemd expects (half of `WATCHDOG_USEC`), if enabled for this pid.
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID") {
        if pid.parse::<u32>().ok()? != std::process::id() {
            return None;
        }
    }
    Some(Duration::from_micros(usec / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_to_the_notify_socket() {
        let dir = std::env::temp_dir().join(format!("pbxd-notify-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("n.sock");
        let _ = std::fs::remove_file(&path);
        let rx = UnixDatagram::bind(&path).ok();
        assert!(rx.is_some());
        std::env::set_var("NOTIFY_SOCKET", &path);
        notify("READY=1");
        let mut buf = [0u8; 64];
        let n = rx.map(|r| r.recv(&mut buf).unwrap_or(0)).unwrap_or(0);
        assert_eq!(&buf[..n], b"READY=1");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
