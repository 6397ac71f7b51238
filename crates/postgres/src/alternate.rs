//! Alternating users on PostgreSQL, as the master: create or update the other user of
//! the pair and bring both users' privileges in line, in one transaction.

use std::time::Duration;

use postgres_protocol::escape::escape_identifier;
use secrecy::ExposeSecret;
use secret_rotor::{AlternateReport, Credential, Error, Result};
use tokio_postgres::Client;

use crate::ALTERNATE_SYNC_LOCK;
use crate::connect::{driver_error, reason};
use crate::credential::PgCredential;
use crate::privileges::{self, INHERITS_SQL, OWNED_SQL};
use crate::sql::scram_literal;

/// How long the whole change may take before it is rolled back and the step fails.
const SYNC_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs [`sync`] within [`SYNC_TIMEOUT`].
pub(crate) async fn sync_within_timeout(
    client: &mut Client,
    master: &PgCredential,
    current: &PgCredential,
    pending: &PgCredential,
) -> Result<AlternateReport> {
    let server = master.server();
    match tokio::time::timeout(SYNC_TIMEOUT, sync(client, current, pending)).await {
        Ok(Ok(report)) => Ok(report),
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

/// One transaction: create `pending`'s user if missing (`GRANT <current> TO <pending>`, as
/// AWS's template does), grant each user what the other holds (each grant under a
/// savepoint, so one the master may not give is reported rather than fatal), set the
/// password last. A crash before `COMMIT` leaves nothing; after it, everything.
async fn sync(
    client: &mut Client,
    current: &PgCredential,
    pending: &PgCredential,
) -> std::result::Result<AlternateReport, tokio_postgres::Error> {
    let (a, b) = (current.username.as_str(), pending.username.as_str());
    let verifier = scram_literal(pending.password.expose_secret());
    let mut report = AlternateReport::default();
    let tx = client.transaction().await?;
    // One change of this kind at a time per cluster: concurrent GRANTs on the same object
    // fail with "tuple concurrently updated".
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
            "CREATE ROLE {} WITH LOGIN PASSWORD {verifier}",
            escape_identifier(b)
        ))
        .await?;
        let baseline = format!("GRANT {} TO {}", escape_identifier(a), escape_identifier(b));
        match run_under_savepoint(&tx, &baseline).await? {
            None => report
                .synced
                .push(format!("created {b} as a member of {a}")),
            Some(reason) => report
                .unsynced
                .push(format!("created {b}, but not as a member of {a}: {reason}")),
        }
    }
    let held_by_a = privileges::holdings(&tx, a, b).await?;
    let held_by_b = privileges::holdings(&tx, b, a).await?;
    let mut attempts = Vec::new();
    for (from, to, missing) in [
        (a, b, privileges::missing(&held_by_a, &held_by_b)),
        (b, a, privileges::missing(&held_by_b, &held_by_a)),
    ] {
        for (privilege, with_option) in missing {
            let sql = privilege.grant_to(to, with_option);
            let what = format!("{privilege}: held by {from}, granted to {to}");
            let error = run_under_savepoint(&tx, &sql).await?;
            attempts.push((to, privilege, what, error));
        }
    }
    // A GRANT the master may not give can succeed with only a warning ("no privileges
    // were granted"): what counts is what each user holds afterwards.
    let now_a = privileges::holdings(&tx, a, b).await?;
    let now_b = privileges::holdings(&tx, b, a).await?;
    for (to, privilege, what, error) in attempts {
        let held = if to == a { &now_a } else { &now_b };
        match (held.contains_key(&privilege), error) {
            (true, _) => report.synced.push(what),
            (false, Some(reason)) => report.unsynced.push(format!("{what}: {reason}")),
            (false, None) => report.unsynced.push(format!(
                "{what}: not granted (the master must own the object, or hold the privilege \
                 with the grant option)"
            )),
        }
    }
    ownership_notes(&tx, a, b, &mut report).await?;
    if !report.created {
        tx.batch_execute(&format!(
            "ALTER ROLE {} WITH LOGIN PASSWORD {verifier}",
            escape_identifier(b)
        ))
        .await?;
    }
    tx.commit().await?;
    Ok(report)
}

/// Runs one statement under a savepoint; returns the server's reason when it failed
/// (the transaction goes on without it).
async fn run_under_savepoint(
    tx: &tokio_postgres::Transaction<'_>,
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
    tx: &tokio_postgres::Transaction<'_>,
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
