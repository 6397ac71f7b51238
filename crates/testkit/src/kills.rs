//! Real crashes, black box: a Lambda binary SIGKILLed at each external call of a rotation.
//!
//! A proxy in front of Secrets Manager ([`FaultyEndpoint`]) or in front of the target sees
//! call *n* arrive and kills the process — before forwarding it (the call never happens) or
//! after (it took effect and the process never learned it). In front of a database the
//! proxy is a [`TcpProxy`] and a call is a connection; in front of an HTTP API it is an HTTP
//! proxy (a [`FaultyEndpoint`] too) and a call is a request, since an HTTP client keeps its
//! connections alive and sends many requests on one (see [`Backend`]). The [`KillTarget`]
//! puts the proxy's address in the secrets it makes. Nothing is compiled into the binary
//! for this. Then what the service does: a new process, and either the step retried
//! (Lambda's retry of a failed invocation) or the rotation restarted from createSecret with
//! the same token (the next rotation attempt). After every step and every kill the
//! invariants are checked on the real services: `AWSCURRENT` logs in, or — only where the
//! strategy has one — the single-user window is open (`AWSPENDING` logs in instead); at the
//! end the rotation has converged (`AWSCURRENT` on the token, no `AWSPENDING` anywhere, the
//! new credential logs in) and, for a target that issues keys, every live key of the
//! account is held by `AWSCURRENT` or `AWSPREVIOUS` (none left unaccounted for).

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Instant;

use futures::StreamExt;
use secrecy::ExposeSecret;
use secret_rotor::store::SecretStore;
use secret_rotor::{SecretId, Stage, Step};
use serde_json::Value;

use crate::conformance::{Fixture, IssuingFixture, hostile_password};
use crate::moto::{Moto, unique_name};
use crate::proxy::TcpProxy;
use crate::runtime_api::{Invocation, LambdaProcess, rotation_event};
use crate::wire_faults::{FaultyEndpoint, KillWhen};

/// What the service does after a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterCrash {
    /// A new process gets the same step again.
    RetryStep,
    /// A new process gets the whole rotation again, from createSecret, same token.
    RestartRotation,
}

/// Where the process is killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillSite {
    /// At the n-th Secrets Manager call.
    SecretsManager,
    /// At the n-th call to the target: a connection ([`Backend::Tcp`]) or a request
    /// ([`Backend::Http`]).
    Target,
}

/// The target's server, and so the proxy put in front of it and what counts as a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// A server spoken to over TCP (a database) at this address: a [`TcpProxy`] in front,
    /// a call is a connection.
    Tcp(SocketAddr),
    /// An HTTP API at this base URL (`http://host:port`): an HTTP proxy in front, a call is
    /// a request. (A connection is not a call here: the client keeps it alive for the next
    /// requests, and it closes only when the server's idle timeout ends it.)
    Http(String),
}

/// The figures of a run of [`kill_at_every_call`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KillFigures {
    /// Kill points injected (call × before/after × what the service does next).
    pub injected: usize,
    /// Rotations that converged after their kill.
    pub converged: usize,
    /// Checks at which neither `AWSCURRENT` nor (where allowed) `AWSPENDING` logged in.
    pub lockouts: usize,
    /// Checks that found the single-user window open (`AWSPENDING` logs in, `AWSCURRENT`
    /// does not).
    pub in_window: usize,
    /// The longest the window was seen open, from the first check that found it open to
    /// the first that found it closed (ms; it includes the restart after a kill, and the
    /// other kill points running at the same time).
    pub longest_window_ms: u128,
    /// Converged rotations whose live keys were listed on the target (targets that issue
    /// keys; 0 for the others).
    pub keys_checked: usize,
    /// Live keys found, after convergence, that neither `AWSCURRENT` nor `AWSPREVIOUS`
    /// holds (a leak).
    pub keys_unaccounted: usize,
    /// Secrets Manager calls and target calls of one clean rotation.
    pub calls: (usize, usize),
}

impl KillFigures {
    /// Every kill point was injected (4 per call: before/after × retry/restart), every
    /// rotation converged, nobody was locked out, no key was left unaccounted for, and —
    /// unless `window` — the single-user window was never open.
    pub fn assert_sound(&self, window: bool) {
        assert!(
            self.injected >= 4 * (self.calls.0 + self.calls.1),
            "{self:?}"
        );
        assert_eq!(self.converged, self.injected, "{self:?}");
        assert_eq!(self.lockouts, 0, "{self:?}");
        assert_eq!(
            self.keys_unaccounted, 0,
            "live keys no version holds: {self:?}"
        );
        if !window {
            assert_eq!(self.in_window, 0, "no window at all: {self:?}");
        }
    }

    fn add(&mut self, other: &KillFigures) {
        self.injected += other.injected;
        self.converged += other.converged;
        self.lockouts += other.lockouts;
        self.in_window += other.in_window;
        self.longest_window_ms = self.longest_window_ms.max(other.longest_window_ms);
        self.keys_checked += other.keys_checked;
        self.keys_unaccounted += other.keys_unaccounted;
    }
}

/// One account to rotate: its secret's ARN in moto, made by [`KillTarget::new_secret`].
pub trait KillTarget {
    /// Creates an account and its secret in moto, pointed at `target_addr` (the proxy in
    /// front of the target: the secret is rewritten to reach the target through it);
    /// returns the secret's ARN.
    fn new_secret(&self, target_addr: SocketAddr) -> impl Future<Output = String>;

    /// Whether a secret value logs in on the target (checked directly, not through the
    /// proxy).
    fn logs_in(&self, value: &Value) -> impl Future<Output = bool>;

    /// For a target that issues keys: the ids of the account's live keys that none of
    /// `labelled` (the values of `AWSCURRENT` and `AWSPREVIOUS`) holds, listed on the
    /// target directly; `None` for a target that issues no keys.
    fn unaccounted_keys(&self, labelled: &[Value]) -> impl Future<Output = Option<Vec<String>>> {
        let _ = labelled;
        async { None }
    }
}

/// The proxy in front of the target.
enum TargetProxy {
    Tcp(TcpProxy),
    Http(FaultyEndpoint, SocketAddr),
}

impl TargetProxy {
    async fn start(backend: &Backend) -> TargetProxy {
        match backend {
            Backend::Tcp(addr) => TargetProxy::Tcp(TcpProxy::start(*addr).await),
            Backend::Http(url) => {
                let proxy = FaultyEndpoint::start(url).await;
                let addr = proxy
                    .url()
                    .trim_start_matches("http://")
                    .parse()
                    .expect("the HTTP proxy's address");
                TargetProxy::Http(proxy, addr)
            }
        }
    }

    fn addr(&self) -> SocketAddr {
        match self {
            TargetProxy::Tcp(proxy) => proxy.addr(),
            TargetProxy::Http(_, addr) => *addr,
        }
    }

    fn calls(&self) -> usize {
        match self {
            TargetProxy::Tcp(proxy) => proxy.accepted(),
            TargetProxy::Http(proxy, _) => proxy.operations().len(),
        }
    }

    fn kill_at(&self, n: usize, when: KillWhen, pid: u32) {
        match self {
            TargetProxy::Tcp(proxy) => proxy.kill_at(n, when, pid),
            TargetProxy::Http(proxy, _) => proxy.kill_at(n, when, pid),
        }
    }

    fn killed(&self) -> bool {
        match self {
            TargetProxy::Tcp(proxy) => proxy.killed(),
            TargetProxy::Http(proxy, _) => proxy.killed(),
        }
    }
}

/// A killing endpoint in front of moto and a proxy in front of the target, and the
/// function's environment pointed at the first.
struct Proxies {
    endpoint: FaultyEndpoint,
    target: TargetProxy,
    env: Vec<(String, String)>,
}

impl Proxies {
    async fn start(env: &[(String, String)], backend: &Backend) -> Proxies {
        let endpoint = FaultyEndpoint::start(Moto::shared().endpoint()).await;
        let target = TargetProxy::start(backend).await;
        let mut env = env.to_vec();
        env.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
        env.push(("AWS_ENDPOINT_URL".into(), endpoint.url()));
        Proxies {
            endpoint,
            target,
            env,
        }
    }
}

/// One kill point: where, when, and what the service does next.
#[derive(Debug, Clone, Copy)]
struct KillPoint {
    site: KillSite,
    n: usize,
    when: KillWhen,
    after: AfterCrash,
}

/// Kills `binary` at every Secrets Manager call and at every target call of a rotation,
/// before and after each, followed by each of the service's reactions; panics on the first
/// lockout or rotation that does not converge, returns the figures. `env` is the function's
/// environment (its `AWS_ENDPOINT_URL` is replaced by the killing endpoint's); `backend`
/// is the target's real server, behind the proxy; `window` says whether the strategy has
/// a single-user window. Up to `parallel` kill points run at once, each with its own
/// proxies and its own account.
pub async fn kill_at_every_call(
    binary: &Path,
    env: &[(String, String)],
    backend: &Backend,
    target: &impl KillTarget,
    window: bool,
    parallel: usize,
) -> KillFigures {
    let moto = Moto::shared();

    // One clean rotation, to count the calls.
    let proxies = Proxies::start(env, backend).await;
    let arn = target.new_secret(proxies.target.addr()).await;
    let (sm_before, target_before) = (proxies.endpoint.operations().len(), proxies.target.calls());
    let lambda = LambdaProcess::spawn(binary, &proxies.env).await;
    let token = begin(moto, &arn, None).await;
    for step in Step::ALL {
        let outcome = lambda
            .invoke(rotation_event(step, &arn, &token, None))
            .await;
        assert!(outcome.is_ok(), "clean rotation, {step}: {outcome:?}");
    }
    drop(lambda);
    let calls = (
        proxies.endpoint.operations().len() - sm_before,
        proxies.target.calls() - target_before,
    );
    drop(proxies);

    let mut points = Vec::new();
    for (site, count) in [
        (KillSite::SecretsManager, calls.0),
        (KillSite::Target, calls.1),
    ] {
        for n in 1..=count {
            for when in [KillWhen::BeforeForwarding, KillWhen::AfterForwarding] {
                for after in [AfterCrash::RetryStep, AfterCrash::RestartRotation] {
                    points.push(KillPoint {
                        site,
                        n,
                        when,
                        after,
                    });
                }
            }
        }
    }
    let mut figures = KillFigures {
        calls,
        ..KillFigures::default()
    };
    let results: Vec<KillFigures> = futures::stream::iter(points)
        .map(|point| run_point(binary, env, backend, target, window, point))
        .buffer_unordered(parallel.max(1))
        .collect()
        .await;
    for one in &results {
        figures.add(one);
    }
    figures
}

/// A rotation of a new account with the process killed at `point`, then the service's
/// reaction, to convergence; the figures of this one point.
async fn run_point(
    binary: &Path,
    env: &[(String, String)],
    backend: &Backend,
    target: &impl KillTarget,
    window: bool,
    point: KillPoint,
) -> KillFigures {
    let moto = Moto::shared();
    let KillPoint {
        site,
        n,
        when,
        after,
    } = point;
    let label = format!("{site:?} call {n} {when:?}, then {after:?}");
    let mut figures = KillFigures {
        injected: 1,
        ..KillFigures::default()
    };
    let proxies = Proxies::start(env, backend).await;
    let arn = target.new_secret(proxies.target.addr()).await;
    let mut lambda = LambdaProcess::spawn(binary, &proxies.env).await;
    let token = begin(moto, &arn, None).await;
    match site {
        KillSite::SecretsManager => proxies.endpoint.kill_at(n, when, lambda.pid()),
        KillSite::Target => proxies.target.kill_at(n, when, lambda.pid()),
    }
    let mut window_opened: Option<Instant> = None;
    let mut i = 0;
    let mut restarts = 0;
    while i < Step::ALL.len() {
        let step = Step::ALL[i];
        let outcome = lambda
            .invoke(rotation_event(step, &arn, &token, None))
            .await;
        let killed = matches!(
            &outcome,
            Invocation::Err { error_type, .. } if error_type == "Runtime.ExitError"
        );
        if !killed && !outcome.is_ok() {
            panic!("{label}: {step} failed: {outcome:?}\n{}", lambda.logs());
        }
        check(
            moto,
            target,
            &arn,
            window,
            &label,
            &mut figures,
            &mut window_opened,
        )
        .await;
        if killed {
            restarts += 1;
            lambda = LambdaProcess::spawn(binary, &proxies.env).await;
            if after == AfterCrash::RestartRotation {
                begin(moto, &arn, Some(&token)).await;
                i = 0;
            }
            continue;
        }
        i += 1;
    }
    let fired = match site {
        KillSite::SecretsManager => proxies.endpoint.killed(),
        KillSite::Target => proxies.target.killed(),
    };
    assert!(fired, "{label}: the kill happened");
    // (A kill after a target connection closed may land once the last step has answered:
    // nothing to restart then.)
    assert!(restarts <= 1, "{label}: the process was killed once");
    assert_converged(moto, target, &arn, &token, &label, &mut figures).await;
    figures.converged += 1;
    figures
}

/// Stages the service's `AWSPENDING` (a new rotation, or the retry of `token`'s).
async fn begin(moto: &Moto, arn: &str, token: Option<&str>) -> String {
    moto.start_rotation(arn, token)
        .await
        .unwrap_or_else(|e| panic!("RotateSecret on {arn} was refused: {e}"))
}

async fn value(moto: &Moto, arn: &str, stage: Stage) -> Option<Value> {
    let value = moto.value_at(arn, stage).await?;
    let json = value.to_secret_string().ok()?;
    serde_json::from_str(json.expose_secret()).ok()
}

/// `AWSCURRENT` logs in; or, where the strategy has a window, `AWSPENDING` does.
async fn check(
    moto: &Moto,
    target: &impl KillTarget,
    arn: &str,
    window: bool,
    point: &str,
    figures: &mut KillFigures,
    window_opened: &mut Option<Instant>,
) {
    let current = value(moto, arn, Stage::Current).await.expect("AWSCURRENT");
    if target.logs_in(&current).await {
        if let Some(opened) = window_opened.take() {
            figures.longest_window_ms = figures.longest_window_ms.max(opened.elapsed().as_millis());
        }
        return;
    }
    let pending = value(moto, arn, Stage::Pending).await;
    let pending_works = match &pending {
        Some(pending) => target.logs_in(pending).await,
        None => false,
    };
    if window && pending_works {
        figures.in_window += 1;
        window_opened.get_or_insert_with(Instant::now);
    } else {
        figures.lockouts += 1;
        panic!("{point}: locked out (AWSCURRENT refused, AWSPENDING works: {pending_works})");
    }
}

/// `AWSCURRENT` on the rotation's version and logging in, no `AWSPENDING`; for a target
/// that issues keys, the live keys no labelled version holds are counted (and named on
/// stderr: ids, not keys).
async fn assert_converged(
    moto: &Moto,
    target: &impl KillTarget,
    arn: &str,
    token: &str,
    point: &str,
    figures: &mut KillFigures,
) {
    let labels = moto
        .store()
        .await
        .describe(&SecretId::new(arn).expect("arn"))
        .await
        .expect("DescribeSecret");
    assert_eq!(
        labels.version_with(&Stage::Current).map(|v| v.as_str()),
        Some(token),
        "{point}: AWSCURRENT on the rotation's version"
    );
    assert_eq!(
        labels.version_with(&Stage::Pending),
        None,
        "{point}: no AWSPENDING left"
    );
    let current = value(moto, arn, Stage::Current).await.expect("AWSCURRENT");
    assert!(
        target.logs_in(&current).await,
        "{point}: the new AWSCURRENT logs in"
    );
    let mut labelled = vec![current];
    labelled.extend(value(moto, arn, Stage::Previous).await);
    if let Some(unaccounted) = target.unaccounted_keys(&labelled).await {
        figures.keys_checked += 1;
        if !unaccounted.is_empty() {
            eprintln!("{point}: live keys that no labelled version holds: {unaccounted:?} (ids)");
        }
        figures.keys_unaccounted += unaccounted.len();
    }
}

/// [`KillTarget`] for accounts made by a conformance [`Fixture`]: the secret (and the
/// master's, for alternating users) pointed at the proxy by `place`.
#[derive(Debug)]
pub struct FixtureAccounts<'f, F> {
    /// Makes accounts and checks logins.
    pub fixture: &'f F,
    /// Alternating users: the master secret (`place` puts the proxy's address in it).
    pub master: Option<Value>,
    /// Rewrites a secret of the fixture to reach the target through the proxy at the given
    /// address: [`at_host_port`] for AWS's database layout, [`at_url`] for an HTTP API.
    pub place: Place,
}

/// Points a secret's JSON at another address (a proxy in front of the target's server):
/// [`at_host_port`] or [`at_url`].
pub type Place = fn(&mut Value, SocketAddr);

/// Points a secret of AWS's database layout at `addr` (`host` and `port`).
pub fn at_host_port(secret: &mut Value, addr: SocketAddr) {
    secret["host"] = addr.ip().to_string().into();
    secret["port"] = addr.port().into();
}

/// Points a secret's `url` (an HTTP API's base URL) at `addr`, in plain http, keeping its
/// path.
pub fn at_url(secret: &mut Value, addr: SocketAddr) {
    let url = secret["url"].as_str().expect("the secret's url");
    let path = url
        .split_once("://")
        .map(|(_, rest)| rest.find('/').map_or("", |at| &rest[at..]))
        .unwrap_or_default();
    secret["url"] = format!("http://{addr}{path}").into();
}

impl<F: Fixture> KillTarget for FixtureAccounts<'_, F> {
    async fn new_secret(&self, target_addr: SocketAddr) -> String {
        let moto = Moto::shared();
        let user = unique_name("kill");
        let password = hostile_password();
        self.fixture.create_account(&user, &password).await;
        let mut secret = self.fixture.secret_for(&user, &password);
        (self.place)(&mut secret, target_addr);
        if let Some(master) = &self.master {
            let mut master = master.clone();
            (self.place)(&mut master, target_addr);
            let arn = moto
                .create_secret(&unique_name("kill/master"), &master.to_string())
                .await;
            secret["masterarn"] = arn.into();
        }
        moto.create_secret(&unique_name("kill/secret"), &secret.to_string())
            .await
    }

    async fn logs_in(&self, value: &Value) -> bool {
        let (Some(user), Some(password)) = (value["username"].as_str(), value["password"].as_str())
        else {
            return false;
        };
        self.fixture.can_login(user, password).await
    }
}

/// [`KillTarget`] for an HTTP API that issues keys, with accounts made by an
/// [`IssuingFixture`]: the secret's `url_field` is pointed at the proxy, and set back to
/// `backend_url` for the checks, which the fixture makes directly.
#[derive(Debug)]
pub struct IssuedKeys<'f, F> {
    /// Makes accounts, checks keys and lists the live ones.
    pub fixture: &'f F,
    /// The secret's field holding the API's base URL.
    pub url_field: &'static str,
    /// The API's real base URL.
    pub backend_url: String,
}

impl<F: IssuingFixture> IssuedKeys<'_, F> {
    /// `value` with the API's real URL.
    fn direct(&self, value: &Value) -> Value {
        let mut value = value.clone();
        value[self.url_field] = self.backend_url.clone().into();
        value
    }
}

impl<F: IssuingFixture> KillTarget for IssuedKeys<'_, F> {
    async fn new_secret(&self, target_addr: SocketAddr) -> String {
        let mut secret = self.fixture.first_secret().await;
        secret[self.url_field] = format!("http://{target_addr}").into();
        Moto::shared()
            .create_secret(&unique_name("kill/keys"), &secret.to_string())
            .await
    }

    async fn logs_in(&self, value: &Value) -> bool {
        value.get(self.fixture.key_field()).is_some()
            && self.fixture.works(&self.direct(value)).await
    }

    async fn unaccounted_keys(&self, labelled: &[Value]) -> Option<Vec<String>> {
        let id_field = self.fixture.key_id_field();
        let held: Vec<&str> = labelled
            .iter()
            .filter_map(|v| v[id_field].as_str())
            .collect();
        let live = self.fixture.live_keys(&self.direct(&labelled[0])).await;
        Some(
            live.into_iter()
                .filter(|id| !held.contains(&id.as_str()))
                .collect(),
        )
    }
}

/// Runs [`kill_at_every_call`] and prints its figures as a line for
/// scripts/reliability.sh: `RELIABILITY kills target=<name> strategy=<strategy> ...`.
#[allow(clippy::too_many_arguments)]
pub async fn kill_and_report(
    name: &str,
    strategy: &str,
    binary: &Path,
    env: &[(String, String)],
    backend: &Backend,
    target: &impl KillTarget,
    window: bool,
    parallel: usize,
) -> KillFigures {
    let started = Instant::now();
    let figures = kill_at_every_call(binary, env, backend, target, window, parallel).await;
    println!(
        "RELIABILITY kills target={name} strategy={strategy} {figures:?} elapsed_s={:.1}",
        started.elapsed().as_secs_f64()
    );
    figures
}

/// [`kill_at_every_call`] for a database target whose fixture makes accounts on
/// 127.0.0.1:`port`: single user, or alternating users when `master` is given. `env` is
/// added to moto's (e.g. `TLS_CA_BUNDLE`). Prints the figures as a `RELIABILITY` line.
pub async fn kill_database_target<F: Fixture>(
    name: &str,
    binary: &Path,
    fixture: &F,
    env: &[(&str, &str)],
    port: u16,
    master: Option<Value>,
) -> KillFigures {
    let backend = Backend::Tcp(SocketAddr::from(([127, 0, 0, 1], port)));
    kill_fixture_target(
        name,
        binary,
        fixture,
        env,
        &backend,
        master,
        at_host_port,
        1,
    )
    .await
}

/// [`kill_at_every_call`] for accounts made by `fixture` on `backend`, their secrets
/// pointed at the proxy by `place` ([`FixtureAccounts`]): single user, or alternating users
/// when `master` is given (the single-user window is allowed for single user only). `env`
/// is added to moto's. Prints the figures as a `RELIABILITY` line.
#[allow(clippy::too_many_arguments)]
pub async fn kill_fixture_target<F: Fixture>(
    name: &str,
    binary: &Path,
    fixture: &F,
    env: &[(&str, &str)],
    backend: &Backend,
    master: Option<Value>,
    place: Place,
    parallel: usize,
) -> KillFigures {
    let mut all_env = Moto::shared().env();
    all_env.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let strategy = match master {
        Some(_) => {
            all_env.push(("ROTATION_STRATEGY".into(), "alternating-users".into()));
            "alternating-users"
        }
        None => "single-user",
    };
    let window = master.is_none();
    let target = FixtureAccounts {
        fixture,
        master,
        place,
    };
    kill_and_report(
        name, strategy, binary, &all_env, backend, &target, window, parallel,
    )
    .await
}
