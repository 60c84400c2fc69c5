//! Rights on the control socket, decided by the peer's uid (SO_PEERCRED) and the socket's
//! group: a Unix user mapped to an organisation sees only that one; an unmapped uid gets 403;
//! a uid outside the socket's group cannot connect at all. Runs pbxctl as other uids, so the
//! test needs root (and says so when it does not have it).

use pbx_tests::*;

const UNMAPPED_UID: u32 = 65533;

fn start() -> (Pbx, u32, u32) {
    require_root();
    let (uid, gid, group) = nobody();
    assert!(
        nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(UNMAPPED_UID))
            .ok()
            .flatten()
            .is_none(),
        "uid {UNMAPPED_UID} must not be a named user here"
    );
    let pbx = Pbx::start(Opts {
        control: vec![format!("group = \"{group}\"")],
        extra_toml: "\n[control.tenant_users]\n\"nobody\" = \"acme\"\n".into(),
        ..Opts::default()
    });
    // The socket: mode 0660, group of the config.
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(&pbx.socket).expect("socket");
    assert_eq!(meta.mode() & 0o777, 0o660, "socket mode");
    assert_eq!(meta.gid(), gid, "socket group {group}");
    pbx.ctl(&["tenant", "add", "acme", "--name", "Acme BV"])
        .ok();
    pbx.ctl(&["tenant", "add", "beta", "--name", "Beta BV"])
        .ok();
    pbx.ctl(&["extension", "add", "beta", "1001"]).ok();
    (pbx, uid, gid)
}

#[test]
fn a_mapped_user_sees_only_its_organisation() {
    let (pbx, uid, gid) = start();
    let st = pbx.ctl_as(uid, gid, &["status", "--json"]);
    st.ok();
    assert_eq!(st.json()["you"]["uid"].as_u64(), Some(u64::from(uid)));
    assert_eq!(
        st.json()["you"]["scope"],
        serde_json::json!({"tenant": "acme"}),
        "{st:?}"
    );
    assert_eq!(st.json()["tenants"], 1);

    let list = pbx.ctl_as(uid, gid, &["tenant", "list", "--json"]);
    list.ok();
    assert_eq!(
        strings(&list.json(), "slug"),
        ["acme"],
        "nobody sees only acme: {list:?}"
    );

    // Within acme: allowed, and audited with nobody's uid.
    pbx.ctl_as(
        uid,
        gid,
        &["extension", "add", "acme", "2001", "--name", "Door nobody"],
    )
    .ok();
    pbx.ctl_as(uid, gid, &["user", "add", "acme", "agent7"])
        .ok();

    // Another organisation, or something only a beheerder may do: exit 77, Dutch.
    for args in [
        vec!["extension", "add", "beta", "2002"],
        vec!["extension", "list", "beta"],
        vec!["tenant", "show", "beta"],
        vec!["tenant", "remove", "beta", "--force"],
        vec!["tenant", "add", "gamma"],
        vec!["tenant", "set", "acme", "--max-extensions", "500"],
        vec!["user", "add", "acme", "baas", "--role", "beheerder"],
        vec!["export"],
        vec!["reload"],
        vec!["audit", "--tenant", "beta"],
    ] {
        let r = pbx.ctl_as(uid, gid, &args);
        r.code(77);
        assert!(
            r.stderr.contains("dat mag u niet"),
            "{args:?}: Dutch refusal: {r:?}"
        );
    }
    assert_eq!(
        strings(&pbx.ctl_json(&["extension", "list", "beta"]), "number"),
        ["1001"],
        "beta was changed by nobody"
    );
    assert_eq!(
        strings(&pbx.ctl_json(&["tenant", "list"]), "slug"),
        ["acme", "beta"]
    );

    // nobody's own audit view: only acme.
    let own = pbx.ctl_as(uid, gid, &["audit", "--json"]);
    own.ok();
    assert!(
        own.json()
            .as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(|e| e["tenant"] == "acme")),
        "{own:?}"
    );

    // The audit log (as root) names uid 65534 for nobody's changes.
    let audit = pbx.ctl_json(&["audit", "--limit", "1000"]);
    let e = audit
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|e| e["action"] == "extension.add" && e["object"] == "extensie 2001")
                .cloned()
        })
        .unwrap_or_else(|| panic!("no audit entry for extension 2001: {audit}"));
    assert_eq!(e["uid"].as_u64(), Some(u64::from(uid)), "{e}");
    assert_eq!(e["user"], "nobody", "{e}");
    assert_eq!(e["tenant"], "acme");
    let by_root = audit
        .as_array()
        .and_then(|a| a.iter().find(|e| e["action"] == "tenant.add").cloned())
        .unwrap_or_default();
    assert_eq!(by_root["uid"].as_u64(), Some(u64::from(my_uid())));
}

#[test]
fn an_unmapped_uid_is_forbidden() {
    let (pbx, _, gid) = start();
    // In the socket's group, so it connects; not mapped, so it may do nothing.
    for args in [
        vec!["tenant", "list"],
        vec!["status"],
        vec!["extension", "list", "acme"],
        vec!["tenant", "add", "evil"],
    ] {
        let r = pbx.ctl_as(UNMAPPED_UID, gid, &args);
        r.code(77);
        assert!(
            r.stderr
                .contains("dat mag u niet: uw gebruiker heeft geen rechten"),
            "{args:?}: {r:?}"
        );
        assert!(
            r.stderr.contains("[control.tenant_users]"),
            "the hint names the setting: {r:?}"
        );
    }
    let api = pbx.ctl_as(UNMAPPED_UID, gid, &["api", "/v1/tenants"]);
    api.code(77);
    assert_eq!(api.json()["error"]["code"], "forbidden", "{api:?}");
    let en = pbx.ctl_as(UNMAPPED_UID, gid, &["--lang", "en", "tenant", "list"]);
    en.code(77);
    assert!(en.stderr.contains("not allowed"), "{en:?}");
    // pbxtop gets the same answer on the event stream.
    let mut top = command("pbxtop");
    top.arg("--socket").arg(&pbx.socket).arg("--once");
    std::os::unix::process::CommandExt::uid(&mut top, UNMAPPED_UID);
    std::os::unix::process::CommandExt::gid(&mut top, gid);
    let t = run(&mut top, None);
    t.code(77);
    assert!(t.stderr.contains("dat mag u niet"), "{t:?}");
    assert_eq!(
        strings(&pbx.ctl_json(&["tenant", "list"]), "slug"),
        ["acme", "beta"]
    );
    let audit = pbx.ctl_json(&["audit", "--limit", "1000"]);
    assert!(
        audit.as_array().is_some_and(|a| a
            .iter()
            .all(|e| e["uid"].as_u64() != Some(u64::from(UNMAPPED_UID)))),
        "{audit}"
    );
}

#[test]
fn a_uid_outside_the_socket_group_gets_no_access() {
    let (pbx, _, _) = start();
    let r = pbx.ctl_as(UNMAPPED_UID, UNMAPPED_UID, &["status"]);
    r.code(77);
    assert!(
        r.stderr.contains("geen toegang tot de control-socket"),
        "Dutch 'geen toegang': {r:?}"
    );
    assert!(
        r.stderr.contains(pbx.socket.to_str().unwrap_or("?")),
        "names the socket: {r:?}"
    );
    assert!(
        r.stderr.contains("groep"),
        "says what to do (the socket's group): {r:?}"
    );
    // nobody's own group is fine, and root's status is unchanged.
    assert!(pbx.answers());
}
