//! `SHOW GRANTS` and `SHOW CREATE USER` rows: rewritten for the clone, and read into sets
//! that compare what two accounts hold.
//!
//! Names are backtick-quoted by the server (`` ` `` doubled) and string literals
//! single-quoted (`''` and `\\`), so the rows are split into tokens that keep quoted text
//! whole: a table called `` `x TO y` `` or a `REQUIRE SUBJECT '… TO …'` cannot fool the
//! rewrite.

use std::collections::BTreeMap;
use std::fmt;

/// One token of a row, with its byte span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A bare word (`GRANT`, `SELECT`, `*.*`, `@`, `.`).
    Word,
    /// `` `…` `` or `'…'`, quotes included.
    Quoted,
    Comma,
    Open,
    Close,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    kind: Kind,
    start: usize,
    end: usize,
}

fn tokens(row: &str) -> Vec<Token> {
    let b = row.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        let kind = match c {
            c if c.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            b',' => {
                i += 1;
                Kind::Comma
            }
            b'(' => {
                i += 1;
                Kind::Open
            }
            b')' => {
                i += 1;
                Kind::Close
            }
            b'`' | b'\'' => {
                i += 1;
                while i < b.len() {
                    if c == b'\'' && b[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if b[i] == c {
                        if b.get(i + 1) == Some(&c) {
                            i += 2;
                            continue;
                        }
                        i += 1;
                        break;
                    }
                    i += 1;
                }
                i = i.min(b.len());
                Kind::Quoted
            }
            _ => {
                while i < b.len()
                    && !b[i].is_ascii_whitespace()
                    && !matches!(b[i], b'`' | b'\'' | b',' | b'(' | b')')
                {
                    i += 1;
                }
                Kind::Word
            }
        };
        out.push(Token {
            kind,
            start,
            end: i,
        });
    }
    out
}

/// What a row grants, with whether it carries the grant (or admin) option.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Grant {
    /// A privilege on an object (`*.*`, `` `db`.* ``, `` PROCEDURE `db`.`p` ``), possibly
    /// on one column.
    Privilege {
        /// The privilege (`SELECT`, `ALL PRIVILEGES`, ...).
        privilege: String,
        /// The object, as the server prints it.
        object: String,
        /// The column, for column privileges.
        column: Option<String>,
    },
    /// A role granted to the account.
    Role(String),
    /// The account's default role.
    DefaultRole(String),
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Grant::Privilege {
                privilege,
                object,
                column: None,
            } => write!(f, "{privilege} ON {object}"),
            Grant::Privilege {
                privilege,
                object,
                column: Some(column),
            } => write!(f, "{privilege} ({column}) ON {object}"),
            Grant::Role(role) => write!(f, "role {role}"),
            Grant::DefaultRole(role) => write!(f, "default role {role}"),
        }
    }
}

/// What an account holds: each grant with its grant (or admin) option.
pub(crate) type Holdings = secret_rotor_db::parity::Holdings<Grant>;

/// Where the grantee sits in a row: the index of the `TO`/`FOR` token before it, and its
/// byte span.
fn find_grantee(row: &str, toks: &[Token], grantee: &str) -> Option<(usize, usize, usize)> {
    toks.iter().enumerate().find_map(|(k, t)| {
        let word = &row[t.start..t.end];
        let keyword = t.kind == Kind::Word
            && (word.eq_ignore_ascii_case("TO") || word.eq_ignore_ascii_case("FOR"));
        let next = toks.get(k + 1)?;
        (keyword && row[next.start..].starts_with(grantee)).then_some((
            k,
            next.start,
            next.start + grantee.len(),
        ))
    })
}

/// The upper-cased words after the grantee.
fn tail_words(row: &str, toks: &[Token], after: usize) -> Vec<String> {
    toks.iter()
        .filter(|t| t.start >= after && t.kind == Kind::Word)
        .map(|t| row[t.start..t.end].to_ascii_uppercase())
        .collect()
}

fn has_pair(words: &[String], a: &str, b: &str) -> bool {
    words.windows(2).any(|w| w[0] == a && w[1] == b)
}

/// A `SHOW GRANTS` row of `old` (a quoted `` `u`@`h` ``) rewritten for `new`, keeping only
/// `WITH GRANT OPTION` / `WITH ADMIN OPTION` after the grantee: never the old account's
/// `IDENTIFIED BY PASSWORD '*…'` (that would give the clone the old password), nor its
/// `REQUIRE` and limits (set from `SHOW CREATE USER`). `None` for a row about another
/// grantee.
pub(crate) fn rewrite_row(row: &str, old: &str, new: &str) -> Option<String> {
    let toks = tokens(row);
    let (_, start, end) = find_grantee(row, &toks, old)?;
    let words = tail_words(row, &toks, end);
    let mut out = format!("{}{new}", &row[..start]);
    if has_pair(&words, "GRANT", "OPTION") {
        out.push_str(" WITH GRANT OPTION");
    }
    if has_pair(&words, "ADMIN", "OPTION") {
        out.push_str(" WITH ADMIN OPTION");
    }
    Some(out)
}

/// What the `SHOW GRANTS` rows of `grantee` give it (`USAGE`, which every account has, is
/// left out).
pub(crate) fn holdings(rows: &[String], grantee: &str) -> Holdings {
    let mut held = Holdings::new();
    for row in rows {
        let toks = tokens(row);
        let Some((to, start, end)) = find_grantee(row, &toks, grantee) else {
            continue;
        };
        let words = tail_words(row, &toks, end);
        let first = toks
            .first()
            .map(|t| row[t.start..t.end].to_ascii_uppercase());
        if first.as_deref() == Some("SET") {
            // SET DEFAULT ROLE <role> FOR <grantee>
            let role_start = toks.get(3).map(|t| t.start).unwrap_or(start);
            let role = row[role_start..toks[to].start].trim().to_owned();
            held.insert(Grant::DefaultRole(role), false);
            continue;
        }
        let on = toks[..to]
            .iter()
            .position(|t| t.kind == Kind::Word && row[t.start..t.end].eq_ignore_ascii_case("ON"));
        match on {
            None => {
                let role = row[toks[0].end..toks[to].start].trim().to_owned();
                held.insert(Grant::Role(role), has_pair(&words, "ADMIN", "OPTION"));
            }
            Some(on) => {
                let option = has_pair(&words, "GRANT", "OPTION");
                let object = row[toks[on].end..toks[to].start].trim().to_owned();
                for (privilege, columns) in privileges(row, &toks[1..on]) {
                    if privilege == "USAGE" {
                        continue;
                    }
                    if columns.is_empty() {
                        held.insert(
                            Grant::Privilege {
                                privilege,
                                object: object.clone(),
                                column: None,
                            },
                            option,
                        );
                    } else {
                        for column in columns {
                            held.insert(
                                Grant::Privilege {
                                    privilege: privilege.clone(),
                                    object: object.clone(),
                                    column: Some(column),
                                },
                                option,
                            );
                        }
                    }
                }
            }
        }
    }
    held
}

/// `SELECT (`a`, `b`), INSERT, SHOW VIEW` → `[("SELECT", [a, b]), ("INSERT", []), ("SHOW VIEW", [])]`.
fn privileges(row: &str, toks: &[Token]) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut words: Vec<&str> = Vec::new();
    let mut columns = Vec::new();
    let mut depth = 0;
    let mut flush = |words: &mut Vec<&str>, columns: &mut Vec<String>| {
        if !words.is_empty() {
            out.push((
                words.join(" ").to_ascii_uppercase(),
                std::mem::take(columns),
            ));
            words.clear();
        }
    };
    for t in toks {
        let text = &row[t.start..t.end];
        match t.kind {
            Kind::Open => depth += 1,
            Kind::Close => depth -= 1,
            Kind::Comma if depth == 0 => flush(&mut words, &mut columns),
            Kind::Comma => {}
            _ if depth > 0 => columns.push(text.to_owned()),
            _ => words.push(text),
        }
    }
    flush(&mut words, &mut columns);
    out
}

pub(crate) use secret_rotor_db::parity::missing;

/// An account's TLS requirement and resource limits, from its `SHOW CREATE USER` row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AccountOptions {
    /// What follows `REQUIRE` (`SSL`, `X509`, `ISSUER '…' SUBJECT '…'`), or empty.
    pub(crate) require: String,
    /// `MAX_…` limits that are set (non-zero).
    pub(crate) limits: BTreeMap<String, String>,
    /// `ACCOUNT LOCK`: nobody can log in (not copied: a state, not a privilege).
    pub(crate) locked: bool,
}

/// The limits `ALTER USER … WITH` can set on both MySQL and MariaDB.
const LIMITS: [&str; 4] = [
    "MAX_QUERIES_PER_HOUR",
    "MAX_UPDATES_PER_HOUR",
    "MAX_CONNECTIONS_PER_HOUR",
    "MAX_USER_CONNECTIONS",
];

impl AccountOptions {
    /// Reads the options of `grantee` from its `SHOW CREATE USER` row.
    pub(crate) fn of_create_user(row: &str, grantee: &str) -> AccountOptions {
        let Some(at) = row.find(grantee) else {
            return AccountOptions::default();
        };
        let rest = &row[at + grantee.len()..];
        let toks = tokens(rest);
        let word =
            |t: &Token| (t.kind == Kind::Word).then(|| rest[t.start..t.end].to_ascii_uppercase());
        let mut options = AccountOptions::default();
        let mut clause: Option<String> = None;
        let mut require = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            let w = word(&toks[i]);
            match w.as_deref() {
                Some(k @ ("REQUIRE" | "WITH" | "ACCOUNT" | "IDENTIFIED"))
                    if !matches!(clause.as_deref(), Some("IDENTIFIED")) || k != "IDENTIFIED" =>
                {
                    clause = Some(k.to_owned());
                }
                Some("PASSWORD") if !(i > 0 && word(&toks[i - 1]).as_deref() == Some("BY")) => {
                    clause = Some("PASSWORD".to_owned());
                }
                _ => match clause.as_deref() {
                    Some("ACCOUNT") => options.locked |= w.as_deref() == Some("LOCK"),
                    Some("REQUIRE") => require.push(&rest[toks[i].start..toks[i].end]),
                    Some("WITH") => {
                        if let Some(name) = w.filter(|n| LIMITS.contains(&n.as_str()))
                            && let Some(value) = toks.get(i + 1)
                        {
                            let value = rest[value.start..value.end].to_owned();
                            if value != "0" {
                                options.limits.insert(name, value);
                            }
                            i += 1;
                        }
                    }
                    _ => {}
                },
            }
            i += 1;
        }
        let require = require.join(" ");
        if !require.eq_ignore_ascii_case("NONE") {
            options.require = require;
        }
        options
    }

    /// `REQUIRE … WITH …`: what makes another account's options these (every limit
    /// written, zero for none).
    pub(crate) fn alter_clause(&self) -> String {
        let require = if self.require.is_empty() {
            "NONE"
        } else {
            &self.require
        };
        let limits: Vec<String> = LIMITS
            .iter()
            .map(|name| {
                let value = self.limits.get(*name).map(String::as_str).unwrap_or("0");
                format!("{name} {value}")
            })
            .collect();
        format!("REQUIRE {require} WITH {}", limits.join(" "))
    }

    /// How `self` differs from `want`, in words.
    pub(crate) fn differences_from(&self, want: &AccountOptions) -> Vec<String> {
        let mut out = Vec::new();
        if self.require != want.require {
            let show = |r: &str| {
                if r.is_empty() {
                    "none".to_owned()
                } else {
                    r.to_owned()
                }
            };
            out.push(format!(
                "TLS requirement: has {}, needs {}",
                show(&self.require),
                show(&want.require)
            ));
        }
        if self.limits != want.limits {
            out.push(format!(
                "resource limits: has {:?}, needs {:?}",
                self.limits, want.limits
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = "`app`@`%`";
    const CLONE: &str = "`app_clone`@`%`";

    /// Rows as MariaDB 10.11 prints them (see the research notes).
    fn rows() -> Vec<String> {
        [
            "GRANT `role2` TO `app`@`%` WITH ADMIN OPTION",
            "GRANT `role` TO `app`@`%`",
            "GRANT RELOAD, PROCESS ON *.* TO `app`@`%` IDENTIFIED BY PASSWORD '*188A6AC94CC27B9ADFEFAA967572B2F9B389E952' REQUIRE SSL WITH MAX_QUERIES_PER_HOUR 100 MAX_USER_CONNECTIONS 7",
            "GRANT SELECT, INSERT, UPDATE ON `db`.* TO `app`@`%` WITH GRANT OPTION",
            "GRANT SELECT (`name`, `id`), UPDATE (`name`), DELETE ON `db`.`t1` TO `app`@`%`",
            "GRANT EXECUTE ON PROCEDURE `db`.`p1` TO `app`@`%`",
            "SET DEFAULT ROLE `role` FOR `app`@`%`",
        ]
        .map(str::to_owned)
        .to_vec()
    }

    #[test]
    fn rows_are_rewritten_without_the_old_credential() {
        let out: Vec<String> = rows()
            .iter()
            .filter_map(|r| rewrite_row(r, APP, CLONE))
            .collect();
        assert_eq!(
            out,
            [
                "GRANT `role2` TO `app_clone`@`%` WITH ADMIN OPTION",
                "GRANT `role` TO `app_clone`@`%`",
                "GRANT RELOAD, PROCESS ON *.* TO `app_clone`@`%`",
                "GRANT SELECT, INSERT, UPDATE ON `db`.* TO `app_clone`@`%` WITH GRANT OPTION",
                "GRANT SELECT (`name`, `id`), UPDATE (`name`), DELETE ON `db`.`t1` TO `app_clone`@`%`",
                "GRANT EXECUTE ON PROCEDURE `db`.`p1` TO `app_clone`@`%`",
                "SET DEFAULT ROLE `role` FOR `app_clone`@`%`",
            ]
        );
        // Quoted text that looks like a grantee is not the grantee.
        let old = "`q`@`%`";
        let row = "GRANT SELECT ON `x TO ``q``@``%``` .* TO `q`@`%` WITH GRANT OPTION";
        assert_eq!(
            rewrite_row(row, old, "`n`@`%`").unwrap(),
            "GRANT SELECT ON `x TO ``q``@``%``` .* TO `n`@`%` WITH GRANT OPTION"
        );
        let row = "GRANT USAGE ON *.* TO `q`@`%` REQUIRE SUBJECT '/CN=o''x\\\\y TO `q`@`%`'";
        assert_eq!(
            rewrite_row(row, old, "`n`@`%`").unwrap(),
            "GRANT USAGE ON *.* TO `n`@`%`"
        );
        assert_eq!(
            rewrite_row("GRANT USAGE ON *.* TO `other`@`%`", old, "`n`@`%`"),
            None
        );
    }

    #[test]
    fn holdings_compare_whatever_the_column_order() {
        let app = holdings(&rows(), APP);
        assert!(app.contains_key(&Grant::Role("`role2`".into())));
        assert!(app[&Grant::Role("`role2`".into())], "admin option");
        assert!(app.contains_key(&Grant::DefaultRole("`role`".into())));
        let reload = Grant::Privilege {
            privilege: "RELOAD".into(),
            object: "*.*".into(),
            column: None,
        };
        assert_eq!(app.get(&reload), Some(&false));
        let select_db = Grant::Privilege {
            privilege: "SELECT".into(),
            object: "`db`.*".into(),
            column: None,
        };
        assert_eq!(app.get(&select_db), Some(&true), "grant option");
        assert_eq!(app.len(), 2 + 1 + 2 + 3 + 4 + 1, "{app:#?}");
        // The clone's rows, columns in another order and one privilege short.
        let clone_rows: Vec<String> = rows()
            .iter()
            .filter_map(|r| rewrite_row(r, APP, CLONE))
            .map(|r| r.replace("(`name`, `id`)", "(`id`, `name`)"))
            .filter(|r| !r.contains("PROCEDURE"))
            .collect();
        let clone = holdings(&clone_rows, CLONE);
        let lacking = missing(&app, &clone);
        assert_eq!(lacking.len(), 1, "{lacking:?}");
        assert_eq!(lacking[0].0.to_string(), "EXECUTE ON PROCEDURE `db`.`p1`");
        assert!(missing(&clone, &app).is_empty());
    }

    #[test]
    fn account_options_come_from_show_create_user() {
        let row = "CREATE USER `app`@`%` IDENTIFIED BY PASSWORD '*188A' REQUIRE SSL WITH MAX_QUERIES_PER_HOUR 100 MAX_USER_CONNECTIONS 7";
        let o = AccountOptions::of_create_user(row, APP);
        assert_eq!(o.require, "SSL");
        assert_eq!(o.limits.len(), 2);
        assert_eq!(
            o.alter_clause(),
            "REQUIRE SSL WITH MAX_QUERIES_PER_HOUR 100 MAX_UPDATES_PER_HOUR 0 MAX_CONNECTIONS_PER_HOUR 0 MAX_USER_CONNECTIONS 7"
        );
        let subject = "CREATE USER `s`@`10.0.0.%` REQUIRE ISSUER '/CN=ca' SUBJECT '/CN=app' ACCOUNT LOCK PASSWORD EXPIRE INTERVAL 90 DAY";
        let o = AccountOptions::of_create_user(subject, "`s`@`10.0.0.%`");
        assert_eq!(o.require, "ISSUER '/CN=ca' SUBJECT '/CN=app'");
        assert!(o.limits.is_empty());
        assert!(o.locked, "ACCOUNT LOCK is read");
        assert!(!AccountOptions::of_create_user(row, APP).locked);
        let plain = AccountOptions::of_create_user(
            "CREATE USER `a`@`%` IDENTIFIED VIA ed25519 USING 'LIEv'",
            "`a`@`%`",
        );
        assert_eq!(plain, AccountOptions::default());
        assert_eq!(
            plain.alter_clause(),
            "REQUIRE NONE WITH MAX_QUERIES_PER_HOUR 0 MAX_UPDATES_PER_HOUR 0 MAX_CONNECTIONS_PER_HOUR 0 MAX_USER_CONNECTIONS 0"
        );
        assert_eq!(
            plain
                .differences_from(&AccountOptions::of_create_user(row, APP))
                .len(),
            2
        );
    }
}
