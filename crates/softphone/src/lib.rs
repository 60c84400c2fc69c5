//! The agent softphone: its page (embedded in the binary), login with a session cookie, and the
//! WebSocket with the JSON messages of `docs/softphone-protocol.md`.
//!
//! This crate knows nothing of users, calls or media: pbxd implements [`Backend`] (checking
//! passwords, carrying out requests) and serves [`router`] on `[http]`. Sessions live in memory:
//! a restart of pbxd logs everybody out, which is what an agent expects of a restarted phone
//! system, and nothing secret is written to disk.

#![deny(missing_docs)]

pub mod protocol;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine as _;
use protocol::{Refusal, Request};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Name of the session cookie.
pub const COOKIE: &str = "pbx_sessie";

/// Who is logged in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// Organisation slug.
    #[serde(rename = "organisatie")]
    pub tenant: String,
    /// Login name.
    #[serde(rename = "gebruiker")]
    pub username: String,
    /// Full name.
    #[serde(rename = "naam")]
    pub name: String,
    /// Role word (`agent`, `supervisor`, …).
    #[serde(rename = "rol")]
    pub role: String,
    /// The extension the user owns, if any.
    #[serde(rename = "toestel")]
    pub extension: Option<String>,
}

/// Why a login failed. The page gets the code; `Wrong` is the same answer for an unknown
/// organisation, an unknown user and a wrong password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginError {
    /// Organisation, user or password wrong.
    Wrong,
    /// Password right, TOTP code missing.
    TotpNeeded,
    /// TOTP code wrong.
    TotpWrong,
    /// The user is locked (after repeated failures or by an administrator).
    Locked,
    /// The store cannot answer.
    Unavailable,
}

impl LoginError {
    fn code(self) -> &'static str {
        match self {
            LoginError::Wrong => "onjuist",
            LoginError::TotpNeeded => "totp_nodig",
            LoginError::TotpWrong => "totp_onjuist",
            LoginError::Locked => "geblokkeerd",
            LoginError::Unavailable => "niet_beschikbaar",
        }
    }

    fn message(self) -> &'static str {
        match self {
            LoginError::Wrong => "Organisatie, gebruiker of wachtwoord onjuist.",
            LoginError::TotpNeeded => "Vul de code uit je authenticator-app in.",
            LoginError::TotpWrong => "De code klopt niet.",
            LoginError::Locked => {
                "Dit account is geblokkeerd na te veel mislukte pogingen. Vraag je beheerder het te deblokkeren."
            }
            LoginError::Unavailable => "Inloggen lukt nu niet; probeer het zo opnieuw.",
        }
    }
}

/// The answer to a request: the fields of `ok`, or why not.
pub type Answer = Result<Map<String, Value>, Refusal>;

/// A boxed future of an [`Answer`].
pub type AnswerFuture = Pin<Box<dyn Future<Output = Answer> + Send>>;

/// One open WebSocket of a logged-in user, on pbxd's side.
pub trait Agent: Send + Sync {
    /// Carries out a request (requests of one socket may run at the same time).
    fn request(self: Arc<Self>, req: Request) -> AnswerFuture;
    /// The socket is gone (calls keep running: the page may come back).
    fn closed(&self);
}

/// What pbxd provides.
pub trait Backend: Send + Sync + 'static {
    /// Checks a login. Blocking (argon2): called on a blocking thread. Counts failures and
    /// locks the user after too many.
    fn login(
        &self,
        tenant: &str,
        user: &str,
        password: &str,
        totp: Option<&str>,
    ) -> Result<Identity, LoginError>;
    /// A WebSocket of `who` opened: the `welcome` event (fields) and the agent that handles its
    /// requests. Events for the page go to `out`.
    fn open(&self, who: &Identity, out: mpsc::Sender<Value>) -> (Value, Arc<dyn Agent>);
}

/// Settings of the softphone endpoint.
#[derive(Clone, Debug)]
pub struct Config {
    /// HTTPS: the cookie gets `Secure` and the expected Origin is `https://`.
    pub tls: bool,
    /// Origins allowed besides the endpoint's own (`https://pbx.example.nl`).
    pub origins: Vec<String>,
    /// A session ends this long after login.
    pub session_ttl: Duration,
    /// A session without an open WebSocket ends after this long.
    pub idle_ttl: Duration,
    /// Sessions at most (a login beyond it removes the oldest).
    pub max_sessions: usize,
    /// Failed logins per address per [`Config::attempt_window`]; then 429 until it passes.
    pub attempts_per_address: u32,
    /// The window of `attempts_per_address`.
    pub attempt_window: Duration,
    /// WebSocket ping interval; a socket silent for three intervals is closed.
    pub ping: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            tls: false,
            origins: Vec::new(),
            session_ttl: Duration::from_secs(12 * 3600),
            idle_ttl: Duration::from_secs(30 * 60),
            max_sessions: 10_000,
            attempts_per_address: 30,
            attempt_window: Duration::from_secs(300),
            ping: Duration::from_secs(20),
        }
    }
}

struct Session {
    who: Identity,
    created: Instant,
    last: Instant,
    sockets: usize,
    /// Set to true when the session ends (logout, expiry): open sockets close.
    end: watch::Sender<bool>,
}

#[derive(Default)]
struct Sessions {
    map: HashMap<String, Session>,
    attempts: HashMap<IpAddr, (Instant, u32)>,
}

struct Shared {
    backend: Arc<dyn Backend>,
    cfg: Config,
    state: Mutex<Sessions>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Sessions> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The session of `token` if it is still valid (expired ones are removed here).
    fn session(&self, token: &str) -> Option<(Identity, watch::Receiver<bool>)> {
        let now = Instant::now();
        let mut s = self.lock();
        let valid = s.map.get(token).map(|x| {
            now.duration_since(x.created) < self.cfg.session_ttl
                && (x.sockets > 0 || now.duration_since(x.last) < self.cfg.idle_ttl)
        })?;
        if !valid {
            if let Some(x) = s.map.remove(token) {
                let _ = x.end.send(true);
            }
            return None;
        }
        let x = s.map.get_mut(token)?;
        x.last = now;
        Some((x.who.clone(), x.end.subscribe()))
    }

    fn new_session(&self, who: Identity) -> String {
        let mut raw = [0u8; 32];
        rand::Rng::fill(&mut rand::thread_rng(), &mut raw);
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        let now = Instant::now();
        let mut s = self.lock();
        // Expired sessions go first; at the cap the oldest goes.
        let (ttl, idle) = (self.cfg.session_ttl, self.cfg.idle_ttl);
        s.map.retain(|_, x| {
            now.duration_since(x.created) < ttl
                && (x.sockets > 0 || now.duration_since(x.last) < idle)
        });
        while s.map.len() >= self.cfg.max_sessions.max(1) {
            let Some(oldest) = s
                .map
                .iter()
                .min_by_key(|(_, x)| x.created)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(x) = s.map.remove(&oldest) {
                let _ = x.end.send(true);
            }
        }
        let (end, _) = watch::channel(false);
        s.map.insert(
            token.clone(),
            Session {
                who,
                created: now,
                last: now,
                sockets: 0,
                end,
            },
        );
        token
    }

    /// May `ip` try a login now (fewer than the allowed failures in the window)?
    fn may_try(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let s = self.lock();
        match s.attempts.get(&ip) {
            Some((t, n)) => {
                now.duration_since(*t) >= self.cfg.attempt_window
                    || *n < self.cfg.attempts_per_address
            }
            None => true,
        }
    }

    /// Counts a failed login from `ip`. Successful logins do not count: fifty agents behind
    /// one office NAT all log in at nine.
    fn failed_from(&self, ip: IpAddr) {
        let now = Instant::now();
        let window = self.cfg.attempt_window;
        let mut s = self.lock();
        if s.attempts.len() > 100_000 {
            s.attempts
                .retain(|_, (t, _)| now.duration_since(*t) < window);
        }
        let e = s.attempts.entry(ip).or_insert((now, 0));
        if now.duration_since(e.0) >= window {
            *e = (now, 0);
        }
        e.1 += 1;
    }

    fn socket(&self, token: &str, open: bool) {
        let mut s = self.lock();
        if let Some(x) = s.map.get_mut(token) {
            if open {
                x.sockets += 1;
            } else {
                x.sockets = x.sockets.saturating_sub(1);
            }
            x.last = Instant::now();
        }
    }
}

/// The softphone's routes: `/`, `/assets/*`, `/api/login`, `/api/logout`, `/api/me`, `/ws`.
/// Handlers read the peer address from [`ConnectInfo`] in the request's extensions (pbxd puts
/// it there per connection); without it the address counts as `0.0.0.0`.
pub fn router(backend: Arc<dyn Backend>, cfg: Config) -> Router {
    let shared = Arc::new(Shared {
        backend,
        cfg,
        state: Mutex::new(Sessions::default()),
    });
    Router::new()
        .route("/", get(index))
        .route("/index.html", get(index))
        .route("/assets/{file}", get(asset))
        .route("/api/login", post(login))
        .route("/api/logout", post(logout))
        .route("/api/me", get(me))
        .route("/ws", get(ws))
        .with_state(shared)
}

/// The embedded page.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../assets/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/app.js"),
    ),
    (
        "meter.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/meter.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("../assets/favicon.svg"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/style.css"),
    ),
];

/// Headers every answer of the page gets: no framing, no sniffing, nothing from elsewhere.
fn hardened(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; connect-src 'self' ws: wss:; media-src 'self' blob: mediastream:; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

fn serve(name: &str) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, mime, body)) => hardened(([(header::CONTENT_TYPE, *mime)], *body).into_response()),
        None => (StatusCode::NOT_FOUND, "niet gevonden").into_response(),
    }
}

async fn index() -> Response {
    serve("index.html")
}

async fn asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    serve(&file)
}

/// The peer's address from the [`ConnectInfo`] extension, or `0.0.0.0` without it.
struct Peer(IpAddr);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Peer, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(a)| a.ip())
                .unwrap_or(IpAddr::from([0, 0, 0, 0])),
        ))
    }
}

fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    (status, axum::Json(json!({"code": code, "fout": message}))).into_response()
}

/// The session token from the `Cookie` header.
fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty() && v.len() <= 64)
}

fn set_cookie(cfg: &Config, token: &str, max_age: u64) -> HeaderValue {
    // `Secure` only over HTTPS: plain HTTP is only allowed on loopback (pbxctl check), where a
    // browser would otherwise drop the cookie for 127.0.0.1.
    let secure = if cfg.tls { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("pbx_sessie=; Max-Age=0"))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    organisatie: String,
    gebruiker: String,
    wachtwoord: String,
    #[serde(default)]
    totp: Option<String>,
}

async fn login(State(s): State<Arc<Shared>>, Peer(ip): Peer, body: axum::body::Bytes) -> Response {
    if body.len() > 4096 {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "ongeldig",
            "Het inlogverzoek is te groot.",
        );
    }
    let Ok(b) = serde_json::from_slice::<LoginBody>(&body) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "ongeldig",
            "Het inlogverzoek is geen JSON met organisatie, gebruiker en wachtwoord.",
        );
    };
    if b.organisatie.len() > 64
        || b.gebruiker.len() > 64
        || b.wachtwoord.len() > 1024
        || b.totp.as_ref().is_some_and(|t| t.len() > 16)
    {
        return refuse(
            StatusCode::UNAUTHORIZED,
            LoginError::Wrong.code(),
            LoginError::Wrong.message(),
        );
    }
    if !s.may_try(ip) {
        tracing::warn!(address = %ip, "softphone: te veel inlogpogingen van dit adres");
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "te_veel",
            "Te veel inlogpogingen vanaf dit adres; wacht een paar minuten.",
        );
    }
    let backend = s.backend.clone();
    let r = tokio::task::spawn_blocking(move || {
        let totp = b.totp.as_deref().filter(|t| !t.is_empty());
        backend.login(&b.organisatie, &b.gebruiker, &b.wachtwoord, totp)
    })
    .await
    .unwrap_or(Err(LoginError::Unavailable));
    match r {
        Ok(who) => {
            let token = s.new_session(who.clone());
            let mut resp = axum::Json(&who).into_response();
            resp.headers_mut().insert(
                header::SET_COOKIE,
                set_cookie(&s.cfg, &token, s.cfg.session_ttl.as_secs()),
            );
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(e) => {
            if e != LoginError::Unavailable && e != LoginError::TotpNeeded {
                s.failed_from(ip);
            }
            let status = match e {
                LoginError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::UNAUTHORIZED,
            };
            refuse(status, e.code(), e.message())
        }
    }
}

async fn logout(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(token) = cookie(&headers) {
        let gone = s.lock().map.remove(&token);
        if let Some(x) = gone {
            let _ = x.end.send(true);
            tracing::info!(tenant = %x.who.tenant, user = %x.who.username, "softphone: uitgelogd");
        }
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, set_cookie(&s.cfg, "", 0));
    resp
}

async fn me(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    match cookie(&headers).and_then(|t| s.session(&t)) {
        Some((who, _)) => axum::Json(&who).into_response(),
        None => refuse(
            StatusCode::UNAUTHORIZED,
            "geen_sessie",
            "Niet ingelogd of de sessie is verlopen.",
        ),
    }
}

/// Is the handshake's Origin the endpoint itself (or a configured one)? A missing Origin is
/// refused: browsers always send it on a WebSocket.
fn origin_ok(headers: &HeaderMap, cfg: &Config) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    if cfg.origins.iter().any(|o| o == origin) {
        return true;
    }
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let scheme = if cfg.tls { "https" } else { "http" };
    origin == format!("{scheme}://{host}")
}

async fn ws(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let Some(token) = cookie(&headers) else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "geen_sessie",
            "Niet ingelogd: log eerst in.",
        );
    };
    let Some((who, end)) = s.session(&token) else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "geen_sessie",
            "De sessie is verlopen: log opnieuw in.",
        );
    };
    if !origin_ok(&headers, &s.cfg) {
        tracing::warn!(
            tenant = %who.tenant,
            user = %who.username,
            origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()).unwrap_or("-"),
            "softphone: WebSocket met vreemde Origin geweigerd"
        );
        return refuse(
            StatusCode::FORBIDDEN,
            "verkeerde_origin",
            "Deze pagina mag geen verbinding maken met pbxd.",
        );
    }
    let upgrade = match upgrade {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    upgrade
        .max_message_size(protocol::MAX_MESSAGE)
        .max_frame_size(protocol::MAX_MESSAGE)
        .on_upgrade(move |socket| run(s, token, who, end, socket))
}

async fn run(
    s: Arc<Shared>,
    token: String,
    who: Identity,
    mut end: watch::Receiver<bool>,
    mut socket: WebSocket,
) {
    s.socket(&token, true);
    tracing::info!(tenant = %who.tenant, user = %who.username, "softphone: verbonden");
    let (out_tx, mut out_rx) = mpsc::channel::<Value>(256);
    let (welcome, agent) = s.backend.open(&who, out_tx.clone());
    let mut ping = tokio::time::interval(s.cfg.ping);
    ping.tick().await;
    let mut heard = Instant::now();
    let silent = s.cfg.ping * 3;
    let close = |code: u16, why: &'static str| {
        Message::Close(Some(CloseFrame {
            code,
            reason: why.into(),
        }))
    };
    if socket
        .send(Message::Text(
            protocol::event("welcome", welcome).to_string().into(),
        ))
        .await
        .is_ok()
    {
        loop {
            tokio::select! {
                m = socket.recv() => {
                    let m = match m {
                        Some(Ok(m)) => m,
                        Some(Err(e)) => {
                            // Too big a message is the one error the page can cause on purpose.
                            let text = e.to_string().to_lowercase();
                            let too_big = text.contains("too long") || text.contains("size") || text.contains("capacity");
                            if too_big {
                                let _ = socket.send(close(1009, "bericht te groot")).await;
                            }
                            break;
                        }
                        None => break,
                    };
                    heard = Instant::now();
                    match m {
                        Message::Text(t) => {
                            let p = protocol::parse(t.as_str());
                            match p.request {
                                Err(r) => {
                                    let _ = out_tx.try_send(protocol::error(p.id.as_deref(), &r));
                                }
                                Ok(req) => {
                                    let agent = agent.clone();
                                    let out = out_tx.clone();
                                    let kind = req.kind();
                                    tokio::spawn(async move {
                                        let a = agent.request(req).await;
                                        let v = match a {
                                            Ok(f) => protocol::ok(p.id.as_deref(), f),
                                            Err(r) => {
                                                tracing::debug!(kind, code = r.code, "softphone: verzoek geweigerd");
                                                protocol::error(p.id.as_deref(), &r)
                                            }
                                        };
                                        let _ = out.send(v).await;
                                    });
                                }
                            }
                        }
                        Message::Binary(_) => {
                            let r = Refusal::invalid("alleen tekstberichten (JSON)");
                            let _ = out_tx.try_send(protocol::error(None, &r));
                        }
                        Message::Close(_) => break,
                        Message::Ping(_) | Message::Pong(_) => {}
                    }
                }
                e = out_rx.recv() => {
                    let Some(e) = e else { break };
                    if socket.send(Message::Text(e.to_string().into())).await.is_err() {
                        break;
                    }
                }
                _ = ping.tick() => {
                    if heard.elapsed() > silent {
                        tracing::info!(tenant = %who.tenant, user = %who.username, "softphone: WebSocket stil, gesloten");
                        break;
                    }
                    if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                        break;
                    }
                }
                _ = end.changed() => {
                    let _ = socket.send(close(1008, "sessie beëindigd")).await;
                    break;
                }
            }
        }
    }
    agent.closed();
    s.socket(&token, false);
    tracing::info!(tenant = %who.tenant, user = %who.username, "softphone: verbinding weg");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; pbx_sessie=abc; b=2"),
        );
        assert_eq!(cookie(&h).as_deref(), Some("abc"));
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("pbx_sessie="));
        assert_eq!(cookie(&h), None);
    }

    #[test]
    fn origin_must_be_the_endpoint_itself() {
        let cfg = Config::default();
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("localhost:8080"));
        assert!(!origin_ok(&h, &cfg));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://localhost:8080"),
        );
        assert!(origin_ok(&h, &cfg));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(!origin_ok(&h, &cfg));
        let tls = Config {
            tls: true,
            origins: vec!["https://pbx.example.nl".into()],
            ..Config::default()
        };
        assert!(!origin_ok(&h, &tls));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://pbx.example.nl"),
        );
        assert!(origin_ok(&h, &tls));
    }

    /// Everything the page refers to is in the binary (a file added to `assets/` but not to
    /// `ASSETS` would be a 404 in the browser).
    #[test]
    fn every_referenced_asset_is_embedded() {
        let text = |n: &str| {
            ASSETS
                .iter()
                .find(|(name, _, _)| *name == n)
                .map(|(_, _, b)| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default()
        };
        let mut wanted = Vec::new();
        for part in text("index.html").split("/assets/").skip(1) {
            wanted.push(
                part.split(['"', '\'', '?', '#'])
                    .next()
                    .unwrap_or("")
                    .to_string(),
            );
        }
        for (name, _, _) in ASSETS.iter().filter(|(n, _, _)| n.ends_with(".js")) {
            for part in text(name).split("from './").skip(1) {
                wanted.push(part.split('\'').next().unwrap_or("").to_string());
            }
        }
        assert!(wanted.len() >= 3, "{wanted:?}");
        for w in wanted {
            assert!(
                ASSETS.iter().any(|(n, _, _)| *n == w),
                "{w} is not embedded"
            );
        }
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            assert!(
                ASSETS.iter().any(|(a, _, _)| *a == n),
                "assets/{n} is not embedded"
            );
        }
    }

    #[test]
    fn cookie_attributes() {
        let c = set_cookie(&Config::default(), "t", 60);
        let c = c.to_str().unwrap_or_default().to_string();
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && !c.contains("Secure"));
        let tls = Config {
            tls: true,
            ..Config::default()
        };
        assert!(set_cookie(&tls, "t", 60)
            .to_str()
            .unwrap_or_default()
            .contains("; Secure"));
    }
}
