//! The conformance suite's [`Fixture`] for PostgreSQL: the target under test configured
//! for a [`PgCluster`], and the administrator's moves on that cluster.

use std::time::Duration;

use postgres_protocol::escape::{escape_identifier, escape_literal};
use secret_rotor::Strategy;
use secret_rotor_testkit::conformance::{AlternatingFixture, FaultPath, Fixture};
use serde_json::{Value, json};
use tokio_postgres::NoTls;

use super::PgCluster;
use crate::{ALTERNATE_SYNC_LOCK, DbConfig, PostgresTarget};

/// A private cluster that enforces passwords and serves TLS with a test CA.
#[derive(Debug)]
pub struct PgFixture {
    /// The cluster under test.
    pub cluster: &'static PgCluster,
}

/// The fixture on this test process's shared cluster ([`PgCluster::shared`]).
pub fn fixture() -> PgFixture {
    PgFixture {
        cluster: PgCluster::shared(),
    }
}

impl PgFixture {
    /// The target's configuration for the cluster: its CA, a 5 s connect timeout.
    pub fn config(&self) -> DbConfig {
        DbConfig {
            ca_bundle: Some(self.cluster.ca_pem_path().to_owned()),
            connect_timeout: Duration::from_secs(5),
            ..DbConfig::default()
        }
    }
}

impl Fixture for PgFixture {
    type Target = PostgresTarget;

    fn target(&self) -> PostgresTarget {
        PostgresTarget::new(self.config()).expect("target")
    }

    fn secret_for(&self, username: &str, password: &str) -> Value {
        json!({
            "engine": "postgres",
            "host": self.cluster.host(),
            "port": self.cluster.port(),
            "username": username,
            "password": password,
            "dbname": "postgres",
        })
    }

    async fn create_account(&self, username: &str, password: &str) {
        self.cluster.create_login_role(username, password).await;
    }

    async fn reset_password(&self, username: &str, password: &str) {
        let verifier = postgres_protocol::password::scram_sha_256(password.as_bytes());
        self.cluster
            .admin()
            .await
            .batch_execute(&format!(
                "ALTER ROLE {} PASSWORD {}",
                escape_identifier(username),
                escape_literal(&verifier)
            ))
            .await
            .expect("reset password");
    }

    async fn can_login(&self, username: &str, password: &str) -> bool {
        self.cluster.can_login(username, password).await
    }

    fn server_log(&self) -> Option<String> {
        Some(self.cluster.server_log())
    }

    /// A SCRAM verifier allows offline guessing and server impersonation: never logged.
    fn forbidden_in_logs(&self) -> Vec<String> {
        vec!["SCRAM-SHA-256$".to_owned()]
    }

    /// The external calls of a rotation, exactly: createSecret 5 (labels, pending,
    /// current, the target's pending value, the write), setSecret 4 single user (labels,
    /// pending, current, the change) / 7 alternating (+ pending's login, current's login,
    /// the master secret, the master's transaction), testSecret 3, finishSecret 5 (labels,
    /// pending, the proof login, the two label moves). The fallback to AWSPREVIOUS adds
    /// pending's login, AWSPREVIOUS's value and the second change; an RDS-managed master
    /// adds its tags and the two RDS API calls; a leftover AWSPENDING is four label reads
    /// and its removal.
    fn fault_points(&self, strategy: Strategy, path: FaultPath) -> Option<usize> {
        match (strategy, path) {
            (Strategy::SingleUser, FaultPath::Clean) => Some(17),
            (Strategy::SingleUser, FaultPath::FallbackToPrevious) => Some(20),
            (Strategy::AlternatingUsers, FaultPath::Clean) => Some(21),
            (Strategy::AlternatingUsers, FaultPath::RdsManagedMaster) => Some(24),
            (_, FaultPath::LeftoverPending) => Some(5),
            _ => None,
        }
    }
}

/// The table whose SELECT privilege the alternating cases check.
const PROBE_TABLE: &str = "conformance_probe";

impl AlternatingFixture for PgFixture {
    fn master_secret(&self) -> Value {
        let (user, password) = self.cluster.superuser();
        self.secret_for(user, password)
    }

    async fn grant_probe(&self, username: &str) {
        let admin = self.cluster.admin().await;
        admin
            .batch_execute(&format!(
                "BEGIN; SELECT pg_advisory_xact_lock({lock}); \
                 CREATE TABLE IF NOT EXISTS {PROBE_TABLE} (x int); \
                 GRANT SELECT ON {PROBE_TABLE} TO {}; COMMIT",
                escape_identifier(username),
                lock = ALTERNATE_SYNC_LOCK,
            ))
            .await
            .expect("grant the probe privilege");
    }

    async fn can_use_probe(&self, username: &str, password: &str) -> bool {
        let Ok((client, connection)) = self.cluster.config(username, password).connect(NoTls).await
        else {
            return false;
        };
        tokio::spawn(connection);
        client
            .simple_query(&format!("SELECT count(*) FROM {PROBE_TABLE}"))
            .await
            .is_ok()
    }
}
