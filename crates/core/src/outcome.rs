//! What a step did: returned to the caller (the Lambda response) and logged.

use serde::Serialize;

use crate::event::{SecretId, Step, VersionId};
use crate::stage::Stage;
use crate::target::{AlternateReport, RetireReport};

/// The branch a step took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// The token's version is already `AWSCURRENT`: nothing to do (a late retry).
    AlreadyCurrent {
        /// finishSecret detached a leftover `AWSPENDING` from the current version.
        labels_cleaned: bool,
    },
    /// createSecret: the pending version already had a value (a retry).
    PendingExists,
    /// createSecret: a new pending value was generated and stored.
    PendingCreated {
        /// The user name in the pending value.
        username: String,
    },
    /// setSecret: the pending credential already logs in (a retry after the change).
    AlreadyLive,
    /// setSecret: the password was changed, logged in with the credential of `using`.
    PasswordSet {
        /// `AWSCURRENT` normally; `AWSPREVIOUS` when the current one no longer worked.
        using: Stage,
    },
    /// setSecret (alternating users): the pending user was created or updated as the
    /// master, with the two users' privileges brought in line.
    AlternateUserSet {
        /// What was created, synced, could not be synced, and what to know.
        report: AlternateReport,
    },
    /// testSecret: the pending credential works.
    Tested,
    /// finishSecret: `AWSCURRENT` moved to the pending version.
    Promoted {
        /// The version that was `AWSCURRENT` (now `AWSPREVIOUS`).
        previous_version: VersionId,
        /// For targets that retire old credentials: what was revoked.
        #[serde(skip_serializing_if = "Option::is_none")]
        retired: Option<RetireReport>,
    },
}

impl Outcome {
    /// A short stable name (`pending_created`, `password_set`, ...), as in the Lambda
    /// response's `outcome` field and the logs.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::AlreadyCurrent { .. } => "already_current",
            Outcome::PendingExists => "pending_exists",
            Outcome::PendingCreated { .. } => "pending_created",
            Outcome::AlreadyLive => "already_live",
            Outcome::PasswordSet { .. } => "password_set",
            Outcome::AlternateUserSet { .. } => "alternate_user_set",
            Outcome::Tested => "tested",
            Outcome::Promoted { .. } => "promoted",
        }
    }
}

/// The result of one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepReport {
    /// The step.
    pub step: Step,
    /// The secret.
    pub secret_id: SecretId,
    /// The invocation's token.
    pub token: VersionId,
    /// What happened.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// How long the step took.
    pub elapsed_ms: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_match_the_serialized_tag() {
        let v = VersionId::new("v").unwrap();
        for outcome in [
            Outcome::AlreadyCurrent {
                labels_cleaned: true,
            },
            Outcome::PendingExists,
            Outcome::PendingCreated {
                username: "u".into(),
            },
            Outcome::AlreadyLive,
            Outcome::PasswordSet {
                using: Stage::Previous,
            },
            Outcome::Tested,
            Outcome::Promoted {
                previous_version: v,
                retired: None,
            },
        ] {
            let json = serde_json::to_value(&outcome).unwrap();
            assert_eq!(json["outcome"], outcome.as_str());
        }
    }
}
