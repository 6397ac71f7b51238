//! SQL text built client-side: the password statement, with the SCRAM verifier in place of
//! the password.

use postgres_protocol::escape::{escape_identifier, escape_literal};
use postgres_protocol::password::scram_sha_256;

/// The statement that sets `username`'s password to the SCRAM-SHA-256 verifier of
/// `password`: the clear password is not in it.
///
/// ```
/// let sql = secret_rotor_postgres::alter_role_sql("App \"Owner\"", "s3cret'pw");
/// assert!(sql.starts_with("ALTER ROLE \"App \"\"Owner\"\"\" PASSWORD 'SCRAM-SHA-256$4096:"));
/// assert!(!sql.contains("s3cret"));
/// ```
pub fn alter_role_sql(username: &str, password: &str) -> String {
    format!(
        "ALTER ROLE {} PASSWORD {}",
        escape_identifier(username),
        scram_literal(password)
    )
}

/// The SCRAM-SHA-256 verifier of `password` (new random salt), as an SQL literal.
pub(crate) fn scram_literal(password: &str) -> String {
    escape_literal(&scram_sha_256(password.as_bytes()))
}
