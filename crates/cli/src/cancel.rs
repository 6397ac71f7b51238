//! `cancel`: end a stuck rotation, only when that cannot lock the application out.
//!
//! Cancelling takes `AWSPENDING` off the pending version, so that the next rotation starts
//! afresh. It is safe exactly when `AWSCURRENT` still logs in: the application keeps
//! working with it. When it does not and the pending credential does (single user, after
//! setSecret), the target already runs on the pending password: cancelling would leave
//! `AWSCURRENT` with a password the target refuses, so the command refuses and says to
//! finish the rotation instead.

use std::process::ExitCode;

use secret_rotor::store::{AwsSecretStore, SecretStore, Selector};
use secret_rotor::{Error, Login, Result, SecretId, SecretVersion, Stage, Target, VersionId};

use crate::commands::print_versions;
use crate::targets::WithTarget;

/// Exit code when cancelling is refused because it is not safe.
pub(crate) const EXIT_UNSAFE: u8 = 4;

/// Cancels the rotation whose pending version is `pending`.
pub(crate) struct Cancel {
    pub(crate) store: AwsSecretStore,
    pub(crate) secret_id: SecretId,
    pub(crate) pending: VersionId,
}

impl Cancel {
    /// Whether the value selected by `selector` parses and logs in; `None` without a value.
    async fn logs_in<T: Target>(
        &self,
        target: &T,
        selector: &Selector,
        version: SecretVersion,
    ) -> Result<Option<Login>> {
        let Some(value) = self.store.get_value(&self.secret_id, selector).await? else {
            return Ok(None);
        };
        let credential = target
            .parse_credential(&value)
            .map_err(|e| e.in_version(version))?;
        target.try_login(&credential).await.map(Some)
    }
}

impl WithTarget for Cancel {
    type Output = ExitCode;

    async fn run<T: Target>(self, target: T) -> Result<ExitCode> {
        let current = self
            .logs_in(
                &target,
                &Selector::stage(Stage::Current),
                SecretVersion::Current,
            )
            .await?
            .ok_or_else(|| Error::MissingValue {
                secret_id: self.secret_id.to_string(),
                version: Stage::Current.to_string(),
            })?;
        let pending = self
            .logs_in(
                &target,
                &Selector::version(&self.pending, Stage::Pending),
                SecretVersion::Pending,
            )
            .await
            .ok()
            .flatten();
        let pending_live = pending.as_ref().is_some_and(Login::is_accepted);
        let id = &self.secret_id;
        if !current.is_accepted() {
            if pending_live {
                println!(
                    "NOT CANCELLED: AWSCURRENT no longer logs in and the pending credential of \
                     {} does: the target already uses it, and cancelling would lock the \
                     application out.\nFinish the rotation instead: secret-rotor rotate \
                     --secret-id {id}",
                    self.pending
                );
            } else {
                println!(
                    "NOT CANCELLED: neither AWSCURRENT nor the pending credential logs in; \
                     cancelling would not make the application work. See `secret-rotor \
                     status` and the target's logs."
                );
            }
            return Ok(ExitCode::from(EXIT_UNSAFE));
        }
        self.store
            .update_stage(id, Stage::Pending, None, Some(&self.pending))
            .await?;
        println!(
            "cancelled: AWSPENDING removed from {}; AWSCURRENT logs in and stays",
            self.pending
        );
        if pending_live {
            println!(
                "note: the pending credential logs in too (an alternate user, or a second \
                 password or key the target keeps); the next rotation replaces it"
            );
        }
        print_versions(&self.store.describe(id).await?);
        Ok(ExitCode::SUCCESS)
    }
}
