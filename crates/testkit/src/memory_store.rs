//! An in-memory [`SecretStore`] that follows the service's label rules, for unit tests of
//! the state machine (the real service is tested through moto).

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use secrecy::ExposeSecret;
use secret_rotor::store::{SecretStore, Selector};
use secret_rotor::{
    Error, Result, RotationToken, SecretDescription, SecretId, SecretValue, Stage, VersionId,
};

/// An in-memory Secrets Manager.
///
/// It mirrors the rules a rotation depends on: unique labels, `AWSPREVIOUS` following
/// `AWSCURRENT` (and `AWSPENDING` leaving the promoted version, as documented),
/// idempotent `PutSecretValue` (and the error when the same token comes with another value), the empty `AWSPENDING` version the service stages before createSecret
/// ([`MemoryStore::start_rotation`]). Clones share the same state.
///
/// ```
/// # tokio_test_block_on(async {
/// use secret_rotor::store::SecretStore;
/// use secret_rotor_testkit::memory_store::MemoryStore;
///
/// let store = MemoryStore::new();
/// let (id, first) = store.create_secret("db", r#"{"username":"app","password":"x"}"#);
/// let d = store.describe(&id).await?;
/// assert_eq!(d.version_with(&secret_rotor::Stage::Current), Some(&first));
/// # Ok::<(), secret_rotor::Error>(())
/// # }).unwrap();
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
/// `Debug` names the secrets and their labels, never a value.
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<Vec<MemSecret>>>,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secrets = self.lock();
        let mut list = f.debug_list();
        for s in secrets.iter() {
            let versions: Vec<_> = s
                .versions
                .iter()
                .map(|v| {
                    let stages: Vec<&str> = v.stages.iter().map(Stage::as_str).collect();
                    (v.id.as_str(), stages, v.value.is_some())
                })
                .collect();
            list.entry(&(&s.name, versions));
        }
        list.finish()
    }
}

struct MemSecret {
    arn: String,
    name: String,
    tags: std::collections::BTreeMap<String, String>,
    rotation_enabled: Option<bool>,
    versions: Vec<MemVersion>,
    next_version: u64,
}

struct MemVersion {
    id: VersionId,
    value: Option<String>,
    stages: Vec<Stage>,
}

/// The service's answer to a refused request, as the SDK would show it.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
struct ServiceError {
    code: String,
    message: String,
}

fn err(operation: &'static str, code: &str, message: impl Into<String>) -> Error {
    Error::SecretsManager {
        operation,
        service_code: Some(code.to_owned()),
        retryable: false,
        source: Box::new(ServiceError {
            code: code.to_owned(),
            message: message.into(),
        }),
    }
}

impl MemSecret {
    fn version_mut(&mut self, id: &VersionId) -> Option<&mut MemVersion> {
        self.versions.iter_mut().find(|v| &v.id == id)
    }

    fn holder_of(&self, stage: &Stage) -> Option<&VersionId> {
        self.versions
            .iter()
            .find(|v| v.stages.contains(stage))
            .map(|v| &v.id)
    }

    fn detach_everywhere(&mut self, stage: &Stage) {
        for v in &mut self.versions {
            v.stages.retain(|s| s != stage);
        }
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<MemSecret>> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn with_secret<T>(
        &self,
        operation: &'static str,
        secret_id: &SecretId,
        f: impl FnOnce(&mut MemSecret) -> Result<T>,
    ) -> Result<T> {
        let mut secrets = self.lock();
        let secret = secrets
            .iter_mut()
            .find(|s| s.arn == secret_id.as_str() || s.name == secret_id.as_str())
            .ok_or_else(|| {
                err(
                    operation,
                    "ResourceNotFoundException",
                    "Secrets Manager can't find the specified secret.",
                )
            })?;
        f(secret)
    }

    /// `CreateSecret`: a new secret whose first version is `AWSCURRENT`.
    /// Returns its ARN (as a [`SecretId`]) and the first version's id.
    pub fn create_secret(&self, name: &str, secret_string: &str) -> (SecretId, VersionId) {
        let mut secrets = self.lock();
        let arn = format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-AbCdEf");
        let id = VersionId::new(format!("{name}-v1")).expect("valid version id");
        secrets.push(MemSecret {
            arn: arn.clone(),
            name: name.to_owned(),
            tags: Default::default(),
            rotation_enabled: None,
            versions: vec![MemVersion {
                id: id.clone(),
                value: Some(secret_string.to_owned()),
                stages: vec![Stage::Current],
            }],
            next_version: 2,
        });
        (SecretId::new(arn).expect("non-empty"), id)
    }

    /// What `RotateSecret` does before invoking the function: turn rotation on and stage an
    /// empty `AWSPENDING` version under `token`. Fails like the service when another
    /// rotation is in progress. Returns the token.
    pub fn start_rotation(
        &self,
        secret_id: &SecretId,
        token: Option<&VersionId>,
    ) -> Result<VersionId> {
        self.with_secret("RotateSecret", secret_id, |secret| {
            let token = match token {
                Some(t) => t.clone(),
                None => {
                    let t = VersionId::new(format!("{}-v{}", secret.name, secret.next_version))?;
                    secret.next_version += 1;
                    t
                }
            };
            if let Some(pending) = secret.holder_of(&Stage::Pending) {
                let on_current = secret.holder_of(&Stage::Current) == Some(pending);
                if !on_current && *pending != token {
                    return Err(err(
                        "RotateSecret",
                        "InvalidRequestException",
                        "A previous rotation isn't complete. That rotation will be reattempted.",
                    ));
                }
            }
            secret.rotation_enabled = Some(true);
            if secret.version_mut(&token).is_none() {
                secret.detach_everywhere(&Stage::Pending);
                secret.versions.push(MemVersion {
                    id: token.clone(),
                    value: None,
                    stages: vec![Stage::Pending],
                });
            }
            Ok(token)
        })
    }

    /// Sets a tag on the secret.
    pub fn tag(&self, secret_id: &SecretId, key: &str, value: &str) {
        self.with_secret("TagResource", secret_id, |s| {
            s.tags.insert(key.to_owned(), value.to_owned());
            Ok(())
        })
        .expect("secret exists");
    }

    /// Sets `RotationEnabled` (`None`: never configured).
    pub fn set_rotation_enabled(&self, secret_id: &SecretId, enabled: Option<bool>) {
        self.with_secret("RotateSecret", secret_id, |s| {
            s.rotation_enabled = enabled;
            Ok(())
        })
        .expect("secret exists");
    }

    /// Adds or replaces a version with any value and labels, bypassing the rules (to build
    /// odd states in tests). Labels are still made unique.
    pub fn put_raw(
        &self,
        secret_id: &SecretId,
        id: &VersionId,
        value: Option<&str>,
        stages: &[Stage],
    ) {
        self.with_secret("PutSecretValue", secret_id, |secret| {
            for stage in stages {
                secret.detach_everywhere(stage);
            }
            secret.versions.retain(|v| &v.id != id);
            secret.versions.push(MemVersion {
                id: id.clone(),
                value: value.map(str::to_owned),
                stages: stages.to_vec(),
            });
            Ok(())
        })
        .expect("secret exists");
    }

    /// The raw `SecretString` of the version holding `stage` (tests only: it contains the
    /// password).
    pub fn raw_value(&self, secret_id: &SecretId, stage: &Stage) -> Option<String> {
        self.with_secret("GetSecretValue", secret_id, |s| {
            Ok(s.versions
                .iter()
                .find(|v| v.stages.contains(stage))
                .and_then(|v| v.value.clone()))
        })
        .ok()
        .flatten()
    }
}

impl SecretStore for MemoryStore {
    async fn describe(&self, secret_id: &SecretId) -> Result<SecretDescription> {
        self.with_secret("DescribeSecret", secret_id, |s| {
            Ok(SecretDescription {
                arn: s.arn.clone(),
                name: s.name.clone(),
                rotation_enabled: s.rotation_enabled,
                versions: s
                    .versions
                    .iter()
                    .filter(|v| !v.stages.is_empty())
                    .map(|v| (v.id.clone(), v.stages.clone()))
                    .collect(),
                tags: s.tags.clone(),
                ..SecretDescription::default()
            })
        })
    }

    async fn get_value(
        &self,
        secret_id: &SecretId,
        selector: &Selector,
    ) -> Result<Option<SecretValue>> {
        let raw = self.with_secret("GetSecretValue", secret_id, |s| {
            let stage = match (&selector.version_id, &selector.stage) {
                (None, None) => Some(Stage::Current),
                (_, stage) => stage.clone(),
            };
            let version = s.versions.iter().find(|v| {
                selector.version_id.as_ref().is_none_or(|id| &v.id == id)
                    && stage.as_ref().is_none_or(|st| v.stages.contains(st))
            });
            Ok(version.and_then(|v| v.value.clone()))
        })?;
        raw.map(|r| SecretValue::parse(&r)).transpose()
    }

    async fn put_pending(
        &self,
        secret_id: &SecretId,
        token: &VersionId,
        value: &SecretValue,
        _rotation_token: Option<&RotationToken>,
    ) -> Result<()> {
        let new = value.to_secret_string()?;
        self.with_secret("PutSecretValue", secret_id, |secret| {
            match secret.version_mut(token) {
                Some(existing) if existing.value.is_some() => {
                    if existing.value.as_deref() == Some(new.expose_secret()) {
                        return Ok(()); // same token, same value: a no-op
                    }
                    return Err(err(
                        "PutSecretValue",
                        "ResourceExistsException",
                        format!("You can't use ClientRequestToken {token} because that value is already in use for a version of this secret."),
                    ));
                }
                Some(existing) => existing.value = Some(new.expose_secret().to_owned()),
                None => secret.versions.push(MemVersion {
                    id: token.clone(),
                    value: Some(new.expose_secret().to_owned()),
                    stages: Vec::new(),
                }),
            }
            secret.detach_everywhere(&Stage::Pending);
            secret
                .version_mut(token)
                .expect("just inserted")
                .stages
                .push(Stage::Pending);
            Ok(())
        })
    }

    async fn version_ids(&self, secret_id: &SecretId) -> Result<BTreeSet<VersionId>> {
        self.with_secret("ListSecretVersionIds", secret_id, |s| {
            Ok(s.versions.iter().map(|v| v.id.clone()).collect())
        })
    }

    async fn update_stage(
        &self,
        secret_id: &SecretId,
        stage: Stage,
        move_to: Option<&VersionId>,
        remove_from: Option<&VersionId>,
    ) -> Result<()> {
        const OP: &str = "UpdateSecretVersionStage";
        self.with_secret(OP, secret_id, |secret| {
            for id in move_to.iter().chain(remove_from.iter()) {
                if secret.version_mut(id).is_none() {
                    return Err(err(OP, "InvalidParameterException", format!("Not a valid version: {id}")));
                }
            }
            let holder = secret.holder_of(&stage).cloned();
            if let Some(from) = remove_from {
                if holder.as_ref() != Some(from) {
                    return Err(err(
                        OP,
                        "InvalidParameterException",
                        format!("Version stage {stage} not found in version {from}"),
                    ));
                }
            } else if let (Some(holder), Some(to)) = (&holder, move_to)
                && holder != to
            {
                return Err(err(
                    OP,
                    "InvalidParameterException",
                    format!("The parameter RemoveFromVersionId can't be empty. Staging label {stage} is currently attached to version {holder}, so you must explicitly reference that version in RemoveFromVersionId."),
                ));
            }
            if let Some(from) = remove_from {
                secret.version_mut(from).expect("checked").stages.retain(|s| *s != stage);
                if stage == Stage::Current {
                    secret.detach_everywhere(&Stage::Previous);
                    secret.version_mut(from).expect("checked").stages.push(Stage::Previous);
                }
            }
            if let Some(to) = move_to {
                let version = secret.version_mut(to).expect("checked");
                if !version.stages.contains(&stage) {
                    version.stages.push(stage.clone());
                }
                if stage == Stage::Current {
                    // As the service documents it: the promoted version drops AWSPREVIOUS
                    // and AWSPENDING in the same call (moto keeps AWSPENDING; the rotation
                    // copes with both).
                    version
                        .stages
                        .retain(|s| *s != Stage::Previous && *s != Stage::Pending);
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vid(s: &str) -> VersionId {
        VersionId::new(s).unwrap()
    }

    #[tokio::test]
    async fn moving_current_moves_previous_and_labels_stay_unique() {
        let store = MemoryStore::new();
        let (id, v1) = store.create_secret("s", r#"{"password":"a"}"#);
        let t = store.start_rotation(&id, Some(&vid("t2"))).unwrap();
        assert!(
            store
                .get_value(&id, &Selector::version(&t, Stage::Pending))
                .await
                .unwrap()
                .is_none()
        );
        let value = SecretValue::parse(r#"{"password":"b"}"#).unwrap();
        store.put_pending(&id, &t, &value, None).await.unwrap();
        store.put_pending(&id, &t, &value, None).await.unwrap(); // idempotent
        let other = value.with_password("c".into());
        assert_eq!(
            store
                .put_pending(&id, &t, &other, None)
                .await
                .unwrap_err()
                .code(),
            "SecretsManagerError"
        );
        // AWSCURRENT may not be moved without naming where it is.
        assert!(
            store
                .update_stage(&id, Stage::Current, Some(&t), None)
                .await
                .is_err()
        );
        store
            .update_stage(&id, Stage::Current, Some(&t), Some(&v1))
            .await
            .unwrap();
        let d = store.describe(&id).await.unwrap();
        assert_eq!(d.stages_of(&t).unwrap(), &[Stage::Current]);
        assert_eq!(d.stages_of(&v1).unwrap(), &[Stage::Previous]);
        // Removing a label the version does not carry is refused.
        assert!(
            store
                .update_stage(&id, Stage::Pending, None, Some(&t))
                .await
                .is_err()
        );
        let debug = format!("{store:?}");
        assert!(
            debug.contains("AWSCURRENT") && !debug.contains("password"),
            "{debug}"
        );
        // A second rotation is refused while the first's AWSPENDING is elsewhere.
        let t3 = store.start_rotation(&id, None).unwrap();
        assert!(store.start_rotation(&id, Some(&vid("t4"))).is_err());
        assert_eq!(
            store.start_rotation(&id, Some(&t3)).unwrap(),
            t3,
            "same token retries"
        );
    }
}
