//! The `--json` output is an interface for scripts: golden checks of its shape (keys and
//! types) and of the error bodies with their stable codes.

use pbx_tests::*;
use serde_json::Value;

#[derive(Clone, Copy, Debug)]
enum T {
    Str,
    Num,
    Arr,
    Obj,
}

fn is(v: &Value, t: T) -> bool {
    match t {
        T::Str => v.is_string(),
        T::Num => v.is_u64(),
        T::Arr => v.is_array(),
        T::Obj => v.is_object(),
    }
}

/// `v` has exactly the keys of `shape` (plus `optional` ones), each of its type.
#[track_caller]
fn shape(what: &str, v: &Value, shape: &[(&str, T)], optional: &[(&str, T)]) {
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("{what}: not an object: {v}"));
    for (k, t) in shape {
        let x = obj
            .get(*k)
            .unwrap_or_else(|| panic!("{what}: key {k:?} missing in {v}"));
        assert!(is(x, *t), "{what}: {k:?} should be {t:?}, is {x}");
    }
    for k in obj.keys() {
        match optional.iter().find(|(o, _)| o == k) {
            Some((_, t)) => assert!(
                is(&obj[k], *t),
                "{what}: {k:?} should be {t:?}, is {}",
                obj[k]
            ),
            None => assert!(
                shape.iter().any(|(s, _)| s == k),
                "{what}: unexpected key {k:?} in {v}"
            ),
        }
    }
}

#[test]
fn json_shapes_are_stable() {
    let pbx = Pbx::start(Opts::default());
    pbx.ctl(&[
        "tenant",
        "add",
        "acme",
        "--name",
        "Acme BV",
        "--domain",
        "acme.example",
    ])
    .ok();
    pbx.ctl(&["tenant", "add", "beta"]).ok();
    pbx.ctl(&["user", "add", "acme", "piet"]).ok();
    pbx.ctl(&[
        "extension",
        "add",
        "acme",
        "1001",
        "--owner",
        "piet",
        "--recording",
        "always",
    ])
    .ok();
    pbx.ctl(&["extension", "add", "acme", "1002", "--forward-busy", "1001"])
        .ok();

    // tenant list
    let list = pbx.ctl_json(&["tenant", "list"]);
    let arr = list
        .as_array()
        .unwrap_or_else(|| panic!("tenant list --json is an array: {list}"));
    assert_eq!(strings(&list, "slug"), ["acme", "beta"]);
    for t in arr {
        shape(
            "tenant list",
            t,
            &[
                ("slug", T::Str),
                ("name", T::Str),
                ("domains", T::Arr),
                ("limits", T::Obj),
                ("status", T::Str),
                ("recording", T::Str),
                ("retention_days", T::Num),
                ("extensions", T::Num),
                ("users", T::Num),
                ("trunks", T::Num),
                ("queues", T::Num),
            ],
            &[],
        );
        shape(
            "tenant.limits",
            &t["limits"],
            &[
                ("max_extensions", T::Num),
                ("max_calls", T::Num),
                ("max_outside_calls", T::Num),
            ],
            &[],
        );
        assert!(
            t["domains"]
                .as_array()
                .is_some_and(|d| d.iter().all(Value::is_string)),
            "{t}"
        );
        assert_eq!(t["status"], "active");
    }
    assert_eq!(arr[0]["extensions"], 2);
    assert_eq!(arr[0]["users"], 1);

    // extension list
    let exts = pbx.ctl_json(&["extension", "list", "acme"]);
    assert_eq!(strings(&exts, "number"), ["1001", "1002"]);
    for e in exts.as_array().into_iter().flatten() {
        shape(
            "extension list",
            e,
            &[
                ("tenant", T::Str),
                ("number", T::Str),
                ("name", T::Str),
                ("codecs", T::Arr),
                ("forwarding", T::Obj),
                ("max_registrations", T::Num),
            ],
            &[("owner", T::Str), ("recording", T::Str)],
        );
        assert!(
            e["codecs"]
                .as_array()
                .is_some_and(|c| !c.is_empty() && c.iter().all(Value::is_string)),
            "{e}"
        );
        assert!(e["forwarding"]["no_answer_secs"].is_u64(), "{e}");
    }
    assert_eq!(exts[0]["owner"], "piet");
    assert_eq!(exts[0]["recording"], "always");
    assert_eq!(exts[1]["forwarding"]["busy"], "1001");

    // status
    let st = pbx.ctl_json(&["status"]);
    shape(
        "status",
        &st,
        &[
            ("version", T::Str),
            ("api", T::Num),
            ("uptime_secs", T::Num),
            ("pid", T::Num),
            ("config_dir", T::Str),
            ("state_dir", T::Str),
            ("schema_version", T::Num),
            ("tenants", T::Num),
            ("extensions", T::Num),
            ("config_loaded", T::Str),
            ("you", T::Obj),
            ("sip", T::Obj),
        ],
        &[],
    );
    for counter in [
        "received",
        "rate_limited",
        "discarded",
        "rejected",
        "registered",
        "auth_failed",
    ] {
        assert!(st["sip"][counter].is_u64(), "sip.{counter}: {st}");
    }
    assert_eq!(st["api"], 1);
    assert_eq!(st["pid"].as_i64(), Some(i64::from(pbx.pid())));
    assert_eq!(st["tenants"], 2);
    assert_eq!(st["extensions"], 2);
    assert_eq!(st["state_dir"].as_str(), pbx.state.to_str());
    assert!(
        st["config_loaded"]
            .as_str()
            .is_some_and(|s| s.len() >= 20 && s.ends_with('Z') && s.contains('T')),
        "RFC 3339 UTC: {st}"
    );
    shape(
        "status.you",
        &st["you"],
        &[("uid", T::Num), ("scope", T::Str)],
        &[("user", T::Str)],
    );
    assert_eq!(st["you"]["uid"].as_u64(), Some(u64::from(my_uid())));
    assert_eq!(st["you"]["scope"], "beheerder");

    // The JSON is the same on every call (no varying key order), apart from the uptime.
    let again = pbx.ctl(&["tenant", "list", "--json"]);
    assert_eq!(again.json(), list);
}

#[test]
fn api_errors_have_stable_codes() {
    let pbx = Pbx::start(Opts::default());
    pbx.ctl(&["tenant", "add", "acme"]).ok();
    pbx.ctl(&["extension", "add", "acme", "1001"]).ok();

    // (args, exit code, error code)
    let cases: &[(&[&str], i32, &str)] = &[
        (&["api", "/v1/nergens"], 66, "unknown_endpoint"),
        (&["api", "/v1/tenants/bestaatniet"], 66, "not_found"),
        (
            &["api", "/v1/tenants/acme/extensions/1999"],
            66,
            "not_found",
        ),
        (
            &["api", "-X", "POST", "/v1/tenants", "{kapot"],
            65,
            "bad_request",
        ),
        (
            &["api", "/v1/tenants", r#"{"slug":"X!","name":"Fout"}"#],
            65,
            "invalid",
        ),
        (
            &["api", "/v1/tenants", r#"{"slug":"acme","name":"Nog eens"}"#],
            65,
            "conflict",
        ),
        (
            &["api", "-X", "DELETE", "/v1/tenants/acme"],
            65,
            "has_dependents",
        ),
        (
            &[
                "api",
                "/v1/tenants/acme/extensions",
                r#"{"number":"1002","name":"x","owner":"niemand"}"#,
            ],
            65,
            "dangling_reference",
        ),
        (
            &[
                "api",
                "/v1/tenants/acme/extensions",
                r#"{"number":"1003","name":"x","password":"kort"}"#,
            ],
            65,
            "weak_password",
        ),
        (&["api", "-X", "DELETE", "/v1/status"], 65, "bad_request"),
    ];
    for (args, exit, code) in cases {
        let r = pbx.ctl(args);
        assert_eq!(r.code, *exit, "{args:?}: {r:?}");
        let v = r.json();
        shape("error body", &v, &[("error", T::Obj)], &[]);
        shape(
            "error",
            &v["error"],
            &[("code", T::Str), ("message", T::Str)],
            &[("hint", T::Str)],
        );
        assert_eq!(v["error"]["code"], *code, "{args:?}: {r:?}");
        let msg = v["error"]["message"].as_str().unwrap_or("").to_string();
        assert!(!msg.is_empty(), "{args:?}: {r:?}");
        // The code does not depend on the language; the message does (Dutch by default).
        let en = pbx.ctl(&[&["--lang", "en"], *args].concat());
        assert_eq!(en.code, *exit, "{args:?} --lang en: {en:?}");
        let env = en.json();
        assert_eq!(env["error"]["code"], *code, "{args:?} --lang en: {en:?}");
        assert_ne!(
            env["error"]["message"].as_str(),
            Some(msg.as_str()),
            "{args:?}: the default message is not Dutch (same as --lang en)"
        );
    }
    let ok = pbx.ctl(&["api", "/v1/status"]);
    ok.ok();
    assert_eq!(ok.json()["api"], 1);
}
