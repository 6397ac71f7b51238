//! Where secrets live: the four Secrets Manager operations a rotation needs, behind a
//! small trait.
//!
//! [`AwsSecretStore`] is the real thing (aws-sdk-secretsmanager); no other crate of
//! secret-rotor calls Secrets Manager. Test doubles (an in-memory store that follows the
//! service's label rules, fault injection) live in `secret-rotor-testkit`.

mod aws;
mod cached;
mod list;

use std::collections::BTreeSet;
use std::future::Future;

pub use aws::{
    AwsSecretStore, SDK_ATTEMPT_TIMEOUT, SDK_OPERATION_TIMEOUT, SECRETS_MANAGER_ENDPOINT,
    load_sdk_config,
};
pub use cached::CachedStore;
pub use list::{ListedSecret, SecretFilter};

use crate::error::Result;
use crate::event::{RotationToken, SecretId, VersionId};
use crate::secret::SecretValue;
use crate::stage::{SecretDescription, Stage};

/// Which version of a secret to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// A version id; when set with `stage`, the version must carry that label.
    pub version_id: Option<VersionId>,
    /// A staging label.
    pub stage: Option<Stage>,
}

impl Selector {
    /// The version that carries `stage`.
    pub fn stage(stage: Stage) -> Self {
        Selector {
            version_id: None,
            stage: Some(stage),
        }
    }

    /// Version `id`, which must carry `stage`.
    pub fn version(id: &VersionId, stage: Stage) -> Self {
        Selector {
            version_id: Some(id.clone()),
            stage: Some(stage),
        }
    }

    /// How to name this selection in messages, e.g. `AWSPENDING (version 1234)`.
    pub fn describe(&self) -> String {
        match (&self.stage, &self.version_id) {
            (Some(stage), Some(id)) => format!("{stage} (version {id})"),
            (Some(stage), None) => stage.to_string(),
            (None, Some(id)) => format!("version {id}"),
            (None, None) => "AWSCURRENT".to_owned(),
        }
    }
}

/// The Secrets Manager operations a rotation uses.
///
/// Implementations must keep the service's semantics: labels are unique across versions,
/// moving `AWSCURRENT` moves `AWSPREVIOUS` to the version it came from, and putting a value
/// under an existing version id is a no-op when the value is the same and an error when it
/// differs.
pub trait SecretStore: Send + Sync {
    /// `DescribeSecret`.
    fn describe(
        &self,
        secret_id: &SecretId,
    ) -> impl Future<Output = Result<SecretDescription>> + Send;

    /// `GetSecretValue`; `Ok(None)` when the version exists but has no value yet, or does
    /// not exist (`ResourceNotFoundException`).
    fn get_value(
        &self,
        secret_id: &SecretId,
        selector: &Selector,
    ) -> impl Future<Output = Result<Option<SecretValue>>> + Send;

    /// `PutSecretValue(ClientRequestToken=token, VersionStages=[AWSPENDING])`, forwarding
    /// `RotationToken` when there is one.
    fn put_pending(
        &self,
        secret_id: &SecretId,
        token: &VersionId,
        value: &SecretValue,
        rotation_token: Option<&RotationToken>,
    ) -> impl Future<Output = Result<()>> + Send;

    /// `ListSecretVersionIds(IncludeDeprecated=true)`: every version of the secret,
    /// labelled or not (a version that lost its last label is only seen here).
    fn version_ids(
        &self,
        secret_id: &SecretId,
    ) -> impl Future<Output = Result<BTreeSet<VersionId>>> + Send;

    /// `UpdateSecretVersionStage`: attach `stage` to `move_to` and/or detach it from
    /// `remove_from`.
    fn update_stage(
        &self,
        secret_id: &SecretId,
        stage: Stage,
        move_to: Option<&VersionId>,
        remove_from: Option<&VersionId>,
    ) -> impl Future<Output = Result<()>> + Send;
}
