//! Logging in: one connection per attempt, bounded by the connect timeout, with driver
//! errors sorted into refusals (the server said no) and failures (could not ask).

use std::error::Error as _;
use std::time::Duration;

use secrecy::ExposeSecret;
use secret_rotor::{Error, Login, Result};
use tokio_postgres::error::SqlState;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{Client, NoTls, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;
use tracing::debug;

use crate::credential::{PgCredential, TlsMode};

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
    tls: &MakeRustlsConnect,
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
        match credential.tls {
            TlsMode::VerifyFull => {
                config.ssl_mode(tokio_postgres::config::SslMode::Require);
                connect_with(&config, tls.clone()).await
            }
            TlsMode::Disabled => {
                config.ssl_mode(tokio_postgres::config::SslMode::Disable);
                connect_with(&config, NoTls).await
            }
        }
    };
    let server = format!("{}:{}", credential.host, credential.port);
    match tokio::time::timeout(timeout, attempt).await {
        Err(_) => Err(Error::Unreachable {
            target: server,
            reason: format!(
                "no answer within {} s (CONNECT_TIMEOUT_SECS)",
                timeout.as_secs_f32()
            ),
        }),
        Ok(Ok(client)) => Ok(Session::Connected(client)),
        Ok(Err(e)) => classify(&e, &server).map(|reason| Session::Refused { reason }),
    }
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
            debug!(error = %chain(&e), "postgres connection closed with an error");
        }
    });
    Ok(client)
}

/// The error with its causes, e.g. `error performing TLS handshake: invalid peer
/// certificate: UnknownIssuer` (the driver's `Display` shows only the first part).
pub(crate) fn chain(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Sorts a failed login: a refusal of the credential is `Ok(reason)`; anything else is an
/// error with the right code.
fn classify(e: &tokio_postgres::Error, server: &str) -> Result<String> {
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        if *code == SqlState::INVALID_PASSWORD
            || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
        {
            return Ok(db.message().to_owned());
        }
        return Err(Error::Target {
            target: server.to_owned(),
            reason: chain(e),
            retryable: *code == SqlState::TOO_MANY_CONNECTIONS
                || *code == SqlState::CANNOT_CONNECT_NOW
                || code.code().starts_with("08"),
        });
    }
    let text = chain(e);
    let kind = e.to_string();
    if kind == "error performing TLS handshake" {
        let reason = if text.contains("server does not support TLS") {
            "the server does not offer TLS; set \"ssl\": false in the secret to allow a plain-text connection".to_owned()
        } else if text.contains("UnknownIssuer") || text.contains("BadSignature") {
            format!(
                "the server's certificate is not issued by a trusted CA (TLS_CA_BUNDLE; RDS needs its CA bundle) [{text}]"
            )
        } else if text.to_lowercase().contains("not valid for name") {
            format!(
                "the server's certificate does not name the host in the secret (verify-full checks it) [{text}]"
            )
        } else if text.contains("Expired") || text.contains("NotValidYet") {
            format!("the server's certificate is outside its validity period [{text}]")
        } else {
            text
        };
        return Err(Error::Tls {
            target: server.to_owned(),
            reason,
        });
    }
    if matches!(
        kind.as_str(),
        "error connecting to server"
            | "timeout waiting for server"
            | "error communicating with the server"
            | "connection closed"
    ) {
        return Err(Error::Unreachable {
            target: server.to_owned(),
            reason: text,
        });
    }
    Err(Error::Target {
        target: server.to_owned(),
        reason: text,
        retryable: false,
    })
}
