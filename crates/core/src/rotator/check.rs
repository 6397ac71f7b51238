//! A read-only look at a secret: can each credential log in, is a rotation stuck, what
//! would the next rotation do. Nothing is written (the CLI's `check` and `rotate
//! --dry-run`).

use super::{Rotator, guard};
use crate::error::{Error, Result, SecretVersion};
use crate::event::{SecretId, VersionId};
use crate::inspect::{CertificateInfo, CheckFailure};
use crate::stage::{SecretDescription, Stage};
use crate::store::{SecretStore, Selector};
use crate::target::{AlternateContext, AlternateReport, Credential, Login, Strategy, Target};

/// What logging in with one credential gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginCheck {
    /// The target accepted it.
    LogsIn,
    /// The target refused it (its reason; never the password).
    Refused {
        /// The target's words.
        reason: String,
    },
    /// The check itself failed (the credential does not parse, the server is unreachable,
    /// TLS...).
    Failed {
        /// The stable error code.
        code: String,
        /// The error, one line.
        message: String,
    },
}

/// One credential the secret names, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialCheck {
    /// Which one.
    pub which: SecretVersion,
    /// The version it was read from (the master secret's `AWSCURRENT` for the master).
    pub version: Option<VersionId>,
    /// Its user name and server, when it parsed.
    pub user: Option<String>,
    /// Its server (`host:port` or URL), when it parsed.
    pub server: Option<String>,
    /// What logging in gave.
    pub login: LoginCheck,
}

/// The whole look: the secret's state and each credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// The strategy the rotator is configured for.
    pub strategy: Strategy,
    /// `DescribeSecret`.
    pub description: SecretDescription,
    /// The version holding `AWSPENDING` while it is not `AWSCURRENT`: a rotation in
    /// progress (or stuck).
    pub in_progress: Option<VersionId>,
    /// `AWSCURRENT`, `AWSPREVIOUS` (when there is one) and, for alternating users, the
    /// master secret.
    pub credentials: Vec<CredentialCheck>,
    /// The TLS certificate `AWSCURRENT`'s server presents ([`Target::certificate`]);
    /// `None` without TLS or when the target cannot tell.
    pub certificate: Option<std::result::Result<CertificateInfo, CheckFailure>>,
    /// Alternating users: what setSecret would do to the other user now, or the error it
    /// would fail with ([`Target::preview_alternate`]); `None` for single user or when
    /// the target cannot tell.
    pub alternate: Option<std::result::Result<AlternateReport, CheckFailure>>,
}

impl CheckReport {
    /// The check of `which`, if it was made.
    pub fn of(&self, which: SecretVersion) -> Option<&CredentialCheck> {
        self.credentials.iter().find(|c| c.which == which)
    }

    /// Whether a rotation would go through: `AWSCURRENT` logs in and, for alternating
    /// users, the master too and the preview of setSecret found nothing it would refuse.
    /// (`AWSPREVIOUS` is refused after a single-user rotation by design.)
    pub fn healthy(&self) -> bool {
        let works = |which| {
            self.of(which)
                .is_some_and(|c| c.login == LoginCheck::LogsIn)
        };
        works(SecretVersion::Current)
            && (self.strategy != Strategy::AlternatingUsers || works(SecretVersion::Master))
            && !matches!(self.alternate, Some(Err(_)))
    }
}

fn failed(e: &Error) -> LoginCheck {
    LoginCheck::Failed {
        code: e.code().to_owned(),
        message: e.headline(),
    }
}

impl<T: Target, S: SecretStore> Rotator<T, S> {
    /// Looks at `secret_id` without changing anything: its labels, whether a rotation is
    /// in progress, and a login with each credential it names.
    pub async fn check(&self, secret_id: &SecretId) -> Result<CheckReport> {
        let description = self.store.describe(secret_id).await?;
        let current_id = Self::current_id(secret_id, &description)?.clone();
        let current_value = self
            .read(
                secret_id,
                Selector::version(&current_id, Stage::Current),
                SecretVersion::Current,
            )
            .await?;
        let mut credentials = Vec::new();
        let mut alternate = None;
        let current = self.parse(&current_value, SecretVersion::Current);
        credentials.push(
            self.check_one(SecretVersion::Current, Some(current_id), &current)
                .await,
        );
        if let Some(previous_id) = description.version_with(&Stage::Previous).cloned() {
            let previous = self
                .read(
                    secret_id,
                    Selector::version(&previous_id, Stage::Previous),
                    SecretVersion::Previous,
                )
                .await
                .and_then(|value| self.parse(&value, SecretVersion::Previous));
            credentials.push(
                self.check_one(SecretVersion::Previous, Some(previous_id), &previous)
                    .await,
            );
        }
        if self.config.strategy == Strategy::AlternatingUsers {
            let master = match &current {
                Ok(current) => self.master_credential(&current_value, current).await,
                Err(e) => Err(Error::config(format!(
                    "AWSCURRENT does not parse: {}",
                    e.code()
                ))),
            };
            credentials.push(self.check_one(SecretVersion::Master, None, &master).await);
            if let (Ok(current), Ok(master)) = (&current, &master) {
                let previous_user = credentials
                    .iter()
                    .find(|c| c.which == SecretVersion::Previous)
                    .and_then(|c| c.user.clone());
                alternate = self
                    .preview_alternate(master, current, previous_user)
                    .await
                    .map_err(|e| CheckFailure::from(&e))
                    .transpose();
            }
        }
        let certificate = match &current {
            Ok(current) => (self.target.certificate(current).await)
                .map_err(|e| CheckFailure::from(&e.in_version(SecretVersion::Current)))
                .transpose(),
            Err(_) => None,
        };
        Ok(CheckReport {
            strategy: self.config.strategy,
            in_progress: description.rotation_in_progress().cloned(),
            description,
            credentials,
            certificate,
            alternate,
        })
    }

    /// What setSecret would do for alternating users now, with the guards it applies
    /// first; `previous_user` is `AWSPREVIOUS`'s user (the pair is established when it
    /// is the other user).
    async fn preview_alternate(
        &self,
        master: &T::Credential,
        current: &T::Credential,
        previous_user: Option<String>,
    ) -> Result<Option<AlternateReport>> {
        let pending_user = self.target.alternate_username(current)?;
        guard::master_is_apart(Some(master.username()), current.username(), &pending_user)?;
        let established = previous_user.as_deref() == Some(pending_user.as_str());
        let context = AlternateContext::new(self.config.parity).with_pair_established(established);
        self.target
            .preview_alternate(master, current, &pending_user, context)
            .await
    }

    async fn check_one(
        &self,
        which: SecretVersion,
        version: Option<VersionId>,
        credential: &Result<T::Credential>,
    ) -> CredentialCheck {
        let (user, server, login) = match credential {
            Err(e) => (None, None, failed(e)),
            Ok(c) => {
                let login = match self.target.try_login(c).await {
                    Ok(Login::Accepted) => LoginCheck::LogsIn,
                    Ok(Login::Refused { reason }) => LoginCheck::Refused { reason },
                    Err(e) => failed(&e.in_version(which)),
                };
                (Some(c.username().to_owned()), Some(c.server()), login)
            }
        };
        CredentialCheck {
            which,
            version,
            user,
            server,
            login,
        }
    }
}
