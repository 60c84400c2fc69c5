//! Secret files and their permission bits, in a temporary folder.

use pbx_i18n::Lang;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const PBXD: &str = r#"
[[listen]]
transport = "tls"
address = "127.0.0.1:5061"

[tls]
certificate = "tls/cert.pem"
key = "tls/key.pem"

[state]
dir = "state"
secret_key_file = "secret.key"
"#;

const ACME: &str = r#"
[tenant]
slug = "acme"
name = "Acme BV"
domains = ["acme.example"]

[[extension]]
number = "1001"
name = "Jan"
password_file = "../secrets/1001.pass"

[[trunk]]
name = "kpn"
host = "sip.kpn.example"
username = "31201234567"
secret_file = "../secrets/kpn.secret"
"#;

fn write(path: &Path, text: &str, mode: u32) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    chmod(path, mode);
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// A private, valid configuration folder.
fn setup(dir: &Path) {
    write(&dir.join("pbxd.toml"), PBXD, 0o644);
    write(
        &dir.join("tls/cert.pem"),
        "-----BEGIN CERTIFICATE-----\n",
        0o644,
    );
    write(
        &dir.join("tls/key.pem"),
        "-----BEGIN PRIVATE KEY-----\n",
        0o600,
    );
    write(&dir.join("secret.key"), &"ab".repeat(32), 0o600);
    write(&dir.join("tenants/acme.toml"), ACME, 0o644);
    write(
        &dir.join("secrets/1001.pass"),
        "Zonnebloem-Tulp-42\n",
        0o600,
    );
    write(&dir.join("secrets/kpn.secret"), "provider-geheim\n", 0o600);
}

fn codes(dir: &Path) -> Vec<(String, &'static str, usize, usize)> {
    let (_, report) = pbx_config::load(dir);
    report
        .diagnostics
        .iter()
        .map(|d| {
            (
                d.file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                d.code,
                d.line,
                d.col,
            )
        })
        .collect()
}

#[test]
fn private_files_load_and_secrets_stay_out_of_the_bundle() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    setup(tmp.path());
    let (loaded, report) = pbx_config::load(tmp.path());
    assert!(
        report.is_ok(true),
        "{:#?}",
        report.render(Lang::Nl, tmp.path())
    );
    let Some(cfg) = loaded else {
        panic!("niet geladen")
    };
    let acme = &cfg.tenants[0];
    let sip = acme.bundle.extensions[0]
        .sip
        .as_ref()
        .map(|s| (s.realm.clone(), s.ha1_md5.clone()));
    assert_eq!(
        sip,
        Some((
            "acme.example".to_string(),
            pbx_model::secret::ha1_md5("1001", "acme.example", "Zonnebloem-Tulp-42")
        ))
    );
    assert_eq!(
        acme.trunk_secrets.get("kpn").map(String::as_str),
        Some("provider-geheim")
    );
    assert!(acme.bundle.trunks[0]
        .auth
        .as_ref()
        .is_some_and(|a| a.secret.is_none() && a.register));
    let debug = format!("{acme:?} {cfg:?}");
    assert!(
        !debug.contains("provider-geheim") && !debug.contains("Zonnebloem"),
        "{debug}"
    );
    assert!(cfg.daemon.tls.is_some());
    assert_eq!(
        cfg.daemon.state.secret_key_file.as_deref(),
        Some(tmp.path().join("secret.key").as_path())
    );
}

#[test]
fn password_file_readable_by_others_is_an_error() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    setup(tmp.path());
    chmod(&tmp.path().join("secrets/1001.pass"), 0o644);
    assert_eq!(
        codes(tmp.path()),
        vec![("acme.toml".to_string(), "secret_permissions", 10, 17)]
    );
    let (_, report) = pbx_config::load(tmp.path());
    let line = report.render(Lang::Nl, tmp.path()).join("\n");
    assert!(
        line.contains("leesbaar voor anderen")
            && line.contains("chmod 600 ")
            && line.contains("1001.pass"),
        "{line}"
    );
    // Readable by the group only is fine (e.g. root:pbx 0640).
    chmod(&tmp.path().join("secrets/1001.pass"), 0o640);
    assert!(codes(tmp.path()).is_empty());
}

#[test]
fn trunk_secret_file_readable_by_others_is_an_error() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    setup(tmp.path());
    chmod(&tmp.path().join("secrets/kpn.secret"), 0o604);
    assert_eq!(
        codes(tmp.path()),
        vec![("acme.toml".to_string(), "secret_permissions", 16, 15)]
    );
}

#[test]
fn missing_secret_files_are_errors() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    setup(tmp.path());
    std::fs::remove_file(tmp.path().join("secrets/1001.pass")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::remove_file(tmp.path().join("secrets/kpn.secret")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        codes(tmp.path()),
        vec![
            ("acme.toml".to_string(), "secret_file", 10, 17),
            ("acme.toml".to_string(), "secret_file", 16, 15)
        ]
    );
}

#[test]
fn weak_password_in_a_file_is_an_error() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    setup(tmp.path());
    write(&tmp.path().join("secrets/1001.pass"), "geheim\n", 0o600);
    assert_eq!(
        codes(tmp.path()),
        vec![("acme.toml".to_string(), "weak_password", 10, 17)]
    );
}

#[test]
fn inline_secrets_need_a_private_tenant_file() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    setup(tmp.path());
    let text = ACME.replace(
        "password_file = \"../secrets/1001.pass\"",
        "password = \"Zonnebloem-Tulp-42\"",
    );
    let text = text.replace(
        "secret_file = \"../secrets/kpn.secret\"",
        "secret = \"provider-geheim\"",
    );
    let file = tmp.path().join("tenants/acme.toml");
    write(&file, &text, 0o644);
    // Reported once per file, at the first inline secret.
    assert_eq!(
        codes(tmp.path()),
        vec![("acme.toml".to_string(), "secret_permissions", 10, 12)]
    );
    let (_, report) = pbx_config::load(tmp.path());
    assert!(report.diagnostics[0]
        .hint
        .as_ref()
        .is_some_and(|h| h.render(Lang::Nl).starts_with("chmod 600 ")));
    chmod(&file, 0o600);
    let (loaded, report) = pbx_config::load(tmp.path());
    assert!(
        report.is_ok(true),
        "{:#?}",
        report.render(Lang::Nl, tmp.path())
    );
    assert_eq!(loaded.map(|c| c.tenants[0].trunk_secrets.len()), Some(1));
}

#[test]
fn tls_key_readable_by_group_is_a_warning_and_a_missing_certificate_an_error() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    setup(tmp.path());
    chmod(&tmp.path().join("tls/key.pem"), 0o640);
    let (loaded, report) = pbx_config::load(tmp.path());
    assert_eq!((report.errors(), report.warnings()), (0, 1));
    assert_eq!(report.diagnostics[0].code, "secret_permissions");
    assert_eq!(
        (report.diagnostics[0].line, report.diagnostics[0].col),
        (8, 7)
    );
    assert!(loaded.is_some(), "warnings do not stop loading");
    assert!(!report.is_ok(true));
    std::fs::remove_file(tmp.path().join("tls/cert.pem")).unwrap_or_else(|e| panic!("{e}"));
    let (loaded, report) = pbx_config::load(tmp.path());
    assert!(loaded.is_none());
    let d = report.diagnostics.iter().find(|d| d.code == "tls_file");
    assert!(
        d.is_some_and(|d| d.line == 7 && d.msg.render(Lang::Nl).contains("cert.pem")),
        "{:#?}",
        report.render(Lang::Nl, tmp.path())
    );
}

#[test]
fn secret_key_file_readable_by_others_is_an_error() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    setup(tmp.path());
    chmod(&tmp.path().join("secret.key"), 0o644);
    assert_eq!(
        codes(tmp.path()),
        vec![("pbxd.toml".to_string(), "secret_permissions", 12, 19)]
    );
}
