//! An HTTP API credential: the secret's fields, with the rotating one (and any password)
//! kept as secrets, read through the spec's field names.

use std::collections::BTreeMap;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use secret_rotor::{Credential, Error, Result, SecretValue};
use serde_json::{Map, Value};

use crate::client::Client;
use crate::spec::Spec;

/// The key of a secret that may hold the spec itself (when no `HTTP_SPEC_FILE` is set).
pub const SPEC_KEY: &str = "rotation_spec";

/// A credential of an HTTP API, parsed with its spec.
#[derive(Clone)]
pub struct HttpCredential {
    pub(crate) spec: Arc<Spec>,
    pub(crate) client: Arc<Client>,
    fields: Map<String, Value>,
    secrets: BTreeMap<String, SecretString>,
    identity: String,
    server: String,
}

impl std::fmt::Debug for HttpCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpCredential")
            .field("spec", &self.spec.name())
            .field("identity", &self.identity)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl Credential for HttpCredential {
    /// The user name, or for key-only credentials the key's id.
    fn username(&self) -> &str {
        &self.identity
    }

    fn server(&self) -> String {
        self.server.clone()
    }
}

impl HttpCredential {
    /// Parses `secret` with `spec`: the secret field must hold a non-empty string, and so
    /// must the user-name field when the spec names one.
    pub(crate) fn parse(
        secret: &SecretValue,
        spec: Arc<Spec>,
        client: Arc<Client>,
    ) -> Result<Self> {
        let names = &spec.fields;
        let mut fields = Map::new();
        let mut secrets = BTreeMap::new();
        if let Some(password) = secret.password() {
            secrets.insert("password".to_owned(), password.clone());
        }
        for key in secret.keys() {
            let Some(value) = secret.get(key) else {
                continue;
            };
            if key == names.secret {
                match value {
                    Value::String(s) if !s.is_empty() => {
                        secrets.insert(key.to_owned(), SecretString::from(s.clone()));
                    }
                    _ => {
                        return Err(Error::invalid_secret(format!(
                            "\"{key}\" must be a non-empty string"
                        )));
                    }
                }
            } else if key != SPEC_KEY {
                fields.insert(key.to_owned(), value.clone());
            }
        }
        if secrets
            .get(&names.secret)
            .is_some_and(|s| s.expose_secret().is_empty())
        {
            return Err(Error::invalid_secret(format!(
                "\"{}\" must be a non-empty string",
                names.secret
            )));
        }
        if !secrets.contains_key(&names.secret) {
            return Err(Error::invalid_secret(format!(
                "missing \"{}\"",
                names.secret
            )));
        }
        let text = |field: &Option<String>| -> Result<Option<String>> {
            match field {
                None => Ok(None),
                Some(f) => match fields.get(f) {
                    Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
                    Some(Value::Number(n)) => Ok(Some(n.to_string())),
                    _ => Err(Error::invalid_secret(format!("missing \"{f}\""))),
                },
            }
        };
        let username = text(&names.username)?;
        let key_id = if spec.issues_keys() {
            text(&names.key_id)?
        } else {
            None
        };
        let identity = username.or(key_id).unwrap_or_default();
        let server = match fields.get(&names.url).and_then(Value::as_str) {
            Some(url) => url.trim_end_matches('/').to_ascii_lowercase(),
            None => spec.name().to_owned(),
        };
        Ok(HttpCredential {
            spec,
            client,
            fields,
            secrets,
            identity,
            server,
        })
    }

    /// A field for templates: `username` and `secret` name the spec's fields; any other
    /// name is a field of the secret (secret fields included).
    pub(crate) fn lookup(&self, field: &str) -> Option<Value> {
        let names = &self.spec.fields;
        let field = match field {
            "username" => names.username.as_deref().unwrap_or("username"),
            "secret" => names.secret.as_str(),
            "key_id" => names.key_id.as_deref().unwrap_or("key_id"),
            other => other,
        };
        if let Some(secret) = self.secrets.get(field) {
            return Some(Value::String(secret.expose_secret().to_owned()));
        }
        self.fields.get(field).cloned()
    }

    /// The issued key's id, for the key-issuing shape.
    pub(crate) fn key_id(&self) -> Option<String> {
        let field = self.spec.fields.key_id.as_deref()?;
        match self.fields.get(field)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}
