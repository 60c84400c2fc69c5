//! `tenants/*.toml`: one declarative organisation per file, converted into a
//! [`TenantBundle`] and checked with the model's own rules.

use crate::diag::Diagnostic;
use crate::doc::{self, Source, Span};
use crate::fsutil::{self, check_readable, mode, mode_text, resolve};
use pbx_i18n::Msg;
use pbx_model::belplan::{DateHours, Menu};
use pbx_model::secret::check_sip_password;
use pbx_model::tollfraud::TollFraud;
use pbx_model::{
    Action, Belplan, CallPermission, Codec, ErrorCode, Extension, Finding, Forwarding, IpNet,
    Limits, Member, ObjKind, Pattern, Queue, RecordingPolicy, RingGroup, RingStrategy, Role, Rule,
    RuleMatch, Schedule, Strategy, Tenant, TenantBundle, TenantStatus, TimeRange, Transport, Trunk,
    TrunkRegistration, User, UserState, E164,
};
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use toml::de::DeValue;
use toml::Spanned;

/// One organisation as declared in a file under `tenants/`.
///
/// The bundle's trunks carry no secret (`auth.secret` is `None`): the plain secrets are kept in
/// `trunk_secrets` only, for pbxd to seal with its key. `Debug` never shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct DeclaredTenant {
    /// The file it was declared in.
    pub file: PathBuf,
    /// The organisation and its objects; extension passwords are already HA1 digests.
    pub bundle: TenantBundle,
    /// Trunk name → plain secret.
    pub trunk_secrets: BTreeMap<String, String>,
}

impl fmt::Debug for DeclaredTenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.bundle;
        f.debug_struct("DeclaredTenant")
            .field("file", &self.file)
            .field("tenant", &b.tenant.slug)
            .field("users", &b.users.len())
            .field("extensions", &b.extensions.len())
            .field(
                "trunks",
                &b.trunks.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
            )
            .field("queues", &b.queues.len())
            .field("ring_groups", &b.ring_groups.len())
            .field("rules", &b.belplan.rules.len())
            .field(
                "trunk_secrets",
                &self
                    .trunk_secrets
                    .keys()
                    .map(|k| format!("{k}: …"))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

// ---- The file as written -------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantCfg {
    slug: Spanned<String>,
    name: String,
    #[serde(default)]
    domains: Vec<Spanned<String>>,
    #[serde(default)]
    limits: LimitsCfg,
    #[serde(default)]
    status: TenantStatus,
    #[serde(default)]
    recording: RecordingPolicy,
    retention_days: Option<u32>,
    #[serde(default)]
    toll_fraud: TollFraud,
    #[serde(default)]
    afcoderingen: Vec<pbx_model::tenant::Afcodering>,
    #[serde(default)]
    afrondtijd_s: u32,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsCfg {
    max_extensions: Option<u32>,
    max_calls: Option<u32>,
    max_outside_calls: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserCfg {
    username: String,
    name: String,
    email: Option<String>,
    role: Role,
    password_hash: Option<Spanned<String>>,
    permission: Option<Spanned<Vec<String>>>,
    state: Option<UserState>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExtensionCfg {
    number: String,
    name: String,
    owner: Option<String>,
    password: Option<Spanned<String>>,
    password_file: Option<Spanned<String>>,
    codecs: Option<Vec<Codec>>,
    forwarding: Option<ForwardingCfg>,
    recording: Option<RecordingPolicy>,
    max_registrations: Option<u8>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ForwardingCfg {
    always: Option<String>,
    busy: Option<String>,
    no_answer: Option<String>,
    no_answer_secs: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TrunkCfg {
    name: String,
    host: String,
    port: Option<u16>,
    transport: Option<Transport>,
    register: Option<Spanned<bool>>,
    username: Option<String>,
    secret: Option<Spanned<String>>,
    secret_file: Option<Spanned<String>>,
    expires: Option<u32>,
    #[serde(default)]
    allow: Vec<Spanned<String>>,
    #[serde(default)]
    dids: Vec<Spanned<String>>,
    caller_id: Option<Spanned<String>>,
    max_channels: Option<u32>,
    codecs: Option<Vec<Codec>>,
    priority: Option<u32>,
    enabled: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueCfg {
    number: String,
    name: String,
    strategy: Option<Strategy>,
    #[serde(default)]
    members: Vec<MemberCfg>,
    ring_timeout_secs: Option<u32>,
    max_wait_secs: Option<u32>,
    wrapup_secs: Option<u32>,
    overflow: Option<Spanned<ActionCfg>>,
    moh: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberCfg {
    user: String,
    #[serde(default)]
    penalty: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RingGroupCfg {
    number: String,
    name: String,
    strategy: Option<RingStrategy>,
    members: Vec<String>,
    timeout_secs: Option<u32>,
    fallback: Option<Spanned<ActionCfg>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleCfg {
    name: String,
    #[serde(default)]
    open: Vec<TimeRangeCfg>,
    #[serde(default)]
    closed_dates: Vec<String>,
    #[serde(default)]
    holidays: bool,
    #[serde(default)]
    extra_holidays: Vec<String>,
    #[serde(default)]
    exceptions: Vec<DateHoursCfg>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DateHoursCfg {
    date: String,
    from: String,
    to: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TimeRangeCfg {
    days: Vec<String>,
    from: String,
    to: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleCfg {
    name: Option<String>,
    #[serde(rename = "match", default)]
    matches: MatchCfg,
    action: Spanned<ActionCfg>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MatchCfg {
    pattern: Option<Spanned<String>>,
    did: Option<Spanned<String>>,
    schedule: Option<String>,
    #[serde(default)]
    closed: bool,
}

/// `action = { queue = "500" }`: exactly one of these.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionCfg {
    extension: Option<String>,
    queue: Option<String>,
    belgroep: Option<String>,
    trunks: Option<Vec<String>>,
    announcement: Option<String>,
    keuzemenu: Option<String>,
    hangup: Option<u16>,
}

/// The keys of a keuzemenu: only the twelve keys of a phone, so a typo is an unknown key.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChoicesCfg {
    #[serde(rename = "0")]
    k0: Option<Spanned<ActionCfg>>,
    #[serde(rename = "1")]
    k1: Option<Spanned<ActionCfg>>,
    #[serde(rename = "2")]
    k2: Option<Spanned<ActionCfg>>,
    #[serde(rename = "3")]
    k3: Option<Spanned<ActionCfg>>,
    #[serde(rename = "4")]
    k4: Option<Spanned<ActionCfg>>,
    #[serde(rename = "5")]
    k5: Option<Spanned<ActionCfg>>,
    #[serde(rename = "6")]
    k6: Option<Spanned<ActionCfg>>,
    #[serde(rename = "7")]
    k7: Option<Spanned<ActionCfg>>,
    #[serde(rename = "8")]
    k8: Option<Spanned<ActionCfg>>,
    #[serde(rename = "9")]
    k9: Option<Spanned<ActionCfg>>,
    #[serde(rename = "*")]
    star: Option<Spanned<ActionCfg>>,
    #[serde(rename = "#")]
    hash: Option<Spanned<ActionCfg>>,
}

impl ChoicesCfg {
    fn entries(&self) -> [(&'static str, &Option<Spanned<ActionCfg>>); 12] {
        [
            ("0", &self.k0),
            ("1", &self.k1),
            ("2", &self.k2),
            ("3", &self.k3),
            ("4", &self.k4),
            ("5", &self.k5),
            ("6", &self.k6),
            ("7", &self.k7),
            ("8", &self.k8),
            ("9", &self.k9),
            ("*", &self.star),
            ("#", &self.hash),
        ]
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MenuCfg {
    name: String,
    prompt: String,
    choices: ChoicesCfg,
    timeout_secs: Option<u32>,
    tries: Option<u32>,
    invalid_prompt: Option<String>,
    on_timeout: Option<Spanned<ActionCfg>>,
}

/// The lists of a tenant file, in the order of the file's sections.
const LISTS: [&str; 8] = [
    "user",
    "extension",
    "trunk",
    "queue",
    "ring_group",
    "schedule",
    "menu",
    "rule",
];
const TOP_KEYS: &str = "tenant, user, extension, trunk, queue, ring_group, schedule, menu, rule";

/// What the checks across files need of one tenant file.
pub(crate) struct TenantFacts {
    pub slug: String,
    pub slug_span: Span,
    pub domains: Vec<(String, Span)>,
    pub dids: Vec<(String, Span)>,
}

/// A tenant file, loaded as far as it goes.
pub(crate) struct TenantLoad {
    pub src: Source,
    pub facts: Option<TenantFacts>,
    pub declared: Option<DeclaredTenant>,
}

/// The config key(s) a model finding's field lives under.
fn config_keys(kind: ObjKind, field: &'static str) -> Vec<&'static str> {
    match (kind, field) {
        (ObjKind::Trunk, "auth") => {
            vec!["username", "secret", "secret_file", "expires", "register"]
        }
        _ => vec![field],
    }
}

fn code_of(f: &Finding) -> &'static str {
    match f.error.msg.key() {
        "bundle.shadowed" => "shadowed",
        "bundle.queue_empty" => "no_members",
        "bundle.trunk_open" => "open_trunk",
        _ => match f.error.code {
            ErrorCode::DanglingReference => "dangling_reference",
            ErrorCode::Conflict => "duplicate",
            ErrorCode::LimitExceeded => "limit",
            ErrorCode::WeakPassword => "weak_password",
            _ => "invalid",
        },
    }
}

fn is_argon2id_phc(h: &str) -> bool {
    // $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
    let parts: Vec<&str> = h.split('$').collect();
    parts.len() == 6
        && parts[0].is_empty()
        && parts[1] == "argon2id"
        && parts[2].starts_with("v=")
        && parts[3].contains("m=")
        && parts[3].contains("t=")
        && parts[3].contains("p=")
        && parts[4].len() >= 8
        && parts[5].len() >= 16
        && parts[4..].iter().all(|p| {
            p.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/')
        })
}

/// State while converting one file.
struct Conv<'a> {
    src: &'a Source,
    dir: PathBuf,
    /// Mode of the file itself, for the inline-secret check.
    file_mode: Option<u32>,
    inline_reported: bool,
    out: &'a mut Vec<Diagnostic>,
}

impl Conv<'_> {
    /// An inline `password`/`secret`: the file must not be readable by others.
    fn inline_secret(&mut self, span: &Span) {
        if self.inline_reported {
            return;
        }
        if let Some(m) = self.file_mode.filter(|m| m & 0o004 != 0) {
            self.inline_reported = true;
            let p = self.src.path.display().to_string();
            self.out.push(
                self.src
                    .error(
                        span,
                        "secret_permissions",
                        Msg::new("config.inline_secret_readable")
                            .arg("path", &p)
                            .arg("mode", mode_text(m)),
                    )
                    .with_hint(Msg::new("config.chmod.hint").arg("path", &p)),
            );
        }
    }

    /// Reads a `password_file`/`secret_file` (relative to the tenant file's folder).
    fn secret_file(&mut self, f: &Spanned<String>) -> Option<String> {
        let p = resolve(&self.dir, f.get_ref());
        if let Err(problem) = check_readable(&p) {
            self.out
                .push(self.src.error(&f.span(), "secret_file", problem.msg(&p)));
            return None;
        }
        if let Some(m) = mode(&p).filter(|m| m & 0o004 != 0) {
            self.out.push(
                self.src
                    .error(
                        &f.span(),
                        "secret_permissions",
                        Msg::new("config.world_readable")
                            .arg("path", p.display())
                            .arg("mode", mode_text(m)),
                    )
                    .with_hint(Msg::new("config.chmod.hint").arg("path", p.display())),
            );
        }
        let text = match std::fs::read_to_string(&p) {
            Ok(t) => t,
            Err(e) => {
                self.out.push(
                    self.src.error(
                        &f.span(),
                        "secret_file",
                        Msg::new("config.read_failed")
                            .arg("path", p.display())
                            .arg("detail", e),
                    ),
                );
                return None;
            }
        };
        let secret = text.trim_end_matches(['\n', '\r']).to_string();
        if secret.is_empty() {
            self.out.push(self.src.error(
                &f.span(),
                "secret_file",
                Msg::new("config.secret_empty").arg("path", p.display()),
            ));
            return None;
        }
        Some(secret)
    }

    /// `password` or `password_file` (or `secret`/`secret_file`): the plain value and its span.
    fn plain_or_file(
        &mut self,
        names: (&str, &str),
        inline: &Option<Spanned<String>>,
        file: &Option<Spanned<String>>,
    ) -> Option<(String, Span)> {
        match (inline, file) {
            (Some(_), Some(f)) => {
                self.out.push(
                    self.src.error(
                        &f.span(),
                        "invalid",
                        Msg::new("config.one_of")
                            .arg("a", names.0)
                            .arg("b", names.1),
                    ),
                );
                None
            }
            (Some(p), None) => {
                self.inline_secret(&p.span());
                if p.get_ref().is_empty() {
                    self.out.push(self.src.error(
                        &p.span(),
                        "invalid",
                        Msg::new("config.secret_blank").arg("key", names.0),
                    ));
                    return None;
                }
                Some((p.get_ref().clone(), p.span()))
            }
            (None, Some(f)) => self.secret_file(f).map(|s| (s, f.span())),
            (None, None) => None,
        }
    }

    fn action(&mut self, a: &Spanned<ActionCfg>) -> Option<Action> {
        let c = a.get_ref();
        let mut found = Vec::new();
        if let Some(v) = &c.extension {
            found.push(Action::Extension(v.clone()));
        }
        if let Some(v) = &c.queue {
            found.push(Action::Queue(v.clone()));
        }
        if let Some(v) = &c.belgroep {
            found.push(Action::Belgroep(v.clone()));
        }
        if let Some(v) = &c.trunks {
            found.push(Action::Trunks(v.clone()));
        }
        if let Some(v) = &c.announcement {
            found.push(Action::Announcement(v.clone()));
        }
        if let Some(v) = &c.keuzemenu {
            found.push(Action::Keuzemenu(v.clone()));
        }
        if let Some(v) = c.hangup {
            found.push(Action::Hangup(v));
        }
        if found.len() == 1 {
            found.pop()
        } else {
            self.out.push(
                self.src
                    .error(&a.span(), "invalid", Msg::new("config.action_one")),
            );
            None
        }
    }

    /// Parses with a model parser; a failure is reported at the value.
    fn parse<T>(
        &mut self,
        v: &Spanned<String>,
        f: impl Fn(&str) -> Result<T, pbx_model::ModelError>,
    ) -> Option<T> {
        match f(v.get_ref()) {
            Ok(t) => Some(t),
            Err(e) => {
                let mut d = self.src.error(&v.span(), "invalid", e.msg);
                d.hint = e.hint;
                self.out.push(d);
                None
            }
        }
    }
}

/// Loads one tenant file. Diagnostics go to `out`; `None` when the file could not be read.
pub(crate) fn load_tenant(path: &Path, out: &mut Vec<Diagnostic>) -> Option<TenantLoad> {
    let text = fsutil::read_text(path, out)?;
    let src = Source::new(path, text);
    let Some(doc) = src.parse(out) else {
        return Some(TenantLoad {
            src,
            facts: None,
            declared: None,
        });
    };
    let (facts, declared) = convert(&src, &doc, out);
    Some(TenantLoad {
        src,
        facts,
        declared,
    })
}

fn convert(
    src: &Source,
    doc: &Spanned<DeValue<'_>>,
    out: &mut Vec<Diagnostic>,
) -> (Option<TenantFacts>, Option<DeclaredTenant>) {
    // Top level: `[tenant]` and the `[[…]]` lists.
    let mut lists: BTreeMap<&str, Vec<&Spanned<DeValue<'_>>>> = BTreeMap::new();
    let mut tenant_value = None;
    if let DeValue::Table(root) = doc.get_ref() {
        for (k, v) in root.iter() {
            let key = k.get_ref().as_ref();
            if key == "tenant" {
                if matches!(v.get_ref(), DeValue::Table(_)) {
                    tenant_value = Some(v);
                } else {
                    out.push(
                        src.error(
                            &v.span(),
                            "type",
                            Msg::new("config.expect_table")
                                .arg("key", key)
                                .arg("found", src.snippet(&v.span())),
                        ),
                    );
                }
            } else if let Some(&name) = LISTS.iter().find(|n| **n == key) {
                match v.get_ref() {
                    DeValue::Array(a) => {
                        let mut elems = Vec::new();
                        for el in a.iter() {
                            if matches!(el.get_ref(), DeValue::Table(_)) {
                                elems.push(el);
                            } else {
                                out.push(
                                    src.error(
                                        &el.span(),
                                        "type",
                                        Msg::new("config.expect_table")
                                            .arg("key", key)
                                            .arg("found", src.snippet(&el.span())),
                                    ),
                                );
                            }
                        }
                        lists.insert(name, elems);
                    }
                    _ => out.push(
                        src.error(
                            &v.span(),
                            "type",
                            Msg::new("config.expect_table_array")
                                .arg("key", key)
                                .arg("found", key),
                        ),
                    ),
                }
            } else {
                out.push(
                    src.error(
                        &k.span(),
                        "unknown_key",
                        Msg::new("config.unknown_key")
                            .arg("key", key)
                            .arg("allowed", TOP_KEYS),
                    )
                    .with_hint(Msg::new("config.unknown_key.hint")),
                );
            }
        }
    }
    let elems = |name: &str| lists.get(name).cloned().unwrap_or_default();

    let tenant_cfg: Option<TenantCfg> = match tenant_value {
        Some(v) => doc::deserialize(src, v, "tenant", out),
        None => {
            out.push(src.error(&(0..0), "missing_key", Msg::new("config.no_tenant")));
            None
        }
    };
    let mut tenant = tenant_cfg.as_ref().map(|c| {
        let d = Limits::default();
        let mut t = Tenant::new(c.slug.get_ref(), &c.name);
        t.domains = c.domains.iter().map(|d| d.get_ref().clone()).collect();
        t.limits = Limits {
            max_extensions: c.limits.max_extensions.unwrap_or(d.max_extensions),
            max_calls: c.limits.max_calls.unwrap_or(d.max_calls),
            max_outside_calls: c.limits.max_outside_calls.unwrap_or(d.max_outside_calls),
        };
        t.status = c.status;
        t.recording = c.recording;
        if let Some(r) = c.retention_days {
            t.retention_days = r;
        }
        t.toll_fraud = c.toll_fraud;
        t.afcoderingen = c.afcoderingen.clone();
        t.afrondtijd_s = c.afrondtijd_s;
        t
    });
    let slug = tenant.as_ref().map(|t| t.slug.clone()).unwrap_or_default();
    let realm = tenant
        .as_ref()
        .map(|t| t.realm().to_string())
        .unwrap_or_default();

    let mut cv = Conv {
        src,
        dir: src.path.parent().map(Path::to_path_buf).unwrap_or_default(),
        file_mode: mode(&src.path),
        inline_reported: false,
        out,
    };

    // Users.
    let (mut users, mut user_idx) = (Vec::new(), Vec::new());
    for (i, el) in elems("user").into_iter().enumerate() {
        let Some(c) = doc::deserialize::<UserCfg>(src, el, "", cv.out) else {
            continue;
        };
        let mut permission = CallPermission::default();
        if let Some(p) = &c.permission {
            match CallPermission::try_from(p.get_ref().clone()) {
                Ok(perm) => permission = perm,
                Err(bad) => {
                    let span = doc::get(el, "permission")
                        .and_then(|v| doc::find_string(v, &[bad.as_str()]))
                        .unwrap_or(p.span());
                    cv.out.push(src.error(
                        &span,
                        "invalid",
                        Msg::new("permission.unknown").arg("value", &bad),
                    ));
                }
            }
        }
        if let Some(h) = &c.password_hash {
            if !is_argon2id_phc(h.get_ref()) {
                cv.out.push(
                    src.error(&h.span(), "invalid", Msg::new("config.password_hash"))
                        .with_hint(Msg::new("config.password_hash.hint")),
                );
            }
        }
        users.push(User {
            tenant: slug.clone(),
            username: c.username,
            name: c.name,
            email: c.email,
            role: c.role,
            password_hash: c.password_hash.map(|h| h.into_inner()),
            totp: None,
            totp_enabled: false,
            permission,
            state: c.state.unwrap_or_default(),
        });
        user_idx.push(i);
    }

    // Extensions.
    let (mut extensions, mut ext_idx) = (Vec::new(), Vec::new());
    for (i, el) in elems("extension").into_iter().enumerate() {
        let Some(c) = doc::deserialize::<ExtensionCfg>(src, el, "", cv.out) else {
            continue;
        };
        let mut e = Extension::new(&slug, &c.number, &c.name);
        e.owner = c.owner;
        if let Some(codecs) = c.codecs {
            e.codecs = codecs;
        }
        if let Some(f) = c.forwarding {
            e.forwarding = Forwarding {
                always: f.always,
                busy: f.busy,
                no_answer: f.no_answer,
                no_answer_secs: f.no_answer_secs.unwrap_or(e.forwarding.no_answer_secs),
            };
        }
        e.recording = c.recording;
        if let Some(m) = c.max_registrations {
            e.max_registrations = m;
        }
        if let Some((pw, span)) =
            cv.plain_or_file(("password", "password_file"), &c.password, &c.password_file)
        {
            if let Err(err) = check_sip_password(&pw, &c.number) {
                let mut d = src.error(&span, "weak_password", err.msg);
                d.hint = err.hint;
                cv.out.push(d);
            }
            e.set_password(&realm, &pw);
        }
        extensions.push(e);
        ext_idx.push(i);
    }

    // Trunks.
    let (mut trunks, mut trunk_idx) = (Vec::new(), Vec::new());
    let mut trunk_secrets = BTreeMap::new();
    let mut secret_declared = HashSet::new();
    let mut dids_facts = Vec::new();
    for (i, el) in elems("trunk").into_iter().enumerate() {
        let Some(c) = doc::deserialize::<TrunkCfg>(src, el, "", cv.out) else {
            continue;
        };
        let mut t = Trunk::new(&slug, &c.name, &c.host);
        if let Some(p) = c.port {
            t.port = p;
        }
        if let Some(tr) = c.transport {
            t.transport = tr;
        }
        t.allow = c
            .allow
            .iter()
            .filter_map(|a| cv.parse(a, IpNet::parse))
            .collect();
        for d in &c.dids {
            if let Some(n) = cv.parse(d, E164::parse) {
                dids_facts.push((n.as_str().to_string(), d.span()));
                t.dids.push(n);
            }
        }
        t.caller_id = c.caller_id.as_ref().and_then(|n| cv.parse(n, E164::parse));
        if let Some(m) = c.max_channels {
            t.max_channels = m;
        }
        if let Some(codecs) = c.codecs {
            t.codecs = codecs;
        }
        t.priority = c.priority.unwrap_or(0);
        t.enabled = c.enabled.unwrap_or(true);
        if c.secret.is_some() || c.secret_file.is_some() {
            secret_declared.insert(c.name.clone());
        }
        let secret = cv.plain_or_file(("secret", "secret_file"), &c.secret, &c.secret_file);
        match &c.username {
            Some(u) => {
                t.auth = Some(TrunkRegistration {
                    register: c.register.as_ref().is_none_or(|r| *r.get_ref()),
                    username: u.clone(),
                    secret: None,
                    expires: c.expires.unwrap_or(600),
                });
            }
            None => {
                if let Some(r) = c.register.as_ref().filter(|r| *r.get_ref()) {
                    cv.out.push(src.error(
                        &r.span(),
                        "invalid",
                        Msg::new("config.register_without_username").arg("trunk", &c.name),
                    ));
                } else if let Some(s) = c.secret.as_ref().or(c.secret_file.as_ref()) {
                    cv.out.push(src.error(
                        &s.span(),
                        "invalid",
                        Msg::new("config.secret_without_username").arg("trunk", &c.name),
                    ));
                }
            }
        }
        if let Some((s, _)) = secret {
            trunk_secrets.insert(c.name.clone(), s);
        }
        trunks.push(t);
        trunk_idx.push(i);
    }

    // Queues.
    let (mut queues, mut queue_idx) = (Vec::new(), Vec::new());
    for (i, el) in elems("queue").into_iter().enumerate() {
        let Some(c) = doc::deserialize::<QueueCfg>(src, el, "", cv.out) else {
            continue;
        };
        let mut q = Queue::new(&slug, &c.number, &c.name);
        q.strategy = c.strategy.unwrap_or_default();
        q.members = c
            .members
            .into_iter()
            .map(|m| Member {
                user: m.user,
                penalty: m.penalty,
            })
            .collect();
        if let Some(v) = c.ring_timeout_secs {
            q.ring_timeout_secs = v;
        }
        if let Some(v) = c.max_wait_secs {
            q.max_wait_secs = v;
        }
        if let Some(v) = c.wrapup_secs {
            q.wrapup_secs = v;
        }
        q.overflow = c.overflow.as_ref().and_then(|a| cv.action(a));
        if let Some(m) = c.moh {
            q.moh = m;
        }
        queues.push(q);
        queue_idx.push(i);
    }

    // Belgroepen.
    let (mut groups, mut group_idx) = (Vec::new(), Vec::new());
    for (i, el) in elems("ring_group").into_iter().enumerate() {
        let Some(c) = doc::deserialize::<RingGroupCfg>(src, el, "", cv.out) else {
            continue;
        };
        let fallback = c.fallback.as_ref().and_then(|a| cv.action(a));
        groups.push(RingGroup {
            tenant: slug.clone(),
            number: c.number,
            name: c.name,
            strategy: c.strategy.unwrap_or_default(),
            members: c.members,
            timeout_secs: c.timeout_secs.unwrap_or(20),
            fallback,
        });
        group_idx.push(i);
    }

    // Openingstijden.
    let (mut schedules, mut sched_idx) = (Vec::new(), Vec::new());
    for (i, el) in elems("schedule").into_iter().enumerate() {
        let Some(c) = doc::deserialize::<ScheduleCfg>(src, el, "", cv.out) else {
            continue;
        };
        schedules.push(Schedule {
            name: c.name,
            open: c
                .open
                .into_iter()
                .map(|r| TimeRange {
                    days: r.days,
                    from: r.from,
                    to: r.to,
                })
                .collect(),
            closed_dates: c.closed_dates,
            holidays: c.holidays,
            extra_holidays: c.extra_holidays,
            exceptions: c
                .exceptions
                .into_iter()
                .map(|x| DateHours {
                    date: x.date,
                    from: x.from,
                    to: x.to,
                })
                .collect(),
        });
        sched_idx.push(i);
    }

    // Keuzemenu's.
    let (mut menus, mut menu_idx) = (Vec::new(), Vec::new());
    for (i, el) in elems("menu").into_iter().enumerate() {
        let Some(c) = doc::deserialize::<MenuCfg>(src, el, "", cv.out) else {
            continue;
        };
        let mut m = Menu::new(&c.name, &c.prompt);
        for (key, a) in c.choices.entries() {
            if let Some(a) = a.as_ref().and_then(|a| cv.action(a)) {
                m.choices.insert(key.to_string(), a);
            }
        }
        if let Some(v) = c.timeout_secs {
            m.timeout_secs = v;
        }
        if let Some(v) = c.tries {
            m.tries = v;
        }
        if let Some(v) = c.invalid_prompt {
            m.invalid_prompt = v;
        }
        m.on_timeout = c.on_timeout.as_ref().and_then(|a| cv.action(a));
        menus.push(m);
        menu_idx.push(i);
    }

    // Belplan rules; a rule with a broken part is left out (it would match too much).
    let (mut rules, mut rule_idx) = (Vec::new(), Vec::new());
    for (i, el) in elems("rule").into_iter().enumerate() {
        let Some(c) = doc::deserialize::<RuleCfg>(src, el, "", cv.out) else {
            continue;
        };
        let before = cv.out.len();
        let pattern = c
            .matches
            .pattern
            .as_ref()
            .and_then(|p| cv.parse(p, Pattern::parse));
        let did = c
            .matches
            .did
            .as_ref()
            .and_then(|d| cv.parse(d, E164::parse));
        let action = cv.action(&c.action);
        let (Some(action), true) = (action, cv.out.len() == before) else {
            continue;
        };
        rules.push(Rule {
            name: c.name,
            matches: RuleMatch {
                pattern,
                did,
                schedule: c.matches.schedule,
                closed: c.matches.closed,
            },
            action,
        });
        rule_idx.push(i);
    }

    let Some(tenant) = tenant.take() else {
        return (None, None);
    };
    let Some(tc) = tenant_cfg else {
        return (None, None);
    };
    let bundle = TenantBundle {
        tenant,
        users,
        extensions,
        trunks,
        queues,
        ring_groups: groups,
        belplan: Belplan {
            rules,
            schedules,
            menus,
        },
    };

    // The model's own rules, placed at the object and field they name.
    let tenant_el = tenant_value.unwrap_or(doc);
    for f in bundle.findings() {
        if f.error.msg.key() == "trunk.secret_missing"
            && bundle
                .trunks
                .get(f.loc.index)
                .is_some_and(|t| secret_declared.contains(&t.name))
        {
            // Declared but unusable: already reported where it is declared.
            continue;
        }
        let (list, idx): (&str, &[usize]) = match f.loc.kind {
            ObjKind::Tenant => ("tenant", &[]),
            ObjKind::User => ("user", &user_idx),
            ObjKind::Extension => ("extension", &ext_idx),
            ObjKind::Trunk => ("trunk", &trunk_idx),
            ObjKind::Queue => ("queue", &queue_idx),
            ObjKind::RingGroup => ("ring_group", &group_idx),
            ObjKind::Rule => ("rule", &rule_idx),
            ObjKind::Schedule => ("schedule", &sched_idx),
            ObjKind::Menu => ("menu", &menu_idx),
        };
        let el = if list == "tenant" {
            Some(tenant_el)
        } else {
            idx.get(f.loc.index)
                .and_then(|i| lists.get(list).and_then(|l| l.get(*i)).copied())
        };
        let span = el.map(|el| finding_span(el, &f)).unwrap_or(0..0);
        let mut d = src.diag(f.severity, &span, code_of(&f), f.error.msg.clone());
        d.hint = f.error.hint.clone();
        cv.out.push(d);
    }

    let facts = TenantFacts {
        slug: bundle.tenant.slug.clone(),
        slug_span: tc.slug.span(),
        domains: tc
            .domains
            .iter()
            .map(|d| (d.get_ref().to_ascii_lowercase(), d.span()))
            .collect(),
        dids: dids_facts,
    };
    (
        Some(facts),
        Some(DeclaredTenant {
            file: crate::diag::absolute(&src.path),
            bundle,
            trunk_secrets,
        }),
    )
}

/// Where in an object's table a finding belongs: the field (or, for a reference or duplicate,
/// the very list element it names), else the object's header.
fn finding_span(el: &Spanned<DeValue<'_>>, f: &Finding) -> Span {
    let Some(field) = f.loc.field else {
        return el.span();
    };
    let refine = matches!(
        f.error.code,
        ErrorCode::DanglingReference | ErrorCode::Conflict
    );
    let args: Vec<&str> = f.error.msg.args().iter().map(|(_, v)| v.as_str()).collect();
    for key in config_keys(f.loc.kind, field) {
        if let Some(v) = doc::get(el, key) {
            if refine {
                if let Some(s) = doc::find_string(v, &args) {
                    return s;
                }
            }
            if let Some(s) = doc::entry_span(el, key) {
                return s;
            }
        }
    }
    el.span()
}
