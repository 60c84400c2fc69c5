//! Trees, keys and the on-disk form of values: one version byte, then JSON.

use crate::error::{Result, StoreError};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Version byte in front of every stored value.
pub(crate) const VALUE_VERSION: u8 = 1;

/// Longest name accepted as part of a key.
const MAX_NAME: usize = 255;

/// The trees of the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Tid {
    Tenants,
    Users,
    Extensions,
    Trunks,
    Queues,
    RingGroups,
    Belplans,
    Contacts,
    Phones,
    Audit,
    Registrations,
    Cdrs,
    Meta,
    Rollups,
}

impl Tid {
    pub(crate) const ALL: [Tid; 14] = [
        Tid::Tenants,
        Tid::Users,
        Tid::Extensions,
        Tid::Trunks,
        Tid::Queues,
        Tid::RingGroups,
        Tid::Belplans,
        Tid::Contacts,
        Tid::Phones,
        Tid::Audit,
        Tid::Registrations,
        Tid::Cdrs,
        Tid::Meta,
        Tid::Rollups,
    ];

    /// The trees that hold objects of an organisation under `slug\0…` keys.
    pub(crate) const PER_TENANT: [Tid; 9] = [
        Tid::Users,
        Tid::Extensions,
        Tid::Trunks,
        Tid::Queues,
        Tid::RingGroups,
        Tid::Contacts,
        Tid::Phones,
        Tid::Registrations,
        Tid::Cdrs,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Tid::Tenants => "tenants",
            Tid::Users => "users",
            Tid::Extensions => "extensions",
            Tid::Trunks => "trunks",
            Tid::Queues => "queues",
            Tid::RingGroups => "ring_groups",
            Tid::Belplans => "belplans",
            Tid::Contacts => "contacts",
            Tid::Phones => "contact_phones",
            Tid::Audit => "audit",
            Tid::Registrations => "registrations",
            Tid::Cdrs => "cdrs",
            Tid::Meta => "meta",
            Tid::Rollups => "rollups",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Checks that a name can be part of a key: not empty, not too long, no NUL (the separator).
pub(crate) fn check_name(s: &str) -> Result<()> {
    if s.is_empty() || s.len() > MAX_NAME || s.contains('\0') {
        return Err(StoreError::BadName {
            value: s.chars().take(80).collect(),
        });
    }
    Ok(())
}

/// `slug\0`: the prefix of everything of an organisation.
pub(crate) fn prefix(slug: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(slug.len() + 1);
    k.extend_from_slice(slug.as_bytes());
    k.push(0);
    k
}

/// `slug\0name`.
pub(crate) fn key2(slug: &str, name: &str) -> Vec<u8> {
    let mut k = prefix(slug);
    k.extend_from_slice(name.as_bytes());
    k
}

/// `slug\0<id as u64 big-endian>`.
pub(crate) fn contact_key(slug: &str, id: u64) -> Vec<u8> {
    let mut k = prefix(slug);
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// `slug\0e164\0`: the prefix of the index entries of one number.
pub(crate) fn phone_prefix(slug: &str, e164: &str) -> Vec<u8> {
    let mut k = key2(slug, e164);
    k.push(0);
    k
}

/// `slug\0e164\0<id>`.
pub(crate) fn phone_key(slug: &str, e164: &str, id: u64) -> Vec<u8> {
    let mut k = phone_prefix(slug, e164);
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// The id at the end of a contact or phone-index key.
pub(crate) fn id_suffix(key: &[u8]) -> Option<u64> {
    let start = key.len().checked_sub(8)?;
    let bytes: [u8; 8] = key.get(start..)?.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

/// Big-endian u64 key (audit sequence numbers).
pub(crate) fn u64_key(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

/// A key as people read it in an error message.
pub(crate) fn show_key(tree: Tid, key: &[u8]) -> String {
    let text = |b: &[u8]| -> String { String::from_utf8_lossy(b).replace('\0', "/") };
    match tree {
        Tid::Audit => match <[u8; 8]>::try_from(key) {
            Ok(b) => u64::from_be_bytes(b).to_string(),
            Err(_) => format!("0x{}", hex(key)),
        },
        Tid::Contacts | Tid::Phones if key.len() >= 9 => {
            let (head, tail) = key.split_at(key.len() - 8);
            match id_suffix(tail) {
                Some(id) => format!("{}{id}", text(head)),
                None => format!("0x{}", hex(key)),
            }
        }
        _ => text(key),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Encodes a value: version byte, then JSON.
pub(crate) fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    let mut out = vec![VALUE_VERSION];
    serde_json::to_writer(&mut out, v).map_err(|e| StoreError::Encode(e.to_string()))?;
    Ok(out)
}

/// Why a stored value could not be decoded (the caller adds tree, key and folder).
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> std::result::Result<T, String> {
    match bytes.split_first() {
        None => Err("lege waarde / empty value".to_string()),
        Some((&VALUE_VERSION, json)) => {
            serde_json::from_slice(json).map_err(|e| format!("JSON: {e}"))
        }
        Some((v, _)) => Err(format!("onbekende versie / unknown version {v}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_bad_bytes_are_errors() {
        let v = encode(&vec![1u32, 2]).unwrap_or_default();
        assert_eq!(v[0], 1);
        assert_eq!(decode::<Vec<u32>>(&v).ok(), Some(vec![1, 2]));
        assert!(decode::<Vec<u32>>(&[]).is_err());
        assert!(decode::<Vec<u32>>(&[2, b'[', b']']).is_err());
        assert!(decode::<Vec<u32>>(&[1, b'[', b'x']).is_err());
        assert!(decode::<Vec<u32>>(&[1, 0xff, 0xfe]).is_err());
    }

    #[test]
    fn keys_read_well_and_never_panic() {
        assert_eq!(show_key(Tid::Users, &key2("acme", "piet")), "acme/piet");
        assert_eq!(show_key(Tid::Contacts, &contact_key("acme", 7)), "acme/7");
        assert_eq!(
            show_key(Tid::Phones, &phone_key("acme", "+31201234567", 7)),
            "acme/+31201234567/7"
        );
        assert_eq!(show_key(Tid::Audit, &u64_key(42)), "42");
        assert_eq!(show_key(Tid::Audit, &[1, 2]), "0x0102");
        assert_eq!(show_key(Tid::Contacts, &[1]), "\u{1}");
        assert!(
            check_name("a\0b").is_err() && check_name("").is_err() && check_name("acme").is_ok()
        );
        assert_eq!(id_suffix(&[1, 2]), None);
    }
}
