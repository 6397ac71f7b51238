//! The PostgreSQL credential in AWS's secret layout.

use secrecy::SecretString;
use secret_rotor::{Credential, Error, Result, SecretValue};
use serde_json::Value;

/// PostgreSQL's longest identifier, in bytes (`NAMEDATALEN - 1`); longer names are
/// silently truncated by the server, so they are refused here.
pub const MAX_IDENTIFIER_BYTES: usize = 63;
/// The engines this target accepts in the secret's `engine` key.
pub const ENGINES: [&str; 2] = ["postgres", "aurora-postgresql"];

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// TLS with the server certificate verified against the CA bundle and the host name
    /// (libpq's `verify-full`). The default.
    VerifyFull,
    /// Plain text, only when the secret says `"ssl": false`.
    Disabled,
}

/// A PostgreSQL login parsed from a secret value:
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

impl PgCredential {
    /// Parses and validates a secret value (the core says which version it was in errors).
    pub fn parse(secret: &SecretValue) -> Result<Self> {
        let invalid = Error::invalid_secret;
        if let Some(engine) = secret.get("engine") {
            let engine = engine.as_str().unwrap_or_default();
            if !ENGINES.contains(&engine) {
                return Err(invalid(format!(
                    "\"engine\" is {engine:?}; this rotation function handles {}",
                    ENGINES.join(" or ")
                )));
            }
        }
        let host = required(secret, "host").map_err(invalid)?;
        let username = required(secret, "username").map_err(invalid)?;
        if username.len() > MAX_IDENTIFIER_BYTES || username.contains('\0') {
            return Err(invalid(format!(
                "\"username\" must be at most {MAX_IDENTIFIER_BYTES} bytes without NUL characters"
            )));
        }
        let password = secret
            .password()
            .ok_or_else(|| invalid("missing \"password\"".into()))?;
        if secrecy::ExposeSecret::expose_secret(password).is_empty() {
            return Err(invalid("\"password\" is empty".into()));
        }
        let port = match secret.get("port") {
            None | Some(Value::Null) => 5432,
            Some(Value::Number(n)) => n.as_u64().and_then(|p| u16::try_from(p).ok()).unwrap_or(0),
            Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
            Some(_) => 0,
        };
        if port == 0 {
            return Err(invalid("\"port\" must be a number from 1 to 65535".into()));
        }
        let dbname = match secret.get("dbname") {
            None | Some(Value::Null) => "postgres".to_owned(),
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(_) => return Err(invalid("\"dbname\" must be a non-empty string".into())),
        };
        let tls = match secret.get("ssl") {
            None | Some(Value::Null) | Some(Value::Bool(true)) => TlsMode::VerifyFull,
            Some(Value::Bool(false)) => TlsMode::Disabled,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => TlsMode::VerifyFull,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => TlsMode::Disabled,
            Some(_) => return Err(invalid("\"ssl\" must be true or false".into())),
        };
        Ok(PgCredential {
            username,
            password: password.clone(),
            host,
            port,
            dbname,
            tls,
        })
    }
}

fn required(secret: &SecretValue, key: &str) -> std::result::Result<String, String> {
    match secret.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err(format!("\"{key}\" is empty")),
        Some(_) => Err(format!("\"{key}\" must be a string")),
        None => Err(format!("missing \"{key}\"")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
    fn invalid_values_are_named_without_the_password() {
        for (key, value) in [
            ("engine", json!("mysql")),
            ("host", json!("")),
            ("port", json!(70000)),
            ("port", json!("http")),
            ("ssl", json!("maybe")),
            ("username", json!("x".repeat(64))),
            ("dbname", json!(5)),
            ("password", json!("")),
        ] {
            let mut v = base();
            v[key] = value;
            let err = parse(v).unwrap_err();
            assert_eq!(err.code(), "InvalidSecret", "{key}");
            assert!(err.to_string().contains(key), "{err}");
        }
        let mut v = base();
        v.as_object_mut().unwrap().remove("host");
        assert!(
            parse(v)
                .unwrap_err()
                .to_string()
                .contains("missing \"host\"")
        );
    }
}
