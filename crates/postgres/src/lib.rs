//! # secret-rotor-postgres
//!
//! The PostgreSQL target of secret-rotor, a drop-in for AWS's
//! `SecretsManagerRDSPostgreSQLRotationSingleUser` and `…MultiUser` templates with their
//! defects fixed:
//!
//! - the new password reaches the server only as a SCRAM-SHA-256 verifier computed
//!   client-side (`ALTER ROLE ... PASSWORD 'SCRAM-SHA-256$...'`): never in clear text, never
//!   in the server's statement log;
//! - identifiers and literals are escaped client-side (quotes, spaces, upper case,
//!   unicode are all fine);
//! - TLS is `verify-full` by default (certificate chain and host name), with a
//!   configurable CA bundle; plain text only when the secret says `"ssl": false`, and never
//!   as a silent fallback;
//! - every connection attempt is bounded by a timeout;
//! - alternating users keep both users' privileges in line every rotation.
//!
//! Configuration (environment, [`DbConfig`]): `TLS_CA_BUNDLE` (PEM file of trusted CAs;
//! default: the system's roots plus RDS's global bundle at `/opt/rds-ca/global-bundle.pem`
//! when the SAM template's layer put it there), `CONNECT_TIMEOUT_SECS` (default 5), plus
//! the core's `ROTATION_STRATEGY`, `PRIVILEGE_PARITY` and password variables. The secret
//! layout, TLS trust and connection failures are shared with the other database targets
//! (`secret-rotor-db`).
//!
//! The feature `testing` adds the `testing` module: a private PostgreSQL for tests and the
//! conformance suite's fixture for it.

mod alternate;
mod attributes;
mod connect;
mod credential;
mod privileges;
mod sql;
mod target;
#[cfg(feature = "testing")]
pub mod testing;

pub use credential::{ENGINES, MAX_IDENTIFIER_BYTES, PgCredential};
pub use secret_rotor_db::{DbConfig, TlsMode};
pub use sql::alter_role_sql;
pub use target::{DEFAULT_EXCLUDE_CHARACTERS, PostgresTarget};

/// The advisory lock (`pg_advisory_xact_lock`, held per database) under which the
/// alternate-user change runs. PostgreSQL fails concurrent `GRANT`s on one object ("tuple
/// concurrently updated"): scripts that grant on the same objects can take this lock too.
pub const ALTERNATE_SYNC_LOCK: i64 = 0x5345_4352_4f54; // "SECROT"
