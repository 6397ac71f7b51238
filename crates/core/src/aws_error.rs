//! What an AWS SDK error says, the same way for every AWS service secret-rotor calls.

use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};

use crate::error::BoxError;

/// The parts of an SDK error that end up in an [`crate::Error`].
pub(crate) struct ApiError {
    /// The service's error code, e.g. `ThrottlingException`.
    pub(crate) code: Option<String>,
    /// Whether a retry may succeed (throttling, timeouts, 5xx, network).
    pub(crate) retryable: bool,
    /// The SDK's error itself, kept as the source.
    pub(crate) source: BoxError,
}

impl ApiError {
    /// Reads an error of any AWS SDK crate (they share `SdkError`).
    pub(crate) fn from_sdk<E, R>(err: SdkError<E, R>) -> ApiError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let code = err.code().map(str::to_owned);
        let retryable = match &err {
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
        ApiError {
            code,
            retryable,
            source: Box::new(err),
        }
    }
}
