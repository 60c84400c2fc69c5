//! The control socket: HTTP/1.1 on a Unix socket, rights from the peer's uid (SO_PEERCRED).

use crate::app::{api_error, App, Reply, Req};
use bytes::Bytes;
use futures_util::stream;
use http_body_util::{combinators::BoxBody, BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use pbx_api::{Caller, ErrorBody, Event, Method, Query, Route, Scope, HEADER_API, HEADER_VERSION};
use pbx_i18n::{Lang, Msg};
use pbx_model::{ErrorCode, ModelError};
use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{broadcast, watch};

type Body = BoxBody<Bytes, Infallible>;

/// Opens the control socket: refuses when another pbxd answers on it, replaces a stale file,
/// sets mode 0660 and the configured group.
pub fn bind(path: &Path, group: Option<&str>) -> anyhow::Result<UnixListener> {
    use anyhow::Context;
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            anyhow::bail!(
                "{}",
                Msg::new("pbxd.socket_in_use").arg("socket", path.display())
            );
        }
        std::fs::remove_file(path).with_context(|| {
            Msg::new("pbxd.socket_stale")
                .arg("socket", path.display())
                .to_string()
        })?;
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| {
            Msg::new("pbxd.socket_dir")
                .arg("dir", dir.display())
                .to_string()
        })?;
    }
    let listener = UnixListener::bind(path).with_context(|| {
        Msg::new("pbxd.socket_bind")
            .arg("socket", path.display())
            .to_string()
    })?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    if let Some(g) = group {
        let grp = nix::unistd::Group::from_name(g)
            .ok()
            .flatten()
            .with_context(|| Msg::new("pbxd.group_unknown").arg("group", g).to_string())?;
        nix::unistd::chown(path, None, Some(grp.gid))
            .with_context(|| Msg::new("pbxd.socket_chown").arg("group", g).to_string())?;
    }
    Ok(listener)
}

/// Decides what a uid may do: root and members of the admin group are beheerder; a unix user
/// mapped to an organisation sees only that organisation; anybody else nothing.
pub fn caller_for(app: &App, uid: u32) -> Caller {
    let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten();
    let name = user.as_ref().map(|u| u.name.clone());
    let cfg = app.config.read().unwrap_or_else(|p| p.into_inner());
    let control = &cfg.daemon.control;
    let in_admin_group = match (&control.admin_group, &user) {
        (Some(g), Some(u)) => nix::unistd::Group::from_name(g)
            .ok()
            .flatten()
            .is_some_and(|grp| grp.gid == u.gid || grp.mem.contains(&u.name)),
        _ => false,
    };
    let scope = if uid == 0 || uid == nix::unistd::geteuid().as_raw() || in_admin_group {
        Scope::Beheerder
    } else if let Some(t) = name.as_ref().and_then(|n| control.tenant_users.get(n)) {
        Scope::Tenant(t.clone())
    } else {
        Scope::None
    };
    Caller {
        uid,
        user: name,
        scope,
    }
}

/// Serves the control API until `stop` turns true.
pub async fn serve(listener: UnixListener, app: Arc<App>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let app = app.clone();
                    let stop = stop.clone();
                    tokio::spawn(connection(stream, app, stop));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "control-socket: accept mislukt");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = stop.changed() => break,
        }
    }
}

async fn connection(stream: UnixStream, app: Arc<App>, stop: watch::Receiver<bool>) {
    let uid = match stream.peer_cred() {
        Ok(c) => c.uid(),
        Err(e) => {
            tracing::warn!(error = %e, "control-socket: geen peer-credentials");
            return;
        }
    };
    let svc = service_fn(move |req| {
        let app = app.clone();
        let stop = stop.clone();
        async move { Ok::<_, Infallible>(handle(app, uid, req, stop).await) }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .max_buf_size(64 * 1024)
        .serve_connection(TokioIo::new(stream), svc);
    if let Err(e) = conn.await {
        tracing::debug!(error = %e, "control-socket: verbinding afgebroken");
    }
}

fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).boxed()
}

fn respond(status: u16, content_type: &str, body: Body) -> Response<Body> {
    let mut r = Response::new(body);
    *r.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert(
        "content-type",
        hyper::header::HeaderValue::from_str(content_type)
            .unwrap_or(hyper::header::HeaderValue::from_static("application/json")),
    );
    h.insert(
        HEADER_VERSION,
        hyper::header::HeaderValue::from_static(env!("CARGO_PKG_VERSION")),
    );
    h.insert(
        HEADER_API,
        hyper::header::HeaderValue::from(pbx_api::API_VERSION),
    );
    r
}

fn error_response(e: &ModelError, lang: Lang) -> Response<Body> {
    let body = serde_json::to_vec(&ErrorBody {
        error: api_error(e, lang),
    })
    .unwrap_or_default();
    respond(e.code.http_status(), "application/json", full(body))
}

async fn handle(
    app: Arc<App>,
    uid: u32,
    req: Request<Incoming>,
    stop: watch::Receiver<bool>,
) -> Response<Body> {
    let lang = req
        .headers()
        .get("accept-language")
        .and_then(|v| v.to_str().ok())
        .map(Lang::from_accept_language)
        .unwrap_or_default();
    let Some(method) = Method::parse(req.method().as_str()) else {
        return error_response(
            &ModelError::new(
                ErrorCode::BadRequest,
                Msg::new("api.method")
                    .arg("method", req.method().as_str())
                    .arg("path", req.uri().path()),
            ),
            lang,
        );
    };
    let Some(route) = Route::parse(req.uri().path()) else {
        return error_response(
            &ModelError::new(
                ErrorCode::UnknownEndpoint,
                Msg::new("api.unknown_endpoint").arg("path", req.uri().path()),
            ),
            lang,
        );
    };
    let query = Query::parse(req.uri().query().unwrap_or(""));
    let caller = caller_for(&app, uid);
    let too_large = || {
        ModelError::new(
            ErrorCode::TooLarge,
            Msg::new("api.too_large").arg("max", route.max_body()),
        )
    };
    let declared = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > route.max_body() as u64) {
        return error_response(&too_large(), lang);
    }
    if route == Route::Events && method == Method::Get {
        return events(app, caller, lang, stop).await;
    }
    let body = match Limited::new(req.into_body(), route.max_body())
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => return error_response(&too_large(), lang),
    };
    let started = std::time::Instant::now();
    let path = route.path();
    let result = tokio::task::spawn_blocking(move || {
        let r = Req {
            method,
            route,
            query,
            body: &body,
            caller: &caller,
            lang,
        };
        app.handle(&r)
    })
    .await;
    let resp = match result {
        Ok(Ok(Reply::Json(status, v))) => respond(
            status,
            "application/json",
            full(serde_json::to_vec(&v).unwrap_or_default()),
        ),
        Ok(Ok(Reply::Lines(b))) => respond(200, "application/x-ndjson", full(b)),
        Ok(Err(e)) => error_response(&e, lang),
        Err(join) => {
            tracing::error!(error = %join, "control-API: handler afgebroken");
            error_response(
                &ModelError::new(
                    ErrorCode::Internal,
                    Msg::new("api.internal").arg("detail", "handler"),
                ),
                lang,
            )
        }
    };
    tracing::debug!(
        uid,
        method = method.as_str(),
        path,
        status = resp.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        "control-API"
    );
    resp
}

fn line(ev: &Event) -> Bytes {
    let mut v = serde_json::to_vec(ev).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

fn snapshot(app: &App, caller: &Caller) -> Result<Event, ModelError> {
    Ok(Event::Snapshot {
        status: app.status(caller)?,
        tenants: app.tenant_list(caller)?,
    })
}

/// `GET /v1/events`: a snapshot, then changes the caller may see, a ping every 15 s, and a new
/// snapshot after falling behind.
async fn events(
    app: Arc<App>,
    caller: Caller,
    lang: Lang,
    mut stop: watch::Receiver<bool>,
) -> Response<Body> {
    if caller.scope == Scope::None {
        return error_response(
            &ModelError::new(ErrorCode::Forbidden, Msg::new("api.forbidden"))
                .hint(Msg::new("api.forbidden.hint")),
            lang,
        );
    }
    let first = match snapshot(&app, &caller) {
        Ok(s) => s,
        Err(e) => return error_response(&e, lang),
    };
    let mut rx = app.events.subscribe();
    let (tx, out) = tokio::sync::mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        if tx.send(line(&first)).await.is_err() {
            return;
        }
        let mut ping = tokio::time::interval(Duration::from_secs(15));
        ping.tick().await;
        loop {
            let ev = tokio::select! {
                r = rx.recv() => match r {
                    Ok(Event::Changed { entry }) => {
                        let visible = match &caller.scope {
                            Scope::Beheerder => true,
                            Scope::Tenant(t) => entry.tenant.as_deref() == Some(t.as_str()),
                            Scope::None => false,
                        };
                        if !visible { continue; }
                        Event::Changed { entry }
                    }
                    Ok(Event::Registration { change, registration }) => {
                        let visible = match &caller.scope {
                            Scope::Beheerder => true,
                            Scope::Tenant(t) => registration.tenant == *t,
                            Scope::None => false,
                        };
                        if !visible { continue; }
                        Event::Registration { change, registration }
                    }
                                        Ok(Event::Call { change, call }) => {
                        let visible = match &caller.scope {
                            Scope::Beheerder => true,
                            Scope::Tenant(t) => call.tenant == *t,
                            Scope::None => false,
                        };
                        if !visible { continue; }
                        Event::Call { change, call }
                    }
                    Ok(Event::LimitReached { tenant, limit, scope }) => {
                        let visible = match &caller.scope {
                            Scope::Beheerder => true,
                            Scope::Tenant(t) => tenant == *t,
                            Scope::None => false,
                        };
                        if !visible { continue; }
                        Event::LimitReached { tenant, limit, scope }
                    }
                    Ok(Event::Alarm { change, alarm }) => {
                        let visible = match &caller.scope {
                            Scope::Beheerder => true,
                            Scope::Tenant(t) => alarm.tenant.as_deref() == Some(t.as_str()),
                            Scope::None => false,
                        };
                        if !visible { continue; }
                        Event::Alarm { change, alarm }
                    }
                    Ok(Event::TollFraud { tenant, limit, max, blocked_total }) => {
                        let visible = match &caller.scope {
                            Scope::Beheerder => true,
                            Scope::Tenant(t) => tenant == *t,
                            Scope::None => false,
                        };
                        if !visible { continue; }
                        Event::TollFraud { tenant, limit, max, blocked_total }
                    }
                    Ok(Event::Trunk { tenant, name, change }) => {
                        let visible = match &caller.scope {
                            Scope::Beheerder => true,
                            Scope::Tenant(t) => tenant == *t,
                            Scope::None => false,
                        };
                        if !visible { continue; }
                        Event::Trunk { tenant, name, change }
                    }
                    Ok(other) => other,
                    Err(broadcast::error::RecvError::Lagged(_)) => match snapshot(&app, &caller) {
                        Ok(s) => s,
                        Err(_) => break,
                    },
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                _ = ping.tick() => Event::Ping,
                _ = stop.changed() => break,
            };
            if tx.send(line(&ev)).await.is_err() {
                break;
            }
        }
    });
    let s = stream::unfold(out, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    respond(200, "application/x-ndjson", StreamBody::new(s).boxed())
}
