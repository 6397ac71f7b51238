//! The conformance suite on the reference in-memory target: the suite itself is checked
//! against a target whose behaviour is known, with moto as the Secrets Manager API.

use secret_rotor_testkit::conformance::Fixture;
use secret_rotor_testkit::memory_target::MemoryTarget;
use serde_json::{Value, json};

/// The in-memory "server" every case of this binary shares.
fn fixture() -> MemoryFixture {
    use std::sync::OnceLock;
    static SERVER: OnceLock<MemoryTarget> = OnceLock::new();
    MemoryFixture(SERVER.get_or_init(MemoryTarget::new).clone())
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

secret_rotor_testkit::conformance_tests!(fixture());
