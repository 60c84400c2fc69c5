//! The keys of issue 4 in a tenant file: openingstijden with holidays and special hours, and
//! the organisation's toll-fraud settings. They load into the model, and mistakes in them are
//! reported with the model's messages.

use pbx_i18n::Lang;
use std::os::unix::fs::PermissionsExt;

const GOOD: &str = r#"
[tenant]
slug = "acme"
name = "Acme BV"

[tenant.toll_fraud]
international = true
max_international_per_hour = 5
max_call_secs = 3600

[[schedule]]
name = "kantoor"
open = [{ days = ["ma", "di", "wo", "do", "vr"], from = "08:30", to = "17:30" }]
holidays = true
extra_holidays = ["goede_vrijdag"]
exceptions = [{ date = "2026-12-24", from = "08:30", to = "12:00" }]
"#;

fn write(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    let tenants = dir.join("tenants");
    std::fs::create_dir_all(&tenants).unwrap_or_else(|e| unreachable!("{e}"));
    let f = tenants.join("acme.toml");
    std::fs::write(&f, text).unwrap_or_else(|e| unreachable!("{e}"));
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600))
        .unwrap_or_else(|e| unreachable!("{e}"));
    f
}

#[test]
fn new_keys_load() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    let f = write(dir.path(), GOOD);
    let report = pbx_config::check_paths(&[f]);
    let lines = report.render(Lang::Nl, dir.path()).join("\n");
    assert_eq!(report.errors(), 0, "{lines}");
    // The shipped pbxd.toml, with this organisation as the default.
    let daemon = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conf.d/pbxd.toml"),
    )
    .unwrap_or_else(|e| unreachable!("{e}"))
    .replace("default_tenant = \"demo\"", "default_tenant = \"acme\"");
    std::fs::write(dir.path().join("pbxd.toml"), daemon).unwrap_or_else(|e| unreachable!("{e}"));
    let (loaded, report) = pbx_config::load(dir.path());
    let lines = report.render(Lang::Nl, dir.path()).join("\n");
    let Some(cfg) = loaded else {
        unreachable!("{lines}")
    };
    let b = &cfg.tenants[0].bundle;
    let t = &b.tenant.toll_fraud;
    assert!(t.international && !t.betaalnummers);
    assert_eq!(
        (t.max_international_per_hour, t.max_betaalnummers_per_hour),
        (5, 10)
    );
    assert_eq!(t.max_call_secs, 3600);
    let s = &b.belplan.schedules[0];
    assert!(s.holidays);
    assert_eq!(s.extra_holidays, vec!["goede_vrijdag".to_string()]);
    assert_eq!(s.exceptions.len(), 1);
    assert_eq!(
        (
            s.exceptions[0].date.as_str(),
            s.exceptions[0].from.as_str(),
            s.exceptions[0].to.as_str()
        ),
        ("2026-12-24", "08:30", "12:00")
    );
}

#[test]
fn mistakes_are_reported() {
    let bad = GOOD
        .replace("\"goede_vrijdag\"", "\"kerst\"")
        .replace("max_call_secs = 3600", "max_call_secs = 5")
        .replace(
            "exceptions = [",
            "exceptions = [{ date = \"24-12\", from = \"08:30\", to = \"12:00\" }, ",
        );
    let dir = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    let f = write(dir.path(), &bad);
    let report = pbx_config::check_paths(&[f]);
    let lines = report.render(Lang::Nl, dir.path()).join("\n");
    assert_eq!(report.errors(), 3, "{lines}");
    for piece in [
        "onbekende feestdag 'kerst'",
        "ongeldige datum '24-12'",
        "max. duur van een buitengesprek 5 s",
    ] {
        assert!(lines.contains(piece), "{piece}:\n{lines}");
    }
    // Unknown keys stay errors in the new tables too.
    let unknown = GOOD.replace(
        "max_call_secs = 3600",
        "max_call_secs = 3600\nfeestdagen = true",
    );
    let f = write(dir.path(), &unknown);
    let report = pbx_config::check_paths(&[f]);
    assert_eq!(
        report.errors(),
        1,
        "{}",
        report.render(Lang::Nl, dir.path()).join("\n")
    );
}
