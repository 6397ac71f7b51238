//! Alternating users on MySQL / MariaDB, as the master.
//!
//! Account statements are not transactional here, so the order makes every crash safe:
//! a new clone is created **locked** (with the pending password's hash), given the current
//! user's grants and options, compared, and only then unlocked; an existing clone gets its
//! grants first and its password last. Until the last statement the pending credential
//! does not log in, so the core's "pending logs in = done" stays true, and a retry picks the
//! work up again (a locked clone that the pending password opens is this rotation's own).

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use secret_rotor::{
    AlternateContext, AlternateReport, Credential, Error, Parity, Result, SecretVersion,
};

use crate::account::{Account, SessionFacts};
use crate::connect::{Session, close, run, run_secret_statement, statement_error};
use crate::credential::MyCredential;
use crate::grants::{self, AccountOptions};
use crate::password::identified_by;
use crate::target::MysqlTarget;

/// `ER_NONEXISTING_GRANT`: `SHOW GRANTS FOR` an account that does not exist.
const NO_SUCH_GRANT: u16 = 1141;

/// What the current user holds, read in its own session (no privilege needed).
struct CurrentUser {
    account: Account,
    rows: Vec<String>,
    options: AccountOptions,
}

pub(crate) async fn sync(
    target: &MysqlTarget,
    master: &MyCredential,
    current: &MyCredential,
    pending: &MyCredential,
    context: AlternateContext,
) -> Result<AlternateReport> {
    let server = master.server();
    let current_user = read_current(target, current).await?;
    let clone = current_user.account.with_user(&pending.username);
    let mut conn = master_session(target, master).await?;
    let facts = SessionFacts::read(&mut conn, &server).await?;
    let result = sync_as_master(
        target,
        &mut conn,
        &facts,
        &current_user,
        &clone,
        pending,
        context,
    )
    .await;
    close(conn).await;
    result
}

/// What [`sync`] would do, read only: whether the clone would be created, the grants and
/// options it would be given, what it holds beyond the current user, and whether setSecret
/// would refuse an unrelated user of the clone's name. Nothing is written.
pub(crate) async fn preview(
    target: &MysqlTarget,
    master: &MyCredential,
    current: &MyCredential,
    pending_user: &str,
    context: AlternateContext,
) -> Result<AlternateReport> {
    let server = master.server();
    let current_user = read_current(target, current).await?;
    let clone = current_user.account.with_user(pending_user);
    let mut conn = master_session(target, master).await?;
    let result = preview_as_master(&mut conn, &server, &current_user, &clone, context).await;
    close(conn).await;
    result
}

async fn preview_as_master(
    conn: &mut Conn,
    server: &str,
    current: &CurrentUser,
    clone: &Account,
    context: AlternateContext,
) -> Result<AlternateReport> {
    let mut report = AlternateReport::default();
    let old = current.account.quoted();
    let want = grants::holdings(&current.rows, &old);
    let Some(clone_rows) = grants_of(conn, server, clone).await? else {
        report.created = true;
        report.synced.push(format!(
            "create {} and give it the {} grants, TLS requirement and limits of {old}",
            clone.quoted(),
            want.len()
        ));
        return Ok(report);
    };
    let clone_options = options_of(conn, server, clone).await?;
    if !context.pair_established {
        if !clone_options.locked {
            return Err(Error::UnrelatedAlternateUser {
                target: server.to_owned(),
                user: clone.user.clone(),
                reason: format!(
                    "{} exists and was never this secret's user (not its AWSPREVIOUS); drop or \
                     rename it",
                    clone.quoted()
                ),
            });
        }
        report.notes.push(format!(
            "{} exists, locked: setSecret takes it over only if it is the clone a rotation in \
             progress began (its pending password opens it)",
            clone.quoted()
        ));
    }
    let have = grants::holdings(&clone_rows, &clone.quoted());
    for (grant, option) in grants::missing(&want, &have) {
        let option = if option { " with the grant option" } else { "" };
        report.synced.push(format!(
            "grant {grant}{option} to {} (held by {old})",
            clone.quoted()
        ));
    }
    for (grant, _) in grants::missing(&have, &want) {
        report
            .extra
            .push(format!("{grant}: held by {}, not by {old}", clone.quoted()));
    }
    report.synced.extend(
        clone_options
            .differences_from(&current.options)
            .into_iter()
            .map(|d| format!("set {d}")),
    );
    Ok(report)
}

/// The master's session, or [`Error::LoginRefused`].
async fn master_session(target: &MysqlTarget, master: &MyCredential) -> Result<Conn> {
    match target.session(master).await? {
        Session::Connected(conn) => Ok(conn),
        Session::Refused(refusal) => Err(Error::LoginRefused {
            target: master.server(),
            credential: SecretVersion::Master,
            reason: refusal.reason,
        }),
    }
}

/// Logs in as the current user and reads its account, grants and options.
async fn read_current(target: &MysqlTarget, current: &MyCredential) -> Result<CurrentUser> {
    let server = current.server();
    let mut conn = match target.session(current).await? {
        Session::Connected(conn) => conn,
        Session::Refused(refusal) => {
            return Err(Error::LoginRefused {
                target: server,
                credential: SecretVersion::Current,
                reason: refusal.reason,
            });
        }
    };
    let facts = SessionFacts::read(&mut conn, &server).await?;
    let rows: Vec<String> = conn
        .query("SHOW GRANTS FOR CURRENT_USER()")
        .await
        .map_err(|e| statement_error(&server, "SHOW GRANTS FOR CURRENT_USER()", e))?;
    let create: Option<String> = conn
        .query_first("SHOW CREATE USER CURRENT_USER()")
        .await
        .map_err(|e| statement_error(&server, "SHOW CREATE USER CURRENT_USER()", e))?;
    close(conn).await;
    let grantee = facts.account.quoted();
    Ok(CurrentUser {
        options: AccountOptions::of_create_user(create.as_deref().unwrap_or_default(), &grantee),
        account: facts.account,
        rows,
    })
}

/// The clone's `SHOW GRANTS` rows, or `None` when it does not exist.
async fn grants_of(
    conn: &mut Conn,
    server: &str,
    account: &Account,
) -> Result<Option<Vec<String>>> {
    match conn
        .query::<String, _>(format!("SHOW GRANTS FOR {}", account.quoted()))
        .await
    {
        Ok(rows) => Ok(Some(rows)),
        Err(mysql_async::Error::Server(se)) if se.code == NO_SUCH_GRANT => Ok(None),
        Err(e) => Err(statement_error(
            server,
            "reading the alternate user's grants (the master needs SELECT on mysql.*)",
            e,
        )),
    }
}

async fn options_of(conn: &mut Conn, server: &str, account: &Account) -> Result<AccountOptions> {
    let row: Option<String> = conn
        .query_first(format!("SHOW CREATE USER {}", account.quoted()))
        .await
        .map_err(|e| statement_error(server, "SHOW CREATE USER", e))?;
    Ok(AccountOptions::of_create_user(
        row.as_deref().unwrap_or_default(),
        &account.quoted(),
    ))
}

async fn sync_as_master(
    target: &MysqlTarget,
    conn: &mut Conn,
    facts: &SessionFacts,
    current: &CurrentUser,
    clone: &Account,
    pending: &MyCredential,
    context: AlternateContext,
) -> Result<AlternateReport> {
    let server = pending.server();
    let mut report = AlternateReport::default();
    let identified = identified_by(
        facts,
        secrecy::ExposeSecret::expose_secret(&pending.password),
    );
    let ours_in_progress = match grants_of(conn, &server, clone).await? {
        None => {
            run_secret_statement(
                conn,
                &server,
                "creating the alternate user",
                format!("CREATE USER {} {identified} ACCOUNT LOCK", clone.quoted()),
            )
            .await?;
            report.created = true;
            report
                .synced
                .push(format!("created {} (locked until the end)", clone.quoted()));
            true
        }
        Some(_) => {
            // A clone this rotation began (locked, with the pending password) says so at
            // login; the pair's own clone is known from the secret's history.
            let half_made = matches!(
                target.session(pending).await?,
                Session::Refused(refusal) if refusal.locked
            );
            if !half_made && !context.pair_established {
                return Err(Error::UnrelatedAlternateUser {
                    target: server,
                    user: pending.username.clone(),
                    reason: format!(
                        "{} exists, was never this secret's user (not its AWSPREVIOUS) and is not \
                         a clone this rotation began; drop or rename it",
                        clone.quoted()
                    ),
                });
            }
            half_made
        }
    };

    // The TLS requirement and limits, then every grant, of the current user.
    let mut failures = Vec::new();
    let alter = format!(
        "ALTER USER {} {}",
        clone.quoted(),
        current.options.alter_clause()
    );
    if let Err(e) = run(
        conn,
        &server,
        "setting the TLS requirement and limits",
        &alter,
    )
    .await
    {
        failures.push(format!("TLS requirement and limits: {}", e.display_chain()));
    }
    let old = current.account.quoted();
    for row in &current.rows {
        let Some(sql) = grants::rewrite_row(row, &old, &clone.quoted()) else {
            continue;
        };
        if let Err(e) = conn.query_drop(&sql).await {
            let why = match &e {
                mysql_async::Error::Server(se) => {
                    format!("server error {}: {}", se.code, se.message)
                }
                other => other.to_string(),
            };
            failures.push(format!("{sql}: {why}"));
        }
    }

    // What the clone holds now, against the current user.
    let clone_rows = grants_of(conn, &server, clone).await?.unwrap_or_default();
    let want = grants::holdings(&current.rows, &old);
    let have = grants::holdings(&clone_rows, &clone.quoted());
    let mut shortfall = Vec::new();
    for (grant, option) in grants::missing(&want, &have) {
        let option = if option { " with the grant option" } else { "" };
        shortfall.push(format!("{grant}{option} (held by {old})"));
    }
    for (grant, _) in grants::missing(&have, &want) {
        report
            .extra
            .push(format!("{grant}: held by {}, not by {old}", clone.quoted()));
    }
    let clone_options = options_of(conn, &server, clone).await?;
    shortfall.extend(clone_options.differences_from(&current.options));
    if shortfall.is_empty() {
        report.synced.push(format!(
            "{} holds all that {old} holds ({} grants, TLS requirement and limits)",
            clone.quoted(),
            want.len()
        ));
    } else {
        // Say why, when a statement failed.
        shortfall.extend(failures.iter().map(|f| format!("not copied: {f}")));
    }

    if context.parity == Parity::Enforce && !shortfall.is_empty() {
        if ours_in_progress {
            // Leave nothing half made behind: the clone is this rotation's, locked, unused.
            run(
                conn,
                &server,
                "removing the unfinished alternate user",
                &format!("DROP USER {}", clone.quoted()),
            )
            .await?;
        }
        return Err(Error::PrivilegeMismatch {
            target: server,
            user: pending.username.clone(),
            differences: shortfall,
        });
    }
    report.unsynced = shortfall;

    // Last: the password, and the lock off. Until here the pending login failed.
    run_secret_statement(
        conn,
        &server,
        "setting the alternate user's password",
        format!("ALTER USER {} {identified} ACCOUNT UNLOCK", clone.quoted()),
    )
    .await?;
    Ok(report)
}
