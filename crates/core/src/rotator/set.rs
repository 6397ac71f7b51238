//! setSecret: make the pending credential work on the target.

use tracing::{info, warn};

use super::{Rotator, guard};
use crate::error::{Error, Result, SecretVersion};
use crate::event::{SecretId, VersionId};
use crate::outcome::Outcome;
use crate::secret::{SSL_KEY, SecretValue};
use crate::stage::{SecretDescription, Stage};
use crate::store::{SecretStore, Selector};
use crate::target::{AlternateContext, AlternateReport, Credential, Login, Strategy, Target};

impl<T: Target, S: SecretStore> Rotator<T, S> {
    /// Applies the pending credential with the strategy; each strategy recognises a retry
    /// after a crash between the change and the step's answer (`AlreadyLive`).
    pub(super) async fn set_secret(
        &self,
        secret_id: &SecretId,
        token: &VersionId,
        description: &SecretDescription,
    ) -> Result<Outcome> {
        let pending = self.read_pending(secret_id, token).await?;
        match self.config.strategy {
            Strategy::SingleUser => self.set_single_user(secret_id, description, &pending).await,
            Strategy::AlternatingUsers => {
                if self.target.try_login(&pending).await?.is_accepted() {
                    return Ok(Outcome::AlreadyLive);
                }
                self.set_alternating(secret_id, description, &pending).await
            }
        }
    }

    /// Single user: change the password logged in as current; if current is refused, the
    /// change may already be made (a retry): pending logging in means done; else change it
    /// logged in as previous.
    ///
    /// Current is tried before pending because on the clean path pending cannot log in
    /// yet: asking it first cost every rotation a failed login — a full authentication
    /// exchange (4096 SCRAM rounds on PostgreSQL), and one more failure on the count of
    /// servers that lock an account after repeated failures (MariaDB's
    /// `max_password_errors`). Now only a retry pays it. A target that keeps both
    /// passwords live ([`Capabilities::retiring`](crate::Capabilities::retiring)) applies
    /// the same password again on a retry, which changes nothing.
    async fn set_single_user(
        &self,
        secret_id: &SecretId,
        description: &SecretDescription,
        pending: &T::Credential,
    ) -> Result<Outcome> {
        let (current_value, current) = self.read_current(secret_id, description).await?;
        guard::same_account(&current, pending, SecretVersion::Current)?;
        if let Login::Accepted = self.target.set_password(&current, pending).await? {
            return Ok(password_set(secret_id, pending, Stage::Current));
        }
        if self.target.try_login(pending).await?.is_accepted() {
            return Ok(Outcome::AlreadyLive);
        }
        if let Some(previous) = self
            .read_previous(secret_id, description, &current_value, pending)
            .await?
        {
            match self.target.set_password(&previous, pending).await {
                Ok(Login::Accepted) => {
                    return Ok(password_set(secret_id, pending, Stage::Previous));
                }
                Ok(Login::Refused { .. }) => {}
                // AWSPREVIOUS is a last resort: a TLS failure there says nothing about the
                // rotation, and the answer is the same as for a refusal.
                Err(error @ Error::Tls { .. }) => {
                    warn!(%secret_id, code = error.code(), error = %error.display_chain(), "AWSPREVIOUS could not connect: not using it");
                }
                Err(error) => return Err(error),
            }
        }
        Err(Error::NoWorkingCredential {
            secret_id: secret_id.to_string(),
        })
    }

    /// The `AWSPREVIOUS` credential, when there is one that is for the pending account. As
    /// in AWS's templates, it connects the way `AWSCURRENT` does (current's `ssl`): an old
    /// version's setting must not decide how the database is reached today.
    async fn read_previous(
        &self,
        secret_id: &SecretId,
        description: &SecretDescription,
        current_value: &SecretValue,
        pending: &T::Credential,
    ) -> Result<Option<T::Credential>> {
        let Some(previous_id) = description.version_with(&Stage::Previous) else {
            return Ok(None);
        };
        let Some(value) = self
            .store
            .get_value(secret_id, &Selector::version(previous_id, Stage::Previous))
            .await
            .map_err(|e| e.in_version(SecretVersion::Previous))?
        else {
            return Ok(None);
        };
        let value = match current_value.get(SSL_KEY) {
            Some(ssl) => value.with_field(SSL_KEY, ssl.clone()),
            None => value.without_field(SSL_KEY),
        };
        match self.parse(&value, SecretVersion::Previous) {
            Ok(previous)
                if guard::same_account(&previous, pending, SecretVersion::Previous).is_ok() =>
            {
                Ok(Some(previous))
            }
            Ok(_) => {
                warn!(%secret_id, "AWSPREVIOUS is for another user or server: not trying it");
                Ok(None)
            }
            Err(error) => {
                warn!(%secret_id, code = error.code(), error = %error.display_chain(), "AWSPREVIOUS is unusable: not trying it");
                Ok(None)
            }
        }
    }

    /// Alternating users: as the master, create or update the other user of the pair
    /// with the new password and the same privileges as the current user.
    async fn set_alternating(
        &self,
        secret_id: &SecretId,
        description: &SecretDescription,
        pending: &T::Credential,
    ) -> Result<Outcome> {
        let (current_value, current) = self.read_current(secret_id, description).await?;
        let alternate = self.target.alternate_username(&current)?;
        guard::alternate_account(&current, pending, &alternate)?;
        // The current credential must still work: if it does not, something else is
        // wrong and the master should not act.
        if let Login::Refused { reason } = self.target.try_login(&current).await? {
            return Err(Error::LoginRefused {
                target: current.server(),
                credential: SecretVersion::Current,
                reason,
            });
        }
        let master = self.master_credential(&current_value, &current).await?;
        guard::master_is_apart(
            Some(master.username()),
            current.username(),
            pending.username(),
        )?;
        let pair_established = self
            .read_previous_credential(secret_id, description)
            .await?
            .is_some_and(|previous| previous.username() == pending.username());
        let context =
            AlternateContext::new(self.config.parity).with_pair_established(pair_established);
        let report = self
            .target
            .sync_alternate(&master, &current, pending, context)
            .await?;
        log_report(secret_id, pending.username(), &report);
        Ok(Outcome::AlternateUserSet { report })
    }
}

fn password_set<C: Credential>(secret_id: &SecretId, pending: &C, using: Stage) -> Outcome {
    info!(%secret_id, user = pending.username(), %using, "password changed, logged in with {using}");
    Outcome::PasswordSet { using }
}

fn log_report(secret_id: &SecretId, user: &str, report: &AlternateReport) {
    info!(
        %secret_id,
        user,
        created = report.created,
        synced = ?report.synced,
        "alternate user set by the master; privileges brought in line"
    );
    for difference in &report.unsynced {
        warn!(%secret_id, user, difference = %difference, "privilege difference the master could not fix");
    }
    for extra in &report.extra {
        warn!(%secret_id, user, extra = %extra, "the pending user holds this and the current user does not (not granted to the current user)");
    }
    for note in &report.notes {
        warn!(%secret_id, user, note = %note, "alternating users");
    }
}
