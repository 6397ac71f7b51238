//! The real `rotate-mysql` binary SIGKILLed at every Secrets Manager call and every
//! connection to MariaDB of a rotation, before and after each, then retried as the service
//! would (`secret_rotor_testkit::kills`): no lockout outside the single-user window, every
//! rotation converges.

use std::net::SocketAddr;

use secret_rotor_mysql::testing::fixture;
use secret_rotor_testkit::conformance::AlternatingFixture;
use secret_rotor_testkit::kills::{DbLayout, KillFigures, kill_at_every_call};
use secret_rotor_testkit::moto::Moto;

const BINARY: &str = env!("CARGO_BIN_EXE_rotate-mysql");

async fn run(alternating: bool) -> KillFigures {
    let fx = fixture();
    let mut env = Moto::shared().env();
    env.push((
        "TLS_CA_BUNDLE".into(),
        fx.server.ca_pem_path().display().to_string(),
    ));
    if alternating {
        env.push(("ROTATION_STRATEGY".into(), "alternating-users".into()));
    }
    let backend: SocketAddr = format!("127.0.0.1:{}", fx.server.port()).parse().unwrap();
    let target = DbLayout {
        fixture: &fx,
        master: alternating.then(|| fx.master_secret()),
    };
    let figures = kill_at_every_call(BINARY.as_ref(), &env, backend, &target, !alternating).await;
    let strategy = if alternating {
        "alternating-users"
    } else {
        "single-user"
    };
    println!("RELIABILITY kills target=mysql strategy={strategy} {figures:?}");
    figures
}

#[tokio::test]
async fn a_sigkill_at_any_call_never_locks_out_single_user() {
    let figures = run(false).await;
    assert_eq!(figures.converged, figures.injected);
    assert_eq!(figures.lockouts, 0);
    assert!(figures.injected >= 4 * (figures.calls.0 + figures.calls.1));
}

#[tokio::test]
async fn a_sigkill_at_any_call_never_locks_out_alternating_users() {
    let figures = run(true).await;
    assert_eq!(figures.converged, figures.injected);
    assert_eq!(
        (figures.lockouts, figures.in_window),
        (0, 0),
        "no window at all"
    );
}
