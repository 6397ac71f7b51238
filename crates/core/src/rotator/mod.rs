//! The rotation state machine: preconditions, then one of the four steps.
//!
//! [`Rotator`] lives here with the preconditions; each step has its own module.

mod begin;
mod check;
mod create;
mod finish;
mod guard;
mod master;
mod set;
mod test;

use std::time::Instant;

pub use check::{CheckReport, CredentialCheck, LoginCheck};

use serde_json::Value;
use tracing::{info, warn};

use crate::config::RotationConfig;
use crate::error::{Error, Result, SecretVersion};
use crate::event::{RotationEvent, SecretId, Step, VersionId};
use crate::outcome::{Outcome, StepReport};
use crate::secret::SecretValue;
use crate::stage::{SecretDescription, Stage};
use crate::store::{SecretStore, Selector};
use crate::target::Target;

/// Runs rotation steps for one target against one secret store.
///
/// Build it once per process (outside the Lambda handler) and call [`Rotator::handle`] per
/// invocation.
#[derive(Debug)]
pub struct Rotator<T, S> {
    target: T,
    store: S,
    config: RotationConfig,
    #[cfg(feature = "rds")]
    rds: Option<Box<dyn crate::rds::DynLocator>>,
}

/// The state of the secret after the preconditions.
enum Checked {
    /// The token's version is already `AWSCURRENT`.
    AlreadyCurrent {
        still_pending: bool,
        description: SecretDescription,
    },
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
            #[cfg(feature = "rds")]
            rds: None,
        })
    }

    /// Resolves RDS-managed master secrets (alternating users) with this locator
    /// ([`RdsLocator`](crate::rds::RdsLocator), or a test double wrapping it).
    #[cfg(feature = "rds")]
    pub fn with_rds(mut self, locator: impl crate::rds::DatabaseLocator) -> Self {
        self.rds = Some(Box::new(locator));
        self
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
            warn!(code = e.code(), error = %e.display_chain(), "rejected rotation event");
        })?;
        self.handle(&event).await
    }

    /// Runs one step: the preconditions of AWS's templates, in their order, then the step.
    /// Logs the outcome (or the error with its code) with the elapsed time.
    pub async fn handle(&self, event: &RotationEvent) -> Result<StepReport> {
        let started = Instant::now();
        // Boxed: keeps the future's type shallow for the Lambda runtime's nesting.
        let result = Box::pin(self.run_step(event)).await;
        let elapsed_ms = elapsed_ms(started);
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
                    error = %error.display_chain(),
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
            Checked::AlreadyCurrent {
                still_pending,
                description,
            } => {
                info!(%secret_id, %token, "version is already AWSCURRENT: nothing to do");
                if event.step != Step::FinishSecret {
                    return Ok(Outcome::AlreadyCurrent {
                        labels_cleaned: false,
                    });
                }
                // A crash between finishSecret's calls, or a store that keeps AWSPENDING
                // on the promoted version.
                let labels_cleaned =
                    still_pending && self.remove_pending_label(secret_id, token).await?;
                self.retire_again(secret_id, token, &description).await?;
                Ok(Outcome::AlreadyCurrent { labels_cleaned })
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

    /// `DescribeSecret`, refusing a secret whose `RotationEnabled` is false (absent is not
    /// false: rotation was never configured).
    async fn describe_enabled(&self, secret_id: &SecretId) -> Result<SecretDescription> {
        let description = self.store.describe(secret_id).await?;
        if description.rotation_enabled == Some(false) {
            return Err(Error::RotationDisabled {
                secret_id: secret_id.to_string(),
            });
        }
        Ok(description)
    }

    /// The checks AWS's templates make on every step, in their order.
    async fn preconditions(&self, secret_id: &SecretId, token: &VersionId) -> Result<Checked> {
        let description = self.describe_enabled(secret_id).await?;
        let Some(stages) = description.stages_of(token) else {
            return Err(Error::TokenNotAVersion {
                secret_id: secret_id.to_string(),
                token: token.to_string(),
            });
        };
        if stages.contains(&Stage::Current) {
            let still_pending = stages.contains(&Stage::Pending);
            return Ok(Checked::AlreadyCurrent {
                still_pending,
                description,
            });
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

    /// Reads a value the step needs; `version` names it in errors.
    async fn read(
        &self,
        secret_id: &SecretId,
        selector: Selector,
        version: SecretVersion,
    ) -> Result<SecretValue> {
        self.store
            .get_value(secret_id, &selector)
            .await
            .map_err(|e| e.in_version(version))?
            .ok_or_else(|| Error::MissingValue {
                secret_id: secret_id.to_string(),
                version: selector.describe(),
            })
    }

    /// The target's credential in `value`; `version` names it in errors.
    fn parse(&self, value: &SecretValue, version: SecretVersion) -> Result<T::Credential> {
        self.target
            .parse_credential(value)
            .map_err(|e| e.in_version(version))
    }

    /// The version labelled `AWSCURRENT`, by its id.
    fn current_id<'d>(
        secret_id: &SecretId,
        description: &'d SecretDescription,
    ) -> Result<&'d VersionId> {
        description
            .version_with(&Stage::Current)
            .ok_or_else(|| Error::MissingValue {
                secret_id: secret_id.to_string(),
                version: Stage::Current.to_string(),
            })
    }

    async fn read_current(
        &self,
        secret_id: &SecretId,
        description: &SecretDescription,
    ) -> Result<(SecretValue, T::Credential)> {
        let current_id = Self::current_id(secret_id, description)?;
        let value = self
            .read(
                secret_id,
                Selector::version(current_id, Stage::Current),
                SecretVersion::Current,
            )
            .await?;
        let credential = self.parse(&value, SecretVersion::Current)?;
        Ok((value, credential))
    }

    /// `AWSPREVIOUS`'s credential, when there is one that parses (an unusable old version
    /// is no reason to fail).
    async fn read_previous_credential(
        &self,
        secret_id: &SecretId,
        description: &SecretDescription,
    ) -> Result<Option<T::Credential>> {
        let Some(previous_id) = description.version_with(&Stage::Previous) else {
            return Ok(None);
        };
        let value = self
            .store
            .get_value(secret_id, &Selector::version(previous_id, Stage::Previous))
            .await
            .map_err(|e| e.in_version(SecretVersion::Previous))?;
        Ok(value.and_then(|v| self.parse(&v, SecretVersion::Previous).ok()))
    }

    async fn read_pending(&self, secret_id: &SecretId, token: &VersionId) -> Result<T::Credential> {
        let value = self
            .read(
                secret_id,
                Selector::version(token, Stage::Pending),
                SecretVersion::Pending,
            )
            .await?;
        self.parse(&value, SecretVersion::Pending)
    }
}

/// Milliseconds since `started`.
fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}
