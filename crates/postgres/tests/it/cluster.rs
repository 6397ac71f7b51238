//! The private PostgreSQL cluster of the `testing` feature: it enforces passwords, serves
//! TLS with its own CA, and goes away with the test.

use secret_rotor_postgres::testing::{PgCluster, PgOptions};

#[tokio::test]
async fn cluster_enforces_passwords() {
    let pg = PgCluster::shared();
    assert_eq!(pg.host(), "127.0.0.1");
    let (user, password) = pg.superuser();
    assert_eq!(user, "postgres");
    assert!(pg.can_login(user, password).await);
    assert!(!pg.can_login(user, "not-the-password").await);

    let role = format!("Rôle \"{}\" x", uuid::Uuid::new_v4().simple());
    let secret = "s3cr'et pass-word";
    pg.create_login_role(&role, secret).await;
    assert!(pg.can_login(&role, secret).await);
    assert!(!pg.can_login(&role, "wrong").await);
    assert!(!pg.can_login("no such role", "whatever").await);
    pg.drop_role(&role).await;
    assert!(!pg.can_login(&role, secret).await);

    let log = pg.server_log();
    assert!(
        log.contains("CREATE ROLE"),
        "log_statement = 'all' logs statements"
    );
    assert!(
        !log.contains(secret),
        "the setup password is sent as a SCRAM verifier"
    );
}

#[tokio::test]
async fn cluster_serves_tls_with_its_own_ca() {
    let pg = PgCluster::shared();
    let admin = pg.admin().await;
    let row = admin.query_one("SHOW ssl", &[]).await.unwrap();
    assert_eq!(row.get::<_, String>(0), "on");
    let hba = admin
        .query_one("SELECT current_setting('password_encryption')", &[])
        .await
        .unwrap();
    assert_eq!(hba.get::<_, String>(0), "scram-sha-256");
    let ca = std::fs::read_to_string(pg.ca_pem_path()).unwrap();
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
    assert_eq!(ca, pg.ca_pem());
    let key = pg.data_dir().join("server.key");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[tokio::test]
async fn dedicated_cluster_without_tls_stops_on_drop() {
    let started = std::time::Instant::now();
    let pg = PgCluster::start(PgOptions {
        tls: false,
        ..PgOptions::default()
    });
    eprintln!("dedicated PostgreSQL started in {:?}", started.elapsed());
    let admin = pg.admin().await;
    let row = admin.query_one("SHOW ssl", &[]).await.unwrap();
    assert_eq!(row.get::<_, String>(0), "off");
    assert!(!pg.tls());
    let data_dir = pg.data_dir().to_owned();
    let port = pg.port();
    assert!(pg.is_running());
    drop(admin);
    drop(pg);
    assert!(!data_dir.exists(), "the cluster's directory is removed");
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}
