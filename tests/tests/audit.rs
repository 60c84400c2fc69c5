//! Every change is in the audit log, with the uid of the peer on the control socket, the right
//! action and object, and never a secret in `before`/`after`.

use pbx_tests::*;
use serde_json::Value;

const USER_PW: &str = "Aud1t-Login-Wachtwoord";
const USER_PW2: &str = "Tweede-Login-Wachtwoord-77";
const EXT_PW: &str = "Zeer-Sterk-SIP-ww-8181";
const TRUNK_SECRET: &str = "Trunk-Geheim-Eerste-31";
const TRUNK_SECRET2: &str = "Trunk-Geheim-Tweede-62";

#[test]
fn every_change_is_audited_without_secrets() {
    let pbx = Pbx::start(Opts::default());
    let csv = pbx.root.join("contacten.csv");
    std::fs::write(&csv, "name,company,phone,tags,notes\nKlaas Klant,Klant BV,020-7654321,vip,eerste\nMarie Meijer,,06-12345678,,\n").expect("write csv");
    let plan = pbx.root.join("plan.toml");
    std::fs::write(&plan, "[[rule]]\nname = \"naar-piet\"\nmatch = { pattern = \"9\" }\naction = { extension = \"1001\" }\n").expect("write belplan");

    let mut generated = Vec::new();
    let steps: Vec<(Vec<&str>, Option<&str>, &str, &str)> = vec![
        // (pbxctl args, stdin, action, object)
        (
            vec![
                "tenant",
                "add",
                "acme",
                "--name",
                "Acme BV",
                "--domain",
                "acme.example",
            ],
            None,
            "tenant.add",
            "organisatie acme",
        ),
        (
            vec!["tenant", "set", "acme", "--max-calls", "30"],
            None,
            "tenant.set",
            "organisatie acme",
        ),
        (
            vec!["user", "add", "acme", "piet", "--password-stdin"],
            Some(USER_PW),
            "user.add",
            "gebruiker piet",
        ),
        (
            vec!["user", "passwd", "acme", "piet"],
            Some(USER_PW2),
            "user.passwd",
            "gebruiker piet",
        ),
        (
            vec!["user", "set", "acme", "piet", "--name", "Piet P."],
            None,
            "user.set",
            "gebruiker piet",
        ),
        (
            vec!["user", "lock", "acme", "piet"],
            None,
            "user.lock",
            "gebruiker piet",
        ),
        (
            vec!["user", "unlock", "acme", "piet"],
            None,
            "user.unlock",
            "gebruiker piet",
        ),
        (
            vec![
                "extension",
                "add",
                "acme",
                "1001",
                "--owner",
                "piet",
                "--password-stdin",
            ],
            Some(EXT_PW),
            "extension.add",
            "extensie 1001",
        ),
        (
            vec!["extension", "add", "acme", "1002"],
            None,
            "extension.add",
            "extensie 1002",
        ),
        (
            vec!["extension", "set", "acme", "1002", "--name", "Balie"],
            None,
            "extension.set",
            "extensie 1002",
        ),
        (
            vec!["extension", "reset-password", "acme", "1002"],
            None,
            "extension.reset_password",
            "extensie 1002",
        ),
        (
            vec![
                "trunk",
                "add",
                "acme",
                "kpn",
                "--host",
                "sip.kpn.example",
                "--username",
                "3120",
                "--secret-stdin",
            ],
            Some(TRUNK_SECRET),
            "trunk.add",
            "trunk kpn",
        ),
        (
            vec!["trunk", "set", "acme", "kpn", "--secret-stdin"],
            Some(TRUNK_SECRET2),
            "trunk.set",
            "trunk kpn",
        ),
        (
            vec!["queue", "add", "acme", "500", "--name", "Verkoop"],
            None,
            "queue.add",
            "wachtrij 500",
        ),
        (
            vec!["queue", "members", "acme", "500", "--add", "piet"],
            None,
            "queue.set",
            "wachtrij 500",
        ),
        (
            vec!["belplan", "set", "acme", plan.to_str().expect("utf-8")],
            None,
            "belplan.set",
            "belplan",
        ),
        (
            vec!["contact", "import", "acme", csv.to_str().expect("utf-8")],
            None,
            "contact.import",
            "2 contacten",
        ),
        (
            vec!["tenant", "suspend", "acme"],
            None,
            "tenant.suspend",
            "organisatie acme",
        ),
        (
            vec!["tenant", "resume", "acme"],
            None,
            "tenant.resume",
            "organisatie acme",
        ),
        (
            vec!["queue", "remove", "acme", "500"],
            None,
            "queue.remove",
            "wachtrij 500",
        ),
        (
            vec!["trunk", "remove", "acme", "kpn"],
            None,
            "trunk.remove",
            "trunk kpn",
        ),
        (
            vec!["extension", "remove", "acme", "1002"],
            None,
            "extension.remove",
            "extensie 1002",
        ),
        (
            vec!["user", "remove", "acme", "piet", "--force"],
            None,
            "user.remove",
            "gebruiker piet",
        ),
        (
            vec!["tenant", "remove", "acme", "--force"],
            None,
            "tenant.remove",
            "organisatie acme",
        ),
    ];
    let mut expected = Vec::new();
    for (args, stdin, action, object) in &steps {
        // A dry run first, where there is one: it must leave no audit entry.
        if args.contains(&"remove") {
            let before = pbx
                .ctl_json(&["audit", "--limit", "100000"])
                .as_array()
                .map(Vec::len);
            let mut dry = args.clone();
            dry.push("--dry-run");
            pbx.ctl(&dry).ok();
            assert_eq!(
                pbx.ctl_json(&["audit", "--limit", "100000"])
                    .as_array()
                    .map(Vec::len),
                before,
                "--dry-run wrote an audit entry: {dry:?}"
            );
        }
        let r = match stdin {
            Some(s) => pbx.ctl_in(args, s.as_bytes()),
            None => pbx.ctl(args),
        };
        r.ok();
        if let Some(line) = r.stdout.lines().find(|l| l.starts_with("SIP-wachtwoord")) {
            generated.push(line.rsplit(' ').next().unwrap_or_default().to_string());
        }
        expected.push((action.to_string(), object.to_string()));
    }
    assert_eq!(
        generated.len(),
        2,
        "two generated SIP passwords were shown once"
    );

    let audit = pbx.ctl_json(&["audit", "--limit", "100000"]);
    let entries = audit
        .as_array()
        .unwrap_or_else(|| panic!("audit --json is an array: {audit}"));
    let got: Vec<(String, String)> = entries
        .iter()
        .filter(|e| e["action"] != "export" && e["action"] != "export.secrets")
        .map(|e| {
            (
                e["action"].as_str().unwrap_or("").to_string(),
                e["object"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(got, expected, "audit log, in order");

    let my_user = nix::unistd::User::from_uid(nix::unistd::geteuid())
        .ok()
        .flatten()
        .map(|u| u.name);
    let mut last_seq = 0;
    for e in entries {
        assert_eq!(
            e["uid"].as_u64(),
            Some(u64::from(my_uid())),
            "uid of the test process: {e}"
        );
        if let Some(name) = &my_user {
            assert_eq!(e["user"].as_str(), Some(name.as_str()), "{e}");
        }
        assert_eq!(e["tenant"], "acme", "{e}");
        let seq = e["seq"].as_u64().unwrap_or(0);
        assert!(seq > last_seq, "seq increases: {e}");
        last_seq = seq;
        assert!(e["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{e}");
        for side in ["before", "after"] {
            let text = e[side].to_string();
            for secret in [
                USER_PW,
                USER_PW2,
                EXT_PW,
                TRUNK_SECRET,
                TRUNK_SECRET2,
                &generated[0],
                &generated[1],
            ] {
                assert!(!text.contains(secret), "secret in audit {side}: {e}");
            }
            for key in [
                "password_hash",
                "argon2",
                "\"sip\"",
                "ha1",
                "\"secret\"",
                "totp\":\"",
            ] {
                assert!(!text.contains(key), "{key} in audit {side}: {e}");
            }
        }
    }
    // before/after are there where they make sense
    let find = |action: &str| {
        entries
            .iter()
            .find(|e| e["action"] == action)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert!(
        find("tenant.add")["before"].is_null() && find("tenant.add")["after"]["slug"] == "acme"
    );
    assert_eq!(find("tenant.set")["before"]["limits"]["max_calls"], 20);
    assert_eq!(find("tenant.set")["after"]["limits"]["max_calls"], 30);
    assert_eq!(find("trunk.add")["after"]["auth"]["username"], "3120");
    assert!(
        find("tenant.remove")["after"].is_null()
            && find("tenant.remove")["before"]["slug"] == "acme"
    );

    // The filter by organisation and the limit.
    let last2 = pbx.ctl_json(&["audit", "--limit", "2"]);
    assert_eq!(last2.as_array().map(Vec::len), Some(2));
    assert_eq!(
        last2[1]["action"], "tenant.remove",
        "the newest entries, oldest first: {last2}"
    );
    let none = pbx.ctl_json(&["audit", "--tenant", "anders"]);
    assert_eq!(none, serde_json::json!([]));

    // An export is recorded too (who took the data out).
    pbx.ctl(&["export", "--with-secrets"]).ok();
    let last = pbx.ctl_json(&["audit", "--limit", "1"]);
    assert_eq!(last[0]["action"], "export.secrets");
    assert_eq!(last[0]["uid"].as_u64(), Some(u64::from(my_uid())));
    // The human table shows uid and action.
    let table = pbx.ctl(&["audit", "--limit", "3"]);
    table.ok();
    assert!(
        table.stdout.contains("ACTIE")
            && table.stdout.contains("export.secrets")
            && table.stdout.contains(&my_uid().to_string()),
        "{table:?}"
    );
}
