//! Organisation limits and duplicates: the 51st extension is refused with a Dutch message that
//! says how to raise the limit; the check and the write are one step under concurrency.

use pbx_tests::*;

#[test]
fn the_51st_extension_is_refused() {
    let pbx = Pbx::start(Opts::default());
    pbx.ctl(&[
        "tenant",
        "add",
        "acme",
        "--name",
        "Acme BV",
        "--domain",
        "acme.example",
        "--max-extensions",
        "50",
    ])
    .ok();
    for i in 0..50 {
        let n = (2000 + i).to_string();
        pbx.ctl(&["extension", "add", "acme", &n]).ok();
    }
    assert_eq!(pbx.ctl_json(&["tenant", "show", "acme"])["extensions"], 50);

    let r = pbx.ctl(&["extension", "add", "acme", "2050"]);
    r.code(65);
    assert!(
        r.stdout.is_empty(),
        "nothing on stdout for a refusal: {r:?}"
    );
    assert!(
        r.stderr
            .contains("organisatie acme heeft al het maximum van 50 extensies"),
        "Dutch message naming the limit: {r:?}"
    );
    assert!(
        r.stderr.contains("pbxctl tenant set acme --max-extensions"),
        "the message says how to raise the limit: {r:?}"
    );
    assert!(!r.stderr.contains("SIP-wachtwoord"), "{r:?}");

    let en = pbx.ctl(&["--lang", "en", "extension", "add", "acme", "2050"]);
    en.code(65);
    assert!(
        en.stderr
            .contains("already has its maximum of 50 extensions"),
        "English with --lang en: {en:?}"
    );
    assert!(
        en.stderr
            .contains("pbxctl tenant set acme --max-extensions"),
        "{en:?}"
    );

    let api = pbx.ctl(&[
        "api",
        "/v1/tenants/acme/extensions",
        r#"{"number":"2051","name":"te veel"}"#,
    ]);
    api.code(65);
    assert_eq!(api.json()["error"]["code"], "limit_exceeded", "{api:?}");
    assert_eq!(
        pbx.ctl_json(&["tenant", "show", "acme"])["extensions"],
        50,
        "a refused extension was stored"
    );
    pbx.ctl(&["extension", "show", "acme", "2050"]).code(66);

    // The limit cannot be set below the count; raising it lets the next one in.
    let r = pbx.ctl(&["tenant", "set", "acme", "--max-extensions", "40"]);
    r.code(65);
    assert!(looks_dutch(&r.stderr), "{r:?}");
    pbx.ctl(&["tenant", "set", "acme", "--max-extensions", "51"])
        .ok();
    pbx.ctl(&["extension", "add", "acme", "2050"]).ok();
    pbx.ctl(&["extension", "add", "acme", "2051"]).code(65);
}

#[test]
fn duplicate_numbers_conflict() {
    let pbx = Pbx::start(Opts::default());
    pbx.ctl(&[
        "tenant",
        "add",
        "beta",
        "--name",
        "Beta BV",
        "--domain",
        "beta.example",
    ])
    .ok();
    pbx.ctl(&["extension", "add", "beta", "1001", "--name", "Eerste"])
        .ok();
    let r = pbx.ctl(&["extension", "add", "beta", "1001", "--name", "Tweede"]);
    r.code(65);
    assert!(r.stderr.contains("1001") && looks_dutch(&r.stderr), "{r:?}");
    assert_eq!(
        pbx.ctl_json(&["extension", "show", "beta", "1001"])["name"],
        "Eerste",
        "the duplicate overwrote the first"
    );

    let api = pbx.ctl(&[
        "api",
        "/v1/tenants/beta/extensions",
        r#"{"number":"1001","name":"Derde"}"#,
    ]);
    api.code(65);
    assert_eq!(api.json()["error"]["code"], "conflict", "{api:?}");

    // A queue number is a number too.
    pbx.ctl(&["queue", "add", "beta", "1001", "--name", "Botsing"])
        .code(65);
    pbx.ctl(&["queue", "add", "beta", "500", "--name", "Verkoop"])
        .ok();
    let api = pbx.ctl(&[
        "api",
        "/v1/tenants/beta/extensions",
        r#"{"number":"500","name":"Botsing"}"#,
    ]);
    assert_eq!(api.json()["error"]["code"], "conflict", "{api:?}");

    // Duplicate organisation and domain.
    let api = pbx.ctl(&[
        "api",
        "/v1/tenants",
        r#"{"slug":"beta","name":"Nog een Beta"}"#,
    ]);
    api.code(65);
    assert_eq!(api.json()["error"]["code"], "conflict", "{api:?}");
    let r = pbx.ctl(&["tenant", "add", "gamma", "--domain", "beta.example"]);
    r.code(65);
    assert!(
        r.stderr.contains("beta.example") && r.stderr.contains("beta"),
        "{r:?}"
    );

    // The same number in another organisation is fine.
    pbx.ctl(&["tenant", "add", "delta"]).ok();
    pbx.ctl(&["extension", "add", "delta", "1001"]).ok();
}

#[test]
fn concurrent_adds_do_not_slip_past_the_limit() {
    let pbx = Pbx::start(Opts::default());
    pbx.ctl(&["tenant", "add", "acme", "--max-extensions", "5"])
        .ok();
    let socket = pbx.socket.clone();
    let handles: Vec<_> = (0..12)
        .map(|i| {
            let socket = socket.clone();
            std::thread::spawn(move || {
                pbxctl(
                    &socket,
                    &["extension", "add", "acme", &(3000 + i).to_string()],
                    None,
                )
            })
        })
        .collect();
    let runs: Vec<Run> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    let ok = runs.iter().filter(|r| r.code == 0).count();
    assert_eq!(ok, 5, "exactly the limit may succeed: {runs:#?}");
    assert!(
        runs.iter().all(|r| r.code == 0 || r.code == 65),
        "{runs:#?}"
    );
    assert_eq!(
        pbx.ctl_json(&["extension", "list", "acme"])
            .as_array()
            .map(Vec::len),
        Some(5)
    );
}

/// Toll-fraud settings: international and betaalnummers are blocked by default; `tenant set`
/// switches them and sets the hourly limits and the longest outside call, and shows them; bad
/// values are refused with a Dutch message and change nothing.
#[test]
fn toll_fraud_settings_of_an_organisation() {
    let pbx = Pbx::start(Opts::default());
    pbx.ctl(&["tenant", "add", "acme", "--domain", "acme.example"])
        .ok();
    let t = pbx.ctl_json(&["tenant", "show", "acme"]);
    let show = pbx.ctl(&["tenant", "show", "acme"]);
    show.ok();
    assert!(
        show.stdout.contains("internationaal:") && show.stdout.contains("geblokkeerd"),
        "{}\n{t}",
        show.stdout
    );
    pbx.ctl(&[
        "tenant",
        "set",
        "acme",
        "--international",
        "aan",
        "--max-international-per-hour",
        "5",
        "--max-call-secs",
        "1800",
    ])
    .ok();
    let t = pbx.ctl_json(&["tenant", "show", "acme"]);
    let tf = &t["toll_fraud"];
    assert_eq!(tf["international"], true, "{t}");
    assert_eq!(tf["max_international_per_hour"], 5, "{t}");
    assert_eq!(tf["max_call_secs"], 1800, "{t}");
    let bad = pbx.ctl(&["tenant", "set", "acme", "--betaalnummers", "misschien"]);
    bad.code(64);
    assert!(bad.stderr.contains("kies aan of uit"), "{}", bad.stderr);
    let bad = pbx.ctl(&["tenant", "set", "acme", "--max-call-secs", "10"]);
    bad.code(65);
    let again = pbx.ctl_json(&["tenant", "show", "acme"]);
    assert_eq!(again["toll_fraud"], *tf, "nothing changed");
}
