//! The statements that set a password, per server, with the password (or its hash)
//! written as a literal: MariaDB and MySQL cannot take it as a bound parameter.

use mysql_async::Value;
use sha1::{Digest, Sha1};

use crate::account::{Account, SessionFacts};

/// The `mysql_native_password` hash of `password`: `*` and the upper-case hex of
/// SHA1(SHA1(password)), as the server stores it. Set with it, the clear password reaches
/// no server log.
///
/// ```text
/// native_hash("password") == "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"
/// ```
pub(crate) fn native_hash(password: &str) -> String {
    let stage1 = Sha1::digest(password.as_bytes());
    let stage2 = Sha1::digest(stage1);
    let mut hash = String::with_capacity(41);
    hash.push('*');
    for byte in stage2 {
        hash.push_str(&format!("{byte:02X}"));
    }
    hash
}

/// `password` as an SQL string literal for this session (escaping depends on
/// `NO_BACKSLASH_ESCAPES`).
pub(crate) fn literal(password: &str, facts: &SessionFacts) -> String {
    Value::from(password).as_sql(facts.no_backslash_escapes)
}

/// How an account authenticates, as far as setting its password goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plugin {
    /// `mysql_native_password`: the hash can be set directly.
    Native,
    /// Anything else (`ed25519`, `caching_sha2_password`, ...).
    Other,
}

impl Plugin {
    /// Reads it from `SHOW CREATE USER` (`IDENTIFIED BY PASSWORD '*…'` is native).
    pub(crate) fn of_create_user(row: &str) -> Plugin {
        if row.contains("IDENTIFIED BY PASSWORD '*") {
            Plugin::Native
        } else {
            Plugin::Other
        }
    }
}

/// The statement a session runs to set its own account's password.
///
/// - MariaDB, native account: `SET PASSWORD FOR acct = '*hash'` (allowed for oneself; the
///   clear password is in no log);
/// - MariaDB, other plugin: `SET PASSWORD FOR acct = PASSWORD(literal)` (keeps the plugin;
///   the binary log gets the hash, the general log the statement);
/// - MySQL: `ALTER USER acct IDENTIFIED BY literal` (MySQL rewrites it in its logs).
pub(crate) fn set_own_password(
    account: &Account,
    facts: &SessionFacts,
    plugin: Plugin,
    password: &str,
) -> String {
    let acct = account.quoted();
    match (facts.mariadb, plugin) {
        (true, Plugin::Native) => format!("SET PASSWORD FOR {acct} = '{}'", native_hash(password)),
        (true, Plugin::Other) => {
            format!(
                "SET PASSWORD FOR {acct} = PASSWORD({})",
                literal(password, facts)
            )
        }
        (false, _) => format!(
            "ALTER USER {acct} IDENTIFIED BY {}",
            literal(password, facts)
        ),
    }
}

/// `IDENTIFIED BY …` for a master creating or changing another account: the hash on
/// MariaDB (`IDENTIFIED BY PASSWORD '*…'`), the literal on MySQL.
pub(crate) fn identified_by(facts: &SessionFacts, password: &str) -> String {
    if facts.mariadb {
        format!("IDENTIFIED BY PASSWORD '{}'", native_hash(password))
    } else {
        format!("IDENTIFIED BY {}", literal(password, facts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(mariadb: bool, nbe: bool) -> SessionFacts {
        SessionFacts {
            account: Account::parse("app@%").unwrap(),
            mariadb,
            no_backslash_escapes: nbe,
        }
    }

    #[test]
    fn the_native_hash_is_the_servers() {
        // SELECT PASSWORD('password') on MariaDB 10.11.
        assert_eq!(
            native_hash("password"),
            "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"
        );
    }

    #[test]
    fn statements_per_server_and_plugin() {
        let acct = Account::parse("o'k@%").unwrap();
        let pw = "p'w\\x";
        let native = set_own_password(&acct, &facts(true, false), Plugin::Native, pw);
        assert!(
            native.starts_with("SET PASSWORD FOR `o'k`@`%` = '*"),
            "{native}"
        );
        assert!(!native.contains(pw));
        let other = set_own_password(&acct, &facts(true, false), Plugin::Other, pw);
        assert_eq!(other, "SET PASSWORD FOR `o'k`@`%` = PASSWORD('p\\'w\\\\x')");
        let nbe = set_own_password(&acct, &facts(true, true), Plugin::Other, pw);
        assert_eq!(nbe, "SET PASSWORD FOR `o'k`@`%` = PASSWORD('p''w\\x')");
        let mysql = set_own_password(&acct, &facts(false, false), Plugin::Native, pw);
        assert!(
            mysql.starts_with("ALTER USER `o'k`@`%` IDENTIFIED BY '"),
            "{mysql}"
        );
        assert!(identified_by(&facts(true, false), pw).starts_with("IDENTIFIED BY PASSWORD '*"));
        assert_eq!(
            Plugin::of_create_user("CREATE USER `a`@`%` IDENTIFIED BY PASSWORD '*AB' REQUIRE SSL"),
            Plugin::Native
        );
        assert_eq!(
            Plugin::of_create_user("CREATE USER `a`@`%` IDENTIFIED VIA ed25519 USING 'x'"),
            Plugin::Other
        );
    }
}
