//! The subcommands.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use secret_rotor::rds::RdsLocator;
use secret_rotor::store::{AwsSecretStore, SecretStore, load_sdk_config};
use secret_rotor::{
    Error, Outcome, Result, RotationConfig, RotationEvent, Rotator, SecretDescription, SecretId,
    Stage, Step, StepReport, Target, VersionId,
};

use crate::targets::{WithTarget, target_name, with_target};

/// Exit code of `status` when a rotation is in progress.
pub(crate) const EXIT_IN_PROGRESS: u8 = 3;

/// The AWS clients the commands use, built from one configuration.
#[derive(Clone)]
pub(crate) struct Aws {
    /// Secrets Manager.
    pub(crate) store: AwsSecretStore,
    /// RDS, to locate RDS-managed master secrets (alternating users).
    rds: RdsLocator,
}

/// The Secrets Manager endpoint the CLI talks to, for messages: `--endpoint-url`, else the
/// variables the SDK and AWS's templates read, else AWS's own for the region.
pub(crate) fn endpoint_in_use(flag: Option<&str>) -> String {
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    flag.map(str::to_owned)
        .or_else(|| set("SECRETS_MANAGER_ENDPOINT"))
        .or_else(|| set("AWS_ENDPOINT_URL_SECRETS_MANAGER"))
        .or_else(|| set("AWS_ENDPOINT_URL"))
        .unwrap_or_else(|| "AWS's, for the configured region".to_owned())
}

impl Aws {
    /// Loads the AWS configuration chain, with the command line's overrides.
    pub(crate) async fn load(endpoint_url: Option<&str>, region: Option<&str>) -> Aws {
        let config = load_sdk_config(region).await;
        Aws {
            store: AwsSecretStore::from_sdk_config(&config, endpoint_url),
            rds: RdsLocator::from_sdk_config(&config),
        }
    }

    /// A rotator for `target`, configured from the environment like the Lambda function.
    pub(crate) fn rotator<T: Target>(self, target: T) -> Result<Rotator<T, AwsSecretStore>> {
        let config = RotationConfig::from_env(&target)?;
        Ok(Rotator::new(target, self.store, config)?.with_rds(self.rds))
    }
}

pub(crate) async fn rotate(
    aws: Aws,
    secret_id: &str,
    target: Option<&str>,
    dry_run: bool,
) -> Result<ExitCode> {
    if dry_run {
        return check(aws, secret_id, target, true).await;
    }
    let secret_id = SecretId::new(secret_id)?;
    let name = target_name(target, &aws.store, &secret_id).await?;
    with_target(&name, Rotate { aws, secret_id }).await
}

/// `check`, or with `plan` `rotate --dry-run`: see [`crate::check`].
pub(crate) async fn check(
    aws: Aws,
    secret_id: &str,
    target: Option<&str>,
    plan: bool,
) -> Result<ExitCode> {
    let secret_id = SecretId::new(secret_id)?;
    let name = target_name(target, &aws.store, &secret_id).await?;
    let check = crate::check::Check {
        aws,
        secret_id,
        plan,
    };
    with_target(&name, check).await
}

/// `rotate`: the four steps of one rotation.
struct Rotate {
    aws: Aws,
    secret_id: SecretId,
}

impl WithTarget for Rotate {
    type Output = ExitCode;

    async fn run<T: Target>(self, target: T) -> Result<ExitCode> {
        rotate_with(self.aws.rotator(target)?, &self.secret_id).await
    }
}

pub(crate) async fn step(aws: Aws, path: &Path, target: Option<&str>) -> Result<ExitCode> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::config(format!("cannot read {}: {e}", path.display())))?;
    let payload: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Error::InvalidEvent {
            reason: format!("{} is not JSON: {e}", path.display()),
        })?;
    let event = RotationEvent::from_json(&payload)?;
    let name = target_name(target, &aws.store, &event.secret_id).await?;
    let report = with_target(&name, RunStep { aws, event }).await?;
    print_report(&report);
    Ok(ExitCode::SUCCESS)
}

/// `step`: one step from an event file.
struct RunStep {
    aws: Aws,
    event: RotationEvent,
}

impl WithTarget for RunStep {
    type Output = StepReport;

    async fn run<T: Target>(self, target: T) -> Result<StepReport> {
        self.aws.rotator(target)?.handle(&self.event).await
    }
}

/// `cancel`: see [`crate::cancel`].
pub(crate) async fn cancel(aws: Aws, secret_id: &str, target: Option<&str>) -> Result<ExitCode> {
    let secret_id = SecretId::new(secret_id)?;
    let description = aws.store.describe(&secret_id).await?;
    let Some(pending) = description.rotation_in_progress().cloned() else {
        println!("nothing to cancel: no rotation in progress");
        return Ok(ExitCode::SUCCESS);
    };
    let name = target_name(target, &aws.store, &secret_id).await?;
    let cancel = crate::cancel::Cancel {
        store: aws.store,
        secret_id,
        pending,
    };
    with_target(&name, cancel).await
}

pub(crate) async fn status(store: AwsSecretStore, secret_id: &str) -> Result<ExitCode> {
    let secret_id = SecretId::new(secret_id)?;
    let description = store.describe(&secret_id).await?;
    println!("secret:   {}", description.arn);
    println!(
        "rotation: {}",
        match description.rotation_enabled {
            Some(true) => "enabled",
            Some(false) => "disabled",
            None => "not configured",
        }
    );
    print_versions(&description);
    match description.rotation_in_progress() {
        Some(pending) => {
            println!(
                "STUCK:    version {pending} holds AWSPENDING but is not AWSCURRENT: a rotation is in \
                 progress or failed, and the next RotateSecret will fail until it completes.\n          \
                 Resume it with: secret-rotor rotate --secret-id {secret_id}"
            );
            Ok(ExitCode::from(EXIT_IN_PROGRESS))
        }
        None => {
            println!("state:    ready (no rotation in progress)");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// What one rotation did, for summaries.
#[derive(Debug, Clone)]
pub(crate) struct Rotated {
    /// The rotation's token (the new `AWSCURRENT`).
    pub(crate) token: VersionId,
    /// Whether it resumed a rotation that was in progress.
    pub(crate) resumed: bool,
    /// Time between the password change and `AWSCURRENT` moving, when a password changed.
    pub(crate) password_window_ms: Option<u128>,
}

/// Runs the four steps of one rotation; prints each step when `print`.
pub(crate) async fn run_rotation<T: Target>(
    rotator: &Rotator<T, AwsSecretStore>,
    secret_id: &SecretId,
    print: bool,
) -> Result<Rotated> {
    let fresh = VersionId::new(uuid::Uuid::new_v4().to_string())?;
    let (token, report) = rotator.begin(secret_id, &fresh).await?;
    let resumed = token != fresh;
    if print {
        if resumed {
            println!("resuming the rotation in progress: {token}");
        } else {
            println!("rotation {token}");
        }
        print_report(&report);
    }
    let mut password_changed_at = None;
    for step in [Step::SetSecret, Step::TestSecret, Step::FinishSecret] {
        let report = rotator
            .handle(&RotationEvent::new(step, secret_id.clone(), token.clone()))
            .await?;
        if print {
            print_report(&report);
        }
        if matches!(report.outcome, Outcome::PasswordSet { .. }) {
            password_changed_at = Some(Instant::now());
        }
    }
    Ok(Rotated {
        token,
        resumed,
        password_window_ms: password_changed_at.map(|at| at.elapsed().as_millis()),
    })
}

async fn rotate_with<T: Target>(
    rotator: Rotator<T, AwsSecretStore>,
    secret_id: &SecretId,
) -> Result<ExitCode> {
    let started = Instant::now();
    let rotated = run_rotation(&rotator, secret_id, true).await?;
    if let Some(ms) = rotated.password_window_ms {
        println!(
            "password window: {ms} ms between the password change and AWSCURRENT moving to it"
        );
    }
    println!("done in {} ms", started.elapsed().as_millis());
    print_versions(&rotator.store().describe(secret_id).await?);
    Ok(ExitCode::SUCCESS)
}

fn print_report(report: &StepReport) {
    let detail = match &report.outcome {
        Outcome::AlreadyCurrent {
            labels_cleaned: true,
        } => "already AWSCURRENT (leftover AWSPENDING removed)".to_owned(),
        Outcome::AlreadyCurrent { .. } => "already AWSCURRENT: nothing to do".to_owned(),
        Outcome::PendingExists => "pending version already has a value".to_owned(),
        Outcome::PendingCreated { username } => format!("new pending credential for {username:?}"),
        Outcome::AlreadyLive => "pending credential already works".to_owned(),
        Outcome::PasswordSet { using } => format!("password changed (logged in with {using})"),
        Outcome::AlternateUserSet { report } => format!(
            "alternate user {} by the master; {} privilege(s) synced, {} not",
            if report.created { "created" } else { "updated" },
            report.synced.len(),
            report.unsynced.len()
        ),
        Outcome::Tested => "pending credential logs in".to_owned(),
        Outcome::Promoted {
            previous_version,
            retired,
        } => {
            let revoked = retired
                .as_ref()
                .map(|r| format!("; retired {}", r.revoked.len()))
                .unwrap_or_default();
            format!("AWSCURRENT moved here from {previous_version}{revoked}")
        }
        other => format!("{other:?}"),
    };
    println!(
        "  {:<13} {:<60} {:>5} ms",
        report.step.as_str(),
        detail,
        report.elapsed_ms
    );
    if let Outcome::AlternateUserSet { report } = &report.outcome {
        for line in &report.unsynced {
            println!("      not synced: {line}");
        }
        for line in &report.notes {
            println!("      note: {line}");
        }
    }
}

pub(crate) fn print_versions(description: &SecretDescription) {
    println!("versions:");
    let mut versions: Vec<_> = description.versions.iter().collect();
    versions.sort_by_key(|(_, stages)| {
        [Stage::Current, Stage::Pending, Stage::Previous]
            .iter()
            .position(|s| stages.contains(s))
            .unwrap_or(3)
    });
    for (id, stages) in versions {
        let labels: Vec<&str> = stages.iter().map(Stage::as_str).collect();
        println!("  {id}  {}", labels.join(", "));
    }
}
