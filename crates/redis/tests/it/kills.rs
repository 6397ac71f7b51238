//! The real `rotate-redis` binary SIGKILLed at every Secrets Manager call and every
//! connection to Redis of a rotation, before and after each, then retried as the service
//! would (`secret_rotor_testkit::kills`): never a moment when neither AWSCURRENT nor —
//! there is no window here — anything but AWSCURRENT is needed; every rotation converges.

use std::net::SocketAddr;

use secret_rotor_testkit::kills::{DbLayout, kill_at_every_call};
use secret_rotor_testkit::moto::Moto;

use crate::conformance::fixture;

const BINARY: &str = env!("CARGO_BIN_EXE_rotate-redis");

#[tokio::test]
async fn a_sigkill_at_any_call_never_locks_out() {
    let fx = fixture();
    let backend: SocketAddr = format!("127.0.0.1:{}", fx.0.port).parse().unwrap();
    let target = DbLayout {
        fixture: &fx,
        master: None,
    };
    let env = Moto::shared().env();
    let figures = kill_at_every_call(BINARY.as_ref(), &env, backend, &target, false).await;
    println!("RELIABILITY kills target=redis strategy=single-user {figures:?}");
    assert_eq!(figures.converged, figures.injected);
    assert_eq!(
        (figures.lockouts, figures.in_window),
        (0, 0),
        "no window at all"
    );
    assert!(figures.injected >= 4 * (figures.calls.0 + figures.calls.1));
}
