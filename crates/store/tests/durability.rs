//! An acknowledged change survives a process that dies without closing the store.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use pbx_model::Tenant;
use std::process::Command;

const CHILD_ENV: &str = "PBX_STORE_DURABILITY_CHILD";

/// Runs in a child process: writes, prints "acked" after each acknowledged change, then dies
/// at once (no destructors, no flush at exit), as `kill -9` would leave it.
#[test]
fn child_writes_and_dies() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let s = open(std::path::Path::new(&dir));
    s.put_tenant(&Tenant::new("acme", "Acme BV")).unwrap();
    s.put_bundle(&bundle("beta", &s)).unwrap();
    s.add_contacts("beta", (1..=100).map(|i| contact("beta", i)).collect())
        .unwrap();
    let seq = s.append_audit(audit_entry(Some("beta"), "import")).unwrap();
    s.remove_user("beta", "piet").unwrap();
    println!("acked {seq}");
    std::process::abort();
}

#[test]
fn acknowledged_changes_survive_abort() {
    let base = tmp();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_writes_and_dies",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, base.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "the child must die: {stdout}");
    assert!(
        stdout.contains("acked 1"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = open(base.path());
    assert!(s.tenant("acme").unwrap().is_some());
    let b = s.bundle("beta").unwrap().unwrap();
    assert_eq!(
        b.users
            .iter()
            .map(|u| u.username.as_str())
            .collect::<Vec<_>>(),
        ["jan"]
    );
    assert_eq!(b.extensions.len(), 2);
    assert_eq!(s.count_contacts("beta").unwrap(), 100);
    assert_eq!(s.audit(None, 10).unwrap().len(), 1);
}

#[test]
fn dropping_without_flush_keeps_everything() {
    let base = tmp();
    {
        let s = open(base.path());
        fill(&s, "acme");
    }
    let s = open(base.path());
    assert_eq!(s.count_contacts("acme").unwrap(), 5);
    assert_eq!(s.bundle("acme").unwrap().map(|b| b.users.len()), Some(2));
}
