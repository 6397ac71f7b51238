//! The shared conformance suite (testkit), both strategies, on a private MariaDB that
//! enforces passwords, over TLS verify-full with the test CA, and moto's Secrets Manager API.

use secret_rotor_mysql::testing::fixture;

secret_rotor_testkit::conformance_tests!(fixture());
secret_rotor_testkit::alternating_conformance_tests!(fixture());

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
/// An RDS-managed master, every external call crashed after and failed before (the RDS
/// API's calls are fault points too), then the service's retry; the other paths off the
/// clean one are in the suite (`fault_path_*`), with the number of injection points the
/// fixture declares (`Fixture::fault_points`).
#[tokio::test]
async fn fault_path_alternating_rds_managed_master() {
    secret_rotor_testkit::conformance::alternating_converges_under_every_fault(
        &fixture(),
        secret_rotor_testkit::conformance::FaultPath::RdsManagedMaster,
    )
    .await;
}

/// The connection to MariaDB reset (TCP RST) at every point of setSecret's
/// conversation: bounded, a stable code, no lockout, and the retry converges.
mod wire_resets {
    use std::time::Duration;

    use secret_rotor_mysql::testing::fixture;
    use secret_rotor_testkit::conformance::{
        a_reset_connection_ends_the_step_in_bounded_time,
        alternating_a_reset_connection_ends_the_step_in_bounded_time,
    };

    #[tokio::test]
    async fn wire_reset_single_user_mid_conversation() {
        a_reset_connection_ends_the_step_in_bounded_time(&fixture(), Duration::from_secs(10)).await;
    }

    #[tokio::test]
    async fn wire_reset_alternating_mid_conversation() {
        alternating_a_reset_connection_ends_the_step_in_bounded_time(
            &fixture(),
            Duration::from_secs(10),
        )
        .await;
    }
}
