//! The conformance suite's [`Fixture`] for MySQL / MariaDB: the target under test
//! configured for a [`MariaDb`], and the administrator's moves on that server.

use std::time::Duration;

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use secret_rotor::Strategy;
use secret_rotor_testkit::conformance::{AlternatingFixture, FaultPath, Fixture};
use serde_json::{Value, json};

use super::MariaDb;
use super::server::TEST_DATABASE;
use crate::account::ident;
use crate::{DbConfig, MysqlTarget};

/// The table whose SELECT privilege the alternating cases check.
pub const PROBE_TABLE: &str = "conformance_probe";

/// A private MariaDB that enforces passwords and serves TLS with a test CA.
#[derive(Debug)]
pub struct MyFixture {
    /// The server under test.
    pub server: &'static MariaDb,
}

/// The fixture on this test process's shared server ([`MariaDb::shared`]).
pub fn fixture() -> MyFixture {
    MyFixture {
        server: MariaDb::shared(),
    }
}

impl MyFixture {
    /// The target's configuration for the server: its CA, a 5 s connect timeout.
    pub fn config(&self) -> DbConfig {
        DbConfig {
            ca_bundle: Some(self.server.ca_pem_path().to_owned()),
            connect_timeout: Duration::from_secs(5),
            ..DbConfig::default()
        }
    }
}

impl Fixture for MyFixture {
    type Target = MysqlTarget;

    fn target(&self) -> MysqlTarget {
        MysqlTarget::new(self.config()).expect("target")
    }

    fn secret_for(&self, username: &str, password: &str) -> Value {
        json!({
            "engine": "mariadb",
            "host": self.server.host(),
            "port": self.server.port(),
            "username": username,
            "password": password,
        })
    }

    async fn create_account(&self, username: &str, password: &str) {
        self.server.create_user(username, password).await;
    }

    async fn reset_password(&self, username: &str, password: &str) {
        self.server.set_password(username, password).await;
    }

    async fn can_login(&self, username: &str, password: &str) -> bool {
        self.server.can_login(username, password).await
    }

    fn server_log(&self) -> Option<String> {
        Some(self.server.general_log())
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

impl AlternatingFixture for MyFixture {
    fn master_secret(&self) -> Value {
        let (user, password) = self.server.root();
        self.secret_for(user, password)
    }

    async fn grant_probe(&self, username: &str) {
        self.server
            .execute(&format!(
                "CREATE TABLE IF NOT EXISTS {TEST_DATABASE}.{PROBE_TABLE} (x int); \
                 GRANT SELECT ON {TEST_DATABASE}.{PROBE_TABLE} TO {}@'%'",
                ident(username)
            ))
            .await;
    }

    async fn can_use_probe(&self, username: &str, password: &str) -> bool {
        let Ok(mut conn) = Conn::new(self.server.options(username, password)).await else {
            return false;
        };
        let ok = conn
            .query_drop(format!(
                "SELECT COUNT(*) FROM {TEST_DATABASE}.{PROBE_TABLE}"
            ))
            .await
            .is_ok();
        let _ = conn.disconnect().await;
        ok
    }
}
