//! Contacts of an organisation and the index of their phone numbers.

use crate::codec::{contact_key, encode, id_suffix, phone_key, phone_prefix, prefix, Tid};
use crate::error::{Result, StoreError};
use crate::objects::contact_seq_key;
use crate::Store;
use pbx_model::{Contact, E164};

/// The value of a phone-index entry (the key says everything).
pub(crate) fn index_value() -> Result<Vec<u8>> {
    encode(&())
}

impl Store {
    /// Adds contacts to an organisation (which must exist) in one transaction and one flush:
    /// gives each the next id of the organisation (and sets its `tenant`), writes the contacts
    /// and their phone index. Returns the ids in input order.
    pub fn add_contacts(&self, slug: &str, contacts: Vec<Contact>) -> Result<Vec<u64>> {
        if contacts.is_empty() {
            return Ok(Vec::new());
        }
        let idx = index_value()?;
        self.mutate(|p| {
            if !self.contains(Tid::Tenants, slug.as_bytes())? {
                return Err(StoreError::NoTenant {
                    tenant: slug.to_string(),
                });
            }
            let seq_key = contact_seq_key(slug);
            let mut next: u64 = self.get(Tid::Meta, &seq_key)?.unwrap_or(0);
            let mut ids = Vec::with_capacity(contacts.len());
            for mut c in contacts {
                next = next
                    .checked_add(1)
                    .ok_or_else(|| StoreError::Db("contact id overflow".into()))?;
                c.id = next;
                c.tenant = slug.to_string();
                for ph in &c.phones {
                    p.put(Tid::Phones, phone_key(slug, ph.as_str(), next), idx.clone());
                }
                p.put(Tid::Contacts, contact_key(slug, next), encode(&c)?);
                ids.push(next);
            }
            p.put(Tid::Meta, seq_key, encode(&next)?);
            Ok(ids)
        })
    }

    /// One contact.
    pub fn contact(&self, slug: &str, id: u64) -> Result<Option<Contact>> {
        self.get(Tid::Contacts, &contact_key(slug, id))
    }

    /// A page of an organisation's contacts, by id.
    pub fn contacts(&self, slug: &str, offset: usize, limit: usize) -> Result<Vec<Contact>> {
        let mut out = Vec::new();
        for kv in self
            .tree(Tid::Contacts)
            .scan_prefix(prefix(slug))
            .skip(offset)
            .take(limit)
        {
            let (k, v) = kv.map_err(|e| self.db_err(e))?;
            out.push(self.decode_at(Tid::Contacts, &k, &v)?);
        }
        Ok(out)
    }

    /// How many contacts an organisation has.
    pub fn count_contacts(&self, slug: &str) -> Result<usize> {
        let mut n = 0;
        for k in self.tree(Tid::Contacts).scan_prefix(prefix(slug)).keys() {
            k.map_err(|e| self.db_err(e))?;
            n += 1;
        }
        Ok(n)
    }

    /// The contacts with exactly this number, by id (through the phone index).
    pub fn find_contacts_by_phone(&self, slug: &str, number: &E164) -> Result<Vec<Contact>> {
        let mut out = Vec::new();
        for k in self.keys(Tid::Phones, &phone_prefix(slug, number.as_str()))? {
            let Some(id) = id_suffix(&k) else {
                return Err(self.decode_err(
                    Tid::Phones,
                    &k,
                    "sleutel te kort / key too short".into(),
                ));
            };
            // An index entry without its contact is skipped: the contact is what counts.
            if let Some(c) = self.contact(slug, id)? {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// Up to `limit` contacts that match a search text (name, company, tag, number), by id.
    pub fn search_contacts(&self, slug: &str, q: &str, limit: usize) -> Result<Vec<Contact>> {
        let mut out = Vec::new();
        for kv in self.tree(Tid::Contacts).scan_prefix(prefix(slug)) {
            if out.len() >= limit {
                break;
            }
            let (k, v) = kv.map_err(|e| self.db_err(e))?;
            let c: Contact = self.decode_at(Tid::Contacts, &k, &v)?;
            if c.matches(q) {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// Replaces an existing contact (notes, afcodering …) and brings its phone index up to date.
    pub fn put_contact(&self, c: &Contact) -> Result<()> {
        let idx = index_value()?;
        self.mutate(|p| {
            let key = contact_key(&c.tenant, c.id);
            let Some(old) = self.get::<Contact>(Tid::Contacts, &key)? else {
                return Err(StoreError::NoContact {
                    tenant: c.tenant.clone(),
                    id: c.id,
                });
            };
            for ph in &old.phones {
                p.del(Tid::Phones, phone_key(&c.tenant, ph.as_str(), c.id));
            }
            for ph in &c.phones {
                p.put(
                    Tid::Phones,
                    phone_key(&c.tenant, ph.as_str(), c.id),
                    idx.clone(),
                );
            }
            p.put(Tid::Contacts, key, encode(c)?);
            Ok(())
        })
    }

    /// Removes a contact and its index entries; not an error when it does not exist.
    pub fn remove_contact(&self, slug: &str, id: u64) -> Result<()> {
        self.mutate(|p| {
            let key = contact_key(slug, id);
            if let Some(c) = self.get::<Contact>(Tid::Contacts, &key)? {
                for ph in &c.phones {
                    p.del(Tid::Phones, phone_key(slug, ph.as_str(), id));
                }
                p.del(Tid::Contacts, key);
            }
            Ok(())
        })
    }
}
