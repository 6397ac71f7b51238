//! The real `rotate-postgres` binary, run behind a Lambda Runtime API and driven the way
//! Secrets Manager drives it, with the sample events of `events/`.

use secret_rotor_postgres::testing::{PgFixture, fixture};
use std::path::PathBuf;

use secret_rotor::store::{SecretStore, Selector};
use secret_rotor::{SecretId, Stage, Step};
use secret_rotor_testkit::conformance::{Fixture, hostile_password};
use secret_rotor_testkit::moto::{Moto, unique_name};
use secret_rotor_testkit::runtime_api::{Invocation, LambdaProcess, sample_event};
use serde_json::Value;

fn lambda_env(fx: &PgFixture, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = Moto::shared().env();
    env.push((
        "TLS_CA_BUNDLE".into(),
        fx.cluster.ca_pem_path().display().to_string(),
    ));
    env.push(("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into()));
    for (k, v) in extra {
        env.push(((*k).into(), (*v).into()));
    }
    env
}

async fn account(fx: &PgFixture) -> (String, String, String) {
    let user = unique_name("lambda");
    let password = hostile_password();
    fx.create_account(&user, &password).await;
    let arn = Moto::shared()
        .create_secret(
            &unique_name("lambda/pg"),
            &fx.secret_for(&user, &password).to_string(),
        )
        .await;
    (user, password, arn)
}

#[tokio::test]
async fn the_binary_rotates_a_secret_as_the_service_drives_it() {
    let fx = fixture();
    let moto = Moto::shared();
    let (user, old_password, arn) = account(&fx).await;
    let lambda = LambdaProcess::spawn(
        env!("CARGO_BIN_EXE_rotate-postgres").as_ref(),
        &lambda_env(&fx, &[("AWS_LAMBDA_LOG_LEVEL", "trace")]),
    )
    .await;
    let store = moto.store().await;
    let secret_id = SecretId::new(&arn).unwrap();
    let first = store
        .describe(&secret_id)
        .await
        .unwrap()
        .version_with(&Stage::Current)
        .cloned()
        .unwrap();

    let token = moto.start_rotation(&arn, None).await.unwrap();
    moto.reset_calls().await;
    let mut outcomes = Vec::new();
    for step in Step::ALL {
        match lambda.invoke(sample_event(step, &arn, &token)).await {
            Invocation::Ok(report) => outcomes.push(report["outcome"].as_str().unwrap().to_owned()),
            Invocation::Err {
                error_type,
                error_message,
            } => {
                panic!("{step}: {error_type}: {error_message}\n{}", lambda.logs())
            }
        }
    }
    assert_eq!(
        outcomes,
        ["pending_created", "password_set", "tested", "promoted"]
    );
    let calls = moto.calls(&arn).await;
    let total: u64 = calls.values().sum();
    // One warm process: values read or written by version id are reused (CachedStore), so
    // AWSCURRENT is read once and the pending value never read back; labels every step.
    assert!(
        total <= 9,
        "{total} Secrets Manager calls ({calls:?}); AWS's template makes 14"
    );
    assert_eq!(calls.get("GetSecretValue"), Some(&2), "{calls:?}");

    let d = store.describe(&secret_id).await.unwrap();
    assert_eq!(
        d.version_with(&Stage::Current).map(|v| v.as_str()),
        Some(token.as_str())
    );
    assert_eq!(d.version_with(&Stage::Previous), Some(&first));
    assert_eq!(
        d.version_with(&Stage::Pending),
        None,
        "no AWSPENDING left behind"
    );
    let current = store
        .get_value(&secret_id, &Selector::stage(Stage::Current))
        .await
        .unwrap()
        .unwrap();
    let new_password = secrecy::ExposeSecret::expose_secret(current.password().unwrap()).to_owned();
    assert!(
        fx.can_login(&user, &new_password).await,
        "the new password logs in"
    );
    assert!(
        !fx.can_login(&user, &old_password).await,
        "the old password is refused"
    );

    let logs = lambda.shutdown().await;
    assert!(
        !logs.contains(&old_password) && !logs.contains(&new_password),
        "a password was logged"
    );
    assert!(
        !logs.contains("SCRAM-SHA-256$"),
        "a SCRAM verifier was logged (the driver logs its statements at DEBUG)"
    );
    let lines: Vec<Value> = logs
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not a JSON log line: {l}")))
        .collect();
    let succeeded: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"] == "rotation step succeeded")
        .collect();
    assert_eq!(succeeded.len(), 4, "one line per step");
    for level in ["DEBUG", "TRACE"] {
        assert!(
            lines.iter().any(|l| l["level"] == level),
            "{level} lines were captured: the scan ran at trace level"
        );
    }
    assert!(
        succeeded.iter().all(|l| l["span"]["requestId"].is_string()),
        "lines carry the requestId: {}",
        succeeded[0]
    );
    assert_eq!(succeeded[1]["outcome"], "password_set");
}

#[tokio::test]
async fn the_binary_reports_stable_error_codes_and_changes_nothing() {
    let fx = fixture();
    let moto = Moto::shared();
    let (user, password, arn) = account(&fx).await;
    let token = moto.start_rotation(&arn, None).await.unwrap();

    // A misconfigured function fails every invocation with ConfigError.
    let lambda = LambdaProcess::spawn(
        env!("CARGO_BIN_EXE_rotate-postgres").as_ref(),
        &lambda_env(&fx, &[("PASSWORD_LENGTH", "zero")]),
    )
    .await;
    let out = lambda
        .invoke(sample_event(Step::CreateSecret, &arn, &token))
        .await;
    assert_eq!(out.error_type(), Some("ConfigError"));
    assert!(out.error_message().unwrap().contains("PASSWORD_LENGTH"));
    lambda.shutdown().await;

    let lambda = LambdaProcess::spawn(
        env!("CARGO_BIN_EXE_rotate-postgres").as_ref(),
        &lambda_env(&fx, &[]),
    )
    .await;
    let mut bad = sample_event(Step::CreateSecret, &arn, &token);
    bad["Step"] = "rotateSecret".into();
    assert_eq!(lambda.invoke(bad).await.error_type(), Some("InvalidEvent"));
    assert_eq!(
        lambda
            .invoke(sample_event(Step::SetSecret, &arn, &token))
            .await
            .error_type(),
        Some("MissingValue"),
        "setSecret before createSecret"
    );
    assert_eq!(
        lambda
            .invoke(sample_event(Step::SetSecret, &arn, "0000-not-a-version"))
            .await
            .error_type(),
        Some("TokenNotAVersion")
    );
    // The RotationToken sample (cross-account rotations) runs createSecret.
    let mut with_token: Value = serde_json::from_str(
        &std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../events/createSecret-rotationToken.json"),
        )
        .unwrap(),
    )
    .unwrap();
    with_token["SecretId"] = arn.clone().into();
    with_token["ClientRequestToken"] = token.clone().into();
    assert!(lambda.invoke(with_token).await.is_ok());
    assert_eq!(
        lambda
            .invoke(sample_event(Step::FinishSecret, &arn, &token))
            .await
            .error_type(),
        Some("PendingNotLive"),
        "finishSecret before setSecret"
    );
    lambda.shutdown().await;
    assert!(
        fx.can_login(&user, &password).await,
        "nothing changed on the server"
    );
}

#[tokio::test]
async fn the_binary_finds_secrets_manager_through_aws_template_and_sdk_variables() {
    let fx = fixture();
    let moto = Moto::shared();
    for variable in [
        "SECRETS_MANAGER_ENDPOINT",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    ] {
        let (user, _, arn) = account(&fx).await;
        let env: Vec<(String, String)> = lambda_env(&fx, &[])
            .into_iter()
            .map(|(k, v)| {
                if k == "AWS_ENDPOINT_URL" {
                    (variable.to_owned(), v)
                } else {
                    (k, v)
                }
            })
            .collect();
        assert!(!env.iter().any(|(k, _)| k == "AWS_ENDPOINT_URL"));
        let lambda =
            LambdaProcess::spawn(env!("CARGO_BIN_EXE_rotate-postgres").as_ref(), &env).await;
        let (_, outcomes) =
            secret_rotor_testkit::runtime_api::rotate_like_the_service(&lambda, moto, &arn, None)
                .await;
        assert!(
            outcomes.iter().all(Invocation::is_ok),
            "{variable}: {outcomes:?}\n{}",
            lambda.logs()
        );
        assert_eq!(outcomes.len(), 4);
        let store = moto.store().await;
        let current = store
            .get_value(
                &SecretId::new(&arn).unwrap(),
                &Selector::stage(Stage::Current),
            )
            .await
            .unwrap()
            .unwrap();
        let password = secrecy::ExposeSecret::expose_secret(current.password().unwrap()).to_owned();
        assert!(fx.can_login(&user, &password).await, "{variable}");
        lambda.shutdown().await;
    }
}

#[tokio::test]
async fn the_binary_alternates_users_with_an_rds_managed_master() {
    let fx = fixture();
    // A dedicated moto: its RDS API knows the instance, and the binary reaches both
    // services through AWS_ENDPOINT_URL.
    let moto = Moto::start();
    let instance = moto
        .create_db_instance("pg-lambda", "postgres", "127.0.0.1", fx.cluster.port())
        .await;
    let (super_user, super_pw) = fx.cluster.superuser();
    let master_arn = moto
        .create_rds_managed_secret(&unique_name("rds!db"), super_user, super_pw, &instance)
        .await;
    let user = unique_name("lambda_alt");
    let first_password = hostile_password();
    fx.create_account(&user, &first_password).await;
    let mut secret = fx.secret_for(&user, &first_password);
    secret["masterarn"] = master_arn.into();
    let arn = moto
        .create_secret(&unique_name("lambda/alt"), &secret.to_string())
        .await;

    let mut env = moto.env();
    env.push((
        "TLS_CA_BUNDLE".into(),
        fx.cluster.ca_pem_path().display().to_string(),
    ));
    env.push(("ROTATION_STRATEGY".into(), "alternating-users".into()));
    env.push(("AWS_LAMBDA_LOG_LEVEL".into(), "debug".into()));
    let lambda = LambdaProcess::spawn(env!("CARGO_BIN_EXE_rotate-postgres").as_ref(), &env).await;
    let store = moto.store().await;
    let secret_id = SecretId::new(&arn).unwrap();
    let mut passwords = vec![first_password.clone(), super_pw.to_owned()];
    for expected_user in [format!("{user}_clone"), user.clone()] {
        let (_, outcomes) =
            secret_rotor_testkit::runtime_api::rotate_like_the_service(&lambda, &moto, &arn, None)
                .await;
        assert!(
            outcomes.iter().all(Invocation::is_ok),
            "{outcomes:?}\n{}",
            lambda.logs()
        );
        assert_eq!(outcomes[1].ok().unwrap()["outcome"], "alternate_user_set");
        for (stage, who) in [
            (Stage::Current, expected_user.as_str()),
            (Stage::Previous, ""),
        ] {
            let value = store
                .get_value(&secret_id, &Selector::stage(stage.clone()))
                .await
                .unwrap()
                .unwrap();
            let name = value.username().unwrap().to_owned();
            if !who.is_empty() {
                assert_eq!(name, who);
            }
            let password =
                secrecy::ExposeSecret::expose_secret(value.password().unwrap()).to_owned();
            assert!(
                fx.can_login(&name, &password).await,
                "{stage} ({name}) logs in"
            );
            passwords.push(password);
        }
    }
    let logs = lambda.shutdown().await;
    for password in &passwords {
        assert!(!logs.contains(password.as_str()), "a password was logged");
    }
    assert!(logs.contains("alternate user set by the master"));
    assert!(
        !logs.contains("SCRAM-SHA-256$"),
        "a SCRAM verifier was logged (CREATE/ALTER ROLE of the alternate user)"
    );
}
