//! The private MariaDB of the `testing` feature: it enforces passwords, serves TLS with its
//! own CA, logs every statement, and goes away with the test.

use secret_rotor_mysql::testing::{MariaDb, MariaDbOptions};
use secret_rotor_testkit::conformance::hostile_password;
use secret_rotor_testkit::moto::unique_name;

#[tokio::test]
async fn the_server_enforces_passwords_and_keeps_setup_passwords_out_of_its_log() {
    let db = MariaDb::shared();
    let (root, password) = db.root();
    assert!(db.can_login(root, password).await);
    assert!(!db.can_login(root, "not-the-password").await);
    assert!(
        !db.can_login("root", "").await,
        "no password-less root over TCP"
    );
    let user = format!("Üser '{}' \\x", unique_name("s"));
    let secret = hostile_password();
    db.create_user(&user, &secret).await;
    assert!(db.can_login(&user, &secret).await);
    assert!(!db.can_login(&user, "wrong").await);
    let log = db.general_log();
    assert!(log.contains("CREATE USER"), "the general log is on");
    assert!(!log.contains(&secret), "setup passwords are sent as hashes");
}

#[tokio::test]
async fn a_dedicated_server_without_tls_stops_on_drop() {
    let db = MariaDb::start(MariaDbOptions {
        tls: false,
        ..MariaDbOptions::default()
    });
    let port = db.port();
    assert!(db.is_running());
    let (root, password) = db.root();
    assert!(db.can_login(root, password).await);
    drop(db);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}
