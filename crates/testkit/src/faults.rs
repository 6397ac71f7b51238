//! Fault injection: make a rotation fail right before, or "crash" right after, any one of
//! its external calls (Secrets Manager or target), then check that the service's retry
//! converges.
//!
//! [`FaultyStore`] and [`FaultyTarget`] wrap a real store and a real target, and
//! [`FaultyLocator`] the RDS API that locates RDS-managed master secrets; they share one
//! [`FaultPlan`], which numbers every external call of the rotation in order. A
//! `CrashAfter(n)` plan lets call `n` happen (its effect is real) and then fails the step,
//! exactly like a process that dies before it can use the answer.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use secret_rotor::rds::{DatabaseLocator, DbEndpoint};
use secret_rotor::store::{SecretStore, Selector};
use secret_rotor::{
    AlternateContext, AlternateReport, Error, Login, PendingRequest, Result, RetireReport,
    RetireRequest, RotationConfig, RotationEvent, RotationToken, Rotator, SecretDescription,
    SecretId, SecretValue, Stage, Step, Target, TargetInfo, VersionId,
};

/// Which call to break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Call `n` (1-based) takes effect, then the step fails (a crash after the call).
    CrashAfter(usize),
    /// Call `n` fails without taking effect (e.g. a network error).
    FailBefore(usize),
    /// Call `n` fails with a TLS error (`TlsError`) without taking effect.
    TlsBefore(usize),
}

#[derive(Debug, Default)]
struct PlanState {
    calls: Vec<String>,
    fault: Option<Fault>,
    fired: bool,
}

/// Numbers external calls and injects at most one fault. Clones share the same plan.
#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    state: Arc<Mutex<PlanState>>,
}

impl FaultPlan {
    /// A plan that only counts.
    pub fn counting() -> Self {
        FaultPlan::default()
    }

    /// A plan that injects `fault`.
    pub fn with(fault: Fault) -> Self {
        let plan = FaultPlan::default();
        plan.lock().fault = Some(fault);
        plan
    }

    fn lock(&self) -> MutexGuard<'_, PlanState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The calls made so far, in order (`DescribeSecret`, `target.try_login`, ...).
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    /// Whether the fault was injected.
    pub fn fired(&self) -> bool {
        self.lock().fired
    }

    /// Stops injecting (the retry after a crash runs clean) and forgets the calls.
    pub fn disarm(&self) {
        let mut state = self.lock();
        state.fault = None;
        state.calls.clear();
    }

    fn injected(name: &str, n: usize, when: &str) -> Error {
        Error::Target {
            target: "fault-injection".into(),
            reason: format!("injected {when} call {n} ({name})"),
            retryable: true,
            source: None,
        }
    }

    /// Runs one external call under the plan.
    pub async fn call<T>(&self, name: &str, call: impl Future<Output = Result<T>>) -> Result<T> {
        let n = {
            let mut state = self.lock();
            state.calls.push(name.to_owned());
            let n = state.calls.len();
            if state.fault == Some(Fault::FailBefore(n)) {
                state.fired = true;
                return Err(FaultPlan::injected(name, n, "failure before"));
            }
            if state.fault == Some(Fault::TlsBefore(n)) {
                state.fired = true;
                return Err(Error::Tls {
                    target: "fault-injection".into(),
                    reason: format!("injected TLS failure before call {n} ({name})"),
                    source: None,
                });
            }
            n
        };
        let result = call.await;
        let mut state = self.lock();
        if state.fault == Some(Fault::CrashAfter(n)) {
            state.fired = true;
            return Err(FaultPlan::injected(name, n, "crash after"));
        }
        result
    }
}

/// A [`SecretStore`] whose calls go through a [`FaultPlan`].
#[derive(Debug, Clone)]
pub struct FaultyStore<S> {
    inner: S,
    plan: FaultPlan,
}

impl<S> FaultyStore<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, plan: FaultPlan) -> Self {
        FaultyStore { inner, plan }
    }
}

impl<S: SecretStore> SecretStore for FaultyStore<S> {
    async fn describe(&self, secret_id: &SecretId) -> Result<SecretDescription> {
        self.plan
            .call("DescribeSecret", self.inner.describe(secret_id))
            .await
    }

    async fn get_value(
        &self,
        secret_id: &SecretId,
        selector: &Selector,
    ) -> Result<Option<SecretValue>> {
        let name = format!("GetSecretValue {}", selector.describe());
        self.plan
            .call(&name, self.inner.get_value(secret_id, selector))
            .await
    }

    async fn put_pending(
        &self,
        secret_id: &SecretId,
        token: &VersionId,
        value: &SecretValue,
        rotation_token: Option<&RotationToken>,
    ) -> Result<()> {
        self.plan
            .call(
                "PutSecretValue",
                self.inner
                    .put_pending(secret_id, token, value, rotation_token),
            )
            .await
    }

    async fn version_ids(&self, secret_id: &SecretId) -> Result<BTreeSet<VersionId>> {
        self.plan
            .call("ListSecretVersionIds", self.inner.version_ids(secret_id))
            .await
    }

    async fn update_stage(
        &self,
        secret_id: &SecretId,
        stage: Stage,
        move_to: Option<&VersionId>,
        remove_from: Option<&VersionId>,
    ) -> Result<()> {
        let name = format!("UpdateSecretVersionStage {stage}");
        self.plan
            .call(
                &name,
                self.inner
                    .update_stage(secret_id, stage, move_to, remove_from),
            )
            .await
    }
}

/// A [`Target`] whose calls to its server go through a [`FaultPlan`]. Parsing is local and
/// is not counted.
#[derive(Debug, Clone)]
pub struct FaultyTarget<T> {
    inner: T,
    plan: FaultPlan,
}

impl<T> FaultyTarget<T> {
    /// Wraps `inner`.
    pub fn new(inner: T, plan: FaultPlan) -> Self {
        FaultyTarget { inner, plan }
    }
}

impl<T: Target> Target for FaultyTarget<T> {
    type Credential = T::Credential;

    fn info(&self) -> TargetInfo {
        self.inner.info()
    }

    fn parse_credential(&self, secret: &SecretValue) -> Result<Self::Credential> {
        self.inner.parse_credential(secret)
    }

    async fn try_login(&self, credential: &Self::Credential) -> Result<Login> {
        self.plan
            .call("target.try_login", self.inner.try_login(credential))
            .await
    }

    async fn set_password(
        &self,
        login_as: &Self::Credential,
        pending: &Self::Credential,
    ) -> Result<Login> {
        self.plan
            .call(
                "target.set_password",
                self.inner.set_password(login_as, pending),
            )
            .await
    }

    async fn verify(&self, pending: &Self::Credential) -> Result<Login> {
        self.plan
            .call("target.verify", self.inner.verify(pending))
            .await
    }

    fn alternate_username(&self, current: &Self::Credential) -> Result<String> {
        self.inner.alternate_username(current)
    }

    async fn pending_value(
        &self,
        request: PendingRequest<'_, Self::Credential>,
    ) -> Result<SecretValue> {
        self.plan
            .call("target.pending_value", self.inner.pending_value(request))
            .await
    }

    async fn retire(&self, request: RetireRequest<'_, Self::Credential>) -> Result<RetireReport> {
        self.plan
            .call("target.retire", self.inner.retire(request))
            .await
    }

    async fn sync_alternate(
        &self,
        master: &Self::Credential,
        current: &Self::Credential,
        pending: &Self::Credential,
        context: AlternateContext,
    ) -> Result<AlternateReport> {
        self.plan
            .call(
                "target.sync_alternate",
                self.inner.sync_alternate(master, current, pending, context),
            )
            .await
    }
}

/// A [`DatabaseLocator`] (the RDS API, for RDS-managed master secrets) whose calls go
/// through a [`FaultPlan`], named `rds.primary_endpoint` and `rds.is_replica_of`. Give it to
/// [`Rotator::with_rds`].
#[derive(Debug, Clone)]
pub struct FaultyLocator<L> {
    inner: L,
    plan: FaultPlan,
}

impl<L> FaultyLocator<L> {
    /// Wraps `inner`.
    pub fn new(inner: L, plan: FaultPlan) -> Self {
        FaultyLocator { inner, plan }
    }
}

impl<L: DatabaseLocator> DatabaseLocator for FaultyLocator<L> {
    async fn primary_endpoint(
        &self,
        tags: &BTreeMap<String, String>,
    ) -> Result<Option<DbEndpoint>> {
        self.plan
            .call("rds.primary_endpoint", self.inner.primary_endpoint(tags))
            .await
    }

    async fn is_replica_of(&self, host: &str, primary_host: &str) -> Result<bool> {
        self.plan
            .call(
                "rds.is_replica_of",
                self.inner.is_replica_of(host, primary_host),
            )
            .await
    }
}

/// A rotator whose store and target calls all go through `plan`.
pub fn faulty_rotator<T: Target, S: SecretStore>(
    target: T,
    store: S,
    config: RotationConfig,
    plan: &FaultPlan,
) -> Rotator<FaultyTarget<T>, FaultyStore<S>> {
    Rotator::new(
        FaultyTarget::new(target, plan.clone()),
        FaultyStore::new(store, plan.clone()),
        config,
    )
    .expect("the configuration suits the target")
}

/// Runs the four steps of the rotation `token` in order, stopping at the first failure as
/// the service does; the failing step and its error.
pub async fn run_rotation<T: Target, S: SecretStore>(
    rotator: &Rotator<T, S>,
    secret_id: &SecretId,
    token: &VersionId,
) -> std::result::Result<(), (Step, Error)> {
    for step in Step::ALL {
        let event = RotationEvent::new(step, secret_id.clone(), token.clone());
        rotator.handle(&event).await.map_err(|e| (step, e))?;
    }
    Ok(())
}

/// How many fault cases [`for_every_fault`] runs at once.
const FAULTS_AT_ONCE: usize = 4;

/// Runs `check` for every fault of a rotation that makes `calls` external calls, a few at
/// a time: each check works on its own account and secret, so the waits on the servers
/// overlap. A failing check panics, as a test does.
pub async fn for_every_fault<Fut: Future<Output = ()>>(calls: usize, check: impl Fn(Fault) -> Fut) {
    use futures::StreamExt;
    futures::stream::iter(every_fault(calls))
        .for_each_concurrent(FAULTS_AT_ONCE, check)
        .await;
}

/// Every fault of a rotation that makes `calls` external calls: a crash right after each
/// call, and a failure right before each.
pub fn every_fault(calls: usize) -> impl Iterator<Item = Fault> {
    (1..=calls).flat_map(|n| [Fault::CrashAfter(n), Fault::FailBefore(n)])
}
