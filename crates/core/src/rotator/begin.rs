//! Starting a rotation without the service (the CLI), without racing it.

use std::time::Instant;

use tracing::{info, warn};

use super::{Rotator, elapsed_ms};
use crate::error::{Error, Result};
use crate::event::{SecretId, Step, VersionId};
use crate::outcome::StepReport;
use crate::stage::Stage;
use crate::store::SecretStore;
use crate::target::Target;

impl<T: Target, S: SecretStore> Rotator<T, S> {
    /// Starts a rotation without the service (the CLI): what `RotateSecret` and
    /// createSecret do together. The service stages an empty `AWSPENDING` version before
    /// createSecret; a client cannot create an empty version, so this writes the pending
    /// value under `token` directly.
    ///
    /// When a rotation is already in progress (`AWSPENDING` on a version that is not
    /// current), it is resumed: its token is returned and nothing is written.
    ///
    /// Writing the pending version takes `AWSPENDING` off any other version. If the service
    /// (or anyone) created a version between the check and the write, this rotation backs
    /// out — `AWSPENDING` goes back to that version, only this call's version is left
    /// without labels — and fails with [`Error::ForeignPending`].
    pub async fn begin(
        &self,
        secret_id: &SecretId,
        token: &VersionId,
    ) -> Result<(VersionId, StepReport)> {
        let started = Instant::now();
        let description = self.describe_enabled(secret_id).await?;
        let report = |token: &VersionId, outcome| StepReport {
            step: Step::CreateSecret,
            secret_id: secret_id.clone(),
            token: token.clone(),
            outcome,
            elapsed_ms: elapsed_ms(started),
        };
        if let Some(in_progress) = description.rotation_in_progress() {
            info!(%secret_id, token = %in_progress, "resuming the rotation in progress");
            let outcome = self
                .create_secret(secret_id, in_progress, &description, None)
                .await?;
            return Ok((in_progress.clone(), report(in_progress, outcome)));
        }
        let before = self.store.version_ids(secret_id).await?;
        let outcome = self
            .create_secret(secret_id, token, &description, None)
            .await?;
        let after = self.store.version_ids(secret_id).await?;
        if let Some(theirs) = after.iter().find(|v| *v != token && !before.contains(*v)) {
            self.back_out(secret_id, token, theirs).await?;
            return Err(Error::ForeignPending {
                secret_id: secret_id.to_string(),
                token: token.to_string(),
                pending_version: theirs.to_string(),
            });
        }
        Ok((token.clone(), report(token, outcome)))
    }

    /// Undoes what `begin` did to the labels after another version appeared: `AWSPENDING`
    /// goes back to that version when it lost it to ours, else it is simply removed from
    /// ours. Only our version is touched.
    async fn back_out(
        &self,
        secret_id: &SecretId,
        ours: &VersionId,
        theirs: &VersionId,
    ) -> Result<()> {
        let labels = self.store.describe(secret_id).await?;
        let ours_pending = labels
            .stages_of(ours)
            .is_some_and(|stages| stages.contains(&Stage::Pending));
        warn!(%secret_id, ours = %ours, theirs = %theirs, "another version appeared while staging this rotation: backing out");
        if ours_pending {
            let give_back = labels.stages_of(theirs).is_none().then_some(theirs);
            self.store
                .update_stage(secret_id, Stage::Pending, give_back, Some(ours))
                .await?;
        }
        Ok(())
    }
}
