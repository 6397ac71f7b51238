//! Where the database of a master secret is, when RDS manages that secret.
//!
//! A master secret that RDS creates (`ManageMasterUserPassword`) holds only `username`
//! and `password`; the instance or cluster it belongs to is named by its
//! `aws:rds:primaryDBInstanceArn` / `aws:rds:primaryDBClusterArn` tag. [`RdsLocator`] asks
//! the RDS API for that database's endpoint, port and engine, and whether a host is a read
//! replica (or an Aurora cluster member) of the master's database.
//!
//! The rotator asks through the [`DatabaseLocator`] trait (given with
//! [`Rotator::with_rds`](crate::Rotator::with_rds)): [`RdsLocator`] is the implementation
//! shipped; a test double may wrap it (the testkit's fault injection numbers these calls
//! like the Secrets Manager and target calls).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use aws_sdk_rds::Client;
use aws_sdk_rds::error::{ProvideErrorMetadata, SdkError};

use crate::aws_error::ApiError;
use crate::error::{Error, Result};

/// The tag RDS puts on the master secret of a DB instance.
pub const PRIMARY_INSTANCE_TAG: &str = "aws:rds:primaryDBInstanceArn";
/// The tag RDS puts on the master secret of a DB cluster.
pub const PRIMARY_CLUSTER_TAG: &str = "aws:rds:primaryDBClusterArn";

/// Whether a secret's tags name the RDS instance or cluster whose master it is.
pub fn names_a_database(tags: &BTreeMap<String, String>) -> bool {
    tags.contains_key(PRIMARY_INSTANCE_TAG) || tags.contains_key(PRIMARY_CLUSTER_TAG)
}

/// A database's address as RDS reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbEndpoint {
    /// The endpoint's host name.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// The engine (`postgres`, `aurora-postgresql`, `mysql`, ...).
    pub engine: String,
}

/// What the rotator asks about the database of an RDS-managed master secret: the seam
/// between the rotation and the RDS API. [`RdsLocator`] implements it with the RDS API.
pub trait DatabaseLocator: std::fmt::Debug + Send + Sync + 'static {
    /// The endpoint of the database named by a master secret's RDS tags, or `None` when
    /// the secret has no such tag (see [`RdsLocator::primary_endpoint`]).
    fn primary_endpoint(
        &self,
        tags: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<Option<DbEndpoint>>> + Send;

    /// Whether `host` is a read replica, or a cluster member, of the database at
    /// `primary_host` (see [`RdsLocator::is_replica_of`]).
    fn is_replica_of(
        &self,
        host: &str,
        primary_host: &str,
    ) -> impl Future<Output = Result<bool>> + Send;
}

/// A boxed future of the object-safe form of [`DatabaseLocator`].
type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`DatabaseLocator`] as a trait object, which the rotator holds.
pub(crate) trait DynLocator: std::fmt::Debug + Send + Sync {
    fn primary_endpoint<'a>(
        &'a self,
        tags: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<Option<DbEndpoint>>>;
    fn is_replica_of<'a>(
        &'a self,
        host: &'a str,
        primary_host: &'a str,
    ) -> BoxFuture<'a, Result<bool>>;
}

impl<L: DatabaseLocator> DynLocator for L {
    fn primary_endpoint<'a>(
        &'a self,
        tags: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<Option<DbEndpoint>>> {
        Box::pin(DatabaseLocator::primary_endpoint(self, tags))
    }

    fn is_replica_of<'a>(
        &'a self,
        host: &'a str,
        primary_host: &'a str,
    ) -> BoxFuture<'a, Result<bool>> {
        Box::pin(DatabaseLocator::is_replica_of(self, host, primary_host))
    }
}

/// Asks the RDS API about the database of an RDS-managed master secret.
#[derive(Debug, Clone)]
pub struct RdsLocator {
    client: Client,
}

fn rds_error<E, R>(operation: &'static str, err: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let ApiError {
        retryable, source, ..
    } = ApiError::from_sdk(err);
    Error::Rds {
        operation,
        reason: None,
        retryable,
        source: Some(source),
    }
}

/// An answer of the RDS API that cannot be used.
fn unusable(operation: &'static str, reason: String, retryable: bool) -> Error {
    Error::Rds {
        operation,
        reason: Some(reason),
        retryable,
        source: None,
    }
}

/// The first DNS label of a host: RDS's instance or cluster identifier in its endpoints.
fn identifier_of(host: &str) -> &str {
    host.split('.').next().unwrap_or(host)
}

impl RdsLocator {
    /// Wraps a client.
    pub fn new(client: Client) -> Self {
        RdsLocator { client }
    }

    /// A client from a loaded AWS configuration (`AWS_ENDPOINT_URL_RDS` and
    /// `AWS_ENDPOINT_URL` are honoured by it).
    pub fn from_sdk_config(config: &aws_config::SdkConfig) -> Self {
        RdsLocator::new(Client::new(config))
    }

    /// The endpoint of the database named by a master secret's RDS tags, or `None` when
    /// the secret has no such tag.
    pub async fn primary_endpoint(
        &self,
        tags: &BTreeMap<String, String>,
    ) -> Result<Option<DbEndpoint>> {
        if let Some(arn) = tags.get(PRIMARY_INSTANCE_TAG) {
            let out = self
                .client
                .describe_db_instances()
                .db_instance_identifier(arn)
                .send()
                .await
                .map_err(|e| rds_error("DescribeDBInstances", e))?;
            let instance = out.db_instances().first().ok_or_else(|| {
                unusable(
                    "DescribeDBInstances",
                    format!("no DB instance {arn}"),
                    false,
                )
            })?;
            let endpoint = instance.endpoint().ok_or_else(|| {
                unusable(
                    "DescribeDBInstances",
                    format!("DB instance {arn} has no endpoint yet"),
                    true,
                )
            })?;
            return Ok(Some(DbEndpoint {
                host: endpoint.address().unwrap_or_default().to_owned(),
                port: endpoint
                    .port()
                    .and_then(|p| u16::try_from(p).ok())
                    .unwrap_or(0),
                engine: instance.engine().unwrap_or_default().to_owned(),
            }));
        }
        if let Some(arn) = tags.get(PRIMARY_CLUSTER_TAG) {
            let out = self
                .client
                .describe_db_clusters()
                .db_cluster_identifier(arn)
                .send()
                .await
                .map_err(|e| rds_error("DescribeDBClusters", e))?;
            let cluster = out.db_clusters().first().ok_or_else(|| {
                unusable("DescribeDBClusters", format!("no DB cluster {arn}"), false)
            })?;
            return Ok(Some(DbEndpoint {
                host: cluster.endpoint().unwrap_or_default().to_owned(),
                port: cluster
                    .port()
                    .and_then(|p| u16::try_from(p).ok())
                    .unwrap_or(0),
                engine: cluster.engine().unwrap_or_default().to_owned(),
            }));
        }
        Ok(None)
    }

    /// Whether `host` is a read replica of the instance at `primary_host`, or an instance
    /// of the cluster whose endpoint is `primary_host` (AWS's rule: the first DNS label of
    /// an RDS endpoint is the instance or cluster identifier). `false` when `host` is not
    /// an RDS instance.
    pub async fn is_replica_of(&self, host: &str, primary_host: &str) -> Result<bool> {
        let out = self
            .client
            .describe_db_instances()
            .db_instance_identifier(identifier_of(host))
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_db_instance_not_found_fault()) =>
            {
                return Ok(false);
            }
            Err(e) => return Err(rds_error("DescribeDBInstances", e)),
        };
        let Some(instance) = out.db_instances().first() else {
            return Ok(false);
        };
        let primary = identifier_of(primary_host);
        let source = instance
            .read_replica_source_db_instance_identifier()
            .map(|s| s.rsplit(':').next().unwrap_or(s));
        Ok(source == Some(primary) || instance.db_cluster_identifier() == Some(primary))
    }
}

impl DatabaseLocator for RdsLocator {
    async fn primary_endpoint(
        &self,
        tags: &BTreeMap<String, String>,
    ) -> Result<Option<DbEndpoint>> {
        RdsLocator::primary_endpoint(self, tags).await
    }

    async fn is_replica_of(&self, host: &str, primary_host: &str) -> Result<bool> {
        RdsLocator::is_replica_of(self, host, primary_host).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn identifiers_are_the_first_label() {
        assert_eq!(
            super::identifier_of("mydb.abc.us-east-1.rds.amazonaws.com"),
            "mydb"
        );
        assert_eq!(super::identifier_of("localhost"), "localhost");
    }
}
