//! The hostile corpus (`tests/corpus/cases/`, written by `tests/corpus/generate.py` on top
//! of the testkit's generic cases) through the real `rotate-mysql` binary: malformed
//! events, secrets that are not what they should be (not JSON, wrong types, other
//! engines, account names with host parts and backquotes, database names, hosts, unicode
//! and control characters, oversized values) and misconfigured environments. Each case
//! must end in a clear error with its stable code, and nothing may change in Secrets
//! Manager or on the server (checked after every case by `secret_rotor_testkit::corpus`).

use std::path::Path;

use mysql_async::prelude::Queryable;
use secret_rotor_mysql::testing::{MariaDb, MariaDbOptions, MyFixture, TEST_DATABASE};
use secret_rotor_testkit::conformance::{Fixture, hostile_password};
use secret_rotor_testkit::corpus::CorpusRun;
use secret_rotor_testkit::moto::{Moto, unique_name};

const BINARY: &str = env!("CARGO_BIN_EXE_rotate-mysql");

/// What must not change on the server: every account with its authentication (hash and
/// plugin) and privileges, the database-level grants, the databases, the canary table,
/// and that the test account logs in.
async fn state(server: &MariaDb, user: &str, password: &str) -> String {
    let mut admin = server.admin().await;
    let accounts: Vec<(String, String, String)> = admin
        .query("SELECT User, Host, Priv FROM mysql.global_priv ORDER BY User, Host")
        .await
        .expect("mysql.global_priv");
    let grants: Vec<(String, String, String)> = admin
        .query("SELECT User, Host, Db FROM mysql.db ORDER BY User, Host, Db")
        .await
        .expect("mysql.db");
    let databases: Vec<String> = admin.query("SHOW DATABASES").await.expect("databases");
    let canary: Vec<i64> = admin
        .query(format!("SELECT x FROM {TEST_DATABASE}.canary ORDER BY x"))
        .await
        .unwrap_or_default();
    let _ = admin.disconnect().await;
    let logs_in = server.can_login(user, password).await;
    format!(
        "accounts {accounts:?} | db grants {grants:?} | databases {databases:?} | canary {canary:?} | account logs in {logs_in}"
    )
}

#[tokio::test]
async fn every_hostile_case_fails_clearly_and_changes_nothing() {
    // A server of its own: every account and grant is compared after every case, and the
    // other tests of this binary create accounts on the shared one.
    let server: &'static MariaDb = Box::leak(Box::new(MariaDb::start(MariaDbOptions::default())));
    let fx = MyFixture { server };
    server
        .execute(&format!(
            "CREATE TABLE {TEST_DATABASE}.canary (x int); INSERT INTO {TEST_DATABASE}.canary VALUES (1)"
        ))
        .await;
    let user = unique_name("corpus");
    let password = hostile_password();
    fx.create_account(&user, &password).await;
    server
        .execute(&format!(
            "GRANT SELECT ON {TEST_DATABASE}.* TO `{user}`@'%'"
        ))
        .await;
    let mut secret = fx.secret_for(&user, &password);
    secret["dbname"] = TEST_DATABASE.into();
    let moto = Moto::shared();
    let mut env = moto.env();
    env.push((
        "TLS_CA_BUNDLE".into(),
        server.ca_pem_path().display().to_string(),
    ));
    env.push(("CONNECT_TIMEOUT_SECS".into(), "2".into()));
    env.push(("AWS_LAMBDA_LOG_LEVEL".into(), "debug".into()));
    let port = server.port().to_string();
    let figures = CorpusRun {
        target: "mysql",
        binary: BINARY.as_ref(),
        cases: Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/cases"),
        moto,
        env,
        secret,
        vars: vec![
            ("$HOST".into(), server.host().into()),
            ("$PORT".into(), port),
            ("$USER".into(), user.clone()),
            ("$PASSWORD".into(), password.clone()),
        ],
        secrets: vec![password.clone(), server.root().1.to_owned()],
    }
    .run(|| state(server, &user, &password))
    .await;
    assert!(
        !server.general_log().contains(&password),
        "the test password reached the server's log"
    );
    figures.assert_sound(200);
}
