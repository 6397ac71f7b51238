//! Every precondition and branch of the rotation state machine, against the in-memory
//! store and target. (The same behaviour is proven against moto and real servers by the
//! testkit's conformance suite, which every target crate runs.)

use secret_rotor::store::{SecretStore, Selector};
use secret_rotor::{
    Capabilities, Error, Outcome, RotationConfig, RotationEvent, Rotator, SecretId, Stage, Step,
    StepReport, Strategy, VersionId,
};
use secret_rotor_testkit::faults::{Fault, FaultPlan, every_fault, faulty_rotator, run_rotation};
use secret_rotor_testkit::memory_store::MemoryStore;
use secret_rotor_testkit::memory_target::MemoryTarget;
use serde_json::json;

const SECRET: &str = r#"{"engine":"memory","host":"memory","username":"app","password":"old-pw","extra":{"keep":[1,2]}}"#;

struct Fx {
    store: MemoryStore,
    target: MemoryTarget,
    rotator: Rotator<MemoryTarget, MemoryStore>,
    id: SecretId,
    v1: VersionId,
}

fn setup() -> Fx {
    let store = MemoryStore::new();
    let target = MemoryTarget::new();
    target.set_user("app", "old-pw");
    let (id, v1) = store.create_secret("db", SECRET);
    let rotator = Rotator::new(
        target.clone(),
        store.clone(),
        RotationConfig::defaults(&target),
    )
    .unwrap();
    Fx {
        store,
        target,
        rotator,
        id,
        v1,
    }
}

fn vid(s: &str) -> VersionId {
    VersionId::new(s).unwrap()
}

impl Fx {
    async fn step(&self, step: Step, token: &VersionId) -> Result<StepReport, Error> {
        self.rotator
            .handle(&RotationEvent::new(step, self.id.clone(), token.clone()))
            .await
    }

    async fn outcome(&self, step: Step, token: &VersionId) -> Outcome {
        self.step(step, token)
            .await
            .unwrap_or_else(|e| panic!("{step}: {e}"))
            .outcome
    }

    async fn stages(&self) -> Vec<(String, Vec<Stage>)> {
        let d = self.store.describe(&self.id).await.unwrap();
        d.versions
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    }

    fn pending_password(&self) -> String {
        let raw = self.store.raw_value(&self.id, &Stage::Pending).unwrap();
        serde_json::from_str::<serde_json::Value>(&raw).unwrap()["password"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn rotate(&self, token: &VersionId) {
        self.store.start_rotation(&self.id, Some(token)).unwrap();
        for step in Step::ALL {
            self.outcome(step, token).await;
        }
    }
}

#[tokio::test]
async fn full_rotation_moves_labels_and_changes_the_password() {
    let fx = setup();
    let t = fx.store.start_rotation(&fx.id, Some(&vid("t2"))).unwrap();
    assert_eq!(
        fx.outcome(Step::CreateSecret, &t).await,
        Outcome::PendingCreated {
            username: "app".into()
        }
    );
    let new_password = fx.pending_password();
    assert_ne!(new_password, "old-pw");
    assert_eq!(
        fx.outcome(Step::SetSecret, &t).await,
        Outcome::PasswordSet {
            using: Stage::Current
        }
    );
    assert_eq!(
        fx.target.password_of("app").as_deref(),
        Some(new_password.as_str())
    );
    assert_eq!(fx.outcome(Step::TestSecret, &t).await, Outcome::Tested);
    assert_eq!(
        fx.outcome(Step::FinishSecret, &t).await,
        Outcome::Promoted {
            previous_version: fx.v1.clone(),
            retired: None,
        }
    );
    assert_eq!(
        fx.stages().await,
        vec![
            ("db-v1".to_owned(), vec![Stage::Previous]),
            ("t2".to_owned(), vec![Stage::Current])
        ],
        "AWSPENDING is not left behind"
    );
    let current: serde_json::Value =
        serde_json::from_str(&fx.store.raw_value(&fx.id, &Stage::Current).unwrap()).unwrap();
    assert_eq!(
        current["extra"],
        json!({"keep": [1, 2]}),
        "unknown keys survive"
    );
    assert_eq!(current["engine"], "memory");
    // The next rotation can start: nothing blocks it.
    fx.rotate(&vid("t3")).await;
    assert_eq!(
        fx.stages().await.len(),
        2,
        "only AWSCURRENT and AWSPREVIOUS remain"
    );
}

#[tokio::test]
async fn each_step_is_idempotent() {
    let fx = setup();
    let t = fx.store.start_rotation(&fx.id, Some(&vid("t2"))).unwrap();
    fx.outcome(Step::CreateSecret, &t).await;
    let first = fx.pending_password();
    assert_eq!(
        fx.outcome(Step::CreateSecret, &t).await,
        Outcome::PendingExists
    );
    assert_eq!(
        fx.pending_password(),
        first,
        "a retry never generates a second password"
    );
    fx.outcome(Step::SetSecret, &t).await;
    assert_eq!(fx.outcome(Step::SetSecret, &t).await, Outcome::AlreadyLive);
    assert_eq!(fx.outcome(Step::TestSecret, &t).await, Outcome::Tested);
    assert_eq!(fx.outcome(Step::TestSecret, &t).await, Outcome::Tested);
    fx.outcome(Step::FinishSecret, &t).await;
    for step in Step::ALL {
        assert_eq!(
            fx.outcome(step, &t).await,
            Outcome::AlreadyCurrent {
                labels_cleaned: false
            },
            "{step} after finish"
        );
    }
    assert_eq!(
        fx.target.password_of("app").as_deref(),
        Some(first.as_str())
    );
}

#[tokio::test]
async fn rotation_disabled_fails_every_step_and_changes_nothing() {
    let fx = setup();
    let t = fx.store.start_rotation(&fx.id, Some(&vid("t2"))).unwrap();
    fx.store.set_rotation_enabled(&fx.id, Some(false));
    for step in Step::ALL {
        assert_eq!(
            fx.step(step, &t).await.unwrap_err().code(),
            "RotationDisabled"
        );
    }
    assert!(fx.store.raw_value(&fx.id, &Stage::Pending).is_none());
    // Absent (never configured) is not "disabled".
    fx.store.set_rotation_enabled(&fx.id, None);
    fx.outcome(Step::CreateSecret, &t).await;
}

#[tokio::test]
async fn token_must_be_a_pending_version() {
    let fx = setup();
    assert_eq!(
        fx.step(Step::CreateSecret, &vid("nope"))
            .await
            .unwrap_err()
            .code(),
        "TokenNotAVersion"
    );
    // A version with another label only, and no AWSPENDING anywhere.
    fx.store.put_raw(
        &fx.id,
        &vid("custom"),
        Some(SECRET),
        &[Stage::Other("MYLABEL".into())],
    );
    assert_eq!(
        fx.step(Step::SetSecret, &vid("custom"))
            .await
            .unwrap_err()
            .code(),
        "TokenNotPending"
    );
}

#[tokio::test]
async fn a_foreign_pending_version_is_refused() {
    let fx = setup();
    let mine = vid("mine");
    fx.store
        .put_raw(&fx.id, &mine, Some(SECRET), &[Stage::Other("OLD".into())]);
    let theirs = fx
        .store
        .start_rotation(&fx.id, Some(&vid("theirs")))
        .unwrap();
    for step in Step::ALL {
        let err = fx.step(step, &mine).await.unwrap_err();
        assert_eq!(err.code(), "ForeignPending", "{step}");
        assert!(err.to_string().contains(theirs.as_str()), "{err}");
    }
    assert!(
        fx.store.raw_value(&fx.id, &Stage::Pending).is_none(),
        "their version untouched"
    );
    assert_eq!(fx.target.password_of("app").as_deref(), Some("old-pw"));
}

#[tokio::test]
async fn a_current_token_succeeds_doing_nothing() {
    let fx = setup();
    for step in Step::ALL {
        assert_eq!(
            fx.outcome(step, &fx.v1).await,
            Outcome::AlreadyCurrent {
                labels_cleaned: false
            }
        );
    }
    assert_eq!(
        fx.stages().await,
        vec![("db-v1".to_owned(), vec![Stage::Current])]
    );
}

#[tokio::test]
async fn finish_cleans_a_leftover_pending_label_on_the_current_version() {
    let fx = setup();
    fx.store.put_raw(
        &fx.id,
        &fx.v1,
        Some(SECRET),
        &[Stage::Current, Stage::Pending],
    );
    assert_eq!(
        fx.outcome(Step::SetSecret, &fx.v1).await,
        Outcome::AlreadyCurrent {
            labels_cleaned: false
        },
        "only finishSecret touches labels"
    );
    assert_eq!(
        fx.outcome(Step::FinishSecret, &fx.v1).await,
        Outcome::AlreadyCurrent {
            labels_cleaned: true
        }
    );
    assert_eq!(
        fx.stages().await,
        vec![("db-v1".to_owned(), vec![Stage::Current])]
    );
}

#[tokio::test]
async fn malformed_events_are_rejected_before_any_call() {
    let fx = setup();
    for payload in [
        json!({"Step": "rotateSecret", "SecretId": "db", "ClientRequestToken": "t"}),
        json!({"SecretId": "db", "ClientRequestToken": "t"}),
        json!("createSecret"),
    ] {
        assert_eq!(
            fx.rotator.handle_json(&payload).await.unwrap_err().code(),
            "InvalidEvent"
        );
    }
}

#[tokio::test]
async fn set_secret_falls_back_to_the_previous_credential() {
    let fx = setup();
    fx.rotate(&vid("t2")).await;
    // Someone restored the old password on the server: AWSCURRENT no longer logs in.
    fx.target.set_user("app", "old-pw");
    let t3 = fx.store.start_rotation(&fx.id, Some(&vid("t3"))).unwrap();
    fx.outcome(Step::CreateSecret, &t3).await;
    assert_eq!(
        fx.outcome(Step::SetSecret, &t3).await,
        Outcome::PasswordSet {
            using: Stage::Previous
        }
    );
    assert_eq!(fx.target.password_of("app"), Some(fx.pending_password()));
}

#[tokio::test]
async fn set_secret_with_no_working_credential_fails_and_changes_nothing() {
    let fx = setup();
    fx.target.set_user("app", "somebody-else-changed-it");
    let t = fx.store.start_rotation(&fx.id, Some(&vid("t2"))).unwrap();
    fx.outcome(Step::CreateSecret, &t).await;
    let err = fx.step(Step::SetSecret, &t).await.unwrap_err();
    assert_eq!(err.code(), "NoWorkingCredential");
    assert!(
        err.to_string()
            .contains("unable to log in with previous, current or pending")
    );
    assert_eq!(
        fx.target.password_of("app").as_deref(),
        Some("somebody-else-changed-it")
    );
}

#[tokio::test]
async fn set_secret_refuses_a_pending_credential_for_another_account() {
    for (key, value) in [("username", "admin"), ("host", "other-server")] {
        let fx = setup();
        fx.target.set_user("admin", "admin-pw");
        let t = vid("t2");
        let mut pending: serde_json::Value = serde_json::from_str(SECRET).unwrap();
        pending[key] = value.into();
        pending["password"] = "attacker-chosen".into();
        fx.store
            .put_raw(&fx.id, &t, Some(&pending.to_string()), &[Stage::Pending]);
        let err = fx.step(Step::SetSecret, &t).await.unwrap_err();
        assert_eq!(err.code(), "CredentialMismatch", "{key}");
        assert!(!err.to_string().contains("attacker-chosen"));
        assert_eq!(fx.target.password_of("app").as_deref(), Some("old-pw"));
        assert_eq!(fx.target.password_of("admin").as_deref(), Some("admin-pw"));
    }
}

#[tokio::test]
async fn an_unreachable_target_fails_without_trying_further_credentials() {
    let fx = setup();
    let t = fx.store.start_rotation(&fx.id, Some(&vid("t2"))).unwrap();
    fx.outcome(Step::CreateSecret, &t).await;
    fx.target.set_reachable(false);
    let err = fx.step(Step::SetSecret, &t).await.unwrap_err();
    assert_eq!(err.code(), "TargetUnreachable");
    assert!(err.is_retryable());
    fx.target.set_reachable(true);
    assert_eq!(fx.target.password_of("app").as_deref(), Some("old-pw"));
    assert_eq!(
        fx.outcome(Step::SetSecret, &t).await,
        Outcome::PasswordSet {
            using: Stage::Current
        }
    );
}

#[tokio::test]
async fn test_secret_changes_nothing_and_fails_on_a_refused_or_missing_pending() {
    let fx = setup();
    let t = fx.store.start_rotation(&fx.id, Some(&vid("t2"))).unwrap();
    // RotateImmediately=false: testSecret alone, before any value exists.
    assert_eq!(
        fx.step(Step::TestSecret, &t).await.unwrap_err().code(),
        "MissingValue"
    );
    fx.outcome(Step::CreateSecret, &t).await;
    let err = fx.step(Step::TestSecret, &t).await.unwrap_err();
    assert_eq!(err.code(), "LoginRefused");
    assert_eq!(fx.target.password_of("app").as_deref(), Some("old-pw"));
    assert_eq!(
        fx.step(Step::SetSecret, &vid("t2")).await.unwrap().outcome,
        Outcome::PasswordSet {
            using: Stage::Current
        }
    );
}

#[tokio::test]
async fn finish_never_promotes_a_credential_that_does_not_log_in() {
    let fx = setup();
    let t = fx.store.start_rotation(&fx.id, Some(&vid("t2"))).unwrap();
    fx.outcome(Step::CreateSecret, &t).await;
    let err = fx.step(Step::FinishSecret, &t).await.unwrap_err();
    assert_eq!(err.code(), "PendingNotLive");
    let stages = fx.stages().await;
    assert_eq!(
        stages[0],
        ("db-v1".to_owned(), vec![Stage::Current]),
        "AWSCURRENT unchanged"
    );
    assert_eq!(fx.target.password_of("app").as_deref(), Some("old-pw"));
}

#[tokio::test]
async fn create_secret_rejects_an_invalid_current_value_and_writes_nothing() {
    for bad in [
        r#"{"password":"x"}"#,
        r#"not json"#,
        r#"{"username":"app"}"#,
    ] {
        let fx = setup();
        fx.store
            .put_raw(&fx.id, &fx.v1, Some(bad), &[Stage::Current]);
        let t = fx.store.start_rotation(&fx.id, Some(&vid("t2"))).unwrap();
        let err = fx.step(Step::CreateSecret, &t).await.unwrap_err();
        assert_eq!(err.code(), "InvalidSecret", "{bad}");
        assert!(
            fx.store
                .get_value(&fx.id, &Selector::version(&t, Stage::Pending))
                .await
                .unwrap()
                .is_none()
        );
    }
}

#[tokio::test]
async fn an_unsupported_strategy_is_refused_up_front() {
    let target = MemoryTarget::new().declaring(Capabilities::new(&[Strategy::SingleUser]));
    let config = RotationConfig {
        strategy: Strategy::AlternatingUsers,
        ..RotationConfig::defaults(&target)
    };
    let err = Rotator::new(target.clone(), MemoryStore::new(), config).unwrap_err();
    assert_eq!(err.code(), "UnsupportedStrategy");
    let env = |k: &str| (k == "ROTATION_STRATEGY").then(|| "round-robin".to_owned());
    assert_eq!(
        RotationConfig::from_lookup(env, &target)
            .unwrap_err()
            .code(),
        "ConfigError"
    );
}

#[tokio::test]
async fn the_cli_path_stages_the_pending_version_itself_and_resumes() {
    let fx = setup();
    let (t, report) = fx.rotator.begin(&fx.id, &vid("cli-1")).await.unwrap();
    assert_eq!(t, vid("cli-1"));
    assert!(matches!(report.outcome, Outcome::PendingCreated { .. }));
    // A second begin resumes the same rotation instead of starting another.
    let (again, report) = fx.rotator.begin(&fx.id, &vid("cli-2")).await.unwrap();
    assert_eq!(again, t);
    assert_eq!(report.outcome, Outcome::PendingExists);
    for step in [Step::SetSecret, Step::TestSecret, Step::FinishSecret] {
        fx.outcome(step, &t).await;
    }
    assert_eq!(
        fx.store
            .describe(&fx.id)
            .await
            .unwrap()
            .version_with(&Stage::Current),
        Some(&t)
    );
}

/// The external calls of a clean rotation on a fresh setup.
async fn clean_rotation_calls() -> Vec<String> {
    let fx = setup();
    let plan = FaultPlan::counting();
    let rotator = faulty_rotator(
        fx.target.clone(),
        fx.store.clone(),
        RotationConfig::defaults(&fx.target),
        &plan,
    );
    let t = fx.store.start_rotation(&fx.id, Some(&vid("t2"))).unwrap();
    run_rotation(&rotator, &fx.id, &t).await.unwrap();
    plan.calls()
}

/// The number (1-based) of finishSecret's proof login: the last login of a rotation.
fn proof_login_call(calls: &[String]) -> usize {
    calls.iter().rposition(|c| c == "target.try_login").unwrap() + 1
}

/// A transient failure of finishSecret's proof login (after setSecret the database has
/// the new password and AWSCURRENT does not) is retried within the step, so the label
/// moves at once; a refusal stays fatal (`PendingNotLive`, tested above).
#[tokio::test]
async fn finish_secret_retries_a_transient_failure_of_its_proof_login() {
    let proof_login = proof_login_call(&clean_rotation_calls().await);
    for fault in [
        Fault::FailBefore(proof_login),
        Fault::CrashAfter(proof_login),
    ] {
        let fx = setup();
        let plan = FaultPlan::with(fault);
        let rotator = faulty_rotator(
            fx.target.clone(),
            fx.store.clone(),
            RotationConfig::defaults(&fx.target),
            &plan,
        );
        let t = fx.store.start_rotation(&fx.id, Some(&vid("t2"))).unwrap();
        run_rotation(&rotator, &fx.id, &t)
            .await
            .unwrap_or_else(|(step, e)| panic!("{fault:?}: {step} failed: {e}"));
        assert!(plan.fired(), "{fault:?}");
        let calls = plan.calls();
        assert_eq!(
            calls[proof_login - 1..proof_login + 1],
            ["target.try_login", "target.try_login"],
            "{fault:?}: the login was tried again: {calls:?}"
        );
        let d = fx.store.describe(&fx.id).await.unwrap();
        assert_eq!(d.version_with(&Stage::Current), Some(&t), "{fault:?}");
    }
    // An unreachable server stays an error after the retries (bounded), and nothing moves.
    let fx = setup();
    let t = fx.store.start_rotation(&fx.id, Some(&vid("t2"))).unwrap();
    for step in [Step::CreateSecret, Step::SetSecret, Step::TestSecret] {
        fx.rotator
            .handle(&RotationEvent::new(step, fx.id.clone(), t.clone()))
            .await
            .unwrap();
    }
    fx.target.set_reachable(false);
    let started = std::time::Instant::now();
    let err = fx
        .rotator
        .handle(&RotationEvent::new(
            Step::FinishSecret,
            fx.id.clone(),
            t.clone(),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "TargetUnreachable");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "bounded"
    );
    let d = fx.store.describe(&fx.id).await.unwrap();
    assert_eq!(d.version_with(&Stage::Current), Some(&fx.v1));
}

/// A crash after every external call, then the service's retry of the whole rotation:
/// it converges on the first attempt's password and no state ever locks the user out.
#[tokio::test]
async fn crash_after_any_call_converges_on_retry() {
    let calls = clean_rotation_calls().await;
    let total = calls.len();
    assert!(
        total >= 12,
        "a rotation makes at least 12 external calls, saw {total}"
    );
    let proof_login = proof_login_call(&calls);
    for fault in every_fault(total) {
        let fx = setup();
        let plan = FaultPlan::with(fault);
        let rotator = faulty_rotator(
            fx.target.clone(),
            fx.store.clone(),
            RotationConfig::defaults(&fx.target),
            &plan,
        );
        let t = fx.store.start_rotation(&fx.id, Some(&vid("t2"))).unwrap();
        let failed = run_rotation(&rotator, &fx.id, &t).await.is_err();
        assert!(plan.fired(), "{fault:?}: the fault fired");
        // finishSecret retries a transient failure of its proof login within the step.
        let absorbed =
            matches!(fault, Fault::CrashAfter(n) | Fault::FailBefore(n) if n == proof_login);
        assert_eq!(failed, !absorbed, "{fault:?}: the faulted run failed");
        // Never locked out: some labelled version still logs in.
        let live = fx.target.password_of("app").unwrap();
        let labelled: Vec<String> = [Stage::Current, Stage::Pending]
            .iter()
            .filter_map(|s| fx.store.raw_value(&fx.id, s))
            .map(|raw| {
                serde_json::from_str::<serde_json::Value>(&raw).unwrap()["password"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert!(
            labelled.contains(&live),
            "{fault:?}: no labelled version logs in"
        );
        // The service retries the whole rotation with the same token.
        plan.disarm();
        fx.store.start_rotation(&fx.id, Some(&t)).unwrap();
        if let Err((step, e)) = run_rotation(&rotator, &fx.id, &t).await {
            panic!("{fault:?}: retry of {step} failed: {e}");
        }
        let d = fx.store.describe(&fx.id).await.unwrap();
        assert_eq!(d.version_with(&Stage::Current), Some(&t), "{fault:?}");
        assert_eq!(d.version_with(&Stage::Previous), Some(&fx.v1), "{fault:?}");
        assert_eq!(d.rotation_in_progress(), None, "{fault:?}");
        let current: serde_json::Value =
            serde_json::from_str(&fx.store.raw_value(&fx.id, &Stage::Current).unwrap()).unwrap();
        assert_eq!(
            fx.target.password_of("app").as_deref(),
            current["password"].as_str(),
            "{fault:?}"
        );
    }
}

/// In one process, values read or written by version id serve the later steps: a whole
/// rotation reads AWSCURRENT once and never reads back the pending value it wrote; labels
/// are read fresh in every step; the service's empty AWSPENDING is never taken as cached.
#[tokio::test]
async fn a_warm_process_reads_each_version_once() {
    use secret_rotor::store::CachedStore;
    use secret_rotor_testkit::faults::FaultyStore;
    let fx = setup();
    let plan = FaultPlan::counting();
    let store = CachedStore::new(FaultyStore::new(fx.store.clone(), plan.clone()));
    let rotator = Rotator::new(
        fx.target.clone(),
        store,
        RotationConfig::defaults(&fx.target),
    )
    .unwrap();
    let t = fx.store.start_rotation(&fx.id, Some(&vid("t2"))).unwrap();
    run_rotation(&rotator, &fx.id, &t).await.unwrap();
    let calls = plan.calls();
    let count = |prefix: &str| calls.iter().filter(|c| c.starts_with(prefix)).count();
    assert_eq!(count("GetSecretValue"), 2, "{calls:?}");
    assert!(
        count("DescribeSecret") >= 4,
        "labels read in every step: {calls:?}"
    );
    assert!(
        calls
            .iter()
            .any(|c| c.starts_with("GetSecretValue AWSPENDING")),
        "createSecret asked for the pending value (absent: not cached): {calls:?}"
    );
    let d = fx.store.describe(&fx.id).await.unwrap();
    assert_eq!(d.version_with(&Stage::Current), Some(&t));
    assert!(fx.target.password_of("app").is_some_and(|p| p != "old-pw"));
}
