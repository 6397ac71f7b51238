//! [`SecretStore`] over aws-sdk-secretsmanager.

use std::collections::BTreeSet;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use secrecy::ExposeSecret;

use super::{SecretStore, Selector};
use crate::aws_error::ApiError;
use crate::error::{Error, Result};
use crate::event::{RotationToken, SecretId, VersionId};
use crate::secret::SecretValue;
use crate::stage::{SecretDescription, Stage};

/// The environment variable AWS's rotation templates use for a custom endpoint.
pub const SECRETS_MANAGER_ENDPOINT: &str = "SECRETS_MANAGER_ENDPOINT";

/// The real Secrets Manager (or anything that speaks its API, such as moto).
#[derive(Debug, Clone)]
pub struct AwsSecretStore {
    client: Client,
}

impl AwsSecretStore {
    /// Wraps a client you built.
    pub fn new(client: Client) -> Self {
        AwsSecretStore { client }
    }

    /// Builds a client from the standard AWS configuration chain (region, credentials,
    /// `AWS_ENDPOINT_URL_SECRETS_MANAGER`, `AWS_ENDPOINT_URL`), with `endpoint_url` or else
    /// `SECRETS_MANAGER_ENDPOINT` (AWS's templates' variable) taking precedence, and
    /// `region` overriding the chain's region.
    pub async fn from_env(endpoint_url: Option<&str>, region: Option<&str>) -> Self {
        AwsSecretStore::from_sdk_config(&load_sdk_config(region).await, endpoint_url)
    }

    /// Builds a client from a loaded configuration, with `endpoint_url` or else
    /// `SECRETS_MANAGER_ENDPOINT` taking precedence over the configuration's endpoint.
    pub fn from_sdk_config(shared: &aws_config::SdkConfig, endpoint_url: Option<&str>) -> Self {
        let mut config = aws_sdk_secretsmanager::config::Builder::from(shared);
        let from_env = std::env::var(SECRETS_MANAGER_ENDPOINT)
            .ok()
            .filter(|v| !v.trim().is_empty());
        if let Some(url) = endpoint_url.map(str::to_owned).or(from_env) {
            config = config.endpoint_url(url);
        }
        AwsSecretStore::new(Client::from_conf(config.build()))
    }

    /// The underlying client.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// Bounds on every AWS call, so that a step ends well inside the Lambda's timeout even
/// when an endpoint accepts and never answers: each attempt 4 s, the call with its
/// retries (the SDK's standard mode: 3 attempts, backoff on throttling and 5xx) 10 s.
pub const SDK_ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(4);
/// See [`SDK_ATTEMPT_TIMEOUT`].
pub const SDK_OPERATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Loads the standard AWS configuration chain, with `region` overriding the chain's and
/// the timeouts of [`SDK_ATTEMPT_TIMEOUT`] and [`SDK_OPERATION_TIMEOUT`].
pub async fn load_sdk_config(region: Option<&str>) -> aws_config::SdkConfig {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(3))
        .operation_attempt_timeout(SDK_ATTEMPT_TIMEOUT)
        .operation_timeout(SDK_OPERATION_TIMEOUT)
        .build();
    let mut loader =
        aws_config::defaults(aws_config::BehaviorVersion::latest()).timeout_config(timeouts);
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region.to_owned()));
    }
    loader.load().await
}

pub(super) fn sm_error<E, R>(operation: &'static str, err: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let ApiError {
        code,
        retryable,
        source,
    } = ApiError::from_sdk(err);
    Error::SecretsManager {
        operation,
        service_code: code,
        retryable,
        source,
    }
}

impl SecretStore for AwsSecretStore {
    async fn describe(&self, secret_id: &SecretId) -> Result<SecretDescription> {
        let out = self
            .client
            .describe_secret()
            .secret_id(secret_id.as_str())
            .send()
            .await
            .map_err(|e| sm_error("DescribeSecret", e))?;
        let mut versions = std::collections::BTreeMap::new();
        for (id, stages) in out.version_ids_to_stages.unwrap_or_default() {
            if stages.is_empty() {
                continue; // unlabelled versions are deprecated: the service omits them
            }
            let id = VersionId::new(id).map_err(|e| Error::SecretsManager {
                operation: "DescribeSecret",
                service_code: None,
                retryable: false,
                source: Box::new(e),
            })?;
            versions.insert(id, stages.iter().map(|s| Stage::parse(s)).collect());
        }
        let tags = out
            .tags
            .unwrap_or_default()
            .into_iter()
            .filter_map(|t| Some((t.key?, t.value.unwrap_or_default())))
            .collect();
        let date = |d: Option<&aws_sdk_secretsmanager::primitives::DateTime>| {
            d.and_then(|d| {
                d.fmt(aws_sdk_secretsmanager::primitives::DateTimeFormat::DateTime)
                    .ok()
            })
        };
        let rules = out.rotation_rules.as_ref();
        let rotation_schedule = rules.and_then(|r| {
            r.schedule_expression.clone().or_else(|| {
                r.automatically_after_days
                    .map(|d| format!("rate({d} days)"))
            })
        });
        Ok(SecretDescription {
            arn: out.arn.unwrap_or_default(),
            name: out.name.unwrap_or_default(),
            rotation_enabled: out.rotation_enabled,
            versions,
            tags,
            rotation_function: out.rotation_lambda_arn,
            rotation_schedule,
            last_rotated: date(out.last_rotated_date.as_ref()),
            next_rotation: date(out.next_rotation_date.as_ref()),
        })
    }

    async fn get_value(
        &self,
        secret_id: &SecretId,
        selector: &Selector,
    ) -> Result<Option<SecretValue>> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(secret_id.as_str())
            .set_version_id(selector.version_id.as_ref().map(|v| v.as_str().to_owned()))
            .set_version_stage(selector.stage.as_ref().map(|s| s.as_str().to_owned()))
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_resource_not_found_exception()) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(sm_error("GetSecretValue", e)),
        };
        match out.secret_string {
            Some(s) => SecretValue::parse(&s).map(Some),
            None if out.secret_binary.is_some() => Err(Error::invalid_secret(
                "binary secrets are not supported: the value must be a JSON SecretString",
            )),
            None => Ok(None),
        }
    }

    async fn put_pending(
        &self,
        secret_id: &SecretId,
        token: &VersionId,
        value: &SecretValue,
        rotation_token: Option<&RotationToken>,
    ) -> Result<()> {
        let secret_string = value.to_secret_string()?;
        self.client
            .put_secret_value()
            .secret_id(secret_id.as_str())
            .client_request_token(token.as_str())
            .secret_string(secret_string.expose_secret())
            .version_stages(Stage::Pending.as_str())
            .set_rotation_token(rotation_token.map(|t| t.expose().to_owned()))
            .send()
            .await
            .map_err(|e| sm_error("PutSecretValue", e))?;
        Ok(())
    }

    async fn version_ids(&self, secret_id: &SecretId) -> Result<BTreeSet<VersionId>> {
        let mut ids = BTreeSet::new();
        let mut pages = self
            .client
            .list_secret_version_ids()
            .secret_id(secret_id.as_str())
            .include_deprecated(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sm_error("ListSecretVersionIds", e))?;
            for version in page.versions() {
                if let Some(id) = version.version_id() {
                    ids.insert(VersionId::new(id).map_err(|e| Error::SecretsManager {
                        operation: "ListSecretVersionIds",
                        service_code: None,
                        retryable: false,
                        source: Box::new(e),
                    })?);
                }
            }
        }
        Ok(ids)
    }

    async fn update_stage(
        &self,
        secret_id: &SecretId,
        stage: Stage,
        move_to: Option<&VersionId>,
        remove_from: Option<&VersionId>,
    ) -> Result<()> {
        self.client
            .update_secret_version_stage()
            .secret_id(secret_id.as_str())
            .version_stage(stage.as_str())
            .set_move_to_version_id(move_to.map(|v| v.as_str().to_owned()))
            .set_remove_from_version_id(remove_from.map(|v| v.as_str().to_owned()))
            .send()
            .await
            .map_err(|e| sm_error("UpdateSecretVersionStage", e))?;
        Ok(())
    }
}
