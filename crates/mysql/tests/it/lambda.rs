//! The real `rotate-mysql` binary, run behind a Lambda Runtime API and driven the way
//! Secrets Manager drives it, with the sample events of `events/`.

use secret_rotor_mysql::testing::{MyFixture, fixture};
use secret_rotor_testkit::conformance::{Fixture, hostile_password};
use secret_rotor_testkit::moto::{Moto, unique_name};
use secret_rotor_testkit::runtime_api::{
    Invocation, LambdaProcess, rotate_like_the_service, rotate_with_sample_events,
};

const BINARY: &str = env!("CARGO_BIN_EXE_rotate-mysql");

fn lambda_env(moto: &Moto, fx: &MyFixture, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = moto.env();
    env.push((
        "TLS_CA_BUNDLE".into(),
        fx.server.ca_pem_path().display().to_string(),
    ));
    for (k, v) in extra {
        env.push(((*k).into(), (*v).into()));
    }
    env
}

/// The user name and password of `arn`'s AWSCURRENT value.
async fn current(moto: &Moto, arn: &str) -> (String, String) {
    let value = moto.current_json(arn).await;
    (
        value["username"].as_str().unwrap().to_owned(),
        value["password"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn the_binary_rotates_a_mariadb_secret_with_the_sample_events() {
    let fx = fixture();
    let moto = Moto::shared();
    let user = unique_name("lambda");
    let old = hostile_password();
    fx.create_account(&user, &old).await;
    let arn = moto
        .create_secret(
            &unique_name("lambda/my"),
            &fx.secret_for(&user, &old).to_string(),
        )
        .await;
    let lambda = LambdaProcess::spawn(
        BINARY.as_ref(),
        &lambda_env(moto, &fx, &[("AWS_LAMBDA_LOG_LEVEL", "trace")]),
    )
    .await;
    let outcomes = rotate_with_sample_events(&lambda, moto, &arn).await;
    assert_eq!(
        outcomes,
        ["pending_created", "password_set", "tested", "promoted"]
    );
    let (_, new) = current(moto, &arn).await;
    assert!(fx.can_login(&user, &new).await, "the new password logs in");
    assert!(
        !fx.can_login(&user, &old).await,
        "the old password is refused"
    );
    let logs = lambda.shutdown().await;
    assert!(
        !logs.contains(&old) && !logs.contains(&new),
        "a password was logged"
    );
    assert!(
        logs.lines().any(|l| l.contains("\"TRACE\"")),
        "TRACE lines were captured: the scan ran at trace level"
    );
    assert!(!fx.server.general_log().contains(&new));
}

#[tokio::test]
async fn the_binary_alternates_users_with_an_rds_managed_master() {
    let fx = fixture();
    let moto = Moto::start();
    let instance = moto
        .create_db_instance("mariadb-lambda", "mariadb", "127.0.0.1", fx.server.port())
        .await;
    let (root, root_pw) = fx.server.root();
    let master_arn = moto
        .create_rds_managed_secret(&unique_name("rds!db"), root, root_pw, &instance)
        .await;
    let user = unique_name("lambda_alt");
    let first = hostile_password();
    fx.create_account(&user, &first).await;
    let mut secret = fx.secret_for(&user, &first);
    secret["masterarn"] = master_arn.into();
    let arn = moto
        .create_secret(&unique_name("lambda/myalt"), &secret.to_string())
        .await;
    let lambda = LambdaProcess::spawn(
        BINARY.as_ref(),
        &lambda_env(
            &moto,
            &fx,
            &[
                ("ROTATION_STRATEGY", "alternating-users"),
                ("AWS_LAMBDA_LOG_LEVEL", "debug"),
            ],
        ),
    )
    .await;
    let mut passwords = vec![first.clone(), root_pw.to_owned()];
    for expected in [format!("{user}_clone"), user.clone()] {
        let (_, outcomes) = rotate_like_the_service(&lambda, &moto, &arn, None).await;
        assert!(
            outcomes.iter().all(Invocation::is_ok),
            "{outcomes:?}\n{}",
            lambda.logs()
        );
        assert_eq!(outcomes[1].ok().unwrap()["outcome"], "alternate_user_set");
        let (name, password) = current(&moto, &arn).await;
        assert_eq!(name, expected);
        assert!(fx.can_login(&name, &password).await);
        passwords.push(password);
    }
    assert!(
        fx.can_login(&format!("{user}_clone"), &passwords[2]).await,
        "AWSPREVIOUS still works"
    );
    let logs = lambda.shutdown().await;
    for password in &passwords {
        assert!(!logs.contains(password.as_str()), "a password was logged");
    }
    assert!(logs.contains("alternate user set by the master"));
}
