//! The rotation state machine: preconditions, then one of the four steps.

use std::time::Instant;

use serde_json::Value;
use tracing::{debug, info, warn};

use crate::config::RotationConfig;
use crate::error::{Error, Result};
use crate::event::{RotationEvent, RotationToken, SecretId, Step, VersionId};
use crate::outcome::{Outcome, StepReport};
use crate::secret::SecretValue;
use crate::stage::{SecretDescription, Stage};
use crate::store::{SecretStore, Selector};
use crate::target::{Credential, Login, Strategy, Target};

/// Runs rotation steps for one target against one secret store.
///
/// Build it once per process (outside the Lambda handler) and call [`Rotator::handle`] per
/// invocation.
#[derive(Debug)]
pub struct Rotator<T, S> {
    target: T,
    store: S,
    config: RotationConfig,
}

/// The state of the secret after the preconditions.
enum Checked {
    /// The token's version is already `AWSCURRENT`.
    AlreadyCurrent { still_pending: bool },
    /// The token's version is `AWSPENDING` (and not current).
    Pending(SecretDescription),
}

impl<T: Target, S: SecretStore> Rotator<T, S> {
    /// A rotator; fails when `config` asks for something `target` does not support.
    pub fn new(target: T, store: S, config: RotationConfig) -> Result<Self> {
        config.check(&target)?;
        Ok(Rotator {
            target,
            store,
            config,
        })
    }

    /// The target.
    pub fn target(&self) -> &T {
        &self.target
    }

    /// The secret store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The configuration.
    pub fn config(&self) -> &RotationConfig {
        &self.config
    }

    /// Parses a raw invocation payload and runs it (see [`Rotator::handle`]).
    pub async fn handle_json(&self, payload: &Value) -> Result<StepReport> {
        let event = RotationEvent::from_json(payload).inspect_err(|e| {
            warn!(code = e.code(), error = %e, "rejected rotation event");
        })?;
        self.handle(&event).await
    }

    /// Runs one step: the preconditions of AWS's templates, in their order, then the step.
    /// Logs the outcome (or the error with its code) with the elapsed time.
    pub async fn handle(&self, event: &RotationEvent) -> Result<StepReport> {
        let started = Instant::now();
        // Boxed: keeps the future's type shallow for the Lambda runtime's nesting.
        let result = Box::pin(self.run_step(event)).await;
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match result {
            Ok(outcome) => {
                info!(
                    step = %event.step,
                    secret_id = %event.secret_id,
                    token = %event.client_request_token,
                    outcome = outcome.as_str(),
                    elapsed_ms,
                    "rotation step succeeded"
                );
                Ok(StepReport {
                    step: event.step,
                    secret_id: event.secret_id.clone(),
                    token: event.client_request_token.clone(),
                    outcome,
                    elapsed_ms,
                })
            }
            Err(error) => {
                warn!(
                    step = %event.step,
                    secret_id = %event.secret_id,
                    token = %event.client_request_token,
                    code = error.code(),
                    retryable = error.is_retryable(),
                    error = %error,
                    elapsed_ms,
                    "rotation step failed"
                );
                Err(error)
            }
        }
    }

    async fn run_step(&self, event: &RotationEvent) -> Result<Outcome> {
        let secret_id = &event.secret_id;
        let token = &event.client_request_token;
        match self.preconditions(secret_id, token).await? {
            Checked::AlreadyCurrent { still_pending } => {
                info!(%secret_id, %token, "version is already AWSCURRENT: nothing to do");
                let clean = event.step == Step::FinishSecret && still_pending;
                if clean {
                    // A crash between finishSecret's two calls, or a store that keeps
                    // AWSPENDING on the promoted version.
                    self.remove_pending_label(secret_id, token).await?;
                }
                Ok(Outcome::AlreadyCurrent {
                    labels_cleaned: clean,
                })
            }
            Checked::Pending(description) => match event.step {
                Step::CreateSecret => {
                    self.create_secret(
                        secret_id,
                        token,
                        &description,
                        event.rotation_token.as_ref(),
                    )
                    .await
                }
                Step::SetSecret => self.set_secret(secret_id, token, &description).await,
                Step::TestSecret => self.test_secret(secret_id, token).await,
                Step::FinishSecret => self.finish_secret(secret_id, token, &description).await,
            },
        }
    }

    /// The checks AWS's templates make on every step, in their order.
    async fn preconditions(&self, secret_id: &SecretId, token: &VersionId) -> Result<Checked> {
        let description = self.store.describe(secret_id).await?;
        if description.rotation_enabled == Some(false) {
            return Err(Error::RotationDisabled {
                secret_id: secret_id.to_string(),
            });
        }
        let Some(stages) = description.stages_of(token) else {
            return Err(Error::TokenNotAVersion {
                secret_id: secret_id.to_string(),
                token: token.to_string(),
            });
        };
        if stages.contains(&Stage::Current) {
            let still_pending = stages.contains(&Stage::Pending);
            return Ok(Checked::AlreadyCurrent { still_pending });
        }
        if !stages.contains(&Stage::Pending) {
            return Err(match description.version_with(&Stage::Pending) {
                Some(other) => Error::ForeignPending {
                    secret_id: secret_id.to_string(),
                    token: token.to_string(),
                    pending_version: other.to_string(),
                },
                None => Error::TokenNotPending {
                    secret_id: secret_id.to_string(),
                    token: token.to_string(),
                },
            });
        }
        Ok(Checked::Pending(description))
    }

    /// Starts a rotation without the service (the CLI): what `RotateSecret` and
    /// createSecret do together. The service stages an empty `AWSPENDING` version before
    /// createSecret; a client cannot create an empty version, so this writes the pending
    /// value under `token` directly.
    ///
    /// When a rotation is already in progress (`AWSPENDING` on a version that is not
    /// current), it is resumed: its token is returned and nothing is written.
    pub async fn begin(
        &self,
        secret_id: &SecretId,
        token: &VersionId,
    ) -> Result<(VersionId, StepReport)> {
        let started = Instant::now();
        let description = self.store.describe(secret_id).await?;
        if description.rotation_enabled == Some(false) {
            return Err(Error::RotationDisabled {
                secret_id: secret_id.to_string(),
            });
        }
        let (token, outcome) = match description.rotation_in_progress() {
            Some(in_progress) => {
                info!(%secret_id, token = %in_progress, "resuming the rotation in progress");
                let token = in_progress.clone();
                let outcome = self
                    .create_secret(secret_id, &token, &description, None)
                    .await?;
                (token, outcome)
            }
            None => {
                let outcome = self
                    .create_secret(secret_id, token, &description, None)
                    .await?;
                (token.clone(), outcome)
            }
        };
        let report = StepReport {
            step: Step::CreateSecret,
            secret_id: secret_id.clone(),
            token: token.clone(),
            outcome,
            elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        };
        Ok((token, report))
    }

    async fn read(&self, secret_id: &SecretId, selector: Selector) -> Result<SecretValue> {
        self.store
            .get_value(secret_id, &selector)
            .await?
            .ok_or_else(|| Error::MissingValue {
                secret_id: secret_id.to_string(),
                version: selector.describe(),
            })
    }

    async fn read_current(
        &self,
        secret_id: &SecretId,
        description: &SecretDescription,
    ) -> Result<(SecretValue, T::Credential)> {
        let current_id =
            description
                .version_with(&Stage::Current)
                .ok_or_else(|| Error::MissingValue {
                    secret_id: secret_id.to_string(),
                    version: "AWSCURRENT".into(),
                })?;
        let value = self
            .read(secret_id, Selector::version(current_id, Stage::Current))
            .await?;
        let credential = self.target.parse_credential(&value, "AWSCURRENT")?;
        Ok((value, credential))
    }

    async fn read_pending(&self, secret_id: &SecretId, token: &VersionId) -> Result<T::Credential> {
        let value = self
            .read(secret_id, Selector::version(token, Stage::Pending))
            .await?;
        self.target.parse_credential(&value, "AWSPENDING")
    }

    /// createSecret: store a new pending value unless the pending version has one.
    async fn create_secret(
        &self,
        secret_id: &SecretId,
        token: &VersionId,
        description: &SecretDescription,
        rotation_token: Option<&RotationToken>,
    ) -> Result<Outcome> {
        let existing = self
            .store
            .get_value(secret_id, &Selector::version(token, Stage::Pending))
            .await?;
        if let Some(existing) = existing {
            self.target.parse_credential(&existing, "AWSPENDING")?;
            return Ok(Outcome::PendingExists);
        }
        let (current, current_credential) = self.read_current(secret_id, description).await?;
        let mut pending = current.with_password(self.config.password.generate()?);
        if self.config.strategy == Strategy::AlternatingUsers {
            let alternate = self
                .target
                .alternate_username(current_credential.username())?;
            pending = pending.with_username(&alternate);
        }
        let pending_credential = self.target.parse_credential(&pending, "AWSPENDING")?;
        self.store
            .put_pending(secret_id, token, &pending, rotation_token)
            .await?;
        Ok(Outcome::PendingCreated {
            username: pending_credential.username().to_owned(),
        })
    }

    /// setSecret: make the pending credential work on the target.
    async fn set_secret(
        &self,
        secret_id: &SecretId,
        token: &VersionId,
        description: &SecretDescription,
    ) -> Result<Outcome> {
        let pending = self.read_pending(secret_id, token).await?;
        // Asked first: a retry after a crash between the change and the step's return.
        if self.target.try_login(&pending).await?.is_accepted() {
            return Ok(Outcome::AlreadyLive);
        }
        let (_, current) = self.read_current(secret_id, description).await?;
        guard_same_account(&current, &pending, "AWSCURRENT")?;
        if let Login::Accepted = self.target.set_password(&current, &pending).await? {
            info!(%secret_id, user = pending.username(), "password changed, logged in with AWSCURRENT");
            return Ok(Outcome::PasswordSet {
                using: Stage::Current,
            });
        }
        if let Some(previous) = self.read_previous(secret_id, description, &pending).await?
            && let Login::Accepted = self.target.set_password(&previous, &pending).await?
        {
            info!(%secret_id, user = pending.username(), "password changed, logged in with AWSPREVIOUS");
            return Ok(Outcome::PasswordSet {
                using: Stage::Previous,
            });
        }
        Err(Error::NoWorkingCredential {
            secret_id: secret_id.to_string(),
        })
    }

    /// The `AWSPREVIOUS` credential, when there is one that is for the pending account.
    async fn read_previous(
        &self,
        secret_id: &SecretId,
        description: &SecretDescription,
        pending: &T::Credential,
    ) -> Result<Option<T::Credential>> {
        let Some(previous_id) = description.version_with(&Stage::Previous) else {
            return Ok(None);
        };
        let Some(value) = self
            .store
            .get_value(secret_id, &Selector::version(previous_id, Stage::Previous))
            .await?
        else {
            return Ok(None);
        };
        match self.target.parse_credential(&value, "AWSPREVIOUS") {
            Ok(previous) if guard_same_account(&previous, pending, "AWSPREVIOUS").is_ok() => {
                Ok(Some(previous))
            }
            Ok(_) => {
                warn!(%secret_id, "AWSPREVIOUS is for another user or server: not trying it");
                Ok(None)
            }
            Err(error) => {
                warn!(%secret_id, code = error.code(), error = %error, "AWSPREVIOUS is unusable: not trying it");
                Ok(None)
            }
        }
    }

    /// testSecret: prove the pending credential works. Changes nothing.
    async fn test_secret(&self, secret_id: &SecretId, token: &VersionId) -> Result<Outcome> {
        let pending = self.read_pending(secret_id, token).await?;
        match self.target.verify(&pending).await? {
            Login::Accepted => Ok(Outcome::Tested),
            Login::Refused { reason } => Err(Error::LoginRefused {
                target: pending.server(),
                credential: "AWSPENDING".into(),
                reason,
            }),
        }
    }

    /// finishSecret: promote the pending version, after proving it logs in.
    async fn finish_secret(
        &self,
        secret_id: &SecretId,
        token: &VersionId,
        description: &SecretDescription,
    ) -> Result<Outcome> {
        let current_id = description
            .version_with(&Stage::Current)
            .ok_or_else(|| Error::MissingValue {
                secret_id: secret_id.to_string(),
                version: "AWSCURRENT".into(),
            })?
            .clone();
        let pending = self.read_pending(secret_id, token).await?;
        if !self.target.try_login(&pending).await?.is_accepted() {
            return Err(Error::PendingNotLive {
                secret_id: secret_id.to_string(),
                token: token.to_string(),
            });
        }
        self.store
            .update_stage(secret_id, Stage::Current, Some(token), Some(&current_id))
            .await?;
        self.remove_pending_label(secret_id, token).await?;
        info!(%secret_id, %token, previous = %current_id, "AWSCURRENT moved to the new version");
        Ok(Outcome::Promoted {
            previous_version: current_id,
        })
    }
}

impl<T: Target, S: SecretStore> Rotator<T, S> {
    /// Detaches `AWSPENDING` from the promoted version, so that no label is left that
    /// could block or confuse the next rotation. Secrets Manager's documentation says
    /// moving `AWSCURRENT` already removes it, while users of AWS's templates (#168) and
    /// moto see it stay: when the service answers that the label is not there, the goal
    /// is reached.
    async fn remove_pending_label(&self, secret_id: &SecretId, token: &VersionId) -> Result<()> {
        match self
            .store
            .update_stage(secret_id, Stage::Pending, None, Some(token))
            .await
        {
            Err(Error::SecretsManager {
                service_code: Some(code),
                ..
            }) if code == "InvalidParameterException" || code == "InvalidRequestException" => {
                debug!(%secret_id, %token, "AWSPENDING was already detached");
                Ok(())
            }
            other => other,
        }
    }
}

/// The confused-deputy guard: never apply a pending credential meant for another user or
/// server than the one we log in as.
fn guard_same_account<C: Credential>(other: &C, pending: &C, label: &str) -> Result<()> {
    if other.username() != pending.username() {
        return Err(Error::CredentialMismatch {
            reason: format!(
                "AWSPENDING is for user {:?} but {label} is for user {:?}",
                pending.username(),
                other.username()
            ),
        });
    }
    if other.server() != pending.server() {
        return Err(Error::CredentialMismatch {
            reason: format!(
                "AWSPENDING is for server {} but {label} is for server {}",
                pending.server(),
                other.server()
            ),
        });
    }
    Ok(())
}
