//! [`PostgresTarget`]: the [`Target`] implementation.

use std::time::Duration;

use secrecy::ExposeSecret;
use secret_rotor::{
    AlternateReport, Capabilities, Credential, Error, Login, Result, SecretValue, SecretVersion,
    Strategy, Target, TargetInfo,
};
use tokio_postgres::SimpleQueryMessage;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::alternate;
use crate::config::PostgresConfig;
use crate::connect::{Session, driver_error, login};
use crate::credential::{MAX_IDENTIFIER_BYTES, PgCredential};
use crate::sql::alter_role_sql;
use crate::tls;

/// Characters AWS's PostgreSQL templates leave out of passwords by default.
pub const DEFAULT_EXCLUDE_CHARACTERS: &str = ":/@\"'\\";

/// What the PostgreSQL target is and supports.
const INFO: TargetInfo = TargetInfo::new(
    "postgres",
    Capabilities::new(&[Strategy::SingleUser, Strategy::AlternatingUsers]),
)
.with_default_exclude_characters(DEFAULT_EXCLUDE_CHARACTERS);

/// How long a statement may take before the step fails (and is retried).
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(15);

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
                source: None,
            }),
            Ok(Err(e)) => Err(driver_error(server, "statement failed", e, false)),
            Ok(Ok(rows)) => Ok(rows),
        }
    }
}

impl Target for PostgresTarget {
    type Credential = PgCredential;

    fn info(&self) -> TargetInfo {
        INFO
    }

    fn parse_credential(&self, secret: &SecretValue) -> Result<PgCredential> {
        PgCredential::parse(secret)
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
                source: None,
            });
        }
        Ok(Login::Accepted)
    }

    fn alternate_username(&self, username: &str) -> Result<String> {
        let alternate = secret_rotor::target::alternate_of(username);
        if alternate.len() > MAX_IDENTIFIER_BYTES {
            return Err(Error::invalid_secret(format!(
                "the alternate user name would be {} bytes; PostgreSQL allows {MAX_IDENTIFIER_BYTES}: shorten \"username\"",
                alternate.len(),
            )));
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
                    credential: SecretVersion::Master,
                    reason,
                });
            }
        };
        alternate::sync_within_timeout(&mut client, master, current, pending).await
    }
}
