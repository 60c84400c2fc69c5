//! Removing what others refer to: refused without --force (nothing changes); with --force what
//! depends on it goes too, and no dangling reference is left in the store; --dry-run shows it
//! all and changes nothing.

use pbx_tests::*;
use serde_json::Value;

const ACME: &str = r#"[tenant]
slug = "acme"
name = "Acme BV"

[[user]]
username = "piet"
name = "Piet"
role = "agent"

[[extension]]
number = "1001"
name = "Receptie"

[[extension]]
number = "1002"
name = "Balie"

[[ring_group]]
number = "600"
name = "Iedereen"
members = ["1001", "1002"]
fallback = { extension = "1002" }

[[queue]]
number = "500"
name = "Verkoop"
members = [{ user = "piet", penalty = 0 }]
overflow = { extension = "1002" }

[[rule]]
name = "naar-balie"
match = { pattern = "22" }
action = { extension = "1002" }
"#;

fn refers_to_1002(v: &Value) -> bool {
    v.to_string().contains(r#"{"extension":"1002"}"#)
}

#[test]
fn forced_extension_removal_leaves_no_dangling_reference() {
    let pbx = Pbx::start(Opts::default().tenant("acme.toml", ACME));
    let export = |pbx: &Pbx| -> Vec<String> {
        pbx.ctl(&["export", "--with-secrets"])
            .stdout
            .lines()
            .filter(|l| !l.contains(r#""kind":"audit""#))
            .map(str::to_string)
            .collect()
    };
    let before = export(&pbx);

    // Refused without --force, naming the reference, with a hint; nothing changes.
    let r = pbx.ctl(&["extension", "remove", "acme", "1002"]);
    r.code(65);
    assert!(
        r.stderr.contains("1002") && r.stderr.contains("--force"),
        "{r:?}"
    );
    assert_eq!(export(&pbx), before);

    // --dry-run --force lists every object that changes, and changes nothing.
    let dry = pbx.ctl(&[
        "extension",
        "remove",
        "acme",
        "1002",
        "--force",
        "--dry-run",
    ]);
    dry.ok();
    assert_eq!(export(&pbx), before, "--dry-run changed the state");
    let forced = pbx.ctl(&["extension", "remove", "acme", "1002", "--force"]);
    forced.ok();
    assert_eq!(
        dry.stdout.lines().skip(1).collect::<Vec<_>>(),
        forced.stdout.lines().skip(1).collect::<Vec<_>>(),
        "--dry-run shows what --force does"
    );

    // The extension is gone, and so is every reference to it.
    assert_eq!(
        strings(&pbx.ctl_json(&["extension", "list", "acme"]), "number"),
        ["1001"]
    );
    let groups = pbx.ctl(&["api", "/v1/tenants/acme/ring-groups"]);
    groups.ok();
    let groups = groups.json();
    assert_eq!(
        groups[0]["members"],
        serde_json::json!(["1001"]),
        "left the belgroep: {groups}"
    );
    let plan = pbx.ctl_json(&["belplan", "show", "acme"]);
    assert!(
        !refers_to_1002(&plan),
        "a belplan rule still sends calls to the removed extension: {plan}"
    );
    assert!(
        forced.stdout.contains("lid van belgroep 600")
            && forced.stdout.contains("belplanregel 1 (extensie 1002)"),
        "{forced:?}"
    );
    let queues = pbx.ctl_json(&["queue", "list", "acme"]);
    let mut dangling = Vec::new();
    if refers_to_1002(&groups) {
        dangling.push(format!("belgroep 600 fallback: {groups}"));
    }
    if refers_to_1002(&queues) {
        dangling.push(format!("wachtrij 500 overflow: {queues}"));
    }
    assert!(
        dangling.is_empty(),
        "after `extension remove --force` these still point at the removed extension 1002:\n{}",
        dangling.join("\n")
    );
}

#[test]
fn forced_user_removal_frees_extensions_and_queues() {
    let pbx = Pbx::start(Opts::default().tenant("acme.toml", ACME));
    pbx.ctl(&["extension", "set", "acme", "1001", "--owner", "piet"])
        .ok();
    let r = pbx.ctl(&["user", "remove", "acme", "piet"]);
    r.code(65);
    assert!(
        r.stderr
            .contains("gebruiker piet is eigenaar van 1 extensie(s) en lid van 1 wachtrij(en)"),
        "{r:?}"
    );
    let dry = pbx.ctl(&["user", "remove", "acme", "piet", "--force", "--dry-run"]);
    dry.ok();
    assert!(
        dry.stdout.contains("eigenaar van extensie 1001")
            && dry.stdout.contains("lid van wachtrij 500"),
        "{dry:?}"
    );
    assert_eq!(
        pbx.ctl_json(&["extension", "show", "acme", "1001"])["owner"],
        "piet",
        "--dry-run changed the owner"
    );
    pbx.ctl(&["user", "remove", "acme", "piet", "--force"]).ok();
    assert!(pbx
        .ctl_json(&["extension", "show", "acme", "1001"])
        .get("owner")
        .is_none());
    assert_eq!(
        pbx.ctl_json(&["queue", "list", "acme"])[0]["members"],
        serde_json::json!([])
    );
    assert_eq!(
        pbx.ctl_json(&["user", "list", "acme"]),
        serde_json::json!([])
    );
}
