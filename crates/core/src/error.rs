//! One error type for the whole rotation, with stable codes.
//!
//! Every failure of a rotation step is an [`Error`]. Its [`Error::code`] is a stable,
//! documented string (the Lambda `errorType`, a log field, a runbook key); its message says
//! what went wrong and what to check, and never contains a password.

use std::fmt;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A boxed error from a driver or SDK, kept as the `source` of an [`Error`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can make a rotation step fail.
///
/// The variants are backend-agnostic; targets map their driver errors onto
/// [`Error::Unreachable`], [`Error::Tls`], [`Error::LoginRefused`] and [`Error::Target`].
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

    /// A secret version's value is not usable (not JSON, missing keys, wrong engine, too big).
    #[error("invalid secret value in {version}: {reason}")]
    InvalidSecret {
        /// Which version (e.g. `AWSCURRENT`, `AWSPENDING`, a master secret).
        version: String,
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
        /// The version or stage that has no value.
        version: String,
    },

    /// A Secrets Manager API call failed.
    #[error("Secrets Manager {operation} failed: {message}")]
    SecretsManager {
        /// The API operation, e.g. `PutSecretValue`.
        operation: &'static str,
        /// The service's error code when it gave one, e.g. `ThrottlingException`.
        service_code: Option<String>,
        /// The full error message.
        message: String,
        /// Whether a retry may succeed (throttling, timeouts, 5xx).
        retryable: bool,
    },

    /// An RDS API call failed (locating the instance of an RDS-managed master secret).
    #[error("RDS {operation} failed: {message}")]
    Rds {
        /// The API operation, e.g. `DescribeDBInstances`.
        operation: &'static str,
        /// The full error message.
        message: String,
        /// Whether a retry may succeed.
        retryable: bool,
    },

    /// The configured rotation strategy is not one the target supports.
    #[error("target {target} does not support the {strategy} strategy (it supports: {supported})")]
    UnsupportedStrategy {
        /// The target's name.
        target: &'static str,
        /// The strategy that was asked for.
        strategy: String,
        /// The strategies the target declares.
        supported: String,
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
        /// Why.
        reason: String,
    },

    /// TLS could not be established or the server's certificate was refused.
    #[error("TLS with {target} failed: {reason}")]
    Tls {
        /// Where (host:port or URL).
        target: String,
        /// Why (e.g. unknown issuer, name mismatch, server does not offer TLS).
        reason: String,
    },

    /// The target refused a credential that had to work.
    #[error("{target} refused the {credential} credential: {reason}")]
    LoginRefused {
        /// Where (host:port or URL).
        target: String,
        /// Which credential (`AWSPENDING`, master, ...).
        credential: String,
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

    /// The target failed while doing its work (a statement, an API response, ...).
    #[error("{target} failed: {reason}")]
    Target {
        /// Which target.
        target: String,
        /// What failed.
        reason: String,
        /// Whether a retry may succeed.
        retryable: bool,
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

    /// Shorthand for [`Error::Config`].
    pub fn config(reason: impl fmt::Display) -> Self {
        Error::Config {
            reason: reason.to_string(),
        }
    }

    /// Shorthand for [`Error::InvalidSecret`].
    pub fn invalid_secret(version: impl fmt::Display, reason: impl fmt::Display) -> Self {
        Error::InvalidSecret {
            version: version.to_string(),
            reason: reason.to_string(),
        }
    }
}

#[cfg(feature = "lambda")]
impl From<Error> for lambda_runtime::Diagnostic {
    fn from(error: Error) -> Self {
        lambda_runtime::Diagnostic {
            error_type: error.code().to_owned(),
            error_message: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct() {
        let errors = [
            Error::InvalidEvent { reason: "".into() },
            Error::config(""),
            Error::invalid_secret("", ""),
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
                message: "".into(),
                retryable: true,
            },
            Error::Rds {
                operation: "",
                message: "".into(),
                retryable: false,
            },
            Error::UnsupportedStrategy {
                target: "",
                strategy: "".into(),
                supported: "".into(),
            },
            Error::CredentialMismatch { reason: "".into() },
            Error::Unreachable {
                target: "".into(),
                reason: "".into(),
            },
            Error::Tls {
                target: "".into(),
                reason: "".into(),
            },
            Error::LoginRefused {
                target: "".into(),
                credential: "".into(),
                reason: "".into(),
            },
            Error::NoWorkingCredential {
                secret_id: "".into(),
            },
            Error::PendingNotLive {
                secret_id: "".into(),
                token: "".into(),
            },
            Error::Target {
                target: "".into(),
                reason: "".into(),
                retryable: false,
            },
        ];
        let mut codes: Vec<_> = errors.iter().map(Error::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), errors.len());
    }

    #[cfg(feature = "lambda")]
    #[test]
    fn diagnostic_carries_the_code() {
        let d: lambda_runtime::Diagnostic = Error::RotationDisabled {
            secret_id: "db".into(),
        }
        .into();
        assert_eq!(d.error_type, "RotationDisabled");
        assert!(d.error_message.contains("db"));
    }
}
