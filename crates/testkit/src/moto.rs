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
use secret_rotor::store::AwsSecretStore;
use serde_json::{Value, json};

use crate::process::{ServiceGuard, service_dir, wait_for_port};

/// The harness script, also usable from shell scripts:
/// `python3 crates/testkit/moto_harness.py --port P [--parent-pid PID]`.
pub const HARNESS_SCRIPT: &str = include_str!("../moto_harness.py");

/// The path of the harness script in the source tree.
pub const HARNESS_SCRIPT_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/moto_harness.py");

/// moto's default account.
pub const ACCOUNT_ID: &str = "123456789012";

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

    /// secret-rotor's store on this server.
    pub async fn store(&self) -> AwsSecretStore {
        AwsSecretStore::new(self.sdk_client())
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
