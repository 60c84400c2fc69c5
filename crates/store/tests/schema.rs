//! Schema versions: migrations run on open, a newer schema is refused, bad values are errors.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use pbx_model::{Contact, Tenant};
use pbx_store::{Store, StoreError, SCHEMA_VERSION};
use std::path::Path;

/// A value as the store writes it: version byte 1, then JSON.
fn value<T: serde::Serialize>(v: &T) -> Vec<u8> {
    let mut out = vec![1u8];
    out.extend(serde_json::to_vec(v).unwrap());
    out
}

/// Changes the database behind the store's back, as an older (or newer) pbxd would have left it.
fn with_sled(dir: &Path, f: impl FnOnce(&sled::Db)) {
    let db = sled::open(dir.join("db")).unwrap();
    f(&db);
    db.flush().unwrap();
}

#[test]
fn a_schema_0_store_is_migrated_on_open() {
    assert_eq!(SCHEMA_VERSION, 1);
    let base = tmp();
    drop(open(base.path()));
    // Schema 0: contacts without the phone index.
    with_sled(base.path(), |db| {
        let meta = db.open_tree("meta").unwrap();
        meta.insert("schema_version", value(&0u32)).unwrap();
        db.open_tree("tenants")
            .unwrap()
            .insert("acme", value(&Tenant::new("acme", "Acme")))
            .unwrap();
        let c = Contact {
            id: 7,
            ..contact("acme", 42)
        };
        let mut key = b"acme\0".to_vec();
        key.extend_from_slice(&7u64.to_be_bytes());
        db.open_tree("contacts")
            .unwrap()
            .insert(key, value(&c))
            .unwrap();
    });
    let s = open(base.path());
    assert_eq!(s.schema_version(), 1);
    let found = s
        .find_contacts_by_phone("acme", &e164("+31600000042"))
        .unwrap();
    assert_eq!(
        found.iter().map(|c| c.id).collect::<Vec<_>>(),
        [7],
        "the v0→v1 migration built the index"
    );
    drop(s);
    with_sled(base.path(), |db| {
        let v = db.open_tree("meta").unwrap().get("schema_version").unwrap();
        assert_eq!(v.as_deref(), Some(value(&1u32).as_slice()));
    });
}

#[test]
fn a_newer_schema_is_refused_in_dutch() {
    let base = tmp();
    drop(open(base.path()));
    with_sled(base.path(), |db| {
        db.open_tree("meta")
            .unwrap()
            .insert("schema_version", value(&(SCHEMA_VERSION + 1)))
            .unwrap();
    });
    let e = Store::open(base.path(), None).err();
    assert!(
        matches!(
            e,
            Some(StoreError::NewerSchema {
                found: 2,
                supported: 1,
                ..
            })
        ),
        "{e:?}"
    );
    let m = e.unwrap().msg().to_string();
    assert!(
        m.contains("schemaversie 2") && m.contains("installeer de nieuwere pbxd"),
        "{m}"
    );
}

#[test]
fn bad_values_are_errors_naming_tree_and_key() {
    let base = tmp();
    {
        let s = open(base.path());
        fill(&s, "acme");
    }
    with_sled(base.path(), |db| {
        db.open_tree("users")
            .unwrap()
            .insert(b"acme\0jan", b"{\"oud\":1}".to_vec())
            .unwrap();
    });
    // Unknown version byte: refused at open (every record is read once).
    let e = Store::open(base.path(), None).err();
    assert!(
        matches!(e, Some(StoreError::Decode { tree: "users", ref key, .. }) if key == "acme/jan"),
        "{e:?}"
    );
    let m = e.unwrap().msg().to_string();
    assert!(
        m.contains("boom users, sleutel acme/jan") && m.contains("pbxctl import "),
        "{m}"
    );

    // Right version byte, wrong JSON: an error where it is read, never a panic.
    with_sled(base.path(), |db| {
        db.open_tree("users")
            .unwrap()
            .insert(b"acme\0jan", vec![1, b'{', b'x'])
            .unwrap();
        let mut k = b"acme\0".to_vec();
        k.extend_from_slice(&3u64.to_be_bytes());
        db.open_tree("contacts")
            .unwrap()
            .insert(k, value(&"geen contact"))
            .unwrap();
    });
    let s = open(base.path());
    assert!(matches!(
        s.users("acme"),
        Err(StoreError::Decode { tree: "users", .. })
    ));
    assert!(matches!(
        s.user("acme", "jan"),
        Err(StoreError::Decode { .. })
    ));
    assert!(s.user("acme", "piet").unwrap().is_some());
    let e = s.contact("acme", 3).err();
    assert!(
        matches!(e, Some(StoreError::Decode { tree: "contacts", ref key, .. }) if key == "acme/3"),
        "{e:?}"
    );
    assert!(s.search_contacts("acme", "klant", 100).is_err());
    assert!(s.export(true, &mut Vec::new()).is_err());
    assert!(s.bundle("acme").is_err());
}
