//! pbxd: the PBX daemon. This part: configuration, the store and the control API.

mod alarms;
mod app;
mod calls;
mod control;
mod diff;
mod history;
mod http;
mod man;
mod notify;
mod prompts;
mod queues;
mod relay;
mod sip;
mod softphone;

use anyhow::Context;
use app::App;
use clap::{CommandFactory, FromArgMatches, Parser};
use pbx_api::{Caller, Event, ReloadResult, Scope};
use pbx_cli::{exit, Generate};
use pbx_config::LoadedConfig;
use pbx_i18n::{Lang, Msg};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// PBX-daemon: SIP-registrar, B2BUA, trunks, belplan, media en de control-API.
#[derive(Parser, Debug)]
#[command(
    name = "pbxd",
    version,
    about,
    long_about = "PBX-daemon: SIP-registrar, B2BUA, trunks, belplan, media en de control-API.\n\nLeest de configuratie uit de map met pbxd.toml en tenants/*.toml, opent de opslag in de statusmap en luistert op de control-socket. SIGHUP laadt de configuratie opnieuw (eerst gecontroleerd: een foute configuratie wordt geweigerd en de oude blijft actief); SIGTERM stopt netjes."
)]
struct Cli {
    /// Map met pbxd.toml en tenants/
    #[arg(
        short = 'c',
        long,
        env = "PBXD_CONFIG",
        default_value = "/etc/pbxd",
        value_name = "MAP"
    )]
    config: PathBuf,
    /// Controleer de configuratie en stop (dezelfde controle als pbxctl check)
    #[arg(long)]
    check: bool,
    /// Behandel waarschuwingen als fouten (met --check)
    #[arg(long, requires = "check")]
    deny_warnings: bool,
    /// Uitvoer als JSON (met --check)
    #[arg(long, requires = "check")]
    json: bool,
    /// Taal van meldingen: nl of en (standaard uit LANG, anders nl)
    #[arg(long, value_name = "TAAL")]
    lang: Option<String>,
    /// Schrijf manpagina's of shell-completions (voor de verpakking)
    #[arg(long, hide = true, value_enum, value_name = "SOORT")]
    generate: Option<Generate>,
    /// Doelmap voor --generate
    #[arg(long, hide = true, default_value = ".", value_name = "MAP")]
    out: PathBuf,
}

/// The clap definition, in Dutch.
fn command() -> clap::Command {
    pbx_cli::dutch(Cli::command())
}

fn main() {
    let pre_lang = Lang::detect(None);
    let matches = match command().try_get_matches() {
        Ok(m) => m,
        Err(e) => std::process::exit(pbx_cli::report_parse_error(&e, "pbxd", pre_lang)),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => std::process::exit(pbx_cli::report_parse_error(&e, "pbxd", pre_lang)),
    };
    let lang = Lang::detect(cli.lang.as_deref());
    if let Some(what) = cli.generate {
        let res = pbx_cli::generate(
            command(),
            what,
            "8",
            &cli.out,
            &[("pbxd.toml.5", man::PBXD_TOML_5)],
        );
        std::process::exit(match res {
            Ok(()) => exit::OK,
            Err(e) => {
                eprintln!("pbxd: {e}");
                exit::CANTCREAT
            }
        });
    }
    if cli.check {
        std::process::exit(check(&cli.config, cli.deny_warnings, cli.json, lang));
    }
    std::process::exit(run(&cli.config, lang));
}

/// `pbxd --check`: the loader pbxd uses, offline. Exit 0 clean, 1 problems, 66 path missing.
fn check(dir: &Path, deny_warnings: bool, json: bool, lang: Lang) -> i32 {
    if !dir.exists() {
        eprintln!(
            "pbxd: {}",
            Msg::new("check.path_missing")
                .arg("path", dir.display())
                .render(lang)
        );
        return exit::NOINPUT;
    }
    let report = pbx_config::check_paths(&[dir.to_path_buf()]);
    let base = std::env::current_dir().unwrap_or_default();
    if json {
        println!("{}", report.to_json(lang));
    } else {
        for d in &report.diagnostics {
            eprintln!("{}", d.render(lang, &base));
        }
        eprintln!(
            "{}",
            Msg::new("check.summary")
                .arg("errors", report.errors())
                .arg("warnings", report.warnings())
                .render(lang)
        );
    }
    if report.is_ok(deny_warnings) {
        exit::OK
    } else {
        exit::FAILURE
    }
}

fn run(dir: &Path, lang: Lang) -> i32 {
    let (loaded, report) = pbx_config::load(dir);
    let base = std::env::current_dir().unwrap_or_default();
    for d in &report.diagnostics {
        eprintln!("{}", d.render(lang, &base));
    }
    let Some(config) = loaded else {
        eprintln!(
            "pbxd: {}",
            Msg::new("pbxd.config_refused")
                .arg("errors", report.errors())
                .render(lang)
        );
        return exit::DATAERR;
    };
    let _guard = match init_logging(&config) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("pbxd: {e:#}");
            return exit::CANTCREAT;
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pbxd: {e}");
            return exit::SOFTWARE;
        }
    };
    match rt.block_on(serve(config, lang)) {
        Ok(()) => exit::OK,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("pbxd: {e:#}");
            e.downcast_ref::<Exit>()
                .map(|x| x.0)
                .unwrap_or(exit::SOFTWARE)
        }
    }
}

/// An error that carries its exit code.
#[derive(Debug)]
struct Exit(i32, String);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.1)
    }
}

impl std::error::Error for Exit {}

fn init_logging(cfg: &LoadedConfig) -> anyhow::Result<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let log = &cfg.daemon.log;
    std::fs::create_dir_all(&log.dir).with_context(|| {
        Msg::new("pbxd.log_dir")
            .arg("dir", log.dir.display())
            .to_string()
    })?;
    let appender = match log.rotation {
        pbx_config::LogRotation::Hourly => tracing_appender::rolling::hourly(&log.dir, "pbxd.log"),
        pbx_config::LogRotation::Never => tracing_appender::rolling::never(&log.dir, "pbxd.log"),
        pbx_config::LogRotation::Daily => tracing_appender::rolling::daily(&log.dir, "pbxd.log"),
    };
    let (file, guard) = tracing_appender::non_blocking(appender);
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_env("PBXD_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&log.level))
    };
    let file_layer = tracing_subscriber::fmt::layer()
        .with_writer(file)
        .with_ansi(false)
        .with_filter(filter());
    let stderr_layer = log.stderr.then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(filter())
    });
    tracing_subscriber::registry()
        .with(file_layer)
        .with(stderr_layer)
        .try_init()
        .ok();
    Ok(guard)
}

fn own_caller() -> Caller {
    let uid = nix::unistd::geteuid().as_raw();
    let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name);
    Caller {
        uid,
        user,
        scope: Scope::Beheerder,
    }
}

async fn serve(config: LoadedConfig, lang: Lang) -> anyhow::Result<()> {
    // Signal handlers first: from the moment the socket accepts connections, a SIGTERM must
    // stop pbxd cleanly, not kill it with the default action.
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let state_dir = config.daemon.state.dir.clone();
    let socket = config.daemon.control.socket.clone();
    let group = config.daemon.control.group.clone();
    let store =
        match pbx_store::Store::open(&state_dir, config.daemon.state.secret_key_file.as_deref()) {
            Ok(s) => s,
            Err(e) => {
                let m = e.msg().render(lang);
                return Err(Exit(
                    exit::DATAERR,
                    Msg::new("pbxd.store_unreadable")
                        .arg("detail", m)
                        .render(lang),
                )
                .into());
            }
        };
    tracing::info!(state = %state_dir.display(), schema = store.schema_version(), "opslag geopend");
    let app = Arc::new(App::new(store, config));
    let seeded = seed(&app, &own_caller());
    if !seeded.is_empty() {
        tracing::info!(organisaties = ?seeded, "organisaties uit conf.d aangemaakt");
    }
    let listener = control::bind(&socket, group.as_deref())
        .map_err(|e| Exit(exit::UNAVAILABLE, format!("{e:#}")))?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let _ = app.alarms.set(alarms::start(app.clone(), stop_rx.clone()));
    let (history, history_task) = history::start(app.clone(), stop_rx.clone());
    let _ = app.history.set(history);
    let (sip, sip_task) = sip::start(app.clone(), stop_rx.clone())
        .await
        .map_err(|e| Exit(exit::UNAVAILABLE, format!("{e:#}")))?;
    let _ = app.sip.set(sip);
    let http = {
        let cfg = app.config.read().unwrap_or_else(|p| p.into_inner());
        cfg.daemon.http.clone().map(|h| (h, cfg.daemon.tls.clone()))
    };
    if let Some((h, tls)) = http {
        let cert = match (h.tls, tls) {
            (true, Some(t)) => Some(
                pbx_net::tls::TlsCertificate::load(&t.certificate, &t.key).map_err(|e| {
                    Exit(
                        exit::DATAERR,
                        Msg::new("pbxd.http_tls")
                            .arg("detail", e.msg().render(lang))
                            .render(lang),
                    )
                })?,
            ),
            _ => None,
        };
        http::serve(h.address, cert, app.clone(), stop_rx.clone())
            .await
            .map_err(|e| Exit(exit::UNAVAILABLE, format!("{e:#}")))?;
    }
    let server = tokio::spawn(control::serve(listener, app.clone(), stop_rx.clone()));
    tracing::info!(socket = %socket.display(), version = env!("CARGO_PKG_VERSION"), "pbxd gestart");
    notify::notify("READY=1\nSTATUS=pbxd draait");
    if let Some(every) = notify::watchdog_interval() {
        tokio::spawn(async move {
            let mut t = tokio::time::interval(every);
            loop {
                t.tick().await;
                notify::notify("WATCHDOG=1");
            }
        });
    }
    {
        let app = app.clone();
        tokio::spawn(async move {
            let mut t = tokio::time::interval(Duration::from_secs(3600));
            loop {
                t.tick().await;
                let app = app.clone();
                let _ = tokio::task::spawn_blocking(move || daily_snapshot(&app)).await;
            }
        });
    }
    loop {
        tokio::select! {
            _ = hup.recv() => {
                notify::notify("RELOADING=1");
                let app2 = app.clone();
                let res = tokio::task::spawn_blocking(move || reload(&app2, &own_caller())).await;
                if let Ok(r) = res {
                    if r.ok { tracing::info!("configuratie opnieuw geladen"); }
                }
                notify::notify("READY=1");
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    tracing::info!("pbxd stopt");
    notify::notify("STOPPING=1");
    let _ = stop_tx.send(true);
    let _ = server.await;
    let _ = sip_task.await;
    let _ = history_task.await;
    let _ = std::fs::remove_file(&socket);
    if let Err(e) = app.store.flush() {
        tracing::error!(error = %e.msg(), "opslag niet weggeschreven");
    }
    Ok(())
}

fn daily_snapshot(app: &App) {
    let (dir, keep) = {
        let cfg = app.config.read().unwrap_or_else(|p| p.into_inner());
        (cfg.daemon.state.dir.clone(), cfg.daemon.state.snapshot_keep)
    };
    let due = match pbx_store::last_snapshot(&dir) {
        Some(t) => t
            .elapsed()
            .map(|e| e >= Duration::from_secs(24 * 3600))
            .unwrap_or(true),
        None => true,
    };
    if due {
        match app.store.snapshot(&dir, keep as usize) {
            Ok(p) => tracing::info!(file = %p.display(), "dagelijkse momentopname gemaakt"),
            Err(e) => tracing::error!(error = %e.msg(), "momentopname mislukt"),
        }
    }
}

/// Creates the organisations declared in conf.d that the store does not have yet. Existing ones
/// are never overwritten here: `pbxctl plan` / `apply` shows and applies differences.
fn seed(app: &App, caller: &Caller) -> Vec<String> {
    let declared = {
        let cfg = app.config.read().unwrap_or_else(|p| p.into_inner());
        cfg.tenants.clone()
    };
    let mut seeded = Vec::new();
    for d in declared {
        let slug = d.bundle.tenant.slug.clone();
        match app.store.tenant(&slug) {
            Ok(None) => {}
            Ok(Some(_)) => continue,
            Err(e) => {
                tracing::error!(tenant = %slug, error = %e.msg(), "organisatie niet te lezen");
                continue;
            }
        }
        let spec = pbx_api::DeclaredSpec {
            bundle: d.bundle.clone(),
            trunk_secrets: d.trunk_secrets.clone(),
        };
        let target = match app.declared_target(&spec, None) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(tenant = %slug, error = %e.msg, "organisatie uit conf.d niet aangemaakt");
                continue;
            }
        };
        if let Err(e) = app.store.put_bundle(&target) {
            tracing::error!(tenant = %slug, error = %e.msg(), "organisatie uit conf.d niet aangemaakt");
            continue;
        }
        let _ = app.audit(
            caller,
            "seed",
            Some(&slug),
            format!("organisatie {slug}"),
            None,
            None,
        );
        seeded.push(slug);
    }
    seeded
}

/// Reloads conf.d: checked first; a configuration with errors is refused and the old one stays.
pub fn reload(app: &App, caller: &Caller) -> ReloadResult {
    let dir = app
        .config
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .dir
        .clone();
    let (loaded, report) = pbx_config::load(&dir);
    let Some(new) = loaded else {
        let errors: Vec<String> = report
            .diagnostics
            .iter()
            .filter(|d| d.severity == pbx_model::Severity::Error)
            .map(|d| d.render(Lang::Nl, &dir))
            .collect();
        for e in &errors {
            tracing::error!("{e}");
        }
        tracing::error!(
            fouten = errors.len(),
            "nieuwe configuratie geweigerd; de oude blijft actief"
        );
        let _ = app.events.send(Event::Reloaded {
            ok: false,
            errors: errors.clone(),
        });
        return ReloadResult {
            ok: false,
            errors,
            seeded: Vec::new(),
        };
    };
    {
        let mut cfg = app.config.write().unwrap_or_else(|p| p.into_inner());
        if cfg.daemon.control.socket != new.daemon.control.socket
            || cfg.daemon.state.dir != new.daemon.state.dir
        {
            tracing::warn!(
                "control-socket of statusmap gewijzigd: dat werkt pas na een herstart van pbxd"
            );
        }
        if let Some(a) = app.alarms.get() {
            a.configure(new.alarms.clone());
        }
        *cfg = new;
    }
    if let Ok(mut t) = app.config_loaded.write() {
        *t = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    }
    if let Some(Err(e)) = app.sip.get().and_then(|s| s.reload_tls()) {
        tracing::error!(error = %e.msg(), "TLS-certificaat niet vervangen; het oude blijft in gebruik");
    }
    let seeded = seed(app, caller);
    let _ = app.audit(caller, "reload", None, "configuratie".into(), None, None);
    let _ = app.events.send(Event::Reloaded {
        ok: true,
        errors: Vec::new(),
    });
    ReloadResult {
        ok: true,
        errors: Vec::new(),
        seeded,
    }
}
