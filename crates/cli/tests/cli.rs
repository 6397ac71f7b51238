//! The real `secret-rotor` binary against moto (Secrets Manager) and a private PostgreSQL
//! cluster that enforces passwords and serves TLS (verify-full with the cluster's test CA).
//!
//! Every test creates its own role and secret; the binary runs with a cleared environment
//! (PATH, moto's test credentials and region, `TLS_CA_BUNDLE`), so no real AWS setting
//! can leak in.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use secrecy::ExposeSecret;
use secret_rotor::store::SecretStore;
use secret_rotor::{SecretDescription, SecretId, Stage, Step, VersionId};
use secret_rotor_postgres::testing::PgCluster;
use secret_rotor_testkit::conformance::hostile_password;
use secret_rotor_testkit::moto::{Moto, unique_name};
use serde_json::{Value, json};

/// Bound on one run of the binary (a rotation takes well under a second here).
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// What one run of the binary did.
struct Run {
    args: Vec<String>,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Everything the binary printed, for scans and failure messages.
    fn transcript(&self) -> String {
        format!(
            "$ secret-rotor {}\nexit: {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.args.join(" "),
            self.code,
            self.stdout,
            self.stderr
        )
    }

    /// Panics (with the transcript) unless the exit code is `code`.
    fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "{}", self.transcript());
        self
    }

    /// Panics unless `needle` is on stdout.
    fn expect_stdout(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "{needle:?} is not on stdout\n{}",
            self.transcript()
        );
        self
    }

    /// Panics unless `needle` is on stderr.
    fn expect_stderr(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "{needle:?} is not on stderr\n{}",
            self.transcript()
        );
        self
    }

    /// The token of the rotation `rotate` ran (`rotation <id>` or `resuming ...: <id>`).
    fn rotation_token(&self) -> String {
        self.stdout
            .lines()
            .find_map(|l| {
                l.strip_prefix("rotation ")
                    .or_else(|| l.strip_prefix("resuming the rotation in progress: "))
            })
            .map(|t| t.trim().to_owned())
            .unwrap_or_else(|| panic!("no rotation token on stdout\n{}", self.transcript()))
    }
}

/// Runs `secret-rotor --endpoint-url <moto> <args>` with a clean environment plus `extra`.
async fn cli(args: &[&str], extra: &[(&str, &str)]) -> Run {
    let moto = Moto::shared();
    let cluster = PgCluster::shared();
    let mut all_args = vec!["--endpoint-url".to_owned(), moto.endpoint().to_owned()];
    all_args.extend(args.iter().map(|a| (*a).to_owned()));

    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_secret-rotor"));
    command
        .args(&all_args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(moto.env())
        // No shared AWS configuration or credentials files either.
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("TLS_CA_BUNDLE", cluster.ca_pem_path())
        .envs(extra.iter().copied())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(RUN_TIMEOUT, command.output())
        .await
        .unwrap_or_else(|_| panic!("secret-rotor {all_args:?} ran over {RUN_TIMEOUT:?}"))
        .expect("cannot run the secret-rotor binary");
    Run {
        args: all_args,
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A PostgreSQL role and its secret in moto.
struct Account {
    user: String,
    first_password: String,
    arn: String,
    secret_id: SecretId,
    first_version: VersionId,
}

/// Creates a login role with `password` on the shared cluster and its secret in moto.
async fn account_with(password: String) -> Account {
    let moto = Moto::shared();
    let cluster = PgCluster::shared();
    let user = unique_name("cli_");
    cluster.create_login_role(&user, &password).await;
    let secret = json!({
        "engine": "postgres",
        "host": cluster.host(),
        "port": cluster.port(),
        "username": user,
        "password": password,
        "dbname": "postgres",
    });
    let arn = moto
        .create_secret(&unique_name("cli/pg-"), &secret.to_string())
        .await;
    let secret_id = SecretId::new(&arn).unwrap();
    let first_version = describe(&secret_id)
        .await
        .version_with(&Stage::Current)
        .cloned()
        .expect("a new secret has an AWSCURRENT version");
    Account {
        user,
        first_password: password,
        arn,
        secret_id,
        first_version,
    }
}

/// [`account_with`] a password made of every punctuation character.
async fn account() -> Account {
    account_with(hostile_password()).await
}

async fn describe(secret_id: &SecretId) -> SecretDescription {
    Moto::shared()
        .store()
        .await
        .describe(secret_id)
        .await
        .expect("DescribeSecret")
}

/// The password of the version that holds `stage`, if it has a value.
async fn password_at(secret_id: &SecretId, stage: Stage) -> Option<String> {
    Moto::shared()
        .value_at(secret_id.as_str(), stage)
        .await
        .map(|v| v.password().expect("a password").expose_secret().to_owned())
}

async fn current_password(secret_id: &SecretId) -> String {
    password_at(secret_id, Stage::Current)
        .await
        .expect("AWSCURRENT has a value")
}

/// Asserts the state after a finished rotation to `token` from `previous`: labels clean,
/// the new password logs in and `old_password` is refused. Returns the new password.
async fn assert_rotated(
    account: &Account,
    token: &str,
    previous: &VersionId,
    old_password: &str,
) -> String {
    let d = describe(&account.secret_id).await;
    assert_eq!(
        d.version_with(&Stage::Current).map(VersionId::as_str),
        Some(token),
        "AWSCURRENT is on the rotation's token: {d:?}"
    );
    assert_eq!(
        d.version_with(&Stage::Previous),
        Some(previous),
        "AWSPREVIOUS is on the version before: {d:?}"
    );
    assert_eq!(
        d.version_with(&Stage::Pending),
        None,
        "no AWSPENDING left anywhere: {d:?}"
    );
    assert_eq!(d.rotation_in_progress(), None);

    let new_password = current_password(&account.secret_id).await;
    assert_ne!(new_password, old_password, "the password changed");
    let cluster = PgCluster::shared();
    assert!(
        cluster.can_login(&account.user, &new_password).await,
        "the new password logs in"
    );
    assert!(
        !cluster.can_login(&account.user, old_password).await,
        "the old password is refused"
    );
    new_password
}

/// A sample event of `events/` pointed at a real secret and token, written to `dir`.
fn write_event(dir: &Path, step: &str, arn: &str, token: &str) -> std::path::PathBuf {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/createSecret.json");
    let mut event: Value = serde_json::from_str(
        &std::fs::read_to_string(&sample)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", sample.display())),
    )
    .expect("the sample event is JSON");
    event["Step"] = step.into();
    event["SecretId"] = arn.into();
    event["ClientRequestToken"] = token.into();
    let path = dir.join(format!("{step}.json"));
    std::fs::write(&path, serde_json::to_vec_pretty(&event).unwrap()).expect("write the event");
    path
}

#[tokio::test]
async fn rotate_runs_the_four_steps_and_leaves_clean_labels() {
    let account = account().await;

    let run = cli(&["rotate", "--secret-id", &account.arn], &[]).await;
    run.expect_code(0)
        .expect_stdout("new pending credential")
        .expect_stdout("password changed")
        .expect_stdout("pending credential logs in")
        .expect_stdout(&format!(
            "AWSCURRENT moved here from {}",
            account.first_version
        ))
        .expect_stdout("done in ")
        .expect_stdout("versions:");
    for step in Step::ALL {
        run.expect_stdout(&format!("  {step} "));
    }
    let token = run.rotation_token();
    run.expect_stdout(&format!("  {token}  AWSCURRENT"))
        .expect_stdout(&format!("  {}  AWSPREVIOUS", account.first_version));
    let second_password = assert_rotated(
        &account,
        &token,
        &account.first_version,
        &account.first_password,
    )
    .await;

    // The labels were left clean: a second rotation starts from them and works too.
    let again = cli(&["rotate", "--secret-id", &account.arn], &[]).await;
    again.expect_code(0);
    let second_token = again.rotation_token();
    assert_ne!(second_token, token, "a new version");
    assert!(
        !again.stdout.contains("resuming"),
        "nothing to resume\n{}",
        again.transcript()
    );
    let previous = VersionId::new(token).unwrap();
    assert_rotated(&account, &second_token, &previous, &second_password).await;
}

#[tokio::test]
async fn rotate_resumes_a_rotation_in_progress() {
    let account = account().await;
    let moto = Moto::shared();
    // What the service does before it invokes the function: an empty AWSPENDING version.
    let token = moto.start_rotation(&account.arn, None).await.unwrap();

    let run = cli(&["rotate", "--secret-id", &account.arn], &[]).await;
    run.expect_code(0)
        .expect_stdout(&format!("resuming the rotation in progress: {token}"))
        .expect_stdout("new pending credential");
    assert_eq!(run.rotation_token(), token);
    assert_rotated(
        &account,
        &token,
        &account.first_version,
        &account.first_password,
    )
    .await;
}

#[tokio::test]
async fn status_says_ready_or_stuck_with_exit_codes() {
    let account = account().await;
    let moto = Moto::shared();

    let ready = cli(&["status", "--secret-id", &account.arn], &[]).await;
    ready
        .expect_code(0)
        .expect_stdout(&format!("secret:   {}", account.arn))
        .expect_stdout("ready")
        .expect_stdout(&format!("  {}  AWSCURRENT", account.first_version));
    assert!(!ready.stdout.contains("STUCK"), "{}", ready.transcript());

    let token = moto.start_rotation(&account.arn, None).await.unwrap();
    let stuck = cli(&["status", "--secret-id", &account.arn], &[]).await;
    stuck
        .expect_code(3)
        .expect_stdout("STUCK")
        .expect_stdout(&format!("version {token} holds AWSPENDING"))
        .expect_stdout(&format!("  {token}  AWSPENDING"))
        .expect_stdout("rotation: enabled");
    assert!(!stuck.stdout.contains("ready"), "{}", stuck.transcript());

    // `status` only reads: the rotation is still where it was.
    let d = describe(&account.secret_id).await;
    assert_eq!(
        d.rotation_in_progress().map(VersionId::as_str),
        Some(token.as_str())
    );
    assert_eq!(
        d.version_with(&Stage::Current),
        Some(&account.first_version)
    );
}

#[tokio::test]
async fn step_runs_each_step_from_an_event_file() {
    let account = account().await;
    let moto = Moto::shared();
    let dir = tempfile::tempdir().unwrap();
    let token = moto.start_rotation(&account.arn, None).await.unwrap();

    // An invalid event first: refused before anything is read or written.
    let before = describe(&account.secret_id).await;
    let bad = write_event(dir.path(), "rotateSecret", &account.arn, &token);
    let run = cli(&["step", "--event", bad.to_str().unwrap()], &[]).await;
    assert_ne!(run.code, Some(0), "{}", run.transcript());
    run.expect_stderr("InvalidEvent")
        .expect_stderr("rotateSecret");
    let not_json = dir.path().join("not-json.json");
    std::fs::write(&not_json, "{\"Step\": ").unwrap();
    let run = cli(&["step", "--event", not_json.to_str().unwrap()], &[]).await;
    assert_ne!(run.code, Some(0), "{}", run.transcript());
    run.expect_stderr("InvalidEvent");
    assert_eq!(
        describe(&account.secret_id).await,
        before,
        "labels unchanged"
    );
    assert_eq!(
        password_at(&account.secret_id, Stage::Pending).await,
        None,
        "AWSPENDING still has no value"
    );
    assert_eq!(
        current_password(&account.secret_id).await,
        account.first_password
    );
    assert!(
        PgCluster::shared()
            .can_login(&account.user, &account.first_password)
            .await
    );

    // The four steps, as Secrets Manager would invoke them.
    let expected = [
        ("createSecret", "new pending credential"),
        ("setSecret", "password changed"),
        ("testSecret", "pending credential logs in"),
        ("finishSecret", "AWSCURRENT moved here from"),
    ];
    for (step, detail) in expected {
        let event = write_event(dir.path(), step, &account.arn, &token);
        let run = cli(&["step", "--event", event.to_str().unwrap()], &[]).await;
        run.expect_code(0)
            .expect_stdout(&format!("  {step} "))
            .expect_stdout(detail);
        match step {
            "createSecret" => {
                let pending = password_at(&account.secret_id, Stage::Pending).await;
                assert!(pending.is_some(), "createSecret stored the pending value");
                assert_eq!(
                    describe(&account.secret_id)
                        .await
                        .version_with(&Stage::Current),
                    Some(&account.first_version),
                    "AWSCURRENT has not moved yet"
                );
            }
            "setSecret" => {
                let pending = password_at(&account.secret_id, Stage::Pending)
                    .await
                    .unwrap();
                assert!(PgCluster::shared().can_login(&account.user, &pending).await);
            }
            _ => {}
        }
    }
    assert_rotated(
        &account,
        &token,
        &account.first_version,
        &account.first_password,
    )
    .await;

    // Running finishSecret again is a no-op that says so.
    let event = write_event(dir.path(), "finishSecret", &account.arn, &token);
    cli(&["step", "--event", event.to_str().unwrap()], &[])
        .await
        .expect_code(0)
        .expect_stdout("already AWSCURRENT");
}

#[tokio::test]
async fn errors_are_reported_with_their_code() {
    let missing = unique_name("cli/missing-");
    let run = cli(&["rotate", "--secret-id", &missing], &[]).await;
    assert_ne!(run.code, Some(0), "{}", run.transcript());
    run.expect_stderr("error [SecretsManagerError]")
        .expect_stderr("ResourceNotFoundException");
    assert!(run.stdout.is_empty(), "{}", run.transcript());

    let run = cli(&["status", "--secret-id", &missing], &[]).await;
    assert_ne!(run.code, Some(0), "{}", run.transcript());
    assert_ne!(run.code, Some(3), "not 'in progress'\n{}", run.transcript());
    run.expect_stderr("error [SecretsManagerError]");

    let account = account().await;
    let before = describe(&account.secret_id).await;
    let run = cli(
        &["rotate", "--secret-id", &account.arn, "--target", "oracle"],
        &[],
    )
    .await;
    assert_ne!(run.code, Some(0), "{}", run.transcript());
    run.expect_stderr("error [ConfigError]")
        .expect_stderr("unknown target \"oracle\"");
    // A PostgreSQL secret forced onto the MySQL target: its engine is refused.
    let run = cli(
        &["rotate", "--secret-id", &account.arn, "--target", "mysql"],
        &[],
    )
    .await;
    run.expect_code(1)
        .expect_stderr("error [InvalidSecret]")
        .expect_stderr("\"engine\" is \"postgres\"");
    assert_eq!(
        describe(&account.secret_id).await,
        before,
        "nothing changed"
    );
    assert_eq!(
        current_password(&account.secret_id).await,
        account.first_password
    );
}

#[tokio::test]
async fn no_password_reaches_the_output_even_at_trace_level() {
    let account = account().await;
    // The random tail of the first password: found even if the punctuation were escaped.
    let first_tail = &account.first_password[account.first_password.len() - 10..];

    let rotate = cli(
        &["rotate", "--secret-id", &account.arn],
        &[("RUST_LOG", "trace")],
    )
    .await;
    rotate.expect_code(0);
    assert!(
        rotate.stderr.lines().count() > 20,
        "trace logging is on\n{}",
        rotate.transcript()
    );
    let token = rotate.rotation_token();
    let new_password = assert_rotated(
        &account,
        &token,
        &account.first_version,
        &account.first_password,
    )
    .await;
    let status = cli(
        &["status", "--secret-id", &account.arn],
        &[("RUST_LOG", "trace")],
    )
    .await;
    status.expect_code(0);

    for run in [&rotate, &status] {
        let text = format!("{}{}", run.stdout, run.stderr);
        for (what, secret) in [
            ("the old password", account.first_password.as_str()),
            ("the old password's tail", first_tail),
            ("the new password", new_password.as_str()),
        ] {
            assert!(
                !text.contains(secret),
                "{what} appears in the output of `secret-rotor {}`",
                run.args.join(" ")
            );
        }
        assert!(
            !text.contains("SCRAM-SHA-256$"),
            "a SCRAM verifier appears in the output of `secret-rotor {}`",
            run.args.join(" ")
        );
    }
}

#[tokio::test]
async fn rotate_alternates_users_with_a_master_secret() {
    let moto = Moto::shared();
    let cluster = PgCluster::shared();
    let (super_user, super_pw) = cluster.superuser();
    let master = json!({
        "engine": "postgres", "host": cluster.host(), "port": cluster.port(),
        "username": super_user, "password": super_pw,
    });
    let master_arn = moto
        .create_secret(&unique_name("cli/master-"), &master.to_string())
        .await;
    let user = unique_name("cli_alt_");
    let first_password = hostile_password();
    cluster.create_login_role(&user, &first_password).await;
    let secret = json!({
        "engine": "postgres", "host": cluster.host(), "port": cluster.port(),
        "username": user, "password": first_password, "masterarn": master_arn,
    });
    let arn = moto
        .create_secret(&unique_name("cli/alt-"), &secret.to_string())
        .await;
    let secret_id = SecretId::new(&arn).unwrap();
    let strategy = [("ROTATION_STRATEGY", "alternating-users")];

    cli(&["check", "--secret-id", &arn], &strategy)
        .await
        .expect_code(0)
        .expect_stdout("master")
        .expect_stdout("alternate:   the other user does not exist yet");
    let run = cli(&["rotate", "--secret-id", &arn], &strategy).await;
    run.expect_code(0)
        .expect_stdout("alternate user created by the master")
        .expect_stdout(&format!("new pending credential for \"{user}_clone\""));
    assert!(
        !run.stdout.contains("password window"),
        "no window with alternating users"
    );
    let clone_password = current_password(&secret_id).await;
    assert!(
        cluster
            .can_login(&format!("{user}_clone"), &clone_password)
            .await
    );
    assert!(
        cluster.can_login(&user, &first_password).await,
        "the previous user still works"
    );

    let run = cli(&["rotate", "--secret-id", &arn], &strategy).await;
    run.expect_code(0)
        .expect_stdout("alternate user updated by the master");
    let user_password = current_password(&secret_id).await;
    assert!(cluster.can_login(&user, &user_password).await);
    assert!(!cluster.can_login(&user, &first_password).await);
    assert!(
        cluster
            .can_login(&format!("{user}_clone"), &clone_password)
            .await
    );

    // A grant the user got since: check says the next rotation gives it to the clone, and
    // gives it nothing now.
    let table = format!("t_{user}");
    let admin = cluster.admin().await;
    admin
        .batch_execute(&format!(
            "CREATE TABLE \"{table}\" (x int); GRANT SELECT ON \"{table}\" TO \"{user}\""
        ))
        .await
        .unwrap();
    cli(&["check", "--secret-id", &arn], &strategy)
        .await
        .expect_code(0)
        .expect_stdout("would fix: ")
        .expect_stdout(&table);
    // (The clone reads it already through its membership in the user: look at the ACL.)
    let direct_grants = format!(
        "SELECT count(*) FROM pg_class c, aclexplode(c.relacl) a \
         WHERE c.relname = '{table}' AND a.grantee = '{user}_clone'::regrole"
    );
    let row = admin.query_one(&direct_grants, &[]).await.unwrap();
    assert_eq!(row.get::<_, i64>(0), 0, "check granted nothing");
    cli(&["rotate", "--secret-id", &arn], &strategy)
        .await
        .expect_code(0);
    let row = admin.query_one(&direct_grants, &[]).await.unwrap();
    assert_eq!(row.get::<_, i64>(0), 1, "the rotation did");
    for password in [
        &first_password,
        &clone_password,
        &user_password,
        &super_pw.to_owned(),
    ] {
        assert!(!run.stdout.contains(password.as_str()) && !run.stderr.contains(password.as_str()));
    }
}

/// The CLI picks the target from the secret's `engine`: a MariaDB secret rotates with the
/// MySQL target (its own CA bundle), and `--target` names it too.
#[tokio::test]
async fn rotate_picks_the_mysql_target_from_the_engine() {
    use secret_rotor_testkit::conformance::Fixture;
    let fx = secret_rotor_mysql::testing::fixture();
    let moto = Moto::shared();
    let user = unique_name("climy");
    let first = hostile_password();
    fx.create_account(&user, &first).await;
    let arn = moto
        .create_secret(
            &unique_name("cli/mysql"),
            &fx.secret_for(&user, &first).to_string(),
        )
        .await;
    let ca = fx.server.ca_pem_path().display().to_string();
    for target in [None, Some("mariadb")] {
        let mut args = vec!["rotate", "--secret-id", &arn];
        if let Some(target) = target {
            args.extend(["--target", target]);
        }
        let run = cli(&args, &[("TLS_CA_BUNDLE", &ca)]).await;
        run.expect_code(0).expect_stdout("password changed");
        let password = current_password(&SecretId::new(&arn).unwrap()).await;
        assert!(fx.can_login(&user, &password).await, "{target:?}");
    }
    assert!(!fx.can_login(&user, &first).await);
    // The server's certificate, read through MySQL's own TLS upgrade.
    cli(&["check", "--secret-id", &arn], &[("TLS_CA_BUNDLE", &ca)])
        .await
        .expect_code(0)
        .expect_stdout("tls:         expires in ")
        .expect_stdout("issuer CN=");
    let unknown = cli(&["rotate", "--secret-id", &arn, "--target", "oracle"], &[]).await;
    unknown
        .expect_code(1)
        .expect_stderr("ConfigError")
        .expect_stderr("mariadb");
}

/// RabbitMQ's management API (the broker `scripts/setup.sh` starts).
const RABBITMQ: &str = "http://127.0.0.1:15672";

/// Whether `user`/`password` logs in to RabbitMQ's management API.
async fn rabbitmq_login(user: &str, password: &str) -> bool {
    let status = reqwest::Client::new()
        .get(format!("{RABBITMQ}/api/whoami"))
        .basic_auth(user, Some(password))
        .send()
        .await
        .expect("RabbitMQ's management API answers (scripts/setup.sh enables it)")
        .status();
    assert!(status == 200 || status == 401, "whoami: {status}");
    status == 200
}

/// A secret that carries its own HTTP spec (no `engine`) rotates with the HTTP target:
/// a RabbitMQ user's password changed through the management API, proven by the broker.
#[tokio::test]
async fn rotate_picks_the_http_target_for_a_secret_with_a_spec() {
    let user = unique_name("clihttp");
    let first = hostile_password();
    let created = reqwest::Client::new()
        .put(format!("{RABBITMQ}/api/users/{user}"))
        .basic_auth("guest", Some("guest"))
        .json(&json!({"password": first, "tags": "administrator"}))
        .send()
        .await
        .expect("RabbitMQ's management API answers (scripts/setup.sh enables it)");
    assert!(
        created.status().is_success(),
        "create {user}: {}",
        created.status()
    );
    let spec_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../http/examples/specs/rabbitmq.json"
    );
    let mut spec: Value =
        serde_json::from_str(&std::fs::read_to_string(spec_path).unwrap()).unwrap();
    spec["allow_http"] = true.into();
    let secret = json!({
        "username": user,
        "password": first,
        "url": RABBITMQ,
        "rotation_spec": spec,
    });
    let moto = Moto::shared();
    let arn = moto
        .create_secret(&unique_name("cli/http"), &secret.to_string())
        .await;
    let run = cli(&["rotate", "--secret-id", &arn], &[]).await;
    run.expect_code(0).expect_stdout("password changed");
    let new = current_password(&SecretId::new(&arn).unwrap()).await;
    assert_ne!(new, first);
    assert!(
        rabbitmq_login(&user, &new).await,
        "the new password logs in"
    );
    assert!(
        !rabbitmq_login(&user, &first).await,
        "the old one is refused"
    );
    assert!(!run.transcript().contains(&new) && !run.transcript().contains(&first));
}

/// Runs the binary with only `env` (and PATH): no moto, no AWS configuration.
async fn bare_cli(args: &[&str], env: &[(&str, &str)]) -> Run {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_secret-rotor"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        // No instance metadata service to ask (it may be unreachable or slow here).
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(RUN_TIMEOUT, output)
        .await
        .expect("the CLI finished")
        .expect("the CLI runs");
    Run {
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Without credentials, without a region, or with an endpoint that refuses connections,
/// the CLI says what is wrong and what to do in a few short lines, without the SDK's
/// warnings or its `Debug` dumps; `-v` gives every cause.
#[tokio::test]
async fn errors_say_what_is_wrong_in_a_few_lines() {
    let creds = [
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "x"),
    ];
    let region = ("AWS_REGION", "us-east-1");
    let refused = "http://127.0.0.1:9";
    let status = ["status", "--secret-id", "x"];
    /// Arguments, environment, what stderr must say.
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);
    let cases: [Case<'_>; 3] = [
        (
            status.to_vec(),
            vec![region],
            "no AWS credentials found: set AWS_PROFILE",
        ),
        (
            status.to_vec(),
            creds.to_vec(),
            "no AWS region: set AWS_REGION",
        ),
        (
            [&status[..], &["--endpoint-url", refused]].concat(),
            [&creds[..], &[region]].concat(),
            "cannot reach the endpoint: connection refused",
        ),
    ];
    for (args, env, says) in cases {
        let run = bare_cli(&args, &env).await;
        run.expect_code(1).expect_stderr(says);
        assert!(
            !run.stderr.contains("WARN") && !run.stderr.contains("DispatchFailure"),
            "{}",
            run.transcript()
        );
        assert!(
            run.stderr.lines().count() <= 3 && run.stderr.len() < 400,
            "{}",
            run.transcript()
        );
    }
    let run = bare_cli(
        &[
            "-v",
            "status",
            "--secret-id",
            "x",
            "--endpoint-url",
            refused,
        ],
        &[&creds[..], &[region]].concat(),
    )
    .await;
    run.expect_code(1)
        .expect_stderr("cannot reach the endpoint")
        .expect_stderr("dispatch failure");
    let run = bare_cli(
        &["status", "--secret-id", "x", "--endpoint-url", refused],
        &[&creds[..], &[region]].concat(),
    )
    .await;
    run.expect_stderr(refused);
}

/// `cancel` takes AWSPENDING off a rotation that has not changed the password yet, and
/// refuses (exit 4, nothing changed) once the password is live, saying to finish instead.
#[tokio::test]
async fn cancel_ends_a_stuck_rotation_only_when_it_is_safe() {
    let account = account().await;
    let moto = Moto::shared();
    let dir = tempfile::tempdir().unwrap();
    let run_step = |step: &str, token: &str| {
        let event = write_event(dir.path(), step, &account.arn, token);
        async move { cli(&["step", "--event", event.to_str().unwrap()], &[]).await }
    };

    // Stuck after createSecret: the password has not changed, cancelling is safe.
    let token = moto.start_rotation(&account.arn, None).await.unwrap();
    run_step("createSecret", &token).await.expect_code(0);
    let run = cli(&["cancel", "--secret-id", &account.arn], &[]).await;
    run.expect_code(0)
        .expect_stdout("cancelled: AWSPENDING removed");
    assert_eq!(
        describe(&account.secret_id).await.rotation_in_progress(),
        None
    );
    assert_eq!(
        current_password(&account.secret_id).await,
        account.first_password
    );
    cli(&["status", "--secret-id", &account.arn], &[])
        .await
        .expect_code(0);

    // Stuck after setSecret: the new password is live, cancelling would lock the
    // application out.
    let token = moto.start_rotation(&account.arn, None).await.unwrap();
    run_step("createSecret", &token).await.expect_code(0);
    run_step("setSecret", &token).await.expect_code(0);
    let before = describe(&account.secret_id).await;
    let run = cli(&["cancel", "--secret-id", &account.arn], &[]).await;
    run.expect_code(4)
        .expect_stdout("NOT CANCELLED")
        .expect_stdout("lock the")
        .expect_stdout("secret-rotor rotate");
    assert_eq!(
        describe(&account.secret_id).await,
        before,
        "nothing changed"
    );
    // Finishing it, as told, works.
    cli(&["rotate", "--secret-id", &account.arn], &[])
        .await
        .expect_code(0);
    let now = current_password(&account.secret_id).await;
    assert!(PgCluster::shared().can_login(&account.user, &now).await);
    cli(&["cancel", "--secret-id", &account.arn], &[])
        .await
        .expect_code(0)
        .expect_stdout("nothing to cancel");
}

/// `check` and `rotate --dry-run` log in with each credential, print the settings and the
/// plan, exit non-zero when a rotation would fail, and write nothing.
#[tokio::test]
async fn check_and_dry_run_look_without_writing() {
    let account = account().await;
    let moto = Moto::shared();
    let calls_before = moto.calls(&account.arn).await;
    let before = describe(&account.secret_id).await;

    let run = cli(&["check", "--secret-id", &account.arn], &[]).await;
    run.expect_code(0)
        .expect_stdout("strategy:    single-user")
        .expect_stdout("rotation:")
        .expect_stdout(&format!("{} @ ", account.user))
        .expect_stdout("logs in")
        .expect_stdout("state:       ready")
        .expect_stdout("tls:         expires in ")
        .expect_stdout("issuer CN=");
    let run = cli(&["rotate", "--dry-run", "--secret-id", &account.arn], &[]).await;
    run.expect_code(0)
        .expect_stdout("plan (nothing was written)")
        .expect_stdout("setSecret")
        .expect_stdout("would succeed");
    assert_eq!(describe(&account.secret_id).await, before, "no label moved");
    let calls = moto.calls(&account.arn).await;
    for write in ["PutSecretValue", "UpdateSecretVersionStage"] {
        assert_eq!(
            calls.get(write),
            calls_before.get(write),
            "{write}: {calls:?}"
        );
    }
    assert!(
        PgCluster::shared()
            .can_login(&account.user, &account.first_password)
            .await
    );

    // After a rotation AWSPREVIOUS is refused, as a single-user rotation means.
    cli(&["rotate", "--secret-id", &account.arn], &[])
        .await
        .expect_code(0);
    cli(&["check", "--secret-id", &account.arn], &[])
        .await
        .expect_code(0)
        .expect_stdout("AWSPREVIOUS")
        .expect_stdout("expected, a single-user rotation replaced it");

    // Someone changes the password out of band: AWSCURRENT is refused, exit 5.
    let admin = PgCluster::shared().admin().await;
    admin
        .batch_execute(&format!(
            "ALTER ROLE \"{}\" PASSWORD 'elsewhere-1'",
            account.user
        ))
        .await
        .unwrap();
    let run = cli(&["rotate", "--dry-run", "--secret-id", &account.arn], &[]).await;
    run.expect_code(5)
        .expect_stdout("REFUSED")
        .expect_stdout("would FAIL");
}

/// `rotate` over several secrets (repeated `--secret-id` and a file): each rotated, one
/// failure reported with its code without stopping the others, exit 1, a JSON summary;
/// writes above the service's quota refused.
#[tokio::test]
async fn rotate_many_secrets_with_a_summary() {
    let accounts = [account().await, account().await, account().await];
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("ids.txt");
    std::fs::write(
        &list,
        format!(
            "# the fleet\n{}\n\nmissing-{}\n",
            accounts[2].arn,
            unique_name("x")
        ),
    )
    .unwrap();
    let run = cli(
        &[
            "rotate",
            "--secret-id",
            &accounts[0].arn,
            "--secret-id",
            &accounts[1].arn,
            "--secret-ids-from",
            list.to_str().unwrap(),
            "--concurrency",
            "2",
            "--output",
            "json",
        ],
        &[],
    )
    .await;
    run.expect_code(1);
    let summary: Value = serde_json::from_str(run.stdout.trim()).expect("JSON on stdout");
    assert_eq!(summary["rotated"], 3, "{summary}");
    assert_eq!(summary["failed"], 1, "{summary}");
    let results = summary["results"].as_array().unwrap();
    assert_eq!(results[3]["code"], "SecretsManagerError", "{summary}");
    for (account, result) in accounts.iter().zip(results) {
        assert_eq!(result["ok"], true, "{summary}");
        let now = current_password(&account.secret_id).await;
        assert_ne!(now, account.first_password);
        assert!(PgCluster::shared().can_login(&account.user, &now).await);
        assert!(!run.transcript().contains(&now));
    }
    let run = cli(
        &[
            "rotate",
            "--secret-id",
            &accounts[0].arn,
            "--secret-id",
            &accounts[1].arn,
        ],
        &[],
    )
    .await;
    run.expect_code(0).expect_stdout("2 rotated, 0 failed");
    cli(
        &[
            "rotate",
            "--secret-id",
            &accounts[0].arn,
            "--secret-id",
            &accounts[1].arn,
            "--max-writes-per-second",
            "60",
        ],
        &[],
    )
    .await
    .expect_code(1)
    .expect_stderr("ConfigError");
}

/// The name of the secret `arn` (the last part of its ARN, without the service's suffix).
async fn name_of(arn: &str) -> String {
    describe(&SecretId::new(arn).unwrap()).await.name
}

#[tokio::test(flavor = "multi_thread")]
async fn rotate_the_secrets_a_name_prefix_or_tags_select() {
    let moto = Moto::shared();
    let (a, b, off, untagged) = (
        account().await,
        account().await,
        account().await,
        account().await,
    );
    let fleet = unique_name("fleet-");
    for (account, tags) in [
        (&a, vec![("fleet", fleet.as_str()), ("team", "payments")]),
        (&b, vec![("fleet", fleet.as_str()), ("team", "search")]),
        (&off, vec![("fleet", fleet.as_str())]),
        (&untagged, vec![("team", "payments")]),
    ] {
        moto.tag_secret(&account.arn, &tags).await;
        let enabled = !std::ptr::eq(account, &off);
        moto.set_rotation_enabled(&account.arn, Some(enabled)).await;
    }
    let rotated = |run: &Run| -> Vec<String> {
        let summary: Value = serde_json::from_str(run.stdout.trim()).expect("JSON on stdout");
        assert_eq!(summary["failed"], 0, "{summary}");
        let rows = summary["results"].as_array().unwrap();
        rows.iter()
            .map(|r| r["secret_id"].as_str().unwrap().to_owned())
            .collect()
    };

    // One tag: the two with rotation on; the third is left out, and said so.
    let tag = format!("fleet={fleet}");
    let run = cli(&["rotate", "--tag", &tag, "--output", "json"], &[]).await;
    run.expect_code(0)
        .expect_stderr("left out 1 matching secret(s) whose rotation is off");
    let mut got = rotated(&run);
    got.sort();
    let mut want = vec![a.arn.clone(), b.arn.clone()];
    want.sort();
    assert_eq!(got, want);
    for account in [&a, &b] {
        let now = current_password(&account.secret_id).await;
        assert_ne!(now, account.first_password);
        assert!(PgCluster::shared().can_login(&account.user, &now).await);
    }
    for account in [&off, &untagged] {
        assert_eq!(
            current_password(&account.secret_id).await,
            account.first_password
        );
    }

    // Every tag must match, with its value (team=payments is also on `untagged`).
    let run = cli(
        &[
            "rotate",
            "--tag",
            &tag,
            "--tag",
            "team=payments",
            "--output",
            "json",
        ],
        &[],
    )
    .await;
    run.expect_code(0);
    assert_eq!(rotated(&run), vec![a.arn.clone()]);

    // A name prefix (the whole name of `b`: nothing else starts with it).
    let prefix = name_of(&b.arn).await;
    let run = cli(
        &["rotate", "--name-prefix", &prefix, "--output", "json"],
        &[],
    )
    .await;
    run.expect_code(0);
    assert_eq!(rotated(&run), vec![b.arn.clone()]);

    // Nothing selected, a negated value, a tag without '=': clear errors, nothing rotated.
    let before = current_password(&a.secret_id).await;
    let nothing = format!("fleet={}", unique_name("none-"));
    for (args, says) in [
        (
            vec!["rotate", "--tag", nothing.as_str()],
            "no secret with rotation on matches",
        ),
        (
            vec!["rotate", "--name-prefix", "!cli"],
            "cannot start with '!'",
        ),
        (vec!["rotate", "--tag", "fleet"], "expected KEY=VALUE"),
    ] {
        let run = cli(&args, &[]).await;
        assert_ne!(run.code, Some(0), "{}", run.transcript());
        run.expect_stderr(says);
    }
    assert_eq!(current_password(&a.secret_id).await, before);
}
