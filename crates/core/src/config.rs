//! What the function is configured to do, read once from the environment.

use crate::error::{Error, Result};
use crate::password::PasswordPolicy;
use crate::target::{Parity, Strategy, Target};

/// The environment variable that picks the [`Strategy`] (`single-user` by default).
pub const ROTATION_STRATEGY: &str = "ROTATION_STRATEGY";
/// The environment variable that picks the [`Parity`] of alternating users (`enforce` by
/// default).
pub const PRIVILEGE_PARITY: &str = "PRIVILEGE_PARITY";

/// The rotation function's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationConfig {
    /// Single user or alternating users.
    pub strategy: Strategy,
    /// How new passwords are generated.
    pub password: PasswordPolicy,
    /// Alternating users: fail, or only report, when the pending user cannot be given all
    /// that the current user holds.
    pub parity: Parity,
}

impl RotationConfig {
    /// Reads the configuration from the process environment.
    pub fn from_env<T: Target>(target: &T) -> Result<Self> {
        RotationConfig::from_lookup(|k| std::env::var(k).ok(), target)
    }

    /// Reads the configuration through `lookup` and checks it against what `target` can
    /// do, so that an impossible configuration fails before anything changes.
    pub fn from_lookup<T: Target>(
        lookup: impl Fn(&str) -> Option<String>,
        target: &T,
    ) -> Result<Self> {
        let strategy = match lookup(ROTATION_STRATEGY) {
            Some(s) if !s.trim().is_empty() => s.parse()?,
            _ => Strategy::SingleUser,
        };
        let parity = match lookup(PRIVILEGE_PARITY) {
            Some(s) if !s.trim().is_empty() => s.parse()?,
            _ => Parity::default(),
        };
        let config = RotationConfig {
            strategy,
            password: PasswordPolicy::from_lookup(
                lookup,
                target.info().default_exclude_characters,
            )?,
            parity,
        };
        config.check(target)?;
        Ok(config)
    }

    /// The default configuration for `target`: single user, AWS's password defaults.
    pub fn defaults<T: Target>(target: &T) -> Self {
        RotationConfig {
            strategy: Strategy::SingleUser,
            password: PasswordPolicy::with_excluded(target.info().default_exclude_characters),
            parity: Parity::default(),
        }
    }

    /// Refuses a strategy the target does not declare, and impossible password options.
    pub fn check<T: Target>(&self, target: &T) -> Result<()> {
        let info = target.info();
        if !info.capabilities.supports(self.strategy) {
            return Err(Error::unsupported_strategy(&info, self.strategy));
        }
        self.password.validate()
    }
}
