//! The history task: roll-ups per minute, hour and day, globally (`""`), per organisation
//! (`org:<slug>`) and per trunk (`trunk:<slug>/<name>`), in the store (`pbx_store` roll-ups).
//!
//! - Ended calls come from the SIP task (never blocking it) and count in the minute, hour and
//!   day of their start.
//! - Every [`SAMPLE_EVERY`] the task looks at the active calls (peak per organisation and
//!   globally; per trunk its channels in use), the registrations (maximum) and the trunks'
//!   reachability (seconds up of seconds observed).
//! - Every [`FLUSH_EVERY`] what gathered since the last flush is merged into the stored
//!   roll-ups (sums add, maxima stay maxima), so a restart loses at most that much.
//! - Once an hour old roll-ups are removed (retention from `[state]`), on tokio's blocking pool
//!   and in batches, so the daemon never waits for it.

use crate::app::App;
use pbx_model::history::{scope_org, scope_trunk, Granularity, Rollup};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, watch};

/// How often active calls, registrations and trunks are sampled.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(5);
/// How often the gathered roll-ups are written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(5);
/// How often old roll-ups are removed.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// An ended call.
pub struct CallDone {
    pub tenant: String,
    pub trunk: Option<String>,
    pub start_ms: u64,
    pub answered: bool,
    pub billsec: u64,
    pub mos_centi: Option<u32>,
}

enum Input {
    Done(CallDone),
    /// A call was admitted: the calls of its organisation and of pbxd now.
    Started {
        tenant: String,
        org: u32,
        all: u32,
        at_ms: u64,
    },
}

/// The SIP task's end of the history task.
#[derive(Clone)]
pub struct HistoryHandle {
    tx: mpsc::UnboundedSender<Input>,
}

impl HistoryHandle {
    /// Counts an ended call (never blocks).
    pub fn call_done(&self, c: CallDone) {
        let _ = self.tx.send(Input::Done(c));
    }

    /// A call was admitted; `org` and `all` are the calls now (for the peaks; never blocks).
    pub fn call_started(&self, tenant: &str, org: u32, all: u32) {
        let _ = self.tx.send(Input::Started {
            tenant: tenant.to_string(),
            org,
            all,
            at_ms: now_ms(),
        });
    }
}

fn count_call(g: &mut Gathered, c: &CallDone) {
    let mut scopes = vec![String::new(), scope_org(&c.tenant)];
    if let Some(t) = &c.trunk {
        scopes.push(scope_trunk(&c.tenant, t));
    }
    for s in scopes {
        g.at(s, c.start_ms)
            .add_call(c.answered, c.billsec, c.mos_centi);
    }
}

fn peak(g: &mut Gathered, scope: String, n: u32, at_ms: u64) {
    let r = g.at(scope, at_ms);
    r.peak_calls = r.peak_calls.max(n);
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Roll-ups gathered since the last flush, by (scope, minute start).
#[derive(Default)]
struct Gathered(HashMap<(String, u64), Rollup>);

impl Gathered {
    fn at(&mut self, scope: String, ms: u64) -> &mut Rollup {
        self.0
            .entry((scope, Granularity::Minuut.start(ms)))
            .or_default()
    }

    /// Every minute roll-up also as its hour and day.
    fn items(&mut self) -> Vec<(Granularity, String, u64, Rollup)> {
        let mut out = Vec::with_capacity(self.0.len() * 3);
        for ((scope, start), r) in self.0.drain() {
            if r.is_empty() {
                continue;
            }
            for g in Granularity::ALL {
                out.push((g, scope.clone(), g.start(start), r.clone()));
            }
        }
        out
    }
}

/// Starts the history task; it flushes once more and ends when `stop` turns true.
pub fn start(
    app: Arc<App>,
    mut stop: watch::Receiver<bool>,
) -> (HistoryHandle, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Input>();
    let task = tokio::spawn(async move {
        let mut g = Gathered::default();
        let mut sample = tokio::time::interval(SAMPLE_EVERY);
        let mut flush = tokio::time::interval(FLUSH_EVERY);
        let mut prune = tokio::time::interval(PRUNE_EVERY);
        loop {
            tokio::select! {
                m = rx.recv() => match m {
                    Some(Input::Done(c)) => count_call(&mut g, &c),
                    Some(Input::Started { tenant, org, all, at_ms }) => {
                        peak(&mut g, scope_org(&tenant), org, at_ms);
                        peak(&mut g, String::new(), all, at_ms);
                    }
                    None => break,
                },
                _ = sample.tick() => sample_now(&app, &mut g).await,
                _ = flush.tick() => write(&app, &mut g).await,
                _ = prune.tick() => {
                    let app = app.clone();
                    tokio::task::spawn_blocking(move || prune_old(&app));
                }
                _ = stop.changed() => break,
            }
        }
        // Calls that ended while stopping (the SIP task stops at the same signal).
        while let Ok(m) = rx.try_recv() {
            if let Input::Done(c) = m {
                count_call(&mut g, &c);
            }
        }
        write(&app, &mut g).await;
    });
    (HistoryHandle { tx }, task)
}

/// Active calls, registrations and trunk reachability now.
async fn sample_now(app: &Arc<App>, g: &mut Gathered) {
    let Some(sip) = app.sip.get() else { return };
    let now = now_ms();
    let mut active: HashMap<String, u32> = HashMap::new();
    let calls = sip.calls_async().await;
    for c in &calls {
        *active.entry(scope_org(&c.tenant)).or_insert(0) += 1;
    }
    active.insert(
        String::new(),
        u32::try_from(calls.len()).unwrap_or(u32::MAX),
    );
    let mut regs: HashMap<String, u32> = HashMap::new();
    let all = sip.registrations(None);
    for r in &all {
        *regs.entry(scope_org(&r.tenant)).or_insert(0) += 1;
    }
    regs.insert(String::new(), u32::try_from(all.len()).unwrap_or(u32::MAX));
    for (s, n) in active {
        let r = g.at(s, now);
        r.peak_calls = r.peak_calls.max(n);
    }
    for (s, n) in regs {
        let r = g.at(s, now);
        r.registrations = r.registrations.max(n);
    }
    let secs = SAMPLE_EVERY.as_secs();
    for t in sip.trunk_status(None) {
        let r = g.at(scope_trunk(&t.tenant, &t.name), now);
        r.peak_calls = r.peak_calls.max(t.active_calls);
        if let Some(up) = t.up {
            r.observed_secs += secs;
            if up {
                r.up_secs += secs;
            }
        }
    }
}

async fn write(app: &Arc<App>, g: &mut Gathered) {
    let items = g.items();
    if items.is_empty() {
        return;
    }
    let app = app.clone();
    let res = tokio::task::spawn_blocking(move || app.store.add_rollups(&items)).await;
    match res {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e.msg(), "historie niet opgeslagen"),
        Err(e) => tracing::error!(error = %e, "historie niet opgeslagen"),
    }
}

/// Removes roll-ups older than the retention of `[state]`.
fn prune_old(app: &App) {
    let (m, h, d) = {
        let c = app.config.read().unwrap_or_else(|p| p.into_inner());
        let s = &c.daemon.state;
        (
            s.history_minute_hours,
            s.history_hour_days,
            s.history_day_days,
        )
    };
    let now = now_ms();
    let hour = 3_600_000u64;
    for (g, keep) in [
        (Granularity::Minuut, u64::from(m) * hour),
        (Granularity::Uur, u64::from(h) * 24 * hour),
        (Granularity::Dag, u64::from(d) * 24 * hour),
    ] {
        match app.store.prune_rollups(g, now.saturating_sub(keep)) {
            Ok(0) => {}
            Ok(n) => tracing::info!(per = g.as_str(), verwijderd = n, "oude historie opgeruimd"),
            Err(e) => tracing::warn!(error = %e.msg(), "historie niet opgeruimd"),
        }
    }
}
