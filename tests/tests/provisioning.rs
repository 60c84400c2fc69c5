//! Provisioning round trip with the real pbxctl: organisations, users, extensions, trunks,
//! queues, belplan; secrets shown once or never; removal with --force and --dry-run.

use pbx_tests::*;
use serde_json::Value;

const TRUNK_SECRET: &str = "Tr0nk-Geheim-9f8e7d6c";
const USER_PASSWORD: &str = "Paard-Batterij-Nietje-42";

const BELPLAN: &str = r#"
[[schedule]]
name = "kantoor"
open = [{ days = ["ma", "di", "wo", "do", "vr"], from = "08:30", to = "17:30" }]

[[rule]]
name = "verkoop-open"
match = { pattern = "500", schedule = "kantoor" }
action = { queue = "500" }

[[rule]]
name = "verkoop-gesloten"
match = { pattern = "500" }
action = { announcement = "gesloten" }
"#;

/// Every line of `pbxctl export` except the header and the audit lines.
fn data_lines(export: &str) -> Vec<String> {
    export
        .lines()
        .filter(|l| !l.contains(r#""kind":"header""#) && !l.contains(r#""kind":"audit""#))
        .map(str::to_string)
        .collect()
}

fn password_from(stdout: &str) -> String {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("SIP-wachtwoord (wordt maar één keer getoond): "))
        .unwrap_or_else(|| panic!("no one-time password line in {stdout:?}"));
    line.rsplit(' ')
        .next()
        .map(str::to_string)
        .unwrap_or_default()
}

#[test]
fn provisioning_round_trip() {
    let pbx = Pbx::start(Opts::default());

    // --- organisation
    pbx.ctl(&[
        "tenant",
        "add",
        "acme",
        "--name",
        "Acme BV",
        "--domain",
        "acme.example",
        "--max-extensions",
        "50",
    ])
    .ok();
    let t = pbx.ctl_json(&["tenant", "show", "acme"]);
    assert_eq!(t["name"], "Acme BV");
    assert_eq!(t["domains"], serde_json::json!(["acme.example"]));
    assert_eq!(t["limits"]["max_extensions"], 50);
    assert_eq!(t["extensions"], 0);

    // --- users (a login password is read from stdin, stored only as a hash)
    pbx.ctl_in(
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
            "agent",
            "--password-stdin",
        ],
        USER_PASSWORD.as_bytes(),
    )
    .ok();
    pbx.ctl(&[
        "user",
        "add",
        "acme",
        "anna",
        "--name",
        "Anna de Vries",
        "--role",
        "supervisor",
    ])
    .ok();
    let users = pbx.ctl_json(&["user", "list", "acme"]);
    assert_eq!(strings(&users, "username"), ["anna", "piet"]);
    let users_text = users.to_string();
    assert!(
        !users_text.contains(USER_PASSWORD)
            && !users_text.contains("password_hash")
            && !users_text.contains("argon2"),
        "{users_text}"
    );

    // --- extensions: the generated password is printed once and not stored
    let r = pbx.ctl(&[
        "extension",
        "add",
        "acme",
        "1001",
        "--name",
        "Jan Jansen",
        "--owner",
        "piet",
    ]);
    r.ok();
    assert!(
        r.stdout.contains("extensie 1001 aangemaakt in acme"),
        "{r:?}"
    );
    let pw1 = password_from(&r.stdout);
    assert!(pw1.len() >= 16, "generated password too short: {pw1:?}");
    let created = pbx.ctl_json(&["extension", "add", "acme", "1002", "--name", "Receptie"]);
    let pw2 = created["password"]
        .as_str()
        .unwrap_or_else(|| panic!("--json of extension add has the one-time password: {created}"))
        .to_string();
    assert_ne!(pw1, pw2);
    assert!(created["extension"].get("sip").is_none(), "{created}");

    for n in ["1001", "1002"] {
        let show = pbx.ctl(&["extension", "show", "acme", n, "--json"]);
        show.ok();
        let v = show.json();
        assert_eq!(v["number"], n);
        assert!(
            v.get("sip").is_none(),
            "extension show --json has credentials: {}",
            show.stdout
        );
        for needle in ["sip", "ha1", &pw1, &pw2] {
            assert!(
                !show.stdout.contains(needle),
                "extension show --json holds {needle:?}: {}",
                show.stdout
            );
        }
    }
    assert_eq!(
        pbx.ctl_json(&["extension", "show", "acme", "1001"])["owner"],
        "piet"
    );
    let list = pbx.ctl(&["extension", "list", "acme", "--json"]);
    list.ok();
    assert!(
        !list.stdout.contains("ha1") && !list.stdout.contains(&pw1),
        "{}",
        list.stdout
    );

    // --- trunk with a secret from stdin
    let r = pbx.ctl_in(
        &[
            "trunk",
            "add",
            "acme",
            "kpn",
            "--host",
            "sip.kpn.example",
            "--username",
            "31201234567",
            "--secret-stdin",
            "--register",
            "true",
            "--did",
            "020-1234567",
        ],
        format!("{TRUNK_SECRET}\n").as_bytes(),
    );
    r.ok();
    assert!(!r.all().contains(TRUNK_SECRET), "{r:?}");
    let tr = pbx.ctl(&["trunk", "show", "acme", "kpn", "--json"]);
    tr.ok();
    let trv = tr.json();
    assert_eq!(trv["auth"]["username"], "31201234567");
    assert_eq!(trv["auth"]["register"], true);
    assert_eq!(trv["dids"], serde_json::json!(["+31201234567"]));
    assert!(trv["auth"].get("secret").is_none(), "{}", tr.stdout);
    for (what, out) in [
        ("trunk show --json", tr.stdout.clone()),
        ("trunk list", pbx.ctl(&["trunk", "list", "acme"]).stdout),
        (
            "trunk list --json",
            pbx.ctl(&["trunk", "list", "acme", "--json"]).stdout,
        ),
        ("export", pbx.ctl(&["export"]).stdout),
        (
            "audit --json",
            pbx.ctl(&["audit", "--json", "--limit", "1000"]).stdout,
        ),
    ] {
        assert!(!out.is_empty(), "{what} printed nothing");
        assert!(
            !out.contains(TRUNK_SECRET),
            "the trunk secret shows in {what}: {out}"
        );
    }

    // pbxd's log records the changes, never the secrets.
    let log = pbx
        .wait_log(std::time::Duration::from_secs(5), |l| {
            l.contains("trunk.add")
        })
        .unwrap_or_else(|| panic!("the log does not record the changes:\n{}", pbx.log_text()));
    for secret in [TRUNK_SECRET, USER_PASSWORD, pw1.as_str(), pw2.as_str()] {
        assert!(
            !log.contains(secret),
            "a secret in pbxd's log: {secret}\n{log}"
        );
        assert!(
            !pbx.stderr_text().contains(secret),
            "a secret on pbxd's stderr: {secret}"
        );
    }

    // --- export without secrets: no passwords, no HA1, no hashes; with secrets: HA1 but still
    // never the generated SIP passwords (they were never stored)
    let plain = pbx.ctl(&["export"]);
    plain.ok();
    for needle in [
        pw1.as_str(),
        pw2.as_str(),
        "ha1",
        "\"sip\"",
        "password_hash",
        "argon2",
        USER_PASSWORD,
        TRUNK_SECRET,
    ] {
        assert!(
            !plain.stdout.contains(needle),
            "export without --with-secrets holds {needle:?}:\n{}",
            plain.stdout
        );
    }
    let full = pbx.ctl(&["export", "--with-secrets"]);
    full.ok();
    assert!(
        full.stdout.contains("ha1_md5") && full.stdout.contains(TRUNK_SECRET),
        "export --with-secrets lacks the secrets:\n{}",
        full.stdout
    );
    assert!(
        !full.stdout.contains(&pw1)
            && !full.stdout.contains(&pw2)
            && !full.stdout.contains(USER_PASSWORD),
        "plain passwords were stored:\n{}",
        full.stdout
    );

    // --- queue and members
    pbx.ctl(&[
        "queue",
        "add",
        "acme",
        "500",
        "--name",
        "Verkoop",
        "--strategy",
        "ringall",
        "--overflow",
        "extension:1002",
    ])
    .ok();
    pbx.ctl(&[
        "queue", "members", "acme", "500", "--add", "piet:2", "--add", "anna",
    ])
    .ok();
    let queues = pbx.ctl_json(&["queue", "list", "acme"]);
    let q = &queues[0];
    assert_eq!(q["number"], "500");
    assert_eq!(q["name"], "Verkoop");
    assert_eq!(q["strategy"], "ringall");
    let mut members: Vec<(String, i64)> = q["members"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| {
                    (
                        m["user"].as_str().unwrap_or("").to_string(),
                        m["penalty"].as_i64().unwrap_or(-1),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    members.sort();
    assert_eq!(members, [("anna".to_string(), 0), ("piet".to_string(), 2)]);

    // --- belplan from a TOML file
    let plan_file = pbx.root.join("belplan.toml");
    std::fs::write(&plan_file, BELPLAN).expect("write belplan");
    pbx.ctl(&[
        "belplan",
        "set",
        "acme",
        plan_file.to_str().expect("utf-8 path"),
    ])
    .ok();
    let bp = pbx.ctl_json(&["belplan", "show", "acme"]);
    assert_eq!(
        strings(&bp["rules"], "name"),
        ["verkoop-open", "verkoop-gesloten"]
    );
    assert_eq!(
        bp["rules"][0]["action"],
        serde_json::json!({"queue": "500"})
    );
    assert_eq!(strings(&bp["schedules"], "name"), ["kantoor"]);

    // --- tenant set
    pbx.ctl(&[
        "tenant",
        "set",
        "acme",
        "--name",
        "Acme Groep BV",
        "--max-extensions",
        "60",
    ])
    .ok();
    let t = pbx.ctl_json(&["tenant", "show", "acme"]);
    assert_eq!(t["name"], "Acme Groep BV");
    assert_eq!(t["limits"]["max_extensions"], 60);
    assert_eq!(
        t["domains"],
        serde_json::json!(["acme.example"]),
        "fields not given must stay"
    );
    assert_eq!(
        (
            t["extensions"].as_u64(),
            t["users"].as_u64(),
            t["trunks"].as_u64(),
            t["queues"].as_u64()
        ),
        (Some(2), Some(2), Some(1), Some(1))
    );

    // --- lock / unlock
    let state = |pbx: &Pbx| -> Value {
        let users = pbx.ctl_json(&["user", "list", "acme"]);
        users
            .as_array()
            .and_then(|a| a.iter().find(|u| u["username"] == "piet").cloned())
            .unwrap_or(Value::Null)["state"]
            .clone()
    };
    pbx.ctl(&["user", "lock", "acme", "piet"]).ok();
    assert_eq!(state(&pbx), "locked");
    pbx.ctl(&["user", "unlock", "acme", "piet"]).ok();
    assert_eq!(state(&pbx), "active");

    // --- --dry-run changes nothing
    let before = data_lines(&pbx.ctl(&["export", "--with-secrets"]).stdout);
    let r = pbx.ctl(&["extension", "remove", "acme", "1001", "--dry-run"]);
    r.ok();
    assert!(
        r.stdout.contains("zou verwijderen") && r.stdout.contains("extensie 1001"),
        "{r:?}"
    );
    let r = pbx.ctl(&["tenant", "remove", "acme", "--force", "--dry-run"]);
    r.ok();
    assert!(
        r.stdout.contains("zou verwijderen")
            && r.stdout.contains("organisatie acme")
            && r.stdout.contains("trunk kpn"),
        "{r:?}"
    );
    let r = pbx.ctl(&["tenant", "remove", "acme", "--force", "--dry-run", "--json"]);
    r.ok();
    assert_eq!(r.json()["dry_run"], true);
    assert_eq!(
        data_lines(&pbx.ctl(&["export", "--with-secrets"]).stdout),
        before,
        "--dry-run changed the state"
    );

    // --- extension remove (the queue's overflow points at 1002, so remove 1001)
    pbx.ctl(&["extension", "remove", "acme", "1001"]).ok();
    assert_eq!(
        strings(&pbx.ctl_json(&["extension", "list", "acme"]), "number"),
        ["1002"]
    );
    pbx.ctl(&["extension", "show", "acme", "1001"]).code(66);

    // --- tenant remove needs --force while it has extensions
    let r = pbx.ctl(&["tenant", "remove", "acme"]);
    r.code(65);
    assert!(
        r.stderr.contains("organisatie acme heeft nog 1 extensies"),
        "Dutch message naming what is left: {r:?}"
    );
    assert!(r.stderr.contains("--force"), "the message says how: {r:?}");
    assert!(looks_dutch(&r.stderr), "{r:?}");
    assert_eq!(
        strings(&pbx.ctl_json(&["tenant", "list"]), "slug"),
        ["acme"],
        "a refused remove removed something"
    );
    let r = pbx.ctl(&["tenant", "remove", "acme", "--force"]);
    r.ok();
    assert!(
        r.stdout.contains("verwijderd:") && r.stdout.contains("organisatie acme"),
        "{r:?}"
    );
    assert_eq!(pbx.ctl_json(&["tenant", "list"]), serde_json::json!([]));
    pbx.ctl(&["extension", "list", "acme"]).code(66);
}
