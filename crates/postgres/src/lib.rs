//! # secret-rotor-postgres
//!
//! The PostgreSQL target of secret-rotor, a drop-in for AWS's
//! `SecretsManagerRDSPostgreSQLRotationSingleUser` template with its defects fixed:
//!
//! - the new password reaches the server only as a SCRAM-SHA-256 verifier computed
//!   client-side (`ALTER ROLE ... PASSWORD 'SCRAM-SHA-256$...'`): never in clear text, never
//!   in the server's statement log;
//! - identifiers and literals are escaped client-side (quotes, spaces, upper case,
//!   unicode are all fine);
//! - TLS is `verify-full` by default (certificate chain and host name), with a
//!   configurable CA bundle; plain text only when the secret says `"ssl": false`, and never
//!   as a silent fallback;
//! - every connection attempt is bounded by a timeout.
//!
//! Configuration (environment): `TLS_CA_BUNDLE` (PEM file of trusted CAs; default: the
//! system's roots plus RDS's global bundle at `/opt/rds-ca/global-bundle.pem` when the SAM
//! template's layer put it there), `CONNECT_TIMEOUT_SECS` (default 5), plus the core's
//! `ROTATION_STRATEGY` and password variables.
#![deny(clippy::all)]
#![warn(missing_docs, rust_2018_idioms)]

mod alternate;
mod connect;
pub mod credential;
mod privileges;
pub mod tls;

use std::path::PathBuf;
use std::time::Duration;

use postgres_protocol::escape::{escape_identifier, escape_literal};
use postgres_protocol::password::scram_sha_256;
use secrecy::ExposeSecret;
use secret_rotor::{
    AlternateReport, Capabilities, Credential, Error, Login, Result, SecretValue, Strategy, Target,
};
use tokio_postgres::SimpleQueryMessage;
use tokio_postgres_rustls::MakeRustlsConnect;

pub use credential::{PgCredential, TlsMode};

use connect::{Session, chain, login};

/// Characters AWS's PostgreSQL templates leave out of passwords by default.
pub const DEFAULT_EXCLUDE_CHARACTERS: &str = ":/@\"'\\";
/// The advisory lock (`pg_advisory_xact_lock`) under which the alternate-user change
/// runs. PostgreSQL fails concurrent `GRANT`s on one object ("tuple concurrently
/// updated"): scripts that grant on the same objects can take this lock too.
pub const ALTERNATE_SYNC_LOCK: i64 = 0x5345_4352_4f54; // "SECROT"
/// How long a statement may take before the step fails (and is retried).
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(15);

/// How the target connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresConfig {
    /// PEM file of the CAs to trust (`TLS_CA_BUNDLE`); `None`: the system's roots plus
    /// `default_ca_bundle` when it exists.
    pub ca_bundle: Option<PathBuf>,
    /// Added to the system's roots when `ca_bundle` is `None` and the file exists:
    /// [`tls::RDS_CA_BUNDLE`], where the SAM template's layer puts RDS's global bundle.
    pub default_ca_bundle: PathBuf,
    /// Bound on each connection attempt, TLS and authentication included
    /// (`CONNECT_TIMEOUT_SECS`, default 5).
    pub connect_timeout: Duration,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        PostgresConfig {
            ca_bundle: None,
            default_ca_bundle: PathBuf::from(tls::RDS_CA_BUNDLE),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

impl PostgresConfig {
    /// Reads `TLS_CA_BUNDLE` and `CONNECT_TIMEOUT_SECS` through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut config = PostgresConfig::default();
        if let Some(path) = lookup("TLS_CA_BUNDLE").filter(|p| !p.trim().is_empty()) {
            config.ca_bundle = Some(PathBuf::from(path));
        }
        if let Some(secs) = lookup("CONNECT_TIMEOUT_SECS").filter(|s| !s.trim().is_empty()) {
            let secs: f64 = secs
                .trim()
                .parse()
                .ok()
                .filter(|s: &f64| *s > 0.0 && *s <= 300.0)
                .ok_or_else(|| {
                    Error::config("CONNECT_TIMEOUT_SECS must be a number of seconds from 0 to 300")
                })?;
            config.connect_timeout = Duration::from_secs_f64(secs);
        }
        Ok(config)
    }
}

/// The PostgreSQL target.
#[derive(Clone)]
pub struct PostgresTarget {
    tls: MakeRustlsConnect,
    config: PostgresConfig,
}

impl std::fmt::Debug for PostgresTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresTarget")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl PostgresTarget {
    /// A target with this configuration; fails if the CA bundle cannot be loaded.
    pub fn new(config: PostgresConfig) -> Result<Self> {
        let tls = MakeRustlsConnect::new(tls::client_config(
            config.ca_bundle.as_deref(),
            &config.default_ca_bundle,
        )?);
        Ok(PostgresTarget { tls, config })
    }

    /// A target configured from the environment.
    pub fn from_env() -> Result<Self> {
        PostgresTarget::new(PostgresConfig::from_lookup(|k| std::env::var(k).ok())?)
    }

    /// The configuration.
    pub fn config(&self) -> &PostgresConfig {
        &self.config
    }

    async fn session(&self, credential: &PgCredential) -> Result<Session> {
        login(credential, &self.tls, self.config.connect_timeout).await
    }

    async fn run(
        &self,
        client: &tokio_postgres::Client,
        credential: &PgCredential,
        sql: &str,
    ) -> Result<Vec<SimpleQueryMessage>> {
        let server = credential.server();
        match tokio::time::timeout(STATEMENT_TIMEOUT, client.simple_query(sql)).await {
            Err(_) => Err(Error::Target {
                target: server,
                reason: format!(
                    "statement did not finish within {} s",
                    STATEMENT_TIMEOUT.as_secs()
                ),
                retryable: true,
            }),
            Ok(Err(e)) => Err(Error::Target {
                target: server,
                reason: chain(&e),
                retryable: false,
            }),
            Ok(Ok(rows)) => Ok(rows),
        }
    }
}

/// The statement that sets `username`'s password to the SCRAM-SHA-256 verifier of
/// `password`: the clear password is not in it.
///
/// ```
/// let sql = secret_rotor_postgres::alter_role_sql("App \"Owner\"", "s3cret'pw");
/// assert!(sql.starts_with("ALTER ROLE \"App \"\"Owner\"\"\" PASSWORD 'SCRAM-SHA-256$4096:"));
/// assert!(!sql.contains("s3cret"));
/// ```
pub fn alter_role_sql(username: &str, password: &str) -> String {
    format!(
        "ALTER ROLE {} PASSWORD {}",
        escape_identifier(username),
        scram_literal(password)
    )
}

/// The SCRAM-SHA-256 verifier of `password` (new random salt), as an SQL literal.
pub(crate) fn scram_literal(password: &str) -> String {
    escape_literal(&scram_sha_256(password.as_bytes()))
}

impl Target for PostgresTarget {
    type Credential = PgCredential;

    fn name(&self) -> &'static str {
        "postgres"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new(&[Strategy::SingleUser, Strategy::AlternatingUsers])
    }

    fn default_exclude_characters(&self) -> &'static str {
        DEFAULT_EXCLUDE_CHARACTERS
    }

    fn parse_credential(&self, secret: &SecretValue, version: &str) -> Result<PgCredential> {
        PgCredential::parse(secret, version)
    }

    async fn try_login(&self, credential: &PgCredential) -> Result<Login> {
        Ok(match self.session(credential).await?.client() {
            Ok(_) => Login::Accepted,
            Err(refusal) => refusal,
        })
    }

    async fn set_password(&self, login_as: &PgCredential, pending: &PgCredential) -> Result<Login> {
        let client = match self.session(login_as).await?.client() {
            Ok(client) => client,
            Err(refusal) => return Ok(refusal),
        };
        let sql = alter_role_sql(&pending.username, pending.password.expose_secret());
        self.run(&client, login_as, &sql).await?;
        Ok(Login::Accepted)
    }

    async fn verify(&self, pending: &PgCredential) -> Result<Login> {
        let client = match self.session(pending).await?.client() {
            Ok(client) => client,
            Err(refusal) => return Ok(refusal),
        };
        let rows = self.run(&client, pending, "SELECT current_user").await?;
        let user = rows.iter().find_map(|m| match m {
            SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
            _ => None,
        });
        if user.as_deref() != Some(pending.username.as_str()) {
            return Err(Error::Target {
                target: pending.server(),
                reason: format!(
                    "logged in as {:?} but the secret names {:?}",
                    user.unwrap_or_default(),
                    pending.username
                ),
                retryable: false,
            });
        }
        Ok(Login::Accepted)
    }

    fn alternate_username(&self, username: &str) -> Result<String> {
        let alternate = secret_rotor::target::alternate_of(username);
        if alternate.len() > credential::MAX_IDENTIFIER_BYTES {
            return Err(Error::invalid_secret(
                "AWSCURRENT",
                format!(
                    "the alternate user name would be {} bytes; PostgreSQL allows {}: shorten \"username\"",
                    alternate.len(),
                    credential::MAX_IDENTIFIER_BYTES
                ),
            ));
        }
        Ok(alternate)
    }

    async fn sync_alternate(
        &self,
        master: &PgCredential,
        current: &PgCredential,
        pending: &PgCredential,
    ) -> Result<AlternateReport> {
        let mut client = match self.session(master).await? {
            Session::Connected(client) => client,
            Session::Refused { reason } => {
                return Err(Error::LoginRefused {
                    target: master.server(),
                    credential: "master secret".into(),
                    reason,
                });
            }
        };
        alternate::sync_within_timeout(&mut client, master, current, pending).await
    }
}
