//! The alarm service: samples from the SIP task (calls that ended, failed authentications,
//! trunks, limits, store errors) and its own probes (free disk space, the start itself) go into
//! `pbx_engine::alarms`, evaluated every second; notices go to the log, the control API's event
//! stream (`alarm`) and the sinks of `alarms.toml`: webhook (JSON POST, retries with back-off
//! 1, 2, 4 … s), e-mail over SMTP (lettre), or a command (the notice as JSON on standard
//! input, `PBX_ALARM_*` in its environment; at most 10 s).
//!
//! Samples are sent over an unbounded channel and never block the SIP task; a sink never
//! blocks the service (each delivery is its own task).

use crate::app::App;
use pbx_config::{AlarmConfig, Sink, SinkKind};
use pbx_engine::alarms::{AlarmView, Alarms, Metric, Notice, NoticeKind, Sample, Severity};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot, watch};

/// How often the disk is looked at.
const DISK_EVERY: Duration = Duration::from_secs(60);
/// Longest a command sink may run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest one webhook attempt may take.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

enum Input {
    Sample(Sample),
    List(oneshot::Sender<Vec<AlarmView>>),
    Ack(String, oneshot::Sender<bool>),
    Silence(String, u64, oneshot::Sender<bool>),
    Config(AlarmConfig),
}

/// The rest of pbxd's end of the alarm service.
#[derive(Clone)]
pub struct AlarmHandle {
    tx: mpsc::UnboundedSender<Input>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl AlarmHandle {
    /// A measurement (never blocks).
    pub fn observe(&self, metric: Metric, key: &str, tenant: Option<&str>, value: f64) {
        let _ = self.tx.send(Input::Sample(Sample {
            metric,
            key: key.to_string(),
            tenant: tenant.map(String::from),
            value,
        }));
    }

    /// New rules and sinks (a reload).
    pub fn configure(&self, cfg: AlarmConfig) {
        let _ = self.tx.send(Input::Config(cfg));
    }

    /// The alarms (for the control API, on tokio's blocking pool).
    pub fn list(&self) -> Vec<AlarmView> {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Input::List(tx)).is_err() {
            return Vec::new();
        }
        rx.blocking_recv().unwrap_or_default()
    }

    /// Acknowledges an alarm; false when there is no such alarm.
    pub fn ack(&self, id: &str) -> bool {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Input::Ack(id.to_string(), tx)).is_err() {
            return false;
        }
        rx.blocking_recv().unwrap_or(false)
    }

    /// Silences an alarm for `secs`; false when there is no such alarm.
    pub fn silence(&self, id: &str, secs: u64) -> bool {
        let (tx, rx) = oneshot::channel();
        let until = now_ms().saturating_add(secs.saturating_mul(1000));
        if self
            .tx
            .send(Input::Silence(id.to_string(), until, tx))
            .is_err()
        {
            return false;
        }
        rx.blocking_recv().unwrap_or(false)
    }
}

/// Starts the alarm service; it ends when `stop` turns true.
/// How often the callers waiting in each wachtrij are sampled.
const QUEUE_EVERY: Duration = Duration::from_secs(5);

pub fn start(app: Arc<App>, mut stop: watch::Receiver<bool>) -> AlarmHandle {
    let (tx, mut rx) = mpsc::unbounded_channel::<Input>();
    let cfg = {
        let c = app.config.read().unwrap_or_else(|p| p.into_inner());
        c.alarms.clone()
    };
    let state_dir = {
        let c = app.config.read().unwrap_or_else(|p| p.into_inner());
        c.daemon.state.dir.clone()
    };
    let handle = AlarmHandle { tx };
    // Callers waiting per wachtrij, every few seconds (computed on the blocking pool: it reads
    // the store and asks the SIP task).
    let sampler = handle.clone();
    let queue_app = app.clone();
    let mut queue_stop = stop.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(QUEUE_EVERY);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = queue_stop.changed() => break,
            }
            let a = queue_app.clone();
            let Ok(Ok(list)) = tokio::task::spawn_blocking(move || a.queue_status(None)).await
            else {
                continue;
            };
            for q in list {
                let key = format!("{}/{}", q.tenant, q.number);
                sampler.observe(
                    Metric::QueueWaiting,
                    &key,
                    Some(&q.tenant),
                    f64::from(q.waiting),
                );
            }
        }
    });
    tokio::spawn(async move {
        let mut alarms = Alarms::new(cfg.rules.clone());
        let mut sinks = cfg.sinks.clone();
        tracing::info!(
            regels = alarms.rules().len(),
            meldingen = sinks.len(),
            "alarmen actief"
        );
        alarms.observe(
            Sample {
                metric: Metric::Restart,
                key: String::new(),
                tenant: None,
                value: 1.0,
            },
            now_ms(),
        );
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut disk_at = tokio::time::Instant::now();
        let mut first_disk = true;
        loop {
            tokio::select! {
                m = rx.recv() => match m {
                    Some(Input::Sample(s)) => alarms.observe(s, now_ms()),
                    Some(Input::List(reply)) => { let _ = reply.send(alarms.list()); }
                    Some(Input::Ack(id, reply)) => { let _ = reply.send(alarms.ack(&id)); }
                    Some(Input::Silence(id, until, reply)) => { let _ = reply.send(alarms.silence(&id, until)); }
                    Some(Input::Config(c)) => {
                        alarms.set_rules(c.rules);
                        sinks = c.sinks;
                    }
                    None => break,
                },
                _ = tick.tick() => {
                    if first_disk || disk_at.elapsed() >= DISK_EVERY {
                        first_disk = false;
                        disk_at = tokio::time::Instant::now();
                        if let Some(free) = disk_free_percent(&state_dir) {
                            alarms.observe(Sample { metric: Metric::DiskFree, key: String::new(), tenant: None, value: free }, now_ms());
                        }
                    }
                    alarms.evaluate(now_ms());
                    while let Some(n) = alarms.poll_notice() {
                        notify(&app, &sinks, n);
                    }
                }
                _ = stop.changed() => break,
            }
        }
    });
    handle
}

/// Free space of the disk holding `dir`, percent.
fn disk_free_percent(dir: &std::path::Path) -> Option<f64> {
    let s = nix::sys::statvfs::statvfs(dir).ok()?;
    let total = s.blocks() as f64;
    (total > 0.0).then(|| s.blocks_available() as f64 * 100.0 / total)
}

/// The Dutch line for the log, the e-mail subject and the command.
fn text(n: &Notice) -> String {
    let a = &n.alarm;
    let what = match n.kind {
        NoticeKind::Firing => "gaat af",
        NoticeKind::Reminder => "gaat nog steeds af",
        NoticeKind::Resolved => "opgelost",
    };
    let scope = if a.key.is_empty() {
        String::new()
    } else {
        format!(" ({})", a.key)
    };
    format!(
        "alarm {}{scope} {what}: {} = {:.2}, drempel {:.2} [{}]",
        a.rule,
        a.metric.as_str(),
        a.value,
        a.threshold,
        a.severity.as_str()
    )
}

/// The notice as JSON for webhooks and commands.
fn json(n: &Notice) -> serde_json::Value {
    let a = &n.alarm;
    serde_json::json!({
        "type": "alarm",
        "change": n.kind.as_str(),
        "id": a.id,
        "rule": a.rule,
        "key": a.key,
        "tenant": a.tenant,
        "metric": a.metric.as_str(),
        "severity": a.severity.as_str(),
        "state": a.state.as_str(),
        "value": a.value,
        "threshold": a.threshold,
        "since_ms": a.since_ms,
        "text": text(n),
    })
}

/// The API view of an alarm.
pub fn api_view(a: &AlarmView) -> pbx_api::AlarmInfo {
    pbx_api::AlarmInfo {
        id: a.id.clone(),
        rule: a.rule.clone(),
        key: a.key.clone(),
        tenant: a.tenant.clone(),
        metric: a.metric.as_str().to_string(),
        severity: a.severity.as_str().to_string(),
        state: a.state.as_str().to_string(),
        value: a.value,
        threshold: a.threshold,
        since_ms: a.since_ms,
        acked: a.acked,
        silenced_until_ms: a.silenced_until_ms,
    }
}

fn notify(app: &Arc<App>, sinks: &[Sink], n: Notice) {
    let line = text(&n);
    match (n.kind, n.alarm.severity) {
        (NoticeKind::Resolved, _) | (_, Severity::Info) => tracing::info!("{line}"),
        _ => tracing::warn!("{line}"),
    }
    let _ = app.events.send(pbx_api::Event::Alarm {
        change: n.kind.as_str().to_string(),
        alarm: api_view(&n.alarm),
    });
    for s in sinks {
        if n.alarm.severity < s.min_severity {
            continue;
        }
        let body = json(&n);
        let subject = line.clone();
        match s.kind.clone() {
            SinkKind::Webhook { url, attempts } => {
                tokio::spawn(async move { webhook(&url, attempts, body).await });
            }
            SinkKind::Email {
                server,
                tls,
                from,
                to,
            } => {
                tokio::spawn(async move {
                    if let Err(e) = email(&server, &tls, &from, &to, &subject, &body).await {
                        tracing::warn!(%server, fout = %e, "alarm: e-mail niet verstuurd");
                    }
                });
            }
            SinkKind::Command { argv } => {
                tokio::spawn(async move { command(&argv, &body).await });
            }
        }
    }
}

/// POSTs the notice; retries with back-off 1, 2, 4 … s (at most 60 s between) on errors and
/// 5xx.
async fn webhook(url: &str, attempts: u32, body: serde_json::Value) {
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let mut wait = Duration::from_secs(1);
    for attempt in 1..=attempts.max(1) {
        match tokio::time::timeout(WEBHOOK_TIMEOUT, post(url, &bytes)).await {
            Ok(Ok(status)) if status < 500 => {
                if status >= 400 {
                    tracing::warn!(%url, status, "alarm: webhook weigert de melding");
                }
                return;
            }
            Ok(Ok(status)) => {
                tracing::info!(%url, status, poging = attempt, "alarm: webhook faalt")
            }
            Ok(Err(e)) => {
                tracing::info!(%url, fout = %e, poging = attempt, "alarm: webhook niet bereikbaar")
            }
            Err(_) => tracing::info!(%url, poging = attempt, "alarm: webhook antwoordt niet"),
        }
        if attempt < attempts {
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(60));
        }
    }
    tracing::warn!(%url, "alarm: webhook opgegeven na alle pogingen");
}

/// One HTTP(S) POST; the status code.
async fn post(url: &str, body: &[u8]) -> Result<u16, String> {
    use http_body_util::{BodyExt, Full};
    let uri: hyper::Uri = url.parse().map_err(|e| format!("{e}"))?;
    let https = uri.scheme_str() == Some("https");
    let host = uri.host().ok_or("geen host")?.to_string();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| e.to_string())?;
    let req = hyper::Request::post(path)
        .header(hyper::header::HOST, &host)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::USER_AGENT, "pbxd")
        .body(Full::new(bytes::Bytes::copy_from_slice(body)))
        .map_err(|e| e.to_string())?;
    async fn send<S>(io: S, req: hyper::Request<Full<bytes::Bytes>>) -> Result<u16, String>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
                .await
                .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let _ = resp.into_body().collect().await;
        Ok(status)
    }
    if https {
        let name = pbx_net::tls::ServerName::try_from(host.clone()).map_err(|e| e.to_string())?;
        let tls = pbx_net::tls::client_connector()
            .ok_or("TLS niet beschikbaar")?
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        send(tls, req).await
    } else {
        send(tcp, req).await
    }
}

/// Sends the notice by e-mail.
async fn email(
    server: &str,
    tls: &str,
    from: &str,
    to: &[String],
    subject: &str,
    body: &serde_json::Value,
) -> Result<(), String> {
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
    let (host, port) = match server.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse::<u16>().map_err(|e| e.to_string())?),
        None => (server.to_string(), 25),
    };
    let mut m = Message::builder()
        .from(from.parse().map_err(|e| format!("{e}"))?)
        .subject(subject);
    for t in to {
        m = m.to(t.parse().map_err(|e| format!("{e}"))?);
    }
    let text = format!(
        "{subject}\n\n{}\n",
        serde_json::to_string_pretty(body).unwrap_or_default()
    );
    let msg = m.body(text).map_err(|e| e.to_string())?;
    let transport = match tls {
        "geen" => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host)
            .port(port)
            .build(),
        "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&host)
            .map_err(|e| e.to_string())?
            .port(port)
            .build(),
        _ => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&host)
            .map_err(|e| e.to_string())?
            .port(port)
            .build(),
    };
    transport.send(msg).await.map_err(|e| e.to_string())?;
    Ok(())
}

/// Runs a command with the notice (at most [`COMMAND_TIMEOUT`]).
async fn command(argv: &[String], body: &serde_json::Value) {
    use tokio::io::AsyncWriteExt;
    let Some((prog, args)) = argv.split_first() else {
        return;
    };
    let get = |k: &str| body[k].as_str().unwrap_or_default().to_string();
    let mut cmd = tokio::process::Command::new(prog);
    cmd.args(args)
        .env("PBX_ALARM_ID", get("id"))
        .env("PBX_ALARM_RULE", get("rule"))
        .env("PBX_ALARM_CHANGE", get("change"))
        .env("PBX_ALARM_SEVERITY", get("severity"))
        .env("PBX_ALARM_TEXT", get("text"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(commando = %prog, fout = %e, "alarm: commando niet te starten");
            return;
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin
            .write_all(serde_json::to_string(body).unwrap_or_default().as_bytes())
            .await;
    }
    match tokio::time::timeout(COMMAND_TIMEOUT, child.wait()).await {
        Ok(Ok(s)) if s.success() => {}
        Ok(Ok(s)) => tracing::warn!(commando = %prog, status = %s, "alarm: commando mislukt"),
        Ok(Err(e)) => tracing::warn!(commando = %prog, fout = %e, "alarm: commando mislukt"),
        Err(_) => tracing::warn!(commando = %prog, "alarm: commando duurde te lang, gestopt"),
    }
}
