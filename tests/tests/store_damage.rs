//! A damaged store is refused with a Dutch message that names the recovery (import of a
//! snapshot); pbxd never starts empty over it. A restored backup brings everything back.

use pbx_tests::*;
use std::path::Path;
use std::time::Duration;

const SECRET: &str = "Schade-Trunk-Geheim-55";

fn provision(pbx: &Pbx) {
    pbx.ctl(&["tenant", "add", "acme", "--name", "Acme BV"])
        .ok();
    for n in 1001..1011 {
        pbx.ctl(&["extension", "add", "acme", &n.to_string()]).ok();
    }
    pbx.ctl_in(
        &[
            "trunk",
            "add",
            "acme",
            "kpn",
            "--host",
            "sip.kpn.example",
            "--username",
            "u1",
            "--secret-stdin",
        ],
        SECRET.as_bytes(),
    )
    .ok();
}

/// Every regular file below `dir`, recursively.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Stops pbxd and keeps a copy of its state folder.
fn stopped_with_backup(pbx: &mut Pbx) -> std::path::PathBuf {
    let status = pbx.sigterm();
    assert!(status.success(), "pbxd stops with 0 on SIGTERM: {status}");
    let backup = pbx.root.join("state.backup");
    copy_dir(&pbx.state, &backup);
    backup
}

fn restore(pbx: &Pbx, backup: &Path) {
    std::fs::remove_dir_all(&pbx.state).expect("remove damaged state");
    copy_dir(backup, &pbx.state);
}

#[track_caller]
fn assert_refused(pbx: &mut Pbx, what: &str) -> String {
    let before = pbx.stderr_text().len();
    let status = pbx.start_expect_exit(Duration::from_secs(15));
    let out = pbx.stderr_text()[before..].to_string();
    assert!(
        !status.success(),
        "{what}: pbxd started on a damaged store; output:\n{out}"
    );
    assert_eq!(
        status.code(),
        Some(65),
        "{what}: exit code 65 (EX_DATAERR); output:\n{out}"
    );
    assert!(
        out.contains("pbxd start niet met een lege opslag"),
        "{what}: Dutch message that it will not start empty:\n{out}"
    );
    assert!(
        std::os::unix::net::UnixStream::connect(&pbx.socket).is_err(),
        "{what}: something answers on the socket"
    );
    out
}

#[test]
fn garbage_over_the_database_is_refused_and_a_backup_restores_everything() {
    let mut pbx = Pbx::start(Opts::default());
    provision(&pbx);
    let before = pbx.ctl(&["export", "--with-secrets"]).stdout;
    let backup = stopped_with_backup(&mut pbx);
    let db = pbx.state.join("db");
    let sled_files: Vec<_> = files(&db)
        .into_iter()
        .filter(|p| !p.ends_with("pbx-generation"))
        .collect();
    assert!(!sled_files.is_empty(), "no sled files in {}", db.display());

    // (a) garbage over every sled file (same length)
    for f in &sled_files {
        let len = std::fs::metadata(f).map(|m| m.len()).unwrap_or(0).max(4096) as usize;
        let garbage: Vec<u8> = (0..len)
            .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1])
            .collect();
        std::fs::write(f, garbage).expect("write garbage");
    }
    let out = assert_refused(&mut pbx, "garbage");
    assert!(
        out.contains("pbxctl import") && out.contains("snapshot"),
        "the message names the recovery (import of a snapshot):\n{out}"
    );

    // (b) truncated to nothing
    restore(&pbx, &backup);
    for f in &sled_files {
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(f)
            .expect("truncate");
    }
    let out = assert_refused(&mut pbx, "truncated");
    assert!(out.contains("pbxctl import"), "{out}");

    // (c) the main data file cut in half
    restore(&pbx, &backup);
    let main = db.join("db");
    if main.exists() {
        let len = std::fs::metadata(&main).map(|m| m.len()).unwrap_or(0);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&main)
            .and_then(|f| f.set_len(len / 2))
            .expect("cut db in half");
        let out = assert_refused(&mut pbx, "cut in half");
        assert!(out.contains("pbxctl import"), "{out}");
    }

    // Restoring the backup brings all data back, the trunk secret included.
    restore(&pbx, &backup);
    pbx.spawn();
    pbx.wait_ready();
    let after = pbx.ctl(&["export", "--with-secrets"]).stdout;
    let data = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| !l.contains(r#""kind":"header""#) && !l.contains(r#""kind":"audit""#))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(data(&after), data(&before), "the restored backup differs");
    assert!(after.contains(SECRET));
    assert_eq!(pbx.ctl_json(&["tenant", "show", "acme"])["extensions"], 10);
}

#[test]
fn a_missing_database_with_its_key_left_is_refused() {
    let mut pbx = Pbx::start(Opts::default());
    provision(&pbx);
    stopped_with_backup(&mut pbx);
    assert!(pbx.state.join("secret.key").exists());
    std::fs::remove_dir_all(pbx.state.join("db")).expect("rm db");
    let _ = std::fs::remove_dir_all(pbx.state.join("snapshots"));
    let out = assert_refused(&mut pbx, "db removed");
    assert!(
        out.contains("ontbreekt") && out.contains("secret.key"),
        "names what is missing and how it knows there was a store: {out}"
    );
    assert!(out.contains("pbxctl import"), "{out}");
    assert!(
        !pbx.state.join("db").join("db").exists(),
        "pbxd created a new, empty database"
    );
}

/// Follows the recovery the refusal prints, step by step, with the real snapshot file.
#[test]
fn the_printed_recovery_steps_work() {
    let mut pbx = Pbx::start(Opts::default());
    provision(&pbx);
    let before = pbx.ctl(&["export", "--with-secrets"]).stdout;
    // The daily snapshot is taken at start when none is younger than a day: drop the one of the
    // empty first start, so the next start snapshots the provisioned store.
    pbx.sigterm();
    std::fs::remove_dir_all(pbx.state.join("snapshots")).expect("rm snapshots");
    pbx.restart();
    let snaps = pbx.state.join("snapshots");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let done = |p: &std::path::PathBuf| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("pbxd-") && n.ends_with(".jsonl"))
    };
    while !files(&snaps).iter().any(done) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let snapshot = files(&snaps)
        .into_iter()
        .rfind(done)
        .unwrap_or_else(|| panic!("no snapshot in {} after start", snaps.display()));
    pbx.sigterm();

    std::fs::remove_dir_all(pbx.state.join("db")).expect("rm db");
    let out = assert_refused(&mut pbx, "db removed");
    assert!(
        out.contains(snapshot.to_str().unwrap_or("?")),
        "names the snapshot that shows there was a store: {out}"
    );

    // The steps: stop (done), move the state folder away, start, import the newest snapshot.
    let kapot = pbx.root.join("state.kapot");
    assert!(
        out.contains(&format!("mv {} {}", pbx.state.display(), kapot.display())),
        "{out}"
    );
    std::fs::rename(&pbx.state, &kapot).expect("mv state state.kapot");
    pbx.spawn();
    pbx.wait_ready();
    let step = out
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("pbxctl import"))
        .unwrap_or_else(|| panic!("no pbxctl import step in: {out}"))
        .to_string();
    let name = snapshot.file_name().and_then(|n| n.to_str()).unwrap_or("?");
    let step = step.replace("pbxd-JJJJMMDD-UUMMSS.jsonl", name);
    assert!(
        step.contains(kapot.join("snapshots").join(name).to_str().unwrap_or("?")),
        "{step}"
    );
    let shell = step.replacen(
        "pbxctl",
        &format!(
            "{} --socket {}",
            bin("pbxctl").display(),
            pbx.socket.display()
        ),
        1,
    );
    let mut sh = std::process::Command::new("sh");
    sh.env_remove("LANG")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES");
    sh.arg("-c").arg(&shell);
    let r = run(&mut sh, None);
    assert_eq!(
        r.code, 0,
        "the printed recovery step `{step}` does not work: {r:?}"
    );
    let after = pbx.ctl(&["export", "--with-secrets"]).stdout;
    let data = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| !l.contains(r#""kind":"header""#) && !l.contains(r#""kind":"audit""#))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        data(&after),
        data(&before),
        "the recovered store differs from the snapshot's"
    );
}

#[test]
fn a_missing_key_is_refused() {
    let mut pbx = Pbx::start(Opts::default());
    provision(&pbx);
    stopped_with_backup(&mut pbx);
    std::fs::remove_file(pbx.state.join("secret.key")).expect("rm secret.key");
    let before = pbx.stderr_text().len();
    let status = pbx.start_expect_exit(Duration::from_secs(15));
    let out = pbx.stderr_text()[before..].to_string();
    assert!(!status.success(), "{out}");
    assert!(
        out.contains("secret.key") && out.contains("ontbreekt"),
        "{out}"
    );
}
