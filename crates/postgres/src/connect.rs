//! Logging in: one connection per attempt, bounded by the connect timeout, with driver
//! errors sorted into refusals (the server said no) and failures (could not ask).

use std::time::Duration;

use secrecy::ExposeSecret;
use secret_rotor::{DisplayChain, Error, Login, Result};
use secret_rotor_db::failure;
use tokio_postgres::error::SqlState;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{Client, NoTls, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;
use tracing::debug;

use crate::credential::PgCredential;

/// A login attempt's result: a connected client, or the server's reason for refusing.
pub(crate) enum Session {
    Connected(Client),
    Refused { reason: String },
}

impl Session {
    /// The client, or the refusal as a [`Login`].
    pub(crate) fn client(self) -> std::result::Result<Client, Login> {
        match self {
            Session::Connected(client) => Ok(client),
            Session::Refused { reason } => Err(Login::Refused { reason }),
        }
    }
}

pub(crate) async fn login(
    credential: &PgCredential,
    tls: Option<&MakeRustlsConnect>,
    timeout: Duration,
) -> Result<Session> {
    let mut config = tokio_postgres::Config::new();
    config
        .host(&credential.host)
        .port(credential.port)
        .user(&credential.username)
        .password(credential.password.expose_secret())
        .dbname(&credential.dbname)
        .application_name("secret-rotor")
        .connect_timeout(timeout);
    let attempt = async {
        match tls {
            Some(tls) => {
                config.ssl_mode(tokio_postgres::config::SslMode::Require);
                connect_with(&config, tls.clone()).await
            }
            None => {
                config.ssl_mode(tokio_postgres::config::SslMode::Disable);
                connect_with(&config, NoTls).await
            }
        }
    };
    let server = format!("{}:{}", credential.host, credential.port);
    failure::within(timeout, &server, async {
        match attempt.await {
            Ok(client) => Ok(Session::Connected(client)),
            Err(e) => classify(e, server.clone()).map(|reason| Session::Refused { reason }),
        }
    })
    .await
}

async fn connect_with<T>(
    config: &tokio_postgres::Config,
    tls: T,
) -> std::result::Result<Client, tokio_postgres::Error>
where
    T: MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
{
    let (client, connection) = config.connect(tls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            debug!(error = %DisplayChain::of(&e), "postgres connection closed with an error");
        }
    });
    Ok(client)
}

/// A failed statement or session as an [`Error::Target`], keeping the driver's error as
/// the source; `what` says what failed, with the SQLSTATE when the server gave one. A
/// connection lost in the middle (reset, closed) is retryable whatever the caller says:
/// nothing proves the server refused anything.
pub(crate) fn driver_error(
    server: String,
    what: &str,
    e: tokio_postgres::Error,
    retryable: bool,
) -> Error {
    let (reason, lost) = match e.code() {
        Some(code) => (format!("{what} (SQLSTATE {})", code.code()), false),
        None if e.is_closed() || failure::is_connection_lost(&e) => {
            (format!("{what} (connection lost)"), true)
        }
        None => (what.to_owned(), false),
    };
    let retryable = retryable || lost;
    Error::Target {
        target: server,
        reason,
        retryable,
        source: Some(Box::new(e)),
    }
}

/// A short reason for reports (which hold text, not errors): the server's message and
/// SQLSTATE, or the driver's chain.
pub(crate) fn reason(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => DisplayChain::of(e).to_string(),
    }
}

/// Sorts a failed login: a refusal of the credential is `Ok(reason)`; anything else is an
/// error with the right code, keeping the driver's error as its source.
fn classify(e: tokio_postgres::Error, server: String) -> Result<String> {
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        if *code == SqlState::INVALID_PASSWORD
            || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
        {
            return Ok(db.message().to_owned());
        }
        let retryable = *code == SqlState::TOO_MANY_CONNECTIONS
            || *code == SqlState::CANNOT_CONNECT_NOW
            || code.code().starts_with("08");
        return Err(driver_error(server, "login failed", e, retryable));
    }
    let kind = e.to_string();
    if kind.starts_with("error performing TLS handshake") {
        if DisplayChain::of(&e)
            .to_string()
            .contains("server does not support TLS")
        {
            return Err(failure::no_tls(server, e));
        }
        if failure::is_connection_lost(&e) {
            return Err(failure::unreachable(server, e));
        }
        return Err(failure::tls_failure(server, e));
    }
    if [
        "error connecting to server",
        "timeout waiting for server",
        "error communicating with the server",
        "connection closed",
    ]
    .iter()
    .any(|k| kind.starts_with(k))
    {
        return Err(failure::unreachable(server, e));
    }
    Err(Error::Target {
        target: server,
        reason: "login failed".to_owned(),
        retryable: false,
        source: Some(Box::new(e)),
    })
}
