//! Fetching: one task polls the GETs every second (one request at a time), one follows the
//! event stream; both reconnect every second after pbxd went away. Results go to the UI loop
//! over a channel, so drawing never waits for the socket.

use crate::app::{Span, Update};
use pbx_api::{Method, Query, Route};
use pbx_client::{Client, ClientError, EventStream};
use pbx_i18n::{tr, Lang};
use serde::de::DeserializeOwned;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, watch};

/// Now in Unix ms.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Is this the connection going away (rather than pbxd refusing one request)?
fn lost(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::NotRunning { .. } | ClientError::Protocol(_) | ClientError::NoAccess { .. }
    )
}

fn disconnected(lang: Lang, e: &ClientError) -> Update {
    Update::Disconnected(format!(
        "{} — {}",
        tr(lang, "top.reconnecting"),
        e.message(lang)
    ))
}

async fn get<T: DeserializeOwned>(
    client: &Client,
    route: Route,
    q: &[(&str, &str)],
) -> Result<T, ClientError> {
    client
        .get(&format!("{}{}", route.path(), Query::encode(q)))
        .await
}

/// A list, or empty when pbxd refuses it (rights); `Err` only when the connection is gone.
async fn list<T: DeserializeOwned>(client: &Client, route: Route) -> Result<Vec<T>, ClientError> {
    match get::<Vec<T>>(client, route, &[]).await {
        Ok(v) => Ok(v),
        Err(e) if lost(&e) => Err(e),
        Err(_) => Ok(Vec::new()),
    }
}

/// MOS values per leg that the list's sparkline shows at most; the detail view keeps the
/// values it saw before (see `App::apply`).
const LIST_POINTS: &str = "24";

/// The live calls with a short MOS history (the list's sparkline), all of it for the call
/// shown in detail.
async fn calls(
    client: &Client,
    detail: Option<&str>,
) -> Result<Vec<pbx_api::CallInfo>, ClientError> {
    let mut q = vec![("points", LIST_POINTS)];
    if let Some(id) = detail {
        q.push(("full", id));
    }
    match get::<Vec<pbx_api::CallInfo>>(client, Route::Calls, &q).await {
        Ok(v) => Ok(v),
        Err(e) if lost(&e) => Err(e),
        Err(_) => Ok(Vec::new()),
    }
}

/// History of `span` ending now.
pub async fn history(
    client: &Client,
    span: Span,
) -> Result<Vec<pbx_api::HistoryPoint>, ClientError> {
    let now = now_ms();
    let from = now.saturating_sub(span.ms()).to_string();
    let to = (now + 1).to_string();
    get(
        client,
        Route::History,
        &[("per", span.per()), ("from_ms", &from), ("to_ms", &to)],
    )
    .await
}

/// Polls every second until the receiver is gone.
pub fn spawn_poller(
    client: Client,
    lang: Lang,
    tx: mpsc::Sender<Update>,
    span: watch::Receiver<Span>,
    detail: watch::Receiver<Option<String>>,
) {
    tokio::spawn(async move {
        let mut round: u64 = 0;
        let mut last_span: Option<Span> = None;
        loop {
            let shown = detail.borrow().clone();
            let r: Result<Update, ClientError> = async {
                Ok(Update::Polled {
                    calls: calls(&client, shown.as_deref()).await?,
                    registrations: list(&client, Route::Registrations).await?,
                    trunks: list(&client, Route::TrunkStatus).await?,
                    alarms: list(&client, Route::Alarms).await?,
                    agents: list(&client, Route::Agents).await?,
                    queues: list(&client, Route::QueueStatus).await?,
                })
            }
            .await;
            let ok = r.is_ok();
            let u = r.unwrap_or_else(|e| disconnected(lang, &e));
            if tx.send(u).await.is_err() {
                return;
            }
            // History changes slowly: every 30 s, and at once when the span changes.
            let s = *span.borrow();
            if ok && (last_span != Some(s) || round % 30 == 0) {
                match history(&client, s).await {
                    Ok(points) => {
                        last_span = Some(s);
                        if tx.send(Update::History(s, points)).await.is_err() {
                            return;
                        }
                    }
                    Err(e) if lost(&e) => {}
                    Err(_) => last_span = Some(s),
                }
            }
            round += 1;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

/// Follows the event stream, reconnecting every second.
pub fn spawn_events(client: Client, lang: Lang, tx: mpsc::Sender<Update>, first: EventStream) {
    tokio::spawn(async move {
        let mut next = Some(first);
        loop {
            let stream = match next.take() {
                Some(s) => Ok(s),
                None => client.events().await,
            };
            match stream {
                Ok(mut s) => {
                    while let Some(ev) = s.next().await {
                        let u = match ev {
                            Ok(ev) => Update::Event(Box::new(ev)),
                            Err(e) => disconnected(lang, &e),
                        };
                        if tx.send(u).await.is_err() {
                            return;
                        }
                    }
                }
                Err(e) => {
                    if tx.send(disconnected(lang, &e)).await.is_err() {
                        return;
                    }
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

/// Carries out a POST or trace lookup in its own task; the answer comes back as an update.
pub fn spawn_action(client: Client, lang: Lang, tx: mpsc::Sender<Update>, a: crate::app::Action) {
    use crate::app::Action;
    tokio::spawn(async move {
        let u = match a {
            Action::Hangup(id) => {
                let path = Route::CallHangup(id.clone()).path();
                match client
                    .call_bytes(Method::Post, &path, Vec::new(), "application/json")
                    .await
                {
                    Ok(_) => {
                        Update::Note(pbx_i18n::Msg::new("top.hung_up").arg("id", id).render(lang))
                    }
                    Err(e) => Update::Note(e.message(lang)),
                }
            }
            Action::AckAlarm(id) => {
                let path = Route::AlarmAck(id.clone()).path();
                match client
                    .call_bytes(Method::Post, &path, Vec::new(), "application/json")
                    .await
                {
                    Ok(_) => {
                        Update::Note(pbx_i18n::Msg::new("top.acked").arg("id", id).render(lang))
                    }
                    Err(e) => Update::Note(e.message(lang)),
                }
            }
            Action::Trace(id, call_id) => {
                let r = get::<pbx_api::TraceView>(&client, Route::Trace(call_id), &[]).await;
                Update::Trace(id, r.map_err(|e| e.message(lang)))
            }
            Action::History(span) => match history(&client, span).await {
                Ok(p) => Update::History(span, p),
                Err(e) => Update::Note(e.message(lang)),
            },
            Action::Quit => return,
        };
        // The board may be gone already; nothing to do then.
        let _ = tx.send(u).await;
    });
}
