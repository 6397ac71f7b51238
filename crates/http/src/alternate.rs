//! Alternating users through an HTTP API, as the spec's `alternate` describes: as the
//! master, find whether the pending user exists (and whether a half-made one is this
//! rotation's), run the steps that read the current user and make the pending one hold
//! the same, compare what both hold, and set the pending user's password last — so that
//! until then the pending credential does not log in and a crash is retried safely.

use std::collections::{BTreeMap, BTreeSet};

use secret_rotor::{
    AlternateContext, AlternateReport, Capabilities, Credential as _, Error, Parity, Result,
    Strategy, TargetInfo,
};
use serde_json::Value;

use crate::credential::HttpCredential;
use crate::spec::{Alternate, ParityCheck};
use crate::steps::{self, Ran};
use crate::target::{Vars, expect, send};

pub(crate) async fn sync(
    master: &HttpCredential,
    current: &HttpCredential,
    pending: &HttpCredential,
    context: AlternateContext,
) -> Result<AlternateReport> {
    let Some(alternate) = &pending.spec.alternate else {
        return Err(Error::unsupported_strategy(
            &TargetInfo::new("http", Capabilities::new(&[Strategy::SingleUser])),
            Strategy::AlternatingUsers,
        ));
    };
    let mut report = AlternateReport::default();
    let users = [master, current, pending];

    // Does the pending user exist, and is it ours?
    let exists = &alternate.exists;
    let answer = send(
        master,
        "alternate.exists",
        &exists.request,
        &vars(users, None, None),
    )
    .await?;
    if exists.absent.contains(&answer.status) {
        report.created = true;
    } else {
        expect(master, "alternate.exists", &exists.request, &answer)?;
        let half_made = exists.ours.as_ref().is_some_and(|(pointer, mark)| {
            answer
                .body
                .pointer(pointer)
                .map(|v| match v {
                    Value::String(s) => s.contains(mark.as_str()),
                    Value::Array(items) => items.iter().any(|i| i.as_str() == Some(mark)),
                    _ => false,
                })
                .unwrap_or(false)
        });
        if !half_made && !context.pair_established {
            return Err(Error::UnrelatedAlternateUser {
                target: pending.server(),
                user: pending.username().to_owned(),
                reason: "it exists, was never this secret's user (not its AWSPREVIOUS) and is \
                         not marked as one a rotation began"
                    .into(),
            });
        }
    }

    // The steps, in order (those marked `when: created` only for a new user).
    let base = vars(users, None, None);
    let saved = match steps::run(
        master,
        "alternate.steps",
        &alternate.steps,
        &base,
        report.created,
        &[],
        BTreeMap::new(),
    )
    .await?
    {
        Ran::Done(saved) => saved,
        Ran::Refused(_) => unreachable!("no status is a refusal here"),
    };
    report.synced.push(format!(
        "{} steps of the spec run for {}",
        alternate.steps.len(),
        pending.username()
    ));

    // What the pending user holds against the current one.
    let mut shortfall = Vec::new();
    for (i, check) in alternate.parity.iter().enumerate() {
        let place = format!("alternate.parity[{i}]");
        let answer = send(
            master,
            &place,
            &check.pending,
            &vars(users, Some(&saved), None),
        )
        .await?;
        expect(master, &place, &check.pending, &answer)?;
        let want = normalised(saved.get(&check.current).unwrap_or(&Value::Null), check);
        let have = normalised(&answer.body, check);
        for missing in want.difference(&have) {
            shortfall.push(format!(
                "{}: {missing} (held by {})",
                check.name,
                current.username()
            ));
        }
        for extra in have.difference(&want) {
            report.extra.push(format!(
                "{}: {extra} (held by {} only)",
                check.name,
                pending.username()
            ));
        }
    }
    if !shortfall.is_empty() && context.parity == Parity::Enforce {
        return Err(Error::PrivilegeMismatch {
            target: pending.server(),
            user: pending.username().to_owned(),
            differences: shortfall,
        });
    }
    report.unsynced = shortfall;
    finish(alternate, master, &vars(users, Some(&saved), None)).await?;
    Ok(report)
}

/// The values of an alternate request: the master, current and pending users, what earlier
/// steps saved, and the element of a `for_each`.
fn vars<'a>(
    [master, current, pending]: [&'a HttpCredential; 3],
    saved: Option<&'a BTreeMap<String, Value>>,
    item: Option<&'a Value>,
) -> Vars<'a> {
    Vars {
        master: Some(master),
        current: Some(current),
        pending: Some(pending),
        saved,
        item,
        ..Vars::default()
    }
}

/// The last request: the pending user's password (it logs in from now on).
async fn finish(alternate: &Alternate, master: &HttpCredential, vars: &Vars<'_>) -> Result<()> {
    let answer = send(master, "alternate.password", &alternate.password, vars).await?;
    expect(master, "alternate.password", &alternate.password, &answer)
}

/// The elements of an answer (an array, or the value itself), without the ignored keys,
/// as comparable text.
fn normalised(value: &Value, check: &ParityCheck) -> BTreeSet<String> {
    let items = match value {
        Value::Array(items) => items.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    };
    items
        .into_iter()
        .map(|mut item| {
            if let Value::Object(map) = &mut item {
                for key in &check.ignore {
                    map.remove(key);
                }
            }
            item.to_string()
        })
        .collect()
}
