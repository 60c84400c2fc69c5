//! `export --with-secrets` from one pbxd, `import` into a fresh one: the same state comes back,
//! trunk secrets included (sealed again with the new store's key). Import into a store with
//! data is refused.

use pbx_tests::*;

const ACME_SECRET: &str = "Acme-Trunk-Geheim-0001";
const BETA_SECRET: &str = "Beta-Trunk-Geheim-0002";

const BELPLAN: &str = r#"
[[schedule]]
name = "kantoor"
open = [{ days = ["ma", "di", "wo", "do", "vr"], from = "09:00", to = "17:00" }]
closed_dates = ["2026-12-25"]

[[rule]]
name = "open"
match = { pattern = "500", schedule = "kantoor" }
action = { queue = "500" }

[[rule]]
name = "buiten"
match = { pattern = "_0[1-9]XXXXXXXX" }
action = { trunks = ["kpn"] }
"#;

fn provision(pbx: &Pbx) {
    let c = |args: &[&str]| {
        pbx.ctl(args).ok();
    };
    let ci = |args: &[&str], stdin: &str| {
        pbx.ctl_in(args, stdin.as_bytes()).ok();
    };
    c(&[
        "tenant",
        "add",
        "acme",
        "--name",
        "Acme BV",
        "--domain",
        "acme.example",
        "--domain",
        "acme.test",
        "--max-extensions",
        "20",
    ]);
    c(&[
        "tenant",
        "add",
        "beta",
        "--name",
        "Beta & Zonen",
        "--recording",
        "on_demand",
        "--retention-days",
        "30",
    ]);
    ci(
        &[
            "user",
            "add",
            "acme",
            "piet",
            "--name",
            "Piet Jansen",
            "--email",
            "piet@acme.example",
            "--role",
            "supervisor",
            "--password-stdin",
        ],
        "Piet-Wachtwoord-123",
    );
    ci(
        &[
            "user",
            "add",
            "acme",
            "anna",
            "--name",
            "Anna de Vries",
            "--permission",
            "intern,mobiel",
            "--password-stdin",
        ],
        "Anna-Wachtwoord-456",
    );
    ci(
        &[
            "user",
            "add",
            "beta",
            "kees",
            "--role",
            "organisatiebeheerder",
            "--password-stdin",
        ],
        "Kees-Wachtwoord-789",
    );
    c(&["user", "lock", "acme", "anna"]);
    c(&[
        "extension",
        "add",
        "acme",
        "1001",
        "--name",
        "Piet",
        "--owner",
        "piet",
        "--codecs",
        "opus,PCMA",
    ]);
    c(&[
        "extension",
        "add",
        "acme",
        "1002",
        "--name",
        "Anna",
        "--owner",
        "anna",
        "--forward-no-answer",
        "500",
        "--no-answer-secs",
        "25",
    ]);
    ci(
        &[
            "extension",
            "add",
            "beta",
            "2001",
            "--name",
            "Kees",
            "--password-stdin",
        ],
        "Qx7-Zonnebloem-Rivier-42",
    );
    ci(
        &[
            "trunk",
            "add",
            "acme",
            "kpn",
            "--host",
            "sip.kpn.example",
            "--username",
            "31201234567",
            "--register",
            "true",
            "--secret-stdin",
            "--did",
            "+31201234567",
            "--allow",
            "192.0.2.0/24",
        ],
        ACME_SECRET,
    );
    ci(
        &[
            "trunk",
            "add",
            "beta",
            "voip",
            "--host",
            "192.0.2.50",
            "--port",
            "5080",
            "--transport",
            "tcp",
            "--username",
            "beta",
            "--secret-stdin",
        ],
        BETA_SECRET,
    );
    c(&[
        "queue",
        "add",
        "acme",
        "500",
        "--name",
        "Verkoop",
        "--strategy",
        "leastrecent",
        "--wrapup",
        "15",
        "--overflow",
        "extension:1001",
    ]);
    c(&[
        "queue", "members", "acme", "500", "--add", "piet:1", "--add", "anna:3",
    ]);
    let plan = pbx.root.join("belplan.toml");
    std::fs::write(&plan, BELPLAN).expect("write belplan");
    c(&["belplan", "set", "acme", plan.to_str().expect("utf-8")]);
    let acme_csv = pbx.root.join("acme.csv");
    std::fs::write(
        &acme_csv,
        "naam,bedrijf,telefoon,mobiel,labels,notities,klantnummer\n\
         Klaas Klant,Klant BV,020-7654321,06-11111111,vip;noord,\"belt vaak, liefst 's ochtends\",K-001\n\
         Marie Meijer,,+31 30 123 4567,,,,K-002\n\
         Jan \"Jantje\" Jansen,Jansen & Co,0031104567890,,zuid,,\n\
         Émile Éçlair,Bakkerij É,0505551234,,,,K-004\n",
    )
    .expect("write csv");
    let r = pbx.ctl(&[
        "contact",
        "import",
        "acme",
        acme_csv.to_str().expect("utf-8"),
        "--json",
    ]);
    r.ok();
    assert_eq!(r.json()["imported"], 4, "{r:?}");
    let beta_csv = pbx.root.join("beta.csv");
    std::fs::write(
        &beta_csv,
        "name,phone\nEen,0201111111\nTwee,0202222222\nDrie,0203333333\n",
    )
    .expect("write csv");
    c(&[
        "contact",
        "import",
        "beta",
        beta_csv.to_str().expect("utf-8"),
    ]);
}

/// The export without its header and audit lines (those differ by design: the import adds its
/// own audit entry, and the header names the export).
fn data_lines(export: &str) -> Vec<String> {
    export
        .lines()
        .filter(|l| {
            !l.is_empty() && !l.contains(r#""kind":"header""#) && !l.contains(r#""kind":"audit""#)
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn export_and_import_round_trip() {
    let a = Pbx::start(Opts::default());
    provision(&a);
    let file = a.root.join("export.jsonl");
    a.ctl(&[
        "export",
        "--with-secrets",
        "-o",
        file.to_str().expect("utf-8"),
    ])
    .ok();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file)
        .expect("export file")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "an export with secrets is written mode 0600");
    let exported = std::fs::read_to_string(&file).expect("read export");
    assert!(
        exported.contains(ACME_SECRET) && exported.contains(BETA_SECRET),
        "export --with-secrets has the plain trunk secrets"
    );

    // A fresh pbxd on an empty state folder (no tenants in its conf.d, so nothing is seeded).
    let b = Pbx::start(Opts::default());
    assert_eq!(b.ctl_json(&["tenant", "list"]), serde_json::json!([]));
    let r = b.ctl(&["import", file.to_str().expect("utf-8"), "--json"]);
    r.ok();
    let counts = &r.json()["counts"];
    assert_eq!(
        (
            counts["tenants"].as_u64(),
            counts["users"].as_u64(),
            counts["extensions"].as_u64(),
            counts["trunks"].as_u64(),
            counts["contacts"].as_u64()
        ),
        (Some(2), Some(3), Some(3), Some(2), Some(7)),
        "{r:?}"
    );

    let compare = |what: &[&str]| {
        let (x, y) = (a.ctl_json(what), b.ctl_json(what));
        assert_eq!(x, y, "{what:?} differs after import");
    };
    compare(&["tenant", "list"]);
    for t in ["acme", "beta"] {
        compare(&["extension", "list", t]);
        compare(&["user", "list", t]);
        compare(&["trunk", "list", t]);
        compare(&["queue", "list", t]);
        compare(&["belplan", "show", t]);
        compare(&["contact", "list", t, "--limit", "1000"]);
        compare(&["tenant", "show", t]);
    }
    compare(&["trunk", "show", "acme", "kpn"]);
    compare(&["trunk", "show", "beta", "voip"]);
    assert_eq!(
        b.ctl_json(&["contact", "list", "acme", "--limit", "1000"])
            .as_array()
            .map(Vec::len),
        Some(4)
    );
    assert_eq!(
        b.ctl_json(&["contact", "list", "beta", "--limit", "1000"])
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    let found = b.ctl_json(&["contact", "find", "acme", "--phone", "0207654321"]);
    assert_eq!(
        strings(&found, "name"),
        ["Klaas Klant"],
        "the phone index was rebuilt"
    );

    // The whole state, secrets included, is the same; the trunk secrets survived (the export of
    // the new store opens them with its own key).
    let ea = a.ctl(&["export", "--with-secrets"]);
    let eb = b.ctl(&["export", "--with-secrets"]);
    ea.ok();
    eb.ok();
    assert_eq!(
        data_lines(&eb.stdout),
        data_lines(&ea.stdout),
        "export --with-secrets differs after import"
    );
    assert!(
        eb.stdout.contains(&format!(r#""secret":"{ACME_SECRET}""#))
            && eb.stdout.contains(&format!(r#""secret":"{BETA_SECRET}""#)),
        "{}",
        eb.stdout
    );
    // The audit history came along, plus the import itself.
    let audit = b.ctl_json(&["audit", "--limit", "100000"]);
    let actions = strings(&audit, "action");
    assert!(
        actions.contains(&"tenant.add".to_string()) && actions.contains(&"import".to_string()),
        "{actions:?}"
    );
    // The sealed secrets are sealed with b's key, not a's.
    assert_ne!(
        std::fs::read(a.state.join("secret.key")).ok(),
        std::fs::read(b.state.join("secret.key")).ok()
    );

    // The import is durable: a restart keeps it.
    let mut b = b;
    b.restart();
    assert_eq!(
        data_lines(&b.ctl(&["export", "--with-secrets"]).stdout),
        data_lines(&ea.stdout),
        "the import did not survive a restart"
    );

    // Import into a store with data is refused, with a Dutch message, and changes nothing.
    let before = b.ctl(&["export", "--with-secrets"]).stdout;
    let r = b.ctl(&["import", file.to_str().expect("utf-8")]);
    assert_ne!(r.code, 0, "{r:?}");
    assert!(
        r.stderr
            .contains("importeren kan alleen in een lege opslag"),
        "{r:?}"
    );
    assert_eq!(
        data_lines(&b.ctl(&["export", "--with-secrets"]).stdout),
        data_lines(&before)
    );
    // Also when only one organisation exists.
    let c = Pbx::start(Opts::default());
    c.ctl(&["tenant", "add", "ander"]).ok();
    let r2 = c.ctl(&["import", file.to_str().expect("utf-8")]);
    assert_ne!(r2.code, 0, "{r2:?}");
    assert_eq!(strings(&c.ctl_json(&["tenant", "list"]), "slug"), ["ander"]);
    // The refusal is the caller's mistake, not an internal error: error code `conflict` (the
    // store's own code for it, HTTP 409) and exit 65, not `store`/500/exit 70 ("interne fout").
    let api = c.ctl_in(&["api", "/v1/import", "-"], exported.as_bytes());
    assert_eq!(api.json()["error"]["code"], "conflict", "{api:?}");
    r.code(65);
}

#[test]
fn a_broken_export_imports_nothing() {
    let a = Pbx::start(Opts::default());
    provision(&a);
    let text = a.ctl(&["export", "--with-secrets"]).stdout;
    let mut lines: Vec<&str> = text.lines().collect();
    let n = lines.len() / 2;
    lines.insert(n, "{\"kind\":\"tenant\",\"data\":");
    let bad = a.root.join("kapot.jsonl");
    std::fs::write(&bad, lines.join("\n")).expect("write");
    let b = Pbx::start(Opts::default());
    let r = b.ctl(&["import", bad.to_str().expect("utf-8")]);
    assert_ne!(r.code, 0, "{r:?}");
    assert!(
        r.stderr.contains(&format!("regel {}", n + 1))
            && r.stderr.contains("er is niets ingelezen"),
        "the message names the line: {r:?}"
    );
    assert_eq!(
        b.ctl_json(&["tenant", "list"]),
        serde_json::json!([]),
        "a refused import wrote something"
    );
    let api = b.ctl_in(&["api", "/v1/import", "-"], lines.join("\n").as_bytes());
    // A good import still works afterwards: the store stayed empty.
    let good = a.root.join("goed.jsonl");
    std::fs::write(&good, &text).expect("write");
    b.ctl(&["import", good.to_str().expect("utf-8")]).ok();
    assert_eq!(
        b.ctl_json(&["tenant", "list"]),
        a.ctl_json(&["tenant", "list"])
    );
    // A bad line is bad input (the store's code `invalid`, HTTP 400, exit 65), not an internal
    // error (`store`, HTTP 500, exit 70).
    assert_eq!(api.json()["error"]["code"], "invalid", "{api:?}");
    r.code(65);
}
