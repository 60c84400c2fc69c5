//! Export to and import from JSON lines of [`ExportRecord`].

use crate::audit::META_AUDIT_SEQ;
use crate::codec::{check_name, contact_key, encode, key2, phone_key, u64_key, Tid};
use crate::contacts::index_value;
use crate::error::{Result, StoreError};
use crate::objects::contact_seq_key;
use crate::{Plan, Store};
use pbx_i18n::Msg;
use pbx_model::{
    AuditEntry, Belplan, Contact, ExportRecord, Extension, Queue, RingGroup, Tenant, Trunk, User,
    EXPORT_FORMAT,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, Write};

/// What an import wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportSummary {
    /// Organisations.
    pub tenants: usize,
    /// Users.
    pub users: usize,
    /// Extensions.
    pub extensions: usize,
    /// Trunks.
    pub trunks: usize,
    /// Queues.
    pub queues: usize,
    /// Belgroepen.
    pub ring_groups: usize,
    /// Contacts.
    pub contacts: usize,
    /// Call detail records.
    #[serde(default)]
    pub cdrs: usize,
    /// Audit entries.
    pub audit: usize,
}

fn write_line(out: &mut dyn Write, rec: &ExportRecord) -> Result<()> {
    let mut buf = serde_json::to_vec(rec).map_err(|e| StoreError::Encode(e.to_string()))?;
    buf.push(b'\n');
    out.write_all(&buf).map_err(StoreError::Write)
}

impl Store {
    /// Writes the whole store as JSON lines: the header, then per organisation its tenant,
    /// users, extensions, trunks, trunk secrets (only `with_secrets`, in plain text), queues,
    /// belgroepen, belplan and contacts; then the audit log. Without secrets, users carry no
    /// password hash or TOTP secret and extensions no HA1. Returns the number of lines.
    ///
    /// Writers wait while the export runs, so it is one consistent state; write to a file (as
    /// [`Store::snapshot`] does) rather than to a slow peer.
    pub fn export(&self, with_secrets: bool, out: &mut dyn Write) -> Result<u64> {
        let _guard = self.lock();
        let mut n: u64 = 0;
        let mut emit = |out: &mut dyn Write, rec: ExportRecord| -> Result<()> {
            write_line(out, &rec)?;
            n += 1;
            Ok(())
        };
        emit(
            out,
            ExportRecord::Header {
                format: EXPORT_FORMAT,
                version: env!("CARGO_PKG_VERSION").to_string(),
                secrets: with_secrets,
            },
        )?;
        for t in self.tenants()? {
            let slug = t.slug.clone();
            emit(out, ExportRecord::Tenant(t))?;
            for u in self.users(&slug)? {
                // The sealed TOTP secret never leaves: it only opens with this store's key.
                let sealed_totp = u.totp.clone();
                let user = if with_secrets {
                    User { totp: None, ..u }
                } else {
                    u.public()
                };
                let (tenant, name) = (user.tenant.clone(), user.username.clone());
                emit(out, ExportRecord::User(user))?;
                if let (true, Some(sealed)) = (with_secrets, sealed_totp) {
                    let secret = self.open_secret(&sealed)?;
                    emit(
                        out,
                        ExportRecord::TotpSecret {
                            tenant,
                            user: name,
                            secret,
                        },
                    )?;
                }
            }
            for e in self.extensions(&slug)? {
                emit(
                    out,
                    ExportRecord::Extension(if with_secrets { e } else { e.public() }),
                )?;
            }
            let trunks = self.trunks(&slug)?;
            for t in &trunks {
                emit(out, ExportRecord::Trunk(t.public()))?;
            }
            if with_secrets {
                for t in &trunks {
                    if let Some(sealed) = t.auth.as_ref().and_then(|a| a.secret.as_ref()) {
                        let secret = self.open_secret(sealed)?;
                        emit(
                            out,
                            ExportRecord::TrunkSecret {
                                tenant: slug.clone(),
                                trunk: t.name.clone(),
                                secret,
                            },
                        )?;
                    }
                }
            }
            for q in self.queues(&slug)? {
                emit(out, ExportRecord::Queue(q))?;
            }
            for g in self.ring_groups(&slug)? {
                emit(out, ExportRecord::RingGroup(g))?;
            }
            emit(
                out,
                ExportRecord::Belplan {
                    tenant: slug.clone(),
                    belplan: self.belplan(&slug)?,
                },
            )?;
            for kv in self
                .tree(Tid::Contacts)
                .scan_prefix(crate::codec::prefix(&slug))
            {
                let (k, v) = kv.map_err(|e| self.db_err(e))?;
                emit(
                    out,
                    ExportRecord::Contact(self.decode_at(Tid::Contacts, &k, &v)?),
                )?;
            }
            for kv in self
                .tree(Tid::Cdrs)
                .scan_prefix(crate::codec::prefix(&slug))
            {
                let (k, v) = kv.map_err(|e| self.db_err(e))?;
                emit(out, ExportRecord::Cdr(self.decode_at(Tid::Cdrs, &k, &v)?))?;
            }
        }
        for kv in self.tree(Tid::Audit).iter() {
            let (k, v) = kv.map_err(|e| self.db_err(e))?;
            emit(
                out,
                ExportRecord::Audit(self.decode_at(Tid::Audit, &k, &v)?),
            )?;
        }
        out.flush().map_err(StoreError::Write)?;
        Ok(n)
    }

    /// Is there no data at all (the meta tree aside)?
    fn is_empty(&self) -> bool {
        // Roll-ups are derived from calls (history), not data an export carries.
        Tid::ALL
            .iter()
            .filter(|t| !matches!(**t, Tid::Meta | Tid::Rollups))
            .all(|t| self.tree(*t).is_empty())
    }

    /// Reads an export into this store, which must be empty. Every line is checked first (JSON,
    /// header and format, order, duplicates, references to organisations and trunks); if one
    /// is bad, the error names its line and nothing is written. Trunk secrets are sealed with
    /// this store's key; contact ids and audit numbers are kept. One transaction, one flush.
    pub fn import(&self, input: &mut dyn BufRead) -> Result<ImportSummary> {
        if !self.is_empty() {
            return Err(StoreError::NotEmpty {
                dir: self.dir().to_path_buf(),
            });
        }
        let mut v = Checked::default();
        let mut buf = Vec::new();
        let mut no = 0usize;
        loop {
            buf.clear();
            let n = input
                .read_until(b'\n', &mut buf)
                .map_err(StoreError::Read)?;
            if n == 0 {
                break;
            }
            no += 1;
            let Ok(text) = std::str::from_utf8(&buf) else {
                return Err(line_err(Msg::new("store.import.utf8"), no));
            };
            let text = text.trim();
            if !text.is_empty() {
                v.line(no, text)?;
            }
        }
        if !v.header {
            return Err(StoreError::Import {
                msg: Msg::new("store.import.empty"),
            });
        }
        let (plan, summary) = v.into_plan(self)?;
        let generation = {
            let _guard = self.lock();
            if !self.is_empty() {
                return Err(StoreError::NotEmpty {
                    dir: self.dir().to_path_buf(),
                });
            }
            self.commit(plan)?
        };
        self.durable(generation)?;
        Ok(summary)
    }
}

fn line_err(msg: Msg, line: usize) -> StoreError {
    StoreError::Import {
        msg: msg.arg("line", line),
    }
}

/// The checked content of an import, in file order.
#[derive(Default)]
struct Checked {
    header: bool,
    tenants: Vec<Tenant>,
    slugs: HashSet<String>,
    users: Vec<User>,
    extensions: Vec<Extension>,
    trunks: Vec<Trunk>,
    secrets: HashMap<(String, String), String>,
    totp: HashMap<(String, String), String>,
    queues: Vec<Queue>,
    ring_groups: Vec<RingGroup>,
    belplans: BTreeMap<String, Belplan>,
    contacts: Vec<Contact>,
    cdrs: Vec<pbx_model::Cdr>,
    audit: Vec<AuditEntry>,
    /// (tree, slug, name) of every object, for duplicates.
    seen: HashSet<(Tid, String, String)>,
    contact_ids: HashSet<(String, u64)>,
    audit_seqs: HashSet<u64>,
}

impl Checked {
    fn line(&mut self, no: usize, text: &str) -> Result<()> {
        let err = |m: Msg| line_err(m, no);
        let rec: ExportRecord = serde_json::from_str(text)
            .map_err(|e| err(Msg::new("store.import.json").arg("detail", e)))?;
        if !self.header {
            return match rec {
                ExportRecord::Header { format, .. } if format == EXPORT_FORMAT => {
                    self.header = true;
                    Ok(())
                }
                ExportRecord::Header { format, .. } => Err(err(Msg::new("store.import.format")
                    .arg("found", format)
                    .arg("expected", EXPORT_FORMAT))),
                _ => Err(err(Msg::new("store.import.header_first"))),
            };
        }
        let name_ok = |s: &str| {
            check_name(s)
                .map_err(|_| err(Msg::new("store.import.bad_name").arg("value", s.escape_debug())))
        };
        let tenant_ok = |slugs: &HashSet<String>, s: &str| {
            name_ok(s)?;
            if slugs.contains(s) {
                Ok(())
            } else {
                Err(err(Msg::new("store.import.no_tenant").arg("tenant", s)))
            }
        };
        let mut once = |tree: Tid, slug: &str, name: &str, what: String| {
            if self.seen.insert((tree, slug.to_string(), name.to_string())) {
                Ok(())
            } else {
                Err(err(Msg::new("store.import.twice").arg("object", what)))
            }
        };
        match rec {
            ExportRecord::Header { .. } => return Err(err(Msg::new("store.import.header_twice"))),
            ExportRecord::Tenant(t) => {
                name_ok(&t.slug)?;
                if !self.slugs.insert(t.slug.clone()) {
                    return Err(err(
                        Msg::new("store.import.twice").arg("object", format!("tenant {}", t.slug))
                    ));
                }
                self.tenants.push(t);
            }
            ExportRecord::User(u) => {
                tenant_ok(&self.slugs, &u.tenant)?;
                name_ok(&u.username)?;
                if u.totp.is_some() {
                    return Err(err(
                        Msg::new("store.import.sealed_totp").arg("user", &u.username)
                    ));
                }
                once(
                    Tid::Users,
                    &u.tenant,
                    &u.username,
                    format!("user {}/{}", u.tenant, u.username),
                )?;
                self.users.push(u);
            }
            ExportRecord::Extension(e) => {
                tenant_ok(&self.slugs, &e.tenant)?;
                name_ok(&e.number)?;
                once(
                    Tid::Extensions,
                    &e.tenant,
                    &e.number,
                    format!("extension {}/{}", e.tenant, e.number),
                )?;
                self.extensions.push(e);
            }
            ExportRecord::Trunk(t) => {
                tenant_ok(&self.slugs, &t.tenant)?;
                name_ok(&t.name)?;
                if t.auth.as_ref().is_some_and(|a| a.secret.is_some()) {
                    return Err(err(Msg::new("store.import.sealed").arg("trunk", &t.name)));
                }
                once(
                    Tid::Trunks,
                    &t.tenant,
                    &t.name,
                    format!("trunk {}/{}", t.tenant, t.name),
                )?;
                self.trunks.push(t);
            }
            ExportRecord::TotpSecret {
                tenant,
                user,
                secret,
            } => {
                tenant_ok(&self.slugs, &tenant)?;
                if !self
                    .users
                    .iter()
                    .any(|u| u.tenant == tenant && u.username == user)
                {
                    return Err(err(
                        Msg::new("store.import.no_user").arg("user", format!("{tenant}/{user}"))
                    ));
                }
                if self
                    .totp
                    .insert((tenant.clone(), user.clone()), secret)
                    .is_some()
                {
                    return Err(err(Msg::new("store.import.twice")
                        .arg("object", format!("totp {tenant}/{user}"))));
                }
            }
            ExportRecord::TrunkSecret {
                tenant,
                trunk,
                secret,
            } => {
                tenant_ok(&self.slugs, &tenant)?;
                let Some(t) = self
                    .trunks
                    .iter()
                    .find(|t| t.tenant == tenant && t.name == trunk)
                else {
                    return Err(err(
                        Msg::new("store.import.no_trunk").arg("trunk", format!("{tenant}/{trunk}"))
                    ));
                };
                if t.auth.is_none() {
                    return Err(err(
                        Msg::new("store.import.no_auth").arg("trunk", format!("{tenant}/{trunk}"))
                    ));
                }
                if self
                    .secrets
                    .insert((tenant.clone(), trunk.clone()), secret)
                    .is_some()
                {
                    return Err(err(Msg::new("store.import.twice")
                        .arg("object", format!("trunk_secret {tenant}/{trunk}"))));
                }
            }
            ExportRecord::Queue(q) => {
                tenant_ok(&self.slugs, &q.tenant)?;
                name_ok(&q.number)?;
                once(
                    Tid::Queues,
                    &q.tenant,
                    &q.number,
                    format!("queue {}/{}", q.tenant, q.number),
                )?;
                self.queues.push(q);
            }
            ExportRecord::RingGroup(g) => {
                tenant_ok(&self.slugs, &g.tenant)?;
                name_ok(&g.number)?;
                once(
                    Tid::RingGroups,
                    &g.tenant,
                    &g.number,
                    format!("ring_group {}/{}", g.tenant, g.number),
                )?;
                self.ring_groups.push(g);
            }
            ExportRecord::Belplan { tenant, belplan } => {
                tenant_ok(&self.slugs, &tenant)?;
                if self.belplans.insert(tenant.clone(), belplan).is_some() {
                    return Err(err(
                        Msg::new("store.import.twice").arg("object", format!("belplan {tenant}"))
                    ));
                }
            }
            ExportRecord::Contact(c) => {
                tenant_ok(&self.slugs, &c.tenant)?;
                if c.id == 0 {
                    return Err(err(Msg::new("store.import.contact_id")));
                }
                if !self.contact_ids.insert((c.tenant.clone(), c.id)) {
                    return Err(err(Msg::new("store.import.twice")
                        .arg("object", format!("contact {}/{}", c.tenant, c.id))));
                }
                self.contacts.push(c);
            }
            ExportRecord::Cdr(c) => {
                tenant_ok(&self.slugs, &c.tenant)?;
                name_ok(&c.id)?;
                once(
                    Tid::Cdrs,
                    &c.tenant,
                    &c.id,
                    format!("cdr {}/{}", c.tenant, c.id),
                )?;
                self.cdrs.push(c);
            }
            ExportRecord::Audit(a) => {
                if a.seq == 0 {
                    return Err(err(Msg::new("store.import.audit_seq")));
                }
                if !self.audit_seqs.insert(a.seq) {
                    return Err(err(
                        Msg::new("store.import.twice").arg("object", format!("audit {}", a.seq))
                    ));
                }
                self.audit.push(a);
            }
        }
        Ok(())
    }

    /// The writes of the import, with trunk secrets sealed by `store`'s key.
    fn into_plan(self, store: &Store) -> Result<(Plan, ImportSummary)> {
        let summary = ImportSummary {
            tenants: self.tenants.len(),
            users: self.users.len(),
            extensions: self.extensions.len(),
            trunks: self.trunks.len(),
            queues: self.queues.len(),
            ring_groups: self.ring_groups.len(),
            contacts: self.contacts.len(),
            cdrs: self.cdrs.len(),
            audit: self.audit.len(),
        };
        let mut p = Plan::default();
        for c in &self.cdrs {
            p.put(Tid::Cdrs, crate::calls::cdr_key(c), encode(c)?);
        }
        for t in &self.tenants {
            p.put(Tid::Tenants, t.slug.as_bytes(), encode(t)?);
        }
        for mut u in self.users {
            if let Some(secret) = self.totp.get(&(u.tenant.clone(), u.username.clone())) {
                u.totp = Some(store.seal(secret));
            }
            p.put(Tid::Users, key2(&u.tenant, &u.username), encode(&u)?);
        }
        for e in &self.extensions {
            p.put(Tid::Extensions, key2(&e.tenant, &e.number), encode(e)?);
        }
        for mut t in self.trunks {
            if let (Some(a), Some(secret)) = (
                t.auth.as_mut(),
                self.secrets.get(&(t.tenant.clone(), t.name.clone())),
            ) {
                a.secret = Some(store.seal(secret));
            }
            p.put(Tid::Trunks, key2(&t.tenant, &t.name), encode(&t)?);
        }
        for q in &self.queues {
            p.put(Tid::Queues, key2(&q.tenant, &q.number), encode(q)?);
        }
        for g in &self.ring_groups {
            p.put(Tid::RingGroups, key2(&g.tenant, &g.number), encode(g)?);
        }
        for (slug, b) in &self.belplans {
            p.put(Tid::Belplans, slug.as_bytes(), encode(b)?);
        }
        let idx = index_value()?;
        let mut max_ids: HashMap<&str, u64> = HashMap::new();
        for c in &self.contacts {
            for ph in &c.phones {
                p.put(
                    Tid::Phones,
                    phone_key(&c.tenant, ph.as_str(), c.id),
                    idx.clone(),
                );
            }
            p.put(Tid::Contacts, contact_key(&c.tenant, c.id), encode(c)?);
            let m = max_ids.entry(c.tenant.as_str()).or_insert(0);
            *m = (*m).max(c.id);
        }
        for (slug, max) in max_ids {
            p.put(Tid::Meta, contact_seq_key(slug), encode(&max)?);
        }
        let mut max_seq = 0;
        for a in &self.audit {
            p.put(Tid::Audit, u64_key(a.seq), encode(a)?);
            max_seq = max_seq.max(a.seq);
        }
        if max_seq > 0 {
            p.put(Tid::Meta, META_AUDIT_SEQ, encode(&max_seq)?);
        }
        Ok((p, summary))
    }
}
