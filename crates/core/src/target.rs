//! The one trait a target implements, and what it declares about itself.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::event::VersionId;
use crate::inspect::CertificateInfo;
use crate::secret::SecretValue;

/// How credentials are rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Strategy {
    /// One user whose password changes; there is a short window during which the old
    /// password no longer works and the new one is not yet `AWSCURRENT`.
    SingleUser,
    /// Two users (`<user>` and `<user>_clone`) take turns: the one not in use gets the new
    /// password, so the previous credentials keep working. Needs a master secret.
    AlternatingUsers,
}

impl Strategy {
    /// Every strategy.
    pub const ALL: [Strategy; 2] = [Strategy::SingleUser, Strategy::AlternatingUsers];

    /// The configuration spelling: `single-user`, `alternating-users`.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::SingleUser => "single-user",
            Strategy::AlternatingUsers => "alternating-users",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Strategy {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Strategy::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                Error::config(format!(
                    "unknown rotation strategy {s:?} (expected single-user or alternating-users)"
                ))
            })
    }
}

/// What a target can do, declared up front so the core refuses configurations it cannot
/// serve before anything changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    strategies: &'static [Strategy],
    retires: bool,
}

impl Capabilities {
    /// A target that supports these strategies.
    pub const fn new(strategies: &'static [Strategy]) -> Self {
        Capabilities {
            strategies,
            retires: false,
        }
    }

    /// The same, for a target whose old credentials stay valid until it revokes them (API
    /// keys it issues, several passwords per user): the core gives it what is still in use
    /// when it makes the pending credential ([`PendingRequest::previous`]) and calls
    /// [`Target::retire`] after finishSecret.
    pub const fn retiring(mut self) -> Self {
        self.retires = true;
        self
    }

    /// Whether the target retires old credentials ([`Capabilities::retiring`]).
    pub fn retires(&self) -> bool {
        self.retires
    }

    /// Whether `strategy` is supported.
    pub fn supports(&self, strategy: Strategy) -> bool {
        self.strategies.contains(&strategy)
    }

    /// The supported strategies.
    pub fn strategies(&self) -> &'static [Strategy] {
        self.strategies
    }
}

/// What a target is: its name, what it can do, and its defaults. See [`Target::info`].
///
/// ```
/// use secret_rotor::{Capabilities, Strategy, TargetInfo};
///
/// const INFO: TargetInfo = TargetInfo::new("my-db", Capabilities::new(&[Strategy::SingleUser]))
///     .with_default_exclude_characters("/@\"'\\");
/// assert_eq!(INFO.name, "my-db");
/// assert!(!INFO.capabilities.supports(Strategy::AlternatingUsers));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TargetInfo {
    /// A short name for logs and errors (`postgres`).
    pub name: &'static str,
    /// What the target supports.
    pub capabilities: Capabilities,
    /// Characters left out of generated passwords unless `EXCLUDE_CHARACTERS` is set
    /// (AWS's per-engine defaults); none by default.
    pub default_exclude_characters: &'static str,
}

impl TargetInfo {
    /// A target named `name` with these capabilities.
    pub const fn new(name: &'static str, capabilities: Capabilities) -> Self {
        TargetInfo {
            name,
            capabilities,
            default_exclude_characters: "",
        }
    }

    /// The same, leaving `characters` out of generated passwords by default.
    pub const fn with_default_exclude_characters(mut self, characters: &'static str) -> Self {
        self.default_exclude_characters = characters;
        self
    }
}

/// The answer of a target to a login attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// The credential works.
    Accepted,
    /// The server was reached and refused the credential (wrong password, no such user).
    /// Network and TLS failures are errors, not refusals.
    Refused {
        /// The server's reason, for logs (never a password).
        reason: String,
    },
}

impl Login {
    /// Whether the credential works.
    pub fn is_accepted(&self) -> bool {
        matches!(self, Login::Accepted)
    }
}

/// The other user of an alternating pair, AWS's way: `<user>_clone` for `<user>`, and
/// `<user>` for `<user>_clone`.
///
/// ```
/// assert_eq!(secret_rotor::target::alternate_of("app"), "app_clone");
/// assert_eq!(secret_rotor::target::alternate_of("app_clone"), "app");
/// ```
pub fn alternate_of(username: &str) -> String {
    match username.strip_suffix("_clone") {
        Some(original) => original.to_owned(),
        None => format!("{username}_clone"),
    }
}

/// What alternating users do when the master cannot give the pending user everything the
/// current user holds (`PRIVILEGE_PARITY`).
///
/// A pending user with *stronger* attributes than the current one (superuser, ...) is
/// refused whatever this says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Parity {
    /// Fail setSecret with [`Error::PrivilegeMismatch`], changing nothing: `AWSCURRENT`
    /// keeps working. The default (`enforce`).
    #[default]
    Enforce,
    /// Report what could not be copied in the step's result and the logs, and go on
    /// (`report`): for users who accept a pending user with less.
    Report,
}

impl Parity {
    /// The configuration spelling: `enforce`, `report`.
    pub fn as_str(self) -> &'static str {
        match self {
            Parity::Enforce => "enforce",
            Parity::Report => "report",
        }
    }
}

impl std::str::FromStr for Parity {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        [Parity::Enforce, Parity::Report]
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                Error::config(format!(
                    "PRIVILEGE_PARITY must be enforce or report, not {s:?}"
                ))
            })
    }
}

/// What createSecret passes to [`Target::pending_value`].
#[derive(Debug)]
#[non_exhaustive]
pub struct PendingRequest<'a, C> {
    /// The value the core would store: `AWSCURRENT`'s with a new password from the
    /// policy (and, for alternating users, the other user's name). Every key of
    /// `AWSCURRENT` is in it.
    pub proposed: SecretValue,
    /// `AWSCURRENT`'s value as it is (a target that issues keys starts from it: its
    /// `password`, if any, is not the rotating credential).
    pub current_value: &'a SecretValue,
    /// `AWSCURRENT`'s credential.
    pub current: &'a C,
    /// `AWSPREVIOUS`'s credential, for targets that retire ([`Capabilities::retiring`]):
    /// with `current`, what is in use and must never be revoked.
    pub previous: Option<&'a C>,
    /// The rotation's token (the pending version's id): label what the target issues
    /// with it, so that a retry after a crash can find what an earlier attempt issued.
    pub token: &'a VersionId,
}

/// What [`Target::retire`] gets after finishSecret moved `AWSCURRENT`.
#[derive(Debug)]
#[non_exhaustive]
pub struct RetireRequest<'a, C> {
    /// The credential that was `AWSPREVIOUS` until this rotation: two generations old now,
    /// held by no label. `None` on the first rotations, and on finishSecret's retry after
    /// the label move (the version is no longer known: sweep).
    pub retired: Option<&'a C>,
    /// The new `AWSCURRENT` and `AWSPREVIOUS`: never revoke these.
    pub keep: [&'a C; 2],
    /// The rotation's token.
    pub token: &'a VersionId,
}

/// What [`Target::retire`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RetireReport {
    /// What was revoked (ids or names, never secrets).
    pub revoked: Vec<String>,
    /// What may be left over but could not be proven unused (e.g. keys of an API user
    /// that other secrets may share), with when it was issued when known.
    pub possible_orphans: Vec<String>,
}

/// What the core knows that [`Target::sync_alternate`] needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct AlternateContext {
    /// Whether to fail, or only report, when the pending user would hold less.
    pub parity: Parity,
    /// The pending user was the user of this secret's `AWSPREVIOUS` (the pair has rotated
    /// before): if it exists, it is the pair's. When `false`, an existing pending user was
    /// not made by a rotation of this secret, unless the target can tell otherwise (e.g. a
    /// membership it left, or a half-made user it can prove is its own).
    pub pair_established: bool,
}

impl AlternateContext {
    /// A context with this parity; the pair not established.
    pub fn new(parity: Parity) -> Self {
        AlternateContext {
            parity,
            pair_established: false,
        }
    }

    /// The same, saying whether the pair has rotated before.
    pub fn with_pair_established(mut self, established: bool) -> Self {
        self.pair_established = established;
        self
    }
}

/// What [`Target::sync_alternate`] did to make the two users of an alternating pair
/// equivalent. Logged, and returned in the setSecret step's result.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct AlternateReport {
    /// The pending user did not exist and was created.
    pub created: bool,
    /// Differences between the two users that were found and fixed (e.g.
    /// `granted SELECT ON TABLE public.orders to app_clone`).
    pub synced: Vec<String>,
    /// What the current user holds that the pending user could not be given (e.g. the
    /// master may not grant on an object it does not own), with the server's reason. Only
    /// ever non-empty with [`Parity::Report`]: with [`Parity::Enforce`] the step fails.
    pub unsynced: Vec<String>,
    /// What the pending user holds and the current user does not: reported, never granted
    /// to the current user (the live one).
    pub extra: Vec<String>,
    /// Things parity cannot fix and a person should know (e.g. objects owned by one user
    /// that the other cannot reach).
    pub notes: Vec<String>,
}

/// A credential parsed from a secret value: who logs in, where, and with what password.
pub trait Credential: Send + Sync {
    /// The user name.
    fn username(&self) -> &str;
    /// Where the credential logs in, normalised so that two credentials for the same
    /// server compare equal (e.g. `db.example.com:5432`). Used by the guard that refuses
    /// to apply a pending credential meant for another server.
    fn server(&self) -> String;
}

/// A system whose credentials secret-rotor rotates (a database, an API, ...).
///
/// The core owns the rotation protocol: labels, tokens, preconditions, idempotence, which
/// credential to try and when, and which secret value an error is about. A target only
/// parses credentials and talks to its system. Methods return `impl Future + Send` so that
/// the handler can run on a multi-threaded runtime; write them as `async fn` in the `impl`.
///
/// A minimal target (a fixed in-memory "server") looks like this:
///
/// ```
/// use std::sync::Mutex;
/// use secrecy::{ExposeSecret, SecretString};
/// use secret_rotor::{
///     Capabilities, Credential, Error, Login, Result, SecretValue, Strategy, Target, TargetInfo,
/// };
///
/// struct Cred { user: String, password: SecretString }
/// impl Credential for Cred {
///     fn username(&self) -> &str { &self.user }
///     fn server(&self) -> String { "memory".into() }
/// }
///
/// struct Memory { password: Mutex<String> }
/// impl Target for Memory {
///     type Credential = Cred;
///     fn info(&self) -> TargetInfo {
///         TargetInfo::new("memory", Capabilities::new(&[Strategy::SingleUser]))
///     }
///     fn parse_credential(&self, secret: &SecretValue) -> Result<Cred> {
///         let user = secret.username().ok_or_else(|| Error::invalid_secret("no username"))?;
///         let password = secret.password().ok_or_else(|| Error::invalid_secret("no password"))?;
///         Ok(Cred { user: user.into(), password: password.clone() })
///     }
///     async fn try_login(&self, c: &Cred) -> Result<Login> {
///         Ok(if *self.password.lock().unwrap() == c.password.expose_secret() { Login::Accepted }
///            else { Login::Refused { reason: "bad password".into() } })
///     }
///     async fn set_password(&self, login_as: &Cred, pending: &Cred) -> Result<Login> {
///         let login = self.try_login(login_as).await?;
///         if login.is_accepted() {
///             *self.password.lock().unwrap() = pending.password.expose_secret().to_owned();
///         }
///         Ok(login)
///     }
///     // `verify` (testSecret) defaults to `try_login`.
/// }
/// ```
pub trait Target: Send + Sync {
    /// The parsed form of a secret value.
    type Credential: Credential;

    /// The target's name, capabilities and defaults.
    fn info(&self) -> TargetInfo;

    /// Parses and validates a secret value (required keys, engine, ports...). Errors are
    /// [`Error::invalid_secret`] and must not quote the password; the core adds which
    /// version it was.
    fn parse_credential(&self, secret: &SecretValue) -> Result<Self::Credential>;

    /// Tries to log in with `credential`: `Refused` when the server says no, an error when
    /// it cannot be asked (unreachable, TLS failure).
    fn try_login(
        &self,
        credential: &Self::Credential,
    ) -> impl Future<Output = Result<Login>> + Send;

    /// Logs in as `login_as` and sets the password of `pending`'s user to `pending`'s
    /// password. `Refused` (and no change) when `login_as` cannot log in.
    fn set_password(
        &self,
        login_as: &Self::Credential,
        pending: &Self::Credential,
    ) -> impl Future<Output = Result<Login>> + Send;

    /// testSecret: logs in with `pending` and proves it can work. `Refused` when the login
    /// is refused. Defaults to [`Target::try_login`]; override it to run a query or check
    /// permissions.
    fn verify(&self, pending: &Self::Credential) -> impl Future<Output = Result<Login>> + Send {
        self.try_login(pending)
    }

    /// createSecret: the value to store as the pending version. The default stores
    /// [`PendingRequest::proposed`] (a new password from the policy). A target whose API
    /// issues the credential (an API key, a token) overrides it: it first revokes what an
    /// earlier attempt of this rotation issued and never stored (the core writes the
    /// version after this returns: a crash in between leaves a live credential nobody
    /// holds), then issues, and returns `proposed` with the issued fields. What it returns
    /// is stored once, under the rotation's token, and never recomputed.
    fn pending_value(
        &self,
        request: PendingRequest<'_, Self::Credential>,
    ) -> impl Future<Output = Result<SecretValue>> + Send {
        let value = request.proposed;
        async move { Ok(value) }
    }

    /// After finishSecret moved `AWSCURRENT` (only for targets declaring
    /// [`Capabilities::retiring`]): revoke what fell out of `AWSPREVIOUS`, never
    /// `AWSCURRENT`'s or `AWSPREVIOUS`'s credential. Applications may still hold
    /// `AWSPREVIOUS` during the grace period, so a credential is revoked two generations
    /// after it was current. A failure fails finishSecret (`AWSCURRENT` has moved: the
    /// application is not affected); its retry finds the version already current and calls
    /// `retire` again, with [`RetireRequest::retired`] `None`: sweep what neither
    /// `AWSCURRENT` nor `AWSPREVIOUS` holds. It must be idempotent.
    fn retire(
        &self,
        request: RetireRequest<'_, Self::Credential>,
    ) -> impl Future<Output = Result<RetireReport>> + Send {
        let _ = request;
        async { Ok(RetireReport::default()) }
    }

    /// The other user of `current`'s alternating pair: `<user>_clone` for `<user>` and
    /// back. Targets with a user-name length limit override this to refuse, at
    /// createSecret and before anything is written, a name that would not fit.
    fn alternate_username(&self, current: &Self::Credential) -> Result<String> {
        Ok(alternate_of(current.username()))
    }

    /// Alternating users, setSecret: logged in as `master`, make `pending`'s user exist
    /// with `pending`'s password and at least what `current`'s user holds (creating it if
    /// missing), every rotation. Never grant anything to `current`'s user (it is live), and
    /// never take over an existing user that a rotation did not make
    /// ([`Error::UnrelatedAlternateUser`], see [`AlternateContext::pair_established`]).
    /// When the pending user would hold less than the current one and the context's parity
    /// is [`Parity::Enforce`], or more (stronger attributes), fail with
    /// [`Error::PrivilegeMismatch`] and change nothing.
    /// Should be atomic (one transaction) so that a crash leaves either nothing or all of
    /// it: the core treats "pending logs in" as "done".
    ///
    /// Only targets that declare [`Strategy::AlternatingUsers`] implement it.
    fn sync_alternate(
        &self,
        master: &Self::Credential,
        current: &Self::Credential,
        pending: &Self::Credential,
        context: AlternateContext,
    ) -> impl Future<Output = Result<AlternateReport>> + Send {
        let _ = (master, current, pending, context);
        let error = Error::unsupported_strategy(&self.info(), Strategy::AlternatingUsers);
        async move { Err(error) }
    }

    /// `check`: the TLS certificate the server of `credential` presents, verified as a
    /// login verifies it, without logging in or changing anything. `Ok(None)` when the
    /// credential does not use TLS, or the target cannot tell (the default).
    fn certificate(
        &self,
        credential: &Self::Credential,
    ) -> impl Future<Output = Result<Option<CertificateInfo>>> + Send {
        let _ = credential;
        async { Ok(None) }
    }

    /// `check` and `rotate --dry-run`, alternating users: what
    /// [`Target::sync_alternate`] would do now for `pending_user`, logged in as `master`,
    /// **changing nothing** — the report it would return, or the error it would fail
    /// with ([`Error::PrivilegeMismatch`], [`Error::UnrelatedAlternateUser`]).
    /// `Ok(None)` when the target cannot tell (the default).
    fn preview_alternate(
        &self,
        master: &Self::Credential,
        current: &Self::Credential,
        pending_user: &str,
        context: AlternateContext,
    ) -> impl Future<Output = Result<Option<AlternateReport>>> + Send {
        let _ = (master, current, pending_user, context);
        async { Ok(None) }
    }
}

/// A shared target is a target: fixtures, the CLI and tests can hold one in an [`Arc`]
/// without requiring `Clone` (as tower forwards `Service` for `Box<S>`).
impl<T: Target> Target for Arc<T> {
    type Credential = T::Credential;

    fn info(&self) -> TargetInfo {
        (**self).info()
    }

    fn parse_credential(&self, secret: &SecretValue) -> Result<Self::Credential> {
        (**self).parse_credential(secret)
    }

    fn try_login(
        &self,
        credential: &Self::Credential,
    ) -> impl Future<Output = Result<Login>> + Send {
        (**self).try_login(credential)
    }

    fn set_password(
        &self,
        login_as: &Self::Credential,
        pending: &Self::Credential,
    ) -> impl Future<Output = Result<Login>> + Send {
        (**self).set_password(login_as, pending)
    }

    fn verify(&self, pending: &Self::Credential) -> impl Future<Output = Result<Login>> + Send {
        (**self).verify(pending)
    }

    fn alternate_username(&self, current: &Self::Credential) -> Result<String> {
        (**self).alternate_username(current)
    }

    fn pending_value(
        &self,
        request: PendingRequest<'_, Self::Credential>,
    ) -> impl Future<Output = Result<SecretValue>> + Send {
        (**self).pending_value(request)
    }

    fn retire(
        &self,
        request: RetireRequest<'_, Self::Credential>,
    ) -> impl Future<Output = Result<RetireReport>> + Send {
        (**self).retire(request)
    }

    fn sync_alternate(
        &self,
        master: &Self::Credential,
        current: &Self::Credential,
        pending: &Self::Credential,
        context: AlternateContext,
    ) -> impl Future<Output = Result<AlternateReport>> + Send {
        (**self).sync_alternate(master, current, pending, context)
    }
    fn certificate(
        &self,
        credential: &Self::Credential,
    ) -> impl Future<Output = Result<Option<CertificateInfo>>> + Send {
        (**self).certificate(credential)
    }

    fn preview_alternate(
        &self,
        master: &Self::Credential,
        current: &Self::Credential,
        pending_user: &str,
        context: AlternateContext,
    ) -> impl Future<Output = Result<Option<AlternateReport>>> + Send {
        (**self).preview_alternate(master, current, pending_user, context)
    }
}
