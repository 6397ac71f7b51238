//! What an AWS SDK error says, the same way for every AWS service secret-rotor calls.

use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// The parts of an SDK error that end up in an [`crate::Error`].
pub(crate) struct ApiError {
    /// The service's error code, e.g. `ThrottlingException`.
    pub(crate) code: Option<String>,
    /// One readable line: what the service said, or the whole chain for transport errors.
    pub(crate) message: String,
    /// Whether a retry may succeed (throttling, timeouts, 5xx, network).
    pub(crate) retryable: bool,
}

impl ApiError {
    /// Reads an error of any AWS SDK crate (they share `SdkError`).
    pub(crate) fn from_sdk<E, R>(err: &SdkError<E, R>) -> ApiError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        let code = err.code().map(str::to_owned);
        let retryable = match err {
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => true,
            SdkError::ServiceError(_) => matches!(
                code.as_deref(),
                Some(
                    "ThrottlingException"
                        | "Throttling"
                        | "InternalServiceError"
                        | "InternalFailure"
                        | "ServiceUnavailable"
                )
            ),
            _ => false,
        };
        // A service error says what the service said; anything else (timeouts, DNS, TLS)
        // needs the whole chain to be understood.
        let message = match (err, err.code(), err.message()) {
            (SdkError::ServiceError(_), Some(code), Some(text)) => format!("{code}: {text}"),
            (SdkError::ServiceError(_), Some(code), None) => code.to_owned(),
            _ => DisplayErrorContext(err).to_string(),
        };
        ApiError {
            code,
            message,
            retryable,
        }
    }
}
