//! Paths of the control API.

use std::collections::BTreeMap;

/// HTTP methods the API uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
}

impl Method {
    /// Parses a method name.
    pub fn parse(s: &str) -> Option<Method> {
        Some(match s {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            _ => return None,
        })
    }

    /// The method name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// Every endpoint; `{t}` is an organisation slug.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `GET /v1/status`
    Status,
    /// `GET|POST /v1/tenants`
    Tenants,
    /// `GET|PATCH|DELETE /v1/tenants/{t}`
    Tenant(String),
    /// `POST /v1/tenants/{t}/suspend`
    TenantSuspend(String),
    /// `POST /v1/tenants/{t}/resume`
    TenantResume(String),
    /// `GET|POST /v1/tenants/{t}/users`
    Users(String),
    /// `GET|PATCH|DELETE /v1/tenants/{t}/users/{u}`
    User(String, String),
    /// `POST /v1/tenants/{t}/users/{u}/password`
    UserPassword(String, String),
    /// `POST /v1/tenants/{t}/users/{u}/lock`
    UserLock(String, String),
    /// `POST /v1/tenants/{t}/users/{u}/unlock`
    UserUnlock(String, String),
    /// `POST /v1/tenants/{t}/users/{u}/totp`
    UserTotp(String, String),
    /// `GET|POST /v1/tenants/{t}/extensions`
    Extensions(String),
    /// `GET|PATCH|DELETE /v1/tenants/{t}/extensions/{n}`
    Extension(String, String),
    /// `POST /v1/tenants/{t}/extensions/{n}/reset-password`
    ExtensionResetPassword(String, String),
    /// `GET|POST /v1/tenants/{t}/trunks`
    Trunks(String),
    /// `GET|PATCH|DELETE /v1/tenants/{t}/trunks/{name}`
    Trunk(String, String),
    /// `GET|POST /v1/tenants/{t}/queues`
    Queues(String),
    /// `GET|PATCH|DELETE /v1/tenants/{t}/queues/{n}`
    Queue(String, String),
    /// `POST /v1/tenants/{t}/queues/{n}/members`
    QueueMembers(String, String),
    /// `GET /v1/tenants/{t}/ring-groups`
    RingGroups(String),
    /// `GET|PUT /v1/tenants/{t}/belplan`
    Belplan(String),
    /// `GET /v1/tenants/{t}/contacts?offset&limit&q&phone`
    Contacts(String),
    /// `POST /v1/tenants/{t}/contacts/import`
    ContactsImport(String),
    /// `GET /v1/registrations?tenant`
    Registrations,
    /// `GET /v1/trunk-status?tenant`: registration and keep-alive state of the trunks
    TrunkStatus,
    /// `GET /v1/toll-fraud?tenant`: the toll-fraud guard's counters per organisation
    TollFraud,
    /// `GET /v1/agents?tenant`: softphone agents with their status
    Agents,
    /// `GET /v1/queue-status?tenant`: the wachtrijen live (waiting, members, today)
    QueueStatus,
    /// `GET /v1/alarms?tenant`: the alarms
    Alarms,
    /// `GET /v1/history?per&tenant&trunk&from_ms&to_ms`: roll-ups
    History,
    /// `POST /v1/alarms/{id}/ack`
    AlarmAck(String),
    /// `POST /v1/alarms/{id}/silence?secs`
    AlarmSilence(String),
    /// `GET /v1/cdr?tenant&from_ms&to_ms&number&afloop&limit`
    Cdrs,
    /// `GET /v1/cdr/{t}/{id}`
    Cdr(String, String),
    /// `GET /v1/calls?tenant`
    Calls,
    /// `POST /v1/calls/{id}/hangup`
    CallHangup(String),
    /// `GET /v1/trace/{call-id}`
    Trace(String),
    /// `GET /v1/export?secrets=true`
    Export,
    /// `POST /v1/import`
    Import,
    /// `GET /v1/audit?tenant&limit`
    Audit,
    /// `POST /v1/reload`
    Reload,
    /// `POST /v1/plan`
    Plan,
    /// `POST /v1/apply`
    Apply,
    /// `GET /v1/events`
    Events,
}

impl Route {
    /// Parses a path (without query string).
    pub fn parse(path: &str) -> Option<Route> {
        let rest = path.strip_prefix("/v1/")?;
        let parts: Vec<&str> = rest.split('/').collect();
        if parts.iter().any(|p| p.is_empty() || p.len() > 128) {
            return None;
        }
        let s = |i: usize| decode_with(parts[i], false);
        Some(match parts.as_slice() {
            ["status"] => Route::Status,
            ["tenants"] => Route::Tenants,
            ["tenants", _] => Route::Tenant(s(1)),
            ["tenants", _, "suspend"] => Route::TenantSuspend(s(1)),
            ["tenants", _, "resume"] => Route::TenantResume(s(1)),
            ["tenants", _, "users"] => Route::Users(s(1)),
            ["tenants", _, "users", _] => Route::User(s(1), s(3)),
            ["tenants", _, "users", _, "password"] => Route::UserPassword(s(1), s(3)),
            ["tenants", _, "users", _, "lock"] => Route::UserLock(s(1), s(3)),
            ["tenants", _, "users", _, "unlock"] => Route::UserUnlock(s(1), s(3)),
            ["tenants", _, "users", _, "totp"] => Route::UserTotp(s(1), s(3)),
            ["tenants", _, "extensions"] => Route::Extensions(s(1)),
            ["tenants", _, "extensions", _] => Route::Extension(s(1), s(3)),
            ["tenants", _, "extensions", _, "reset-password"] => {
                Route::ExtensionResetPassword(s(1), s(3))
            }
            ["tenants", _, "trunks"] => Route::Trunks(s(1)),
            ["tenants", _, "trunks", _] => Route::Trunk(s(1), s(3)),
            ["tenants", _, "queues"] => Route::Queues(s(1)),
            ["tenants", _, "queues", _] => Route::Queue(s(1), s(3)),
            ["tenants", _, "queues", _, "members"] => Route::QueueMembers(s(1), s(3)),
            ["tenants", _, "ring-groups"] => Route::RingGroups(s(1)),
            ["tenants", _, "belplan"] => Route::Belplan(s(1)),
            ["tenants", _, "contacts"] => Route::Contacts(s(1)),
            ["tenants", _, "contacts", "import"] => Route::ContactsImport(s(1)),
            ["registrations"] => Route::Registrations,
            ["trunk-status"] => Route::TrunkStatus,
            ["toll-fraud"] => Route::TollFraud,
            ["agents"] => Route::Agents,
            ["queue-status"] => Route::QueueStatus,
            ["alarms"] => Route::Alarms,
            ["history"] => Route::History,
            ["alarms", _, "ack"] => Route::AlarmAck(s(1)),
            ["alarms", _, "silence"] => Route::AlarmSilence(s(1)),
            ["cdr"] => Route::Cdrs,
            ["cdr", _, _] => Route::Cdr(s(1), s(2)),
            ["calls"] => Route::Calls,
            ["calls", _, "hangup"] => Route::CallHangup(s(1)),
            ["trace", _] => Route::Trace(s(1)),
            ["export"] => Route::Export,
            ["import"] => Route::Import,
            ["audit"] => Route::Audit,
            ["reload"] => Route::Reload,
            ["plan"] => Route::Plan,
            ["apply"] => Route::Apply,
            ["events"] => Route::Events,
            _ => return None,
        })
    }

    /// The path of the route.
    pub fn path(&self) -> String {
        match self {
            Route::Status => "/v1/status".into(),
            Route::Tenants => "/v1/tenants".into(),
            Route::Tenant(t) => format!("/v1/tenants/{t}"),
            Route::TenantSuspend(t) => format!("/v1/tenants/{t}/suspend"),
            Route::TenantResume(t) => format!("/v1/tenants/{t}/resume"),
            Route::Users(t) => format!("/v1/tenants/{t}/users"),
            Route::User(t, u) => format!("/v1/tenants/{t}/users/{u}"),
            Route::UserPassword(t, u) => format!("/v1/tenants/{t}/users/{u}/password"),
            Route::UserLock(t, u) => format!("/v1/tenants/{t}/users/{u}/lock"),
            Route::UserUnlock(t, u) => format!("/v1/tenants/{t}/users/{u}/unlock"),
            Route::UserTotp(t, u) => format!("/v1/tenants/{t}/users/{u}/totp"),
            Route::Extensions(t) => format!("/v1/tenants/{t}/extensions"),
            Route::Extension(t, n) => format!("/v1/tenants/{t}/extensions/{n}"),
            Route::ExtensionResetPassword(t, n) => {
                format!("/v1/tenants/{t}/extensions/{n}/reset-password")
            }
            Route::Trunks(t) => format!("/v1/tenants/{t}/trunks"),
            Route::Trunk(t, n) => format!("/v1/tenants/{t}/trunks/{n}"),
            Route::Queues(t) => format!("/v1/tenants/{t}/queues"),
            Route::Queue(t, n) => format!("/v1/tenants/{t}/queues/{n}"),
            Route::QueueMembers(t, n) => format!("/v1/tenants/{t}/queues/{n}/members"),
            Route::RingGroups(t) => format!("/v1/tenants/{t}/ring-groups"),
            Route::Belplan(t) => format!("/v1/tenants/{t}/belplan"),
            Route::Contacts(t) => format!("/v1/tenants/{t}/contacts"),
            Route::ContactsImport(t) => format!("/v1/tenants/{t}/contacts/import"),
            Route::Registrations => "/v1/registrations".into(),
            Route::TrunkStatus => "/v1/trunk-status".into(),
            Route::TollFraud => "/v1/toll-fraud".into(),
            Route::Agents => "/v1/agents".into(),
            Route::QueueStatus => "/v1/queue-status".into(),
            Route::Alarms => "/v1/alarms".into(),
            Route::History => "/v1/history".into(),
            Route::AlarmAck(id) => format!("/v1/alarms/{}/ack", encode_segment(id)),
            Route::AlarmSilence(id) => format!("/v1/alarms/{}/silence", encode_segment(id)),
            Route::Cdrs => "/v1/cdr".into(),
            Route::Cdr(t, id) => format!("/v1/cdr/{t}/{id}"),
            Route::Calls => "/v1/calls".into(),
            Route::CallHangup(id) => format!("/v1/calls/{}/hangup", encode_segment(id)),
            Route::Trace(c) => format!("/v1/trace/{}", encode_segment(c)),
            Route::Export => "/v1/export".into(),
            Route::Import => "/v1/import".into(),
            Route::Audit => "/v1/audit".into(),
            Route::Reload => "/v1/reload".into(),
            Route::Plan => "/v1/plan".into(),
            Route::Apply => "/v1/apply".into(),
            Route::Events => "/v1/events".into(),
        }
    }

    /// The organisation the route is about, if any.
    pub fn tenant(&self) -> Option<&str> {
        match self {
            Route::Tenant(t)
            | Route::TenantSuspend(t)
            | Route::TenantResume(t)
            | Route::Users(t)
            | Route::User(t, _)
            | Route::UserPassword(t, _)
            | Route::UserLock(t, _)
            | Route::UserUnlock(t, _)
            | Route::UserTotp(t, _)
            | Route::Extensions(t)
            | Route::Extension(t, _)
            | Route::ExtensionResetPassword(t, _)
            | Route::Trunks(t)
            | Route::Trunk(t, _)
            | Route::Queues(t)
            | Route::Queue(t, _)
            | Route::QueueMembers(t, _)
            | Route::RingGroups(t)
            | Route::Belplan(t)
            | Route::Contacts(t)
            | Route::ContactsImport(t)
            | Route::Cdr(t, _) => Some(t),
            _ => None,
        }
    }

    /// The largest body the route accepts.
    pub fn max_body(&self) -> usize {
        match self {
            Route::Import | Route::ContactsImport(_) | Route::Plan | Route::Apply => {
                crate::MAX_IMPORT_BODY
            }
            _ => crate::MAX_BODY,
        }
    }
}

/// A parsed query string (`?a=1&b=x`), percent-decoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query(pub BTreeMap<String, String>);

impl Query {
    /// Parses the part after `?`.
    pub fn parse(q: &str) -> Query {
        let mut m = BTreeMap::new();
        for pair in q.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            m.insert(decode(k), decode(v));
        }
        Query(m)
    }

    /// A value.
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }

    /// A flag: present and not `false`/`0`.
    pub fn flag(&self, k: &str) -> bool {
        self.get(k).is_some_and(|v| v != "false" && v != "0")
    }

    /// A number, or the default when missing or unparsable.
    pub fn num(&self, k: &str, default: usize) -> usize {
        self.get(k).and_then(|v| v.parse().ok()).unwrap_or(default)
    }

    /// Encodes pairs as a query string (with `?`), empty when there are none.
    pub fn encode(pairs: &[(&str, &str)]) -> String {
        if pairs.is_empty() {
            return String::new();
        }
        let parts: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        format!("?{}", parts.join("&"))
    }
}

/// A path segment with `/`, `%`, `?`, `#` and spaces percent-encoded (Call-IDs may hold them).
fn encode_segment(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '/' | '%' | '?' | '#' | ' ' => out.push_str(&format!("%{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn decode(s: &str) -> String {
    decode_with(s, true)
}

/// Percent-decoding; `+` is a space only in query strings, not in paths.
fn decode_with(s: &str, plus_is_space: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' if plus_is_space => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
                {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_round_trip() {
        let all = [
            Route::Status,
            Route::Tenants,
            Route::Tenant("acme".into()),
            Route::User("acme".into(), "piet".into()),
            Route::ExtensionResetPassword("acme".into(), "1001".into()),
            Route::QueueMembers("acme".into(), "500".into()),
            Route::ContactsImport("acme".into()),
            Route::Registrations,
            Route::TrunkStatus,
            Route::TollFraud,
            Route::Agents,
            Route::QueueStatus,
            Route::Alarms,
            Route::History,
            Route::AlarmAck("lage_mos:acme".into()),
            Route::AlarmSilence("brute_force:198.51.100.7".into()),
            Route::Cdrs,
            Route::Cdr("acme".into(), "c1".into()),
            Route::Trace("a84b/4c76 e667%10+x@pc33.atlanta.com".into()),
            Route::Calls,
            Route::CallHangup("c-17".into()),
            Route::Events,
        ];
        for r in all {
            assert_eq!(Route::parse(&r.path()), Some(r.clone()), "{}", r.path());
        }
        assert_eq!(Route::parse("/v1/nope"), None);
        assert_eq!(Route::parse("/v2/status"), None);
        assert_eq!(Route::parse("/v1/tenants//users"), None);
    }

    #[test]
    fn queries() {
        let q = Query::parse("q=Jan+de%20Vries&force=true&limit=x&dry_run=0&bad=%zz&end=%4");
        assert_eq!(q.get("q"), Some("Jan de Vries"));
        assert!(q.flag("force") && !q.flag("dry_run") && !q.flag("missing"));
        assert_eq!(q.num("limit", 7), 7);
        assert_eq!(q.get("bad"), Some("%zz"));
        assert_eq!(q.get("end"), Some("%4"));
        let enc = Query::encode(&[("q", "a b&c"), ("phone", "+31")]);
        assert_eq!(
            Query::parse(enc.trim_start_matches('?')).get("q"),
            Some("a b&c")
        );
        assert_eq!(
            Query::parse(enc.trim_start_matches('?')).get("phone"),
            Some("+31")
        );
    }
}
