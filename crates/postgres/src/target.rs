//! [`PostgresTarget`]: the [`Target`] implementation.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use secrecy::ExposeSecret;
use secret_rotor::{
    AlternateContext, AlternateReport, Capabilities, Credential, Error, Login, Result, SecretValue,
    SecretVersion, Strategy, Target, TargetInfo,
};
use tokio_postgres::SimpleQueryMessage;
use tokio_postgres_rustls::MakeRustlsConnect;

use secret_rotor::inspect::CertificateInfo;
use secret_rotor_db::probe::{self, StartTls};
use secret_rotor_db::{DbConfig, TlsMode, TrustedCas};

use crate::alternate::{self, Mode};
use crate::connect::{Session, driver_error, login};
use crate::credential::{MAX_IDENTIFIER_BYTES, PgCredential};
use crate::sql::alter_role_sql;

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
/// The first PostgreSQL version that takes a SCRAM-SHA-256 verifier as a password (10).
const MIN_SERVER_VERSION_NUM: u32 = 100_000;

/// The PostgreSQL target.
#[derive(Clone)]
pub struct PostgresTarget {
    /// Built on the first TLS login (from [`TrustedCas`], which loads the system's roots
    /// then), shared by clones.
    tls: Arc<OnceLock<MakeRustlsConnect>>,
    cas: TrustedCas,
    config: DbConfig,
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
    pub fn new(config: DbConfig) -> Result<Self> {
        let cas = TrustedCas::load(&config)?;
        let tls = Arc::default();
        Ok(PostgresTarget { tls, cas, config })
    }

    /// The TLS connector, built once.
    fn connector(&self) -> Result<&MakeRustlsConnect> {
        if let Some(connector) = self.tls.get() {
            return Ok(connector);
        }
        let connector = MakeRustlsConnect::new(self.cas.client_config()?);
        Ok(self.tls.get_or_init(|| connector))
    }

    /// A target configured from the environment.
    pub fn from_env() -> Result<Self> {
        PostgresTarget::new(DbConfig::from_env()?)
    }

    /// The configuration.
    pub fn config(&self) -> &DbConfig {
        &self.config
    }

    /// As the master, in the current user's database: [`alternate::sync_within_timeout`].
    async fn alternate(
        &self,
        master: &PgCredential,
        current: &PgCredential,
        pending: &PgCredential,
        context: AlternateContext,
        mode: Mode,
    ) -> Result<AlternateReport> {
        let master = &PgCredential {
            dbname: current.dbname.clone(),
            ..master.clone()
        };
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
        self.check_server_version(&client, master).await?;
        let parity = context.parity;
        alternate::sync_within_timeout(&mut client, master, current, pending, parity, mode).await
    }

    async fn session(&self, credential: &PgCredential) -> Result<Session> {
        let tls = match credential.tls {
            TlsMode::VerifyFull => Some(self.connector()?),
            TlsMode::Disabled => None,
        };
        login(credential, tls, self.config.connect_timeout).await
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

    /// Refuses a server older than PostgreSQL 10, which would store the SCRAM verifier as
    /// a plain password: nobody could log in with the new password.
    async fn check_server_version(
        &self,
        client: &tokio_postgres::Client,
        credential: &PgCredential,
    ) -> Result<()> {
        let rows = self
            .run(client, credential, "SHOW server_version_num")
            .await?;
        let version = first_value(&rows).and_then(|v| v.parse::<u32>().ok());
        match version {
            Some(v) if v >= MIN_SERVER_VERSION_NUM => Ok(()),
            other => Err(Error::UnsupportedServer {
                target: credential.server(),
                reason: format!(
                    "server_version_num is {}; secret-rotor sets SCRAM-SHA-256 verifiers, which \
                     PostgreSQL takes from version 10",
                    other
                        .map(|v| v.to_string())
                        .unwrap_or_else(|| "unknown".into())
                ),
            }),
        }
    }
}

/// The first column of the first row of a simple query's answer.
fn first_value(rows: &[SimpleQueryMessage]) -> Option<&str> {
    rows.iter().find_map(|m| match m {
        SimpleQueryMessage::Row(row) => row.get(0),
        _ => None,
    })
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

    /// Logs in as `login_as`, sets the verifier of pending's password, then proves a fresh
    /// login with it while the first session is still open: if the server refuses it, the
    /// password `login_as` logged in with is put back in that session (no lockout).
    async fn set_password(&self, login_as: &PgCredential, pending: &PgCredential) -> Result<Login> {
        let client = match self.session(login_as).await?.client() {
            Ok(client) => client,
            Err(refusal) => return Ok(refusal),
        };
        self.check_server_version(&client, login_as).await?;
        let sql = alter_role_sql(&pending.username, pending.password.expose_secret());
        self.run(&client, login_as, &sql).await?;
        match self.session(pending).await {
            Ok(Session::Connected(_)) => Ok(Login::Accepted),
            Ok(Session::Refused { reason }) => {
                let back = alter_role_sql(&pending.username, login_as.password.expose_secret());
                self.run(&client, login_as, &back).await?;
                Err(Error::PasswordNotTaken {
                    target: pending.server(),
                    user: pending.username.clone(),
                    reason,
                })
            }
            Err(error) => {
                // The change is made; whether it works is proven by testSecret and
                // finishSecret (which retries a transient failure).
                tracing::warn!(
                    user = %pending.username,
                    code = error.code(),
                    error = %error.display_chain(),
                    "could not log in with the new password right after setting it"
                );
                Ok(Login::Accepted)
            }
        }
    }

    async fn verify(&self, pending: &PgCredential) -> Result<Login> {
        let client = match self.session(pending).await?.client() {
            Ok(client) => client,
            Err(refusal) => return Ok(refusal),
        };
        let rows = self.run(&client, pending, "SELECT current_user").await?;
        let user = first_value(&rows).map(str::to_owned);
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

    fn alternate_username(&self, current: &PgCredential) -> Result<String> {
        let alternate = secret_rotor::target::alternate_of(&current.username);
        if alternate.len() > MAX_IDENTIFIER_BYTES {
            return Err(Error::invalid_secret(format!(
                "the alternate user name would be {} bytes; PostgreSQL allows {MAX_IDENTIFIER_BYTES}: shorten \"username\"",
                alternate.len(),
            )));
        }
        Ok(alternate)
    }

    /// As the master, connected to the user's database (the catalogs compared are per
    /// database), whatever database the master's own secret names.
    async fn sync_alternate(
        &self,
        master: &PgCredential,
        current: &PgCredential,
        pending: &PgCredential,
        context: AlternateContext,
    ) -> Result<AlternateReport> {
        self.alternate(master, current, pending, context, Mode::Apply)
            .await
    }

    /// The same transaction as setSecret's, rolled back (no password set).
    async fn preview_alternate(
        &self,
        master: &PgCredential,
        current: &PgCredential,
        pending_user: &str,
        context: AlternateContext,
    ) -> Result<Option<AlternateReport>> {
        let pending = PgCredential {
            username: pending_user.to_owned(),
            ..current.clone()
        };
        (self
            .alternate(master, current, &pending, context, Mode::Preview)
            .await)
            .map(Some)
    }

    async fn certificate(&self, c: &PgCredential) -> Result<Option<CertificateInfo>> {
        let server = (c.host.as_str(), c.port, c.tls);
        probe::certificate_for(&self.config, &self.cas, server, StartTls::Postgres).await
    }
}
