//! How a database target connects: the CA bundle and the connect timeout, from the
//! environment (the same variables for every database).

use std::path::PathBuf;
use std::time::Duration;

use secret_rotor::{Error, Result};

use crate::tls::RDS_CA_BUNDLE;

/// How a database target connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbConfig {
    /// PEM file of the CAs to trust (`TLS_CA_BUNDLE`); `None`: the system's roots plus
    /// `default_ca_bundle` when it exists.
    pub ca_bundle: Option<PathBuf>,
    /// Added to the system's roots when `ca_bundle` is `None` and the file exists:
    /// [`RDS_CA_BUNDLE`], where the SAM template's layer puts RDS's global bundle.
    pub default_ca_bundle: PathBuf,
    /// Bound on each connection attempt, TLS and authentication included
    /// (`CONNECT_TIMEOUT_SECS`, default 5).
    pub connect_timeout: Duration,
}

impl Default for DbConfig {
    fn default() -> Self {
        DbConfig {
            ca_bundle: None,
            default_ca_bundle: PathBuf::from(RDS_CA_BUNDLE),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

impl DbConfig {
    /// Reads `TLS_CA_BUNDLE` and `CONNECT_TIMEOUT_SECS` through `lookup`.
    ///
    /// ```
    /// use secret_rotor_db::DbConfig;
    /// let config = DbConfig::from_lookup(|k| (k == "CONNECT_TIMEOUT_SECS").then(|| "2.5".into()))?;
    /// assert_eq!(config.connect_timeout.as_millis(), 2500);
    /// assert!(DbConfig::from_lookup(|k| (k == "CONNECT_TIMEOUT_SECS").then(|| "0".into())).is_err());
    /// # Ok::<(), secret_rotor::Error>(())
    /// ```
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut config = DbConfig::default();
        if let Some(path) = lookup("TLS_CA_BUNDLE").filter(|p| !p.trim().is_empty()) {
            config.ca_bundle = Some(PathBuf::from(path));
        }
        if let Some(secs) = lookup("CONNECT_TIMEOUT_SECS").filter(|s| !s.trim().is_empty()) {
            let secs: f64 = secs
                .trim()
                .parse()
                .ok()
                .filter(|s: &f64| *s > 0.0 && *s <= 300.0)
                .ok_or_else(|| {
                    Error::config(
                        "CONNECT_TIMEOUT_SECS must be a number of seconds greater than 0 and at most 300",
                    )
                })?;
            config.connect_timeout = Duration::from_secs_f64(secs);
        }
        Ok(config)
    }

    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self> {
        DbConfig::from_lookup(|k| std::env::var(k).ok())
    }

    /// The PEM text of `TLS_CA_BUNDLE`, for drivers that take a bundle as it is; `None`
    /// when it is not set. An unreadable file is a `ConfigError` naming the variable.
    pub fn ca_bundle_pem(&self) -> Result<Option<Vec<u8>>> {
        self.ca_bundle
            .as_ref()
            .map(|path| {
                std::fs::read(path)
                    .map_err(|e| Error::config(format!("TLS_CA_BUNDLE {}: {e}", path.display())))
            })
            .transpose()
    }
}
