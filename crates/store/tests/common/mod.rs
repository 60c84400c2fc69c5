//! Fixtures shared by the store's tests.
#![allow(dead_code, clippy::unwrap_used)]

use pbx_model::{
    Action, AuditEntry, Belplan, Contact, Extension, Member, Queue, RingGroup, Role, Rule,
    RuleMatch, Tenant, TenantBundle, Trunk, TrunkRegistration, User, UserState, E164,
};
use pbx_store::Store;
use std::fs;
use std::path::Path;

/// The SIP password of every test extension.
pub const SIP_PASSWORD: &str = "Zonnebloem-Tulp-42";
/// The plain secret of every test trunk.
pub const TRUNK_SECRET: &str = "provider-geheim-7781";
/// A password hash as argon2 writes it (computing one is slow in debug builds).
pub const PASSWORD_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";

pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

pub fn open(dir: &Path) -> Store {
    match Store::open(dir, None) {
        Ok(s) => s,
        Err(e) => panic!("open {}: {}", dir.display(), e.msg()),
    }
}

pub fn e164(s: &str) -> E164 {
    E164::parse(s).unwrap()
}

pub fn user(slug: &str, name: &str, store: &Store) -> User {
    User {
        tenant: slug.into(),
        username: name.into(),
        name: format!("{name} van {slug}"),
        email: Some(format!("{name}@{slug}.example")),
        role: Role::Agent,
        password_hash: Some(PASSWORD_HASH.into()),
        totp: Some(store.seal("JBSWY3DPEHPK3PXP")),
        totp_enabled: true,
        permission: Default::default(),
        state: UserState::Active,
    }
}

pub fn trunk(slug: &str, name: &str, store: &Store) -> Trunk {
    let mut t = Trunk::new(slug, name, "sip.provider.example");
    t.auth = Some(TrunkRegistration {
        register: true,
        username: format!("{slug}-{name}"),
        secret: Some(store.seal(TRUNK_SECRET)),
        expires: 600,
    });
    t.dids = vec![e164("+31201234567")];
    t
}

/// A full organisation.
pub fn bundle(slug: &str, store: &Store) -> TenantBundle {
    let mut t = Tenant::new(slug, &format!("{slug} BV"));
    t.domains = vec![format!("{slug}.example")];
    let realm = t.realm().to_string();
    let mut b = TenantBundle::new(t);
    b.users = vec![user(slug, "jan", store), user(slug, "piet", store)];
    for (n, who) in [("1001", "jan"), ("1002", "piet")] {
        let mut e = Extension::new(slug, n, who);
        e.owner = Some(who.into());
        e.set_password(&realm, SIP_PASSWORD);
        b.extensions.push(e);
    }
    b.trunks = vec![
        trunk(slug, "kpn", store),
        Trunk::new(slug, "ipauth", "192.0.2.10"),
    ];
    let mut q = Queue::new(slug, "500", "Verkoop");
    q.members.push(Member {
        user: "jan".into(),
        penalty: 0,
    });
    b.queues = vec![q];
    b.ring_groups = vec![RingGroup {
        tenant: slug.into(),
        number: "600".into(),
        name: "Balie".into(),
        strategy: Default::default(),
        members: vec!["1001".into(), "1002".into()],
        timeout_secs: 20,
        fallback: Some(Action::Queue("500".into())),
    }];
    b.belplan = Belplan {
        rules: vec![Rule {
            name: Some("alles".into()),
            matches: RuleMatch::default(),
            action: Action::Queue("500".into()),
        }],
        schedules: vec![],
        menus: vec![],
    };
    b
}

pub fn contact(slug: &str, i: usize) -> Contact {
    Contact {
        tenant: slug.into(),
        id: 0,
        name: format!("Klant {i}"),
        company: format!("Bedrijf {}", i % 100),
        phones: vec![e164(&format!("+316{:08}", i))],
        tags: vec!["lead".into()],
        notes: String::new(),
        fields: Default::default(),
    }
}

pub fn audit_entry(slug: Option<&str>, action: &str) -> AuditEntry {
    AuditEntry {
        seq: 0,
        time: "2025-01-01T12:00:00Z".into(),
        uid: 1000,
        user: Some("beheer".into()),
        action: action.into(),
        tenant: slug.map(String::from),
        object: "extension 1001".into(),
        before: None,
        after: Some(serde_json::json!({"number": "1001"})),
    }
}

/// Writes a full organisation with contacts and audit entries.
pub fn fill(store: &Store, slug: &str) {
    store.put_bundle(&bundle(slug, store)).unwrap();
    let ids = store
        .add_contacts(slug, (1..=5).map(|i| contact(slug, i)).collect())
        .unwrap();
    assert_eq!(ids.len(), 5);
    store
        .append_audit(audit_entry(Some(slug), "tenant.add"))
        .unwrap();
    store.append_audit(audit_entry(None, "import")).unwrap();
}

pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        let dest = to.join(e.file_name());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            fs::copy(&p, &dest).unwrap();
        }
    }
}
