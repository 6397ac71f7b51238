//! The MySQL / MariaDB credential in AWS's secret layout.

use secrecy::SecretString;
use secret_rotor::{Credential, Error, Result, SecretValue};
use secret_rotor_db::{DbSecret, Layout, TlsMode};

/// The engines this target accepts in the secret's `engine` key.
pub const ENGINES: [&str; 3] = ["mysql", "aurora-mysql", "mariadb"];

/// What the MySQL target accepts in a secret.
const LAYOUT: Layout = Layout {
    engines: &ENGINES,
    default_port: 3306,
};

/// The longest user name the server of `engine` takes, in characters: 128 on MariaDB
/// (10.11), 32 on MySQL (5.7 and 8). Without an `engine`, MySQL's limit: a name that fits
/// fits both.
///
/// ```
/// assert_eq!(secret_rotor_mysql::max_username_chars(Some("mariadb")), 128);
/// assert_eq!(secret_rotor_mysql::max_username_chars(None), 32);
/// ```
pub fn max_username_chars(engine: Option<&str>) -> usize {
    match engine {
        Some("mariadb") => 128,
        _ => 32,
    }
}

/// A MySQL / MariaDB login parsed from a secret value:
/// `{"engine", "host", "port", "username", "password", "dbname", "ssl"}` (`dbname`
/// optional; `port` 3306 by default).
#[derive(Debug, Clone)]
pub struct MyCredential {
    /// The user name (the account's host part is read from the server).
    pub username: String,
    /// The password.
    pub password: SecretString,
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// The default database of the session, when the secret names one.
    pub dbname: Option<String>,
    /// TLS or not.
    pub tls: TlsMode,
    /// `engine`, when the secret has one (`mysql`, `aurora-mysql`, `mariadb`).
    pub engine: Option<String>,
}

impl Credential for MyCredential {
    fn username(&self) -> &str {
        &self.username
    }

    fn server(&self) -> String {
        format!("{}:{}", self.host.to_ascii_lowercase(), self.port)
    }
}

impl MyCredential {
    /// Parses and validates a secret value (the core says which version it was in errors).
    pub fn parse(secret: &SecretValue) -> Result<Self> {
        let s = DbSecret::parse(secret, &LAYOUT)?;
        let limit =
            max_username_chars(s.engine.as_deref()).max(max_username_chars(Some("mariadb")));
        if s.username.chars().count() > limit {
            return Err(Error::invalid_secret(format!(
                "\"username\" must be at most {limit} characters"
            )));
        }
        Ok(MyCredential {
            username: s.username,
            password: s.password,
            host: s.host,
            port: s.port,
            dbname: s.dbname,
            tls: s.tls,
            engine: s.engine,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> Result<MyCredential> {
        MyCredential::parse(&SecretValue::from_json(v).unwrap())
    }

    #[test]
    fn aws_layout_with_mysql_defaults() {
        let c =
            parse(json!({"engine": "mariadb", "host": "db", "username": "app", "password": "pw"}))
                .unwrap();
        assert_eq!(
            (c.port, c.dbname.as_deref(), c.tls),
            (3306, None, TlsMode::VerifyFull)
        );
        for engine in ENGINES {
            let v = json!({"engine": engine, "host": "db", "username": "app", "password": "pw", "port": "3307"});
            assert_eq!(parse(v).unwrap().port, 3307);
        }
        let err =
            parse(json!({"engine": "postgres", "host": "db", "username": "app", "password": "pw"}))
                .unwrap_err();
        assert_eq!(err.code(), "InvalidSecret");
        assert!(err.to_string().contains("mysql"), "{err}");
        let long = "u".repeat(129);
        assert!(parse(json!({"host": "db", "username": long, "password": "pw"})).is_err());
    }
}
