//! The conformance suite on the reference in-memory target: the suite itself is checked
//! against a target whose behaviour is known, with moto as the Secrets Manager API.

use secret_rotor_testkit::conformance::{AlternatingFixture, Fixture};
use secret_rotor_testkit::memory_target::MemoryTarget;
use serde_json::{Value, json};

/// The in-memory "server" every case of this binary shares.
fn fixture() -> MemoryFixture {
    use std::sync::OnceLock;
    static SERVER: OnceLock<MemoryTarget> = OnceLock::new();
    MemoryFixture(
        SERVER
            .get_or_init(|| {
                let server = MemoryTarget::new();
                server.set_user("admin", "admin-pw");
                server
            })
            .clone(),
    )
}

struct MemoryFixture(MemoryTarget);

impl Fixture for MemoryFixture {
    type Target = MemoryTarget;

    fn target(&self) -> MemoryTarget {
        self.0.clone()
    }

    fn secret_for(&self, username: &str, password: &str) -> Value {
        json!({"engine": "memory", "host": "memory", "username": username, "password": password})
    }

    async fn create_account(&self, username: &str, password: &str) {
        self.0.set_user(username, password);
    }

    async fn reset_password(&self, username: &str, password: &str) {
        self.0.set_user(username, password);
    }

    async fn can_login(&self, username: &str, password: &str) -> bool {
        self.0.password_of(username).as_deref() == Some(password)
    }
}

impl AlternatingFixture for MemoryFixture {
    fn master_secret(&self) -> Value {
        self.secret_for("admin", "admin-pw")
    }

    async fn grant_probe(&self, username: &str) {
        self.0.grant(username, "SELECT ON probe");
    }

    async fn can_use_probe(&self, username: &str, password: &str) -> bool {
        self.can_login(username, password).await
            && self.0.grants_of(username).contains("SELECT ON probe")
    }
}

secret_rotor_testkit::conformance_tests!(fixture());
secret_rotor_testkit::alternating_conformance_tests!(fixture());
