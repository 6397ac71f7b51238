//! New passwords, with the options and defaults of AWS's `GetRandomPassword` as the AWS
//! rotation templates configure it (same environment variables).

use rand::seq::{IndexedRandom, SliceRandom};
use secrecy::SecretString;

use crate::error::{Error, Result};

/// AWS's punctuation set for `GetRandomPassword`.
pub const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
const LOWERCASE: &str = "abcdefghijklmnopqrstuvwxyz";
const UPPERCASE: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const NUMBERS: &str = "0123456789";
/// The longest password `GetRandomPassword` makes.
pub const MAX_LENGTH: usize = 4096;

/// How to generate new passwords.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// `PASSWORD_LENGTH` (default 32; 1 to 4096).
    pub length: usize,
    /// `EXCLUDE_CHARACTERS` (default: the target's, e.g. `:/@"'\` for PostgreSQL).
    pub exclude_characters: String,
    /// `EXCLUDE_NUMBERS` (default false).
    pub exclude_numbers: bool,
    /// `EXCLUDE_PUNCTUATION` (default false).
    pub exclude_punctuation: bool,
    /// `EXCLUDE_UPPERCASE` (default false).
    pub exclude_uppercase: bool,
    /// `EXCLUDE_LOWERCASE` (default false).
    pub exclude_lowercase: bool,
    /// `REQUIRE_EACH_INCLUDED_TYPE` (default true).
    pub require_each_included_type: bool,
}

impl PasswordPolicy {
    /// AWS's defaults, with the target's excluded characters.
    pub fn with_excluded(exclude_characters: &str) -> Self {
        PasswordPolicy {
            length: 32,
            exclude_characters: exclude_characters.to_owned(),
            exclude_numbers: false,
            exclude_punctuation: false,
            exclude_uppercase: false,
            exclude_lowercase: false,
            require_each_included_type: true,
        }
    }

    /// Reads the AWS variables through `lookup` (e.g. `std::env::var`), starting from the
    /// defaults, and validates the result. Booleans are `true|1|y|yes` or `false|0|n|no`,
    /// any case; anything else is an error naming the variable.
    ///
    /// ```
    /// use secret_rotor::PasswordPolicy;
    ///
    /// let env = |k: &str| (k == "PASSWORD_LENGTH").then(|| "20".to_owned());
    /// let policy = PasswordPolicy::from_lookup(env, ":/@\"'\\")?;
    /// assert_eq!(policy.length, 20);
    /// let bad = |k: &str| (k == "EXCLUDE_NUMBERS").then(|| "maybe".to_owned());
    /// assert!(PasswordPolicy::from_lookup(bad, "").is_err());
    /// # Ok::<(), secret_rotor::Error>(())
    /// ```
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        default_excluded: &str,
    ) -> Result<Self> {
        let mut policy = PasswordPolicy::with_excluded(default_excluded);
        if let Some(chars) = lookup("EXCLUDE_CHARACTERS") {
            policy.exclude_characters = chars;
        }
        if let Some(len) = lookup("PASSWORD_LENGTH") {
            policy.length = len.trim().parse().map_err(|_| {
                Error::config(format!(
                    "PASSWORD_LENGTH must be a whole number from 1 to {MAX_LENGTH}"
                ))
            })?;
        }
        let flag = |name: &str, default: bool| -> Result<bool> {
            match lookup(name) {
                None => Ok(default),
                Some(v) => parse_bool(&v).ok_or_else(|| {
                    Error::config(format!("{name} must be true/false (or 1/0, yes/no, y/n)"))
                }),
            }
        };
        policy.exclude_numbers = flag("EXCLUDE_NUMBERS", false)?;
        policy.exclude_punctuation = flag("EXCLUDE_PUNCTUATION", false)?;
        policy.exclude_uppercase = flag("EXCLUDE_UPPERCASE", false)?;
        policy.exclude_lowercase = flag("EXCLUDE_LOWERCASE", false)?;
        policy.require_each_included_type = flag("REQUIRE_EACH_INCLUDED_TYPE", true)?;
        policy.validate()?;
        Ok(policy)
    }

    fn classes(&self) -> Vec<Vec<char>> {
        [
            (self.exclude_lowercase, LOWERCASE),
            (self.exclude_uppercase, UPPERCASE),
            (self.exclude_numbers, NUMBERS),
            (self.exclude_punctuation, PUNCTUATION),
        ]
        .into_iter()
        .filter(|(excluded, _)| !excluded)
        .map(|(_, set)| {
            set.chars()
                .filter(|c| !self.exclude_characters.contains(*c))
                .collect::<Vec<_>>()
        })
        .filter(|class| !class.is_empty())
        .collect()
    }

    /// Checks that passwords can be made with these options.
    pub fn validate(&self) -> Result<()> {
        if !(1..=MAX_LENGTH).contains(&self.length) {
            return Err(Error::config(format!(
                "PASSWORD_LENGTH must be from 1 to {MAX_LENGTH}, not {}",
                self.length
            )));
        }
        let classes = self.classes();
        if classes.is_empty() {
            return Err(Error::config(
                "the EXCLUDE_* options and EXCLUDE_CHARACTERS leave no character to make a password from",
            ));
        }
        if self.require_each_included_type && self.length < classes.len() {
            return Err(Error::config(format!(
                "PASSWORD_LENGTH {} is too short to hold one character of each of the {} included types",
                self.length,
                classes.len()
            )));
        }
        Ok(())
    }

    /// A new random password (from the operating system's CSPRNG via `rand`).
    pub fn generate(&self) -> Result<SecretString> {
        self.validate()?;
        let classes = self.classes();
        let pool: Vec<char> = classes.iter().flatten().copied().collect();
        let mut rng = rand::rng();
        let mut chars: Vec<char> = Vec::with_capacity(self.length);
        if self.require_each_included_type {
            for class in &classes {
                chars.push(*class.choose(&mut rng).expect("classes are non-empty"));
            }
        }
        while chars.len() < self.length {
            chars.push(*pool.choose(&mut rng).expect("pool is non-empty"));
        }
        chars.shuffle(&mut rng);
        Ok(SecretString::from(chars.into_iter().collect::<String>()))
    }
}

/// Parses a boolean environment value the way AWS's templates accept it, strictly.
pub(crate) fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "y" | "yes" => Some(true),
        "false" | "0" | "n" | "no" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn policy(vars: &[(&str, &str)]) -> Result<PasswordPolicy> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        PasswordPolicy::from_lookup(
            |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()),
            ":/@\"'\\",
        )
    }

    #[test]
    fn defaults_match_aws() {
        let p = policy(&[]).unwrap();
        assert_eq!(p.length, 32);
        assert!(p.require_each_included_type);
        for _ in 0..200 {
            let pw = p.generate().unwrap();
            let pw = pw.expose_secret();
            assert_eq!(pw.chars().count(), 32);
            assert!(!pw.contains([':', '/', '@', '"', '\'', '\\']), "{pw}");
            assert!(pw.chars().any(|c| c.is_ascii_lowercase()));
            assert!(pw.chars().any(|c| c.is_ascii_uppercase()));
            assert!(pw.chars().any(|c| c.is_ascii_digit()));
            assert!(pw.chars().any(|c| c.is_ascii_punctuation()));
        }
    }

    #[test]
    fn exclusions_are_honoured() {
        let p = policy(&[
            ("EXCLUDE_PUNCTUATION", "Yes"),
            ("EXCLUDE_UPPERCASE", "1"),
            ("EXCLUDE_CHARACTERS", "abc"),
            ("PASSWORD_LENGTH", "64"),
        ])
        .unwrap();
        for _ in 0..100 {
            let pw = p.generate().unwrap();
            assert_eq!(pw.expose_secret().len(), 64);
            assert!(
                pw.expose_secret()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            );
            assert!(!pw.expose_secret().contains(['a', 'b', 'c']));
        }
        let digits = policy(&[
            ("EXCLUDE_PUNCTUATION", "y"),
            ("EXCLUDE_UPPERCASE", "y"),
            ("EXCLUDE_LOWERCASE", "y"),
        ])
        .unwrap();
        assert!(
            digits
                .generate()
                .unwrap()
                .expose_secret()
                .chars()
                .all(|c| c.is_ascii_digit())
        );
    }

    #[test]
    fn impossible_or_malformed_options_are_clear_errors() {
        for vars in [
            vec![("PASSWORD_LENGTH", "0")],
            vec![("PASSWORD_LENGTH", "4097")],
            vec![("PASSWORD_LENGTH", "ten")],
            vec![("PASSWORD_LENGTH", "3")],
            vec![("EXCLUDE_NUMBERS", "treu")],
            vec![
                ("EXCLUDE_NUMBERS", "true"),
                ("EXCLUDE_PUNCTUATION", "true"),
                ("EXCLUDE_UPPERCASE", "true"),
                ("EXCLUDE_LOWERCASE", "true"),
            ],
        ] {
            let err = policy(&vars).unwrap_err();
            assert_eq!(err.code(), "ConfigError", "{vars:?}");
        }
        // Three characters fit when only three types remain.
        assert!(policy(&[("PASSWORD_LENGTH", "3"), ("EXCLUDE_PUNCTUATION", "true")]).is_ok());
        // Without the requirement any length works.
        assert!(
            policy(&[
                ("PASSWORD_LENGTH", "1"),
                ("REQUIRE_EACH_INCLUDED_TYPE", "false")
            ])
            .is_ok()
        );
    }

    #[test]
    fn every_punctuation_character_can_appear() {
        let p = PasswordPolicy {
            length: 4096,
            ..PasswordPolicy::with_excluded("")
        };
        let pw = p.generate().unwrap();
        for c in PUNCTUATION.chars() {
            assert!(
                pw.expose_secret().contains(c),
                "{c} never drawn in 4096 characters"
            );
        }
    }
}
