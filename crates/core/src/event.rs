//! The rotation event Secrets Manager sends to the function, one per step.
//!
//! `aws_lambda_events` has no `RotationToken` and a stringly `step`; this type has both,
//! typed, and parses with clear errors.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// One of the four rotation steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// Generate the new secret value and store it as `AWSPENDING`.
    CreateSecret,
    /// Apply the pending credential on the target.
    SetSecret,
    /// Prove the pending credential works.
    TestSecret,
    /// Move `AWSCURRENT` to the pending version.
    FinishSecret,
}

impl Step {
    /// All steps, in the order the service runs them.
    pub const ALL: [Step; 4] = [
        Step::CreateSecret,
        Step::SetSecret,
        Step::TestSecret,
        Step::FinishSecret,
    ];

    /// The wire name (`createSecret`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Step::CreateSecret => "createSecret",
            Step::SetSecret => "setSecret",
            Step::TestSecret => "testSecret",
            Step::FinishSecret => "finishSecret",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Step {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Step::ALL
            .into_iter()
            .find(|step| step.as_str() == s)
            .ok_or_else(|| Error::InvalidEvent {
                reason: format!(
                    "unknown Step {s:?} (expected createSecret, setSecret, testSecret or finishSecret)"
                ),
            })
    }
}

/// The ARN or name of a secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecretId(String);

impl SecretId {
    /// Wraps an ARN or name; it must not be empty.
    pub fn new(id: impl Into<String>) -> Result<Self> {
        let id = id.into();
        if id.trim().is_empty() {
            return Err(Error::InvalidEvent {
                reason: "SecretId is empty".into(),
            });
        }
        Ok(SecretId(id))
    }

    /// The ARN or name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SecretId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The id of one version of a secret. The `ClientRequestToken` of a rotation is the id of
/// its pending version.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VersionId(String);

impl VersionId {
    /// Wraps a version id: 1 to 64 visible ASCII characters.
    pub fn new(id: impl Into<String>) -> Result<Self> {
        let id = id.into();
        if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::InvalidEvent {
                reason: "ClientRequestToken must be 1 to 64 visible ASCII characters".into(),
            });
        }
        Ok(VersionId(id))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VersionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The `ClientRequestToken` of a rotation: the version id of its `AWSPENDING` version.
pub type ClientRequestToken = VersionId;

/// The opaque `RotationToken` sent with rotations that use an assumed role or cross-account
/// setup; it is forwarded to `PutSecretValue`. Treated as sensitive: never printed.
#[derive(Clone)]
pub struct RotationToken(SecretString);

impl RotationToken {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        RotationToken(SecretString::from(token.into()))
    }

    /// The token, for the `RotationToken` request parameter.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for RotationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RotationToken([REDACTED])")
    }
}

macro_rules! serialize_as_str {
    ($($t:ty),*) => {$(
        impl Serialize for $t {
            fn serialize<Z: Serializer>(&self, s: Z) -> std::result::Result<Z::Ok, Z::Error> {
                s.serialize_str(self.as_str())
            }
        }
    )*};
}
serialize_as_str!(Step, SecretId, VersionId);

/// One invocation of the rotation function.
///
/// ```
/// use secret_rotor::{RotationEvent, Step};
///
/// let event = RotationEvent::from_json(&serde_json::json!({
///     "Step": "createSecret",
///     "SecretId": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
///     "ClientRequestToken": "0f3e2c4a-6b1d-4c59-9a57-3d2f1e0b7c6d",
/// }))?;
/// assert_eq!(event.step, Step::CreateSecret);
/// assert!(event.rotation_token.is_none());
/// # Ok::<(), secret_rotor::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct RotationEvent {
    /// Which step to run.
    pub step: Step,
    /// The secret being rotated.
    pub secret_id: SecretId,
    /// The version id of the pending version.
    pub client_request_token: ClientRequestToken,
    /// Forwarded to `PutSecretValue` when present.
    pub rotation_token: Option<RotationToken>,
}

impl RotationEvent {
    /// Builds an event for one step.
    pub fn new(step: Step, secret_id: SecretId, token: ClientRequestToken) -> Self {
        RotationEvent {
            step,
            secret_id,
            client_request_token: token,
            rotation_token: None,
        }
    }

    /// Parses the JSON payload Secrets Manager sends. Unknown fields are ignored.
    pub fn from_json(payload: &Value) -> Result<Self> {
        let object = payload.as_object().ok_or_else(|| Error::InvalidEvent {
            reason: "the event is not a JSON object".into(),
        })?;
        let step = required_str(object, "Step")?.parse()?;
        let secret_id = SecretId::new(required_str(object, "SecretId")?)?;
        let client_request_token = VersionId::new(required_str(object, "ClientRequestToken")?)?;
        // An empty token is no token: forwarding "" would fail every PutSecretValue.
        let rotation_token = match object.get("RotationToken") {
            None | Some(Value::Null) => None,
            Some(Value::String(token)) if token.trim().is_empty() => None,
            Some(Value::String(token)) => Some(RotationToken::new(token.as_str())),
            Some(_) => {
                return Err(Error::InvalidEvent {
                    reason: "RotationToken must be a string".into(),
                });
            }
        };
        Ok(RotationEvent {
            step,
            secret_id,
            client_request_token,
            rotation_token,
        })
    }

    /// The JSON payload of this event, as Secrets Manager would send it.
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("Step".into(), self.step.as_str().into());
        object.insert("SecretId".into(), self.secret_id.as_str().into());
        object.insert(
            "ClientRequestToken".into(),
            self.client_request_token.as_str().into(),
        );
        if let Some(token) = &self.rotation_token {
            object.insert("RotationToken".into(), token.expose().into());
        }
        Value::Object(object)
    }
}

fn required_str<'a>(object: &'a Map<String, Value>, key: &str) -> Result<&'a str> {
    match object.get(key) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(Error::InvalidEvent {
            reason: format!("{key} must be a string"),
        }),
        None => Err(Error::InvalidEvent {
            reason: format!("missing {key}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({"Step": "setSecret", "SecretId": "s", "ClientRequestToken": "t-1"})
    }

    #[test]
    fn parses_every_step() {
        for step in Step::ALL {
            let mut e = base();
            e["Step"] = step.as_str().into();
            assert_eq!(RotationEvent::from_json(&e).unwrap().step, step);
        }
    }

    #[test]
    fn unknown_step_is_invalid_event() {
        let mut e = base();
        e["Step"] = "CreateSecret".into();
        let err = RotationEvent::from_json(&e).unwrap_err();
        assert_eq!(err.code(), "InvalidEvent");
        assert!(err.to_string().contains("unknown Step"), "{err}");
    }

    #[test]
    fn missing_and_mistyped_fields_are_named() {
        for key in ["Step", "SecretId", "ClientRequestToken"] {
            let mut e = base();
            e.as_object_mut().unwrap().remove(key);
            let err = RotationEvent::from_json(&e).unwrap_err();
            assert!(err.to_string().contains(key), "{err}");
            let mut e = base();
            e[key] = json!(7);
            assert_eq!(
                RotationEvent::from_json(&e).unwrap_err().code(),
                "InvalidEvent"
            );
        }
        assert_eq!(
            RotationEvent::from_json(&json!([])).unwrap_err().code(),
            "InvalidEvent"
        );
        let mut e = base();
        e["ClientRequestToken"] = "has space".into();
        assert_eq!(
            RotationEvent::from_json(&e).unwrap_err().code(),
            "InvalidEvent"
        );
    }

    #[test]
    fn rotation_token_is_kept_and_redacted() {
        let mut e = base();
        e["RotationToken"] = "opaque-token-value".into();
        let event = RotationEvent::from_json(&e).unwrap();
        assert_eq!(
            event.rotation_token.as_ref().unwrap().expose(),
            "opaque-token-value"
        );
        assert!(!format!("{event:?}").contains("opaque-token-value"));
        assert_eq!(event.to_json(), e);
    }

    #[test]
    fn an_empty_rotation_token_is_absent() {
        for empty in ["", "  "] {
            let mut e = base();
            e["RotationToken"] = empty.into();
            let event = RotationEvent::from_json(&e).unwrap();
            assert!(event.rotation_token.is_none(), "{empty:?}");
        }
        let mut e = base();
        e["RotationToken"] = json!(5);
        assert_eq!(
            RotationEvent::from_json(&e).unwrap_err().code(),
            "InvalidEvent"
        );
    }
}
