//! Volume: 100,000 contacts in batches of 1000, then export and import of them all.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use pbx_model::Tenant;
use std::time::{Duration, Instant};

/// How many contacts; `PBX_STORE_BULK` overrides (the debug build is the slow case).
fn count() -> usize {
    std::env::var("PBX_STORE_BULK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

#[test]
fn a_hundred_thousand_contacts_import_in_seconds() {
    let n = count();
    let base = tmp();
    let s = open(&base.path().join("a"));
    s.put_tenant(&Tenant::new("acme", "Acme")).unwrap();
    let all: Vec<_> = (0..n).map(|i| contact("acme", i)).collect();
    let t = Instant::now();
    for chunk in all.chunks(1000) {
        s.add_contacts("acme", chunk.to_vec()).unwrap();
    }
    let add = t.elapsed();
    assert_eq!(s.count_contacts("acme").unwrap(), n);
    assert_eq!(
        s.find_contacts_by_phone("acme", &e164(&format!("+316{:08}", n - 1)))
            .unwrap()
            .len(),
        1
    );

    let t = Instant::now();
    let mut text = Vec::new();
    s.export(true, &mut text).unwrap();
    let export = t.elapsed();
    let b = open(&base.path().join("b"));
    let t = Instant::now();
    let sum = b.import(&mut std::io::Cursor::new(text)).unwrap();
    let import = t.elapsed();
    assert_eq!(sum.contacts, n);
    assert_eq!(b.count_contacts("acme").unwrap(), n);
    let t = Instant::now();
    drop(b);
    let b = open(&base.path().join("b"));
    let reopen = t.elapsed();
    assert_eq!(
        b.contact("acme", n as u64).unwrap().map(|c| c.name),
        Some(format!("Klant {}", n - 1))
    );
    let t = Instant::now();
    b.remove_tenant("acme").unwrap();
    let remove = t.elapsed();
    assert_eq!(b.count_contacts("acme").unwrap(), 0);
    eprintln!("{n} contacts: add_contacts {add:?}, export {export:?}, import {import:?}, reopen {reopen:?}, remove_tenant {remove:?}");
    // Measured on the dev box: debug ~3.5 s each for add and import, release well under 1 s.
    let limit = if cfg!(debug_assertions) {
        Duration::from_secs(30)
    } else {
        Duration::from_secs(5)
    };
    assert!(
        add < limit && import < limit && remove < limit,
        "add {add:?}, import {import:?}, remove {remove:?}"
    );
}
