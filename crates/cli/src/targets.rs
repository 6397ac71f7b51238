//! Which target a secret belongs to.

use secret_rotor::store::{SecretStore, Selector};
use secret_rotor::{Error, Result, SecretId, Stage};

/// The targets this CLI can drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TargetKind {
    Postgres,
}

impl TargetKind {
    fn parse(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" | "aurora-postgresql" => Ok(TargetKind::Postgres),
            other => Err(Error::config(format!(
                "unknown target {other:?} (known: postgres)"
            ))),
        }
    }

    /// `--target` when given, else the `engine` of the secret's AWSCURRENT value.
    pub(crate) async fn resolve<S: SecretStore>(
        flag: Option<&str>,
        store: &S,
        secret_id: &SecretId,
    ) -> Result<Self> {
        if let Some(name) = flag {
            return TargetKind::parse(name);
        }
        let Some(current) = store
            .get_value(secret_id, &Selector::stage(Stage::Current))
            .await?
        else {
            // The store answers "no value" for a secret that does not exist too: let
            // DescribeSecret say which (its ResourceNotFoundException is the clear error).
            store.describe(secret_id).await?;
            return Err(Error::MissingValue {
                secret_id: secret_id.to_string(),
                version: "AWSCURRENT".into(),
            });
        };
        match current.str("engine") {
            Some(engine) => TargetKind::parse(engine),
            None => Err(Error::config("the secret has no \"engine\": pass --target")),
        }
    }
}
