//! The Lambda entry point: a target's `main` is a few lines.
//!
//! ```no_run
//! use secret_rotor::{Result, Target};
//!
//! async fn serve<T: Target>(target: Result<T>) -> Result<(), secret_rotor::lambda::LambdaError> {
//!     secret_rotor::lambda::run(target).await
//! }
//! ```

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;
use tracing::error;

use crate::config::RotationConfig;
use crate::error::Result;
use crate::logging::{self, LogFormat};
use crate::rotator::Rotator;
use crate::store::{AwsSecretStore, CachedStore};
use crate::target::Target;

/// The error `main` returns when the runtime itself fails.
pub use lambda_runtime::Error as LambdaError;

/// Runs the rotation function for `target` until the Lambda runtime stops it.
///
/// Sets up JSON logging, builds the Secrets Manager client once (honouring
/// `SECRETS_MANAGER_ENDPOINT` and the SDK's endpoint variables) and, with the `rds`
/// feature, the RDS client that locates RDS-managed master secrets, reads the configuration
/// from the environment and serves invocations. A target or configuration that failed to
/// build does not crash the function: every invocation then fails with that error's code
/// (e.g. `ConfigError`) and a message naming the variable, and nothing is changed.
pub async fn run<T: Target>(target: Result<T>) -> Result<(), LambdaError> {
    logging::init(LogFormat::from_lambda_env());
    let sdk_config = crate::store::load_sdk_config(None).await;
    // Values by version id serve the next steps of a rotation in a warm process.
    let store = CachedStore::new(AwsSecretStore::from_sdk_config(&sdk_config, None));
    let rotator = target
        .and_then(|target| {
            let config = RotationConfig::from_env(&target)?;
            let rotator = Rotator::new(target, store, config)?;
            #[cfg(feature = "rds")]
            let rotator = rotator.with_rds(crate::rds::RdsLocator::from_sdk_config(&sdk_config));
            Ok(rotator)
        })
        .map_err(|e| {
            error!(code = e.code(), error = %e.display_chain(), "the rotation function is misconfigured");
            Diagnostic::from(e)
        });
    let rotator = &rotator;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let rotator = rotator.as_ref().map_err(Clone::clone)?;
        let report = rotator.handle_json(&event.payload).await?;
        Ok::<Value, Diagnostic>(serde_json::to_value(report).unwrap_or(Value::Null))
    }))
    .await
}
