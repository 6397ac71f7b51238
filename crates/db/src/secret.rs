//! AWS's secret layout for databases, shared by the database targets.

use secrecy::{ExposeSecret, SecretString};
use secret_rotor::{Credential, Error, Result, SecretValue};
use serde_json::Value;

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// TLS with the server certificate verified against the trusted CAs and the host name
    /// (libpq's `verify-full`, MySQL's `VERIFY_IDENTITY`). The default.
    VerifyFull,
    /// Plain text, only when the secret says `"ssl": false`.
    Disabled,
}

/// What a database target accepts in a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// The values of `engine` this target handles (`engine` itself is optional).
    pub engines: &'static [&'static str],
    /// The port when the secret has none.
    pub default_port: u16,
}

/// A database login in AWS's layout:
/// `{"engine", "host", "port", "username", "password", "dbname", "ssl"}`.
///
/// ```
/// use secret_rotor::SecretValue;
/// use secret_rotor_db::{DbSecret, Layout, TlsMode};
///
/// const MYSQL: Layout = Layout { engines: &["mysql", "mariadb"], default_port: 3306 };
/// let v = SecretValue::from_json(serde_json::json!({
///     "engine": "mariadb", "host": "db", "port": "3307", "username": "app", "password": "pw"
/// }))?;
/// let s = DbSecret::parse(&v, &MYSQL)?;
/// assert_eq!((s.port, s.tls, s.dbname.as_deref()), (3307, TlsMode::VerifyFull, None));
/// # Ok::<(), secret_rotor::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct DbSecret {
    /// `engine`, when the secret has one (one of the layout's engines).
    pub engine: Option<String>,
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// The user name (not empty, no NUL).
    pub username: String,
    /// The password (not empty).
    pub password: SecretString,
    /// `dbname`, when the secret has one.
    pub dbname: Option<String>,
    /// TLS or not (`ssl`: `true` by default; only an explicit `false` allows plain text).
    pub tls: TlsMode,
}

impl DbSecret {
    /// Parses and validates a secret value against `layout`. Errors are
    /// `InvalidSecret`, name the key, and never quote the password.
    pub fn parse(secret: &SecretValue, layout: &Layout) -> Result<Self> {
        let engine = match secret.get("engine") {
            None | Some(Value::Null) => None,
            Some(engine) => {
                let engine = engine.as_str().unwrap_or_default();
                if !layout.engines.contains(&engine) {
                    return Err(Error::invalid_secret(format!(
                        "\"engine\" is {engine:?}; this rotation function handles {}",
                        layout.engines.join(", ")
                    )));
                }
                Some(engine.to_owned())
            }
        };
        let host = required(secret, "host")?;
        let username = required(secret, "username")?;
        if username.contains('\0') {
            return Err(Error::invalid_secret(
                "\"username\" must not hold NUL characters",
            ));
        }
        let password = secret
            .password()
            .ok_or_else(|| Error::invalid_secret("missing \"password\""))?;
        if password.expose_secret().is_empty() {
            return Err(Error::invalid_secret("\"password\" is empty"));
        }
        let port = match secret.get("port") {
            None | Some(Value::Null) => layout.default_port,
            Some(Value::Number(n)) => n.as_u64().and_then(|p| u16::try_from(p).ok()).unwrap_or(0),
            Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
            Some(_) => 0,
        };
        if port == 0 {
            return Err(Error::invalid_secret(
                "\"port\" must be a number from 1 to 65535",
            ));
        }
        let dbname = match secret.get("dbname") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(_) => {
                return Err(Error::invalid_secret(
                    "\"dbname\" must be a non-empty string",
                ));
            }
        };
        let tls = match secret.get("ssl") {
            None | Some(Value::Null) | Some(Value::Bool(true)) => TlsMode::VerifyFull,
            Some(Value::Bool(false)) => TlsMode::Disabled,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => TlsMode::VerifyFull,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => TlsMode::Disabled,
            Some(_) => return Err(Error::invalid_secret("\"ssl\" must be true or false")),
        };
        Ok(DbSecret {
            engine,
            host,
            port,
            username,
            password: password.clone(),
            dbname,
            tls,
        })
    }

    /// `host:port` with the host in lower case: two secrets for the same server compare
    /// equal (the core's guards use it).
    pub fn server(&self) -> String {
        format!("{}:{}", self.host.to_ascii_lowercase(), self.port)
    }
}

/// A target whose credential is the secret as it is (Redis) uses `DbSecret` directly.
impl Credential for DbSecret {
    fn username(&self) -> &str {
        &self.username
    }

    fn server(&self) -> String {
        DbSecret::server(self)
    }
}

fn required(secret: &SecretValue, key: &str) -> Result<String> {
    match secret.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err(Error::invalid_secret(format!("\"{key}\" is empty"))),
        Some(_) => Err(Error::invalid_secret(format!("\"{key}\" must be a string"))),
        None => Err(Error::invalid_secret(format!("missing \"{key}\""))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LAYOUT: Layout = Layout {
        engines: &["postgres", "aurora-postgresql"],
        default_port: 5432,
    };

    fn parse(v: Value) -> Result<DbSecret> {
        DbSecret::parse(&SecretValue::from_json(v).unwrap(), &LAYOUT)
    }

    fn base() -> Value {
        json!({"engine": "postgres", "host": "DB.example.com", "username": "app", "password": "pw"})
    }

    #[test]
    fn defaults_and_aws_variants() {
        let s = parse(base()).unwrap();
        assert_eq!(
            (s.port, s.dbname.as_deref(), s.tls),
            (5432, None, TlsMode::VerifyFull)
        );
        assert_eq!(s.server(), "db.example.com:5432");
        let mut v = base();
        v["port"] = "6543".into();
        v["ssl"] = "FALSE".into();
        v["engine"] = "aurora-postgresql".into();
        let s = parse(v).unwrap();
        assert_eq!((s.port, s.tls), (6543, TlsMode::Disabled));
        let mut v = base();
        v.as_object_mut().unwrap().remove("engine");
        assert!(
            parse(v).unwrap().engine.is_none(),
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
            ("username", json!("a\u{0}b")),
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
