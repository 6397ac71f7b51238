//! The real `rotate-mysql` binary SIGKILLed at every Secrets Manager call and every
//! connection to MariaDB of a rotation, before and after each, then retried as the
//! service would (`secret_rotor_testkit::kills`): no lockout outside the single-user
//! window, every rotation converges.

use secret_rotor_mysql::testing::fixture;
use secret_rotor_testkit::conformance::AlternatingFixture;
use secret_rotor_testkit::kills::kill_database_target;

async fn run(alternating: bool) {
    let fx = fixture();
    let ca = fx.server.ca_pem_path().display().to_string();
    let binary = env!("CARGO_BIN_EXE_rotate-mysql").as_ref();
    let master = alternating.then(|| fx.master_secret());
    let env = [("TLS_CA_BUNDLE", ca.as_str())];
    let figures = kill_database_target("mysql", binary, &fx, &env, fx.server.port(), master).await;
    figures.assert_sound(!alternating);
}

#[tokio::test]
async fn a_sigkill_at_any_call_never_locks_out_single_user() {
    run(false).await;
}

#[tokio::test]
async fn a_sigkill_at_any_call_never_locks_out_alternating_users() {
    run(true).await;
}
