//! Alternating users on PostgreSQL, as the master: create or update the other user of
//! the pair with at least what the current user holds, in one transaction, or change
//! nothing and say what could not be copied.

use std::time::Duration;

use postgres_protocol::escape::escape_identifier;
use secrecy::ExposeSecret;
use secret_rotor::{AlternateReport, Credential, Error, Parity, Result};
use tokio_postgres::{Client, Transaction};

use crate::ALTERNATE_SYNC_LOCK;
use crate::attributes::Attributes;
use crate::connect::{driver_error, reason};
use crate::credential::PgCredential;
use crate::privileges::{self, INHERITS_SQL, OWNED_SQL};
use crate::sql::scram_literal;

/// How long the whole change may take before it is rolled back and the step fails.
const SYNC_TIMEOUT: Duration = Duration::from_secs(60);

/// Whether [`sync`] commits, or only says what it would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Commit (setSecret).
    Apply,
    /// Do it all, then roll back (`check`): the report of what it would do; the password
    /// is neither set nor even hashed.
    Preview,
}

/// Runs [`sync`] within [`SYNC_TIMEOUT`].
pub(crate) async fn sync_within_timeout(
    client: &mut Client,
    master: &PgCredential,
    current: &PgCredential,
    pending: &PgCredential,
    parity: Parity,
    mode: Mode,
) -> Result<AlternateReport> {
    let server = master.server();
    let syncing = sync(client, current, pending, parity, mode);
    match tokio::time::timeout(SYNC_TIMEOUT, syncing).await {
        Ok(Ok(Synced::Done(report))) => Ok(report),
        Ok(Ok(Synced::Refused(refusal))) => Err(refusal.into_error(server, pending)),
        Ok(Err(e)) => Err(driver_error(
            server,
            "creating or updating the alternate user failed (rolled back)",
            e,
            false,
        )),
        Err(_) => Err(Error::Target {
            target: server,
            reason: format!(
                "creating or updating the alternate user did not finish within {} s (rolled back)",
                SYNC_TIMEOUT.as_secs()
            ),
            retryable: true,
            source: None,
        }),
    }
}

/// How [`sync`] ended when it did not fail on the way.
enum Synced {
    /// Committed.
    Done(AlternateReport),
    /// Rolled back: nothing changed.
    Refused(Refusal),
}

/// Why the change was rolled back.
enum Refusal {
    /// The pending role exists and is not the current role's pair.
    Unrelated(String),
    /// What the pending role would lack (or hold beyond the current role).
    Mismatch(Vec<String>),
}

impl Refusal {
    fn into_error(self, target: String, pending: &PgCredential) -> Error {
        let user = pending.username.clone();
        match self {
            Refusal::Unrelated(reason) => Error::UnrelatedAlternateUser {
                target,
                user,
                reason,
            },
            Refusal::Mismatch(differences) => Error::PrivilegeMismatch {
                target,
                user,
                differences,
            },
        }
    }
}

/// One transaction under an advisory lock:
///
/// 1. an existing pending role must be the current role's pair (a membership between the
///    two, as the rotation that created it left); else nothing is touched;
/// 2. a missing pending role is created (`CREATE ROLE … LOGIN PASSWORD <verifier>`,
///    `GRANT <current> TO <pending>`, as AWS's template does);
/// 3. the pending role is given what the current role holds that it lacks — privileges,
///    memberships, default privileges, role attributes — each under a savepoint, and what
///    both hold is read back; nothing is granted to the current (live) role, and what only
///    the pending role holds is reported;
/// 4. if the pending role would hold less (with [`Parity::Enforce`]) or hold stronger
///    attributes (always), everything is rolled back;
/// 5. the password is set last, and the transaction commits ([`Mode::Preview`]: rolls
///    back, having set no password).
///
/// A crash before `COMMIT` leaves nothing; after it, everything.
async fn sync(
    client: &mut Client,
    current: &PgCredential,
    pending: &PgCredential,
    parity: Parity,
    mode: Mode,
) -> std::result::Result<Synced, tokio_postgres::Error> {
    let (a, b) = (current.username.as_str(), pending.username.as_str());
    let password = match mode {
        Mode::Apply => format!(
            "PASSWORD {}",
            scram_literal(pending.password.expose_secret())
        ),
        Mode::Preview => String::new(),
    };
    let mut report = AlternateReport::default();
    let mut shortfall = Vec::new();
    let tx = client.transaction().await?;
    // One change of this kind at a time per database: concurrent GRANTs on the same object
    // fail with "tuple concurrently updated" (pg_advisory_xact_lock is per database).
    tx.batch_execute(&format!(
        "SELECT pg_advisory_xact_lock({ALTERNATE_SYNC_LOCK})"
    ))
    .await?;
    report.created = tx
        .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&b])
        .await?
        .is_none();
    if report.created {
        tx.batch_execute(&format!(
            "CREATE ROLE {} WITH LOGIN {password}",
            escape_identifier(b)
        ))
        .await?;
        report.synced.push(format!("created {b}"));
    } else if !is_member(&tx, a, b).await? && !is_member(&tx, b, a).await? {
        let (user, clone) = if is_clone_of(b, a) { (a, b) } else { (b, a) };
        return Ok(Synced::Refused(Refusal::Unrelated(format!(
            "neither {b} nor {a} is a member of the other; a rotation makes the clone a member \
             of the user (GRANT \"{user}\" TO \"{clone}\" marks an existing role as the clone)"
        ))));
    }
    if is_clone_of(b, a) && !is_member(&tx, b, a).await? {
        // The clone reaches what the user owns through its membership in the user.
        let grant = format!("GRANT {} TO {}", escape_identifier(a), escape_identifier(b));
        let error = run_under_savepoint(&tx, &grant).await?;
        if is_member(&tx, b, a).await? {
            report
                .synced
                .push(format!("granted membership in {a} to {b}"));
        } else {
            shortfall.push(format!(
                "membership in {a} (to reach what {a} owns): {}",
                error.unwrap_or_else(|| "not granted".into())
            ));
        }
    }
    copy_privileges(&tx, a, b, &mut report, &mut shortfall).await?;
    let stronger = align_attributes(&tx, a, b, &mut report, &mut shortfall).await?;
    ownership_notes(&tx, a, b, &mut report).await?;
    if !stronger.is_empty() || (parity == Parity::Enforce && !shortfall.is_empty()) {
        tx.rollback().await?;
        return Ok(Synced::Refused(Refusal::Mismatch(
            stronger.into_iter().chain(shortfall).collect(),
        )));
    }
    report.unsynced = shortfall;
    if mode == Mode::Preview {
        tx.rollback().await?;
        return Ok(Synced::Done(report));
    }
    if !report.created {
        tx.batch_execute(&format!(
            "ALTER ROLE {} WITH LOGIN {password}",
            escape_identifier(b)
        ))
        .await?;
    }
    tx.commit().await?;
    Ok(Synced::Done(report))
}

/// Whether `b` is `a`'s clone by name (`<a>_clone`).
fn is_clone_of(b: &str, a: &str) -> bool {
    b.strip_suffix("_clone") == Some(a)
}

/// Whether `member` is a direct member of `role`.
async fn is_member(
    tx: &Transaction<'_>,
    member: &str,
    role: &str,
) -> std::result::Result<bool, tokio_postgres::Error> {
    Ok(tx
        .query_opt(
            "SELECT 1 FROM pg_auth_members m \
               JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member \
              WHERE r.rolname = $1 AND u.rolname = $2",
            &[&role, &member],
        )
        .await?
        .is_some())
}

/// Grants `b` what `a` holds and `b` lacks; reports what `b` holds beyond `a`. What the
/// master could not give goes to `shortfall`.
async fn copy_privileges(
    tx: &Transaction<'_>,
    a: &str,
    b: &str,
    report: &mut AlternateReport,
    shortfall: &mut Vec<String>,
) -> std::result::Result<(), tokio_postgres::Error> {
    let held_by_a = privileges::holdings(tx, a, b).await?;
    let held_by_b = privileges::holdings(tx, b, a).await?;
    let mut attempts = Vec::new();
    for (privilege, with_option) in privileges::missing(&held_by_a, &held_by_b) {
        let error = run_under_savepoint(tx, &privilege.grant_to(b, with_option)).await?;
        attempts.push((privilege, with_option, error));
    }
    // A GRANT the master may not give can succeed with only a warning ("no privileges
    // were granted"): what counts is what the pending role holds afterwards.
    let now_b = privileges::holdings(tx, b, a).await?;
    for (privilege, with_option, error) in attempts {
        let what = format!("{privilege}: held by {a}, granted to {b}");
        let granted = now_b
            .get(&privilege)
            .is_some_and(|has_option| *has_option || !with_option);
        match (granted, error) {
            (true, _) => report.synced.push(what),
            (false, Some(reason)) => shortfall.push(format!("{privilege} (held by {a}): {reason}")),
            (false, None) => shortfall.push(format!(
                "{privilege} (held by {a}): not granted (the master must own the object, or \
                 hold the privilege with the grant option)"
            )),
        }
    }
    for (privilege, _) in privileges::missing(&now_b, &held_by_a) {
        report
            .extra
            .push(format!("{privilege}: held by {b}, not by {a}"));
    }
    Ok(())
}

/// Brings `b`'s role attributes to `a`'s (superuser, createrole, createdb, replication,
/// bypassrls, inherit, connection limit, valid until). Returns what remains stronger on
/// `b`; what remains weaker goes to `shortfall`.
async fn align_attributes(
    tx: &Transaction<'_>,
    a: &str,
    b: &str,
    report: &mut AlternateReport,
    shortfall: &mut Vec<String>,
) -> std::result::Result<Vec<String>, tokio_postgres::Error> {
    let want = Attributes::of(tx, a).await?;
    let had = Attributes::of(tx, b).await?;
    let mut errors = Vec::new();
    for change in had.changes_to(&want) {
        let sql = format!("ALTER ROLE {} WITH {}", escape_identifier(b), change.sql);
        if let Some(error) = run_under_savepoint(tx, &sql).await? {
            errors.push((change.name, error));
        }
    }
    let now = Attributes::of(tx, b).await?;
    let mut stronger = Vec::new();
    for difference in now.differences_from(&want) {
        let why = errors
            .iter()
            .find(|(name, _)| *name == difference.name)
            .map(|(_, e)| e.clone())
            .unwrap_or_else(|| "the master may not change it".into());
        let line = format!("{} of {b} ({}): {why}", difference.name, difference.detail);
        if difference.stronger {
            stronger.push(format!(
                "{line}; a pending user is never promoted with stronger attributes than {a}"
            ));
        } else {
            shortfall.push(line);
        }
    }
    for change in had.differences_from(&want) {
        if !now
            .differences_from(&want)
            .iter()
            .any(|d| d.name == change.name)
        {
            report.synced.push(format!(
                "{} of {b} set as {a}'s ({})",
                change.name, change.detail
            ));
        }
    }
    Ok(stronger)
}

/// Runs one statement under a savepoint; returns the server's reason when it failed
/// (the transaction goes on without it).
async fn run_under_savepoint(
    tx: &Transaction<'_>,
    sql: &str,
) -> std::result::Result<Option<String>, tokio_postgres::Error> {
    tx.batch_execute("SAVEPOINT secret_rotor_grant").await?;
    match tx.batch_execute(sql).await {
        Ok(()) => {
            tx.batch_execute("RELEASE SAVEPOINT secret_rotor_grant")
                .await?;
            Ok(None)
        }
        Err(e) => {
            tx.batch_execute("ROLLBACK TO SAVEPOINT secret_rotor_grant")
                .await?;
            Ok(Some(reason(&e)))
        }
    }
}

/// Objects one user owns that the other cannot reach through membership: parity cannot
/// fix ownership; a shared owner role can (see the README).
async fn ownership_notes(
    tx: &Transaction<'_>,
    a: &str,
    b: &str,
    report: &mut AlternateReport,
) -> std::result::Result<(), tokio_postgres::Error> {
    for (owner, other) in [(a, b), (b, a)] {
        let owned: i64 = tx.query_one(OWNED_SQL, &[&owner]).await?.get(0);
        if owned == 0 {
            continue;
        }
        let inherits: bool = tx.query_one(INHERITS_SQL, &[&other, &owner]).await?.get(0);
        if !inherits {
            report.notes.push(format!(
                "{owned} tables, views or sequences are owned by {owner} and {other} cannot reach \
                 them through ownership: objects belong to the user that created them; have \
                 both users create objects as a shared owner role (see the README)"
            ));
        }
    }
    Ok(())
}
