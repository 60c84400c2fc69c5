//! Board tests without a daemon: pure state updates, and the main screens rendered at 80×24
//! into ratatui's `TestBackend`, compared with the snapshots in `src/snapshots/`
//! (`UPDATE_SNAPSHOTS=1` or a missing file writes them).

use crate::app::{Action, App, Span, Tab, Update};
use crate::ui;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use pbx_api::{AlarmInfo, CallInfo, HistoryPoint, LegLive, TrunkStatus};
use pbx_i18n::Lang;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::path::PathBuf;

const NOW: u64 = 1_700_000_000_000;

fn key(app: &mut App, code: KeyCode) -> Vec<Action> {
    app.key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn typed(app: &mut App, s: &str) {
    for c in s.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn leg(name: &str, codec: &str, mos: u32, jitter: u32, loss: u32, hist: Vec<u32>) -> LegLive {
    LegLive {
        leg: name.into(),
        codec: codec.into(),
        packets: 6000,
        loss_centi_pct: loss,
        jitter_centi_ms: jitter,
        rtt_ms: Some(24),
        mos_centi: Some(mos),
        avg_mos_centi: Some(mos),
        history_centi: hist,
    }
}

fn call(id: &str, tenant: &str, from: &str, to: &str, q: Vec<LegLive>) -> CallInfo {
    CallInfo {
        id: id.into(),
        call_id: String::new(),
        tenant: tenant.into(),
        caller: pbx_model::Party {
            number: from.into(),
            name: String::new(),
        },
        callee: pbx_model::Party {
            number: to.into(),
            name: String::new(),
        },
        forwarded_to: Vec::new(),
        state: "answered".into(),
        on_hold: false,
        started_ms: NOW - 125_000,
        answered_ms: Some(NOW - 120_000),
        legs: Vec::new(),
        quality: q,
        one_way: false,
        dead_air: false,
    }
}

fn calls() -> Vec<CallInfo> {
    let good = call(
        "c-1",
        "acme",
        "1001",
        "1002",
        vec![
            leg("a", "PCMA", 435, 120, 0, vec![430, 432, 435, 436, 435, 434]),
            leg("b", "PCMA", 430, 150, 10, vec![428, 430]),
        ],
    );
    let mut bad = call(
        "c-2",
        "demo",
        "2001",
        "0612345678",
        vec![
            leg(
                "a",
                "G722",
                280,
                2400,
                450,
                vec![420, 390, 350, 300, 260, 280],
            ),
            leg("b", "G722", 410, 300, 0, vec![410]),
        ],
    );
    bad.one_way = true;
    bad.started_ms = NOW - 30_000;
    bad.answered_ms = Some(NOW - 28_000);
    vec![good, bad]
}

fn trunk(tenant: &str, name: &str, state: &str, up: Option<bool>, rtt: Option<u64>) -> TrunkStatus {
    TrunkStatus {
        tenant: tenant.into(),
        name: name.into(),
        state: state.into(),
        reason: (state == "mislukt").then(|| "authenticatie".to_string()),
        code: (state == "mislukt").then_some(403),
        retry_ms: None,
        registered_until_ms: None,
        rtt_ms: rtt,
        up,
        active_calls: 2,
        max_channels: 30,
        history: Vec::new(),
    }
}

fn alarm(id: &str, state: &str, severity: &str, since_ago: u64, acked: bool) -> AlarmInfo {
    AlarmInfo {
        id: id.into(),
        rule: id.split(':').next().unwrap_or(id).into(),
        key: String::new(),
        tenant: Some("acme".into()),
        metric: "mos".into(),
        severity: severity.into(),
        state: state.into(),
        value: 3.02,
        threshold: 3.5,
        since_ms: NOW - since_ago,
        acked,
        silenced_until_ms: None,
    }
}

fn history() -> Vec<HistoryPoint> {
    (0..24u64)
        .map(|i| HistoryPoint {
            start_ms: NOW - NOW % 3_600_000 - (23 - i) * 3_600_000,
            started: (i * 7) % 23 + if (8..18).contains(&(i % 24)) { 20 } else { 2 },
            answered: 0,
            failed: 0,
            asr_pct: None,
            avg_duration_secs: None,
            peak_calls: 3,
            mos_avg: Some(4.1 + ((i % 5) as f64) * 0.05),
            mos_p5: Some(3.4 + ((i % 3) as f64) * 0.1),
            registrations: 4,
            availability_pct: None,
        })
        .collect()
}

fn agent(
    tenant: &str,
    user: &str,
    ext: Option<&str>,
    status: &str,
    reason: Option<&str>,
    calls: u32,
) -> pbx_api::AgentInfo {
    pbx_api::AgentInfo {
        tenant: tenant.into(),
        user: user.into(),
        name: format!("{user} de Vries"),
        extension: ext.map(str::to_string),
        status: status.into(),
        reason: reason.map(str::to_string),
        since_ms: NOW - 125_000,
        pages: u32::from(status != "afgemeld"),
        calls,
    }
}

/// A queue: (waiting, longest s), (talking, free, logged in, members), (offered, answered,
/// lost) today, service level.
fn queue(
    tenant: &str,
    number: &str,
    name: &str,
    wait: (u32, u64),
    agents: (u32, u32, u32, u32),
    today: (u32, u32, u32),
    sl: Option<u32>,
) -> pbx_api::QueueInfo {
    pbx_api::QueueInfo {
        tenant: tenant.into(),
        number: number.into(),
        name: name.into(),
        strategy: "ringall".into(),
        waiting: wait.0,
        longest_wait_s: wait.1,
        talking: agents.0,
        available: agents.1,
        logged_in: agents.2,
        members: agents.3,
        offered_today: today.0,
        answered_today: today.1,
        lost_today: today.2,
        avg_wait_s: (today.1 > 0).then_some(14),
        service_level_pct: sl,
    }
}

fn board() -> App {
    let mut app = App::new(Lang::Nl);
    app.now_ms = NOW;
    app.apply(Update::Polled {
        calls: calls(),
        registrations: Vec::new(),
        trunks: vec![
            trunk("acme", "kpn", "geregistreerd", Some(true), Some(18)),
            trunk("demo", "voys", "mislukt", Some(false), None),
        ],
        agents: vec![
            agent("acme", "anna", Some("1001"), "beschikbaar", None, 1),
            agent("acme", "bert", Some("1002"), "pauze", Some("lunch"), 0),
            agent("demo", "carla", None, "afgemeld", None, 0),
        ],
        alarms: vec![
            alarm("lage_mos:acme", "resolved", "waarschuwing", 3_600_000, true),
            alarm("verlies:acme", "firing", "kritiek", 95_000, false),
        ],
        queues: vec![
            queue(
                "acme",
                "500",
                "Klantenservice",
                (3, 95),
                (2, 1, 3, 4),
                (42, 37, 5),
                Some(81),
            ),
            queue(
                "acme",
                "510",
                "Verkoop",
                (0, 0),
                (1, 1, 1, 2),
                (8, 8, 0),
                Some(100),
            ),
            queue(
                "demo",
                "600",
                "Helpdesk",
                (1, 12),
                (0, 0, 0, 3),
                (0, 0, 0),
                None,
            ),
        ],
    });
    app.apply(Update::History(Span::Day, history()));
    app.data.status = Some(pbx_api::Status {
        version: "1.4.0".into(),
        api: 1,
        uptime_secs: 3600,
        pid: 4242,
        config_dir: "/etc/pbxd".into(),
        state_dir: "/var/lib/pbxd".into(),
        schema_version: 1,
        tenants: 2,
        extensions: 5,
        config_loaded: "2023-11-14T22:13:20Z".into(),
        you: pbx_api::Caller {
            uid: 0,
            user: Some("root".into()),
            scope: pbx_api::Scope::Beheerder,
        },
        sip: Default::default(),
    });
    app.starts
        .extend([NOW - 10_000, NOW - 50_000, NOW - 70_000]);
    app.changes.push("started demo 2001 → 0612345678".into());
    app
}

fn render(app: &App) -> String {
    let mut t = Terminal::new(TestBackend::new(80, 24)).expect("test terminal");
    t.draw(|f| ui::draw(f, app)).expect("draw");
    let buf = t.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        for x in 0..buf.area.width {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Compares `text` with `src/snapshots/{name}.txt`; writes it when missing or asked.
fn snapshot(name: &str, text: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/snapshots")
        .join(format!("{name}.txt"));
    let update = std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1");
    if update || !path.exists() {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("snapshot dir");
        std::fs::write(&path, text).expect("write snapshot");
        return;
    }
    let want = std::fs::read_to_string(&path).expect("read snapshot");
    if want != text {
        let mut diff = String::new();
        let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), text.lines().collect());
        for i in 0..w.len().max(g.len()) {
            let (a, b) = (
                w.get(i).copied().unwrap_or(""),
                g.get(i).copied().unwrap_or(""),
            );
            if a != b {
                diff.push_str(&format!("{i:>3} - {a}\n{i:>3} + {b}\n"));
            }
        }
        panic!("snapshot {name} differs (UPDATE_SNAPSHOTS=1 to accept):\n{diff}\n--- now:\n{text}");
    }
}

#[test]
fn snapshot_overzicht() {
    let app = board();
    let s = render(&app);
    assert!(
        s.contains("Actieve gesprekken") && s.contains("1 op, 1 neer"),
        "{s}"
    );
    snapshot("overzicht", &s);
}

#[test]
fn snapshot_gesprekken_worst_first() {
    let mut app = board();
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('s'));
    let s = render(&app);
    let bad = s.find("2001 → 0612").expect("bad call shown");
    let good = s.find("1001 → 1002").expect("good call shown");
    assert!(bad < good, "worst first:\n{s}");
    assert!(
        s.contains("1-WEG") && s.contains("2.80") && s.contains("slechtste eerst"),
        "{s}"
    );
    snapshot("gesprekken", &s);
}

#[test]
fn snapshot_trunks() {
    let mut app = board();
    key(&mut app, KeyCode::Char('4'));
    let s = render(&app);
    assert!(
        s.contains("kpn") && s.contains("NEER") && s.contains("2/30"),
        "{s}"
    );
    snapshot("trunks", &s);
}

#[test]
fn snapshot_alarmen_firing_first() {
    let mut app = board();
    key(&mut app, KeyCode::Char('7'));
    let s = render(&app);
    let firing = s.find("verlies:acme").expect("firing alarm");
    let resolved = s.find("lage_mos:acme").expect("resolved alarm");
    assert!(firing < resolved, "{s}");
    snapshot("alarmen", &s);
}

#[test]
fn snapshot_historie() {
    let mut app = board();
    assert_eq!(
        key(&mut app, KeyCode::Char('8')),
        vec![Action::History(Span::Day)]
    );
    let s = render(&app);
    assert!(s.contains("24 uur, per uur"), "{s}");
    snapshot("historie", &s);
}

#[test]
fn snapshot_help() {
    let mut app = board();
    key(&mut app, KeyCode::Char('?'));
    let s = render(&app);
    assert!(s.contains("Hulp") && s.contains("stoppen"), "{s}");
    snapshot("hulp", &s);
}

#[test]
fn snapshot_hangup_confirmation() {
    let mut app = board();
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('h'));
    assert_eq!(app.confirm.as_deref(), Some("c-1"));
    let s = render(&app);
    assert!(s.contains("Ophangen? (j/n)"), "{s}");
    snapshot("ophangen", &s);
    assert_eq!(
        key(&mut app, KeyCode::Char('j')),
        vec![Action::Hangup("c-1".into())]
    );
    assert_eq!(app.confirm, None);
}

#[test]
fn hangup_refused_with_n() {
    let mut app = board();
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('h'));
    assert!(key(&mut app, KeyCode::Char('n')).is_empty());
    assert_eq!(app.confirm, None);
}

#[test]
fn english_and_wide_render() {
    let mut app = board();
    app.lang = Lang::En;
    key(&mut app, KeyCode::Char('2'));
    let mut t = Terminal::new(TestBackend::new(140, 30)).expect("terminal");
    t.draw(|f| ui::draw(f, &app)).expect("draw");
    let s: String = t
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol().to_string())
        .collect();
    assert!(
        s.contains("Calls") && s.contains("CODEC A") && s.contains("PCMA"),
        "{s}"
    );
}

#[test]
fn detail_view_without_trace_says_geen_spoor() {
    let mut app = board();
    key(&mut app, KeyCode::Char('2'));
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        vec![Action::Trace("c-1".into(), "c-1".into())]
    );
    app.apply(Update::Trace("c-1".into(), Err("niet gevonden".into())));
    let s = render(&app);
    assert!(s.contains("geen spoor") && s.contains("PCMA"), "{s}");
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.detail, None);
}

#[test]
fn tab_keys() {
    let mut app = board();
    key(&mut app, KeyCode::Char('3'));
    assert_eq!(app.tab, Tab::Registraties);
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.tab, Tab::Trunks);
    key(&mut app, KeyCode::BackTab);
    key(&mut app, KeyCode::BackTab);
    key(&mut app, KeyCode::BackTab);
    assert_eq!(app.tab, Tab::Overzicht);
    key(&mut app, KeyCode::BackTab);
    assert_eq!(app.tab, Tab::Historie);
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.tab, Tab::Overzicht);
    assert_eq!(key(&mut app, KeyCode::Char('q')), vec![Action::Quit]);
}

#[test]
fn filter_by_organisation_and_text() {
    let mut app = board();
    key(&mut app, KeyCode::Char('/'));
    typed(&mut app, "org:demo");
    // While typing, digits are text, not tabs.
    assert_eq!(app.tab, Tab::Overzicht);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.filter, "org:demo");
    let ids: Vec<&str> = app.calls().iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["c-2"]);
    assert_eq!(app.trunks().len(), 1);
    key(&mut app, KeyCode::Char('/'));
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.filter, "");
    assert_eq!(app.calls().len(), 2);
    key(&mut app, KeyCode::Char('/'));
    typed(&mut app, "1002");
    key(&mut app, KeyCode::Enter);
    let ids: Vec<&str> = app.calls().iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["c-1"]);
}

#[test]
fn sort_worst_first_toggles() {
    let mut app = board();
    key(&mut app, KeyCode::Char('2'));
    let ids = |a: &App| a.calls().iter().map(|c| c.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&app), ["c-1", "c-2"]);
    key(&mut app, KeyCode::Char('s'));
    assert_eq!(ids(&app), ["c-2", "c-1"]);
    key(&mut app, KeyCode::Char('s'));
    assert_eq!(ids(&app), ["c-1", "c-2"]);
}

#[test]
fn reconnect_keeps_tab_sort_and_filter() {
    let mut app = board();
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('s'));
    app.filter = "org:demo".into();
    app.apply(Update::Disconnected("pbxd draait niet".into()));
    assert!(!app.connected);
    let s = render(&app);
    assert!(
        s.contains("verbinding verbroken, opnieuw verbinden…"),
        "{s}"
    );
    app.apply(Update::Polled {
        calls: calls(),
        registrations: Vec::new(),
        trunks: Vec::new(),
        alarms: Vec::new(),
        agents: Vec::new(),
        queues: Vec::new(),
    });
    assert!(app.connected);
    assert_eq!(app.tab, Tab::Gesprekken);
    assert!(app.worst_first);
    assert_eq!(app.filter, "org:demo");
    assert_eq!(app.calls().len(), 1);
}

#[test]
fn ack_and_history_span() {
    let mut app = board();
    key(&mut app, KeyCode::Char('7'));
    assert_eq!(
        key(&mut app, KeyCode::Char('a')),
        vec![Action::AckAlarm("verlies:acme".into())]
    );
    key(&mut app, KeyCode::Char('8'));
    assert_eq!(
        key(&mut app, KeyCode::Char('d')),
        vec![Action::History(Span::Week)]
    );
    assert_eq!(
        key(&mut app, KeyCode::Char('d')),
        vec![Action::History(Span::Month)]
    );
    assert_eq!(
        key(&mut app, KeyCode::Char('d')),
        vec![Action::History(Span::Day)]
    );
    assert_eq!(Span::Week.per(), "dag");
}

#[test]
fn overview_counts() {
    let app = board();
    assert_eq!(app.calls_per_minute(), 2);
    assert_eq!(app.firing(), 1);
    // Legs: 4.35 and 4.30 (≥4.3), 4.10 (4.0–4.3), 2.80 (<3.1).
    assert_eq!(app.mos_bands(), [2, 1, 0, 0, 1]);
}

#[test]
fn sparkline_cells() {
    assert_eq!(ui::spark(&[100, 450, 275], 10), "▁█▅");
    assert_eq!(ui::spark(&[100, 100, 450], 2), "▁█");
}

fn render_at(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    t.draw(|f| ui::draw(f, app)).expect("draw");
    let buf = t.backend().buffer().clone();
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn medium_width_adds_the_codec_column() {
    let mut app = board();
    key(&mut app, KeyCode::Char('2'));
    let s = render_at(&app, 100, 30);
    assert!(
        s.contains("CODEC") && s.contains("G722") && s.contains("0612345678"),
        "{s}"
    );
    let narrow = render(&app);
    assert!(!narrow.contains("CODEC"), "{narrow}");
}

#[test]
fn registrations_and_queues_tabs() {
    let mut app = board();
    app.data.registrations = vec![pbx_model::Registration {
        tenant: "acme".into(),
        extension: "1001".into(),
        contact: "sip:1001@192.0.2.7:5060".into(),
        instance: None,
        source: "udp:192.0.2.7:5060".into(),
        user_agent: Some("Yealink T54W".into()),
        call_id: "r-1".into(),
        cseq: 2,
        registered_ms: NOW - 60_000,
        expires_ms: NOW + 240_000,
        nat: true,
        unreachable: false,
    }];
    key(&mut app, KeyCode::Char('3'));
    let s = render(&app);
    assert!(
        s.contains("1001") && s.contains("beschikbaar") && s.contains("240s") && s.contains("NAT"),
        "{s}"
    );
    key(&mut app, KeyCode::Char('5'));
    let s = render(&app);
    assert!(s.contains("Klantenservice") && s.contains("42/37/5"), "{s}");
    key(&mut app, KeyCode::Char('6'));
    assert!(render(&app).contains("Agenten"));
}

fn trace_of_c1() -> pbx_api::TraceView {
    let m = |t: u64, way: &str, src: &str, dst: &str, text: &str| pbx_api::TraceMessage {
        time_ms: NOW - 60_000 + t,
        way: way.into(),
        transport: "udp".into(),
        src: src.into(),
        dst: dst.into(),
        text: text.into(),
    };
    let (a, p, b) = ("127.0.0.1:5070", "127.0.0.1:5060", "127.0.0.1:5080");
    pbx_api::TraceView {
        call_id: "c-1".into(),
        dropped: 0,
        messages: vec![
            m(0, "in", a, p, "INVITE sip:1002@acme SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\nFrom: <sip:1001@acme>;tag=1\r\nTo: <sip:1002@acme>\r\nCall-ID: c-1\r\nCSeq: 1 INVITE\r\nAuthorization: Digest username=\"1001\", response=\"[verborgen]\"\r\nContent-Length: 0\r\n"),
            m(2, "out", p, a, "SIP/2.0 100 Trying\r\nCall-ID: c-1\r\n"),
            m(5, "out", p, b, "INVITE sip:1002@127.0.0.1:5080 SIP/2.0\r\nCall-ID: b-1\r\n"),
            m(40, "in", b, p, "SIP/2.0 180 Ringing\r\nCall-ID: b-1\r\n"),
            m(900, "in", b, p, "SIP/2.0 200 OK\r\nCall-ID: b-1\r\n"),
        ],
    }
}

/// sngrep's flow: the list, Enter → ladder with the first message selected, ↓ ↓ → the third,
/// Enter → its raw text, n → the next, Esc → ladder, Esc → list.
#[test]
fn snapshot_ladder_and_raw_message() {
    let mut app = board();
    key(&mut app, KeyCode::Char('2'));
    let a = key(&mut app, KeyCode::Enter);
    let Some(Action::Trace(id, _)) = a.first().cloned() else {
        panic!("geen Trace-actie: {a:?}");
    };
    app.apply(Update::Trace(id, Ok(trace_of_c1())));
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    assert_eq!(app.message, 2);
    snapshot("ladder", &render(&app));
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.raw, Some(0));
    let s = render(&app);
    assert!(s.contains("INVITE sip:1002@127.0.0.1:5080"), "{s}");
    key(&mut app, KeyCode::Char('p'));
    key(&mut app, KeyCode::Char('p'));
    snapshot("raw_message", &render(&app));
    // The first message carries the redacted credentials as pbxd stored them.
    assert!(render(&app).contains("[verborgen]"));
    // A refresh while the text is open does not replace it.
    app.apply(Update::Trace("c-1".into(), Err("weg".into())));
    assert!(matches!(app.trace, Some(Ok(_))));
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.raw, None);
    assert!(app.detail.is_some());
    assert!(app.refresh_trace().is_some());
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.detail, None);
    assert_eq!(app.refresh_trace(), None);
}

#[test]
fn snapshot_agenten() {
    let mut app = board();
    key(&mut app, KeyCode::Char('6'));
    snapshot("agenten", &render(&app));
    // The filter works on this tab too.
    key(&mut app, KeyCode::Char('/'));
    typed(&mut app, "pauze");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.agents().len(), 1);
}

#[test]
fn snapshot_wachtrijen() {
    let mut app = board();
    key(&mut app, KeyCode::Char('5'));
    assert_eq!(app.tab, Tab::Wachtrijen);
    let text = render(&app);
    snapshot("wachtrijen", &text);
    // Busiest first: the queue with three callers waiting heads the list.
    assert_eq!(app.queues()[0].number, "500");
    // The filter works on this tab too.
    key(&mut app, KeyCode::Char('/'));
    typed(&mut app, "org:demo");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.queues().len(), 1);
    assert_eq!(app.queues()[0].name, "Helpdesk");
}
