//! The board's state and its pure updates: from data (polls, events) and from keys. Nothing here
//! touches the terminal or the socket; keys return [`Action`]s that `main` carries out.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use pbx_api::{
    AgentInfo, AlarmInfo, CallInfo, Event, HistoryPoint, QueueInfo, Status, TenantSummary,
    TraceView, TrunkStatus,
};
use pbx_i18n::{tr, Lang, Msg};
use pbx_model::Registration;
use std::collections::VecDeque;

/// The tabs, in key order 1–8.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Tab {
    /// Key figures, MOS distribution and the change log.
    #[default]
    Overzicht,
    /// Live calls.
    Gesprekken,
    /// Registrations of phones.
    Registraties,
    /// Trunk state.
    Trunks,
    /// Queues: callers waiting, members, today.
    Wachtrijen,
    /// Softphone agents.
    Agenten,
    /// Alarms.
    Alarmen,
    /// Roll-ups over time.
    Historie,
}

impl Tab {
    /// All tabs in order.
    pub const ALL: [Tab; 8] = [
        Tab::Overzicht,
        Tab::Gesprekken,
        Tab::Registraties,
        Tab::Trunks,
        Tab::Wachtrijen,
        Tab::Agenten,
        Tab::Alarmen,
        Tab::Historie,
    ];

    /// Position in [`Tab::ALL`].
    pub fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }

    /// The title in `lang`.
    pub fn title(self, lang: Lang) -> String {
        tr(
            lang,
            match self {
                Tab::Overzicht => "top.tab.overview",
                Tab::Gesprekken => "top.tab.calls",
                Tab::Registraties => "top.tab.registrations",
                Tab::Trunks => "top.tab.trunks",
                Tab::Wachtrijen => "top.tab.queues",
                Tab::Agenten => "top.tab.agents",
                Tab::Alarmen => "top.tab.alarms",
                Tab::Historie => "top.tab.history",
            },
        )
    }
}

/// The span of the Historie tab.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Span {
    /// Last 24 hours, per hour.
    #[default]
    Day,
    /// Last 7 days, per day.
    Week,
    /// Last 30 days, per day.
    Month,
}

impl Span {
    /// The next span (`d`).
    pub fn next(self) -> Span {
        match self {
            Span::Day => Span::Week,
            Span::Week => Span::Month,
            Span::Month => Span::Day,
        }
    }

    /// `per` of `GET /v1/history`.
    pub fn per(self) -> &'static str {
        match self {
            Span::Day => "uur",
            Span::Week | Span::Month => "dag",
        }
    }

    /// Length in ms.
    pub fn ms(self) -> u64 {
        const H: u64 = 3_600_000;
        match self {
            Span::Day => 24 * H,
            Span::Week => 7 * 24 * H,
            Span::Month => 30 * 24 * H,
        }
    }
}

/// Something the board asks `main` to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Stop.
    Quit,
    /// `POST /v1/calls/{id}/hangup`.
    Hangup(String),
    /// `POST /v1/alarms/{id}/ack`.
    AckAlarm(String),
    /// `GET /v1/trace/{call-id}` for the call with pbxd id `.0`.
    Trace(String, String),
    /// Fetch history for this span now.
    History(Span),
}

/// Data from pbxd.
#[derive(Clone, Debug, PartialEq)]
pub enum Update {
    /// One round of polls.
    Polled {
        /// Live calls.
        calls: Vec<CallInfo>,
        /// Registrations.
        registrations: Vec<Registration>,
        /// Trunks.
        trunks: Vec<TrunkStatus>,
        /// Alarms.
        alarms: Vec<AlarmInfo>,
        /// Softphone agents.
        agents: Vec<AgentInfo>,
        /// Wachtrijen.
        queues: Vec<QueueInfo>,
    },
    /// History of a span.
    History(Span, Vec<HistoryPoint>),
    /// An event of the stream (boxed: a call event is large).
    Event(Box<Event>),
    /// The connection is gone (message).
    Disconnected(String),
    /// A trace answer for a call id: the view or why there is none.
    Trace(String, Result<TraceView, String>),
    /// A line for the status bar (result of an action).
    Note(String),
}

/// The data shown, as last fetched.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Data {
    /// Live calls.
    pub calls: Vec<CallInfo>,
    /// Registrations.
    pub registrations: Vec<Registration>,
    /// Trunks.
    pub trunks: Vec<TrunkStatus>,
    /// Alarms.
    pub alarms: Vec<AlarmInfo>,
    /// Softphone agents.
    pub agents: Vec<AgentInfo>,
    /// Wachtrijen.
    pub queues: Vec<QueueInfo>,
    /// History of `history_span`.
    pub history: Vec<HistoryPoint>,
    /// The span `history` belongs to.
    pub history_span: Span,
    /// Status and organisations from the snapshot.
    pub status: Option<Status>,
    /// Organisations.
    pub tenants: Vec<TenantSummary>,
}

/// The whole board.
#[derive(Clone, Debug, Default)]
pub struct App {
    /// Language.
    pub lang: Lang,
    /// Current tab.
    pub tab: Tab,
    /// Calls sorted worst MOS first.
    pub worst_first: bool,
    /// Applied filter (organisation and/or text).
    pub filter: String,
    /// Filter being typed (`/` … Enter).
    pub input: Option<String>,
    /// Help overlay open.
    pub help: bool,
    /// Hang-up asked for this call id.
    pub confirm: Option<String>,
    /// Detail view of this call id.
    pub detail: Option<String>,
    /// Trace of the detail call: `None` while loading.
    pub trace: Option<Result<TraceView, String>>,
    /// Selected message of the ladder (sngrep: list → ladder → message).
    pub message: usize,
    /// The raw text of the selected message is open, scrolled down this many lines.
    pub raw: Option<u16>,
    /// Selected row of the current list.
    pub selected: usize,
    /// Historie span.
    pub span: Span,
    /// The data.
    pub data: Data,
    /// Connected to pbxd.
    pub connected: bool,
    /// Why not.
    pub error: Option<String>,
    /// Change log.
    pub changes: Vec<String>,
    /// Start times (ms) of calls seen starting, for calls per minute.
    pub starts: VecDeque<u64>,
    /// Now (Unix ms), set by the tick.
    pub now_ms: u64,
    /// Last note for the status bar.
    pub note: Option<String>,
}

/// Hundredths as `4.21`.
pub fn centi(v: u32) -> String {
    format!("{}.{:02}", v / 100, v % 100)
}

/// The current MOS of a call: the lowest of its legs' last-second values.
pub fn call_mos(c: &CallInfo) -> Option<u32> {
    c.quality.iter().filter_map(|q| q.mos_centi).min()
}

/// The MOS band (0 best … 4 worst) of a MOS in hundredths.
pub fn band(mos: u32) -> usize {
    match mos {
        430.. => 0,
        400..=429 => 1,
        360..=399 => 2,
        310..=359 => 3,
        _ => 4,
    }
}

impl App {
    /// A new board in `lang`.
    pub fn new(lang: Lang) -> App {
        App {
            lang,
            ..App::default()
        }
    }

    /// Does `text` pass the filter? Words `org:x` (or `organisatie:x`) must equal the
    /// organisation; other words must occur in the text (case-insensitive).
    pub fn passes(&self, tenant: &str, text: &str) -> bool {
        let text = text.to_lowercase();
        self.filter.split_whitespace().all(|w| {
            let w = w.to_lowercase();
            match w
                .strip_prefix("org:")
                .or_else(|| w.strip_prefix("organisatie:"))
            {
                Some(o) => tenant.eq_ignore_ascii_case(o),
                None => text.contains(&w) || tenant.to_lowercase().contains(&w),
            }
        })
    }

    /// The calls shown: filtered, sorted (worst first when asked, else by start).
    pub fn calls(&self) -> Vec<&CallInfo> {
        let mut v: Vec<&CallInfo> = self
            .data
            .calls
            .iter()
            .filter(|c| {
                self.passes(
                    &c.tenant,
                    &format!(
                        "{} {} {} {} {} {}",
                        c.id,
                        c.caller.number,
                        c.caller.name,
                        c.callee.number,
                        c.callee.name,
                        c.state
                    ),
                )
            })
            .collect();
        if self.worst_first {
            // No MOS yet sorts after every measured call.
            v.sort_by_key(|c| (call_mos(c).unwrap_or(u32::MAX), c.started_ms));
        } else {
            v.sort_by_key(|c| c.started_ms);
        }
        v
    }

    /// Registrations shown.
    pub fn registrations(&self) -> Vec<&Registration> {
        let mut v: Vec<&Registration> = self
            .data
            .registrations
            .iter()
            .filter(|r| {
                self.passes(
                    &r.tenant,
                    &format!(
                        "{} {} {}",
                        r.extension,
                        r.source,
                        r.user_agent.as_deref().unwrap_or("")
                    ),
                )
            })
            .collect();
        v.sort_by(|a, b| (&a.tenant, &a.extension).cmp(&(&b.tenant, &b.extension)));
        v
    }

    /// Trunks shown.
    pub fn trunks(&self) -> Vec<&TrunkStatus> {
        self.data
            .trunks
            .iter()
            .filter(|t| self.passes(&t.tenant, &format!("{} {}", t.name, t.state)))
            .collect()
    }

    /// Alarms shown: firing first, then newest first.
    /// The queues shown: filtered, the busiest (most callers waiting) first, then by
    /// organisation and number.
    pub fn queues(&self) -> Vec<&QueueInfo> {
        let mut v: Vec<&QueueInfo> = self
            .data
            .queues
            .iter()
            .filter(|q| self.passes(&q.tenant, &format!("{} {}", q.number, q.name)))
            .collect();
        v.sort_by(|a, b| {
            b.waiting
                .cmp(&a.waiting)
                .then_with(|| (&a.tenant, &a.number).cmp(&(&b.tenant, &b.number)))
        });
        v
    }

    /// The agents shown: filtered, by organisation and login name (pbxd sends them sorted), so
    /// a row stays where the eye left it.
    pub fn agents(&self) -> Vec<&AgentInfo> {
        self.data
            .agents
            .iter()
            .filter(|a| {
                self.passes(
                    &a.tenant,
                    &format!(
                        "{} {} {} {}",
                        a.user,
                        a.name,
                        a.extension.as_deref().unwrap_or(""),
                        a.status
                    ),
                )
            })
            .collect()
    }

    pub fn alarms(&self) -> Vec<&AlarmInfo> {
        let mut v: Vec<&AlarmInfo> = self
            .data
            .alarms
            .iter()
            .filter(|a| {
                self.passes(
                    a.tenant.as_deref().unwrap_or(""),
                    &format!("{} {} {} {}", a.id, a.metric, a.severity, a.state),
                )
            })
            .collect();
        v.sort_by_key(|a| (a.state != "firing", std::cmp::Reverse(a.since_ms)));
        v
    }

    /// Rows of the current tab (for moving the selection).
    fn rows(&self) -> usize {
        match self.tab {
            Tab::Gesprekken => self.calls().len(),
            Tab::Registraties => self.registrations().len(),
            Tab::Trunks => self.trunks().len(),
            Tab::Alarmen => self.alarms().len(),
            Tab::Agenten => self.agents().len(),
            Tab::Wachtrijen => self.queues().len(),
            _ => 0,
        }
    }

    /// Calls started in the last minute (from the event stream).
    pub fn calls_per_minute(&self) -> usize {
        let from = self.now_ms.saturating_sub(60_000);
        self.starts.iter().filter(|t| **t >= from).count()
    }

    /// Firing alarms.
    pub fn firing(&self) -> usize {
        self.data
            .alarms
            .iter()
            .filter(|a| a.state == "firing")
            .count()
    }

    /// Count of the active calls' legs per MOS band (best first).
    pub fn mos_bands(&self) -> [u64; 5] {
        let mut b = [0u64; 5];
        for c in &self.data.calls {
            for q in &c.quality {
                if let Some(m) = q.mos_centi {
                    b[band(m)] += 1;
                }
            }
        }
        b
    }

    fn set_tab(&mut self, t: Tab) -> Vec<Action> {
        if self.tab != t {
            self.tab = t;
            self.selected = 0;
        }
        if t == Tab::Historie {
            return vec![Action::History(self.span)];
        }
        Vec::new()
    }

    /// Handles a key.
    pub fn key(&mut self, k: KeyEvent) -> Vec<Action> {
        if k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c') {
            return vec![Action::Quit];
        }
        if let Some(input) = self.input.as_mut() {
            match k.code {
                KeyCode::Enter => {
                    self.filter = input.trim().to_string();
                    self.input = None;
                    self.selected = 0;
                }
                KeyCode::Esc => {
                    self.input = None;
                    self.filter.clear();
                    self.selected = 0;
                }
                KeyCode::Backspace => {
                    input.pop();
                }
                KeyCode::Char(c) => input.push(c),
                _ => {}
            }
            return Vec::new();
        }
        if let Some(id) = self.confirm.clone() {
            match k.code {
                KeyCode::Char('j') | KeyCode::Char('y') => {
                    self.confirm = None;
                    return vec![Action::Hangup(id)];
                }
                KeyCode::Char('n') | KeyCode::Esc => self.confirm = None,
                _ => {}
            }
            return Vec::new();
        }
        if self.help {
            if matches!(
                k.code,
                KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q') | KeyCode::Enter
            ) {
                self.help = false;
            }
            return Vec::new();
        }
        if let Some(scroll) = self.raw {
            let lines = self.raw_lines();
            match k.code {
                KeyCode::Esc | KeyCode::Enter | KeyCode::Backspace | KeyCode::Left => {
                    self.raw = None
                }
                KeyCode::Down | KeyCode::Char('j') if usize::from(scroll) + 1 < lines => {
                    self.raw = Some(scroll + 1)
                }
                KeyCode::Up | KeyCode::Char('k') => self.raw = Some(scroll.saturating_sub(1)),
                KeyCode::PageDown | KeyCode::Char(' ') => {
                    let max = u16::try_from(lines.saturating_sub(1)).unwrap_or(u16::MAX);
                    self.raw = Some(scroll.saturating_add(10).min(max));
                }
                KeyCode::PageUp => self.raw = Some(scroll.saturating_sub(10)),
                KeyCode::Home => self.raw = Some(0),
                // The next or previous message without going back to the ladder.
                KeyCode::Char('n') if self.message + 1 < self.messages() => {
                    self.message += 1;
                    self.raw = Some(0);
                }
                KeyCode::Char('p') => {
                    self.message = self.message.saturating_sub(1);
                    self.raw = Some(0);
                }
                KeyCode::Char('q') => return vec![Action::Quit],
                _ => {}
            }
            return Vec::new();
        }
        if self.detail.is_some() {
            match k.code {
                KeyCode::Esc | KeyCode::Backspace | KeyCode::Left => {
                    self.detail = None;
                    self.trace = None;
                    self.message = 0;
                    return Vec::new();
                }
                KeyCode::Enter | KeyCode::Right if self.message < self.messages() => {
                    self.raw = Some(0);
                    return Vec::new();
                }
                KeyCode::Down | KeyCode::Char('j') if self.message + 1 < self.messages() => {
                    self.message += 1;
                    return Vec::new();
                }
                KeyCode::Up | KeyCode::Char('k') => {
                    self.message = self.message.saturating_sub(1);
                    return Vec::new();
                }
                KeyCode::Home => {
                    self.message = 0;
                    return Vec::new();
                }
                KeyCode::End => {
                    self.message = self.messages().saturating_sub(1);
                    return Vec::new();
                }
                KeyCode::Char('h') => {
                    self.confirm = self.detail.clone();
                    return Vec::new();
                }
                KeyCode::Char('q') => return vec![Action::Quit],
                KeyCode::Char('?') => {
                    self.help = true;
                    return Vec::new();
                }
                _ => return Vec::new(),
            }
        }
        match k.code {
            KeyCode::Char('q') => return vec![Action::Quit],
            KeyCode::Char('?') => self.help = true,
            KeyCode::Char('/') => self.input = Some(self.filter.clone()),
            KeyCode::Esc => {
                self.filter.clear();
                self.selected = 0;
            }
            KeyCode::Char(c @ '1'..='8') => {
                let i = (c as usize) - ('1' as usize);
                return self.set_tab(Tab::ALL[i]);
            }
            KeyCode::Tab => {
                let i = (self.tab.index() + 1) % Tab::ALL.len();
                return self.set_tab(Tab::ALL[i]);
            }
            KeyCode::BackTab => {
                let i = (self.tab.index() + Tab::ALL.len() - 1) % Tab::ALL.len();
                return self.set_tab(Tab::ALL[i]);
            }
            KeyCode::Down | KeyCode::Char('j') if self.selected + 1 < self.rows() => {
                self.selected += 1;
            }
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::Home => self.selected = 0,
            KeyCode::End => self.selected = self.rows().saturating_sub(1),
            KeyCode::Char('s') if self.tab == Tab::Gesprekken => {
                self.worst_first = !self.worst_first;
                self.selected = 0;
            }
            KeyCode::Enter if self.tab == Tab::Gesprekken => {
                if let Some(c) = self.calls().get(self.selected) {
                    let id = c.id.clone();
                    // Traces are kept by SIP Call-ID; older pbxd versions do not send it.
                    let key = if c.call_id.is_empty() {
                        id.clone()
                    } else {
                        c.call_id.clone()
                    };
                    self.detail = Some(id.clone());
                    self.trace = None;
                    self.message = 0;
                    self.raw = None;
                    return vec![Action::Trace(id, key)];
                }
            }
            KeyCode::Char('h') if self.tab == Tab::Gesprekken => {
                self.confirm = self.calls().get(self.selected).map(|c| c.id.clone());
            }
            KeyCode::Char('a') if self.tab == Tab::Alarmen => {
                if let Some(a) = self.alarms().get(self.selected) {
                    return vec![Action::AckAlarm(a.id.clone())];
                }
            }
            KeyCode::Char('d') if self.tab == Tab::Historie => {
                self.span = self.span.next();
                return vec![Action::History(self.span)];
            }
            _ => {}
        }
        Vec::new()
    }

    /// Applies data from pbxd. Tab, sort, filter and selection survive a reconnect.
    pub fn apply(&mut self, u: Update) {
        match u {
            Update::Polled {
                calls,
                registrations,
                trunks,
                alarms,
                agents,
                queues,
            } => {
                self.connected = true;
                self.error = None;
                self.data.calls = calls;
                self.data.registrations = registrations;
                self.data.trunks = trunks;
                self.data.alarms = alarms;
                self.data.agents = agents;
                self.data.queues = queues;
                let n = self.rows();
                if self.selected >= n {
                    self.selected = n.saturating_sub(1);
                }
                if let Some(id) = &self.detail {
                    if !self.data.calls.iter().any(|c| &c.id == id) {
                        self.note = Some(tr(self.lang, "top.call_gone"));
                    }
                }
            }
            Update::History(span, points) => {
                self.data.history = points;
                self.data.history_span = span;
            }
            Update::Disconnected(why) => {
                self.connected = false;
                self.error = Some(why);
            }
            Update::Trace(id, t) => {
                if self.detail.as_deref() == Some(id.as_str()) && self.raw.is_none() {
                    // A failed refresh keeps the ladder already shown.
                    if t.is_ok() || !matches!(self.trace, Some(Ok(_))) {
                        self.trace = Some(t);
                    }
                    let n = self.messages();
                    if self.message >= n {
                        self.message = n.saturating_sub(1);
                    }
                }
            }
            Update::Note(n) => self.note = Some(n),
            Update::Event(ev) => self.event(*ev),
        }
    }

    /// While a call is shown in detail: fetch its trace again (the ladder grows during the
    /// call). Not while a raw message is open, so the text does not move under the reader.
    pub fn refresh_trace(&self) -> Option<Action> {
        let id = self.detail.as_ref()?;
        if self.raw.is_some() {
            return None;
        }
        let c = self.data.calls.iter().find(|c| &c.id == id)?;
        let key = if c.call_id.is_empty() {
            id.clone()
        } else {
            c.call_id.clone()
        };
        Some(Action::Trace(id.clone(), key))
    }

    /// Messages in the trace of the detail call.
    pub fn messages(&self) -> usize {
        match &self.trace {
            Some(Ok(t)) => t.messages.len(),
            _ => 0,
        }
    }

    /// The selected message of the detail call's trace.
    pub fn selected_message(&self) -> Option<&pbx_api::TraceMessage> {
        match &self.trace {
            Some(Ok(t)) => t.messages.get(self.message),
            _ => None,
        }
    }

    /// Lines of the open raw message.
    fn raw_lines(&self) -> usize {
        self.selected_message()
            .map(|m| m.text.lines().count() + 2)
            .unwrap_or(0)
    }

    fn log(&mut self, line: String) {
        self.changes.push(line);
        if self.changes.len() > 200 {
            self.changes.remove(0);
        }
    }

    fn event(&mut self, ev: Event) {
        let lang = self.lang;
        match ev {
            Event::Snapshot { status, tenants } => {
                self.data.status = Some(status);
                self.data.tenants = tenants;
            }
            Event::Changed { entry } => self.log(format!(
                "{} {} {} {}",
                entry.time.get(11..19).unwrap_or(""),
                entry.action,
                entry.tenant.unwrap_or_default(),
                entry.object
            )),
            Event::Reloaded { ok, .. } => self.log(tr(
                lang,
                if ok {
                    "top.reloaded"
                } else {
                    "top.reload_refused"
                },
            )),
            Event::Registration {
                change,
                registration,
            } => self.log(format!(
                "{change} {} {}",
                registration.tenant, registration.extension
            )),
            Event::Call { change, call } => {
                if change == "started" {
                    self.starts.push_back(call.started_ms.max(self.now_ms));
                    while self.starts.len() > 1000 {
                        self.starts.pop_front();
                    }
                }
                self.log(format!(
                    "{change} {} {} → {}",
                    call.tenant, call.caller.number, call.callee.number
                ));
            }
            Event::LimitReached { tenant, limit, .. } => self.log(
                Msg::new("top.limit")
                    .arg("tenant", tenant)
                    .arg("limit", limit)
                    .render(lang),
            ),
            Event::Alarm { change, alarm } => self.log(
                Msg::new("top.alarm")
                    .arg("id", alarm.id)
                    .arg("change", change)
                    .arg("severity", alarm.severity)
                    .render(lang),
            ),
            Event::TollFraud {
                tenant, limit, max, ..
            } => self.log(
                Msg::new("top.toll_fraud")
                    .arg("tenant", tenant)
                    .arg("limit", limit)
                    .arg("max", max)
                    .render(lang),
            ),
            Event::Trunk {
                tenant,
                name,
                change,
            } => self.log(format!("trunk {tenant} {name}: {}", change.change)),
            Event::Ping => {}
        }
    }

    /// The snapshot as text, for `--once`.
    pub fn text(&self) -> String {
        let mut s = String::new();
        if let Some(status) = &self.data.status {
            s.push_str(
                &Msg::new("top.header")
                    .arg("version", &status.version)
                    .arg("tenants", status.tenants)
                    .arg("extensions", status.extensions)
                    .render(self.lang),
            );
            s.push('\n');
            for t in &self.data.tenants {
                s.push_str(&format!(
                    "{}  {}  {}/{}\n",
                    t.tenant.slug, t.tenant.name, t.extensions, t.tenant.limits.max_extensions
                ));
            }
        }
        s
    }
}
