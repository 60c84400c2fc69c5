//! Where calls go, and pbxd's own part in them.
//!
//! - **From an extension**: the dialled number goes through `pbx_engine::route` (112 first,
//!   belplan rules, call permission, internal numbers); an outside number also through the
//!   toll-fraud guard. Trunks become a hunt of the call core with failover.
//! - **From a trunk** (its allow-list, or the provider's own address): the DID from the
//!   Request-URI, else P-Called-Party-ID, To or Diversion, normalised to E.164 → the
//!   organisation whose trunk delivers it → its inkomende belroute (`route_inbound`).
//! - **Forwards and fallbacks** (`Action::NeedTarget`) are resolved the same way, with the
//!   forwarding extension's owner as the caller.
//! - **pbxd itself** ([`LocalApp`]): a refusal with an announcement (183 with the prompt, then
//!   the final status), an announcement (answered, then BYE) or a keuzemenu (answered; keys from
//!   RFC 4733 through the relay or SIP INFO).

use super::menu::{MenuRun, MenuStep};
use super::CallGlue;
use crate::sip::{header_value, user_host, Service};
use pbx_engine::call::{CallRef, ContactRef, Hunt, HuntKind, HuntStep, Target};
use pbx_engine::route::{self, Caller, Decision, Refusal};
use pbx_engine::tollfraud::{GuardEvent, GuardLimits, Verdict};
use pbx_i18n::Msg;
use pbx_model::belplan::Action as PlanAction;
use pbx_model::holidays::nl_local;
use pbx_model::{
    CallPermission, Direction, Extension, NumberClass, RingStrategy, TenantBundle, E164,
};
use pbx_sip::msg::{self, Request};
use std::time::{Duration, Instant};

/// What pbxd itself does on a call it answers, or refuses with an announcement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LocalApp {
    /// Early media (183) with the prompt, then the final status.
    Refuse {
        /// Prompt.
        prompt: String,
        /// Final status.
        code: u16,
    },
    /// Answer, play the prompt, hang up.
    Announce {
        /// Prompt.
        prompt: String,
    },
    /// Answer and run this keuzemenu.
    Menu(String),
}

/// A media application running on a call.
pub(crate) enum Running {
    Refuse { code: u16 },
    Announce,
    Menu(MenuRun),
}

/// Where a new call goes.
pub(crate) struct Routed {
    pub(crate) target: Target,
    pub(crate) direction: Direction,
    pub(crate) emergency: bool,
    /// pbxd's own part, when `target` is [`Target::Local`].
    pub(crate) app: Option<LocalApp>,
    /// The class of an outside call, for the toll-fraud guard.
    pub(crate) outside: Option<NumberClass>,
}

impl Routed {
    fn to(target: Target) -> Routed {
        Routed {
            target,
            direction: Direction::Intern,
            emergency: false,
            app: None,
            outside: None,
        }
    }

    fn local(app: LocalApp) -> Routed {
        Routed {
            app: Some(app),
            ..Routed::to(Target::Local)
        }
    }
}

/// How long one trunk attempt of an outside call may ring.
const OUTSIDE_RING: Duration = Duration::from_secs(120);

/// At most one audit entry per organisation, extension and reason per this long for refused
/// calls (a dialler hammering 0900 must not become a flood of flushed writes).
const REFUSAL_AUDIT_EVERY: Duration = Duration::from_secs(10);

/// `*31*0612345678` or `#31#0612345678`: this call without the caller's number (as on Dutch
/// mobile networks).
fn strip_anonymous(dialled: &str) -> (String, bool) {
    for p in ["*31*", "#31#"] {
        if let Some(rest) = dialled.strip_prefix(p) {
            return (rest.to_string(), true);
        }
    }
    (dialled.to_string(), false)
}

/// The contact of a trunk attempt: `trunk`, organisation, trunk, number, caller ID (or `-`),
/// anonymous (`1`/`0`), one per line (the glue's [`ContactRef`] is opaque to the call core).
pub(crate) fn trunk_contact(
    tenant: &str,
    trunk: &str,
    number: &str,
    caller_id: Option<&E164>,
    anonymous: bool,
) -> ContactRef {
    ContactRef(format!(
        "trunk\n{tenant}\n{trunk}\n{number}\n{}\n{}",
        caller_id.map(E164::as_str).unwrap_or("-"),
        u8::from(anonymous)
    ))
}

/// A trunk attempt decoded from its contact.
pub(crate) struct TrunkAttempt {
    pub(crate) tenant: String,
    pub(crate) trunk: String,
    pub(crate) number: String,
    pub(crate) caller_id: Option<String>,
    pub(crate) anonymous: bool,
}

pub(crate) fn parse_trunk_contact(c: &ContactRef) -> Option<TrunkAttempt> {
    let mut it = c.0.split('\n');
    if it.next()? != "trunk" {
        return None;
    }
    let (tenant, trunk, number, cid, anon) =
        (it.next()?, it.next()?, it.next()?, it.next()?, it.next()?);
    Some(TrunkAttempt {
        tenant: tenant.to_string(),
        trunk: trunk.to_string(),
        number: number.to_string(),
        caller_id: (cid != "-").then(|| cid.to_string()),
        anonymous: anon == "1",
    })
}

/// The extension's own outside number: a DID whose inbound rule rings that extension.
fn direct_number(org: &TenantBundle, ext: &str) -> Option<E164> {
    org.belplan
        .rules
        .iter()
        .find_map(|r| match (&r.matches.did, &r.action) {
            (Some(did), PlanAction::Extension(n)) if n == ext && r.matches.schedule.is_none() => {
                Some(did.clone())
            }
            _ => None,
        })
}

/// The number a provider put in a header (`<sip:+31201234567@host>`, `tel:+3120…`).
fn header_number(req: &Request, name: &str) -> Option<String> {
    let v = header_value(req, name)?;
    let first = msg::parse_name_addrs(&v, false).ok()?.into_iter().next()?;
    let uri = first.uri;
    if let Some(tel) = uri.strip_prefix("tel:") {
        return Some(tel.split(';').next().unwrap_or(tel).to_string());
    }
    user_host(&uri).map(|(u, _)| u)
}

impl Service {
    /// The caller (permission, own number) an extension dials as.
    fn caller_of(&self, org: &TenantBundle, ext: &Extension, anonymous: bool) -> Caller {
        let permission = ext
            .owner
            .as_ref()
            .and_then(|o| org.users.iter().find(|u| &u.username == o))
            .map(|u| u.permission.clone())
            .unwrap_or_else(CallPermission::nationaal);
        Caller {
            extension: ext.number.clone(),
            permission,
            number: direct_number(org, &ext.number),
            anonymous,
        }
    }

    /// Where a call an extension dialled goes.
    pub(crate) fn route_dialled(
        &mut self,
        tenant: &str,
        ext: &Extension,
        dialled: &str,
        privacy: bool,
        call: &CallRef,
        now: Instant,
    ) -> Routed {
        let Some(org) = self.bundle(tenant) else {
            return Routed::to(Target::Reject(500));
        };
        let (number, hide) = strip_anonymous(dialled);
        let caller = self.caller_of(&org, ext, privacy || hide);
        let at = nl_local(crate::sip::unix_ms());
        let routed = route::route_explained(&org, &caller, &number, at);
        let rule = routed
            .rule
            .and_then(|i| org.belplan.rules.get(i))
            .map(|r| r.name.clone().unwrap_or_default());
        tracing::debug!(%tenant, %call, nummer = %number, regel = ?rule, "belplan");
        self.decision_target(&org, routed.decision, &ext.number, call, true, now)
    }

    /// What a decision means for the call core.
    fn decision_target(
        &mut self,
        org: &TenantBundle,
        decision: Decision,
        by: &str,
        call: &CallRef,
        initial: bool,
        now: Instant,
    ) -> Routed {
        let tenant = org.tenant.slug.clone();
        match decision {
            Decision::Extension(n) => Routed::to(Target::Extension(self.callee_info(&tenant, &n))),
            Decision::Belgroep(n) => Routed::to(self.ring_group_target(org, &n)),
            Decision::Queue(n) => Routed::to(self.queue_target(org, &n)),
            Decision::Announcement(p) if initial => Routed::local(LocalApp::Announce { prompt: p }),
            Decision::Keuzemenu(m) if initial => Routed::local(LocalApp::Menu(m)),
            // A forward to pbxd's own media (after B legs had A's offer) is not supported.
            Decision::Announcement(_) | Decision::Keuzemenu(_) => Routed::to(Target::Reject(480)),
            Decision::Outside(o) => {
                let verdict = {
                    self.calls
                        .guard
                        .set_limits(&tenant, GuardLimits::of(&org.tenant));
                    self.calls.guard.check(&tenant, o.class, now)
                };
                if let Verdict::Blocked(b) = verdict {
                    return self.refuse(&tenant, by, call, b.refusal(), initial);
                }
                let number = o
                    .e164
                    .as_ref()
                    .map(|e| e.as_str().to_string())
                    .unwrap_or_else(|| o.national.clone());
                let steps = o
                    .trunks
                    .iter()
                    .map(|t| HuntStep {
                        label: t.name.clone(),
                        contacts: vec![trunk_contact(
                            &tenant,
                            &t.name,
                            &number,
                            t.caller_id.as_ref(),
                            o.anonymous,
                        )],
                        ring: OUTSIDE_RING,
                    })
                    .collect();
                Routed {
                    target: Target::Hunt(Hunt {
                        kind: HuntKind::Trunks,
                        steps,
                        fallback: None,
                    }),
                    direction: Direction::Uitgaand,
                    emergency: false,
                    app: None,
                    outside: Some(o.class),
                }
            }
            Decision::Emergency(e) => {
                tracing::warn!(%tenant, toestel = %by, gekozen = %e.dialled, "alarmnummer 112 gebeld");
                self.audit_refusal(
                    &tenant,
                    by,
                    "call.emergency",
                    &Msg::new("route.emergency").arg("dialled", &e.dialled),
                );
                let steps = e
                    .trunks
                    .iter()
                    .map(|t| HuntStep {
                        label: t.name.clone(),
                        contacts: vec![trunk_contact(
                            &tenant,
                            &t.name,
                            e.national,
                            t.caller_id.as_ref(),
                            false,
                        )],
                        ring: OUTSIDE_RING,
                    })
                    .collect();
                Routed {
                    target: Target::Hunt(Hunt {
                        kind: HuntKind::Trunks,
                        steps,
                        fallback: None,
                    }),
                    direction: Direction::Uitgaand,
                    emergency: true,
                    app: None,
                    outside: Some(NumberClass::Alarm),
                }
            }
            Decision::Refuse(r) => self.refuse(&tenant, by, call, r, initial),
        }
    }

    /// A refusal: audit entry when asked, the announcement before the final status.
    fn refuse(
        &mut self,
        tenant: &str,
        by: &str,
        call: &CallRef,
        r: Refusal,
        initial: bool,
    ) -> Routed {
        tracing::info!(%tenant, %call, toestel = %by, code = r.code, reden = %r.reason, "gesprek geweigerd");
        if r.audit {
            self.audit_refusal(tenant, by, "call.refused", &r.reason);
        }
        match r.prompt {
            Some(p) if initial => Routed::local(LocalApp::Refuse {
                prompt: p.to_string(),
                code: r.code,
            }),
            _ => Routed::to(Target::Reject(r.code)),
        }
    }

    /// An audit entry for a refused (or emergency) call, at most one per
    /// [`REFUSAL_AUDIT_EVERY`] per organisation, extension and reason.
    fn audit_refusal(&mut self, tenant: &str, by: &str, action: &str, reason: &Msg) {
        let now = Instant::now();
        let key = (tenant.to_string(), format!("{by}/{}", reason.key()));
        if action != "call.emergency"
            && self
                .calls
                .refusal_audited
                .get(&key)
                .is_some_and(|t| now.duration_since(*t) < REFUSAL_AUDIT_EVERY)
        {
            return;
        }
        if self.calls.refusal_audited.len() > 10_000 {
            self.calls.refusal_audited.clear();
        }
        self.calls.refusal_audited.insert(key, now);
        let text = reason.to_string();
        let after = serde_json::json!({ "extension": by, "reason": text });
        self.audit_pbxd(action, tenant, format!("{by}: {text}"), after);
    }

    /// A belgroep as a hunt: all members at once, or one after the other.
    fn ring_group_target(&self, org: &TenantBundle, number: &str) -> Target {
        let Some(g) = org.ring_groups.iter().find(|g| g.number == number) else {
            return Target::Reject(404);
        };
        let ring = Duration::from_secs(u64::from(g.timeout_secs));
        let contacts = |ext: &str| {
            self.callee_info(&org.tenant.slug, ext)
                .map(|c| c.contacts)
                .unwrap_or_default()
        };
        let steps = match g.strategy {
            RingStrategy::Simultaan => vec![HuntStep {
                label: g.number.clone(),
                contacts: g.members.iter().flat_map(|m| contacts(m)).collect(),
                ring,
            }],
            RingStrategy::Opvolgend => g
                .members
                .iter()
                .map(|m| HuntStep {
                    label: m.clone(),
                    contacts: contacts(m),
                    ring,
                })
                .collect(),
        };
        Target::Hunt(Hunt {
            kind: HuntKind::Group,
            steps,
            fallback: g.fallback.as_ref().map(action_text),
        })
    }

    /// A queue until queues have their own behaviour: its members' extensions ring at once for
    /// the queue's ring time, then the overflow.
    fn queue_target(&self, org: &TenantBundle, number: &str) -> Target {
        let Some(q) = org.queues.iter().find(|q| q.number == number) else {
            return Target::Reject(404);
        };
        let contacts = q
            .members
            .iter()
            .flat_map(|m| {
                org.extensions
                    .iter()
                    .filter(|e| e.owner.as_deref() == Some(m.user.as_str()))
                    .flat_map(|e| {
                        self.callee_info(&org.tenant.slug, &e.number)
                            .map(|c| c.contacts)
                            .unwrap_or_default()
                    })
            })
            .collect();
        Target::Hunt(Hunt {
            kind: HuntKind::Group,
            steps: vec![HuntStep {
                label: q.number.clone(),
                contacts,
                ring: Duration::from_secs(u64::from(q.ring_timeout_secs)),
            }],
            fallback: q.overflow.as_ref().map(action_text),
        })
    }

    /// Resolves a forward target or fallback (`Action::NeedTarget`) for the call core.
    pub(crate) fn resolve_forward(
        &mut self,
        call: &CallRef,
        number: &str,
        by: &str,
        now: Instant,
    ) -> Target {
        let Some(tenant) = self.calls.a.get(call).map(|a| a.tenant.clone()) else {
            return Target::Reject(480);
        };
        let Some(org) = self.bundle(&tenant) else {
            return Target::Reject(500);
        };
        let decision = match parse_action_text(number) {
            Some(a) => action_decision(a),
            None => {
                // The forwarding extension's owner dials the number.
                let caller = match org.extensions.iter().find(|e| e.number == by) {
                    Some(ext) => self.caller_of(&org, ext, false),
                    None => Caller {
                        extension: by.to_string(),
                        permission: CallPermission::nationaal(),
                        number: None,
                        anonymous: false,
                    },
                };
                route::route(&org, &caller, number, nl_local(crate::sip::unix_ms()))
            }
        };
        let routed = self.decision_target(&org, decision, by, call, false, now);
        if let Some(class) = routed.outside {
            self.calls.guard.started(call.clone(), &tenant, class, now);
        }
        routed.target
    }

    /// Where a call from a trunk goes: the organisation of the DID and its inbound route.
    /// `Err` with the status to refuse it with.
    pub(crate) fn route_from_trunk(
        &mut self,
        trunk: &(String, String),
        req: &Request,
        call: &CallRef,
        now: Instant,
    ) -> Result<(Routed, E164), u16> {
        let ruri = user_host(&req.uri.to_string()).map(|(u, _)| u);
        let candidates = [
            ruri,
            header_number(req, "p-called-party-id"),
            header_number(req, "to"),
            header_number(req, "diversion"),
        ];
        let Some(org) = self.bundle(&trunk.0) else {
            return Err(500);
        };
        let delivered = org
            .trunks
            .iter()
            .find(|t| t.name == trunk.1)
            .map(|t| t.dids.clone())
            .unwrap_or_default();
        // The first candidate that is one of the trunk's DIDs; numbers are compared in E.164.
        let did = candidates
            .iter()
            .flatten()
            .filter_map(|n| E164::normalise(n).ok())
            .find(|d| delivered.contains(d));
        let Some(did) = did else {
            self.count(|c| c.unknown_did += 1);
            tracing::info!(tenant = %trunk.0, trunk = %trunk.1, nummer = ?candidates[0], "inkomend gesprek voor een onbekend nummer: 404");
            return Err(404);
        };
        let routed = route::route_inbound(&org, &did, nl_local(crate::sip::unix_ms()));
        let mut r = self.decision_target(&org, routed.decision, did.as_str(), call, true, now);
        r.direction = Direction::Inkomend;
        Ok((r, did))
    }

    /// pbxd's part starts (`Action::Local`): answer or send early media, and play.
    pub(crate) fn start_local(&mut self, call: &CallRef, now: Instant) {
        let clock = super::clock();
        let Some(app) = self.calls.pending_app.remove(call) else {
            let _ = self.calls.core.handle_forward_failed(call, 480, clock);
            return;
        };
        let offer = self
            .calls
            .a
            .get(call)
            .and_then(|a| super::body_sdp(&a.invite.body));
        let tenant = self
            .calls
            .a
            .get(call)
            .map(|a| a.tenant.clone())
            .unwrap_or_default();
        let answer = match (offer, self.relay_for(call)) {
            (Some(o), Some(relay)) => relay.answer_locally(&o),
            _ => None,
        };
        match app {
            LocalApp::Refuse { prompt, code } => {
                let Some(sdp) = answer else {
                    let _ = self.calls.core.handle_forward_failed(call, code, clock);
                    return;
                };
                if !self.play(call, &tenant, &[prompt], false) {
                    let _ = self.calls.core.handle_forward_failed(call, code, clock);
                    return;
                }
                let _ = self.calls.core.handle_early(call, Some(sdp), clock);
                self.calls
                    .running
                    .insert(call.clone(), Running::Refuse { code });
            }
            LocalApp::Announce { prompt } => {
                let Some(sdp) = answer else {
                    let _ = self.calls.core.handle_forward_failed(call, 480, clock);
                    return;
                };
                if !self.play(call, &tenant, &[prompt], false) {
                    let _ = self.calls.core.handle_forward_failed(call, 480, clock);
                    return;
                }
                let _ = self.calls.core.handle_local_answer(call, Some(sdp), clock);
                self.calls.running.insert(call.clone(), Running::Announce);
            }
            LocalApp::Menu(name) => {
                let menu = self
                    .bundle(&tenant)
                    .and_then(|o| o.belplan.menus.iter().find(|m| m.name == name).cloned());
                let (Some(sdp), Some(menu)) = (answer, menu) else {
                    let _ = self.calls.core.handle_forward_failed(call, 480, clock);
                    return;
                };
                let (run, step) = MenuRun::start(menu);
                let _ = self.calls.core.handle_local_answer(call, Some(sdp), clock);
                tracing::info!(%tenant, %call, menu = %run.name(), "keuzemenu");
                self.calls.running.insert(call.clone(), Running::Menu(run));
                self.menu_step(call, step, now);
            }
        }
    }

    /// Plays prompts on a call; false when one cannot be loaded.
    fn play(&mut self, call: &CallRef, tenant: &str, prompts: &[String], looping: bool) -> bool {
        let mut samples = Vec::with_capacity(prompts.len());
        for p in prompts {
            match self.calls.prompts.get(p) {
                Ok(s) => samples.push(s),
                Err(e) => {
                    tracing::warn!(%tenant, %call, fout = %e, "aankondiging niet te laden");
                    return false;
                }
            }
        }
        match self.calls.relays.get(call) {
            Some(r) => {
                r.play(samples, looping);
                true
            }
            None => false,
        }
    }

    /// Does what a keuzemenu asks.
    fn menu_step(&mut self, call: &CallRef, step: MenuStep, now: Instant) {
        let clock = super::clock();
        let tenant = self
            .calls
            .a
            .get(call)
            .map(|a| a.tenant.clone())
            .unwrap_or_default();
        match step {
            MenuStep::Play(list) => {
                if !self.play(call, &tenant, &list, false) {
                    let _ =
                        self.calls
                            .core
                            .handle_hangup(call, pbx_model::HangupBy::Systeem, clock);
                }
            }
            MenuStep::End => {
                self.calls.running.remove(call);
                let _ = self
                    .calls
                    .core
                    .handle_hangup(call, pbx_model::HangupBy::Systeem, clock);
            }
            MenuStep::Go(action) => {
                tracing::info!(%tenant, %call, keuze = %action.describe(), "keuzemenu: keuze");
                let Some(org) = self.bundle(&tenant) else {
                    let _ =
                        self.calls
                            .core
                            .handle_hangup(call, pbx_model::HangupBy::Systeem, clock);
                    return;
                };
                let routed =
                    self.decision_target(&org, action_decision(action), "", call, true, now);
                match (routed.target, routed.app) {
                    (pbx_engine::call::Target::Local, Some(LocalApp::Menu(name))) => {
                        match org.belplan.menus.iter().find(|m| m.name == name).cloned() {
                            Some(menu) => {
                                let (run, step) = MenuRun::start(menu);
                                self.calls.running.insert(call.clone(), Running::Menu(run));
                                self.menu_step(call, step, now);
                            }
                            None => {
                                let _ = self.calls.core.handle_hangup(
                                    call,
                                    pbx_model::HangupBy::Systeem,
                                    clock,
                                );
                            }
                        }
                    }
                    (
                        pbx_engine::call::Target::Local,
                        Some(LocalApp::Announce { prompt } | LocalApp::Refuse { prompt, .. }),
                    ) => {
                        if self.play(call, &tenant, &[prompt], false) {
                            self.calls.running.insert(call.clone(), Running::Announce);
                        } else {
                            let _ = self.calls.core.handle_hangup(
                                call,
                                pbx_model::HangupBy::Systeem,
                                clock,
                            );
                        }
                    }
                    (target, _) => {
                        self.calls.running.remove(call);
                        let offer = self.calls.relays.get_mut(call).and_then(|r| {
                            r.stop_playing();
                            r.connect_b()
                        });
                        if self
                            .calls
                            .core
                            .handle_transfer(call, target, offer, clock)
                            .is_err()
                        {
                            let _ = self.calls.core.handle_hangup(
                                call,
                                pbx_model::HangupBy::Systeem,
                                clock,
                            );
                        }
                    }
                }
            }
        }
    }

    /// A key from SIP INFO (or the relay) on a call pbxd runs a keuzemenu on.
    pub(crate) fn local_digit(&mut self, call: &CallRef, key: char, now: Instant) {
        let step = match self.calls.running.get_mut(call) {
            Some(Running::Menu(run)) => run.digit(key),
            _ => None,
        };
        if let Some(step) = step {
            self.menu_step(call, step, now);
        }
        self.drain_calls(now);
    }

    /// Every 20 ms: media events of the calls pbxd plays to, menu timeouts, toll-fraud events.
    pub(crate) fn poll_local(&mut self, now: Instant) {
        let calls: Vec<CallRef> = self.calls.running.keys().cloned().collect();
        for call in calls {
            let events = match self.calls.relays.get(&call) {
                Some(r) => r.take_events(),
                None => Vec::new(),
            };
            for ev in events {
                match ev {
                    crate::relay::MediaEvent::Digit(d) => self.local_digit(&call, d, now),
                    crate::relay::MediaEvent::PlayFinished => self.local_finished(&call, now),
                }
            }
            let step = match self.calls.running.get_mut(&call) {
                Some(Running::Menu(run)) if run.deadline().is_some_and(|t| now >= t) => {
                    run.poll(now)
                }
                _ => None,
            };
            if let Some(step) = step {
                self.menu_step(&call, step, now);
            }
        }
        let clock = super::clock();
        self.calls.guard.handle_timeout(now);
        while let Some(ev) = self.calls.guard.poll_event() {
            match ev {
                GuardEvent::Alarm {
                    tenant,
                    blocked,
                    total_blocked,
                } => {
                    tracing::warn!(%tenant, limiet = blocked.limit.as_str(), max = blocked.max, "belfraudebewaking: gesprekken geblokkeerd");
                    let after = serde_json::json!({
                        "limit": blocked.limit.as_str(),
                        "max": blocked.max,
                        "blocked_total": total_blocked,
                    });
                    self.audit_pbxd("call.toll_fraud", &tenant, blocked.msg().to_string(), after);
                    let _ = self.app.events.send(pbx_api::Event::TollFraud {
                        tenant,
                        limit: blocked.limit.as_str().to_string(),
                        max: blocked.max,
                        blocked_total: total_blocked,
                    });
                }
                GuardEvent::MaxDuration { call, tenant } => {
                    tracing::info!(%tenant, %call, "buitengesprek op de maximale duur: opgehangen");
                    let _ =
                        self.calls
                            .core
                            .handle_hangup(&call, pbx_model::HangupBy::Systeem, clock);
                }
            }
        }
        self.calls.publish_guard(now);
        self.drain_calls(now);
    }

    fn local_finished(&mut self, call: &CallRef, now: Instant) {
        let clock = super::clock();
        match self.calls.running.get_mut(call) {
            Some(Running::Refuse { code }) => {
                let code = *code;
                self.calls.running.remove(call);
                let _ = self.calls.core.handle_forward_failed(call, code, clock);
            }
            Some(Running::Announce) => {
                self.calls.running.remove(call);
                let _ = self
                    .calls
                    .core
                    .handle_hangup(call, pbx_model::HangupBy::Systeem, clock);
            }
            Some(Running::Menu(run)) => run.finished(now),
            None => {}
        }
    }
}

impl CallGlue {
    /// Publishes the toll-fraud counters for the control API (at most once a second).
    fn publish_guard(&mut self, now: Instant) {
        if now.saturating_duration_since(self.guard_published) < Duration::from_secs(1) {
            return;
        }
        self.guard_published = now;
        let snap = self.guard.snapshot(now);
        if let Ok(mut s) = self.guard_shared.lock() {
            *s = snap;
        }
    }
}

/// A belplan action as a forward target: the number itself for an extension, else
/// `kind:value` as `pbxctl` writes actions (shown like that in the CDR's forward list).
fn action_text(a: &PlanAction) -> String {
    match a {
        PlanAction::Extension(n) => n.clone(),
        PlanAction::Queue(n) => format!("wachtrij:{n}"),
        PlanAction::Belgroep(n) => format!("belgroep:{n}"),
        PlanAction::Trunks(t) => format!("trunks:{}", t.join(",")),
        PlanAction::Announcement(p) => format!("aankondiging:{p}"),
        PlanAction::Keuzemenu(m) => format!("keuzemenu:{m}"),
        PlanAction::Hangup(c) => format!("ophangen:{c}"),
    }
}

fn parse_action_text(s: &str) -> Option<PlanAction> {
    let (kind, v) = s.split_once(':')?;
    Some(match kind {
        "wachtrij" => PlanAction::Queue(v.into()),
        "belgroep" => PlanAction::Belgroep(v.into()),
        "aankondiging" => PlanAction::Announcement(v.into()),
        "keuzemenu" => PlanAction::Keuzemenu(v.into()),
        "ophangen" => PlanAction::Hangup(v.parse().ok()?),
        "trunks" => PlanAction::Trunks(v.split(',').map(String::from).collect()),
        _ => return None,
    })
}

/// A belplan action chosen inside the organisation (keuzemenu, fallback, overflow) as a
/// decision: internal targets need no permission; trunks are refused (an inside choice never
/// sends a call out).
fn action_decision(a: PlanAction) -> Decision {
    match a {
        PlanAction::Extension(n) => Decision::Extension(n),
        PlanAction::Queue(n) => Decision::Queue(n),
        PlanAction::Belgroep(n) => Decision::Belgroep(n),
        PlanAction::Announcement(p) => Decision::Announcement(p),
        PlanAction::Keuzemenu(m) => Decision::Keuzemenu(m),
        PlanAction::Hangup(code) => Decision::Refuse(Refusal {
            code,
            reason: Msg::new("route.rule_hangup").arg("code", code),
            prompt: None,
            audit: false,
        }),
        PlanAction::Trunks(_) => {
            Decision::Refuse(Refusal::forbidden(Msg::new("route.inbound_to_trunks")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trunk_contacts_round_trip() {
        let cid = E164::parse("+31201234567").ok();
        let c = trunk_contact("acme", "kpn", "+31612345678", cid.as_ref(), true);
        let t = parse_trunk_contact(&c).unwrap_or_else(|| unreachable!());
        assert_eq!(
            (t.tenant.as_str(), t.trunk.as_str(), t.number.as_str()),
            ("acme", "kpn", "+31612345678")
        );
        assert_eq!(t.caller_id.as_deref(), Some("+31201234567"));
        assert!(t.anonymous);
        assert!(parse_trunk_contact(&ContactRef("udp:1.2.3.4:5060\nsip:x@y".into())).is_none());
    }

    #[test]
    fn anonymous_prefixes_and_action_texts() {
        assert_eq!(
            strip_anonymous("*31*0612345678"),
            ("0612345678".into(), true)
        );
        assert_eq!(
            strip_anonymous("#31#0612345678"),
            ("0612345678".into(), true)
        );
        assert_eq!(strip_anonymous("0612345678"), ("0612345678".into(), false));
        for a in [
            PlanAction::Queue("500".into()),
            PlanAction::Belgroep("600".into()),
            PlanAction::Keuzemenu("hoofd".into()),
            PlanAction::Hangup(486),
        ] {
            assert_eq!(parse_action_text(&action_text(&a)), Some(a));
        }
        assert_eq!(action_text(&PlanAction::Extension("1001".into())), "1001");
        assert_eq!(parse_action_text("1001"), None);
    }
}

/// The encoding name of a codec in SDP (`a=rtpmap`), lowercase.
fn encoding_name(c: pbx_model::Codec) -> &'static str {
    match c {
        pbx_model::Codec::Pcma => "pcma",
        pbx_model::Codec::Pcmu => "pcmu",
        pbx_model::Codec::G722 => "g722",
        pbx_model::Codec::Opus => "opus",
        pbx_model::Codec::TelephoneEvent => "telephone-event",
    }
}

/// An offer for a trunk with only the trunk's codecs in its first audio stream (in the offer's
/// order; formats without an `a=rtpmap` are known by their static payload type: 0 PCMU, 8 PCMA,
/// 9 G722). `None` when no audio codec of the trunk is left.
pub(crate) fn restrict_codecs(sdp: &str, allowed: &[pbx_model::Codec]) -> Option<String> {
    let lines: Vec<&str> = sdp.lines().collect();
    let Some(m_idx) = lines.iter().position(|l| l.starts_with("m=audio ")) else {
        return Some(sdp.to_string());
    };
    let end = lines[m_idx + 1..]
        .iter()
        .position(|l| l.starts_with("m="))
        .map_or(lines.len(), |p| m_idx + 1 + p);
    let rtpmap = |pt: &str| {
        lines[m_idx + 1..end].iter().find_map(|l| {
            let rest = l.strip_prefix("a=rtpmap:")?;
            let (p, enc) = rest.split_once(' ')?;
            (p == pt).then(|| {
                enc.split('/')
                    .next()
                    .unwrap_or_default()
                    .to_ascii_lowercase()
            })
        })
    };
    let name_of = |pt: &str| {
        rtpmap(pt).or_else(|| {
            match pt {
                "0" => Some("pcmu"),
                "8" => Some("pcma"),
                "9" => Some("g722"),
                _ => None,
            }
            .map(String::from)
        })
    };
    let allowed_names: Vec<&str> = allowed.iter().map(|c| encoding_name(*c)).collect();
    let mut parts = lines[m_idx].split(' ');
    let head: Vec<&str> = parts.by_ref().take(3).collect();
    let formats: Vec<&str> = parts.collect();
    let keep: Vec<&str> = formats
        .iter()
        .copied()
        .filter(|pt| name_of(pt).is_some_and(|n| allowed_names.contains(&n.as_str())))
        .collect();
    let audio = keep
        .iter()
        .any(|pt| name_of(pt).is_some_and(|n| n != "telephone-event"));
    if !audio || head.len() < 3 {
        return None;
    }
    let dropped = |l: &str| {
        ["a=rtpmap:", "a=fmtp:", "a=rtcp-fb:"].iter().any(|p| {
            l.strip_prefix(p)
                .and_then(|r| r.split([' ', ':']).next())
                .is_some_and(|pt| formats.contains(&pt) && !keep.contains(&pt))
        })
    };
    let mut out = String::with_capacity(sdp.len());
    for (i, l) in lines.iter().enumerate() {
        if i == m_idx {
            out.push_str(&format!("{} {}", head.join(" "), keep.join(" ")));
        } else if i > m_idx && i < end && dropped(l) {
            continue;
        } else {
            out.push_str(l);
        }
        out.push_str("\r\n");
    }
    Some(out)
}

#[cfg(test)]
mod codec_tests {
    use super::restrict_codecs;
    use pbx_model::Codec;

    const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 111 9 0 8 101\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 useinbandfec=1\r\na=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n";

    #[test]
    fn only_the_trunks_codecs_stay_in_the_offers_order() {
        let out = restrict_codecs(OFFER, &[Codec::Pcma, Codec::Pcmu, Codec::TelephoneEvent])
            .unwrap_or_default();
        assert!(out.contains("m=audio 4000 RTP/AVP 0 8 101\r\n"), "{out}");
        assert!(!out.contains("opus") && !out.contains("G722"), "{out}");
        assert!(
            out.contains("a=fmtp:101 0-16") && out.contains("a=ptime:20"),
            "{out}"
        );
    }

    #[test]
    fn no_common_audio_codec_gives_none() {
        assert_eq!(restrict_codecs(OFFER, &[Codec::TelephoneEvent]), None);
        let opus_only = OFFER.replace("RTP/AVP 111 9 0 8 101", "RTP/AVP 111");
        assert_eq!(restrict_codecs(&opus_only, &[Codec::Pcma]), None);
    }
}
