//! A private MariaDB that enforces passwords and serves TLS with a CA made by the test.
//!
//! [`MariaDb`] runs `mariadb-install-db --no-defaults` into a temporary directory and
//! starts `mariadbd --no-defaults` on 127.0.0.1 and a free port (with `--user=root` when
//! the tests run as root, which mariadbd otherwise refuses), with TLS from a test CA, the
//! general query log on (every statement the server received, so tests can prove that no
//! clear-text password reached it), and root's TCP account given a random password. It
//! stops, and its directory is removed, when the [`MariaDb`] is dropped or, for
//! [`MariaDb::shared`], when the test process exits (see [`secret_rotor_testkit::process`]).
//!
//! The binaries are found through `SECRET_ROTOR_MARIADB_BINDIR`, then `PATH`, then
//! `/usr/bin` and `/usr/sbin` (Debian: `apt-get install mariadb-server`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder};
use secret_rotor_testkit::process::{
    ServiceGuard, free_port, is_root, service_dir, shell_quote, wait_for_port,
};
use secret_rotor_testkit::tls::TestCertificates;

use crate::account::ident;
use crate::password::native_hash;

/// How a [`MariaDb`] is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MariaDbOptions {
    /// Serve TLS with a certificate signed by a CA made for this server. Clients may still
    /// connect without TLS.
    pub tls: bool,
    /// The subject alternative names of the server certificate. Default: `localhost` and
    /// `127.0.0.1`.
    pub server_names: Vec<String>,
}

impl Default for MariaDbOptions {
    fn default() -> Self {
        MariaDbOptions {
            tls: true,
            server_names: vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
        }
    }
}

/// A running private MariaDB. See the [module docs](self).
#[derive(Debug)]
pub struct MariaDb {
    port: u16,
    root_password: String,
    dir: PathBuf,
    ca_pem_path: Option<PathBuf>,
    guard: Mutex<ServiceGuard>,
}

/// The database the tests' tables live in.
pub const TEST_DATABASE: &str = "secret_rotor_test";

impl MariaDb {
    /// The server of this test process (TLS on, default names), started on first use.
    pub fn shared() -> &'static MariaDb {
        static SHARED: OnceLock<MariaDb> = OnceLock::new();
        SHARED.get_or_init(|| MariaDb::start(MariaDbOptions::default()))
    }

    /// Starts a dedicated server (stopped when dropped, or when the test process exits).
    /// Blocks until root logs in; panics with the server's log when it cannot start.
    pub fn start(options: MariaDbOptions) -> MariaDb {
        let dir = service_dir("secret-rotor-mariadb-", None);
        let data = dir.join("data");
        let pid_file = dir.join("mariadbd.pid");
        let error_log = dir.join("error.log");
        let stop = format!(
            "[ -f {pid} ] && kill -TERM \"$(cat {pid})\" 2>/dev/null; i=0; \
             while [ -f {pid} ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done",
            pid = shell_quote(&pid_file.to_string_lossy())
        );
        let mut guard = ServiceGuard::new("mariadb", None, stop, Some(dir.clone()));
        let as_root: &[&str] = if is_root() { &["--user=root"] } else { &[] };

        let install = Command::new(binary("mariadb-install-db"))
            .arg("--no-defaults")
            .args(as_root)
            .arg(format!("--datadir={}", data.display()))
            .args([
                "--skip-test-db",
                "--auth-root-authentication-method=normal",
                "--skip-name-resolve",
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run mariadb-install-db: {e} ({INSTALL_HINT})"));
        if !install.status.success() {
            guard.stop();
            panic!(
                "mariadb-install-db failed ({}):\n{}{}",
                install.status,
                String::from_utf8_lossy(&install.stdout),
                String::from_utf8_lossy(&install.stderr)
            );
        }

        let mut tls_args = Vec::new();
        let ca_pem_path = options.tls.then(|| {
            let certs = TestCertificates::generate(&options.server_names);
            for (name, content) in [
                ("ca.pem", &certs.ca_pem),
                ("server.pem", &certs.server_cert_pem),
                ("server.key", &certs.server_key_pem),
            ] {
                std::fs::write(dir.join(name), content)
                    .unwrap_or_else(|e| panic!("cannot write {name}: {e}"));
            }
            for (flag, name) in [
                ("--ssl-ca", "ca.pem"),
                ("--ssl-cert", "server.pem"),
                ("--ssl-key", "server.key"),
            ] {
                tls_args.push(format!("{flag}={}", dir.join(name).display()));
            }
            dir.join("ca.pem")
        });

        let root_password = format!("Root-{}", uuid::Uuid::new_v4().simple());
        let init = dir.join("init.sql");
        std::fs::write(&init, init_sql(&root_password)).expect("cannot write init.sql");

        let mut attempt = 0;
        let port = loop {
            attempt += 1;
            let port = free_port();
            let mut args = vec![
                "--no-defaults".to_owned(),
                format!("--datadir={}", data.display()),
                format!("--port={port}"),
                "--bind-address=127.0.0.1".to_owned(),
                format!("--socket={}", dir.join("mariadbd.sock").display()),
                format!("--pid-file={}", pid_file.display()),
                format!("--log-error={}", error_log.display()),
                format!("--init-file={}", init.display()),
                "--general-log=1".to_owned(),
                format!("--general-log-file={}", dir.join("general.log").display()),
                "--innodb-log-file-size=8M".to_owned(),
                "--innodb-buffer-pool-size=32M".to_owned(),
                "--skip-name-resolve".to_owned(),
                "--max-connections=300".to_owned(),
            ];
            args.extend(as_root.iter().map(|s| (*s).to_owned()));
            args.extend(tls_args.iter().cloned());
            let command = std::iter::once(binary("mariadbd").to_string_lossy().into_owned())
                .chain(args)
                .map(|a| shell_quote(&a))
                .collect::<Vec<_>>()
                .join(" ");
            // Through `sh … &`: the server is not a child of the test (no zombie); the
            // guard stops it by its pid file.
            let status = Command::new("sh")
                .arg("-c")
                .arg(format!("{command} >/dev/null 2>&1 &"))
                .stdin(Stdio::null())
                .status()
                .expect("cannot run sh");
            assert!(status.success(), "cannot start mariadbd");
            if wait_for_port(("127.0.0.1", port), Duration::from_secs(60)) {
                break port;
            }
            let log = std::fs::read_to_string(&error_log).unwrap_or_default();
            if attempt >= 3 || !log.contains("Bind on TCP/IP port") {
                guard.stop();
                panic!("MariaDB did not start on port {port}:\n--- error log ---\n{log}");
            }
        };
        let db = MariaDb {
            port,
            root_password,
            dir,
            ca_pem_path,
            guard: Mutex::new(guard),
        };
        db.wait_for_root();
        db
    }

    /// Polls until root logs in (the init file runs before the first login is served). On
    /// a thread of its own: the caller may be inside a tokio runtime.
    fn wait_for_root(&self) {
        std::thread::scope(|scope| {
            scope
                .spawn(|| self.poll_root())
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        });
    }

    fn poll_root(&self) {
        let started = Instant::now();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        loop {
            let attempt = runtime.block_on(async {
                let conn = Conn::new(self.options("root", &self.root_password)).await?;
                conn.disconnect().await
            });
            match attempt {
                Ok(()) => return,
                Err(e) if started.elapsed() > Duration::from_secs(60) => panic!(
                    "root cannot log in to MariaDB on port {}: {e}\n--- error log ---\n{}",
                    self.port,
                    self.error_log()
                ),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// `127.0.0.1`.
    pub fn host(&self) -> &str {
        "127.0.0.1"
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The PEM file of the CA that signed the server certificate.
    ///
    /// # Panics
    /// When the server was started without TLS.
    pub fn ca_pem_path(&self) -> &Path {
        self.ca_pem_path
            .as_deref()
            .expect("this MariaDb was started with tls: false: it has no CA")
    }

    /// `("root", password)`: the TCP superuser (`root@127.0.0.1`) and its password.
    pub fn root(&self) -> (&str, &str) {
        ("root", &self.root_password)
    }

    /// Every statement the server received so far (the general query log).
    pub fn general_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("general.log")).unwrap_or_default()
    }

    /// The server's error log.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }

    /// Connection options over plain TCP (never the socket).
    pub fn options(&self, user: &str, password: &str) -> OptsBuilder {
        OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(self.port)
            .user(Some(user))
            .pass(Some(password))
            .prefer_socket(false)
    }

    /// Connection options over TCP with TLS, trusting this server's CA only.
    ///
    /// # Panics
    /// When the server was started without TLS.
    pub fn tls_options(&self, user: &str, password: &str) -> OptsBuilder {
        let ca = std::fs::read(self.ca_pem_path()).expect("the CA file");
        self.options(user, password).ssl_opts(Some(
            mysql_async::SslOpts::default()
                .with_root_certs(vec![ca.into()])
                .with_disable_built_in_roots(true),
        ))
    }

    /// A root session over TCP without TLS.
    pub async fn admin(&self) -> Conn {
        Conn::new(self.options("root", &self.root_password))
            .await
            .unwrap_or_else(|e| panic!("root login to MariaDB on port {} failed: {e}", self.port))
    }

    /// Runs statements as root.
    pub async fn execute(&self, sql: &str) {
        let mut admin = self.admin().await;
        admin
            .query_drop(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let _ = admin.disconnect().await;
    }

    /// `CREATE USER `name`@`%`` with `password` (sent as its native hash, so setup
    /// passwords are not in the general log either). Names may hold quotes, spaces,
    /// backslashes, unicode.
    pub async fn create_user(&self, name: &str, password: &str) {
        self.create_user_at(name, "%", password).await;
    }

    /// `CREATE USER `name`@`host`` with `password` (as its native hash).
    pub async fn create_user_at(&self, name: &str, host: &str, password: &str) {
        self.execute(&format!(
            "CREATE USER {}@{} IDENTIFIED BY PASSWORD '{}'",
            ident(name),
            ident(host),
            native_hash(password)
        ))
        .await;
    }

    /// Sets `name`@`%`'s password out of band, as an administrator would.
    pub async fn set_password(&self, name: &str, password: &str) {
        self.execute(&format!(
            "ALTER USER {}@'%' IDENTIFIED BY PASSWORD '{}'",
            ident(name),
            native_hash(password)
        ))
        .await;
    }

    /// An independent login probe over TCP without TLS: `true` when `user` logs in with
    /// `password`, `false` when the server refuses the credentials (1045, or a locked
    /// account).
    ///
    /// # Panics
    /// On any other failure: that proves nothing about the password.
    pub async fn can_login(&self, user: &str, password: &str) -> bool {
        match Conn::new(self.options(user, password)).await {
            Ok(conn) => {
                let _ = conn.disconnect().await;
                true
            }
            Err(mysql_async::Error::Server(se)) if [1045, 4151, 3118].contains(&se.code) => false,
            Err(e) => panic!(
                "login probe for {user:?} on port {} failed for a reason other than the \
                 credentials: {e}",
                self.port
            ),
        }
    }

    /// Whether the server is still running (its pid file is there).
    pub fn is_running(&self) -> bool {
        let guard = self.guard.lock().unwrap_or_else(|e| e.into_inner());
        guard.dir().is_some() && self.dir.join("mariadbd.pid").exists()
    }
}

const INSTALL_HINT: &str = "install MariaDB's server (Debian: apt-get install mariadb-server) or set SECRET_ROTOR_MARIADB_BINDIR";

/// Where a MariaDB binary is. Panics with what to install when it is missing.
fn binary(name: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os("SECRET_ROTOR_MARIADB_BINDIR") {
        dirs.push(dir.into());
    }
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs.extend(["/usr/bin", "/usr/sbin", "/usr/local/bin"].map(PathBuf::from));
    dirs.iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} not found: {INSTALL_HINT}"))
}

/// Runs on every start, before the first login: root's TCP accounts get a password, the
/// other password-less accounts go, and the tests' database exists.
fn init_sql(root_password: &str) -> String {
    let hash = native_hash(root_password);
    format!(
        "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';\n\
         ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY PASSWORD '{hash}';\n\
         GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;\n\
         ALTER USER 'root'@'localhost' IDENTIFIED BY PASSWORD '{hash}';\n\
         DROP USER IF EXISTS 'root'@'::1';\n\
         DROP USER IF EXISTS ''@'localhost';\n\
         CREATE DATABASE IF NOT EXISTS {TEST_DATABASE};\n"
    )
}
