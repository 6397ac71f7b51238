//! moto, the Secrets Manager emulator, started by the tests themselves, with the parts of
//! the real service that moto lacks (see `crates/testkit/moto_harness.py`).
//!
//! - [`Moto::shared`] starts one server per test process on first use; [`Moto::start`]
//!   starts a dedicated one (stopped on drop). Both pick a free port and stop when the test
//!   process exits (the harness polls its parent, and a [`ServiceGuard`] watchdog removes
//!   the temporary directory).
//! - [`Moto::start_rotation`] stages the empty `AWSPENDING` version under the
//!   `ClientRequestToken`, as the real `RotateSecret` does before it invokes the function
//!   (moto's own `RotateSecret` without a Lambda moves `AWSCURRENT` at once instead).
//! - [`Moto::calls`] counts Secrets Manager API calls per `SecretId`, to prove that an
//!   operation was (or was not) made.
//! - RDS: [`Moto::create_db_instance`], [`Moto::create_read_replica`],
//!   [`Moto::create_db_cluster`] and [`Moto::add_cluster_instance`] create moto RDS
//!   resources whose endpoints point where the test says (a local database) instead of
//!   moto's `*.rds.amazonaws.com` names; [`Moto::create_rds_managed_secret`] creates a
//!   master secret as RDS does (`username`/`password` only, `aws:rds:*` tags).
//!
//! The shared server is shared by every test of the binary, which run in parallel: give
//! each test its own secrets ([`unique_name`]) and never rely on global state such as
//! [`Moto::reset_calls`] there.
//!
//! The constructors panic (never skip) when Python or moto is missing, naming what to
//! install: `pip install 'moto[server]'`. `SECRET_ROTOR_PYTHON` selects the interpreter
//! (default `python3`).

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use secrecy::ExposeSecret;
use secret_rotor::store::{AwsSecretStore, SecretStore, Selector};
use secret_rotor::{SecretId, SecretValue, Stage};
use serde_json::{Value, json};

use crate::process::{ServiceGuard, service_dir, wait_for_port};

/// The harness script, also usable from shell scripts:
/// `python3 crates/testkit/moto_harness.py --port P [--parent-pid PID]`.
pub const HARNESS_SCRIPT: &str = include_str!("../moto_harness.py");

/// The path of the harness script in the source tree.
pub const HARNESS_SCRIPT_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/moto_harness.py");

/// moto's default account.
pub const ACCOUNT_ID: &str = "123456789012";

/// The tag RDS puts on the master secret of a DB instance (its value: the instance's ARN).
pub const RDS_PRIMARY_INSTANCE_TAG: &str = "aws:rds:primaryDBInstanceArn";

/// The tag RDS puts on the master secret of a DB cluster (its value: the cluster's ARN).
pub const RDS_PRIMARY_CLUSTER_TAG: &str = "aws:rds:primaryDBClusterArn";

/// The tag that marks a secret as managed by another service (`rds` for RDS masters).
pub const OWNING_SERVICE_TAG: &str = "aws:secretsmanager:owningService";

/// The master user of the RDS resources the harness creates (moto requires one; nothing
/// logs in with it).
const RDS_DUMMY_MASTER_USER: &str = "rotoradmin";
const RDS_DUMMY_MASTER_PASSWORD: &str = "not-a-real-password";

/// The region every harness uses.
pub const REGION: &str = "us-east-1";

/// The line the harness prints once it listens, followed by its endpoint.
const READY_PREFIX: &str = "MOTO_HARNESS_READY ";

/// How long moto may take to import and listen (it is slow on a loaded 2-core machine).
const START_TIMEOUT: Duration = Duration::from_secs(90);

const INSTALL_HINT: &str = "install Python 3 and moto's server: pip install 'moto[server]' \
     (SECRET_ROTOR_PYTHON selects the interpreter)";

/// A unique name for a test's secret (or role, ...): `prefix` plus 12 random hex digits.
pub fn unique_name(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

/// What [`Moto::begin_rotation`] staged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedRotation {
    /// The `ClientRequestToken`: the id of the new `AWSPENDING` version.
    pub token: String,
    /// The secret's ARN (what the real service puts in the events' `SecretId`).
    pub arn: String,
    /// The secret's name.
    pub name: String,
}

/// A running moto server with the secret-rotor harness in front of it.
#[derive(Debug)]
pub struct Moto {
    endpoint: String,
    region: String,
    log_path: PathBuf,
    guard: Mutex<ServiceGuard>,
}

impl Moto {
    /// The server of this test process, started on first use.
    pub fn shared() -> &'static Moto {
        static SHARED: OnceLock<Moto> = OnceLock::new();
        SHARED.get_or_init(Moto::start)
    }

    /// Starts a dedicated server (stopped when dropped, or when the test process exits).
    ///
    /// Blocks until it listens; panics with what to install when Python or moto is missing.
    pub fn start() -> Moto {
        let python = std::env::var("SECRET_ROTOR_PYTHON")
            .ok()
            .filter(|p| !p.trim().is_empty())
            .unwrap_or_else(|| "python3".to_owned());
        let dir = service_dir("secret-rotor-moto-", None);
        let script = dir.join("moto_harness.py");
        std::fs::write(&script, HARNESS_SCRIPT).expect("cannot write moto_harness.py");
        let stdout_path = dir.join("stdout.log");
        let log_path = dir.join("stderr.log");
        let stdout = std::fs::File::create(&stdout_path).expect("cannot create moto's stdout log");
        let stderr = std::fs::File::create(&log_path).expect("cannot create moto's stderr log");
        let child = Command::new(&python)
            .arg(&script)
            .args(["--port", "0", "--region", REGION, "--parent-pid"])
            .arg(std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                let _ = std::fs::remove_dir_all(&dir);
                panic!("cannot start moto: `{python}` not found: {INSTALL_HINT}")
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                panic!("cannot start moto with `{python}`: {e}; {INSTALL_HINT}")
            }
        };
        let mut guard = ServiceGuard::new("moto", Some(child), "", Some(dir));
        let started = Instant::now();
        let endpoint = loop {
            let out = std::fs::read_to_string(&stdout_path).unwrap_or_default();
            if let Some(line) = out.lines().find(|l| l.starts_with(READY_PREFIX)) {
                break line[READY_PREFIX.len()..].trim().to_owned();
            }
            if let Some(status) = guard.exited() {
                let err = std::fs::read_to_string(&log_path).unwrap_or_default();
                panic!(
                    "moto exited before listening ({status}); {INSTALL_HINT}\n--- stderr ---\n{err}"
                );
            }
            if started.elapsed() > START_TIMEOUT {
                let err = std::fs::read_to_string(&log_path).unwrap_or_default();
                guard.stop();
                panic!("moto did not listen within {START_TIMEOUT:?}\n--- stderr ---\n{err}");
            }
            std::thread::sleep(Duration::from_millis(25));
        };
        let addr = endpoint.trim_start_matches("http://").to_owned();
        assert!(
            wait_for_port(addr.as_str(), Duration::from_secs(10)),
            "moto said it listens on {endpoint} but does not accept connections"
        );
        Moto {
            endpoint,
            region: REGION.to_owned(),
            log_path,
            guard: Mutex::new(guard),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// `us-east-1`.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// What moto printed on stderr so far (errors; requests are not logged).
    pub fn server_log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Whether the server process is still running.
    pub fn is_running(&self) -> bool {
        let mut guard = self.guard.lock().unwrap_or_else(|e| e.into_inner());
        guard.exited().is_none() && guard.dir().is_some()
    }

    /// The environment a child process (a Lambda binary, a script) needs to reach this
    /// server: `AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_DEFAULT_REGION`, static test
    /// credentials and `AWS_EC2_METADATA_DISABLED=true`.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_REGION", self.region.as_str()),
            ("AWS_DEFAULT_REGION", self.region.as_str()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// An aws-sdk-secretsmanager client for this server (static test credentials).
    ///
    /// Build one per test (per tokio runtime): an HTTP client's connections belong to the
    /// runtime that opened them.
    pub fn sdk_client(&self) -> aws_sdk_secretsmanager::Client {
        let config = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .credentials_provider(Credentials::new(
                "testing",
                "testing",
                None,
                None,
                "secret-rotor-testkit",
            ))
            .endpoint_url(&self.endpoint)
            .build();
        aws_sdk_secretsmanager::Client::from_conf(config)
    }

    /// An aws-sdk-rds client for this server (static test credentials), e.g. for
    /// `secret_rotor::rds::RdsLocator::new`.
    ///
    /// Build one per test (per tokio runtime), like [`Moto::sdk_client`].
    pub fn rds_client(&self) -> aws_sdk_rds::Client {
        let config = aws_sdk_rds::Config::builder()
            .behavior_version(aws_sdk_rds::config::BehaviorVersion::latest())
            .region(aws_sdk_rds::config::Region::new(self.region.clone()))
            .credentials_provider(aws_sdk_rds::config::Credentials::new(
                "testing",
                "testing",
                None,
                None,
                "secret-rotor-testkit",
            ))
            .endpoint_url(&self.endpoint)
            .build();
        aws_sdk_rds::Client::from_conf(config)
    }

    /// secret-rotor's store on this server.
    pub async fn store(&self) -> AwsSecretStore {
        AwsSecretStore::new(self.sdk_client())
    }

    /// The value of `secret_id`'s version labelled `stage`, if it has one. Panics on failure.
    pub async fn value_at(&self, secret_id: &str, stage: Stage) -> Option<SecretValue> {
        let id = SecretId::new(secret_id).expect("a secret id");
        self.store()
            .await
            .get_value(&id, &Selector::stage(stage))
            .await
            .unwrap_or_else(|e| panic!("GetSecretValue {secret_id}: {e}"))
    }

    /// The JSON of `secret_id`'s `AWSCURRENT` value, secrets included (for assertions).
    pub async fn current_json(&self, secret_id: &str) -> Value {
        let value = self
            .value_at(secret_id, Stage::Current)
            .await
            .unwrap_or_else(|| panic!("{secret_id} has no AWSCURRENT value"));
        let json = value.to_secret_string().expect("a storable value");
        serde_json::from_str(json.expose_secret()).expect("JSON")
    }

    /// Tags `secret_id` (`TagResource`), e.g. for fleet selection by tag.
    pub async fn tag_secret(&self, secret_id: &str, tags: &[(&str, &str)]) {
        let tags = tags.iter().map(|(k, v)| {
            aws_sdk_secretsmanager::types::Tag::builder()
                .key(*k)
                .value(*v)
                .build()
        });
        self.sdk_client()
            .tag_resource()
            .secret_id(secret_id)
            .set_tags(Some(tags.collect()))
            .send()
            .await
            .expect("TagResource");
    }

    /// `CreateSecret(Name=name, SecretString=secret_string)`; returns the ARN. Panics on
    /// failure.
    pub async fn create_secret(&self, name: &str, secret_string: &str) -> String {
        let out = self
            .sdk_client()
            .create_secret()
            .name(name)
            .secret_string(secret_string)
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "CreateSecret {name:?} on moto ({}) failed: {}",
                    self.endpoint,
                    DisplayErrorContext(&e)
                )
            });
        out.arn.expect("CreateSecret returned no ARN")
    }

    /// A master secret as RDS creates it (`ManageMasterUserPassword`): the value is
    /// `{"username", "password"}` only, the tags are `aws:rds:primaryDBInstanceArn` (when
    /// `primary_arn` contains `:db:`) or `aws:rds:primaryDBClusterArn` (`:cluster:`) =
    /// `primary_arn`, and `aws:secretsmanager:owningService` = `rds` (moto accepts these
    /// reserved `aws:` keys through `CreateSecret`; `DescribeSecret` returns them in `Tags`
    /// and `OwningService` = `rds`). Returns the secret's ARN; panics on failure or when
    /// `primary_arn` is neither an instance nor a cluster ARN.
    pub async fn create_rds_managed_secret(
        &self,
        name: &str,
        username: &str,
        password: &str,
        primary_arn: &str,
    ) -> String {
        let primary_tag = if primary_arn.contains(":cluster:") {
            RDS_PRIMARY_CLUSTER_TAG
        } else if primary_arn.contains(":db:") {
            RDS_PRIMARY_INSTANCE_TAG
        } else {
            panic!(
                "create_rds_managed_secret: {primary_arn:?} is neither a DB instance ARN \
                 (arn:aws:rds:REGION:ACCOUNT:db:ID) nor a DB cluster ARN (...:cluster:ID)"
            )
        };
        let tag = |key: &str, value: &str| {
            aws_sdk_secretsmanager::types::Tag::builder()
                .key(key)
                .value(value)
                .build()
        };
        let value = json!({ "username": username, "password": password }).to_string();
        let out = self
            .sdk_client()
            .create_secret()
            .name(name)
            .description(format!(
                "The secret associated with the primary RDS DB: {primary_arn}"
            ))
            .secret_string(value)
            .tags(tag(primary_tag, primary_arn))
            .tags(tag(OWNING_SERVICE_TAG, "rds"))
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "CreateSecret {name:?} (RDS-managed, {primary_tag}={primary_arn}) on moto ({}) \
                     failed: {}",
                    self.endpoint,
                    DisplayErrorContext(&e)
                )
            });
        out.arn.expect("CreateSecret returned no ARN")
    }

    /// `CreateDBInstance` (class `db.t3.micro`, a dummy master user) of `engine`
    /// (`postgres`, `mysql`, `mariadb`, ...; moto reports it as given), then points its
    /// endpoint at `address:port` ([`Moto::set_db_instance_endpoint`]). Returns the
    /// instance's ARN (`arn:aws:rds:us-east-1:123456789012:db:ID`). Panics on failure.
    ///
    /// moto (like RDS) lower-cases identifiers and refuses ones that do not start with a
    /// letter. `DescribeDBInstances` accepts the id or the ARN as `DBInstanceIdentifier`.
    pub async fn create_db_instance(
        &self,
        id: &str,
        engine: &str,
        address: &str,
        port: u16,
    ) -> String {
        let out = self
            .rds_client()
            .create_db_instance()
            .db_instance_identifier(id)
            .engine(engine)
            .set_engine_version(engine_version_for_moto(engine).map(str::to_owned))
            .db_instance_class("db.t3.micro")
            .allocated_storage(20)
            .master_username(RDS_DUMMY_MASTER_USER)
            .master_user_password(RDS_DUMMY_MASTER_PASSWORD)
            .port(i32::from(port))
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "CreateDBInstance {id:?} ({engine}) on moto ({}) failed: {}",
                    self.endpoint,
                    aws_sdk_rds::error::DisplayErrorContext(&e)
                )
            });
        let arn = out
            .db_instance
            .and_then(|db| db.db_instance_arn)
            .expect("CreateDBInstance returned no DBInstanceArn");
        self.set_db_instance_endpoint(&arn, Some(address), Some(port))
            .await;
        arn
    }

    /// `CreateDBInstanceReadReplica` of `source_id` (an id, or an ARN), then points the
    /// replica's endpoint at `address:port`. Returns the replica's ARN. Panics on failure,
    /// or when moto does not report `ReadReplicaSourceDBInstanceIdentifier`.
    ///
    /// moto reports `ReadReplicaSourceDBInstanceIdentifier` exactly as `source_id` was
    /// given (the source's id, or its ARN when created from the ARN: AWS does the latter
    /// only for cross-region replicas). The engine is the source's. Unlike
    /// `CreateDBInstance`, moto does not check the replica's identifier, so a replica can
    /// be called `127` (the first DNS label of `127.0.0.1`, for AWS's replica rule; it
    /// cannot be deleted then: `DeleteDBInstance` does check).
    pub async fn create_read_replica(
        &self,
        id: &str,
        source_id: &str,
        address: &str,
        port: u16,
    ) -> String {
        let out = self
            .rds_client()
            .create_db_instance_read_replica()
            .db_instance_identifier(id)
            .source_db_instance_identifier(source_id)
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "CreateDBInstanceReadReplica {id:?} of {source_id:?} on moto ({}) failed: {}",
                    self.endpoint,
                    aws_sdk_rds::error::DisplayErrorContext(&e)
                )
            });
        let db = out
            .db_instance
            .expect("CreateDBInstanceReadReplica returned no DBInstance");
        assert!(
            db.read_replica_source_db_instance_identifier.is_some(),
            "moto did not report ReadReplicaSourceDBInstanceIdentifier for replica {id:?}: {db:?}"
        );
        let arn = db
            .db_instance_arn
            .expect("CreateDBInstanceReadReplica returned no DBInstanceArn");
        self.set_db_instance_endpoint(&arn, Some(address), Some(port))
            .await;
        arn
    }

    /// `CreateDBCluster` of `engine` (`aurora-postgresql`, `aurora-mysql`, ...) with no
    /// member, then points its writer endpoint (`Endpoint`) at `address:port` (the reader
    /// endpoint keeps moto's name: see [`Moto::set_db_cluster_endpoint`]). Returns the
    /// cluster's ARN (`arn:aws:rds:us-east-1:123456789012:cluster:ID`). Panics on failure.
    ///
    /// `DescribeDBClusters` accepts the id or the ARN as `DBClusterIdentifier`; moto does
    /// not check cluster identifiers (a cluster can be called `127`).
    pub async fn create_db_cluster(
        &self,
        id: &str,
        engine: &str,
        address: &str,
        port: u16,
    ) -> String {
        let out = self
            .rds_client()
            .create_db_cluster()
            .db_cluster_identifier(id)
            .engine(engine)
            .master_username(RDS_DUMMY_MASTER_USER)
            .master_user_password(RDS_DUMMY_MASTER_PASSWORD)
            .port(i32::from(port))
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "CreateDBCluster {id:?} ({engine}) on moto ({}) failed: {}",
                    self.endpoint,
                    aws_sdk_rds::error::DisplayErrorContext(&e)
                )
            });
        let arn = out
            .db_cluster
            .and_then(|c| c.db_cluster_arn)
            .expect("CreateDBCluster returned no DBClusterArn");
        self.set_db_cluster_endpoint(&arn, Some(address), None, Some(port))
            .await;
        arn
    }

    /// A member instance of cluster `cluster_id` (`CreateDBInstance` with
    /// `DBClusterIdentifier` and the cluster's engine), its endpoint pointed at
    /// `address:port`. `DescribeDBInstances` then reports its `DBClusterIdentifier`; the
    /// first member is the cluster's writer. Returns the instance's ARN. Panics on failure.
    pub async fn add_cluster_instance(
        &self,
        cluster_id: &str,
        instance_id: &str,
        address: &str,
        port: u16,
    ) -> String {
        let client = self.rds_client();
        let cluster = client
            .describe_db_clusters()
            .db_cluster_identifier(cluster_id)
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "DescribeDBClusters {cluster_id:?} on moto ({}) failed: {}",
                    self.endpoint,
                    aws_sdk_rds::error::DisplayErrorContext(&e)
                )
            })
            .db_clusters
            .unwrap_or_default()
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("DescribeDBClusters {cluster_id:?} returned no cluster"));
        let engine = cluster
            .engine
            .unwrap_or_else(|| panic!("moto reported no Engine for cluster {cluster_id:?}"));
        let cluster_id = cluster
            .db_cluster_identifier
            .unwrap_or_else(|| cluster_id.to_owned());
        let out = client
            .create_db_instance()
            .db_instance_identifier(instance_id)
            .db_cluster_identifier(&cluster_id)
            .engine(&engine)
            .db_instance_class("db.t3.micro")
            .port(i32::from(port))
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "CreateDBInstance {instance_id:?} in cluster {cluster_id:?} ({engine}) on \
                     moto ({}) failed: {}",
                    self.endpoint,
                    aws_sdk_rds::error::DisplayErrorContext(&e)
                )
            });
        let arn = out
            .db_instance
            .and_then(|db| db.db_instance_arn)
            .expect("CreateDBInstance returned no DBInstanceArn");
        self.set_db_instance_endpoint(&arn, Some(address), Some(port))
            .await;
        arn
    }

    /// Sets what `DescribeDBInstances` reports as the `Endpoint` of DB instance `id` (an id
    /// or an ARN): `Address` = `address` (`None`: moto's own
    /// `{id}.aaaaaaaaaa.{region}.rds.amazonaws.com`) and, when given, `Port`. Panics on
    /// failure (e.g. no such instance).
    pub async fn set_db_instance_endpoint(
        &self,
        id: &str,
        address: Option<&str>,
        port: Option<u16>,
    ) {
        let mut body = json!({ "DBInstanceIdentifier": id, "Address": address });
        if let Some(port) = port {
            body["Port"] = port.into();
        }
        if let Err(e) = self.control_post("rds-endpoint", &body).await {
            panic!(
                "setting the endpoint of DB instance {id:?} to {address:?}:{port:?} failed: {e}"
            );
        }
    }

    /// Sets what `DescribeDBClusters` reports for DB cluster `id` (an id or an ARN):
    /// `Endpoint` = `address` (`None`: moto's `{id}.cluster-XXXX.{region}.rds.amazonaws.com`),
    /// `ReaderEndpoint` = `reader_address` when given, and `Port` when given. Panics on
    /// failure (e.g. no such cluster).
    pub async fn set_db_cluster_endpoint(
        &self,
        id: &str,
        address: Option<&str>,
        reader_address: Option<&str>,
        port: Option<u16>,
    ) {
        let mut body = json!({ "DBClusterIdentifier": id, "Address": address });
        if let Some(reader) = reader_address {
            body["ReaderAddress"] = reader.into();
        }
        if let Some(port) = port {
            body["Port"] = port.into();
        }
        if let Err(e) = self.control_post("rds-endpoint", &body).await {
            panic!(
                "setting the endpoints of DB cluster {id:?} to {address:?}:{port:?} failed: {e}"
            );
        }
    }

    /// What the real `RotateSecret` does before it invokes the function: refuses while
    /// another rotation is in progress, enables rotation and stages an empty `AWSPENDING`
    /// version under `token` (a new UUID when `None`). Returns the token, or the service's
    /// error message.
    pub async fn start_rotation(
        &self,
        secret_id: &str,
        token: Option<&str>,
    ) -> Result<String, String> {
        self.begin_rotation(secret_id, token).await.map(|s| s.token)
    }

    /// [`Moto::start_rotation`], also returning the secret's ARN and name.
    pub async fn begin_rotation(
        &self,
        secret_id: &str,
        token: Option<&str>,
    ) -> Result<StartedRotation, String> {
        let mut body = json!({ "SecretId": secret_id });
        if let Some(token) = token {
            body["ClientRequestToken"] = token.into();
        }
        let out = self.control_post("rotate", &body).await?;
        let field = |k: &str| {
            out[k]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("the harness returned no {k}: {out}"))
        };
        Ok(StartedRotation {
            token: field("ClientRequestToken")?,
            arn: field("ARN")?,
            name: field("Name")?,
        })
    }

    /// Sets `RotationEnabled` as `DescribeSecret` reports it: `Some(true)`, `Some(false)`,
    /// or `None` (absent, as on secrets that never had rotation configured). Panics on
    /// failure.
    pub async fn set_rotation_enabled(&self, secret_id: &str, enabled: Option<bool>) {
        let body = json!({ "SecretId": secret_id, "Enabled": enabled });
        if let Err(e) = self.control_post("rotation-enabled", &body).await {
            panic!("setting RotationEnabled={enabled:?} on {secret_id:?} failed: {e}");
        }
    }

    /// Writes version `version_id` directly, with `secret_string` (`None`: no value) and
    /// `stages` (removed from every other version), for tests that need states the API
    /// cannot produce. Panics on failure.
    pub async fn put_raw(
        &self,
        secret_id: &str,
        version_id: &str,
        secret_string: Option<&str>,
        stages: &[&str],
    ) {
        let body = json!({
            "SecretId": secret_id,
            "VersionId": version_id,
            "SecretString": secret_string,
            "VersionStages": stages,
        });
        if let Err(e) = self.control_post("put-raw", &body).await {
            panic!("put-raw of version {version_id:?} of {secret_id:?} failed: {e}");
        }
    }

    /// How many Secrets Manager calls carried `"SecretId": secret_id`, by operation
    /// (`DescribeSecret`, `GetSecretValue`, `PutSecretValue`, `UpdateSecretVersionStage`,
    /// ...). The key is the raw `SecretId`: calls made with the ARN are not counted under
    /// the name, and the other way round.
    pub async fn calls(&self, secret_id: &str) -> BTreeMap<String, u64> {
        let response = self
            .http()
            .get(self.control_url("calls"))
            .query(&[("SecretId", secret_id)])
            .send()
            .await
            .unwrap_or_else(|e| panic!("moto harness unreachable at {}: {e}", self.endpoint));
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "GET /_rotor/calls failed ({status}): {text}"
        );
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("bad /_rotor/calls answer {text:?}: {e}"))
    }

    /// Forgets all call counts (of every secret: avoid on [`Moto::shared`]).
    pub async fn reset_calls(&self) {
        if let Err(e) = self.control_post("calls/reset", &json!({})).await {
            panic!("resetting call counts failed: {e}");
        }
    }

    /// moto's raw view of a secret: `{"ARN", "Name", "RotationRequested",
    /// "RotationEnabled", "DefaultVersionId", "Versions": {id: {"VersionStages",
    /// "HasValue"}}}`. For debugging and assertions the API cannot make.
    pub async fn raw_secret(&self, secret_id: &str) -> Value {
        let response = self
            .http()
            .get(self.control_url("secret"))
            .query(&[("SecretId", secret_id)])
            .send()
            .await
            .unwrap_or_else(|e| panic!("moto harness unreachable at {}: {e}", self.endpoint));
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "GET /_rotor/secret failed ({status}): {text}"
        );
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("bad /_rotor/secret answer {text:?}: {e}"))
    }

    fn control_url(&self, path: &str) -> String {
        format!("{}/_rotor/{path}", self.endpoint)
    }

    /// A fresh HTTP client: a client's pooled connections belong to the tokio runtime that
    /// opened them, and each `#[tokio::test]` has its own runtime.
    fn http(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("cannot build an HTTP client")
    }

    async fn control_post(&self, path: &str, body: &Value) -> Result<Value, String> {
        let response = self
            .http()
            .post(self.control_url(path))
            .json(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("moto harness unreachable at {}: {e}", self.endpoint));
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status.is_success() {
            Ok(value)
        } else {
            Err(value["error"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("HTTP {status}: {value}")))
        }
    }
}

/// An `EngineVersion` for engines that moto's `CreateDBInstance` has no default for (it
/// fails with an internal error on `mariadb` without one).
fn engine_version_for_moto(engine: &str) -> Option<&'static str> {
    match engine {
        "mariadb" => Some("10.11.8"),
        _ => None,
    }
}
