//! How the password reaches the server: the account's real host, the server's own
//! statement, no clear password in MariaDB's general log, the user-name limit.

use std::time::Duration;

use secret_rotor::{Login, SecretValue, Stage, Step, Target};
use secret_rotor_mysql::testing::{MariaDb, fixture};
use secret_rotor_mysql::{DbConfig, MyCredential, MysqlTarget};
use secret_rotor_testkit::conformance::{Case, Fixture, hostile_password};
use secret_rotor_testkit::moto::unique_name;
use serde_json::json;

fn plain(server: &MariaDb, user: &str, password: &str) -> MyCredential {
    MyCredential::parse(
        &SecretValue::from_json(json!({"host": "127.0.0.1", "port": server.port(),
            "username": user, "password": password, "ssl": false}))
        .unwrap(),
    )
    .unwrap()
}

fn target() -> MysqlTarget {
    MysqlTarget::new(DbConfig {
        connect_timeout: Duration::from_secs(5),
        ..DbConfig::default()
    })
    .unwrap()
}

/// The account is the one the server matched (`CURRENT_USER()`), not an assumed `'%'`:
/// a user that exists only as `user`@`127.0.0.1` rotates, and `user`@`%` is not created.
#[tokio::test]
async fn the_account_host_comes_from_the_server() {
    let server = MariaDb::shared();
    let user = unique_name("host");
    let old = hostile_password();
    server.create_user_at(&user, "127.0.0.1", &old).await;
    let new = format!("{}-NEW", hostile_password());
    assert_eq!(
        target()
            .set_password(&plain(server, &user, &old), &plain(server, &user, &new))
            .await
            .unwrap(),
        Login::Accepted
    );
    assert!(server.can_login(&user, &new).await);
    let mut admin = server.admin().await;
    use mysql_async::prelude::Queryable;
    let hosts: Vec<String> = admin
        .exec(
            "SELECT host FROM mysql.user WHERE user = ?",
            (user.as_str(),),
        )
        .await
        .unwrap();
    assert_eq!(hosts, ["127.0.0.1"]);
}

/// On MariaDB the new password reaches the server as its `mysql_native_password` hash:
/// the general query log (every statement the server received) never holds it.
#[tokio::test]
async fn the_general_log_never_sees_the_new_password() {
    let server = MariaDb::shared();
    let user = unique_name("glog");
    let old = hostile_password();
    server.create_user(&user, &old).await;
    let new = format!("{}-NEW", hostile_password());
    target()
        .set_password(&plain(server, &user, &old), &plain(server, &user, &new))
        .await
        .unwrap();
    let log = server.general_log();
    let statement = log
        .lines()
        .find(|l| l.contains("SET PASSWORD FOR") && l.contains(&user))
        .unwrap_or_else(|| panic!("the SET PASSWORD statement is in the general log"));
    assert!(
        statement.contains("= '*"),
        "the hash, not PASSWORD(...): {statement}"
    );
    assert!(
        !log.contains(&new),
        "the clear new password is not in the general log"
    );
}

/// `<user>_clone` must fit the server's user-name limit (32 characters on MySQL): refused
/// at createSecret, before anything is written.
#[tokio::test]
async fn clone_names_over_the_limit_are_refused_before_anything_is_written() {
    let fx = fixture();
    // The case appends an 11-character suffix: 16 + 11 = 27, and "_clone" makes 33.
    let case = Case::alternating(&fx, &"n".repeat(16), "first-Password-1", None).await;
    let mut current = case.value(Stage::Current).await.unwrap();
    current["engine"] = "mysql".into();
    case.set_current(&current).await;
    let token = case.start().await;
    let err = case.step(Step::CreateSecret, &token).await.unwrap_err();
    assert_eq!(err.code(), "InvalidSecret");
    assert!(err.to_string().contains("32"), "{err}");
    assert_eq!(case.value(Stage::Pending).await, None);
    // On MariaDB (its engine) the same name fits.
    let case = Case::alternating(&fx, &"n".repeat(16), "first-Password-1", None).await;
    case.rotate().await;
    let clone = format!("{}_clone", case.username);
    let password = case.password(Stage::Current).await.unwrap();
    assert!(fx.can_login(&clone, &password).await);
}
