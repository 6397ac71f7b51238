//! A private Redis for the tests: a free port, no persistence, the default user (the
//! administrator) behind a password; stopped when the test process exits.

use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use std::path::PathBuf;

use secret_rotor_testkit::process::{ServiceGuard, free_port, service_dir, wait_for_port};
use secret_rotor_testkit::tls::TestCertificates;

/// The default user's password: the administrator that creates accounts.
const ADMIN_PASSWORD: &str = "admin-Secret-1";

/// A running `redis-server`.
pub(crate) struct RedisServer {
    /// Its port on 127.0.0.1.
    pub(crate) port: u16,
    /// The CA that signed its certificate, when it serves TLS (then TLS only).
    pub(crate) ca_pem_path: Option<PathBuf>,
    _guard: Mutex<ServiceGuard>,
}

impl RedisServer {
    /// The server of this test process, started on first use.
    pub(crate) fn shared() -> &'static RedisServer {
        static SHARED: OnceLock<RedisServer> = OnceLock::new();
        SHARED.get_or_init(|| RedisServer::start(None))
    }

    /// Starts a dedicated server; with `tls_names`, TLS only, with a certificate for those
    /// names from a CA of its own.
    pub(crate) fn start(tls_names: Option<&[String]>) -> RedisServer {
        let dir = service_dir("secret-rotor-redis-", None);
        let port = free_port();
        let mut tls_args: Vec<String> = Vec::new();
        let ca_pem_path = tls_names.map(|names| {
            let certs = TestCertificates::generate(names);
            for (name, content) in [
                ("ca.pem", &certs.ca_pem),
                ("server.pem", &certs.server_cert_pem),
                ("server.key", &certs.server_key_pem),
            ] {
                std::fs::write(dir.join(name), content).expect("certificate written");
            }
            let file = |name: &str| dir.join(name).display().to_string();
            tls_args = vec![
                "--port".into(),
                "0".into(),
                "--tls-port".into(),
                port.to_string(),
                "--tls-cert-file".into(),
                file("server.pem"),
                "--tls-key-file".into(),
                file("server.key"),
                "--tls-ca-cert-file".into(),
                file("ca.pem"),
                "--tls-auth-clients".into(),
                "no".into(),
            ];
            dir.join("ca.pem")
        });
        if tls_args.is_empty() {
            tls_args = vec!["--port".into(), port.to_string()];
        }
        let child = Command::new("redis-server")
            .args(&tls_args)
            .args(["--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--requirepass", ADMIN_PASSWORD])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs (scripts/setup.sh installs Redis)");
        let guard = ServiceGuard::new("redis", Some(child), "", Some(dir));
        assert!(
            wait_for_port(("127.0.0.1", port), Duration::from_secs(10)),
            "redis-server did not listen on {port}"
        );
        RedisServer {
            port,
            ca_pem_path,
            _guard: Mutex::new(guard),
        }
    }

    /// A connection as `user` with `password`; `None` when the server refuses the login.
    pub(crate) async fn login(
        &self,
        user: &str,
        password: &str,
    ) -> Option<redis::aio::MultiplexedConnection> {
        let addr = match &self.ca_pem_path {
            Some(_) => redis::ConnectionAddr::TcpTls {
                host: "127.0.0.1".into(),
                port: self.port,
                insecure: false,
                tls_params: None,
            },
            None => redis::ConnectionAddr::Tcp("127.0.0.1".into(), self.port),
        };
        let info = redis::IntoConnectionInfo::into_connection_info(addr)
            .unwrap()
            .set_redis_settings(
                redis::RedisConnectionInfo::default()
                    .set_username(user)
                    .set_password(password),
            );
        let client = match &self.ca_pem_path {
            Some(ca) => redis::Client::build_with_tls(
                info,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(std::fs::read(ca).unwrap()),
                },
            ),
            None => redis::Client::open(info),
        }
        .unwrap();
        match client.get_multiplexed_async_connection().await {
            Ok(conn) => Some(conn),
            Err(e)
                if e.code() == Some("WRONGPASS")
                    || e.kind() == redis::ErrorKind::AuthenticationFailed =>
            {
                None
            }
            Err(e) => panic!("redis on {}: {e}", self.port),
        }
    }

    /// Runs `ACL SETUSER user rules…` as the administrator.
    pub(crate) async fn setuser(&self, user: &str, rules: &[&str]) {
        let mut admin = self
            .login("default", ADMIN_PASSWORD)
            .await
            .expect("admin login");
        let () = redis::cmd("ACL")
            .arg("SETUSER")
            .arg(user)
            .arg(rules)
            .query_async(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("ACL SETUSER {user}: {}", e.code().unwrap_or("?")));
    }

    /// How many passwords `user` holds.
    pub(crate) async fn password_count(&self, user: &str) -> usize {
        let mut admin = self
            .login("default", ADMIN_PASSWORD)
            .await
            .expect("admin login");
        let info: Option<redis::acl::AclInfo> = redis::AsyncCommands::acl_getuser(&mut admin, user)
            .await
            .expect("ACL GETUSER");
        info.map_or(0, |i| i.passwords.len())
    }
}
