//! A database connection reset (TCP RST) in the middle of setSecret's conversation: at
//! the login, the password statement, the transaction's `COMMIT`, the proof login. A
//! [`TcpProxy`] in front of the server records a clean setSecret's conversation, then each
//! case resets one connection at one point of it — before what the client sent next
//! reaches the server, or right after the server acted on it, before the answer reaches
//! the client.
//!
//! At every point: the step ends within a bound (well under the Lambda timeout) with a
//! stable error code (or succeeds, when the reset only hit a check whose failure the step
//! tolerates), with no password in the error; nothing is left that locks out (alternating
//! users: `AWSCURRENT` logs in; single user: `AWSCURRENT`, or `AWSPENDING` inside the
//! documented window once the server took the new password); and the service's retry
//! converges. Prints `RELIABILITY wire target=… strategy=… fault=reset …`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use secret_rotor::{Error, Outcome, RotationConfig, Stage, Step, Strategy, Target, VersionId};
use serde_json::{Map, Value};

use super::alternating::alternating;
use super::{AlternatingFixture, Case, Fixture, unique};
use crate::moto::Moto;
use crate::proxy::{ResetWhen, TcpProxy};

/// The error codes a reset connection may end a step with: the login's connection failed
/// (`TargetUnreachable`, during the TLS handshake too: a reset is not a certificate
/// problem, and `TlsError` would send an operator to the CA bundle), or a statement's
/// connection broke (`TargetError`).
pub const RESET_CODES: [&str; 2] = ["TargetUnreachable", "TargetError"];

/// One point of a conversation: connection (1-based, in the step's order), byte offset
/// of what its client sent, and when the reset happens relative to it.
type Point = (usize, usize, ResetWhen);

/// How many cases run at once (each on its own account, secret and proxy).
const CASES_AT_ONCE: usize = 4;

/// Where the fixture's server listens, from the secret it writes.
fn backend<F: Fixture>(fixture: &F) -> SocketAddr {
    let secret = fixture.secret_for("probe", "probe");
    let host = secret["host"].as_str().expect("the secret's host");
    let port = secret["port"].as_u64().expect("the secret's port");
    format!("{host}:{port}").parse().unwrap_or_else(|e| {
        panic!("the wire-reset cases need the server's address as an IP ({host}:{port}): {e}")
    })
}

/// How many of the first and of the last things a connection's client sent are swept:
/// the login (TLS handshake, authentication) and the end (the password statement, the
/// `COMMIT`, the goodbye). Between them, inside the master's open transaction, a reset at
/// any statement rolls the same transaction back; sweeping each of them (some 40 on
/// PostgreSQL) would double the test's time for nothing new.
const SWEPT_AT_EACH_END: usize = 8;

/// The points of a recorded conversation: before each thing the client sent, and after
/// each (the answer lost), for the first and last [`SWEPT_AT_EACH_END`] of each connection.
fn points_of(conversation: &[Vec<usize>]) -> Vec<Point> {
    let mut points = Vec::new();
    for (i, chunks) in conversation.iter().enumerate() {
        let mut offset = 0;
        for (k, chunk) in chunks.iter().enumerate() {
            let swept = k < SWEPT_AT_EACH_END || k + SWEPT_AT_EACH_END >= chunks.len();
            if swept {
                points.push((i + 1, offset, ResetWhen::BeforeForwarding));
            }
            offset += chunk;
            if swept {
                points.push((i + 1, offset, ResetWhen::AfterAnswer));
            }
        }
    }
    points
}

/// A case whose secrets (and the master's, for alternating users) reach the server
/// through a fresh proxy, with createSecret done.
async fn case_behind_proxy<'f, F: Fixture>(
    fixture: &'f F,
    strategy: Strategy,
    master: Option<Value>,
) -> (Case<'f, F>, TcpProxy, VersionId) {
    let proxy = TcpProxy::start(backend(fixture)).await;
    let mut more = Map::new();
    more.insert("host".into(), proxy.addr().ip().to_string().into());
    more.insert("port".into(), proxy.addr().port().into());
    let config = match strategy {
        Strategy::AlternatingUsers => alternating(fixture),
        _ => RotationConfig::defaults(&fixture.target()),
    };
    if let Some(mut master) = master {
        master["host"] = more["host"].clone();
        master["port"] = more["port"].clone();
        let arn = Moto::shared()
            .create_secret(
                &format!("conformance/master/{}", unique()),
                &master.to_string(),
            )
            .await;
        more.insert("masterarn".into(), arn.into());
    }
    let case = Case::build(fixture, "wreset", "first-Password-1", config, more).await;
    let token = case.start().await;
    case.ok(Step::CreateSecret, &token).await;
    (case, proxy, token)
}

#[derive(Default)]
struct Figures {
    errors: BTreeMap<String, usize>,
    succeeded: usize,
    window: usize,
    converged: usize,
    longest: Duration,
}

async fn sweep<'f, F: Fixture>(
    fixture: &'f F,
    strategy: Strategy,
    bound: Duration,
    prepare: impl AsyncFn() -> (Case<'f, F>, TcpProxy, VersionId),
    after: impl AsyncFn(&Case<'f, F>, &VersionId),
) {
    // A clean setSecret, recorded.
    let (case, proxy, token) = prepare().await;
    case.ok(Step::SetSecret, &token).await;
    let conversation = proxy.client_chunks();
    let points = points_of(&conversation);
    assert!(
        points.len() >= 8,
        "setSecret's conversation has its login and its statements: {conversation:?}"
    );
    let figures = Mutex::new(Figures::default());
    let (figures_ref, prepare, after) = (&figures, &prepare, &after);
    use futures::StreamExt;
    futures::stream::iter(points.clone())
        .for_each_concurrent(CASES_AT_ONCE, |(connection, bytes, when)| async move {
            let at = format!("connection {connection}, byte {bytes}, {when:?}");
            let (case, proxy, token) = prepare().await;
            let pending = case.password(Stage::Pending).await.expect("pending");
            proxy.reset_at(connection, bytes, when);
            let started = Instant::now();
            let outcome = case.step(Step::SetSecret, &token).await;
            let took = started.elapsed();
            assert!(proxy.reset_fired(), "{at}: the reset happened");
            assert!(
                took < bound,
                "{at}: setSecret took {took:?} (bound {bound:?})"
            );
            match &outcome {
                Ok(report) => assert!(
                    matches!(
                        report.outcome,
                        Outcome::PasswordSet { .. } | Outcome::AlternateUserSet { .. }
                    ),
                    "{at}: {:?}",
                    report.outcome
                ),
                Err(e) => assert_clean_reset_error(&at, e, &[&case.first_password, &pending]),
            }
            let current = case.logs_in(Stage::Current).await;
            let in_window = !current && case.logs_in(Stage::Pending).await;
            if strategy == Strategy::AlternatingUsers {
                assert!(current, "{at}: AWSCURRENT must log in");
            } else {
                assert!(
                    current || in_window,
                    "{at}: neither AWSCURRENT nor AWSPENDING logs in"
                );
            }
            // The service retries: the rotation converges through the same proxy.
            for step in [Step::SetSecret, Step::TestSecret, Step::FinishSecret] {
                if let Err(e) = case.step(step, &token).await {
                    panic!("{at}: the retry's {step} failed: [{}] {e}", e.code());
                }
            }
            let labels = case.describe().await;
            assert_eq!(labels.version_with(&Stage::Current), Some(&token), "{at}");
            assert_eq!(labels.version_with(&Stage::Pending), None, "{at}");
            after(&case, &token).await;
            let mut f = figures_ref.lock().unwrap_or_else(|p| p.into_inner());
            match outcome {
                Ok(_) => f.succeeded += 1,
                Err(e) => *f.errors.entry(e.code().to_owned()).or_default() += 1,
            }
            f.window += usize::from(in_window);
            f.converged += 1;
            f.longest = f.longest.max(took);
        })
        .await;
    let f = figures.into_inner().unwrap_or_else(|p| p.into_inner());
    assert_eq!(f.converged, points.len());
    println!(
        "RELIABILITY wire target={} strategy={strategy} fault=reset-mid-conversation \
         connections={} client_messages={} injected={} bounded={} errors={:?} \
         succeeded_anyway={} single_user_window={} retried={} converged={} longest_ms={}",
        fixture.target().info().name,
        conversation.len(),
        conversation.iter().map(Vec::len).sum::<usize>(),
        points.len(),
        points.len(),
        f.errors,
        f.succeeded,
        f.window,
        points.len(),
        f.converged,
        f.longest.as_millis()
    );
}

/// A reset's error: a stable code of [`RESET_CODES`], retryable (a lost connection is no
/// verdict of the server's), and no password.
fn assert_clean_reset_error(at: &str, e: &Error, passwords: &[&str]) {
    assert!(
        RESET_CODES.contains(&e.code()),
        "{at}: [{}] {}",
        e.code(),
        e.display_chain()
    );
    assert!(
        e.is_retryable(),
        "{at}: a reset connection reported as not retryable: [{}] {}",
        e.code(),
        e.display_chain()
    );
    let text = format!("{} {e:?}", e.display_chain());
    for password in passwords {
        assert!(!text.contains(password), "{at}: a password in the error");
    }
}

/// Single user: setSecret's connections reset at every point of its conversation (the
/// login as `AWSCURRENT`, the password statement, the proof login with the new password).
/// For targets whose secret names `host` (an IP address) and `port`.
pub async fn a_reset_connection_ends_the_step_in_bounded_time<F: Fixture>(
    fixture: &F,
    bound: Duration,
) {
    sweep(
        fixture,
        Strategy::SingleUser,
        bound,
        async || case_behind_proxy(fixture, Strategy::SingleUser, None).await,
        async |case: &Case<'_, F>, token: &VersionId| {
            case.assert_rotated(token, &case.first_password).await;
        },
    )
    .await;
}

/// Alternating users: the same, through the master's transaction (its login, the
/// statements, the `COMMIT`) and the logins around it; `AWSCURRENT` logs in at every point
/// and both users work after the retry.
pub async fn alternating_a_reset_connection_ends_the_step_in_bounded_time<F: AlternatingFixture>(
    fixture: &F,
    bound: Duration,
) {
    sweep(
        fixture,
        Strategy::AlternatingUsers,
        bound,
        async || {
            let (case, proxy, token) = case_behind_proxy(
                fixture,
                Strategy::AlternatingUsers,
                Some(fixture.master_secret()),
            )
            .await;
            fixture.grant_probe(&case.username).await;
            (case, proxy, token)
        },
        async |case: &Case<'_, F>, _: &VersionId| case.assert_both_users_work().await,
    )
    .await;
}

/// How long a step may take when its connection is reset, in the cases of
/// [`database_conformance_tests!`](crate::database_conformance_tests).
pub const RESET_BOUND: Duration = Duration::from_secs(10);

/// [`a_reset_connection_ends_the_step_in_bounded_time`] within [`RESET_BOUND`].
pub async fn wire_reset_single_user_mid_conversation<F: Fixture>(fixture: &F) {
    a_reset_connection_ends_the_step_in_bounded_time(fixture, RESET_BOUND).await;
}

/// [`alternating_a_reset_connection_ends_the_step_in_bounded_time`] within
/// [`RESET_BOUND`].
pub async fn wire_reset_alternating_mid_conversation<F: AlternatingFixture>(fixture: &F) {
    alternating_a_reset_connection_ends_the_step_in_bounded_time(fixture, RESET_BOUND).await;
}

/// The cases for a database reached at `host` and `port` whose engine RDS manages
/// (PostgreSQL, MySQL): an RDS-managed master's fault sweep
/// ([`FaultPath::RdsManagedMaster`](super::FaultPath::RdsManagedMaster)) and the
/// connection reset at every point of setSecret's conversation, both strategies. Next to
/// [`conformance_tests!`](crate::conformance_tests) and
/// [`alternating_conformance_tests!`](crate::alternating_conformance_tests).
#[macro_export]
macro_rules! database_conformance_tests {
    ($fixture:expr) => {
        $crate::conformance_tests!(@cases $fixture;
            fault_path_alternating_rds_managed_master,
            wire_reset_single_user_mid_conversation,
            wire_reset_alternating_mid_conversation,
        );
    };
}
