//! The shared conformance suite (testkit), both strategies, on a private PostgreSQL that enforces
//! passwords, over TLS verify-full with the test CA, and moto's Secrets Manager API.

use secret_rotor_postgres::testing::fixture;

secret_rotor_testkit::conformance_tests!(fixture());
secret_rotor_testkit::alternating_conformance_tests!(fixture());
// An RDS-managed master's fault sweep, connections reset mid-conversation.
secret_rotor_testkit::database_conformance_tests!(fixture());

/// A database that accepts connections and never answers: the step ends well inside the
/// Lambda's 30 s, with a retryable error, and nothing changes.
#[tokio::test]
async fn a_silent_server_ends_the_step_in_bounded_time() {
    secret_rotor_testkit::conformance::a_silent_server_ends_the_step_in_bounded_time(
        &fixture(),
        std::time::Duration::from_secs(20),
    )
    .await;
}
