//! What pbxd, pbxctl and pbxtop share on the command line: Dutch help, Dutch parse errors,
//! generated man pages and completions, tables, and the exit codes (sysexits).

use clap::error::{ContextKind, ErrorKind};
use clap::{Arg, ArgAction, Command};
use pbx_i18n::{Lang, Msg};
use std::io::Write;
use std::path::Path;

/// Exit codes (sysexits.h).
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// Problems found (check) or the command failed in a documented way.
    pub const FAILURE: i32 = 1;
    /// Wrong usage.
    pub const USAGE: i32 = 64;
    /// Bad input data or configuration.
    pub const DATAERR: i32 = 65;
    /// A file or object named does not exist.
    pub const NOINPUT: i32 = 66;
    /// pbxd is not running.
    pub const UNAVAILABLE: i32 = 69;
    /// Internal error.
    pub const SOFTWARE: i32 = 70;
    /// Cannot write output.
    pub const CANTCREAT: i32 = 73;
    /// Protocol error talking to pbxd.
    pub const PROTOCOL: i32 = 76;
    /// No permission.
    pub const NOPERM: i32 = 77;
}

const TEMPLATE: &str =
    "{before-help}{about-with-newline}\nGebruik: {usage}\n\n{all-args}{after-help}";

/// Dutch help: template, headings, usage lines and the help/version flags, on every subcommand.
pub fn dutch(cmd: Command) -> Command {
    let mut cmd = dutch_tree(cmd);
    cmd.build();
    fix_usage(&mut cmd);
    cmd
}

/// clap writes `[OPTIONS]` in usage lines; after `build()` every subcommand knows its full name,
/// so the usage can be rendered once and fixed.
fn fix_usage(cmd: &mut Command) {
    let usage = cmd.render_usage().to_string();
    let usage = usage
        .trim_start_matches("Usage:")
        .trim()
        .replace("[OPTIONS]", "[OPTIES]");
    *cmd = std::mem::take(cmd).override_usage(usage);
    for sub in cmd.get_subcommands_mut() {
        fix_usage(sub);
    }
}

/// Dutch names and help for the positional arguments the programs share.
fn positional(id: &str) -> Option<(&'static str, &'static str)> {
    Some(match id {
        "tenant" => ("ORGANISATIE", "Organisatie (korte naam)"),
        "slug" => ("ORGANISATIE", "Korte naam van de organisatie (a-z, 0-9, -)"),
        "username" => ("GEBRUIKER", "Gebruikersnaam"),
        "number" => ("NUMMER", "Nummer"),
        "name" => ("NAAM", "Naam"),
        "file" => ("BESTAND", "Bestand (- is standaardinvoer)"),
        "paths" => (
            "PAD",
            "Map met pbxd.toml en tenants/, of een los .toml-bestand",
        ),
        "dir" => ("MAP", "Configuratiemap"),
        "query" => ("ZOEKTEKST", "Zoektekst"),
        "endpoint" => ("EINDPUNT", "Pad, bijvoorbeeld /v1/status"),
        "body" => ("JSON", "JSON-body, of - voor standaardinvoer"),
        _ => return None,
    })
}

fn dutch_tree(cmd: Command) -> Command {
    let has_version = cmd.get_version().is_some();
    let mut cmd = cmd
        .help_template(TEMPLATE)
        .subcommand_help_heading("Commando's")
        .subcommand_value_name("COMMANDO")
        .disable_help_flag(true)
        .disable_help_subcommand(true)
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::Help)
                .help("Toon deze hulp")
                .global(false),
        );
    if has_version {
        cmd = cmd.disable_version_flag(true).arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .help("Toon de versie"),
        );
    }
    // Positionals keep their declaration order under their (custom) heading.
    let mut order = 0;
    cmd.mut_args(|a| {
        if a.is_positional() {
            order += 1;
            dutch_arg(a).display_order(order)
        } else {
            dutch_arg(a)
        }
    })
    .mut_subcommands(dutch_tree)
}

/// Heading, and defaults / environment / possible values written in Dutch (clap's own
/// annotations are English and cannot be translated).
fn dutch_arg(a: Arg) -> Arg {
    let mut extra = Vec::new();
    if let Some(env) = a.get_env() {
        extra.push(format!("omgevingsvariabele: {}", env.to_string_lossy()));
    }
    let defaults: Vec<String> = a
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    let takes_value = a.get_action().takes_values();
    if !defaults.is_empty() && takes_value {
        extra.push(format!("standaard: {}", defaults.join(", ")));
    }
    let possible: Vec<String> = if takes_value {
        a.get_possible_values()
            .iter()
            .filter(|p| !p.is_hide_set())
            .map(|p| p.get_name().to_string())
            .collect()
    } else {
        Vec::new()
    };
    if !possible.is_empty() {
        extra.push(format!("mogelijk: {}", possible.join(", ")));
    }
    let mut a = if a.is_positional() {
        let named = positional(a.get_id().as_str());
        let a = a.help_heading("Argumenten");
        match named {
            Some((value, help)) if a.get_help().is_none() => a.value_name(value).help(help),
            Some((value, _)) => a.value_name(value),
            None => a,
        }
    } else if a.get_help_heading().is_none() {
        a.help_heading("Opties")
    } else {
        a
    };
    if a.get_env().is_some() {
        a = a.hide_env(true);
    }
    if takes_value {
        a = a.hide_default_value(true).hide_possible_values(true);
    }
    if !extra.is_empty() {
        let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
        a = a.help(format!("{help} [{}]", extra.join("; ")));
    }
    a
}

/// Turns a clap parse error into a Dutch (or English) message; help and version are printed as
/// they are. Returns the exit code.
pub fn report_parse_error(e: &clap::Error, bin: &str, lang: Lang) -> i32 {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            return exit::OK;
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            return exit::USAGE;
        }
        _ => {}
    }
    let ctx = |k: ContextKind| e.get(k).map(|v| v.to_string()).unwrap_or_default();
    let msg = match e.kind() {
        ErrorKind::UnknownArgument => {
            Msg::new("cli.unknown_argument").arg("arg", ctx(ContextKind::InvalidArg))
        }
        ErrorKind::InvalidSubcommand => {
            Msg::new("cli.unknown_command").arg("arg", ctx(ContextKind::InvalidSubcommand))
        }
        ErrorKind::MissingRequiredArgument => {
            Msg::new("cli.missing_argument").arg("arg", ctx(ContextKind::InvalidArg))
        }
        ErrorKind::MissingSubcommand => Msg::new("cli.missing_command"),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => Msg::new("cli.invalid_value")
            .arg("value", ctx(ContextKind::InvalidValue))
            .arg("arg", ctx(ContextKind::InvalidArg)),
        ErrorKind::ArgumentConflict => Msg::new("cli.conflict")
            .arg("arg", ctx(ContextKind::InvalidArg))
            .arg("other", ctx(ContextKind::PriorArg)),
        ErrorKind::TooManyValues | ErrorKind::WrongNumberOfValues | ErrorKind::TooFewValues => {
            Msg::new("cli.values").arg("arg", ctx(ContextKind::InvalidArg))
        }
        _ => Msg::new("cli.other").arg("detail", e.render().to_string().trim()),
    };
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{bin}: {}", msg.render(lang));
    let _ = writeln!(
        err,
        "{}",
        Msg::new("cli.more_help").arg("bin", bin).render(lang)
    );
    exit::USAGE
}

/// What `--generate` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Generate {
    /// Man page(s).
    Man,
    /// bash completion.
    CompleteBash,
    /// zsh completion.
    CompleteZsh,
    /// fish completion.
    CompleteFish,
}

/// Dutch section headings for clap_mangen's English ones.
fn dutch_roff(s: String) -> String {
    s.replace(".SH NAME", ".SH NAAM")
        .replace(".SH SYNOPSIS", ".SH OVERZICHT")
        .replace(".SH DESCRIPTION", ".SH BESCHRIJVING")
        .replace(".SH OPTIONS", ".SH OPTIES")
        .replace(".SH SUBCOMMANDS", ".SH COMMANDO\\(aqS")
        .replace(".SH VERSION", ".SH VERSIE")
        .replace(".SH AUTHORS", ".SH AUTEURS")
}

/// Writes a man page (and its subcommands' pages) or a completion script into `out`.
/// `extra` pages (name, roff) are written beside the man page, e.g. `pbxd.toml.5`.
pub fn generate(
    cmd: Command,
    what: Generate,
    section: &str,
    out: &Path,
    extra: &[(&str, &str)],
) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
    let mut cmd = cmd;
    cmd.build();
    let name = cmd.get_name().to_string();
    match what {
        Generate::Man => {
            let mut buf = Vec::new();
            clap_mangen::Man::new(cmd.clone())
                .section(section)
                .date("")
                .render(&mut buf)?;
            std::fs::write(
                out.join(format!("{name}.{section}")),
                dutch_roff(String::from_utf8_lossy(&buf).into_owned()),
            )?;
            for (file, roff) in extra {
                std::fs::write(out.join(file), roff)?;
            }
        }
        Generate::CompleteBash => write_completion(
            &mut cmd,
            clap_complete::Shell::Bash,
            out,
            &format!("{name}.bash"),
        )?,
        Generate::CompleteZsh => write_completion(
            &mut cmd,
            clap_complete::Shell::Zsh,
            out,
            &format!("_{name}"),
        )?,
        Generate::CompleteFish => write_completion(
            &mut cmd,
            clap_complete::Shell::Fish,
            out,
            &format!("{name}.fish"),
        )?,
    }
    Ok(())
}

fn write_completion(
    cmd: &mut Command,
    shell: clap_complete::Shell,
    out: &Path,
    file: &str,
) -> std::io::Result<()> {
    let name = cmd.get_name().to_string();
    let mut buf = Vec::new();
    clap_complete::generate(shell, cmd, name, &mut buf);
    std::fs::write(out.join(file), buf)
}

/// A plain text table: headers and rows, columns as wide as their widest cell.
pub fn table(headers: &[String], rows: &[Vec<String>]) -> String {
    let cols = headers.len();
    let mut w: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate().take(cols) {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    let fmt_row = |cells: &[String], out: &mut String| {
        let mut line = String::new();
        for (i, c) in cells.iter().enumerate().take(cols) {
            line.push_str(c);
            if i + 1 < cols {
                line.push_str(&" ".repeat(w[i] - c.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    };
    fmt_row(headers, &mut out);
    for r in rows {
        fmt_row(r, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align() {
        let t = table(
            &["NUMMER".into(), "NAAM".into()],
            &[
                vec!["1001".into(), "Jan Jansen".into()],
                vec!["20".into(), "Ö".into()],
            ],
        );
        assert_eq!(t, "NUMMER  NAAM\n1001    Jan Jansen\n20      Ö\n");
    }

    #[test]
    fn dutch_help() {
        let cmd = dutch(
            Command::new("x")
                .version("1")
                .about("Proef")
                .subcommand(Command::new("sub").arg(Arg::new("n"))),
        );
        let mut c = cmd;
        let help = c.render_help().to_string();
        assert!(
            help.contains("Gebruik:")
                && help.contains("Toon deze hulp")
                && help.contains("Commando's"),
            "{help}"
        );
        let sub = c
            .find_subcommand_mut("sub")
            .map(|s| s.render_help().to_string())
            .unwrap_or_default();
        assert!(
            sub.contains("Argumenten") && sub.contains("Toon deze hulp"),
            "{sub}"
        );
        let e = c.try_get_matches_from_mut(["x", "--onzin"]).err();
        assert!(e.is_some_and(|e| report_parse_error(&e, "x", Lang::Nl) == exit::USAGE));
    }
}
