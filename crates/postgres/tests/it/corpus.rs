//! The hostile corpus (`tests/corpus/cases/`, written by `tests/corpus/generate.py` on top
//! of the testkit's generic cases) through the real `rotate-postgres` binary: malformed
//! events, secrets that are not what they should be (not JSON, wrong types, unknown
//! engines, injection attempts in user names, hosts and database names, unicode and
//! control characters, oversized values) and misconfigured environments. Each case must
//! end in a clear error with its stable code, and nothing may change in Secrets Manager or
//! on the server (checked after every case by `secret_rotor_testkit::corpus`).

use std::path::Path;

use secret_rotor_postgres::testing::{PgCluster, PgFixture, PgOptions};
use secret_rotor_testkit::conformance::{Fixture, hostile_password};
use secret_rotor_testkit::corpus::CorpusRun;
use secret_rotor_testkit::moto::{Moto, unique_name};

const BINARY: &str = env!("CARGO_BIN_EXE_rotate-postgres");

/// What must not change on the server: the account's password, the canary table and the
/// set of roles.
async fn state(fx: &PgFixture, user: &str, password: &str) -> String {
    let admin = fx.cluster.admin().await;
    let roles: i64 = admin
        .query_one("SELECT count(*) FROM pg_roles", &[])
        .await
        .unwrap()
        .get(0);
    let canary = admin
        .query_opt("SELECT 1 FROM pg_tables WHERE tablename = 'canary'", &[])
        .await
        .unwrap()
        .is_some();
    let logs_in = fx.can_login(user, password).await;
    format!("roles {roles} | canary {canary} | account logs in {logs_in}")
}

#[tokio::test]
async fn every_hostile_case_fails_clearly_and_changes_nothing() {
    // A cluster of its own: the set of roles is compared after every case, and the other
    // tests of this binary create roles on the shared one.
    let cluster: &'static PgCluster = Box::leak(Box::new(PgCluster::start(PgOptions::default())));
    let fx = PgFixture { cluster };
    let admin = fx.cluster.admin().await;
    admin
        .batch_execute("CREATE TABLE IF NOT EXISTS canary (x int)")
        .await
        .unwrap();
    let user = unique_name("corpus");
    let password = hostile_password();
    fx.create_account(&user, &password).await;
    let moto = Moto::shared();
    let mut env = moto.env();
    env.push((
        "TLS_CA_BUNDLE".into(),
        fx.cluster.ca_pem_path().display().to_string(),
    ));
    env.push(("CONNECT_TIMEOUT_SECS".into(), "2".into()));
    env.push(("AWS_LAMBDA_LOG_LEVEL".into(), "debug".into()));
    let port = fx.cluster.port().to_string();
    let figures = CorpusRun {
        target: "postgres",
        binary: BINARY.as_ref(),
        cases: Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/cases"),
        moto,
        env,
        secret: fx.secret_for(&user, &password),
        vars: vec![
            ("$HOST".into(), fx.cluster.host().into()),
            ("$PORT".into(), port),
            ("$USER".into(), user.clone()),
            ("$PASSWORD".into(), password.clone()),
        ],
        secrets: vec![password.clone()],
    }
    .run(|| state(&fx, &user, &password))
    .await;
    figures.assert_sound(200);
}
