//! A private PostgreSQL cluster that enforces passwords and serves TLS with a CA generated
//! by the test.
//!
//! The machine's own PostgreSQL trusts every local login, so no rotation test may use it
//! to prove that a password works or is refused. [`PgCluster`] runs `initdb
//! --auth=scram-sha-256` into a temporary directory and starts a postmaster on
//! 127.0.0.1 and a free port (as the `postgres` OS user when the tests run as root, since
//! `initdb` refuses root), with `pg_hba.conf` requiring SCRAM for every TCP login (TLS or
//! not), `log_statement = 'all'` and the server log in a file ([`PgCluster::server_log`]),
//! so tests can prove that no clear-text password reached the server.
//!
//! The binaries are found through `SECRET_ROTOR_PG_BINDIR`, then `pg_config --bindir`,
//! then the newest `/usr/lib/postgresql/*/bin`. The cluster stops (`pg_ctl stop -m
//! immediate`) and its directory is removed when the [`PgCluster`] is dropped or, for
//! [`PgCluster::shared`], when the test process exits (see [`secret_rotor_testkit::process`]).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use postgres_protocol::escape::{escape_identifier, escape_literal};
use tokio_postgres::NoTls;
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;

use secret_rotor_testkit::process::{
    ServiceGuard, free_port, is_root, service_dir, shell_quote, wait_for_port,
};
use secret_rotor_testkit::tls::TestCertificates;

/// How a [`PgCluster`] is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// Serve TLS (`ssl = on`) with a certificate signed by a CA made for this cluster.
    /// Clients may still connect without TLS.
    pub tls: bool,
    /// The subject alternative names of the server certificate; IP addresses become IP
    /// SANs. Default: `localhost` and `127.0.0.1`.
    pub server_names: Vec<String>,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            tls: true,
            server_names: vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
        }
    }
}

/// A running private PostgreSQL cluster. See the [module docs](self).
#[derive(Debug)]
pub struct PgCluster {
    host: String,
    port: u16,
    superuser: String,
    password: String,
    data_dir: PathBuf,
    log_path: PathBuf,
    ca_pem_path: Option<PathBuf>,
    ca_pem: Option<String>,
    guard: Mutex<ServiceGuard>,
}

/// The superuser's name.
const SUPERUSER: &str = "postgres";

impl PgCluster {
    /// The cluster of this test process (TLS on, default names), started on first use.
    pub fn shared() -> &'static PgCluster {
        static SHARED: OnceLock<PgCluster> = OnceLock::new();
        SHARED.get_or_init(|| PgCluster::start(PgOptions::default()))
    }

    /// Starts a dedicated cluster (stopped when dropped, or when the test process exits).
    /// Blocks until it accepts connections; panics with the reason when it cannot start.
    pub fn start(options: PgOptions) -> PgCluster {
        let bindir = pg_bindir();
        let as_root = is_root();
        let owner = if as_root {
            Some(postgres_owner())
        } else {
            None
        };
        // A root test may run with TMPDIR under /root, which `postgres` cannot traverse.
        let base = as_root.then(|| Path::new("/tmp"));
        let dir = service_dir("secret-rotor-pg-", base);
        let data_dir = dir.join("data");
        let log_path = dir.join("server.log");
        let pg_ctl = bindir.join("pg_ctl");
        let stop_command = format!(
            "{} -D {} -m immediate -w stop",
            shell_quote(&pg_ctl.to_string_lossy()),
            shell_quote(&data_dir.to_string_lossy())
        );
        let stop_command = if as_root {
            format!("runuser -u {SUPERUSER} -- {stop_command}")
        } else {
            stop_command
        };
        let mut guard = ServiceGuard::new("postgres", None, stop_command, Some(dir.clone()));
        if let Some((uid, gid)) = owner {
            chown(&dir, uid, gid);
        }

        let password = format!(
            "pw-{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let pwfile = dir.join("pwfile");
        std::fs::write(&pwfile, format!("{password}\n")).expect("cannot write the pwfile");
        if let Some((uid, gid)) = owner {
            chown(&pwfile, uid, gid);
        }
        let initdb = run_as_owner(
            as_root,
            &dir,
            Command::new(bindir.join("initdb"))
                .arg("-D")
                .arg(&data_dir)
                .args([
                    "-U",
                    SUPERUSER,
                    "--auth=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ])
                .arg(format!("--pwfile={}", pwfile.display()))
                .args(["--no-sync", "--no-instructions"]),
        );
        let _ = std::fs::remove_file(&pwfile);
        if !initdb.status.success() {
            guard.stop();
            panic!(
                "initdb failed ({}):\n{}",
                initdb.status,
                output_text(&initdb)
            );
        }

        let (ca_pem_path, ca_pem) = if options.tls {
            let certs = TestCertificates::generate(&options.server_names);
            let files = [
                ("ca.pem", &certs.ca_pem, 0o644),
                ("server.crt", &certs.server_cert_pem, 0o644),
                ("server.key", &certs.server_key_pem, 0o600),
            ];
            for (name, content, mode) in files {
                let path = data_dir.join(name);
                std::fs::write(&path, content)
                    .unwrap_or_else(|e| panic!("cannot write {name}: {e}"));
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                    .unwrap_or_else(|e| panic!("cannot chmod {name}: {e}"));
                if let Some((uid, gid)) = owner {
                    chown(&path, uid, gid);
                }
            }
            (Some(data_dir.join("ca.pem")), Some(certs.ca_pem))
        } else {
            (None, None)
        };

        let conf = format!(
            "\n# secret-rotor-testkit\n\
             listen_addresses = '127.0.0.1'\n\
             unix_socket_directories = {socket_dir}\n\
             password_encryption = 'scram-sha-256'\n\
             ssl = {ssl}\n\
             ssl_cert_file = 'server.crt'\n\
             ssl_key_file = 'server.key'\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n\
             shared_buffers = '32MB'\n\
             max_connections = 100\n\
             logging_collector = off\n\
             log_destination = 'stderr'\n\
             log_statement = 'all'\n\
             log_connections = on\n\
             log_line_prefix = '%m [%p] %q%u@%d '\n",
            socket_dir = escape_literal(&dir.to_string_lossy()),
            ssl = if options.tls { "on" } else { "off" },
        );
        append(&data_dir.join("postgresql.conf"), &conf);
        std::fs::write(
            data_dir.join("pg_hba.conf"),
            "# secret-rotor-testkit: passwords are always checked\n\
             local all all scram-sha-256\n\
             host all all 127.0.0.1/32 scram-sha-256\n",
        )
        .expect("cannot write pg_hba.conf");

        // The port is picked before the postmaster binds it: retry if someone took it.
        let mut attempt = 0;
        let port = loop {
            attempt += 1;
            let port = free_port();
            let started = run_as_owner(
                as_root,
                &dir,
                Command::new(&pg_ctl)
                    .arg("-D")
                    .arg(&data_dir)
                    .arg("-l")
                    .arg(&log_path)
                    .args(["-w", "-t", "120", "-o"])
                    .arg(format!("-p {port}"))
                    .arg("start"),
            );
            if started.status.success()
                && wait_for_port(("127.0.0.1", port), Duration::from_secs(10))
            {
                break port;
            }
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            if attempt >= 3 || !log.contains("could not bind") {
                guard.stop();
                panic!(
                    "PostgreSQL did not start on port {port} ({}):\n{}\n--- server log ---\n{log}",
                    started.status,
                    output_text(&started)
                );
            }
        };

        PgCluster {
            host: "127.0.0.1".to_owned(),
            port,
            superuser: SUPERUSER.to_owned(),
            password,
            data_dir,
            log_path,
            ca_pem_path,
            ca_pem,
            guard: Mutex::new(guard),
        }
    }

    /// `127.0.0.1`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the server serves TLS.
    pub fn tls(&self) -> bool {
        self.ca_pem_path.is_some()
    }

    /// The PEM file of the CA that signed the server certificate.
    ///
    /// # Panics
    /// When the cluster was started without TLS.
    pub fn ca_pem_path(&self) -> &Path {
        self.ca_pem_path
            .as_deref()
            .expect("this PgCluster was started with tls: false: it has no CA")
    }

    /// The PEM text of the CA that signed the server certificate.
    ///
    /// # Panics
    /// When the cluster was started without TLS.
    pub fn ca_pem(&self) -> &str {
        self.ca_pem
            .as_deref()
            .expect("this PgCluster was started with tls: false: it has no CA")
    }

    /// The data directory (`PGDATA`).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// `("postgres", password)`: the superuser and its (random) password.
    pub fn superuser(&self) -> (&str, &str) {
        (&self.superuser, &self.password)
    }

    /// Everything the server logged so far: with `log_statement = 'all'`, every statement
    /// it received (so a clear-text password sent in SQL would show here).
    pub fn server_log(&self) -> String {
        std::fs::read_to_string(&self.log_path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", self.log_path.display()))
    }

    /// Connection settings for `user`/`password` over TCP without TLS (set
    /// [`tokio_postgres::Config::ssl_mode`] and connect with a TLS connector for TLS).
    pub fn config(&self, user: &str, password: &str) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host(&self.host)
            .port(self.port)
            .user(user)
            .password(password)
            .dbname("postgres")
            .ssl_mode(SslMode::Disable)
            .connect_timeout(Duration::from_secs(10))
            .application_name("secret-rotor-testkit");
        config
    }

    /// A superuser session over TCP without TLS; its connection task is spawned on the
    /// current tokio runtime.
    pub async fn admin(&self) -> tokio_postgres::Client {
        let (client, connection) = self
            .config(&self.superuser, &self.password)
            .connect(NoTls)
            .await
            .unwrap_or_else(|e| {
                panic!("superuser login to {}:{} failed: {e}", self.host, self.port)
            });
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }

    /// `CREATE ROLE <name> LOGIN PASSWORD <password>`: the name may hold quotes, spaces,
    /// unicode and capitals. The password is sent as its SCRAM-SHA-256 verifier, so setup
    /// passwords do not show in the server log either.
    pub async fn create_login_role(&self, name: &str, password: &str) {
        let verifier = postgres_protocol::password::scram_sha_256(password.as_bytes());
        let sql = format!(
            "CREATE ROLE {} LOGIN PASSWORD {}",
            escape_identifier(name),
            escape_literal(&verifier)
        );
        self.admin()
            .await
            .batch_execute(&sql)
            .await
            .unwrap_or_else(|e| panic!("CREATE ROLE {name:?} failed: {e}"));
    }

    /// Ends the role's sessions and drops it (`DROP ROLE IF EXISTS`).
    pub async fn drop_role(&self, name: &str) {
        let admin = self.admin().await;
        admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1",
                &[&name],
            )
            .await
            .unwrap_or_else(|e| panic!("ending the sessions of {name:?} failed: {e}"));
        admin
            .batch_execute(&format!("DROP ROLE IF EXISTS {}", escape_identifier(name)))
            .await
            .unwrap_or_else(|e| panic!("DROP ROLE {name:?} failed: {e}"));
    }

    /// An independent login probe over TCP without TLS: `true` when `user` logs in with
    /// `password`, `false` when the server refuses the credentials (SQLSTATE 28P01 or
    /// 28000).
    ///
    /// # Panics
    /// On any other failure (server unreachable, ...): that proves nothing about the
    /// password.
    pub async fn can_login(&self, user: &str, password: &str) -> bool {
        match self.config(user, password).connect(NoTls).await {
            Ok((client, connection)) => {
                let task = tokio::spawn(connection);
                let ok = client.simple_query("SELECT 1").await.is_ok();
                drop(client);
                let _ = task.await;
                ok
            }
            Err(e) => match e.code() {
                Some(code)
                    if *code == SqlState::INVALID_PASSWORD
                        || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
                {
                    false
                }
                _ => panic!(
                    "login probe for {user:?} on {}:{} failed for a reason other than the credentials: {e}",
                    self.host, self.port
                ),
            },
        }
    }

    /// Whether the postmaster is still running (`pg_ctl status`).
    pub fn is_running(&self) -> bool {
        let guard = self.guard.lock().unwrap_or_else(|e| e.into_inner());
        let Some(dir) = guard.dir() else {
            return false;
        };
        run_as_owner(
            is_root(),
            dir,
            Command::new(pg_bindir().join("pg_ctl"))
                .arg("-D")
                .arg(&self.data_dir)
                .arg("status"),
        )
        .status
        .success()
    }
}

/// Where `initdb`/`pg_ctl` live. Panics with what to install when they cannot be found.
fn pg_bindir() -> PathBuf {
    static BINDIR: OnceLock<PathBuf> = OnceLock::new();
    BINDIR
        .get_or_init(|| {
            let has_initdb =
                |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
            if let Some(dir) = std::env::var_os("SECRET_ROTOR_PG_BINDIR") {
                let dir = PathBuf::from(dir);
                assert!(
                    has_initdb(&dir),
                    "SECRET_ROTOR_PG_BINDIR={} has no initdb",
                    dir.display()
                );
                return dir;
            }
            if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
                let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
                if out.status.success() && has_initdb(&dir) {
                    return dir;
                }
            }
            let mut candidates: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| {
                    let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
                    let bin = e.path().join("bin");
                    has_initdb(&bin).then_some((version, bin))
                })
                .collect();
            candidates.sort();
            candidates.pop().map(|(_, dir)| dir).unwrap_or_else(|| {
                panic!(
                    "PostgreSQL server binaries (initdb, pg_ctl) not found: install them \
                     (Debian: apt-get install postgresql) or set SECRET_ROTOR_PG_BINDIR"
                )
            })
        })
        .clone()
}

/// The uid and gid of the `postgres` OS user (the cluster's owner when tests run as root).
fn postgres_owner() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let out = Command::new("id")
            .args([flag, SUPERUSER])
            .output()
            .expect("cannot run `id`");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or_else(|_| {
                panic!(
                    "tests run as root, and initdb refuses root, but there is no `postgres` OS \
                 user to run it as (create one, or run the tests as another user)"
                )
            })
    };
    (id("-u"), id("-g"))
}

fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .unwrap_or_else(|e| panic!("cannot chown {} to postgres: {e}", path.display()));
}

/// Runs `command` (as the `postgres` OS user when `as_root`) in `cwd`, capturing output.
fn run_as_owner(as_root: bool, cwd: &Path, command: &mut Command) -> Output {
    let mut command = if as_root {
        let mut wrapped = Command::new("runuser");
        wrapped
            .args(["-u", SUPERUSER, "--"])
            .arg(command.get_program())
            .args(command.get_args());
        wrapped
    } else {
        std::mem::replace(command, Command::new("true"))
    };
    let started = Instant::now();
    command
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {command:?} (after {:?}): {e}",
                started.elapsed()
            )
        })
}

fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .unwrap_or_else(|e| panic!("cannot append to {}: {e}", path.display()));
}
