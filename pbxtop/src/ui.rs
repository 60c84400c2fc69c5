//! Drawing: a pure function of [`App`]. State is shown with modifiers (bold, reversed) as well
//! as colour, so the board reads on a monochrome terminal too.

use crate::app::{band, centi, App, Span, Tab};
use pbx_api::{CallInfo, LegLive};
use pbx_i18n::{tr, Lang, Msg};
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span as TSpan};
use ratatui::widgets::{
    Axis, Bar, BarChart, BarGroup, Block, Borders, Cell, Chart, Clear, Dataset, GraphType,
    Paragraph, Row, Sparkline, Table, TableState, Tabs, Wrap,
};
use ratatui::Frame;

fn bold() -> Style {
    Style::default().add_modifier(Modifier::BOLD)
}

fn bad() -> Style {
    Style::default()
        .fg(Color::Red)
        .add_modifier(Modifier::BOLD | Modifier::REVERSED)
}

fn warn() -> Style {
    Style::default()
        .fg(Color::Yellow)
        .add_modifier(Modifier::BOLD)
}

fn block(title: String) -> Block<'static> {
    Block::default().borders(Borders::ALL).title(title)
}

/// `m:ss` or `h:mm:ss`.
fn duration(ms: u64) -> String {
    let s = ms / 1000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// A MOS history as a line of ▁▂▃▄▅▆▇█ (1.0 … 4.5), the last `width` values.
pub fn spark(values: &[u32], width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let start = values.len().saturating_sub(width);
    values[start..]
        .iter()
        .map(|v| {
            let x = v.saturating_sub(100).min(349) as usize; // 0..349
            BARS[x * 8 / 350]
        })
        .collect()
}

fn mos_style(mos: Option<u32>) -> Style {
    match mos.map(band) {
        Some(4) => bad(),
        Some(3) => warn(),
        _ => Style::default(),
    }
}

fn leg<'a>(c: &'a CallInfo, name: &str) -> Option<&'a LegLive> {
    c.quality.iter().find(|q| q.leg == name)
}

/// Draws the board.
pub fn draw(f: &mut Frame<'_>, app: &App) {
    let lang = app.lang;
    let [tabs, status, body, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(f.area());
    let titles: Vec<String> = Tab::ALL.iter().map(|t| t.title(lang)).collect();
    f.render_widget(
        Tabs::new(titles)
            .select(app.tab.index())
            .padding("", "")
            .divider("│")
            .highlight_style(bold().add_modifier(Modifier::REVERSED)),
        tabs,
    );
    draw_status(f, app, status);
    if app.detail.is_some() {
        draw_detail(f, app, body);
    } else {
        match app.tab {
            Tab::Overzicht => draw_overview(f, app, body),
            Tab::Gesprekken => draw_calls(f, app, body),
            Tab::Registraties => draw_registrations(f, app, body),
            Tab::Trunks => draw_trunks(f, app, body),
            Tab::Agenten => draw_agents(f, app, body),
            Tab::Wachtrijen => draw_queues(f, app, body),
            Tab::Alarmen => draw_alarms(f, app, body),
            Tab::Historie => draw_history(f, app, body),
        }
    }
    let foot_text = match &app.input {
        Some(i) => Line::from(vec![
            TSpan::styled(tr(lang, "top.filter_prompt"), bold()),
            TSpan::raw(format!(" {i}▏")),
        ]),
        None => Line::from(app.note.clone().unwrap_or_else(|| {
            tr(
                lang,
                match app.tab {
                    _ if app.detail.is_some() => "top.keys.detail",
                    Tab::Gesprekken => "top.keys.calls",
                    Tab::Alarmen => "top.keys.alarms",
                    Tab::Historie => "top.keys.history",
                    _ => "top.keys.main",
                },
            )
        })),
    };
    f.render_widget(Paragraph::new(foot_text), foot);
    if app.help {
        draw_help(f, app);
    }
    if let Some(id) = &app.confirm {
        draw_confirm(f, app, id);
    }
}

fn draw_status(f: &mut Frame<'_>, app: &App, area: Rect) {
    let lang = app.lang;
    let mut spans = Vec::new();
    if app.connected {
        let head = match &app.data.status {
            Some(s) => Msg::new("top.header")
                .arg("version", &s.version)
                .arg("tenants", s.tenants)
                .arg("extensions", s.extensions)
                .render(lang),
            None => tr(lang, "top.connected"),
        };
        spans.push(TSpan::raw(head));
    } else {
        let msg = match &app.error {
            Some(_) => tr(lang, "top.reconnecting"),
            None => tr(lang, "top.connecting"),
        };
        spans.push(TSpan::styled(msg, bad()));
    }
    if !app.filter.is_empty() {
        spans.push(TSpan::raw("  "));
        spans.push(TSpan::styled(
            Msg::new("top.filter_on")
                .arg("filter", &app.filter)
                .render(lang),
            bold(),
        ));
    }
    if app.worst_first {
        spans.push(TSpan::raw("  "));
        spans.push(TSpan::styled(tr(lang, "top.sorted_worst"), bold()));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_overview(f: &mut Frame<'_>, app: &App, area: Rect) {
    let lang = app.lang;
    let [top, bottom] = Layout::vertical([Constraint::Length(8), Constraint::Min(3)]).areas(area);
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(top);
    let up = app
        .data
        .trunks
        .iter()
        .filter(|t| t.up == Some(true))
        .count();
    let down = app
        .data
        .trunks
        .iter()
        .filter(|t| t.up == Some(false))
        .count();
    let firing = app.firing();
    let line = |key: &'static str, v: String, style: Style| {
        Line::from(vec![
            TSpan::raw(format!("{:<22}", tr(lang, key))),
            TSpan::styled(v, style),
        ])
    };
    let lines = vec![
        line("top.ov.calls", app.data.calls.len().to_string(), bold()),
        line(
            "top.ov.per_minute",
            app.calls_per_minute().to_string(),
            bold(),
        ),
        line(
            "top.ov.registrations",
            app.data.registrations.len().to_string(),
            bold(),
        ),
        line(
            "top.ov.trunks",
            Msg::new("top.ov.up_down")
                .arg("up", up)
                .arg("down", down)
                .render(lang),
            if down > 0 { bad() } else { bold() },
        ),
        line(
            "top.ov.alarms",
            firing.to_string(),
            if firing > 0 { bad() } else { bold() },
        ),
    ];
    f.render_widget(
        Paragraph::new(lines).block(block(tr(lang, "top.ov.now"))),
        left,
    );
    let bands = app.mos_bands();
    let labels = ["≥4.3", "4.0-4.3", "3.6-4.0", "3.1-3.6", "<3.1"];
    let max = bands.iter().copied().max().unwrap_or(0).max(1);
    let width = right.width.saturating_sub(16) as u64;
    let lines: Vec<Line<'_>> = labels
        .iter()
        .zip(bands)
        .enumerate()
        .map(|(i, (l, n))| {
            let len = (n * width).div_ceil(max) as usize;
            let style = match i {
                4 => bad(),
                3 => warn(),
                _ => Style::default(),
            };
            Line::from(vec![
                TSpan::raw(format!("{l:<8}")),
                TSpan::styled("█".repeat(len), style),
                TSpan::raw(format!(" {n}")),
            ])
        })
        .collect();
    f.render_widget(
        Paragraph::new(lines).block(block(tr(lang, "top.ov.mos"))),
        right,
    );
    let n = bottom.height.saturating_sub(2) as usize;
    let changes: Vec<Line<'_>> = app
        .changes
        .iter()
        .rev()
        .take(n)
        .rev()
        .map(|c| Line::from(c.as_str()))
        .collect();
    f.render_widget(
        Paragraph::new(changes).block(block(tr(lang, "top.changes"))),
        bottom,
    );
}

fn state_word(lang: Lang, c: &CallInfo) -> String {
    if c.on_hold {
        return tr(lang, "top.state.hold");
    }
    match c.state.as_str() {
        "routing" => tr(lang, "top.state.routing"),
        "ringing" => tr(lang, "top.state.ringing"),
        "answered" => tr(lang, "top.state.answered"),
        s => s.to_string(),
    }
}

fn flag(lang: Lang, c: &CallInfo) -> Cell<'static> {
    if c.dead_air {
        Cell::from(tr(lang, "top.dead_air")).style(bad())
    } else if c.one_way {
        Cell::from(tr(lang, "top.one_way")).style(bad())
    } else {
        Cell::from("")
    }
}

fn draw_calls(f: &mut Frame<'_>, app: &App, area: Rect) {
    let lang = app.lang;
    let calls = app.calls();
    let wide = area.width >= 120;
    let medium = area.width >= 90;
    let now = app.now_ms;
    let rows: Vec<Row<'_>> = calls
        .iter()
        .map(|c| {
            let dur = duration(now.saturating_sub(c.answered_ms.unwrap_or(c.started_ms)));
            let parties = format!("{} → {}", c.caller.number, c.callee.number);
            let a = leg(c, "a");
            let b = leg(c, "b");
            let mos = |l: Option<&LegLive>| {
                let m = l.and_then(|l| l.mos_centi);
                Cell::from(m.map(centi).unwrap_or_else(|| "-".into())).style(mos_style(m))
            };
            let hist = a.map(|l| l.history_centi.as_slice()).unwrap_or(&[]);
            let mut cells = vec![
                Cell::from(c.tenant.clone()),
                Cell::from(parties),
                Cell::from(state_word(lang, c)),
                Cell::from(dur),
            ];
            if wide {
                for l in [a, b] {
                    cells.push(Cell::from(
                        l.map(|l| l.codec.clone()).unwrap_or_else(|| "-".into()),
                    ));
                    cells.push(mos(l));
                    cells.push(Cell::from(
                        l.map(|l| format!("{:.1}", f64::from(l.jitter_centi_ms) / 100.0))
                            .unwrap_or_else(|| "-".into()),
                    ));
                    cells.push(Cell::from(
                        l.map(|l| format!("{:.1}%", f64::from(l.loss_centi_pct) / 100.0))
                            .unwrap_or_else(|| "-".into()),
                    ));
                }
                cells.push(Cell::from(spark(hist, 20)));
            } else {
                // Narrow: MOS per leg, worst jitter and loss of the two; the codecs from 90
                // columns on.
                if medium {
                    let codecs: Vec<&str> = c.quality.iter().map(|q| q.codec.as_str()).collect();
                    let one = codecs.windows(2).all(|w| w[0] == w[1]);
                    cells.push(Cell::from(if one {
                        codecs.first().copied().unwrap_or("-").to_string()
                    } else {
                        codecs.join("/")
                    }));
                }
                cells.push(mos(a));
                cells.push(mos(b));
                let worst_j = c.quality.iter().map(|q| q.jitter_centi_ms).max();
                let worst_l = c.quality.iter().map(|q| q.loss_centi_pct).max();
                cells.push(Cell::from(
                    worst_j
                        .map(|j| format!("{:.1}", f64::from(j) / 100.0))
                        .unwrap_or_else(|| "-".into()),
                ));
                cells.push(Cell::from(
                    worst_l
                        .map(|l| format!("{:.1}%", f64::from(l) / 100.0))
                        .unwrap_or_else(|| "-".into()),
                ));
                cells.push(Cell::from(spark(hist, 7)));
            }
            cells.push(flag(lang, c));
            Row::new(cells)
        })
        .collect();
    let h = |k: &'static str| tr(lang, k);
    let (header, widths): (Vec<String>, Vec<Constraint>) = if wide {
        (
            vec![
                h("top.col.org"),
                h("top.col.call"),
                h("top.col.state"),
                h("top.col.duration"),
                "CODEC A".into(),
                "MOS A".into(),
                h("top.col.jitter_a"),
                h("top.col.loss_a"),
                "CODEC B".into(),
                "MOS B".into(),
                h("top.col.jitter_b"),
                h("top.col.loss_b"),
                h("top.col.trend"),
                "".into(),
            ],
            vec![
                Constraint::Length(10),
                Constraint::Min(16),
                Constraint::Length(10),
                Constraint::Length(7),
                Constraint::Length(7),
                Constraint::Length(5),
                Constraint::Length(6),
                Constraint::Length(6),
                Constraint::Length(7),
                Constraint::Length(5),
                Constraint::Length(6),
                Constraint::Length(6),
                Constraint::Length(20),
                Constraint::Length(8),
            ],
        )
    } else {
        let (mut header, mut widths) = (
            vec![
                h("top.col.org"),
                h("top.col.call"),
                h("top.col.state"),
                h("top.col.duration"),
                "MOS A".into(),
                "MOS B".into(),
                h("top.col.jitter"),
                h("top.col.loss"),
                h("top.col.trend"),
                "".into(),
            ],
            vec![
                Constraint::Length(5),
                Constraint::Min(15),
                Constraint::Length(11),
                Constraint::Length(5),
                Constraint::Length(5),
                Constraint::Length(5),
                Constraint::Length(4),
                Constraint::Length(5),
                Constraint::Length(7),
                Constraint::Length(5),
            ],
        );
        if medium {
            header.insert(4, "CODEC".into());
            widths.insert(4, Constraint::Length(9));
        }
        (header, widths)
    };
    let title = Msg::new("top.calls_title")
        .arg("n", calls.len())
        .render(lang);
    let empty = calls.is_empty();
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(bold().add_modifier(Modifier::UNDERLINED)))
        .column_spacing(1)
        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
        .block(block(title));
    let mut st = TableState::default().with_selected(if empty { None } else { Some(app.selected) });
    f.render_stateful_widget(table, area, &mut st);
    if empty {
        let inner = Rect {
            x: area.x + 2,
            y: area.y + 3,
            width: area.width.saturating_sub(4),
            height: 1,
        };
        if inner.y < area.bottom() {
            f.render_widget(Paragraph::new(tr(lang, "top.no_calls")), inner);
        }
    }
}

fn draw_detail(f: &mut Frame<'_>, app: &App, area: Rect) {
    let lang = app.lang;
    let Some(c) = app
        .detail
        .as_ref()
        .and_then(|id| app.data.calls.iter().find(|c| &c.id == id))
    else {
        f.render_widget(
            Paragraph::new(tr(lang, "top.call_gone")).block(block(String::new())),
            area,
        );
        return;
    };
    let title = format!(
        " {} {} → {} ({}) ",
        c.tenant, c.caller.number, c.callee.number, c.id
    );
    let outer = block(title);
    let inner = outer.inner(area);
    f.render_widget(outer, area);
    let legs = c.quality.len().max(1) as u16;
    let [info, table, sparks, ladder] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(legs + 1),
        Constraint::Length(2 * legs),
        Constraint::Min(1),
    ])
    .areas(inner);
    let mut spans = vec![TSpan::raw(format!(
        "{}  {}",
        state_word(lang, c),
        duration(app.now_ms.saturating_sub(c.started_ms))
    ))];
    if c.one_way || c.dead_air {
        spans.push(TSpan::raw("  "));
        spans.push(TSpan::styled(
            tr(
                lang,
                if c.dead_air {
                    "top.dead_air"
                } else {
                    "top.one_way"
                },
            ),
            bad(),
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), info);
    let rows: Vec<Row<'_>> = c
        .quality
        .iter()
        .map(|q| {
            Row::new(vec![
                Cell::from(q.leg.clone()),
                Cell::from(q.codec.clone()),
                Cell::from(q.packets.to_string()),
                Cell::from(q.mos_centi.map(centi).unwrap_or_else(|| "-".into()))
                    .style(mos_style(q.mos_centi)),
                Cell::from(q.avg_mos_centi.map(centi).unwrap_or_else(|| "-".into())),
                Cell::from(format!("{:.1}", f64::from(q.jitter_centi_ms) / 100.0)),
                Cell::from(format!("{:.1}%", f64::from(q.loss_centi_pct) / 100.0)),
                Cell::from(
                    q.rtt_ms
                        .map(|r| r.to_string())
                        .unwrap_or_else(|| "-".into()),
                ),
            ])
        })
        .collect();
    let h = |k: &'static str| tr(lang, k);
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(4),
                Constraint::Length(6),
                Constraint::Length(8),
                Constraint::Length(5),
                Constraint::Length(6),
                Constraint::Length(7),
                Constraint::Length(6),
                Constraint::Length(6),
            ],
        )
        .header(
            Row::new(vec![
                h("top.col.leg"),
                "CODEC".into(),
                h("top.col.packets"),
                "MOS".into(),
                h("top.col.avg"),
                h("top.col.jitter"),
                h("top.col.loss"),
                "RTT".into(),
            ])
            .style(bold()),
        ),
        table,
    );
    for (i, q) in c.quality.iter().enumerate() {
        let y = sparks.y + 2 * i as u16;
        if y + 2 > sparks.bottom() {
            break;
        }
        let r = Rect {
            x: sparks.x,
            y,
            width: sparks.width,
            height: 2,
        };
        let [label, line] =
            Layout::horizontal([Constraint::Length(8), Constraint::Min(1)]).areas(r);
        f.render_widget(Paragraph::new(format!("MOS {}", q.leg)), label);
        let data: Vec<u64> = q
            .history_centi
            .iter()
            .map(|v| u64::from(v.saturating_sub(100)))
            .collect();
        f.render_widget(Sparkline::default().data(&data).max(350), line);
    }
    if app.raw.is_some() {
        draw_raw(f, app, ladder);
        return;
    }
    let frame = Block::default()
        .borders(Borders::TOP)
        .title(tr(lang, "top.ladder"));
    let text = match &app.trace {
        None => tr(lang, "top.trace_loading"),
        Some(Err(_)) => tr(lang, "top.no_trace"),
        Some(Ok(t)) if t.messages.is_empty() => tr(lang, "top.no_trace"),
        Some(Ok(t)) => pbx_api::ladder::ladder(&t.messages),
    };
    // Line 0 is the column header, line i + 1 message i; the selected message is reversed
    // (readable without colour) and kept in view.
    let lines: Vec<Line<'_>> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if app.messages() > 0 && i == app.message + 1 {
                Line::styled(
                    l.to_string(),
                    Style::default().add_modifier(Modifier::REVERSED),
                )
            } else {
                Line::raw(l.to_string())
            }
        })
        .collect();
    let rows = usize::from(ladder.height.saturating_sub(1)).max(1);
    let top = (app.message + 2).saturating_sub(rows);
    f.render_widget(
        Paragraph::new(lines)
            .scroll((u16::try_from(top).unwrap_or(u16::MAX), 0))
            .block(frame),
        ladder,
    );
}

/// The raw text of the selected message (credentials were redacted by pbxd), scrollable.
fn draw_raw(f: &mut Frame<'_>, app: &App, area: Rect) {
    let lang = app.lang;
    let Some(m) = app.selected_message() else {
        return;
    };
    let t0 = match &app.trace {
        Some(Ok(t)) => t.messages.first().map(|m| m.time_ms).unwrap_or(0),
        _ => 0,
    };
    let title = pbx_i18n::Msg::new("top.raw_title")
        .arg("n", app.message + 1)
        .arg("of", app.messages())
        .render(lang);
    let arrow = if m.way == "in" { "◀" } else { "▶" };
    let mut lines = vec![Line::styled(
        format!(
            "{:+.3}s {arrow} {} {} → {}",
            m.time_ms.saturating_sub(t0) as f64 / 1000.0,
            m.transport,
            m.src,
            m.dst
        ),
        bold(),
    )];
    lines.extend(m.text.lines().map(|l| Line::raw(l.to_string())));
    f.render_widget(
        Paragraph::new(lines)
            .scroll((app.raw.unwrap_or(0), 0))
            .block(Block::default().borders(Borders::TOP).title(title)),
        area,
    );
}

fn draw_registrations(f: &mut Frame<'_>, app: &App, area: Rect) {
    let lang = app.lang;
    let regs = app.registrations();
    let now = app.now_ms;
    let wide = area.width >= 100;
    let rows: Vec<Row<'_>> = regs
        .iter()
        .map(|r| {
            let left = r.expires_ms.saturating_sub(now) / 1000;
            let (state, style) = if r.expired(now) {
                (tr(lang, "top.reg.expired"), bad())
            } else if r.unreachable {
                (tr(lang, "top.reg.unreachable"), bad())
            } else {
                (tr(lang, "top.reg.available"), Style::default())
            };
            let mut cells = vec![
                Cell::from(r.tenant.clone()),
                Cell::from(r.extension.clone()),
                Cell::from(state).style(style),
                Cell::from(r.source.clone()),
                Cell::from(format!("{left}s")),
                Cell::from(if r.nat { "NAT" } else { "" }),
            ];
            if wide {
                cells.push(Cell::from(r.user_agent.clone().unwrap_or_default()));
            }
            Row::new(cells)
        })
        .collect();
    let h = |k: &'static str| tr(lang, k);
    let mut header = vec![
        h("top.col.org"),
        h("top.col.extension"),
        h("top.col.state"),
        h("top.col.source"),
        h("top.col.expires"),
        "NAT".to_string(),
    ];
    let mut widths = vec![
        Constraint::Length(10),
        Constraint::Length(8),
        Constraint::Length(12),
        Constraint::Min(16),
        Constraint::Length(8),
        Constraint::Length(4),
    ];
    if wide {
        header.push(h("top.col.user_agent"));
        widths.push(Constraint::Length(24));
    }
    let title = Msg::new("top.regs_title").arg("n", regs.len()).render(lang);
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(bold().add_modifier(Modifier::UNDERLINED)))
        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
        .block(block(title));
    let mut st = TableState::default().with_selected(if regs.is_empty() {
        None
    } else {
        Some(app.selected)
    });
    f.render_stateful_widget(table, area, &mut st);
}

fn draw_trunks(f: &mut Frame<'_>, app: &App, area: Rect) {
    let lang = app.lang;
    let trunks = app.trunks();
    let rows: Vec<Row<'_>> = trunks
        .iter()
        .map(|t| {
            let (updown, style) = match t.up {
                Some(true) => (tr(lang, "top.up"), bold()),
                Some(false) => (tr(lang, "top.down"), bad()),
                None => ("-".to_string(), Style::default()),
            };
            let state_style = if t.state == "mislukt" {
                bad()
            } else {
                Style::default()
            };
            Row::new(vec![
                Cell::from(t.tenant.clone()),
                Cell::from(t.name.clone()),
                Cell::from(t.state.clone()).style(state_style),
                Cell::from(
                    t.rtt_ms
                        .map(|r| format!("{r} ms"))
                        .unwrap_or_else(|| "-".into()),
                ),
                Cell::from(updown).style(style),
                Cell::from(format!("{}/{}", t.active_calls, t.max_channels)),
                Cell::from(
                    t.reason
                        .as_ref()
                        .map(|r| match t.code {
                            Some(c) => format!("{r} ({c})"),
                            None => r.clone(),
                        })
                        .unwrap_or_default(),
                ),
            ])
        })
        .collect();
    let h = |k: &'static str| tr(lang, k);
    let table = Table::new(
        rows,
        [
            Constraint::Length(8),
            Constraint::Length(10),
            Constraint::Length(13),
            Constraint::Length(7),
            Constraint::Length(5),
            Constraint::Length(8),
            Constraint::Min(8),
        ],
    )
    .header(
        Row::new(vec![
            h("top.col.org"),
            h("top.col.name"),
            h("top.col.state"),
            "RTT".into(),
            h("top.col.updown"),
            h("top.col.channels"),
            h("top.col.reason"),
        ])
        .style(bold().add_modifier(Modifier::UNDERLINED)),
    )
    .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
    .block(block(format!(" {} ", Tab::Trunks.title(lang))));
    let mut st = TableState::default().with_selected(if trunks.is_empty() {
        None
    } else {
        Some(app.selected)
    });
    f.render_stateful_widget(table, area, &mut st);
}

fn draw_queues(f: &mut Frame<'_>, app: &App, area: Rect) {
    let lang = app.lang;
    let queues = app.queues();
    let wide = area.width >= 100;
    let title = Msg::new("top.queues_title")
        .arg("n", queues.len())
        .arg("waiting", queues.iter().map(|q| q.waiting).sum::<u32>())
        .render(lang);
    if queues.is_empty() {
        f.render_widget(
            Paragraph::new(tr(lang, "top.no_queues"))
                .wrap(Wrap { trim: true })
                .block(block(title)),
            area,
        );
        return;
    }
    let rows: Vec<Row<'_>> = queues
        .iter()
        .map(|q| {
            // Callers waiting with nobody free: what the NOC must see first.
            let style = if q.waiting > 0 && q.available == 0 {
                bold().add_modifier(Modifier::UNDERLINED)
            } else if q.waiting > 0 {
                bold()
            } else {
                Style::default()
            };
            let mut cells = vec![
                Cell::from(q.tenant.clone()),
                Cell::from(format!("{} {}", q.number, q.name)),
                Cell::from(q.waiting.to_string()).style(style),
                Cell::from(if q.waiting > 0 {
                    duration(q.longest_wait_s * 1000)
                } else {
                    String::new()
                }),
                Cell::from(q.talking.to_string()),
                Cell::from(format!("{}/{}/{}", q.available, q.logged_in, q.members)),
                Cell::from(format!(
                    "{}/{}/{}",
                    q.offered_today, q.answered_today, q.lost_today
                )),
                Cell::from(
                    q.service_level_pct
                        .map(|p| format!("{p}%"))
                        .unwrap_or_default(),
                ),
            ];
            if wide {
                cells.push(Cell::from(
                    q.avg_wait_s.map(|s| duration(s * 1000)).unwrap_or_default(),
                ));
                cells.push(Cell::from(q.strategy.clone()));
            }
            Row::new(cells)
        })
        .collect();
    let h = |k: &'static str| tr(lang, k);
    let mut header = vec![
        h("top.col.org"),
        h("top.col.queue"),
        h("top.col.waiting"),
        h("top.col.longest"),
        h("top.col.talking"),
        h("top.col.agents"),
        h("top.col.today"),
        h("top.col.sl"),
    ];
    let mut widths = vec![
        Constraint::Length(10),
        Constraint::Min(14),
        Constraint::Length(5),
        Constraint::Length(7),
        Constraint::Length(5),
        Constraint::Length(8),
        Constraint::Length(11),
        Constraint::Length(4),
    ];
    if wide {
        header.push(h("top.col.avg_wait"));
        widths.push(Constraint::Length(9));
        header.push(h("top.col.strategy"));
        widths.push(Constraint::Length(11));
    }
    let [table_area, legend_area] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(area);
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(bold().add_modifier(Modifier::UNDERLINED)))
        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
        .block(block(title));
    let mut st = TableState::default().with_selected(Some(app.selected));
    f.render_stateful_widget(table, table_area, &mut st);
    f.render_widget(
        Paragraph::new(tr(lang, "top.queues_legend"))
            .style(Style::default().add_modifier(Modifier::DIM)),
        legend_area,
    );
}

fn draw_agents(f: &mut Frame<'_>, app: &App, area: Rect) {
    let lang = app.lang;
    let agents = app.agents();
    let now = app.now_ms;
    let wide = area.width >= 100;
    let rows: Vec<Row<'_>> = agents
        .iter()
        .map(|a| {
            let style = match a.status.as_str() {
                "beschikbaar" => Style::default(),
                "afgemeld" => Style::default().add_modifier(Modifier::DIM),
                _ => bold(),
            };
            let status = match &a.reason {
                Some(r) if !r.is_empty() => format!("{} ({r})", status_word(lang, &a.status)),
                _ => status_word(lang, &a.status),
            };
            let mut cells = vec![
                Cell::from(a.tenant.clone()),
                Cell::from(a.user.clone()),
                Cell::from(a.extension.clone().unwrap_or_default()),
                Cell::from(status).style(style),
                Cell::from(duration(now.saturating_sub(a.since_ms))),
                Cell::from(if a.calls > 0 {
                    a.calls.to_string()
                } else {
                    String::new()
                }),
            ];
            if wide {
                cells.insert(2, Cell::from(a.name.clone()));
                cells.push(Cell::from(if a.pages == 0 {
                    tr(lang, "top.agent.no_page")
                } else {
                    String::new()
                }));
            }
            Row::new(cells)
        })
        .collect();
    let h = |k: &'static str| tr(lang, k);
    let mut header = vec![
        h("top.col.org"),
        h("top.col.user"),
        h("top.col.extension"),
        h("top.col.state"),
        h("top.col.since"),
        h("top.col.calls"),
    ];
    let mut widths = vec![
        Constraint::Length(10),
        Constraint::Length(12),
        Constraint::Length(8),
        Constraint::Min(14),
        Constraint::Length(8),
        Constraint::Length(9),
    ];
    if wide {
        header.insert(2, h("top.col.name"));
        widths.insert(2, Constraint::Length(18));
        header.push(String::new());
        widths.push(Constraint::Length(12));
    }
    let title = Msg::new("top.agents_title")
        .arg("n", agents.len())
        .arg(
            "free",
            agents
                .iter()
                .filter(|a| a.status == "beschikbaar" && a.calls == 0)
                .count(),
        )
        .render(lang);
    let empty = agents.is_empty();
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(bold().add_modifier(Modifier::UNDERLINED)))
        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
        .block(block(title));
    if empty {
        f.render_widget(
            Paragraph::new(tr(lang, "top.no_agents"))
                .wrap(Wrap { trim: true })
                .block(block(
                    Msg::new("top.agents_title")
                        .arg("n", 0)
                        .arg("free", 0)
                        .render(lang),
                )),
            area,
        );
        return;
    }
    let mut st = TableState::default().with_selected(Some(app.selected));
    f.render_stateful_widget(table, area, &mut st);
}

/// An agent status in the board's language.
fn status_word(lang: Lang, s: &str) -> String {
    match s {
        "beschikbaar" => tr(lang, "top.agent.beschikbaar"),
        "pauze" => tr(lang, "top.agent.pauze"),
        "niet_storen" => tr(lang, "top.agent.niet_storen"),
        "afgemeld" => tr(lang, "top.agent.afgemeld"),
        other => other.to_string(),
    }
}

fn draw_alarms(f: &mut Frame<'_>, app: &App, area: Rect) {
    let lang = app.lang;
    let alarms = app.alarms();
    let now = app.now_ms;
    let rows: Vec<Row<'_>> = alarms
        .iter()
        .map(|a| {
            let firing = a.state == "firing";
            let (state, style) = if firing {
                (tr(lang, "top.alarm.firing"), bad())
            } else {
                (tr(lang, "top.alarm.resolved"), Style::default())
            };
            Row::new(vec![
                Cell::from(state).style(style),
                Cell::from(a.severity.clone()).style(if a.severity == "kritiek" {
                    bold()
                } else {
                    Style::default()
                }),
                Cell::from(a.id.clone()),
                Cell::from(format!("{} {:.2} / {:.2}", a.metric, a.value, a.threshold)),
                Cell::from(duration(now.saturating_sub(a.since_ms))),
                Cell::from(if a.acked { "✓" } else { "" }),
            ])
        })
        .collect();
    let h = |k: &'static str| tr(lang, k);
    let title = Msg::new("top.alarms_title")
        .arg("n", app.firing())
        .render(lang);
    let table = Table::new(
        rows,
        [
            Constraint::Length(8),
            Constraint::Length(12),
            Constraint::Min(14),
            Constraint::Length(20),
            Constraint::Length(8),
            Constraint::Length(4),
        ],
    )
    .header(
        Row::new(vec![
            h("top.col.state"),
            h("top.col.severity"),
            "ALARM".into(),
            h("top.col.value"),
            h("top.col.since"),
            h("top.col.acked"),
        ])
        .style(bold().add_modifier(Modifier::UNDERLINED)),
    )
    .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
    .block(block(title));
    let mut st = TableState::default().with_selected(if alarms.is_empty() {
        None
    } else {
        Some(app.selected)
    });
    f.render_stateful_widget(table, area, &mut st);
}

/// Days since 1970-01-01 as (month, day) in the proleptic Gregorian calendar (UTC).
fn month_day(days: i64) -> (u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (m as u32, d as u32)
}

fn bucket_label(span: Span, ms: u64) -> String {
    match span {
        Span::Day => format!("{:02}", ms / 3_600_000 % 24),
        Span::Week | Span::Month => {
            let (m, d) = month_day((ms / 86_400_000) as i64);
            if span == Span::Week {
                format!("{d:02}-{m:02}")
            } else {
                format!("{d:02}")
            }
        }
    }
}

fn draw_history(f: &mut Frame<'_>, app: &App, area: Rect) {
    let lang = app.lang;
    let span = app.data.history_span;
    let points = &app.data.history;
    let span_key = match app.span {
        Span::Day => "top.span.day",
        Span::Week => "top.span.week",
        Span::Month => "top.span.month",
    };
    let [bars, chart] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    let title = Msg::new("top.hist.calls")
        .arg("span", tr(lang, span_key))
        .render(lang);
    if points.is_empty() {
        f.render_widget(
            Paragraph::new(tr(lang, "top.hist.empty")).block(block(title)),
            area,
        );
        return;
    }
    let inner_w = bars.width.saturating_sub(2) as usize;
    let n = points.len().max(1);
    let (bw, gap) = if n * 3 <= inner_w {
        (2u16, 1u16)
    } else if n * 2 <= inner_w {
        (1, 1)
    } else {
        (1, 0)
    };
    let shown = &points[points
        .len()
        .saturating_sub(inner_w / usize::from(bw + gap).max(1))..];
    let group: Vec<Bar<'_>> = shown
        .iter()
        .map(|p| {
            Bar::default()
                .value(p.started)
                .text_value(String::new())
                .label(Line::from(if bw >= 2 {
                    bucket_label(span, p.start_ms)
                } else {
                    String::new()
                }))
        })
        .collect();
    f.render_widget(
        BarChart::default()
            .block(block(title))
            .data(BarGroup::default().bars(&group))
            .bar_width(bw)
            .bar_gap(gap)
            .bar_style(bold()),
        bars,
    );
    let avg: Vec<(f64, f64)> = points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.mos_avg.map(|m| (i as f64, m)))
        .collect();
    let p5: Vec<(f64, f64)> = points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.mos_p5.map(|m| (i as f64, m)))
        .collect();
    let first = points.first().map(|p| bucket_label(span, p.start_ms));
    let last = points.last().map(|p| bucket_label(span, p.start_ms));
    let datasets = vec![
        Dataset::default()
            .name(tr(lang, "top.hist.mos_avg"))
            .marker(ratatui::symbols::Marker::Braille)
            .graph_type(GraphType::Line)
            .style(bold())
            .data(&avg),
        Dataset::default()
            .name(tr(lang, "top.hist.mos_p5"))
            .marker(ratatui::symbols::Marker::Dot)
            .graph_type(GraphType::Scatter)
            .data(&p5),
    ];
    f.render_widget(
        Chart::new(datasets)
            .block(block(tr(lang, "top.hist.mos")))
            .x_axis(
                Axis::default()
                    .bounds([0.0, (n.saturating_sub(1)).max(1) as f64])
                    .labels([first.unwrap_or_default(), last.unwrap_or_default()]),
            )
            .y_axis(Axis::default().bounds([1.0, 5.0]).labels(["1", "3", "5"])),
        chart,
    );
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

fn draw_help(f: &mut Frame<'_>, app: &App) {
    let lang = app.lang;
    let text = tr(lang, "top.help");
    let lines: Vec<Line<'_>> = text.lines().map(Line::from).collect();
    let h = lines.len() as u16 + 2;
    let r = centered(f.area(), 64, h);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(block(tr(lang, "top.help_title")).style(bold())),
        r,
    );
}

fn draw_confirm(f: &mut Frame<'_>, app: &App, id: &str) {
    let lang = app.lang;
    let what = app
        .data
        .calls
        .iter()
        .find(|c| c.id == id)
        .map(|c| format!("{} {} → {}", c.tenant, c.caller.number, c.callee.number))
        .unwrap_or_else(|| id.to_string());
    let r = centered(f.area(), 44, 5);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(vec![
            Line::from(what),
            Line::from(TSpan::styled(tr(lang, "top.hangup_ask"), bad())),
        ])
        .alignment(Alignment::Center)
        .block(block(tr(lang, "top.hangup_title"))),
        r,
    );
}
