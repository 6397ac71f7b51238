//! The confused-deputy guards of setSecret: never apply a pending credential meant for
//! another user or server than the one the rotation is about.

use crate::error::{Error, Result, SecretVersion};
use crate::target::Credential;

/// Single user: `other` (current or previous) and pending name the same user and server.
pub(super) fn same_account<C: Credential>(
    other: &C,
    pending: &C,
    label: SecretVersion,
) -> Result<()> {
    if other.username() != pending.username() {
        return Err(Error::CredentialMismatch {
            reason: format!(
                "AWSPENDING is for user {:?} but {label} is for user {:?}",
                pending.username(),
                other.username()
            ),
        });
    }
    same_server(other, pending, label)
}

/// Alternating users: pending names the other user of current's pair, on the same server.
pub(super) fn alternate_account<C: Credential>(
    current: &C,
    pending: &C,
    alternate: &str,
) -> Result<()> {
    if pending.username() != alternate {
        return Err(Error::CredentialMismatch {
            reason: format!(
                "AWSPENDING is for user {:?} but the alternate of AWSCURRENT's user {:?} is {alternate:?}",
                pending.username(),
                current.username()
            ),
        });
    }
    same_server(current, pending, SecretVersion::Current)
}

fn same_server<C: Credential>(other: &C, pending: &C, label: SecretVersion) -> Result<()> {
    if other.server() != pending.server() {
        return Err(Error::CredentialMismatch {
            reason: format!(
                "AWSPENDING is for server {} but {label} is for server {}",
                pending.server(),
                other.server()
            ),
        });
    }
    Ok(())
}
