//! The privileges of a role that matter to an application, read from the catalogs, and
//! the statements that grant them to another role.
//!
//! Object names are quoted by the server (`format('%I')`), so the same object reads the
//! same for both users of a pair and the statements are safe to run as they are.

use std::fmt;

use postgres_protocol::escape::escape_identifier;
use tokio_postgres::GenericClient;

/// One thing a role holds, without the grant option (the key of a comparison).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Privilege {
    kind: Kind,
    /// The object, quoted (or the `FOR ROLE … IN SCHEMA …` part of a default).
    object: String,
    /// `SELECT`, `USAGE`, `EXECUTE`, ... (`MEMBER` for a role membership).
    privilege: String,
    /// Defaults: the object type (`TABLES`, ...).
    object_type: String,
    /// The role's own defaults: who they grant to.
    grantee: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Kind {
    Database,
    Schema,
    Table,
    Sequence,
    Routine,
    /// Membership in another role.
    Member,
    /// Default privileges another role's new objects give to this role.
    DefaultFor,
    /// Default privileges this role's new objects give to others.
    DefaultOwn,
}

impl Kind {
    fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "DATABASE" => Kind::Database,
            "SCHEMA" => Kind::Schema,
            "TABLE" => Kind::Table,
            "SEQUENCE" => Kind::Sequence,
            "ROUTINE" => Kind::Routine,
            "MEMBER" => Kind::Member,
            "DEFAULT_FOR" => Kind::DefaultFor,
            "DEFAULT_OWN" => Kind::DefaultOwn,
            _ => return None,
        })
    }
}

/// What a role holds: each privilege with whether it carries the grant (or admin) option.
pub(crate) type Holdings = secret_rotor_db::parity::Holdings<Privilege>;

/// Everything `role` holds in the current database and cluster-wide, leaving out what
/// concerns the pair itself (`role` and `partner`) and what comes from ownership.
const HOLDINGS_SQL: &str = r#"
WITH me AS (SELECT oid FROM pg_roles WHERE rolname = $1),
     pair AS (SELECT oid FROM pg_roles WHERE rolname IN ($1, $2))
SELECT 'DATABASE', format('%I', d.datname), a.privilege_type, '', '', a.is_grantable
  FROM pg_database d CROSS JOIN LATERAL aclexplode(d.datacl) a
 WHERE a.grantee = (SELECT oid FROM me) AND a.grantee <> d.datdba
UNION ALL
SELECT 'SCHEMA', format('%I', n.nspname), a.privilege_type, '', '', a.is_grantable
  FROM pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) a
 WHERE a.grantee = (SELECT oid FROM me) AND a.grantee <> n.nspowner
UNION ALL
SELECT CASE WHEN c.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
       format('%I.%I', n.nspname, c.relname), a.privilege_type, '', '', a.is_grantable
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  CROSS JOIN LATERAL aclexplode(c.relacl) a
 WHERE a.grantee = (SELECT oid FROM me) AND a.grantee <> c.relowner
   AND c.relkind IN ('r', 'v', 'm', 'f', 'p', 'S')
UNION ALL
SELECT 'ROUTINE', format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
       a.privilege_type, '', '', a.is_grantable
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  CROSS JOIN LATERAL aclexplode(p.proacl) a
 WHERE a.grantee = (SELECT oid FROM me) AND a.grantee <> p.proowner
UNION ALL
SELECT 'MEMBER', format('%I', r.rolname), 'MEMBER', '', '', m.admin_option
  FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
 WHERE m.member = (SELECT oid FROM me) AND m.roleid NOT IN (SELECT oid FROM pair)
UNION ALL
SELECT 'DEFAULT_FOR',
       format('FOR ROLE %I', o.rolname)
         || CASE WHEN d.defaclnamespace = 0 THEN '' ELSE format(' IN SCHEMA %I', n.nspname) END,
       a.privilege_type, d.defaclobjtype::text, '', a.is_grantable
  FROM pg_default_acl d JOIN pg_roles o ON o.oid = d.defaclrole
  LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
  CROSS JOIN LATERAL aclexplode(d.defaclacl) a
 WHERE a.grantee = (SELECT oid FROM me) AND d.defaclrole NOT IN (SELECT oid FROM pair)
UNION ALL
SELECT 'DEFAULT_OWN',
       CASE WHEN d.defaclnamespace = 0 THEN '' ELSE format(' IN SCHEMA %I', n.nspname) END,
       a.privilege_type, d.defaclobjtype::text,
       CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE format('%I', g.rolname) END, a.is_grantable
  FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
  CROSS JOIN LATERAL aclexplode(d.defaclacl) a LEFT JOIN pg_roles g ON g.oid = a.grantee
 WHERE d.defaclrole = (SELECT oid FROM me) AND a.grantee <> d.defaclrole
   AND a.grantee NOT IN (SELECT oid FROM pair)
"#;

/// Reads what `role` holds (see [`HOLDINGS_SQL`]).
pub(crate) async fn holdings<C: GenericClient>(
    client: &C,
    role: &str,
    partner: &str,
) -> Result<Holdings, tokio_postgres::Error> {
    let rows = client.query(HOLDINGS_SQL, &[&role, &partner]).await?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            let privilege = Privilege {
                kind: Kind::parse(row.get(0))?,
                object: row.get(1),
                privilege: row.get(2),
                object_type: default_object_type(row.get(3)).to_owned(),
                grantee: row.get(4),
            };
            Some((privilege, row.get::<_, bool>(5)))
        })
        .collect())
}

/// `pg_default_acl.defaclobjtype` as `ALTER DEFAULT PRIVILEGES` spells it.
fn default_object_type(code: &str) -> &'static str {
    match code {
        "r" => "TABLES",
        "S" => "SEQUENCES",
        "f" => "FUNCTIONS",
        "T" => "TYPES",
        "n" => "SCHEMAS",
        _ => "",
    }
}

pub(crate) use secret_rotor_db::parity::missing;

impl Privilege {
    /// The statement that gives this to `role` (an unquoted role name).
    pub(crate) fn grant_to(&self, role: &str, with_option: bool) -> String {
        let role = escape_identifier(role);
        let grant_option = if with_option {
            " WITH GRANT OPTION"
        } else {
            ""
        };
        let (p, o) = (&self.privilege, &self.object);
        match self.kind {
            Kind::Database => format!("GRANT {p} ON DATABASE {o} TO {role}{grant_option}"),
            Kind::Schema => format!("GRANT {p} ON SCHEMA {o} TO {role}{grant_option}"),
            Kind::Table => format!("GRANT {p} ON TABLE {o} TO {role}{grant_option}"),
            Kind::Sequence => format!("GRANT {p} ON SEQUENCE {o} TO {role}{grant_option}"),
            Kind::Routine => format!("GRANT {p} ON ROUTINE {o} TO {role}{grant_option}"),
            Kind::Member => {
                let admin = if with_option {
                    " WITH ADMIN OPTION"
                } else {
                    ""
                };
                format!("GRANT {o} TO {role}{admin}")
            }
            Kind::DefaultFor => format!(
                "ALTER DEFAULT PRIVILEGES {o} GRANT {p} ON {} TO {role}{grant_option}",
                self.object_type
            ),
            Kind::DefaultOwn => format!(
                "ALTER DEFAULT PRIVILEGES FOR ROLE {role}{o} GRANT {p} ON {} TO {}{grant_option}",
                self.object_type, self.grantee
            ),
        }
    }
}

impl fmt::Display for Privilege {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (p, o) = (&self.privilege, &self.object);
        match self.kind {
            Kind::Database => write!(f, "{p} ON DATABASE {o}"),
            Kind::Schema => write!(f, "{p} ON SCHEMA {o}"),
            Kind::Table => write!(f, "{p} ON TABLE {o}"),
            Kind::Sequence => write!(f, "{p} ON SEQUENCE {o}"),
            Kind::Routine => write!(f, "{p} ON ROUTINE {o}"),
            Kind::Member => write!(f, "membership in {o}"),
            Kind::DefaultFor => write!(f, "default {p} ON {} {o}", self.object_type),
            Kind::DefaultOwn => write!(
                f,
                "own default {p} ON {}{o} TO {}",
                self.object_type, self.grantee
            ),
        }
    }
}

/// Relations owned by `owner` (in the current database, outside the system schemas).
pub(crate) const OWNED_SQL: &str = r#"
SELECT count(*)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relowner = (SELECT oid FROM pg_roles WHERE rolname = $1)
   AND c.relkind IN ('r', 'v', 'm', 'f', 'p', 'S')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'
"#;

/// Whether `member` has the privileges of `role` through membership.
pub(crate) const INHERITS_SQL: &str = "SELECT pg_has_role($1, $2, 'USAGE')";

#[cfg(test)]
mod tests {
    use super::*;

    fn p(kind: Kind, object: &str, privilege: &str) -> Privilege {
        Privilege {
            kind,
            object: object.into(),
            privilege: privilege.into(),
            object_type: "TABLES".into(),
            grantee: "\"reporting\"".into(),
        }
    }

    #[test]
    fn statements_quote_the_grantee_and_keep_server_quoted_objects() {
        let role = "app\"; DROP ROLE x; --";
        assert_eq!(
            p(Kind::Table, "public.\"Orders\"", "SELECT").grant_to(role, true),
            "GRANT SELECT ON TABLE public.\"Orders\" TO \"app\"\"; DROP ROLE x; --\" WITH GRANT OPTION"
        );
        assert_eq!(
            p(Kind::Member, "\"readers\"", "MEMBER").grant_to("b", true),
            "GRANT \"readers\" TO \"b\" WITH ADMIN OPTION"
        );
        assert_eq!(
            p(Kind::DefaultFor, "FOR ROLE \"owner\" IN SCHEMA s", "SELECT").grant_to("b", false),
            "ALTER DEFAULT PRIVILEGES FOR ROLE \"owner\" IN SCHEMA s GRANT SELECT ON TABLES TO \"b\""
        );
        assert_eq!(
            p(Kind::DefaultOwn, " IN SCHEMA s", "SELECT").grant_to("b", false),
            "ALTER DEFAULT PRIVILEGES FOR ROLE \"b\" IN SCHEMA s GRANT SELECT ON TABLES TO \"reporting\""
        );
    }

    #[test]
    fn missing_counts_the_grant_option() {
        let select = p(Kind::Table, "t", "SELECT");
        let a: Holdings = [(select.clone(), true)].into();
        let b: Holdings = [(select.clone(), false)].into();
        assert_eq!(missing(&a, &b), vec![(select.clone(), true)]);
        assert!(missing(&b, &a).is_empty());
        assert!(missing(&a, &a).is_empty());
    }
}
