//! [`MysqlTarget`]: the [`Target`] implementation.

use mysql_async::prelude::Queryable;
use secrecy::ExposeSecret;
use secret_rotor::inspect::CertificateInfo;
use secret_rotor::{
    AlternateContext, AlternateReport, Capabilities, Credential, Error, Login, Result, SecretValue,
    Strategy, Target, TargetInfo,
};
use secret_rotor_db::probe::{self, StartTls};
use secret_rotor_db::{DbConfig, TrustedCas};

use crate::account::SessionFacts;
use crate::alternate;
use crate::connect::{Session, close, login, run_secret_statement, statement_error};
use crate::credential::{MyCredential, max_username_chars};
use crate::password::{Plugin, set_own_password};

/// Characters AWS's MySQL and MariaDB templates leave out of passwords by default.
pub const DEFAULT_EXCLUDE_CHARACTERS: &str = "/@\"'\\";

/// What the MySQL target is and supports.
const INFO: TargetInfo = TargetInfo::new(
    "mysql",
    Capabilities::new(&[Strategy::SingleUser, Strategy::AlternatingUsers]),
)
.with_default_exclude_characters(DEFAULT_EXCLUDE_CHARACTERS);

/// The MySQL / MariaDB target.
#[derive(Debug, Clone)]
pub struct MysqlTarget {
    cas: TrustedCas,
    config: DbConfig,
}

impl MysqlTarget {
    /// A target with this configuration; fails if the CA bundle cannot be loaded.
    pub fn new(config: DbConfig) -> Result<Self> {
        // The driver builds its TLS configuration with rustls's process-wide provider.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        Ok(MysqlTarget {
            cas: TrustedCas::load(&config)?,
            config,
        })
    }

    /// A target configured from the environment.
    pub fn from_env() -> Result<Self> {
        MysqlTarget::new(DbConfig::from_env()?)
    }

    /// The configuration.
    pub fn config(&self) -> &DbConfig {
        &self.config
    }

    pub(crate) async fn session(&self, credential: &MyCredential) -> Result<Session> {
        login(credential, &self.cas, self.config.connect_timeout).await
    }
}

impl Target for MysqlTarget {
    type Credential = MyCredential;

    fn info(&self) -> TargetInfo {
        INFO
    }

    fn parse_credential(&self, secret: &SecretValue) -> Result<MyCredential> {
        MyCredential::parse(secret)
    }

    async fn try_login(&self, credential: &MyCredential) -> Result<Login> {
        match self.session(credential).await?.conn() {
            Ok(conn) => {
                close(conn).await;
                Ok(Login::Accepted)
            }
            Err(refusal) => Ok(refusal),
        }
    }

    /// Logs in as `login_as`, reads its account (`CURRENT_USER()`) and plugin, sets the
    /// pending password with the server's own statement, then proves a fresh login with it
    /// while the first session is still open: if the server refuses it, the password
    /// `login_as` logged in with is put back in that session.
    async fn set_password(&self, login_as: &MyCredential, pending: &MyCredential) -> Result<Login> {
        let server = login_as.server();
        let mut conn = match self.session(login_as).await?.conn() {
            Ok(conn) => conn,
            Err(refusal) => return Ok(refusal),
        };
        let facts = SessionFacts::read(&mut conn, &server).await?;
        if facts.account.user != pending.username {
            close(conn).await;
            return Err(Error::CredentialMismatch {
                reason: format!(
                    "the server logged {:?} in as {:?}",
                    login_as.username, facts.account.user
                ),
            });
        }
        let create: Option<String> = conn
            .query_first("SHOW CREATE USER CURRENT_USER()")
            .await
            .map_err(|e| statement_error(&server, "SHOW CREATE USER CURRENT_USER()", e))?;
        let plugin = Plugin::of_create_user(create.as_deref().unwrap_or_default());
        let sql = set_own_password(
            &facts.account,
            &facts,
            plugin,
            pending.password.expose_secret(),
        );
        run_secret_statement(&mut conn, &server, "setting the password", sql).await?;
        let result = match self.session(pending).await {
            Ok(Session::Connected(fresh)) => {
                close(fresh).await;
                Ok(Login::Accepted)
            }
            Ok(Session::Refused(refusal)) => {
                let back = set_own_password(
                    &facts.account,
                    &facts,
                    plugin,
                    login_as.password.expose_secret(),
                );
                run_secret_statement(&mut conn, &server, "putting the old password back", back)
                    .await?;
                Err(Error::PasswordNotTaken {
                    target: pending.server(),
                    user: pending.username.clone(),
                    reason: refusal.reason,
                })
            }
            Err(error) => {
                // The change is made; testSecret and finishSecret prove it.
                tracing::warn!(
                    user = %pending.username,
                    code = error.code(),
                    error = %error.display_chain(),
                    "could not log in with the new password right after setting it"
                );
                Ok(Login::Accepted)
            }
        };
        close(conn).await;
        result
    }

    /// testSecret: logs in with the pending credential and checks that the server took it
    /// for the secret's user (`CURRENT_USER()`).
    async fn verify(&self, pending: &MyCredential) -> Result<Login> {
        let server = pending.server();
        let mut conn = match self.session(pending).await?.conn() {
            Ok(conn) => conn,
            Err(refusal) => return Ok(refusal),
        };
        let facts = SessionFacts::read(&mut conn, &server).await;
        close(conn).await;
        let facts = facts?;
        if facts.account.user != pending.username {
            return Err(Error::Target {
                target: server,
                reason: format!(
                    "logged in as {:?} but the secret names {:?}",
                    facts.account.user, pending.username
                ),
                retryable: false,
                source: None,
            });
        }
        Ok(Login::Accepted)
    }

    /// `<user>_clone`, refused before anything is written when the user-name limit of the
    /// secret's `engine` (MariaDB 128 characters, MySQL 32) would not take it.
    fn alternate_username(&self, current: &MyCredential) -> Result<String> {
        let alternate = secret_rotor::target::alternate_of(&current.username);
        let limit = max_username_chars(current.engine.as_deref());
        if alternate.chars().count() > limit {
            return Err(Error::invalid_secret(format!(
                "the alternate user name would be {} characters; {} allows {limit}: shorten \
                 \"username\" (or say \"engine\": \"mariadb\" for MariaDB's limit)",
                alternate.chars().count(),
                current.engine.as_deref().unwrap_or("MySQL")
            )));
        }
        Ok(alternate)
    }

    async fn sync_alternate(
        &self,
        master: &MyCredential,
        current: &MyCredential,
        pending: &MyCredential,
        context: AlternateContext,
    ) -> Result<AlternateReport> {
        alternate::sync(self, master, current, pending, context).await
    }

    /// Read only: the grants and options setSecret would copy (MySQL account statements
    /// are not transactional, so nothing is tried).
    async fn preview_alternate(
        &self,
        master: &MyCredential,
        current: &MyCredential,
        pending_user: &str,
        context: AlternateContext,
    ) -> Result<Option<AlternateReport>> {
        alternate::preview(self, master, current, pending_user, context)
            .await
            .map(Some)
    }

    async fn certificate(&self, c: &MyCredential) -> Result<Option<CertificateInfo>> {
        let server = (c.host.as_str(), c.port, c.tls);
        probe::certificate_for(&self.config, &self.cas, server, StartTls::Mysql).await
    }
}
