//! The small HTTP endpoint of `[http]`: `GET /metrics` for Prometheus (the agent softphone
//! joins it later). HTTPS with the `[tls]` certificate when `tls = true`; plain HTTP is meant
//! for loopback (`pbxctl check` warns otherwise). Built on hyper, which pbxd already uses for
//! the control API, rather than axum: one route does not need a router.
//!
//! The metrics (text format 0.0.4), all prefixed `pbx_`:
//! `registrations{tenant}`, `calls_active{tenant}`, `calls_total{tenant,direction,afloop}`
//! (the rate is calls per second), `trunk_up{tenant,trunk}`, `trunk_registered{tenant,trunk}`,
//! `trunk_rtt_ms{tenant,trunk}`, `trunk_channels_active{tenant,trunk}`,
//! `call_mos` (histogram of the average MOS of ended calls with media), `alarms_firing{severity}`,
//! `sip_messages_total{kind}`, `up`.

use crate::app::App;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Connections served at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 64;

/// Serves `[http]` until `stop`.
pub async fn serve(
    addr: SocketAddr,
    tls: Option<pbx_net::tls::TlsCertificate>,
    app: Arc<App>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let l = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        anyhow::anyhow!(
            "{}",
            pbx_i18n::Msg::new("pbxd.http_bind")
                .arg("address", addr)
                .arg("detail", e)
        )
    })?;
    tracing::info!(address = %addr, https = tls.is_some(), "HTTP luistert (/metrics)");
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let router = routes(app, tls.is_some());
    tokio::spawn(async move {
        loop {
            let (stream, peer) = tokio::select! {
                r = l.accept() => match r {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::debug!(error = %e, "HTTP: accept mislukt");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = stop.changed() => return,
            };
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                continue;
            };
            let router = router.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let svc = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                    // The softphone counts login attempts per address.
                    req.extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    let router = router.clone();
                    async move {
                        use tower::ServiceExt as _;
                        router.oneshot(req.map(axum::body::Body::new)).await
                    }
                });
                let builder = {
                    let mut b = http1::Builder::new();
                    b.timer(TokioTimer::new())
                        .header_read_timeout(Duration::from_secs(10))
                        .max_buf_size(16 * 1024);
                    b
                };
                // `with_upgrades`: the softphone's WebSocket takes over the connection.
                match tls {
                    None => {
                        let _ = builder
                            .serve_connection(TokioIo::new(stream), svc)
                            .with_upgrades()
                            .await;
                    }
                    Some(cert) => {
                        match tokio::time::timeout(
                            Duration::from_secs(10),
                            cert.acceptor().accept(stream),
                        )
                        .await
                        {
                            Ok(Ok(s)) => {
                                let _ = builder
                                    .serve_connection(TokioIo::new(s), svc)
                                    .with_upgrades()
                                    .await;
                            }
                            _ => tracing::debug!("HTTPS: handshake mislukt"),
                        }
                    }
                }
            });
        }
    });
    Ok(())
}

/// `/metrics` next to the softphone's routes.
fn routes(app: Arc<App>, https: bool) -> axum::Router {
    let backend = crate::softphone::PhoneBackend(crate::softphone::install(app.clone()));
    let cfg = pbx_softphone::Config {
        tls: https,
        ..pbx_softphone::Config::default()
    };
    pbx_softphone::router(Arc::new(backend), cfg).route(
        "/metrics",
        axum::routing::get(move || {
            let app = app.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    metrics(&app).await,
                )
            }
        }),
    )
}

/// A label value, escaped as the text format wants.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP pbx_{name} {help}");
    let _ = writeln!(out, "# TYPE pbx_{name} {kind}");
}

/// The metrics text.
pub async fn metrics(app: &Arc<App>) -> String {
    let mut out = String::with_capacity(4096);
    family(&mut out, "up", "gauge", "pbxd draait");
    out.push_str("pbx_up 1\n");
    let Some(sip) = app.sip.get() else {
        return out;
    };
    let mut regs: BTreeMap<String, u64> = BTreeMap::new();
    for r in sip.registrations(None) {
        *regs.entry(r.tenant).or_insert(0) += 1;
    }
    family(
        &mut out,
        "registrations",
        "gauge",
        "Geregistreerde contacten",
    );
    for (t, n) in &regs {
        let _ = writeln!(out, "pbx_registrations{{tenant=\"{}\"}} {n}", esc(t));
    }
    let mut active: BTreeMap<String, u64> = BTreeMap::new();
    for c in sip.calls_async().await {
        *active.entry(c.tenant).or_insert(0) += 1;
    }
    family(&mut out, "calls_active", "gauge", "Lopende gesprekken");
    for (t, n) in &active {
        let _ = writeln!(out, "pbx_calls_active{{tenant=\"{}\"}} {n}", esc(t));
    }
    let c = sip.counters_full();
    family(
        &mut out,
        "calls_total",
        "counter",
        "Beëindigde gesprekken sinds de start van pbxd",
    );
    for ((t, d, a), n) in &c.calls {
        let _ = writeln!(
            out,
            "pbx_calls_total{{tenant=\"{}\",direction=\"{}\",afloop=\"{}\"}} {n}",
            esc(t),
            esc(d),
            esc(a)
        );
    }
    family(
        &mut out,
        "call_mos",
        "histogram",
        "Gemiddelde MOS (E-model) van beëindigde gesprekken met media",
    );
    let mut cumulative = 0;
    for (i, b) in crate::sip::MOS_BUCKETS.iter().enumerate() {
        cumulative += c.mos_buckets[i];
        let _ = writeln!(out, "pbx_call_mos_bucket{{le=\"{b}\"}} {cumulative}");
    }
    let _ = writeln!(out, "pbx_call_mos_bucket{{le=\"+Inf\"}} {}", c.mos_count);
    let _ = writeln!(out, "pbx_call_mos_sum {}", c.mos_sum);
    let _ = writeln!(out, "pbx_call_mos_count {}", c.mos_count);
    let trunks = sip.trunk_status(None);
    family(
        &mut out,
        "trunk_up",
        "gauge",
        "Trunk beantwoordt OPTIONS (1) of niet (0)",
    );
    for t in &trunks {
        if let Some(up) = t.up {
            let _ = writeln!(
                out,
                "pbx_trunk_up{{tenant=\"{}\",trunk=\"{}\"}} {}",
                esc(&t.tenant),
                esc(&t.name),
                u8::from(up)
            );
        }
    }
    family(
        &mut out,
        "trunk_registered",
        "gauge",
        "Trunk geregistreerd bij de provider (1) of niet (0)",
    );
    for t in &trunks {
        let _ = writeln!(
            out,
            "pbx_trunk_registered{{tenant=\"{}\",trunk=\"{}\"}} {}",
            esc(&t.tenant),
            esc(&t.name),
            u8::from(t.state == "geregistreerd")
        );
    }
    family(
        &mut out,
        "trunk_rtt_ms",
        "gauge",
        "RTT van de laatste OPTIONS, ms",
    );
    for t in &trunks {
        if let Some(rtt) = t.rtt_ms {
            let _ = writeln!(
                out,
                "pbx_trunk_rtt_ms{{tenant=\"{}\",trunk=\"{}\"}} {rtt}",
                esc(&t.tenant),
                esc(&t.name)
            );
        }
    }
    family(
        &mut out,
        "trunk_channels_active",
        "gauge",
        "Gesprekken op de trunk (max: pbx_trunk_channels_max)",
    );
    for t in &trunks {
        let _ = writeln!(
            out,
            "pbx_trunk_channels_active{{tenant=\"{}\",trunk=\"{}\"}} {}",
            esc(&t.tenant),
            esc(&t.name),
            t.active_calls
        );
    }
    family(
        &mut out,
        "trunk_channels_max",
        "gauge",
        "Kanalen van de trunk",
    );
    for t in &trunks {
        let _ = writeln!(
            out,
            "pbx_trunk_channels_max{{tenant=\"{}\",trunk=\"{}\"}} {}",
            esc(&t.tenant),
            esc(&t.name),
            t.max_channels
        );
    }
    family(
        &mut out,
        "alarms_firing",
        "gauge",
        "Alarmen die afgaan, per ernst",
    );
    let mut firing: BTreeMap<&str, u64> = [("info", 0), ("waarschuwing", 0), ("kritiek", 0)]
        .into_iter()
        .collect();
    if let Some(a) = app.alarms.get() {
        let list = {
            let a = a.clone();
            tokio::task::spawn_blocking(move || a.list())
                .await
                .unwrap_or_default()
        };
        for x in list
            .iter()
            .filter(|x| x.state == pbx_engine::alarms::State::Firing)
        {
            *firing.entry(x.severity.as_str()).or_insert(0) += 1;
        }
    }
    for (s, n) in &firing {
        let _ = writeln!(out, "pbx_alarms_firing{{severity=\"{s}\"}} {n}");
    }
    family(
        &mut out,
        "sip_messages_total",
        "counter",
        "SIP-berichten: ontvangen, beperkt, weggegooid, geweigerd, mislukte aanmeldingen",
    );
    for (k, v) in sip.counters() {
        let _ = writeln!(out, "pbx_sip_messages_total{{kind=\"{}\"}} {v}", esc(&k));
    }
    // Wachtrijen (read on the blocking pool: store and SIP task).
    let a = app.clone();
    let queues = tokio::task::spawn_blocking(move || a.queue_status(None))
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    type Get = fn(&pbx_api::QueueInfo) -> u64;
    let gauges: [(&str, &str, Get); 5] = [
        (
            "queue_waiting",
            "Bellers die nu wachten in de wachtrij",
            |q| u64::from(q.waiting),
        ),
        (
            "queue_longest_wait_seconds",
            "Langste wacht nu, seconden",
            |q| q.longest_wait_s,
        ),
        (
            "queue_agents_available",
            "Leden van de wachtrij die vrij zijn",
            |q| u64::from(q.available),
        ),
        (
            "queue_lost_today",
            "Verloren gesprekken van vandaag (UTC)",
            |q| u64::from(q.lost_today),
        ),
        (
            "queue_offered_today",
            "Aangeboden gesprekken van vandaag (UTC)",
            |q| u64::from(q.offered_today),
        ),
    ];
    if !queues.is_empty() {
        for (name, help, get) in gauges {
            family(&mut out, name, "gauge", help);
            for q in &queues {
                let _ = writeln!(
                    out,
                    "pbx_{name}{{tenant=\"{}\",queue=\"{}\"}} {}",
                    esc(&q.tenant),
                    esc(&q.number),
                    get(q)
                );
            }
        }
    }
    out
}
