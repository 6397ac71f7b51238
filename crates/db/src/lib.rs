//! # secret-rotor-db
//!
//! The engine-neutral plumbing of secret-rotor's database targets, so that each target
//! crate only speaks its database (as sqlx-core's `net/tls` serves every sqlx driver):
//!
//! - [`DbSecret`]: AWS's secret layout (`engine`, `host`, `port` as a number or a string,
//!   `username`, `password`, `dbname`, `ssl`), validated with errors that never quote the
//!   password;
//! - [`DbConfig`]: `TLS_CA_BUNDLE` and `CONNECT_TIMEOUT_SECS`;
//! - [`TrustedCas`]: which certificate authorities a verify-full connection trusts (the
//!   bundle, or the system's roots plus RDS's global bundle where the SAM layer puts it),
//!   as a rustls configuration or as certificates for drivers that build their own;
//! - [`failure`]: sorting a failed connection into `TargetUnreachable` and `TlsError` with
//!   the same words for every database (wrong CA, wrong host name, no TLS on the server);
//! - [`parity`]: comparing what the two users of an alternating pair hold;
//! - [`probe`]: the certificate a server presents, for `check`.
//!
//! Nothing here is specific to one database, and nothing here calls Secrets Manager.

mod config;
pub mod failure;
pub mod parity;
pub mod probe;
mod secret;
mod tls;

pub use config::DbConfig;
pub use secret::{DbSecret, Layout, TlsMode};
pub use tls::{RDS_CA_BUNDLE, TrustedCas};
