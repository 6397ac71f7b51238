//! createSecret: store the new credential as the pending version, once.

use super::master::master_arn;
use super::{Rotator, guard};
use crate::error::{Result, SecretVersion};
use crate::event::{RotationToken, SecretId, VersionId};
use crate::outcome::Outcome;
use crate::stage::{SecretDescription, Stage};
use crate::store::{SecretStore, Selector};
use crate::target::{Credential, PendingRequest, Strategy, Target};

impl<T: Target, S: SecretStore> Rotator<T, S> {
    /// Stores a new pending value, unless the pending version already has one (a retry:
    /// never a second password). Copies `AWSCURRENT`, with a new password and, for
    /// alternating users, the other user of the pair; every other key survives.
    pub(super) async fn create_secret(
        &self,
        secret_id: &SecretId,
        token: &VersionId,
        description: &SecretDescription,
        rotation_token: Option<&RotationToken>,
    ) -> Result<Outcome> {
        let existing = self
            .store
            .get_value(secret_id, &Selector::version(token, Stage::Pending))
            .await
            .map_err(|e| e.in_version(SecretVersion::Pending))?;
        if let Some(existing) = existing {
            self.parse(&existing, SecretVersion::Pending)?;
            return Ok(Outcome::PendingExists);
        }
        let (current, current_credential) = self.read_current(secret_id, description).await?;
        let mut proposed = current.with_password(self.config.password.generate()?);
        if self.config.strategy == Strategy::AlternatingUsers {
            // Refused here, before anything is written, rather than in setSecret.
            let master_id = master_arn(&current)?;
            let alternate = self
                .target
                .alternate_username(&current_credential)
                .map_err(|e| e.in_version(SecretVersion::Current))?;
            guard::master_is_another_secret(&master_id, secret_id, description)?;
            let master = self
                .read(
                    &master_id,
                    Selector::stage(Stage::Current),
                    SecretVersion::Master,
                )
                .await?;
            guard::master_is_apart(master.username(), current_credential.username(), &alternate)?;
            proposed = proposed.with_username(&alternate);
        }
        let previous = match self.target.info().capabilities.retires() {
            true => {
                self.read_previous_credential(secret_id, description)
                    .await?
            }
            false => None,
        };
        let pending = self
            .target
            .pending_value(PendingRequest {
                proposed,
                current_value: &current,
                current: &current_credential,
                previous: previous.as_ref(),
                token,
            })
            .await?;
        let pending_credential = self.parse(&pending, SecretVersion::Pending)?;
        self.store
            .put_pending(secret_id, token, &pending, rotation_token)
            .await?;
        Ok(Outcome::PendingCreated {
            username: pending_credential.username().to_owned(),
        })
    }
}
