//! # secret-rotor-redis
//!
//! Redis ACL users, rotated with no window at all — and the worked example of a target
//! (README, "Writing a target").
//!
//! A Redis ACL user may hold several passwords at once. So setSecret *adds* the pending
//! password (`ACL SETUSER u >new`) and leaves the current one working; finishSecret moves
//! the labels; then [`Target::retire`] removes every password that neither `AWSCURRENT`
//! nor `AWSPREVIOUS` holds. Applications holding either keep working throughout, and
//! whatever a crash left behind (an abandoned pending password, a retire that never ran)
//! goes at the next rotation.
//!
//! The secret is AWS's database layout: `{"host", "port" (6379), "username", "password",
//! "ssl"}`; TLS (`rediss`) unless `"ssl": false`, trusting `TLS_CA_BUNDLE` or else the
//! system's roots. The user changes its own password, so it needs `+acl|setuser` and
//! `+acl|getuser` — which let it change any user: give this function's secret the care of
//! an administrator's.

use redis::acl::{AclInfo, Rule};
use redis::aio::MultiplexedConnection;
use redis::{AsyncCommands, Client, ConnectionAddr, IntoConnectionInfo, RedisConnectionInfo};
use redis::{ErrorKind, RedisError, TlsCertificates};
use secrecy::ExposeSecret;
use secret_rotor::{Capabilities, Error, Login, Result, RetireReport, RetireRequest};
use secret_rotor::{SecretValue, SecretVersion, Strategy, Target, TargetInfo};
use secret_rotor_db::{DbConfig, DbSecret, Layout, TlsMode, failure};
use sha2::{Digest, Sha256};

/// What a Redis secret holds: AWS's database layout, `engine` "redis" if given.
const LAYOUT: Layout = Layout {
    engines: &["redis"],
    default_port: 6379,
};

/// Rotates a Redis ACL user's password (single user, no window).
pub struct RedisTarget {
    config: DbConfig,
    /// `TLS_CA_BUNDLE`'s PEM, when set (else the system's roots).
    ca_pem: Option<Vec<u8>>,
}

impl RedisTarget {
    /// A target with `config`'s CA bundle and connect timeout.
    pub fn new(config: DbConfig) -> Result<Self> {
        let ca_pem = config.ca_bundle_pem()?;
        Ok(RedisTarget { config, ca_pem })
    }

    /// A target configured from `TLS_CA_BUNDLE` and `CONNECT_TIMEOUT_SECS`.
    pub fn from_env() -> Result<Self> {
        RedisTarget::new(DbConfig::from_env()?)
    }

    /// Logs in as `c`: a connection, or the server's refusal.
    async fn connect(&self, c: &DbSecret) -> Result<Result<MultiplexedConnection, Login>> {
        let (host, port, tls) = (c.host.clone(), c.port, c.tls == TlsMode::VerifyFull);
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
            .set_username(&c.username)
            .set_password(c.password.expose_secret());
        let info = addr
            .into_connection_info()
            .map_err(|e| failure::unreachable(c.server(), e))?
            .set_redis_settings(login);
        let root_cert = self.ca_pem.clone(); // `None`: the system's roots
        let client = match tls {
            true => Client::build_with_tls(
                info,
                TlsCertificates {
                    client_tls: None,
                    root_cert,
                },
            ),
            false => Client::open(info),
        }
        .map_err(|e| Error::config(format!("TLS_CA_BUNDLE: {e}")))?;
        let connecting = async {
            match client.get_multiplexed_async_connection().await {
                Ok(connection) => Ok(Ok(connection)),
                Err(e)
                    if e.kind() == ErrorKind::AuthenticationFailed
                        || e.code() == Some("WRONGPASS") =>
                {
                    Ok(Err(Login::Refused {
                        reason: "WRONGPASS".into(),
                    }))
                }
                // redis-rs keeps the rustls error behind an `Arc` (no downcast): its words.
                Err(e) if tls && e.to_string().contains("peer certificate") => {
                    Err(failure::tls_failure(c.server(), e))
                }
                Err(e) => Err(failure::unreachable(c.server(), e)),
            }
        };
        failure::within(self.config.connect_timeout, &c.server(), connecting).await
    }
}

/// A command carrying a password failed: its code only (Redis echoes `ACL SETUSER`'s
/// arguments in its errors).
fn command_failed(c: &DbSecret, what: &str, e: &RedisError) -> Error {
    let reason = format!("{what}: {}", e.code().unwrap_or("connection lost"));
    let (target, retryable) = (c.server(), e.is_io_error());
    Error::Target {
        target,
        reason,
        retryable,
        source: None,
    }
}

impl Target for RedisTarget {
    type Credential = DbSecret;

    fn info(&self) -> TargetInfo {
        let single_user = Capabilities::new(&[Strategy::SingleUser]);
        TargetInfo::new("redis", single_user.retiring())
    }

    fn parse_credential(&self, secret: &SecretValue) -> Result<DbSecret> {
        DbSecret::parse(secret, &LAYOUT)
    }

    async fn try_login(&self, c: &DbSecret) -> Result<Login> {
        Ok(self.connect(c).await?.err().unwrap_or(Login::Accepted))
    }

    /// Adds the pending password: the current one keeps working until it is retired.
    async fn set_password(&self, login_as: &DbSecret, pending: &DbSecret) -> Result<Login> {
        let mut conn = match self.connect(login_as).await? {
            Ok(conn) => conn,
            Err(refused) => return Ok(refused),
        };
        let add = [Rule::AddPass(pending.password.expose_secret().to_owned())];
        let () = conn
            .acl_setuser_rules(&pending.username, &add)
            .await
            .map_err(|e| command_failed(pending, "ACL SETUSER", &e))?;
        self.try_login(pending).await
    }

    /// Removes every password of the user that neither `AWSCURRENT` nor `AWSPREVIOUS`
    /// holds: the one two generations old, and any a crash left behind.
    async fn retire(&self, request: RetireRequest<'_, DbSecret>) -> Result<RetireReport> {
        let [current, previous] = request.keep;
        let refused = |_| Error::LoginRefused {
            target: current.server(),
            credential: SecretVersion::Current,
            reason: "WRONGPASS".into(),
        };
        let mut conn = self.connect(current).await?.map_err(refused)?;
        let info: Option<AclInfo> = conn
            .acl_getuser(&current.username)
            .await
            .map_err(|e| command_failed(current, "ACL GETUSER", &e))?;
        // `ACL GETUSER` shows a password as its SHA-256, in hex.
        let keep = [current, previous]
            .map(|c| format!("{:x}", Sha256::digest(c.password.expose_secret())));
        let stale: Vec<Rule> = (info.into_iter().flat_map(|info| info.passwords))
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
                .acl_setuser_rules(&current.username, &stale)
                .await
                .map_err(|e| command_failed(current, "ACL SETUSER", &e))?;
            let user = &current.username;
            report
                .revoked
                .push(format!("{} older password(s) of {user}", stale.len()));
        }
        Ok(report)
    }
}
