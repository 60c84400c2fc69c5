//! The control API's handlers: rights, validation, the change, the audit entry, the answer.
//!
//! Handlers are synchronous (sled and argon2 block); the socket server runs them on tokio's
//! blocking pool. Every change holds `write` so checks and the write are one step (the 51st
//! extension cannot slip in beside the 50th), and is flushed by the store before it returns.

use crate::diff;
use pbx_api::{
    ApiError, Caller, ContactBatch, ContactImportResult, DeclaredSpec, Event, ExtensionCreate,
    ExtensionCreated, ExtensionPatch, ImportResult, MembersChange, Method, PasswordSet, Plan,
    Query, QueueSpec, RejectedRow, Removed, Route, Scope, Status, TenantPatch, TenantSummary,
    TrunkSpec, UserCreate, UserPatch,
};
use pbx_config::LoadedConfig;
use pbx_i18n::{Lang, Msg};
use pbx_model::secret::{check_sip_password, generate_password, hash_password};
use pbx_model::user::check_login_password;
use pbx_model::{
    AuditEntry, Belplan, CallPermission, Contact, Detach, ErrorCode, Extension, IpNet, ModelError,
    ObjKind, Queue, Severity, Tenant, TenantBundle, TenantStatus, Trunk, TrunkRegistration, User,
    UserState, E164,
};
use pbx_store::Store;
use serde::Serialize;
use std::sync::{Mutex, RwLock};
use std::time::Instant;
use tokio::sync::broadcast;

/// What a handler answers.
pub enum Reply {
    /// JSON with a status.
    Json(u16, serde_json::Value),
    /// JSON lines (export).
    Lines(Vec<u8>),
}

/// A handler's result.
pub type HResult = Result<Reply, ModelError>;

fn ok<T: Serialize>(v: &T) -> HResult {
    json(200, v)
}

fn json<T: Serialize>(status: u16, v: &T) -> HResult {
    serde_json::to_value(v)
        .map(|v| Reply::Json(status, v))
        .map_err(|e| internal(e.to_string()))
}

fn internal(detail: String) -> ModelError {
    ModelError::new(
        ErrorCode::Internal,
        Msg::new("api.internal").arg("detail", detail),
    )
}

/// A store error keeps the store's own code: an import into a non-empty store is a conflict, a
/// bad import line invalid input; only real storage failures are `store`.
fn store_err(e: pbx_store::StoreError) -> ModelError {
    ModelError::new(e.code(), e.msg())
}

fn not_found(what: &str) -> ModelError {
    ModelError::new(
        ErrorCode::NotFound,
        Msg::new("api.not_found").arg("what", what),
    )
}

fn forbidden() -> ModelError {
    ModelError::new(ErrorCode::Forbidden, Msg::new("api.forbidden"))
        .hint(Msg::new("api.forbidden.hint"))
}

fn conflict(what: &str) -> ModelError {
    ModelError::new(
        ErrorCode::Conflict,
        Msg::new("api.exists").arg("what", what),
    )
}

fn bad_json(e: serde_json::Error) -> ModelError {
    ModelError::new(
        ErrorCode::BadRequest,
        Msg::new("api.bad_json").arg("detail", e),
    )
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ModelError> {
    serde_json::from_slice(body).map_err(bad_json)
}

fn public_json<T: Serialize>(v: &T) -> Option<serde_json::Value> {
    serde_json::to_value(v).ok()
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The shared state of the daemon.
pub struct App {
    /// The store.
    pub store: Store,
    /// The configuration in force.
    pub config: RwLock<LoadedConfig>,
    /// Time of the last successful load.
    pub config_loaded: RwLock<String>,
    /// One change at a time.
    pub write: Mutex<()>,
    /// Change events for `/v1/events`.
    pub events: broadcast::Sender<Event>,
    /// Start time.
    pub started: Instant,
    /// The SIP service, once it runs.
    pub sip: std::sync::OnceLock<crate::sip::SipHandle>,
    /// The alarm service, once it runs.
    pub alarms: std::sync::OnceLock<crate::alarms::AlarmHandle>,
    /// The history task, once it runs.
    pub history: std::sync::OnceLock<crate::history::HistoryHandle>,
    /// The softphone's backend, once `[http]` serves it.
    pub softphone: std::sync::OnceLock<std::sync::Arc<crate::softphone::Phone>>,
}

/// A request as the handlers see it.
pub struct Req<'a> {
    /// Method.
    pub method: Method,
    /// Route.
    pub route: Route,
    /// Query.
    pub query: Query,
    /// Body.
    pub body: &'a [u8],
    /// Who asks.
    pub caller: &'a Caller,
    /// Language of the answer.
    pub lang: Lang,
}

impl App {
    /// A new app around an opened store and a loaded configuration.
    pub fn new(store: Store, config: LoadedConfig) -> App {
        let (events, _) = broadcast::channel(1024);
        App {
            store,
            config: RwLock::new(config),
            config_loaded: RwLock::new(now_rfc3339()),
            write: Mutex::new(()),
            events,
            started: Instant::now(),
            sip: std::sync::OnceLock::new(),
            alarms: std::sync::OnceLock::new(),
            history: std::sync::OnceLock::new(),
            softphone: std::sync::OnceLock::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        // A poisoned lock means a handler panicked mid-change; the store itself is consistent
        // (sled transactions), so carry on rather than wedge the daemon.
        self.write.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes an audit entry and tells the event stream.
    pub fn audit(
        &self,
        caller: &Caller,
        action: &str,
        tenant: Option<&str>,
        object: String,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) -> Result<(), ModelError> {
        let entry = AuditEntry {
            seq: 0,
            time: now_rfc3339(),
            uid: caller.uid,
            user: caller.user.clone(),
            action: action.to_string(),
            tenant: tenant.map(str::to_string),
            object,
            before,
            after,
        };
        let seq = self.store.append_audit(entry.clone()).map_err(store_err)?;
        tracing::info!(action, tenant, uid = caller.uid, seq, "wijziging");
        let _ = self.events.send(Event::Changed {
            entry: AuditEntry { seq, ..entry },
        });
        Ok(())
    }

    fn may(&self, caller: &Caller, tenant: Option<&str>) -> Result<(), ModelError> {
        match (&caller.scope, tenant) {
            (Scope::Beheerder, _) => Ok(()),
            (Scope::Tenant(own), Some(t)) if own == t => Ok(()),
            _ => Err(forbidden()),
        }
    }

    fn tenant(&self, slug: &str) -> Result<Tenant, ModelError> {
        self.store
            .tenant(slug)
            .map_err(store_err)?
            .ok_or_else(|| not_found(&format!("organisatie {slug}")))
    }

    /// Dispatches a request.
    pub fn handle(&self, r: &Req<'_>) -> HResult {
        if r.caller.scope == Scope::None {
            return Err(forbidden());
        }
        if let Some(t) = r.route.tenant() {
            self.may(r.caller, Some(t))?;
        }
        use Method::*;
        use Route as R;
        match (&r.route, r.method) {
            (R::Status, Get) => ok(&self.status(r.caller)?),
            (R::Tenants, Get) => ok(&self.tenant_list(r.caller)?),
            (R::Tenants, Post) => self.tenant_add(r),
            (R::Tenant(t), Get) => ok(&self.summary(&self.tenant(t)?)?),
            (R::Tenant(t), Patch) => self.tenant_set(r, t),
            (R::Tenant(t), Delete) => self.tenant_remove(r, t),
            (R::TenantSuspend(t), Post) => self.tenant_status(r, t, TenantStatus::Suspended),
            (R::TenantResume(t), Post) => self.tenant_status(r, t, TenantStatus::Active),
            (R::Users(t), Get) => {
                self.tenant(t)?;
                ok(&self
                    .store
                    .users(t)
                    .map_err(store_err)?
                    .iter()
                    .map(User::public)
                    .collect::<Vec<_>>())
            }
            (R::Users(t), Post) => self.user_add(r, t),
            (R::User(t, u), Get) => ok(&self.user(t, u)?.public()),
            (R::User(t, u), Patch) => self.user_set(r, t, u),
            (R::User(t, u), Delete) => self.user_remove(r, t, u),
            (R::UserPassword(t, u), Post) => self.user_passwd(r, t, u),
            (R::UserLock(t, u), Post) => self.user_state(r, t, u, UserState::Locked),
            (R::UserUnlock(t, u), Post) => self.user_state(r, t, u, UserState::Active),
            (R::UserTotp(t, u), Post) => self.user_totp(r, t, u),
            (R::Extensions(t), Get) => {
                self.tenant(t)?;
                ok(&self
                    .store
                    .extensions(t)
                    .map_err(store_err)?
                    .iter()
                    .map(Extension::public)
                    .collect::<Vec<_>>())
            }
            (R::Extensions(t), Post) => self.extension_add(r, t),
            (R::Extension(t, n), Get) => ok(&self.extension(t, n)?.public()),
            (R::Extension(t, n), Patch) => self.extension_set(r, t, n),
            (R::Extension(t, n), Delete) => self.extension_remove(r, t, n),
            (R::ExtensionResetPassword(t, n), Post) => self.extension_reset(r, t, n),
            (R::Trunks(t), Get) => {
                self.tenant(t)?;
                ok(&self
                    .store
                    .trunks(t)
                    .map_err(store_err)?
                    .iter()
                    .map(Trunk::public)
                    .collect::<Vec<_>>())
            }
            (R::Trunks(t), Post) => self.trunk_add(r, t),
            (R::Trunk(t, n), Get) => ok(&self.trunk(t, n)?.public()),
            (R::Trunk(t, n), Patch) => self.trunk_set(r, t, n),
            (R::Trunk(t, n), Delete) => self.trunk_remove(r, t, n),
            (R::Queues(t), Get) => {
                self.tenant(t)?;
                ok(&self.store.queues(t).map_err(store_err)?)
            }
            (R::Queues(t), Post) => self.queue_add(r, t),
            (R::Queue(t, n), Get) => ok(&self.queue(t, n)?),
            (R::Queue(t, n), Patch) => self.queue_set(r, t, n),
            (R::Queue(t, n), Delete) => self.queue_remove(r, t, n),
            (R::QueueMembers(t, n), Post) => self.queue_members(r, t, n),
            (R::RingGroups(t), Get) => {
                self.tenant(t)?;
                ok(&self.store.ring_groups(t).map_err(store_err)?)
            }
            (R::Belplan(t), Get) => {
                self.tenant(t)?;
                ok(&self.store.belplan(t).map_err(store_err)?)
            }
            (R::Belplan(t), Put) => self.belplan_set(r, t),
            (R::Contacts(t), Get) => self.contacts(r, t),
            (R::ContactsImport(t), Post) => self.contacts_import(r, t),
            (R::Audit, Get) => self.audit_list(r),
            (R::Registrations, Get) => {
                let tenant = self.scoped_tenant(r)?;
                match self.sip.get() {
                    Some(sip) => ok(&sip.registrations(tenant.as_deref())),
                    None => ok(&self
                        .store
                        .registrations(tenant.as_deref())
                        .map_err(store_err)?),
                }
            }
            (R::TrunkStatus, Get) => {
                let tenant = self.scoped_tenant(r)?;
                let sip = self.sip.get().ok_or_else(|| not_found("SIP-dienst"))?;
                ok(&sip.trunk_status(tenant.as_deref()))
            }
            (R::Agents, Get) => {
                let tenant = self.scoped_tenant(r)?;
                let list = self
                    .softphone
                    .get()
                    .map(|p| p.agents(tenant.as_deref()))
                    .unwrap_or_default();
                ok(&list)
            }
            (R::QueueStatus, Get) => {
                let tenant = self.scoped_tenant(r)?;
                ok(&self.queue_status(tenant.as_deref())?)
            }
            (R::TollFraud, Get) => {
                let tenant = self.scoped_tenant(r)?;
                let sip = self.sip.get().ok_or_else(|| not_found("SIP-dienst"))?;
                ok(&sip.toll_fraud(tenant.as_deref()))
            }
            (R::Cdrs, Get) => self.cdr_list(r),
            (R::Calls, Get) => {
                let tenant = self.scoped_tenant(r)?;
                let sip = self.sip.get().ok_or_else(|| not_found("SIP-dienst"))?;
                let mut calls = sip
                    .ask(|tx| crate::sip::Control::Calls(tenant, tx))
                    .unwrap_or_default();
                // `?points=N`: only the last N MOS values per leg (pbxtop's list shows ~20;
                // 60 per leg for 1000 calls is most of the answer).
                // `&full=ID` keeps all values for the call pbxtop shows in detail.
                if let Some(n) = r.query.get("points").and_then(|v| v.parse::<usize>().ok()) {
                    let full = r.query.get("full");
                    for c in calls.iter_mut().filter(|c| Some(c.id.as_str()) != full) {
                        for q in &mut c.quality {
                            let skip = q.history_centi.len().saturating_sub(n);
                            q.history_centi.drain(..skip);
                        }
                    }
                }
                ok(&calls)
            }
            (R::CallHangup(id), Post) => self.call_hangup(r, id),
            (R::Alarms, Get) => {
                let tenant = self.scoped_tenant(r)?;
                let alarms = self.alarms.get().ok_or_else(|| not_found("alarmdienst"))?;
                let list: Vec<pbx_api::AlarmInfo> = alarms
                    .list()
                    .iter()
                    .filter(|a| tenant.is_none() || a.tenant == tenant)
                    .map(crate::alarms::api_view)
                    .collect();
                ok(&list)
            }
            (R::AlarmAck(id), Post) => self.alarm_change(r, id, None),
            (R::History, Get) => self.history(r),
            (R::AlarmSilence(id), Post) => {
                let secs = r.query.num("secs", 3600) as u64;
                if !(60..=7 * 86_400).contains(&secs) {
                    return Err(ModelError::invalid(
                        Msg::new("alarms.bad_value")
                            .arg("field", "secs")
                            .arg("value", secs),
                    ));
                }
                self.alarm_change(r, id, Some(secs))
            }
            (R::Trace(call_id), Get) => {
                self.beheerder(r)?;
                self.trace(call_id)
            }
            (R::Cdr(t, id), Get) => ok(&self
                .store
                .cdr(t, id)
                .map_err(store_err)?
                .ok_or_else(|| not_found(&format!("gesprek {id}")))?),
            (R::Export, Get) => self.export(r),
            (R::Import, Post) => self.import(r),
            (R::Plan, Post) => self.plan(r, false),
            (R::Apply, Post) => self.plan(r, true),
            (R::Reload, Post) => {
                if r.caller.scope != Scope::Beheerder {
                    return Err(forbidden());
                }
                ok(&crate::reload(self, r.caller))
            }
            _ => Err(ModelError::new(
                ErrorCode::BadRequest,
                Msg::new("api.method")
                    .arg("method", r.method.as_str())
                    .arg("path", r.route.path()),
            )),
        }
    }

    // ---- status and organisations

    /// The status as this caller sees it.
    pub fn status(&self, caller: &Caller) -> Result<Status, ModelError> {
        let cfg = self.config.read().unwrap_or_else(|p| p.into_inner());
        let tenants = self.visible_tenants(caller)?;
        let mut extensions = 0;
        for t in &tenants {
            extensions += self.store.count_extensions(&t.slug).map_err(store_err)?;
        }
        Ok(Status {
            version: env!("CARGO_PKG_VERSION").to_string(),
            api: pbx_api::API_VERSION,
            uptime_secs: self.started.elapsed().as_secs(),
            pid: std::process::id(),
            config_dir: cfg.dir.display().to_string(),
            state_dir: cfg.daemon.state.dir.display().to_string(),
            schema_version: self.store.schema_version(),
            tenants: tenants.len(),
            extensions,
            config_loaded: self
                .config_loaded
                .read()
                .map(|s| s.clone())
                .unwrap_or_default(),
            you: caller.clone(),
            sip: self.sip.get().map(|h| h.counters()).unwrap_or_default(),
        })
    }

    fn visible_tenants(&self, caller: &Caller) -> Result<Vec<Tenant>, ModelError> {
        let all = self.store.tenants().map_err(store_err)?;
        Ok(match &caller.scope {
            Scope::Beheerder => all,
            Scope::Tenant(t) => all.into_iter().filter(|x| &x.slug == t).collect(),
            Scope::None => Vec::new(),
        })
    }

    fn summary(&self, t: &Tenant) -> Result<TenantSummary, ModelError> {
        Ok(TenantSummary {
            tenant: t.clone(),
            extensions: self.store.count_extensions(&t.slug).map_err(store_err)?,
            users: self.store.users(&t.slug).map_err(store_err)?.len(),
            trunks: self.store.trunks(&t.slug).map_err(store_err)?.len(),
            queues: self.store.queues(&t.slug).map_err(store_err)?.len(),
        })
    }

    /// Every organisation the caller may see, with counts.
    pub fn tenant_list(&self, caller: &Caller) -> Result<Vec<TenantSummary>, ModelError> {
        self.visible_tenants(caller)?
            .iter()
            .map(|t| self.summary(t))
            .collect()
    }

    fn beheerder(&self, r: &Req<'_>) -> Result<(), ModelError> {
        if r.caller.scope == Scope::Beheerder {
            Ok(())
        } else {
            Err(forbidden())
        }
    }

    fn domain_owner(&self, domain: &str, except: &str) -> Result<Option<String>, ModelError> {
        Ok(self
            .store
            .tenants()
            .map_err(store_err)?
            .into_iter()
            .find(|t| t.slug != except && t.domains.iter().any(|d| d.eq_ignore_ascii_case(domain)))
            .map(|t| t.slug))
    }

    fn tenant_add(&self, r: &Req<'_>) -> HResult {
        self.beheerder(r)?;
        let t: Tenant = parse(r.body)?;
        t.validate()?;
        let _w = self.lock();
        if self.store.tenant(&t.slug).map_err(store_err)?.is_some() {
            return Err(conflict(&format!("organisatie {}", t.slug)));
        }
        for d in &t.domains {
            if let Some(other) = self.domain_owner(d, &t.slug)? {
                return Err(ModelError::new(
                    ErrorCode::Conflict,
                    Msg::new("api.domain_taken")
                        .arg("domain", d)
                        .arg("tenant", other),
                ));
            }
        }
        self.store.put_tenant(&t).map_err(store_err)?;
        self.audit(
            r.caller,
            "tenant.add",
            Some(&t.slug),
            format!("organisatie {}", t.slug),
            None,
            public_json(&t),
        )?;
        json(201, &self.summary(&t)?)
    }

    fn tenant_set(&self, r: &Req<'_>, slug: &str) -> HResult {
        self.beheerder(r)?;
        let p: TenantPatch = parse(r.body)?;
        let _w = self.lock();
        let before = self.tenant(slug)?;
        let mut t = before.clone();
        if let Some(v) = p.name {
            t.name = v;
        }
        if let Some(v) = p.domains {
            t.domains = v;
        }
        if let Some(v) = p.max_extensions {
            t.limits.max_extensions = v;
        }
        if let Some(v) = p.max_calls {
            t.limits.max_calls = v;
        }
        if let Some(v) = p.max_outside_calls {
            t.limits.max_outside_calls = v;
        }
        if let Some(v) = p.status {
            t.status = v;
        }
        if let Some(v) = p.recording {
            t.recording = v;
        }
        if let Some(v) = p.retention_days {
            t.retention_days = v;
        }
        let tf = &mut t.toll_fraud;
        if let Some(v) = p.international {
            tf.international = v;
        }
        if let Some(v) = p.betaalnummers {
            tf.betaalnummers = v;
        }
        if let Some(v) = p.max_international_per_hour {
            tf.max_international_per_hour = v;
        }
        if let Some(v) = p.max_betaalnummers_per_hour {
            tf.max_betaalnummers_per_hour = v;
        }
        if let Some(v) = p.max_call_secs {
            tf.max_call_secs = v;
        }
        if let Some(v) = &p.afcoderingen {
            t.afcoderingen = v.clone();
        }
        if let Some(v) = p.afrondtijd_s {
            t.afrondtijd_s = v;
        }
        t.validate()?;
        let count = self.store.count_extensions(slug).map_err(store_err)?;
        if (t.limits.max_extensions as usize) < count {
            return Err(ModelError::new(
                ErrorCode::LimitExceeded,
                Msg::new("api.limit_below_count")
                    .arg("max", t.limits.max_extensions)
                    .arg("count", count),
            ));
        }
        for d in &t.domains {
            if let Some(other) = self.domain_owner(d, slug)? {
                return Err(ModelError::new(
                    ErrorCode::Conflict,
                    Msg::new("api.domain_taken")
                        .arg("domain", d)
                        .arg("tenant", other),
                ));
            }
        }
        if t.realm() != before.realm()
            && self
                .store
                .extensions(slug)
                .map_err(store_err)?
                .iter()
                .any(|e| e.sip.is_some())
        {
            return Err(ModelError::invalid(
                Msg::new("api.realm_change")
                    .arg("old", before.realm())
                    .arg("new", t.realm()),
            )
            .hint(Msg::new("api.realm_change.hint")));
        }
        if t == before {
            return ok(&self.summary(&t)?);
        }
        self.store.put_tenant(&t).map_err(store_err)?;
        self.audit(
            r.caller,
            "tenant.set",
            Some(slug),
            format!("organisatie {slug}"),
            public_json(&before),
            public_json(&t),
        )?;
        ok(&self.summary(&t)?)
    }

    fn tenant_status(&self, r: &Req<'_>, slug: &str, status: TenantStatus) -> HResult {
        self.beheerder(r)?;
        let _w = self.lock();
        let before = self.tenant(slug)?;
        let t = Tenant {
            status,
            ..before.clone()
        };
        if t != before {
            self.store.put_tenant(&t).map_err(store_err)?;
            let action = if status == TenantStatus::Suspended {
                "tenant.suspend"
            } else {
                "tenant.resume"
            };
            self.audit(
                r.caller,
                action,
                Some(slug),
                format!("organisatie {slug}"),
                public_json(&before),
                public_json(&t),
            )?;
        }
        ok(&self.summary(&t)?)
    }

    fn tenant_remove(&self, r: &Req<'_>, slug: &str) -> HResult {
        self.beheerder(r)?;
        let _w = self.lock();
        let t = self.tenant(slug)?;
        let b = self
            .store
            .bundle(slug)
            .map_err(store_err)?
            .unwrap_or_else(|| TenantBundle::new(t.clone()));
        let contacts = self.store.count_contacts(slug).map_err(store_err)?;
        let mut removed = vec![format!("organisatie {slug}")];
        removed.extend(b.users.iter().map(|u| format!("gebruiker {}", u.username)));
        removed.extend(
            b.extensions
                .iter()
                .map(|e| format!("extensie {}", e.number)),
        );
        removed.extend(b.trunks.iter().map(|x| format!("trunk {}", x.name)));
        removed.extend(b.queues.iter().map(|q| format!("wachtrij {}", q.number)));
        removed.extend(
            b.ring_groups
                .iter()
                .map(|g| format!("belgroep {}", g.number)),
        );
        if contacts > 0 {
            removed.push(format!("{contacts} contacten"));
        }
        let has_content = !b.extensions.is_empty()
            || !b.users.is_empty()
            || !b.trunks.is_empty()
            || !b.queues.is_empty()
            || contacts > 0;
        if has_content && !r.query.flag("force") {
            return Err(ModelError::new(
                ErrorCode::HasDependents,
                Msg::new("api.tenant_not_empty")
                    .arg("tenant", slug)
                    .arg("extensions", b.extensions.len())
                    .arg("users", b.users.len()),
            )
            .hint(Msg::new("api.tenant_not_empty.hint").arg("tenant", slug)));
        }
        let dry = r.query.flag("dry_run");
        if !dry {
            self.store.remove_tenant(slug).map_err(store_err)?;
            self.audit(
                r.caller,
                "tenant.remove",
                Some(slug),
                format!("organisatie {slug}"),
                public_json(&t),
                None,
            )?;
        }
        ok(&Removed {
            removed,
            dry_run: dry,
        })
    }

    // ---- users

    fn user(&self, t: &str, u: &str) -> Result<User, ModelError> {
        self.tenant(t)?;
        self.store
            .user(t, u)
            .map_err(store_err)?
            .ok_or_else(|| not_found(&format!("gebruiker {u}")))
    }

    fn permission(v: Option<Vec<String>>) -> Result<Option<CallPermission>, ModelError> {
        match v {
            None => Ok(None),
            Some(v) => CallPermission::try_from(v).map(Some).map_err(|bad| {
                ModelError::invalid(Msg::new("permission.unknown").arg("value", bad))
            }),
        }
    }

    fn user_add(&self, r: &Req<'_>, t: &str) -> HResult {
        let c: UserCreate = parse(r.body)?;
        if c.role == pbx_model::Role::Beheerder && r.caller.scope != Scope::Beheerder {
            return Err(forbidden());
        }
        let password_hash = match &c.password {
            Some(p) => {
                check_login_password(p)?;
                Some(hash_password(p)?)
            }
            None => None,
        };
        let u = User {
            tenant: t.to_string(),
            username: c.username,
            name: c.name,
            email: c.email.filter(|e| !e.is_empty()),
            role: c.role,
            password_hash,
            totp: None,
            totp_enabled: false,
            permission: Self::permission(c.permission)?.unwrap_or_default(),
            state: UserState::Active,
        };
        u.validate()?;
        let _w = self.lock();
        self.tenant(t)?;
        if self
            .store
            .user(t, &u.username)
            .map_err(store_err)?
            .is_some()
        {
            return Err(conflict(&format!("gebruiker {}", u.username)));
        }
        self.store.put_user(&u).map_err(store_err)?;
        self.audit(
            r.caller,
            "user.add",
            Some(t),
            format!("gebruiker {}", u.username),
            None,
            public_json(&u.public()),
        )?;
        json(201, &u.public())
    }

    fn user_set(&self, r: &Req<'_>, t: &str, name: &str) -> HResult {
        let p: UserPatch = parse(r.body)?;
        let _w = self.lock();
        let before = self.user(t, name)?;
        let mut u = before.clone();
        if let Some(v) = p.name {
            u.name = v;
        }
        if let Some(v) = p.email {
            u.email = Some(v).filter(|e| !e.is_empty());
        }
        if let Some(v) = p.role {
            if v == pbx_model::Role::Beheerder && r.caller.scope != Scope::Beheerder {
                return Err(forbidden());
            }
            u.role = v;
        }
        if let Some(v) = Self::permission(p.permission)? {
            u.permission = v;
        }
        if let Some(v) = p.state {
            u.state = v;
        }
        u.validate()?;
        if u != before {
            self.store.put_user(&u).map_err(store_err)?;
            self.audit(
                r.caller,
                "user.set",
                Some(t),
                format!("gebruiker {name}"),
                public_json(&before.public()),
                public_json(&u.public()),
            )?;
        }
        ok(&u.public())
    }

    fn user_passwd(&self, r: &Req<'_>, t: &str, name: &str) -> HResult {
        let p: PasswordSet = parse(r.body)?;
        let pw = p
            .password
            .ok_or_else(|| ModelError::invalid(Msg::new("api.password_missing")))?;
        check_login_password(&pw)?;
        let hash = hash_password(&pw)?;
        let _w = self.lock();
        let mut u = self.user(t, name)?;
        u.password_hash = Some(hash);
        self.store.put_user(&u).map_err(store_err)?;
        self.audit(
            r.caller,
            "user.passwd",
            Some(t),
            format!("gebruiker {name}"),
            None,
            None,
        )?;
        ok(&u.public())
    }

    fn user_totp(&self, r: &Req<'_>, t: &str, name: &str) -> HResult {
        let p: pbx_api::TotpSet = parse(r.body)?;
        let _w = self.lock();
        let before = self.user(t, name)?;
        let mut u = before.clone();
        let (secret, uri) = if p.enable {
            let secret = pbx_model::secret::generate_totp_secret();
            u.totp = Some(self.store.seal(&secret));
            u.totp_enabled = true;
            let uri = format!("otpauth://totp/PBX:{name}%40{t}?secret={secret}&issuer=PBX&algorithm=SHA1&digits=6&period=30");
            (Some(secret), Some(uri))
        } else {
            u.totp = None;
            u.totp_enabled = false;
            (None, None)
        };
        self.store.put_user(&u).map_err(store_err)?;
        let action = if p.enable {
            "user.totp_on"
        } else {
            "user.totp_off"
        };
        self.audit(
            r.caller,
            action,
            Some(t),
            format!("gebruiker {name}"),
            public_json(&before.public()),
            public_json(&u.public()),
        )?;
        ok(&pbx_api::TotpEnabled {
            user: u.public(),
            secret,
            uri,
        })
    }

    fn user_state(&self, r: &Req<'_>, t: &str, name: &str, state: UserState) -> HResult {
        let _w = self.lock();
        let before = self.user(t, name)?;
        let u = User {
            state,
            ..before.clone()
        };
        if u != before {
            self.store.put_user(&u).map_err(store_err)?;
            let action = if state == UserState::Locked {
                "user.lock"
            } else {
                "user.unlock"
            };
            self.audit(
                r.caller,
                action,
                Some(t),
                format!("gebruiker {name}"),
                public_json(&before.public()),
                public_json(&u.public()),
            )?;
        }
        ok(&u.public())
    }

    /// Applies `change` to the organisation's bundle and refuses it when it adds an error that
    /// was not there before (a dangling reference, a shadowed rule…), unless `force` allows
    /// removing what depends on it.
    fn check_bundle_change(
        &self,
        t: &str,
        change: impl FnOnce(&mut TenantBundle),
    ) -> Result<TenantBundle, ModelError> {
        let before = self
            .store
            .bundle(t)
            .map_err(store_err)?
            .ok_or_else(|| not_found(&format!("organisatie {t}")))?;
        let mut after = before.clone();
        change(&mut after);
        let old: Vec<String> = before
            .findings()
            .into_iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| f.error.msg.to_string())
            .collect();
        if let Some(f) = after
            .findings()
            .into_iter()
            .find(|f| f.severity == Severity::Error && !old.contains(&f.error.msg.to_string()))
        {
            let mut e = f.error;
            let place = after.describe(&f.loc);
            e.msg = Msg::new("api.bundle_error")
                .arg("place", place)
                .arg("detail", e.msg.to_string());
            return Err(e);
        }
        Ok(after)
    }

    fn user_remove(&self, r: &Req<'_>, t: &str, name: &str) -> HResult {
        let _w = self.lock();
        let u = self.user(t, name)?;
        let force = r.query.flag("force");
        let mut removed = vec![format!("gebruiker {name}")];
        let b = self
            .store
            .bundle(t)
            .map_err(store_err)?
            .ok_or_else(|| not_found(t))?;
        let owned: Vec<&Extension> = b
            .extensions
            .iter()
            .filter(|e| e.owner.as_deref() == Some(name))
            .collect();
        let queues: Vec<&Queue> = b
            .queues
            .iter()
            .filter(|q| q.members.iter().any(|m| m.user == name))
            .collect();
        if (!owned.is_empty() || !queues.is_empty()) && !force {
            return Err(ModelError::new(
                ErrorCode::HasDependents,
                Msg::new("api.user_in_use")
                    .arg("user", name)
                    .arg("extensions", owned.len())
                    .arg("queues", queues.len()),
            )
            .hint(Msg::new("api.force.hint")));
        }
        removed.extend(
            owned
                .iter()
                .map(|e| format!("eigenaar van extensie {}", e.number)),
        );
        removed.extend(
            queues
                .iter()
                .map(|q| format!("lid van wachtrij {}", q.number)),
        );
        let dry = r.query.flag("dry_run");
        if !dry {
            for e in owned {
                let mut e = e.clone();
                e.owner = None;
                self.store.put_extension(&e).map_err(store_err)?;
            }
            for q in queues {
                let mut q = q.clone();
                q.members.retain(|m| m.user != name);
                self.store.put_queue(&q).map_err(store_err)?;
            }
            self.store.remove_user(t, name).map_err(store_err)?;
            self.audit(
                r.caller,
                "user.remove",
                Some(t),
                format!("gebruiker {name}"),
                public_json(&u.public()),
                None,
            )?;
        }
        ok(&Removed {
            removed,
            dry_run: dry,
        })
    }

    // ---- extensions

    fn extension(&self, t: &str, n: &str) -> Result<Extension, ModelError> {
        self.tenant(t)?;
        self.store
            .extension(t, n)
            .map_err(store_err)?
            .ok_or_else(|| not_found(&format!("extensie {n}")))
    }

    fn number_taken(&self, t: &str, n: &str) -> Result<bool, ModelError> {
        Ok(self.store.extension(t, n).map_err(store_err)?.is_some()
            || self.store.queue(t, n).map_err(store_err)?.is_some()
            || self.store.ring_group(t, n).map_err(store_err)?.is_some())
    }

    fn extension_add(&self, r: &Req<'_>, t: &str) -> HResult {
        let c: ExtensionCreate = parse(r.body)?;
        let mut e = Extension::new(t, &c.number, &c.name);
        e.owner = c.owner.filter(|o| !o.is_empty());
        if let Some(v) = c.codecs {
            e.codecs = v;
        }
        if let Some(v) = c.forwarding {
            e.forwarding = v;
        }
        e.recording = c.recording;
        if let Some(v) = c.max_registrations {
            e.max_registrations = v;
        }
        e.validate()?;
        let (password, generated) = match c.password {
            Some(p) => {
                check_sip_password(&p, &e.number)?;
                (p, false)
            }
            None => (generate_password(), true),
        };
        let _w = self.lock();
        let tenant = self.tenant(t)?;
        if self.number_taken(t, &e.number)? {
            return Err(ModelError::new(
                ErrorCode::Conflict,
                Msg::new("bundle.number_twice").arg("number", &e.number),
            ));
        }
        tenant.check_extension_quota(self.store.count_extensions(t).map_err(store_err)?)?;
        if let Some(o) = &e.owner {
            if self.store.user(t, o).map_err(store_err)?.is_none() {
                return Err(ModelError::new(
                    ErrorCode::DanglingReference,
                    Msg::new("bundle.no_user").arg("user", o),
                ));
            }
        }
        e.set_password(tenant.realm(), &password);
        self.store.put_extension(&e).map_err(store_err)?;
        self.audit(
            r.caller,
            "extension.add",
            Some(t),
            format!("extensie {}", e.number),
            None,
            public_json(&e.public()),
        )?;
        json(
            201,
            &ExtensionCreated {
                extension: e.public(),
                password: generated.then_some(password),
            },
        )
    }

    fn extension_set(&self, r: &Req<'_>, t: &str, n: &str) -> HResult {
        let p: ExtensionPatch = parse(r.body)?;
        let _w = self.lock();
        let before = self.extension(t, n)?;
        let mut e = before.clone();
        if let Some(v) = p.name {
            e.name = v;
        }
        if let Some(v) = p.owner {
            e.owner = Some(v).filter(|o| !o.is_empty());
        }
        if let Some(v) = p.codecs {
            e.codecs = v;
        }
        if let Some(v) = p.forwarding {
            e.forwarding = v;
        }
        if let Some(v) = p.recording {
            e.recording = Some(v);
        }
        if let Some(v) = p.max_registrations {
            e.max_registrations = v;
        }
        e.validate()?;
        if let Some(o) = &e.owner {
            if self.store.user(t, o).map_err(store_err)?.is_none() {
                return Err(ModelError::new(
                    ErrorCode::DanglingReference,
                    Msg::new("bundle.no_user").arg("user", o),
                ));
            }
        }
        if e != before {
            self.store.put_extension(&e).map_err(store_err)?;
            self.audit(
                r.caller,
                "extension.set",
                Some(t),
                format!("extensie {n}"),
                public_json(&before.public()),
                public_json(&e.public()),
            )?;
        }
        ok(&e.public())
    }

    fn extension_reset(&self, r: &Req<'_>, t: &str, n: &str) -> HResult {
        let p: PasswordSet = if r.body.is_empty() {
            PasswordSet::default()
        } else {
            parse(r.body)?
        };
        let _w = self.lock();
        let tenant = self.tenant(t)?;
        let mut e = self.extension(t, n)?;
        let (password, generated) = match p.password.filter(|p| !p.is_empty()) {
            Some(p) => {
                check_sip_password(&p, n)?;
                (p, false)
            }
            None => (generate_password(), true),
        };
        e.set_password(tenant.realm(), &password);
        self.store.put_extension(&e).map_err(store_err)?;
        self.audit(
            r.caller,
            "extension.reset_password",
            Some(t),
            format!("extensie {n}"),
            None,
            None,
        )?;
        ok(&ExtensionCreated {
            extension: e.public(),
            password: generated.then_some(password),
        })
    }

    fn extension_remove(&self, r: &Req<'_>, t: &str, n: &str) -> HResult {
        let _w = self.lock();
        let e = self.extension(t, n)?;
        self.remove_detached(
            r,
            t,
            Detach::Extension(n),
            "extension.remove",
            public_json(&e.public()),
        )
    }

    /// Removes an extension, queue or trunk. Without `force` only when nothing refers to it;
    /// with `force` together with every reference ([`TenantBundle::detach`]). `dry_run` only
    /// reports what would go.
    fn remove_detached(
        &self,
        r: &Req<'_>,
        t: &str,
        target: Detach<'_>,
        action: &str,
        before: Option<serde_json::Value>,
    ) -> HResult {
        let only_the_object = |b: &mut TenantBundle| match target {
            Detach::Extension(n) => b.extensions.retain(|x| x.number != n),
            Detach::Queue(n) => b.queues.retain(|x| x.number != n),
            Detach::Trunk(n) => b.trunks.retain(|x| x.name != n),
        };
        let (after, removed) = match self.check_bundle_change(t, only_the_object) {
            Ok(b) => {
                let mut probe = b.clone();
                let object = probe.detach(target).into_iter().next().unwrap_or_default();
                (b, vec![object])
            }
            Err(err) if !r.query.flag("force") => return Err(err.hint(Msg::new("api.force.hint"))),
            Err(_) => {
                let mut removed = Vec::new();
                let after = self.check_bundle_change(t, |b| removed = b.detach(target))?;
                (after, removed)
            }
        };
        let dry = r.query.flag("dry_run");
        if !dry {
            self.store.put_bundle(&after).map_err(store_err)?;
            let object = removed.first().cloned().unwrap_or_default();
            self.audit(r.caller, action, Some(t), object, before, None)?;
        }
        ok(&Removed {
            removed,
            dry_run: dry,
        })
    }

    // ---- trunks

    fn trunk(&self, t: &str, n: &str) -> Result<Trunk, ModelError> {
        self.tenant(t)?;
        self.store
            .trunk(t, n)
            .map_err(store_err)?
            .ok_or_else(|| not_found(&format!("trunk {n}")))
    }

    fn apply_trunk_spec(&self, tr: &mut Trunk, s: TrunkSpec) -> Result<(), ModelError> {
        if let Some(v) = s.host {
            tr.host = v;
        }
        if let Some(v) = s.port {
            tr.port = v;
        }
        if let Some(v) = s.transport {
            tr.transport = v;
        }
        if let Some(user) = s.username {
            if user.is_empty() {
                tr.auth = None;
            } else {
                let old = tr.auth.take();
                tr.auth = Some(TrunkRegistration {
                    register: old.as_ref().is_some_and(|a| a.register),
                    username: user,
                    secret: old.as_ref().and_then(|a| a.secret.clone()),
                    expires: old.as_ref().map(|a| a.expires).unwrap_or(600),
                });
            }
        }
        if let Some(sec) = s.secret {
            let a = tr
                .auth
                .as_mut()
                .ok_or_else(|| ModelError::invalid(Msg::new("api.secret_without_user")))?;
            a.secret = Some(self.store.seal(&sec));
        }
        if let Some(reg) = s.register {
            match tr.auth.as_mut() {
                Some(a) => a.register = reg,
                None if reg => {
                    return Err(ModelError::invalid(Msg::new("api.register_without_user")))
                }
                None => {}
            }
        }
        if let Some(exp) = s.expires {
            if let Some(a) = tr.auth.as_mut() {
                a.expires = exp;
            }
        }
        if let Some(v) = s.allow {
            tr.allow = v
                .iter()
                .map(|x| IpNet::parse(x))
                .collect::<Result<_, _>>()?;
        }
        if let Some(v) = s.dids {
            tr.dids = v
                .iter()
                .map(|x| E164::normalise(x))
                .collect::<Result<_, _>>()?;
        }
        if let Some(v) = s.caller_id {
            tr.caller_id = if v.is_empty() {
                None
            } else {
                Some(E164::normalise(&v)?)
            };
        }
        if let Some(v) = s.max_channels {
            tr.max_channels = v;
        }
        if let Some(v) = s.codecs {
            tr.codecs = v;
        }
        if let Some(v) = s.priority {
            tr.priority = v;
        }
        if let Some(v) = s.enabled {
            tr.enabled = v;
        }
        tr.validate()
    }

    fn did_owner(&self, did: &E164, except: (&str, &str)) -> Result<Option<String>, ModelError> {
        for t in self.store.tenants().map_err(store_err)? {
            for tr in self.store.trunks(&t.slug).map_err(store_err)? {
                if (t.slug.as_str(), tr.name.as_str()) != except && tr.dids.contains(did) {
                    return Ok(Some(format!("{}/{}", t.slug, tr.name)));
                }
            }
        }
        Ok(None)
    }

    fn save_trunk(&self, r: &Req<'_>, t: &str, before: Option<Trunk>, tr: Trunk) -> HResult {
        for d in &tr.dids {
            if let Some(owner) = self.did_owner(d, (t, &tr.name))? {
                return Err(ModelError::new(
                    ErrorCode::Conflict,
                    Msg::new("api.did_taken").arg("did", d).arg("owner", owner),
                ));
            }
        }
        let status = if before.is_some() { 200 } else { 201 };
        if before.as_ref() != Some(&tr) {
            self.store.put_trunk(&tr).map_err(store_err)?;
            let action = if before.is_some() {
                "trunk.set"
            } else {
                "trunk.add"
            };
            self.audit(
                r.caller,
                action,
                Some(t),
                format!("trunk {}", tr.name),
                before.map(|b| b.public()).and_then(|b| public_json(&b)),
                public_json(&tr.public()),
            )?;
        }
        json(status, &tr.public())
    }

    fn trunk_add(&self, r: &Req<'_>, t: &str) -> HResult {
        let mut s: TrunkSpec = parse(r.body)?;
        let name = s.name.take().unwrap_or_default();
        let host = s.host.clone().unwrap_or_default();
        let mut tr = Trunk::new(t, &name, &host);
        self.apply_trunk_spec(&mut tr, s)?;
        let _w = self.lock();
        self.tenant(t)?;
        if self.store.trunk(t, &name).map_err(store_err)?.is_some() {
            return Err(conflict(&format!("trunk {name}")));
        }
        self.save_trunk(r, t, None, tr)
    }

    fn trunk_set(&self, r: &Req<'_>, t: &str, n: &str) -> HResult {
        let s: TrunkSpec = parse(r.body)?;
        if s.name.as_deref().is_some_and(|x| x != n) {
            return Err(ModelError::invalid(Msg::new("api.rename")));
        }
        let _w = self.lock();
        let before = self.trunk(t, n)?;
        let mut tr = before.clone();
        self.apply_trunk_spec(&mut tr, s)?;
        self.save_trunk(r, t, Some(before), tr)
    }

    fn trunk_remove(&self, r: &Req<'_>, t: &str, n: &str) -> HResult {
        let _w = self.lock();
        let tr = self.trunk(t, n)?;
        self.remove_detached(
            r,
            t,
            Detach::Trunk(n),
            "trunk.remove",
            public_json(&tr.public()),
        )
    }

    // ---- queues

    fn queue(&self, t: &str, n: &str) -> Result<Queue, ModelError> {
        self.tenant(t)?;
        self.store
            .queue(t, n)
            .map_err(store_err)?
            .ok_or_else(|| not_found(&format!("wachtrij {n}")))
    }

    fn apply_queue_spec(q: &mut Queue, s: QueueSpec) {
        if let Some(v) = s.name {
            q.name = v;
        }
        if let Some(v) = s.strategy {
            q.strategy = v;
        }
        if let Some(v) = s.ring_timeout_secs {
            q.ring_timeout_secs = v;
        }
        if let Some(v) = s.max_wait_secs {
            q.max_wait_secs = v;
        }
        if let Some(v) = s.wrapup_secs {
            q.wrapup_secs = v;
        }
        if let Some(v) = s.overflow {
            q.overflow = Some(v);
        }
        if let Some(v) = s.moh {
            q.moh = v;
        }
    }

    fn save_queue(&self, r: &Req<'_>, t: &str, before: Option<Queue>, q: Queue) -> HResult {
        q.validate()?;
        self.check_bundle_change(t, |b| {
            b.queues.retain(|x| x.number != q.number);
            b.queues.push(q.clone());
        })?;
        let status = if before.is_some() { 200 } else { 201 };
        if before.as_ref() != Some(&q) {
            self.store.put_queue(&q).map_err(store_err)?;
            let action = if before.is_some() {
                "queue.set"
            } else {
                "queue.add"
            };
            self.audit(
                r.caller,
                action,
                Some(t),
                format!("wachtrij {}", q.number),
                before.as_ref().and_then(public_json),
                public_json(&q),
            )?;
        }
        json(status, &q)
    }

    fn queue_add(&self, r: &Req<'_>, t: &str) -> HResult {
        let mut s: QueueSpec = parse(r.body)?;
        let number = s.number.take().unwrap_or_default();
        let mut q = Queue::new(t, &number, "");
        Self::apply_queue_spec(&mut q, s);
        let _w = self.lock();
        self.tenant(t)?;
        if self.number_taken(t, &number)? {
            return Err(ModelError::new(
                ErrorCode::Conflict,
                Msg::new("bundle.number_twice").arg("number", &number),
            ));
        }
        self.save_queue(r, t, None, q)
    }

    fn queue_set(&self, r: &Req<'_>, t: &str, n: &str) -> HResult {
        let s: QueueSpec = parse(r.body)?;
        if s.number.as_deref().is_some_and(|x| x != n) {
            return Err(ModelError::invalid(Msg::new("api.rename")));
        }
        let _w = self.lock();
        let before = self.queue(t, n)?;
        let mut q = before.clone();
        Self::apply_queue_spec(&mut q, s);
        self.save_queue(r, t, Some(before), q)
    }

    fn queue_members(&self, r: &Req<'_>, t: &str, n: &str) -> HResult {
        let c: MembersChange = parse(r.body)?;
        let _w = self.lock();
        let before = self.queue(t, n)?;
        let mut q = before.clone();
        for name in &c.remove {
            if !q.members.iter().any(|m| &m.user == name) {
                return Err(not_found(&format!("lid {name} van wachtrij {n}")));
            }
            q.members.retain(|m| &m.user != name);
        }
        for m in c.add {
            match q.members.iter_mut().find(|x| x.user == m.user) {
                Some(x) => x.penalty = m.penalty,
                None => q.members.push(m),
            }
        }
        self.save_queue(r, t, Some(before), q)
    }

    fn queue_remove(&self, r: &Req<'_>, t: &str, n: &str) -> HResult {
        let _w = self.lock();
        let q = self.queue(t, n)?;
        self.remove_detached(r, t, Detach::Queue(n), "queue.remove", public_json(&q))
    }

    // ---- belplan

    fn belplan_set(&self, r: &Req<'_>, t: &str) -> HResult {
        let plan: Belplan = parse(r.body)?;
        let _w = self.lock();
        self.tenant(t)?;
        let before = self.store.belplan(t).map_err(store_err)?;
        let b = self
            .store
            .bundle(t)
            .map_err(store_err)?
            .ok_or_else(|| not_found(t))?;
        let mut after = b;
        after.belplan = plan.clone();
        if let Some(f) = after.findings().into_iter().find(|f| {
            f.severity == Severity::Error && matches!(f.loc.kind, ObjKind::Rule | ObjKind::Schedule)
        }) {
            let mut e = f.error;
            e.msg = Msg::new("api.bundle_error")
                .arg("place", after.describe(&f.loc))
                .arg("detail", e.msg.to_string());
            return Err(e);
        }
        if plan != before && !r.query.flag("dry_run") {
            self.store.put_belplan(t, &plan).map_err(store_err)?;
            self.audit(
                r.caller,
                "belplan.set",
                Some(t),
                "belplan".into(),
                public_json(&before),
                public_json(&plan),
            )?;
        }
        ok(&plan)
    }

    // ---- contacts

    fn contacts(&self, r: &Req<'_>, t: &str) -> HResult {
        self.tenant(t)?;
        let limit = r.query.num("limit", 100).min(10_000);
        if let Some(p) = r.query.get("phone") {
            let e = E164::normalise(p)?;
            return ok(&self
                .store
                .find_contacts_by_phone(t, &e)
                .map_err(store_err)?);
        }
        if let Some(q) = r.query.get("q") {
            return ok(&self.store.search_contacts(t, q, limit).map_err(store_err)?);
        }
        ok(&self
            .store
            .contacts(t, r.query.num("offset", 0), limit)
            .map_err(store_err)?)
    }

    fn contacts_import(&self, r: &Req<'_>, t: &str) -> HResult {
        let batch: ContactBatch = parse(r.body)?;
        if batch.contacts.len() > pbx_api::MAX_CONTACT_BATCH {
            return Err(ModelError::new(
                ErrorCode::TooLarge,
                Msg::new("api.batch_too_large").arg("max", pbx_api::MAX_CONTACT_BATCH),
            ));
        }
        let mut good = Vec::with_capacity(batch.contacts.len());
        let mut rejected = Vec::new();
        for (i, c) in batch.contacts.into_iter().enumerate() {
            let row = batch.first_row + i;
            let phones: Result<Vec<E164>, ModelError> = c
                .phones
                .iter()
                .filter(|p| !p.trim().is_empty())
                .map(|p| E164::normalise(p))
                .collect();
            let contact = phones.and_then(|phones| {
                let ct = Contact {
                    tenant: t.to_string(),
                    id: 0,
                    name: c.name,
                    company: c.company,
                    phones,
                    tags: c.tags,
                    notes: c.notes,
                    fields: c.fields,
                };
                ct.validate().map(|_| ct)
            });
            match contact {
                Ok(ct) => good.push(ct),
                Err(e) => rejected.push(RejectedRow {
                    row,
                    message: e.msg.render(r.lang),
                }),
            }
        }
        let _w = self.lock();
        self.tenant(t)?;
        let n = good.len();
        if n > 0 {
            self.store.add_contacts(t, good).map_err(store_err)?;
            self.audit(
                r.caller,
                "contact.import",
                Some(t),
                format!("{n} contacten"),
                None,
                None,
            )?;
        }
        ok(&ContactImportResult {
            imported: n,
            rejected,
        })
    }

    // ---- audit, export, import

    /// The organisation a list request is limited to: `?tenant=` for a beheerder (none = all),
    /// always the caller's own for an organisation-scoped caller.
    fn scoped_tenant(&self, r: &Req<'_>) -> Result<Option<String>, ModelError> {
        match (&r.caller.scope, r.query.get("tenant")) {
            (Scope::Beheerder, t) => Ok(t.map(str::to_string)),
            (Scope::Tenant(own), None) => Ok(Some(own.clone())),
            (Scope::Tenant(own), Some(t)) if t == own => Ok(Some(own.clone())),
            _ => Err(forbidden()),
        }
    }

    fn audit_list(&self, r: &Req<'_>) -> HResult {
        let limit = r.query.num("limit", 50).min(100_000);
        let tenant = self.scoped_tenant(r)?;
        ok(&self
            .store
            .audit(tenant.as_deref(), limit)
            .map_err(store_err)?)
    }

    /// Roll-ups of one scope: everything (beheerder only), an organisation, or a trunk of it.
    fn history(&self, r: &Req<'_>) -> HResult {
        use pbx_model::history::{scope_org, scope_trunk, Granularity};
        let scoped = self.scoped_tenant(r)?;
        let per = r.query.get("per").unwrap_or("uur");
        let Some(g) = Granularity::parse(per) else {
            return Err(ModelError::invalid(
                Msg::new("alarms.bad_value")
                    .arg("field", "per")
                    .arg("value", per),
            ));
        };
        let tenant = r.query.get("tenant").map(str::to_string).or(scoped.clone());
        if scoped.is_some() && tenant != scoped {
            return Err(not_found(&format!(
                "organisatie {}",
                tenant.unwrap_or_default()
            )));
        }
        let scope = match (tenant.as_deref(), r.query.get("trunk")) {
            (Some(t), Some(k)) => scope_trunk(t, k),
            (Some(t), None) => scope_org(t),
            (None, Some(_)) => {
                return Err(ModelError::invalid(
                    Msg::new("alarms.bad_value")
                        .arg("field", "trunk")
                        .arg("value", "zonder tenant"),
                ))
            }
            (None, None) => String::new(),
        };
        let now = chrono::Utc::now().timestamp_millis().max(0) as u64;
        let num = |k: &str| r.query.get(k).and_then(|v| v.parse::<u64>().ok());
        let to = num("to_ms").unwrap_or(now + 1);
        let from = num("from_ms").unwrap_or_else(|| to.saturating_sub(g.ms() * 60));
        let points: Vec<pbx_api::HistoryPoint> = self
            .store
            .rollups(g, &scope, from, to)
            .map_err(store_err)?
            .into_iter()
            .map(|(start, x)| pbx_api::HistoryPoint {
                start_ms: start,
                started: x.started,
                answered: x.answered,
                failed: x.failed,
                asr_pct: x.asr_pct(),
                avg_duration_secs: x.avg_duration_secs(),
                peak_calls: x.peak_calls,
                mos_avg: x.mos_avg(),
                mos_p5: x.mos_p5(),
                registrations: x.registrations,
                availability_pct: x.availability_pct(),
            })
            .collect();
        ok(&points)
    }

    /// Acknowledges (`silence` None) or silences an alarm, as the caller may see it.
    fn alarm_change(&self, r: &Req<'_>, id: &str, silence: Option<u64>) -> HResult {
        let tenant = self.scoped_tenant(r)?;
        let alarms = self.alarms.get().ok_or_else(|| not_found("alarmdienst"))?;
        let Some(alarm) = alarms
            .list()
            .into_iter()
            .find(|a| a.id == id && (tenant.is_none() || a.tenant == tenant))
        else {
            return Err(not_found(&format!("alarm {id}")));
        };
        let done = match silence {
            None => alarms.ack(id),
            Some(secs) => alarms.silence(id, secs),
        };
        if !done {
            return Err(not_found(&format!("alarm {id}")));
        }
        let (action, what) = match silence {
            None => ("alarm.ack", format!("alarm {id} bevestigd")),
            Some(secs) => ("alarm.silence", format!("alarm {id} stil voor {secs} s")),
        };
        self.audit(
            r.caller,
            action,
            alarm.tenant.as_deref(),
            what,
            None,
            silence.map(|s| serde_json::json!({ "secs": s })),
        )?;
        let after = alarms
            .list()
            .into_iter()
            .find(|a| a.id == id)
            .unwrap_or(alarm);
        ok(&crate::alarms::api_view(&after))
    }

    fn call_hangup(&self, r: &Req<'_>, id: &str) -> HResult {
        let sip = self.sip.get().ok_or_else(|| not_found("SIP-dienst"))?;
        // An organisation-scoped caller may only end its own calls.
        let tenant = self.scoped_tenant(r)?;
        let calls = sip
            .ask(|tx| crate::sip::Control::Calls(tenant.clone(), tx))
            .unwrap_or_default();
        let Some(call) = calls.into_iter().find(|c| c.id == id) else {
            return Err(not_found(&format!("gesprek {id}")));
        };
        if sip.ask(|tx| crate::sip::Control::Hangup(id.to_string(), tx)) != Some(true) {
            return Err(not_found(&format!("gesprek {id}")));
        }
        self.audit(
            r.caller,
            "call.hangup",
            Some(&call.tenant),
            format!("gesprek {id}"),
            public_json(&call),
            None,
        )?;
        ok(&call)
    }

    fn trace(&self, call_id: &str) -> HResult {
        let Some(handle) = self.sip.get() else {
            return Err(not_found(&format!("spoor {call_id}")));
        };
        let traces = handle.traces.lock().unwrap_or_else(|p| p.into_inner());
        let Some((entries, dropped)) = traces.get(call_id) else {
            return Err(not_found(&format!("spoor {call_id}")));
        };
        let messages = entries
            .iter()
            .map(|e| pbx_api::TraceMessage {
                time_ms: e.time_ms,
                way: if e.way == pbx_sip::trace::Way::In {
                    "in"
                } else {
                    "out"
                }
                .into(),
                transport: e.transport.into(),
                src: e.src.clone(),
                dst: e.dst.clone(),
                text: e.text.clone(),
            })
            .collect();
        ok(&pbx_api::TraceView {
            call_id: call_id.to_string(),
            dropped,
            messages,
        })
    }

    /// The wachtrijen live (`GET /v1/queue-status`, the queue alarms): of one organisation or
    /// all.
    pub(crate) fn queue_status(
        &self,
        tenant: Option<&str>,
    ) -> Result<Vec<pbx_api::QueueInfo>, ModelError> {
        let slugs: Vec<String> = match tenant {
            Some(t) => vec![t.to_string()],
            None => self
                .store
                .tenants()
                .map_err(store_err)?
                .into_iter()
                .map(|t| t.slug)
                .collect(),
        };
        let now = crate::sip::unix_ms();
        let mut out = Vec::new();
        let mut calls: Option<Vec<pbx_api::CallInfo>> = None;
        let mut agents: Option<Vec<pbx_api::AgentInfo>> = None;
        for slug in slugs {
            let queues = self.store.queues(&slug).map_err(store_err)?;
            if queues.is_empty() {
                continue;
            }
            // Asked once, and only when some organisation has queues.
            let calls = calls.get_or_insert_with(|| {
                self.sip
                    .get()
                    .and_then(|s| {
                        s.ask(|tx| crate::sip::Control::Calls(tenant.map(str::to_string), tx))
                    })
                    .unwrap_or_default()
            });
            let agents = agents.get_or_insert_with(|| {
                self.softphone
                    .get()
                    .map(|p| p.agents(tenant))
                    .unwrap_or_default()
            });
            let today = self
                .store
                .cdrs(&pbx_store::CdrFilter {
                    tenant: Some(slug.clone()),
                    from_ms: Some(pbx_model::history::Granularity::Dag.start(now)),
                    ..pbx_store::CdrFilter::default()
                })
                .map_err(store_err)?;
            out.extend(crate::queues::status(&queues, calls, agents, &today, now));
        }
        Ok(out)
    }

    fn cdr_list(&self, r: &Req<'_>) -> HResult {
        let afloop =
            match r.query.get("afloop") {
                None => None,
                Some(a) => Some(pbx_model::Afloop::parse(a).ok_or_else(|| {
                    ModelError::invalid(Msg::new("api.bad_afloop").arg("value", a))
                })?),
            };
        let num = |k: &str| r.query.get(k).and_then(|v| v.parse::<u64>().ok());
        let filter = pbx_store::CdrFilter {
            tenant: self.scoped_tenant(r)?,
            from_ms: num("from_ms"),
            to_ms: num("to_ms"),
            number: r.query.get("number").map(str::to_string),
            afloop,
            limit: r.query.num("limit", 0),
        };
        ok(&self.store.cdrs(&filter).map_err(store_err)?)
    }

    fn export(&self, r: &Req<'_>) -> HResult {
        self.beheerder(r)?;
        let secrets = r.query.flag("secrets");
        let mut out = Vec::new();
        self.store.export(secrets, &mut out).map_err(store_err)?;
        self.audit(
            r.caller,
            if secrets { "export.secrets" } else { "export" },
            None,
            "alles".into(),
            None,
            None,
        )?;
        Ok(Reply::Lines(out))
    }

    fn import(&self, r: &Req<'_>) -> HResult {
        self.beheerder(r)?;
        let _w = self.lock();
        let mut input = r.body;
        let summary = self.store.import(&mut input).map_err(store_err)?;
        let counts: std::collections::BTreeMap<String, u64> = serde_json::to_value(summary)
            .ok()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        self.audit(
            r.caller,
            "import",
            None,
            "alles".into(),
            None,
            public_json(&counts),
        )?;
        ok(&ImportResult { counts })
    }

    // ---- plan / apply

    fn plan(&self, r: &Req<'_>, apply: bool) -> HResult {
        self.beheerder(r)?;
        let req: pbx_api::ApplyRequest = parse(r.body)?;
        let _w = self.lock();
        let mut changes = Vec::new();
        let mut prepared = Vec::new();
        for spec in req.tenants {
            if let Some(f) = spec.bundle.first_error() {
                let mut e = f.error;
                e.msg = Msg::new("api.bundle_error")
                    .arg("place", spec.bundle.describe(&f.loc))
                    .arg("detail", e.msg.to_string());
                return Err(e);
            }
            let current = self
                .store
                .bundle(&spec.bundle.tenant.slug)
                .map_err(store_err)?;
            let target = self.declared_target(&spec, current.as_ref())?;
            let own = diff::changes(current.as_ref(), &target);
            if !own.is_empty() {
                changes.extend(own);
                prepared.push((target, current));
            }
        }
        if apply {
            for (target, current) in prepared {
                let slug = target.tenant.slug.clone();
                self.store.put_bundle(&target).map_err(store_err)?;
                let before = current.map(|b| public_bundle(&b));
                self.audit(
                    r.caller,
                    "apply",
                    Some(&slug),
                    format!("organisatie {slug}"),
                    before.as_ref().and_then(public_json),
                    public_json(&public_bundle(&target)),
                )?;
            }
        }
        ok(&Plan {
            changes,
            applied: apply,
        })
    }

    /// The bundle to store for a declared organisation: credentials not given in conf.d are kept
    /// from the store; trunk secrets given in conf.d are sealed (unchanged ones keep their seal).
    pub fn declared_target(
        &self,
        spec: &DeclaredSpec,
        current: Option<&TenantBundle>,
    ) -> Result<TenantBundle, ModelError> {
        let mut b = spec.bundle.clone();
        if let Some(cur) = current {
            for e in &mut b.extensions {
                if e.sip.is_none() {
                    e.sip = cur
                        .extensions
                        .iter()
                        .find(|x| x.number == e.number)
                        .and_then(|x| x.sip.clone());
                }
            }
            for u in &mut b.users {
                if let Some(old) = cur.users.iter().find(|x| x.username == u.username) {
                    if u.password_hash.is_none() {
                        u.password_hash = old.password_hash.clone();
                    }
                    if u.totp.is_none() {
                        u.totp = old.totp.clone();
                        u.totp_enabled = old.totp_enabled;
                    }
                }
            }
        }
        for tr in &mut b.trunks {
            let stored = current
                .and_then(|c| c.trunks.iter().find(|x| x.name == tr.name))
                .and_then(|x| x.auth.as_ref())
                .and_then(|a| a.secret.clone());
            if let Some(a) = tr.auth.as_mut() {
                a.secret = match spec.trunk_secrets.get(&tr.name) {
                    Some(plain) => match &stored {
                        Some(s)
                            if self.store.open_secret(s).ok().as_deref()
                                == Some(plain.as_str()) =>
                        {
                            Some(s.clone())
                        }
                        _ => Some(self.store.seal(plain)),
                    },
                    None => stored,
                };
            }
        }
        Ok(b)
    }
}

fn public_bundle(b: &TenantBundle) -> TenantBundle {
    TenantBundle {
        tenant: b.tenant.clone(),
        users: b.users.iter().map(User::public).collect(),
        extensions: b.extensions.iter().map(Extension::public).collect(),
        trunks: b.trunks.iter().map(Trunk::public).collect(),
        queues: b.queues.clone(),
        ring_groups: b.ring_groups.clone(),
        belplan: b.belplan.clone(),
    }
}

/// The error body for a model error, in `lang`.
pub fn api_error(e: &ModelError, lang: Lang) -> ApiError {
    ApiError {
        code: e.code,
        message: e.msg.render(lang),
        hint: e.hint.as_ref().map(|h| h.render(lang)),
    }
}
