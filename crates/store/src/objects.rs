//! Organisations and their configuration objects.

use crate::codec::{check_name, encode, key2, prefix, Tid};
use crate::error::{Result, StoreError};
use crate::{Plan, Store};
use pbx_model::{Belplan, Extension, Queue, RingGroup, Tenant, TenantBundle, Trunk, User};
use std::collections::{BTreeMap, HashSet};

/// A key and its encoded value.
type KeyValue = (Vec<u8>, Vec<u8>);

/// Meta key of the contact id counter of an organisation.
pub(crate) fn contact_seq_key(slug: &str) -> Vec<u8> {
    key2("contact_seq", slug)
}

/// The stored secret of a trunk is kept when the new version has credentials without a secret
/// (output and config files never carry sealed secrets).
fn keep_secret(new: &Trunk, old: Option<&Trunk>) -> Trunk {
    let mut t = new.clone();
    if let (Some(a), Some(old_secret)) = (
        t.auth.as_mut(),
        old.and_then(|o| o.auth.as_ref())
            .and_then(|a| a.secret.as_ref()),
    ) {
        if a.secret.is_none() {
            a.secret = Some(old_secret.clone());
        }
    }
    t
}

fn same_tenant(expected: &str, found: &str) -> Result<()> {
    if expected == found {
        Ok(())
    } else {
        Err(StoreError::WrongTenant {
            expected: expected.to_string(),
            found: found.to_string(),
        })
    }
}

impl Store {
    fn require_tenant(&self, slug: &str) -> Result<()> {
        check_name(slug)?;
        if self.contains(Tid::Tenants, slug.as_bytes())? {
            Ok(())
        } else {
            Err(StoreError::NoTenant {
                tenant: slug.to_string(),
            })
        }
    }

    /// Stores an object of an organisation under `slug\0name` (the organisation must exist).
    fn put_child<T: serde::Serialize>(
        &self,
        tree: Tid,
        slug: &str,
        name: &str,
        v: &T,
    ) -> Result<()> {
        check_name(name)?;
        self.mutate(|p| {
            self.require_tenant(slug)?;
            p.put(tree, key2(slug, name), encode(v)?);
            Ok(())
        })
    }

    fn remove_child(&self, tree: Tid, slug: &str, name: &str) -> Result<()> {
        self.mutate(|p| {
            p.del(tree, key2(slug, name));
            Ok(())
        })
    }

    fn get_child<T: serde::de::DeserializeOwned>(
        &self,
        tree: Tid,
        slug: &str,
        name: &str,
    ) -> Result<Option<T>> {
        self.get(tree, &key2(slug, name))
    }

    // --- organisations

    /// One organisation.
    pub fn tenant(&self, slug: &str) -> Result<Option<Tenant>> {
        self.get(Tid::Tenants, slug.as_bytes())
    }

    /// Every organisation, by slug.
    pub fn tenants(&self) -> Result<Vec<Tenant>> {
        self.scan(Tid::Tenants, b"")
    }

    /// Creates or replaces an organisation.
    pub fn put_tenant(&self, t: &Tenant) -> Result<()> {
        check_name(&t.slug)?;
        self.mutate(|p| {
            p.put(Tid::Tenants, t.slug.as_bytes(), encode(t)?);
            Ok(())
        })
    }

    /// Removes an organisation and everything in it (users, extensions, trunks, queues,
    /// belgroepen, belplan, contacts and their index) in one transaction. The audit log stays.
    /// Removing what does not exist is not an error.
    pub fn remove_tenant(&self, slug: &str) -> Result<()> {
        check_name(slug)?;
        self.mutate(|p| {
            p.del(Tid::Tenants, slug.as_bytes());
            p.del(Tid::Belplans, slug.as_bytes());
            p.del(Tid::Meta, contact_seq_key(slug));
            let pre = prefix(slug);
            for tree in Tid::PER_TENANT {
                for k in self.keys(tree, &pre)? {
                    p.del(tree, k);
                }
            }
            Ok(())
        })
    }

    // --- users

    /// One user.
    pub fn user(&self, slug: &str, username: &str) -> Result<Option<User>> {
        self.get_child(Tid::Users, slug, username)
    }

    /// The users of an organisation, by user name.
    pub fn users(&self, slug: &str) -> Result<Vec<User>> {
        self.scan(Tid::Users, &prefix(slug))
    }

    /// Creates or replaces a user (its organisation must exist).
    pub fn put_user(&self, u: &User) -> Result<()> {
        self.put_child(Tid::Users, &u.tenant, &u.username, u)
    }

    /// Removes a user; not an error when it does not exist.
    pub fn remove_user(&self, slug: &str, username: &str) -> Result<()> {
        self.remove_child(Tid::Users, slug, username)
    }

    // --- extensions

    /// One extension.
    pub fn extension(&self, slug: &str, number: &str) -> Result<Option<Extension>> {
        self.get_child(Tid::Extensions, slug, number)
    }

    /// The extensions of an organisation, by number (as text).
    pub fn extensions(&self, slug: &str) -> Result<Vec<Extension>> {
        self.scan(Tid::Extensions, &prefix(slug))
    }

    /// How many extensions an organisation has.
    pub fn count_extensions(&self, slug: &str) -> Result<usize> {
        Ok(self.keys(Tid::Extensions, &prefix(slug))?.len())
    }

    /// Creates or replaces an extension (its organisation must exist).
    pub fn put_extension(&self, e: &Extension) -> Result<()> {
        self.put_child(Tid::Extensions, &e.tenant, &e.number, e)
    }

    /// Removes an extension; not an error when it does not exist.
    pub fn remove_extension(&self, slug: &str, number: &str) -> Result<()> {
        self.remove_child(Tid::Extensions, slug, number)
    }

    // --- trunks

    /// One trunk, with its sealed secret.
    pub fn trunk(&self, slug: &str, name: &str) -> Result<Option<Trunk>> {
        self.get_child(Tid::Trunks, slug, name)
    }

    /// The trunks of an organisation, by name, with their sealed secrets.
    pub fn trunks(&self, slug: &str) -> Result<Vec<Trunk>> {
        self.scan(Tid::Trunks, &prefix(slug))
    }

    /// Creates or replaces a trunk (its organisation must exist). When the trunk has
    /// credentials without a secret, the stored secret of the same trunk is kept; a trunk
    /// without `auth` has no secret.
    pub fn put_trunk(&self, t: &Trunk) -> Result<()> {
        check_name(&t.name)?;
        self.mutate(|p| {
            self.require_tenant(&t.tenant)?;
            let key = key2(&t.tenant, &t.name);
            let old: Option<Trunk> = self.get(Tid::Trunks, &key)?;
            p.put(Tid::Trunks, key, encode(&keep_secret(t, old.as_ref()))?);
            Ok(())
        })
    }

    /// Removes a trunk; not an error when it does not exist.
    pub fn remove_trunk(&self, slug: &str, name: &str) -> Result<()> {
        self.remove_child(Tid::Trunks, slug, name)
    }

    // --- queues

    /// One queue.
    pub fn queue(&self, slug: &str, number: &str) -> Result<Option<Queue>> {
        self.get_child(Tid::Queues, slug, number)
    }

    /// The queues of an organisation.
    pub fn queues(&self, slug: &str) -> Result<Vec<Queue>> {
        self.scan(Tid::Queues, &prefix(slug))
    }

    /// Creates or replaces a queue (its organisation must exist).
    pub fn put_queue(&self, q: &Queue) -> Result<()> {
        self.put_child(Tid::Queues, &q.tenant, &q.number, q)
    }

    /// Removes a queue; not an error when it does not exist.
    pub fn remove_queue(&self, slug: &str, number: &str) -> Result<()> {
        self.remove_child(Tid::Queues, slug, number)
    }

    // --- ring groups

    /// One belgroep.
    pub fn ring_group(&self, slug: &str, number: &str) -> Result<Option<RingGroup>> {
        self.get_child(Tid::RingGroups, slug, number)
    }

    /// The belgroepen of an organisation.
    pub fn ring_groups(&self, slug: &str) -> Result<Vec<RingGroup>> {
        self.scan(Tid::RingGroups, &prefix(slug))
    }

    /// Creates or replaces a belgroep (its organisation must exist).
    pub fn put_ring_group(&self, g: &RingGroup) -> Result<()> {
        self.put_child(Tid::RingGroups, &g.tenant, &g.number, g)
    }

    /// Removes a belgroep; not an error when it does not exist.
    pub fn remove_ring_group(&self, slug: &str, number: &str) -> Result<()> {
        self.remove_child(Tid::RingGroups, slug, number)
    }

    // --- belplan

    /// The belplan of an organisation; empty when none was stored.
    pub fn belplan(&self, slug: &str) -> Result<Belplan> {
        Ok(self
            .get(Tid::Belplans, slug.as_bytes())?
            .unwrap_or_default())
    }

    /// Replaces the belplan of an organisation (which must exist).
    pub fn put_belplan(&self, slug: &str, b: &Belplan) -> Result<()> {
        self.mutate(|p| {
            self.require_tenant(slug)?;
            p.put(Tid::Belplans, slug.as_bytes(), encode(b)?);
            Ok(())
        })
    }

    // --- bundles

    /// An organisation with all its configuration objects (trunks with sealed secrets).
    pub fn bundle(&self, slug: &str) -> Result<Option<TenantBundle>> {
        let Some(tenant) = self.tenant(slug)? else {
            return Ok(None);
        };
        Ok(Some(TenantBundle {
            tenant,
            users: self.users(slug)?,
            extensions: self.extensions(slug)?,
            trunks: self.trunks(slug)?,
            queues: self.queues(slug)?,
            ring_groups: self.ring_groups(slug)?,
            belplan: self.belplan(slug)?,
        }))
    }

    /// Replaces an organisation's configuration in one transaction: the organisation, users,
    /// extensions, trunks, queues, belgroepen and belplan become exactly those of the bundle
    /// (objects not in it are removed). Contacts are untouched. A trunk with credentials but
    /// without a secret keeps the stored secret of the trunk with the same name. Every object
    /// must name the bundle's organisation.
    pub fn put_bundle(&self, b: &TenantBundle) -> Result<()> {
        let slug = b.tenant.slug.as_str();
        check_name(slug)?;
        let mut wanted: BTreeMap<Tid, Vec<KeyValue>> = BTreeMap::new();
        let mut add = |tree: Tid, tenant: &str, name: &str, value: Vec<u8>| -> Result<()> {
            same_tenant(slug, tenant)?;
            check_name(name)?;
            wanted
                .entry(tree)
                .or_default()
                .push((key2(slug, name), value));
            Ok(())
        };
        for u in &b.users {
            add(Tid::Users, &u.tenant, &u.username, encode(u)?)?;
        }
        for e in &b.extensions {
            add(Tid::Extensions, &e.tenant, &e.number, encode(e)?)?;
        }
        for q in &b.queues {
            add(Tid::Queues, &q.tenant, &q.number, encode(q)?)?;
        }
        for g in &b.ring_groups {
            add(Tid::RingGroups, &g.tenant, &g.number, encode(g)?)?;
        }
        for t in &b.trunks {
            same_tenant(slug, &t.tenant)?;
            check_name(&t.name)?;
        }
        self.mutate(|p: &mut Plan| {
            let pre = prefix(slug);
            let old_trunks: BTreeMap<String, Trunk> = self
                .trunks(slug)?
                .into_iter()
                .map(|t| (t.name.clone(), t))
                .collect();
            let mut trunks = Vec::with_capacity(b.trunks.len());
            for t in &b.trunks {
                trunks.push((
                    key2(slug, &t.name),
                    encode(&keep_secret(t, old_trunks.get(&t.name)))?,
                ));
            }
            wanted.insert(Tid::Trunks, trunks);
            for tree in [
                Tid::Users,
                Tid::Extensions,
                Tid::Trunks,
                Tid::Queues,
                Tid::RingGroups,
            ] {
                let items = wanted.remove(&tree).unwrap_or_default();
                let keep: HashSet<&[u8]> = items.iter().map(|(k, _)| k.as_slice()).collect();
                for k in self.keys(tree, &pre)? {
                    if !keep.contains(k.as_ref()) {
                        p.del(tree, k);
                    }
                }
                for (k, v) in items {
                    p.put(tree, k, v);
                }
            }
            p.put(Tid::Tenants, slug.as_bytes(), encode(&b.tenant)?);
            p.put(Tid::Belplans, slug.as_bytes(), encode(&b.belplan)?);
            Ok(())
        })
    }
}
