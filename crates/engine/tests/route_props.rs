//! Properties of the outbound router over arbitrary organisations, callers, times and strings:
//! it never panics, 112 is always an emergency call, and nothing goes out that the caller's
//! permission or the organisation's toll-fraud settings forbid.

use chrono::{DateTime, NaiveDateTime};
use pbx_engine::route::{route, Caller, Decision};
use pbx_model::belplan::{Action, Belplan, Rule, RuleMatch, Schedule, TimeRange};
use pbx_model::{
    CallPermission, Extension, NumberClass, Pattern, Queue, Tenant, TenantBundle, TenantStatus,
    Trunk, E164,
};
use proptest::prelude::*;

const PATTERNS: &[&str] = &[
    "_X.",
    "_0.",
    "_00.",
    "_+.",
    "_06XXXXXXXX",
    "_0[1-9]XXXXXXXX",
    "_09[0-9].",
    "_1XXX",
    "_112",
    "112",
    "_!",
    "_18XX",
    "_14XXX",
    "_9XX",
    "911",
    "500",
    "_[1-3]XX",
];

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        Just(Action::Extension("1001".into())),
        Just(Action::Queue("500".into())),
        Just(Action::Belgroep("600".into())),
        Just(Action::Announcement("gesloten".into())),
        (400u16..700).prop_map(Action::Hangup),
        proptest::sample::subsequence(vec!["kpn", "voys", "weg"], 0..=3)
            .prop_map(|v| Action::Trunks(v.into_iter().map(String::from).collect())),
    ]
}

fn rule() -> impl Strategy<Value = Rule> {
    (
        proptest::option::of(proptest::sample::select(PATTERNS)),
        any::<bool>(),
        proptest::option::of(proptest::sample::select(vec!["kantoor", "weg"])),
        any::<bool>(),
        action(),
    )
        .prop_map(|(pattern, did, schedule, closed, action)| Rule {
            name: None,
            matches: RuleMatch {
                pattern: pattern.and_then(|p| Pattern::parse(p).ok()),
                did: did.then(|| E164::parse("+31201234567").ok()).flatten(),
                schedule: schedule.map(String::from),
                closed,
            },
            action,
        })
}

fn org() -> impl Strategy<Value = TenantBundle> {
    (
        proptest::collection::vec(rule(), 0..8),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(rules, suspended, intl, premium, kpn_on, holidays)| {
            let mut b = TenantBundle::new(Tenant::new("acme", "Acme BV"));
            if suspended {
                b.tenant.status = TenantStatus::Suspended;
            }
            b.tenant.toll_fraud.international = intl;
            b.tenant.toll_fraud.betaalnummers = premium;
            b.extensions.push(Extension::new("acme", "1001", "a"));
            b.extensions.push(Extension::new("acme", "911", "b"));
            b.queues.push(Queue::new("acme", "500", "q"));
            let mut kpn = Trunk::new("acme", "kpn", "sip.kpn.example");
            kpn.enabled = kpn_on;
            b.trunks = vec![kpn, Trunk::new("acme", "voys", "sip.voys.example")];
            b.belplan = Belplan {
                rules,
                schedules: vec![Schedule {
                    name: "kantoor".into(),
                    open: vec![TimeRange {
                        days: vec!["ma".into(), "za".into()],
                        from: "08:00".into(),
                        to: "24:00".into(),
                    }],
                    holidays,
                    ..Schedule::default()
                }],
                menus: vec![],
            };
            b
        })
}

fn caller() -> impl Strategy<Value = Caller> {
    (
        proptest::sample::subsequence(NumberClass::ALL.to_vec(), 0..=7),
        any::<bool>(),
    )
        .prop_map(|(classes, anonymous)| Caller {
            extension: "1001".into(),
            permission: CallPermission::of(&classes),
            number: None,
            anonymous,
        })
}

fn time() -> impl Strategy<Value = NaiveDateTime> {
    // 2000 … 2100.
    (946_684_800i64..4_102_444_800).prop_map(|s| {
        DateTime::from_timestamp(s, 0)
            .map(|d| d.naive_utc())
            .unwrap_or_default()
    })
}

fn dialled() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9]{0,16}",
        "[0-9+*#() ./-]{0,40}",
        "(0|00|\\+|\\+31|0031)[0-9 -]{0,14}",
        "1[0-9]{1,5}",
        proptest::sample::select(vec!["911", "999", "1001", "500", "600"]).prop_map(String::from),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics_and_nothing_forbidden_goes_out(
        org in org(), caller in caller(), dialled in dialled(), at in time()
    ) {
        match route(&org, &caller, &dialled, at) {
            Decision::Outside(o) => {
                prop_assert!(org.tenant.status == TenantStatus::Active);
                prop_assert!(!o.trunks.is_empty());
                prop_assert!(caller.permission.allows(o.class), "{:?}", o.class);
                prop_assert!(o.class != NumberClass::Intern && o.class != NumberClass::Alarm);
                prop_assert!(o.class != NumberClass::Internationaal || org.tenant.toll_fraud.international);
                prop_assert!(o.class != NumberClass::Betaalnummers || org.tenant.toll_fraud.betaalnummers);
                prop_assert!(o.trunks.iter().all(|t| t.name != "weg"));
            }
            Decision::Extension(_) | Decision::Queue(_) | Decision::Belgroep(_) | Decision::Keuzemenu(_) => {
                prop_assert!(org.tenant.status == TenantStatus::Active);
                prop_assert!(caller.permission.allows(NumberClass::Intern));
            }
            Decision::Refuse(r) => prop_assert!((400..700).contains(&r.code)),
            Decision::Announcement(_) | Decision::Emergency(_) => {}
        }
    }

    #[test]
    fn emergency_always(
        org in org(), caller in caller(), at in time(),
        form in proptest::sample::select(vec!["112", "1 1 2", "+31112", "+31 112", "0031112", "0031-112", "0112", "112 "]),
    ) {
        let d = route(&org, &caller, form, at);
        prop_assert!(matches!(d, Decision::Emergency(_)), "{form}: {d:?}");
    }

    #[test]
    fn emergency_for_999_and_911_unless_internal(org in org(), caller in caller(), at in time()) {
        prop_assert!(matches!(route(&org, &caller, "999", at), Decision::Emergency(_)));
        // 911 is an extension of this organisation.
        prop_assert!(!matches!(route(&org, &caller, "911", at), Decision::Emergency(_)));
    }
}
