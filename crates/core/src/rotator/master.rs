//! The master credential of alternating users: the secret named by `masterarn`, located
//! with the RDS API when RDS manages it, and checked to be on the user's server.

use super::Rotator;
use crate::error::{Error, Result, SecretVersion};
use crate::event::SecretId;
use crate::secret::SecretValue;
use crate::stage::Stage;
use crate::store::{SecretStore, Selector};
use crate::target::{Credential, Target};

/// The key of a user's secret that names the master secret (alternating users).
const MASTER_ARN_KEY: &str = "masterarn";

/// The master secret named by the user's secret.
pub(super) fn master_arn(current_value: &SecretValue) -> Result<SecretId> {
    let arn = current_value
        .str(MASTER_ARN_KEY)
        .filter(|arn| !arn.trim().is_empty())
        .ok_or_else(|| {
            Error::invalid_secret(
                "alternating users needs \"masterarn\": the ARN of the master secret",
            )
            .in_version(SecretVersion::Current)
        })?;
    SecretId::new(arn)
}

impl<T: Target, S: SecretStore> Rotator<T, S> {
    /// Reads and checks the master credential for `current`'s server.
    pub(super) async fn master_credential(
        &self,
        current_value: &SecretValue,
        current: &T::Credential,
    ) -> Result<T::Credential> {
        let master_id = master_arn(current_value)?;
        let mut value = self
            .read(
                &master_id,
                Selector::stage(Stage::Current),
                SecretVersion::Master,
            )
            .await?;
        // The master works in the user's database, connected the same way, unless its own
        // secret says otherwise.
        for key in ["dbname", "ssl"] {
            if value.get(key).is_none()
                && let Some(v) = current_value.get(key)
            {
                value = value.with_field(key, v.clone());
            }
        }
        if value.get("host").is_none() {
            value = self.locate_rds_master(&master_id, value).await?;
        }
        let master = self.parse(&value, SecretVersion::Master)?;
        if master.server() != current.server() {
            let current_host = current_value.str("host").unwrap_or_default();
            let master_host = value.str("host").unwrap_or_default();
            if !self.is_replica_of(current_host, master_host).await? {
                return Err(Error::CredentialMismatch {
                    reason: format!(
                        "the master secret is for server {} but AWSCURRENT is for server {} \
                         (neither the same server nor an RDS replica of it)",
                        master.server(),
                        current.server()
                    ),
                });
            }
        }
        Ok(master)
    }

    /// Fills in host, port and engine of an RDS-managed master secret (it holds only
    /// `username` and `password`, and `aws:rds:*` tags) from the RDS API. A master secret
    /// without those tags is returned as it is: the target says what it lacks.
    #[cfg(feature = "rds")]
    async fn locate_rds_master(
        &self,
        master_id: &SecretId,
        value: SecretValue,
    ) -> Result<SecretValue> {
        let tags = self.store.describe(master_id).await?.tags;
        if !crate::rds::names_a_database(&tags) {
            return Ok(value);
        }
        let Some(locator) = &self.rds else {
            return Err(Error::invalid_secret(
                "RDS manages it (aws:rds:* tags), and no RDS locator is configured to find its \
                 database",
            )
            .in_version(SecretVersion::Master));
        };
        match locator.primary_endpoint(&tags).await? {
            Some(endpoint) => Ok(value
                .with_field("host", endpoint.host.into())
                .with_field("port", endpoint.port.into())
                .with_field("engine", endpoint.engine.into())),
            None => Ok(value),
        }
    }

    #[cfg(not(feature = "rds"))]
    async fn locate_rds_master(&self, _: &SecretId, value: SecretValue) -> Result<SecretValue> {
        Ok(value)
    }

    #[cfg(feature = "rds")]
    async fn is_replica_of(&self, host: &str, master_host: &str) -> Result<bool> {
        match &self.rds {
            Some(locator) if !host.is_empty() && !master_host.is_empty() => {
                locator.is_replica_of(host, master_host).await
            }
            _ => Ok(false),
        }
    }

    #[cfg(not(feature = "rds"))]
    async fn is_replica_of(&self, _: &str, _: &str) -> Result<bool> {
        Ok(false)
    }
}
