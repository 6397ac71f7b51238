//! The confused-deputy guards of setSecret: never apply a pending credential meant for
//! another user or server than the one the rotation is about.

use crate::error::{Error, Result, SecretVersion};
use crate::event::SecretId;
use crate::stage::SecretDescription;
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

/// Alternating users: `masterarn` must name another secret than the one rotated (by ARN,
/// name, or ARN without the random suffix).
pub(super) fn master_is_another_secret(
    master_id: &SecretId,
    secret_id: &SecretId,
    description: &SecretDescription,
) -> Result<()> {
    let master = master_id.as_str();
    let partial_arn = description
        .arn
        .strip_prefix(master)
        .is_some_and(|rest| rest.len() == 7 && rest.starts_with('-'));
    if master == secret_id.as_str()
        || master == description.arn
        || master == description.name
        || partial_arn
    {
        return Err(Error::MasterIsRotatedUser {
            reason: format!(
                "\"masterarn\" names the secret being rotated ({master}); it must name the \
                 secret of an administrator that is not one of the pair"
            ),
        });
    }
    Ok(())
}

/// Alternating users: the master's user must be neither user of the pair, or the rotation
/// would change the master's own password as the master (and lock it out).
pub(super) fn master_is_apart(
    master_user: Option<&str>,
    current: &str,
    pending: &str,
) -> Result<()> {
    match master_user {
        Some(user) if user == current || user == pending => Err(Error::MasterIsRotatedUser {
            reason: format!(
                "the master secret's user {user:?} is one of the pair being rotated \
                 ({current:?} / {pending:?}): use an administrator that is neither"
            ),
        }),
        _ => Ok(()),
    }
}
