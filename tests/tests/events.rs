//! `GET /v1/events`: a snapshot first, then a `changed` event with the audit entry for every
//! change, and `reloaded` events.

use pbx_tests::*;
use std::time::Duration;

#[test]
fn snapshot_then_changes() {
    let pbx = Pbx::start(Opts::default());
    pbx.ctl(&["tenant", "add", "eerst", "--name", "Eerst BV"])
        .ok();

    let mut ev = pbx.events();
    assert_eq!(ev.status, 200);
    assert!(
        ev.headers
            .iter()
            .any(|(k, v)| k == "content-type" && v.starts_with("application/x-ndjson")),
        "{:?}",
        ev.headers
    );
    assert!(
        ev.headers
            .iter()
            .any(|(k, v)| k == "x-pbxd-api" && v == "1"),
        "{:?}",
        ev.headers
    );
    let first = ev.next(Duration::from_secs(10)).expect("a first event");
    assert_eq!(
        first["type"], "snapshot",
        "the stream starts with a snapshot: {first}"
    );
    assert_eq!(first["status"]["tenants"], 1, "{first}");
    assert_eq!(first["status"]["api"], 1);
    assert_eq!(strings(&first["tenants"], "slug"), ["eerst"]);
    assert_eq!(first["tenants"][0]["name"], "Eerst BV");

    pbx.ctl(&["tenant", "add", "acme", "--name", "Acme BV"])
        .ok();
    let changed = ev
        .next_of("changed", Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no changed event after tenant add"));
    let entry = &changed["entry"];
    assert_eq!(entry["action"], "tenant.add", "{changed}");
    assert_eq!(entry["tenant"], "acme");
    assert_eq!(entry["object"], "organisatie acme");
    assert_eq!(entry["uid"].as_u64(), Some(u64::from(my_uid())));
    assert_eq!(entry["after"]["name"], "Acme BV");
    // The event is the audit entry, with its sequence number.
    let audit = pbx.ctl_json(&["audit", "--limit", "1"]);
    assert_eq!(audit[0]["seq"], entry["seq"], "{audit} vs {entry}");
    assert!(entry["seq"].as_u64().is_some_and(|s| s > 0));
    assert_eq!(&audit[0], entry);

    // More changes come in order; a refused change sends nothing.
    pbx.ctl(&["extension", "add", "acme", "1001"]).ok();
    pbx.ctl(&["extension", "add", "acme", "1001"]).code(65);
    pbx.ctl(&["extension", "remove", "acme", "1001"]).ok();
    let a = ev
        .next_of("changed", Duration::from_secs(10))
        .expect("extension.add event");
    let b = ev
        .next_of("changed", Duration::from_secs(10))
        .expect("extension.remove event");
    assert_eq!(
        (a["entry"]["action"].as_str(), b["entry"]["action"].as_str()),
        (Some("extension.add"), Some("extension.remove"))
    );
    assert!(
        a["entry"].to_string().find("\"sip\"").is_none(),
        "no credentials in events: {a}"
    );

    // A reload is announced.
    pbx.ctl(&["reload"]).ok();
    let r = ev
        .next_of("reloaded", Duration::from_secs(10))
        .expect("reloaded event");
    assert_eq!(r["ok"], true);

    // A second subscriber gets its own snapshot with the current state.
    let mut ev2 = pbx.events();
    let snap = ev2.next(Duration::from_secs(10)).expect("snapshot");
    assert_eq!(snap["type"], "snapshot");
    assert_eq!(strings(&snap["tenants"], "slug"), ["acme", "eerst"]);
}

#[test]
fn a_tenant_scoped_stream_sees_only_its_tenant() {
    require_root();
    let (uid, gid, group) = nobody();
    let pbx = Pbx::start(Opts {
        control: vec![format!("group = \"{group}\"")],
        extra_toml: "\n[control.tenant_users]\n\"nobody\" = \"acme\"\n".into(),
        ..Opts::default()
    });
    pbx.ctl(&["tenant", "add", "acme", "--name", "Acme BV"])
        .ok();
    pbx.ctl(&["tenant", "add", "beta", "--name", "Beta BV"])
        .ok();
    // pbxtop --once as nobody shows only acme.
    let mut c = command("pbxtop");
    c.arg("--socket").arg(&pbx.socket).arg("--once");
    std::os::unix::process::CommandExt::uid(&mut c, uid);
    std::os::unix::process::CommandExt::gid(&mut c, gid);
    let r = run(&mut c, None);
    r.ok();
    assert!(
        r.stdout.contains("Acme BV") && !r.stdout.contains("Beta BV"),
        "{r:?}"
    );
    assert!(r.stdout.contains("1 organisaties"), "{r:?}");
}
