//! `pbxd.toml`: the daemon's own settings (listeners, RTP, TLS, HTTP, control socket, state, logs).

use crate::diag::Diagnostic;
use crate::doc::{self, Source, Span};
use crate::fsutil::{self, check_readable, mode, mode_text, resolve};
use pbx_i18n::{Lang, Msg};
use pbx_model::Transport;
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use toml::Spanned;

/// Default control socket.
pub const DEFAULT_SOCKET: &str = "/run/pbxd/control.sock";
/// Default state folder.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/pbxd";
/// Default log folder.
pub const DEFAULT_LOG_DIR: &str = "/var/log/pbxd";
/// Default RTP port range (inclusive): 10,000 ports, 5,000 RTP/RTCP pairs.
pub const DEFAULT_RTP: (u16, u16) = (10_000, 19_999);

/// How log files are rotated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogRotation {
    /// A new file every day.
    #[default]
    Daily,
    /// A new file every hour.
    Hourly,
    /// One file, rotated by logrotate or not at all.
    Never,
}

/// One SIP listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    /// Transport.
    pub transport: Transport,
    /// Address and port to bind.
    pub address: SocketAddr,
}

/// RTP port range and the address announced in SDP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RtpConfig {
    /// First port (even).
    pub port_min: u16,
    /// Last port (inclusive, odd).
    pub port_max: u16,
    /// Address or host announced in SDP, when it differs from the bound address (NAT).
    pub public_address: Option<String>,
    /// An answered call without RTP from either side for this many seconds is hung up (not
    /// while on hold).
    pub media_timeout: u32,
}

/// Certificate and key for TLS, WSS and HTTPS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub certificate: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// The small HTTP endpoint (softphone, its WebSocket, `/metrics`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpConfig {
    /// Address and port.
    pub address: SocketAddr,
    /// HTTPS with the `[tls]` certificate.
    pub tls: bool,
}

/// The control socket and who may use it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlConfig {
    /// Path of the Unix socket.
    pub socket: PathBuf,
    /// Unix group owning the socket (mode 0660).
    pub group: Option<String>,
    /// Members of this Unix group are beheerder.
    pub admin_group: Option<String>,
    /// Unix user name → organisation slug: that user is organisatiebeheerder of it.
    pub tenant_users: BTreeMap<String, String>,
}

/// Where pbxd keeps its state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateConfig {
    /// State folder (sled, `secret.key`, snapshots).
    pub dir: PathBuf,
    /// File holding the trunk secret key; `None` means `secret.key` in the state folder.
    pub secret_key_file: Option<PathBuf>,
    /// Daily snapshots kept.
    pub snapshot_keep: u32,
    /// History kept: minute roll-ups (hours), hour roll-ups (days), day roll-ups (days).
    pub history_minute_hours: u32,
    pub history_hour_days: u32,
    pub history_day_days: u32,
}

/// Logging.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogConfig {
    /// Folder of the log files.
    pub dir: PathBuf,
    /// Rotation.
    pub rotation: LogRotation,
    /// tracing filter (`info`, `info,pbx_sip=debug`).
    pub level: String,
    /// Also log to stderr (the journal under systemd).
    pub stderr: bool,
}

/// The daemon's settings, with every default filled in and relative paths resolved against the
/// folder holding `pbxd.toml`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaemonConfig {
    /// The `pbxd.toml` this came from (empty for [`DaemonConfig::default`]).
    pub file: PathBuf,
    /// Language of logs and messages.
    pub language: Lang,
    /// Organisation for set-ups that know callers only by IP address.
    pub default_tenant: Option<String>,
    /// SIP listeners.
    pub listen: Vec<Listener>,
    /// RTP.
    pub rtp: RtpConfig,
    /// TLS certificate and key.
    pub tls: Option<TlsConfig>,
    /// HTTP endpoint.
    pub http: Option<HttpConfig>,
    /// Control socket.
    pub control: ControlConfig,
    /// State.
    pub state: StateConfig,
    /// Logs.
    pub log: LogConfig,
    /// SIP protocol settings.
    pub sip: SipConfig,
}

/// SIP protocol settings (`[sip]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SipConfig {
    /// Digest algorithms offered, in order (`SHA-256`, `MD5`). RFC 8760 puts SHA-256 first;
    /// phones that take the first challenge and know only MD5 need `["MD5", "SHA-256"]`.
    pub digest: Vec<String>,
    /// Messages per second one source address may send (token refill).
    pub rate_per_second: u32,
    /// Burst a source may send at once (bucket size).
    pub rate_burst: u32,
    /// Live SIP transactions at most; beyond it new requests get 503 with Retry-After. A
    /// non-INVITE transaction over UDP lives 32 s (Timer J), so 100,000 carries about 1,500
    /// requests per second.
    pub max_transactions: u32,
    /// Seconds between two keep-alives (OPTIONS) to a registered phone; 0 turns them off.
    pub keepalive_interval: u32,
    /// Which registrations get keep-alives.
    pub keepalive_for: KeepaliveFor,
}

/// Which registrations get keep-alives (`[sip] keepalive_for`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeepaliveFor {
    /// UDP registrations behind NAT (the default).
    #[default]
    Nat,
    /// Every UDP registration.
    Udp,
}
impl Default for SipConfig {
    fn default() -> SipConfig {
        SipConfig {
            digest: vec!["SHA-256".into(), "MD5".into()],
            rate_per_second: 100,
            rate_burst: 200,
            max_transactions: 100_000,
            keepalive_interval: 30,
            keepalive_for: KeepaliveFor::Nat,
        }
    }
}

impl Default for DaemonConfig {
    fn default() -> DaemonConfig {
        DaemonConfig {
            file: PathBuf::new(),
            language: Lang::Nl,
            default_tenant: None,
            listen: Vec::new(),
            rtp: RtpConfig {
                port_min: DEFAULT_RTP.0,
                port_max: DEFAULT_RTP.1,
                public_address: None,
                media_timeout: 60,
            },
            tls: None,
            http: None,
            control: ControlConfig {
                socket: PathBuf::from(DEFAULT_SOCKET),
                group: None,
                admin_group: None,
                tenant_users: BTreeMap::new(),
            },
            state: StateConfig {
                dir: PathBuf::from(DEFAULT_STATE_DIR),
                secret_key_file: None,
                snapshot_keep: 7,
                history_minute_hours: 48,
                history_hour_days: 90,
                history_day_days: 730,
            },
            log: LogConfig {
                dir: PathBuf::from(DEFAULT_LOG_DIR),
                rotation: LogRotation::Daily,
                level: "info".into(),
                stderr: true,
            },
            sip: SipConfig::default(),
        }
    }
}

// ---- The file as written -------------------------------------------------------------------

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum LanguageCfg {
    Nl,
    En,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PbxdCfg {
    language: Option<LanguageCfg>,
    default_tenant: Option<Spanned<String>>,
    #[serde(default)]
    listen: Vec<Spanned<ListenCfg>>,
    rtp: Option<Spanned<RtpCfg>>,
    tls: Option<Spanned<TlsCfg>>,
    http: Option<Spanned<HttpCfg>>,
    #[serde(default)]
    control: ControlCfg,
    #[serde(default)]
    state: StateCfg,
    #[serde(default)]
    log: LogCfg,
    #[serde(default)]
    sip: SipCfg,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SipCfg {
    digest: Option<Spanned<Vec<String>>>,
    rate_per_second: Option<Spanned<u32>>,
    rate_burst: Option<Spanned<u32>>,
    max_transactions: Option<Spanned<u32>>,
    keepalive_interval: Option<Spanned<u32>>,
    keepalive_for: Option<KeepaliveFor>,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListenCfg {
    transport: Transport,
    address: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RtpCfg {
    port_min: Option<Spanned<u16>>,
    port_max: Option<Spanned<u16>>,
    public_address: Option<Spanned<String>>,
    media_timeout: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsCfg {
    certificate: Option<Spanned<String>>,
    key: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpCfg {
    address: Option<Spanned<String>>,
    #[serde(default)]
    tls: bool,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ControlCfg {
    socket: Option<String>,
    group: Option<Spanned<String>>,
    admin_group: Option<Spanned<String>>,
    #[serde(default)]
    tenant_users: BTreeMap<String, Spanned<String>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateCfg {
    dir: Option<String>,
    secret_key_file: Option<Spanned<String>>,
    snapshot_keep: Option<u32>,
    history_minute_hours: Option<Spanned<u32>>,
    history_hour_days: Option<Spanned<u32>>,
    history_day_days: Option<Spanned<u32>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogCfg {
    dir: Option<String>,
    rotation: Option<LogRotation>,
    level: Option<Spanned<String>>,
    stderr: Option<bool>,
}

/// What the cross-file checks need to know of `pbxd.toml`.
pub(crate) struct DaemonRefs {
    pub src: Source,
    pub default_tenant: Option<(String, Span)>,
    pub tenant_users: Vec<(String, String, Span)>,
}

impl DaemonRefs {
    /// `default_tenant` and `control.tenant_users` must name declared organisations (warnings:
    /// the organisation may still be created through the API).
    pub fn check_tenants(&self, slugs: &HashSet<&str>, out: &mut Vec<Diagnostic>) {
        if let Some((t, span)) = &self.default_tenant {
            if !slugs.contains(t.as_str()) {
                out.push(
                    self.src
                        .warning(
                            span,
                            "dangling_reference",
                            Msg::new("config.default_tenant_unknown").arg("tenant", t),
                        )
                        .with_hint(Msg::new("config.default_tenant_unknown.hint").arg("tenant", t)),
                );
            }
        }
        for (user, t, span) in &self.tenant_users {
            if !slugs.contains(t.as_str()) {
                out.push(
                    self.src.warning(
                        span,
                        "dangling_reference",
                        Msg::new("config.tenant_user_unknown")
                            .arg("user", user)
                            .arg("tenant", t),
                    ),
                );
            }
        }
    }
}

fn parse_addr(src: &Source, s: &Spanned<String>, out: &mut Vec<Diagnostic>) -> Option<SocketAddr> {
    match s.get_ref().parse::<SocketAddr>() {
        Ok(a) if a.port() == 0 => {
            out.push(src.error(
                &s.span(),
                "invalid",
                Msg::new("config.port_zero").arg("value", s.get_ref()),
            ));
            None
        }
        Ok(a) => Some(a),
        Err(_) => {
            out.push(src.error(
                &s.span(),
                "invalid",
                Msg::new("config.socket_addr").arg("value", s.get_ref()),
            ));
            None
        }
    }
}

fn tcp_based(t: Transport) -> bool {
    !matches!(t, Transport::Udp)
}

/// Do two binds of the same family collide? The same port on the same address, or on any
/// address when one is the wildcard (`[::]` takes IPv4 too, as Linux does by default).
fn overlaps(a: &SocketAddr, b: &SocketAddr) -> bool {
    if a.port() != b.port() {
        return false;
    }
    let wild_covers = |w: IpAddr, o: IpAddr| w.is_unspecified() && (w.is_ipv6() || o.is_ipv4());
    a.ip() == b.ip() || wild_covers(a.ip(), b.ip()) || wild_covers(b.ip(), a.ip())
}

fn valid_unix_name(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

/// A light check of a tracing filter: `info`, `warn,pbx_sip=debug`, `pbxd[call]=trace`.
fn valid_filter(s: &str) -> bool {
    let ok_target = |t: &str| {
        !t.is_empty()
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_:-.[]{}\"*= ".contains(c))
    };
    !s.trim().is_empty()
        && s.split(',').all(|d| {
            let d = d.trim();
            match d.rsplit_once('=') {
                Some((target, level)) => {
                    ok_target(target)
                        && LEVELS.contains(&level.trim().to_ascii_lowercase().as_str())
                }
                None => ok_target(d),
            }
        })
}

/// Loads and checks `pbxd.toml`. `None` when it could not be read or has errors that leave no
/// usable configuration (syntax); other errors are in `out` and the config is returned.
pub(crate) fn load_daemon(
    path: &Path,
    out: &mut Vec<Diagnostic>,
) -> Option<(DaemonConfig, DaemonRefs)> {
    let text = fsutil::read_text(path, out)?;
    let src = Source::new(path, text);
    let doc = src.parse(out)?;
    let cfg: PbxdCfg = doc::deserialize(&src, &doc, "", out)?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let d = DaemonConfig::default();

    // Listeners.
    let mut listen = Vec::new();
    let mut binds: Vec<(String, bool, SocketAddr, Span)> = Vec::new(); // (what, tcp-based, address, span)
    for l in &cfg.listen {
        let Some(addr) = parse_addr(&src, &l.get_ref().address, out) else {
            continue;
        };
        let t = l.get_ref().transport;
        listen.push(Listener {
            transport: t,
            address: addr,
        });
        binds.push((
            t.as_str().to_string(),
            tcp_based(t),
            addr,
            l.get_ref().address.span(),
        ));
    }
    if cfg.listen.is_empty() {
        let span = doc::entry_span(&doc, "listen").unwrap_or(0..0);
        out.push(
            src.warning(&span, "no_listeners", Msg::new("config.no_listeners"))
                .with_hint(Msg::new("config.no_listeners.hint")),
        );
    }

    // HTTP.
    let mut http = None;
    if let Some(h) = &cfg.http {
        match &h.get_ref().address {
            None => out.push(src.error(
                &h.span(),
                "missing_key",
                Msg::new("config.missing_key").arg("key", "http.address"),
            )),
            Some(a) => {
                if let Some(addr) = parse_addr(&src, a, out) {
                    if !h.get_ref().tls && !addr.ip().is_loopback() {
                        out.push(
                            src.error(
                                &a.span(),
                                "plain_http",
                                Msg::new("config.plain_http").arg("address", addr),
                            )
                            .with_hint(Msg::new("config.plain_http.hint")),
                        );
                    }
                    binds.push(("http".to_string(), true, addr, a.span()));
                    http = Some(HttpConfig {
                        address: addr,
                        tls: h.get_ref().tls,
                    });
                }
            }
        }
    }

    // Port clashes: each bind against the earlier ones of the same family.
    for j in 0..binds.len() {
        if let Some(i) =
            (0..j).find(|&i| binds[i].1 == binds[j].1 && overlaps(&binds[i].2, &binds[j].2))
        {
            let (line, _) = src.pos(binds[i].3.start);
            out.push(
                src.error(
                    &binds[j].3,
                    "port_clash",
                    Msg::new("config.port_clash")
                        .arg("what", &binds[j].0)
                        .arg("address", binds[j].2)
                        .arg("other", &binds[i].0)
                        .arg("other_address", binds[i].2)
                        .arg("line", line),
                )
                .with_hint(Msg::new("config.port_clash.hint")),
            );
        }
    }

    // RTP.
    let mut rtp = d.rtp.clone();
    if let Some(r) = &cfg.rtp {
        let r_span = r.span();
        let r = r.get_ref();
        if let Some(p) = &r.port_min {
            rtp.port_min = *p.get_ref();
        }
        if let Some(t) = &r.media_timeout {
            if (5..=86_400).contains(t.get_ref()) {
                rtp.media_timeout = *t.get_ref();
            } else {
                out.push(src.error(
                    &t.span(),
                    "invalid",
                    Msg::new("config.media_timeout").arg("value", t.get_ref()),
                ));
            }
        }
        if let Some(p) = &r.port_max {
            rtp.port_max = *p.get_ref();
        }
        let min_span = r
            .port_min
            .as_ref()
            .map(|p| p.span())
            .unwrap_or(r_span.clone());
        let max_span = r
            .port_max
            .as_ref()
            .map(|p| p.span())
            .unwrap_or(r_span.clone());
        let (min, max) = (rtp.port_min, rtp.port_max);
        if min == 0 {
            out.push(src.error(
                &min_span,
                "rtp_range",
                Msg::new("config.port_zero").arg("value", min),
            ));
        } else if min >= max {
            out.push(src.error(
                &max_span,
                "rtp_range",
                Msg::new("config.rtp_order").arg("min", min).arg("max", max),
            ));
        } else if (u32::from(max) - u32::from(min) + 1) % 2 == 1 {
            out.push(
                src.error(
                    &max_span,
                    "rtp_range",
                    Msg::new("config.rtp_odd").arg("min", min).arg("max", max),
                )
                .with_hint(Msg::new("config.rtp_pairs.hint")),
            );
        } else if min % 2 == 1 {
            out.push(
                src.warning(
                    &min_span,
                    "rtp_range",
                    Msg::new("config.rtp_min_odd").arg("min", min),
                )
                .with_hint(Msg::new("config.rtp_pairs.hint")),
            );
        }
        if min != 0 && min < 1024 {
            out.push(
                src.warning(
                    &min_span,
                    "rtp_range",
                    Msg::new("config.rtp_low").arg("min", min),
                )
                .with_hint(Msg::new("config.rtp_low.hint")),
            );
        }
        if let Some(pa) = &r.public_address {
            match pbx_model::names::check_host(pa.get_ref()) {
                Ok(()) => rtp.public_address = Some(pa.get_ref().clone()),
                Err(e) => out.push(src.error(&pa.span(), "invalid", e.msg)),
            }
        }
    }
    if rtp.port_min < rtp.port_max {
        for (what, tcp, addr, span) in &binds {
            if !*tcp && (rtp.port_min..=rtp.port_max).contains(&addr.port()) {
                out.push(
                    src.error(
                        span,
                        "port_clash",
                        Msg::new("config.rtp_clash")
                            .arg("what", what)
                            .arg("address", addr)
                            .arg("min", rtp.port_min)
                            .arg("max", rtp.port_max),
                    )
                    .with_hint(Msg::new("config.port_clash.hint")),
                );
            }
        }
    }

    // TLS.
    let mut tls = None;
    if let Some(t) = &cfg.tls {
        let mut files = Vec::new();
        for (name, v) in [
            ("certificate", &t.get_ref().certificate),
            ("key", &t.get_ref().key),
        ] {
            let Some(v) = v else {
                out.push(src.error(
                    &t.span(),
                    "missing_key",
                    Msg::new("config.missing_key").arg("key", format!("tls.{name}")),
                ));
                continue;
            };
            let p = resolve(&dir, v.get_ref());
            match check_readable(&p) {
                Err(problem) => out.push(
                    src.error(
                        &v.span(),
                        "tls_file",
                        Msg::new("config.tls_file")
                            .arg("key", name)
                            .arg("detail", problem.msg(&p)),
                    ),
                ),
                Ok(()) => {
                    if name == "key" {
                        if let Some(m) = mode(&p).filter(|m| m & 0o044 != 0) {
                            out.push(
                                src.warning(
                                    &v.span(),
                                    "secret_permissions",
                                    Msg::new("config.key_readable")
                                        .arg("path", p.display())
                                        .arg("mode", mode_text(m)),
                                )
                                .with_hint(Msg::new("config.chmod.hint").arg("path", p.display())),
                            );
                        }
                    }
                }
            }
            files.push(p);
        }
        if let [certificate, key] = &files[..] {
            tls = Some(TlsConfig {
                certificate: certificate.clone(),
                key: key.clone(),
            });
        }
    } else {
        let users = cfg
            .listen
            .iter()
            .filter(|l| matches!(l.get_ref().transport, Transport::Tls | Transport::Wss))
            .map(|l| {
                (
                    l.get_ref().transport.as_str().to_string(),
                    l.get_ref().address.get_ref().clone(),
                    l.span(),
                )
            })
            .chain(cfg.http.iter().filter(|h| h.get_ref().tls).map(|h| {
                let a = h
                    .get_ref()
                    .address
                    .as_ref()
                    .map(|a| a.get_ref().clone())
                    .unwrap_or_default();
                ("https".to_string(), a, h.span())
            }));
        for (what, address, span) in users {
            out.push(
                src.error(
                    &span,
                    "missing_key",
                    Msg::new("config.tls_missing")
                        .arg("what", what)
                        .arg("address", address),
                )
                .with_hint(Msg::new("config.tls_missing.hint")),
            );
        }
    }

    // Control socket.
    let mut control = d.control.clone();
    if let Some(s) = &cfg.control.socket {
        control.socket = resolve(&dir, s);
    }
    for (field, g) in [
        ("group", &cfg.control.group),
        ("admin_group", &cfg.control.admin_group),
    ] {
        if let Some(g) = g {
            if valid_unix_name(g.get_ref()) {
                if field == "group" {
                    control.group = Some(g.get_ref().clone());
                } else {
                    control.admin_group = Some(g.get_ref().clone());
                }
            } else {
                out.push(src.error(
                    &g.span(),
                    "invalid",
                    Msg::new("config.unix_name").arg("value", g.get_ref()),
                ));
            }
        }
    }
    let mut tenant_users = Vec::new();
    for (user, t) in &cfg.control.tenant_users {
        if !valid_unix_name(user) {
            out.push(src.error(
                &t.span(),
                "invalid",
                Msg::new("config.unix_name").arg("value", user),
            ));
            continue;
        }
        control
            .tenant_users
            .insert(user.clone(), t.get_ref().clone());
        tenant_users.push((user.clone(), t.get_ref().clone(), t.span()));
    }

    // State.
    let mut state = d.state.clone();
    if let Some(s) = &cfg.state.dir {
        state.dir = resolve(&dir, s);
    }
    if let Some(n) = cfg.state.snapshot_keep {
        state.snapshot_keep = n;
    }
    for (field, v, max, slot) in [
        (
            "history_minute_hours",
            &cfg.state.history_minute_hours,
            720,
            &mut state.history_minute_hours,
        ),
        (
            "history_hour_days",
            &cfg.state.history_hour_days,
            3650,
            &mut state.history_hour_days,
        ),
        (
            "history_day_days",
            &cfg.state.history_day_days,
            7300,
            &mut state.history_day_days,
        ),
    ] {
        if let Some(v) = v {
            if (1..=max).contains(v.get_ref()) {
                *slot = *v.get_ref();
            } else {
                out.push(
                    src.error(
                        &v.span(),
                        "invalid",
                        Msg::new("config.range")
                            .arg("field", field)
                            .arg("min", 1)
                            .arg("max", max),
                    ),
                );
            }
        }
    }
    if let Some(k) = &cfg.state.secret_key_file {
        let p = resolve(&dir, k.get_ref());
        match check_readable(&p) {
            Err(problem) => {
                out.push(
                    src.error(&k.span(), "secret_file", problem.msg(&p))
                        .with_hint(Msg::new("config.secret_key_file.hint")),
                );
            }
            Ok(()) => {
                if let Some(m) = mode(&p).filter(|m| m & 0o004 != 0) {
                    out.push(
                        src.error(
                            &k.span(),
                            "secret_permissions",
                            Msg::new("config.world_readable")
                                .arg("path", p.display())
                                .arg("mode", mode_text(m)),
                        )
                        .with_hint(Msg::new("config.chmod.hint").arg("path", p.display())),
                    );
                }
            }
        }
        state.secret_key_file = Some(p);
    }

    // Logs.
    let mut log = d.log.clone();
    if let Some(s) = &cfg.log.dir {
        log.dir = resolve(&dir, s);
    }
    if let Some(r) = cfg.log.rotation {
        log.rotation = r;
    }
    if let Some(s) = cfg.log.stderr {
        log.stderr = s;
    }
    if let Some(l) = &cfg.log.level {
        if valid_filter(l.get_ref()) {
            log.level = l.get_ref().clone();
        } else {
            out.push(src.error(
                &l.span(),
                "invalid",
                Msg::new("config.log_level").arg("value", l.get_ref()),
            ));
        }
    }

    // SIP.
    let mut sip = SipConfig::default();
    if let Some(d) = &cfg.sip.digest {
        let list = d.get_ref();
        let mut seen = Vec::new();
        for a in list {
            if !["SHA-256", "MD5"].contains(&a.as_str()) || seen.contains(a) {
                out.push(src.error(
                    &d.span(),
                    "invalid",
                    Msg::new("config.digest").arg("value", a),
                ));
            }
            seen.push(a.clone());
        }
        if list.is_empty() {
            out.push(src.error(
                &d.span(),
                "invalid",
                Msg::new("config.digest").arg("value", "[]"),
            ));
        }
        sip.digest = list.clone();
    }
    for (value, slot) in [
        (&cfg.sip.rate_per_second, &mut sip.rate_per_second),
        (&cfg.sip.rate_burst, &mut sip.rate_burst),
        (&cfg.sip.max_transactions, &mut sip.max_transactions),
    ] {
        if let Some(v) = value {
            if *v.get_ref() == 0 || *v.get_ref() > 1_000_000 {
                out.push(src.error(
                    &v.span(),
                    "invalid",
                    Msg::new("config.sip_rate").arg("value", v.get_ref()),
                ));
            } else {
                *slot = *v.get_ref();
            }
        }
    }
    if let Some(v) = &cfg.sip.keepalive_interval {
        if *v.get_ref() > 3600 {
            out.push(src.error(
                &v.span(),
                "invalid",
                Msg::new("config.keepalive_interval").arg("value", v.get_ref()),
            ));
        } else {
            sip.keepalive_interval = *v.get_ref();
        }
    }
    if let Some(k) = cfg.sip.keepalive_for {
        sip.keepalive_for = k;
    }
    let language = match cfg.language {
        Some(LanguageCfg::En) => Lang::En,
        _ => Lang::Nl,
    };
    let default_tenant = cfg
        .default_tenant
        .as_ref()
        .map(|t| (t.get_ref().clone(), t.span()));
    let config = DaemonConfig {
        file: crate::diag::absolute(path),
        language,
        default_tenant: default_tenant.as_ref().map(|(t, _)| t.clone()),
        listen,
        rtp,
        tls,
        http,
        control,
        state,
        log,
        sip,
    };
    Some((
        config,
        DaemonRefs {
            src,
            default_tenant,
            tenant_users,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 1)))
    }

    #[test]
    fn bind_overlap() {
        assert!(overlaps(&sa("127.0.0.1:5060"), &sa("127.0.0.1:5060")));
        assert!(overlaps(&sa("0.0.0.0:5060"), &sa("127.0.0.1:5060")));
        assert!(overlaps(&sa("[::]:5060"), &sa("127.0.0.1:5060")));
        assert!(!overlaps(&sa("0.0.0.0:5060"), &sa("[::1]:5060")));
        assert!(!overlaps(&sa("127.0.0.1:5060"), &sa("127.0.0.2:5060")));
        assert!(!overlaps(&sa("127.0.0.1:5060"), &sa("127.0.0.1:5061")));
    }

    #[test]
    fn filters() {
        for ok in ["info", "warn,pbx_sip=debug", "pbxd[call]=trace", "off"] {
            assert!(valid_filter(ok), "{ok}");
        }
        for bad in ["", "info,", "pbx=loud", "info;debug"] {
            assert!(!valid_filter(bad), "{bad}");
        }
    }

    #[test]
    fn defaults() {
        let d = DaemonConfig::default();
        assert_eq!(d.control.socket, PathBuf::from("/run/pbxd/control.sock"));
        assert_eq!((d.rtp.port_max - d.rtp.port_min + 1) % 2, 0);
        assert!(d.listen.is_empty());
    }
}
