//! Real crashes, black box: a Lambda binary SIGKILLed at each external call of a rotation.
//!
//! A proxy in front of Secrets Manager ([`FaultyEndpoint`]) or in front of the target
//! ([`TcpProxy`]) sees call *n* arrive and kills the process — before forwarding it (the
//! call never happens) or after (it took effect and the process never learned it). Nothing
//! is compiled into the binary for this. Then what the service does: a new process, and
//! either the step retried (Lambda's retry of a failed invocation) or the rotation
//! restarted from createSecret with the same token (the next rotation attempt). After every
//! step and every kill the invariants are checked on the real services: `AWSCURRENT` logs
//! in, or — only where the strategy has one — the single-user window is open (`AWSPENDING`
//! logs in instead); at the end the rotation has converged (`AWSCURRENT` on the token, no
//! `AWSPENDING` anywhere, the new credential logs in).

use std::path::Path;
use std::time::Instant;

use secrecy::ExposeSecret;
use secret_rotor::store::SecretStore;
use secret_rotor::{SecretId, Stage, Step};
use serde_json::Value;

use crate::conformance::{Fixture, hostile_password};
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
    /// At the n-th connection to the target.
    Target,
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
    /// the first that found it closed (ms; it includes the restart after a kill).
    pub longest_window_ms: u128,
    /// Secrets Manager calls and target connections of one clean rotation.
    pub calls: (usize, usize),
}

impl KillFigures {
    /// Every kill point was injected (4 per call: before/after × retry/restart), every
    /// rotation converged, nobody was locked out, and — unless `window` — the single-user
    /// window was never open.
    pub fn assert_sound(&self, window: bool) {
        assert!(
            self.injected >= 4 * (self.calls.0 + self.calls.1),
            "{self:?}"
        );
        assert_eq!(self.converged, self.injected, "{self:?}");
        assert_eq!(self.lockouts, 0, "{self:?}");
        if !window {
            assert_eq!(self.in_window, 0, "no window at all: {self:?}");
        }
    }
}

/// One account to rotate: its secret's ARN in moto, made by [`KillTarget::new_secret`].
pub trait KillTarget {
    /// Creates an account and its secret (pointing at `target_addr`, the proxy) in moto;
    /// returns the secret's ARN.
    fn new_secret(&self, target_addr: std::net::SocketAddr) -> impl Future<Output = String>;
    /// Whether a secret value logs in on the target (checked directly, not through the
    /// proxy).
    fn logs_in(&self, value: &Value) -> impl Future<Output = bool>;
}

/// Kills `binary` at every Secrets Manager call and at every target connection of a
/// rotation, before and after each, followed by each of the service's reactions; panics
/// on the first invariant broken, returns the figures. `env` is the function's environment
/// (its `AWS_ENDPOINT_URL` is replaced by the killing endpoint's); `target` is where the
/// account lives (`backend`: its real address, behind the proxy); `window` says whether
/// the strategy has a single-user window.
pub async fn kill_at_every_call(
    binary: &Path,
    env: &[(String, String)],
    backend: std::net::SocketAddr,
    target: &impl KillTarget,
    window: bool,
) -> KillFigures {
    let moto = Moto::shared();
    let endpoint = FaultyEndpoint::start(moto.endpoint()).await;
    let proxy = TcpProxy::start(backend).await;
    let mut env = env.to_vec();
    env.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
    env.push(("AWS_ENDPOINT_URL".into(), endpoint.url()));

    // One clean rotation, to count the calls.
    let arn = target.new_secret(proxy.addr()).await;
    let (sm_before, db_before) = (endpoint.operations().len(), proxy.accepted());
    let lambda = LambdaProcess::spawn(binary, &env).await;
    let token = begin(moto, &arn, None).await;
    for step in Step::ALL {
        let outcome = lambda
            .invoke(rotation_event(step, &arn, &token, None))
            .await;
        assert!(outcome.is_ok(), "clean rotation, {step}: {outcome:?}");
    }
    drop(lambda);
    let calls = (
        endpoint.operations().len() - sm_before,
        proxy.accepted() - db_before,
    );
    let mut figures = KillFigures {
        calls,
        ..KillFigures::default()
    };

    for (site, count) in [
        (KillSite::SecretsManager, calls.0),
        (KillSite::Target, calls.1),
    ] {
        for n in 1..=count {
            for when in [KillWhen::BeforeForwarding, KillWhen::AfterForwarding] {
                for after in [AfterCrash::RetryStep, AfterCrash::RestartRotation] {
                    let point = format!("{site:?} call {n} {when:?}, then {after:?}");
                    let arn = target.new_secret(proxy.addr()).await;
                    let mut lambda = LambdaProcess::spawn(binary, &env).await;
                    let token = begin(moto, &arn, None).await;
                    match site {
                        KillSite::SecretsManager => endpoint.kill_at(n, when, lambda.pid()),
                        KillSite::Target => proxy.kill_at(n, when, lambda.pid()),
                    }
                    figures.injected += 1;
                    let mut window_opened: Option<Instant> = None;
                    let mut steps: Vec<Step> = Step::ALL.to_vec();
                    let mut i = 0;
                    let mut restarts = 0;
                    while i < steps.len() {
                        let step = steps[i];
                        let outcome = lambda
                            .invoke(rotation_event(step, &arn, &token, None))
                            .await;
                        let killed = matches!(
                            &outcome,
                            Invocation::Err { error_type, .. } if error_type == "Runtime.ExitError"
                        );
                        if !killed && !outcome.is_ok() {
                            panic!("{point}: {step} failed: {outcome:?}\n{}", lambda.logs());
                        }
                        check(
                            moto,
                            target,
                            &arn,
                            window,
                            &point,
                            &mut figures,
                            &mut window_opened,
                        )
                        .await;
                        if killed {
                            restarts += 1;
                            lambda = LambdaProcess::spawn(binary, &env).await;
                            if after == AfterCrash::RestartRotation {
                                begin(moto, &arn, Some(&token)).await;
                                steps = Step::ALL.to_vec();
                                i = 0;
                            }
                            continue;
                        }
                        i += 1;
                    }
                    let fired = match site {
                        KillSite::SecretsManager => endpoint.killed(),
                        KillSite::Target => proxy.killed(),
                    };
                    assert!(fired, "{point}: the kill happened");
                    // (A kill after a target connection closed may land once the last step
                    // has answered: nothing to restart then.)
                    assert!(restarts <= 1, "{point}: the process was killed once");
                    assert_converged(moto, target, &arn, &token, &point).await;
                    figures.converged += 1;
                }
            }
        }
    }
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

async fn assert_converged(
    moto: &Moto,
    target: &impl KillTarget,
    arn: &str,
    token: &str,
    point: &str,
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
}

/// [`KillTarget`] for a target whose secrets use AWS's database layout (`host`, `port`):
/// accounts made by a conformance [`Fixture`], the secret (and the master's, for
/// alternating users) pointed at the proxy.
#[derive(Debug)]
pub struct DbLayout<'f, F> {
    /// Makes accounts and checks logins.
    pub fixture: &'f F,
    /// Alternating users: the master secret (the proxy's address is put in it).
    pub master: Option<Value>,
}

impl<F: Fixture> KillTarget for DbLayout<'_, F> {
    async fn new_secret(&self, target_addr: std::net::SocketAddr) -> String {
        let moto = Moto::shared();
        let user = unique_name("kill");
        let password = hostile_password();
        self.fixture.create_account(&user, &password).await;
        let at_proxy = |mut secret: Value| {
            secret["host"] = target_addr.ip().to_string().into();
            secret["port"] = target_addr.port().into();
            secret
        };
        let mut secret = at_proxy(self.fixture.secret_for(&user, &password));
        if let Some(master) = &self.master {
            let arn = moto
                .create_secret(
                    &unique_name("kill/master"),
                    &at_proxy(master.clone()).to_string(),
                )
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
    let backend = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let target = DbLayout { fixture, master };
    let figures = kill_at_every_call(binary, &all_env, backend, &target, window).await;
    println!("RELIABILITY kills target={name} strategy={strategy} {figures:?}");
    figures
}
