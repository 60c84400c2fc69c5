//! Roll-ups in the store: merged on write, read by range, kept over a reopen, pruned by age,
//! and not in the way of an import (they are derived data).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use pbx_model::history::{scope_org, Granularity, Rollup};

const MIN: u64 = 60_000;
const T0: u64 = 1_795_309_200_000; // a whole hour (2026-11-22 00:00 UTC + 1 h multiple)

fn call(answered: bool, mos: Option<u32>) -> Rollup {
    let mut r = Rollup::default();
    r.add_call(answered, if answered { 30 } else { 0 }, mos);
    r
}

#[test]
fn rollups_merge_by_bucket_and_survive_a_reopen() {
    let dir = tmp();
    {
        let s = open(dir.path());
        let acme = scope_org("acme");
        let mut items = Vec::new();
        for (i, answered) in [true, false, true].into_iter().enumerate() {
            let at = T0 + i as u64 * MIN + 5_000;
            for g in Granularity::ALL {
                items.push((g, acme.clone(), at, call(answered, answered.then_some(430))));
            }
        }
        s.add_rollups(&items).unwrap();
        // A late call merged into the first minute.
        s.add_rollups(&[(
            Granularity::Minuut,
            acme.clone(),
            T0 + 10_000,
            call(true, Some(300)),
        )])
        .unwrap();
        s.flush().unwrap();
    }
    let s = open(dir.path());
    let acme = scope_org("acme");
    let minutes = s
        .rollups(Granularity::Minuut, &acme, T0, T0 + 60 * MIN)
        .unwrap();
    assert_eq!(
        minutes
            .iter()
            .map(|(t, _)| (t - T0) / MIN)
            .collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert_eq!(minutes[0].1.started, 2);
    assert_eq!(minutes[0].1.mos_n, 2);
    assert_eq!(minutes[1].1.failed, 1);
    let hour = s
        .rollups(Granularity::Uur, &acme, T0, T0 + 60 * MIN)
        .unwrap();
    assert_eq!(hour.len(), 1);
    assert_eq!((hour[0].1.started, hour[0].1.answered), (3, 2));
    // Range bounds: from inclusive, to exclusive; other scopes apart.
    assert_eq!(
        s.rollups(Granularity::Minuut, &acme, T0 + MIN, T0 + 2 * MIN)
            .unwrap()
            .len(),
        1
    );
    assert!(s
        .rollups(Granularity::Minuut, &scope_org("globex"), 0, u64::MAX)
        .unwrap()
        .is_empty());
    assert!(s
        .rollups(Granularity::Minuut, "", 0, u64::MAX)
        .unwrap()
        .is_empty());
    assert_eq!(
        s.rollup_scopes(Granularity::Dag).unwrap(),
        vec![acme.clone()]
    );

    // Pruning removes only what is older, per granularity.
    assert_eq!(
        s.prune_rollups(Granularity::Minuut, T0 + 2 * MIN).unwrap(),
        2
    );
    assert_eq!(
        s.rollups(Granularity::Minuut, &acme, 0, u64::MAX)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.rollups(Granularity::Uur, &acme, 0, u64::MAX)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(s.prune_rollups(Granularity::Uur, T0).unwrap(), 0);
}

#[test]
fn rollups_do_not_block_an_import() {
    let dir = tmp();
    let s = open(dir.path());
    s.add_rollups(&[(Granularity::Dag, String::new(), T0, call(true, None))])
        .unwrap();
    let res = s.import(&mut std::io::Cursor::new(""));
    assert!(
        !matches!(res, Err(pbx_store::StoreError::NotEmpty { .. })),
        "a store with only roll-ups counts as empty for an import"
    );
}
