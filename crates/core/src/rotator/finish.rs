//! finishSecret: promote the pending version, and leave no label behind.

use std::time::Duration;

use tracing::{debug, info, warn};

use super::Rotator;
use crate::error::{Error, Result};
use crate::event::{SecretId, VersionId};
use crate::outcome::Outcome;
use crate::stage::{SecretDescription, Stage};
use crate::store::SecretStore;
use crate::target::{Login, RetireReport, RetireRequest, Target};

impl<T: Target, S: SecretStore> Rotator<T, S> {
    /// finishSecret: promote the pending version, after proving it logs in.
    pub(super) async fn finish_secret(
        &self,
        secret_id: &SecretId,
        token: &VersionId,
        description: &SecretDescription,
    ) -> Result<Outcome> {
        let current_id = Self::current_id(secret_id, description)?.clone();
        let pending = self.read_pending(secret_id, token).await?;
        if !self.proof_login(&pending).await?.is_accepted() {
            return Err(Error::PendingNotLive {
                secret_id: secret_id.to_string(),
                token: token.to_string(),
            });
        }
        // What the move takes out of use, read before it (targets that retire only).
        let retiring = match self.target.info().capabilities.retires() {
            true => Some((
                self.read_previous_credential(secret_id, description)
                    .await?,
                self.read_current(secret_id, description).await?.1,
            )),
            false => None,
        };
        self.store
            .update_stage(secret_id, Stage::Current, Some(token), Some(&current_id))
            .await?;
        self.remove_pending_label(secret_id, token).await?;
        info!(%secret_id, %token, previous = %current_id, "AWSCURRENT moved to the new version");
        let retired = match retiring {
            Some((retired, new_previous)) => {
                let request = RetireRequest {
                    retired: retired.as_ref(),
                    keep: [&pending, &new_previous],
                    token,
                };
                Some(self.retire(secret_id, request).await?)
            }
            None => None,
        };
        Ok(Outcome::Promoted {
            previous_version: current_id,
            retired,
        })
    }

    /// Runs [`Target::retire`]. A failure fails the step although `AWSCURRENT` has moved:
    /// a credential that should be revoked is still live, and the step's retry (the
    /// version is then already `AWSCURRENT`: [`Rotator::retire_again`]) revokes it.
    async fn retire(
        &self,
        secret_id: &SecretId,
        request: RetireRequest<'_, T::Credential>,
    ) -> Result<RetireReport> {
        match self.target.retire(request).await {
            Ok(report) => {
                info!(%secret_id, revoked = ?report.revoked, possible_orphans = ?report.possible_orphans, "retired what fell out of AWSPREVIOUS");
                Ok(report)
            }
            Err(error) => {
                warn!(%secret_id, code = error.code(), error = %error.display_chain(), "AWSCURRENT moved, but retiring what fell out of AWSPREVIOUS failed: the step fails so that its retry retires it");
                Err(error)
            }
        }
    }

    /// finishSecret on a version that is already `AWSCURRENT` (a retry after a crash or a
    /// failure after the label move), for targets that retire: retires what neither
    /// `AWSCURRENT` nor `AWSPREVIOUS` holds. Which version was retired is no longer known
    /// (it has no label), so the target sweeps ([`RetireRequest::retired`] is `None`).
    pub(super) async fn retire_again(
        &self,
        secret_id: &SecretId,
        token: &VersionId,
        description: &SecretDescription,
    ) -> Result<()> {
        if !self.target.info().capabilities.retires() {
            return Ok(());
        }
        let current = self.read_current(secret_id, description).await?.1;
        let previous = self
            .read_previous_credential(secret_id, description)
            .await?;
        let request = RetireRequest {
            retired: None,
            keep: [&current, previous.as_ref().unwrap_or(&current)],
            token,
        };
        self.retire(secret_id, request).await.map(drop)
    }

    /// The login that proves the pending credential before it is promoted. After a
    /// single-user setSecret the server already has the new password and AWSCURRENT does
    /// not: a transient failure here (unreachable, too many connections, a TLS hiccup)
    /// would keep the application locked out until the service retries the whole
    /// rotation, so it is retried a few times within the step. A refusal is final.
    async fn proof_login(&self, pending: &T::Credential) -> Result<Login> {
        let mut attempt = 0;
        loop {
            match self.target.try_login(pending).await {
                Err(error) if error.is_retryable() && attempt < PROOF_RETRY_DELAYS.len() => {
                    let delay = PROOF_RETRY_DELAYS[attempt];
                    attempt += 1;
                    warn!(
                        code = error.code(),
                        error = %error.display_chain(),
                        attempt,
                        delay_ms = delay.as_millis() as u64,
                        "the proof login failed; retrying"
                    );
                    tokio::time::sleep(delay).await;
                }
                other => return other,
            }
        }
    }

    /// Detaches `AWSPENDING` from the promoted version, so that no label is left that
    /// could block or confuse the next rotation; `true` when it was removed here.
    ///
    /// Secrets Manager's documentation says moving `AWSCURRENT` already removes it, while
    /// users of AWS's templates (#168) and moto see it stay. When the service refuses the
    /// removal, the labels are read again: if `AWSPENDING` is no longer on the version the
    /// goal is reached; any other refusal is an error.
    pub(super) async fn remove_pending_label(
        &self,
        secret_id: &SecretId,
        token: &VersionId,
    ) -> Result<bool> {
        let refusal = match self
            .store
            .update_stage(secret_id, Stage::Pending, None, Some(token))
            .await
        {
            Ok(()) => return Ok(true),
            Err(error) => error,
        };
        let refused_request = matches!(
            refusal.service_code(),
            Some("InvalidParameterException" | "InvalidRequestException")
        );
        if refused_request
            && !self
                .store
                .describe(secret_id)
                .await?
                .stages_of(token)
                .is_some_and(|stages| stages.contains(&Stage::Pending))
        {
            debug!(%secret_id, %token, "AWSPENDING was already detached");
            return Ok(false);
        }
        Err(refusal)
    }
}

/// Waits between the attempts of the proof login: three attempts within about 1.5 s
/// (plus each attempt's connect timeout), well inside a Lambda timeout.
const PROOF_RETRY_DELAYS: [Duration; 2] = [Duration::from_millis(250), Duration::from_millis(1000)];
