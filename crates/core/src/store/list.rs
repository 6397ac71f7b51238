//! Finding secrets by name prefix and tags (`ListSecrets`), for tools that rotate a fleet.
//! The rotation itself never lists: a Lambda function is given its secret.

use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType};

use super::AwsSecretStore;
use super::aws::sm_error;
use crate::error::{Error, Result};

/// Which secrets [`AwsSecretStore::list`] returns: those whose name starts with
/// `name_prefix` (case-sensitive, as the service compares) and that carry every tag of
/// `tags` with exactly that value. An empty filter is refused: it would select the account.
///
/// ```
/// use secret_rotor::store::SecretFilter;
///
/// let filter = SecretFilter::new(Some("prod/".into()), vec![("team".into(), "payments".into())])?;
/// assert!(filter.matches("prod/db", &[("team".into(), "payments".into())].into()));
/// assert!(!filter.matches("prod/db", &[("team".into(), "search".into())].into()));
/// assert!(!filter.matches("staging/db", &[("team".into(), "payments".into())].into()));
/// assert!(SecretFilter::new(None, vec![]).is_err());
/// # Ok::<(), secret_rotor::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretFilter {
    name_prefix: Option<String>,
    tags: Vec<(String, String)>,
}

/// A secret [`AwsSecretStore::list`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedSecret {
    /// Its ARN.
    pub arn: String,
    /// Its name.
    pub name: String,
    /// Whether rotation is turned on (`RotationEnabled`).
    pub rotation_enabled: bool,
}

impl SecretFilter {
    /// A filter on a name prefix and `key = value` tags; at least one of them. A value
    /// starting with `!` (the service's negation) is refused: it would select the
    /// secrets that do *not* match.
    pub fn new(name_prefix: Option<String>, tags: Vec<(String, String)>) -> Result<Self> {
        let name_prefix = name_prefix.filter(|p| !p.is_empty());
        if name_prefix.is_none() && tags.is_empty() {
            return Err(Error::config(
                "a secret filter needs a name prefix or a tag (it would select every secret)",
            ));
        }
        let negated = (name_prefix.iter())
            .chain(tags.iter().flat_map(|(k, v)| [k, v]))
            .find(|v| v.starts_with('!'))
            .cloned();
        if let Some(negated) = negated {
            return Err(Error::config(format!(
                "{negated:?}: a filter value cannot start with '!' (Secrets Manager reads it \
                 as \"not\")"
            )));
        }
        Ok(SecretFilter { name_prefix, tags })
    }

    /// Whether a secret with this name and these tags is selected.
    pub fn matches(&self, name: &str, tags: &std::collections::BTreeMap<String, String>) -> bool {
        self.name_prefix
            .as_ref()
            .is_none_or(|p| name.starts_with(p.as_str()))
            && self.tags.iter().all(|(k, v)| tags.get(k) == Some(v))
    }

    /// The service-side filters: a superset of what [`SecretFilter::matches`] keeps (the
    /// service ORs the values of one key, so only the first tag is sent).
    fn service_filters(&self) -> Vec<Filter> {
        let filter = |key: FilterNameStringType, value: &str| {
            Filter::builder().key(key).values(value).build()
        };
        let mut filters = Vec::new();
        if let Some(prefix) = &self.name_prefix {
            filters.push(filter(FilterNameStringType::Name, prefix));
        }
        if let Some((key, value)) = self.tags.first() {
            filters.push(filter(FilterNameStringType::TagKey, key));
            filters.push(filter(FilterNameStringType::TagValue, value));
        }
        filters
    }
}

impl AwsSecretStore {
    /// Every secret `filter` selects, in the service's order (`ListSecrets`, all pages).
    pub async fn list(&self, filter: &SecretFilter) -> Result<Vec<ListedSecret>> {
        let mut pages = self
            .client()
            .list_secrets()
            .set_filters(Some(filter.service_filters()))
            .max_results(100)
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sm_error("ListSecrets", e))?;
            for entry in page.secret_list.unwrap_or_default() {
                let tags = (entry.tags.unwrap_or_default().into_iter())
                    .filter_map(|t| Some((t.key?, t.value.unwrap_or_default())))
                    .collect();
                let (Some(arn), Some(name)) = (entry.arn, entry.name) else {
                    continue;
                };
                if filter.matches(&name, &tags) {
                    let rotation_enabled = entry.rotation_enabled.unwrap_or(false);
                    found.push(ListedSecret {
                        arn,
                        name,
                        rotation_enabled,
                    });
                }
            }
        }
        Ok(found)
    }
}
