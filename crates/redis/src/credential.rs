//! The secret, parsed: AWS's database layout, through `secret-rotor-db`.

use secret_rotor::{Credential, Result, SecretValue};
use secret_rotor_db::{DbSecret, Layout};

const LAYOUT: Layout = Layout {
    engines: &["redis"],
    default_port: 6379,
};

/// One Redis ACL user's login (`host`, `port`, `username`, `password`, `ssl`).
#[derive(Debug, Clone)]
pub struct RedisCredential(pub(crate) DbSecret);

impl RedisCredential {
    /// Parses a secret value (`InvalidSecret` naming the key, never the password).
    pub fn parse(secret: &SecretValue) -> Result<Self> {
        DbSecret::parse(secret, &LAYOUT).map(RedisCredential)
    }
}

impl Credential for RedisCredential {
    fn username(&self) -> &str {
        &self.0.username
    }

    fn server(&self) -> String {
        self.0.server()
    }
}
