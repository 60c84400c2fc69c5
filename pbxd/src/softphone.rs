//! pbxd's side of the agent softphone (`pbx_softphone::Backend`): logins against the store
//! (argon2id, TOTP, lockout), agent status and presence per organisation, contacts, the user's
//! own call history, and notes and afcodering with the CDR.
//!
//! Everything is scoped to the logged-in user's organisation: a request names calls and numbers,
//! never another organisation, and a call id of another organisation is "niet gevonden".

mod ua;

use crate::app::App;
use pbx_softphone::protocol::{AgentStatus, Refusal, Request};
use pbx_softphone::{Agent, AnswerFuture, Backend, Identity, LoginError};
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::mpsc;

/// How long a user's phone outlives its last page (a reload or a short network cut).
const UA_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

/// Failed logins in a row before the user is locked.
pub const MAX_FAILURES: u32 = 5;

type Key = (String, String);

/// One user's live state on the softphone.
struct AgentState {
    status: AgentStatus,
    reason: Option<String>,
    /// Since when (Unix ms) in this status.
    since_ms: u64,
    name: String,
    extension: Option<String>,
    /// Calls in progress (page call ids).
    calls: HashSet<String>,
    /// Open WebSockets: (socket id, events for the page).
    sockets: Vec<(u64, mpsc::Sender<Value>)>,
}

#[derive(Default)]
struct State {
    failures: HashMap<Key, u32>,
    /// Unknown users "locked" after as many failures as a real one: the answers do not tell
    /// which user names exist.
    locked_unknown: HashSet<Key>,
    /// Last TOTP step used per user (a code works once).
    totp_used: HashMap<Key, u64>,
    agents: HashMap<Key, AgentState>,
    /// Notes and afcodering given before the call's CDR was written.
    pending: HashMap<(String, String), (Option<String>, Option<String>)>,
    /// The user agent of each user with an extension and a page open (or a call up).
    uas: HashMap<Key, mpsc::Sender<ua::Cmd>>,
    /// Page call id → pbxd call id, for calls that ended (notes and afcodering come after).
    ids: HashMap<(String, String), String>,
}

/// The softphone backend of pbxd.
pub struct Phone {
    app: Arc<App>,
    state: Mutex<State>,
    next_socket: AtomicU64,
}

fn dummy_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| {
        pbx_model::secret::hash_password("geen-gebruiker-met-dit-wachtwoord").unwrap_or_default()
    })
}

impl AgentState {
    fn new(who: &Identity, status: AgentStatus) -> AgentState {
        AgentState {
            status,
            reason: None,
            since_ms: now_ms(),
            name: who.name.clone(),
            extension: who.extension.clone(),
            calls: HashSet::new(),
            sockets: Vec::new(),
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Phone {
    /// A backend on `app`.
    pub fn new(app: Arc<App>) -> Arc<Phone> {
        Arc::new(Phone {
            app,
            state: Mutex::new(State::default()),
            next_socket: AtomicU64::new(1),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a failed login; locks the user (durably, with an audit entry) at the limit.
    fn failed(&self, key: &Key, user: Option<pbx_model::User>, why: LoginError) -> LoginError {
        let n = {
            let mut s = self.lock();
            let n = s.failures.entry(key.clone()).or_insert(0);
            *n += 1;
            *n
        };
        tracing::warn!(tenant = %key.0, user = %key.1, failures = n, "softphone: inloggen mislukt");
        if n < MAX_FAILURES {
            return why;
        }
        match user {
            Some(mut u) => {
                u.state = pbx_model::UserState::Locked;
                if let Err(e) = self.app.store.put_user(&u) {
                    tracing::error!(error = %e, "softphone: blokkeren niet opgeslagen");
                    return why;
                }
                let caller = pbx_api::Caller {
                    uid: 0,
                    user: Some("pbxd".into()),
                    scope: pbx_api::Scope::Beheerder,
                };
                let _ = self.app.audit(
                    &caller,
                    "user.lock",
                    Some(&key.0),
                    format!("gebruiker {}", key.1),
                    None,
                    Some(json!({"reden": "te veel mislukte inlogpogingen", "pogingen": n})),
                );
                tracing::warn!(tenant = %key.0, user = %key.1, "softphone: gebruiker geblokkeerd na te veel mislukte pogingen");
            }
            None => {
                self.lock().locked_unknown.insert(key.clone());
            }
        }
        LoginError::Locked
    }

    fn sockets_of(&self, tenant: &str, user: Option<&str>) -> Vec<mpsc::Sender<Value>> {
        self.lock()
            .agents
            .iter()
            .filter(|((t, u), _)| t == tenant && user.is_none_or(|x| x == u))
            .flat_map(|(_, a)| a.sockets.iter().map(|(_, tx)| tx.clone()))
            .collect()
    }

    /// Sends `ev` to the sockets of one user (or of the whole organisation).
    fn send(&self, tenant: &str, user: Option<&str>, ev: Value) {
        for tx in self.sockets_of(tenant, user) {
            // A page that does not read its events loses them rather than slowing pbxd.
            let _ = tx.try_send(ev.clone());
        }
    }

    /// One user's line of the presence list, sent as a change (`"wijziging": true`) to the
    /// organisation's pages: with many agents logged in, the full list to every page on every
    /// change grows with the square of their number.
    fn presence_change(&self, tenant: &str, user: &str) -> Value {
        let s = self.lock();
        let a = s.agents.get(&(tenant.to_string(), user.to_string()));
        let line = json!({
            "gebruiker": user,
            "naam": a.map(|a| a.name.clone()).unwrap_or_default(),
            "toestel": a.and_then(|a| a.extension.clone()),
            "status": a.map(|a| a.status).unwrap_or(AgentStatus::Afgemeld).as_str(),
            "in_gesprek": a.is_some_and(|a| !a.calls.is_empty()),
        });
        pbx_softphone::protocol::event(
            "presence",
            json!({ "gebruikers": [line], "wijziging": true }),
        )
    }

    fn presence(&self, tenant: &str) -> Value {
        let users = self.app.store.users(tenant).unwrap_or_default();
        let exts = self.app.store.extensions(tenant).unwrap_or_default();
        let s = self.lock();
        let list: Vec<Value> = users
            .iter()
            .map(|u| {
                let a = s.agents.get(&(tenant.to_string(), u.username.clone()));
                json!({
                    "gebruiker": u.username,
                    "naam": u.name,
                    "toestel": exts.iter().find(|e| e.owner.as_deref() == Some(&u.username)).map(|e| e.number.clone()),
                    "status": a.map(|a| a.status).unwrap_or(AgentStatus::Afgemeld).as_str(),
                    "in_gesprek": a.is_some_and(|a| !a.calls.is_empty()),
                })
            })
            .collect();
        pbx_softphone::protocol::event("presence", json!({ "gebruikers": list }))
    }

    fn set_status(&self, who: &Identity, status: AgentStatus, reason: Option<String>) {
        {
            let mut s = self.lock();
            let a = s
                .agents
                .entry((who.tenant.clone(), who.username.clone()))
                .or_insert_with(|| AgentState::new(who, status));
            if a.status != status {
                a.since_ms = now_ms();
            }
            a.status = status;
            a.reason = if status == AgentStatus::Pauze {
                reason
            } else {
                None
            };
        }
        tracing::info!(tenant = %who.tenant, user = %who.username, status = status.as_str(), "softphone: status");
        // Calls ring only while the agent is beschikbaar: the browser's phone is registered
        // exactly then.
        if let Some(tx) = self.ua_of(who) {
            let _ = tx.try_send(ua::Cmd::Available(status == AgentStatus::Beschikbaar));
        }
        let reason = self
            .lock()
            .agents
            .get(&(who.tenant.clone(), who.username.clone()))
            .and_then(|a| a.reason.clone());
        self.send(
            &who.tenant,
            Some(&who.username),
            pbx_softphone::protocol::event(
                "agent:status",
                json!({"status": status.as_str(), "reden": reason}),
            ),
        );
        let p = self.presence_change(&who.tenant, &who.username);
        self.send(&who.tenant, None, p);
    }

    /// The agents of one organisation (or all), for `GET /v1/agents` and pbxtop.
    pub fn agents(&self, tenant: Option<&str>) -> Vec<pbx_api::AgentInfo> {
        let s = self.lock();
        let mut out: Vec<pbx_api::AgentInfo> = s
            .agents
            .iter()
            .filter(|((t, _), _)| tenant.is_none_or(|x| x == t))
            .map(|((t, u), a)| pbx_api::AgentInfo {
                tenant: t.clone(),
                user: u.clone(),
                name: a.name.clone(),
                extension: a.extension.clone(),
                status: a.status.as_str().to_string(),
                reason: a.reason.clone(),
                since_ms: a.since_ms,
                pages: u32::try_from(a.sockets.len()).unwrap_or(u32::MAX),
                calls: u32::try_from(a.calls.len()).unwrap_or(u32::MAX),
            })
            .collect();
        out.sort_by(|a, b| (&a.tenant, &a.user).cmp(&(&b.tenant, &b.user)));
        out
    }

    /// Keeps the user's calls in progress from the events its phone sends the pages.
    fn track(&self, tenant: &str, user: &str, ev: &Value) -> bool {
        let Some(call) = ev["call"].as_str() else {
            return false;
        };
        let mut s = self.lock();
        let Some(a) = s.agents.get_mut(&(tenant.to_string(), user.to_string())) else {
            return false;
        };
        let before = a.calls.len();
        match ev["type"].as_str() {
            Some("call:incoming") | Some("call:state") => {
                a.calls.insert(call.to_string());
            }
            Some("call:ended") => {
                a.calls.remove(call);
            }
            _ => {}
        }
        (before == 0) != a.calls.is_empty()
    }

    /// Status of a user (afgemeld when never seen).
    pub fn status(&self, tenant: &str, user: &str) -> AgentStatus {
        self.lock()
            .agents
            .get(&(tenant.to_string(), user.to_string()))
            .map(|a| a.status)
            .unwrap_or(AgentStatus::Afgemeld)
    }

    fn ua_of(&self, who: &Identity) -> Option<mpsc::Sender<ua::Cmd>> {
        self.lock()
            .uas
            .get(&(who.tenant.clone(), who.username.clone()))
            .cloned()
    }

    /// Starts the user agent of `who` when it has none yet (an extension with SIP credentials,
    /// an organisation with a SIP domain, and the SIP service running are needed).
    fn ensure_ua(self: &Arc<Self>, who: &Identity) -> Option<mpsc::Sender<ua::Cmd>> {
        if let Some(tx) = self.ua_of(who).filter(|t| !t.is_closed()) {
            return Some(tx);
        }
        let ext = who.extension.clone()?;
        let sip = self.app.sip.get()?;
        let e = self.app.store.extension(&who.tenant, &ext).ok().flatten()?;
        let creds = e.sip.clone()?;
        let t = self.app.store.tenant(&who.tenant).ok().flatten()?;
        let Some(domain) = t.domains.first().cloned() else {
            tracing::warn!(tenant = %who.tenant, "softphone: organisatie zonder SIP-domein, bellen vanuit de browser kan niet");
            return None;
        };
        let rtp = {
            let cfg = self.app.config.read().unwrap_or_else(|p| p.into_inner());
            cfg.daemon.rtp.clone()
        };
        let bridge = crate::sip::webrtc::bridge_config(&rtp, sip.sip_ip());
        let acct = ua::Account {
            tenant: who.tenant.clone(),
            extension: ext,
            domain,
            realm: creds.realm.clone(),
            ha1_md5: creds.ha1_md5.clone(),
            ha1_sha256: creds.ha1_sha256.clone(),
        };
        let pager = Arc::new(Pager {
            phone: Arc::downgrade(self),
            tenant: who.tenant.clone(),
            user: who.username.clone(),
        });
        let (tx, rx) = mpsc::channel(64);
        let agent = ua::Ua::new(acct, sip.clone(), sip.attach(), bridge, pager);
        tokio::spawn(agent.run(rx));
        self.lock()
            .uas
            .insert((who.tenant.clone(), who.username.clone()), tx.clone());
        Some(tx)
    }

    /// Asks the user agent; `niet_beschikbaar` without one.
    async fn ask_ua(
        &self,
        who: &Identity,
        make: impl FnOnce(tokio::sync::oneshot::Sender<Result<Map<String, Value>, Refusal>>) -> ua::Cmd,
    ) -> Result<Map<String, Value>, Refusal> {
        let Some(tx) = self.ua_of(who) else {
            return Err(Refusal::new(
                "niet_beschikbaar",
                "bellen kan niet: deze gebruiker heeft geen toestel met SIP-gegevens, of de organisatie geen SIP-domein",
            ));
        };
        let (rtx, rrx) = tokio::sync::oneshot::channel();
        if tx.send(make(rtx)).await.is_err() {
            return Err(Refusal::new(
                "niet_beschikbaar",
                "de telefoon van de browser is gestopt",
            ));
        }
        rrx.await.unwrap_or_else(|_| {
            Err(Refusal::new(
                "fout",
                "geen antwoord van de telefoon van de browser",
            ))
        })
    }

    /// The pbxd call id behind a page's call id (or the id itself: history items carry it).
    async fn pbx_id(&self, who: &Identity, call: &str) -> (String, bool) {
        if let Some(id) = self
            .lock()
            .ids
            .get(&(who.tenant.clone(), call.to_string()))
            .cloned()
        {
            return (id, true);
        }
        if let Some(tx) = self.ua_of(who) {
            let (rtx, rrx) = tokio::sync::oneshot::channel();
            if tx.send(ua::Cmd::PbxId(call.to_string(), rtx)).await.is_ok() {
                if let Ok(Some(id)) = rrx.await {
                    return (id, true);
                }
            }
        }
        (call.to_string(), false)
    }

    fn contacts(&self, who: &Identity, q: &str) -> Result<Map<String, Value>, Refusal> {
        let found = self
            .app
            .store
            .search_contacts(&who.tenant, q, 25)
            .map_err(|e| Refusal::new("fout", format!("contacten zoeken mislukt: {e}")))?;
        let items: Vec<Value> = found.iter().map(contact_json).collect();
        let mut m = Map::new();
        m.insert("items".into(), Value::Array(items));
        Ok(m)
    }

    fn history(&self, who: &Identity, limit: usize) -> Result<Map<String, Value>, Refusal> {
        let Some(ext) = who.extension.clone() else {
            let mut m = Map::new();
            m.insert("items".into(), json!([]));
            return Ok(m);
        };
        let f = pbx_store::CdrFilter {
            tenant: Some(who.tenant.clone()),
            number: Some(ext.clone()),
            limit: limit * 4,
            ..Default::default()
        };
        let cdrs = self
            .app
            .store
            .cdrs(&f)
            .map_err(|e| Refusal::new("fout", format!("gesprekken ophalen mislukt: {e}")))?;
        let items: Vec<Value> = cdrs
            .iter()
            .rev()
            .filter(|c| c.caller.number == ext || c.callee.number == ext)
            .take(limit)
            .map(|c| cdr_json(c, &ext))
            .collect();
        let mut m = Map::new();
        m.insert("items".into(), Value::Array(items));
        Ok(m)
    }

    /// Notes and/or afcodering for call `call` of `who`: on its CDR when it is written, else
    /// kept until it is.
    fn annotate(
        &self,
        who: &Identity,
        call: &str,
        notes: Option<String>,
        code: Option<String>,
        live: bool,
    ) -> Result<Map<String, Value>, Refusal> {
        if let Some(c) = &code {
            let tenant = self.app.store.tenant(&who.tenant).ok().flatten();
            if !tenant.is_some_and(|t| t.afcoderingen.iter().any(|a| &a.code == c)) {
                return Err(Refusal::invalid(format!(
                    "afcodering '{}' bestaat niet in deze organisatie",
                    c.chars().take(40).collect::<String>()
                )));
            }
        }
        let cdr = self
            .app
            .store
            .cdr(&who.tenant, call)
            .map_err(|e| Refusal::new("fout", format!("gesprek opzoeken mislukt: {e}")))?;
        match cdr {
            Some(c) => {
                let own = who
                    .extension
                    .as_deref()
                    .is_some_and(|x| c.caller.number == x || c.callee.number == x);
                if !own {
                    return Err(Refusal::new(
                        "niet_gevonden",
                        format!("gesprek {call} niet gevonden"),
                    ));
                }
                self.app
                    .store
                    .annotate_cdr(&who.tenant, call, notes.as_deref(), code.as_deref())
                    .map_err(|e| Refusal::new("fout", format!("opslaan mislukt: {e}")))?;
            }
            None => {
                // A call of this user's phone that has not ended yet: kept in memory and
                // written with the CDR by `take_pending`.
                let mut s = self.lock();
                if !live || s.pending.len() >= 10_000 {
                    return Err(Refusal::new(
                        "niet_gevonden",
                        format!("gesprek {call} niet gevonden"),
                    ));
                }
                let e = s
                    .pending
                    .entry((who.tenant.clone(), call.to_string()))
                    .or_default();
                if notes.is_some() {
                    e.0 = notes;
                }
                if code.is_some() {
                    e.1 = code;
                }
            }
        }
        Ok(Map::new())
    }

    /// The lead panel of a ringing call: the contact with the caller's number (E.164) and the
    /// last five calls with that number (`contact`, `eerder`).
    fn lead(&self, tenant: &str, ev: &mut Value) {
        let number = ev["van"].as_str().unwrap_or("").to_string();
        let contact = pbx_model::E164::parse(&number)
            .ok()
            .and_then(|n| self.app.store.find_contacts_by_phone(tenant, &n).ok())
            .and_then(|l| l.into_iter().next())
            .map(|c| contact_json(&c))
            .unwrap_or(Value::Null);
        let f = pbx_store::CdrFilter {
            tenant: Some(tenant.to_string()),
            number: Some(number.clone()),
            limit: 50,
            ..Default::default()
        };
        let eerder: Vec<Value> = if number.is_empty() {
            Vec::new()
        } else {
            self.app
                .store
                .cdrs(&f)
                .unwrap_or_default()
                .iter()
                .rev()
                .filter(|c| c.caller.number == number || c.callee.number == number)
                .take(5)
                .map(|c| {
                    let own = if c.caller.number == number {
                        c.callee.number.clone()
                    } else {
                        c.caller.number.clone()
                    };
                    cdr_json(c, &own)
                })
                .collect()
        };
        if let Some(m) = ev.as_object_mut() {
            m.insert("contact".into(), contact);
            m.insert("eerder".into(), Value::Array(eerder));
        }
    }

    /// Notes and afcodering given during a call, for its CDR.
    pub fn take_pending(
        &self,
        tenant: &str,
        call: &str,
    ) -> Option<(Option<String>, Option<String>)> {
        self.lock()
            .pending
            .remove(&(tenant.to_string(), call.to_string()))
    }
}

fn contact_json(c: &pbx_model::Contact) -> Value {
    json!({
        "id": c.id,
        "naam": c.name,
        "bedrijf": c.company,
        "nummers": c.phones.iter().map(|p| p.as_str().to_string()).collect::<Vec<_>>(),
        "tags": c.tags,
        "notities": c.notes,
    })
}

fn cdr_json(c: &pbx_model::Cdr, own: &str) -> Value {
    let out = c.caller.number == own;
    let other = if out { &c.callee } else { &c.caller };
    json!({
        "call": c.id,
        "richting": if out { "uit" } else { "in" },
        "nummer": other.number,
        "naam": other.name,
        "afloop": c.afloop,
        "start_ms": c.start_ms,
        "duur_s": c.billsec(),
        "afcodering": c.afcodering,
        "notities": c.notes,
    })
}

impl Phone {
    fn login(
        &self,
        tenant: &str,
        user: &str,
        password: &str,
        totp: Option<&str>,
    ) -> Result<Identity, LoginError> {
        let key = (tenant.to_string(), user.to_string());
        if self.lock().locked_unknown.contains(&key) {
            return Err(LoginError::Locked);
        }
        let found = match self.app.store.user(tenant, user) {
            Ok(u) => u,
            // A name the store cannot even hold is an unknown user.
            Err(pbx_store::StoreError::BadName { .. }) => None,
            Err(e) => {
                tracing::error!(error = %e, "softphone: gebruiker opzoeken mislukt");
                return Err(LoginError::Unavailable);
            }
        };
        let tenant_ok = self
            .app
            .store
            .tenant(tenant)
            .ok()
            .flatten()
            .is_some_and(|t| t.status == pbx_model::TenantStatus::Active);
        let Some(u) = found.filter(|_| tenant_ok) else {
            // The same work as for a real user, so the time does not tell either.
            let _ = pbx_model::secret::verify_password(password, dummy_hash());
            return Err(self.failed(&key, None, LoginError::Wrong));
        };
        let hash = u
            .password_hash
            .clone()
            .unwrap_or_else(|| dummy_hash().to_string());
        let right =
            pbx_model::secret::verify_password(password, &hash) && u.password_hash.is_some();
        if u.state == pbx_model::UserState::Locked {
            return Err(LoginError::Locked);
        }
        if !right {
            return Err(self.failed(&key, Some(u), LoginError::Wrong));
        }
        if u.totp_enabled {
            let Some(code) = totp else {
                return Err(LoginError::TotpNeeded);
            };
            let secret = u
                .totp
                .as_ref()
                .and_then(|s| self.app.store.open_secret(s).ok());
            let used = self.lock().totp_used.get(&key).copied();
            let step =
                secret.and_then(|s| pbx_model::secret::verify_totp(&s, code, now_secs(), used));
            match step {
                Some(step) => {
                    self.lock().totp_used.insert(key.clone(), step);
                }
                None => return Err(self.failed(&key, Some(u), LoginError::TotpWrong)),
            }
        }
        self.lock().failures.remove(&key);
        let extension = self
            .app
            .store
            .extensions(tenant)
            .unwrap_or_default()
            .into_iter()
            .find(|e| e.owner.as_deref() == Some(user))
            .map(|e| e.number);
        tracing::info!(tenant = %tenant, user = %user, "softphone: ingelogd");
        Ok(Identity {
            tenant: tenant.to_string(),
            username: user.to_string(),
            name: u.name.clone(),
            role: u.role.as_str().to_string(),
            extension,
        })
    }

    fn open(self: &Arc<Self>, who: &Identity, out: mpsc::Sender<Value>) -> (Value, Arc<dyn Agent>) {
        let id = self.next_socket.fetch_add(1, Ordering::Relaxed);
        let (status, reason) = {
            let mut s = self.lock();
            let a = s
                .agents
                .entry((who.tenant.clone(), who.username.clone()))
                .or_insert_with(|| AgentState::new(who, AgentStatus::Afgemeld));
            a.sockets.push((id, out.clone()));
            (a.status, a.reason.clone())
        };
        let tenant = self.app.store.tenant(&who.tenant).ok().flatten();
        let codes: Vec<Value> = tenant
            .as_ref()
            .map(|t| {
                t.afcoderingen
                    .iter()
                    .map(|a| json!({"code": a.code, "naam": a.naam}))
                    .collect()
            })
            .unwrap_or_default();
        let welcome = json!({
            "gebruiker": who.username,
            "naam": who.name,
            "organisatie": who.tenant,
            "rol": who.role,
            "toestel": who.extension,
            "status": status.as_str(),
            "reden": reason,
            "afcoderingen": codes,
            "afrondtijd_s": tenant.as_ref().map(|t| t.afrondtijd_s).unwrap_or(0),
            "ice_servers": [],
            "versie": pbx_softphone::protocol::VERSION,
            "gesprekken": [],
        });
        let p = self.presence(&who.tenant);
        let _ = out.try_send(p);
        if let Some(tx) = self.ensure_ua(who) {
            let _ = tx.try_send(ua::Cmd::Available(status == AgentStatus::Beschikbaar));
            // A page that comes back gets the calls still in progress.
            let _ = tx.try_send(ua::Cmd::Resend);
        }
        let agent: Arc<dyn Agent> = Arc::new(Session {
            phone: self.clone(),
            who: who.clone(),
            socket: id,
        });
        (welcome, agent)
    }
}

/// The backend of this pbxd (made once, kept in the app).
pub fn install(app: Arc<App>) -> Arc<Phone> {
    app.softphone
        .get_or_init(|| Phone::new(app.clone()))
        .clone()
}

/// The backend as `pbx_softphone` wants it.
pub struct PhoneBackend(pub Arc<Phone>);

impl Backend for PhoneBackend {
    fn login(
        &self,
        tenant: &str,
        user: &str,
        password: &str,
        totp: Option<&str>,
    ) -> Result<Identity, LoginError> {
        self.0.login(tenant, user, password, totp)
    }

    fn open(&self, who: &Identity, out: mpsc::Sender<Value>) -> (Value, Arc<dyn Agent>) {
        self.0.open(who, out)
    }
}

/// One WebSocket of a logged-in user.
struct Session {
    phone: Arc<Phone>,
    who: Identity,
    socket: u64,
}

impl Agent for Session {
    fn request(self: Arc<Self>, req: Request) -> AnswerFuture {
        Box::pin(async move {
            let p = &self.phone;
            let who = &self.who;
            match req {
                Request::AgentLogin {} => {
                    p.set_status(who, AgentStatus::Beschikbaar, None);
                    Ok(Map::new())
                }
                Request::AgentLogout {} => {
                    p.set_status(who, AgentStatus::Afgemeld, None);
                    Ok(Map::new())
                }
                Request::AgentStatus { status, reden } => {
                    p.set_status(who, status, reden);
                    Ok(Map::new())
                }
                Request::ContactsSearch { q } => {
                    let (p, who) = (p.clone(), who.clone());
                    blocking(move || p.contacts(&who, &q)).await
                }
                Request::HistoryList { limit } => {
                    let (p, who) = (p.clone(), who.clone());
                    let n = limit.unwrap_or(50).clamp(1, 500) as usize;
                    blocking(move || p.history(&who, n)).await
                }
                Request::Notes { call, notes } => {
                    let (id, live) = p.pbx_id(who, &call).await;
                    let (p, who) = (p.clone(), who.clone());
                    blocking(move || p.annotate(&who, &id, Some(notes), None, live)).await
                }
                Request::Disposition { call, code } => {
                    let (id, live) = p.pbx_id(who, &call).await;
                    let (p2, who2) = (p.clone(), who.clone());
                    let r = blocking(move || p2.annotate(&who2, &id, None, Some(code), live)).await;
                    // The afcodering ends the wrap-up: back to beschikbaar (unless on pause).
                    if r.is_ok() && p.status(&who.tenant, &who.username) != AgentStatus::Pauze {
                        p.set_status(who, AgentStatus::Beschikbaar, None);
                    }
                    r
                }
                Request::Dial { nummer, sdp } => {
                    p.ask_ua(who, |reply| ua::Cmd::Dial { nummer, sdp, reply })
                        .await
                }
                Request::Answer { call, sdp } => {
                    p.ask_ua(who, |reply| ua::Cmd::Answer { call, sdp, reply })
                        .await
                }
                Request::Reject { call } => {
                    p.ask_ua(who, |reply| ua::Cmd::Reject { call, reply }).await
                }
                Request::Hangup { call } => {
                    p.ask_ua(who, |reply| ua::Cmd::Hangup { call, reply }).await
                }
                Request::Hold { call } => {
                    p.ask_ua(who, |reply| ua::Cmd::Hold {
                        call,
                        on: true,
                        reply,
                    })
                    .await
                }
                Request::Unhold { call } => {
                    p.ask_ua(who, |reply| ua::Cmd::Hold {
                        call,
                        on: false,
                        reply,
                    })
                    .await
                }
                Request::Consult { call, nummer, sdp } => {
                    p.ask_ua(who, |reply| ua::Cmd::Consult {
                        call,
                        nummer,
                        sdp,
                        reply,
                    })
                    .await
                }
                Request::ConsultComplete { call } => {
                    p.ask_ua(who, |reply| ua::Cmd::ConsultEnd {
                        call,
                        complete: true,
                        reply,
                    })
                    .await
                }
                Request::ConsultCancel { call } => {
                    p.ask_ua(who, |reply| ua::Cmd::ConsultEnd {
                        call,
                        complete: false,
                        reply,
                    })
                    .await
                }
                Request::Reoffer { call, sdp } => {
                    p.ask_ua(who, |reply| ua::Cmd::Reoffer { call, sdp, reply })
                        .await
                }
                Request::Transfer { call, nummer } => {
                    p.ask_ua(who, |reply| ua::Cmd::Transfer {
                        call,
                        nummer,
                        reply,
                    })
                    .await
                }
                Request::Dtmf { call, digits } => {
                    p.ask_ua(who, |reply| ua::Cmd::Dtmf {
                        call,
                        digits,
                        reply,
                    })
                    .await
                }
            }
        })
    }

    fn closed(&self) {
        let key = (self.who.tenant.clone(), self.who.username.clone());
        let last = {
            let mut s = self.phone.lock();
            match s.agents.get_mut(&key) {
                Some(a) => {
                    a.sockets.retain(|(id, _)| *id != self.socket);
                    a.sockets.is_empty()
                }
                None => true,
            }
        };
        if !last {
            return;
        }
        // No page left: new calls stop ringing at once; calls in progress keep their media
        // (it does not run over the WebSocket) while the page comes back within a minute.
        if let Some(tx) = self.phone.ua_of(&self.who) {
            let _ = tx.try_send(ua::Cmd::Available(false));
        }
        let phone = self.phone.clone();
        tokio::spawn(async move {
            tokio::time::sleep(UA_GRACE).await;
            let mut s = phone.lock();
            let back = s.agents.get(&key).is_some_and(|a| !a.sockets.is_empty());
            if !back {
                // Dropping the sender stops the agent: it hangs up and un-registers.
                s.uas.remove(&key);
            }
        });
    }
}

/// Runs a store call off the async threads.
async fn blocking(
    f: impl FnOnce() -> Result<Map<String, Value>, Refusal> + Send + 'static,
) -> Result<Map<String, Value>, Refusal> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|_| Err(Refusal::new("fout", "interne fout")))
}

/// Events of a user agent to its user's pages.
struct Pager {
    phone: std::sync::Weak<Phone>,
    tenant: String,
    user: String,
}

impl ua::Pager for Pager {
    fn page(&self, mut ev: Value) {
        let Some(p) = self.phone.upgrade() else {
            return;
        };
        if ev["type"] == "call:incoming" {
            p.lead(&self.tenant, &mut ev);
        }
        // In a call or not any more: the colleagues see it in their presence list.
        let changed = p.track(&self.tenant, &self.user, &ev);
        p.send(&self.tenant, Some(&self.user), ev);
        if changed {
            let pres = p.presence_change(&self.tenant, &self.user);
            p.send(&self.tenant, None, pres);
        }
    }

    fn ended(&self, pbx_id: Option<&str>, call: &str, answered: bool) {
        let Some(p) = self.phone.upgrade() else {
            return;
        };
        if let Some(id) = pbx_id {
            let mut s = p.lock();
            if s.ids.len() > 10_000 {
                s.ids.clear();
            }
            s.ids
                .insert((self.tenant.clone(), call.to_string()), id.to_string());
        }
        if !answered || p.status(&self.tenant, &self.user) != AgentStatus::Beschikbaar {
            return;
        }
        // Afronden: no new call rings until the afcodering is given, or the afrondtijd (when
        // the organisation has one) has passed.
        let key = (self.tenant.clone(), self.user.clone());
        let Some(tx) = p.lock().uas.get(&key).cloned() else {
            return;
        };
        let _ = tx.try_send(ua::Cmd::Available(false));
        let secs = p
            .app
            .store
            .tenant(&self.tenant)
            .ok()
            .flatten()
            .map(|t| t.afrondtijd_s)
            .unwrap_or(0);
        if secs > 0 {
            let (phone, tenant, user) = (p.clone(), self.tenant.clone(), self.user.clone());
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_secs(u64::from(secs))).await;
                if phone.status(&tenant, &user) == AgentStatus::Beschikbaar {
                    let _ = tx.try_send(ua::Cmd::Available(true));
                }
            });
        }
    }
}
