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

mod alternating;
mod fault_paths;
mod issuing;
mod logs;
mod single_user;
mod wire_resets;

use std::future::Future;
use std::sync::Arc;

use secrecy::ExposeSecret;
use secret_rotor::store::{AwsSecretStore, SecretStore, Selector};
use secret_rotor::{
    Error, Outcome, RotationConfig, RotationEvent, Rotator, SecretId, Stage, Step, StepReport,
    Target, VersionId,
};
use serde_json::Value;

pub use crate::faults::every_fault;
use crate::faults::{
    Fault, FaultPlan, FaultyLocator, FaultyStore, FaultyTarget, faulty_rotator, run_rotation,
};
use crate::moto::Moto;
use secret_rotor::Strategy;
use secret_rotor::rds::RdsLocator;

pub use alternating::*;
pub use fault_paths::*;
pub use issuing::*;
pub use logs::capture_logs;
pub use single_user::*;
pub use wire_resets::*;

/// Every ASCII punctuation character: passwords made of these must survive quoting.
pub const ALL_PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/// What the suite needs from a target's test setup.
pub trait Fixture: Send + Sync {
    /// The target under test.
    type Target: Target + 'static;

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

    /// User names that need quoting (default: [`default_hostile_usernames`]).
    fn hostile_usernames(&self) -> Vec<String> {
        default_hostile_usernames()
    }

    /// The server's own log, when it can be read: scanned for clear-text passwords.
    fn server_log(&self) -> Option<String> {
        None
    }

    /// Text that must never appear in what the rotation logs, besides the passwords: the
    /// marks of what the target derives from a password (a SCRAM verifier, a hash...).
    fn forbidden_in_logs(&self) -> Vec<String> {
        Vec::new()
    }

    /// The exact number of fault-injection points (external calls: Secrets Manager, the
    /// target, the RDS API) of a rotation with `strategy` along `path`, when the target
    /// declares it: the fault sweeps then fail when a call appears or disappears. `None`
    /// (the default): counted and printed, not asserted; the sweeps of the paths off the
    /// clean one ([`converges_under_every_fault`]) require it.
    fn fault_points(&self, strategy: Strategy, path: FaultPath) -> Option<usize> {
        let _ = (strategy, path);
        None
    }
}

/// User names that need quoting: quotes, `;`, spaces, upper case, unicode.
pub fn default_hostile_usernames() -> Vec<String> {
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

/// A unique, short suffix for names.
pub(crate) fn unique() -> String {
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
    pub rotator: Rotator<Arc<F::Target>, AwsSecretStore>,
    moto: &'static Moto,
    /// The RDS API the rotator locates RDS-managed master secrets with, when given.
    rds: Option<RdsLocator>,
}

/// Extra keys every test secret carries: they must survive every rotation.
pub(crate) fn extra_keys() -> Value {
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
        Case::build(fixture, username, password, config, serde_json::Map::new()).await
    }

    /// Like [`Case::with_config`], with more keys in the secret (e.g. `masterarn`).
    pub async fn build(
        fixture: &'f F,
        username: &str,
        password: &str,
        config: RotationConfig,
        more: serde_json::Map<String, Value>,
    ) -> Self {
        let moto = Moto::shared();
        let username = format!("{username}_{}", unique());
        fixture.create_account(&username, password).await;
        let mut secret = fixture.secret_for(&username, password);
        for (k, v) in extra_keys()
            .as_object()
            .expect("object")
            .iter()
            .chain(&more)
        {
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
        let rotator = Rotator::new(Arc::new(fixture.target()), store, config).expect("rotator");
        Case {
            fixture,
            username,
            first_password: password.to_owned(),
            secret_id,
            first_version,
            rotator,
            moto,
            rds: None,
        }
    }

    /// The same case, its rotators (and the faulty ones) locating RDS-managed master
    /// secrets with `locator`.
    pub fn with_rds(mut self, locator: RdsLocator) -> Self {
        self.rotator = self.rotator.with_rds(locator.clone());
        self.rds = Some(locator);
        self
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

    /// A rotator for this case's target and secret with another configuration (e.g.
    /// `PRIVILEGE_PARITY=report`).
    pub fn rotator_with(&self, config: RotationConfig) -> Rotator<Arc<F::Target>, AwsSecretStore> {
        Rotator::new(
            Arc::clone(self.rotator.target()),
            self.store().clone(),
            config,
        )
        .expect("the configuration suits the target")
    }

    /// Runs setSecret, testSecret and finishSecret of rotation `token` with another
    /// configuration ([`Case::rotator_with`]), each of which must succeed; their outcomes.
    pub async fn finish_with(&self, config: RotationConfig, token: &VersionId) -> Vec<Outcome> {
        let rotator = self.rotator_with(config);
        let mut outcomes = Vec::new();
        for step in &[Step::SetSecret, Step::TestSecret, Step::FinishSecret] {
            let event = RotationEvent::new(*step, self.secret_id.clone(), token.clone());
            match rotator.handle(&event).await {
                Ok(report) => outcomes.push(report.outcome),
                Err(e) => panic!("{step} failed: [{}] {}", e.code(), e.display_chain()),
            }
        }
        outcomes
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

    /// Rewrites the value of the first version (AWSCURRENT), as someone editing the
    /// secret would (tests only).
    pub async fn set_current(&self, value: &Value) {
        self.moto
            .put_raw(
                self.secret_id.as_str(),
                self.first_version.as_str(),
                Some(&value.to_string()),
                &["AWSCURRENT"],
            )
            .await;
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

    /// Asserts what a password replaced by a completed rotation does: refused, except on a
    /// target that retires credentials after finishSecret ([`Capabilities::retiring`]) while
    /// `AWSPREVIOUS` holds it (applications keep it through the grace period).
    ///
    /// [`Capabilities::retiring`]: secret_rotor::Capabilities::retiring
    pub async fn assert_old_password(&self, old_password: &str, context: &str) {
        let retires = self.fixture.target().info().capabilities.retires();
        let previous = self.password(Stage::Previous).await;
        let held = retires && previous.as_deref() == Some(old_password);
        assert_eq!(
            self.fixture.can_login(&self.username, old_password).await,
            held,
            "{context}: the old password {}",
            if held {
                "is AWSPREVIOUS's and keeps working until it is retired"
            } else {
                "is refused"
            }
        );
    }

    /// Asserts the state after a completed rotation with `token`: labels clean, new
    /// password works, old refused (or, for a retiring target, kept while AWSPREVIOUS),
    /// extra keys kept.
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
        self.assert_old_password(old_password, "after the rotation")
            .await;
        for (k, v) in extra_keys().as_object().expect("object") {
            assert_eq!(&current[k], v, "unknown key {k} survives");
        }
    }
}

impl<F: Fixture> Case<'_, F> {
    fn faulty(
        &self,
        plan: &FaultPlan,
    ) -> Rotator<FaultyTarget<Arc<F::Target>>, FaultyStore<AwsSecretStore>> {
        let rotator = faulty_rotator(
            Arc::clone(self.rotator.target()),
            self.store().clone(),
            self.rotator.config().clone(),
            plan,
        );
        match &self.rds {
            Some(locator) => rotator.with_rds(FaultyLocator::new(locator.clone(), plan.clone())),
            None => rotator,
        }
    }

    /// The external calls (Secrets Manager, target and RDS API) of one clean rotation, in
    /// order. When the fixture declares how many there are ([`Fixture::fault_points`] for
    /// the case's strategy and [`FaultPath::Clean`]), asserts it.
    pub async fn count_calls(&self) -> Vec<String> {
        let token = self.start().await;
        let calls = self.count_calls_of(&token).await;
        let strategy = self.rotator.config().strategy;
        fault_paths::assert_fault_points(self.fixture, strategy, FaultPath::Clean, &calls);
        calls
    }

    /// The external calls of a clean run of the four steps of rotation `token` (already
    /// started), in order; panics if a step fails.
    pub(crate) async fn count_calls_of(&self, token: &VersionId) -> Vec<String> {
        let plan = FaultPlan::counting();
        if let Err((step, e)) = run_rotation(&self.faulty(&plan), &self.secret_id, token).await {
            panic!("clean rotation, {step}: [{}] {e}", e.code());
        }
        plan.calls()
    }

    /// A rotation with `fault` injected, stopped at the first failing step as the service
    /// stops; returns its token. Panics if the fault never fired, or if an error after a
    /// call was swallowed (see `assert_crash_ended_the_run`).
    pub async fn rotate_with(&self, fault: Fault) -> VersionId {
        let token = self.start().await;
        self.run_with(&token, fault).await;
        token
    }

    /// The four steps of rotation `token` (already started) with `fault` injected, stopped
    /// at the first failing step. Panics if the fault never fired, or if an error after a
    /// call was swallowed.
    pub(crate) async fn run_with(&self, token: &VersionId, fault: Fault) {
        let plan = FaultPlan::with(fault);
        let result = run_rotation(&self.faulty(&plan), &self.secret_id, token).await;
        assert!(plan.fired(), "{fault:?} fired (calls: {:?})", plan.calls());
        assert_crash_ended_the_run(fault, result.is_ok(), &plan.calls());
    }

    /// The service's retry of the whole rotation with the same token (after `fault`);
    /// panics if any step fails.
    pub async fn retry(&self, token: &VersionId, fault: Fault) {
        self.moto
            .start_rotation(self.secret_id.as_str(), Some(token.as_str()))
            .await
            .unwrap_or_else(|e| panic!("{fault:?}: the service's retry was refused: {e}"));
        if let Err((step, e)) = run_rotation(&self.rotator, &self.secret_id, token).await {
            panic!("{fault:?}: retry of {step} failed: [{}] {e}", e.code());
        }
        // On moto, not by a model: AWSCURRENT moved, and no version keeps AWSPENDING (not
        // even the current one, which `rotation_in_progress` would not report).
        let labels = self.describe().await;
        assert_eq!(
            labels.version_with(&Stage::Current),
            Some(token),
            "{fault:?}"
        );
        assert_eq!(
            labels.version_with(&Stage::Pending),
            None,
            "{fault:?}: AWSPENDING left behind"
        );
    }
}

/// A crash after call `n` must end the rotation's run — unless the code retried that very
/// call (the next call is the same one: finishSecret's bounded retry of its proof login),
/// which a call that changed nothing allows (`target.retire` included: after the label
/// move its failure fails finishSecret, whose retry retires). A failure *before* a call
/// may be absorbed wherever the code tries another way
/// (the ladder of credentials), so it is not checked.
pub(crate) fn assert_crash_ended_the_run(fault: Fault, run_succeeded: bool, calls: &[String]) {
    if let (Fault::CrashAfter(n), true) = (fault, run_succeeded) {
        let (faulted, next) = (calls.get(n - 1), calls.get(n));
        assert!(
            faulted.is_some() && faulted == next,
            "{fault:?}: an error after {faulted:?} was swallowed: the run went on to {next:?} \
             and succeeded (calls: {calls:?})"
        );
    }
}

/// Asserts that `logs` hold none of `secrets` and none of the fixture's
/// [`Fixture::forbidden_in_logs`] marks.
pub(crate) fn assert_clean_logs<F: Fixture>(fixture: &F, logs: &str, secrets: &[(&str, &str)]) {
    println!(
        "RELIABILITY logscan lines={} secrets={} (a hit fails the test)",
        logs.lines().count(),
        secrets.len()
    );
    for (which, secret) in secrets {
        assert!(!logs.contains(secret), "the {which} appears in the logs");
        // Escaped (JSON, `Debug`) a password with `"` or `\` never matches as a whole: look
        // for its longest run of letters and digits too, which no escaping changes.
        let run = longest_alphanumeric_run(secret);
        if run.len() >= 8 {
            assert!(
                !logs.contains(run),
                "the {which} appears in the logs (found {} of its characters, escaped)",
                run.len()
            );
        }
    }
    for mark in fixture.forbidden_in_logs() {
        if let Some(at) = logs.find(&mark) {
            let line = logs[..at].rsplit('\n').next().unwrap_or_default();
            panic!(
                "{mark:?} appears in the logs, in a line starting: {:.120}",
                line
            );
        }
    }
}

/// The longest run of ASCII letters and digits in `s`.
fn longest_alphanumeric_run(s: &str) -> &str {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .max_by_key(|run| run.len())
        .unwrap_or_default()
}

/// Asserts an error with `code`.
pub(crate) fn assert_code<T: std::fmt::Debug>(result: Result<T, Error>, code: &str) -> Error {
    match result {
        Err(e) if e.code() == code => e,
        Err(e) => panic!("expected {code}, got [{}] {e}", e.code()),
        Ok(v) => panic!("expected {code}, got {v:?}"),
    }
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
            concurrent_invocations_never_lock_out,
            fault_path_single_user_fallback_to_previous,
            fault_path_single_user_leftover_pending,
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
