//! Logging in: one connection per attempt, bounded by the connect timeout, with driver
//! errors sorted into refusals (the server said no) and failures (could not ask).

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, DriverError, IoError, OptsBuilder, SslOpts};
use secrecy::ExposeSecret;
use secret_rotor::{Credential, Error, Login, Result};
use secret_rotor_db::{TlsMode, TrustedCas, failure};

use crate::credential::MyCredential;

/// `ER_ACCESS_DENIED_ERROR`: wrong password, unknown user (or, at login, an account that
/// requires TLS reached without it).
const ACCESS_DENIED: u16 = 1045;
/// `ER_ACCOUNT_HAS_BEEN_LOCKED` on MariaDB: the password was right, the account is locked.
const LOCKED_MARIADB: u16 = 4151;
/// The same on MySQL.
const LOCKED_MYSQL: u16 = 3118;
/// Too many connections, for the server or for the user: worth retrying.
const BUSY: [u16; 2] = [1040, 1203];

/// A login attempt's result: a connected session, or the server's refusal.
pub(crate) enum Session {
    Connected(Conn),
    Refused(Refusal),
}

/// Why the server refused a login.
pub(crate) struct Refusal {
    /// The server's message (it names the user, never the password).
    pub(crate) reason: String,
    /// The password was right but the account is locked (a clone being made).
    pub(crate) locked: bool,
}

impl Session {
    /// The session, or the refusal as a [`Login`].
    pub(crate) fn conn(self) -> std::result::Result<Conn, Login> {
        match self {
            Session::Connected(conn) => Ok(conn),
            Session::Refused(refusal) => Err(Login::Refused {
                reason: refusal.reason,
            }),
        }
    }
}

/// The driver's options for `credential`: TCP always (`prefer_socket` would switch a
/// loopback login to the unix socket, as another account and without TLS), TLS with the
/// trusted CAs only and the host name checked, or none with `"ssl": false`.
fn options(credential: &MyCredential, cas: &TrustedCas) -> Result<OptsBuilder> {
    let ssl = match credential.tls {
        TlsMode::VerifyFull => Some(
            SslOpts::default()
                .with_root_certs(
                    cas.certificates()?
                        .iter()
                        .map(|c| c.as_ref().to_vec().into())
                        .collect(),
                )
                .with_disable_built_in_roots(true),
        ),
        TlsMode::Disabled => None,
    };
    Ok(OptsBuilder::default()
        .ip_or_hostname(credential.host.as_str())
        .tcp_port(credential.port)
        .user(Some(credential.username.as_str()))
        .pass(Some(credential.password.expose_secret()))
        .db_name(credential.dbname.as_deref())
        .prefer_socket(false)
        .ssl_opts(ssl))
}

/// Logs in with `credential` within `timeout`.
pub(crate) async fn login(
    credential: &MyCredential,
    cas: &TrustedCas,
    timeout: Duration,
) -> Result<Session> {
    let server = credential.server();
    failure::within(timeout, &server, async {
        match Conn::new(options(credential, cas)?).await {
            Ok(conn) => Ok(Session::Connected(conn)),
            Err(e) => classify(e, server.clone()),
        }
    })
    .await
}

/// Sorts a failed login: a refusal of the credential is `Ok(Refused)`; anything else is
/// an error with the right code, keeping the driver's error as its source.
fn classify(e: mysql_async::Error, server: String) -> Result<Session> {
    match &e {
        mysql_async::Error::Server(se) if se.code == ACCESS_DENIED => {
            Ok(Session::Refused(Refusal {
                reason: se.message.clone(),
                locked: false,
            }))
        }
        mysql_async::Error::Server(se) if se.code == LOCKED_MARIADB || se.code == LOCKED_MYSQL => {
            Ok(Session::Refused(Refusal {
                reason: se.message.clone(),
                locked: true,
            }))
        }
        mysql_async::Error::Server(se) => {
            let retryable = BUSY.contains(&se.code);
            let reason = format!("login failed (server error {})", se.code);
            Err(Error::Target {
                target: server,
                reason,
                retryable,
                source: Some(Box::new(e)),
            })
        }
        mysql_async::Error::Driver(DriverError::NoClientSslFlagFromServer) => {
            Err(failure::no_tls(server, e))
        }
        mysql_async::Error::Io(IoError::Tls(_)) => Err(failure::tls_failure(server, e)),
        mysql_async::Error::Io(IoError::Io(io)) if failure::is_tls_failure(io) => {
            Err(failure::tls_failure(server, e))
        }
        mysql_async::Error::Io(_) => Err(failure::unreachable(server, e)),
        _ => Err(Error::Target {
            target: server,
            reason: "login failed".to_owned(),
            retryable: false,
            source: Some(Box::new(e)),
        }),
    }
}

/// A failed statement that carries no secret: the server's message is kept as the source.
pub(crate) fn statement_error(server: &str, what: &str, e: mysql_async::Error) -> Error {
    let (reason, retryable) = match &e {
        mysql_async::Error::Server(se) => (
            format!("{what} failed (server error {})", se.code),
            BUSY.contains(&se.code),
        ),
        mysql_async::Error::Io(_) => (format!("{what} failed (connection lost)"), true),
        _ => (format!("{what} failed"), false),
    };
    Error::Target {
        target: server.to_owned(),
        reason,
        retryable,
        source: Some(Box::new(e)),
    }
}

/// Runs a statement that carries a password or its hash. Servers echo a statement in some
/// errors ("… near '<the password>'"), so a failure says only the error code and keeps no
/// source.
pub(crate) async fn run_secret_statement(
    conn: &mut Conn,
    server: &str,
    what: &str,
    sql: String,
) -> Result<()> {
    let result = conn.query_drop(sql).await;
    result.map_err(|e| {
        let (code, retryable) = match &e {
            mysql_async::Error::Server(se) => (format!("server error {}", se.code), BUSY.contains(&se.code)),
            mysql_async::Error::Io(_) => ("connection lost".to_owned(), true),
            _ => ("driver error".to_owned(), false),
        };
        Error::Target {
            target: server.to_owned(),
            reason: format!("{what} failed ({code}; the server's message is not shown: it may quote the statement)"),
            retryable,
            source: None,
        }
    })
}

/// Runs a statement that carries no secret.
pub(crate) async fn run(conn: &mut Conn, server: &str, what: &str, sql: &str) -> Result<()> {
    conn.query_drop(sql)
        .await
        .map_err(|e| statement_error(server, what, e))
}

/// Closes a session politely (errors do not matter: the work is done).
pub(crate) async fn close(conn: Conn) {
    let _ = conn.disconnect().await;
}
