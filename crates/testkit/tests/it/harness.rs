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

    let rss = lambda.peak_rss_kib().expect("VmHWM");
    assert!(rss > 0);
    let pid = lambda.pid();
    // The pipes are read by threads: only after shutdown is every line surely captured.
    let all = lambda.shutdown().await;
    assert!(
        all.contains(&format!("echo-lambda stdout: request {request_id}")),
        "{all}"
    );
    assert!(
        all.contains(&format!("echo-lambda stderr: request {request_id}")),
        "{all}"
    );
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
    assert!(!lambda.is_running());
    assert!(lambda.shutdown().await.contains("failing init on purpose"));
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

/// The one instance `id` (an id or an ARN) that `DescribeDBInstances` reports.
async fn describe_instance(rds: &aws_sdk_rds::Client, id: &str) -> aws_sdk_rds::types::DbInstance {
    let out = rds
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "DescribeDBInstances {id:?}: {}",
                aws_sdk_rds::error::DisplayErrorContext(&e)
            )
        });
    let mut instances = out.db_instances.unwrap_or_default();
    assert_eq!(instances.len(), 1, "{instances:?}");
    instances.remove(0)
}

/// The one cluster `id` (an id or an ARN) that `DescribeDBClusters` reports.
async fn describe_cluster(rds: &aws_sdk_rds::Client, id: &str) -> aws_sdk_rds::types::DbCluster {
    let out = rds
        .describe_db_clusters()
        .db_cluster_identifier(id)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "DescribeDBClusters {id:?}: {}",
                aws_sdk_rds::error::DisplayErrorContext(&e)
            )
        });
    let mut clusters = out.db_clusters.unwrap_or_default();
    assert_eq!(clusters.len(), 1, "{clusters:?}");
    clusters.remove(0)
}

fn address_of(db: &aws_sdk_rds::types::DbInstance) -> (Option<&str>, Option<i32>) {
    let endpoint = db.endpoint.as_ref().expect("an Endpoint");
    (endpoint.address.as_deref(), endpoint.port)
}

#[tokio::test]
async fn moto_rds_instance_and_replica_endpoints_point_at_local_hosts() {
    let moto = Moto::shared();
    let rds = moto.rds_client();
    let id = unique_name("harness-db-");
    let arn = moto
        .create_db_instance(&id, "postgres", "127.0.0.1", 55432)
        .await;
    assert_eq!(arn, format!("arn:aws:rds:us-east-1:123456789012:db:{id}"));

    // By id and by ARN (what the `aws:rds:primaryDBInstanceArn` tag holds).
    for key in [&id, &arn] {
        let db = describe_instance(&rds, key).await;
        assert_eq!(address_of(&db), (Some("127.0.0.1"), Some(55432)), "{db:?}");
        assert_eq!(db.engine.as_deref(), Some("postgres"));
        assert_eq!(db.db_instance_identifier.as_deref(), Some(id.as_str()));
        assert_eq!(db.db_instance_arn.as_deref(), Some(arn.as_str()));
        assert_eq!(db.read_replica_source_db_instance_identifier, None);
        assert_eq!(db.db_cluster_identifier, None);
    }

    let replica_id = unique_name("harness-replica-");
    let replica_arn = moto
        .create_read_replica(&replica_id, &id, "localhost", 55433)
        .await;
    let replica = describe_instance(&rds, &replica_arn).await;
    assert_eq!(address_of(&replica), (Some("localhost"), Some(55433)));
    assert_eq!(replica.engine.as_deref(), Some("postgres"));
    assert_eq!(
        replica
            .read_replica_source_db_instance_identifier
            .as_deref(),
        Some(id.as_str()),
        "the source's id (not its ARN) for a replica made from the id"
    );
    // The replica's override does not leak onto its source (moto copies the source).
    let source = describe_instance(&rds, &id).await;
    assert_eq!(address_of(&source), (Some("127.0.0.1"), Some(55432)));
    assert_eq!(
        source.read_replica_db_instance_identifiers,
        Some(vec![replica_id.clone()])
    );

    // Other engines keep their names; None restores moto's own address.
    let mariadb = unique_name("harness-mariadb-");
    moto.create_db_instance(&mariadb, "mariadb", "localhost", 3306)
        .await;
    assert_eq!(
        describe_instance(&rds, &mariadb).await.engine.as_deref(),
        Some("mariadb")
    );
    moto.set_db_instance_endpoint(&mariadb, None, None).await;
    let restored = describe_instance(&rds, &mariadb).await;
    assert_eq!(
        address_of(&restored),
        (
            Some(format!("{mariadb}.aaaaaaaaaa.us-east-1.rds.amazonaws.com").as_str()),
            Some(3306)
        )
    );
}

#[tokio::test]
async fn moto_rds_cluster_endpoints_point_at_local_hosts() {
    let moto = Moto::shared();
    let rds = moto.rds_client();
    let id = unique_name("harness-cluster-");
    let arn = moto
        .create_db_cluster(&id, "aurora-postgresql", "127.0.0.1", 55434)
        .await;
    assert_eq!(
        arn,
        format!("arn:aws:rds:us-east-1:123456789012:cluster:{id}")
    );
    for key in [&id, &arn] {
        let cluster = describe_cluster(&rds, key).await;
        assert_eq!(
            cluster.endpoint.as_deref(),
            Some("127.0.0.1"),
            "{cluster:?}"
        );
        assert_eq!(cluster.port, Some(55434));
        assert_eq!(cluster.engine.as_deref(), Some("aurora-postgresql"));
        assert_eq!(cluster.db_cluster_arn.as_deref(), Some(arn.as_str()));
        let reader = cluster.reader_endpoint.as_deref().unwrap_or_default();
        assert!(
            reader.starts_with(&format!("{id}.cluster-ro-")),
            "the reader endpoint keeps moto's name: {reader}"
        );
    }

    let member = unique_name("harness-member-");
    let member_arn = moto
        .add_cluster_instance(&id, &member, "localhost", 55435)
        .await;
    let db = describe_instance(&rds, &member_arn).await;
    assert_eq!(address_of(&db), (Some("localhost"), Some(55435)));
    assert_eq!(db.db_cluster_identifier.as_deref(), Some(id.as_str()));
    assert_eq!(db.engine.as_deref(), Some("aurora-postgresql"));
    let cluster = describe_cluster(&rds, &id).await;
    let members: Vec<_> = cluster
        .db_cluster_members
        .unwrap_or_default()
        .into_iter()
        .map(|m| (m.db_instance_identifier, m.is_cluster_writer))
        .collect();
    assert_eq!(members, vec![(Some(member.clone()), Some(true))]);

    moto.set_db_cluster_endpoint(&arn, Some("localhost"), Some("127.0.0.1"), Some(6543))
        .await;
    let cluster = describe_cluster(&rds, &id).await;
    assert_eq!(
        (
            cluster.endpoint.as_deref(),
            cluster.reader_endpoint.as_deref(),
            cluster.port
        ),
        (Some("localhost"), Some("127.0.0.1"), Some(6543))
    );
}

/// AWS's replica rule reads the instance identifier from the first DNS label of a host.
/// `*.localhost` does not resolve everywhere, so a test whose replica and master must both
/// be reachable uses `localhost` and `127.0.0.1`: identifiers `localhost` and `127`.
/// moto accepts `127` for a read replica and a cluster (not in CreateDBInstance nor
/// DeleteDBInstance). These
/// identifiers are global: use a dedicated server.
#[tokio::test]
async fn moto_rds_loopback_identifiers_follow_the_replica_rule() {
    let moto = Moto::start();
    let rds = moto.rds_client();
    moto.create_db_instance("localhost", "postgres", "localhost", 55436)
        .await;
    moto.create_read_replica("127", "localhost", "127.0.0.1", 55436)
        .await;
    let replica = describe_instance(&rds, "127").await;
    assert_eq!(
        replica
            .read_replica_source_db_instance_identifier
            .as_deref(),
        Some("localhost")
    );
    assert_eq!(address_of(&replica), (Some("127.0.0.1"), Some(55436)));
    // moto refuses to delete `127` (DeleteDBInstance checks the identifier); the cluster
    // below needs the name `localhost` only.
    rds.delete_db_instance()
        .db_instance_identifier("localhost")
        .skip_final_snapshot(true)
        .send()
        .await
        .unwrap();

    // Aurora: the cluster endpoint 127.0.0.1 names cluster `127`; member `localhost`.
    moto.create_db_cluster("127", "aurora-postgresql", "127.0.0.1", 55436)
        .await;
    moto.add_cluster_instance("127", "localhost", "localhost", 55436)
        .await;
    let member = describe_instance(&rds, "localhost").await;
    assert_eq!(member.db_cluster_identifier.as_deref(), Some("127"));
}

#[tokio::test]
async fn moto_keeps_the_aws_tags_of_rds_managed_master_secrets() {
    let moto = Moto::shared();
    let store = moto.store().await;
    let instance_arn = "arn:aws:rds:us-east-1:123456789012:db:harness-tagged";
    let cluster_arn = "arn:aws:rds:us-east-1:123456789012:cluster:harness-tagged";
    for (primary, tag) in [
        (instance_arn, "aws:rds:primaryDBInstanceArn"),
        (cluster_arn, "aws:rds:primaryDBClusterArn"),
    ] {
        let name = unique_name("rds!db-harness-");
        let arn = moto
            .create_rds_managed_secret(&name, "postgres", "master-pw", primary)
            .await;
        let described = store.describe(&SecretId::new(&arn).unwrap()).await.unwrap();
        let expected: std::collections::BTreeMap<String, String> =
            [(tag, primary), ("aws:secretsmanager:owningService", "rds")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
        assert_eq!(described.tags, expected);

        let sdk = moto
            .sdk_client()
            .describe_secret()
            .secret_id(&name)
            .send()
            .await
            .unwrap();
        assert_eq!(sdk.owning_service.as_deref(), Some("rds"));

        let value = store
            .get_value(
                &SecretId::new(&name).unwrap(),
                &Selector::stage(Stage::Current),
            )
            .await
            .unwrap()
            .expect("a current value");
        assert_eq!(value.keys().collect::<Vec<_>>(), ["username", "password"]);
        assert_eq!(value.username(), Some("postgres"));
        assert_eq!(
            value.password().map(|p| p.expose_secret()),
            Some("master-pw")
        );
    }
}
