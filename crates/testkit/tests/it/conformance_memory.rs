//! The conformance suite on the reference in-memory target: the suite itself is checked
//! against a target whose behaviour is known, with moto as the Secrets Manager API.

use secret_rotor::Strategy;
use secret_rotor_testkit::conformance::{AlternatingFixture, FaultPath, Fixture, IssuingFixture};
use secret_rotor_testkit::memory_issuer::MemoryIssuer;
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

    /// The same calls as PostgreSQL's: the suite's counts are checked on the reference
    /// target too.
    fn fault_points(&self, strategy: Strategy, path: FaultPath) -> Option<usize> {
        match (strategy, path) {
            (Strategy::SingleUser, FaultPath::Clean) => Some(17),
            (Strategy::SingleUser, FaultPath::FallbackToPrevious) => Some(20),
            (Strategy::AlternatingUsers, FaultPath::Clean) => Some(21),
            (_, FaultPath::LeftoverPending) => Some(5),
            _ => None,
        }
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

/// The issuing cases on the in-memory key-issuing API: one account per case.
struct IssuerFixture(MemoryIssuer);

fn issuer() -> IssuerFixture {
    use std::sync::OnceLock;
    static API: OnceLock<MemoryIssuer> = OnceLock::new();
    IssuerFixture(API.get_or_init(MemoryIssuer::new).clone())
}

impl IssuingFixture for IssuerFixture {
    type Target = MemoryIssuer;

    fn target(&self) -> MemoryIssuer {
        self.0.clone()
    }

    async fn first_secret(&self) -> Value {
        let account = format!("acct-{}", uuid::Uuid::new_v4().simple());
        let (id, key) = self.0.issue(&account, "out of band");
        json!({"account": account, "key_id": id, "api_key": key, "note": "kept"})
    }

    async fn works(&self, secret: &Value) -> bool {
        self.0.works(secret["api_key"].as_str().unwrap_or_default())
    }

    async fn live_keys(&self, secret: &Value) -> Vec<String> {
        self.0.live(secret["account"].as_str().unwrap_or_default())
    }

    fn key_id_field(&self) -> &'static str {
        "key_id"
    }

    fn key_field(&self) -> &'static str {
        "api_key"
    }
}

secret_rotor_testkit::issuing_conformance_tests!(issuer());
