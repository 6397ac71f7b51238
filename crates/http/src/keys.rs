//! The key-issuing shape: issue in createSecret (after revoking what an earlier attempt of
//! the same rotation issued and never stored), retire two generations later, sweep what
//! no labelled version holds.

use secret_rotor::{
    Credential as _, Error, PendingRequest, Result, RetireReport, RetireRequest, SecretValue,
};
use serde_json::{Value, json};
use tracing::{info, warn};

use crate::credential::HttpCredential;
use crate::target::{Vars, expect, send};

/// Revokes leftovers, issues a key labelled with the rotation token, and returns
/// `AWSCURRENT`'s value with the issued fields.
pub(crate) async fn issue(request: PendingRequest<'_, HttpCredential>) -> Result<SecretValue> {
    let current = request.current;
    let spec = &current.spec;
    let (issue, extract) = spec.issue.as_ref().expect("an issuing spec");
    let token = request.token.to_string();
    let keep: Vec<String> = [Some(current), request.previous]
        .into_iter()
        .flatten()
        .filter_map(HttpCredential::key_id)
        .collect();
    let swept = sweep(current, &keep, Some(&token)).await?;
    log_sweep(current, &swept);
    let vars = Vars {
        current: Some(current),
        token: Some(&token),
        ..Vars::default()
    };
    let answer = send(current, "issue", issue, &vars).await?;
    expect(current, "issue", issue, &answer)?;
    let mut value = request.current_value.clone();
    for (field, pointer) in extract {
        let Some(found) = answer.body.pointer(pointer).cloned() else {
            // The key was issued, and no version will hold it: revoke it now rather than
            // leave a live key nobody accounts for.
            let issued_id = spec
                .fields
                .key_id
                .as_ref()
                .and_then(|f| extract.get(f))
                .and_then(|p| answer.body.pointer(p))
                .map(text);
            let after = match issued_id {
                Some(id) => match revoke(current, &id).await {
                    Ok(()) => format!("the key just issued ({id}) was revoked"),
                    Err(e) => format!(
                        "the key just issued ({id}) could not be revoked ({}): the next \
                         attempt's sweep finds it",
                        e.code()
                    ),
                },
                None => "the key just issued has no id in the answer either: revoke it by \
                         hand"
                    .to_owned(),
            };
            warn!(spec = %spec.name(), "{after}");
            return Err(Error::Target {
                target: current.server(),
                reason: format!(
                    "{} issue: the answer has no {pointer} (for \"{field}\"); {after}",
                    spec.name()
                ),
                retryable: false,
                source: None,
            });
        };
        value = if field == secret_rotor::secret::PASSWORD_KEY {
            let text = found
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| found.to_string());
            value.with_password(text.into())
        } else {
            value.with_field(field, found)
        };
    }
    Ok(value)
}

/// Revokes the key that fell out of `AWSPREVIOUS`, then sweeps.
pub(crate) async fn retire(request: RetireRequest<'_, HttpCredential>) -> Result<RetireReport> {
    let current = request.keep[0];
    if !current.spec.issues_keys() {
        return Ok(RetireReport::default());
    }
    let keep: Vec<String> = request.keep.iter().filter_map(|c| c.key_id()).collect();
    let mut report = RetireReport::default();
    if let Some(id) = request.retired.and_then(HttpCredential::key_id)
        && !keep.contains(&id)
    {
        revoke(current, &id).await?;
        report.revoked.push(id);
    }
    let swept = sweep(current, &keep, None).await?;
    report.revoked.extend(swept.revoked);
    report.possible_orphans.extend(swept.possible_orphans);
    Ok(report)
}

/// Lists the account's keys (when the spec can) and revokes those no labelled version
/// holds that are provably leftovers: labelled with this rotation's `token` (issued by an
/// earlier attempt, never stored), or any at all when the spec says the keys belong to
/// this secret alone (`exclusive_keys`). Others are reported as possible orphans.
async fn sweep(
    current: &HttpCredential,
    keep: &[String],
    token: Option<&str>,
) -> Result<RetireReport> {
    let spec = &current.spec;
    let mut report = RetireReport::default();
    let Some(list) = &spec.list else {
        return Ok(report);
    };
    let vars = Vars {
        current: Some(current),
        ..Vars::default()
    };
    let answer = send(current, "list", &list.request, &vars).await?;
    expect(current, "list", &list.request, &answer)?;
    let items = answer
        .body
        .pointer(&list.items)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for item in items {
        let Some(id) = item.pointer(&list.id).map(text) else {
            continue;
        };
        if keep.contains(&id) {
            continue;
        }
        let labelled_ours = match (token, &list.label) {
            (Some(token), Some(label)) => {
                item.pointer(label).and_then(Value::as_str) == Some(token)
            }
            _ => false,
        };
        if labelled_ours || spec.exclusive_keys {
            revoke(current, &id).await?;
            report.revoked.push(id);
        } else {
            let created = list
                .created
                .as_ref()
                .and_then(|p| item.pointer(p))
                .map(text)
                .unwrap_or_else(|| "unknown".into());
            report
                .possible_orphans
                .push(format!("{id} (issued {created})"));
        }
    }
    Ok(report)
}

fn log_sweep(current: &HttpCredential, report: &RetireReport) {
    if !report.revoked.is_empty() {
        info!(spec = %current.spec.name(), revoked = ?report.revoked, "revoked keys no version holds");
    }
    for orphan in &report.possible_orphans {
        warn!(spec = %current.spec.name(), key = %orphan, "a key no version holds; not revoked (the spec does not say the keys belong to this secret alone)");
    }
}

/// Revokes key `id` (an unknown key counts as revoked when the spec expects its status).
async fn revoke(current: &HttpCredential, id: &str) -> Result<()> {
    let spec = &current.spec;
    let request = spec.revoke.as_ref().expect("an issuing spec has revoke");
    let key = json!({ "id": id });
    let vars = Vars {
        current: Some(current),
        key: Some(&key),
        ..Vars::default()
    };
    let answer = send(current, "revoke", request, &vars).await?;
    expect(current, "revoke", request, &answer)
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
