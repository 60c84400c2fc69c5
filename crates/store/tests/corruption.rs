//! A damaged, truncated, locked or vanished store never opens as an empty one.

mod common;

use common::*;
use pbx_store::{Store, StoreError};
use std::fs;
use std::path::{Path, PathBuf};

/// A closed store with some data in it.
fn filled(dir: &Path) {
    let s = open(dir);
    fill(&s, "acme");
    fill(&s, "beta");
}

fn db_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.join("db")];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn assert_refused(dir: &Path, what: &str) {
    match Store::open(dir, None) {
        Ok(s) => {
            let tenants = s.tenants().map(|t| t.len()).unwrap_or(0);
            panic!("{what}: opened a damaged store ({tenants} organisations)");
        }
        Err(e) => {
            assert!(e.is_corruption(), "{what}: {e:?}");
            let m = e.msg().to_string();
            assert!(
                m.contains(&dir.display().to_string()) && m.contains("pbxctl import "),
                "{what}: {m}"
            );
        }
    }
}

fn export_of(dir: &Path) -> String {
    let s = open(dir);
    let mut out = Vec::new();
    assert!(s.export(true, &mut out).is_ok());
    String::from_utf8(out).unwrap_or_default()
}

/// Truncating any file of the database (to nothing, a few bytes, half of its data) never opens
/// an empty or partial store: open fails, or every record is there. The data file and the
/// generation file must always be refused. sled's settings file `conf` may open: sled treats a
/// conf of 8 bytes or less as absent and writes its defaults again, which are the settings this
/// store always uses. Cutting off sled's preallocated, unused tail also loses nothing.
#[test]
fn truncating_any_file_is_refused() {
    let base = tmp();
    let dir = base.path().join("state");
    filled(&dir);
    let before = export_of(&dir);
    let files = db_files(&dir);
    assert!(files.len() >= 3, "{files:?}");
    let mut refused = Vec::new();
    for f in files {
        let bytes = fs::read(&f).unwrap_or_default();
        let size = bytes.len() as u64;
        let data_end = bytes
            .iter()
            .rposition(|b| *b != 0)
            .map(|p| p as u64 + 1)
            .unwrap_or(0);
        for len in [0, 1, 7, data_end / 2, data_end.saturating_sub(1), size / 2] {
            if len >= size {
                continue;
            }
            let name = f
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("x")
                .to_string();
            let copy = base.path().join(format!("copy-{name}-{len}"));
            if copy.exists() {
                continue;
            }
            copy_dir(&dir, &copy);
            let target = copy.join(f.strip_prefix(&dir).unwrap_or(&f));
            let file = fs::OpenOptions::new().write(true).open(&target).ok();
            assert!(file.is_some_and(|f| f.set_len(len).is_ok()));
            let what = format!(
                "{} truncated from {size} (data {data_end}) to {len}",
                target.display()
            );
            let harmless = len >= data_end || name == "conf";
            if harmless && Store::open(&copy, None).is_ok() {
                assert_eq!(
                    export_of(&copy),
                    before,
                    "{what}: opened, but not with every record"
                );
            } else {
                assert_refused(&copy, &what);
                refused.push((name, len));
            }
        }
    }
    // Deleting one file is no better.
    for f in db_files(&dir) {
        let name = f
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("x")
            .to_string();
        let copy = base.path().join(format!("deleted-{name}"));
        copy_dir(&dir, &copy);
        assert!(fs::remove_file(copy.join(f.strip_prefix(&dir).unwrap_or(&f))).is_ok());
        let what = format!("{name} deleted");
        // sled's settings and its snapshot (a shortcut for replaying the log) may be rebuilt.
        let harmless = name == "conf" || name.starts_with("snap.");
        if harmless && Store::open(&copy, None).is_ok() {
            assert_eq!(
                export_of(&copy),
                before,
                "{what}: opened, but not with every record"
            );
        } else {
            assert_refused(&copy, &what);
            refused.push((name, u64::MAX));
        }
    }
    for must in ["db", "pbx-generation"] {
        for len in [0, 1, 7, u64::MAX] {
            assert!(
                refused.contains(&(must.to_string(), len)),
                "{must} at {len}: {refused:?}"
            );
        }
    }
}

#[test]
fn garbage_over_db_and_conf_is_refused() {
    let base = tmp();
    let dir = base.path().join("state");
    filled(&dir);
    for name in ["db", "conf"] {
        let copy = base.path().join(format!("garbage-{name}"));
        copy_dir(&dir, &copy);
        let target = copy.join("db").join(name);
        let size = fs::metadata(&target)
            .map(|m| m.len() as usize)
            .unwrap_or(0)
            .max(64);
        let garbage: Vec<u8> = (0..size)
            .map(|i| (i as u8).wrapping_mul(151).wrapping_add(7))
            .collect();
        assert!(fs::write(&target, garbage).is_ok());
        assert_refused(&copy, &format!("garbage over {name}"));
    }
    // Garbage in the middle of the data file.
    let copy = base.path().join("garbage-middle");
    copy_dir(&dir, &copy);
    let target = copy.join("db").join("db");
    let mut bytes = fs::read(&target).unwrap_or_default();
    let mid = bytes.len() / 2;
    for b in bytes.iter_mut().skip(mid).take(512) {
        *b ^= 0x5a;
    }
    assert!(fs::write(&target, bytes).is_ok());
    assert_refused(&copy, "garbage in the middle of db");
}

#[test]
fn a_second_open_is_refused_as_locked() {
    let base = tmp();
    let s = open(base.path());
    let e = Store::open(base.path(), None).err();
    assert!(matches!(e, Some(StoreError::Locked { .. })), "{e:?}");
    assert!(e.is_some_and(|e| e.msg().to_string().contains("pbxd")));
    drop(s);
    assert!(Store::open(base.path(), None).is_ok());
}

#[test]
fn vanished_db_is_refused_but_a_fresh_folder_opens() {
    let base = tmp();
    // Fresh, empty state folder (also one that exists already and is empty).
    assert!(Store::open(&base.path().join("new"), None).is_ok());
    fs::create_dir_all(base.path().join("empty")).ok();
    assert!(Store::open(&base.path().join("empty"), None).is_ok());

    // db deleted, secret.key left.
    let dir = base.path().join("state");
    filled(&dir);
    fs::remove_dir_all(dir.join("db")).ok();
    let e = Store::open(&dir, None).err();
    assert!(matches!(e, Some(StoreError::Vanished { .. })), "{e:?}");

    // db deleted, snapshots left (key in a separate file).
    let dir = base.path().join("state2");
    let key = base.path().join("trunk.key");
    fs::write(&key, pbx_model::SecretKey::generate().to_file_text()).ok();
    {
        let s = Store::open(&dir, Some(&key)).ok();
        assert!(s.as_ref().and_then(|s| s.snapshot(&dir, 3).ok()).is_some());
    }
    fs::remove_dir_all(dir.join("db")).ok();
    let e = Store::open(&dir, Some(&key)).err();
    assert!(matches!(e, Some(StoreError::Vanished { .. })), "{e:?}");
    let m = e.map(|e| e.msg().to_string()).unwrap_or_default();
    assert!(
        m.contains("snapshots") && m.contains("pbxctl import "),
        "{m}"
    );
}

#[test]
fn keys_must_fit_the_store() {
    let base = tmp();
    let dir = base.path().join("state");
    filled(&dir);
    // Missing default key of an existing store.
    let key = dir.join("secret.key");
    let saved = fs::read(&key).unwrap_or_default();
    fs::remove_file(&key).ok();
    assert!(matches!(
        Store::open(&dir, None),
        Err(StoreError::KeyMissing { .. })
    ));
    // Another key.
    fs::write(&key, pbx_model::SecretKey::generate().to_file_text()).ok();
    assert!(matches!(
        Store::open(&dir, None),
        Err(StoreError::KeyMismatch { .. })
    ));
    // A bad key file.
    fs::write(&key, "geen sleutel").ok();
    assert!(matches!(
        Store::open(&dir, None),
        Err(StoreError::KeyInvalid { .. })
    ));
    // A named key file that does not exist.
    assert!(matches!(
        Store::open(&dir, Some(&base.path().join("nope"))),
        Err(StoreError::KeyMissing { .. })
    ));
    fs::write(&key, saved).ok();
    assert!(Store::open(&dir, None).is_ok());
}
