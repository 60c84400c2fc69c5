//! Users of an organisation and their roles.

use crate::error::ModelError;
use crate::names::{check_text, check_username};
use crate::numbering::CallPermission;
use crate::secret::Sealed;
use pbx_i18n::Msg;
use serde::{Deserialize, Serialize};

/// What a user may do. Ordered from most to least rights.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Superadmin of the whole system.
    Beheerder,
    /// Administrator of one organisation.
    Organisatiebeheerder,
    /// Manager: reports and queues of the organisation.
    Manager,
    /// Supervisor: meeluisteren, influisteren, inbreken; agents' states.
    Supervisor,
    /// Agent: takes calls.
    Agent,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 5] = [
        Role::Beheerder,
        Role::Organisatiebeheerder,
        Role::Manager,
        Role::Supervisor,
        Role::Agent,
    ];

    /// The name in config and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Beheerder => "beheerder",
            Role::Organisatiebeheerder => "organisatiebeheerder",
            Role::Manager => "manager",
            Role::Supervisor => "supervisor",
            Role::Agent => "agent",
        }
    }

    /// Parses a role name.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// May a user of this role create, change or remove a user with role `other`?
    /// Nobody hands out more rights than they have; agents and supervisors manage nobody.
    pub fn may_manage(self, other: Role) -> bool {
        matches!(
            self,
            Role::Beheerder | Role::Organisatiebeheerder | Role::Manager
        ) && self <= other
    }

    /// May this role listen in on, whisper to or barge into agents' calls?
    pub fn may_supervise(self) -> bool {
        self <= Role::Supervisor
    }
}

/// Can the user log in?
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserState {
    /// May log in.
    #[default]
    Active,
    /// Locked by an administrator or after repeated failures.
    Locked,
}

/// A person who logs in: agent, supervisor, administrator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// Organisation slug.
    pub tenant: String,
    /// Login name, unique in the organisation.
    pub username: String,
    /// Full name.
    pub name: String,
    /// E-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Role.
    pub role: Role,
    /// argon2id hash of the password; `None` until a password is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    /// Sealed TOTP secret (base32), when two-factor login is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp: Option<Sealed>,
    /// Is TOTP on (shown without the secret)?
    #[serde(default)]
    pub totp_enabled: bool,
    /// What the user may call.
    #[serde(default)]
    pub permission: CallPermission,
    /// Active or locked.
    #[serde(default)]
    pub state: UserState,
}

impl User {
    /// The user without its secrets, for output.
    pub fn public(&self) -> User {
        User {
            password_hash: None,
            totp: None,
            ..self.clone()
        }
    }

    /// Checks the user's own fields.
    pub fn problems(&self) -> Vec<(&'static str, ModelError)> {
        let mut out = Vec::new();
        if let Err(e) = check_username(&self.username) {
            out.push(("username", e));
        }
        if let Err(e) = check_text("name", &self.name, 120) {
            out.push(("name", e));
        }
        if let Some(email) = &self.email {
            let ok = email.len() <= 254
                && email.split_once('@').is_some_and(|(l, d)| {
                    !l.is_empty()
                        && d.contains('.')
                        && !d.starts_with('.')
                        && !email.contains(char::is_whitespace)
                });
            if !ok {
                out.push((
                    "email",
                    ModelError::invalid(Msg::new("user.email").arg("value", email)),
                ));
            }
        }
        out
    }

    /// The first problem, if any.
    pub fn validate(&self) -> Result<(), ModelError> {
        match self.problems().into_iter().next() {
            Some((_, e)) => Err(e),
            None => Ok(()),
        }
    }
}

/// Minimum length of a login password.
pub const MIN_LOGIN_PASSWORD: usize = 10;

/// Checks a login password for length; the rest is argon2id's job.
pub fn check_login_password(pw: &str) -> Result<(), ModelError> {
    if pw.chars().count() < MIN_LOGIN_PASSWORD {
        return Err(ModelError::new(
            crate::error::ErrorCode::WeakPassword,
            Msg::new("user.password_short").arg("min", MIN_LOGIN_PASSWORD),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_hand_out_no_more_than_they_have() {
        assert!(Role::Beheerder.may_manage(Role::Organisatiebeheerder));
        assert!(Role::Organisatiebeheerder.may_manage(Role::Agent));
        assert!(!Role::Organisatiebeheerder.may_manage(Role::Beheerder));
        assert!(!Role::Supervisor.may_manage(Role::Agent));
        assert!(!Role::Agent.may_manage(Role::Agent));
        assert!(Role::Supervisor.may_supervise() && !Role::Agent.may_supervise());
        assert_eq!(Role::parse("supervisor"), Some(Role::Supervisor));
    }

    #[test]
    fn public_view_has_no_secrets() {
        let u = User {
            tenant: "acme".into(),
            username: "piet".into(),
            name: "Piet".into(),
            email: Some("piet@acme.example".into()),
            role: Role::Agent,
            password_hash: Some("$argon2id$x".into()),
            totp: Some(Sealed("v1:abc".into())),
            totp_enabled: true,
            permission: CallPermission::default(),
            state: UserState::Active,
        };
        let json = serde_json::to_string(&u.public()).unwrap_or_default();
        assert!(
            !json.contains("argon2") && !json.contains("v1:abc") && json.contains("totp_enabled")
        );
        assert!(u.validate().is_ok());
    }
}
