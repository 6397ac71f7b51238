//! Running a list of spec steps: each a request, with values saved from the answers for
//! later templates (`{{saved.name}}`) and `for_each` over a saved array.

use std::collections::BTreeMap;

use secret_rotor::Result;
use serde_json::Value;

use crate::client::Answer;
use crate::credential::HttpCredential;
use crate::spec::Step;
use crate::target::{Vars, expect, send};

/// How running the steps ended.
pub(crate) enum Ran {
    /// Every step succeeded; what they saved.
    Done(BTreeMap<String, Value>),
    /// A step answered one of the `refused` statuses (the credential was refused).
    Refused(u16),
}

/// Runs `steps` (named `place[i]`) with `user`'s spec and client; `vars` gives every
/// namespace but `saved` and `item`. Steps marked `when: created` run only when `created`.
pub(crate) async fn run(
    user: &HttpCredential,
    place: &str,
    steps: &[Step],
    vars: &Vars<'_>,
    created: bool,
    refused: &[u16],
    mut saved: BTreeMap<String, Value>,
) -> Result<Ran> {
    for (i, step) in steps.iter().enumerate() {
        if step.when_created && !created {
            continue;
        }
        let place = format!("{place}[{i}]");
        let items: Vec<Option<Value>> = match &step.for_each {
            None => vec![None],
            Some(name) => saved
                .get(name)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(Some)
                .collect(),
        };
        for item in items {
            let answer: Answer = {
                let vars = vars.with(Some(&saved), item.as_ref());
                send(user, &place, &step.request, &vars).await?
            };
            if refused.contains(&answer.status) {
                return Ok(Ran::Refused(answer.status));
            }
            expect(user, &place, &step.request, &answer)?;
            for (name, pointer) in &step.save {
                let value = answer.body.pointer(pointer).cloned().unwrap_or(Value::Null);
                saved.insert(name.clone(), value);
            }
            if let Some(name) = &step.save_as {
                saved.insert(name.clone(), answer.body);
            }
        }
    }
    Ok(Ran::Done(saved))
}
