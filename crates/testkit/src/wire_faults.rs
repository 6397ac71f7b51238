//! Faults on the wire in front of a Secrets Manager endpoint (moto): throttling, server
//! errors, or no answer at all, for chosen operations, a chosen number of times; or the
//! calling process killed (SIGKILL) at the n-th call, before or after the call takes
//! effect. What is not faulted is forwarded unchanged.
//!
//! Point the function's `AWS_ENDPOINT_URL` at [`FaultyEndpoint::url`].

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// What the endpoint does instead of answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireFault {
    /// `400 ThrottlingException`, as the service answers over its quota.
    Throttle,
    /// `500 InternalServiceError`.
    ServerError,
    /// Accepts the request and never answers.
    Hang,
}

/// When [`FaultyEndpoint::kill_at`] kills the calling process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillWhen {
    /// As the request arrives: the call never reaches the service.
    BeforeForwarding,
    /// Once the service has answered, before the answer reaches the process: the call took
    /// effect and the process never learns it.
    AfterForwarding,
}

#[derive(Debug, Default)]
struct Plan {
    faults: Vec<(String, WireFault, usize)>,
    seen: Vec<String>,
    /// SIGKILL this pid at request `n` (1-based, counted from when it was set).
    kill: Option<(usize, KillWhen, u32)>,
    since_kill_set: usize,
    killed: bool,
}

/// SIGKILL, as Lambda's runtime does to a function that runs out of time or memory.
pub(crate) fn kill(pid: u32) {
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
}

#[derive(Clone)]
struct Shared {
    plan: Arc<Mutex<Plan>>,
    backend: String,
    http: reqwest::Client,
}

/// A Secrets Manager endpoint that forwards to a backend, with faults injected.
#[derive(Debug)]
pub struct FaultyEndpoint {
    addr: SocketAddr,
    plan: Arc<Mutex<Plan>>,
    task: tokio::task::JoinHandle<()>,
}

fn lock(plan: &Mutex<Plan>) -> std::sync::MutexGuard<'_, Plan> {
    plan.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl FaultyEndpoint {
    /// Starts it on a free port of 127.0.0.1, forwarding to `backend` (a URL).
    pub async fn start(backend: &str) -> FaultyEndpoint {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("cannot bind the faulty endpoint");
        let addr = listener.local_addr().expect("address");
        let plan = Arc::new(Mutex::new(Plan::default()));
        let shared = Shared {
            plan: Arc::clone(&plan),
            backend: backend.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client"),
        };
        let app = axum::Router::new().fallback(handle).with_state(shared);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FaultyEndpoint { addr, plan, task }
    }

    /// The endpoint's URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next `times` requests for `operation` (e.g. `PutSecretValue`) get `fault`.
    pub fn inject(&self, operation: &str, fault: WireFault, times: usize) {
        lock(&self.plan)
            .faults
            .push((operation.to_owned(), fault, times));
    }

    /// SIGKILLs process `pid` at the `n`-th request (1-based) from now, of any operation,
    /// before or after forwarding it. The process is not told: its connection just drops.
    pub fn kill_at(&self, n: usize, when: KillWhen, pid: u32) {
        let mut plan = lock(&self.plan);
        plan.kill = Some((n, when, pid));
        plan.since_kill_set = 0;
        plan.killed = false;
    }

    /// Whether the kill set by [`FaultyEndpoint::kill_at`] happened.
    pub fn killed(&self) -> bool {
        lock(&self.plan).killed
    }

    /// Every operation that arrived so far, in order.
    pub fn operations(&self) -> Vec<String> {
        lock(&self.plan).seen.clone()
    }

    /// Removes every fault not yet used.
    pub fn clear(&self) {
        lock(&self.plan).faults.clear();
    }

    /// How many requests for `operation` arrived.
    pub fn seen(&self, operation: &str) -> usize {
        lock(&self.plan)
            .seen
            .iter()
            .filter(|o| *o == operation)
            .count()
    }
}

impl Drop for FaultyEndpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn service_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"__type": code, "message": message}).to_string();
    (
        status,
        [("content-type", "application/x-amz-json-1.1")],
        body,
    )
        .into_response()
}

async fn handle(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let operation = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit('.').next())
        .unwrap_or_default()
        .to_owned();
    let (fault, kill_after) = {
        let mut plan = lock(&shared.plan);
        plan.seen.push(operation.clone());
        plan.since_kill_set += 1;
        let mut kill_after = None;
        if let Some((n, when, pid)) = plan.kill
            && n == plan.since_kill_set
        {
            plan.kill = None;
            plan.killed = true;
            match when {
                KillWhen::BeforeForwarding => {
                    kill(pid);
                    return StatusCode::BAD_GATEWAY.into_response();
                }
                KillWhen::AfterForwarding => kill_after = Some(pid),
            }
        }
        let found = plan
            .faults
            .iter_mut()
            .find(|(op, _, left)| *op == operation && *left > 0);
        let fault = found.map(|(_, fault, left)| {
            *left -= 1;
            *fault
        });
        (fault, kill_after)
    };
    match fault {
        Some(WireFault::Throttle) => {
            return service_error(
                StatusCode::BAD_REQUEST,
                "ThrottlingException",
                "Rate exceeded",
            );
        }
        Some(WireFault::ServerError) => {
            return service_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServiceError",
                "boom",
            );
        }
        Some(WireFault::Hang) => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return StatusCode::GATEWAY_TIMEOUT.into_response();
        }
        None => {}
    }
    let mut request = shared
        .http
        .request(method, format!("{}{uri}", shared.backend));
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    match request.body(body).send().await {
        Ok(answer) => {
            let status = answer.status();
            let mut response_headers = HeaderMap::new();
            for (name, value) in answer.headers() {
                if name != "content-length" && name != "transfer-encoding" && name != "connection" {
                    response_headers.insert(name.clone(), value.clone());
                }
            }
            let bytes = answer.bytes().await.unwrap_or_default();
            if let Some(pid) = kill_after {
                kill(pid);
            }
            (status, response_headers, bytes).into_response()
        }
        Err(e) => service_error(StatusCode::BAD_GATEWAY, "ProxyError", &e.to_string()),
    }
}
