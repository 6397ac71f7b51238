//! The real `rotate-redis` binary SIGKILLed at every Secrets Manager call and every
//! connection to Redis of a rotation, before and after each, then retried as the service
//! would (`secret_rotor_testkit::kills`): AWSCURRENT logs in at every point — no window at
//! all — and every rotation converges.

use secret_rotor_testkit::kills::kill_database_target;

use crate::conformance::fixture;

#[tokio::test]
async fn a_sigkill_at_any_call_never_locks_out() {
    let fx = fixture();
    let binary = env!("CARGO_BIN_EXE_rotate-redis").as_ref();
    let figures = kill_database_target("redis", binary, &fx, &[], fx.0.port, None).await;
    figures.assert_sound(false);
}
