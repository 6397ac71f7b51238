//! Secret values kept by version id for the life of the process.
//!
//! A version's value never changes once written (Secrets Manager refuses a
//! `PutSecretValue` with an existing token and a different value), so a value read — or
//! written — by `VersionId` can serve the next step of the same rotation in a warm
//! process: createSecret's `AWSCURRENT` for setSecret, the pending value it wrote for
//! setSecret, testSecret and finishSecret. Labels are never cached (`DescribeSecret` runs
//! fresh in every step), nothing is cached by stage name alone, and the absence of a value
//! (the service's empty `AWSPENDING` version) is never cached.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use super::{SecretStore, Selector};
use crate::error::Result;
use crate::event::{RotationToken, SecretId, VersionId};
use crate::secret::SecretValue;
use crate::stage::{SecretDescription, Stage};

/// At most this many values are kept; the cache starts over when it is full (a Lambda
/// rotates one secret at a time: a handful of entries in practice).
const MAX_ENTRIES: usize = 64;

/// A [`SecretStore`] that keeps values read or written by version id.
///
/// ```
/// use secret_rotor::store::{AwsSecretStore, CachedStore};
/// # fn store() -> AwsSecretStore { unimplemented!() }
/// # fn f() {
/// let store = CachedStore::new(store());
/// # }
/// ```
#[derive(Debug)]
pub struct CachedStore<S> {
    inner: S,
    values: Mutex<HashMap<(String, VersionId), SecretValue>>,
}

impl<S> CachedStore<S> {
    /// Caches the values of `inner`.
    pub fn new(inner: S) -> Self {
        CachedStore {
            inner,
            values: Mutex::new(HashMap::new()),
        }
    }

    /// The store it wraps.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, VersionId), SecretValue>> {
        self.values
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn keep(&self, secret_id: &SecretId, version: &VersionId, value: &SecretValue) {
        let mut values = self.lock();
        if values.len() >= MAX_ENTRIES {
            values.clear();
        }
        values.insert((secret_id.to_string(), version.clone()), value.clone());
    }
}

impl<S: SecretStore> SecretStore for CachedStore<S> {
    async fn describe(&self, secret_id: &SecretId) -> Result<SecretDescription> {
        self.inner.describe(secret_id).await
    }

    async fn get_value(
        &self,
        secret_id: &SecretId,
        selector: &Selector,
    ) -> Result<Option<SecretValue>> {
        if let Some(id) = &selector.version_id
            && let Some(value) = self.lock().get(&(secret_id.to_string(), id.clone()))
        {
            return Ok(Some(value.clone()));
        }
        let value = self.inner.get_value(secret_id, selector).await?;
        if let (Some(id), Some(value)) = (&selector.version_id, &value) {
            self.keep(secret_id, id, value);
        }
        Ok(value)
    }

    async fn put_pending(
        &self,
        secret_id: &SecretId,
        token: &VersionId,
        value: &SecretValue,
        rotation_token: Option<&RotationToken>,
    ) -> Result<()> {
        self.inner
            .put_pending(secret_id, token, value, rotation_token)
            .await?;
        self.keep(secret_id, token, value);
        Ok(())
    }

    async fn version_ids(&self, secret_id: &SecretId) -> Result<BTreeSet<VersionId>> {
        self.inner.version_ids(secret_id).await
    }

    async fn update_stage(
        &self,
        secret_id: &SecretId,
        stage: Stage,
        move_to: Option<&VersionId>,
        remove_from: Option<&VersionId>,
    ) -> Result<()> {
        self.inner
            .update_stage(secret_id, stage, move_to, remove_from)
            .await
    }
}
