//! pbxctl: provisioning and operation of pbxd over its control socket; `check` works offline.

mod cdr;
mod cli;
mod contacts;
mod report;

use clap::{CommandFactory, FromArgMatches};
use cli::*;
use pbx_api::{
    ExtensionCreate, ExtensionCreated, ExtensionPatch, MembersChange, Method, PasswordSet, Plan,
    Query, QueueSpec, Removed, Route, Status, TenantPatch, TenantSummary, TrunkSpec, UserCreate,
    UserPatch,
};
use pbx_cli::{exit, table};
use pbx_client::{Client, ClientError};
use pbx_i18n::{tr, Lang, Msg};
use pbx_model::{
    Action, AuditEntry, Belplan, Codec, Extension, Forwarding, Member, Queue, RecordingPolicy,
    Role, Strategy, Tenant, Transport, Trunk, User,
};
use serde::Serialize;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Writes to standard output; a reader that went away (`pbxctl … | head`) ends pbxctl quietly
/// instead of with a panic, as other Unix tools do.
fn write_out(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(exit::OK);
        }
        eprintln!("pbxctl: {e}");
        std::process::exit(exit::CANTCREAT);
    }
}

macro_rules! say {
    ($($t:tt)*) => { $crate::write_out(&format!($($t)*)) };
}

macro_rules! sayln {
    ($($t:tt)*) => { $crate::write_out(&(format!($($t)*) + "\n")) };
}

/// The clap definition, in Dutch.
pub fn command() -> clap::Command {
    pbx_cli::dutch(Cli::command())
}

/// What went wrong, with its exit code.
pub struct Failure {
    code: i32,
    message: String,
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Failure {
        // Rendered later in the right language; keep both here.
        Failure {
            code: e.exit_code(),
            message: String::new(),
        }
        .with_client(e)
    }
}

impl Failure {
    fn with_client(mut self, e: ClientError) -> Failure {
        self.message = e.message(LANG.with(|l| *l.borrow()));
        self
    }
    fn new(code: i32, message: String) -> Failure {
        Failure { code, message }
    }
}

thread_local! {
    static LANG: std::cell::RefCell<Lang> = const { std::cell::RefCell::new(Lang::Nl) };
}

pub type R<T = ()> = Result<T, Failure>;

fn main() {
    let pre = Lang::detect(
        std::env::args()
            .skip_while(|a| a != "--lang")
            .nth(1)
            .as_deref(),
    );
    let matches = match command().try_get_matches() {
        Ok(m) => m,
        Err(e) => std::process::exit(pbx_cli::report_parse_error(&e, "pbxctl", pre)),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => std::process::exit(pbx_cli::report_parse_error(&e, "pbxctl", pre)),
    };
    let lang = Lang::detect(cli.lang.as_deref());
    LANG.with(|l| *l.borrow_mut() = lang);
    if let Some(what) = cli.generate {
        let r = pbx_cli::generate(command(), what, "8", &cli.out, &[]);
        std::process::exit(if r.is_ok() { exit::OK } else { exit::CANTCREAT });
    }
    let Some(cmd) = cli.cmd.as_ref() else {
        let _ = command().print_help();
        std::process::exit(exit::USAGE);
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pbxctl: {e}");
            std::process::exit(exit::SOFTWARE);
        }
    };
    let ctx = Ctx {
        json: cli.json,
        lang,
        client: Client::new(socket_path(&cli), lang),
        config: config_dir(&cli),
    };
    let code = match rt.block_on(ctx.run(cmd)) {
        Ok(code) => code,
        Err(f) => {
            if !f.message.is_empty() {
                eprintln!("pbxctl: {}", f.message);
            }
            f.code
        }
    };
    std::process::exit(code);
}

fn config_dir(cli: &Cli) -> PathBuf {
    cli.config
        .clone()
        .unwrap_or_else(|| PathBuf::from("/etc/pbxd"))
}

/// The socket: `--socket`, else the one named in the config folder's pbxd.toml, else the default.
fn socket_path(cli: &Cli) -> PathBuf {
    if let Some(s) = &cli.socket {
        return s.clone();
    }
    if let Some(dir) = &cli.config {
        let (loaded, _) = pbx_config::load(dir);
        if let Some(c) = loaded {
            return c.daemon.control.socket;
        }
    }
    PathBuf::from(pbx_client::DEFAULT_SOCKET)
}

pub struct Ctx {
    pub json: bool,
    pub lang: Lang,
    client: Client,
    config: PathBuf,
}

fn read_stdin_line() -> R<String> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| Failure::new(exit::DATAERR, e.to_string()))?;
    Ok(s.trim_end_matches(['\n', '\r']).to_string())
}

fn usage(lang: Lang, m: Msg) -> Failure {
    Failure::new(exit::USAGE, m.render(lang))
}

fn codecs(lang: Lang, s: &Option<String>) -> R<Option<Vec<Codec>>> {
    match s {
        None => Ok(None),
        Some(s) => s
            .split(',')
            .map(|c| {
                Codec::parse(c.trim())
                    .ok_or_else(|| usage(lang, Msg::new("ctl.bad_codec").arg("value", c)))
            })
            .collect::<R<Vec<_>>>()
            .map(Some),
    }
}

fn recording(lang: Lang, s: &Option<String>) -> R<Option<RecordingPolicy>> {
    match s {
        None => Ok(None),
        Some(s) => RecordingPolicy::parse(s)
            .map(Some)
            .ok_or_else(|| usage(lang, Msg::new("ctl.bad_recording").arg("value", s))),
    }
}

/// `--afcodering code=Naam` (repeatable) as a list; `--afcodering ""` empties it.
fn afcoderingen(
    lang: Lang,
    v: &[String],
) -> Result<Option<Vec<pbx_model::tenant::Afcodering>>, Failure> {
    if v.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::new();
    for item in v.iter().filter(|x| !x.is_empty()) {
        let Some((code, naam)) = item.split_once('=') else {
            return Err(Failure::new(
                exit::USAGE,
                Msg::new("ctl.afcodering_form")
                    .arg("value", item)
                    .render(lang),
            ));
        };
        out.push(pbx_model::tenant::Afcodering {
            code: code.trim().to_string(),
            naam: naam.trim().to_string(),
        });
    }
    Ok(Some(out))
}

/// `aan`/`uit` (or `on`/`off`) of a switch.
fn on_off(lang: Lang, s: &Option<String>) -> R<Option<bool>> {
    match s.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => Ok(None),
        Some("aan" | "on" | "ja" | "yes") => Ok(Some(true)),
        Some("uit" | "off" | "nee" | "no") => Ok(Some(false)),
        Some(_) => Err(usage(
            lang,
            Msg::new("ctl.bad_switch").arg("value", s.as_deref().unwrap_or_default()),
        )),
    }
}

fn role(lang: Lang, s: &Option<String>) -> R<Option<Role>> {
    match s {
        None => Ok(None),
        Some(s) => Role::parse(s)
            .map(Some)
            .ok_or_else(|| usage(lang, Msg::new("ctl.bad_role").arg("value", s))),
    }
}

fn permission(s: &Option<String>) -> Option<Vec<String>> {
    s.as_ref().map(|p| {
        p.split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect()
    })
}

/// Parses `extension:1001`, `queue:500`, `belgroep:600`, `announcement:gesloten`, `hangup:486`,
/// `trunks:a,b`.
fn action(lang: Lang, s: &str) -> R<Action> {
    let bad = || usage(lang, Msg::new("ctl.bad_action").arg("value", s));
    let (kind, val) = s.split_once(':').ok_or_else(bad)?;
    Ok(match kind {
        "extension" | "extensie" => Action::Extension(val.into()),
        "queue" | "wachtrij" => Action::Queue(val.into()),
        "belgroep" | "ring_group" => Action::Belgroep(val.into()),
        "announcement" | "aankondiging" => Action::Announcement(val.into()),
        "keuzemenu" | "menu" => Action::Keuzemenu(val.into()),
        "hangup" | "ophangen" => Action::Hangup(val.parse().map_err(|_| bad())?),
        "trunks" => Action::Trunks(val.split(',').map(String::from).collect()),
        _ => return Err(bad()),
    })
}

fn yn(b: bool, lang: Lang) -> String {
    tr(lang, if b { "word.yes" } else { "word.no" })
}

impl Ctx {
    pub fn h(&self, keys: &[&'static str]) -> Vec<String> {
        keys.iter().map(|k| tr(self.lang, k)).collect()
    }

    fn print_json<T: Serialize>(&self, v: &T) {
        sayln!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    }

    /// Prints JSON, or the table/text `human` makes.
    pub fn out<T: Serialize>(&self, v: &T, human: impl FnOnce(&T) -> String) -> R<i32> {
        if self.json {
            self.print_json(v);
        } else {
            say!("{}", human(v));
        }
        Ok(exit::OK)
    }

    pub async fn get<T: serde::de::DeserializeOwned>(
        &self,
        route: Route,
        q: &[(&str, &str)],
    ) -> R<T> {
        Ok(self
            .client
            .get(&format!("{}{}", route.path(), Query::encode(q)))
            .await?)
    }

    pub async fn send<B: Serialize, T: serde::de::DeserializeOwned>(
        &self,
        m: Method,
        route: Route,
        q: &[(&str, &str)],
        body: Option<&B>,
    ) -> R<T> {
        Ok(self
            .client
            .call(m, &format!("{}{}", route.path(), Query::encode(q)), body)
            .await?)
    }

    fn removal_q(r: &Removal) -> Vec<(&'static str, &'static str)> {
        let mut q = Vec::new();
        if r.dry_run {
            q.push(("dry_run", "true"));
        }
        if r.force {
            q.push(("force", "true"));
        }
        q
    }

    /// `… remove` of any object: DELETE with `--dry-run` / `--force`, then what went.
    async fn remove(&self, route: Route, removal: &Removal) -> R<i32> {
        let r: Removed = self
            .send::<(), _>(Method::Delete, route, &Self::removal_q(removal), None)
            .await?;
        self.removed(r)
    }

    fn removed(&self, r: Removed) -> R<i32> {
        self.out(&r, |r| {
            let key = if r.dry_run {
                "ctl.would_remove"
            } else {
                "ctl.removed"
            };
            let mut s = format!("{}\n", tr(self.lang, key));
            for x in &r.removed {
                s.push_str(&format!("  {x}\n"));
            }
            s
        })
    }

    async fn run(&self, cmd: &Cmd) -> R<i32> {
        match cmd {
            Cmd::Tenant(c) => self.tenant(c).await,
            Cmd::User(c) => self.user(c).await,
            Cmd::Extension(c) => self.extension(c).await,
            Cmd::Trunk(c) => self.trunk(c).await,
            Cmd::Queue(c) => self.queue(c).await,
            Cmd::Belplan(c) => self.belplan(c).await,
            Cmd::Contact(c) => contacts::run(self, c).await,
            Cmd::Registrations { tenant } => self.registrations(tenant.as_deref()).await,
            Cmd::Calls { tenant } => self.calls(tenant.as_deref()).await,
            Cmd::Call(CallCmd::Hangup { id }) => {
                let c: pbx_api::CallInfo = self
                    .send::<(), _>(Method::Post, Route::CallHangup(id.clone()), &[], None)
                    .await?;
                self.out(&c, |c| {
                    Msg::new("ctl.call_hung_up")
                        .arg("id", &c.id)
                        .arg("caller", &c.caller.number)
                        .arg("callee", &c.callee.number)
                        .render(self.lang)
                        + "\n"
                })
            }
            Cmd::Cdr(c) => cdr::run(self, c).await,
            Cmd::Alarm(a) => self.alarm(a).await,
            Cmd::History {
                per,
                tenant,
                trunk,
                from,
                to,
            } => {
                self.history(per, tenant.as_deref(), trunk.as_deref(), from, to)
                    .await
            }
            Cmd::Report(a) => report::run(self, a).await,
            Cmd::Trace {
                call_id,
                ladder_only,
            } => {
                let t: pbx_api::TraceView = self.get(Route::Trace(call_id.clone()), &[]).await?;
                self.out(&t, |t| {
                    let mut s = pbx_api::ladder::ladder(&t.messages);
                    if t.dropped > 0 {
                        s.push_str(
                            &Msg::new("ctl.trace_dropped")
                                .arg("count", t.dropped)
                                .render(self.lang),
                        );
                        s.push('\n');
                    }
                    if !*ladder_only {
                        for m in &t.messages {
                            s.push_str(&format!(
                                "\n── {} {} {} → {} ({})\n",
                                cdr::local_time(m.time_ms),
                                m.way,
                                m.src,
                                m.dst,
                                m.transport
                            ));
                            s.push_str(m.text.trim_end());
                            s.push('\n');
                        }
                    }
                    s
                })
            }
            Cmd::Check(a) => self.check(a),
            Cmd::Plan(a) => self.plan(a, false).await,
            Cmd::Apply(a) => self.plan(a, true).await,
            Cmd::Export(a) => self.export(a).await,
            Cmd::Import(a) => self.import(a).await,
            Cmd::Audit(a) => self.audit(a).await,
            Cmd::Status => self.status().await,
            Cmd::Reload => {
                let r: pbx_api::ReloadResult = self
                    .send::<(), _>(Method::Post, Route::Reload, &[], None)
                    .await?;
                let ok = r.ok;
                self.out(&r, |r| {
                    if r.ok {
                        let mut s = format!("{}\n", tr(self.lang, "ctl.reloaded"));
                        for t in &r.seeded {
                            s.push_str(&format!(
                                "{}\n",
                                Msg::new("ctl.seeded").arg("tenant", t).render(self.lang)
                            ));
                        }
                        s
                    } else {
                        format!(
                            "{}\n{}\n",
                            tr(self.lang, "ctl.reload_refused"),
                            r.errors.join("\n")
                        )
                    }
                })?;
                Ok(if ok { exit::OK } else { exit::DATAERR })
            }
            Cmd::Api(a) => self.api(a).await,
        }
    }

    // ---- tenants

    fn tenant_table(&self, list: &[TenantSummary]) -> String {
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|t| {
                vec![
                    t.tenant.slug.clone(),
                    t.tenant.name.clone(),
                    t.tenant.domains.join(","),
                    format!("{}/{}", t.extensions, t.tenant.limits.max_extensions),
                    t.users.to_string(),
                    t.trunks.to_string(),
                    tr(
                        self.lang,
                        if t.tenant.status == pbx_model::TenantStatus::Active {
                            "word.active"
                        } else {
                            "word.suspended"
                        },
                    ),
                ]
            })
            .collect();
        table(
            &self.h(&[
                "col.tenant",
                "col.name",
                "col.domains",
                "col.extensions",
                "col.users",
                "col.trunks",
                "col.status",
            ]),
            &rows,
        )
    }

    fn tenant_detail(&self, t: &TenantSummary) -> String {
        let l = self.lang;
        let x = &t.tenant;
        let rows = vec![
            vec![tr(l, "col.tenant"), x.slug.clone()],
            vec![tr(l, "col.name"), x.name.clone()],
            vec![tr(l, "col.domains"), x.domains.join(", ")],
            vec![
                tr(l, "col.status"),
                tr(
                    l,
                    if x.status == pbx_model::TenantStatus::Active {
                        "word.active"
                    } else {
                        "word.suspended"
                    },
                ),
            ],
            vec![
                tr(l, "col.extensions"),
                format!("{} / max. {}", t.extensions, x.limits.max_extensions),
            ],
            vec![tr(l, "col.max_calls"), x.limits.max_calls.to_string()],
            vec![
                tr(l, "col.max_outside_calls"),
                x.limits.max_outside_calls.to_string(),
            ],
            vec![
                tr(l, "col.international"),
                tr(
                    l,
                    if x.toll_fraud.international {
                        "word.allowed"
                    } else {
                        "word.blocked"
                    },
                ),
            ],
            vec![
                tr(l, "col.betaalnummers"),
                tr(
                    l,
                    if x.toll_fraud.betaalnummers {
                        "word.allowed"
                    } else {
                        "word.blocked"
                    },
                ),
            ],
            vec![
                tr(l, "col.max_international_per_hour"),
                x.toll_fraud.max_international_per_hour.to_string(),
            ],
            vec![
                tr(l, "col.max_betaalnummers_per_hour"),
                x.toll_fraud.max_betaalnummers_per_hour.to_string(),
            ],
            vec![
                tr(l, "col.max_call_secs"),
                x.toll_fraud.max_call_secs.to_string(),
            ],
            vec![tr(l, "col.users"), t.users.to_string()],
            vec![tr(l, "col.trunks"), t.trunks.to_string()],
            vec![tr(l, "col.queues"), t.queues.to_string()],
            vec![
                tr(l, "col.recording"),
                format!("{:?}", x.recording).to_lowercase(),
            ],
            vec![tr(l, "col.retention"), x.retention_days.to_string()],
        ];
        let mut s = String::new();
        for r in rows {
            s.push_str(&format!("{:<28}{}\n", format!("{}:", r[0]), r[1]));
        }
        s
    }

    fn tenant_patch(&self, o: &TenantOpts) -> R<TenantPatch> {
        Ok(TenantPatch {
            name: o.name.clone(),
            domains: if o.domains.is_empty() {
                None
            } else {
                Some(o.domains.clone())
            },
            max_extensions: o.max_extensions,
            max_calls: o.max_calls,
            max_outside_calls: o.max_outside_calls,
            status: None,
            recording: recording(self.lang, &o.recording)?,
            retention_days: o.retention_days,
            international: on_off(self.lang, &o.international)?,
            betaalnummers: on_off(self.lang, &o.betaalnummers)?,
            max_international_per_hour: o.max_international_per_hour,
            max_betaalnummers_per_hour: o.max_betaalnummers_per_hour,
            max_call_secs: o.max_call_secs,
            afcoderingen: afcoderingen(self.lang, &o.afcoderingen)?,
            afrondtijd_s: o.afrondtijd,
        })
    }

    async fn tenant(&self, c: &TenantCmd) -> R<i32> {
        match c {
            TenantCmd::Add { slug, opts } => {
                let mut t = Tenant::new(slug, opts.name.as_deref().unwrap_or(slug));
                t.domains = opts.domains.clone();
                if let Some(v) = opts.max_extensions {
                    t.limits.max_extensions = v;
                }
                if let Some(v) = opts.max_calls {
                    t.limits.max_calls = v;
                }
                if let Some(v) = opts.max_outside_calls {
                    t.limits.max_outside_calls = v;
                }
                if let Some(v) = recording(self.lang, &opts.recording)? {
                    t.recording = v;
                }
                if let Some(v) = opts.retention_days {
                    t.retention_days = v;
                }
                let tf = &mut t.toll_fraud;
                if let Some(v) = on_off(self.lang, &opts.international)? {
                    tf.international = v;
                }
                if let Some(v) = on_off(self.lang, &opts.betaalnummers)? {
                    tf.betaalnummers = v;
                }
                if let Some(v) = opts.max_international_per_hour {
                    tf.max_international_per_hour = v;
                }
                if let Some(v) = opts.max_betaalnummers_per_hour {
                    tf.max_betaalnummers_per_hour = v;
                }
                if let Some(v) = opts.max_call_secs {
                    tf.max_call_secs = v;
                }
                if let Some(v) = afcoderingen(self.lang, &opts.afcoderingen)? {
                    t.afcoderingen = v;
                }
                if let Some(v) = opts.afrondtijd {
                    t.afrondtijd_s = v;
                }
                let s: TenantSummary = self
                    .send(Method::Post, Route::Tenants, &[], Some(&t))
                    .await?;
                self.out(&s, |s| {
                    Msg::new("ctl.tenant_added")
                        .arg("tenant", &s.tenant.slug)
                        .render(self.lang)
                        + "\n"
                })
            }
            TenantCmd::List => {
                let l: Vec<TenantSummary> = self.get(Route::Tenants, &[]).await?;
                self.out(&l, |l| self.tenant_table(l))
            }
            TenantCmd::TollFraud { slug } => {
                let q: Vec<(&str, &str)> = slug
                    .as_deref()
                    .map(|t| vec![("tenant", t)])
                    .unwrap_or_default();
                let v: Vec<pbx_api::TollFraudCounters> = self.get(Route::TollFraud, &q).await?;
                self.out(&v, |v| {
                    let of = |used: u32, max: u32| format!("{used}/{max}");
                    let rows: Vec<Vec<String>> = v
                        .iter()
                        .map(|c| {
                            vec![
                                c.tenant.clone(),
                                of(c.outside_calls, c.max_outside_calls),
                                c.emergency_calls.to_string(),
                                of(c.international_last_hour, c.max_international_per_hour),
                                of(c.betaalnummers_last_hour, c.max_betaalnummers_per_hour),
                                c.blocked.values().sum::<u64>().to_string(),
                            ]
                        })
                        .collect();
                    table(
                        &self.h(&[
                            "col.tenant",
                            "col.outside_calls",
                            "col.emergency",
                            "col.international_hour",
                            "col.premium_hour",
                            "col.blocked",
                        ]),
                        &rows,
                    )
                })
            }
            TenantCmd::Show { slug } => {
                let t: TenantSummary = self.get(Route::Tenant(slug.clone()), &[]).await?;
                self.out(&t, |t| self.tenant_detail(t))
            }
            TenantCmd::Set { slug, opts } => {
                let p = self.tenant_patch(opts)?;
                let t: TenantSummary = self
                    .send(Method::Patch, Route::Tenant(slug.clone()), &[], Some(&p))
                    .await?;
                self.out(&t, |t| self.tenant_detail(t))
            }
            TenantCmd::Suspend { slug } => {
                let t: TenantSummary = self
                    .send::<(), _>(Method::Post, Route::TenantSuspend(slug.clone()), &[], None)
                    .await?;
                self.out(&t, |t| {
                    Msg::new("ctl.tenant_suspended")
                        .arg("tenant", &t.tenant.slug)
                        .render(self.lang)
                        + "\n"
                })
            }
            TenantCmd::Resume { slug } => {
                let t: TenantSummary = self
                    .send::<(), _>(Method::Post, Route::TenantResume(slug.clone()), &[], None)
                    .await?;
                self.out(&t, |t| {
                    Msg::new("ctl.tenant_resumed")
                        .arg("tenant", &t.tenant.slug)
                        .render(self.lang)
                        + "\n"
                })
            }
            TenantCmd::Remove { slug, removal } => {
                self.remove(Route::Tenant(slug.clone()), removal).await
            }
        }
    }

    // ---- users

    fn user_table(&self, l: &[User]) -> String {
        let rows: Vec<Vec<String>> = l
            .iter()
            .map(|u| {
                vec![
                    u.username.clone(),
                    u.name.clone(),
                    u.role.as_str().to_string(),
                    u.permission.to_string(),
                    tr(
                        self.lang,
                        if u.state == pbx_model::UserState::Active {
                            "word.active"
                        } else {
                            "word.locked"
                        },
                    ),
                    yn(u.totp_enabled, self.lang),
                ]
            })
            .collect();
        table(
            &self.h(&[
                "col.username",
                "col.name",
                "col.role",
                "col.permission",
                "col.status",
                "col.totp",
            ]),
            &rows,
        )
    }

    async fn user(&self, c: &UserCmd) -> R<i32> {
        let l = self.lang;
        match c {
            UserCmd::Add {
                tenant,
                username,
                opts,
                password_stdin,
            } => {
                let password = if *password_stdin {
                    Some(read_stdin_line()?)
                } else {
                    None
                };
                let body = UserCreate {
                    username: username.clone(),
                    name: opts.name.clone().unwrap_or_else(|| username.clone()),
                    email: opts.email.clone(),
                    role: role(l, &opts.role)?.unwrap_or(Role::Agent),
                    password,
                    permission: permission(&opts.permission),
                };
                let u: User = self
                    .send(Method::Post, Route::Users(tenant.clone()), &[], Some(&body))
                    .await?;
                self.out(&u, |u| {
                    Msg::new("ctl.user_added")
                        .arg("user", &u.username)
                        .arg("tenant", &u.tenant)
                        .render(l)
                        + "\n"
                })
            }
            UserCmd::List { tenant } => {
                let v: Vec<User> = self.get(Route::Users(tenant.clone()), &[]).await?;
                self.out(&v, |v| self.user_table(v))
            }
            UserCmd::Set {
                tenant,
                username,
                opts,
            } => {
                let p = UserPatch {
                    name: opts.name.clone(),
                    email: opts.email.clone(),
                    role: role(l, &opts.role)?,
                    permission: permission(&opts.permission),
                    state: None,
                };
                let u: User = self
                    .send(
                        Method::Patch,
                        Route::User(tenant.clone(), username.clone()),
                        &[],
                        Some(&p),
                    )
                    .await?;
                self.out(&u, |u| self.user_table(std::slice::from_ref(u)))
            }
            UserCmd::Passwd { tenant, username } => {
                let p = PasswordSet {
                    password: Some(read_stdin_line()?),
                };
                let u: User = self
                    .send(
                        Method::Post,
                        Route::UserPassword(tenant.clone(), username.clone()),
                        &[],
                        Some(&p),
                    )
                    .await?;
                self.out(&u, |u| {
                    Msg::new("ctl.password_set")
                        .arg("user", &u.username)
                        .render(l)
                        + "\n"
                })
            }
            UserCmd::Totp {
                tenant,
                username,
                disable,
            } => {
                let body = pbx_api::TotpSet { enable: !*disable };
                let r: pbx_api::TotpEnabled = self
                    .send(
                        Method::Post,
                        Route::UserTotp(tenant.clone(), username.clone()),
                        &[],
                        Some(&body),
                    )
                    .await?;
                self.out(&r, |r| match (&r.secret, &r.uri) {
                    (Some(secret), Some(uri)) => {
                        Msg::new("ctl.totp_on")
                            .arg("user", &r.user.username)
                            .arg("secret", secret)
                            .arg("uri", uri)
                            .render(l)
                            + "\n"
                    }
                    _ => {
                        Msg::new("ctl.totp_off")
                            .arg("user", &r.user.username)
                            .render(l)
                            + "\n"
                    }
                })
            }
            UserCmd::Lock { tenant, username } => {
                let u: User = self
                    .send::<(), _>(
                        Method::Post,
                        Route::UserLock(tenant.clone(), username.clone()),
                        &[],
                        None,
                    )
                    .await?;
                self.out(&u, |u| self.user_table(std::slice::from_ref(u)))
            }
            UserCmd::Unlock { tenant, username } => {
                let u: User = self
                    .send::<(), _>(
                        Method::Post,
                        Route::UserUnlock(tenant.clone(), username.clone()),
                        &[],
                        None,
                    )
                    .await?;
                self.out(&u, |u| self.user_table(std::slice::from_ref(u)))
            }
            UserCmd::Remove {
                tenant,
                username,
                removal,
            } => {
                self.remove(Route::User(tenant.clone(), username.clone()), removal)
                    .await
            }
        }
    }

    // ---- extensions

    fn ext_table(&self, l: &[Extension]) -> String {
        let rows: Vec<Vec<String>> = l
            .iter()
            .map(|e| {
                let fwd: Vec<String> = e
                    .forwarding
                    .targets()
                    .map(|(k, v)| {
                        format!(
                            "{}→{v}",
                            tr(
                                self.lang,
                                match k {
                                    "always" => "word.fwd_always",
                                    "busy" => "word.fwd_busy",
                                    _ => "word.fwd_no_answer",
                                }
                            )
                        )
                    })
                    .collect();
                vec![
                    e.number.clone(),
                    e.name.clone(),
                    e.owner.clone().unwrap_or_default(),
                    e.codecs
                        .iter()
                        .map(|c| c.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                    e.max_registrations.to_string(),
                    fwd.join(" "),
                ]
            })
            .collect();
        table(
            &self.h(&[
                "col.number",
                "col.name",
                "col.owner",
                "col.codecs",
                "col.max_reg",
                "col.forwarding",
            ]),
            &rows,
        )
    }

    fn forwarding_patch(
        &self,
        o: &ExtensionOpts,
        current: Option<&Forwarding>,
    ) -> Option<Forwarding> {
        if o.forward_always.is_none()
            && o.forward_busy.is_none()
            && o.forward_no_answer.is_none()
            && o.no_answer_secs.is_none()
        {
            return None;
        }
        let mut f = current.cloned().unwrap_or(Forwarding {
            no_answer_secs: 20,
            ..Forwarding::default()
        });
        let set = |v: &Option<String>, slot: &mut Option<String>| {
            if let Some(v) = v {
                *slot = Some(v.clone()).filter(|s| !s.is_empty());
            }
        };
        set(&o.forward_always, &mut f.always);
        set(&o.forward_busy, &mut f.busy);
        set(&o.forward_no_answer, &mut f.no_answer);
        if let Some(s) = o.no_answer_secs {
            f.no_answer_secs = s;
        }
        Some(f)
    }

    fn created(&self, c: &ExtensionCreated, key: &'static str) -> R<i32> {
        self.out(c, |c| {
            let mut s = Msg::new(key)
                .arg("number", &c.extension.number)
                .arg("tenant", &c.extension.tenant)
                .render(self.lang)
                + "\n";
            if let Some(p) = &c.password {
                s.push_str(
                    &Msg::new("ctl.password_once")
                        .arg("password", p)
                        .render(self.lang),
                );
                s.push('\n');
            }
            s
        })
    }

    async fn extension(&self, c: &ExtensionCmd) -> R<i32> {
        let l = self.lang;
        match c {
            ExtensionCmd::Add {
                tenant,
                number,
                opts,
                password_stdin,
            } => {
                let password = if *password_stdin {
                    Some(read_stdin_line()?)
                } else {
                    None
                };
                let body = ExtensionCreate {
                    number: number.clone(),
                    name: opts.name.clone().unwrap_or_else(|| number.clone()),
                    owner: opts.owner.clone(),
                    password,
                    codecs: codecs(l, &opts.codecs)?,
                    forwarding: self.forwarding_patch(opts, None),
                    recording: recording(l, &opts.recording)?,
                    max_registrations: opts.max_registrations,
                };
                let c: ExtensionCreated = self
                    .send(
                        Method::Post,
                        Route::Extensions(tenant.clone()),
                        &[],
                        Some(&body),
                    )
                    .await?;
                self.created(&c, "ctl.extension_added")
            }
            ExtensionCmd::List { tenant } => {
                let v: Vec<Extension> = self.get(Route::Extensions(tenant.clone()), &[]).await?;
                self.out(&v, |v| self.ext_table(v))
            }
            ExtensionCmd::Show { tenant, number } => {
                let e: Extension = self
                    .get(Route::Extension(tenant.clone(), number.clone()), &[])
                    .await?;
                self.out(&e, |e| self.ext_table(std::slice::from_ref(e)))
            }
            ExtensionCmd::Set {
                tenant,
                number,
                opts,
            } => {
                let current: Option<Extension> = if opts.forward_always.is_some()
                    || opts.forward_busy.is_some()
                    || opts.forward_no_answer.is_some()
                    || opts.no_answer_secs.is_some()
                {
                    Some(
                        self.get(Route::Extension(tenant.clone(), number.clone()), &[])
                            .await?,
                    )
                } else {
                    None
                };
                let p = ExtensionPatch {
                    name: opts.name.clone(),
                    owner: opts.owner.clone(),
                    codecs: codecs(l, &opts.codecs)?,
                    forwarding: self
                        .forwarding_patch(opts, current.as_ref().map(|e| &e.forwarding)),
                    recording: recording(l, &opts.recording)?,
                    max_registrations: opts.max_registrations,
                };
                let e: Extension = self
                    .send(
                        Method::Patch,
                        Route::Extension(tenant.clone(), number.clone()),
                        &[],
                        Some(&p),
                    )
                    .await?;
                self.out(&e, |e| self.ext_table(std::slice::from_ref(e)))
            }
            ExtensionCmd::ResetPassword {
                tenant,
                number,
                password_stdin,
            } => {
                let p = PasswordSet {
                    password: if *password_stdin {
                        Some(read_stdin_line()?)
                    } else {
                        None
                    },
                };
                let c: ExtensionCreated = self
                    .send(
                        Method::Post,
                        Route::ExtensionResetPassword(tenant.clone(), number.clone()),
                        &[],
                        Some(&p),
                    )
                    .await?;
                self.created(&c, "ctl.password_reset")
            }
            ExtensionCmd::Remove {
                tenant,
                number,
                removal,
            } => {
                self.remove(Route::Extension(tenant.clone(), number.clone()), removal)
                    .await
            }
        }
    }

    // ---- trunks

    fn trunk_table(&self, l: &[Trunk]) -> String {
        let rows: Vec<Vec<String>> = l
            .iter()
            .map(|t| {
                vec![
                    t.name.clone(),
                    format!("{}:{}", t.host, t.port),
                    t.transport.as_str().into(),
                    yn(t.auth.as_ref().is_some_and(|a| a.register), self.lang),
                    t.dids
                        .iter()
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join(","),
                    t.max_channels.to_string(),
                    t.priority.to_string(),
                    yn(t.enabled, self.lang),
                ]
            })
            .collect();
        table(
            &self.h(&[
                "col.trunk",
                "col.host",
                "col.transport",
                "col.register",
                "col.dids",
                "col.channels",
                "col.priority",
                "col.enabled",
            ]),
            &rows,
        )
    }

    fn trunk_spec(&self, o: &TrunkOpts, name: Option<&str>) -> R<TrunkSpec> {
        let transport =
            match &o.transport {
                None => None,
                Some(t) => Some(Transport::parse(t).ok_or_else(|| {
                    usage(self.lang, Msg::new("ctl.bad_transport").arg("value", t))
                })?),
            };
        Ok(TrunkSpec {
            name: name.map(String::from),
            host: o.host.clone(),
            port: o.port,
            transport,
            register: o.register,
            username: o.username.clone(),
            secret: if o.secret_stdin {
                Some(read_stdin_line()?)
            } else {
                None
            },
            expires: o.expires,
            allow: if o.allow.is_empty() {
                None
            } else {
                Some(o.allow.clone())
            },
            dids: if o.dids.is_empty() {
                None
            } else {
                Some(o.dids.clone())
            },
            caller_id: o.caller_id.clone(),
            max_channels: o.max_channels,
            codecs: codecs(self.lang, &o.codecs)?,
            priority: o.priority,
            enabled: o.enabled,
        })
    }

    async fn trunk(&self, c: &TrunkCmd) -> R<i32> {
        match c {
            TrunkCmd::Add { tenant, name, opts } => {
                let s = self.trunk_spec(opts, Some(name))?;
                let t: Trunk = self
                    .send(Method::Post, Route::Trunks(tenant.clone()), &[], Some(&s))
                    .await?;
                self.out(&t, |t| self.trunk_table(std::slice::from_ref(t)))
            }
            TrunkCmd::List { tenant } => {
                let v: Vec<Trunk> = self.get(Route::Trunks(tenant.clone()), &[]).await?;
                self.out(&v, |v| self.trunk_table(v))
            }
            TrunkCmd::Show { tenant, name } => {
                let t: Trunk = self
                    .get(Route::Trunk(tenant.clone(), name.clone()), &[])
                    .await?;
                self.out(&t, |t| self.trunk_table(std::slice::from_ref(t)))
            }
            TrunkCmd::Set { tenant, name, opts } => {
                let s = self.trunk_spec(opts, None)?;
                let t: Trunk = self
                    .send(
                        Method::Patch,
                        Route::Trunk(tenant.clone(), name.clone()),
                        &[],
                        Some(&s),
                    )
                    .await?;
                self.out(&t, |t| self.trunk_table(std::slice::from_ref(t)))
            }
            TrunkCmd::Remove {
                tenant,
                name,
                removal,
            } => {
                self.remove(Route::Trunk(tenant.clone(), name.clone()), removal)
                    .await
            }
            TrunkCmd::Status { tenant } => self.trunk_status(tenant.as_deref()).await,
        }
    }

    async fn trunk_status(&self, tenant: Option<&str>) -> R<i32> {
        let q: Vec<(&str, &str)> = tenant.map(|t| vec![("tenant", t)]).unwrap_or_default();
        let v: Vec<pbx_api::TrunkStatus> = self.get(Route::TrunkStatus, &q).await?;
        self.out(&v, |v| {
            let rows: Vec<Vec<String>> = v
                .iter()
                .map(|t| {
                    let mut reason = t
                        .reason
                        .as_deref()
                        .map(|r| tr(self.lang, trunk_reason_key(r)))
                        .unwrap_or_default();
                    if let Some(code) = t.code {
                        reason.push_str(&format!(" ({code})"));
                    }
                    if let Some(at) = t.retry_ms {
                        reason.push_str(&format!(
                            "; {}",
                            Msg::new("trunk.retry")
                                .arg("time", cdr::local_time(at))
                                .render(self.lang)
                        ));
                    }
                    vec![
                        t.tenant.clone(),
                        t.name.clone(),
                        tr(self.lang, trunk_state_key(&t.state)),
                        reason,
                        t.registered_until_ms
                            .map(cdr::local_time)
                            .unwrap_or_else(|| "-".into()),
                        t.rtt_ms
                            .map(|r| format!("{r} ms"))
                            .unwrap_or_else(|| "-".into()),
                        match t.up {
                            Some(true) => tr(self.lang, "reg.reachable"),
                            Some(false) => tr(self.lang, "reg.unreachable"),
                            None => "-".into(),
                        },
                        format!("{}/{}", t.active_calls, t.max_channels),
                    ]
                })
                .collect();
            table(
                &self.h(&[
                    "col.tenant",
                    "col.trunk",
                    "col.registration",
                    "col.reason",
                    "col.registered_until",
                    "col.rtt",
                    "col.reachable",
                    "col.channels_in_use",
                ]),
                &rows,
            )
        })
    }

    // ---- queues

    fn queue_table(&self, l: &[Queue]) -> String {
        let rows: Vec<Vec<String>> = l
            .iter()
            .map(|q| {
                vec![
                    q.number.clone(),
                    q.name.clone(),
                    q.strategy.name(),
                    q.members
                        .iter()
                        .map(|m| format!("{}:{}", m.user, m.penalty))
                        .collect::<Vec<_>>()
                        .join(","),
                    q.ring_timeout_secs.to_string(),
                    q.max_wait_secs.to_string(),
                    q.wrapup_secs.to_string(),
                    q.overflow
                        .as_ref()
                        .map(Action::describe)
                        .unwrap_or_default(),
                ]
            })
            .collect();
        table(
            &self.h(&[
                "col.number",
                "col.name",
                "col.strategy",
                "col.members",
                "col.ring_timeout",
                "col.max_wait",
                "col.wrapup",
                "col.overflow",
            ]),
            &rows,
        )
    }

    fn queue_spec(&self, o: &QueueOpts, number: Option<&str>) -> R<QueueSpec> {
        let strategy =
            match &o.strategy {
                None => None,
                Some(s) => Some(Strategy::parse(s).ok_or_else(|| {
                    usage(self.lang, Msg::new("ctl.bad_strategy").arg("value", s))
                })?),
            };
        Ok(QueueSpec {
            number: number.map(String::from),
            name: o.name.clone(),
            strategy,
            ring_timeout_secs: o.ring_timeout,
            max_wait_secs: o.max_wait,
            wrapup_secs: o.wrapup,
            overflow: o
                .overflow
                .as_deref()
                .map(|a| action(self.lang, a))
                .transpose()?,
            moh: o.moh.clone(),
        })
    }

    async fn queue(&self, c: &QueueCmd) -> R<i32> {
        match c {
            QueueCmd::Add {
                tenant,
                number,
                opts,
            } => {
                let mut s = self.queue_spec(opts, Some(number))?;
                if s.name.is_none() {
                    s.name = Some(number.clone());
                }
                let q: Queue = self
                    .send(Method::Post, Route::Queues(tenant.clone()), &[], Some(&s))
                    .await?;
                self.out(&q, |q| self.queue_table(std::slice::from_ref(q)))
            }
            QueueCmd::List { tenant } => {
                let v: Vec<Queue> = self.get(Route::Queues(tenant.clone()), &[]).await?;
                self.out(&v, |v| self.queue_table(v))
            }
            QueueCmd::Status { tenant } => {
                let q: Vec<(&str, &str)> = tenant
                    .as_deref()
                    .map(|t| vec![("tenant", t)])
                    .unwrap_or_default();
                let v: Vec<pbx_api::QueueInfo> = self.get(Route::QueueStatus, &q).await?;
                self.out(&v, |v| {
                    let rows: Vec<Vec<String>> = v
                        .iter()
                        .map(|q| {
                            vec![
                                q.tenant.clone(),
                                q.number.clone(),
                                q.name.clone(),
                                q.waiting.to_string(),
                                if q.waiting > 0 {
                                    format!("{} s", q.longest_wait_s)
                                } else {
                                    String::new()
                                },
                                q.talking.to_string(),
                                format!("{}/{}/{}", q.available, q.logged_in, q.members),
                                format!(
                                    "{}/{}/{}",
                                    q.offered_today, q.answered_today, q.lost_today
                                ),
                                q.avg_wait_s.map(|s| format!("{s} s")).unwrap_or_default(),
                                q.service_level_pct
                                    .map(|p| format!("{p}%"))
                                    .unwrap_or_default(),
                            ]
                        })
                        .collect();
                    table(
                        &self.h(&[
                            "col.tenant",
                            "col.number",
                            "col.name",
                            "col.q_waiting",
                            "col.q_longest",
                            "col.q_talking",
                            "col.q_agents",
                            "col.q_today",
                            "col.q_avg_wait",
                            "col.q_sl",
                        ]),
                        &rows,
                    )
                })
            }
            QueueCmd::Set {
                tenant,
                number,
                opts,
            } => {
                let s = self.queue_spec(opts, None)?;
                let q: Queue = self
                    .send(
                        Method::Patch,
                        Route::Queue(tenant.clone(), number.clone()),
                        &[],
                        Some(&s),
                    )
                    .await?;
                self.out(&q, |q| self.queue_table(std::slice::from_ref(q)))
            }
            QueueCmd::Members {
                tenant,
                number,
                add,
                remove,
            } => {
                let q: Queue = if add.is_empty() && remove.is_empty() {
                    self.get(Route::Queue(tenant.clone(), number.clone()), &[])
                        .await?
                } else {
                    let mut change = MembersChange {
                        add: Vec::new(),
                        remove: remove.clone(),
                    };
                    for a in add {
                        let (user, penalty) = match a.split_once(':') {
                            Some((u, p)) => (
                                u.to_string(),
                                p.parse().map_err(|_| {
                                    usage(self.lang, Msg::new("ctl.bad_penalty").arg("value", a))
                                })?,
                            ),
                            None => (a.clone(), 0),
                        };
                        change.add.push(Member { user, penalty });
                    }
                    self.send(
                        Method::Post,
                        Route::QueueMembers(tenant.clone(), number.clone()),
                        &[],
                        Some(&change),
                    )
                    .await?
                };
                self.out(&q.members, |m| {
                    let rows: Vec<Vec<String>> = m
                        .iter()
                        .map(|m| vec![m.user.clone(), m.penalty.to_string()])
                        .collect();
                    table(&self.h(&["col.username", "col.penalty"]), &rows)
                })
            }
            QueueCmd::Remove {
                tenant,
                number,
                removal,
            } => {
                self.remove(Route::Queue(tenant.clone(), number.clone()), removal)
                    .await
            }
        }
    }

    // ---- belplan

    fn belplan_text(&self, b: &Belplan) -> String {
        let rows: Vec<Vec<String>> = b
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let m = &r.matches;
                let mut cond = Vec::new();
                if let Some(p) = &m.pattern {
                    cond.push(p.to_string());
                }
                if let Some(d) = &m.did {
                    cond.push(format!("DID {d}"));
                }
                if let Some(s) = &m.schedule {
                    cond.push(format!(
                        "{} {s}",
                        tr(
                            self.lang,
                            if m.closed { "word.closed" } else { "word.open" }
                        )
                    ));
                }
                vec![
                    (i + 1).to_string(),
                    r.name.clone().unwrap_or_default(),
                    cond.join(" & "),
                    r.action.describe(),
                ]
            })
            .collect();
        let mut s = table(
            &self.h(&["col.rule", "col.name", "col.match", "col.action"]),
            &rows,
        );
        for sc in &b.schedules {
            let open: Vec<String> = sc
                .open
                .iter()
                .map(|r| format!("{} {}-{}", r.days.join(","), r.from, r.to))
                .collect();
            s.push_str(&format!(
                "{} {}: {}\n",
                tr(self.lang, "col.schedule"),
                sc.name,
                open.join("; ")
            ));
        }
        s
    }

    async fn belplan(&self, c: &BelplanCmd) -> R<i32> {
        match c {
            BelplanCmd::Show { tenant } => {
                let b: Belplan = self.get(Route::Belplan(tenant.clone()), &[]).await?;
                self.out(&b, |b| self.belplan_text(b))
            }
            BelplanCmd::Set {
                tenant,
                file,
                dry_run,
            } => {
                let text = read_file_or_stdin(file).map_err(|e| Failure::new(exit::NOINPUT, e))?;
                let plan = parse_belplan(&text).map_err(|e| {
                    Failure::new(
                        exit::DATAERR,
                        Msg::new("ctl.belplan_parse")
                            .arg("detail", e)
                            .render(self.lang),
                    )
                })?;
                let q: &[(&str, &str)] = if *dry_run {
                    &[("dry_run", "true")]
                } else {
                    &[]
                };
                let b: Belplan = self
                    .send(Method::Put, Route::Belplan(tenant.clone()), q, Some(&plan))
                    .await?;
                self.out(&b, |b| self.belplan_text(b))
            }
        }
    } // ---- calls

    async fn calls(&self, tenant: Option<&str>) -> R<i32> {
        let q: Vec<(&str, &str)> = tenant.map(|t| vec![("tenant", t)]).unwrap_or_default();
        let v: Vec<pbx_api::CallInfo> = self.get(Route::Calls, &q).await?;
        self.out(&v, |v| {
            let rows: Vec<Vec<String>> = v
                .iter()
                .map(|c| {
                    let since = c.answered_ms.unwrap_or(c.started_ms);
                    vec![
                        c.id.clone(),
                        c.tenant.clone(),
                        c.caller.number.clone(),
                        c.callee.number.clone(),
                        tr(
                            self.lang,
                            match c.state.as_str() {
                                "answered" => "callstate.answered",
                                "ringing" => "callstate.ringing",
                                _ => "callstate.routing",
                            },
                        ) + &(if c.on_hold {
                            format!(" ({})", tr(self.lang, "callstate.on_hold"))
                        } else {
                            String::new()
                        }),
                        cdr::local_time(since),
                        call_quality_text(c, self.lang),
                        c.legs
                            .iter()
                            .map(|l| format!("{} {}", l.contact, l.state))
                            .collect::<Vec<_>>()
                            .join(", "),
                    ]
                })
                .collect();
            table(
                &self.h(&[
                    "col.id",
                    "col.tenant",
                    "col.caller",
                    "col.callee",
                    "col.status",
                    "col.since",
                    "col.quality",
                    "col.legs",
                ]),
                &rows,
            )
        })
    }

    // ---- registrations

    async fn registrations(&self, tenant: Option<&str>) -> R<i32> {
        let q: Vec<(&str, &str)> = tenant.map(|t| vec![("tenant", t)]).unwrap_or_default();
        let v: Vec<pbx_model::Registration> = self.get(Route::Registrations, &q).await?;
        self.out(&v, |v| {
            let rows: Vec<Vec<String>> = v
                .iter()
                .map(|r| {
                    vec![
                        r.tenant.clone(),
                        r.extension.clone(),
                        r.contact.clone(),
                        r.source.clone(),
                        tr(self.lang, if r.nat { "word.yes" } else { "word.no" }),
                        tr(
                            self.lang,
                            if r.unreachable {
                                "reg.unreachable"
                            } else {
                                "reg.reachable"
                            },
                        ),
                        r.user_agent.clone().unwrap_or_default(),
                        cdr::local_time(r.expires_ms),
                    ]
                })
                .collect();
            table(
                &self.h(&[
                    "col.tenant",
                    "col.extension",
                    "col.contact",
                    "col.source",
                    "col.nat",
                    "col.status",
                    "col.user_agent",
                    "col.expires",
                ]),
                &rows,
            )
        })
    }

    // ---- check, plan, apply

    fn check(&self, a: &CheckArgs) -> R<i32> {
        let paths = if a.paths.is_empty() {
            vec![self.config.clone()]
        } else {
            a.paths.clone()
        };
        for p in &paths {
            if !p.exists() {
                return Err(Failure::new(
                    exit::NOINPUT,
                    Msg::new("check.path_missing")
                        .arg("path", p.display())
                        .render(self.lang),
                ));
            }
        }
        let report = pbx_config::check_paths(&paths);
        let base = std::env::current_dir().unwrap_or_default();
        if self.json {
            sayln!("{}", report.to_json(self.lang));
        } else {
            for d in &report.diagnostics {
                sayln!("{}", d.render(self.lang, &base));
            }
            sayln!(
                "{}",
                Msg::new("check.summary")
                    .arg("errors", report.errors())
                    .arg("warnings", report.warnings())
                    .render(self.lang)
            );
        }
        Ok(if report.is_ok(a.deny_warnings) {
            exit::OK
        } else {
            exit::FAILURE
        })
    }

    async fn plan(&self, a: &PlanArgs, apply: bool) -> R<i32> {
        let dir = a.dir.clone().unwrap_or_else(|| self.config.clone());
        let (loaded, report) = pbx_config::load(&dir);
        let base = std::env::current_dir().unwrap_or_default();
        let Some(cfg) = loaded else {
            for d in &report.diagnostics {
                eprintln!("{}", d.render(self.lang, &base));
            }
            return Err(Failure::new(
                exit::DATAERR,
                Msg::new("pbxd.config_refused")
                    .arg("errors", report.errors())
                    .render(self.lang),
            ));
        };
        let req = pbx_api::ApplyRequest {
            tenants: cfg
                .tenants
                .iter()
                .map(|t| pbx_api::DeclaredSpec {
                    bundle: t.bundle.clone(),
                    trunk_secrets: t.trunk_secrets.clone(),
                })
                .collect(),
        };
        let route = if apply { Route::Apply } else { Route::Plan };
        let p: Plan = self.send(Method::Post, route, &[], Some(&req)).await?;
        self.out(&p, |p| {
            if p.changes.is_empty() {
                return tr(self.lang, "ctl.plan_empty") + "\n";
            }
            let mut s = String::new();
            for c in &p.changes {
                let sign = match c.op {
                    pbx_api::ChangeOp::Add => "+",
                    pbx_api::ChangeOp::Change => "~",
                    pbx_api::ChangeOp::Remove => "-",
                };
                let fields = if c.fields.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", c.fields.join(", "))
                };
                s.push_str(&format!("{sign} {}: {}{fields}\n", c.tenant, c.object));
            }
            let key = if p.applied {
                "ctl.plan_applied"
            } else {
                "ctl.plan_hint"
            };
            s.push_str(
                &Msg::new(key)
                    .arg("count", p.changes.len())
                    .render(self.lang),
            );
            s.push('\n');
            s
        })
    }

    // ---- export, import, audit, status, api

    async fn export(&self, a: &ExportArgs) -> R<i32> {
        let q: Vec<(&str, &str)> = if a.with_secrets {
            vec![("secrets", "true")]
        } else {
            vec![]
        };
        let bytes = self
            .client
            .call_bytes(
                Method::Get,
                &format!("{}{}", Route::Export.path(), Query::encode(&q)),
                Vec::new(),
                "application/json",
            )
            .await?;
        match &a.output {
            Some(p) => write_private(p, &bytes)
                .map_err(|e| Failure::new(exit::CANTCREAT, format!("{}: {e}", p.display())))?,
            None => write_out(&String::from_utf8_lossy(&bytes)),
        }
        Ok(exit::OK)
    }

    async fn import(&self, a: &ImportArgs) -> R<i32> {
        let text = read_file_or_stdin(&a.file).map_err(|e| Failure::new(exit::NOINPUT, e))?;
        let r: pbx_api::ImportResult = Client::call_bytes(
            &self.client,
            Method::Post,
            &Route::Import.path(),
            text.into_bytes(),
            "application/x-ndjson",
        )
        .await
        .map_err(Failure::from)
        .and_then(|b| {
            serde_json::from_slice(&b).map_err(|e| Failure::new(exit::PROTOCOL, e.to_string()))
        })?;
        self.out(&r, |r| {
            let mut s = tr(self.lang, "ctl.imported") + "\n";
            for (k, v) in &r.counts {
                s.push_str(&format!("  {k}: {v}\n"));
            }
            s
        })
    }

    async fn audit(&self, a: &AuditArgs) -> R<i32> {
        let limit = a.limit.to_string();
        let mut q = vec![("limit", limit.as_str())];
        if let Some(t) = &a.tenant {
            q.push(("tenant", t.as_str()));
        }
        let v: Vec<AuditEntry> = self.get(Route::Audit, &q).await?;
        self.out(&v, |v| {
            let rows: Vec<Vec<String>> = v
                .iter()
                .map(|e| {
                    vec![
                        e.time
                            .chars()
                            .take(19)
                            .collect::<String>()
                            .replace('T', " "),
                        match &e.user {
                            Some(u) => format!("{u} ({})", e.uid),
                            None => e.uid.to_string(),
                        },
                        e.action.clone(),
                        e.tenant.clone().unwrap_or_default(),
                        e.object.clone(),
                    ]
                })
                .collect();
            table(
                &self.h(&[
                    "col.time",
                    "col.uid",
                    "col.action",
                    "col.tenant",
                    "col.object",
                ]),
                &rows,
            )
        })
    }

    async fn status(&self) -> R<i32> {
        let s: Status = self.get(Route::Status, &[]).await?;
        self.out(&s, |s| {
            let l = self.lang;
            let scope = match &s.you.scope {
                pbx_api::Scope::Beheerder => tr(l, "word.beheerder"),
                pbx_api::Scope::Tenant(t) => {
                    Msg::new("ctl.scope_tenant").arg("tenant", t).render(l)
                }
                pbx_api::Scope::None => tr(l, "word.none"),
            };
            let rows = [
                (
                    tr(l, "col.version"),
                    format!("{} (API v{})", s.version, s.api),
                ),
                (tr(l, "col.uptime"), format_duration(s.uptime_secs)),
                (tr(l, "col.pid"), s.pid.to_string()),
                (tr(l, "col.config"), s.config_dir.clone()),
                (
                    tr(l, "col.state"),
                    format!("{} (schema {})", s.state_dir, s.schema_version),
                ),
                (tr(l, "col.tenants"), s.tenants.to_string()),
                (tr(l, "word.extensions"), s.extensions.to_string()),
                (tr(l, "col.you"), format!("uid {} — {scope}", s.you.uid)),
            ];
            rows.iter()
                .map(|(k, v)| format!("{:<20}{v}\n", format!("{k}:")))
                .collect()
        })
    }

    async fn api(&self, a: &ApiArgs) -> R<i32> {
        let body = match a.body.as_deref() {
            None => Vec::new(),
            Some("-") => read_file_or_stdin(Path::new("-"))
                .map_err(|e| Failure::new(exit::NOINPUT, e))?
                .into_bytes(),
            Some(s) => s.as_bytes().to_vec(),
        };
        let method = match &a.method {
            Some(m) => Method::parse(&m.to_ascii_uppercase())
                .ok_or_else(|| usage(self.lang, Msg::new("ctl.bad_method").arg("value", m)))?,
            None if body.is_empty() => Method::Get,
            None => Method::Post,
        };
        let r = self
            .client
            .raw(method, &a.endpoint, body, "application/json")
            .await?;
        let text = String::from_utf8_lossy(&r.body);
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(v) if !text.contains('\n') || text.trim_end().lines().count() == 1 => {
                sayln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default())
            }
            _ => say!("{text}"),
        }
        Ok(if (200..300).contains(&r.status) {
            exit::OK
        } else {
            match serde_json::from_str::<pbx_api::ErrorBody>(&text) {
                Ok(e) => ClientError::Api {
                    status: r.status,
                    error: e.error,
                }
                .exit_code(),
                Err(_) => exit::PROTOCOL,
            }
        })
    }
}

fn format_duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d {h}u {m}m")
    } else {
        format!("{h}u {m}m {s}s")
    }
}

/// Reads a file, or standard input for `-`.
pub fn read_file_or_stdin(p: &Path) -> Result<String, String> {
    if p == Path::new("-") {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| e.to_string())?;
        Ok(s)
    } else {
        std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))
    }
}

fn write_private(p: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(p)?;
    f.write_all(bytes)?;
    f.sync_all()
}

impl Ctx {
    async fn history(
        &self,
        per: &str,
        tenant: Option<&str>,
        trunk: Option<&str>,
        from: &Option<String>,
        to: &Option<String>,
    ) -> R<i32> {
        if !["minuut", "uur", "dag", "minute", "hour", "day"].contains(&per) {
            return Err(usage(self.lang, Msg::new("ctl.bad_per").arg("value", per)));
        }
        let time = |v: &Option<String>| -> R<Option<String>> {
            match v {
                None => Ok(None),
                Some(s) => cdr::parse_time(s)
                    .map(|ms| Some(ms.to_string()))
                    .ok_or_else(|| usage(self.lang, Msg::new("ctl.bad_time").arg("value", s))),
            }
        };
        let (from, to) = (time(from)?, time(to)?);
        let mut q: Vec<(&str, &str)> = vec![("per", per)];
        if let Some(t) = tenant {
            q.push(("tenant", t));
        }
        if let Some(t) = trunk {
            q.push(("trunk", t));
        }
        if let Some(f) = &from {
            q.push(("from_ms", f));
        }
        if let Some(t) = &to {
            q.push(("to_ms", t));
        }
        let v: Vec<pbx_api::HistoryPoint> = self.get(Route::History, &q).await?;
        self.out(&v, |v| {
            let f1 = |x: Option<f64>| x.map(|x| format!("{x:.1}")).unwrap_or_else(|| "-".into());
            let f2 = |x: Option<f64>| x.map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".into());
            let rows: Vec<Vec<String>> = v
                .iter()
                .map(|p| {
                    vec![
                        cdr::local_time(p.start_ms),
                        p.started.to_string(),
                        p.answered.to_string(),
                        p.failed.to_string(),
                        f1(p.asr_pct),
                        f1(p.avg_duration_secs),
                        p.peak_calls.to_string(),
                        f2(p.mos_avg),
                        f2(p.mos_p5),
                        p.registrations.to_string(),
                        f1(p.availability_pct),
                    ]
                })
                .collect();
            table(
                &self.h(&[
                    "col.start",
                    "col.started",
                    "col.answered",
                    "col.failed",
                    "col.asr",
                    "col.avg_duration",
                    "col.peak",
                    "col.mos_avg",
                    "col.mos_p5",
                    "col.registrations",
                    "col.availability",
                ]),
                &rows,
            )
        })
    }

    async fn alarm(&self, a: &AlarmCmd) -> R<i32> {
        match a {
            AlarmCmd::List { tenant } => {
                let q: Vec<(&str, &str)> = tenant
                    .as_deref()
                    .map(|t| vec![("tenant", t)])
                    .unwrap_or_default();
                let v: Vec<pbx_api::AlarmInfo> = self.get(Route::Alarms, &q).await?;
                self.out(&v, |v| {
                    let rows: Vec<Vec<String>> = v
                        .iter()
                        .map(|a| {
                            let mut state = tr(
                                self.lang,
                                if a.state == "firing" {
                                    "alarm.firing"
                                } else {
                                    "alarm.resolved"
                                },
                            );
                            if a.acked {
                                state.push_str(&format!(" ({})", tr(self.lang, "alarm.acked")));
                            }
                            if a.silenced_until_ms.is_some_and(|t| t > now_ms()) {
                                state.push_str(&format!(" ({})", tr(self.lang, "alarm.silenced")));
                            }
                            vec![
                                a.id.clone(),
                                a.severity.clone(),
                                state,
                                format!("{} {:.2} / {:.2}", a.metric, a.value, a.threshold),
                                cdr::local_time(a.since_ms),
                            ]
                        })
                        .collect();
                    table(
                        &self.h(&[
                            "col.id",
                            "col.severity",
                            "col.status",
                            "col.value",
                            "col.since",
                        ]),
                        &rows,
                    )
                })
            }
            AlarmCmd::Ack { id } => {
                let a: pbx_api::AlarmInfo = self
                    .send::<(), _>(Method::Post, Route::AlarmAck(id.clone()), &[], None)
                    .await?;
                self.out(&a, |a| {
                    Msg::new("ctl.alarm_acked")
                        .arg("id", &a.id)
                        .render(self.lang)
                        + "\n"
                })
            }
            AlarmCmd::Silence { id, minutes } => {
                if !(1..=10_080).contains(minutes) {
                    return Err(usage(
                        self.lang,
                        Msg::new("ctl.alarm_minutes").arg("value", minutes),
                    ));
                }
                let secs = (minutes * 60).to_string();
                let a: pbx_api::AlarmInfo = self
                    .send::<(), _>(
                        Method::Post,
                        Route::AlarmSilence(id.clone()),
                        &[("secs", secs.as_str())],
                        None,
                    )
                    .await?;
                self.out(&a, |a| {
                    Msg::new("ctl.alarm_silenced")
                        .arg("id", &a.id)
                        .arg("minutes", minutes)
                        .render(self.lang)
                        + "\n"
                })
            }
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The live quality of a call for the table: `a PCMA 4.38 · b PCMA 4.12`, with a Dutch warning
/// for one-way audio or dead air.
fn call_quality_text(c: &pbx_api::CallInfo, lang: Lang) -> String {
    let mos = |m: Option<u32>| {
        m.map(|m| format!("{}.{:02}", m / 100, m % 100))
            .unwrap_or_else(|| "-".into())
    };
    let mut parts: Vec<String> = c
        .quality
        .iter()
        .map(|l| format!("{} {} {}", l.leg, l.codec, mos(l.mos_centi)))
        .collect();
    if c.one_way {
        parts.push(tr(lang, "call.one_way"));
    }
    if c.dead_air {
        parts.push(tr(lang, "call.dead_air"));
    }
    parts.join(" · ")
}

/// A belplan file: JSON, or TOML with `[[rule]]`, `[[schedule]]` and `[[menu]]` as in conf.d.
fn parse_belplan(text: &str) -> Result<Belplan, String> {
    if text.trim_start().starts_with('{') {
        return serde_json::from_str(text).map_err(|e| e.to_string());
    }
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        #[serde(default)]
        rule: Vec<pbx_model::Rule>,
        #[serde(default)]
        schedule: Vec<pbx_model::Schedule>,
        #[serde(default)]
        menu: Vec<pbx_model::belplan::Menu>,
    }
    let f: File = toml::from_str(text).map_err(|e| e.to_string())?;
    Ok(Belplan {
        rules: f.rule,
        schedules: f.schedule,
        menus: f.menu,
    })
}

/// The catalogue key of a trunk registration state from the API.
fn trunk_state_key(state: &str) -> &'static str {
    match state {
        "geen" => "trunk.state.geen",
        "bezig" => "trunk.state.bezig",
        "geregistreerd" => "trunk.state.geregistreerd",
        "mislukt" => "trunk.state.mislukt",
        "uitgeschakeld" => "trunk.state.uitgeschakeld",
        _ => "trunk.state.onbekend",
    }
}

/// The catalogue key of a trunk failure reason from the API.
fn trunk_reason_key(reason: &str) -> &'static str {
    match reason {
        "geweigerd" => "trunk.reason.geweigerd",
        "authenticatie" => "trunk.reason.authenticatie",
        "uitdaging" => "trunk.reason.uitdaging",
        "interval" => "trunk.reason.interval",
        "geen_antwoord" => "trunk.reason.geen_antwoord",
        "transport" => "trunk.reason.transport",
        "geen_geheim" => "trunk.reason.geen_geheim",
        "transport_niet_ondersteund" => "trunk.reason.transport_niet_ondersteund",
        "adres" => "trunk.reason.adres",
        _ => "trunk.state.onbekend",
    }
}
