//! Role attributes (`SUPERUSER`, `CREATEROLE`, `INHERIT`, `CONNECTION LIMIT`, ...): what
//! privilege parity compares besides grants.

use postgres_protocol::escape::escape_literal;
use tokio_postgres::GenericClient;

/// A role's attributes, as far as parity is concerned (`LOGIN` is always set on the
/// pending role; `PASSWORD` is the rotation's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attributes {
    flags: [(Flag, bool); 6],
    connection_limit: i32,
    /// `rolvaliduntil` as text; `None` for never (`NULL` or `infinity`).
    valid_until: Option<String>,
}

/// A boolean attribute; holding it always gives more power (`INHERIT` too: it lets a role
/// use what it is a member of).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Flag {
    /// As `ALTER ROLE` spells it.
    name: &'static str,
    /// Its `pg_roles` column.
    column: &'static str,
}

const FLAGS: [Flag; 6] = [
    Flag {
        name: "SUPERUSER",
        column: "rolsuper",
    },
    Flag {
        name: "CREATEROLE",
        column: "rolcreaterole",
    },
    Flag {
        name: "CREATEDB",
        column: "rolcreatedb",
    },
    Flag {
        name: "REPLICATION",
        column: "rolreplication",
    },
    Flag {
        name: "BYPASSRLS",
        column: "rolbypassrls",
    },
    Flag {
        name: "INHERIT",
        column: "rolinherit",
    },
];

/// One `ALTER ROLE … WITH <sql>` that brings an attribute in line.
pub(crate) struct Change {
    /// The attribute (`SUPERUSER`, `CONNECTION LIMIT`, ...).
    pub(crate) name: &'static str,
    /// What follows `WITH`.
    pub(crate) sql: String,
}

/// How one attribute differs.
pub(crate) struct Difference {
    /// The attribute.
    pub(crate) name: &'static str,
    /// `has X, needs Y`.
    pub(crate) detail: String,
    /// Whether the role has more power than wanted (rather than less).
    pub(crate) stronger: bool,
}

impl Attributes {
    /// Reads `role`'s attributes.
    pub(crate) async fn of<C: GenericClient>(
        client: &C,
        role: &str,
    ) -> Result<Attributes, tokio_postgres::Error> {
        let columns: Vec<&str> = FLAGS.iter().map(|f| f.column).collect();
        let sql = format!(
            "SELECT {}, rolconnlimit, rolvaliduntil::text FROM pg_roles WHERE rolname = $1",
            columns.join(", ")
        );
        let row = client.query_one(&sql, &[&role]).await?;
        let mut flags = FLAGS.map(|f| (f, false));
        for (i, (_, value)) in flags.iter_mut().enumerate() {
            *value = row.get(i);
        }
        let valid_until: Option<String> = row.get(FLAGS.len() + 1);
        Ok(Attributes {
            flags,
            connection_limit: row.get(FLAGS.len()),
            valid_until: valid_until.filter(|v| v != "infinity"),
        })
    }

    /// The statements that make these attributes `want`'s.
    pub(crate) fn changes_to(&self, want: &Attributes) -> Vec<Change> {
        let mut changes = Vec::new();
        for ((flag, has), (_, wanted)) in self.flags.iter().zip(&want.flags) {
            if has != wanted {
                let no = if *wanted { "" } else { "NO" };
                changes.push(Change {
                    name: flag.name,
                    sql: format!("{no}{}", flag.name),
                });
            }
        }
        if self.connection_limit != want.connection_limit {
            changes.push(Change {
                name: "CONNECTION LIMIT",
                sql: format!("CONNECTION LIMIT {}", want.connection_limit),
            });
        }
        if self.valid_until != want.valid_until {
            let until = want.valid_until.as_deref().unwrap_or("infinity");
            changes.push(Change {
                name: "VALID UNTIL",
                sql: format!("VALID UNTIL {}", escape_literal(until)),
            });
        }
        changes
    }

    /// How these attributes differ from `want`'s.
    pub(crate) fn differences_from(&self, want: &Attributes) -> Vec<Difference> {
        let mut differences = Vec::new();
        for ((flag, has), (_, wanted)) in self.flags.iter().zip(&want.flags) {
            if has != wanted {
                let show = |on: bool| {
                    if on {
                        flag.name.to_owned()
                    } else {
                        format!("NO{}", flag.name)
                    }
                };
                differences.push(Difference {
                    name: flag.name,
                    detail: format!("has {}, needs {}", show(*has), show(*wanted)),
                    stronger: *has,
                });
            }
        }
        if self.connection_limit != want.connection_limit {
            let unlimited = |n: i32| n < 0;
            let stronger = unlimited(self.connection_limit)
                || (!unlimited(want.connection_limit)
                    && self.connection_limit > want.connection_limit);
            differences.push(Difference {
                name: "CONNECTION LIMIT",
                detail: format!(
                    "has {}, needs {}",
                    self.connection_limit, want.connection_limit
                ),
                stronger,
            });
        }
        if self.valid_until != want.valid_until {
            // Same session, same time zone: the texts compare as the times do.
            let stronger = match (&self.valid_until, &want.valid_until) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(has), Some(wanted)) => has > wanted,
            };
            let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "never expires".into());
            differences.push(Difference {
                name: "VALID UNTIL",
                detail: format!(
                    "has {}, needs {}",
                    show(&self.valid_until),
                    show(&want.valid_until)
                ),
                stronger,
            });
        }
        differences
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(on: &[&str], limit: i32, until: Option<&str>) -> Attributes {
        Attributes {
            flags: FLAGS.map(|f| (f, on.contains(&f.name))),
            connection_limit: limit,
            valid_until: until.map(str::to_owned),
        }
    }

    #[test]
    fn stronger_and_weaker_are_told_apart() {
        let current = attrs(&["INHERIT", "CREATEDB"], 10, Some("2030-01-01 00:00:00+00"));
        let pending = attrs(&["INHERIT", "SUPERUSER"], -1, None);
        let d = pending.differences_from(&current);
        let by_name = |n: &str| d.iter().find(|x| x.name == n).unwrap().stronger;
        assert!(
            by_name("SUPERUSER"),
            "superuser on pending only is stronger"
        );
        assert!(!by_name("CREATEDB"), "a missing CREATEDB is weaker");
        assert!(by_name("CONNECTION LIMIT"), "unlimited is stronger than 10");
        assert!(by_name("VALID UNTIL"), "never expiring is stronger");
        let noinherit = attrs(&[], 10, Some("2030-01-01 00:00:00+00"));
        let d =
            noinherit.differences_from(&attrs(&["INHERIT"], 10, Some("2030-01-01 00:00:00+00")));
        assert_eq!(d.len(), 1);
        assert!(!d[0].stronger, "NOINHERIT is weaker");
        let sql: Vec<String> = pending
            .changes_to(&current)
            .into_iter()
            .map(|c| c.sql)
            .collect();
        assert_eq!(
            sql,
            [
                "NOSUPERUSER",
                "CREATEDB",
                "CONNECTION LIMIT 10",
                "VALID UNTIL '2030-01-01 00:00:00+00'"
            ]
        );
        assert!(current.changes_to(&current).is_empty());
    }
}
