//! The PostgreSQL credential in AWS's secret layout.

use secrecy::SecretString;
use secret_rotor::{Credential, Error, Result, SecretValue};
use secret_rotor_db::{DbSecret, Layout, TlsMode};

/// PostgreSQL's longest identifier, in bytes (`NAMEDATALEN - 1`); longer names are
/// silently truncated by the server, so they are refused here.
pub const MAX_IDENTIFIER_BYTES: usize = 63;
/// The engines this target accepts in the secret's `engine` key.
pub const ENGINES: [&str; 2] = ["postgres", "aurora-postgresql"];

/// A PostgreSQL login parsed from a secret value (AWS's layout, [`DbSecret`]):
/// `{"engine", "host", "port", "username", "password", "dbname", "ssl"}`.
#[derive(Debug, Clone)]
pub struct PgCredential {
    /// The role name.
    pub username: String,
    /// The password.
    pub password: SecretString,
    /// Host name or IP address.
    pub host: String,
    /// TCP port (default 5432).
    pub port: u16,
    /// Database to connect to (default `postgres`).
    pub dbname: String,
    /// TLS or not.
    pub tls: TlsMode,
}

impl Credential for PgCredential {
    fn username(&self) -> &str {
        &self.username
    }

    fn server(&self) -> String {
        format!("{}:{}", self.host.to_ascii_lowercase(), self.port)
    }
}

/// What the PostgreSQL target accepts in a secret.
const LAYOUT: Layout = Layout {
    engines: &ENGINES,
    default_port: 5432,
};

impl PgCredential {
    /// Parses and validates a secret value (the core says which version it was in errors).
    pub fn parse(secret: &SecretValue) -> Result<Self> {
        let s = DbSecret::parse(secret, &LAYOUT)?;
        if s.username.len() > MAX_IDENTIFIER_BYTES {
            return Err(Error::invalid_secret(format!(
                "\"username\" must be at most {MAX_IDENTIFIER_BYTES} bytes"
            )));
        }
        Ok(PgCredential {
            username: s.username,
            password: s.password,
            host: s.host,
            port: s.port,
            dbname: s.dbname.unwrap_or_else(|| "postgres".to_owned()),
            tls: s.tls,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use serde_json::Value;

    fn parse(v: Value) -> Result<PgCredential> {
        PgCredential::parse(&SecretValue::from_json(v).unwrap())
    }

    fn base() -> Value {
        json!({"engine": "postgres", "host": "DB.example.com", "username": "app", "password": "pw"})
    }

    #[test]
    fn defaults_and_aws_variants() {
        let c = parse(base()).unwrap();
        assert_eq!(
            (c.port, c.dbname.as_str(), c.tls),
            (5432, "postgres", TlsMode::VerifyFull)
        );
        assert_eq!(c.server(), "db.example.com:5432");
        let mut v = base();
        v["port"] = "6543".into();
        v["ssl"] = "FALSE".into();
        v["engine"] = "aurora-postgresql".into();
        let c = parse(v).unwrap();
        assert_eq!((c.port, c.tls), (6543, TlsMode::Disabled));
        let mut v = base();
        v.as_object_mut().unwrap().remove("engine");
        assert!(
            parse(v).is_ok(),
            "engine is optional, as in AWS's templates"
        );
    }

    #[test]
    fn postgres_rules_on_top_of_the_shared_layout() {
        // The layout itself (host, port, ssl, dbname, password) is secret-rotor-db's, tested
        // there; PostgreSQL adds its engines and its 63-byte identifier limit.
        for (key, value) in [
            ("engine", json!("mysql")),
            ("username", json!("x".repeat(64))),
        ] {
            let mut v = base();
            v[key] = value;
            let err = parse(v).unwrap_err();
            assert_eq!(err.code(), "InvalidSecret", "{key}");
            assert!(err.to_string().contains(key), "{err}");
        }
    }
}
