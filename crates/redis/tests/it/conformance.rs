//! The conformance suite, unchanged, on a real Redis.

use secret_rotor_redis::RedisTarget;
use secret_rotor_testkit::conformance::Fixture;
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
