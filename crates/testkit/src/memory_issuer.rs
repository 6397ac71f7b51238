//! A reference [`Target`] for APIs that issue their own credentials (API keys), kept in
//! memory: keys are shown once when issued, carry a label, and stay valid until revoked.
//!
//! It is the model of the key-issuing shape: the pending key is issued in createSecret
//! ([`Target::pending_value`]), so it works before setSecret; the key two generations old is
//! revoked after finishSecret ([`Target::retire`]); a key an earlier attempt issued but never
//! stored (a crash between the issue and `PutSecretValue`) is found by its label — the
//! rotation's token — and revoked before a new one is issued.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use secrecy::{ExposeSecret, SecretString};
use secret_rotor::{
    Capabilities, Credential, Error, Login, PendingRequest, Result, RetireReport, RetireRequest,
    SecretValue, Strategy, Target, TargetInfo,
};
use serde_json::Value;

/// The secret's field that names the account the keys belong to (as a user name would).
pub const ACCOUNT: &str = "account";
/// The secret's field that holds the key's id.
pub const KEY_ID: &str = "key_id";
/// The secret's field that holds the key.
pub const API_KEY: &str = "api_key";

/// A key of the [`MemoryIssuer`], parsed from
/// `{"account": "...", "key_id": "...", "api_key": "..."}`.
#[derive(Debug, Clone)]
pub struct IssuedKey {
    account: String,
    id: String,
    key: SecretString,
}

impl IssuedKey {
    /// The key's id (not a secret).
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl Credential for IssuedKey {
    /// The account the key belongs to.
    fn username(&self) -> &str {
        &self.account
    }

    fn server(&self) -> String {
        "memory-issuer".to_owned()
    }
}

#[derive(Debug)]
struct Issued {
    account: String,
    key: String,
    label: String,
}

#[derive(Debug, Default)]
struct Api {
    keys: BTreeMap<String, Issued>,
    next: u64,
}

/// An in-memory API that issues keys. Clones share the same API.
#[derive(Debug, Clone, Default)]
pub struct MemoryIssuer {
    api: Arc<Mutex<Api>>,
}

impl MemoryIssuer {
    /// An API with no keys.
    pub fn new() -> Self {
        MemoryIssuer::default()
    }

    fn lock(&self) -> MutexGuard<'_, Api> {
        self.api.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Issues a key of `account` labelled `label`; returns its id and the key (shown
    /// once).
    pub fn issue(&self, account: &str, label: &str) -> (String, String) {
        let mut api = self.lock();
        api.next += 1;
        let id = format!("key-{}", api.next);
        let key = format!("sk-{}-{}", api.next, uuid::Uuid::new_v4().simple());
        api.keys.insert(
            id.clone(),
            Issued {
                account: account.to_owned(),
                key: key.clone(),
                label: label.to_owned(),
            },
        );
        (id, key)
    }

    /// The ids of `account`'s live keys.
    pub fn live(&self, account: &str) -> Vec<String> {
        self.lock()
            .keys
            .iter()
            .filter(|(_, k)| k.account == account)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Whether `key` is a live key.
    pub fn works(&self, key: &str) -> bool {
        self.lock().keys.values().any(|k| k.key == key)
    }

    fn revoke(&self, id: &str) -> bool {
        self.lock().keys.remove(id).is_some()
    }
}

fn field(secret: &SecretValue, key: &str) -> Result<String> {
    match secret.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(Error::invalid_secret(format!("missing \"{key}\""))),
    }
}

impl Target for MemoryIssuer {
    type Credential = IssuedKey;

    fn info(&self) -> TargetInfo {
        TargetInfo::new(
            "memory-issuer",
            Capabilities::new(&[Strategy::SingleUser]).retiring(),
        )
    }

    fn parse_credential(&self, secret: &SecretValue) -> Result<IssuedKey> {
        Ok(IssuedKey {
            account: field(secret, ACCOUNT)?,
            id: field(secret, KEY_ID)?,
            key: SecretString::from(field(secret, API_KEY)?),
        })
    }

    async fn try_login(&self, credential: &IssuedKey) -> Result<Login> {
        let api = self.lock();
        Ok(match api.keys.get(&credential.id) {
            Some(k)
                if k.key == credential.key.expose_secret() && k.account == credential.account =>
            {
                Login::Accepted
            }
            _ => Login::Refused {
                reason: format!("key {} is not live", credential.id),
            },
        })
    }

    /// An issued key cannot be set: it is live from createSecret on, or it was revoked.
    async fn set_password(&self, _: &IssuedKey, pending: &IssuedKey) -> Result<Login> {
        Ok(Login::Refused {
            reason: format!("key {} was revoked; issued keys cannot be set", pending.id),
        })
    }

    async fn pending_value(&self, request: PendingRequest<'_, IssuedKey>) -> Result<SecretValue> {
        // A key an earlier attempt of this rotation issued was never stored: revoke it.
        let label = request.token.to_string();
        let account = request.current.account.clone();
        let orphans: Vec<String> = self
            .lock()
            .keys
            .iter()
            .filter(|(_, k)| k.label == label && k.account == account)
            .map(|(id, _)| id.clone())
            .collect();
        for id in orphans {
            self.revoke(&id);
        }
        let (id, key) = self.issue(&account, &label);
        Ok(request
            .proposed
            .with_field(KEY_ID, id.into())
            .with_field(API_KEY, key.into()))
    }

    async fn retire(&self, request: RetireRequest<'_, IssuedKey>) -> Result<RetireReport> {
        let mut report = RetireReport::default();
        let keep: Vec<&str> = request.keep.iter().map(|k| k.id.as_str()).collect();
        if let Some(retired) = request.retired
            && !keep.contains(&retired.id.as_str())
            && self.revoke(&retired.id)
        {
            report.revoked.push(retired.id.clone());
        }
        // The account's keys belong to this secret alone: anything else is older than
        // AWSPREVIOUS (a crash between an earlier label move and its retire).
        for id in self.live(&request.keep[0].account) {
            if !keep.contains(&id.as_str()) && self.revoke(&id) {
                report.revoked.push(id);
            }
        }
        Ok(report)
    }
}
