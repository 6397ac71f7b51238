//! Alternating users on a real PostgreSQL: privilege parity in detail, a master that is
//! not a superuser, the identifier limit, and RDS-managed master secrets located through
//! moto's RDS API.

use postgres_protocol::escape::escape_identifier as ident;
use secret_rotor::rds::RdsLocator;
use secret_rotor::store::{SecretStore, Selector};
use secret_rotor::{
    AlternateReport, Outcome, Parity, RotationConfig, RotationEvent, Rotator, SecretId, Stage,
    Step, Strategy, VersionId,
};
use secret_rotor_postgres::testing::{PgFixture, fixture};
use secret_rotor_testkit::conformance::{AlternatingFixture, Case, Fixture, hostile_password};
use secret_rotor_testkit::moto::{Moto, unique_name};
use tokio_postgres::NoTls;

/// Runs the four steps of a case and returns setSecret's report.
async fn rotate_reporting<F: Fixture>(case: &Case<'_, F>) -> AlternateReport {
    let token = case.start().await;
    case.ok(Step::CreateSecret, &token).await;
    let Outcome::AlternateUserSet { report } = case.ok(Step::SetSecret, &token).await else {
        panic!("setSecret did not set the alternate user")
    };
    case.ok(Step::TestSecret, &token).await;
    case.ok(Step::FinishSecret, &token).await;
    report
}

async fn login_of<F: Fixture>(case: &Case<'_, F>, stage: Stage) -> (String, String) {
    let v = case.value(stage).await.expect("value");
    (
        v["username"].as_str().unwrap().to_owned(),
        v["password"].as_str().unwrap().to_owned(),
    )
}

/// Runs SQL as `user` (plain TCP to the private cluster); the error text on failure.
async fn run_as(fx: &PgFixture, user: &str, password: &str, sql: &str) -> Result<(), String> {
    let (client, connection) = fx
        .cluster
        .config(user, password)
        .connect(NoTls)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    client
        .batch_execute(sql)
        .await
        .map_err(|e| format!("{e:?}"))
}

fn assert_synced(report: &AlternateReport, needle: &str) {
    assert!(
        report.synced.iter().any(|s| s.contains(needle)),
        "{needle:?} not among the synced differences: {:#?}",
        report.synced
    );
}

/// Every rotation gives the pending user what the current user holds (current -> pending
/// only): privileges, grant options, memberships, default privileges. What only the
/// pending user holds is reported, never granted to the live user, so a privilege revoked
/// from the user in use does not come back from the other user.
#[tokio::test]
async fn privileges_are_copied_from_current_to_pending_every_rotation() {
    let fx = fixture();
    let admin = fx.cluster.admin().await;
    let case = Case::alternating(&fx, "parity", &hostile_password(), None).await;
    let user = case.username.clone();
    let clone = format!("{user}_clone");
    let id = unique_name("p");
    let (schema, owner, readers) = (
        format!("s_{id}"),
        format!("own_{id}"),
        format!("readers_{id}"),
    );
    let (u, s, o, r) = (ident(&user), ident(&schema), ident(&owner), ident(&readers));
    admin
        .batch_execute(&format!(
            "CREATE ROLE {o} NOLOGIN; CREATE ROLE {r} NOLOGIN;
             CREATE SCHEMA {s} AUTHORIZATION {o};
             SET ROLE {o};
             CREATE TABLE {s}.t1 (x int); CREATE TABLE {s}.t2 (x int); CREATE SEQUENCE {s}.seq1;
             CREATE FUNCTION {s}.f1(a int) RETURNS int LANGUAGE sql AS 'SELECT a';
             GRANT USAGE, CREATE ON SCHEMA {s} TO {u};
             GRANT SELECT, INSERT ON {s}.t1 TO {u} WITH GRANT OPTION;
             GRANT USAGE ON SEQUENCE {s}.seq1 TO {u};
             GRANT EXECUTE ON FUNCTION {s}.f1(int) TO {u};
             ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT SELECT ON TABLES TO {u};
             RESET ROLE;
             GRANT CONNECT, CREATE ON DATABASE postgres TO {u};
             GRANT {r} TO {u};
             ALTER DEFAULT PRIVILEGES FOR ROLE {u} IN SCHEMA {s} GRANT SELECT ON TABLES TO {r};"
        ))
        .await
        .expect("setup");

    // Rotation 1: the clone is created and given everything the user holds, directly.
    let report = rotate_reporting(&case).await;
    assert!(report.created);
    assert!(report.unsynced.is_empty(), "{:#?}", report.unsynced);
    for needle in [
        format!("created {clone}"),
        format!("granted membership in {user} to {clone}"),
        "CONNECT ON DATABASE postgres".into(),
        "CREATE ON DATABASE postgres".into(),
        format!("USAGE ON SCHEMA {schema}"),
        format!("CREATE ON SCHEMA {schema}"),
        format!("SELECT ON TABLE {schema}.t1"),
        format!("INSERT ON TABLE {schema}.t1"),
        format!("USAGE ON SEQUENCE {schema}.seq1"),
        format!("EXECUTE ON ROUTINE {schema}.f1(a integer)"),
        format!("membership in {readers}"),
        format!("default SELECT ON TABLES FOR ROLE {owner} IN SCHEMA {schema}"),
        format!("own default SELECT ON TABLES IN SCHEMA {schema} TO {readers}"),
    ] {
        assert_synced(&report, &needle);
    }
    let (current_user, current_pw) = login_of(&case, Stage::Current).await;
    assert_eq!(current_user, clone);
    // The clone's privileges are its own: they hold without the membership.
    admin
        .batch_execute(&format!("REVOKE {u} FROM {}", ident(&clone)))
        .await
        .unwrap();
    run_as(
        &fx,
        &clone,
        &current_pw,
        &format!("SELECT * FROM {s}.t1; INSERT INTO {s}.t1 VALUES (1); SELECT nextval('{schema}.seq1'); SELECT {s}.f1(1)"),
    )
    .await
    .unwrap();
    admin
        .batch_execute(&format!("GRANT {u} TO {}", ident(&clone)))
        .await
        .unwrap();
    let grant_option: bool = admin
        .query_one(
            "SELECT has_table_privilege($1, $2, 'SELECT WITH GRANT OPTION')",
            &[&clone, &format!("{schema}.t1")],
        )
        .await
        .unwrap()
        .get(0);
    assert!(grant_option, "the grant option is kept");

    // Drift: a DBA grants to the user in use (the clone), which also creates a table.
    admin
        .batch_execute(&format!("GRANT SELECT ON {s}.t2 TO {}", ident(&clone)))
        .await
        .unwrap();
    run_as(
        &fx,
        &clone,
        &current_pw,
        &format!("CREATE TABLE {s}.mine (x int)"),
    )
    .await
    .unwrap();
    let readers_see_it: bool = admin
        .query_one(
            "SELECT has_table_privilege($1, $2, 'SELECT')",
            &[&readers, &format!("{schema}.mine")],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        readers_see_it,
        "the user's own default privileges were given to the clone"
    );

    // More drift: the DBA revokes a privilege from the user in use.
    admin
        .batch_execute(&format!("REVOKE INSERT ON {s}.t1 FROM {}", ident(&clone)))
        .await
        .unwrap();

    // Rotation 2 (pending: the original user): what the clone holds is copied to the user;
    // what only the user holds is reported, and not granted back to the clone.
    let report = rotate_reporting(&case).await;
    assert!(!report.created);
    assert_synced(
        &report,
        &format!("SELECT ON TABLE {schema}.t2: held by {clone}, granted to {user}"),
    );
    assert!(
        report.extra.iter().any(|e| e.contains(&format!(
            "INSERT ON TABLE {schema}.t1: held by {user}, not by {clone}"
        ))),
        "{:#?}",
        report.extra
    );
    assert!(
        !report
            .synced
            .iter()
            .any(|s| s.contains(&format!("granted to {clone}"))),
        "nothing is granted to the live user: {:#?}",
        report.synced
    );
    // (The clone still reaches t1 through its membership in the user; what matters is
    // that no grant was made to it directly.)
    let granted_to_clone: bool = admin
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
                    aclexplode(c.relacl) a
              WHERE n.nspname = $2 AND c.relname = 't1' AND a.privilege_type = 'INSERT'
                AND a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $1))",
            &[&clone, &schema],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!granted_to_clone, "the revoked privilege did not come back");
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains(&format!("owned by {clone}")) && n.contains("shared owner role")),
        "{:#?}",
        report.notes
    );
    let (current_user, current_pw) = login_of(&case, Stage::Current).await;
    assert_eq!(current_user, user);
    run_as(&fx, &user, &current_pw, &format!("SELECT * FROM {s}.t2"))
        .await
        .unwrap();
    let (previous_user, previous_pw) = login_of(&case, Stage::Previous).await;
    assert_eq!(previous_user, clone);
    assert!(
        fx.can_login(&clone, &previous_pw).await,
        "the previous user still works"
    );
}

/// A master that may not give the pending user all that the current user holds (here a
/// CREATEROLE master without rights on two tables): by default setSecret fails with
/// `PrivilegeMismatch` listing what is missing, nothing is created, AWSCURRENT keeps
/// working; with `PRIVILEGE_PARITY=report` the rotation goes on and reports it.
#[tokio::test]
async fn a_master_that_cannot_copy_everything_fails_unless_told_to_report() {
    let fx = fixture();
    let admin = fx.cluster.admin().await;
    let master_user = unique_name("master");
    let master_pw = hostile_password();
    fx.cluster.create_login_role(&master_user, &master_pw).await;
    let m = ident(&master_user);
    let hidden = format!("hidden_{}", unique_name("t"));
    admin
        .batch_execute(&format!(
            "ALTER ROLE {m} CREATEROLE; CREATE TABLE {} (x int);
             BEGIN; SELECT pg_advisory_xact_lock({lock});
             CREATE TABLE IF NOT EXISTS conformance_probe (x int);
             GRANT SELECT ON conformance_probe TO {m}; COMMIT;",
            ident(&hidden),
            lock = secret_rotor_postgres::ALTERNATE_SYNC_LOCK,
        ))
        .await
        .unwrap();
    let master = fx.secret_for(&master_user, &master_pw);
    let case = Case::alternating(&fx, "weakmaster", "first-Password-1", Some(master)).await;
    admin
        .batch_execute(&format!(
            "GRANT SELECT ON {} TO {}",
            ident(&hidden),
            ident(&case.username)
        ))
        .await
        .unwrap();

    let token = case.start().await;
    case.ok(Step::CreateSecret, &token).await;
    let err = case.step(Step::SetSecret, &token).await.unwrap_err();
    assert_eq!(err.code(), "PrivilegeMismatch", "{err}");
    let message = err.to_string();
    // The master holds SELECT on the probe table without the grant option: PostgreSQL
    // only warns, and the read-back catches it. It holds nothing on the other table.
    assert!(
        message.contains("SELECT ON TABLE public.conformance_probe")
            && message.contains(&format!("SELECT ON TABLE public.{hidden}"))
            && message.contains("permission denied"),
        "{message}"
    );
    let clone = format!("{}_clone", case.username);
    let exists = admin
        .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&clone])
        .await
        .unwrap();
    assert!(exists.is_none(), "nothing was created (rolled back)");
    assert!(
        case.logs_in(Stage::Current).await,
        "AWSCURRENT keeps working"
    );

    // Report only: the rotation goes on, and says what the clone lacks.
    let report_only = RotationConfig {
        parity: Parity::Report,
        ..case.rotator.config().clone()
    };
    let outcomes = case.finish_with(report_only, &token).await;
    let Outcome::AlternateUserSet { report } = &outcomes[0] else {
        panic!("{outcomes:?}")
    };
    assert!(report.created);
    assert_eq!(report.unsynced.len(), 2, "{:#?}", report.unsynced);
    // Through the membership the master could give, the clone still works.
    let (clone, password) = login_of(&case, Stage::Current).await;
    assert!(fx.can_use_probe(&clone, &password).await);
}

/// Role attributes are part of parity: the master aligns the pending user's weaker ones
/// (NOINHERIT, a lower connection limit, an earlier VALID UNTIL, a missing CREATEDB) and
/// stronger ones (SUPERUSER) to the current user's.
#[tokio::test]
async fn role_attributes_are_aligned_and_stronger_ones_refused() {
    let fx = fixture();
    let admin = fx.cluster.admin().await;
    let case = Case::alternating(&fx, "attrs", "first-Password-1", None).await;
    let (u, c) = (
        ident(&case.username),
        ident(&format!("{}_clone", case.username)),
    );
    admin
        .batch_execute(&format!(
            "ALTER ROLE {u} CREATEDB CONNECTION LIMIT 7 VALID UNTIL '2099-01-01 00:00:00+00';
             CREATE ROLE {c} LOGIN NOINHERIT CONNECTION LIMIT 1 VALID UNTIL '2030-01-01 00:00:00+00';
             GRANT {u} TO {c};"
        ))
        .await
        .unwrap();
    let report = rotate_reporting(&case).await;
    assert!(!report.created);
    for attribute in ["INHERIT", "CREATEDB", "CONNECTION LIMIT", "VALID UNTIL"] {
        assert_synced(&report, &format!("{attribute} of "));
    }
    let row = admin
        .query_one(
            "SELECT rolinherit, rolcreatedb, rolconnlimit, rolvaliduntil = '2099-01-01 00:00:00+00'
               FROM pg_roles WHERE rolname = $1",
            &[&format!("{}_clone", case.username)],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            row.get::<_, bool>(0),
            row.get::<_, bool>(1),
            row.get::<_, i32>(2),
            row.get::<_, bool>(3)
        ),
        (true, true, 7, true)
    );
    assert!(case.logs_in(Stage::Current).await);

    // The pending user (now the original one) became SUPERUSER meanwhile: it must not be
    // promoted with more power than the user in use; this master may take it away.
    admin
        .batch_execute(&format!("ALTER ROLE {u} SUPERUSER"))
        .await
        .unwrap();
    let report = rotate_reporting(&case).await;
    assert_synced(&report, "SUPERUSER of ");
    let superuser: bool = admin
        .query_one(
            "SELECT rolsuper FROM pg_roles WHERE rolname = $1",
            &[&case.username],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!superuser, "the pending user's SUPERUSER was taken away");
    assert!(case.logs_in(Stage::Current).await);
}

/// A CREATEROLE master cannot take SUPERUSER away: the stronger pending user is refused
/// (`PrivilegeMismatch`) even with `PRIVILEGE_PARITY=report`, and nothing changes.
#[tokio::test]
async fn a_stronger_pending_user_is_never_promoted() {
    let fx = fixture();
    let admin = fx.cluster.admin().await;
    let master_user = unique_name("crmaster");
    let master_pw = hostile_password();
    fx.cluster.create_login_role(&master_user, &master_pw).await;
    admin
        .batch_execute(&format!("ALTER ROLE {} CREATEROLE", ident(&master_user)))
        .await
        .unwrap();
    let master = fx.secret_for(&master_user, &master_pw);
    let case = Case::alternating(&fx, "strong", "first-Password-1", Some(master)).await;
    let clone = format!("{}_clone", case.username);
    admin
        .batch_execute(&format!(
            "CREATE ROLE {c} LOGIN SUPERUSER PASSWORD 'Clone-Password-1'; GRANT {u} TO {c};",
            c = ident(&clone),
            u = ident(&case.username)
        ))
        .await
        .unwrap();
    let report_only = case.rotator_with(RotationConfig {
        parity: Parity::Report,
        ..case.rotator.config().clone()
    });
    let token = case.start().await;
    case.ok(Step::CreateSecret, &token).await;
    let err = report_only
        .handle(&RotationEvent::new(
            Step::SetSecret,
            case.secret_id.clone(),
            token.clone(),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "PrivilegeMismatch", "{err}");
    assert!(
        err.to_string().contains("SUPERUSER") && err.to_string().contains("stronger"),
        "{err}"
    );
    assert!(
        fx.can_login(&clone, "Clone-Password-1").await,
        "the clone's password is unchanged"
    );
    assert!(case.logs_in(Stage::Current).await);
}

/// Parity is compared in the user's database, whatever database the master's own secret
/// names: the catalogs of one database do not show the grants of another.
#[tokio::test]
async fn parity_runs_in_the_users_database() {
    let fx = fixture();
    let admin = fx.cluster.admin().await;
    let db = unique_name("appdb");
    admin
        .batch_execute(&format!("CREATE DATABASE {}", ident(&db)))
        .await
        .unwrap();
    let mut config = fx
        .cluster
        .config(fx.cluster.superuser().0, fx.cluster.superuser().1);
    config.dbname(&db);
    let (app_admin, connection) = config.connect(NoTls).await.unwrap();
    tokio::spawn(connection);
    let user = unique_name("dbuser");
    let password = hostile_password();
    fx.create_account(&user, &password).await;
    app_admin
        .batch_execute(&format!(
            "CREATE TABLE orders (x int); GRANT SELECT ON orders TO {}",
            ident(&user)
        ))
        .await
        .unwrap();
    let moto = Moto::shared();
    // The master's secret names the default database; the user's names appdb.
    let master_arn = moto
        .create_secret(&unique_name("master"), &fx.master_secret().to_string())
        .await;
    let mut secret = fx.secret_for(&user, &password);
    secret["dbname"] = db.clone().into();
    secret["masterarn"] = master_arn.into();
    let arn = moto
        .create_secret(&unique_name("appdb/app"), &secret.to_string())
        .await;
    let target = fx.target();
    let rotator = Rotator::new(
        target,
        moto.store().await,
        RotationConfig {
            strategy: Strategy::AlternatingUsers,
            ..RotationConfig::defaults(&fx.target())
        },
    )
    .unwrap();
    let token = VersionId::new(moto.start_rotation(&arn, None).await.unwrap()).unwrap();
    let secret_id = SecretId::new(&arn).unwrap();
    let mut set = None;
    for step in Step::ALL {
        let report = rotator
            .handle(&RotationEvent::new(step, secret_id.clone(), token.clone()))
            .await
            .unwrap_or_else(|e| panic!("{step}: {e}"));
        if let Outcome::AlternateUserSet { report } = report.outcome {
            set = Some(report);
        }
    }
    assert_synced(&set.unwrap(), "SELECT ON TABLE public.orders");
    let current = moto
        .store()
        .await
        .get_value(&secret_id, &Selector::stage(Stage::Current))
        .await
        .unwrap()
        .unwrap();
    let clone = current.username().unwrap().to_owned();
    let clone_pw = secrecy::ExposeSecret::expose_secret(current.password().unwrap()).to_owned();
    let mut as_clone = fx.cluster.config(&clone, &clone_pw);
    as_clone.dbname(&db);
    let (client, connection) = as_clone.connect(NoTls).await.unwrap();
    tokio::spawn(connection);
    // Revoke the membership: the clone's own grant must be there, in appdb.
    app_admin
        .batch_execute(&format!("REVOKE {} FROM {}", ident(&user), ident(&clone)))
        .await
        .unwrap();
    client.batch_execute("SELECT * FROM orders").await.unwrap();
}

#[tokio::test]
async fn clone_names_over_63_bytes_are_refused_before_anything_is_written() {
    let fx = fixture();
    // The case appends an 11-byte suffix: 52 + 11 = 63 bytes, and "_clone" would not fit.
    let case = Case::alternating(&fx, &"n".repeat(52), "first-Password-1", None).await;
    assert_eq!(case.username.len(), 63);
    let token = case.start().await;
    let err = case.step(Step::CreateSecret, &token).await.unwrap_err();
    assert_eq!(err.code(), "InvalidSecret");
    assert!(err.to_string().contains("63"), "{err}");
    assert_eq!(case.value(Stage::Pending).await, None);
}

/// One alternating rotation against a dedicated moto whose RDS API knows the database,
/// with an RDS-managed master secret (only username and password, tagged with `primary`).
async fn rotate_with_rds_master(
    moto: &Moto,
    current_host: &str,
    primary_arn: &str,
) -> Result<String, secret_rotor::Error> {
    let fx = fixture();
    let user = unique_name("rdsuser");
    let password = hostile_password();
    fx.create_account(&user, &password).await;
    let (super_user, super_pw) = fx.cluster.superuser();
    let master_arn = moto
        .create_rds_managed_secret(&unique_name("rds!db"), super_user, super_pw, primary_arn)
        .await;
    let mut secret = fx.secret_for(&user, &password);
    secret["host"] = current_host.into();
    secret["masterarn"] = master_arn.into();
    let arn = moto
        .create_secret(&unique_name("rds/app"), &secret.to_string())
        .await;
    let target = fx.target();
    let config = RotationConfig {
        strategy: Strategy::AlternatingUsers,
        ..RotationConfig::defaults(&target)
    };
    let rotator = Rotator::new(target, moto.store().await, config)
        .unwrap()
        .with_rds(RdsLocator::new(moto.rds_client()));
    let token = VersionId::new(moto.start_rotation(&arn, None).await.unwrap()).unwrap();
    let secret_id = SecretId::new(&arn).unwrap();
    for step in Step::ALL {
        rotator
            .handle(&RotationEvent::new(step, secret_id.clone(), token.clone()))
            .await?;
    }
    let current = moto
        .store()
        .await
        .get_value(&secret_id, &Selector::stage(Stage::Current))
        .await
        .unwrap()
        .unwrap();
    let clone = current.username().unwrap().to_owned();
    assert_eq!(clone, format!("{user}_clone"));
    let new_password = secrecy::ExposeSecret::expose_secret(current.password().unwrap()).to_owned();
    assert!(fx.can_login(&clone, &new_password).await);
    assert!(
        fx.can_login(&user, &password).await,
        "the previous user still works"
    );
    Ok(clone)
}

#[tokio::test]
async fn an_rds_managed_master_is_located_through_the_rds_api() {
    let moto = Moto::start();
    let port = fixture().cluster.port();
    let instance = moto
        .create_db_instance("pg-primary", "postgres", "127.0.0.1", port)
        .await;
    // The master secret holds only a user name and a password (RDS's layout): the rotation
    // reaches the database only through the endpoint RDS gives for the instance its tags
    // name. (The unrelated-instance test below shows a wrong answer from RDS is refused.)
    rotate_with_rds_master(&moto, "127.0.0.1", &instance)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_user_on_a_read_replica_is_rotated_by_the_primarys_master() {
    let moto = Moto::start();
    let port = fixture().cluster.port();
    let primary = moto
        .create_db_instance("localhost", "postgres", "localhost", port)
        .await;
    moto.create_read_replica("127", "localhost", "127.0.0.1", port)
        .await;
    rotate_with_rds_master(&moto, "127.0.0.1", &primary)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_user_on_an_aurora_member_is_rotated_by_the_clusters_master() {
    let moto = Moto::start();
    let port = fixture().cluster.port();
    let cluster = moto
        .create_db_cluster("127", "aurora-postgresql", "127.0.0.1", port)
        .await;
    moto.add_cluster_instance("127", "localhost", "localhost", port)
        .await;
    rotate_with_rds_master(&moto, "localhost", &cluster)
        .await
        .unwrap();
}

#[tokio::test]
async fn an_rds_master_for_an_unrelated_or_foreign_database_is_refused() {
    let moto = Moto::start();
    let port = fixture().cluster.port();
    let unrelated = moto
        .create_db_instance("localhost", "postgres", "localhost", port)
        .await;
    let err = rotate_with_rds_master(&moto, "127.0.0.1", &unrelated)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "CredentialMismatch", "{err}");
    let mysql = moto
        .create_db_instance("other-engine", "mysql", "127.0.0.1", port)
        .await;
    let err = rotate_with_rds_master(&moto, "127.0.0.1", &mysql)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "InvalidSecret", "{err}");
    assert!(err.to_string().contains("mysql"), "{err}");
}
