//! pbxtop: the live board of pbxd. For now: connection, status, organisations and the stream of
//! changes; calls, registrations, trunks, queues and agents come with the board's own issue.

use clap::{CommandFactory, FromArgMatches, Parser};
use crossterm::event::{Event as TermEvent, EventStream, KeyCode, KeyEventKind};
use pbx_api::Event;
use pbx_cli::{exit, Generate};
use pbx_client::Client;
use pbx_i18n::{tr, Lang, Msg};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table};
use ratatui::Frame;
use std::path::PathBuf;

/// Live bord van pbxd voor de NOC.
#[derive(Parser, Debug)]
#[command(name = "pbxtop", version, about)]
struct Cli {
    /// Pad van de control-socket
    #[arg(long, env = "PBXCTL_SOCKET", default_value = pbx_client::DEFAULT_SOCKET, value_name = "PAD")]
    socket: PathBuf,
    /// Taal: nl of en
    #[arg(long, value_name = "TAAL")]
    lang: Option<String>,
    /// Druk de eerste momentopname af als tekst en stop (voor scripts en tests)
    #[arg(long)]
    once: bool,
    /// Schrijf manpagina's of shell-completions (voor de verpakking)
    #[arg(long, hide = true, value_enum, value_name = "SOORT")]
    generate: Option<Generate>,
    /// Doelmap voor --generate
    #[arg(long, hide = true, default_value = ".", value_name = "MAP")]
    out: PathBuf,
}

fn command() -> clap::Command {
    pbx_cli::dutch(Cli::command())
}

/// The board's state; drawing is a pure function of it.
#[derive(Default)]
struct Board {
    snapshot: Option<Event>,
    changes: Vec<String>,
    connected: bool,
    error: Option<String>,
}

impl Board {
    fn apply(&mut self, ev: Event, lang: Lang) {
        match ev {
            Event::Snapshot { .. } => self.snapshot = Some(ev),
            Event::Changed { entry } => {
                self.changes.push(format!(
                    "{} {} {} {}",
                    entry.time.get(11..19).unwrap_or(""),
                    entry.action,
                    entry.tenant.unwrap_or_default(),
                    entry.object
                ));
                if self.changes.len() > 200 {
                    self.changes.remove(0);
                }
            }
            Event::Reloaded { ok, .. } => self.changes.push(tr(
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
            } => {
                self.changes.push(format!(
                    "{change} {} {}",
                    registration.tenant, registration.extension
                ));
            }
            Event::Call { change, call } => {
                self.changes.push(format!(
                    "{change} {} {} → {}",
                    call.tenant, call.caller.number, call.callee.number
                ));
            }
            Event::LimitReached { tenant, limit, .. } => {
                self.changes.push(
                    Msg::new("top.limit")
                        .arg("tenant", tenant)
                        .arg("limit", limit)
                        .render(lang),
                );
            }
            Event::Alarm { change, alarm } => {
                self.changes.push(
                    Msg::new("top.alarm")
                        .arg("id", alarm.id)
                        .arg("change", change)
                        .arg("severity", alarm.severity)
                        .render(lang),
                );
            }
            Event::TollFraud {
                tenant, limit, max, ..
            } => {
                self.changes.push(
                    Msg::new("top.toll_fraud")
                        .arg("tenant", tenant)
                        .arg("limit", limit)
                        .arg("max", max)
                        .render(lang),
                );
            }
            Event::Trunk {
                tenant,
                name,
                change,
            } => {
                self.changes
                    .push(format!("trunk {tenant} {name}: {}", change.change));
            }
            Event::Ping => {}
        }
    }

    fn text(&self, lang: Lang) -> String {
        let mut s = String::new();
        if let Some(Event::Snapshot { status, tenants }) = &self.snapshot {
            s.push_str(
                &Msg::new("top.header")
                    .arg("version", &status.version)
                    .arg("tenants", status.tenants)
                    .arg("extensions", status.extensions)
                    .render(lang),
            );
            s.push('\n');
            for t in tenants {
                s.push_str(&format!(
                    "{}  {}  {}/{}\n",
                    t.tenant.slug, t.tenant.name, t.extensions, t.tenant.limits.max_extensions
                ));
            }
        }
        s
    }
}

fn draw(f: &mut Frame<'_>, b: &Board, lang: Lang) {
    let [head, body, foot] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(f.area());
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(body);
    let status = match (&b.snapshot, b.connected) {
        (Some(Event::Snapshot { status, .. }), true) => Msg::new("top.header")
            .arg("version", &status.version)
            .arg("tenants", status.tenants)
            .arg("extensions", status.extensions)
            .render(lang),
        _ => b
            .error
            .clone()
            .unwrap_or_else(|| tr(lang, "top.connecting")),
    };
    f.render_widget(
        Paragraph::new(status).block(Block::default().borders(Borders::ALL).title(" pbxtop ")),
        head,
    );
    let rows: Vec<Row<'_>> = match &b.snapshot {
        Some(Event::Snapshot { tenants, .. }) => tenants
            .iter()
            .map(|t| {
                Row::new(vec![
                    t.tenant.slug.clone(),
                    t.tenant.name.clone(),
                    format!("{}/{}", t.extensions, t.tenant.limits.max_extensions),
                ])
            })
            .collect(),
        _ => Vec::new(),
    };
    let table = Table::new(
        rows,
        [
            Constraint::Length(16),
            Constraint::Min(10),
            Constraint::Length(9),
        ],
    )
    .header(
        Row::new(vec![
            tr(lang, "col.tenant"),
            tr(lang, "col.name"),
            tr(lang, "col.extensions"),
        ])
        .style(Style::default().add_modifier(Modifier::BOLD)),
    )
    .block(
        Block::default()
            .borders(Borders::ALL)
            .title(tr(lang, "top.tenants")),
    );
    f.render_widget(table, left);
    let n = right.height.saturating_sub(2) as usize;
    let lines: Vec<Line<'_>> = b
        .changes
        .iter()
        .rev()
        .take(n)
        .rev()
        .map(|c| Line::from(c.as_str()))
        .collect();
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(tr(lang, "top.changes")),
        ),
        right,
    );
    f.render_widget(Paragraph::new(tr(lang, "top.keys")), foot);
}

fn main() {
    let pre = Lang::detect(None);
    let cli = match command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(c) => c,
        Err(e) => std::process::exit(pbx_cli::report_parse_error(&e, "pbxtop", pre)),
    };
    let lang = Lang::detect(cli.lang.as_deref());
    if let Some(what) = cli.generate {
        let r = pbx_cli::generate(command(), what, "1", &cli.out, &[]);
        std::process::exit(if r.is_ok() { exit::OK } else { exit::CANTCREAT });
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pbxtop: {e}");
            std::process::exit(exit::SOFTWARE);
        }
    };
    std::process::exit(rt.block_on(run(cli, lang)));
}

async fn run(cli: Cli, lang: Lang) -> i32 {
    let client = Client::new(&cli.socket, lang);
    if cli.once {
        let mut stream = match client.events().await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("pbxtop: {}", e.message(lang));
                return e.exit_code();
            }
        };
        let mut b = Board {
            connected: true,
            ..Board::default()
        };
        if let Some(Ok(ev)) = stream.next().await {
            b.apply(ev, lang);
        }
        print!("{}", b.text(lang));
        return exit::OK;
    }
    // Connect before taking over the terminal: without pbxd, say so and stop (exit 69).
    let first = match client.events().await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pbxtop: {}", e.message(lang));
            return e.exit_code();
        }
    };
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        eprintln!("pbxtop: {}", tr(lang, "top.no_tty"));
        return exit::USAGE;
    }
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        ratatui::restore();
        prev(info);
    }));
    let mut term = ratatui::init();
    let code = board(&mut term, client, first, lang).await;
    ratatui::restore();
    code
}

async fn board(
    term: &mut ratatui::DefaultTerminal,
    client: Client,
    first: pbx_client::EventStream,
    lang: Lang,
) -> i32 {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Event, String>>(256);
    tokio::spawn(async move {
        let mut next = Some(first);
        loop {
            let stream = match next.take() {
                Some(s) => Ok(s),
                None => client.events().await,
            };
            match stream {
                Ok(mut s) => {
                    while let Some(ev) = s.next().await {
                        if tx.send(ev.map_err(|e| e.message(lang))).await.is_err() {
                            return;
                        }
                    }
                }
                Err(e) => {
                    if tx.send(Err(e.message(lang))).await.is_err() {
                        return;
                    }
                }
            }
            // Reconnect; the next stream starts with a fresh snapshot.
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
    });
    let mut keys = EventStream::new();
    let mut b = Board::default();
    use futures_util::StreamExt;
    loop {
        if term.draw(|f| draw(f, &b, lang)).is_err() {
            return exit::SOFTWARE;
        }
        tokio::select! {
            biased;
            k = keys.next() => match k {
                Some(Ok(TermEvent::Key(k))) if k.kind == KeyEventKind::Press && matches!(k.code, KeyCode::Char('q') | KeyCode::Esc) => return exit::OK,
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return exit::OK,
            },
            ev = rx.recv() => match ev {
                Some(Ok(ev)) => {
                    b.connected = true;
                    b.error = None;
                    b.apply(ev, lang);
                }
                Some(Err(e)) => {
                    b.connected = false;
                    b.error = Some(e);
                }
                None => return exit::OK,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    #[test]
    fn renders_at_80x24_without_data() {
        let mut t = Terminal::new(TestBackend::new(80, 24)).ok();
        let b = Board::default();
        let drawn = t
            .as_mut()
            .map(|t| t.draw(|f| draw(f, &b, Lang::Nl)).is_ok());
        assert_eq!(drawn, Some(true));
        let text: String = t
            .map(|t| {
                t.backend()
                    .buffer()
                    .content()
                    .iter()
                    .map(|c| c.symbol().to_string())
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            text.contains("pbxtop") && text.contains("Verbinden"),
            "{text}"
        );
    }
}
