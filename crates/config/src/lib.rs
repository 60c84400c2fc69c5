//! The loader of `conf.d/`: one code path for `pbxd` (start and reload) and `pbxctl check`.
//!
//! # Layout
//!
//! ```text
//! conf.d/
//!   pbxd.toml          daemon settings: listeners, RTP, TLS, HTTP, control socket, state, logs
//!   tenants/*.toml     one organisation per file: [tenant], [[user]], [[extension]], [[trunk]],
//!                      [[queue]], [[ring_group]], [[schedule]], [[menu]], [[rule]]
//!   alarms.toml        alarm rules ([[alarm]]) and where notices go ([[melding]])
//! ```
//!
//! Relative paths in `pbxd.toml` are resolved against the folder holding `pbxd.toml`; the
//! `password_file`/`secret_file` of a tenant file against the folder of that tenant file.
//! Plain SIP passwords become HA1 digests at once (realm: the organisation's first SIP domain,
//! else its slug); trunk secrets are handed over in [`DeclaredTenant::trunk_secrets`] only.
//!
//! # Checking
//!
//! Every problem is reported at once, each as a [`Diagnostic`] with `file:line:col`, a stable
//! code, a Dutch (or English) message and mostly a tip. Unknown keys are errors everywhere.
//! Warnings are kept apart from errors; `--deny-warnings` is [`Report::is_ok`]`(true)`.
//!
//! Codes: `syntax`, `unknown_key`, `missing_key`, `type`, `invalid`, `dangling_reference`,
//! `duplicate`, `limit`, `shadowed`, `no_members`, `open_trunk`, `weak_password`, `port_clash`,
//! `rtp_range`, `no_listeners`, `tls_file`, `plain_http`, `secret_file`, `secret_permissions`,
//! `not_found` (a file the configuration needs), `read_failed`, `missing_path` (a path given to
//! [`check_paths`]/[`load`] does not exist).
//!
//! # Exit codes (mapped by the callers)
//!
//! | exit | when |
//! |---|---|
//! | 0 | [`Report::is_ok`] (no errors; no warnings either with `--deny-warnings`) |
//! | 1 | errors, or warnings with `--deny-warnings` |
//! | 66 | a given path does not exist ([`Report::path_missing`], sysexits `EX_NOINPUT`) |
//!
//! Pure apart from reading the files it is pointed at: no clock, no network, no store.

mod alarms;
mod daemon;
mod diag;
mod doc;
mod fsutil;
mod tenant;

pub use alarms::{AlarmConfig, Sink, SinkKind};
pub use daemon::{
    ControlConfig, DaemonConfig, HttpConfig, KeepaliveFor, Listener, LogConfig, LogRotation,
    RtpConfig, SipConfig, StateConfig, TlsConfig, DEFAULT_LOG_DIR, DEFAULT_RTP, DEFAULT_SOCKET,
    DEFAULT_STATE_DIR,
};
pub use diag::{Diagnostic, Report};
pub use tenant::DeclaredTenant;

use pbx_i18n::Msg;
use pbx_model::Severity;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use tenant::TenantLoad;

/// A configuration folder that loaded without errors.
#[derive(Clone, Debug)]
pub struct LoadedConfig {
    /// The folder (absolute).
    pub dir: PathBuf,
    /// `pbxd.toml`.
    pub daemon: DaemonConfig,
    /// The organisations of `tenants/`, in file-name order.
    pub tenants: Vec<DeclaredTenant>,
    /// `alarms.toml`: alarm rules and sinks (empty without the file).
    pub alarms: AlarmConfig,
}

/// Loads and checks a `conf.d` folder (`pbxd.toml` and `tenants/*.toml`).
///
/// `Some` when there are no errors (warnings are allowed); the report holds every diagnostic.
pub fn load(dir: &Path) -> (Option<LoadedConfig>, Report) {
    let mut out = Vec::new();
    let loaded = if dir.is_dir() {
        load_dir(dir, &mut out)
    } else {
        out.push(missing_path(dir));
        None
    };
    let mut report = Report { diagnostics: out };
    report.sort();
    let ok = report.errors() == 0;
    (loaded.filter(|_| ok), report)
}

/// Checks paths for `pbxctl check [PATH…]`. Each path is checked on its own:
/// - a folder with `pbxd.toml` or `tenants/`: the whole configuration, as [`load`] does;
/// - another folder: every `*.toml` in it as a tenant file, with the checks across them;
/// - a file whose name starts with `pbxd` (`pbxd.toml`): daemon settings only;
/// - any other file: one tenant file (checks across organisations need the folder).
pub fn check_paths(paths: &[PathBuf]) -> Report {
    let mut out = Vec::new();
    for p in paths {
        if !p.exists() {
            out.push(missing_path(p));
        } else if p.is_dir() {
            if p.join("pbxd.toml").exists() || p.join("tenants").is_dir() {
                load_dir(p, &mut out);
            } else {
                let loads = load_tenant_dir(p, &mut out);
                if loads.is_empty() {
                    out.push(Diagnostic::file_level(
                        Severity::Error,
                        p,
                        "not_found",
                        Msg::new("config.nothing_to_check").arg("path", p.display()),
                    ));
                }
                cross_check(&loads, &mut out);
            }
        } else if p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("pbxd"))
        {
            daemon::load_daemon(p, &mut out);
        } else if p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("alarms"))
        {
            alarms::load_alarms(p, &mut out);
        } else {
            tenant::load_tenant(p, &mut out);
        }
    }
    let mut report = Report { diagnostics: out };
    report.sort();
    report
}

fn missing_path(p: &Path) -> Diagnostic {
    Diagnostic::file_level(
        Severity::Error,
        p,
        "missing_path",
        Msg::new("config.not_found").arg("path", p.display()),
    )
}

fn load_dir(dir: &Path, out: &mut Vec<Diagnostic>) -> Option<LoadedConfig> {
    let daemon = daemon::load_daemon(&dir.join("pbxd.toml"), out);
    let loads = load_tenant_dir(&dir.join("tenants"), out);
    let slugs = cross_check(&loads, out);
    if let Some((_, refs)) = &daemon {
        refs.check_tenants(&slugs.iter().map(String::as_str).collect(), out);
    }
    let alarms = alarms::load_alarms(&dir.join("alarms.toml"), out);
    let (daemon, _) = daemon?;
    Some(LoadedConfig {
        dir: diag::absolute(dir),
        daemon,
        tenants: loads.into_iter().filter_map(|l| l.declared).collect(),
        alarms: alarms?,
    })
}

/// Every `*.toml` of a folder, in name order; a missing folder holds no organisations.
fn load_tenant_dir(dir: &Path, out: &mut Vec<Diagnostic>) -> Vec<TenantLoad> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            out.push(Diagnostic::file_level(
                Severity::Error,
                dir,
                "read_failed",
                Msg::new("config.read_failed")
                    .arg("path", dir.display())
                    .arg("detail", e),
            ));
            return Vec::new();
        }
    };
    let mut files: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && !p.is_dir())
        .collect();
    files.sort();
    files
        .iter()
        .filter_map(|f| tenant::load_tenant(f, out))
        .collect()
}

/// Checks across organisations: one slug, SIP domain and DID belongs to one organisation.
/// Returns the declared slugs.
fn cross_check(loads: &[TenantLoad], out: &mut Vec<Diagnostic>) -> HashSet<String> {
    let mut slugs: HashMap<&str, &Path> = HashMap::new();
    let mut domains: HashMap<&str, &str> = HashMap::new();
    let mut dids: HashMap<&str, &str> = HashMap::new();
    for l in loads {
        let Some(f) = &l.facts else { continue };
        if let Some(first) = slugs.get(f.slug.as_str()) {
            let name = first
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.push(
                l.src.error(
                    &f.slug_span,
                    "duplicate",
                    Msg::new("config.tenant_twice")
                        .arg("tenant", &f.slug)
                        .arg("file", name),
                ),
            );
            continue;
        }
        slugs.insert(&f.slug, &l.src.path);
        for (d, span) in &f.domains {
            match domains.get(d.as_str()) {
                Some(other) if *other != f.slug => {
                    out.push(
                        l.src.error(
                            span,
                            "duplicate",
                            Msg::new("config.domain_elsewhere")
                                .arg("domain", d)
                                .arg("tenant", other),
                        ),
                    );
                }
                Some(_) => {}
                None => {
                    domains.insert(d, &f.slug);
                }
            }
        }
        for (d, span) in &f.dids {
            match dids.get(d.as_str()) {
                Some(other) if *other != f.slug => {
                    out.push(
                        l.src.error(
                            span,
                            "duplicate",
                            Msg::new("config.did_elsewhere")
                                .arg("did", d)
                                .arg("tenant", other),
                        ),
                    );
                }
                Some(_) => {}
                None => {
                    dids.insert(d, &f.slug);
                }
            }
        }
    }
    slugs.into_keys().map(str::to_string).collect()
}
