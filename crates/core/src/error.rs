//! One error type for the whole rotation, with stable codes.
//!
//! Every failure of a rotation step is an [`Error`]. Its [`Error::code`] is a stable,
//! documented string (the Lambda `errorType`, a log field, a runbook key); its message says
//! what went wrong and what to check, and never contains a password. Errors that wrap a
//! driver's or an SDK's error keep it as their [`source`](std::error::Error::source);
//! [`Error::display_chain`] shows the whole chain on one line where a person reads it (the
//! Lambda `errorMessage`, the log line, the CLI).

use std::fmt;

use crate::target::{Strategy, TargetInfo};

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A boxed error from a driver or SDK, kept as the `source` of an [`Error`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Which secret value an error is about. The core knows which value it parsed or tried, and
/// says so; targets never spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretVersion {
    /// The version labelled `AWSCURRENT`.
    Current,
    /// The version labelled `AWSPENDING` (the invocation's token).
    Pending,
    /// The version labelled `AWSPREVIOUS`.
    Previous,
    /// The master secret of alternating users (`masterarn`).
    Master,
    /// A value about to be stored.
    New,
}

impl SecretVersion {
    /// How messages name it: `AWSCURRENT`, `AWSPENDING`, `AWSPREVIOUS`, `the master
    /// secret`, `the new version`.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretVersion::Current => "AWSCURRENT",
            SecretVersion::Pending => "AWSPENDING",
            SecretVersion::Previous => "AWSPREVIOUS",
            SecretVersion::Master => "the master secret",
            SecretVersion::New => "the new version",
        }
    }
}

impl fmt::Display for SecretVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `" in AWSPENDING"`, or nothing when the version is not known (yet).
fn in_version(version: &Option<SecretVersion>) -> String {
    version.map(|v| format!(" in {v}")).unwrap_or_default()
}

/// `"a, b"`.
fn strategy_list(strategies: &[Strategy]) -> String {
    strategies
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Everything that can make a rotation step fail.
///
/// The variants are backend-agnostic; targets map their driver errors onto
/// [`Error::Unreachable`], [`Error::Tls`], [`Error::LoginRefused`] and [`Error::Target`],
/// keeping the driver's error as the `source`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The invocation event is malformed (missing field, unknown step, wrong type).
    #[error("invalid rotation event: {reason}")]
    InvalidEvent {
        /// What is wrong with the event.
        reason: String,
    },

    /// The function's configuration (environment variables) is invalid.
    #[error("invalid configuration: {reason}")]
    Config {
        /// What is wrong, naming the variable.
        reason: String,
    },

    /// A secret value is not usable (not JSON, missing keys, wrong engine, too big).
    #[error("invalid secret value{}: {reason}", in_version(.version))]
    InvalidSecret {
        /// Which value; filled in by the core ([`Error::in_version`]).
        version: Option<SecretVersion>,
        /// What is wrong with it (never its content).
        reason: String,
    },

    /// The secret's `RotationEnabled` is false.
    #[error("rotation is not enabled for secret {secret_id}")]
    RotationDisabled {
        /// The secret.
        secret_id: String,
    },

    /// The request token is not a version of the secret.
    #[error("secret version {token} does not exist for secret {secret_id}")]
    TokenNotAVersion {
        /// The secret.
        secret_id: String,
        /// The invocation's `ClientRequestToken`.
        token: String,
    },

    /// The request token's version is not labelled `AWSPENDING` (and no other version is).
    #[error("secret version {token} is not set as AWSPENDING for rotation of secret {secret_id}")]
    TokenNotPending {
        /// The secret.
        secret_id: String,
        /// The invocation's `ClientRequestToken`.
        token: String,
    },

    /// `AWSPENDING` belongs to another version than the invocation's token: another
    /// rotation is in progress, and this invocation must not touch it.
    #[error(
        "AWSPENDING of secret {secret_id} is on version {pending_version}, not on this \
         invocation's token {token}: another rotation is in progress (finish or cancel it first)"
    )]
    ForeignPending {
        /// The secret.
        secret_id: String,
        /// The invocation's `ClientRequestToken`.
        token: String,
        /// The version that holds `AWSPENDING`.
        pending_version: String,
    },

    /// A version the step needs has no value (e.g. `AWSPENDING` before createSecret ran).
    #[error("secret {secret_id} has no value for {version}")]
    MissingValue {
        /// The secret.
        secret_id: String,
        /// The version or stage that has no value (e.g. `AWSPENDING (version 1234)`).
        version: String,
    },

    /// A Secrets Manager API call failed.
    #[error("Secrets Manager {operation} failed")]
    SecretsManager {
        /// The API operation, e.g. `PutSecretValue`.
        operation: &'static str,
        /// The service's error code when it gave one, e.g. `ThrottlingException`.
        service_code: Option<String>,
        /// Whether a retry may succeed (throttling, timeouts, 5xx).
        retryable: bool,
        /// The SDK's error.
        #[source]
        source: BoxError,
    },

    /// An RDS API call failed, or answered something unusable (locating the database of an
    /// RDS-managed master secret).
    #[error("RDS {operation} failed{}", .reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    Rds {
        /// The API operation, e.g. `DescribeDBInstances`.
        operation: &'static str,
        /// What was wrong with the answer, when the call itself succeeded.
        reason: Option<String>,
        /// Whether a retry may succeed.
        retryable: bool,
        /// The SDK's error, when the call failed.
        #[source]
        source: Option<BoxError>,
    },

    /// The configured rotation strategy is not one the target supports.
    #[error(
        "target {target} does not support the {strategy} strategy (it supports: {})",
        strategy_list(.supported)
    )]
    UnsupportedStrategy {
        /// The target's name.
        target: &'static str,
        /// The strategy that was asked for.
        strategy: Strategy,
        /// The strategies the target declares.
        supported: &'static [Strategy],
    },

    /// The pending and current credentials do not describe the same account and server
    /// (the confused-deputy guard of setSecret).
    #[error("pending and current credentials do not match: {reason}")]
    CredentialMismatch {
        /// Which field differs (names, never passwords).
        reason: String,
    },

    /// The target could not be reached (DNS, TCP, timeout).
    #[error("cannot reach {target}: {reason}")]
    Unreachable {
        /// Where (host:port or URL).
        target: String,
        /// Why, in words.
        reason: String,
        /// The driver's error, when there is one.
        #[source]
        source: Option<BoxError>,
    },

    /// TLS could not be established or the server's certificate was refused.
    #[error("TLS with {target} failed: {reason}")]
    Tls {
        /// Where (host:port or URL).
        target: String,
        /// Why, in words (e.g. unknown issuer, name mismatch, server does not offer TLS).
        reason: String,
        /// The driver's error, when there is one.
        #[source]
        source: Option<BoxError>,
    },

    /// The target refused a credential that had to work.
    #[error("{target} refused the {credential} credential: {reason}")]
    LoginRefused {
        /// Where (host:port or URL).
        target: String,
        /// Which credential.
        credential: SecretVersion,
        /// The server's reason.
        reason: String,
    },

    /// setSecret could log in with none of the pending, current or previous credentials.
    #[error("unable to log in with previous, current or pending credentials of secret {secret_id}")]
    NoWorkingCredential {
        /// The secret.
        secret_id: String,
    },

    /// finishSecret refused to promote a pending credential that does not log in.
    #[error(
        "refusing to promote version {token} of secret {secret_id} to AWSCURRENT: its \
         credential does not log in (run setSecret first)"
    )]
    PendingNotLive {
        /// The secret.
        secret_id: String,
        /// The pending version.
        token: String,
    },

    /// Alternating users: the master secret is one of the pair (the same user as
    /// `AWSCURRENT` or `AWSPENDING`, or the rotated secret itself). Rotating would change
    /// the master's own password as the master and lock it out.
    #[error("unsafe master secret: {reason}")]
    MasterIsRotatedUser {
        /// Which check failed (names, never passwords).
        reason: String,
    },

    /// Alternating users: the other user of the pair already exists but was not made by a
    /// rotation (it is not a member of the user), so it is not taken over.
    #[error(
        "the alternate user {user:?} already exists on {target} and is not the user's clone \
         ({reason}): not taking it over"
    )]
    UnrelatedAlternateUser {
        /// Where.
        target: String,
        /// The existing user.
        user: String,
        /// What marks it as unrelated.
        reason: String,
    },

    /// Alternating users: the pending user would hold less than the current user (or
    /// more: stronger attributes), and the master could not bring it in line. Nothing was
    /// changed; `AWSCURRENT` keeps working.
    #[error(
        "the pending user {user:?} on {target} does not match the current user: {}",
        .differences.join("; ")
    )]
    PrivilegeMismatch {
        /// Where.
        target: String,
        /// The pending user.
        user: String,
        /// Each difference, with why it could not be fixed.
        differences: Vec<String>,
    },

    /// The server accepted the new password but refused a fresh login with it; the old
    /// password was put back, so nothing changed.
    #[error(
        "{target} accepted the new password of {user:?} but refused a login with it; the \
         previous password was restored ({reason})"
    )]
    PasswordNotTaken {
        /// Where.
        target: String,
        /// The user.
        user: String,
        /// The server's answer to the login.
        reason: String,
    },

    /// The server is a version or kind the target cannot rotate safely.
    #[error("{target} is not supported: {reason}")]
    UnsupportedServer {
        /// Where.
        target: String,
        /// Why (e.g. its version).
        reason: String,
    },

    /// The target failed while doing its work (a statement, an API response, ...).
    #[error("{target} failed: {reason}")]
    Target {
        /// Which target (host:port or URL).
        target: String,
        /// What failed, in words.
        reason: String,
        /// Whether a retry may succeed.
        retryable: bool,
        /// The driver's error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
}

impl Error {
    /// The stable code of this error: the Lambda `errorType`, the `code` log field.
    ///
    /// Codes never change meaning; new ones may be added.
    ///
    /// ```
    /// let e = secret_rotor::Error::RotationDisabled { secret_id: "s".into() };
    /// assert_eq!(e.code(), "RotationDisabled");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidEvent { .. } => "InvalidEvent",
            Error::Config { .. } => "ConfigError",
            Error::InvalidSecret { .. } => "InvalidSecret",
            Error::RotationDisabled { .. } => "RotationDisabled",
            Error::TokenNotAVersion { .. } => "TokenNotAVersion",
            Error::TokenNotPending { .. } => "TokenNotPending",
            Error::ForeignPending { .. } => "ForeignPending",
            Error::MissingValue { .. } => "MissingValue",
            Error::SecretsManager { .. } => "SecretsManagerError",
            Error::Rds { .. } => "RdsError",
            Error::UnsupportedStrategy { .. } => "UnsupportedStrategy",
            Error::CredentialMismatch { .. } => "CredentialMismatch",
            Error::Unreachable { .. } => "TargetUnreachable",
            Error::Tls { .. } => "TlsError",
            Error::LoginRefused { .. } => "LoginRefused",
            Error::NoWorkingCredential { .. } => "NoWorkingCredential",
            Error::PendingNotLive { .. } => "PendingNotLive",
            Error::MasterIsRotatedUser { .. } => "MasterIsRotatedUser",
            Error::UnrelatedAlternateUser { .. } => "UnrelatedAlternateUser",
            Error::PrivilegeMismatch { .. } => "PrivilegeMismatch",
            Error::PasswordNotTaken { .. } => "PasswordNotTaken",
            Error::UnsupportedServer { .. } => "UnsupportedServer",
            Error::Target { .. } => "TargetError",
        }
    }

    /// Whether retrying the same step later may succeed without anyone changing anything
    /// (throttling, network trouble); `false` means a person must look.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::SecretsManager { retryable, .. }
            | Error::Rds { retryable, .. }
            | Error::Target { retryable, .. } => *retryable,
            Error::Unreachable { .. } => true,
            _ => false,
        }
    }

    /// The message with every cause, on one line (`a: b: c`): what the Lambda's
    /// `errorMessage`, the log line and the CLI show.
    ///
    /// ```
    /// let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
    /// let e = secret_rotor::Error::Unreachable {
    ///     target: "db:5432".into(),
    ///     reason: "cannot connect".into(),
    ///     source: Some(Box::new(io)),
    /// };
    /// assert_eq!(e.to_string(), "cannot reach db:5432: cannot connect");
    /// assert_eq!(
    ///     e.display_chain().to_string(),
    ///     "cannot reach db:5432: cannot connect: connection refused"
    /// );
    /// ```
    pub fn display_chain(&self) -> DisplayChain<'_> {
        DisplayChain(self)
    }

    /// The message and its first cause (`a: b`): one line for a person (the CLI shows it
    /// unless asked for more); [`Error::display_chain`] has every cause.
    ///
    /// ```
    /// let io = std::io::Error::other(std::io::Error::other("os detail"));
    /// let e = secret_rotor::Error::Unreachable {
    ///     target: "db:5432".into(),
    ///     reason: "cannot connect".into(),
    ///     source: Some(Box::new(io)),
    /// };
    /// assert_eq!(e.headline(), "cannot reach db:5432: cannot connect: os detail");
    /// ```
    pub fn headline(&self) -> String {
        let message = self.to_string();
        match std::error::Error::source(self).map(ToString::to_string) {
            Some(cause) if !cause.is_empty() && !message.contains(&cause) => {
                format!("{message}: {cause}")
            }
            _ => message,
        }
    }

    /// Says which secret value an [`Error::InvalidSecret`] is about, unless it already
    /// says; other errors pass through unchanged. The core calls it on what a target's
    /// [`parse_credential`](crate::Target::parse_credential) returns.
    pub fn in_version(self, version: SecretVersion) -> Self {
        match self {
            Error::InvalidSecret {
                version: None,
                reason,
            } => Error::InvalidSecret {
                version: Some(version),
                reason,
            },
            other => other,
        }
    }

    /// Shorthand for [`Error::Config`].
    pub fn config(reason: impl fmt::Display) -> Self {
        Error::Config {
            reason: reason.to_string(),
        }
    }

    /// Shorthand for [`Error::InvalidSecret`] about a value the caller does not name (the
    /// core adds which one).
    pub fn invalid_secret(reason: impl fmt::Display) -> Self {
        Error::InvalidSecret {
            version: None,
            reason: reason.to_string(),
        }
    }

    /// [`Error::UnsupportedStrategy`] for `strategy`, listing what `target` supports.
    pub fn unsupported_strategy(target: &TargetInfo, strategy: Strategy) -> Self {
        Error::UnsupportedStrategy {
            target: target.name,
            strategy,
            supported: target.capabilities.strategies(),
        }
    }

    /// The service's error code of a [`Error::SecretsManager`] error.
    pub fn service_code(&self) -> Option<&str> {
        match self {
            Error::SecretsManager { service_code, .. } => service_code.as_deref(),
            _ => None,
        }
    }
}

/// An error with its causes on one line, see [`Error::display_chain`].
///
/// A cause whose text the line already holds (drivers often repeat their source in their
/// own message) is not repeated.
pub struct DisplayChain<'a>(&'a (dyn std::error::Error + 'static));

impl<'a> DisplayChain<'a> {
    /// The chain of any error.
    pub fn of(error: &'a (dyn std::error::Error + 'static)) -> Self {
        DisplayChain(error)
    }
}

impl fmt::Display for DisplayChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.0.to_string();
        f.write_str(&shown)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            if !text.is_empty() && !shown.contains(&text) {
                write!(f, ": {text}")?;
                shown.push_str(&text);
            }
            source = cause.source();
        }
        Ok(())
    }
}

impl fmt::Debug for DisplayChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(feature = "lambda")]
impl From<Error> for lambda_runtime::Diagnostic {
    fn from(error: Error) -> Self {
        lambda_runtime::Diagnostic {
            error_type: error.code().to_owned(),
            error_message: error.display_chain().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(text: &str) -> BoxError {
        Box::new(std::io::Error::other(text.to_owned()))
    }

    #[test]
    fn codes_are_distinct() {
        let errors = [
            Error::InvalidEvent { reason: "".into() },
            Error::config(""),
            Error::invalid_secret(""),
            Error::RotationDisabled {
                secret_id: "".into(),
            },
            Error::TokenNotAVersion {
                secret_id: "".into(),
                token: "".into(),
            },
            Error::TokenNotPending {
                secret_id: "".into(),
                token: "".into(),
            },
            Error::ForeignPending {
                secret_id: "".into(),
                token: "".into(),
                pending_version: "".into(),
            },
            Error::MissingValue {
                secret_id: "".into(),
                version: "".into(),
            },
            Error::SecretsManager {
                operation: "",
                service_code: None,
                retryable: true,
                source: io(""),
            },
            Error::Rds {
                operation: "",
                reason: None,
                retryable: false,
                source: None,
            },
            Error::UnsupportedStrategy {
                target: "",
                strategy: Strategy::AlternatingUsers,
                supported: &[],
            },
            Error::CredentialMismatch { reason: "".into() },
            Error::Unreachable {
                target: "".into(),
                reason: "".into(),
                source: None,
            },
            Error::Tls {
                target: "".into(),
                reason: "".into(),
                source: None,
            },
            Error::LoginRefused {
                target: "".into(),
                credential: SecretVersion::Pending,
                reason: "".into(),
            },
            Error::NoWorkingCredential {
                secret_id: "".into(),
            },
            Error::PendingNotLive {
                secret_id: "".into(),
                token: "".into(),
            },
            Error::MasterIsRotatedUser { reason: "".into() },
            Error::UnrelatedAlternateUser {
                target: "".into(),
                user: "".into(),
                reason: "".into(),
            },
            Error::PrivilegeMismatch {
                target: "".into(),
                user: "".into(),
                differences: vec![],
            },
            Error::PasswordNotTaken {
                target: "".into(),
                user: "".into(),
                reason: "".into(),
            },
            Error::UnsupportedServer {
                target: "".into(),
                reason: "".into(),
            },
            Error::Target {
                target: "".into(),
                reason: "".into(),
                retryable: false,
                source: None,
            },
        ];
        let mut codes: Vec<_> = errors.iter().map(Error::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), errors.len());
    }

    #[test]
    fn the_chain_is_shown_once_without_repeats() {
        #[derive(Debug, thiserror::Error)]
        #[error("driver: {0}")]
        struct Repeats(#[source] std::io::Error);
        let e = Error::Target {
            target: "db:5432".into(),
            reason: "statement failed".into(),
            retryable: false,
            source: Some(Box::new(Repeats(std::io::Error::other(
                "permission denied",
            )))),
        };
        assert_eq!(e.to_string(), "db:5432 failed: statement failed");
        assert_eq!(
            e.display_chain().to_string(),
            "db:5432 failed: statement failed: driver: permission denied"
        );
    }

    #[test]
    fn the_core_names_the_version() {
        let e = Error::invalid_secret("missing \"host\"");
        assert_eq!(e.to_string(), "invalid secret value: missing \"host\"");
        let e = e.in_version(SecretVersion::Pending);
        assert_eq!(
            e.to_string(),
            "invalid secret value in AWSPENDING: missing \"host\""
        );
        let e = e.in_version(SecretVersion::Master);
        assert!(
            e.to_string().contains("AWSPENDING"),
            "the first context stays"
        );
        let typed = Error::UnsupportedStrategy {
            target: "x",
            strategy: Strategy::AlternatingUsers,
            supported: &[Strategy::SingleUser],
        };
        assert_eq!(
            typed.to_string(),
            "target x does not support the alternating-users strategy (it supports: single-user)"
        );
    }

    #[cfg(feature = "lambda")]
    #[test]
    fn diagnostic_carries_the_code_and_the_chain() {
        let d: lambda_runtime::Diagnostic = Error::RotationDisabled {
            secret_id: "db".into(),
        }
        .into();
        assert_eq!(d.error_type, "RotationDisabled");
        assert!(d.error_message.contains("db"));
        let d: lambda_runtime::Diagnostic = Error::SecretsManager {
            operation: "DescribeSecret",
            service_code: None,
            retryable: true,
            source: io("connection refused"),
        }
        .into();
        assert_eq!(
            d.error_message,
            "Secrets Manager DescribeSecret failed: connection refused"
        );
    }
}
