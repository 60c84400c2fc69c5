//! One small invalid file (or folder) per failure mode, each with the diagnostics it must give:
//! file, code, line:col and a piece of the Dutch message. Nothing else may be reported.
//!
//! The cases are copied to a temporary folder with mode 0600 first, so the permission checks
//! (tested on their own in `permissions.rs`) do not depend on how git checked the files out.

use pbx_i18n::Lang;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

type Expect = (&'static str, &'static str, usize, usize, &'static str);

const CASES: &[(&str, &[Expect])] = &[
    // Tenant files: syntax, keys and types.
    (
        "syntax.toml",
        &[("syntax.toml", "syntax", 3, 16, "TOML-syntaxfout")],
    ),
    (
        "unknown_key.toml",
        &[(
            "unknown_key.toml",
            "unknown_key",
            7,
            1,
            "onbekende sleutel 'nummer'",
        )],
    ),
    (
        "wrong_type.toml",
        &[(
            "wrong_type.toml",
            "type",
            6,
            10,
            "moet tekst tussen aanhalingstekens zijn",
        )],
    ),
    (
        "out_of_range.toml",
        &[(
            "out_of_range.toml",
            "type",
            8,
            8,
            "valt buiten het bereik 0-65535",
        )],
    ),
    (
        "unknown_value.toml",
        &[(
            "unknown_value.toml",
            "invalid",
            13,
            12,
            "onbekende waarde \"willekeurig\"",
        )],
    ),
    (
        "table_not_list.toml",
        &[("table_not_list.toml", "type", 5, 1, "schrijf [[extension]]")],
    ),
    (
        "no_tenant.toml",
        &[(
            "no_tenant.toml",
            "missing_key",
            1,
            1,
            "de tabel [tenant] ontbreekt",
        )],
    ),
    (
        "bad_pattern.toml",
        &[("bad_pattern.toml", "invalid", 6, 21, "belpatroon '_06Q'")],
    ),
    (
        "bad_did.toml",
        &[(
            "bad_did.toml",
            "invalid",
            9,
            25,
            "geen nummer in E.164-vorm",
        )],
    ),
    (
        "two_actions.toml",
        &[
            (
                "two_actions.toml",
                "no_members",
                5,
                1,
                "wachtrij 500 heeft geen agenten",
            ),
            ("two_actions.toml", "invalid", 11, 10, "precies een van"),
        ],
    ),
    // Tenant files: the model's rules.
    (
        "dangling_member.toml",
        &[(
            "dangling_member.toml",
            "dangling_reference",
            13,
            40,
            "gebruiker klaas bestaat niet",
        )],
    ),
    (
        "dangling_rule.toml",
        &[(
            "dangling_rule.toml",
            "dangling_reference",
            7,
            22,
            "trunk kpn bestaat niet",
        )],
    ),
    (
        "dangling_schedule.toml",
        &[(
            "dangling_schedule.toml",
            "dangling_reference",
            10,
            40,
            "openingstijden 'kantoor' bestaan niet",
        )],
    ),
    (
        "duplicate_number.toml",
        &[(
            "duplicate_number.toml",
            "duplicate",
            10,
            10,
            "nummer 1001 is al in gebruik",
        )],
    ),
    (
        "limit.toml",
        &[(
            "limit.toml",
            "limit",
            15,
            1,
            "al het maximum van 2 extensies",
        )],
    ),
    (
        "shadowed.toml",
        &[(
            "shadowed.toml",
            "shadowed",
            12,
            1,
            "belplanregel 2 wordt nooit bereikt",
        )],
    ),
    (
        "empty_queue.toml",
        &[("empty_queue.toml", "no_members", 5, 1, "heeft geen agenten")],
    ),
    (
        "open_trunk.toml",
        &[(
            "open_trunk.toml",
            "open_trunk",
            5,
            1,
            "geen registratie en geen lijst",
        )],
    ),
    // Tenant files: secrets.
    (
        "weak_password.toml",
        &[(
            "weak_password.toml",
            "weak_password",
            8,
            12,
            "SIP-wachtwoord te zwak",
        )],
    ),
    (
        "password_hash.toml",
        &[("password_hash.toml", "invalid", 9, 17, "geen argon2id-hash")],
    ),
    (
        "password_twice.toml",
        &[("password_twice.toml", "invalid", 9, 17, "niet allebei")],
    ),
    (
        "secret_file_missing.toml",
        &[(
            "secret_file_missing.toml",
            "secret_file",
            9,
            15,
            "bestaat-niet.secret bestaat niet",
        )],
    ),
    (
        "secret_without_username.toml",
        &[(
            "secret_without_username.toml",
            "invalid",
            9,
            10,
            "geheim maar geen username",
        )],
    ),
    // Three independent problems in one file: three diagnostics.
    (
        "three_problems.toml",
        &[
            (
                "three_problems.toml",
                "unknown_key",
                9,
                1,
                "onbekende sleutel 'kleur'",
            ),
            (
                "three_problems.toml",
                "type",
                14,
                21,
                "moet een geheel getal zijn",
            ),
            (
                "three_problems.toml",
                "dangling_reference",
                19,
                20,
                "extensie 1009 bestaat niet",
            ),
        ],
    ),
    // Across organisations.
    (
        "dup-slug",
        &[(
            "b.toml",
            "duplicate",
            2,
            8,
            "organisatie acme is ook al beschreven in a.toml",
        )],
    ),
    (
        "dup-domain",
        &[(
            "b.toml",
            "duplicate",
            4,
            28,
            "SIP-domein sip.acme.example hoort al bij organisatie acme",
        )],
    ),
    (
        "dup-did",
        &[(
            "b.toml",
            "duplicate",
            9,
            25,
            "DID +31201234567 wordt al geleverd aan organisatie acme",
        )],
    ),
    (
        "default-tenant",
        &[(
            "pbxd.toml",
            "dangling_reference",
            1,
            18,
            "default_tenant 'nergens' is geen organisatie",
        )],
    ),
    (
        "tenant-users",
        &[(
            "pbxd.toml",
            "dangling_reference",
            7,
            14,
            "organisatie 'beta', die niet in tenants/ staat",
        )],
    ),
    // pbxd.toml.
    (
        "pbxd-unknown-key.toml",
        &[(
            "pbxd-unknown-key.toml",
            "unknown_key",
            6,
            1,
            "onbekende sleutel 'rtp.poort_min'",
        )],
    ),
    (
        "pbxd-language.toml",
        &[(
            "pbxd-language.toml",
            "invalid",
            1,
            12,
            "onbekende waarde \"de\" voor 'language'",
        )],
    ),
    (
        "pbxd-transport.toml",
        &[(
            "pbxd-transport.toml",
            "invalid",
            2,
            13,
            "onbekende waarde \"sctp\"",
        )],
    ),
    (
        "pbxd-bad-address.toml",
        &[(
            "pbxd-bad-address.toml",
            "invalid",
            3,
            11,
            "ongeldig adres 'localhost:5060'",
        )],
    ),
    (
        "pbxd-port-clash.toml",
        &[(
            "pbxd-port-clash.toml",
            "port_clash",
            11,
            11,
            "ws 127.0.0.1:5060 botst met tcp 0.0.0.0:5060 (regel 7)",
        )],
    ),
    (
        "pbxd-http-clash.toml",
        &[(
            "pbxd-http-clash.toml",
            "port_clash",
            6,
            11,
            "http 127.0.0.1:8080 botst met ws 127.0.0.1:8080",
        )],
    ),
    (
        "pbxd-rtp-order.toml",
        &[(
            "pbxd-rtp-order.toml",
            "rtp_range",
            7,
            12,
            "port_min moet kleiner zijn dan port_max",
        )],
    ),
    (
        "pbxd-rtp-odd.toml",
        &[(
            "pbxd-rtp-odd.toml",
            "rtp_range",
            7,
            12,
            "oneven aantal poorten",
        )],
    ),
    (
        "pbxd-rtp-low.toml",
        &[("pbxd-rtp-low.toml", "rtp_range", 6, 12, "onder 1024")],
    ),
    (
        "pbxd-media-timeout.toml",
        &[("pbxd-media-timeout.toml", "invalid", 6, 17, "5 tot 86400")],
    ),
    (
        "pbxd-rtp-clash.toml",
        &[(
            "pbxd-rtp-clash.toml",
            "port_clash",
            3,
            11,
            "ligt in de RTP-poortreeks 20000-20999",
        )],
    ),
    (
        "pbxd-no-listeners.toml",
        &[(
            "pbxd-no-listeners.toml",
            "no_listeners",
            1,
            1,
            "geen SIP-listeners",
        )],
    ),
    (
        "pbxd-plain-http.toml",
        &[(
            "pbxd-plain-http.toml",
            "plain_http",
            6,
            11,
            "HTTP zonder TLS op 0.0.0.0:8080",
        )],
    ),
    (
        "pbxd-tls-missing.toml",
        &[(
            "pbxd-tls-missing.toml",
            "missing_key",
            1,
            1,
            "de sectie [tls] ontbreekt",
        )],
    ),
    (
        "pbxd-tls-file.toml",
        &[
            (
                "pbxd-tls-file.toml",
                "tls_file",
                6,
                15,
                "tls/bestaat-niet.pem bestaat niet",
            ),
            (
                "pbxd-tls-file.toml",
                "tls_file",
                7,
                7,
                "tls/ook-niet.pem bestaat niet",
            ),
        ],
    ),
    (
        "pbxd-log-level.toml",
        &[(
            "pbxd-log-level.toml",
            "invalid",
            6,
            9,
            "ongeldig logfilter 'info;debug'",
        )],
    ),
    (
        "pbxd-digest.toml",
        &[(
            "pbxd-digest.toml",
            "invalid",
            6,
            10,
            "ongeldig digest-algoritme 'SHA256' in sip.digest",
        )],
    ),
    (
        "pbxd-keepalive.toml",
        &[(
            "pbxd-keepalive.toml",
            "invalid",
            6,
            22,
            "keepalive_interval 7200 in [sip]: kies 0 (uit) tot 3600 seconden",
        )],
    ),
    (
        "pbxd-keepalive-for.toml",
        &[(
            "pbxd-keepalive-for.toml",
            "invalid",
            6,
            17,
            "onbekende waarde \"alles\"",
        )],
    ),
];

/// Copies a file or folder, every file with mode 0600.
fn copy_private(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
        for e in std::fs::read_dir(from).into_iter().flatten().flatten() {
            copy_private(&e.path(), &to.join(e.file_name()));
        }
    } else {
        std::fs::copy(from, to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o600))
            .unwrap_or_else(|e| panic!("{}: {e}", to.display()));
    }
}

#[test]
fn every_failure_mode_gives_its_diagnostics() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid");
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let mut failures = Vec::new();
    for (case, expected) in CASES {
        let path: PathBuf = tmp.path().join(case);
        copy_private(&src.join(case), &path);
        let report = pbx_config::check_paths(std::slice::from_ref(&path));
        let got: Vec<String> = report
            .diagnostics
            .iter()
            .map(|d| {
                let file = d
                    .file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                format!(
                    "{file} {} {}:{} {}",
                    d.code,
                    d.line,
                    d.col,
                    d.msg.render(Lang::Nl)
                )
            })
            .collect();
        let ok = got.len() == expected.len()
            && expected
                .iter()
                .zip(&got)
                .all(|((file, code, line, col, text), g)| {
                    g.starts_with(&format!("{file} {code} {line}:{col} ")) && g.contains(text)
                });
        if !ok {
            failures.push(format!(
                "{case}:\n  verwacht: {expected:?}\n  gekregen: {got:#?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_failure_mode_in_the_folder_has_a_case() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid");
    for e in std::fs::read_dir(&src).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        assert!(
            CASES.iter().any(|(c, _)| *c == name),
            "tests/invalid/{name} heeft geen verwachting in CASES"
        );
    }
}

#[test]
fn three_independent_problems_give_three_diagnostics() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid/three_problems.toml");
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let path = tmp.path().join("three.toml");
    copy_private(&src, &path);
    let report = pbx_config::check_paths(&[path]);
    assert_eq!(
        report.errors(),
        3,
        "{:#?}",
        report.render(Lang::Nl, tmp.path())
    );
    assert_eq!(report.warnings(), 0);
    assert!(!report.is_ok(false));
    let json = report.to_json(Lang::En);
    assert_eq!(json["errors"], 3);
    assert_eq!(json["diagnostics"][0]["code"], "unknown_key");
    assert!(json["diagnostics"][0]["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("unknown key")));
}

#[test]
fn missing_path_is_reported_as_such() {
    let report = pbx_config::check_paths(&[PathBuf::from("/bestaat/niet/conf.d")]);
    assert!(report.path_missing());
    assert_eq!(report.errors(), 1);
    let (loaded, report) = pbx_config::load(Path::new("/bestaat/niet/conf.d"));
    assert!(loaded.is_none() && report.path_missing());
}
