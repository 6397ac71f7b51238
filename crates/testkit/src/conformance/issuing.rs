//! The cases of targets whose API issues the credential (API keys, tokens): the pending
//! key is issued in createSecret and works at once; the key two generations old is revoked
//! after finishSecret; a crash at any point never leaves a live key that no version holds
//! once the next rotation has run; no key is logged.
//!
//! A target crate implements [`IssuingFixture`] and generates the tests with
//! [`issuing_conformance_tests!`](crate::issuing_conformance_tests).

use std::future::Future;
use std::sync::Arc;

use secrecy::ExposeSecret;
use secret_rotor::store::{AwsSecretStore, SecretStore, Selector};
use secret_rotor::{RotationConfig, Rotator, SecretId, Stage, Target, VersionId};
use serde_json::Value;

use super::logs::capture_logs;
use super::unique;
use crate::faults::{FaultPlan, faulty_rotator, for_every_fault, run_rotation};
use crate::moto::Moto;

/// What the issuing cases need from a target's test setup.
pub trait IssuingFixture: Send + Sync {
    /// The target under test.
    type Target: Target + 'static;

    /// A target configured for the test API.
    fn target(&self) -> Self::Target;

    /// A new account whose first key was issued out of band, as the secret JSON to store
    /// (the key included).
    fn first_secret(&self) -> impl Future<Output = Value> + Send;

    /// Whether the credential of `secret` works, checked without the target.
    fn works(&self, secret: &Value) -> impl Future<Output = bool> + Send;

    /// The ids of the live keys of `secret`'s account, checked without the target.
    fn live_keys(&self, secret: &Value) -> impl Future<Output = Vec<String>> + Send;

    /// The secret's field holding the key's id.
    fn key_id_field(&self) -> &'static str;

    /// The secret's field holding the key itself.
    fn key_field(&self) -> &'static str;
}

/// One account's secret in moto, rotated by the target under test.
struct IssuingCase<F: IssuingFixture> {
    secret_id: SecretId,
    rotator: Rotator<Arc<F::Target>, AwsSecretStore>,
    moto: &'static Moto,
}

impl<F: IssuingFixture> IssuingCase<F> {
    async fn new(fixture: &F) -> Self {
        let moto = Moto::shared();
        let secret = fixture.first_secret().await;
        let arn = moto
            .create_secret(
                &format!("conformance/issuing/{}", unique()),
                &secret.to_string(),
            )
            .await;
        let target = Arc::new(fixture.target());
        let config = RotationConfig::defaults(&target);
        let rotator = Rotator::new(target, moto.store().await, config).expect("rotator");
        IssuingCase {
            secret_id: SecretId::new(arn).expect("arn"),
            rotator,
            moto,
        }
    }

    async fn start(&self) -> VersionId {
        let token = self
            .moto
            .start_rotation(self.secret_id.as_str(), None)
            .await
            .expect("RotateSecret");
        VersionId::new(token).expect("token")
    }

    async fn rotate(&self) -> VersionId {
        let token = self.start().await;
        if let Err((step, e)) = run_rotation(&self.rotator, &self.secret_id, &token).await {
            panic!("{step} failed: [{}] {}", e.code(), e.display_chain());
        }
        token
    }

    async fn value(&self, stage: Stage) -> Option<Value> {
        let v = self
            .rotator
            .store()
            .get_value(&self.secret_id, &Selector::stage(stage))
            .await
            .expect("get");
        v.map(|v| {
            serde_json::from_str(v.to_secret_string().expect("json").expose_secret()).expect("json")
        })
    }

    /// Asserts that AWSCURRENT and AWSPREVIOUS work and are the only live keys.
    async fn assert_live_keys_are_current_and_previous(&self, fixture: &F, context: &str) {
        let current = self.value(Stage::Current).await.expect("current");
        let previous = self.value(Stage::Previous).await.expect("previous");
        assert!(fixture.works(&current).await, "{context}: AWSCURRENT works");
        assert!(
            fixture.works(&previous).await,
            "{context}: AWSPREVIOUS works"
        );
        let field = fixture.key_id_field();
        let mut expected = vec![
            current[field].as_str().expect("id").to_owned(),
            previous[field].as_str().expect("id").to_owned(),
        ];
        expected.sort();
        let mut live = fixture.live_keys(&current).await;
        live.sort();
        assert_eq!(
            live, expected,
            "{context}: the live keys are AWSCURRENT's and AWSPREVIOUS's"
        );
    }
}

/// Three rotations: the pending key works at once, AWSPREVIOUS's key keeps working (the
/// grace period), and the key two generations old is revoked.
pub async fn issuing_rotates_and_retires_two_generations_later<F: IssuingFixture>(fixture: &F) {
    let case = IssuingCase::<F>::new(fixture).await;
    let first = case.value(Stage::Current).await.expect("first");
    case.rotate().await;
    let second = case.value(Stage::Current).await.expect("second");
    assert_ne!(second[fixture.key_field()], first[fixture.key_field()]);
    assert!(
        fixture.works(&first).await,
        "the previous key works during the grace period"
    );
    assert!(fixture.works(&second).await);
    case.rotate().await;
    assert!(
        !fixture.works(&first).await,
        "the key two generations old is revoked"
    );
    case.assert_live_keys_are_current_and_previous(fixture, "after two rotations")
        .await;
    case.rotate().await;
    assert!(!fixture.works(&second).await);
    case.assert_live_keys_are_current_and_previous(fixture, "after three rotations")
        .await;
    let d = case
        .rotator
        .store()
        .describe(&case.secret_id)
        .await
        .expect("describe");
    assert_eq!(d.rotation_in_progress(), None, "no AWSPENDING left behind");
}

/// A crash right after each external call (and a failure right before each), then the
/// service's retry and one more rotation: the rotation converges, AWSCURRENT works at
/// every point, and no key is left live that AWSCURRENT or AWSPREVIOUS does not hold (a key
/// issued and never stored is revoked by the retry; one the crash kept from being retired
/// is swept by the next rotation).
pub async fn issuing_converges_after_a_crash_after_any_call<F: IssuingFixture>(fixture: &F) {
    let counted = IssuingCase::<F>::new(fixture).await;
    let plan = FaultPlan::counting();
    let token = counted.start().await;
    let faulty = faulty_rotator(
        Arc::clone(counted.rotator.target()),
        counted.rotator.store().clone(),
        counted.rotator.config().clone(),
        &plan,
    );
    if let Err((step, e)) = run_rotation(&faulty, &counted.secret_id, &token).await {
        panic!("clean rotation, {step}: [{}] {e}", e.code());
    }
    let calls = plan.calls();
    assert!(
        calls.iter().any(|c| c == "target.pending_value")
            && calls.iter().any(|c| c == "target.retire"),
        "{calls:?}"
    );
    for_every_fault(calls.len(), |fault| async move {
        let case = IssuingCase::<F>::new(fixture).await;
        case.rotate().await; // a previous generation exists
        let plan = FaultPlan::with(fault);
        let token = case.start().await;
        let faulty = faulty_rotator(
            Arc::clone(case.rotator.target()),
            case.rotator.store().clone(),
            case.rotator.config().clone(),
            &plan,
        );
        let result = run_rotation(&faulty, &case.secret_id, &token).await;
        assert!(plan.fired(), "{fault:?} fired");
        super::assert_crash_ended_the_run(fault, result.is_ok(), &plan.calls());
        let current = case.value(Stage::Current).await.expect("current");
        assert!(fixture.works(&current).await, "{fault:?}: AWSCURRENT works");
        case.moto
            .start_rotation(case.secret_id.as_str(), Some(token.as_str()))
            .await
            .unwrap_or_else(|e| panic!("{fault:?}: the service's retry was refused: {e}"));
        if let Err((step, e)) = run_rotation(&case.rotator, &case.secret_id, &token).await {
            panic!("{fault:?}: retry of {step} failed: [{}] {e}", e.code());
        }
        case.rotate().await;
        case.assert_live_keys_are_current_and_previous(fixture, &format!("{fault:?}"))
            .await;
    })
    .await;
}

/// No key — current, pending or previous — appears in what the rotation logs.
pub async fn issuing_keeps_keys_out_of_logs<F: IssuingFixture>(fixture: &F) {
    let case = IssuingCase::<F>::new(fixture).await;
    let first = case.value(Stage::Current).await.expect("first");
    let ((), logs) = capture_logs(async {
        case.rotate().await;
        case.rotate().await;
    })
    .await;
    assert!(
        logs.contains("rotation step succeeded"),
        "the capture worked"
    );
    let field = fixture.key_field();
    let current = case.value(Stage::Current).await.expect("current");
    let previous = case.value(Stage::Previous).await.expect("previous");
    for (which, value) in [
        ("first", &first),
        ("previous", &previous),
        ("current", &current),
    ] {
        let key = value[field].as_str().expect("key");
        assert!(!logs.contains(key), "the {which} key appears in the logs");
    }
}

/// Generates one `#[tokio::test]` per issuing case, each calling `$fixture`.
#[macro_export]
macro_rules! issuing_conformance_tests {
    ($fixture:expr) => {
        $crate::conformance_tests!(@cases $fixture;
            issuing_rotates_and_retires_two_generations_later,
            issuing_converges_after_a_crash_after_any_call,
            issuing_keeps_keys_out_of_logs,
        );
    };
}
