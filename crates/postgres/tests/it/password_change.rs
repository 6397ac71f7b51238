//! The password change proves itself: right after `ALTER ROLE`, a fresh login with the new
//! password, and the old password put back (in the session still open) when the server
//! refuses it.

use secret_rotor::{Credential, Login, SecretValue, Target};
use secret_rotor_postgres::testing::{PgCluster, PgOptions, fixture};
use secret_rotor_postgres::{PgCredential, PostgresTarget};
use secret_rotor_testkit::conformance::{Fixture, hostile_password};
use secret_rotor_testkit::moto::unique_name;
use secret_rotor_testkit::proxy::TcpProxy;
use serde_json::json;

fn plain_credential(port: u16, user: &str, password: &str) -> PgCredential {
    let secret = json!({"engine": "postgres", "host": "127.0.0.1", "port": port,
                        "username": user, "password": password, "ssl": false});
    PgCredential::parse(&SecretValue::from_json(secret).unwrap()).unwrap()
}

/// A server that takes the change and then refuses the new password on a fresh login (as a
/// pooler with its own user list, or a node that does not see the change, would): the
/// step fails with `PasswordNotTaken` and the password the step logged in with works
/// again. No stock PostgreSQL refuses its own new password, so a proxy sends the fresh
/// login to a second real cluster that still has the old one.
#[tokio::test]
async fn a_new_password_the_server_refuses_is_rolled_back() {
    let fx = fixture();
    let other = PgCluster::start(PgOptions {
        tls: false,
        ..PgOptions::default()
    });
    let user = unique_name("taken");
    let old = hostile_password();
    fx.cluster.create_login_role(&user, &old).await;
    other.create_login_role(&user, &old).await;
    let proxy = TcpProxy::start(([127, 0, 0, 1], fx.cluster.port()).into()).await;
    // Connection 1 (the change) reaches the real server; the fresh login does not.
    proxy.route_from(2, ([127, 0, 0, 1], other.port()).into());

    let target: PostgresTarget = fx.target();
    let port = proxy.addr().port();
    let current = plain_credential(port, &user, &old);
    let new = format!("{}-NEW", hostile_password());
    let pending = plain_credential(port, &user, &new);
    let err = target.set_password(&current, &pending).await.unwrap_err();
    assert_eq!(err.code(), "PasswordNotTaken", "{err}");
    assert!(err.to_string().contains(&user), "{err}");
    assert!(!err.display_chain().to_string().contains(&new));
    assert_eq!(proxy.accepted(), 2);
    assert!(
        fx.can_login(&user, &old).await,
        "the old password was put back on the server that took the change"
    );
    assert!(!fx.can_login(&user, &new).await);

    // Without the proxy's trick the same change is proven and kept.
    proxy.route_from(3, ([127, 0, 0, 1], fx.cluster.port()).into());
    assert_eq!(
        target.set_password(&current, &pending).await.unwrap(),
        Login::Accepted
    );
    assert!(fx.can_login(&user, &new).await);
    assert_eq!(pending.username(), user);
}
