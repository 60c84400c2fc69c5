//! The difference between a declared organisation (conf.d) and the stored one, for plan/apply.

use pbx_api::{Change, ChangeOp};
use pbx_model::TenantBundle;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

fn fields_changed(a: &Value, b: &Value) -> Vec<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .filter(|k| x.get(*k) != y.get(*k))
                .cloned()
                .collect()
        }
        _ => Vec::new(),
    }
}

fn objects<T: Serialize>(items: &[T], key: impl Fn(&T) -> String) -> BTreeMap<String, Value> {
    items
        .iter()
        .map(|i| (key(i), serde_json::to_value(i).unwrap_or(Value::Null)))
        .collect()
}

fn compare(
    out: &mut Vec<Change>,
    tenant: &str,
    noun: &str,
    old: BTreeMap<String, Value>,
    new: BTreeMap<String, Value>,
) {
    for (k, v) in &new {
        match old.get(k) {
            None => out.push(Change {
                op: ChangeOp::Add,
                tenant: tenant.into(),
                object: format!("{noun} {k}"),
                fields: Vec::new(),
            }),
            Some(o) if o != v => out.push(Change {
                op: ChangeOp::Change,
                tenant: tenant.into(),
                object: format!("{noun} {k}"),
                fields: fields_changed(o, v),
            }),
            Some(_) => {}
        }
    }
    for k in old.keys().filter(|k| !new.contains_key(*k)) {
        out.push(Change {
            op: ChangeOp::Remove,
            tenant: tenant.into(),
            object: format!("{noun} {k}"),
            fields: Vec::new(),
        });
    }
}

/// Every change that storing `target` over `current` makes.
pub fn changes(current: Option<&TenantBundle>, target: &TenantBundle) -> Vec<Change> {
    let slug = target.tenant.slug.as_str();
    let empty = TenantBundle::new(target.tenant.clone());
    let mut out = Vec::new();
    let cur = match current {
        Some(c) => {
            if c.tenant != target.tenant {
                let a = serde_json::to_value(&c.tenant).unwrap_or(Value::Null);
                let b = serde_json::to_value(&target.tenant).unwrap_or(Value::Null);
                out.push(Change {
                    op: ChangeOp::Change,
                    tenant: slug.into(),
                    object: format!("organisatie {slug}"),
                    fields: fields_changed(&a, &b),
                });
            }
            c
        }
        None => {
            out.push(Change {
                op: ChangeOp::Add,
                tenant: slug.into(),
                object: format!("organisatie {slug}"),
                fields: Vec::new(),
            });
            &empty
        }
    };
    compare(
        &mut out,
        slug,
        "gebruiker",
        objects(&cur.users, |u| u.username.clone()),
        objects(&target.users, |u| u.username.clone()),
    );
    compare(
        &mut out,
        slug,
        "extensie",
        objects(&cur.extensions, |e| e.number.clone()),
        objects(&target.extensions, |e| e.number.clone()),
    );
    compare(
        &mut out,
        slug,
        "trunk",
        objects(&cur.trunks, |t| t.name.clone()),
        objects(&target.trunks, |t| t.name.clone()),
    );
    compare(
        &mut out,
        slug,
        "wachtrij",
        objects(&cur.queues, |q| q.number.clone()),
        objects(&target.queues, |q| q.number.clone()),
    );
    compare(
        &mut out,
        slug,
        "belgroep",
        objects(&cur.ring_groups, |g| g.number.clone()),
        objects(&target.ring_groups, |g| g.number.clone()),
    );
    if cur.belplan != target.belplan {
        let op = if cur.belplan == pbx_model::Belplan::default() {
            ChangeOp::Add
        } else {
            ChangeOp::Change
        };
        out.push(Change {
            op,
            tenant: slug.into(),
            object: "belplan".into(),
            fields: Vec::new(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pbx_model::{Extension, Tenant};

    #[test]
    fn add_change_remove() {
        let mut cur = TenantBundle::new(Tenant::new("acme", "Acme"));
        cur.extensions.push(Extension::new("acme", "1001", "Jan"));
        cur.extensions.push(Extension::new("acme", "1002", "Piet"));
        let mut target = cur.clone();
        target.extensions[0].name = "Jan Jansen".into();
        target.extensions.remove(1);
        target
            .extensions
            .push(Extension::new("acme", "1003", "Klaas"));
        let c = changes(Some(&cur), &target);
        let ops: Vec<(ChangeOp, &str)> = c.iter().map(|c| (c.op, c.object.as_str())).collect();
        assert_eq!(
            ops,
            vec![
                (ChangeOp::Change, "extensie 1001"),
                (ChangeOp::Add, "extensie 1003"),
                (ChangeOp::Remove, "extensie 1002")
            ]
        );
        assert_eq!(c[0].fields, vec!["name".to_string()]);
        assert!(changes(Some(&target), &target).is_empty());
        assert_eq!(changes(None, &target)[0].op, ChangeOp::Add);
    }
}
