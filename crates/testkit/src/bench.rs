//! The rotation benchmark, shared by every target: full rotations through the target's real
//! Lambda binary, driven the way Secrets Manager drives it.
//!
//! A target's bench (`benches/rotation.rs`, `harness = false`) starts its server, describes
//! it in a [`BenchTarget`] and calls [`Bench::run`]:
//!
//! ```no_run
//! # use secret_rotor_testkit::bench::{Bench, BenchTarget, Wire};
//! # use secret_rotor_testkit::conformance::Fixture;
//! # async fn bench<F: Fixture>(fixture: impl FnOnce() -> F) {
//! let Some(mut bench) = Bench::requested() else { return };
//! let fixture = fixture(); // the target's conformance fixture: starts its server
//! let target = BenchTarget {
//!     name: "my-db",
//!     wire: Wire {
//!         server: "127.0.0.1:4000".parse().unwrap(),
//!         place: secret_rotor_testkit::kills::at_host_port,
//!     },
//!     binary: "target/release/rotate-my-db".into(),
//!     env: vec![("TLS_CA_BUNDLE".into(), "/tmp/ca.pem".into())],
//!     server: "my-db 1.0 on 127.0.0.1:4000".into(),
//!     server_version: "1.0".into(),
//!     aws_template: None,
//!     master_secret: None,
//!     fixture: &fixture,
//! };
//! bench.run(&target).await;
//! # }
//! ```
//!
//! The Lambda binary runs behind the testkit's Runtime API ([`LambdaProcess`]) against
//! [`Moto::shared`]. For each strategy the target supports (the capabilities of
//! [`Fixture::target`]; alternating users only with a [`BenchTarget::master_secret`]) the
//! bench creates an account and its secret (with `masterarn` for alternating users) and
//! prints one section:
//!
//! 1. Secrets Manager API calls per rotation, per operation (moto's counter for the
//!    secret's ARN, and for the master secret's ARN), next to the calls of AWS's Python
//!    template for the same path and strategy; per step, those calls and the connections
//!    the function opened to the target's server and the flights its client sent on them
//!    (round trips: each a message the client waits on), counted by a TCP proxy
//!    ([`BenchTarget::wire`]) on an account of its own, so the proxy is in no timing;
//! 2. the time of each step in a warm process, measured around each Lambda invocation
//!    (median, p90, min, max), and the `elapsed_ms` the engine reports;
//! 3. one rotation in a freshly spawned process (spawn to finishSecret's answer; its
//!    createSecret includes the process start and the function's init), the init alone
//!    (spawn to the first `GET .../invocation/next`), and a second rotation in the same
//!    process;
//! 4. the peak RSS (`VmHWM`) of the Lambda process;
//! 5. the size of the binary (built with the bench profile, i.e. release), stripped or not;
//!
//! then a `BENCH_JSON {...}` line with the same figures, the target's name and the strategy.
//!
//! `BENCH_ROTATIONS` (default 20) sets the number of timed warm rotations, `BENCH_COLD_RUNS`
//! (default 3) the number of fresh processes. The bench prints figures and asserts nothing
//! about speed; it stops only when a rotation fails or leaves a password that does not log
//! in (the figures would mean nothing).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use secret_rotor::store::{SecretStore, Selector};
use secret_rotor::{SecretId, Stage, Step, Strategy, Target};
use serde_json::{Value, json};

use crate::conformance::Fixture;
use crate::kills::Place;
use crate::moto::{Moto, unique_name};
use crate::proxy::TcpProxy;
use crate::runtime_api::{Invocation, LambdaProcess, rotation_event};

/// Timed warm rotations when `BENCH_ROTATIONS` is not set.
pub const DEFAULT_ROTATIONS: usize = 20;

/// Freshly spawned processes when `BENCH_COLD_RUNS` is not set.
pub const DEFAULT_COLD_RUNS: usize = 3;

/// The log settings of the Lambda process: JSON, warnings and errors only.
const LOG_ENV: [(&str, &str); 3] = [
    ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
    ("AWS_LAMBDA_LOG_LEVEL", "WARN"),
    ("RUST_LOG", "warn"),
];

/// Appended to an operation's name for the calls made on the master secret.
const MASTER_SUFFIX: &str = " (master)";

/// Calls per operation (`GetSecretValue`, `GetSecretValue (master)`, ...).
type Calls = BTreeMap<String, u64>;

/// A target to benchmark: its Lambda binary, its server, and how to make accounts there.
#[derive(Debug)]
pub struct BenchTarget<'f, F: Fixture> {
    /// A short name for the titles and the JSON summary (`postgres`).
    pub name: &'static str,
    /// The Lambda binary, built with the bench profile: `env!("CARGO_BIN_EXE_<name>")`.
    pub binary: PathBuf,
    /// The Lambda's environment besides moto's, the log settings and `ROTATION_STRATEGY`
    /// (e.g. `TLS_CA_BUNDLE`).
    pub env: Vec<(String, String)>,
    /// One line about the server: version, address, authentication, TLS.
    pub server: String,
    /// The server's version, for the JSON summary.
    pub server_version: String,
    /// The common prefix of AWS's Python templates for the same engine
    /// (`SecretsManagerRDSPostgreSQLRotation`, completed with `SingleUser` or `MultiUser`),
    /// whose calls are printed next to the target's; `None` when AWS has none.
    pub aws_template: Option<&'static str>,
    /// The master secret's JSON for alternating users (e.g.
    /// [`AlternatingFixture::master_secret`](crate::conformance::AlternatingFixture::master_secret));
    /// `None`: single user only.
    pub master_secret: Option<Value>,
    /// Makes the accounts and their secrets' JSON, and checks logins independently.
    pub fixture: &'f F,
    /// Where the server listens, for the proxy that counts connections and round trips.
    pub wire: Wire,
}

/// The target's server as the counting proxy reaches it.
#[derive(Debug, Clone, Copy)]
pub struct Wire {
    /// The server's address (what [`Fixture::secret_for`] points at).
    pub server: SocketAddr,
    /// Points a secret's JSON (the account's, and the master's) at the proxy instead:
    /// [`kills::at_host_port`](crate::kills::at_host_port) for AWS's database layout,
    /// [`kills::at_url`](crate::kills::at_url) for an HTTP API's base URL.
    pub place: Place,
}

impl<F: Fixture> BenchTarget<'_, F> {
    /// The strategies to measure: those the target supports, alternating users only with a
    /// master secret.
    fn strategies(&self) -> Vec<Strategy> {
        let capabilities = self.fixture.target().info().capabilities;
        Strategy::ALL
            .into_iter()
            .filter(|s| capabilities.supports(*s))
            .filter(|s| *s != Strategy::AlternatingUsers || self.master_secret.is_some())
            .collect()
    }

    /// `rotate-postgres`: the binary's file name.
    fn binary_name(&self) -> String {
        self.binary.file_name().map_or_else(
            || self.binary.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    }
}

/// A benchmark run: the counts to measure and the clock of its setup times.
#[derive(Debug)]
pub struct Bench {
    rotations: usize,
    cold_runs: usize,
    /// When the current section's setup began (the bench's start, or the previous
    /// section's end).
    mark: Instant,
}

impl Bench {
    /// The bench, when the process was started with `--bench` (by `cargo bench`); with the
    /// counts of `BENCH_ROTATIONS` and `BENCH_COLD_RUNS`. Otherwise (e.g. `cargo test
    /// --all-targets`) prints that it is skipped and returns `None`.
    ///
    /// # Panics
    /// When a count is set but not a positive integer.
    pub fn requested() -> Option<Bench> {
        if !std::env::args().any(|a| a == "--bench") {
            println!("rotation benchmark: skipped (run it with `cargo bench` or scripts/bench.sh)");
            return None;
        }
        Some(Bench {
            rotations: env_count("BENCH_ROTATIONS", DEFAULT_ROTATIONS),
            cold_runs: env_count("BENCH_COLD_RUNS", DEFAULT_COLD_RUNS),
            mark: Instant::now(),
        })
    }

    /// Measures `target` with each strategy it supports and prints one section per strategy
    /// (see the [module docs](self)). The setup time of the first section includes what
    /// happened since [`Bench::requested`] (moto's and the server's start).
    ///
    /// # Panics
    /// When a rotation fails, or when afterwards the current password does not log in or the
    /// initial one still does.
    pub async fn run<F: Fixture>(&mut self, target: &BenchTarget<'_, F>) {
        for strategy in target.strategies() {
            self.section(target, strategy).await;
            self.mark = Instant::now();
        }
    }

    async fn section<F: Fixture>(&self, target: &BenchTarget<'_, F>, strategy: Strategy) {
        let moto = Moto::shared();
        let account = Account::create(moto, target, strategy, None).await;
        let proxy = TcpProxy::start(target.wire.server).await;
        let audited = Account::create(
            moto,
            target,
            strategy,
            Some((proxy.addr(), target.wire.place)),
        )
        .await;
        let runner = Runner::new(moto, target, &account);
        let setup = self.mark.elapsed();
        let measured = runner
            .measure(self.rotations, self.cold_runs, (&audited, &proxy))
            .await;
        account.check_rotated(moto, target.fixture).await;
        let report = Report {
            target: target.name,
            binary_name: target.binary_name(),
            binary_path: &target.binary,
            server: &target.server,
            server_version: &target.server_version,
            strategy,
            aws_template: target
                .aws_template
                .map(|prefix| AwsTemplate::new(prefix, strategy)),
            lambda_env: runner.extra_env_text(),
            rotations: self.rotations,
            cold_runs: self.cold_runs,
            setup,
            name_calls: account.calls_by_name(moto).await,
            binary: BinaryInfo::read(&target.binary),
            strip: release_strip_setting(),
            elapsed: self.mark.elapsed(),
            measured,
        };
        report.print(moto);
        println!("BENCH_JSON {}", report.json());
    }
}

/// Reads a positive count from the environment.
fn env_count(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => panic!("{name} must be a positive integer, not {v:?}"),
        },
        _ => default,
    }
}

// --- the account under rotation ---------------------------------------------------------

/// A secret in moto: its ARN (what the events carry) and its name.
#[derive(Debug)]
struct SecretRef {
    arn: String,
    name: String,
}

impl SecretRef {
    async fn create(moto: &Moto, name: String, value: &Value) -> SecretRef {
        let arn = moto.create_secret(&name, &value.to_string()).await;
        SecretRef { arn, name }
    }
}

/// The account the bench rotates, its secret, and the master secret for alternating users.
#[derive(Debug)]
struct Account {
    strategy: Strategy,
    user: String,
    initial_password: String,
    secret: SecretRef,
    master: Option<SecretRef>,
}

impl Account {
    /// A new account on the target's server and its secret (with `masterarn` pointing at a
    /// new master secret for alternating users); with `through`, both secrets reach the
    /// server at that address (a proxy), placed there by the function given.
    async fn create<F: Fixture>(
        moto: &Moto,
        target: &BenchTarget<'_, F>,
        strategy: Strategy,
        through: Option<(SocketAddr, Place)>,
    ) -> Account {
        let user = unique_name("bench_");
        let initial_password = format!("bench-{}", uuid::Uuid::new_v4().simple());
        target
            .fixture
            .create_account(&user, &initial_password)
            .await;
        let mut value = target.fixture.secret_for(&user, &initial_password);
        let place = |secret: &mut Value| {
            if let Some((addr, place)) = through {
                place(secret, addr);
            }
        };
        place(&mut value);
        let prefix = format!("bench/{}/{}/", target.name, strategy.as_str());
        let master = match (strategy, &target.master_secret) {
            (Strategy::AlternatingUsers, Some(master)) => {
                let mut master = master.clone();
                place(&mut master);
                let master =
                    SecretRef::create(moto, unique_name(&format!("{prefix}master-")), &master)
                        .await;
                value["masterarn"] = master.arn.clone().into();
                Some(master)
            }
            _ => None,
        };
        let secret = SecretRef::create(moto, unique_name(&prefix), &value).await;
        Account {
            strategy,
            user,
            initial_password,
            secret,
            master,
        }
    }

    /// The secrets whose calls are counted: `(suffix of the operations, secret)`.
    fn secrets(&self) -> Vec<(&'static str, &SecretRef)> {
        std::iter::once(("", &self.secret))
            .chain(self.master.iter().map(|m| (MASTER_SUFFIX, m)))
            .collect()
    }

    /// moto's call counts for the secrets' ARNs (the master's operations suffixed).
    async fn calls(&self, moto: &Moto) -> Calls {
        self.count(moto, |secret| &secret.arn).await
    }

    /// moto's call counts for the secrets' names: calls that did not use the ARN.
    async fn calls_by_name(&self, moto: &Moto) -> Calls {
        self.count(moto, |secret| &secret.name).await
    }

    /// moto's call counts for the secrets, identified by `id`.
    async fn count(&self, moto: &Moto, id: impl Fn(&SecretRef) -> &str) -> Calls {
        let mut calls = Calls::new();
        for (suffix, secret) in self.secrets() {
            for (op, n) in moto.calls(id(secret)).await {
                *calls.entry(format!("{op}{suffix}")).or_default() += n;
            }
        }
        calls
    }

    /// What each step answers when the rotation succeeds.
    fn expected_outcomes(&self) -> [&'static str; 4] {
        let set = match self.strategy {
            Strategy::AlternatingUsers => "alternate_user_set",
            _ => "password_set",
        };
        ["pending_created", set, "tested", "promoted"]
    }

    /// The sanity check after the rotations: `AWSCURRENT` logs in, the initial password no
    /// longer does (every run rotates at least twice, so with alternating users too).
    async fn check_rotated<F: Fixture>(&self, moto: &Moto, fixture: &F) {
        let current = moto
            .store()
            .await
            .get_value(
                &SecretId::new(&self.secret.arn).expect("secret id"),
                &Selector::stage(Stage::Current),
            )
            .await
            .expect("GetSecretValue AWSCURRENT")
            .expect("AWSCURRENT has a value");
        let user = current.username().expect("username");
        let password = current.password().expect("password").expose_secret();
        assert!(
            fixture.can_login(user, password).await,
            "AWSCURRENT ({user}) does not log in after the rotations"
        );
        assert!(
            !fixture.can_login(&self.user, &self.initial_password).await,
            "the initial password still logs in"
        );
    }
}

// --- measuring ----------------------------------------------------------------------------

/// One step of one rotation.
#[derive(Debug, Clone, Copy)]
struct StepSample {
    /// Around the invocation: event queued to answer received.
    wall: Duration,
    /// The engine's own `elapsed_ms`.
    engine_ms: u64,
}

/// One rotation: its four steps, the time from the first event to the last answer, and
/// (when audited) the calls and the traffic of each step.
#[derive(Debug)]
struct RotationSample {
    steps: Vec<StepSample>,
    total: Duration,
    calls_per_step: Vec<Calls>,
    wire_per_step: Vec<WireCount>,
}

/// What the proxy saw of one step: connections opened, and round trips — the flights the
/// client sent, each a message it then waited on.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct WireCount {
    connections: usize,
    round_trips: usize,
}

impl WireCount {
    /// The proxy's totals so far.
    fn read(proxy: &TcpProxy) -> WireCount {
        WireCount {
            connections: proxy.accepted(),
            round_trips: proxy.client_chunks().iter().map(Vec::len).sum(),
        }
    }

    fn since(self, before: WireCount) -> WireCount {
        WireCount {
            connections: self.connections - before.connections,
            round_trips: self.round_trips - before.round_trips,
        }
    }

    fn text(self) -> String {
        let s = |n: usize| if n == 1 { "" } else { "s" };
        format!(
            "{} connection{}, {} round trip{}",
            self.connections,
            s(self.connections),
            self.round_trips,
            s(self.round_trips)
        )
    }
}

impl RotationSample {
    fn engine_total(&self) -> u64 {
        self.steps.iter().map(|s| s.engine_ms).sum()
    }
}

/// One freshly spawned process: its first rotation (cold) and its second (warm).
#[derive(Debug)]
struct ColdRun {
    /// Spawn to finishSecret's answer.
    total: Duration,
    /// Spawn to the first request for an invocation.
    init: Option<Duration>,
    first: RotationSample,
    second: RotationSample,
    peak_rss_kib: Option<u64>,
}

/// Everything one section measured.
#[derive(Debug)]
struct Measured {
    cold: Vec<ColdRun>,
    /// The audited warm-up rotation's calls, per step.
    calls_per_step: Vec<Calls>,
    /// The audited rotation's connections and round trips to the server, per step.
    wire_per_step: Vec<WireCount>,
    /// Their sum: the calls of one rotation.
    audited_calls: Calls,
    warm: Vec<RotationSample>,
    /// The calls of each timed warm rotation.
    per_rotation_calls: Vec<Calls>,
    steady_rss_kib: Option<u64>,
    /// The size of what the warm process logged.
    log_bytes: usize,
}

/// Runs rotations of one account through the target's binary.
struct Runner<'a> {
    moto: &'a Moto,
    binary: &'a Path,
    env: Vec<(String, String)>,
    /// The part of `env` that is not moto's, for the report.
    extra_env: Vec<(String, String)>,
    account: &'a Account,
}

impl<'a> Runner<'a> {
    fn new<F: Fixture>(
        moto: &'a Moto,
        target: &'a BenchTarget<'_, F>,
        account: &'a Account,
    ) -> Self {
        let mut extra_env: Vec<(String, String)> = LOG_ENV
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        extra_env.extend(target.env.iter().cloned());
        if account.strategy != Strategy::SingleUser {
            extra_env.push((
                secret_rotor::config::ROTATION_STRATEGY.to_owned(),
                account.strategy.as_str().to_owned(),
            ));
        }
        let mut env = moto.env();
        env.extend(extra_env.iter().cloned());
        Runner {
            moto,
            binary: &target.binary,
            env,
            extra_env,
            account,
        }
    }

    fn extra_env_text(&self) -> String {
        self.extra_env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    async fn spawn(&self) -> LambdaProcess {
        LambdaProcess::spawn(self.binary, &self.env).await
    }

    /// Stages a rotation of `account` as `RotateSecret` does; returns its token.
    async fn stage(&self, account: &Account) -> String {
        let arn = &account.secret.arn;
        self.moto
            .start_rotation(arn, None)
            .await
            .unwrap_or_else(|e| panic!("RotateSecret on {arn} was refused: {e}"))
    }

    /// `cold_runs` fresh processes, then one process with an audited rotation of the
    /// `audit` account (through its proxy: calls and traffic per step), a warm-up rotation
    /// and `rotations` timed ones. The audited rotation is the first of its secret in the
    /// process, as the warm-up is of the timed one's.
    async fn measure(
        &self,
        rotations: usize,
        cold_runs: usize,
        audit: (&Account, &TcpProxy),
    ) -> Measured {
        let mut cold = Vec::with_capacity(cold_runs);
        for _ in 0..cold_runs {
            cold.push(self.cold_run().await);
        }
        let lambda = self.spawn().await;
        let (audited_account, proxy) = audit;
        let token = self.stage(audited_account).await;
        let audit = self
            .run_steps(&lambda, audited_account, &token, Some(proxy))
            .await;
        let token = self.stage(self.account).await;
        self.run_steps(&lambda, self.account, &token, None).await;
        let mut audited_calls = Calls::new();
        for calls in &audit.calls_per_step {
            add(&mut audited_calls, calls);
        }
        let mut warm = Vec::with_capacity(rotations);
        let mut per_rotation_calls = Vec::with_capacity(rotations);
        for _ in 0..rotations {
            let token = self.stage(self.account).await;
            let before = self.account.calls(self.moto).await;
            warm.push(self.run_steps(&lambda, self.account, &token, None).await);
            per_rotation_calls.push(diff(&self.account.calls(self.moto).await, &before));
        }
        let steady_rss_kib = lambda.peak_rss_kib();
        let log_bytes = lambda.shutdown().await.len();
        Measured {
            cold,
            calls_per_step: audit.calls_per_step,
            wire_per_step: audit.wire_per_step,
            audited_calls,
            warm,
            per_rotation_calls,
            steady_rss_kib,
            log_bytes,
        }
    }

    /// Spawns a new process, rotates once (timed from the spawn), then once more (warm).
    async fn cold_run(&self) -> ColdRun {
        let token = self.stage(self.account).await;
        let spawned = Instant::now();
        let lambda = self.spawn().await;
        let first = self.run_steps(&lambda, self.account, &token, None).await;
        let total = spawned.elapsed();
        let init = lambda.init_time();
        let token = self.stage(self.account).await;
        let second = self.run_steps(&lambda, self.account, &token, None).await;
        let peak_rss_kib = lambda.peak_rss_kib();
        lambda.shutdown().await;
        ColdRun {
            total,
            init,
            first,
            second,
            peak_rss_kib,
        }
    }

    /// Runs the four steps of `account`'s rotation staged under `token`, timing each
    /// invocation. With `audit` (the proxy in front of the server), reads moto's call
    /// counters and the proxy's after each step (outside the step timings, but inside
    /// `total`).
    async fn run_steps(
        &self,
        lambda: &LambdaProcess,
        account: &Account,
        token: &str,
        audit: Option<&TcpProxy>,
    ) -> RotationSample {
        let mut steps = Vec::with_capacity(4);
        let mut calls_per_step = Vec::new();
        let mut wire_per_step = Vec::new();
        let mut before = match audit {
            Some(proxy) => (account.calls(self.moto).await, WireCount::read(proxy)),
            None => (Calls::new(), WireCount::default()),
        };
        let started = Instant::now();
        for (step, expected) in Step::ALL.into_iter().zip(account.expected_outcomes()) {
            steps.push(self.invoke(lambda, account, step, token, expected).await);
            if let Some(proxy) = audit {
                // What a client sends as it closes (e.g. PostgreSQL's Terminate) may reach
                // the proxy just after the step's answer.
                tokio::time::sleep(Duration::from_millis(50)).await;
                let after = (account.calls(self.moto).await, WireCount::read(proxy));
                calls_per_step.push(diff(&after.0, &before.0));
                wire_per_step.push(after.1.since(before.1));
                before = after;
            }
        }
        RotationSample {
            steps,
            total: started.elapsed(),
            calls_per_step,
            wire_per_step,
        }
    }

    /// One timed step; panics (with the Lambda's logs) unless it answers `expected`.
    async fn invoke(
        &self,
        lambda: &LambdaProcess,
        account: &Account,
        step: Step,
        token: &str,
        expected: &str,
    ) -> StepSample {
        let event = rotation_event(step, &account.secret.arn, token, None);
        let t0 = Instant::now();
        let answer = lambda.invoke(event).await;
        let wall = t0.elapsed();
        let report = match answer {
            Invocation::Ok(report) => report,
            Invocation::Err {
                error_type,
                error_message,
            } => panic!(
                "{step} failed: {error_type}: {error_message}\n--- Lambda logs ---\n{}",
                lambda.logs()
            ),
        };
        assert_eq!(
            report["outcome"].as_str(),
            Some(expected),
            "{step} answered {report}"
        );
        let engine_ms = report["elapsed_ms"]
            .as_u64()
            .unwrap_or_else(|| panic!("{step} reported no elapsed_ms: {report}"));
        StepSample { wall, engine_ms }
    }
}

// --- AWS's templates ----------------------------------------------------------------------

/// The calls of AWS's Python template for the same path (first rotation attempt, pending
/// password not yet set, master secret with its own host and port).
#[derive(Debug)]
struct AwsTemplate {
    /// `SecretsManagerRDSPostgreSQLRotationSingleUser`, `...MultiUser`.
    name: String,
    calls: Calls,
}

impl AwsTemplate {
    /// Single user: one DescribeSecret per step plus one in finishSecret; GetSecretValue
    /// current + pending in createSecret, previous + current + pending in setSecret, pending
    /// in testSecret. Multi user: the same, but setSecret reads current + pending, then the
    /// master secret.
    fn new(prefix: &str, strategy: Strategy) -> AwsTemplate {
        let (suffix, get_secret_value, master) = match strategy {
            Strategy::AlternatingUsers => ("MultiUser", 5, 1),
            _ => ("SingleUser", 6, 0),
        };
        let calls = [
            ("DescribeSecret".to_owned(), 5),
            ("GetSecretValue".to_owned(), get_secret_value),
            (format!("GetSecretValue{MASTER_SUFFIX}"), master),
            ("GetRandomPassword".to_owned(), 1),
            ("PutSecretValue".to_owned(), 1),
            ("UpdateSecretVersionStage".to_owned(), 1),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect();
        AwsTemplate {
            name: format!("{prefix}{suffix}"),
            calls,
        }
    }

    fn total(&self) -> u64 {
        self.calls.values().sum()
    }
}

// --- the binary ---------------------------------------------------------------------------

/// The binary's size and whether it still has symbols; when it does, also the size of a
/// copy stripped with `strip --strip-all` (if that tool exists).
#[derive(Debug)]
struct BinaryInfo {
    size: u64,
    has_symtab: Option<bool>,
    has_debug: Option<bool>,
    stripped_copy_size: Option<u64>,
}

impl BinaryInfo {
    fn read(binary: &Path) -> BinaryInfo {
        let bytes = std::fs::read(binary)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", binary.display()));
        let sections = elf_sections(&bytes);
        let has_symtab = sections.as_ref().map(|s| s.iter().any(|n| n == ".symtab"));
        let has_debug = sections
            .as_ref()
            .map(|s| s.iter().any(|n| n.starts_with(".debug_")));
        BinaryInfo {
            size: u64::try_from(bytes.len()).unwrap_or(u64::MAX),
            has_symtab,
            has_debug,
            stripped_copy_size: if has_symtab == Some(true) {
                stripped_size(binary)
            } else {
                None
            },
        }
    }
}

/// The size of a copy of `binary` after `strip --strip-all`; `None` without that tool.
fn stripped_size(binary: &Path) -> Option<u64> {
    let name = binary.file_name()?.to_string_lossy();
    let copy = std::env::temp_dir().join(unique_name(&format!("{name}-stripped-")));
    let size = std::fs::copy(binary, &copy).ok().and_then(|_| {
        let ok = std::process::Command::new("strip")
            .arg("--strip-all")
            .arg(&copy)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| std::fs::metadata(&copy).ok().map(|m| m.len()))
            .flatten()
    });
    let _ = std::fs::remove_file(&copy);
    size
}

/// The names of the sections of a 64-bit little-endian ELF file.
fn elf_sections(bytes: &[u8]) -> Option<Vec<String>> {
    if bytes.get(..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let u16_at = |o: usize| Some(u16::from_le_bytes(bytes.get(o..o + 2)?.try_into().ok()?));
    let u32_at = |o: usize| Some(u32::from_le_bytes(bytes.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(bytes.get(o..o + 8)?.try_into().ok()?));
    let shoff = usize::try_from(u64_at(0x28)?).ok()?;
    let shentsize = usize::from(u16_at(0x3A)?);
    let shnum = usize::from(u16_at(0x3C)?);
    let shstrndx = usize::from(u16_at(0x3E)?);
    let header = |i: usize| shoff + i * shentsize;
    let names = usize::try_from(u64_at(header(shstrndx) + 0x18)?).ok()?;
    (0..shnum)
        .map(|i| {
            let start = names + usize::try_from(u32_at(header(i))?).ok()?;
            let len = bytes.get(start..)?.iter().position(|&b| b == 0)?;
            Some(String::from_utf8_lossy(&bytes[start..start + len]).into_owned())
        })
        .collect()
}

/// The `strip` setting of `[profile.release]` in the workspace manifest.
fn release_strip_setting() -> Option<String> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    let text = std::fs::read_to_string(manifest).ok()?;
    let mut in_release = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_release = line == "[profile.release]";
        } else if in_release
            && let Some((key, value)) = line.split_once('=')
            && key.trim() == "strip"
        {
            return Some(value.trim().trim_matches('"').to_owned());
        }
    }
    None
}

// --- statistics ---------------------------------------------------------------------------

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `x` rounded to 3 decimals, for the JSON summary.
fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The nearest-rank percentile `p` (0 < p <= 100) of `values`.
fn percentile<T: Copy + Ord>(values: &[T], p: usize) -> T {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// Median (nearest rank, lower middle for even counts), p90, min and max.
fn summary<T: Copy + Ord>(values: &[T]) -> [T; 4] {
    [
        percentile(values, 50),
        percentile(values, 90),
        percentile(values, 1),
        percentile(values, 100),
    ]
}

fn diff(after: &Calls, before: &Calls) -> Calls {
    after
        .iter()
        .map(|(op, n)| {
            (
                op.clone(),
                n.saturating_sub(before.get(op).copied().unwrap_or(0)),
            )
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}

fn add(total: &mut Calls, more: &Calls) {
    for (op, n) in more {
        *total.entry(op.clone()).or_default() += n;
    }
}

fn calls_text(calls: &Calls) -> String {
    if calls.is_empty() {
        return "none".to_owned();
    }
    calls
        .iter()
        .map(|(op, n)| format!("{op} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn ms_list(durations: &[Duration]) -> Vec<f64> {
    durations.iter().map(|d| round3(ms(*d))).collect()
}

fn stats_json(wall: &[Duration], engine: &[u64]) -> Value {
    let [w50, w90, wmin, wmax] = summary(wall);
    let mut v = json!({
        "median_ms": round3(ms(w50)),
        "p90_ms": round3(ms(w90)),
        "min_ms": round3(ms(wmin)),
        "max_ms": round3(ms(wmax)),
    });
    if !engine.is_empty() {
        let [e50, e90, _, _] = summary(engine);
        v["engine_elapsed_ms_median"] = e50.into();
        v["engine_elapsed_ms_p90"] = e90.into();
    }
    v
}

fn print_stats_row(label: &str, wall: &[Duration], engine: &[u64]) {
    let [w50, w90, wmin, wmax] = summary(wall);
    let engine_cols = if engine.is_empty() {
        format!("{:>8} {:>8}", "", "")
    } else {
        let [e50, e90, _, _] = summary(engine);
        format!("{e50:>8} {e90:>8}")
    };
    println!(
        "  {label:<14} {:>9.2} {:>9.2} {:>9.2} {:>9.2}   {engine_cols}",
        ms(w50),
        ms(w90),
        ms(wmin),
        ms(wmax),
    );
}

fn rss_text(kib: Option<u64>) -> String {
    kib.map_or_else(
        || "unknown".to_owned(),
        |k| format!("{:.1} MiB ({k} KiB)", mib(k * 1024)),
    )
}

fn yes_no(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown (not a 64-bit ELF)",
    }
}

// --- the report ---------------------------------------------------------------------------

/// One section's figures, printed as tables and as the `BENCH_JSON` line.
#[derive(Debug)]
struct Report<'a> {
    target: &'static str,
    binary_name: String,
    binary_path: &'a Path,
    server: &'a str,
    server_version: &'a str,
    strategy: Strategy,
    aws_template: Option<AwsTemplate>,
    lambda_env: String,
    rotations: usize,
    cold_runs: usize,
    setup: Duration,
    measured: Measured,
    name_calls: Calls,
    binary: BinaryInfo,
    strip: Option<String>,
    /// The section's time, setup included, build and report excluded.
    elapsed: Duration,
}

impl Report<'_> {
    fn print(&self, moto: &Moto) {
        self.print_header(moto);
        self.print_calls();
        self.print_steps();
        self.print_cold();
        self.print_memory();
        self.print_binary();
        println!();
        println!(
            "bench time (without the build): {:.1} s",
            self.elapsed.as_secs_f64()
        );
    }

    fn print_header(&self, moto: &Moto) {
        let title = format!(
            "secret-rotor rotation benchmark: {}, {} ({})",
            self.target, self.strategy, self.binary_name
        );
        let total_rotations = self.cold_runs * 2 + 1 + self.rotations;
        println!();
        println!("{title}");
        println!("{}", "=".repeat(title.chars().count()));
        println!("binary        {}", self.binary_path.display());
        println!("server        {}", self.server);
        println!("moto          {}", moto.endpoint());
        println!(
            "lambda env    {} ({} bytes of logs in the warm process)",
            self.lambda_env, self.measured.log_bytes
        );
        println!(
            "rotations     {total_rotations} in all: {} fresh processes x 2, 1 audited warm-up + {} timed (BENCH_ROTATIONS) in one process",
            self.cold_runs, self.rotations
        );
        println!(
            "machine       {} CPUs; setup (services, account, secrets) {:.2} s",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            self.setup.as_secs_f64()
        );
    }

    /// The operations of the table: the template's, then any other the target made.
    fn operations(&self) -> Vec<String> {
        let mut ops: Vec<String> = self
            .aws_template
            .iter()
            .flat_map(|t| t.calls.keys().cloned())
            .collect();
        for op in self.measured.audited_calls.keys() {
            if !ops.contains(op) {
                ops.push(op.clone());
            }
        }
        ops
    }

    /// Whether every timed rotation made the same calls.
    fn constant_calls(&self) -> bool {
        let m = &self.measured;
        m.per_rotation_calls.windows(2).all(|w| w[0] == w[1])
    }

    /// The calls of a later rotation of the same secret in a warm process (the first
    /// timed one): what the values kept by version id save.
    fn steady_calls(&self) -> Calls {
        self.measured
            .per_rotation_calls
            .first()
            .cloned()
            .unwrap_or_default()
    }

    fn print_calls(&self) {
        let m = &self.measured;
        let template = self.aws_template.as_ref();
        let reference = |op: &str| {
            template.map_or_else(
                || "-".to_owned(),
                |t| t.calls.get(op).copied().unwrap_or(0).to_string(),
            )
        };
        println!();
        println!(
            "1. Secrets Manager API calls in the first rotation of a secret in a process (moto's counter, SecretId = the ARN; \"(master)\": on the master secret)"
        );
        println!(
            "  {:<26} {:>12} {:>22}",
            "operation", "secret-rotor", "AWS Python template"
        );
        for op in self.operations() {
            let ours = m.audited_calls.get(&op).copied().unwrap_or(0);
            let note = if op == "GetRandomPassword" && ours == 0 {
                " (local)"
            } else {
                ""
            };
            println!(
                "  {op:<26} {:>12} {:>22}",
                format!("{ours}{note}"),
                reference(&op)
            );
        }
        let aws_total = template.map_or_else(|| "-".to_owned(), |t| t.total().to_string());
        let ours_total: u64 = m.audited_calls.values().sum();
        println!("  {:<26} {ours_total:>12} {aws_total:>22}", "total");
        if let Some(t) = template {
            println!("  (template: {})", t.name);
        }
        println!("  per step (the target's traffic through a counting proxy):");
        for ((step, calls), wire) in Step::ALL
            .iter()
            .zip(&m.calls_per_step)
            .zip(&m.wire_per_step)
        {
            println!(
                "  {:<14} {}; target: {}",
                step.as_str(),
                calls_text(calls),
                wire.text()
            );
        }
        self.print_call_notes();
    }

    fn print_call_notes(&self) {
        let m = &self.measured;
        let steady = self.steady_calls();
        println!(
            "  a later rotation of the same secret in the warm process: {} calls ({}); the same in each of the {} timed rotations: {}",
            steady.values().sum::<u64>(),
            calls_text(&steady),
            self.rotations,
            if self.constant_calls() {
                "yes".to_owned()
            } else {
                let each: Vec<String> = m.per_rotation_calls.iter().map(calls_text).collect();
                format!("NO: {}", each.join(" | "))
            }
        );
        if !self.name_calls.is_empty() {
            println!(
                "  (calls made with the secret's name: {})",
                calls_text(&self.name_calls)
            );
        }
        if self.aws_template.is_some() {
            println!(
                "  AWS's template also calls GetRandomPassword (no SecretId, so moto's counter would not see it); secret-rotor generates passwords locally."
            );
        }
    }

    /// Wall times and engine times of step `i` (`None`: the whole rotation) of the warm
    /// rotations.
    fn warm_times(&self, i: Option<usize>) -> (Vec<Duration>, Vec<u64>) {
        let warm = &self.measured.warm;
        match i {
            Some(i) => (
                warm.iter().map(|r| r.steps[i].wall).collect(),
                warm.iter().map(|r| r.steps[i].engine_ms).collect(),
            ),
            None => (
                warm.iter().map(|r| r.total).collect(),
                warm.iter().map(RotationSample::engine_total).collect(),
            ),
        }
    }

    fn print_steps(&self) {
        println!();
        println!(
            "2. Time per step, warm process, N = {} (ms; wall = around the Lambda invocation)",
            self.rotations
        );
        println!(
            "  {:<14} {:>9} {:>9} {:>9} {:>9}   {:>8} {:>8}",
            "step", "median", "p90", "min", "max", "engine50", "engine90"
        );
        for (i, step) in Step::ALL.iter().enumerate() {
            let (wall, engine) = self.warm_times(Some(i));
            print_stats_row(step.as_str(), &wall, &engine);
        }
        let (wall, engine) = self.warm_times(None);
        print_stats_row("rotation", &wall, &engine);
        println!(
            "  (engine50/engine90: the elapsed_ms the engine reports, median and p90; whole ms)"
        );
    }

    /// Per fresh process: total, createSecret's wall and engine times, the warm rotation.
    fn cold_figures(&self) -> (Vec<Duration>, Vec<Duration>, Vec<u64>, Vec<Duration>) {
        let cold = &self.measured.cold;
        (
            cold.iter().map(|r| r.total).collect(),
            cold.iter().map(|r| r.first.steps[0].wall).collect(),
            cold.iter().map(|r| r.first.steps[0].engine_ms).collect(),
            cold.iter().map(|r| r.second.total).collect(),
        )
    }

    fn print_cold(&self) {
        println!();
        println!(
            "3. One rotation in a fresh process (ms): spawn -> finishSecret's answer, then a second rotation in the same process"
        );
        println!(
            "  {:<5} {:>8} {:>12} {:>12} {:>12} {:>12} {:>14} {:>12} {:>10}",
            "run",
            "init",
            "createSecret",
            "setSecret",
            "testSecret",
            "finishSecret",
            "cold total",
            "warm total",
            "VmHWM MiB"
        );
        for (i, run) in self.measured.cold.iter().enumerate() {
            let s = &run.first.steps;
            println!(
                "  {:<5} {:>8} {:>12.2} {:>12.2} {:>12.2} {:>12.2} {:>14.2} {:>12.2} {:>10}",
                i + 1,
                run.init
                    .map_or_else(|| "?".to_owned(), |d| format!("{:.2}", ms(d))),
                ms(s[0].wall),
                ms(s[1].wall),
                ms(s[2].wall),
                ms(s[3].wall),
                ms(run.total),
                ms(run.second.total),
                run.peak_rss_kib
                    .map_or_else(|| "?".to_owned(), |k| format!("{:.1}", mib(k * 1024))),
            );
        }
        let (totals, create, create_engine, warm) = self.cold_figures();
        let inits = self.inits();
        if !inits.is_empty() {
            println!(
                "  init (spawn -> first GET .../invocation/next): median {:.2} ms, min {:.2} ms",
                ms(percentile(&inits, 50)),
                ms(percentile(&inits, 1)),
            );
        }
        println!(
            "  median: cold rotation {:.2} ms; its createSecret {:.2} ms (process start and init included; the engine reported {} ms); warm rotation {:.2} ms",
            ms(percentile(&totals, 50)),
            ms(percentile(&create, 50)),
            percentile(&create_engine, 50),
            ms(percentile(&warm, 50)),
        );
    }

    /// The init time of each fresh process that reached its first poll.
    fn inits(&self) -> Vec<Duration> {
        self.measured.cold.iter().filter_map(|r| r.init).collect()
    }

    fn fresh_rss_max(&self) -> Option<u64> {
        self.measured
            .cold
            .iter()
            .filter_map(|r| r.peak_rss_kib)
            .max()
    }

    fn print_memory(&self) {
        println!();
        println!("4. Peak RSS of the Lambda process (VmHWM)");
        println!(
            "  after {} rotations in one process: {}",
            self.rotations + 1,
            rss_text(self.measured.steady_rss_kib)
        );
        let known = self
            .measured
            .cold
            .iter()
            .filter(|r| r.peak_rss_kib.is_some())
            .count();
        if known > 0 {
            println!(
                "  after 2 rotations in a fresh process: {} (max of {known} runs)",
                rss_text(self.fresh_rss_max()),
            );
        }
    }

    fn print_binary(&self) {
        let b = &self.binary;
        println!();
        println!("5. Binary (bench profile = release)");
        println!("  size: {:.2} MiB ({} bytes)", mib(b.size), b.size);
        println!(
            "  [profile.release] strip = {}; symbol table: {}; debug info: {}",
            self.strip
                .as_deref()
                .map_or_else(|| "(not set)".to_owned(), |s| format!("{s:?}")),
            yes_no(b.has_symtab),
            yes_no(b.has_debug),
        );
        match (b.has_symtab, b.stripped_copy_size) {
            (Some(false), _) => println!(
                "  stripped size: {:.2} MiB (the binary above is already stripped)",
                mib(b.size)
            ),
            (_, Some(size)) => println!(
                "  stripped size: {:.2} MiB ({size} bytes, a copy after strip --strip-all)",
                mib(size)
            ),
            _ => println!("  stripped size: unknown (no `strip` tool)"),
        }
    }

    fn calls_json(&self) -> Value {
        let m = &self.measured;
        let t = self.aws_template.as_ref();
        let steady = self.steady_calls();
        json!({
            "secret_rotor": m.audited_calls,
            "secret_rotor_total": m.audited_calls.values().sum::<u64>(),
            "aws_python_template": t.map(|t| &t.calls),
            "aws_python_template_total": t.map(AwsTemplate::total),
            "aws_python_template_name": t.map(|t| &t.name),
            "later_rotation_in_warm_process_total": steady.values().sum::<u64>(),
            "later_rotation_in_warm_process": steady,
            "constant_across_rotations": self.constant_calls(),
            "with_the_secret_name": self.name_calls,
        })
    }

    fn json(&self) -> Value {
        let m = &self.measured;
        let b = &self.binary;
        let mut steps = serde_json::Map::new();
        for (i, step) in Step::ALL.iter().enumerate() {
            let (wall, engine) = self.warm_times(Some(i));
            steps.insert(step.as_str().to_owned(), stats_json(&wall, &engine));
        }
        let (warm_wall, warm_engine) = self.warm_times(None);
        let (cold_totals, cold_create, cold_create_engine, cold_warm) = self.cold_figures();
        json!({
            "target": self.target,
            "strategy": self.strategy.as_str(),
            "rotations": self.rotations,
            "cold_runs": self.cold_runs,
            "server_version": self.server_version,
            "setup_seconds": round3(self.setup.as_secs_f64()),
            "calls_per_rotation": self.calls_json(),
            "warm_steps": steps,
            "warm_rotation": stats_json(&warm_wall, &warm_engine),
            "cold_rotation_ms": ms_list(&cold_totals),
            "init_ms": ms_list(&self.inits()),
            "target_per_step": Step::ALL
                .iter()
                .zip(&m.wire_per_step)
                .map(|(step, w)| (step.as_str().to_owned(), json!({
                    "connections": w.connections,
                    "round_trips": w.round_trips,
                })))
                .collect::<serde_json::Map<_, _>>(),
            "cold_create_secret_ms": ms_list(&cold_create),
            "cold_create_secret_engine_ms": cold_create_engine,
            "warm_rotation_after_cold_ms": ms_list(&cold_warm),
            "peak_rss_kib": {
                "steady_process": m.steady_rss_kib,
                "fresh_process_max": self.fresh_rss_max(),
            },
            "binary": {
                "path": self.binary_path.display().to_string(),
                "bytes": b.size,
                "mib": round3(mib(b.size)),
                "release_strip": self.strip,
                "has_symtab": b.has_symtab,
                "has_debug_info": b.has_debug,
                "stripped_copy_bytes": b.stripped_copy_size,
            },
            "bench_seconds_without_build": round3(self.elapsed.as_secs_f64()),
        })
    }
}
