//! TLS and connection handling on real servers: verify-full succeeds only with the right
//! CA and host name, plain text only when the secret says so, no silent fallback, bounded
//! timeouts, and no clear-text password reaching the server.

use secret_rotor_postgres::testing::fixture;
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use secret_rotor::{Credential, Error, Login, SecretValue, Target};
use secret_rotor_postgres::testing::{PgCluster, PgOptions};
use secret_rotor_postgres::{DbConfig, PgCredential, PostgresTarget};
use secret_rotor_testkit::conformance::{Fixture, hostile_password};
use secret_rotor_testkit::moto::unique_name;
use serde_json::{Value, json};

fn credential(secret: Value) -> PgCredential {
    PgCredential::parse(&SecretValue::from_json(secret).unwrap()).unwrap()
}

fn target_trusting(ca: Option<&std::path::Path>) -> PostgresTarget {
    PostgresTarget::new(DbConfig {
        ca_bundle: ca.map(ToOwned::to_owned),
        connect_timeout: Duration::from_secs(5),
        ..DbConfig::default()
    })
    .unwrap()
}

async fn account_on(cluster: &PgCluster) -> (String, String) {
    let user = unique_name("tls");
    let password = hostile_password();
    cluster.create_login_role(&user, &password).await;
    (user, password)
}

fn secret_on(cluster: &PgCluster, host: &str, user: &str, password: &str) -> Value {
    json!({"engine": "postgres", "host": host, "port": cluster.port(), "username": user, "password": password})
}

fn tls_error(result: Result<Login, Error>) -> String {
    match result {
        Err(e @ Error::Tls { .. }) => {
            assert_eq!(e.code(), "TlsError");
            e.display_chain().to_string()
        }
        other => panic!("expected a TLS error, got {other:?}"),
    }
}

#[tokio::test]
async fn verify_full_with_the_right_ca_logs_in_by_ip_and_by_name() {
    let cluster = PgCluster::shared();
    let (user, password) = account_on(cluster).await;
    let target = target_trusting(Some(cluster.ca_pem_path()));
    for host in ["127.0.0.1", "localhost"] {
        let login = target
            .try_login(&credential(secret_on(cluster, host, &user, &password)))
            .await;
        assert_eq!(login.unwrap(), Login::Accepted, "{host}");
    }
    let wrong = secret_on(cluster, "127.0.0.1", &user, "wrong-password");
    assert!(matches!(
        target.try_login(&credential(wrong)).await.unwrap(),
        Login::Refused { .. }
    ));
}

#[tokio::test]
async fn tls_failures_are_refused_with_distinct_clear_errors() {
    let cluster = PgCluster::shared();
    let (user, password) = account_on(cluster).await;

    // A CA that did not sign the server's certificate.
    let other = PgCluster::start(PgOptions::default());
    let wrong_ca = tls_error(
        target_trusting(Some(other.ca_pem_path()))
            .try_login(&credential(secret_on(
                cluster,
                "127.0.0.1",
                &user,
                &password,
            )))
            .await,
    );
    assert!(
        wrong_ca.contains("not issued by a trusted CA"),
        "{wrong_ca}"
    );

    // The right CA, but a certificate for another name.
    let misnamed = PgCluster::start(PgOptions {
        tls: true,
        server_names: vec!["db.example.test".into()],
    });
    let (u2, p2) = account_on(&misnamed).await;
    let mismatch = tls_error(
        target_trusting(Some(misnamed.ca_pem_path()))
            .try_login(&credential(secret_on(&misnamed, "127.0.0.1", &u2, &p2)))
            .await,
    );
    assert!(mismatch.contains("does not name the host"), "{mismatch}");

    // A server without TLS: refused, never a silent fallback to plain text...
    let plain = PgCluster::start(PgOptions {
        tls: false,
        ..PgOptions::default()
    });
    let (u3, p3) = account_on(&plain).await;
    let target = target_trusting(Some(cluster.ca_pem_path()));
    let no_tls = tls_error(
        target
            .try_login(&credential(secret_on(&plain, "127.0.0.1", &u3, &p3)))
            .await,
    );
    assert!(
        no_tls.contains("does not offer TLS") && no_tls.contains("\"ssl\": false"),
        "{no_tls}"
    );
    // ...unless the secret says "ssl": false (boolean or string).
    for ssl in [json!(false), json!("false")] {
        let mut secret = secret_on(&plain, "127.0.0.1", &u3, &p3);
        secret["ssl"] = ssl;
        assert_eq!(
            target.try_login(&credential(secret)).await.unwrap(),
            Login::Accepted
        );
    }
    secret_rotor_testkit::tls::assert_distinct_tls_errors(
        &[&wrong_ca, &mismatch, &no_tls],
        &[&password, &p2, &p3],
    );
}

#[tokio::test]
async fn connection_attempts_are_bounded_and_reported_as_unreachable() {
    // A server that accepts TCP connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let target = PostgresTarget::new(DbConfig {
        ca_bundle: Some(PgCluster::shared().ca_pem_path().to_owned()),
        connect_timeout: Duration::from_secs(1),
        ..DbConfig::default()
    })
    .unwrap();
    let secret = json!({"host": "127.0.0.1", "port": port, "username": "u", "password": "p"});
    let started = Instant::now();
    let err = target.try_login(&credential(secret)).await.unwrap_err();
    assert_eq!(err.code(), "TargetUnreachable", "{err}");
    assert!(err.is_retryable());
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "bounded by the connect timeout"
    );

    // A closed port.
    let closed = secret_rotor_testkit::process::free_port();
    let secret = json!({"host": "127.0.0.1", "port": closed, "username": "u", "password": "p"});
    assert_eq!(
        target
            .try_login(&credential(secret))
            .await
            .unwrap_err()
            .code(),
        "TargetUnreachable"
    );
}

#[tokio::test]
async fn the_server_only_ever_sees_a_scram_verifier() {
    let fx = fixture();
    let (user, old) = account_on(fx.cluster).await;
    let target = fx.target();
    let current = credential(fx.secret_for(&user, &old));
    let new_password = format!("{}-NEW", hostile_password());
    let pending = credential(fx.secret_for(&user, &new_password));
    assert_eq!(
        target.set_password(&current, &pending).await.unwrap(),
        Login::Accepted
    );
    assert!(fx.can_login(&user, &new_password).await);
    assert!(!fx.can_login(&user, &old).await);
    assert_eq!(target.verify(&pending).await.unwrap(), Login::Accepted);
    assert_eq!(pending.username(), user);

    let log = fx.cluster.server_log();
    let statement = log
        .lines()
        .find(|l| l.contains("ALTER ROLE") && l.contains(&user))
        .unwrap_or_else(|| {
            panic!("the ALTER ROLE statement is in the server log (log_statement=all)")
        });
    assert!(
        statement.contains("PASSWORD 'SCRAM-SHA-256$4096:"),
        "{statement}"
    );
    assert!(!log.contains(&new_password) && !log.contains(pending.password.expose_secret()));
}

#[tokio::test]
async fn a_bad_ca_bundle_is_a_configuration_error() {
    let missing = PostgresTarget::new(DbConfig {
        ca_bundle: Some("/nonexistent/ca.pem".into()),
        ..DbConfig::default()
    })
    .unwrap_err();
    assert_eq!(missing.code(), "ConfigError");
    assert!(missing.to_string().contains("TLS_CA_BUNDLE"), "{missing}");
    let empty = tempfile_with("not a certificate\n");
    let err = PostgresTarget::new(DbConfig {
        ca_bundle: Some(empty.clone()),
        ..DbConfig::default()
    })
    .unwrap_err();
    assert_eq!(err.code(), "ConfigError");
    let _ = std::fs::remove_file(empty);
    let bad_timeout =
        DbConfig::from_lookup(|k| (k == "CONNECT_TIMEOUT_SECS").then(|| "soon".into()));
    assert_eq!(bad_timeout.unwrap_err().code(), "ConfigError");
    for zero in ["0", "0.0", "-1", "301"] {
        let err = DbConfig::from_lookup(|k| (k == "CONNECT_TIMEOUT_SECS").then(|| zero.into()))
            .unwrap_err();
        assert!(
            err.to_string().contains("greater than 0 and at most 300"),
            "{zero}: {err}"
        );
    }
    let empty_means_default =
        DbConfig::from_lookup(|k| (k == "TLS_CA_BUNDLE").then(String::new)).unwrap();
    assert_eq!(empty_means_default.ca_bundle, None);
}

fn tempfile_with(content: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("{}.pem", unique_name("bad-ca")));
    std::fs::write(&path, content).unwrap();
    path
}

/// Without `TLS_CA_BUNDLE`, the system's roots are trusted plus the default bundle (where
/// the SAM layer puts RDS's global bundle) when that file exists, and only then.
#[tokio::test]
async fn the_default_bundle_is_trusted_when_present() {
    let cluster = PgCluster::shared();
    let (user, password) = account_on(cluster).await;
    let secret = || credential(secret_on(cluster, "127.0.0.1", &user, &password));
    let with_default = |path: std::path::PathBuf| {
        PostgresTarget::new(DbConfig {
            ca_bundle: None,
            default_ca_bundle: path,
            ..DbConfig::default()
        })
        .unwrap()
    };
    let present = tempfile_with(cluster.ca_pem());
    assert_eq!(
        with_default(present.clone())
            .try_login(&secret())
            .await
            .unwrap(),
        Login::Accepted
    );
    let _ = std::fs::remove_file(present);
    let absent = std::env::temp_dir().join(unique_name("no-such-bundle"));
    let err = tls_error(with_default(absent).try_login(&secret()).await);
    assert!(err.contains("not issued by a trusted CA"), "{err}");
    assert_eq!(
        DbConfig::default().default_ca_bundle,
        std::path::Path::new("/opt/rds-ca/global-bundle.pem"),
        "the path the SAM template's layer uses"
    );
}
