//! The JSON value of one secret version, with its password held as a [`SecretString`].
//!
//! The layout is AWS's (`username`, `password`, `host`, ...). Every key survives a rotation
//! unchanged, in its original order, except the ones the rotation rewrites.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use crate::error::{Error, Result, SecretVersion};

/// The key that holds the password.
pub const PASSWORD_KEY: &str = "password";
/// The key that holds the user name.
pub const USERNAME_KEY: &str = "username";
/// The key that says whether database targets use TLS (AWS's layout; `true` by default).
pub const SSL_KEY: &str = "ssl";
/// Secrets Manager's limit on a `SecretString`, in bytes.
pub const MAX_SECRET_STRING_BYTES: usize = 65_536;

/// A parsed secret value: a JSON object whose `password` is kept apart, redacted.
///
/// `Debug` shows only the keys. Serialising back ([`SecretValue::to_secret_string`]) gives
/// the same keys in the same order.
///
/// ```
/// use secrecy::ExposeSecret;
/// use secret_rotor::SecretValue;
///
/// let v = SecretValue::parse(r#"{"username":"app","password":"hunter2","team":"x"}"#)?;
/// assert_eq!(v.username(), Some("app"));
/// assert!(!format!("{v:?}").contains("hunter2"));
/// let rotated = v.with_password("n3w".into());
/// assert_eq!(
///     rotated.to_secret_string()?.expose_secret(),
///     r#"{"username":"app","password":"n3w","team":"x"}"#
/// );
/// # Ok::<(), secret_rotor::Error>(())
/// ```
#[derive(Clone)]
pub struct SecretValue {
    /// Every key; the value under `password` is a placeholder (`null`).
    fields: Map<String, Value>,
    password: Option<SecretString>,
}

impl SecretValue {
    /// Parses a `SecretString`.
    ///
    /// It must be a JSON object; `password` and `username`, when present, must be strings.
    /// Errors never quote the content (the caller adds which version it was,
    /// [`Error::in_version`]).
    pub fn parse(secret_string: &str) -> Result<Self> {
        let value: Value = serde_json::from_str(secret_string).map_err(|e| {
            Error::invalid_secret(format!(
                "not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        let Value::Object(mut fields) = value else {
            return Err(Error::invalid_secret("not a JSON object"));
        };
        let password = match fields.get_mut(PASSWORD_KEY) {
            None => None,
            Some(slot @ Value::String(_)) => {
                let Value::String(p) = std::mem::take(slot) else {
                    unreachable!("matched a string")
                };
                Some(SecretString::from(p))
            }
            Some(_) => {
                return Err(Error::invalid_secret("\"password\" is not a string"));
            }
        };
        if fields.get(USERNAME_KEY).is_some_and(|u| !u.is_string()) {
            return Err(Error::invalid_secret("\"username\" is not a string"));
        }
        Ok(SecretValue { fields, password })
    }

    /// A value built from a JSON object (e.g. in tests or for a new secret).
    pub fn from_json(value: Value) -> Result<Self> {
        SecretValue::parse(&value.to_string())
    }

    /// The password, if the secret has one.
    pub fn password(&self) -> Option<&SecretString> {
        self.password.as_ref()
    }

    /// The user name, if the secret has one.
    pub fn username(&self) -> Option<&str> {
        self.str(USERNAME_KEY)
    }

    /// A non-password field. `get("password")` is always `None`: use [`Self::password`].
    pub fn get(&self, key: &str) -> Option<&Value> {
        if key == PASSWORD_KEY {
            return None;
        }
        self.fields.get(key)
    }

    /// A non-password field, if it is a string.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    /// The keys, in their order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.fields.keys().map(String::as_str)
    }

    /// A copy with a new password (added at the end if there was none).
    pub fn with_password(&self, password: SecretString) -> Self {
        let mut next = self.clone();
        next.fields
            .entry(PASSWORD_KEY.to_owned())
            .or_insert(Value::Null);
        next.password = Some(password);
        next
    }

    /// A copy with a new user name.
    pub fn with_username(&self, username: &str) -> Self {
        let mut next = self.clone();
        next.fields
            .insert(USERNAME_KEY.to_owned(), Value::String(username.to_owned()));
        next
    }

    /// A copy with `key` set to `value` (not for the password: use
    /// [`Self::with_password`]; setting `username` must be a string).
    pub fn with_field(&self, key: &str, value: Value) -> Self {
        assert_ne!(key, PASSWORD_KEY, "use with_password");
        let mut next = self.clone();
        next.fields.insert(key.to_owned(), value);
        next
    }

    /// A copy without `key` (not for the password).
    pub fn without_field(&self, key: &str) -> Self {
        assert_ne!(key, PASSWORD_KEY, "the password is replaced, never removed");
        let mut next = self.clone();
        next.fields.shift_remove(key);
        next
    }

    /// The JSON to store, as a secret (it contains the password).
    ///
    /// Fails when it would exceed Secrets Manager's 64 KiB limit.
    pub fn to_secret_string(&self) -> Result<SecretString> {
        let mut fields = self.fields.clone();
        if let (Some(slot), Some(password)) = (fields.get_mut(PASSWORD_KEY), &self.password) {
            *slot = Value::String(password.expose_secret().to_owned());
        }
        let json = Value::Object(fields).to_string();
        if json.len() > MAX_SECRET_STRING_BYTES {
            return Err(Error::invalid_secret(format!(
                "{} bytes is over Secrets Manager's limit of {MAX_SECRET_STRING_BYTES}",
                json.len()
            ))
            .in_version(SecretVersion::New));
        }
        Ok(SecretString::from(json))
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretValue")
            .field("keys", &self.fields.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_and_order_survive() {
        let raw =
            r#"{"z":1,"engine":"postgres","password":"p","nested":{"a":[1,2]},"username":"u"}"#;
        let v = SecretValue::parse(raw).unwrap();
        let out = v.with_password("q".into()).to_secret_string().unwrap();
        assert_eq!(
            out.expose_secret(),
            r#"{"z":1,"engine":"postgres","password":"q","nested":{"a":[1,2]},"username":"u"}"#
        );
        assert_eq!(
            v.to_secret_string().unwrap().expose_secret(),
            raw,
            "unchanged round trip"
        );
    }

    #[test]
    fn errors_do_not_quote_content() {
        for raw in [
            r#"{"password": "s3cr3t-value""#,
            r#"["s3cr3t-value"]"#,
            r#"{"password": ["s3cr3t-value"]}"#,
        ] {
            let err = SecretValue::parse(raw).unwrap_err();
            assert_eq!(err.code(), "InvalidSecret");
            assert!(!err.to_string().contains("s3cr3t"), "{err}");
        }
    }

    #[test]
    fn debug_is_redacted_and_get_hides_password() {
        let v = SecretValue::parse(r#"{"password":"s3cr3t-value"}"#).unwrap();
        assert!(!format!("{v:?}").contains("s3cr3t"));
        assert!(v.get("password").is_none());
        assert_eq!(v.password().unwrap().expose_secret(), "s3cr3t-value");
    }

    #[test]
    fn too_big_is_refused() {
        let v = SecretValue::from_json(
            serde_json::json!({"blob": "x".repeat(MAX_SECRET_STRING_BYTES)}),
        )
        .unwrap();
        assert_eq!(v.to_secret_string().unwrap_err().code(), "InvalidSecret");
    }
}
