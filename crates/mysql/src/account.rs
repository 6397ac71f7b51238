//! Accounts (`user`@`host`) and what a session says about its server.

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use secret_rotor::{Error, Result};

use crate::connect::statement_error;

/// An account: a user name and the host part the server matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Account {
    pub(crate) user: String,
    pub(crate) host: String,
}

impl Account {
    /// Parses `CURRENT_USER()` (`user@host`): host names cannot hold `@`, user names can,
    /// so the split is at the last one.
    pub(crate) fn parse(current_user: &str) -> Option<Account> {
        let (user, host) = current_user.rsplit_once('@')?;
        Some(Account {
            user: user.to_owned(),
            host: host.to_owned(),
        })
    }

    /// `` `user`@`host` ``, as `SHOW GRANTS` prints it: identifiers, which mean the same
    /// whatever the `sql_mode` (unlike string literals).
    pub(crate) fn quoted(&self) -> String {
        format!("{}@{}", ident(&self.user), ident(&self.host))
    }

    /// The same host, another user.
    pub(crate) fn with_user(&self, user: &str) -> Account {
        Account {
            user: user.to_owned(),
            host: self.host.clone(),
        }
    }
}

/// An identifier quoted with backticks (a backtick doubled).
pub(crate) fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// What a session learns about its server and itself in one round trip.
#[derive(Debug, Clone)]
pub(crate) struct SessionFacts {
    /// The account the server matched for this session.
    pub(crate) account: Account,
    /// MariaDB (its own password statements) rather than MySQL.
    pub(crate) mariadb: bool,
    /// `NO_BACKSLASH_ESCAPES` is in the session's `sql_mode` (string literals differ).
    pub(crate) no_backslash_escapes: bool,
}

impl SessionFacts {
    /// Reads `CURRENT_USER()`, `VERSION()` and the `sql_mode`.
    pub(crate) async fn read(conn: &mut Conn, server: &str) -> Result<SessionFacts> {
        let row: Option<(String, String, i64)> = conn
            .query_first(
                "SELECT CURRENT_USER(), VERSION(), @@SESSION.sql_mode LIKE '%NO_BACKSLASH_ESCAPES%'",
            )
            .await
            .map_err(|e| statement_error(server, "reading the session's account", e))?;
        let (current_user, version, nbe) = row.ok_or_else(|| Error::Target {
            target: server.to_owned(),
            reason: "the server answered no row to SELECT CURRENT_USER()".into(),
            retryable: false,
            source: None,
        })?;
        let account = Account::parse(&current_user).ok_or_else(|| Error::Target {
            target: server.to_owned(),
            reason: format!("CURRENT_USER() is {current_user:?}, not user@host"),
            retryable: false,
            source: None,
        })?;
        Ok(SessionFacts {
            account,
            mariadb: version.to_ascii_lowercase().contains("mariadb"),
            no_backslash_escapes: nbe == 1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_split_at_the_last_at_and_quote_as_identifiers() {
        let a = Account::parse("a@b`c@127.0.0.1").unwrap();
        assert_eq!((a.user.as_str(), a.host.as_str()), ("a@b`c", "127.0.0.1"));
        assert_eq!(a.quoted(), "`a@b``c`@`127.0.0.1`");
        assert_eq!(
            Account::parse("app@%")
                .unwrap()
                .with_user("app_clone")
                .quoted(),
            "`app_clone`@`%`"
        );
        assert!(Account::parse("no-host").is_none());
    }
}
