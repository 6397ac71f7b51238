//! Fault sweeps off the clean path: every external call of a rotation that takes a branch
//! the clean rotation never takes — setSecret falling back to `AWSPREVIOUS`, finishSecret
//! removing a leftover `AWSPENDING`, an RDS-managed master located with the RDS API — is
//! crashed after and failed before, one at a time, then the service's retry must converge.
//!
//! The number of injection points of each target × strategy × path is declared by the
//! target's fixture ([`Fixture::fault_points`]) and asserted, so a new call (or a lost one)
//! fails the sweep. Each sweep prints
//! `RELIABILITY faults target=… strategy=… path=… points=… injected=… converged=…`.

use std::sync::atomic::{AtomicUsize, Ordering};

use secret_rotor::rds::RdsLocator;
use secret_rotor::store::SecretStore;
use secret_rotor::{Stage, Step, Strategy, Target, VersionId};
use serde_json::Map;
use tokio::sync::OnceCell;

use super::alternating::alternating;
use super::{AlternatingFixture, Case, Fixture, unique};
use crate::faults::{Fault, for_every_fault};
use crate::moto::Moto;

/// A path through a rotation, for the fault sweeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultPath {
    /// Every credential works: the path of an ordinary rotation.
    Clean,
    /// Single user, `AWSCURRENT` refused (an administrator put `AWSPREVIOUS`'s password
    /// back): setSecret finds pending not live yet and sets the password logged in as
    /// `AWSPREVIOUS`.
    FallbackToPrevious,
    /// The token's version is already `AWSCURRENT` and still carries `AWSPENDING` (a crash
    /// between finishSecret's two label moves): the retried finishSecret removes it.
    LeftoverPending,
    /// Alternating users whose master secret RDS manages (only a user name and a password,
    /// `aws:rds:*` tags): its database is located with the RDS API, and the user's host is
    /// proven a read replica of it with the RDS API.
    RdsManagedMaster,
}

impl FaultPath {
    /// The name in the figures: `clean`, `fallback-to-previous`, `leftover-pending`,
    /// `rds-managed-master`.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultPath::Clean => "clean",
            FaultPath::FallbackToPrevious => "fallback-to-previous",
            FaultPath::LeftoverPending => "leftover-pending",
            FaultPath::RdsManagedMaster => "rds-managed-master",
        }
    }
}

impl std::fmt::Display for FaultPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Asserts the number of injection points when the fixture declares it.
pub(crate) fn assert_fault_points<F: Fixture>(
    fixture: &F,
    strategy: Strategy,
    path: FaultPath,
    calls: &[String],
) {
    if let Some(expected) = fixture.fault_points(strategy, path) {
        assert_eq!(
            calls.len(),
            expected,
            "{} {strategy} {path}: the fault-injection points changed (a call appeared or \
             disappeared; update Fixture::fault_points if that is intended): {calls:#?}",
            fixture.target().info().name
        );
    }
}

/// Prints the figures of one sweep.
pub(crate) fn report_sweep<F: Fixture>(
    fixture: &F,
    strategy: Strategy,
    path: FaultPath,
    points: usize,
    converged: usize,
) {
    let declared = match fixture.fault_points(strategy, path) {
        Some(_) => "",
        None => " (count not declared by the target)",
    };
    println!(
        "RELIABILITY faults target={} strategy={strategy} path={path} points={points} \
         injected={} converged={converged}{declared}",
        fixture.target().info().name,
        points * 2,
    );
}

/// A rotation prepared on one path, ready for its four steps.
struct Prepared<'f, F: Fixture> {
    case: Case<'f, F>,
    token: VersionId,
    /// The version that becomes `AWSPREVIOUS` when the rotation completes.
    previous_after: VersionId,
    /// The password that logged in before the rotation (refused after it, single user).
    live_before: String,
}

async fn prepare_single_user<F: Fixture>(fixture: &F, path: FaultPath) -> Prepared<'_, F> {
    let case = Case::new(fixture, "fpath", "first-Password-1").await;
    match path {
        FaultPath::Clean => {
            let token = case.start().await;
            let (previous_after, live_before) =
                (case.first_version.clone(), case.first_password.clone());
            Prepared {
                case,
                token,
                previous_after,
                live_before,
            }
        }
        FaultPath::FallbackToPrevious => {
            let second = case.rotate().await;
            // The administrator puts the first password back: AWSCURRENT is refused,
            // AWSPREVIOUS logs in.
            fixture
                .reset_password(&case.username, &case.first_password)
                .await;
            let token = case.start().await;
            let live_before = case.first_password.clone();
            Prepared {
                case,
                token,
                previous_after: second,
                live_before,
            }
        }
        FaultPath::LeftoverPending => leave_pending_behind(case).await,
        FaultPath::RdsManagedMaster => panic!("{path}: alternating users only"),
    }
}

async fn prepare_alternating<F: AlternatingFixture>(
    fixture: &F,
    path: FaultPath,
) -> Prepared<'_, F> {
    let case = match path {
        FaultPath::Clean | FaultPath::LeftoverPending => {
            Case::alternating(fixture, "fpalt", "first-Password-1", None).await
        }
        FaultPath::RdsManagedMaster => rds_case(fixture).await,
        FaultPath::FallbackToPrevious => panic!("{path}: single user only"),
    };
    match path {
        FaultPath::LeftoverPending => leave_pending_behind(case).await,
        _ => {
            let token = case.start().await;
            let (previous_after, live_before) =
                (case.first_version.clone(), case.first_password.clone());
            Prepared {
                case,
                token,
                previous_after,
                live_before,
            }
        }
    }
}

/// A rotation whose finishSecret crashed between its two label moves: `AWSCURRENT` moved
/// to the token, which still carries `AWSPENDING`.
async fn leave_pending_behind<F: Fixture>(case: Case<'_, F>) -> Prepared<'_, F> {
    let token = case.start().await;
    for step in [Step::CreateSecret, Step::SetSecret, Step::TestSecret] {
        case.ok(step, &token).await;
    }
    case.store()
        .update_stage(
            &case.secret_id,
            Stage::Current,
            Some(&token),
            Some(&case.first_version),
        )
        .await
        .expect("moving AWSCURRENT");
    let stages = case
        .describe()
        .await
        .stages_of(&token)
        .map(<[Stage]>::to_vec);
    assert!(
        stages
            .as_ref()
            .is_some_and(|s| s.contains(&Stage::Current) && s.contains(&Stage::Pending)),
        "the leftover state: the token is AWSCURRENT and still AWSPENDING ({stages:?})"
    );
    let (previous_after, live_before) = (case.first_version.clone(), case.first_password.clone());
    Prepared {
        case,
        token,
        previous_after,
        live_before,
    }
}

/// The RDS instance (`localhost`, at `localhost`) and its read replica (`127`, at
/// `127.0.0.1`) in the shared moto, both on the fixture's server: the master secret is
/// located at `localhost`, the user's secret names `127.0.0.1`, and RDS says the latter is
/// a replica of the former. Created once per test process; returns the instance's ARN.
async fn rds_primary<F: AlternatingFixture>(fixture: &F) -> &'static str {
    static PRIMARY: OnceCell<(String, u16)> = OnceCell::const_new();
    let master = fixture.master_secret();
    let port = master["port"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .expect("the master secret's port");
    let engine = master["engine"]
        .as_str()
        .expect("the master secret's engine")
        .to_owned();
    let (arn, created_for) = PRIMARY
        .get_or_init(|| async move {
            let moto = Moto::shared();
            let arn = moto
                .create_db_instance("localhost", &engine, "localhost", port)
                .await;
            moto.create_read_replica("127", "localhost", "127.0.0.1", port)
                .await;
            (arn, port)
        })
        .await;
    assert_eq!(
        *created_for, port,
        "one server per test process for the RDS sweeps"
    );
    arn
}

/// An alternating-users case whose master secret RDS manages.
async fn rds_case<F: AlternatingFixture>(fixture: &F) -> Case<'_, F> {
    let primary = rds_primary(fixture).await;
    let master = fixture.master_secret();
    let moto = Moto::shared();
    let master_arn = moto
        .create_rds_managed_secret(
            &format!("rds!db-{}", unique()),
            master["username"].as_str().expect("master username"),
            master["password"].as_str().expect("master password"),
            primary,
        )
        .await;
    let mut more = Map::new();
    more.insert("masterarn".into(), master_arn.into());
    more.insert("host".into(), "127.0.0.1".into());
    let case = Case::build(
        fixture,
        "fprds",
        "first-Password-1",
        alternating(fixture),
        more,
    )
    .await
    .with_rds(RdsLocator::new(moto.rds_client()));
    fixture.grant_probe(&case.username).await;
    case
}

/// Asserts that the calls of a clean run take `path`.
fn assert_takes_path(strategy: Strategy, path: FaultPath, calls: &[String]) {
    let has = |prefix: &str| calls.iter().any(|c| c.starts_with(prefix));
    let taken = match path {
        FaultPath::Clean => has("PutSecretValue"),
        FaultPath::FallbackToPrevious => {
            has("GetSecretValue AWSPREVIOUS")
                && calls.iter().filter(|c| *c == "target.set_password").count() == 2
        }
        // A target that retires also sweeps after the removal.
        FaultPath::LeftoverPending => {
            has("UpdateSecretVersionStage AWSPENDING")
                && !has("PutSecretValue")
                && calls
                    .iter()
                    .filter(|c| c.starts_with("target."))
                    .all(|c| c == "target.retire")
        }
        FaultPath::RdsManagedMaster => {
            has("rds.primary_endpoint") && has("rds.is_replica_of") && has("target.sync_alternate")
        }
    };
    assert!(
        taken,
        "{strategy} {path}: the rotation took another path: {calls:#?}"
    );
}

/// Counts the points of `path`, checks them against the fixture's declaration, then
/// crashes after and fails before each, and checks the retry. `prepare` sets up a fresh
/// case on the path; `during` checks the state right after the faulted run, `after` the
/// converged state.
async fn sweep<'f, F: Fixture>(
    fixture: &'f F,
    strategy: Strategy,
    path: FaultPath,
    prepare: impl AsyncFn() -> Prepared<'f, F>,
    during: impl AsyncFn(Fault, &Prepared<'f, F>),
    after: impl AsyncFn(Fault, &Prepared<'f, F>),
) {
    let counting = prepare().await;
    let calls = counting.case.count_calls_of(&counting.token).await;
    assert_takes_path(strategy, path, &calls);
    assert!(
        fixture.fault_points(strategy, path).is_some(),
        "{} {strategy} {path}: declare the number of injection points in \
         Fixture::fault_points (counted {}: {calls:#?})",
        fixture.target().info().name,
        calls.len()
    );
    assert_fault_points(fixture, strategy, path, &calls);
    after(Fault::FailBefore(0), &counting).await;
    let converged = AtomicUsize::new(0);
    let (converged_ref, prepare, during, after) = (&converged, &prepare, &during, &after);
    for_every_fault(calls.len(), |fault| async move {
        let prepared = prepare().await;
        prepared.case.run_with(&prepared.token, fault).await;
        during(fault, &prepared).await;
        prepared.case.retry(&prepared.token, fault).await;
        after(fault, &prepared).await;
        converged_ref.fetch_add(1, Ordering::Relaxed);
    })
    .await;
    let converged = converged.into_inner();
    assert_eq!(converged, calls.len() * 2);
    report_sweep(fixture, strategy, path, calls.len(), converged);
}

/// Single user, along `path` ([`FaultPath::FallbackToPrevious`],
/// [`FaultPath::LeftoverPending`] or [`FaultPath::Clean`]): the number of injection points
/// is the fixture's declared one; a crash right after each call and a failure right
/// before each leave some labelled version logging in (`AWSCURRENT` itself on the leftover
/// path), and the service's retry converges: `AWSCURRENT` is the token and logs in, no
/// `AWSPENDING` is left on any version, the password that logged in before is refused.
pub async fn converges_under_every_fault<F: Fixture>(fixture: &F, path: FaultPath) {
    sweep(
        fixture,
        Strategy::SingleUser,
        path,
        async || prepare_single_user(fixture, path).await,
        async |fault, p: &Prepared<'_, F>| {
            let current = p.case.logs_in(Stage::Current).await;
            let live = match path {
                FaultPath::LeftoverPending => current,
                _ => {
                    current
                        || p.case.logs_in(Stage::Pending).await
                        || p.case.logs_in(Stage::Previous).await
                }
            };
            assert!(live, "{fault:?} on {path}: no labelled version logs in");
        },
        async |fault, p: &Prepared<'_, F>| {
            let labels = p.case.describe().await;
            assert_eq!(
                labels.version_with(&Stage::Current),
                Some(&p.token),
                "{fault:?}"
            );
            assert_eq!(labels.version_with(&Stage::Pending), None, "{fault:?}");
            assert_eq!(
                labels.version_with(&Stage::Previous),
                Some(&p.previous_after),
                "{fault:?}"
            );
            assert!(p.case.logs_in(Stage::Current).await, "{fault:?}");
            if path != FaultPath::LeftoverPending {
                p.case.assert_rotated(&p.token, &p.live_before).await;
            }
        },
    )
    .await;
}

/// Alternating users, along `path` ([`FaultPath::RdsManagedMaster`],
/// [`FaultPath::LeftoverPending`] or [`FaultPath::Clean`]): as
/// [`converges_under_every_fault`], and `AWSCURRENT` logs in at every point; after the
/// retry both users log in with the original user's privileges.
pub async fn alternating_converges_under_every_fault<F: AlternatingFixture>(
    fixture: &F,
    path: FaultPath,
) {
    sweep(
        fixture,
        Strategy::AlternatingUsers,
        path,
        async || prepare_alternating(fixture, path).await,
        async |fault, p: &Prepared<'_, F>| {
            assert!(
                p.case.logs_in(Stage::Current).await,
                "{fault:?} on {path}: AWSCURRENT must always log in"
            );
        },
        async |fault, p: &Prepared<'_, F>| {
            let labels = p.case.describe().await;
            assert_eq!(
                labels.version_with(&Stage::Current),
                Some(&p.token),
                "{fault:?}"
            );
            assert_eq!(labels.version_with(&Stage::Pending), None, "{fault:?}");
            assert_eq!(
                labels.version_with(&Stage::Previous),
                Some(&p.previous_after),
                "{fault:?}"
            );
            p.case.assert_both_users_work().await;
        },
    )
    .await;
}

/// [`converges_under_every_fault`] along [`FaultPath::FallbackToPrevious`] (a case of
/// [`conformance_tests!`](crate::conformance_tests)).
pub async fn fault_path_single_user_fallback_to_previous<F: Fixture>(fixture: &F) {
    converges_under_every_fault(fixture, FaultPath::FallbackToPrevious).await;
}

/// [`converges_under_every_fault`] along [`FaultPath::LeftoverPending`] (a case of
/// [`conformance_tests!`](crate::conformance_tests)).
pub async fn fault_path_single_user_leftover_pending<F: Fixture>(fixture: &F) {
    converges_under_every_fault(fixture, FaultPath::LeftoverPending).await;
}

/// [`alternating_converges_under_every_fault`] along [`FaultPath::LeftoverPending`] (a
/// case of [`alternating_conformance_tests!`](crate::alternating_conformance_tests)).
pub async fn fault_path_alternating_leftover_pending<F: AlternatingFixture>(fixture: &F) {
    alternating_converges_under_every_fault(fixture, FaultPath::LeftoverPending).await;
}

/// [`alternating_converges_under_every_fault`] along [`FaultPath::RdsManagedMaster`] (a
/// case of [`database_conformance_tests!`](crate::database_conformance_tests)).
pub async fn fault_path_alternating_rds_managed_master<F: AlternatingFixture>(fixture: &F) {
    alternating_converges_under_every_fault(fixture, FaultPath::RdsManagedMaster).await;
}
