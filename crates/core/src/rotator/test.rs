//! testSecret: prove the pending credential works, changing nothing.

use super::Rotator;
use crate::error::{Error, Result, SecretVersion};
use crate::event::{SecretId, VersionId};
use crate::outcome::Outcome;
use crate::store::SecretStore;
use crate::target::{Credential, Login, Target};

impl<T: Target, S: SecretStore> Rotator<T, S> {
    /// Reads the pending credential and has the target verify it. Safe to run on its own
    /// (`RotateImmediately=false` runs only this step).
    pub(super) async fn test_secret(
        &self,
        secret_id: &SecretId,
        token: &VersionId,
    ) -> Result<Outcome> {
        let pending = self.read_pending(secret_id, token).await?;
        match self.target.verify(&pending).await? {
            Login::Accepted => Ok(Outcome::Tested),
            Login::Refused { reason } => Err(Error::LoginRefused {
                target: pending.server(),
                credential: SecretVersion::Pending,
                reason,
            }),
        }
    }
}
