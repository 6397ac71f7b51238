//! Faults on the wire between the real `rotate-postgres` binary and Secrets Manager
//! (moto behind `FaultyEndpoint`): throttling is retried with backoff by the SDK and the
//! step succeeds; a server that keeps failing, or never answers, ends the step within a
//! bounded time (far inside the Lambda's 30 s) with a stable, retryable error; the retry
//! converges and the application is never locked out.

use std::time::{Duration, Instant};

use secret_rotor::Step;
use secret_rotor_postgres::testing::fixture;
use secret_rotor_testkit::conformance::{Fixture, hostile_password};
use secret_rotor_testkit::moto::{Moto, unique_name};
use secret_rotor_testkit::runtime_api::{Invocation, LambdaProcess, sample_event};
use secret_rotor_testkit::wire_faults::{FaultyEndpoint, WireFault};

const BINARY: &str = env!("CARGO_BIN_EXE_rotate-postgres");

#[tokio::test]
async fn throttling_is_retried_and_failures_end_in_bounded_time() {
    let fx = fixture();
    let moto = Moto::shared();
    let endpoint = FaultyEndpoint::start(moto.endpoint()).await;
    let user = unique_name("wire");
    let first = hostile_password();
    fx.create_account(&user, &first).await;
    let arn = moto
        .create_secret(
            &unique_name("wire/pg"),
            &fx.secret_for(&user, &first).to_string(),
        )
        .await;
    let mut env = moto.env();
    env.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
    env.push(("AWS_ENDPOINT_URL".into(), endpoint.url()));
    env.push((
        "TLS_CA_BUNDLE".into(),
        fx.cluster.ca_pem_path().display().to_string(),
    ));
    let lambda = LambdaProcess::spawn(BINARY.as_ref(), &env).await;
    let token = moto.start_rotation(&arn, None).await.unwrap();
    let invoke = |step: Step| lambda.invoke(sample_event(step, &arn, &token));

    // Throttled twice: the SDK backs off and retries; the step succeeds.
    endpoint.inject("PutSecretValue", WireFault::Throttle, 2);
    assert!(matches!(
        invoke(Step::CreateSecret).await,
        Invocation::Ok(_)
    ));
    assert_eq!(
        endpoint.seen("PutSecretValue"),
        3,
        "two throttled attempts, then one through"
    );

    // A server that keeps failing: a stable, retryable error, within the bound; nothing moved.
    let mut longest = Duration::ZERO;
    for fault in [WireFault::ServerError, WireFault::Hang] {
        endpoint.inject("DescribeSecret", fault, 100);
        let started = Instant::now();
        let outcome = invoke(Step::SetSecret).await;
        let took = started.elapsed();
        match outcome {
            Invocation::Err {
                error_type,
                error_message,
            } => {
                assert_eq!(
                    error_type, "SecretsManagerError",
                    "{fault:?}: {error_message}"
                );
                assert!(
                    !error_message.contains(&first),
                    "{fault:?}: a password in the error"
                );
            }
            Invocation::Ok(report) => panic!("{fault:?}: succeeded: {report}"),
        }
        assert!(
            took < Duration::from_secs(15),
            "{fault:?}: the step took {took:?}"
        );
        longest = longest.max(took);
        endpoint.clear();
        assert!(
            fx.can_login(&user, &first).await,
            "{fault:?}: the application still logs in"
        );
    }

    // The service retries: the rotation converges.
    for step in [Step::SetSecret, Step::TestSecret, Step::FinishSecret] {
        match invoke(step).await {
            Invocation::Ok(_) => {}
            other => panic!("{step} after the faults: {other:?}"),
        }
    }
    let now = moto.current_json(&arn).await;
    assert!(fx.can_login(&user, now["password"].as_str().unwrap()).await);
    assert!(!fx.can_login(&user, &first).await);
    println!(
        "RELIABILITY wire target=postgres injected=3 (throttling x2, 500s, no answer) \
         bounded=2 retried_by_the_sdk=1 converged=1 longest_ms={}",
        longest.as_millis()
    );
}
