//! What an AWS SDK error says, the same way for every AWS service secret-rotor calls.

use std::fmt;

use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};

use crate::error::{BoxError, DisplayChain};

/// The parts of an SDK error that end up in an [`crate::Error`].
pub(crate) struct ApiError {
    /// The service's error code, e.g. `ThrottlingException`.
    pub(crate) code: Option<String>,
    /// Whether a retry may succeed (throttling, timeouts, 5xx, network).
    pub(crate) retryable: bool,
    /// The SDK's error, under a [`SdkFailure`] that says what it means.
    pub(crate) source: BoxError,
}

/// What an SDK error means, in words a person can act on (its `Display`: "no AWS
/// credentials found: …", "cannot reach the endpoint: connection refused",
/// "AccessDeniedException: …"); the SDK's error is its source.
#[derive(Debug)]
pub(crate) struct SdkFailure {
    summary: String,
    source: BoxError,
}

impl fmt::Display for SdkFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary)
    }
}

impl std::error::Error for SdkFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.source.as_ref())
    }
}

/// The innermost cause's words, without the SDK's layers.
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut last = error;
    while let Some(next) = last.source() {
        last = next;
    }
    let text = last.to_string();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text,
    }
}

/// The summary of an SDK error.
fn summarize<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    let chain = DisplayChain::of(err).to_string();
    match err {
        SdkError::ServiceError(_) => match (err.code(), err.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_owned(),
            _ => innermost(err),
        },
        _ if chain.to_lowercase().contains("missing region") => {
            "no AWS region: set AWS_REGION (or pass --region)".to_owned()
        }
        SdkError::TimeoutError(_) => "no answer in time".to_owned(),
        SdkError::DispatchFailure(_) if chain.contains("credential") => {
            "no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and \
             AWS_SECRET_ACCESS_KEY (or run `aws sso login`)"
                .to_owned()
        }
        SdkError::DispatchFailure(d) if d.is_timeout() => {
            "the endpoint did not answer in time".to_owned()
        }
        SdkError::DispatchFailure(d) if d.is_io() => {
            format!("cannot reach the endpoint: {}", innermost(err))
        }
        SdkError::ResponseError(_) => format!(
            "the endpoint's answer could not be read (is it the service's endpoint?): {}",
            innermost(err)
        ),
        _ => innermost(err),
    }
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
        let summary = summarize(&err);
        ApiError {
            code,
            retryable,
            source: Box::new(SdkFailure {
                summary,
                source: Box::new(err),
            }),
        }
    }
}
