//! The target: log in, add the pending password, retire what no label holds.

use redis::acl::Rule;
use redis::aio::MultiplexedConnection;
use redis::{
    AsyncCommands, Client, ConnectionAddr, ErrorKind, IntoConnectionInfo, RedisConnectionInfo,
    RedisError, TlsCertificates,
};
use secrecy::ExposeSecret;
use secret_rotor::{
    Capabilities, Credential, Error, Login, Result, RetireReport, RetireRequest, SecretValue,
    SecretVersion, Strategy, Target, TargetInfo,
};
use secret_rotor_db::{DbConfig, TlsMode, failure};
use sha2::{Digest, Sha256};

use crate::RedisCredential;

/// Rotates a Redis ACL user's password (single user, no window).
pub struct RedisTarget {
    config: DbConfig,
    /// `TLS_CA_BUNDLE`'s PEM, when set (else the system's roots).
    ca_pem: Option<Vec<u8>>,
}

impl RedisTarget {
    /// A target with `config`'s CA bundle and connect timeout.
    pub fn new(config: DbConfig) -> Result<Self> {
        let ca_pem = match &config.ca_bundle {
            Some(path) => Some(
                std::fs::read(path)
                    .map_err(|e| Error::config(format!("TLS_CA_BUNDLE {}: {e}", path.display())))?,
            ),
            None => None,
        };
        Ok(RedisTarget { config, ca_pem })
    }

    /// A target configured from `TLS_CA_BUNDLE` and `CONNECT_TIMEOUT_SECS`.
    pub fn from_env() -> Result<Self> {
        RedisTarget::new(DbConfig::from_env()?)
    }

    /// Logs in as `c`: a connection, or the server's refusal.
    async fn connect(&self, c: &RedisCredential) -> Result<Result<MultiplexedConnection, Login>> {
        let (host, port, tls) = (c.0.host.clone(), c.0.port, c.0.tls == TlsMode::VerifyFull);
        let addr = match tls {
            true => ConnectionAddr::TcpTls {
                host,
                port,
                insecure: false,
                tls_params: None,
            },
            false => ConnectionAddr::Tcp(host, port),
        };
        let login = RedisConnectionInfo::default()
            .set_username(&c.0.username)
            .set_password(c.0.password.expose_secret());
        let info = addr
            .into_connection_info()
            .map_err(|e| failure::unreachable(c.server(), e))?
            .set_redis_settings(login);
        let client = match (&self.ca_pem, tls) {
            (Some(pem), true) => Client::build_with_tls(
                info,
                TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem.clone()),
                },
            ),
            _ => Client::open(info),
        }
        .map_err(|e| Error::config(format!("TLS_CA_BUNDLE: {e}")))?;
        let timeout = self.config.connect_timeout;
        match tokio::time::timeout(timeout, client.get_multiplexed_async_connection()).await {
            Err(_) => Err(failure::unreachable(c.server(), "connection timed out")),
            Ok(Ok(connection)) => Ok(Ok(connection)),
            Ok(Err(e))
                if e.kind() == ErrorKind::AuthenticationFailed || e.code() == Some("WRONGPASS") =>
            {
                Ok(Err(Login::Refused {
                    reason: "WRONGPASS".into(),
                }))
            }
            // redis-rs keeps the rustls error behind an `Arc` (no downcast): its words.
            Ok(Err(e)) if tls && e.to_string().contains("peer certificate") => {
                Err(failure::tls_failure(c.server(), e))
            }
            Ok(Err(e)) => Err(failure::unreachable(c.server(), e)),
        }
    }
}

/// A command carrying a password failed: its code only (Redis echoes `ACL SETUSER`'s
/// arguments in its errors).
fn command_failed(c: &RedisCredential, what: &str, e: &RedisError) -> Error {
    Error::Target {
        target: c.server(),
        reason: format!("{what}: {}", e.code().unwrap_or("connection lost")),
        retryable: e.is_io_error(),
        source: None,
    }
}

/// How `ACL GETUSER` shows a password.
fn sha256_hex(c: &RedisCredential) -> String {
    let digest = Sha256::digest(c.0.password.expose_secret().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl Target for RedisTarget {
    type Credential = RedisCredential;

    fn info(&self) -> TargetInfo {
        TargetInfo::new(
            "redis",
            Capabilities::new(&[Strategy::SingleUser]).retiring(),
        )
    }

    fn parse_credential(&self, secret: &SecretValue) -> Result<RedisCredential> {
        RedisCredential::parse(secret)
    }

    async fn try_login(&self, c: &RedisCredential) -> Result<Login> {
        Ok(self.connect(c).await?.err().unwrap_or(Login::Accepted))
    }

    /// Adds the pending password: the current one keeps working until it is retired.
    async fn set_password(
        &self,
        login_as: &RedisCredential,
        pending: &RedisCredential,
    ) -> Result<Login> {
        let mut conn = match self.connect(login_as).await? {
            Ok(conn) => conn,
            Err(refused) => return Ok(refused),
        };
        let add = [Rule::AddPass(pending.0.password.expose_secret().to_owned())];
        let () = conn
            .acl_setuser_rules(pending.username(), &add)
            .await
            .map_err(|e| command_failed(pending, "ACL SETUSER", &e))?;
        self.try_login(pending).await
    }

    /// Removes every password of the user that neither `AWSCURRENT` nor `AWSPREVIOUS`
    /// holds: the one two generations old, and any a crash left behind.
    async fn retire(&self, request: RetireRequest<'_, RedisCredential>) -> Result<RetireReport> {
        let [current, previous] = request.keep;
        let mut conn = self
            .connect(current)
            .await?
            .map_err(|_| Error::LoginRefused {
                target: current.server(),
                credential: SecretVersion::Current,
                reason: "WRONGPASS".into(),
            })?;
        let info: Option<redis::acl::AclInfo> = conn
            .acl_getuser(&current.0.username)
            .await
            .map_err(|e| command_failed(current, "ACL GETUSER", &e))?;
        let keep = [sha256_hex(current), sha256_hex(previous)];
        let stale: Vec<Rule> = info
            .into_iter()
            .flat_map(|info| info.passwords)
            .filter_map(|rule| match rule {
                Rule::AddHashedPass(hash) if !keep.contains(&hash) => {
                    Some(Rule::RemoveHashedPass(hash))
                }
                _ => None,
            })
            .collect();
        let mut report = RetireReport::default();
        if !stale.is_empty() {
            let () = conn
                .acl_setuser_rules(&current.0.username, &stale)
                .await
                .map_err(|e| command_failed(current, "ACL SETUSER", &e))?;
            report.revoked.push(format!(
                "{} older password(s) of {}",
                stale.len(),
                current.0.username
            ));
        }
        Ok(report)
    }
}
