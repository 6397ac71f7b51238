//! The real `rotate-http` binary, run behind a Lambda Runtime API and driven the way
//! Secrets Manager drives it, with the sample events of `events/`: tokens issued and
//! retired on Verdaccio with the spec in `HTTP_SPEC_FILE`, and a RabbitMQ password changed
//! with the spec carried by the secret itself.

use secret_rotor_testkit::conformance::{Fixture, IssuingFixture, hostile_password};
use secret_rotor_testkit::moto::{Moto, unique_name};
use secret_rotor_testkit::runtime_api::{LambdaProcess, rotate_with_sample_events};

use crate::{rabbitmq, verdaccio};

const BINARY: &str = env!("CARGO_BIN_EXE_rotate-http");

#[tokio::test]
async fn the_binary_issues_and_retires_verdaccio_tokens() {
    let fx = verdaccio::fixture();
    let moto = Moto::shared();
    let first = fx.account().await;
    let spec = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(spec.path(), verdaccio::spec_json(true).to_string()).unwrap();
    let arn = moto
        .create_secret(&unique_name("lambda/npm"), &first.to_string())
        .await;
    let mut env = moto.env();
    env.push(("HTTP_SPEC_FILE".into(), spec.path().display().to_string()));
    env.push(("AWS_LAMBDA_LOG_LEVEL".into(), "trace".into()));
    let lambda = LambdaProcess::spawn(BINARY.as_ref(), &env).await;

    let mut secrets = vec![first];
    for _ in 0..2 {
        let outcomes = rotate_with_sample_events(&lambda, moto, &arn).await;
        assert_eq!(outcomes[0], "pending_created", "{outcomes:?}");
        assert_eq!(outcomes[3], "promoted", "{outcomes:?}");
        let now = moto.current_json(&arn).await;
        assert!(fx.works(&now).await, "the issued token works");
        secrets.push(now);
    }
    assert!(fx.works(&secrets[1]).await, "AWSPREVIOUS still works");
    assert!(
        !fx.works(&secrets[0]).await,
        "the token two generations old is revoked"
    );
    let live = fx.live_keys(&secrets[2]).await;
    let mut held: Vec<&str> = secrets[1..]
        .iter()
        .map(|s| s["key_id"].as_str().unwrap())
        .collect();
    held.sort_unstable();
    let mut live: Vec<&str> = live.iter().map(String::as_str).collect();
    live.sort_unstable();
    assert_eq!(live, held, "no live token that no version holds");

    let logs = lambda.shutdown().await;
    for secret in &secrets {
        let token = secret["token"].as_str().unwrap();
        assert!(!logs.contains(token), "a token was logged");
    }
    assert!(!logs.contains(secrets[0]["password"].as_str().unwrap()));
    assert!(
        logs.lines().any(|l| l.contains("\"TRACE\"")),
        "TRACE lines were captured: the scan ran at trace level"
    );
}

#[tokio::test]
async fn the_binary_changes_a_rabbitmq_password_with_the_spec_in_the_secret() {
    let fx = rabbitmq::fixture();
    let moto = Moto::shared();
    let user = unique_name("lambda-amqp");
    let old = hostile_password();
    fx.create_account(&user, &old).await;
    let mut secret = fx.secret_for(&user, &old);
    secret[secret_rotor_http::SPEC_KEY] = rabbitmq::spec_json();
    let arn = moto
        .create_secret(&unique_name("lambda/amqp"), &secret.to_string())
        .await;
    let lambda = LambdaProcess::spawn(BINARY.as_ref(), &moto.env()).await;
    let outcomes = rotate_with_sample_events(&lambda, moto, &arn).await;
    assert_eq!(
        outcomes,
        ["pending_created", "password_set", "tested", "promoted"]
    );
    let now = moto.current_json(&arn).await;
    assert_eq!(
        now[secret_rotor_http::SPEC_KEY],
        secret[secret_rotor_http::SPEC_KEY],
        "the spec is carried to the new version"
    );
    let new = now["password"].as_str().unwrap();
    assert!(
        rabbitmq::amqp_login(&user, new).await,
        "the new password logs in"
    );
    assert!(
        !rabbitmq::amqp_login(&user, &old).await,
        "the old one is refused"
    );
    let logs = lambda.shutdown().await;
    assert!(
        !logs.contains(new) && !logs.contains(&old),
        "a password was logged"
    );
}
