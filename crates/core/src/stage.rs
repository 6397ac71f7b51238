//! Staging labels and the version map of a secret (`DescribeSecret`'s `VersionIdsToStages`).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Serialize, Serializer};

use crate::event::VersionId;

/// A staging label.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    /// `AWSCURRENT`: what applications read.
    Current,
    /// `AWSPENDING`: the version being rotated in.
    Pending,
    /// `AWSPREVIOUS`: the last known good version before `AWSCURRENT`.
    Previous,
    /// Any other (user-defined) label.
    Other(String),
}

impl Stage {
    /// Parses a label.
    pub fn parse(label: &str) -> Stage {
        match label {
            "AWSCURRENT" => Stage::Current,
            "AWSPENDING" => Stage::Pending,
            "AWSPREVIOUS" => Stage::Previous,
            other => Stage::Other(other.to_owned()),
        }
    }

    /// The label as Secrets Manager spells it.
    pub fn as_str(&self) -> &str {
        match self {
            Stage::Current => "AWSCURRENT",
            Stage::Pending => "AWSPENDING",
            Stage::Previous => "AWSPREVIOUS",
            Stage::Other(label) => label,
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Stage {
    fn serialize<Z: Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        s.serialize_str(self.as_str())
    }
}

/// What `DescribeSecret` says about a secret, as far as rotation cares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretDescription {
    /// The secret's ARN.
    pub arn: String,
    /// The secret's name.
    pub name: String,
    /// `RotationEnabled`; absent on secrets that never had rotation configured.
    pub rotation_enabled: Option<bool>,
    /// Every version that has labels, with its labels.
    pub versions: BTreeMap<VersionId, Vec<Stage>>,
    /// The secret's tags (e.g. `aws:rds:primaryDBInstanceArn` on a master secret that RDS
    /// manages).
    pub tags: BTreeMap<String, String>,
    /// `RotationLambdaARN`: the function that rotates it, when configured.
    pub rotation_function: Option<String>,
    /// The schedule (`ScheduleExpression`, or `rate(N days)` from
    /// `AutomaticallyAfterDays`), when configured.
    pub rotation_schedule: Option<String>,
    /// `LastRotatedDate` (RFC 3339), when it was ever rotated.
    pub last_rotated: Option<String>,
    /// `NextRotationDate` (RFC 3339), when the service says.
    pub next_rotation: Option<String>,
}

impl SecretDescription {
    /// The labels of a version, or `None` when it is not a (labelled) version.
    pub fn stages_of(&self, version: &VersionId) -> Option<&[Stage]> {
        self.versions.get(version).map(Vec::as_slice)
    }

    /// The version that holds a label.
    pub fn version_with(&self, stage: &Stage) -> Option<&VersionId> {
        self.versions
            .iter()
            .find(|(_, stages)| stages.contains(stage))
            .map(|(id, _)| id)
    }

    /// Whether a rotation is in progress and not finished: `AWSPENDING` is on a version
    /// that is not `AWSCURRENT`. The next `RotateSecret` would fail in this state.
    pub fn rotation_in_progress(&self) -> Option<&VersionId> {
        self.versions
            .iter()
            .find(|(_, s)| s.contains(&Stage::Pending) && !s.contains(&Stage::Current))
            .map(|(id, _)| id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(id: &str) -> VersionId {
        VersionId::new(id).unwrap()
    }

    #[test]
    fn finds_labels_and_stuck_rotations() {
        let mut d = SecretDescription::default();
        d.versions
            .insert(v("a"), vec![Stage::Current, Stage::Pending]);
        d.versions.insert(v("b"), vec![Stage::Previous]);
        assert_eq!(d.version_with(&Stage::Current), Some(&v("a")));
        assert_eq!(
            d.rotation_in_progress(),
            None,
            "pending on current is complete"
        );
        d.versions.insert(v("c"), vec![Stage::Pending]);
        d.versions
            .get_mut(&v("a"))
            .unwrap()
            .retain(|s| *s != Stage::Pending);
        assert_eq!(d.rotation_in_progress(), Some(&v("c")));
        assert_eq!(Stage::parse("custom").as_str(), "custom");
        assert_eq!(Stage::parse("AWSPREVIOUS"), Stage::Previous);
    }
}
