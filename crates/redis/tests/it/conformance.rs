//! The conformance suite, unchanged, on a real Redis.

use secret_rotor::Strategy;
use secret_rotor_redis::RedisTarget;
use secret_rotor_testkit::conformance::{FaultPath, Fixture};
use serde_json::{Value, json};

use crate::server::RedisServer;

/// Accounts on the shared private Redis.
pub(crate) struct Redis(pub &'static RedisServer);

pub(crate) fn fixture() -> Redis {
    Redis(RedisServer::shared())
}

impl Fixture for Redis {
    type Target = RedisTarget;

    fn target(&self) -> RedisTarget {
        RedisTarget::new(secret_rotor_db::DbConfig::default()).expect("target")
    }

    fn secret_for(&self, username: &str, password: &str) -> Value {
        json!({"engine": "redis", "host": "127.0.0.1", "port": self.0.port,
               "username": username, "password": password, "ssl": false})
    }

    /// An application user that may change its own password (and read its ACL).
    async fn create_account(&self, username: &str, password: &str) {
        let password = format!(">{password}");
        let rules = ["reset", "on", &password, "~app:*", "+@read", "+@write"];
        self.0.setuser(username, &rules).await;
        self.0
            .setuser(username, &["+acl|setuser", "+acl|getuser"])
            .await;
    }

    async fn reset_password(&self, username: &str, password: &str) {
        self.0
            .setuser(username, &["resetpass", &format!(">{password}")])
            .await;
    }

    async fn can_login(&self, username: &str, password: &str) -> bool {
        self.0.login(username, password).await.is_some()
    }

    /// The external calls of a rotation, exactly: PostgreSQL's single user plus what
    /// keeping two passwords live costs — createSecret also reads AWSPREVIOUS, and
    /// finishSecret retires what neither AWSCURRENT nor AWSPREVIOUS holds; 19, and 24 with
    /// the fallback to AWSPREVIOUS; a leftover AWSPENDING 8 (PostgreSQL's 5, then the
    /// retire of a finishSecret that finds its version already current: the values of
    /// AWSCURRENT and AWSPREVIOUS, the sweep).
    fn fault_points(&self, strategy: Strategy, path: FaultPath) -> Option<usize> {
        match (strategy, path) {
            (Strategy::SingleUser, FaultPath::Clean) => Some(19),
            (Strategy::SingleUser, FaultPath::FallbackToPrevious) => Some(24),
            (_, FaultPath::LeftoverPending) => Some(8),
            _ => None,
        }
    }

    /// Redis refuses spaces in user names; every other hostile name applies.
    fn hostile_usernames(&self) -> Vec<String> {
        let all = secret_rotor_testkit::conformance::default_hostile_usernames();
        all.into_iter().filter(|n| !n.contains(' ')).collect()
    }
}

secret_rotor_testkit::conformance_tests!(fixture());

/// A database that accepts connections and never answers: the step ends well inside the
/// Lambda's 30 s, with a retryable error, and nothing changes.
#[tokio::test]
async fn a_silent_server_ends_the_step_in_bounded_time() {
    secret_rotor_testkit::conformance::a_silent_server_ends_the_step_in_bounded_time(
        &fixture(),
        std::time::Duration::from_secs(20),
    )
    .await;
}
