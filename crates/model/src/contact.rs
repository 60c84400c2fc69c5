//! Contacts (leads) shown to agents when a number calls.

use crate::error::ModelError;
use crate::names::check_text;
use crate::numbering::E164;
use pbx_i18n::Msg;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Maximum number of free fields on a contact.
pub const MAX_FIELDS: usize = 32;

/// A contact of an organisation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// Organisation slug.
    pub tenant: String,
    /// Identifier, unique in the organisation (given by the store).
    #[serde(default)]
    pub id: u64,
    /// Name.
    pub name: String,
    /// Company.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub company: String,
    /// Phone numbers.
    #[serde(default)]
    pub phones: Vec<E164>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Notes.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub notes: String,
    /// Free fields.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
}

impl Contact {
    /// Checks the contact.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.name.trim().is_empty() {
            return Err(ModelError::invalid(Msg::new("contact.name_empty")));
        }
        check_text("name", &self.name, 120)?;
        check_text("company", &self.company, 120)?;
        check_text("notes", &self.notes, 4000)?;
        if self.phones.len() > 8 || self.tags.len() > 32 || self.fields.len() > MAX_FIELDS {
            return Err(ModelError::invalid(Msg::new("contact.too_many")));
        }
        Ok(())
    }

    /// Does the contact match a search text (name, company, tags, number)?
    pub fn matches(&self, q: &str) -> bool {
        let q = q.to_lowercase();
        self.name.to_lowercase().contains(&q)
            || self.company.to_lowercase().contains(&q)
            || self.tags.iter().any(|t| t.to_lowercase() == q)
            || self
                .phones
                .iter()
                .any(|p| p.as_str().contains(&q) || p.national().contains(&q))
    }
}
