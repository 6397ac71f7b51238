//! The conformance suite: what every target must do, proven against its real server and
//! a real Secrets Manager API (moto, with the service's staging of `AWSPENDING`).
//!
//! A target crate implements [`Fixture`] for its server and generates one test per case
//! with [`conformance_tests!`](crate::conformance_tests):
//!
//! ```no_run
//! # use secret_rotor_testkit::conformance::Fixture;
//! # use secret_rotor_testkit::memory_target::MemoryTarget;
//! # use serde_json::{json, Value};
//! struct MyFixture(MemoryTarget); // a handle on the real server under test
//!
//! impl Fixture for MyFixture {
//!     type Target = MemoryTarget;
//!     fn target(&self) -> MemoryTarget { self.0.clone() }
//!     fn secret_for(&self, username: &str, password: &str) -> Value {
//!         json!({"host": "memory", "username": username, "password": password})
//!     }
//!     async fn create_account(&self, username: &str, password: &str) { self.0.set_user(username, password) }
//!     async fn reset_password(&self, username: &str, password: &str) { self.0.set_user(username, password) }
//!     async fn can_login(&self, username: &str, password: &str) -> bool {
//!         self.0.password_of(username).as_deref() == Some(password)
//!     }
//! }
//!
//! fn fixture() -> MyFixture { MyFixture(MemoryTarget::new()) }
//! secret_rotor_testkit::conformance_tests!(fixture());
//! # fn main() {}
//! ```
//!
//! Every case makes its own account and secret (unique names), so cases run in parallel.
//! The log scan installs a global TRACE subscriber in the test binary: do not install
//! another one there.

use std::future::Future;
use std::io::Write;
use std::sync::{Arc, Mutex};

use secrecy::ExposeSecret;
use secret_rotor::store::{AwsSecretStore, SecretStore, Selector};
use secret_rotor::{
    Error, Outcome, PasswordPolicy, RotationConfig, RotationEvent, Rotator, SecretId, Stage, Step,
    StepReport, Target, VersionId,
};
use serde_json::Value;

use crate::faults::{Fault, FaultPlan, FaultyStore, FaultyTarget};
use crate::moto::Moto;

/// Every ASCII punctuation character: passwords made of these must survive quoting.
pub const ALL_PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/// What the suite needs from a target's test setup.
pub trait Fixture: Send + Sync {
    /// The target under test.
    type Target: Target + Clone + 'static;

    /// A target configured for the test server (CA bundle, timeouts...).
    fn target(&self) -> Self::Target;

    /// The secret JSON (AWS layout, password included) for an account on the test server.
    fn secret_for(&self, username: &str, password: &str) -> Value;

    /// Creates an account on the server, as its administrator would.
    fn create_account(&self, username: &str, password: &str) -> impl Future<Output = ()> + Send;

    /// Changes an account's password out of band, as an administrator would.
    fn reset_password(&self, username: &str, password: &str) -> impl Future<Output = ()> + Send;

    /// Whether the server accepts this login, checked without the target under test.
    fn can_login(&self, username: &str, password: &str) -> impl Future<Output = bool> + Send;

    /// User names that need quoting: quotes, `;`, spaces, upper case, unicode.
    fn hostile_usernames(&self) -> Vec<String> {
        [
            "Robert'); DROP TABLE students;--",
            "has space",
            "UPPER_case",
            "quote\"inside",
            "back\\slash",
            "ünïcødé_用户",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    /// The server's own log, when it can be read: scanned for clear-text passwords.
    fn server_log(&self) -> Option<String> {
        None
    }
}

/// A unique, short suffix for names.
fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_owned()
}

/// A password that no generator would produce, made of letters, digits and every
/// punctuation character.
pub fn hostile_password() -> String {
    format!("Aa1{ALL_PUNCTUATION}{}", unique())
}

/// One account with its secret in moto, ready to rotate.
pub struct Case<'f, F: Fixture> {
    fixture: &'f F,
    /// The account's user name.
    pub username: String,
    /// The first password.
    pub first_password: String,
    /// The secret's ARN.
    pub secret_id: SecretId,
    /// The first version (AWSCURRENT before the rotation).
    pub first_version: VersionId,
    /// The rotator, on moto's Secrets Manager API.
    pub rotator: Rotator<F::Target, AwsSecretStore>,
    moto: &'static Moto,
}

/// Extra keys every test secret carries: they must survive every rotation.
fn extra_keys() -> Value {
    serde_json::json!({"application": "billing", "nested": {"list": [1, "two", null]}, "note": "kept as is"})
}

impl<'f, F: Fixture> Case<'f, F> {
    /// Creates an account named `username` (made unique) with `password`, and its secret.
    pub async fn new(fixture: &'f F, username: &str, password: &str) -> Self {
        let config = RotationConfig::defaults(&fixture.target());
        Case::with_config(fixture, username, password, config).await
    }

    /// Like [`Case::new`] with a rotation configuration.
    pub async fn with_config(
        fixture: &'f F,
        username: &str,
        password: &str,
        config: RotationConfig,
    ) -> Self {
        let moto = Moto::shared();
        let username = format!("{username}_{}", unique());
        fixture.create_account(&username, password).await;
        let mut secret = fixture.secret_for(&username, password);
        for (k, v) in extra_keys().as_object().expect("object") {
            secret[k] = v.clone();
        }
        let arn = moto
            .create_secret(&format!("conformance/{}", unique()), &secret.to_string())
            .await;
        let secret_id = SecretId::new(arn).expect("arn");
        let store = moto.store().await;
        let first_version = store
            .describe(&secret_id)
            .await
            .expect("describe")
            .version_with(&Stage::Current)
            .expect("current")
            .clone();
        let rotator = Rotator::new(fixture.target(), store, config).expect("rotator");
        Case {
            fixture,
            username,
            first_password: password.to_owned(),
            secret_id,
            first_version,
            rotator,
            moto,
        }
    }

    /// Stages a rotation like `RotateSecret` does (an empty `AWSPENDING` version).
    pub async fn start(&self) -> VersionId {
        let token = self
            .moto
            .start_rotation(self.secret_id.as_str(), None)
            .await
            .expect("RotateSecret");
        VersionId::new(token).expect("token")
    }

    /// Runs one step.
    pub async fn step(&self, step: Step, token: &VersionId) -> Result<StepReport, Error> {
        self.rotator
            .handle(&RotationEvent::new(
                step,
                self.secret_id.clone(),
                token.clone(),
            ))
            .await
    }

    /// Runs one step that must succeed, returning its outcome.
    pub async fn ok(&self, step: Step, token: &VersionId) -> Outcome {
        match self.step(step, token).await {
            Ok(report) => report.outcome,
            Err(e) => panic!("{step} failed: [{}] {e}", e.code()),
        }
    }

    /// A whole rotation as the service drives it; returns the token.
    pub async fn rotate(&self) -> VersionId {
        let token = self.start().await;
        for step in Step::ALL {
            self.ok(step, &token).await;
        }
        token
    }

    /// The store.
    pub fn store(&self) -> &AwsSecretStore {
        self.rotator.store()
    }

    /// The labels of the secret's versions.
    pub async fn describe(&self) -> secret_rotor::SecretDescription {
        self.store()
            .describe(&self.secret_id)
            .await
            .expect("describe")
    }

    /// The JSON of the version holding `stage` (with its password).
    pub async fn value(&self, stage: Stage) -> Option<Value> {
        let v = self
            .store()
            .get_value(&self.secret_id, &Selector::stage(stage))
            .await
            .expect("get");
        v.map(|v| {
            serde_json::from_str(v.to_secret_string().expect("json").expose_secret()).expect("json")
        })
    }

    /// The password held by `stage`.
    pub async fn password(&self, stage: Stage) -> Option<String> {
        self.value(stage)
            .await
            .and_then(|v| v["password"].as_str().map(str::to_owned))
    }

    /// Whether the credential of `stage` logs in (checked independently).
    pub async fn logs_in(&self, stage: Stage) -> bool {
        let Some(value) = self.value(stage).await else {
            return false;
        };
        let (Some(user), Some(password)) = (value["username"].as_str(), value["password"].as_str())
        else {
            return false;
        };
        self.fixture.can_login(user, password).await
    }

    /// Asserts the state after a completed rotation with `token`: labels clean, new
    /// password works, old refused, extra keys kept.
    pub async fn assert_rotated(&self, token: &VersionId, old_password: &str) {
        let d = self.describe().await;
        assert_eq!(
            d.version_with(&Stage::Current),
            Some(token),
            "AWSCURRENT is the new version"
        );
        assert_eq!(
            d.rotation_in_progress(),
            None,
            "no rotation left in progress"
        );
        let current = self.value(Stage::Current).await.expect("current value");
        let new_password = current["password"].as_str().expect("password");
        assert_ne!(new_password, old_password);
        assert!(
            self.fixture.can_login(&self.username, new_password).await,
            "new password logs in"
        );
        assert!(
            !self.fixture.can_login(&self.username, old_password).await,
            "old password refused"
        );
        for (k, v) in extra_keys().as_object().expect("object") {
            assert_eq!(&current[k], v, "unknown key {k} survives");
        }
    }
}

fn assert_code<T: std::fmt::Debug>(result: Result<T, Error>, code: &str) -> Error {
    match result {
        Err(e) if e.code() == code => e,
        Err(e) => panic!("expected {code}, got [{}] {e}", e.code()),
        Ok(v) => panic!("expected {code}, got {v:?}"),
    }
}

/// A full rotation, then a second one: outcomes, labels, logins, extra keys.
pub async fn rotates_end_to_end<F: Fixture>(fixture: &F) {
    let case = Case::new(fixture, "app", "first-Password-1").await;
    let token = case.start().await;
    assert!(matches!(
        case.ok(Step::CreateSecret, &token).await,
        Outcome::PendingCreated { .. }
    ));
    assert_eq!(
        case.ok(Step::SetSecret, &token).await,
        Outcome::PasswordSet {
            using: Stage::Current
        }
    );
    assert_eq!(case.ok(Step::TestSecret, &token).await, Outcome::Tested);
    assert_eq!(
        case.ok(Step::FinishSecret, &token).await,
        Outcome::Promoted {
            previous_version: case.first_version.clone()
        }
    );
    case.assert_rotated(&token, &case.first_password).await;
    let d = case.describe().await;
    assert_eq!(d.version_with(&Stage::Previous), Some(&case.first_version));
    // Labels are clean: the next RotateSecret is accepted and rotates again.
    let second_old = case.password(Stage::Current).await.expect("password");
    let second = case.rotate().await;
    case.assert_rotated(&second, &second_old).await;
    assert_eq!(
        case.describe().await.version_with(&Stage::Previous),
        Some(&token)
    );
}

/// Every step run twice gives the idempotent outcome, and never a second password.
pub async fn steps_are_idempotent<F: Fixture>(fixture: &F) {
    let case = Case::new(fixture, "idem", "first-Password-1").await;
    let token = case.start().await;
    case.ok(Step::CreateSecret, &token).await;
    let pending = case.password(Stage::Pending).await;
    assert_eq!(
        case.ok(Step::CreateSecret, &token).await,
        Outcome::PendingExists
    );
    assert_eq!(
        case.password(Stage::Pending).await,
        pending,
        "no second password"
    );
    case.ok(Step::SetSecret, &token).await;
    assert_eq!(case.ok(Step::SetSecret, &token).await, Outcome::AlreadyLive);
    assert_eq!(case.ok(Step::TestSecret, &token).await, Outcome::Tested);
    case.ok(Step::FinishSecret, &token).await;
    for step in Step::ALL {
        assert_eq!(
            case.ok(step, &token).await,
            Outcome::AlreadyCurrent {
                labels_cleaned: false
            },
            "{step}"
        );
    }
    case.assert_rotated(&token, &case.first_password).await;
}

/// When AWSCURRENT no longer logs in but AWSPREVIOUS does, setSecret uses AWSPREVIOUS.
pub async fn falls_back_to_the_previous_credential<F: Fixture>(fixture: &F) {
    let case = Case::new(fixture, "prev", "first-Password-1").await;
    case.rotate().await;
    fixture
        .reset_password(&case.username, &case.first_password)
        .await;
    let token = case.start().await;
    case.ok(Step::CreateSecret, &token).await;
    assert_eq!(
        case.ok(Step::SetSecret, &token).await,
        Outcome::PasswordSet {
            using: Stage::Previous
        }
    );
    case.ok(Step::TestSecret, &token).await;
    case.ok(Step::FinishSecret, &token).await;
    case.assert_rotated(&token, &case.first_password).await;
}

/// With no working credential, setSecret fails with `NoWorkingCredential` and changes nothing.
pub async fn fails_cleanly_without_a_working_credential<F: Fixture>(fixture: &F) {
    let case = Case::new(fixture, "lost", "first-Password-1").await;
    let unknown = format!("changed-by-someone-{}", unique());
    fixture.reset_password(&case.username, &unknown).await;
    let token = case.start().await;
    case.ok(Step::CreateSecret, &token).await;
    assert_code(
        case.step(Step::SetSecret, &token).await,
        "NoWorkingCredential",
    );
    assert!(
        fixture.can_login(&case.username, &unknown).await,
        "password unchanged"
    );
    assert_code(
        case.step(Step::FinishSecret, &token).await,
        "PendingNotLive",
    );
    assert_eq!(
        case.describe().await.version_with(&Stage::Current),
        Some(&case.first_version)
    );
}

/// A pending value naming another user is refused (the confused-deputy guard), and
/// neither account changes.
pub async fn refuses_a_pending_credential_for_another_user<F: Fixture>(fixture: &F) {
    let case = Case::new(fixture, "victim", "first-Password-1").await;
    let other = Case::new(fixture, "other", "other-Password-1").await;
    let token = case.start().await;
    let mut forged = fixture.secret_for(&other.username, &format!("forged-{}", unique()));
    forged["note"] = "forged".into();
    case.moto
        .put_raw(
            case.secret_id.as_str(),
            token.as_str(),
            Some(&forged.to_string()),
            &["AWSPENDING"],
        )
        .await;
    let err = assert_code(
        case.step(Step::SetSecret, &token).await,
        "CredentialMismatch",
    );
    assert!(
        !err.to_string().contains("forged-"),
        "no password in the error: {err}"
    );
    assert!(
        fixture
            .can_login(&case.username, &case.first_password)
            .await
    );
    assert!(
        fixture
            .can_login(&other.username, &other.first_password)
            .await
    );
}

/// An invocation whose token is not the pending version is refused while another
/// rotation's pending version exists; nothing changes.
pub async fn refuses_a_foreign_pending_version<F: Fixture>(fixture: &F) {
    let case = Case::new(fixture, "foreign", "first-Password-1").await;
    let theirs = case.start().await;
    case.ok(Step::CreateSecret, &theirs).await;
    let pending = case.password(Stage::Pending).await;
    let mine = VersionId::new(uuid::Uuid::new_v4().to_string()).expect("token");
    case.moto
        .put_raw(
            case.secret_id.as_str(),
            mine.as_str(),
            Some(&fixture.secret_for(&case.username, "x").to_string()),
            &["OLDLABEL"],
        )
        .await;
    for step in Step::ALL {
        assert_code(case.step(step, &mine).await, "ForeignPending");
    }
    assert_code(
        case.step(
            Step::SetSecret,
            &VersionId::new("not-a-version").expect("id"),
        )
        .await,
        "TokenNotAVersion",
    );
    assert_eq!(case.password(Stage::Pending).await, pending);
    assert!(
        fixture
            .can_login(&case.username, &case.first_password)
            .await
    );
}

/// finishSecret does not promote a pending credential that was never applied.
pub async fn never_promotes_an_unapplied_credential<F: Fixture>(fixture: &F) {
    let case = Case::new(fixture, "unapplied", "first-Password-1").await;
    let token = case.start().await;
    case.ok(Step::CreateSecret, &token).await;
    assert_code(
        case.step(Step::FinishSecret, &token).await,
        "PendingNotLive",
    );
    assert_eq!(
        case.describe().await.version_with(&Stage::Current),
        Some(&case.first_version)
    );
    assert!(
        case.logs_in(Stage::Current).await,
        "the application keeps working"
    );
}

/// testSecret alone (RotateImmediately=false) changes nothing and fails clearly.
pub async fn test_secret_alone_changes_nothing<F: Fixture>(fixture: &F) {
    let case = Case::new(fixture, "testonly", "first-Password-1").await;
    let token = case.start().await;
    assert_code(case.step(Step::TestSecret, &token).await, "MissingValue");
    case.ok(Step::CreateSecret, &token).await;
    assert_code(case.step(Step::TestSecret, &token).await, "LoginRefused");
    assert!(
        fixture
            .can_login(&case.username, &case.first_password)
            .await
    );
    assert_eq!(
        case.describe().await.version_with(&Stage::Current),
        Some(&case.first_version)
    );
}

/// With rotation disabled every step fails with `RotationDisabled` and changes nothing.
pub async fn rotation_disabled_changes_nothing<F: Fixture>(fixture: &F) {
    let case = Case::new(fixture, "disabled", "first-Password-1").await;
    let token = case.start().await;
    case.moto
        .set_rotation_enabled(case.secret_id.as_str(), Some(false))
        .await;
    for step in Step::ALL {
        assert_code(case.step(step, &token).await, "RotationDisabled");
    }
    assert_eq!(case.value(Stage::Pending).await, None);
    assert!(
        fixture
            .can_login(&case.username, &case.first_password)
            .await
    );
}

/// User names that need quoting and passwords made of every punctuation character,
/// rotated on the real server.
pub async fn rotates_hostile_usernames_and_passwords<F: Fixture>(fixture: &F) {
    let no_exclusions = RotationConfig {
        password: PasswordPolicy {
            length: 64,
            ..PasswordPolicy::with_excluded("")
        },
        ..RotationConfig::defaults(&fixture.target())
    };
    for name in fixture.hostile_usernames() {
        let case =
            Case::with_config(fixture, &name, &hostile_password(), no_exclusions.clone()).await;
        assert!(
            fixture
                .can_login(&case.username, &case.first_password)
                .await,
            "{name}: provisioned"
        );
        let token = case.rotate().await;
        case.assert_rotated(&token, &case.first_password).await;
        // A pending password made of every punctuation character, applied by setSecret.
        let token = case.start().await;
        let wanted = hostile_password();
        let mut pending = case.value(Stage::Current).await.expect("current");
        pending["password"] = wanted.clone().into();
        case.moto
            .put_raw(
                case.secret_id.as_str(),
                token.as_str(),
                Some(&pending.to_string()),
                &["AWSPENDING"],
            )
            .await;
        let old = case.password(Stage::Current).await.expect("password");
        for step in [Step::SetSecret, Step::TestSecret, Step::FinishSecret] {
            case.ok(step, &token).await;
        }
        assert!(
            fixture.can_login(&case.username, &wanted).await,
            "{name}: punctuation password"
        );
        assert!(
            !fixture.can_login(&case.username, &old).await,
            "{name}: old refused"
        );
    }
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The log lines of this whole test process, from a global TRACE subscriber installed on
/// first use (a scoped subscriber misses events whose callsites were cached by another
/// thread).
fn process_logs() -> &'static Captured {
    static CAPTURED: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .try_init()
            .expect("the conformance suite installs the global tracing subscriber: do not install another in this test binary");
        captured
    })
}

/// Captures everything logged in this process (every crate, TRACE level) while `f` runs.
/// Concurrent tests' lines are included, which only makes the scan stricter.
pub async fn capture_logs<T>(f: impl Future<Output = T>) -> (T, String) {
    let captured = process_logs();
    let start = captured.0.lock().unwrap_or_else(|p| p.into_inner()).len();
    let out = f.await;
    let bytes = captured.0.lock().unwrap_or_else(|p| p.into_inner())[start..].to_vec();
    (out, String::from_utf8_lossy(&bytes).into_owned())
}

/// No password appears in what secret-rotor (or the SDK, or the driver) logs at TRACE
/// level during a rotation, nor in the server's log.
pub async fn keeps_passwords_out_of_logs<F: Fixture>(fixture: &F) {
    let case = Case::new(fixture, "logscan", &hostile_password()).await;
    let (token, logs) = capture_logs(async {
        let token = case.rotate().await;
        // A failing step logs too: run one that fails.
        let _ = case
            .step(
                Step::SetSecret,
                &VersionId::new("no-such-version").expect("id"),
            )
            .await;
        token
    })
    .await;
    let new_password = case.password(Stage::Current).await.expect("password");
    assert!(
        logs.contains("rotation step succeeded"),
        "the capture worked"
    );
    assert!(
        logs.contains("TokenNotAVersion"),
        "errors were logged: {}",
        &logs[logs.len().saturating_sub(3000)..]
    );
    for (which, password) in [
        ("old", case.first_password.as_str()),
        ("new", new_password.as_str()),
    ] {
        assert!(
            !logs.contains(password),
            "the {which} password appears in the logs"
        );
    }
    if let Some(server_log) = fixture.server_log() {
        assert!(
            !server_log.contains(&new_password),
            "the new password reached the server's log"
        );
    }
    case.assert_rotated(&token, &case.first_password).await;
}

/// A crash right after each external call of a rotation (and a failure right before
/// each), then the service's retry of the whole rotation with the same token: it
/// converges, and at every point some labelled version logs in.
pub async fn converges_after_a_crash_after_any_call<F: Fixture>(fixture: &F) {
    let total = {
        let case = Case::new(fixture, "count", "first-Password-1").await;
        let plan = FaultPlan::counting();
        let rotator = faulty(&case, &plan);
        let token = case.start().await;
        for step in Step::ALL {
            rotator
                .handle(&RotationEvent::new(
                    step,
                    case.secret_id.clone(),
                    token.clone(),
                ))
                .await
                .expect("clean rotation");
        }
        plan.calls().len()
    };
    assert!(
        total >= 10,
        "a rotation makes at least 10 external calls, saw {total}"
    );
    for fault in (1..=total).flat_map(|n| [Fault::CrashAfter(n), Fault::FailBefore(n)]) {
        let case = Case::new(fixture, "fault", "first-Password-1").await;
        let plan = FaultPlan::with(fault);
        let rotator = faulty(&case, &plan);
        let token = case.start().await;
        for step in Step::ALL {
            let event = RotationEvent::new(step, case.secret_id.clone(), token.clone());
            if rotator.handle(&event).await.is_err() {
                break;
            }
        }
        assert!(plan.fired(), "{fault:?} fired (calls: {:?})", plan.calls());
        assert!(
            case.logs_in(Stage::Current).await || case.logs_in(Stage::Pending).await,
            "{fault:?}: no labelled version logs in"
        );
        plan.disarm();
        case.moto
            .start_rotation(case.secret_id.as_str(), Some(token.as_str()))
            .await
            .unwrap_or_else(|e| panic!("{fault:?}: the service's retry was refused: {e}"));
        for step in Step::ALL {
            let event = RotationEvent::new(step, case.secret_id.clone(), token.clone());
            if let Err(e) = rotator.handle(&event).await {
                panic!("{fault:?}: retry of {step} failed: [{}] {e}", e.code());
            }
        }
        case.assert_rotated(&token, &case.first_password).await;
        assert_eq!(
            case.describe().await.version_with(&Stage::Previous),
            Some(&case.first_version)
        );
    }
}

fn faulty<F: Fixture>(
    case: &Case<'_, F>,
    plan: &FaultPlan,
) -> Rotator<FaultyTarget<F::Target>, FaultyStore<AwsSecretStore>> {
    Rotator::new(
        FaultyTarget::new(case.rotator.target().clone(), plan.clone()),
        FaultyStore::new(case.store().clone(), plan.clone()),
        case.rotator.config().clone(),
    )
    .expect("rotator")
}

/// Generates one `#[tokio::test]` per conformance case, each calling `$fixture` to get
/// its fixture.
#[macro_export]
macro_rules! conformance_tests {
    ($fixture:expr) => {
        $crate::conformance_tests!(@cases $fixture;
            rotates_end_to_end,
            steps_are_idempotent,
            falls_back_to_the_previous_credential,
            fails_cleanly_without_a_working_credential,
            refuses_a_pending_credential_for_another_user,
            refuses_a_foreign_pending_version,
            never_promotes_an_unapplied_credential,
            test_secret_alone_changes_nothing,
            rotation_disabled_changes_nothing,
            rotates_hostile_usernames_and_passwords,
            keeps_passwords_out_of_logs,
            converges_after_a_crash_after_any_call,
        );
    };
    (@cases $fixture:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                $crate::conformance::$case(&$fixture).await;
            }
        )*
    };
}
