//! The single-user window and the labels, where a real server or service cannot produce the
//! condition on demand: AWSPREVIOUS connects like AWSCURRENT and a TLS failure there is not
//! fatal; the removal of AWSPENDING tells "already gone" from other refusals. (The same
//! rules run on moto and real servers through the conformance suite.)

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use secret_rotor::store::{AwsSecretStore, SecretStore, Selector};
use secret_rotor::{
    Error, Outcome, Result, RotationConfig, RotationEvent, RotationToken, Rotator,
    SecretDescription, SecretId, SecretValue, Stage, Step, VersionId,
};
use secret_rotor_testkit::faults::{Fault, FaultPlan, faulty_rotator};
use secret_rotor_testkit::memory_store::MemoryStore;
use secret_rotor_testkit::memory_target::MemoryTarget;
use secret_rotor_testkit::moto::{Moto, unique_name};

fn vid(s: &str) -> VersionId {
    VersionId::new(s).unwrap()
}

/// A secret whose AWSCURRENT password no longer works and whose AWSPREVIOUS (written with
/// `"ssl": false`) does, on a server that requires TLS; rotation `t2` started.
fn previous_only_works() -> (MemoryStore, MemoryTarget, SecretId, VersionId) {
    let store = MemoryStore::new();
    let target = MemoryTarget::new();
    target.require_tls(true);
    target.set_user("app", "prev-pw");
    let (id, _) = store.create_secret(
        "db",
        r#"{"host":"memory","username":"app","password":"changed-pw"}"#,
    );
    store.put_raw(
        &id,
        &vid("v0"),
        Some(r#"{"host":"memory","username":"app","password":"prev-pw","ssl":false}"#),
        &[Stage::Previous],
    );
    let t = store.start_rotation(&id, Some(&vid("t2"))).unwrap();
    (store, target, id, t)
}

/// As AWS's templates do, AWSPREVIOUS is tried with AWSCURRENT's `ssl`, not its own: an old
/// version's `"ssl": false` does not decide how the server is reached today.
#[tokio::test]
async fn previous_connects_like_current() {
    let (store, target, id, t) = previous_only_works();
    let rotator = Rotator::new(
        target.clone(),
        store.clone(),
        RotationConfig::defaults(&target),
    )
    .unwrap();
    for step in [Step::CreateSecret, Step::SetSecret] {
        let report = rotator
            .handle(&RotationEvent::new(step, id.clone(), t.clone()))
            .await
            .unwrap_or_else(|e| panic!("{step}: [{}] {e}", e.code()));
        if step == Step::SetSecret {
            assert_eq!(
                report.outcome,
                Outcome::PasswordSet {
                    using: Stage::Previous
                }
            );
        }
    }
}

/// A TLS failure with AWSPREVIOUS (the last resort) is not fatal: the step ends with
/// `NoWorkingCredential`, as when AWSPREVIOUS is refused.
#[tokio::test]
async fn a_tls_failure_with_previous_falls_through() {
    let (store, target, id, t) = previous_only_works();
    let counting = FaultPlan::counting();
    let rotator = faulty_rotator(
        target.clone(),
        store.clone(),
        RotationConfig::defaults(&target),
        &counting,
    );
    for step in [Step::CreateSecret, Step::SetSecret] {
        rotator
            .handle(&RotationEvent::new(step, id.clone(), t.clone()))
            .await
            .unwrap();
    }
    let calls = counting.calls();
    let previous_login = calls
        .iter()
        .rposition(|c| c == "target.set_password")
        .unwrap()
        + 1;

    let (store, target, id, t) = previous_only_works();
    let plan = FaultPlan::with(Fault::TlsBefore(previous_login));
    let rotator = faulty_rotator(
        target.clone(),
        store.clone(),
        RotationConfig::defaults(&target),
        &plan,
    );
    rotator
        .handle(&RotationEvent::new(
            Step::CreateSecret,
            id.clone(),
            t.clone(),
        ))
        .await
        .unwrap();
    let err = rotator
        .handle(&RotationEvent::new(Step::SetSecret, id.clone(), t.clone()))
        .await
        .unwrap_err();
    assert!(plan.fired());
    assert_eq!(err.code(), "NoWorkingCredential", "{err}");
    assert_eq!(target.password_of("app").as_deref(), Some("prev-pw"));
}

/// How [`Labels`] answers the removal of AWSPENDING.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Removal {
    /// As the store does.
    Normal,
    /// The label vanishes (the service detached it meanwhile), and the call is refused as
    /// "not attached".
    AlreadyGone,
    /// Refused for another reason; the label stays.
    Refused,
}

/// A [`MemoryStore`] whose removal of AWSPENDING can be made to fail.
#[derive(Clone)]
struct Labels {
    inner: MemoryStore,
    removal: Arc<Mutex<Removal>>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct ServiceSaid(&'static str);

fn refused(code: &str, text: &'static str) -> Error {
    Error::SecretsManager {
        operation: "UpdateSecretVersionStage",
        service_code: Some(code.to_owned()),
        retryable: false,
        source: Box::new(ServiceSaid(text)),
    }
}

impl SecretStore for Labels {
    async fn describe(&self, secret_id: &SecretId) -> Result<SecretDescription> {
        self.inner.describe(secret_id).await
    }

    async fn get_value(&self, id: &SecretId, selector: &Selector) -> Result<Option<SecretValue>> {
        self.inner.get_value(id, selector).await
    }

    async fn put_pending(
        &self,
        id: &SecretId,
        token: &VersionId,
        value: &SecretValue,
        rotation_token: Option<&RotationToken>,
    ) -> Result<()> {
        self.inner
            .put_pending(id, token, value, rotation_token)
            .await
    }

    async fn version_ids(&self, id: &SecretId) -> Result<BTreeSet<VersionId>> {
        self.inner.version_ids(id).await
    }

    async fn update_stage(
        &self,
        id: &SecretId,
        stage: Stage,
        move_to: Option<&VersionId>,
        remove_from: Option<&VersionId>,
    ) -> Result<()> {
        let removal = *self.removal.lock().unwrap();
        if stage != Stage::Pending || move_to.is_some() || removal == Removal::Normal {
            return self
                .inner
                .update_stage(id, stage, move_to, remove_from)
                .await;
        }
        if removal == Removal::AlreadyGone {
            self.inner
                .update_stage(id, stage, move_to, remove_from)
                .await?;
            return Err(refused(
                "InvalidParameterException",
                "Version stage AWSPENDING not found in version",
            ));
        }
        Err(refused(
            "InvalidRequestException",
            "You can't perform this operation on the secret because it was marked for deletion.",
        ))
    }
}

/// Only "the label is not there (any more)" counts as done when AWSPENDING is removed;
/// another refusal fails finishSecret, and `labels_cleaned` says whether this call removed
/// the label.
#[tokio::test]
async fn only_an_absent_label_counts_as_removed() {
    let inner = MemoryStore::new();
    let target = MemoryTarget::new();
    target.set_user("app", "old-pw");
    let (id, v1) = inner.create_secret(
        "db",
        r#"{"host":"memory","username":"app","password":"old-pw"}"#,
    );
    let store = Labels {
        inner: inner.clone(),
        removal: Arc::new(Mutex::new(Removal::Normal)),
    };
    let rotator = Rotator::new(
        target.clone(),
        store.clone(),
        RotationConfig::defaults(&target),
    )
    .unwrap();
    let t = inner.start_rotation(&id, Some(&vid("t2"))).unwrap();
    let step = |s: Step| RotationEvent::new(s, id.clone(), t.clone());
    for s in [Step::CreateSecret, Step::SetSecret, Step::TestSecret] {
        rotator.handle(&step(s)).await.unwrap();
    }
    // The label must stay on the promoted version for the removal to be tried: put it
    // back after the move, as moto does.
    inner
        .update_stage(&id, Stage::Current, Some(&t), Some(&v1))
        .await
        .unwrap();
    inner
        .update_stage(&id, Stage::Pending, Some(&t), None)
        .await
        .unwrap();

    *store.removal.lock().unwrap() = Removal::Refused;
    let err = rotator.handle(&step(Step::FinishSecret)).await.unwrap_err();
    assert_eq!(
        err.code(),
        "SecretsManagerError",
        "another refusal is an error"
    );

    *store.removal.lock().unwrap() = Removal::AlreadyGone;
    let report = rotator.handle(&step(Step::FinishSecret)).await.unwrap();
    assert_eq!(
        report.outcome,
        Outcome::AlreadyCurrent {
            labels_cleaned: false
        },
        "nothing was removed by this call"
    );
    let d = inner.describe(&id).await.unwrap();
    assert_eq!(d.stages_of(&t), Some(&[Stage::Current][..]));

    inner
        .update_stage(&id, Stage::Pending, Some(&t), None)
        .await
        .unwrap();
    *store.removal.lock().unwrap() = Removal::Normal;
    let report = rotator.handle(&step(Step::FinishSecret)).await.unwrap();
    assert_eq!(
        report.outcome,
        Outcome::AlreadyCurrent {
            labels_cleaned: true
        }
    );
}

/// The store as `secret-rotor rotate` sees it while the service starts its own rotation of
/// the secret between the CLI's check and its write (moto, with the service's staging).
#[derive(Clone)]
struct ServiceStartsMeanwhile {
    inner: AwsSecretStore,
    moto: &'static Moto,
}

impl SecretStore for ServiceStartsMeanwhile {
    async fn describe(&self, secret_id: &SecretId) -> Result<SecretDescription> {
        self.inner.describe(secret_id).await
    }

    async fn get_value(&self, id: &SecretId, selector: &Selector) -> Result<Option<SecretValue>> {
        self.inner.get_value(id, selector).await
    }

    async fn put_pending(
        &self,
        id: &SecretId,
        token: &VersionId,
        value: &SecretValue,
        rotation_token: Option<&RotationToken>,
    ) -> Result<()> {
        self.moto
            .start_rotation(id.as_str(), None)
            .await
            .expect("the service's RotateSecret");
        self.inner
            .put_pending(id, token, value, rotation_token)
            .await
    }

    async fn version_ids(&self, id: &SecretId) -> Result<BTreeSet<VersionId>> {
        self.inner.version_ids(id).await
    }

    async fn update_stage(
        &self,
        id: &SecretId,
        stage: Stage,
        move_to: Option<&VersionId>,
        remove_from: Option<&VersionId>,
    ) -> Result<()> {
        self.inner
            .update_stage(id, stage, move_to, remove_from)
            .await
    }
}

/// `secret-rotor rotate` stages its own pending version; if the service staged one in
/// between, the CLI's write took the label off it. The CLI reads the versions again, gives
/// `AWSPENDING` back and backs out (only its own version loses its label), so the service's
/// rotation goes on.
#[tokio::test]
async fn the_cli_backs_out_when_the_service_starts_a_rotation_meanwhile() {
    let moto = Moto::shared();
    let target = MemoryTarget::new();
    target.set_user("app", "old-pw");
    let arn = moto
        .create_secret(
            &unique_name("race/"),
            r#"{"host":"memory","username":"app","password":"old-pw"}"#,
        )
        .await;
    let id = SecretId::new(&arn).unwrap();
    let store = ServiceStartsMeanwhile {
        inner: moto.store().await,
        moto,
    };
    let rotator = Rotator::new(target.clone(), store, RotationConfig::defaults(&target)).unwrap();
    let ours = VersionId::new(format!("cli-{}", unique_name("token-of-the-cli-"))).unwrap();
    let err = rotator.begin(&id, &ours).await.unwrap_err();
    assert_eq!(err.code(), "ForeignPending", "{}", err.display_chain());

    let plain = moto.store().await;
    let labels = plain.describe(&id).await.unwrap();
    let theirs = labels
        .version_with(&Stage::Pending)
        .expect("the service's version has AWSPENDING back")
        .clone();
    assert_ne!(theirs, ours);
    assert_eq!(labels.stages_of(&ours), None, "ours has no label left");
    // The service's rotation runs to the end.
    let service = Rotator::new(target.clone(), plain, RotationConfig::defaults(&target)).unwrap();
    for step in Step::ALL {
        service
            .handle(&RotationEvent::new(step, id.clone(), theirs.clone()))
            .await
            .unwrap_or_else(|e| panic!("{step}: {e}"));
    }
}
