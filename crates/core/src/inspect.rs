//! What a target can tell about itself without changing anything, for `check` and
//! `rotate --dry-run`: the server's TLS certificate ([`Target::certificate`]) and what
//! alternating users would copy or refuse ([`Target::preview_alternate`]).
//!
//! [`Target::certificate`]: crate::Target::certificate
//! [`Target::preview_alternate`]: crate::Target::preview_alternate

/// The certificate a target's server presented, verified as a login verifies it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CertificateInfo {
    /// The subject's distinguished name (RFC 4514).
    pub subject: String,
    /// The issuer's distinguished name (RFC 4514).
    pub issuer: String,
    /// When it expires (RFC 3339, UTC).
    pub not_after: String,
    /// Whole days until then (negative once expired).
    pub days_left: i64,
}

/// A read-only check that could not be made (its stable error code and one line).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckFailure {
    /// The stable error code.
    pub code: String,
    /// The error, one line, never a secret.
    pub message: String,
}

impl From<&crate::Error> for CheckFailure {
    fn from(e: &crate::Error) -> Self {
        CheckFailure {
            code: e.code().to_owned(),
            message: e.headline(),
        }
    }
}
