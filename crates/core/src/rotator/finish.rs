//! finishSecret: promote the pending version, and leave no label behind.

use tracing::{debug, info};

use super::Rotator;
use crate::error::{Error, Result};
use crate::event::{SecretId, VersionId};
use crate::outcome::Outcome;
use crate::stage::{SecretDescription, Stage};
use crate::store::SecretStore;
use crate::target::Target;

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

    /// Detaches `AWSPENDING` from the promoted version, so that no label is left that
    /// could block or confuse the next rotation. Secrets Manager's documentation says
    /// moving `AWSCURRENT` already removes it, while users of AWS's templates (#168) and
    /// moto see it stay: when the service answers that the label is not there, the goal
    /// is reached.
    pub(super) async fn remove_pending_label(
        &self,
        secret_id: &SecretId,
        token: &VersionId,
    ) -> Result<()> {
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
