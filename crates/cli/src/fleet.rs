//! `rotate` over many secrets: bounded concurrency, Secrets Manager writes paced under the
//! account's quota, progress on a terminal, a summary table (or JSON) at the end.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use secret_rotor::store::{AwsSecretStore, SecretFilter};
use secret_rotor::{Error, Result, SecretId, Target};
use serde_json::json;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::commands::{Aws, Rotated, run_rotation};
use crate::targets::{WithTarget, target_name, with_target};

/// Secrets Manager's quota for `PutSecretValue` and `UpdateSecretVersionStage` together,
/// per account and region (requests per second).
pub(crate) const WRITE_QUOTA_PER_SECOND: f64 = 50.0;

/// The writes of one rotation: one `PutSecretValue` (createSecret), two
/// `UpdateSecretVersionStage` (finishSecret moves `AWSCURRENT`, then removes `AWSPENDING`).
const WRITES_PER_ROTATION: f64 = 3.0;

/// How a fleet rotation runs.
#[derive(Debug, Clone)]
pub(crate) struct FleetOptions {
    /// Rotations at once.
    pub(crate) concurrency: usize,
    /// Secrets Manager writes per second at most (rotations start at a third of it).
    pub(crate) writes_per_second: f64,
    /// JSON on stdout instead of the table.
    pub(crate) json: bool,
}

/// Which secrets `rotate` rotates: ids given one by one or in a file, and those a name
/// prefix and tags select (rotation on).
#[derive(Debug)]
pub(crate) struct Selection {
    /// `--secret-id`, in order.
    pub(crate) ids: Vec<String>,
    /// `--secret-ids-from`.
    pub(crate) ids_from: Option<PathBuf>,
    /// `--name-prefix`.
    pub(crate) name_prefix: Option<String>,
    /// `--tag`.
    pub(crate) tags: Vec<(String, String)>,
}

impl Selection {
    /// Whether more than `--secret-id`s was asked for (the answer is a fleet's table even
    /// when it holds one secret).
    pub(crate) fn is_fleet(&self) -> bool {
        self.ids_from.is_some() || self.name_prefix.is_some() || !self.tags.is_empty()
    }

    /// The ids, each once, in the order given, then those listed. Listed secrets whose
    /// rotation is off are left out (said on stderr); a filter that selects nothing is an
    /// error.
    pub(crate) async fn ids(&self, store: &AwsSecretStore) -> Result<Vec<String>> {
        let mut ids = self.ids.clone();
        if let Some(path) = &self.ids_from {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Error::config(format!("--secret-ids-from {}: {e}", path.display())))?;
            let lines = text.lines().map(str::trim);
            ids.extend(
                lines
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_owned),
            );
        }
        if self.name_prefix.is_some() || !self.tags.is_empty() {
            let filter = SecretFilter::new(self.name_prefix.clone(), self.tags.clone())?;
            let (on, off): (Vec<_>, Vec<_>) = store
                .list(&filter)
                .await?
                .into_iter()
                .partition(|s| s.rotation_enabled);
            if !off.is_empty() {
                eprintln!(
                    "left out {} matching secret(s) whose rotation is off",
                    off.len()
                );
            }
            if on.is_empty() {
                return Err(Error::config(
                    "no secret with rotation on matches --name-prefix / --tag",
                ));
            }
            ids.extend(on.into_iter().map(|s| s.arn));
        }
        let mut seen = std::collections::HashSet::new();
        ids.retain(|id| seen.insert(id.clone()));
        Ok(ids)
    }
}

/// `--tag KEY=VALUE`.
pub(crate) fn parse_tag(arg: &str) -> std::result::Result<(String, String), String> {
    match arg.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("{arg:?}: expected KEY=VALUE")),
    }
}

/// One rotation of the fleet, without printing its steps.
struct Quiet {
    aws: Aws,
    secret_id: SecretId,
}

impl WithTarget for Quiet {
    type Output = Rotated;

    async fn run<T: Target>(self, target: T) -> Result<Rotated> {
        run_rotation(&self.aws.rotator(target)?, &self.secret_id, false).await
    }
}

async fn rotate_one(aws: Aws, secret_id: &str, target: Option<&str>) -> Result<Rotated> {
    let secret_id = SecretId::new(secret_id)?;
    let name = target_name(target, &aws.store, &secret_id).await?;
    with_target(&name, Quiet { aws, secret_id }).await
}

/// Rotates every secret of `ids`; exit 1 when any failed.
pub(crate) async fn rotate_many(
    aws: Aws,
    ids: Vec<String>,
    target: Option<String>,
    options: FleetOptions,
) -> Result<ExitCode> {
    if !(options.writes_per_second > 0.0 && options.writes_per_second <= WRITE_QUOTA_PER_SECOND) {
        return Err(Error::config(format!(
            "--max-writes-per-second must be above 0 and at most {WRITE_QUOTA_PER_SECOND} \
             (Secrets Manager's quota)"
        )));
    }
    let started = Instant::now();
    let total = ids.len();
    let slots = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let mut pace = tokio::time::interval(Duration::from_secs_f64(
        WRITES_PER_ROTATION / options.writes_per_second,
    ));
    let progress = std::io::stderr().is_terminal() && !options.json;
    let mut running = JoinSet::new();
    for (index, id) in ids.into_iter().enumerate() {
        let slot = Arc::clone(&slots)
            .acquire_owned()
            .await
            .expect("never closed");
        pace.tick().await;
        let (aws, target) = (aws.clone(), target.clone());
        running.spawn(async move {
            let _slot = slot;
            let began = Instant::now();
            let result = rotate_one(aws, &id, target.as_deref()).await;
            (index, id, result, began.elapsed())
        });
    }
    let mut results = Vec::with_capacity(total);
    while let Some(done) = running.join_next().await {
        results.push(done.expect("a rotation task panicked"));
        if progress {
            eprint!("\rrotated {}/{total}", results.len());
            let _ = std::io::stderr().flush();
        }
    }
    if progress {
        eprintln!();
    }
    results.sort_by_key(|(index, ..)| *index);
    let failed = results.iter().filter(|(_, _, r, _)| r.is_err()).count();
    let seconds = started.elapsed().as_secs_f64();
    if options.json {
        let rows: Vec<_> = results
            .iter()
            .map(|(_, id, result, took)| match result {
                Ok(r) => json!({"secret_id": id, "ok": true, "token": r.token.as_str(),
                                "resumed": r.resumed, "ms": took.as_millis()}),
                Err(e) => json!({"secret_id": id, "ok": false, "code": e.code(),
                                 "error": e.headline(), "ms": took.as_millis()}),
            })
            .collect();
        let summary = json!({"rotated": total - failed, "failed": failed, "seconds": seconds,
                             "results": rows});
        println!("{summary}");
    } else {
        println!("{:<60} {:<8} {:>7}  detail", "secret", "result", "ms");
        for (_, id, result, took) in &results {
            let (status, detail) = match result {
                Ok(r) if r.resumed => ("ok", format!("resumed {}", r.token)),
                Ok(r) => ("ok", r.token.to_string()),
                Err(e) => ("FAILED", format!("[{}] {}", e.code(), e.headline())),
            };
            println!("{id:<60} {status:<8} {:>7}  {detail}", took.as_millis());
        }
        println!(
            "{} rotated, {failed} failed, in {seconds:.1} s ({:.1} rotations/s; the write quota \
             allows {:.1})",
            total - failed,
            total as f64 / seconds.max(f64::EPSILON),
            WRITE_QUOTA_PER_SECOND / WRITES_PER_ROTATION
        );
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
