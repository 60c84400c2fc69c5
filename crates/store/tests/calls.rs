//! Registrations and call detail records in the store.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use pbx_model::{Afloop, Cdr, Direction, HangupBy, LegQuality, Party, Registration};
use pbx_store::CdrFilter;
use std::io::Cursor;

fn reg(ext: &str, contact: &str, expires_ms: u64) -> Registration {
    Registration {
        tenant: "acme".into(),
        extension: ext.into(),
        contact: contact.into(),
        instance: None,
        source: "udp:127.0.0.1:5070".into(),
        user_agent: Some("baresip".into()),
        call_id: format!("reg-{ext}"),
        cseq: 1,
        registered_ms: 1_000,
        expires_ms,
        nat: false,
        unreachable: false,
    }
}

fn cdr(id: &str, end_ms: u64, afloop: Afloop, callee: &str) -> Cdr {
    Cdr {
        id: id.into(),
        tenant: "acme".into(),
        call_id: format!("call-{id}"),
        caller: Party {
            number: "1001".into(),
            name: "Jan".into(),
        },
        callee: Party {
            number: callee.into(),
            name: String::new(),
        },
        forwarded_to: Vec::new(),
        direction: Direction::Intern,
        start_ms: end_ms - 10_000,
        answer_ms: (afloop == Afloop::Beantwoord).then_some(end_ms - 8_000),
        end_ms,
        afloop,
        sip_code: if afloop == Afloop::Beantwoord {
            200
        } else {
            486
        },
        hangup_by: HangupBy::Beller,
        codecs: vec!["PCMA".into()],
        legs: vec![LegQuality {
            leg: "a".into(),
            codec: "PCMA".into(),
            packets: 400,
            lost: 2,
            loss_centi_pct: 50,
            jitter_centi_ms: 120,
            rtt_ms: Some(3),
            mos_centi: None,
        }],
        trunk: None,
        attempts: vec![],
        quality: None,
        notes: String::new(),
        afcodering: None,
    }
}

#[test]
fn registrations_are_listed_pruned_and_survive_a_flushed_restart() {
    let dir = tmp();
    {
        let s = open(dir.path());
        fill(&s, "acme");
        s.put_registration(&reg("1001", "sip:1001@127.0.0.1:5070", 10_000))
            .unwrap();
        s.put_registration(&reg("1001", "sip:1001@127.0.0.1:5072", 99_000))
            .unwrap();
        s.put_registration(&reg("1002", "sip:1002@127.0.0.1:5074", 99_000))
            .unwrap();
        assert_eq!(s.registrations(Some("acme")).unwrap().len(), 3);
        let gone = s.prune_registrations(20_000).unwrap();
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].contact, "sip:1001@127.0.0.1:5070");
        s.remove_registration(&reg("1002", "sip:1002@127.0.0.1:5074", 0))
            .unwrap();
        s.flush().unwrap();
    }
    let s = open(dir.path());
    let left = s.registrations(None).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].contact, "sip:1001@127.0.0.1:5072");
}

#[test]
fn cdrs_are_flushed_filtered_and_pruned() {
    let dir = tmp();
    {
        let s = open(dir.path());
        fill(&s, "acme");
        s.append_cdr(&cdr("c1", 100_000, Afloop::Beantwoord, "1002"))
            .unwrap();
        s.append_cdr(&cdr("c2", 200_000, Afloop::Bezet, "1003"))
            .unwrap();
        s.append_cdr(&cdr("c3", 300_000, Afloop::Beantwoord, "0612345678"))
            .unwrap();
        // No explicit flush: append_cdr flushed before it returned.
    }
    let s = open(dir.path());
    let all = s.cdrs(&CdrFilter::default()).unwrap();
    assert_eq!(
        all.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["c1", "c2", "c3"]
    );
    let f = CdrFilter {
        afloop: Some(Afloop::Beantwoord),
        ..CdrFilter::default()
    };
    assert_eq!(s.cdrs(&f).unwrap().len(), 2);
    let f = CdrFilter {
        number: Some("0612".into()),
        ..CdrFilter::default()
    };
    assert_eq!(s.cdrs(&f).unwrap()[0].id, "c3");
    let f = CdrFilter {
        from_ms: Some(150_000),
        to_ms: Some(300_000),
        ..CdrFilter::default()
    };
    assert_eq!(s.cdrs(&f).unwrap()[0].id, "c2");
    let f = CdrFilter {
        limit: 1,
        ..CdrFilter::default()
    };
    assert_eq!(s.cdrs(&f).unwrap()[0].id, "c3");
    assert_eq!(
        s.cdr("acme", "c2").unwrap().map(|c| c.afloop),
        Some(Afloop::Bezet)
    );
    assert_eq!(s.prune_cdrs("acme", 250_000).unwrap(), 2);
    assert_eq!(s.cdrs(&CdrFilter::default()).unwrap().len(), 1);
}

#[test]
fn cdrs_travel_with_export_and_go_with_the_organisation() {
    let base = tmp();
    let a = open(&base.path().join("a"));
    fill(&a, "acme");
    a.append_cdr(&cdr("c1", 100_000, Afloop::Beantwoord, "1002"))
        .unwrap();
    a.put_registration(&reg("1001", "sip:1001@127.0.0.1:5070", 99_000))
        .unwrap();
    let mut out = Vec::new();
    a.export(false, &mut out).unwrap();
    let b = open(&base.path().join("b"));
    let summary = b.import(&mut Cursor::new(out)).unwrap();
    assert_eq!(summary.cdrs, 1);
    assert_eq!(
        b.cdrs(&CdrFilter::default()).unwrap(),
        a.cdrs(&CdrFilter::default()).unwrap()
    );
    a.remove_tenant("acme").unwrap();
    assert!(a.cdrs(&CdrFilter::default()).unwrap().is_empty());
    assert!(a.registrations(None).unwrap().is_empty());
}
