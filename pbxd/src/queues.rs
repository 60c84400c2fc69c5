//! The live state of the wachtrijen for `GET /v1/queue-status`, pbxtop's Wachtrijen tab and the
//! queue alarms.
//!
//! A queue rings its members' phones as a group (see `calls::routing`), so a caller "waits" while
//! the call for the queue's number rings, and "talks" once it is answered. The members' state
//! comes from the softphone (status and calls of each agent); the day's figures from the CDRs
//! of calls to the queue's number since midnight (UTC).

use pbx_api::{AgentInfo, CallInfo, QueueInfo};
use pbx_model::{Afloop, Cdr, Queue};

/// Seconds within which an answered call counts for the service level.
pub(crate) const SERVICE_LEVEL_SECS: u64 = 20;

/// The state of `queues` (of one organisation) from the live calls, the agents and the CDRs of
/// today.
pub(crate) fn status(
    queues: &[Queue],
    calls: &[CallInfo],
    agents: &[AgentInfo],
    cdrs_today: &[Cdr],
    now_ms: u64,
) -> Vec<QueueInfo> {
    queues
        .iter()
        .map(|q| {
            let mine = |c: &&CallInfo| c.tenant == q.tenant && c.callee.number == q.number;
            let waiting: Vec<&CallInfo> = calls
                .iter()
                .filter(mine)
                .filter(|c| c.state != "answered")
                .collect();
            let talking = calls
                .iter()
                .filter(mine)
                .filter(|c| c.state == "answered")
                .count();
            let longest_wait_s = waiting
                .iter()
                .map(|c| now_ms.saturating_sub(c.started_ms) / 1000)
                .max()
                .unwrap_or(0);
            let members: Vec<&AgentInfo> = q
                .members
                .iter()
                .filter_map(|m| {
                    agents
                        .iter()
                        .find(|a| a.tenant == q.tenant && a.user == m.user)
                })
                .collect();
            let logged_in = members.iter().filter(|a| a.status != "afgemeld").count();
            let available = members
                .iter()
                .filter(|a| a.status == "beschikbaar" && a.calls == 0)
                .count();
            let today: Vec<&Cdr> = cdrs_today
                .iter()
                .filter(|c| c.tenant == q.tenant && c.callee.number == q.number)
                .collect();
            let answered: Vec<&Cdr> = today
                .iter()
                .copied()
                .filter(|c| c.afloop == Afloop::Beantwoord)
                .collect();
            let lost = today
                .iter()
                .filter(|c| matches!(c.afloop, Afloop::Geannuleerd | Afloop::GeenAntwoord))
                .count();
            let waits: Vec<u64> = answered
                .iter()
                .filter_map(|c| c.answer_ms.map(|a| a.saturating_sub(c.start_ms)))
                .collect();
            let avg_wait_s = if waits.is_empty() {
                None
            } else {
                Some(waits.iter().sum::<u64>() / waits.len() as u64 / 1000)
            };
            let in_time = waits
                .iter()
                .filter(|w| **w <= SERVICE_LEVEL_SECS * 1000)
                .count();
            let service_level_pct = if today.is_empty() {
                None
            } else {
                Some((in_time * 100 / today.len()) as u32)
            };
            QueueInfo {
                tenant: q.tenant.clone(),
                number: q.number.clone(),
                name: q.name.clone(),
                strategy: q.strategy.name(),
                waiting: waiting.len() as u32,
                longest_wait_s,
                talking: talking as u32,
                members: q.members.len() as u32,
                logged_in: logged_in as u32,
                available: available as u32,
                offered_today: today.len() as u32,
                answered_today: answered.len() as u32,
                lost_today: lost as u32,
                avg_wait_s,
                service_level_pct,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pbx_model::{Direction, HangupBy, Member, Party};

    fn party(n: &str) -> Party {
        Party {
            number: n.into(),
            name: String::new(),
        }
    }

    fn call(id: &str, to: &str, state: &str, started_ms: u64) -> CallInfo {
        CallInfo {
            id: id.into(),
            call_id: String::new(),
            tenant: "acme".into(),
            caller: party("0612345678"),
            callee: party(to),
            forwarded_to: Vec::new(),
            state: state.into(),
            on_hold: false,
            started_ms,
            answered_ms: None,
            legs: Vec::new(),
            quality: Vec::new(),
            one_way: false,
            dead_air: false,
        }
    }

    fn agent(user: &str, status: &str, calls: u32) -> AgentInfo {
        AgentInfo {
            tenant: "acme".into(),
            user: user.into(),
            name: user.into(),
            extension: None,
            status: status.into(),
            reason: None,
            since_ms: 0,
            pages: 1,
            calls,
        }
    }

    fn cdr(to: &str, afloop: Afloop, start_ms: u64, answer_after_ms: Option<u64>) -> Cdr {
        Cdr {
            id: "x".into(),
            tenant: "acme".into(),
            call_id: "x".into(),
            caller: party("0612345678"),
            callee: party(to),
            forwarded_to: Vec::new(),
            direction: Direction::Inkomend,
            start_ms,
            answer_ms: answer_after_ms.map(|a| start_ms + a),
            end_ms: start_ms + 60_000,
            afloop,
            sip_code: 200,
            hangup_by: HangupBy::Beller,
            codecs: Vec::new(),
            legs: Vec::new(),
            trunk: None,
            attempts: Vec::new(),
            quality: None,
            notes: String::new(),
            afcodering: None,
        }
    }

    #[test]
    fn waiting_talking_members_and_the_day() {
        let mut q = Queue::new("acme", "500", "Klantenservice");
        for u in ["anna", "bert", "carla", "dirk"] {
            q.members.push(Member {
                user: u.into(),
                penalty: 0,
            });
        }
        let other = Queue::new("acme", "501", "Verkoop");
        let now = 1_000_000_000;
        let calls = [
            call("c1", "500", "ringing", now - 30_000),
            call("c2", "500", "routing", now - 5_000),
            call("c3", "500", "answered", now - 90_000),
            call("c4", "1001", "ringing", now - 60_000),
        ];
        let agents = [
            agent("anna", "beschikbaar", 0),
            agent("bert", "beschikbaar", 1),
            agent("carla", "pauze", 0),
            agent("dirk", "afgemeld", 0),
            agent("erik", "beschikbaar", 0),
        ];
        let cdrs = [
            cdr("500", Afloop::Beantwoord, now - 600_000, Some(10_000)),
            cdr("500", Afloop::Beantwoord, now - 500_000, Some(40_000)),
            cdr("500", Afloop::Geannuleerd, now - 400_000, None),
            cdr("500", Afloop::GeenAntwoord, now - 300_000, None),
            cdr("501", Afloop::Beantwoord, now - 300_000, Some(1_000)),
        ];
        let s = status(&[q, other], &calls, &agents, &cdrs, now);
        let k = &s[0];
        assert_eq!((k.waiting, k.longest_wait_s, k.talking), (2, 30, 1));
        assert_eq!((k.members, k.logged_in, k.available), (4, 3, 1));
        assert_eq!((k.offered_today, k.answered_today, k.lost_today), (4, 2, 2));
        assert_eq!(k.avg_wait_s, Some(25));
        // One of four within 20 s.
        assert_eq!(k.service_level_pct, Some(25));
        let v = &s[1];
        assert_eq!((v.waiting, v.talking, v.members), (0, 0, 0));
        assert_eq!((v.offered_today, v.service_level_pct), (1, Some(100)));
    }

    #[test]
    fn an_empty_day_has_no_averages() {
        let q = Queue::new("acme", "500", "Klantenservice");
        let s = status(&[q], &[], &[], &[], 1_000);
        assert_eq!(s[0].avg_wait_s, None);
        assert_eq!(s[0].service_level_pct, None);
    }
}
