//! A reference [`Target`] kept in memory: a user table on a pretend server.
//!
//! It is the model of what a target must do, and lets the core's state machine and the
//! fault-injection machinery be tested without a database. Real targets run the same
//! suites against their real servers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use secrecy::{ExposeSecret, SecretString};
use secret_rotor::{
    AlternateReport, Capabilities, Credential, Error, Login, Result, SecretValue, SecretVersion,
    Strategy, Target, TargetInfo,
};

/// A credential of the [`MemoryTarget`].
#[derive(Debug, Clone)]
pub struct MemoryCredential {
    username: String,
    server: String,
    password: SecretString,
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
    reachable: bool,
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
                users: BTreeMap::new(),
                grants: BTreeMap::new(),
                reachable: true,
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

    fn check(&self, credential: &MemoryCredential) -> Result<Login> {
        let server = self.lock();
        if !server.reachable {
            return Err(Error::Unreachable {
                target: credential.server.clone(),
                reason: "connection refused".into(),
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
        Ok(MemoryCredential {
            username: username.to_owned(),
            server: secret.str("host").unwrap_or("memory").to_owned(),
            password: password.clone(),
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
    ) -> Result<AlternateReport> {
        if let Login::Refused { reason } = self.check(master)? {
            return Err(Error::LoginRefused {
                target: master.server.clone(),
                credential: SecretVersion::Master,
                reason,
            });
        }
        let mut server = self.lock();
        let mut report = AlternateReport {
            created: !server.users.contains_key(&pending.username),
            ..AlternateReport::default()
        };
        let (a, b) = (current.username.clone(), pending.username.clone());
        let grants_a = server.grants.get(&a).cloned().unwrap_or_default();
        let grants_b = server.grants.get(&b).cloned().unwrap_or_default();
        for (to, missing) in [
            (&b, grants_a.difference(&grants_b)),
            (&a, grants_b.difference(&grants_a)),
        ] {
            for privilege in missing {
                report.synced.push(format!("granted {privilege} to {to}"));
            }
        }
        let union: BTreeSet<String> = grants_a.union(&grants_b).cloned().collect();
        server.grants.insert(a, union.clone());
        server.grants.insert(b.clone(), union);
        server
            .users
            .insert(b, pending.password.expose_secret().to_owned());
        Ok(report)
    }
}
