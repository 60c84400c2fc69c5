//! An organisation with everything in it, and the rules that span objects: references,
//! duplicates, limits, shadowed belplan rules. The config loader and the control API both use
//! [`TenantBundle::findings`], so `pbxctl check` and a live change are judged alike.

use crate::belplan::{Action, Belplan};
use crate::error::{ErrorCode, ModelError};
use crate::extension::Extension;
use crate::queue::{Queue, RingGroup};
use crate::tenant::Tenant;
use crate::trunk::Trunk;
use crate::user::User;
use pbx_i18n::Msg;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// Error or warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Must be fixed.
    Error,
    /// Should be looked at; `--deny-warnings` makes it an error.
    Warning,
}

/// The kind of object a finding is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjKind {
    /// The organisation itself.
    Tenant,
    /// A user.
    User,
    /// An extension.
    Extension,
    /// A trunk.
    Trunk,
    /// A queue.
    Queue,
    /// A belgroep.
    RingGroup,
    /// A belplan rule.
    Rule,
    /// An openingstijden schedule.
    Schedule,
    /// A keuzemenu.
    Menu,
}

/// Where in a bundle a finding is: the object (kind and position) and the field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Loc {
    /// Kind of object.
    pub kind: ObjKind,
    /// Position in its list (0 for the organisation).
    pub index: usize,
    /// Field, when known.
    pub field: Option<&'static str>,
}

/// One finding of a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// Where.
    pub loc: Loc,
    /// What, with code and hint.
    pub error: ModelError,
}

/// An organisation with its objects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantBundle {
    /// The organisation.
    pub tenant: Tenant,
    /// Users.
    #[serde(default)]
    pub users: Vec<User>,
    /// Extensions.
    #[serde(default)]
    pub extensions: Vec<Extension>,
    /// Trunks.
    #[serde(default)]
    pub trunks: Vec<Trunk>,
    /// Queues.
    #[serde(default)]
    pub queues: Vec<Queue>,
    /// Belgroepen.
    #[serde(default)]
    pub ring_groups: Vec<RingGroup>,
    /// Belplan.
    #[serde(default)]
    pub belplan: Belplan,
}

/// An object that `detach` removes together with every reference to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detach<'a> {
    /// An extension (by number).
    Extension(&'a str),
    /// A queue (by number).
    Queue(&'a str),
    /// A trunk (by name).
    Trunk(&'a str),
}

struct Collector(Vec<Finding>);

impl Collector {
    fn push(
        &mut self,
        severity: Severity,
        kind: ObjKind,
        index: usize,
        field: &'static str,
        error: ModelError,
    ) {
        self.0.push(Finding {
            severity,
            loc: Loc {
                kind,
                index,
                field: Some(field),
            },
            error,
        });
    }
    fn err(&mut self, kind: ObjKind, index: usize, field: &'static str, error: ModelError) {
        self.push(Severity::Error, kind, index, field, error);
    }
}

impl TenantBundle {
    /// An organisation without objects.
    pub fn new(tenant: Tenant) -> TenantBundle {
        TenantBundle {
            tenant,
            users: Vec::new(),
            extensions: Vec::new(),
            trunks: Vec::new(),
            queues: Vec::new(),
            ring_groups: Vec::new(),
            belplan: Belplan::default(),
        }
    }

    /// Every problem of the organisation, its objects and the references between them.
    pub fn findings(&self) -> Vec<Finding> {
        let mut c = Collector(Vec::new());
        let slug = &self.tenant.slug;
        for (field, e) in self.tenant.problems() {
            c.err(ObjKind::Tenant, 0, field, e);
        }

        // Users.
        let mut users = HashSet::new();
        for (i, u) in self.users.iter().enumerate() {
            for (field, e) in u.problems() {
                c.err(ObjKind::User, i, field, e);
            }
            if !users.insert(u.username.as_str()) {
                c.err(
                    ObjKind::User,
                    i,
                    "username",
                    ModelError::new(
                        ErrorCode::Conflict,
                        Msg::new("bundle.user_twice").arg("user", &u.username),
                    ),
                );
            }
            if &u.tenant != slug {
                c.err(
                    ObjKind::User,
                    i,
                    "tenant",
                    ModelError::invalid(Msg::new("bundle.wrong_tenant").arg("tenant", &u.tenant)),
                );
            }
        }

        // One number space for extensions, queues and belgroepen.
        let mut numbers: HashMap<String, (ObjKind, usize)> = HashMap::new();
        let mut claim = |c: &mut Collector, number: &str, kind: ObjKind, i: usize| {
            if numbers.contains_key(number) {
                c.err(
                    kind,
                    i,
                    "number",
                    ModelError::new(
                        ErrorCode::Conflict,
                        Msg::new("bundle.number_twice").arg("number", number),
                    ),
                );
            } else {
                numbers.insert(number.to_string(), (kind, i));
            }
        };
        for (i, e) in self.extensions.iter().enumerate() {
            for (field, err) in e.problems() {
                c.err(ObjKind::Extension, i, field, err);
            }
            claim(&mut c, &e.number, ObjKind::Extension, i);
            if let Some(owner) = &e.owner {
                if !users.contains(owner.as_str()) {
                    c.err(
                        ObjKind::Extension,
                        i,
                        "owner",
                        ModelError::new(
                            ErrorCode::DanglingReference,
                            Msg::new("bundle.no_user").arg("user", owner),
                        ),
                    );
                }
            }
            if i as u64 == u64::from(self.tenant.limits.max_extensions) {
                if let Err(err) = self.tenant.check_extension_quota(i) {
                    c.err(ObjKind::Extension, i, "number", err);
                }
            }
        }
        for (i, q) in self.queues.iter().enumerate() {
            for (field, err) in q.problems() {
                c.err(ObjKind::Queue, i, field, err);
            }
            claim(&mut c, &q.number, ObjKind::Queue, i);
        }
        for (i, g) in self.ring_groups.iter().enumerate() {
            for (field, err) in g.problems() {
                c.err(ObjKind::RingGroup, i, field, err);
            }
            claim(&mut c, &g.number, ObjKind::RingGroup, i);
        }
        let exts: HashSet<&str> = self.extensions.iter().map(|e| e.number.as_str()).collect();
        let queues: HashSet<&str> = self.queues.iter().map(|q| q.number.as_str()).collect();
        let groups: HashSet<&str> = self.ring_groups.iter().map(|g| g.number.as_str()).collect();
        let trunks: HashSet<&str> = self.trunks.iter().map(|t| t.name.as_str()).collect();
        let menus: HashSet<&str> = self.belplan.menus.iter().map(|m| m.name.as_str()).collect();
        let schedules: HashSet<&str> = self
            .belplan
            .schedules
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        let check_action =
            |c: &mut Collector, kind: ObjKind, i: usize, field: &'static str, a: &Action| {
                let missing = match a {
                    Action::Extension(n) => (!exts.contains(n.as_str()))
                        .then(|| Msg::new("bundle.no_extension").arg("number", n)),
                    Action::Queue(n) => (!queues.contains(n.as_str()))
                        .then(|| Msg::new("bundle.no_queue").arg("number", n)),
                    Action::Belgroep(n) => (!groups.contains(n.as_str()))
                        .then(|| Msg::new("bundle.no_ringgroup").arg("number", n)),
                    Action::Trunks(ts) if ts.is_empty() => Some(Msg::new("bundle.no_trunks")),
                    Action::Trunks(ts) => ts
                        .iter()
                        .find(|t| !trunks.contains(t.as_str()))
                        .map(|t| Msg::new("bundle.no_trunk").arg("trunk", t)),
                    Action::Announcement(p) => (!crate::belplan::prompt_ok(p))
                        .then(|| Msg::new("bundle.bad_prompt").arg("prompt", p)),
                    Action::Keuzemenu(m) => (!menus.contains(m.as_str()))
                        .then(|| Msg::new("bundle.no_menu").arg("name", m)),
                    Action::Hangup(code) => (!(400..=699).contains(code))
                        .then(|| Msg::new("bundle.bad_cause").arg("code", code)),
                };
                if let Some(m) = missing {
                    c.err(
                        kind,
                        i,
                        field,
                        ModelError::new(ErrorCode::DanglingReference, m),
                    );
                }
            };
        for (i, q) in self.queues.iter().enumerate() {
            for m in &q.members {
                if !users.contains(m.user.as_str()) {
                    c.err(
                        ObjKind::Queue,
                        i,
                        "members",
                        ModelError::new(
                            ErrorCode::DanglingReference,
                            Msg::new("bundle.no_user").arg("user", &m.user),
                        ),
                    );
                }
            }
            if let Some(a) = &q.overflow {
                check_action(&mut c, ObjKind::Queue, i, "overflow", a);
            }
            if q.members.is_empty() {
                c.push(
                    Severity::Warning,
                    ObjKind::Queue,
                    i,
                    "members",
                    ModelError::invalid(Msg::new("bundle.queue_empty").arg("number", &q.number)),
                );
            }
        }
        for (i, g) in self.ring_groups.iter().enumerate() {
            for m in &g.members {
                if !exts.contains(m.as_str()) {
                    c.err(
                        ObjKind::RingGroup,
                        i,
                        "members",
                        ModelError::new(
                            ErrorCode::DanglingReference,
                            Msg::new("bundle.no_extension").arg("number", m),
                        ),
                    );
                }
            }
            if let Some(a) = &g.fallback {
                check_action(&mut c, ObjKind::RingGroup, i, "fallback", a);
            }
        }

        // Trunks and DIDs.
        let mut trunk_names = HashSet::new();
        let mut dids = HashSet::new();
        for (i, t) in self.trunks.iter().enumerate() {
            for (field, err) in t.problems() {
                c.err(ObjKind::Trunk, i, field, err);
            }
            if !trunk_names.insert(t.name.as_str()) {
                c.err(
                    ObjKind::Trunk,
                    i,
                    "name",
                    ModelError::new(
                        ErrorCode::Conflict,
                        Msg::new("bundle.trunk_twice").arg("trunk", &t.name),
                    ),
                );
            }
            for d in &t.dids {
                if !dids.insert(d.clone()) {
                    c.err(
                        ObjKind::Trunk,
                        i,
                        "dids",
                        ModelError::new(
                            ErrorCode::Conflict,
                            Msg::new("bundle.did_twice").arg("did", d),
                        ),
                    );
                }
            }
            if t.auth.is_none() && t.allow.is_empty() {
                c.push(
                    Severity::Warning,
                    ObjKind::Trunk,
                    i,
                    "allow",
                    ModelError::invalid(Msg::new("bundle.trunk_open").arg("trunk", &t.name)),
                );
            }
        }

        // Belplan.
        let mut sched_names = HashSet::new();
        for (i, s) in self.belplan.schedules.iter().enumerate() {
            for e in s.problems() {
                c.err(ObjKind::Schedule, i, "open", e);
            }
            if !sched_names.insert(s.name.as_str()) {
                c.err(
                    ObjKind::Schedule,
                    i,
                    "name",
                    ModelError::new(
                        ErrorCode::Conflict,
                        Msg::new("bundle.schedule_twice").arg("name", &s.name),
                    ),
                );
            }
        }
        for (i, r) in self.belplan.rules.iter().enumerate() {
            check_action(&mut c, ObjKind::Rule, i, "action", &r.action);
            if let Some(s) = &r.matches.schedule {
                if !schedules.contains(s.as_str()) {
                    c.err(
                        ObjKind::Rule,
                        i,
                        "match",
                        ModelError::new(
                            ErrorCode::DanglingReference,
                            Msg::new("bundle.no_schedule").arg("name", s),
                        ),
                    );
                }
            }
            if let Some(d) = &r.matches.did {
                if !dids.contains(d) {
                    c.push(
                        Severity::Warning,
                        ObjKind::Rule,
                        i,
                        "match",
                        ModelError::invalid(Msg::new("bundle.did_not_delivered").arg("did", d)),
                    );
                }
            }
        }
        for (i, m) in self.belplan.menus.iter().enumerate() {
            for (field, err) in m.problems() {
                c.err(ObjKind::Menu, i, field, err);
            }
            if self.belplan.menus[..i].iter().any(|o| o.name == m.name) {
                c.err(
                    ObjKind::Menu,
                    i,
                    "name",
                    ModelError::new(
                        ErrorCode::Conflict,
                        Msg::new("menu.twice").arg("name", &m.name),
                    ),
                );
            }
            for a in m.choices.values().chain(m.on_timeout.iter()) {
                check_action(&mut c, ObjKind::Menu, i, "choices", a);
            }
        }
        for (later, earlier) in self.belplan.shadowed() {
            c.err(
                ObjKind::Rule,
                later,
                "match",
                ModelError::invalid(
                    Msg::new("bundle.shadowed")
                        .arg("rule", later + 1)
                        .arg("earlier", earlier + 1),
                ),
            );
        }
        c.0
    }

    /// Removes the object and every reference to it: belplan rules that send calls to it, queue
    /// overflow and belgroep fallback targets, belgroep membership, its place in trunk groups
    /// (a rule whose trunk group becomes empty goes). Returns what was removed or cleared, in
    /// Dutch, for `--dry-run` and the answer of `--force`.
    pub fn detach(&mut self, target: Detach<'_>) -> Vec<String> {
        let mut out = Vec::new();
        let points = |a: &Action| match (target, a) {
            (Detach::Extension(n), Action::Extension(x)) | (Detach::Queue(n), Action::Queue(x)) => {
                x == n
            }
            _ => false,
        };
        match target {
            Detach::Extension(n) => {
                self.extensions.retain(|e| e.number != n);
                out.push(format!("extensie {n}"));
            }
            Detach::Queue(n) => {
                self.queues.retain(|q| q.number != n);
                out.push(format!("wachtrij {n}"));
            }
            Detach::Trunk(n) => {
                self.trunks.retain(|t| t.name != n);
                out.push(format!("trunk {n}"));
            }
        }
        if let Detach::Extension(n) = target {
            for g in &mut self.ring_groups {
                if g.members.iter().any(|m| m == n) {
                    g.members.retain(|m| m != n);
                    out.push(format!("lid van belgroep {}", g.number));
                }
            }
        }
        for q in &mut self.queues {
            if q.overflow.as_ref().is_some_and(points) {
                q.overflow = None;
                out.push(format!("overloop van wachtrij {}", q.number));
            }
        }
        for g in &mut self.ring_groups {
            if g.fallback.as_ref().is_some_and(points) {
                g.fallback = None;
                out.push(format!("terugval van belgroep {}", g.number));
            }
        }
        let mut i = 0;
        let mut position = 0;
        while i < self.belplan.rules.len() {
            position += 1;
            let rule = &mut self.belplan.rules[i];
            let described = rule.action.describe();
            let drop = match (&mut rule.action, target) {
                (Action::Trunks(ts), Detach::Trunk(n)) if ts.iter().any(|t| t == n) => {
                    ts.retain(|t| t != n);
                    if ts.is_empty() {
                        true
                    } else {
                        out.push(format!("trunk {n} uit belplanregel {position}"));
                        false
                    }
                }
                (a, _) => points(a),
            };
            if drop {
                out.push(format!("belplanregel {position} ({described})"));
                self.belplan.rules.remove(i);
            } else {
                i += 1;
            }
        }
        out
    }

    /// The first error (warnings ignored), for changes made through the API.
    pub fn first_error(&self) -> Option<Finding> {
        self.findings()
            .into_iter()
            .find(|f| f.severity == Severity::Error)
    }

    /// Describes a location for people: `extensie 1001`, `regel 3 van het belplan`.
    pub fn describe(&self, loc: &Loc) -> String {
        let name = match loc.kind {
            ObjKind::Tenant => format!("organisatie {}", self.tenant.slug),
            ObjKind::Menu => format!(
                "keuzemenu {}",
                self.belplan
                    .menus
                    .get(loc.index)
                    .map(|m| m.name.as_str())
                    .unwrap_or("?")
            ),
            ObjKind::User => format!(
                "gebruiker {}",
                self.users
                    .get(loc.index)
                    .map(|u| u.username.as_str())
                    .unwrap_or("?")
            ),
            ObjKind::Extension => format!(
                "extensie {}",
                self.extensions
                    .get(loc.index)
                    .map(|e| e.number.as_str())
                    .unwrap_or("?")
            ),
            ObjKind::Trunk => format!(
                "trunk {}",
                self.trunks
                    .get(loc.index)
                    .map(|t| t.name.as_str())
                    .unwrap_or("?")
            ),
            ObjKind::Queue => format!(
                "wachtrij {}",
                self.queues
                    .get(loc.index)
                    .map(|q| q.number.as_str())
                    .unwrap_or("?")
            ),
            ObjKind::RingGroup => format!(
                "belgroep {}",
                self.ring_groups
                    .get(loc.index)
                    .map(|g| g.number.as_str())
                    .unwrap_or("?")
            ),
            ObjKind::Rule => format!("belplanregel {}", loc.index + 1),
            ObjKind::Schedule => format!(
                "openingstijden {}",
                self.belplan
                    .schedules
                    .get(loc.index)
                    .map(|s| s.name.as_str())
                    .unwrap_or("?")
            ),
        };
        match loc.field {
            Some(f) => format!("{name} ({f})"),
            None => name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::belplan::{Rule, RuleMatch};
    use crate::pattern::Pattern;
    use crate::queue::Member;
    use crate::trunk::Trunk;

    fn bundle() -> TenantBundle {
        let mut t = Tenant::new("acme", "Acme BV");
        t.limits.max_extensions = 2;
        let mut b = TenantBundle::new(t);
        b.extensions.push(Extension::new("acme", "1001", "Jan"));
        b.extensions.push(Extension::new("acme", "1002", "Piet"));
        b
    }

    fn keys(b: &TenantBundle) -> Vec<&'static str> {
        b.findings()
            .into_iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| f.error.msg.key())
            .collect()
    }

    #[test]
    fn detach_removes_every_reference() {
        let mut b = bundle();
        let mut q = Queue::new("acme", "500", "Verkoop");
        q.overflow = Some(Action::Extension("1001".into()));
        b.queues.push(q);
        b.ring_groups.push(RingGroup {
            tenant: "acme".into(),
            number: "600".into(),
            name: "Balie".into(),
            strategy: crate::queue::RingStrategy::Simultaan,
            members: vec!["1001".into(), "1002".into()],
            timeout_secs: 20,
            fallback: Some(Action::Extension("1001".into())),
        });
        b.trunks.push(Trunk::new("acme", "kpn", "sip.example"));
        b.trunks.push(Trunk::new("acme", "ziggo", "sip2.example"));
        b.belplan.rules.push(Rule {
            name: None,
            matches: RuleMatch {
                pattern: Pattern::parse("1001").ok(),
                ..RuleMatch::default()
            },
            action: Action::Extension("1001".into()),
        });
        b.belplan.rules.push(Rule {
            name: None,
            matches: RuleMatch {
                pattern: Pattern::parse("_00.").ok(),
                ..RuleMatch::default()
            },
            action: Action::Trunks(vec!["kpn".into()]),
        });
        b.belplan.rules.push(Rule {
            name: None,
            matches: RuleMatch {
                pattern: Pattern::parse("_0.").ok(),
                ..RuleMatch::default()
            },
            action: Action::Trunks(vec!["kpn".into(), "ziggo".into()]),
        });
        let mut x = b.clone();
        let gone = x.detach(Detach::Extension("1001"));
        assert_eq!(
            gone,
            vec![
                "extensie 1001",
                "lid van belgroep 600",
                "overloop van wachtrij 500",
                "terugval van belgroep 600",
                "belplanregel 1 (extensie 1001)"
            ]
        );
        assert!(keys(&x).is_empty(), "{:?}", keys(&x));
        let mut y = b.clone();
        let gone = y.detach(Detach::Trunk("kpn"));
        assert_eq!(
            gone,
            vec![
                "trunk kpn",
                "belplanregel 2 (trunks kpn)",
                "trunk kpn uit belplanregel 3"
            ]
        );
        assert_eq!(
            y.belplan.rules[1].action,
            Action::Trunks(vec!["ziggo".into()])
        );
        let gone = b.detach(Detach::Queue("500"));
        assert_eq!(gone, vec!["wachtrij 500"]);
    }

    #[test]
    fn clean_bundle_has_no_errors() {
        assert!(keys(&bundle()).is_empty());
    }

    #[test]
    fn limit_duplicate_and_dangling() {
        let mut b = bundle();
        b.extensions.push(Extension::new("acme", "1003", "Klaas"));
        assert_eq!(keys(&b), vec!["tenant.extension_limit"]);
        b.tenant.limits.max_extensions = 10;
        b.extensions.push(Extension::new("acme", "1001", "Dubbel"));
        assert_eq!(keys(&b), vec!["bundle.number_twice"]);
        b.extensions.pop();
        let mut q = Queue::new("acme", "1001", "Verkoop");
        q.members.push(Member {
            user: "niemand".into(),
            penalty: 0,
        });
        b.queues.push(q);
        assert_eq!(keys(&b), vec!["bundle.number_twice", "bundle.no_user"]);
        b.queues[0].number = "500".into();
        b.belplan.rules.push(Rule {
            name: None,
            matches: RuleMatch::default(),
            action: Action::Queue("501".into()),
        });
        b.belplan.rules.push(Rule {
            name: None,
            matches: RuleMatch {
                pattern: Pattern::parse("_1XXX").ok(),
                ..RuleMatch::default()
            },
            action: Action::Trunks(vec!["kpn".into()]),
        });
        assert_eq!(
            keys(&b),
            vec![
                "bundle.no_user",
                "bundle.no_queue",
                "bundle.no_trunk",
                "bundle.shadowed"
            ]
        );
    }
}
