//! Round trips per tree, removal of an organisation, bundles and their trunk secrets.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use pbx_model::{Belplan, Extension, Queue, Tenant, TenantBundle, Trunk};
use pbx_store::StoreError;

#[test]
fn every_tree_round_trips_and_survives_a_reopen() {
    let base = tmp();
    let b = {
        let s = open(base.path());
        let b = bundle("acme", &s);
        s.put_tenant(&b.tenant).unwrap();
        for u in &b.users {
            s.put_user(u).unwrap();
        }
        for e in &b.extensions {
            s.put_extension(e).unwrap();
        }
        for t in &b.trunks {
            s.put_trunk(t).unwrap();
        }
        for q in &b.queues {
            s.put_queue(q).unwrap();
        }
        for g in &b.ring_groups {
            s.put_ring_group(g).unwrap();
        }
        s.put_belplan("acme", &b.belplan).unwrap();
        b
    };
    let s = open(base.path());
    assert_eq!(s.tenant("acme").unwrap().as_ref(), Some(&b.tenant));
    assert_eq!(s.tenants().unwrap(), vec![b.tenant.clone()]);
    assert_eq!(s.user("acme", "piet").unwrap().as_ref(), Some(&b.users[1]));
    assert_eq!(s.users("acme").unwrap(), b.users);
    assert_eq!(
        s.extension("acme", "1001").unwrap().as_ref(),
        Some(&b.extensions[0])
    );
    assert_eq!(s.extensions("acme").unwrap(), b.extensions);
    assert_eq!(s.count_extensions("acme").unwrap(), 2);
    assert_eq!(s.trunk("acme", "kpn").unwrap().as_ref(), Some(&b.trunks[0]));
    // Trunks come back by name.
    let mut trunks = b.trunks.clone();
    trunks.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(s.trunks("acme").unwrap(), trunks);
    assert_eq!(s.queue("acme", "500").unwrap().as_ref(), Some(&b.queues[0]));
    assert_eq!(s.queues("acme").unwrap(), b.queues);
    assert_eq!(
        s.ring_group("acme", "600").unwrap().as_ref(),
        Some(&b.ring_groups[0])
    );
    assert_eq!(s.ring_groups("acme").unwrap(), b.ring_groups);
    assert_eq!(s.belplan("acme").unwrap(), b.belplan);
    assert_eq!(s.belplan("nobody").unwrap(), Belplan::default());
    let got = s.bundle("acme").unwrap().unwrap();
    assert_eq!(
        TenantBundle {
            trunks: trunks.clone(),
            ..b.clone()
        },
        got
    );
    assert_eq!(
        s.open_secret(
            got.trunks[1]
                .auth
                .as_ref()
                .unwrap()
                .secret
                .as_ref()
                .unwrap()
        )
        .unwrap(),
        TRUNK_SECRET
    );
    assert!(s.bundle("nobody").unwrap().is_none());

    // Removal of single objects.
    s.remove_user("acme", "piet").unwrap();
    s.remove_extension("acme", "1002").unwrap();
    s.remove_trunk("acme", "ipauth").unwrap();
    s.remove_queue("acme", "500").unwrap();
    s.remove_ring_group("acme", "600").unwrap();
    s.remove_user("acme", "bestaat-niet").unwrap();
    assert_eq!(s.users("acme").unwrap().len(), 1);
    assert_eq!(s.count_extensions("acme").unwrap(), 1);
    assert_eq!(s.trunks("acme").unwrap().len(), 1);
    assert!(s.queues("acme").unwrap().is_empty() && s.ring_groups("acme").unwrap().is_empty());
    assert!(s.schema_version() == pbx_store::SCHEMA_VERSION && s.size_on_disk().unwrap() > 0);
}

#[test]
fn objects_need_their_organisation_and_usable_names() {
    let base = tmp();
    let s = open(base.path());
    let e = s
        .put_extension(&Extension::new("ghost", "1001", "Jan"))
        .err();
    assert!(
        matches!(e, Some(StoreError::NoTenant { ref tenant }) if tenant == "ghost"),
        "{e:?}"
    );
    assert!(e.is_some_and(|e| e.msg().to_string() == "organisatie ghost bestaat niet"));
    assert!(matches!(
        s.add_contacts("ghost", vec![contact("ghost", 1)]),
        Err(StoreError::NoTenant { .. })
    ));
    assert!(matches!(
        s.put_tenant(&Tenant::new("a\0b", "X")),
        Err(StoreError::BadName { .. })
    ));
    s.put_tenant(&Tenant::new("acme", "Acme")).unwrap();
    assert!(matches!(
        s.put_queue(&Queue::new("acme", "", "Leeg")),
        Err(StoreError::BadName { .. })
    ));
    // A slug that is a prefix of another does not see the other's objects.
    s.put_tenant(&Tenant::new("acme-2", "Acme 2")).unwrap();
    s.put_extension(&Extension::new("acme-2", "1001", "Jan"))
        .unwrap();
    assert_eq!(s.count_extensions("acme").unwrap(), 0);
    assert_eq!(s.count_extensions("acme-2").unwrap(), 1);
}

#[test]
fn remove_tenant_removes_everything_in_it_and_nothing_else() {
    let base = tmp();
    let s = open(base.path());
    fill(&s, "acme");
    fill(&s, "beta");
    let phone = e164("+31600000001");
    assert_eq!(s.find_contacts_by_phone("acme", &phone).unwrap().len(), 1);
    s.remove_tenant("acme").unwrap();
    drop(s);
    let s = open(base.path());
    assert!(s.tenant("acme").unwrap().is_none() && s.bundle("acme").unwrap().is_none());
    for n in [
        s.users("acme").unwrap().len(),
        s.extensions("acme").unwrap().len(),
        s.trunks("acme").unwrap().len(),
        s.queues("acme").unwrap().len(),
        s.ring_groups("acme").unwrap().len(),
        s.count_contacts("acme").unwrap(),
        s.find_contacts_by_phone("acme", &phone).unwrap().len(),
    ] {
        assert_eq!(n, 0);
    }
    assert_eq!(s.belplan("acme").unwrap(), Belplan::default());
    // The other organisation and the audit log are untouched.
    assert_eq!(s.bundle("beta").unwrap().map(|b| b.users.len()), Some(2));
    assert_eq!(s.count_contacts("beta").unwrap(), 5);
    assert_eq!(s.audit(None, 100).unwrap().len(), 4);
    // A new organisation with the same name starts empty, contact ids from 1.
    s.put_tenant(&Tenant::new("acme", "Acme opnieuw")).unwrap();
    assert_eq!(
        s.add_contacts("acme", vec![contact("acme", 9)]).unwrap(),
        vec![1]
    );
    s.remove_tenant("bestaat-niet").unwrap();
}

#[test]
fn put_bundle_replaces_config_keeps_contacts_and_trunk_secrets() {
    let base = tmp();
    let s = open(base.path());
    fill(&s, "acme");
    let mut b = bundle("acme", &s);
    // Config files carry no sealed secrets.
    for t in &mut b.trunks {
        if let Some(a) = &mut t.auth {
            a.secret = None;
        }
    }
    b.users.truncate(1);
    b.extensions.retain(|e| e.number == "1001");
    b.ring_groups.clear();
    b.queues[0].name = "Verkoop NL".into();
    let mut extra = Trunk::new("acme", "nieuw", "sip.other.example");
    extra.auth = Some(pbx_model::TrunkRegistration {
        register: false,
        username: "x".into(),
        secret: None,
        expires: 600,
    });
    b.trunks.push(extra);
    b.belplan = Belplan::default();
    s.put_bundle(&b).unwrap();

    let got = s.bundle("acme").unwrap().unwrap();
    assert_eq!(
        got.users
            .iter()
            .map(|u| u.username.as_str())
            .collect::<Vec<_>>(),
        ["jan"]
    );
    assert_eq!(got.extensions.len(), 1);
    assert!(got.ring_groups.is_empty());
    assert_eq!(got.queues[0].name, "Verkoop NL");
    assert_eq!(got.belplan, Belplan::default());
    let kpn = got.trunks.iter().find(|t| t.name == "kpn").unwrap();
    let sealed = kpn.auth.as_ref().and_then(|a| a.secret.as_ref()).unwrap();
    assert_eq!(
        s.open_secret(sealed).unwrap(),
        TRUNK_SECRET,
        "secret of kpn kept"
    );
    let nieuw = got.trunks.iter().find(|t| t.name == "nieuw").unwrap();
    assert!(
        nieuw.auth.as_ref().is_some_and(|a| a.secret.is_none()),
        "nothing to keep for a new trunk"
    );
    assert_eq!(s.count_contacts("acme").unwrap(), 5, "contacts untouched");

    // A new secret replaces the old one; auth removed removes it.
    let mut b2 = got.clone();
    for t in &mut b2.trunks {
        if t.name == "kpn" {
            t.auth.as_mut().unwrap().secret = Some(s.seal("nieuw-geheim"));
        }
    }
    s.put_bundle(&b2).unwrap();
    let t = s.trunk("acme", "kpn").unwrap().unwrap();
    assert_eq!(
        s.open_secret(t.auth.as_ref().unwrap().secret.as_ref().unwrap())
            .unwrap(),
        "nieuw-geheim"
    );
    // put_trunk follows the same rule.
    s.put_trunk(&t.public()).unwrap();
    let t = s.trunk("acme", "kpn").unwrap().unwrap();
    assert_eq!(
        s.open_secret(t.auth.as_ref().unwrap().secret.as_ref().unwrap())
            .unwrap(),
        "nieuw-geheim"
    );
    s.put_trunk(&Trunk { auth: None, ..t }).unwrap();
    assert!(s.trunk("acme", "kpn").unwrap().unwrap().auth.is_none());

    // Objects of another organisation are refused, and nothing is written.
    let mut bad = s.bundle("acme").unwrap().unwrap();
    bad.users.clear();
    bad.extensions
        .push(Extension::new("beta", "1009", "Vreemd"));
    assert!(matches!(
        s.put_bundle(&bad),
        Err(StoreError::WrongTenant { .. })
    ));
    assert_eq!(s.users("acme").unwrap().len(), 1);

    // A bundle of a new organisation creates it.
    s.put_bundle(&TenantBundle::new(Tenant::new("nieuw", "Nieuw BV")))
        .unwrap();
    assert!(s.tenant("nieuw").unwrap().is_some());
}

#[test]
fn contacts_ids_pages_index_search_and_removal() {
    let base = tmp();
    let s = open(base.path());
    s.put_tenant(&Tenant::new("acme", "Acme")).unwrap();
    s.put_tenant(&Tenant::new("beta", "Beta")).unwrap();
    let ids = s
        .add_contacts(
            "acme",
            (1..=30)
                .map(|i| contact("other-name-is-overwritten", i))
                .collect(),
        )
        .unwrap();
    assert_eq!(ids, (1..=30).collect::<Vec<u64>>());
    assert_eq!(
        s.add_contacts("beta", vec![contact("beta", 1)]).unwrap(),
        vec![1]
    );
    assert_eq!(
        s.add_contacts("acme", vec![contact("acme", 31)]).unwrap(),
        vec![31]
    );
    assert!(s.add_contacts("acme", vec![]).unwrap().is_empty());
    assert_eq!(s.count_contacts("acme").unwrap(), 31);
    let c = s.contact("acme", 7).unwrap().unwrap();
    assert_eq!(
        (c.tenant.as_str(), c.id, c.name.as_str()),
        ("acme", 7, "Klant 7")
    );
    let page = s.contacts("acme", 10, 5).unwrap();
    assert_eq!(
        page.iter().map(|c| c.id).collect::<Vec<_>>(),
        [11, 12, 13, 14, 15]
    );
    // Ids sort numerically (big-endian keys), also past 255.
    let more = s
        .add_contacts("acme", (32..=300).map(|i| contact("acme", i)).collect())
        .unwrap();
    assert_eq!(more.last(), Some(&300));
    assert_eq!(
        s.contacts("acme", 250, 3)
            .unwrap()
            .iter()
            .map(|c| c.id)
            .collect::<Vec<_>>(),
        [251, 252, 253]
    );

    let found = s
        .find_contacts_by_phone("acme", &e164("+31600000007"))
        .unwrap();
    assert_eq!(found.iter().map(|c| c.id).collect::<Vec<_>>(), [7]);
    assert!(s
        .find_contacts_by_phone("beta", &e164("+31600000007"))
        .unwrap()
        .is_empty());
    // Two contacts with one number.
    let dup = s.add_contacts("acme", vec![contact("acme", 7)]).unwrap();
    assert_eq!(
        s.find_contacts_by_phone("acme", &e164("+31600000007"))
            .unwrap()
            .len(),
        2
    );

    assert_eq!(
        s.search_contacts("acme", "klant 12", 100)
            .unwrap()
            .iter()
            .map(|c| c.id)
            .collect::<Vec<_>>(),
        [12, 120, 121, 122, 123, 124, 125, 126, 127, 128, 129]
    );
    assert_eq!(s.search_contacts("acme", "bedrijf", 4).unwrap().len(), 4);
    assert_eq!(
        s.search_contacts("acme", "0600000099", 10).unwrap().len(),
        1
    );

    // Update and removal keep the index right.
    let mut c = s.contact("acme", dup[0]).unwrap().unwrap();
    c.phones = vec![e164("+31201112233")];
    c.notes = "terugbellen".into();
    s.put_contact(&c).unwrap();
    assert_eq!(
        s.find_contacts_by_phone("acme", &e164("+31600000007"))
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.find_contacts_by_phone("acme", &e164("+31201112233"))
            .unwrap()[0]
            .notes,
        "terugbellen"
    );
    assert!(matches!(
        s.put_contact(&pbx_model::Contact { id: 9999, ..c }),
        Err(StoreError::NoContact { .. })
    ));
    s.remove_contact("acme", 7).unwrap();
    s.remove_contact("acme", 7).unwrap();
    assert!(s.contact("acme", 7).unwrap().is_none());
    assert!(s
        .find_contacts_by_phone("acme", &e164("+31600000007"))
        .unwrap()
        .is_empty());
    assert_eq!(s.count_contacts("acme").unwrap(), 300);
}

#[test]
fn audit_numbers_go_up_and_filter_by_tenant() {
    let base = tmp();
    {
        let s = open(base.path());
        for i in 0..5 {
            let slug = if i % 2 == 0 {
                Some("acme")
            } else {
                Some("beta")
            };
            assert_eq!(
                s.append_audit(audit_entry(slug, &format!("a{i}"))).unwrap(),
                i + 1
            );
        }
    }
    let s = open(base.path());
    assert_eq!(s.append_audit(audit_entry(None, "a5")).unwrap(), 6);
    let all = s.audit(None, 100).unwrap();
    assert_eq!(
        all.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );
    let last = s.audit(None, 2).unwrap();
    assert_eq!(
        last.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["a4", "a5"]
    );
    let acme = s.audit(Some("acme"), 2).unwrap();
    assert_eq!(acme.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 5]);
    assert!(s.audit(Some("acme"), 0).unwrap().is_empty());
}
