//! The alternating-users strategy of the state machine, against the in-memory store and
//! target: the username flips, the master acts, privileges are brought in line, and the
//! previous user keeps working.

use secret_rotor::store::SecretStore;
use secret_rotor::{
    Error, Outcome, RotationConfig, RotationEvent, Rotator, SecretId, Stage, Step, Strategy,
    VersionId,
};
use secret_rotor_testkit::faults::{
    FaultPlan, FaultyStore, FaultyTarget, every_fault, faulty_rotator, run_rotation,
};
use secret_rotor_testkit::memory_store::MemoryStore;
use secret_rotor_testkit::memory_target::MemoryTarget;
use serde_json::{Value, json};

struct Fx {
    store: MemoryStore,
    target: MemoryTarget,
    id: SecretId,
    v1: VersionId,
}

fn config(target: &MemoryTarget) -> RotationConfig {
    RotationConfig {
        strategy: Strategy::AlternatingUsers,
        ..RotationConfig::defaults(target)
    }
}

fn setup_with(secret: Value, master: Value) -> Fx {
    let store = MemoryStore::new();
    let target = MemoryTarget::new();
    target.set_user("app", "old-pw");
    target.set_user("admin", "admin-pw");
    target.grant("app", "SELECT ON orders");
    let (master_id, _) = store.create_secret("master", &master.to_string());
    let mut secret = secret;
    secret["masterarn"] = master_id.as_str().into();
    let (id, v1) = store.create_secret("db", &secret.to_string());
    Fx {
        store,
        target,
        id,
        v1,
    }
}

fn setup() -> Fx {
    setup_with(
        json!({"host": "memory", "username": "app", "password": "old-pw", "kept": 1}),
        json!({"host": "memory", "username": "admin", "password": "admin-pw"}),
    )
}

impl Fx {
    fn faulty(
        &self,
        plan: &FaultPlan,
    ) -> Rotator<FaultyTarget<MemoryTarget>, FaultyStore<MemoryStore>> {
        faulty_rotator(
            self.target.clone(),
            self.store.clone(),
            config(&self.target),
            plan,
        )
    }

    fn rotator(&self) -> Rotator<MemoryTarget, MemoryStore> {
        Rotator::new(
            self.target.clone(),
            self.store.clone(),
            config(&self.target),
        )
        .unwrap()
    }

    async fn step(&self, step: Step, token: &VersionId) -> Result<Outcome, Error> {
        self.rotator()
            .handle(&RotationEvent::new(step, self.id.clone(), token.clone()))
            .await
            .map(|r| r.outcome)
    }

    async fn rotate(&self, token: &str) -> Vec<Outcome> {
        let t = self
            .store
            .start_rotation(&self.id, Some(&VersionId::new(token).unwrap()))
            .unwrap();
        let mut outcomes = Vec::new();
        for step in Step::ALL {
            outcomes.push(
                self.step(step, &t)
                    .await
                    .unwrap_or_else(|e| panic!("{step}: {e}")),
            );
        }
        outcomes
    }

    fn value(&self, stage: Stage) -> Value {
        serde_json::from_str(&self.store.raw_value(&self.id, &stage).unwrap()).unwrap()
    }

    fn logs_in(&self, stage: Stage) -> bool {
        let v = self.value(stage);
        self.target
            .password_of(v["username"].as_str().unwrap())
            .as_deref()
            == v["password"].as_str()
    }
}

#[tokio::test]
async fn users_alternate_and_the_previous_user_keeps_working() {
    let fx = setup();
    let outcomes = fx.rotate("t2").await;
    assert_eq!(
        outcomes[0],
        Outcome::PendingCreated {
            username: "app_clone".into()
        }
    );
    let Outcome::AlternateUserSet { report } = &outcomes[1] else {
        panic!("{:?}", outcomes[1])
    };
    assert!(report.created);
    assert_eq!(report.synced, ["granted SELECT ON orders to app_clone"]);
    assert_eq!(fx.value(Stage::Current)["username"], "app_clone");
    assert_eq!(fx.value(Stage::Current)["kept"], 1);
    assert!(fx.logs_in(Stage::Current));
    assert!(fx.logs_in(Stage::Previous), "the previous user still works");
    assert_eq!(fx.target.password_of("app").as_deref(), Some("old-pw"));

    // Drift: a privilege granted to the clone only is brought back to the original.
    fx.target.grant("app_clone", "INSERT ON audit");
    let outcomes = fx.rotate("t3").await;
    assert_eq!(
        outcomes[0],
        Outcome::PendingCreated {
            username: "app".into()
        }
    );
    let Outcome::AlternateUserSet { report } = &outcomes[1] else {
        panic!()
    };
    assert!(!report.created);
    assert_eq!(report.synced, ["granted INSERT ON audit to app"]);
    assert_eq!(fx.value(Stage::Current)["username"], "app");
    assert!(fx.logs_in(Stage::Current) && fx.logs_in(Stage::Previous));
    assert_eq!(fx.target.grants_of("app"), fx.target.grants_of("app_clone"));
}

#[tokio::test]
async fn a_missing_masterarn_is_refused_before_anything_is_written() {
    let store = MemoryStore::new();
    let target = MemoryTarget::new();
    target.set_user("app", "old-pw");
    let (id, _) = store.create_secret(
        "db",
        r#"{"host":"memory","username":"app","password":"old-pw"}"#,
    );
    let t = store.start_rotation(&id, None).unwrap();
    let rotator = Rotator::new(target.clone(), store.clone(), config(&target)).unwrap();
    let err = rotator
        .handle(&RotationEvent::new(Step::CreateSecret, id.clone(), t))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "InvalidSecret");
    assert!(err.to_string().contains("masterarn"), "{err}");
    assert!(store.raw_value(&id, &Stage::Pending).is_none());
}

#[tokio::test]
async fn the_master_must_be_on_the_users_server() {
    let fx = setup_with(
        json!({"host": "memory", "username": "app", "password": "old-pw"}),
        json!({"host": "elsewhere", "username": "admin", "password": "admin-pw"}),
    );
    let t = fx.store.start_rotation(&fx.id, None).unwrap();
    fx.step(Step::CreateSecret, &t).await.unwrap();
    let err = fx.step(Step::SetSecret, &t).await.unwrap_err();
    assert_eq!(err.code(), "CredentialMismatch");
    assert!(err.to_string().contains("master"), "{err}");
    assert_eq!(fx.target.password_of("app_clone"), None, "nothing created");
}

#[tokio::test]
async fn a_pending_user_that_is_not_the_alternate_is_refused() {
    let fx = setup();
    fx.target.set_user("victim", "victim-pw");
    let t = VersionId::new("t2").unwrap();
    let mut forged = fx.value(Stage::Current);
    forged["username"] = "victim".into();
    forged["password"] = "chosen".into();
    fx.store
        .put_raw(&fx.id, &t, Some(&forged.to_string()), &[Stage::Pending]);
    let err = fx.step(Step::SetSecret, &t).await.unwrap_err();
    assert_eq!(err.code(), "CredentialMismatch");
    assert_eq!(
        fx.target.password_of("victim").as_deref(),
        Some("victim-pw")
    );
}

#[tokio::test]
async fn a_current_credential_that_no_longer_works_stops_the_master() {
    let fx = setup();
    let t = fx.store.start_rotation(&fx.id, None).unwrap();
    fx.step(Step::CreateSecret, &t).await.unwrap();
    fx.target.set_user("app", "changed-elsewhere");
    let err = fx.step(Step::SetSecret, &t).await.unwrap_err();
    assert_eq!(err.code(), "LoginRefused");
    assert!(err.to_string().contains("AWSCURRENT"), "{err}");
    assert_eq!(fx.target.password_of("app_clone"), None);
}

#[tokio::test]
async fn a_master_that_cannot_log_in_is_a_clear_error() {
    let fx = setup_with(
        json!({"host": "memory", "username": "app", "password": "old-pw"}),
        json!({"host": "memory", "username": "admin", "password": "wrong"}),
    );
    let t = fx.store.start_rotation(&fx.id, None).unwrap();
    fx.step(Step::CreateSecret, &t).await.unwrap();
    let err = fx.step(Step::SetSecret, &t).await.unwrap_err();
    assert_eq!(err.code(), "LoginRefused");
    assert!(err.to_string().contains("master"), "{err}");
}

#[tokio::test]
async fn crash_after_any_call_converges_and_current_always_works() {
    let total = {
        let fx = setup();
        let plan = FaultPlan::counting();
        let t = fx.store.start_rotation(&fx.id, None).unwrap();
        run_rotation(&fx.faulty(&plan), &fx.id, &t).await.unwrap();
        assert!(plan.calls().iter().any(|c| c == "target.sync_alternate"));
        plan.calls().len()
    };
    for fault in every_fault(total) {
        let fx = setup();
        let plan = FaultPlan::with(fault);
        let rotator = fx.faulty(&plan);
        let t = fx.store.start_rotation(&fx.id, None).unwrap();
        let _ = run_rotation(&rotator, &fx.id, &t).await;
        assert!(plan.fired(), "{fault:?}");
        assert!(
            fx.logs_in(Stage::Current),
            "{fault:?}: AWSCURRENT always works with alternating users"
        );
        plan.disarm();
        fx.store.start_rotation(&fx.id, Some(&t)).unwrap();
        if let Err((step, e)) = run_rotation(&rotator, &fx.id, &t).await {
            panic!("{fault:?}: retry {step}: {e}");
        }
        let d = fx.store.describe(&fx.id).await.unwrap();
        assert_eq!(d.version_with(&Stage::Current), Some(&t));
        assert_eq!(d.version_with(&Stage::Previous), Some(&fx.v1));
        assert!(
            fx.logs_in(Stage::Current) && fx.logs_in(Stage::Previous),
            "{fault:?}"
        );
    }
}
