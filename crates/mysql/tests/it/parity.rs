//! Alternating users on a real MariaDB: the clone gets the current user's grants (with
//! the grant option), roles (with the admin option), default role, column and routine
//! privileges, TLS requirement and limits; never less (a master that cannot copy
//! something fails and leaves no clone); never a grant into the live user.

use mysql_async::prelude::Queryable;
use secret_rotor::{AlternateReport, Outcome, Parity, RotationConfig, Stage, Step};
use secret_rotor_mysql::testing::{MyFixture, TEST_DATABASE, fixture};
use secret_rotor_testkit::conformance::{AlternatingFixture, Case, Fixture, hostile_password};
use secret_rotor_testkit::moto::unique_name;

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

async fn grants(fx: &MyFixture, user: &str) -> Vec<String> {
    let mut admin = fx.server.admin().await;
    let rows: Vec<String> = admin
        .query(format!("SHOW GRANTS FOR `{user}`@'%'"))
        .await
        .unwrap();
    rows.into_iter()
        .map(|r| {
            let r = r.replace(&format!("`{user}`@`%`"), "<grantee>");
            // The credential differs by design; the column order is not stable.
            match r.find(" IDENTIFIED BY PASSWORD") {
                Some(at) => {
                    let rest = &r[at..];
                    let keep = rest.find(" REQUIRE").map(|i| &rest[i..]).unwrap_or("");
                    format!("{}{keep}", &r[..at])
                }
                None => r,
            }
        })
        .collect()
}

async fn run_as(fx: &MyFixture, user: &str, password: &str, sql: &str) -> Result<(), String> {
    let mut conn = mysql_async::Conn::new(fx.server.tls_options(user, password))
        .await
        .map_err(|e| e.to_string())?;
    let result = conn.query_drop(sql).await.map_err(|e| e.to_string());
    let _ = conn.disconnect().await;
    result
}

#[tokio::test]
async fn the_clone_holds_what_the_user_holds_and_nothing_flows_back() {
    let fx = fixture();
    let case = Case::alternating(&fx, "parity", &hostile_password(), None).await;
    let user = case.username.clone();
    let clone = format!("{user}_clone");
    let id = unique_name("p");
    let (db, role, role2) = (format!("db_{id}"), format!("r_{id}"), format!("r2_{id}"));
    fx.server
        .execute(&format!(
            "CREATE DATABASE `{db}`; CREATE TABLE `{db}`.t1 (id int, name text, secret text);
             CREATE DATABASE `{db}_other`; CREATE TABLE `{db}_other`.t (x int);
             CREATE TABLE `{db}`.t2 (x int);
             CREATE PROCEDURE `{db}`.p1() SELECT 1;
             CREATE ROLE `{role}`; CREATE ROLE `{role2}`;
             GRANT SELECT ON `{db}`.t2 TO `{role}`;
             GRANT SELECT, INSERT ON `{db}`.* TO `{user}`@'%' WITH GRANT OPTION;
             GRANT SELECT (id, name), UPDATE (name) ON `{db}`.t1 TO `{user}`@'%';
             GRANT EXECUTE ON PROCEDURE `{db}`.p1 TO `{user}`@'%';
             GRANT PROCESS ON *.* TO `{user}`@'%';
             GRANT `{role}` TO `{user}`@'%'; GRANT `{role2}` TO `{user}`@'%' WITH ADMIN OPTION;
             SET DEFAULT ROLE `{role}` FOR `{user}`@'%';
             ALTER USER `{user}`@'%' REQUIRE SSL WITH MAX_USER_CONNECTIONS 20;"
        ))
        .await;

    let report = rotate_reporting(&case).await;
    assert!(report.created);
    assert!(report.unsynced.is_empty(), "{:#?}", report.unsynced);
    let mut want = grants(&fx, &user).await;
    let mut have = grants(&fx, &clone).await;
    want.sort();
    have.sort();
    let normalise = |rows: Vec<String>| -> Vec<String> {
        rows.into_iter()
            .map(|r| r.replace("(`name`, `id`)", "(`id`, `name`)"))
            .collect()
    };
    assert_eq!(
        normalise(have),
        normalise(want),
        "SHOW GRANTS, the grantee aside"
    );
    // By behaviour: what only the user's grants allow, the clone can do.
    let (current_user, current_pw) = (clone.clone(), case.password(Stage::Current).await.unwrap());
    assert_eq!(
        case.value(Stage::Current).await.unwrap()["username"],
        current_user.as_str()
    );
    run_as(
        &fx,
        &current_user,
        &current_pw,
        &format!(
            "INSERT INTO `{db}`.t2 VALUES (1); SELECT id, name FROM `{db}`.t1;
             UPDATE `{db}`.t1 SET name = 'x'; CALL `{db}`.p1();
             GRANT SELECT ON `{db}`.t2 TO `{role}`"
        ),
    )
    .await
    .unwrap();
    assert!(
        run_as(
            &fx,
            &current_user,
            &current_pw,
            &format!("SELECT * FROM `{db}_other`.t")
        )
        .await
        .is_err(),
        "and no more"
    );

    // Drift: the DBA revokes a privilege from the user in use (the clone).
    fx.server
        .execute(&format!("REVOKE INSERT ON `{db}`.* FROM `{clone}`@'%'"))
        .await;
    let report = rotate_reporting(&case).await;
    assert!(!report.created);
    assert!(
        report.extra.iter().any(|e| e.contains("INSERT ON")),
        "{:#?}",
        report.extra
    );
    assert!(
        !grants(&fx, &clone)
            .await
            .iter()
            .any(|g| g.contains("INSERT") && g.contains(&db) && !g.contains("t1")),
        "the revoked privilege did not come back to the clone"
    );
    assert_eq!(
        case.value(Stage::Current).await.unwrap()["username"],
        user.as_str()
    );
}

#[tokio::test]
async fn a_master_that_cannot_copy_everything_leaves_no_clone_unless_told_to_report() {
    let fx = fixture();
    let master = unique_name("master");
    let master_pw = hostile_password();
    fx.server.create_user(&master, &master_pw).await;
    fx.server
        .execute(&format!(
            "GRANT CREATE USER ON *.* TO `{master}`@'%';
             GRANT SELECT ON mysql.* TO `{master}`@'%';
             GRANT SELECT ON {TEST_DATABASE}.* TO `{master}`@'%' WITH GRANT OPTION;"
        ))
        .await;
    let mut master_secret = fx.secret_for(&master, &master_pw);
    master_secret["host"] = "127.0.0.1".into();
    let case = Case::alternating(&fx, "weak", "first-Password-1", Some(master_secret)).await;
    let user = case.username.clone();
    fx.server
        .execute(&format!("GRANT PROCESS ON *.* TO `{user}`@'%'"))
        .await;
    let token = case.start().await;
    case.ok(Step::CreateSecret, &token).await;
    let err = case.step(Step::SetSecret, &token).await.unwrap_err();
    assert_eq!(err.code(), "PrivilegeMismatch", "{}", err.display_chain());
    assert!(err.to_string().contains("PROCESS ON *.*"), "{err}");
    let mut admin = fx.server.admin().await;
    let clones: Vec<String> = admin
        .exec(
            "SELECT user FROM mysql.user WHERE user = ?",
            (format!("{user}_clone"),),
        )
        .await
        .unwrap();
    assert!(clones.is_empty(), "no half-made clone is left");
    assert!(
        case.logs_in(Stage::Current).await,
        "AWSCURRENT keeps working"
    );

    let report_only = RotationConfig {
        parity: Parity::Report,
        ..case.rotator.config().clone()
    };
    let outcomes = case.finish_with(report_only, &token).await;
    let Outcome::AlternateUserSet { report: set } = &outcomes[0] else {
        panic!("{outcomes:?}")
    };
    assert!(
        set.unsynced.iter().any(|u| u.contains("PROCESS ON *.*")),
        "{:#?}",
        set.unsynced
    );
    let (clone, password) = (
        format!("{user}_clone"),
        case.password(Stage::Current).await.unwrap(),
    );
    assert!(
        fx.can_use_probe(&clone, &password).await,
        "what the master could give, it gave"
    );
}
