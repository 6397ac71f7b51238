//! The real `rotate-redis` binary behind a Lambda Runtime API, driven with the sample
//! events: two rotations, no window, the password two generations old retired, nothing
//! secret in its trace-level logs.

use secret_rotor_testkit::conformance::{Fixture, hostile_password};
use secret_rotor_testkit::moto::{Moto, unique_name};
use secret_rotor_testkit::runtime_api::{LambdaProcess, rotate_with_sample_events};

use crate::conformance::fixture;

const BINARY: &str = env!("CARGO_BIN_EXE_rotate-redis");

#[tokio::test]
async fn the_binary_rotates_a_redis_user_and_retires_the_password_two_generations_old() {
    let fx = fixture();
    let moto = Moto::shared();
    let user = unique_name("lambda");
    let first = hostile_password();
    fx.create_account(&user, &first).await;
    let secret = fx.secret_for(&user, &first).to_string();
    let arn = moto
        .create_secret(&unique_name("lambda/redis"), &secret)
        .await;
    let mut env = moto.env();
    env.push(("AWS_LAMBDA_LOG_LEVEL".into(), "trace".into()));
    let lambda = LambdaProcess::spawn(BINARY.as_ref(), &env).await;

    let mut passwords = vec![first];
    for _ in 0..2 {
        let outcomes = rotate_with_sample_events(&lambda, moto, &arn).await;
        assert_eq!(
            outcomes,
            ["pending_created", "password_set", "tested", "promoted"]
        );
        let current = moto.current_json(&arn).await;
        passwords.push(current["password"].as_str().unwrap().to_owned());
    }
    assert!(fx.can_login(&user, &passwords[2]).await, "AWSCURRENT");
    assert!(fx.can_login(&user, &passwords[1]).await, "AWSPREVIOUS");
    assert!(!fx.can_login(&user, &passwords[0]).await, "retired");
    let logs = lambda.shutdown().await;
    for password in &passwords {
        assert!(!logs.contains(password.as_str()), "a password was logged");
    }
    assert!(logs.contains("\"TRACE\""), "the scan ran at trace level");
}
