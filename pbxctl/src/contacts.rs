//! `pbxctl contact import|find|list`: CSV import in batches with a progress bar.

use crate::cli::ContactCmd;
use crate::{Ctx, Failure, R};
use pbx_api::{ContactBatch, ContactImportResult, ContactInput, Method, Route};
use pbx_cli::{exit, table};
use pbx_i18n::{tr, Msg};
use pbx_model::Contact;
use std::collections::BTreeMap;

/// Which CSV column holds what.
struct Columns {
    name: usize,
    company: Option<usize>,
    phones: Vec<usize>,
    tags: Option<usize>,
    notes: Option<usize>,
    fields: Vec<(usize, String)>,
}

fn columns(headers: &csv::StringRecord) -> Option<Columns> {
    let norm: Vec<String> = headers.iter().map(|h| h.trim().to_lowercase()).collect();
    let find = |names: &[&str]| norm.iter().position(|h| names.contains(&h.as_str()));
    let name = find(&["name", "naam"])?;
    let company = find(&["company", "bedrijf"]);
    let tags = find(&["tags", "labels"]);
    let notes = find(&["notes", "notities"]);
    let phones: Vec<usize> = norm
        .iter()
        .enumerate()
        .filter(|(_, h)| {
            h.starts_with("phone")
                || h.starts_with("telefoon")
                || h.starts_with("nummer")
                || h.as_str() == "mobiel"
        })
        .map(|(i, _)| i)
        .collect();
    let used: Vec<usize> = [Some(name), company, tags, notes]
        .into_iter()
        .flatten()
        .chain(phones.iter().copied())
        .collect();
    let fields = norm
        .iter()
        .enumerate()
        .filter(|(i, h)| !used.contains(i) && !h.is_empty())
        .map(|(i, _)| (i, headers[i].trim().to_string()))
        .collect();
    Some(Columns {
        name,
        company,
        phones,
        tags,
        notes,
        fields,
    })
}

fn contact(c: &Columns, r: &csv::StringRecord) -> ContactInput {
    let get = |i: Option<usize>| i.and_then(|i| r.get(i)).unwrap_or("").trim().to_string();
    let split = |s: String| {
        s.split([';', '|'])
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect::<Vec<_>>()
    };
    let mut fields = BTreeMap::new();
    for (i, name) in &c.fields {
        let v = get(Some(*i));
        if !v.is_empty() {
            fields.insert(name.clone(), v);
        }
    }
    ContactInput {
        name: get(Some(c.name)),
        company: get(c.company),
        phones: c.phones.iter().flat_map(|i| split(get(Some(*i)))).collect(),
        tags: get(c.tags)
            .split([';', '|', ','])
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect(),
        notes: get(c.notes),
        fields,
    }
}

pub async fn run(ctx: &Ctx, c: &ContactCmd) -> R<i32> {
    let l = ctx.lang;
    match c {
        ContactCmd::Import {
            tenant,
            file,
            batch,
        } => {
            let batch = (*batch).clamp(1, pbx_api::MAX_CONTACT_BATCH);
            // `-` is standard input (size unknown: the bar then counts bytes without a total).
            let stdin = file.as_os_str() == "-";
            let size = if stdin {
                0
            } else {
                std::fs::metadata(file)
                    .map(|m| m.len())
                    .map_err(|e| Failure::new(exit::NOINPUT, format!("{}: {e}", file.display())))?
            };
            let input: Box<dyn std::io::Read> =
                if stdin {
                    Box::new(std::io::stdin().lock())
                } else {
                    Box::new(std::fs::File::open(file).map_err(|e| {
                        Failure::new(exit::NOINPUT, format!("{}: {e}", file.display()))
                    })?)
                };
            let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(input);
            let headers = rdr
                .headers()
                .map_err(|e| Failure::new(exit::DATAERR, e.to_string()))?
                .clone();
            let cols = columns(&headers)
                .ok_or_else(|| Failure::new(exit::DATAERR, tr(l, "ctl.csv_no_name")))?;
            let bar = if ctx.json || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                indicatif::ProgressBar::hidden()
            } else {
                let b = indicatif::ProgressBar::new(size);
                if let Ok(style) = indicatif::ProgressStyle::with_template(
                    "{spinner} {bar:40} {bytes}/{total_bytes} {msg} ({eta})",
                ) {
                    b.set_style(style);
                }
                b
            };
            let mut total = ContactImportResult::default();
            let mut pending: Vec<ContactInput> = Vec::with_capacity(batch);
            let mut first_row = 2;
            let mut row = 1;
            let mut rec = csv::StringRecord::new();
            loop {
                let more = match rdr.read_record(&mut rec) {
                    Ok(m) => m,
                    Err(e) => {
                        row += 1;
                        total.rejected.push(pbx_api::RejectedRow {
                            row,
                            message: e.to_string(),
                        });
                        continue;
                    }
                };
                if more {
                    row += 1;
                    pending.push(contact(&cols, &rec));
                }
                if pending.len() >= batch || (!more && !pending.is_empty()) {
                    let body = ContactBatch {
                        first_row,
                        contacts: std::mem::take(&mut pending),
                    };
                    let r: ContactImportResult = ctx
                        .send(
                            Method::Post,
                            Route::ContactsImport(tenant.clone()),
                            &[],
                            Some(&body),
                        )
                        .await?;
                    total.imported += r.imported;
                    total.rejected.extend(r.rejected);
                    first_row = row + 1;
                    bar.set_position(rec.position().map(|p| p.byte()).unwrap_or(size));
                    bar.set_message(
                        Msg::new("ctl.contacts_progress")
                            .arg("count", total.imported)
                            .render(l),
                    );
                }
                if !more {
                    break;
                }
            }
            bar.finish_and_clear();
            let code = if total.rejected.is_empty() {
                exit::OK
            } else {
                exit::DATAERR
            };
            ctx.out(&total, |t| {
                let mut s = Msg::new("ctl.contacts_imported")
                    .arg("count", t.imported)
                    .arg("rejected", t.rejected.len())
                    .render(l)
                    + "\n";
                for r in t.rejected.iter().take(20) {
                    s.push_str(&format!(
                        "  {} {}: {}\n",
                        tr(l, "col.row"),
                        r.row,
                        r.message
                    ));
                }
                s
            })?;
            Ok(code)
        }
        ContactCmd::Find {
            tenant,
            query,
            phone,
            limit,
        } => {
            let limit = limit.to_string();
            let v: Vec<Contact> = match (phone, query) {
                (Some(p), _) => {
                    ctx.get(Route::Contacts(tenant.clone()), &[("phone", p.as_str())])
                        .await?
                }
                (None, Some(q)) => {
                    ctx.get(
                        Route::Contacts(tenant.clone()),
                        &[("q", q.as_str()), ("limit", limit.as_str())],
                    )
                    .await?
                }
                (None, None) => {
                    return Err(Failure::new(exit::USAGE, tr(l, "ctl.find_needs_query")))
                }
            };
            ctx.out(&v, |v| contact_table(ctx, v))
        }
        ContactCmd::List {
            tenant,
            offset,
            limit,
        } => {
            let (o, n) = (offset.to_string(), limit.to_string());
            let v: Vec<Contact> = ctx
                .get(
                    Route::Contacts(tenant.clone()),
                    &[("offset", o.as_str()), ("limit", n.as_str())],
                )
                .await?;
            ctx.out(&v, |v| contact_table(ctx, v))
        }
    }
}

fn contact_table(ctx: &Ctx, v: &[Contact]) -> String {
    let rows: Vec<Vec<String>> = v
        .iter()
        .map(|c| {
            vec![
                c.id.to_string(),
                c.name.clone(),
                c.company.clone(),
                c.phones
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
                c.tags.join(","),
            ]
        })
        .collect();
    table(
        &ctx.h(&[
            "col.id",
            "col.name",
            "col.company",
            "col.phones",
            "col.tags",
        ]),
        &rows,
    )
}
