//! Crash safety: `kill -9` right after an acknowledged change loses nothing; a `kill -9` in the
//! middle of a burst of commands keeps every command that exited 0.

use pbx_tests::*;
use rand::Rng;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn state(pbx: &Pbx) -> (BTreeSet<String>, BTreeSet<String>) {
    let tenants = strings(&pbx.ctl_json(&["tenant", "list"]), "slug")
        .into_iter()
        .collect();
    let exts = strings(&pbx.ctl_json(&["extension", "list", "basis"]), "number")
        .into_iter()
        .collect();
    (tenants, exts)
}

#[test]
fn kill_9_after_an_acknowledged_change_loses_nothing() {
    let mut pbx = Pbx::start(Opts::default());
    pbx.ctl(&["tenant", "add", "basis", "--max-extensions", "100"])
        .ok();
    let mut tenants: BTreeSet<String> = ["basis".to_string()].into();
    let mut exts = BTreeSet::new();
    let mut rng = rand::thread_rng();
    for i in 0..20 {
        // The acknowledgement is pbxctl exiting 0; kill within 0–20 ms after it.
        if i % 2 == 0 {
            let slug = format!("org{i:02}");
            pbx.ctl(&[
                "tenant",
                "add",
                &slug,
                "--name",
                &format!("Organisatie {i}"),
            ])
            .ok();
            tenants.insert(slug);
        } else {
            let n = (4000 + i).to_string();
            pbx.ctl(&["extension", "add", "basis", &n]).ok();
            exts.insert(n);
        }
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..=20)));
        pbx.kill9();
        pbx.spawn();
        pbx.wait_ready();
        let (t, e) = state(&pbx);
        assert_eq!(
            t,
            tenants,
            "iteration {i}: acknowledged organisations lost after kill -9; pbxd output:\n{}",
            pbx.stderr_text()
        );
        assert_eq!(
            e, exts,
            "iteration {i}: acknowledged extensions lost after kill -9"
        );
    }
    // The audit log is as durable: one entry per change.
    let audit = pbx.ctl_json(&["audit", "--limit", "1000"]);
    assert_eq!(audit.as_array().map(Vec::len), Some(21), "{audit}");
}

#[test]
fn kill_9_during_a_burst_keeps_every_acknowledged_command() {
    let mut pbx = Pbx::start(Opts::default());
    pbx.ctl(&["tenant", "add", "basis", "--max-extensions", "1000"])
        .ok();
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let worker = {
        let (socket, acked, stop, started) = (
            pbx.socket.clone(),
            acked.clone(),
            stop.clone(),
            started.clone(),
        );
        std::thread::spawn(move || {
            let mut failures = Vec::new();
            for i in 0..400 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let n = (5000 + i).to_string();
                let r = pbxctl(&socket, &["extension", "add", "basis", &n], None);
                if r.code == 0 {
                    if let Ok(mut a) = acked.lock() {
                        a.push(n);
                    }
                    started.store(true, Ordering::SeqCst);
                } else {
                    failures.push(r);
                }
            }
            failures
        })
    };
    while !started.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(
        rand::thread_rng().gen_range(150..400),
    ));
    pbx.kill9();
    // Let the burst run into the dead socket for a moment, then stop it.
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::SeqCst);
    let failures = worker.join().expect("worker thread");
    let acked: Vec<String> = acked.lock().map(|a| a.clone()).unwrap_or_default();
    assert!(
        acked.len() >= 2,
        "the burst did not get going: {failures:#?}"
    );
    // Failures are only those of a pbxd that went away: not running (69) or a broken answer (76).
    for f in &failures {
        assert!(
            f.code == 69 || f.code == 76,
            "unexpected failure during the burst: {f:?}"
        );
    }
    pbx.spawn();
    pbx.wait_ready();
    let (_, exts) = state(&pbx);
    let lost: Vec<&String> = acked.iter().filter(|n| !exts.contains(*n)).collect();
    assert!(
        lost.is_empty(),
        "acknowledged extensions lost after kill -9: {lost:?} (of {} acknowledged, {} present)",
        acked.len(),
        exts.len()
    );
    // Whatever is present beyond the acknowledged ones was at most the one in flight.
    assert!(
        exts.len() <= acked.len() + 1,
        "more extensions than commands: {} present, {} acknowledged",
        exts.len(),
        acked.len()
    );
    // The store is whole: it takes new changes and a clean restart.
    pbx.ctl(&["extension", "add", "basis", "6999"]).ok();
    pbx.restart();
    assert!(state(&pbx).1.contains("6999"));
}
