//! # secret-rotor-mysql
//!
//! The MySQL / MariaDB target of secret-rotor, a drop-in for AWS's four MySQL and MariaDB
//! rotation templates (single user and multi user; RDS MySQL, Aurora MySQL, MariaDB):
//!
//! - the account's host part is the one the server says (`CURRENT_USER()` after logging
//!   in), never an assumed `'%'`; names are quoted as identifiers (`` `user`@`host` ``),
//!   which no `sql_mode` changes;
//! - the password statement is the server's own: on MariaDB, `SET PASSWORD FOR … = '*…'`
//!   with the `mysql_native_password` hash computed client-side (the clear password reaches
//!   no server log), or `PASSWORD(…)` for accounts of another plugin; on MySQL,
//!   `ALTER USER … IDENTIFIED BY …`; a server error about a statement that carries a
//!   password is reported by its code only (servers echo the statement);
//! - right after the change, a fresh login with the new password, and the old one put
//!   back when the server refuses it;
//! - alternating users: the clone is created locked, given the current user's grants, roles
//!   and TLS requirement (`SHOW GRANTS` rewritten for it), compared, and unlocked with its
//!   password last; never less than the current user, never a grant into the live user,
//!   never an unrelated existing account taken over;
//! - TLS `verify-full` by default through rustls, plain text only with `"ssl": false`.
//!
//! Configuration (environment, [`DbConfig`]): `TLS_CA_BUNDLE`, `CONNECT_TIMEOUT_SECS`, and
//! the core's `ROTATION_STRATEGY`, `PRIVILEGE_PARITY` and password variables
//! (`EXCLUDE_CHARACTERS` defaults to AWS's `/@"'\` for MySQL).
//!
//! The feature `testing` adds the `testing` module: a private MariaDB for tests and the
//! conformance suite's fixture for it.

mod account;
mod alternate;
mod connect;
mod credential;
mod grants;
mod password;
mod target;
#[cfg(feature = "testing")]
pub mod testing;

pub use credential::{ENGINES, MyCredential, max_username_chars};
pub use secret_rotor_db::{DbConfig, TlsMode};
pub use target::{DEFAULT_EXCLUDE_CHARACTERS, MysqlTarget};
