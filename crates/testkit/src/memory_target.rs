//! A reference [`Target`] kept in memory: a user table on a pretend server.
//!
//! It is the model of what a target must do, and lets the core's state machine and the
//! fault-injection machinery be tested without a database. Real targets run the same
//! suites against their real servers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use secrecy::{ExposeSecret, SecretString};
use secret_rotor::{
    AlternateContext, AlternateReport, Capabilities, Credential, Error, Login, Parity, Result,
    SecretValue, SecretVersion, Strategy, Target, TargetInfo,
};

/// A credential of the [`MemoryTarget`].
#[derive(Debug, Clone)]
pub struct MemoryCredential {
    username: String,
    server: String,
    password: SecretString,
    /// `false` when the secret says `"ssl": false`.
    tls: bool,
}

impl MemoryCredential {
    /// The password.
    pub fn password(&self) -> &SecretString {
        &self.password
    }
}

impl Credential for MemoryCredential {
    fn username(&self) -> &str {
        &self.username
    }

    fn server(&self) -> String {
        self.server.clone()
    }
}

#[derive(Debug, Default)]
struct Server {
    users: BTreeMap<String, String>,
    grants: BTreeMap<String, BTreeSet<String>>,
    /// Privileges the master may not grant.
    ungrantable: BTreeSet<String>,
    /// Pairs made by a rotation (the clone is marked as the user's).
    pairs: BTreeSet<(String, String)>,
    reachable: bool,
    tls_required: bool,
}

/// An in-memory server with users and passwords. Clones share the same server.
///
/// Secrets look like `{"host": "memory", "username": "app", "password": "..."}` (`host`
/// optional, default `memory`).
#[derive(Debug, Clone)]
pub struct MemoryTarget {
    capabilities: Capabilities,
    server: Arc<Mutex<Server>>,
}

impl Default for MemoryTarget {
    fn default() -> Self {
        MemoryTarget::new()
    }
}

impl MemoryTarget {
    /// A reachable server with no users.
    pub fn new() -> Self {
        MemoryTarget {
            capabilities: Capabilities::new(&[Strategy::SingleUser, Strategy::AlternatingUsers]),
            server: Arc::new(Mutex::new(Server {
                reachable: true,
                ..Server::default()
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Server> {
        self.server.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The same server, declaring only `capabilities` (to test how the core refuses what a
    /// target does not support).
    pub fn declaring(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// Creates or resets a user.
    pub fn set_user(&self, username: &str, password: &str) {
        self.lock()
            .users
            .insert(username.to_owned(), password.to_owned());
    }

    /// The password a user has now (tests only).
    pub fn password_of(&self, username: &str) -> Option<String> {
        self.lock().users.get(username).cloned()
    }

    /// Grants a named privilege to a user.
    pub fn grant(&self, username: &str, privilege: &str) {
        self.lock()
            .grants
            .entry(username.to_owned())
            .or_default()
            .insert(privilege.to_owned());
    }

    /// The privileges a user holds.
    pub fn grants_of(&self, username: &str) -> BTreeSet<String> {
        self.lock()
            .grants
            .get(username)
            .cloned()
            .unwrap_or_default()
    }

    /// Makes the server unreachable (every call fails with `TargetUnreachable`) or back.
    pub fn set_reachable(&self, reachable: bool) {
        self.lock().reachable = reachable;
    }

    /// Makes the server refuse plain-text connections (credentials whose secret says
    /// `"ssl": false` fail with `TlsError`) or accept them.
    pub fn require_tls(&self, required: bool) {
        self.lock().tls_required = required;
    }

    /// Makes `privilege` one the master may not grant.
    pub fn deny_grant(&self, privilege: &str) {
        self.lock().ungrantable.insert(privilege.to_owned());
    }

    /// Marks `clone` as the clone of `user`, as a rotation that created it would.
    pub fn pair(&self, user: &str, clone: &str) {
        self.lock().pairs.insert(pair_key(user, clone));
    }

    fn check(&self, credential: &MemoryCredential) -> Result<Login> {
        let server = self.lock();
        if !server.reachable {
            return Err(Error::Unreachable {
                target: credential.server.clone(),
                reason: "connection refused".into(),
                source: None,
            });
        }
        if server.tls_required && !credential.tls {
            return Err(Error::Tls {
                target: credential.server.clone(),
                reason: "the server requires TLS".into(),
                source: None,
            });
        }
        Ok(match server.users.get(&credential.username) {
            Some(p) if p == credential.password.expose_secret() => Login::Accepted,
            Some(_) => Login::Refused {
                reason: format!(
                    "password authentication failed for user {:?}",
                    credential.username
                ),
            },
            None => Login::Refused {
                reason: format!("role {:?} does not exist", credential.username),
            },
        })
    }
}

impl Target for MemoryTarget {
    type Credential = MemoryCredential;

    fn info(&self) -> TargetInfo {
        TargetInfo::new("memory", self.capabilities)
    }

    fn parse_credential(&self, secret: &SecretValue) -> Result<MemoryCredential> {
        let username = secret
            .username()
            .filter(|u| !u.is_empty())
            .ok_or_else(|| Error::invalid_secret("missing \"username\""))?;
        let password = secret
            .password()
            .ok_or_else(|| Error::invalid_secret("missing \"password\""))?;
        let tls = match secret.get("ssl") {
            None | Some(serde_json::Value::Null) | Some(serde_json::Value::Bool(true)) => true,
            Some(serde_json::Value::Bool(false)) => false,
            Some(_) => return Err(Error::invalid_secret("\"ssl\" must be true or false")),
        };
        Ok(MemoryCredential {
            username: username.to_owned(),
            server: secret.str("host").unwrap_or("memory").to_owned(),
            password: password.clone(),
            tls,
        })
    }

    async fn try_login(&self, credential: &MemoryCredential) -> Result<Login> {
        self.check(credential)
    }

    async fn set_password(
        &self,
        login_as: &MemoryCredential,
        pending: &MemoryCredential,
    ) -> Result<Login> {
        let login = self.check(login_as)?;
        if login.is_accepted() {
            self.lock().users.insert(
                pending.username.clone(),
                pending.password.expose_secret().to_owned(),
            );
        }
        Ok(login)
    }

    async fn sync_alternate(
        &self,
        master: &MemoryCredential,
        current: &MemoryCredential,
        pending: &MemoryCredential,
        context: AlternateContext,
    ) -> Result<AlternateReport> {
        if let Login::Refused { reason } = self.check(master)? {
            return Err(Error::LoginRefused {
                target: master.server.clone(),
                credential: SecretVersion::Master,
                reason,
            });
        }
        let mut server = self.lock();
        let (a, b) = (current.username.clone(), pending.username.clone());
        let created = !server.users.contains_key(&b);
        if !created && !context.pair_established && !server.pairs.contains(&pair_key(&a, &b)) {
            return Err(Error::UnrelatedAlternateUser {
                target: pending.server.clone(),
                user: b,
                reason: "it was not created by a rotation".into(),
            });
        }
        let mut report = AlternateReport {
            created,
            ..AlternateReport::default()
        };
        // Current -> pending only: the live user is never granted anything.
        let grants_a = server.grants.get(&a).cloned().unwrap_or_default();
        let mut grants_b = server.grants.get(&b).cloned().unwrap_or_default();
        for privilege in grants_a.difference(&grants_b.clone()) {
            if server.ungrantable.contains(privilege) {
                report.unsynced.push(format!(
                    "{privilege}: held by {a}, the master may not grant it"
                ));
            } else {
                grants_b.insert(privilege.clone());
                report.synced.push(format!("granted {privilege} to {b}"));
            }
        }
        for privilege in grants_b.difference(&grants_a) {
            report
                .extra
                .push(format!("{privilege}: held by {b}, not by {a}"));
        }
        if context.parity == Parity::Enforce && !report.unsynced.is_empty() {
            return Err(Error::PrivilegeMismatch {
                target: pending.server.clone(),
                user: b,
                differences: report.unsynced,
            });
        }
        server.grants.insert(b.clone(), grants_b);
        server.pairs.insert(pair_key(&a, &b));
        server
            .users
            .insert(b, pending.password.expose_secret().to_owned());
        Ok(report)
    }
}

/// The pair of two user names, in a fixed order.
fn pair_key(a: &str, b: &str) -> (String, String) {
    if a <= b {
        (a.to_owned(), b.to_owned())
    } else {
        (b.to_owned(), a.to_owned())
    }
}
