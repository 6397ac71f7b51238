//! Which target a secret belongs to, and the one table that maps engines to targets.

use std::future::Future;

use secret_rotor::store::{SecretStore, Selector};
use secret_rotor::{Error, Result, SecretId, SecretVersion, Stage, Target};
use secret_rotor_http::{HttpTarget, SPEC_KEY};
use secret_rotor_mysql::MysqlTarget;
use secret_rotor_postgres::PostgresTarget;
use secret_rotor_redis::RedisTarget;

/// Work that runs with whichever target a secret needs (a generic closure, in effect).
pub(crate) trait WithTarget {
    /// What the work returns.
    type Output;

    /// Runs the work with `target`.
    fn run<T: Target>(self, target: T) -> impl Future<Output = Result<Self::Output>>;
}

/// The targets the CLI drives, each with the names that select it (`--target`, or the
/// secret's `engine`): adding a target is one line here.
macro_rules! targets {
    ($($target:expr => [$($name:literal),+ $(,)?]),+ $(,)?) => {
        /// Every name a target answers to, for messages.
        const KNOWN: &[&str] = &[$($($name),+),+];

        /// Runs `work` with the target that `name` selects.
        pub(crate) async fn with_target<W: WithTarget>(name: &str, work: W) -> Result<W::Output> {
            match name.to_ascii_lowercase().as_str() {
                $($($name)|+ => work.run($target?).await,)+
                other => Err(Error::config(format!(
                    "unknown target {other:?} (known: {})",
                    KNOWN.join(", ")
                ))),
            }
        }
    };
}

targets! {
    PostgresTarget::from_env() => ["postgres", "postgresql", "aurora-postgresql"],
    MysqlTarget::from_env() => ["mysql", "aurora-mysql", "mariadb"],
    HttpTarget::from_env() => ["http"],
    RedisTarget::from_env() => ["redis"],
}

/// The target's name: `--target` when given, else the `engine` of the secret's
/// AWSCURRENT value, else `http` for a secret that carries its own HTTP spec.
pub(crate) async fn target_name<S: SecretStore>(
    flag: Option<&str>,
    store: &S,
    secret_id: &SecretId,
) -> Result<String> {
    if let Some(name) = flag {
        return Ok(name.to_owned());
    }
    let Some(current) = store
        .get_value(secret_id, &Selector::stage(Stage::Current))
        .await
        .map_err(|e| e.in_version(SecretVersion::Current))?
    else {
        // The store answers "no value" for a secret that does not exist too: let
        // DescribeSecret say which (its ResourceNotFoundException is the clear error).
        store.describe(secret_id).await?;
        return Err(Error::MissingValue {
            secret_id: secret_id.to_string(),
            version: Stage::Current.to_string(),
        });
    };
    match current.str("engine") {
        Some(engine) => Ok(engine.to_owned()),
        None if current.get(SPEC_KEY).is_some() => Ok("http".to_owned()),
        None => Err(Error::config(
            "the secret has no \"engine\" (nor an HTTP spec): pass --target",
        )),
    }
}
