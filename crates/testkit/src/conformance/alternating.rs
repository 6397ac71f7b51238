//! The cases every target that declares the alternating-users strategy runs: the pair
//! `<user>` / `<user>_clone` takes turns, a master secret acts, the previous credentials
//! keep working, and privileges stay in line.

use std::future::Future;

use secret_rotor::{Outcome, RotationConfig, Stage, Step, Strategy};
use serde_json::{Map, Value};

use super::logs::capture_logs;
use super::{Case, Fixture, assert_clean_logs, assert_code, hostile_password, unique};
use crate::faults::for_every_fault;

/// What the alternating-users cases need on top of [`Fixture`].
pub trait AlternatingFixture: Fixture {
    /// The master secret (AWS layout, password included) of a user that may create users
    /// and grant privileges on the test server.
    fn master_secret(&self) -> Value;

    /// Gives `username` a privilege an application would use (e.g. `SELECT` on a table),
    /// as an administrator.
    fn grant_probe(&self, username: &str) -> impl Future<Output = ()> + Send;

    /// Whether `username`/`password` can use that privilege.
    fn can_use_probe(&self, username: &str, password: &str) -> impl Future<Output = bool> + Send;

    /// Points `secret` at another server (of the same kind) that does not exist: for
    /// databases another `host`.
    fn move_elsewhere(&self, secret: &mut Value) {
        secret["host"] = "db.elsewhere.invalid".into();
    }
}

pub(super) fn alternating(fixture: &impl Fixture) -> RotationConfig {
    RotationConfig {
        strategy: Strategy::AlternatingUsers,
        ..RotationConfig::defaults(&fixture.target())
    }
}

impl<'f, F: AlternatingFixture> Case<'f, F> {
    /// An account with the probe privilege, whose secret names a master secret (created
    /// in moto from [`AlternatingFixture::master_secret`], or `master` when given).
    pub async fn alternating(
        fixture: &'f F,
        username: &str,
        password: &str,
        master: Option<Value>,
    ) -> Self {
        let master = master.unwrap_or_else(|| fixture.master_secret());
        let master_arn = super::Moto::shared()
            .create_secret(
                &format!("conformance/master/{}", unique()),
                &master.to_string(),
            )
            .await;
        let mut more = Map::new();
        more.insert("masterarn".into(), master_arn.into());
        let case = Case::build(fixture, username, password, alternating(fixture), more).await;
        fixture.grant_probe(&case.username).await;
        case
    }

    /// The user name and password of `stage`.
    pub(super) async fn login_of(&self, stage: Stage) -> (String, String) {
        let v = self.value(stage).await.expect("value");
        (
            v["username"].as_str().expect("username").to_owned(),
            v["password"].as_str().expect("password").to_owned(),
        )
    }

    /// Both `AWSCURRENT` and `AWSPREVIOUS` log in and can use the probe privilege.
    pub(super) async fn assert_both_users_work(&self) {
        for stage in [Stage::Current, Stage::Previous] {
            let (user, password) = self.login_of(stage.clone()).await;
            assert!(
                self.fixture.can_login(&user, &password).await,
                "{stage} ({user}) logs in"
            );
            assert!(
                self.fixture.can_use_probe(&user, &password).await,
                "{stage} ({user}) has the original user's privilege"
            );
        }
    }
}

/// user → clone → user: each rotation's new credentials log in with the original user's
/// privileges, and the previous credentials keep working after finishSecret.
pub async fn alternating_rotates_user_clone_user<F: AlternatingFixture>(fixture: &F) {
    let case = Case::alternating(fixture, "alt", &hostile_password(), None).await;
    let clone = format!("{}_clone", case.username);
    let first = case.start().await;
    assert_eq!(
        case.ok(Step::CreateSecret, &first).await,
        Outcome::PendingCreated {
            username: clone.clone()
        }
    );
    let Outcome::AlternateUserSet { report } = case.ok(Step::SetSecret, &first).await else {
        panic!("setSecret did not set the alternate user")
    };
    assert!(report.created, "the clone was created");
    assert!(report.unsynced.is_empty(), "{:?}", report.unsynced);
    assert_eq!(case.ok(Step::SetSecret, &first).await, Outcome::AlreadyLive);
    case.ok(Step::TestSecret, &first).await;
    case.ok(Step::FinishSecret, &first).await;
    assert_eq!(case.login_of(Stage::Current).await.0, clone);
    assert_eq!(
        case.login_of(Stage::Previous).await,
        (case.username.clone(), case.first_password.clone())
    );
    case.assert_both_users_work().await;

    let second = case.rotate().await;
    assert_eq!(
        case.describe().await.version_with(&Stage::Current),
        Some(&second)
    );
    let (user, password) = case.login_of(Stage::Current).await;
    assert_eq!(user, case.username, "back to the original user");
    assert_ne!(password, case.first_password, "with a new password");
    assert!(
        !fixture
            .can_login(&case.username, &case.first_password)
            .await,
        "the first password is gone"
    );
    assert_eq!(case.login_of(Stage::Previous).await.0, clone);
    case.assert_both_users_work().await;
    assert_eq!(case.describe().await.rotation_in_progress(), None);
}

/// A pending value naming a user that is not the alternate of the current one is refused
/// before the master does anything.
pub async fn alternating_refuses_a_pending_user_that_is_not_the_alternate<F: AlternatingFixture>(
    fixture: &F,
) {
    let case = Case::alternating(fixture, "altguard", "first-Password-1", None).await;
    let victim = Case::new(fixture, "victim", "victim-Password-1").await;
    let token = case.start().await;
    let forged = fixture.secret_for(&victim.username, &format!("forged-{}", unique()));
    case.moto
        .put_raw(
            case.secret_id.as_str(),
            token.as_str(),
            Some(&forged.to_string()),
            &["AWSPENDING"],
        )
        .await;
    assert_code(
        case.step(Step::SetSecret, &token).await,
        "CredentialMismatch",
    );
    assert!(
        fixture
            .can_login(&victim.username, &victim.first_password)
            .await
    );
    assert!(
        !fixture
            .can_login(&format!("{}_clone", case.username), "x")
            .await
    );
}

/// A master secret for another server is refused, and nothing is created.
pub async fn alternating_refuses_a_master_on_another_server<F: AlternatingFixture>(fixture: &F) {
    let mut master = fixture.master_secret();
    fixture.move_elsewhere(&mut master);
    let case = Case::alternating(fixture, "altmaster", "first-Password-1", Some(master)).await;
    let token = case.start().await;
    case.ok(Step::CreateSecret, &token).await;
    let err = assert_code(
        case.step(Step::SetSecret, &token).await,
        "CredentialMismatch",
    );
    assert!(err.to_string().contains("master"), "{err}");
    let (clone, password) = case.login_of(Stage::Pending).await;
    assert!(
        !fixture.can_login(&clone, &password).await,
        "nothing was created"
    );
    assert!(case.logs_in(Stage::Current).await);
}

/// A master secret that is one of the pair would change its own password as the master
/// (and lock the master out at the next rotation): refused with `MasterIsRotatedUser`
/// before anything is written — whether `masterarn` names a secret of the user, of the
/// clone, or the rotated secret itself — and again in setSecret if the master secret
/// changes after createSecret.
pub async fn alternating_refuses_a_master_that_is_one_of_the_pair<F: AlternatingFixture>(
    fixture: &F,
) {
    let moto = super::Moto::shared();
    for master_is in ["the user", "the clone", "this secret"] {
        let case = Case::alternating(fixture, "selfmaster", "first-Password-1", None).await;
        let mut current = case.value(Stage::Current).await.expect("current");
        let clone = format!("{}_clone", case.username);
        current["masterarn"] = match master_is {
            "the user" => {
                let own = fixture.secret_for(&case.username, &case.first_password);
                moto.create_secret(&format!("conformance/own/{}", unique()), &own.to_string())
                    .await
                    .into()
            }
            "the clone" => {
                let clone_secret = fixture.secret_for(&clone, "clone-Password-1");
                moto.create_secret(
                    &format!("conformance/clone/{}", unique()),
                    &clone_secret.to_string(),
                )
                .await
                .into()
            }
            _ => case.secret_id.as_str().into(),
        };
        case.set_current(&current).await;
        let token = case.start().await;
        let err = assert_code(
            case.step(Step::CreateSecret, &token).await,
            "MasterIsRotatedUser",
        );
        assert!(err.to_string().contains("master"), "{master_is}: {err}");
        assert_eq!(
            case.value(Stage::Pending).await,
            None,
            "{master_is}: nothing written"
        );
        assert!(case.logs_in(Stage::Current).await, "{master_is}");
    }
    // The master secret changes between createSecret and setSecret.
    let case = Case::alternating(fixture, "latemaster", "first-Password-1", None).await;
    let token = case.start().await;
    case.ok(Step::CreateSecret, &token).await;
    let master_arn = case.value(Stage::Current).await.expect("current")["masterarn"]
        .as_str()
        .expect("masterarn")
        .to_owned();
    let own = fixture.secret_for(&case.username, &case.first_password);
    moto.put_raw(
        &master_arn,
        &uuid::Uuid::new_v4().to_string(),
        Some(&own.to_string()),
        &["AWSCURRENT"],
    )
    .await;
    assert_code(
        case.step(Step::SetSecret, &token).await,
        "MasterIsRotatedUser",
    );
    assert!(
        fixture
            .can_login(&case.username, &case.first_password)
            .await,
        "the user's password is unchanged"
    );
    let (clone, password) = case.login_of(Stage::Pending).await;
    assert!(!fixture.can_login(&clone, &password).await);
    // No clone was made (a login alone cannot tell: a half-made clone may be locked): with
    // the right master back, setSecret is the one that creates it.
    moto.put_raw(
        &master_arn,
        &uuid::Uuid::new_v4().to_string(),
        Some(&fixture.master_secret().to_string()),
        &["AWSCURRENT"],
    )
    .await;
    let Outcome::AlternateUserSet { report } = case.ok(Step::SetSecret, &token).await else {
        panic!("setSecret did not set the alternate user")
    };
    assert!(report.created, "the refused setSecret had created no clone");
}

/// An existing `<user>_clone` that no rotation made (it is not the user's pair) is not
/// taken over: setSecret fails with `UnrelatedAlternateUser` naming it, and neither
/// account changes.
pub async fn alternating_refuses_an_unrelated_existing_clone<F: AlternatingFixture>(fixture: &F) {
    let case = Case::alternating(fixture, "takeover", "first-Password-1", None).await;
    let clone = format!("{}_clone", case.username);
    let theirs = format!("unrelated-Password-{}", unique());
    fixture.create_account(&clone, &theirs).await;
    let token = case.start().await;
    case.ok(Step::CreateSecret, &token).await;
    let err = assert_code(
        case.step(Step::SetSecret, &token).await,
        "UnrelatedAlternateUser",
    );
    assert!(err.to_string().contains(&clone), "{err}");
    assert!(
        fixture.can_login(&clone, &theirs).await,
        "the existing account's password is unchanged"
    );
    assert!(
        !fixture.can_use_probe(&clone, &theirs).await,
        "it was given none of the user's privileges"
    );
    assert!(case.logs_in(Stage::Current).await);
}

/// `check` previews setSecret for the pair and writes nothing: before the first rotation
/// the clone would be created (and the first setSecret then does create it, so the check
/// did not); an unrelated `<user>_clone` shows as the refusal setSecret would give, and
/// that account is left as it was. A target that cannot preview says `None`.
pub async fn alternating_check_previews_without_writing<F: AlternatingFixture>(fixture: &F) {
    let case = Case::alternating(fixture, "preview", &hostile_password(), None).await;
    let before = case.describe().await;
    let report = case.rotator.check(&case.secret_id).await.expect("check");
    assert!(report.healthy(), "{report:?}");
    let previews = match &report.alternate {
        Some(Ok(r)) => {
            assert!(r.created, "the clone would be created: {r:?}");
            true
        }
        Some(Err(f)) => panic!("the preview failed: [{}] {}", f.code, f.message),
        None => false,
    };
    assert_eq!(case.describe().await, before, "check wrote nothing");
    let token = case.start().await;
    case.ok(Step::CreateSecret, &token).await;
    let Outcome::AlternateUserSet { report } = case.ok(Step::SetSecret, &token).await else {
        panic!("setSecret did not set the alternate user")
    };
    assert!(report.created, "the check had created no clone");

    let other = Case::alternating(fixture, "previewx", "first-Password-1", None).await;
    let clone = format!("{}_clone", other.username);
    let theirs = format!("unrelated-Password-{}", unique());
    fixture.create_account(&clone, &theirs).await;
    let report = other.rotator.check(&other.secret_id).await.expect("check");
    if previews {
        match &report.alternate {
            Some(Err(f)) => assert_eq!(f.code, "UnrelatedAlternateUser", "{}", f.message),
            other => panic!("expected the refusal, got {other:?}"),
        }
        assert!(!report.healthy(), "a rotation would fail");
    }
    assert!(
        fixture.can_login(&clone, &theirs).await,
        "its password is unchanged"
    );
    assert!(
        !fixture.can_use_probe(&clone, &theirs).await,
        "it was given none of the user's privileges"
    );
}

/// Without `masterarn`, alternating users fails at createSecret, before anything is
/// written.
pub async fn alternating_requires_a_master_secret<F: AlternatingFixture>(fixture: &F) {
    let case = Case::with_config(
        fixture,
        "nomaster",
        "first-Password-1",
        alternating(fixture),
    )
    .await;
    let token = case.start().await;
    let err = assert_code(case.step(Step::CreateSecret, &token).await, "InvalidSecret");
    assert!(err.to_string().contains("masterarn"), "{err}");
    assert_eq!(case.value(Stage::Pending).await, None);
}

/// Hostile user names: the derived clone name must be quoted as well.
pub async fn alternating_rotates_hostile_usernames<F: AlternatingFixture>(fixture: &F) {
    for name in fixture.hostile_usernames() {
        let case = Case::alternating(fixture, &name, &hostile_password(), None).await;
        case.rotate().await;
        assert_eq!(
            case.login_of(Stage::Current).await.0,
            format!("{}_clone", case.username),
            "{name}"
        );
        case.assert_both_users_work().await;
        case.rotate().await;
        assert_eq!(
            case.login_of(Stage::Current).await.0,
            case.username,
            "{name}"
        );
        case.assert_both_users_work().await;
    }
}

/// Neither user's password nor the master's appears in the logs.
pub async fn alternating_keeps_passwords_out_of_logs<F: AlternatingFixture>(fixture: &F) {
    let master = fixture.master_secret();
    let master_password = master["password"]
        .as_str()
        .expect("master password")
        .to_owned();
    let case = Case::alternating(fixture, "altlogs", &hostile_password(), Some(master)).await;
    let (_, logs) = capture_logs(async {
        case.rotate().await;
        case.rotate().await;
    })
    .await;
    assert!(
        logs.contains("alternate user set by the master"),
        "the capture worked"
    );
    let (_, current) = case.login_of(Stage::Current).await;
    let (_, previous) = case.login_of(Stage::Previous).await;
    assert_clean_logs(
        fixture,
        &logs,
        &[
            ("first password", &case.first_password),
            ("current password", &current),
            ("previous password", &previous),
            ("master password", &master_password),
        ],
    );
    if let Some(server_log) = fixture.server_log() {
        assert!(!server_log.contains(&current) && !server_log.contains(&previous));
    }
}

/// A crash right after each external call (and a failure right before each), including
/// the master's change, then the service's retry: it converges, and `AWSCURRENT` logs in
/// at every point (alternating users never locks the application out).
pub async fn alternating_converges_after_a_crash_after_any_call<F: AlternatingFixture>(
    fixture: &F,
) {
    let calls = Case::alternating(fixture, "altcount", "first-Password-1", None)
        .await
        .count_calls()
        .await;
    assert!(
        calls.iter().any(|c| c == "target.sync_alternate"),
        "{calls:?}"
    );
    let converged = std::sync::atomic::AtomicUsize::new(0);
    let converged_ref = &converged;
    for_every_fault(calls.len(), |fault| async move {
        let case = Case::alternating(fixture, "altfault", "first-Password-1", None).await;
        let token = case.rotate_with(fault).await;
        assert!(
            case.logs_in(Stage::Current).await,
            "{fault:?}: AWSCURRENT must always log in"
        );
        case.retry(&token, fault).await;
        assert_eq!(
            case.describe().await.version_with(&Stage::Current),
            Some(&token),
            "{fault:?}"
        );
        assert_eq!(
            case.describe().await.version_with(&Stage::Previous),
            Some(&case.first_version)
        );
        case.assert_both_users_work().await;
        converged_ref.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    })
    .await;
    super::fault_paths::report_sweep(
        fixture,
        Strategy::AlternatingUsers,
        super::FaultPath::Clean,
        calls.len(),
        converged.into_inner(),
    );
}

/// Generates one `#[tokio::test]` per alternating-users case, each calling `$fixture`.
#[macro_export]
macro_rules! alternating_conformance_tests {
    ($fixture:expr) => {
        $crate::conformance_tests!(@cases $fixture;
            alternating_rotates_user_clone_user,
            alternating_refuses_a_pending_user_that_is_not_the_alternate,
            alternating_refuses_a_master_on_another_server,
            alternating_refuses_a_master_that_is_one_of_the_pair,
            alternating_refuses_an_unrelated_existing_clone,
            alternating_check_previews_without_writing,
            alternating_requires_a_master_secret,
            alternating_rotates_hostile_usernames,
            alternating_keeps_passwords_out_of_logs,
            alternating_converges_after_a_crash_after_any_call,
            fault_path_alternating_leftover_pending,
        );
    };
}
