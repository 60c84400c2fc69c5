//! The gespreksoverzicht and registrations through pbxctl: CDRs and registrations written into
//! the real store (as the call and registrar code will), read back through pbxd's API.
#![allow(clippy::unwrap_used)]

use pbx_model::{Afloop, Cdr, Direction, HangupBy, LegQuality, Party, Registration};
use pbx_tests::*;

fn cdr(id: &str, tenant: &str, end_ms: u64, afloop: Afloop, callee: &str) -> Cdr {
    Cdr {
        id: id.into(),
        tenant: tenant.into(),
        call_id: format!("call-{id}@127.0.0.1"),
        caller: Party {
            number: "1001".into(),
            name: "Jan Jansen".into(),
        },
        callee: Party {
            number: callee.into(),
            name: String::new(),
        },
        forwarded_to: Vec::new(),
        direction: Direction::Intern,
        start_ms: end_ms - 65_000,
        answer_ms: (afloop == Afloop::Beantwoord).then_some(end_ms - 60_000),
        end_ms,
        afloop,
        sip_code: if afloop == Afloop::Beantwoord {
            200
        } else {
            486
        },
        hangup_by: HangupBy::Gebelde,
        codecs: vec!["PCMA".into()],
        legs: vec![
            LegQuality {
                leg: "a".into(),
                codec: "PCMA".into(),
                packets: 3000,
                lost: 15,
                loss_centi_pct: 50,
                jitter_centi_ms: 215,
                rtt_ms: Some(12),
                mos_centi: None,
            },
            LegQuality {
                leg: "b".into(),
                codec: "PCMA".into(),
                packets: 3000,
                lost: 0,
                loss_centi_pct: 0,
                jitter_centi_ms: 90,
                rtt_ms: None,
                mos_centi: None,
            },
        ],
        trunk: None,
        attempts: vec![],
        quality: None,
        notes: String::new(),
        afcodering: None,
    }
}

#[test]
fn cdr_list_show_export_and_registrations() {
    let mut pbx = Pbx::start(Opts::default());
    pbx.ctl(&["tenant", "add", "acme"]).ok();
    pbx.ctl(&["tenant", "add", "beta"]).ok();
    pbx.sigterm();
    {
        let store = pbx_store::Store::open(&pbx.state, None).unwrap();
        // 2026-11-21 12:00:00 UTC and an hour apart.
        let t0 = 1_795_262_400_000;
        store
            .append_cdr(&cdr("c1", "acme", t0, Afloop::Beantwoord, "1002"))
            .unwrap();
        store
            .append_cdr(&cdr(
                "c2",
                "acme",
                t0 + 3_600_000,
                Afloop::Bezet,
                "0612345678",
            ))
            .unwrap();
        store
            .append_cdr(&cdr(
                "c3",
                "beta",
                t0 + 7_200_000,
                Afloop::Beantwoord,
                "2001",
            ))
            .unwrap();
        store
            .put_registration(&Registration {
                tenant: "acme".into(),
                extension: "1001".into(),
                contact: "sip:1001@127.0.0.1:5070".into(),
                instance: None,
                source: "udp:127.0.0.1:5070".into(),
                user_agent: Some("baresip".into()),
                call_id: "reg1".into(),
                cseq: 2,
                registered_ms: t0,
                expires_ms: u64::MAX / 2,
                nat: false,
                unreachable: false,
            })
            .unwrap();
        store.flush().unwrap();
    }
    pbx.spawn();
    pbx.wait_ready();

    let all = pbx.ctl_json(&["cdr", "list"]);
    assert_eq!(strings(&all, "id"), ["c1", "c2", "c3"]);
    let acme = pbx.ctl_json(&["cdr", "list", "--tenant", "acme", "--afloop", "bezet"]);
    assert_eq!(strings(&acme, "id"), ["c2"]);
    let by_number = pbx.ctl_json(&["cdr", "list", "--number", "0612"]);
    assert_eq!(strings(&by_number, "id"), ["c2"]);
    let period = pbx.ctl_json(&[
        "cdr",
        "list",
        "--from",
        "2026-11-21T12:30:00Z",
        "--to",
        "2026-11-21T13:30:00Z",
    ]);
    assert_eq!(strings(&period, "id"), ["c2"]);
    let newest = pbx.ctl_json(&["cdr", "list", "--limit", "1"]);
    assert_eq!(strings(&newest, "id"), ["c3"]);

    // People get Dutch words; the afloop filter refuses unknown values in Dutch.
    let table = pbx.ctl(&["cdr", "list", "--tenant", "acme"]);
    table.ok();
    assert!(
        table.stdout.contains("AFLOOP")
            && table.stdout.contains("beantwoord")
            && table.stdout.contains("0:01:00"),
        "{}",
        table.stdout
    );
    let bad = pbx.ctl(&["cdr", "list", "--afloop", "weg"]);
    bad.code(64);
    assert!(bad.stderr.contains("onbekende afloop"), "{}", bad.stderr);

    let show = pbx.ctl(&["cdr", "show", "acme", "c1"]);
    show.ok();
    assert!(
        show.stdout.contains("billsec_s:")
            && show.stdout.contains("60")
            && show.stdout.contains("verlies_pct_a:")
            && show.stdout.contains("0.50"),
        "{}",
        show.stdout
    );
    pbx.ctl(&["cdr", "show", "acme", "bestaat-niet"]).code(66);

    let csv = pbx.ctl(&["cdr", "export", "--csv", "--tenant", "acme"]);
    csv.ok();
    let lines: Vec<&str> = csv.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", csv.stdout);
    assert!(lines[0].starts_with("id,organisatie,call_id,beller"));
    assert!(
        lines[1].starts_with("c1,acme,call-c1@127.0.0.1,1001,Jan Jansen,1002,,,intern,"),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].contains(",60,beantwoord,200,gebelde,PCMA,0.50,2.15,12,0.00,0.90,"),
        "{}",
        lines[1]
    );
    let jsonl = pbx.ctl(&["cdr", "export", "--jsonl"]);
    jsonl.ok();
    assert_eq!(jsonl.stdout.lines().count(), 3);

    let regs = pbx.ctl_json(&["registrations"]);
    assert_eq!(strings(&regs, "contact"), ["sip:1001@127.0.0.1:5070"]);
    let none = pbx.ctl_json(&["registrations", "--tenant", "beta"]);
    assert_eq!(none.as_array().map(Vec::len), Some(0));
}
