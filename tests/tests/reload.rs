//! SIGHUP and `pbxctl reload`: a broken configuration is refused (pbxd keeps running on the old
//! one, the log says why in Dutch with file:line); a fixed one is taken and new organisations
//! from conf.d are created.

use pbx_tests::*;
use std::time::{Duration, Instant};

const ALPHA: &str = r#"[tenant]
slug = "alpha"
name = "Alpha BV"
domains = ["alpha.example"]
"#;

/// Line 4 misses its closing quote: a TOML syntax error at 4:8.
const BETA_BROKEN: &str =
    "[tenant]\nslug = \"beta\"\nname = \"Beta BV\"\ndomains = [\"beta.example]\n";

const BETA: &str = r#"[tenant]
slug = "beta"
name = "Beta BV"
domains = ["beta.example"]

[[extension]]
number = "2001"
name = "Receptie"
"#;

const GAMMA: &str = r#"[tenant]
slug = "gamma"
name = "Gamma BV"
"#;

fn slugs(pbx: &Pbx) -> Vec<String> {
    strings(&pbx.ctl_json(&["tenant", "list"]), "slug")
}

fn wait_for(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    f()
}

#[test]
fn sighup_refuses_a_broken_config_and_takes_a_fixed_one() {
    let mut pbx = Pbx::start(Opts::default().tenant("alpha.toml", ALPHA));
    assert_eq!(
        slugs(&pbx),
        ["alpha"],
        "alpha is seeded from conf.d at start"
    );
    let loaded = pbx.ctl_json(&["status"])["config_loaded"].clone();

    // A broken tenant file, then SIGHUP.
    let beta = pbx.conf.join("tenants").join("beta.toml");
    std::fs::write(&beta, BETA_BROKEN).expect("write beta.toml");
    std::thread::sleep(Duration::from_millis(20)); // config_loaded has millisecond resolution
    pbx.sighup();
    let log = pbx.wait_log(Duration::from_secs(10), |l| {
        l.contains("oude blijft actief")
    });
    let log = log.unwrap_or_else(|| {
        panic!(
            "no refusal in the log after SIGHUP; log:\n{}\nstderr:\n{}",
            pbx.log_text(),
            pbx.stderr_text()
        )
    });
    let line = log
        .lines()
        .find(|l| l.contains("beta.toml:4:"))
        .unwrap_or_else(|| panic!("no error line with file:line for beta.toml in the log:\n{log}"));
    assert!(line.contains("ERROR"), "logged as an error: {line}");
    assert!(
        line.contains("tenants/beta.toml:4:")
            && line.contains(": fout: ")
            && line.contains("TOML-syntaxfout"),
        "Dutch error with file:line:col: {line}"
    );
    assert!(
        pbx.is_running(),
        "pbxd died on a broken config; stderr:\n{}",
        pbx.stderr_text()
    );
    let st = pbx.ctl_json(&["status"]);
    assert_eq!(st["config_loaded"], loaded, "the refused config was taken");
    assert_eq!(slugs(&pbx), ["alpha"], "the broken file was applied");

    // pbxctl reload says the same, with exit 65.
    let r = pbx.ctl(&["reload"]);
    r.code(65);
    assert!(
        r.stdout
            .contains("nieuwe configuratie geweigerd; de oude blijft actief")
            && r.stdout.contains("beta.toml:4:"),
        "{r:?}"
    );
    let j = pbx.ctl(&["reload", "--json"]);
    assert_eq!(j.json()["ok"], false, "{j:?}");
    assert!(
        j.json()["errors"].as_array().is_some_and(|e| !e.is_empty()),
        "{j:?}"
    );

    // Fixed: SIGHUP takes it and creates beta (seeded) with its extension.
    std::fs::write(&beta, BETA).expect("write beta.toml");
    pbx.sighup();
    assert!(
        wait_for(Duration::from_secs(10), || slugs(&pbx) == ["alpha", "beta"]),
        "beta was not created after SIGHUP; log:\n{}",
        pbx.log_text()
    );
    assert_eq!(
        strings(&pbx.ctl_json(&["extension", "list", "beta"]), "number"),
        ["2001"]
    );
    assert_ne!(pbx.ctl_json(&["status"])["config_loaded"], loaded);
    assert!(
        pbx.wait_log(Duration::from_secs(5), |l| l
            .contains("configuratie opnieuw geladen"))
            .is_some(),
        "{}",
        pbx.log_text()
    );
    let audit = pbx.ctl_json(&["audit", "--limit", "100"]);
    let actions: Vec<(String, String)> = audit
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or("").to_string(),
                e["tenant"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert!(
        actions.contains(&("seed".into(), "beta".into()))
            && actions.contains(&("reload".into(), String::new())),
        "{actions:?}"
    );

    // pbxctl reload: a third organisation.
    std::fs::write(pbx.conf.join("tenants").join("gamma.toml"), GAMMA).expect("write gamma.toml");
    let r = pbx.ctl(&["reload", "--json"]);
    r.ok();
    assert_eq!(r.json()["ok"], true);
    assert_eq!(r.json()["seeded"], serde_json::json!(["gamma"]));
    assert_eq!(slugs(&pbx), ["alpha", "beta", "gamma"]);

    // Reload never overwrites what is in the store: a changed file does not undo a change made
    // with pbxctl (plan/apply is for that), and a removed file removes nothing.
    pbx.ctl(&["tenant", "set", "beta", "--name", "Beta Holding"])
        .ok();
    std::fs::remove_file(pbx.conf.join("tenants").join("gamma.toml")).expect("rm gamma.toml");
    pbx.ctl(&["reload"]).ok();
    assert_eq!(
        pbx.ctl_json(&["tenant", "show", "beta"])["name"],
        "Beta Holding"
    );
    assert_eq!(slugs(&pbx), ["alpha", "beta", "gamma"]);

    // Still running and answering after all that; a restart keeps everything.
    pbx.restart();
    assert_eq!(slugs(&pbx), ["alpha", "beta", "gamma"]);
}

#[test]
fn a_broken_pbxd_toml_is_refused_on_reload() {
    let pbx = Pbx::start(Opts::default());
    let toml_path = pbx.conf.join("pbxd.toml");
    let good = std::fs::read_to_string(&toml_path).expect("read pbxd.toml");
    std::fs::write(&toml_path, format!("{good}\n[onbekend]\nsleutel = 1\n"))
        .expect("write pbxd.toml");
    let r = pbx.ctl(&["reload"]);
    r.code(65);
    assert!(
        r.stdout.contains("pbxd.toml:") && r.stdout.contains("onbekende sleutel"),
        "{r:?}"
    );
    assert!(pbx.answers());
    std::fs::write(&toml_path, good).expect("restore pbxd.toml");
    pbx.ctl(&["reload"]).ok();
}
