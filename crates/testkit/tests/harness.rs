//! Proves the service harnesses: moto (with the service's empty AWSPENDING staging and call
//! counting), the private PostgreSQL cluster, and the Lambda Runtime API emulator.

use std::path::Path;
use std::time::Instant;

use secrecy::ExposeSecret;
use secret_rotor::store::{SecretStore, Selector};
use secret_rotor::{SecretId, Stage, VersionId};
use secret_rotor_testkit::moto::{Moto, unique_name};
use secret_rotor_testkit::runtime_api::{Invocation, LambdaProcess, rotate_like_the_service};
use serde_json::json;

fn token() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[tokio::test]
async fn moto_stages_an_empty_pending_version_like_the_service() {
    let moto = Moto::shared();
    assert!(moto.endpoint().starts_with("http://127.0.0.1:"));
    assert_eq!(moto.region(), "us-east-1");
    let name = unique_name("harness-pending-");
    let arn = moto
        .create_secret(&name, r#"{"username":"u","password":"p"}"#)
        .await;
    assert!(
        arn.starts_with("arn:aws:secretsmanager:us-east-1:123456789012:secret:"),
        "{arn}"
    );

    let store = moto.store().await;
    let id = SecretId::new(&name).unwrap();
    let before = store.describe(&id).await.unwrap();
    assert_eq!(
        before.rotation_enabled, None,
        "moto omits RotationEnabled until rotation is set"
    );

    let first = token();
    let staged = moto.start_rotation(&name, Some(&first)).await.unwrap();
    assert_eq!(staged, first);

    let described = store.describe(&id).await.unwrap();
    let version = VersionId::new(&first).unwrap();
    assert_eq!(
        described.stages_of(&version),
        Some(&[Stage::Pending][..]),
        "{described:?}"
    );
    assert_eq!(described.rotation_enabled, Some(true));
    assert_eq!(described.rotation_in_progress(), Some(&version));
    let pending = store
        .get_value(&id, &Selector::version(&version, Stage::Pending))
        .await
        .unwrap();
    assert!(pending.is_none(), "the pending version has no value yet");
    // The current value is untouched (and readable by ARN too).
    let arn_id = SecretId::new(&arn).unwrap();
    let current = store
        .get_value(&arn_id, &Selector::stage(Stage::Current))
        .await
        .unwrap();
    assert!(current.is_some());

    // Another rotation is refused while this one is in progress; the same token is not.
    let refused = moto.start_rotation(&arn, Some(&token())).await.unwrap_err();
    assert!(
        refused.contains("previous rotation isn't complete"),
        "{refused}"
    );
    assert_eq!(
        moto.start_rotation(&name, Some(&first)).await.unwrap(),
        first
    );
    // Tokens are 32 to 64 characters, as on the service (and moto's PutSecretValue).
    assert!(moto.start_rotation(&name, Some("short")).await.is_err());
    // A token is generated when none is given (after the pending version is gone).
    moto.put_raw(&name, &first, None, &[]).await;
    let generated = moto.start_rotation(&name, None).await.unwrap();
    assert_eq!(generated.len(), 36, "{generated}");
    let raw = moto.raw_secret(&name).await;
    assert_eq!(
        raw["Versions"][&generated]["VersionStages"],
        json!(["AWSPENDING"]),
        "{raw}"
    );
    assert_eq!(
        raw["Versions"][&generated]["HasValue"],
        json!(false),
        "{raw}"
    );
}

#[tokio::test]
async fn moto_rotation_enabled_and_raw_versions() {
    let moto = Moto::shared();
    let name = unique_name("harness-raw-");
    moto.create_secret(&name, r#"{"password":"a"}"#).await;
    let store = moto.store().await;
    let id = SecretId::new(&name).unwrap();
    for enabled in [Some(false), Some(true), None] {
        moto.set_rotation_enabled(&name, enabled).await;
        assert_eq!(store.describe(&id).await.unwrap().rotation_enabled, enabled);
    }

    let odd = token();
    moto.put_raw(
        &name,
        &odd,
        Some(r#"{"password":"b"}"#),
        &["AWSCURRENT", "AWSPENDING"],
    )
    .await;
    let described = store.describe(&id).await.unwrap();
    let version = VersionId::new(&odd).unwrap();
    assert_eq!(
        described.stages_of(&version),
        Some(&[Stage::Current, Stage::Pending][..])
    );
    assert_eq!(
        described.versions.len(),
        1,
        "labels moved away: {described:?}"
    );
    let current = store
        .get_value(&id, &Selector::stage(Stage::Current))
        .await
        .unwrap()
        .expect("current value");
    assert_eq!(current.password().unwrap().expose_secret(), "b");
}

#[tokio::test]
async fn moto_counts_calls_per_raw_secret_id() {
    let moto = Moto::shared();
    let name = unique_name("harness-calls-");
    let arn = moto.create_secret(&name, r#"{"password":"a"}"#).await;
    assert!(
        moto.calls(&name).await.is_empty(),
        "CreateSecret carries Name, not SecretId"
    );
    let store = moto.store().await;
    let by_name = SecretId::new(&name).unwrap();
    let by_arn = SecretId::new(&arn).unwrap();
    store.describe(&by_name).await.unwrap();
    store.describe(&by_name).await.unwrap();
    store
        .get_value(&by_arn, &Selector::stage(Stage::Current))
        .await
        .unwrap();
    let calls = moto.calls(&name).await;
    assert_eq!(calls.get("DescribeSecret"), Some(&2), "{calls:?}");
    assert_eq!(calls.get("GetSecretValue"), None, "{calls:?}");
    let calls = moto.calls(&arn).await;
    assert_eq!(calls.get("GetSecretValue"), Some(&1), "{calls:?}");
}

#[tokio::test]
async fn dedicated_moto_resets_calls_and_stops_on_drop() {
    let started = Instant::now();
    let moto = Moto::start();
    eprintln!("dedicated moto started in {:?}", started.elapsed());
    let name = unique_name("harness-dedicated-");
    moto.create_secret(&name, "{}").await;
    moto.store()
        .await
        .describe(&SecretId::new(&name).unwrap())
        .await
        .unwrap();
    assert_eq!(moto.calls(&name).await.get("DescribeSecret"), Some(&1));
    moto.reset_calls().await;
    assert!(moto.calls(&name).await.is_empty());
    let env = moto.env();
    assert!(env.contains(&("AWS_ENDPOINT_URL".to_owned(), moto.endpoint().to_owned())));
    assert!(env.contains(&("AWS_EC2_METADATA_DISABLED".to_owned(), "true".to_owned())));
    let addr = moto.endpoint().trim_start_matches("http://").to_owned();
    assert!(moto.is_running());
    drop(moto);
    assert!(
        std::net::TcpStream::connect(&addr).is_err(),
        "moto must be gone after drop"
    );
}

#[cfg(feature = "postgres")]
mod pg {
    use secret_rotor_testkit::pg::{PgCluster, PgOptions};

    #[tokio::test]
    async fn cluster_enforces_passwords() {
        let pg = PgCluster::shared();
        assert_eq!(pg.host(), "127.0.0.1");
        let (user, password) = pg.superuser();
        assert_eq!(user, "postgres");
        assert!(pg.can_login(user, password).await);
        assert!(!pg.can_login(user, "not-the-password").await);

        let role = format!("Rôle \"{}\" x", uuid::Uuid::new_v4().simple());
        let secret = "s3cr'et pass-word";
        pg.create_login_role(&role, secret).await;
        assert!(pg.can_login(&role, secret).await);
        assert!(!pg.can_login(&role, "wrong").await);
        assert!(!pg.can_login("no such role", "whatever").await);
        pg.drop_role(&role).await;
        assert!(!pg.can_login(&role, secret).await);

        let log = pg.server_log();
        assert!(
            log.contains("CREATE ROLE"),
            "log_statement = 'all' logs statements"
        );
        assert!(
            !log.contains(secret),
            "the setup password is sent as a SCRAM verifier"
        );
    }

    #[tokio::test]
    async fn cluster_serves_tls_with_its_own_ca() {
        let pg = PgCluster::shared();
        let admin = pg.admin().await;
        let row = admin.query_one("SHOW ssl", &[]).await.unwrap();
        assert_eq!(row.get::<_, String>(0), "on");
        let hba = admin
            .query_one("SELECT current_setting('password_encryption')", &[])
            .await
            .unwrap();
        assert_eq!(hba.get::<_, String>(0), "scram-sha-256");
        let ca = std::fs::read_to_string(pg.ca_pem_path()).unwrap();
        assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
        assert_eq!(ca, pg.ca_pem());
        let key = pg.data_dir().join("server.key");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[tokio::test]
    async fn dedicated_cluster_without_tls_stops_on_drop() {
        let started = std::time::Instant::now();
        let pg = PgCluster::start(PgOptions {
            tls: false,
            ..PgOptions::default()
        });
        eprintln!("dedicated PostgreSQL started in {:?}", started.elapsed());
        let admin = pg.admin().await;
        let row = admin.query_one("SHOW ssl", &[]).await.unwrap();
        assert_eq!(row.get::<_, String>(0), "off");
        assert!(!pg.tls());
        let data_dir = pg.data_dir().to_owned();
        let port = pg.port();
        assert!(pg.is_running());
        drop(admin);
        drop(pg);
        assert!(!data_dir.exists(), "the cluster's directory is removed");
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    }
}

fn echo_lambda() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_testkit-echo-lambda"))
}

#[tokio::test]
async fn runtime_api_runs_a_real_lambda_binary() {
    let lambda = LambdaProcess::spawn(echo_lambda(), &[("EXTRA".to_owned(), "1".to_owned())]).await;
    let ok = lambda.invoke(json!({"hello": "world"})).await;
    let Invocation::Ok(payload) = &ok else {
        panic!("{ok:?}\n{}", lambda.logs());
    };
    assert_eq!(payload["echo"], json!({"hello": "world"}));
    assert_eq!(
        payload["functionArn"],
        "arn:aws:lambda:us-east-1:123456789012:function:secret-rotor-test"
    );
    let request_id = payload["requestId"].as_str().unwrap().to_owned();

    let failed = lambda.invoke(json!({"fail": true})).await;
    assert_eq!(failed.error_type(), Some("EchoFailure"), "{failed:?}");
    assert!(failed.error_message().unwrap().starts_with("asked to fail"));

    // The process survives errors and keeps serving.
    assert!(lambda.invoke(json!(7)).await.is_ok());

    let logs = lambda.logs();
    assert!(
        logs.contains(&format!("echo-lambda stdout: request {request_id}")),
        "{logs}"
    );
    assert!(
        logs.contains(&format!("echo-lambda stderr: request {request_id}")),
        "{logs}"
    );
    let rss = lambda.peak_rss_kib().expect("VmHWM");
    assert!(rss > 0);
    let pid = lambda.pid();
    let all = lambda.shutdown().await;
    assert!(all.contains("echo-lambda stdout"));
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "killed and reaped"
    );
}

#[tokio::test]
async fn runtime_api_reports_a_dead_process_as_exit_error() {
    let env = [("ECHO_LAMBDA_FAIL_INIT".to_owned(), "1".to_owned())];
    let lambda = LambdaProcess::spawn(echo_lambda(), &env).await;
    let started = Instant::now();
    let outcome = lambda.invoke(json!({})).await;
    assert_eq!(
        outcome.error_type(),
        Some("Runtime.ExitError"),
        "{outcome:?}"
    );
    assert!(
        outcome.error_message().unwrap().contains("exit status 3"),
        "{outcome:?}"
    );
    assert!(started.elapsed().as_secs() < 10, "fails fast");
    assert!(lambda.logs().contains("failing init on purpose"));
    assert!(!lambda.is_running());
}

#[tokio::test]
async fn rotate_like_the_service_sends_the_four_steps() {
    let moto = Moto::shared();
    let name = unique_name("harness-rotate-");
    let arn = moto.create_secret(&name, r#"{"password":"a"}"#).await;
    let lambda = LambdaProcess::spawn(echo_lambda(), &moto.env()).await;
    let (token, outcomes) = rotate_like_the_service(&lambda, moto, &name, None).await;
    assert_eq!(outcomes.len(), 4);
    for (outcome, step) in
        outcomes
            .iter()
            .zip(["createSecret", "setSecret", "testSecret", "finishSecret"])
    {
        let payload = outcome.ok().expect("echo succeeds");
        assert_eq!(
            payload["echo"],
            json!({"Step": step, "SecretId": arn, "ClientRequestToken": token})
        );
    }
    // The echo function does not finish the rotation, so the next one is refused.
    assert!(moto.start_rotation(&name, None).await.is_err());
    lambda.shutdown().await;
}
