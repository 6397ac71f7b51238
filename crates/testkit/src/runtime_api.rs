//! Runs a real Lambda binary behind an in-process Lambda Runtime API, and drives rotations
//! the way Secrets Manager does.
//!
//! [`LambdaProcess::spawn`] starts a Runtime API server (the `2018-06-01` endpoints that
//! `lambda_runtime` uses: `invocation/next`, `invocation/{id}/response`,
//! `invocation/{id}/error`, `init/error`) on a free port, then the binary with the
//! environment Lambda gives a `provided.al2023` function plus the caller's. Its stdout and
//! stderr are captured ([`LambdaProcess::logs`]). The process is killed when the
//! [`LambdaProcess`] is dropped or shut down, or when the test process exits.
//!
//! [`LambdaProcess::invoke`] answers like Lambda's `Invoke`: the function's response or
//! its error (`errorType`, `errorMessage`). When the function reported an init error or
//! its process exited, it answers at once with that init error, or with
//! `Runtime.ExitError` as Lambda does (the process is not restarted), and prints the
//! captured logs on the test's stderr.
//!
//! [`rotate_like_the_service`] runs the four steps of one rotation, as Secrets Manager
//! does after `RotateSecret`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use secret_rotor::Step;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::moto::{ACCOUNT_ID, Moto};
use crate::process::ServiceGuard;

/// The function's name (`AWS_LAMBDA_FUNCTION_NAME`).
pub const FUNCTION_NAME: &str = "secret-rotor-test";

/// How long an invocation may take (the function's timeout); also its deadline.
pub const INVOKE_TIMEOUT: Duration = Duration::from_secs(60);

/// The answer of one invocation, as Lambda's `Invoke` reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    /// The function returned this payload.
    Ok(Value),
    /// The function failed (or could not start: `Runtime.ExitError`, init errors).
    Err {
        /// `errorType`: the stable error code.
        error_type: String,
        /// `errorMessage`.
        error_message: String,
    },
}

impl Invocation {
    /// Whether the function returned a payload.
    pub fn is_ok(&self) -> bool {
        matches!(self, Invocation::Ok(_))
    }

    /// The payload, if the function returned one.
    pub fn ok(&self) -> Option<&Value> {
        match self {
            Invocation::Ok(v) => Some(v),
            Invocation::Err { .. } => None,
        }
    }

    /// The `errorType`, if the function failed.
    pub fn error_type(&self) -> Option<&str> {
        match self {
            Invocation::Ok(_) => None,
            Invocation::Err { error_type, .. } => Some(error_type),
        }
    }

    /// The `errorMessage`, if the function failed.
    pub fn error_message(&self) -> Option<&str> {
        match self {
            Invocation::Ok(_) => None,
            Invocation::Err { error_message, .. } => Some(error_message),
        }
    }
}

/// One event waiting for the function's `next` poll.
struct Queued {
    request_id: String,
    event: Value,
}

/// State shared by the Runtime API handlers and [`LambdaProcess`].
struct Shared {
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Queued>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<Invocation>>>,
    init_error: Mutex<Option<Invocation>>,
    invoked_function_arn: String,
    /// When the function first asked for an invocation: the end of its init.
    first_poll: Mutex<Option<Instant>>,
}

impl Shared {
    fn complete(&self, request_id: &str, outcome: Invocation) -> StatusCode {
        let sender = lock(&self.waiting).remove(request_id);
        match sender {
            Some(sender) => {
                let _ = sender.send(outcome);
                StatusCode::ACCEPTED
            }
            None => StatusCode::NOT_FOUND,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}

fn header(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

async fn next_invocation(State(shared): State<Arc<Shared>>) -> Response {
    lock(&shared.first_poll).get_or_insert_with(Instant::now);
    let queued = shared.queue.lock().await.recv().await;
    let Some(Queued { request_id, event }) = queued else {
        return (StatusCode::GONE, "the emulator is shutting down").into_response();
    };
    let deadline = now_ms() + INVOKE_TIMEOUT.as_millis();
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert("lambda-runtime-aws-request-id", header(&request_id));
    headers.insert("lambda-runtime-deadline-ms", header(&deadline.to_string()));
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        header(&shared.invoked_function_arn),
    );
    let trace = format!(
        "Root=1-{:08x}-{};Parent={};Sampled=0",
        now_ms() / 1000,
        &request_id.replace('-', "")[..24],
        &request_id.replace('-', "")[..16],
    );
    headers.insert("lambda-runtime-trace-id", header(&trace));
    (StatusCode::OK, headers, event.to_string()).into_response()
}

async fn invocation_response(
    State(shared): State<Arc<Shared>>,
    UrlPath(request_id): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    let payload = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    shared.complete(&request_id, Invocation::Ok(payload))
}

/// Parses an error report (`{"errorType", "errorMessage"}`), falling back to the
/// `Lambda-Runtime-Function-Error-Type` header and the raw body.
fn error_report(headers: &HeaderMap, body: &[u8]) -> Invocation {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let header_type = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("Unhandled");
    Invocation::Err {
        error_type: parsed["errorType"]
            .as_str()
            .unwrap_or(header_type)
            .to_owned(),
        error_message: parsed["errorMessage"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned()),
    }
}

async fn invocation_error(
    State(shared): State<Arc<Shared>>,
    UrlPath(request_id): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    shared.complete(&request_id, error_report(&headers, &body))
}

async fn init_error(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    *lock(&shared.init_error) = Some(error_report(&headers, &body));
    StatusCode::ACCEPTED
}

/// A Lambda binary running behind an in-process Runtime API. See the [module docs](self).
pub struct LambdaProcess {
    shared: Arc<Shared>,
    queue: mpsc::UnboundedSender<Queued>,
    logs: Arc<Mutex<String>>,
    guard: Mutex<ServiceGuard>,
    pid: u32,
    runtime_api: String,
    server_stop: Option<oneshot::Sender<()>>,
    server_thread: Option<JoinHandle<()>>,
    readers: Vec<JoinHandle<()>>,
    spawned: Instant,
}

impl std::fmt::Debug for LambdaProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LambdaProcess")
            .field("pid", &self.pid)
            .field("runtime_api", &self.runtime_api)
            .finish_non_exhaustive()
    }
}

impl LambdaProcess {
    /// Starts the Runtime API on a free port, then `binary` with Lambda's environment
    /// (`AWS_LAMBDA_RUNTIME_API`, `AWS_LAMBDA_FUNCTION_NAME`, `..._MEMORY_SIZE`,
    /// `..._VERSION`, `..._LOG_GROUP_NAME`, `..._LOG_STREAM_NAME`, `AWS_REGION`, `PATH`,
    /// `RUST_BACKTRACE` when set) and then `env` (which wins, e.g. [`Moto::env`]). The
    /// test's own environment is not inherited. Panics if the binary cannot be started.
    pub async fn spawn(binary: &Path, env: &[(String, String)]) -> LambdaProcess {
        let region = env
            .iter()
            .rev()
            .find(|(k, _)| k == "AWS_REGION")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| crate::moto::REGION.to_owned());
        let (queue_tx, queue_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            queue: tokio::sync::Mutex::new(queue_rx),
            waiting: Mutex::new(HashMap::new()),
            init_error: Mutex::new(None),
            invoked_function_arn: format!(
                "arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{FUNCTION_NAME}"
            ),
            first_poll: Mutex::new(None),
        });

        // The server runs on its own runtime and thread, so the process outlives the
        // runtime of the test that spawned it (e.g. when kept in a static).
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(invocation_response),
            )
            .route(
                "/2018-06-01/runtime/invocation/{id}/error",
                post(invocation_error),
            )
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let (addr_tx, addr_rx) = oneshot::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let server_thread = std::thread::Builder::new()
            .name("lambda-runtime-api".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("cannot build the Runtime API's tokio runtime");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                        .await
                        .expect("cannot bind the Runtime API");
                    let _ = addr_tx.send(listener.local_addr().expect("no local address"));
                    // Not graceful: a pending `next` poll must not hold the shutdown.
                    tokio::select! {
                        _ = axum::serve(listener, app) => {}
                        _ = stop_rx => {}
                    }
                });
            })
            .expect("cannot start the Runtime API thread");
        let addr = addr_rx.await.expect("the Runtime API did not start");
        let runtime_api = addr.to_string();

        let mut command = Command::new(binary);
        command.env_clear();
        command.env(
            "PATH",
            std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()),
        );
        if let Ok(backtrace) = std::env::var("RUST_BACKTRACE") {
            command.env("RUST_BACKTRACE", backtrace);
        }
        let stream = format!("2026/01/01/[$LATEST]{}", uuid::Uuid::new_v4().simple());
        let task_root = binary.parent().unwrap_or(Path::new("/"));
        command
            .env("AWS_LAMBDA_RUNTIME_API", &runtime_api)
            .env("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{FUNCTION_NAME}"),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", stream)
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .env("AWS_REGION", &region)
            .env("AWS_DEFAULT_REGION", &region)
            .env("LAMBDA_TASK_ROOT", task_root)
            .env("_HANDLER", "bootstrap")
            .env("TZ", ":UTC")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(task_root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let spawned = Instant::now();
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the Lambda binary {}: {e}", binary.display()));
        let pid = child.id();
        let logs = Arc::new(Mutex::new(String::new()));
        let readers = [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        .map(|stream| {
            let logs = logs.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                let mut line = Vec::new();
                while matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
                    lock(&logs).push_str(&String::from_utf8_lossy(&line));
                    line.clear();
                }
            })
        })
        .collect();
        let guard = ServiceGuard::new(
            format!("lambda {}", binary.display()),
            Some(child),
            "",
            None,
        );
        LambdaProcess {
            shared,
            queue: queue_tx,
            logs,
            guard: Mutex::new(guard),
            pid,
            runtime_api,
            server_stop: Some(stop_tx),
            server_thread: Some(server_thread),
            readers,
            spawned,
        }
    }

    /// The function's init: from the process's spawn to its first request for an
    /// invocation (`GET .../invocation/next`); `None` before that request.
    pub fn init_time(&self) -> Option<Duration> {
        lock(&self.shared.first_poll).map(|polled| polled.duration_since(self.spawned))
    }

    /// Queues `event` and waits for the function's answer.
    ///
    /// # Panics
    /// When the function does not answer within [`INVOKE_TIMEOUT`] (with the captured
    /// logs). An exited process or an init error is an [`Invocation::Err`] instead, as on
    /// Lambda.
    pub async fn invoke(&self, event: Value) -> Invocation {
        let request_id = uuid::Uuid::new_v4().to_string();
        let (tx, mut rx) = oneshot::channel();
        lock(&self.shared.waiting).insert(request_id.clone(), tx);
        let failed = |outcome: Invocation, what: &str| {
            lock(&self.shared.waiting).remove(&request_id);
            eprintln!(
                "--- Lambda {what} (request {request_id}); its logs: ---\n{}--- end of Lambda logs ---",
                self.logs()
            );
            outcome
        };
        if let Some(init) = lock(&self.shared.init_error).clone() {
            return failed(init, "init error");
        }
        if self
            .queue
            .send(Queued {
                request_id: request_id.clone(),
                event,
            })
            .is_err()
        {
            panic!("the Runtime API is shut down");
        }
        let started = Instant::now();
        loop {
            match tokio::time::timeout(Duration::from_millis(50), &mut rx).await {
                Ok(Ok(outcome)) => return outcome,
                Ok(Err(_)) => panic!("the Runtime API dropped request {request_id}"),
                Err(_elapsed) => {}
            }
            if let Some(init) = lock(&self.shared.init_error).clone() {
                return failed(init, "init error");
            }
            let exited = lock(&self.guard).exited();
            if let Some(status) = exited {
                // The process may have answered just before it exited.
                if let Ok(outcome) = rx.try_recv() {
                    return outcome;
                }
                let exit = match status.code() {
                    Some(code) => format!("exit status {code}"),
                    None => status.to_string(),
                };
                return failed(
                    Invocation::Err {
                        error_type: "Runtime.ExitError".into(),
                        error_message: format!(
                            "RequestId: {request_id} Error: Runtime exited with error: {exit}"
                        ),
                    },
                    "process exited",
                );
            }
            if started.elapsed() > INVOKE_TIMEOUT {
                lock(&self.shared.waiting).remove(&request_id);
                panic!(
                    "the Lambda did not answer request {request_id} within {INVOKE_TIMEOUT:?}; its logs:\n{}",
                    self.logs()
                );
            }
        }
    }

    /// Everything the process printed so far (stdout and stderr, interleaved by line).
    pub fn logs(&self) -> String {
        lock(&self.logs).clone()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// `127.0.0.1:PORT`: the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn runtime_api(&self) -> &str {
        &self.runtime_api
    }

    /// Whether the process is still running.
    pub fn is_running(&self) -> bool {
        let mut guard = lock(&self.guard);
        guard.child_mut().is_some() && guard.exited().is_none()
    }

    /// The process's peak resident set size (`VmHWM` of `/proc/<pid>/status`), in KiB;
    /// `None` once it has exited.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// Kills the process and returns everything it printed.
    pub async fn shutdown(mut self) -> String {
        self.stop();
        self.logs()
    }

    fn stop(&mut self) {
        lock(&self.guard).stop();
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        if let Some(stop) = self.server_stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.server_thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for LambdaProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The event Secrets Manager sends for one step, shaped like `events/*.json`:
/// `{"Step", "SecretId", "ClientRequestToken"}`, plus `"RotationToken"` when given.
pub fn rotation_event(
    step: Step,
    secret_id: &str,
    token: &str,
    rotation_token: Option<&str>,
) -> Value {
    let mut event = json!({
        "Step": step.as_str(),
        "SecretId": secret_id,
        "ClientRequestToken": token,
    });
    if let Some(rotation_token) = rotation_token {
        event["RotationToken"] = rotation_token.into();
    }
    event
}

/// The sample event of `events/<step>.json` (the files the README invokes), pointed at a
/// real secret and token.
///
/// Panics if the file is missing or is not JSON: the sample events are part of the product.
pub fn sample_event(step: Step, secret_id: &str, token: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../events/{}.json", step.as_str()));
    let raw = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("sample event {}: {e}", path.display()));
    let mut event: Value = serde_json::from_str(&raw)
        .unwrap_or_else(|e| panic!("sample event {}: {e}", path.display()));
    event["SecretId"] = secret_id.into();
    event["ClientRequestToken"] = token.into();
    event
}

/// One rotation of `arn` through `lambda` with the four sample events of `events/`
/// ([`sample_event`]); returns each step's `outcome`. Panics, with the function's logs, at
/// the first step that fails.
pub async fn rotate_with_sample_events(
    lambda: &LambdaProcess,
    moto: &Moto,
    arn: &str,
) -> Vec<String> {
    let token = moto
        .start_rotation(arn, None)
        .await
        .unwrap_or_else(|e| panic!("RotateSecret on {arn} was refused: {e}"));
    let mut outcomes = Vec::new();
    for step in Step::ALL {
        match lambda.invoke(sample_event(step, arn, &token)).await {
            Invocation::Ok(report) => {
                outcomes.push(report["outcome"].as_str().unwrap_or_default().to_owned())
            }
            other => panic!("{step}: {other:?}\n{}", lambda.logs()),
        }
    }
    outcomes
}

/// Drives one rotation the way Secrets Manager does: stage the empty `AWSPENDING` version
/// ([`Moto::begin_rotation`]; panics if the service would refuse the rotation), then invoke
/// createSecret, setSecret, testSecret and finishSecret in order, stopping at the first
/// error. Returns the token and each step's [`Invocation`].
///
/// As the real service does, the events carry the secret's **ARN** as `SecretId` even when
/// `secret_id` is a name: count calls with `moto.calls(&arn)`.
pub async fn rotate_like_the_service(
    lambda: &LambdaProcess,
    moto: &Moto,
    secret_id: &str,
    token: Option<&str>,
) -> (String, Vec<Invocation>) {
    rotate_like_the_service_with(lambda, moto, secret_id, token, None).await
}

/// [`rotate_like_the_service`], with a `RotationToken` in every event (as the service sends
/// for rotations that use an assumed role or cross-account setup).
pub async fn rotate_like_the_service_with(
    lambda: &LambdaProcess,
    moto: &Moto,
    secret_id: &str,
    token: Option<&str>,
    rotation_token: Option<&str>,
) -> (String, Vec<Invocation>) {
    let started = moto
        .begin_rotation(secret_id, token)
        .await
        .unwrap_or_else(|e| panic!("RotateSecret on {secret_id:?} was refused: {e}"));
    let mut outcomes = Vec::new();
    for step in Step::ALL {
        let event = rotation_event(step, &started.arn, &started.token, rotation_token);
        let outcome = lambda.invoke(event).await;
        let failed = !outcome.is_ok();
        outcomes.push(outcome);
        if failed {
            break;
        }
    }
    (started.token, outcomes)
}
