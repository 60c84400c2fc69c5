//! `pbxctl report`: call analysis over CDRs written into the real store (as the call code
//! will), read back through pbxd's API and computed by pbxctl. pbxctl runs with TZ=UTC so the
//! local hours are predictable.
#![allow(clippy::unwrap_used)]

use pbx_model::{Afloop, Attempt, CallQuality, Cdr, Direction, HangupBy, Party};
use pbx_tests::*;
use serde_json::Value;

/// 2020-01-15 00:00:00 UTC: far outside the default period of the last 30 days.
const DAY: u64 = 1_579_046_400_000;
const HOUR: u64 = 3_600_000;
const MIN: u64 = 60_000;

struct Call<'a> {
    id: &'a str,
    tenant: &'a str,
    direction: Direction,
    trunk: Option<&'a str>,
    start_ms: u64,
    sip_code: u16,
    billsec: u64,
    mos: Option<u32>,
    one_way: bool,
}

fn call<'a>(id: &'a str, tenant: &'a str, start_ms: u64, sip_code: u16) -> Call<'a> {
    Call {
        id,
        tenant,
        direction: Direction::Intern,
        trunk: None,
        start_ms,
        sip_code,
        billsec: 0,
        mos: None,
        one_way: false,
    }
}

fn cdr(c: Call<'_>) -> Cdr {
    let afloop = Afloop::from_sip(c.sip_code);
    let answered = afloop == Afloop::Beantwoord;
    let answer_ms = answered.then_some(c.start_ms + 5_000);
    Cdr {
        id: c.id.into(),
        tenant: c.tenant.into(),
        call_id: format!("call-{}@127.0.0.1", c.id),
        caller: Party {
            number: "1001".into(),
            name: String::new(),
        },
        callee: Party {
            number: "0612345678".into(),
            name: String::new(),
        },
        forwarded_to: Vec::new(),
        direction: c.direction,
        start_ms: c.start_ms,
        answer_ms,
        end_ms: answer_ms.map_or(c.start_ms + 20_000, |a| a + c.billsec * 1000),
        afloop,
        sip_code: c.sip_code,
        hangup_by: HangupBy::Beller,
        codecs: vec!["PCMA".into()],
        legs: vec![],
        trunk: c.trunk.map(String::from),
        attempts: c
            .trunk
            .filter(|_| c.direction == Direction::Uitgaand)
            .map(|t| {
                vec![Attempt {
                    trunk: t.into(),
                    code: c.sip_code,
                }]
            })
            .unwrap_or_default(),
        quality: c.mos.map(|m| CallQuality {
            avg_mos_centi: Some(m),
            one_way: c.one_way,
            ..CallQuality::default()
        }),
        notes: String::new(),
        afcodering: None,
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// `pbxctl --socket … ARGS` in UTC.
fn ctl_utc(pbx: &Pbx, args: &[&str]) -> Run {
    let mut c = command("pbxctl");
    c.env("TZ", "UTC")
        .arg("--socket")
        .arg(&pbx.socket)
        .args(args);
    run(&mut c, None)
}

fn ctl_utc_json(pbx: &Pbx, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    let r = ctl_utc(pbx, &a);
    r.ok();
    r.json()
}

const PERIOD: [&str; 4] = ["--from", "2020-01-15", "--to", "2020-01-16"];

fn report(pbx: &Pbx, extra: &[&str]) -> Value {
    let mut a = vec!["report"];
    a.extend(PERIOD);
    a.extend(extra);
    ctl_utc_json(pbx, &a)
}

#[test]
fn report_json_table_and_csv() {
    let mut pbx = Pbx::start(Opts::default());
    pbx.ctl(&["tenant", "add", "acme"]).ok();
    pbx.ctl(&["tenant", "add", "beta"]).ok();
    pbx.sigterm();
    let now = now_ms();
    {
        let store = pbx_store::Store::open(&pbx.state, None).unwrap();
        let calls = [
            Call {
                direction: Direction::Inkomend,
                trunk: Some("kpn"),
                billsec: 60,
                mos: Some(441),
                ..call("c1", "acme", DAY + 9 * HOUR + 10 * MIN, 200)
            },
            Call {
                direction: Direction::Uitgaand,
                trunk: Some("kpn"),
                billsec: 120,
                mos: Some(395),
                one_way: true,
                ..call("c2", "acme", DAY + 9 * HOUR + 20 * MIN, 200)
            },
            Call {
                direction: Direction::Uitgaand,
                trunk: Some("kpn"),
                ..call("c3", "acme", DAY + 9 * HOUR + 40 * MIN, 486)
            },
            Call {
                billsec: 30,
                ..call("c4", "acme", DAY + 14 * HOUR + 5 * MIN, 200)
            },
            Call {
                direction: Direction::Uitgaand,
                trunk: Some("ziggo"),
                ..call("c5", "acme", DAY + 14 * HOUR + 10 * MIN, 503)
            },
            Call {
                direction: Direction::Uitgaand,
                trunk: Some("kpn"),
                ..call("c6", "acme", DAY + 16 * HOUR, 404)
            },
            call("c7", "beta", DAY + 14 * HOUR + 30 * MIN, 487),
            Call {
                direction: Direction::Inkomend,
                trunk: Some("kpn"),
                billsec: 90,
                mos: Some(300),
                ..call("c8", "beta", DAY + 9 * HOUR + 50 * MIN, 200)
            },
            // For the default period (the last 30 days): one recent call, one too old.
            Call {
                billsec: 10,
                ..call("r1", "acme", now - HOUR, 200)
            },
            call("r2", "acme", now - 40 * 24 * HOUR, 486),
        ];
        for c in calls {
            store.append_cdr(&cdr(c)).unwrap();
        }
        store.flush().unwrap();
    }
    pbx.spawn();
    pbx.wait_ready();

    // JSON: the totals over both organisations, with a breakdown.
    let r = report(&pbx, &[]);
    let t = &r["totals"];
    assert_eq!(t["calls"], 8, "{r:#}");
    assert_eq!(t["directions"]["intern"], 2);
    assert_eq!(t["directions"]["inkomend"], 2);
    assert_eq!(t["directions"]["uitgaand"], 4);
    assert_eq!(t["answered"], 4);
    assert_eq!(t["ner_calls"], 6);
    assert_eq!(t["asr_pct"], 50.0);
    assert_eq!(t["ner_pct"], 75.0);
    assert_eq!(t["avg_billsec"], 75);
    assert_eq!(t["total_billsec"], 300);
    assert_eq!(t["total_minutes"], 5.0);
    let busiest: Vec<(u64, u64)> = t["busiest_hours"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["hour"].as_u64().unwrap(), h["calls"].as_u64().unwrap()))
        .collect();
    assert_eq!(busiest, [(9, 4), (14, 3), (16, 1)]);
    assert_eq!(t["hours"].as_array().map(Vec::len), Some(24));
    assert_eq!(t["hours"][9], 4);
    let q = &t["quality"];
    assert_eq!(q["measured"], 3);
    assert_eq!(q["unmeasured"], 1);
    assert_eq!(q["uitstekend"], 1);
    assert_eq!(q["redelijk"], 1);
    assert_eq!(q["slecht"], 1);
    assert_eq!(q["goed"], 0);
    assert_eq!(q["one_way"], 1);
    assert_eq!(q["avg_mos_centi"], 379);
    let failures: Vec<(u64, String)> = t["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["sip_code"].as_u64().unwrap(),
                f["text"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        failures,
        [
            (404, "onbekend nummer".to_string()),
            (486, "bezet".into()),
            (487, "geannuleerd".into()),
            (503, "niet beschikbaar".into()),
        ]
    );
    assert_eq!(strings(&r["per_tenant"], "tenant"), ["acme", "beta"]);
    assert_eq!(r["per_tenant"][0]["calls"], 6);
    assert_eq!(r["per_tenant"][1]["calls"], 2);
    assert_eq!(r["per_tenant"][1]["answered"], 1);
    assert_eq!(r["tenant"], Value::Null);

    // One trunk: only the calls whose trunk is kpn.
    let kpn = report(&pbx, &["--trunk", "kpn"]);
    assert_eq!(kpn["trunk"], "kpn");
    assert_eq!(kpn["totals"]["calls"], 5, "{kpn:#}");
    assert_eq!(kpn["totals"]["answered"], 3);
    assert_eq!(kpn["totals"]["asr_pct"], 60.0);
    assert_eq!(kpn["totals"]["ner_pct"], 80.0);

    // One organisation: no breakdown.
    let beta = report(&pbx, &["--tenant", "beta"]);
    assert_eq!(beta["totals"]["calls"], 2);
    assert_eq!(beta["per_tenant"].as_array().map(Vec::len), Some(0));

    // The default period is the last 30 days: only the recent call.
    let recent = ctl_utc_json(&pbx, &["report", "--tenant", "acme"]);
    assert_eq!(recent["totals"]["calls"], 1, "{recent:#}");
    assert_eq!(recent["totals"]["answered"], 1);
    let span = recent["to_ms"].as_u64().unwrap() - recent["from_ms"].as_u64().unwrap();
    assert_eq!(span, 30 * 24 * HOUR);

    // An empty period gives zeros.
    let empty = ctl_utc_json(
        &pbx,
        &["report", "--from", "2019-01-01", "--to", "2019-02-01"],
    );
    assert_eq!(empty["totals"]["calls"], 0);
    assert_eq!(empty["totals"]["asr_pct"], 0.0);
    assert_eq!(empty["totals"]["avg_mos_centi"], Value::Null);

    // The table, in Dutch.
    let mut a = vec!["report"];
    a.extend(PERIOD);
    let table = ctl_utc(&pbx, &a);
    table.ok();
    let text = &table.stdout;
    for want in [
        "Gespreksrapport 2020-01-15 00:00:00 – 2020-01-16 00:00:00",
        "intern 2, inkomend 2, uitgaand 4",
        "50.0%",
        "75.0%",
        "0:01:15",
        "09:00 (4), 14:00 (3), 16:00 (1)",
        "3.79",
        "uitstekend",
        "eenrichtingsgeluid",
        "onbekend nummer",
        "niet beschikbaar",
        "Per organisatie",
        "ORGANISATIE",
    ] {
        assert!(text.contains(want), "{want} ontbreekt in:\n{text}");
    }
    assert!(looks_dutch(text), "{text}");

    // The same in English.
    let mut en = a.clone();
    en.extend(["--lang", "en"]);
    let table = ctl_utc(&pbx, &en);
    table.ok();
    assert!(
        table.stdout.contains("Call report") && table.stdout.contains("unknown number"),
        "{}",
        table.stdout
    );

    // CSV: organisatie,sleutel,waarde.
    let mut c = a.clone();
    c.push("--csv");
    let csv = ctl_utc(&pbx, &c);
    csv.ok();
    let lines: Vec<&str> = csv.stdout.lines().collect();
    assert_eq!(lines[0], "organisatie,sleutel,waarde", "{}", csv.stdout);
    for want in [
        "*,van,2020-01-15 00:00:00",
        "*,tot,2020-01-16 00:00:00",
        "*,gesprekken,8",
        "*,beantwoord,4",
        "*,asr_pct,50.0",
        "*,ner_pct,75.0",
        "*,gem_duur_s,75",
        "*,totaal_minuten,5.0",
        "*,drukste_uur_1,9",
        "*,uur_14,3",
        "*,mos_slecht,1",
        "*,eenrichtingsgeluid,1",
        "*,fout_404,1",
        "acme,gesprekken,6",
        "beta,gesprekken,2",
    ] {
        assert!(
            lines.contains(&want),
            "{want} ontbreekt in:\n{}",
            csv.stdout
        );
    }

    // A period that ends before it starts is a usage error, in Dutch.
    let bad = ctl_utc(
        &pbx,
        &["report", "--from", "2020-01-16", "--to", "2020-01-15"],
    );
    bad.code(64);
    assert!(bad.stderr.contains("ongeldige periode"), "{}", bad.stderr);
    let bad = ctl_utc(&pbx, &["report", "--from", "gisteren"]);
    bad.code(64);
}
