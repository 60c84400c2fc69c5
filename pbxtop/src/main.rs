//! pbxtop: the live board of pbxd for the NOC, with tabs (Overzicht, Gesprekken, Registraties,
//! Trunks, Wachtrijen, Agenten, Alarmen, Historie). State and its updates live in [`app`], drawing
//! in [`ui`], fetching in [`data`].
//!
//! Exit codes: 0 normal end; 64 (EX_USAGE) when stdout is not a terminal and `--once` is not
//! given; 69 when pbxd is not running at start; 70 when the terminal fails.

mod app;
mod data;
#[cfg(test)]
mod tests;
mod ui;

use app::{Action, App, Update};
use clap::{CommandFactory, FromArgMatches, Parser};
use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use pbx_cli::{exit, Generate};
use pbx_client::Client;
use pbx_i18n::{tr, Lang};
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
    /// Druk de eerste momentopname af als tekst en stop (voor scripts en tests). Zonder terminal
    /// en zonder --once stopt pbxtop met code 64.
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
        let mut b = App::new(lang);
        if let Some(Ok(ev)) = stream.next().await {
            b.apply(Update::Event(Box::new(ev)));
        }
        print!("{}", b.text());
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
        restore();
        prev(info);
    }));
    let mut term = match setup() {
        Ok(t) => t,
        Err(e) => {
            restore();
            eprintln!("pbxtop: {e}");
            return exit::SOFTWARE;
        }
    };
    // Restores the terminal on every way out of the board, also an early return.
    struct Guard;
    impl Drop for Guard {
        fn drop(&mut self) {
            restore();
        }
    }
    let _guard = Guard;
    board(&mut term, client, first, lang).await
}

type Term = ratatui::Terminal<ratatui::backend::CrosstermBackend<std::io::Stdout>>;

fn setup() -> std::io::Result<Term> {
    crossterm::terminal::enable_raw_mode()?;
    crossterm::execute!(std::io::stdout(), crossterm::terminal::EnterAlternateScreen)?;
    ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(std::io::stdout()))
}

/// Leaves the alternate screen, shows the cursor and ends raw mode; safe to call twice.
fn restore() {
    // Best effort: the terminal may already be gone.
    let _ = crossterm::terminal::disable_raw_mode();
    let _ = crossterm::execute!(
        std::io::stdout(),
        crossterm::terminal::LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

async fn board(term: &mut Term, client: Client, first: pbx_client::EventStream, lang: Lang) -> i32 {
    use futures_util::StreamExt;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Update>(256);
    let (span_tx, span_rx) = tokio::sync::watch::channel(app::Span::default());
    data::spawn_events(client.clone(), lang, tx.clone(), first);
    let (detail_tx, detail_rx) = tokio::sync::watch::channel(None::<String>);
    data::spawn_poller(client.clone(), lang, tx.clone(), span_rx, detail_rx);
    let mut keys = EventStream::new();
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    let mut app = App::new(lang);
    let mut refresh: u64 = 0;
    app.connected = true;
    app.now_ms = data::now_ms();
    loop {
        if term.draw(|f| ui::draw(f, &app)).is_err() {
            return exit::SOFTWARE;
        }
        detail_tx.send_if_modified(|d| {
            let changed = *d != app.detail;
            if changed {
                d.clone_from(&app.detail);
            }
            changed
        });
        tokio::select! {
            biased;
            k = keys.next() => match k {
                Some(Ok(TermEvent::Key(k))) if k.kind == KeyEventKind::Press => {
                    app.note = None;
                    for a in app.key(k) {
                        match a {
                            Action::Quit => return exit::OK,
                            Action::History(s) => {
                                // The poller fetches at once when the span changes.
                                let _ = span_tx.send(s);
                            }
                            a => data::spawn_action(client.clone(), lang, tx.clone(), a),
                        }
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return exit::OK,
            },
            u = rx.recv() => match u {
                Some(u) => {
                    app.apply(u);
                    // Everything that is waiting goes in before the next drawing: with 1000
                    // calls, events come in bursts and one drawing per event is most of the CPU.
                    while let Ok(u) = rx.try_recv() {
                        app.apply(u);
                    }
                }
                None => return exit::OK,
            },
            _ = tick.tick() => {
                app.now_ms = data::now_ms();
                refresh += 1;
                if refresh % 2 == 0 {
                    if let Some(a) = app.refresh_trace() {
                        data::spawn_action(client.clone(), lang, tx.clone(), a);
                    }
                }
            }
        }
    }
}
