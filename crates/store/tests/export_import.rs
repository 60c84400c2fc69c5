//! Export and import: a full round trip, secrets kept out, bad input writes nothing.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use pbx_model::{ExportRecord, Sealed, TenantBundle};
use pbx_store::{Store, StoreError};
use std::io::Cursor;

/// A bundle with every sealed trunk and TOTP secret opened, so bundles of stores with other keys
/// compare.
fn plain(s: &Store, mut b: TenantBundle) -> TenantBundle {
    for u in &mut b.users {
        if let Some(sealed) = u.totp.as_mut() {
            *sealed = Sealed(format!("plain:{}", s.open_secret(sealed).unwrap()));
        }
    }
    for t in &mut b.trunks {
        if let Some(sealed) = t.auth.as_mut().and_then(|a| a.secret.as_mut()) {
            *sealed = Sealed(format!("plain:{}", s.open_secret(sealed).unwrap()));
        }
    }
    b
}

fn export(s: &Store, secrets: bool) -> (String, u64) {
    let mut out = Vec::new();
    let n = s.export(secrets, &mut out).unwrap();
    (String::from_utf8(out).unwrap(), n)
}

fn source(dir: &std::path::Path) -> Store {
    let s = open(dir);
    fill(&s, "acme");
    fill(&s, "beta");
    s.remove_contact("acme", 2).unwrap();
    s
}

#[test]
fn export_with_secrets_imports_into_a_fresh_store_unchanged() {
    let base = tmp();
    let a = source(&base.path().join("a"));
    let (text, lines) = export(&a, true);
    assert_eq!(text.lines().count() as u64, lines);
    let kinds: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["kind"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(kinds[0], "header");
    assert_eq!(kinds.iter().filter(|k| *k == "trunk_secret").count(), 2);
    assert_eq!(kinds.last().map(String::as_str), Some("audit"));
    // Per organisation: tenant, users, extensions, trunks, secrets, queues, ring groups, belplan, contacts.
    let order = [
        "tenant",
        "user",
        "extension",
        "trunk",
        "trunk_secret",
        "queue",
        "ring_group",
        "belplan",
        "contact",
    ];
    // A user's TOTP secret follows that user directly.
    let rank = |k: &str| {
        let k = if k == "totp_secret" { "user" } else { k };
        order.iter().position(|o| *o == k)
    };
    let mut prev = 0;
    for k in kinds[1..].iter().take_while(|k| *k != "audit") {
        let r = rank(k).unwrap();
        assert!(r == 0 || r >= prev, "{k} after {}: {kinds:?}", order[prev]);
        prev = r;
    }
    assert!(kinds
        .iter()
        .skip_while(|k| *k != "audit")
        .all(|k| k == "audit"));
    for l in text.lines().filter(|l| l.contains("\"kind\":\"trunk\"")) {
        assert!(!l.contains("v1:"), "no sealed secret in a trunk line: {l}");
    }
    let b = open(&base.path().join("b"));
    let sum = b.import(&mut Cursor::new(text.as_bytes())).unwrap();
    assert_eq!(
        (
            sum.tenants,
            sum.users,
            sum.extensions,
            sum.trunks,
            sum.queues,
            sum.ring_groups,
            sum.contacts,
            sum.audit
        ),
        (2, 4, 4, 4, 2, 2, 9, 4)
    );
    drop(b);
    let b = open(&base.path().join("b"));
    for slug in ["acme", "beta"] {
        let ba = plain(&a, a.bundle(slug).unwrap().unwrap());
        let bb = plain(&b, b.bundle(slug).unwrap().unwrap());
        assert_eq!(ba, bb, "{slug}");
        assert_eq!(
            a.contacts(slug, 0, 100).unwrap(),
            b.contacts(slug, 0, 100).unwrap()
        );
    }
    assert_eq!(b.contact("acme", 2).unwrap(), None, "ids kept, gaps too");
    assert_eq!(
        b.find_contacts_by_phone("acme", &e164("+31600000003"))
            .unwrap()
            .len(),
        1,
        "index rebuilt"
    );
    assert_eq!(a.audit(None, 100).unwrap(), b.audit(None, 100).unwrap());
    // Counters continue after the imported ids and sequence numbers.
    assert_eq!(
        b.add_contacts("acme", vec![contact("acme", 99)]).unwrap(),
        vec![6]
    );
    assert_eq!(b.append_audit(audit_entry(None, "x")).unwrap(), 5);
    // Export of the copy equals the export of the original (apart from what changed since).
    let b2 = open(&base.path().join("c"));
    let (again, _) = export(
        &{
            let c = b2;
            c.import(&mut Cursor::new(text.as_bytes())).unwrap();
            c
        },
        true,
    );
    assert_eq!(again, text);
}

#[test]
fn export_without_secrets_holds_no_secret() {
    let base = tmp();
    let a = source(base.path());
    let (text, _) = export(&a, false);
    let ha1 = pbx_model::secret::ha1_md5("1001", "acme.example", SIP_PASSWORD);
    let ha1_256 = pbx_model::secret::ha1_sha256("1001", "acme.example", SIP_PASSWORD);
    for bad in [
        "$argon2",
        ha1.as_str(),
        ha1_256.as_str(),
        "v1:",
        TRUNK_SECRET,
        "trunk_secret",
        "ha1_md5",
        "password_hash",
    ] {
        assert!(!text.contains(bad), "{bad} in export without secrets");
    }
    assert!(text.lines().next().unwrap().contains("\"secrets\":false"));
    // With secrets, the hashes are there (and the trunk secret in plain text).
    let (with, _) = export(&a, true);
    assert!(with.contains("$argon2") && with.contains(&ha1) && with.contains(TRUNK_SECRET));
    // An export without secrets imports too (trunks keep their credentials, without secret).
    let b = open(&base.path().join("b"));
    b.import(&mut Cursor::new(text.as_bytes())).unwrap();
    let t = b.trunk("acme", "kpn").unwrap().unwrap();
    assert!(t.auth.is_some_and(|a| a.secret.is_none()));
}

#[test]
fn a_bad_line_writes_nothing_and_names_its_line() {
    let base = tmp();
    let a = source(&base.path().join("a"));
    let (text, _) = export(&a, true);
    let lines: Vec<&str> = text.lines().collect();
    let b = open(&base.path().join("b"));
    let with = |i: usize, replacement: &str| -> String {
        let mut v = lines.clone();
        v[i] = replacement;
        v.join("\n")
    };
    let contact_line = lines
        .iter()
        .position(|l| l.contains("\"kind\":\"contact\""))
        .unwrap();
    let user_line = lines
        .iter()
        .position(|l| l.contains("\"kind\":\"user\""))
        .unwrap();
    let cases: Vec<(String, usize, &str)> = vec![
        (
            with(contact_line, "{kapot"),
            contact_line + 1,
            "geen geldige exportregel",
        ),
        (
            with(contact_line, r#"{"kind":"onbekend","data":{}}"#),
            contact_line + 1,
            "geen geldige exportregel",
        ),
        (
            with(
                user_line,
                &lines[user_line].replace("\"tenant\":\"acme\"", "\"tenant\":\"ghost\""),
            ),
            user_line + 1,
            "organisatie ghost",
        ),
        (
            with(user_line + 1, lines[user_line]),
            user_line + 2,
            "twee keer",
        ),
        (with(0, lines[1]), 1, "de eerste regel moet de kop zijn"),
        (
            with(0, &lines[0].replace("\"format\":1", "\"format\":9")),
            1,
            "exportformaat 9",
        ),
        (
            format!("{text}{}\n", lines[0]),
            lines.len() + 1,
            "tweede kop",
        ),
        (
            with(
                contact_line,
                &lines[contact_line].replace("\"phones\":[\"+316", "\"phones\":[\"06"),
            ),
            contact_line + 1,
            "E.164",
        ),
    ];
    for (input, line, words) in cases {
        let e = b.import(&mut Cursor::new(input.as_bytes())).err();
        let m = e.as_ref().map(|e| e.msg().to_string()).unwrap_or_default();
        assert!(matches!(e, Some(StoreError::Import { .. })), "{e:?}");
        assert!(
            m.starts_with(&format!("regel {line}: ")) && m.contains(words),
            "expected line {line} ({words}): {m}"
        );
        assert!(
            b.tenants().unwrap().is_empty() && b.audit(None, 10).unwrap().is_empty(),
            "nothing written"
        );
    }
    let e = b.import(&mut Cursor::new(b"\xff\xfe\n".as_slice())).err();
    assert!(e.is_some_and(|e| e.msg().to_string().starts_with("regel 1: ")));
    let e = b.import(&mut Cursor::new(b"\n\n".as_slice())).err();
    assert!(e.is_some_and(|e| e.msg().to_string().contains("leeg")));
    // English too.
    let e = b
        .import(&mut Cursor::new(with(contact_line, "{kapot").as_bytes()))
        .err()
        .unwrap();
    assert!(e
        .msg()
        .render(pbx_i18n::Lang::En)
        .starts_with(&format!("line {}: ", contact_line + 1)));

    // Into a store with data: refused.
    let e = a.import(&mut Cursor::new(text.as_bytes())).err();
    assert!(matches!(e, Some(StoreError::NotEmpty { .. })), "{e:?}");
    // The good file still imports afterwards.
    assert!(b.import(&mut Cursor::new(text.as_bytes())).is_ok());
}

#[test]
fn a_sealed_secret_in_a_trunk_line_is_refused() {
    let base = tmp();
    let a = source(&base.path().join("a"));
    let (text, _) = export(&a, true);
    let t = a.trunk("acme", "kpn").unwrap().unwrap();
    let forged = serde_json::to_string(&ExportRecord::Trunk(t)).unwrap();
    let input: Vec<String> = text
        .lines()
        .map(|l| {
            if l.contains("\"kind\":\"trunk\"")
                && l.contains("\"name\":\"kpn\"")
                && l.contains("acme")
            {
                forged.clone()
            } else {
                l.to_string()
            }
        })
        .collect();
    let b = open(&base.path().join("b"));
    let e = b
        .import(&mut Cursor::new(input.join("\n").as_bytes()))
        .err();
    assert!(e.is_some_and(|e| e.msg().to_string().contains("versleuteld geheim")));
}

#[test]
fn snapshots_are_private_pruned_and_restorable() {
    use std::os::unix::fs::PermissionsExt;
    let base = tmp();
    let dir = base.path().join("state");
    let s = source(&dir);
    assert!(pbx_store::last_snapshot(&dir).is_none());
    let p = s.snapshot(&dir, 2).unwrap();
    let name = p.file_name().and_then(|n| n.to_str()).unwrap().to_string();
    assert!(
        name.starts_with("pbxd-")
            && name.ends_with(".jsonl")
            && name.len() == "pbxd-20250101-120000.jsonl".len(),
        "{name}"
    );
    assert_eq!(
        std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(pbx_store::last_snapshot(&dir).is_some());
    // Older snapshots beyond `keep` go; the new one stays.
    let sdir = dir.join(pbx_store::SNAPSHOT_DIR);
    for old in [
        "pbxd-20200101-000000.jsonl",
        "pbxd-20210101-000000.jsonl",
        "pbxd-20220101-000000.jsonl",
    ] {
        std::fs::write(sdir.join(old), "x").unwrap();
    }
    std::fs::write(sdir.join(".pbxd-20200101-000000.jsonl.tmp"), "half").unwrap();
    std::fs::write(sdir.join("notes.txt"), "mine").unwrap();
    let p2 = s.snapshot(&dir, 2).unwrap();
    let mut left: Vec<String> = std::fs::read_dir(&sdir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    let newest = p2.file_name().unwrap().to_string_lossy().into_owned();
    let expected: Vec<String> = if newest == name {
        vec![
            "notes.txt".into(),
            "pbxd-20220101-000000.jsonl".into(),
            name.clone(),
        ]
    } else {
        vec!["notes.txt".into(), name.clone(), newest]
    };
    assert_eq!(left, expected);
    // The snapshot restores into a fresh folder.
    let restored = open(&base.path().join("restored"));
    restored
        .import(&mut std::io::BufReader::new(
            std::fs::File::open(&p2).unwrap(),
        ))
        .unwrap();
    assert_eq!(
        plain(&restored, restored.bundle("acme").unwrap().unwrap()),
        plain(&s, s.bundle("acme").unwrap().unwrap())
    );
}

#[test]
fn totp_secrets_survive_a_restore_into_a_store_with_another_key() {
    let base = tmp();
    let a = source(&base.path().join("a"));
    let mut u = a.users("acme").unwrap().remove(0);
    u.totp = Some(a.seal("JBSWY3DPEHPK3PXP"));
    u.totp_enabled = true;
    a.put_user(&u).unwrap();

    let (without, _) = export(&a, false);
    assert!(!without.contains("JBSWY3DPEHPK3PXP") && !without.contains("totp_secret"));
    let (with, _) = export(&a, true);
    assert!(with.contains("\"kind\":\"totp_secret\""));
    // The sealed form never leaves the store: it only opens with this store's key.
    let sealed = u.totp.clone().unwrap().0;
    assert!(!with.contains(&sealed));

    let b = open(&base.path().join("b"));
    b.import(&mut Cursor::new(with.as_bytes())).unwrap();
    let restored = b.user("acme", &u.username).unwrap().unwrap();
    assert!(restored.totp_enabled);
    assert_eq!(
        b.open_secret(restored.totp.as_ref().unwrap()).unwrap(),
        "JBSWY3DPEHPK3PXP"
    );
    assert_ne!(
        restored.totp.unwrap().0,
        sealed,
        "sealed again with the new store's key"
    );
}
