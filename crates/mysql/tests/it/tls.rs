//! TLS on a real MariaDB: verify-full with the test CA by IP and by name; a wrong CA, a
//! certificate for another host name and a server without TLS each refused with its own
//! message (the shared words of `secret-rotor-db`); plain text only with `"ssl": false`.

use std::time::Duration;

use secret_rotor::{Error, Login, SecretValue, Target};
use secret_rotor_mysql::testing::{MariaDb, MariaDbOptions};
use secret_rotor_mysql::{DbConfig, MyCredential, MysqlTarget};
use secret_rotor_testkit::conformance::hostile_password;
use secret_rotor_testkit::moto::unique_name;
use serde_json::{Value, json};

fn target_trusting(ca: &std::path::Path) -> MysqlTarget {
    MysqlTarget::new(DbConfig {
        ca_bundle: Some(ca.to_owned()),
        connect_timeout: Duration::from_secs(5),
        ..DbConfig::default()
    })
    .unwrap()
}

fn credential(
    server: &MariaDb,
    host: &str,
    user: &str,
    password: &str,
    ssl: Option<Value>,
) -> MyCredential {
    let mut secret = json!({"engine": "mariadb", "host": host, "port": server.port(),
                            "username": user, "password": password});
    if let Some(ssl) = ssl {
        secret["ssl"] = ssl;
    }
    MyCredential::parse(&SecretValue::from_json(secret).unwrap()).unwrap()
}

async fn account_on(server: &MariaDb) -> (String, String) {
    let user = unique_name("tls");
    let password = hostile_password();
    server.create_user(&user, &password).await;
    (user, password)
}

fn tls_error(result: Result<Login, Error>) -> String {
    match result {
        Err(e @ Error::Tls { .. }) => e.display_chain().to_string(),
        other => panic!("expected a TLS error, got {other:?}"),
    }
}

#[tokio::test]
async fn verify_full_with_the_right_ca_by_ip_and_by_name() {
    let server = MariaDb::shared();
    let (user, password) = account_on(server).await;
    let target = target_trusting(server.ca_pem_path());
    for host in ["127.0.0.1", "localhost"] {
        let login = target
            .try_login(&credential(server, host, &user, &password, None))
            .await
            .unwrap_or_else(|e| panic!("{host}: {}", e.display_chain()));
        assert_eq!(login, Login::Accepted, "{host}");
    }
    assert!(matches!(
        target
            .try_login(&credential(server, "127.0.0.1", &user, "wrong", None))
            .await
            .unwrap(),
        Login::Refused { .. }
    ));
}

#[tokio::test]
async fn wrong_ca_wrong_name_and_no_tls_are_refused_with_distinct_messages() {
    let server = MariaDb::shared();
    let (user, password) = account_on(server).await;

    let other = MariaDb::start(MariaDbOptions::default());
    let wrong_ca = tls_error(
        target_trusting(other.ca_pem_path())
            .try_login(&credential(server, "127.0.0.1", &user, &password, None))
            .await,
    );
    assert!(
        wrong_ca.contains("not issued by a trusted CA"),
        "{wrong_ca}"
    );

    let misnamed = MariaDb::start(MariaDbOptions {
        server_names: vec!["db.elsewhere.invalid".into()],
        ..MariaDbOptions::default()
    });
    let (u2, p2) = account_on(&misnamed).await;
    let mismatch = tls_error(
        target_trusting(misnamed.ca_pem_path())
            .try_login(&credential(&misnamed, "127.0.0.1", &u2, &p2, None))
            .await,
    );
    assert!(mismatch.contains("does not name the host"), "{mismatch}");

    let plain = MariaDb::start(MariaDbOptions {
        tls: false,
        ..MariaDbOptions::default()
    });
    let (u3, p3) = account_on(&plain).await;
    let target = target_trusting(server.ca_pem_path());
    let no_tls = tls_error(
        target
            .try_login(&credential(&plain, "127.0.0.1", &u3, &p3, None))
            .await,
    );
    assert!(
        no_tls.contains("does not offer TLS") && no_tls.contains("\"ssl\": false"),
        "{no_tls}"
    );
    // Plain text only when the secret says so.
    for ssl in [json!(false), json!("false")] {
        assert_eq!(
            target
                .try_login(&credential(&plain, "127.0.0.1", &u3, &p3, Some(ssl)))
                .await
                .unwrap(),
            Login::Accepted
        );
    }
    secret_rotor_testkit::tls::assert_distinct_tls_errors(
        &[&wrong_ca, &mismatch, &no_tls],
        &[&password, &p2, &p3],
    );
}

#[tokio::test]
async fn an_account_that_requires_tls_rotates_over_tls() {
    let server = MariaDb::shared();
    let (user, password) = account_on(server).await;
    server
        .execute(&format!("ALTER USER `{user}`@'%' REQUIRE SSL"))
        .await;
    assert!(
        !server.can_login(&user, &password).await,
        "plain text is refused"
    );
    let target = target_trusting(server.ca_pem_path());
    let current = credential(server, "127.0.0.1", &user, &password, None);
    let new = format!("{}-NEW", hostile_password());
    let pending = credential(server, "127.0.0.1", &user, &new, None);
    assert_eq!(
        target.set_password(&current, &pending).await.unwrap(),
        Login::Accepted
    );
    assert_eq!(target.verify(&pending).await.unwrap(), Login::Accepted);
    assert!(matches!(
        target.try_login(&current).await.unwrap(),
        Login::Refused { .. }
    ));
}
