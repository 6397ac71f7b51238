//! The cases every target runs with the single-user strategy.

use secret_rotor::{Outcome, PasswordPolicy, RotationConfig, Stage, Step, Target, VersionId};

use super::logs::capture_logs;
use super::{Case, Fixture, assert_clean_logs, assert_code, hostile_password, unique};
use crate::faults::for_every_fault;

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
    let retires = fixture.target().info().capabilities.retires();
    match case.ok(Step::FinishSecret, &token).await {
        Outcome::Promoted {
            previous_version,
            retired,
        } => {
            assert_eq!(previous_version, case.first_version);
            assert_eq!(
                retired.is_some(),
                retires,
                "a retire report iff the target retires"
            );
        }
        other => panic!("finishSecret: {other:?}"),
    }
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
    assert!(
        !fixture
            .can_login(&case.username, &case.first_password)
            .await,
        "a password two generations old is refused, on every target"
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
    // A retry: the change is made. A target that keeps both passwords live (it retires
    // the old one after finishSecret) still accepts current, which applies the same
    // password again; any other target refuses current and finds pending live.
    let again = if fixture.target().info().capabilities.retires() {
        Outcome::PasswordSet {
            using: Stage::Current,
        }
    } else {
        Outcome::AlreadyLive
    };
    assert_eq!(case.ok(Step::SetSecret, &token).await, again);
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
        case.assert_old_password(&old, &name).await;
    }
}

/// No password appears in what secret-rotor (or the SDK, or the driver) logs at TRACE
/// level during a rotation, nor in the server's log.
pub async fn keeps_passwords_out_of_logs<F: Fixture>(fixture: &F) {
    let case = Case::new(fixture, "logscan", &hostile_password()).await;
    let refused = Case::new(fixture, "logscanrf", &hostile_password()).await;
    let elsewhere = hostile_password();
    let (token, logs) = capture_logs(async {
        let token = case.rotate().await;
        // Failing steps log too: a token that is no version, and credentials the server
        // refuses (every one of the ladder: `NoWorkingCredential`).
        let _ = case
            .step(
                Step::SetSecret,
                &VersionId::new("no-such-version").expect("id"),
            )
            .await;
        fixture.reset_password(&refused.username, &elsewhere).await;
        let stuck = refused.start().await;
        refused.ok(Step::CreateSecret, &stuck).await;
        assert_code(
            refused.step(Step::SetSecret, &stuck).await,
            "NoWorkingCredential",
        );
        token
    })
    .await;
    let refused_pending = refused.password(Stage::Pending).await.expect("pending");
    let new_password = case.password(Stage::Current).await.expect("password");
    assert!(
        logs.contains("rotation step succeeded"),
        "the capture worked"
    );
    assert!(
        logs.contains(" DEBUG ") && logs.contains(" TRACE "),
        "DEBUG and TRACE lines were captured, not only INFO"
    );
    assert!(
        logs.contains("TokenNotAVersion"),
        "errors were logged: {}",
        &logs[logs.len().saturating_sub(3000)..]
    );
    assert_clean_logs(
        fixture,
        &logs,
        &[
            ("old password", &case.first_password),
            ("new password", &new_password),
            ("refused password", &refused.first_password),
            ("password set out of band", &elsewhere),
            ("pending password of the refused rotation", &refused_pending),
        ],
    );
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
    let calls = Case::new(fixture, "count", "first-Password-1")
        .await
        .count_calls()
        .await;
    assert!(
        calls.len() >= 10,
        "a rotation makes at least 10 external calls: {calls:?}"
    );
    let converged = std::sync::atomic::AtomicUsize::new(0);
    let converged_ref = &converged;
    for_every_fault(calls.len(), |fault| async move {
        let case = Case::new(fixture, "fault", "first-Password-1").await;
        let token = case.rotate_with(fault).await;
        assert!(
            case.logs_in(Stage::Current).await || case.logs_in(Stage::Pending).await,
            "{fault:?}: no labelled version logs in"
        );
        case.retry(&token, fault).await;
        case.assert_rotated(&token, &case.first_password).await;
        assert_eq!(
            case.describe().await.version_with(&Stage::Previous),
            Some(&case.first_version)
        );
        converged_ref.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    })
    .await;
    super::fault_paths::report_sweep(
        fixture,
        secret_rotor::Strategy::SingleUser,
        super::FaultPath::Clean,
        calls.len(),
        converged.into_inner(),
    );
}

/// Every step invoked twice at once (the service retrying while the first invocation still
/// runs): at least one of each pair succeeds, a failure has a stable code and is safe to
/// retry, and the rotation converges with the labels clean and AWSCURRENT logging in —
/// never a lockout.
pub async fn concurrent_invocations_never_lock_out<F: Fixture>(fixture: &F) {
    let case = Case::new(fixture, "race", "first-Password-1").await;
    let token = case.start().await;
    let mut failed = Vec::new();
    for step in Step::ALL {
        let (a, b) = tokio::join!(case.step(step, &token), case.step(step, &token));
        let errors: Vec<_> = [a, b].into_iter().filter_map(Result::err).collect();
        if errors.len() == 2 {
            panic!(
                "{step}: both invocations failed: {} / {}",
                errors[0], errors[1]
            );
        }
        failed.extend(
            errors
                .into_iter()
                .map(|e| format!("{step}: [{}]", e.code())),
        );
        assert!(
            case.logs_in(Stage::Current).await || case.logs_in(Stage::Pending).await,
            "after {step}: neither AWSCURRENT nor AWSPENDING logs in (failures: {failed:?})"
        );
    }
    // The service's retry of the whole rotation finds nothing left to do but converges.
    for step in Step::ALL {
        case.ok(step, &token).await;
    }
    case.assert_rotated(&token, &case.first_password).await;
}

/// A server that accepts connections and never answers (a hung database, a black-holing
/// proxy): setSecret ends within `bound` — under the Lambda's timeout — with a stable,
/// retryable error, and nothing changes. For targets whose secret names `host` and `port`.
pub async fn a_silent_server_ends_the_step_in_bounded_time<F: Fixture>(
    fixture: &F,
    bound: std::time::Duration,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let port = listener.local_addr().expect("address").port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket); // open, never answered
        }
    });
    let mut more = serde_json::Map::new();
    more.insert("host".into(), "127.0.0.1".into());
    more.insert("port".into(), port.into());
    let config = RotationConfig::defaults(&fixture.target());
    let case = Case::build(fixture, "silent", "first-Password-1", config, more).await;
    let token = case.start().await;
    case.ok(Step::CreateSecret, &token).await;
    let started = std::time::Instant::now();
    let outcome = case.step(Step::SetSecret, &token).await;
    let took = started.elapsed();
    silent.abort();
    let err = outcome.expect_err("a server that never answers cannot be rotated");
    assert!(
        took < bound,
        "setSecret took {took:?} (bound {bound:?}): [{}] {err}",
        err.code()
    );
    assert!(
        err.is_retryable(),
        "[{}] {err}: the service's retry may succeed",
        err.code()
    );
    assert_eq!(
        case.describe().await.version_with(&Stage::Current),
        Some(&case.first_version),
        "AWSCURRENT did not move"
    );
    assert!(
        fixture
            .can_login(&case.username, &case.first_password)
            .await,
        "the account on the real server is untouched"
    );
}
