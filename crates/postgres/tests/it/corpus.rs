//! The hostile corpus (`tests/corpus/cases/`, written by `tests/corpus/generate.py`)
//! through the real `rotate-postgres` binary: malformed events, secrets that are not what
//! they should be (not JSON, wrong types, unknown engines, injection attempts in user
//! names, hosts and database names, unicode and control characters, oversized values) and
//! misconfigured environments. Each case must end in a clear error with its stable code,
//! and nothing may change in Secrets Manager or on the server (checked after every case).

use std::path::Path;

use secret_rotor::Step;
use secret_rotor_postgres::testing::{PgCluster, PgFixture, PgOptions};
use secret_rotor_testkit::conformance::{Fixture, hostile_password};
use secret_rotor_testkit::moto::{Moto, unique_name};
use secret_rotor_testkit::runtime_api::{Invocation, LambdaProcess};
use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_rotate-postgres");

/// One case file.
struct Case {
    file: String,
    kind: String,
    about: String,
    input: Value,
    expect: String,
}

fn cases() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (run tests/corpus/generate.py)", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let raw: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            Case {
                file: path.file_name().unwrap().to_string_lossy().into_owned(),
                kind: raw["kind"].as_str().unwrap().to_owned(),
                about: raw["about"].as_str().unwrap().to_owned(),
                input: raw["input"].clone(),
                expect: raw["expect"].as_str().unwrap().to_owned(),
            }
        })
        .collect()
}

/// Replaces the placeholders in every string of `value`.
fn fill(value: &Value, vars: &[(&str, &str)]) -> Value {
    match value {
        Value::String(s) => {
            let mut s = s.clone();
            for (k, v) in vars {
                s = s.replace(k, v);
            }
            Value::String(s)
        }
        Value::Array(a) => Value::Array(a.iter().map(|v| fill(v, vars)).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), fill(v, vars))).collect())
        }
        other => other.clone(),
    }
}

/// What must not change: the secret's versions (labels, which have values) and, on the
/// server, the account's password, the canary table and the set of roles.
async fn state(moto: &Moto, fx: &PgFixture, arn: &str, user: &str, password: &str) -> String {
    let admin = fx.cluster.admin().await;
    let roles: i64 = admin
        .query_one("SELECT count(*) FROM pg_roles", &[])
        .await
        .unwrap()
        .get(0);
    let canary = admin
        .query_opt("SELECT 1 FROM pg_tables WHERE tablename = 'canary'", &[])
        .await
        .unwrap()
        .is_some();
    let logs_in = fx.can_login(user, password).await;
    format!(
        "secret {} | roles {roles} | canary {canary} | account logs in {logs_in}",
        moto.raw_secret(arn).await["Versions"]
    )
}

fn code(outcome: &Invocation) -> String {
    match outcome {
        Invocation::Ok(report) => format!("ok ({})", report["outcome"]),
        Invocation::Err { error_type, .. } => error_type.clone(),
    }
}

#[tokio::test]
async fn every_hostile_case_fails_clearly_and_changes_nothing() {
    // A cluster of its own: the set of roles is compared after every case, and the other
    // tests of this binary create roles on the shared one.
    let cluster: &'static PgCluster = Box::leak(Box::new(PgCluster::start(PgOptions::default())));
    let fx = PgFixture { cluster };
    let moto = Moto::shared();
    let admin = fx.cluster.admin().await;
    admin
        .batch_execute("CREATE TABLE IF NOT EXISTS canary (x int)")
        .await
        .unwrap();
    let user = unique_name("corpus");
    let password = hostile_password();
    fx.create_account(&user, &password).await;
    let arn = moto
        .create_secret(
            &unique_name("corpus/pg"),
            &fx.secret_for(&user, &password).to_string(),
        )
        .await;
    let other_arn = moto
        .create_secret(
            &unique_name("corpus/other"),
            &fx.secret_for(&user, &password).to_string(),
        )
        .await;
    let token = moto.start_rotation(&arn, None).await.unwrap();
    let mut env = moto.env();
    env.push((
        "TLS_CA_BUNDLE".into(),
        fx.cluster.ca_pem_path().display().to_string(),
    ));
    env.push(("CONNECT_TIMEOUT_SECS".into(), "2".into()));
    env.push(("AWS_LAMBDA_LOG_LEVEL".into(), "debug".into()));
    let lambda = LambdaProcess::spawn(BINARY.as_ref(), &env).await;
    let port = fx.cluster.port().to_string();
    let vars = [
        ("$OTHER_ARN", other_arn.as_str()),
        ("$ARN", arn.as_str()),
        ("$TOKEN", token.as_str()),
        ("$HOST", fx.cluster.host()),
        ("$PORT", port.as_str()),
        ("$USER", user.as_str()),
        ("$PASSWORD", password.as_str()),
    ];
    let before = state(moto, &fx, &arn, &user, &password).await;
    let cases = cases();
    assert!(cases.len() >= 200, "{} cases", cases.len());
    let mut wrong = Vec::new();
    for case in &cases {
        let got = match case.kind.as_str() {
            "event" => code(&lambda.invoke(fill(&case.input, &vars)).await),
            "env" => {
                let mut env = env.clone();
                for (k, v) in case.input.as_object().unwrap() {
                    env.push((k.clone(), v.as_str().unwrap().to_owned()));
                }
                let misconfigured = LambdaProcess::spawn(BINARY.as_ref(), &env).await;
                let event =
                    json!({"Step": "createSecret", "SecretId": arn, "ClientRequestToken": token});
                let got = code(&misconfigured.invoke(event).await);
                let logs = misconfigured.shutdown().await;
                assert!(
                    !logs.contains(&password),
                    "{}: the password was logged",
                    case.file
                );
                got
            }
            "secret" => {
                // JSON text is filled in as JSON (a password with quotes stays a string).
                let raw = case.input.as_str().unwrap();
                let text = match serde_json::from_str::<Value>(raw) {
                    Ok(json) if json.is_object() => fill(&json, &vars).to_string(),
                    _ => raw.to_owned(),
                };
                let secret_arn = moto.create_secret(&unique_name("corpus/case"), &text).await;
                let first = moto.raw_secret(&secret_arn).await["Versions"].clone();
                let token = moto.start_rotation(&secret_arn, None).await.unwrap();
                let mut got = "no error".to_owned();
                for step in Step::ALL {
                    let event = json!({"Step": step.as_str(), "SecretId": secret_arn, "ClientRequestToken": token});
                    let outcome = lambda.invoke(event).await;
                    if let Invocation::Err { .. } = outcome {
                        got = code(&outcome);
                        break;
                    }
                }
                let versions = moto.raw_secret(&secret_arn).await["Versions"].clone();
                let current = |v: &Value| {
                    v.as_object()
                        .unwrap()
                        .iter()
                        .find(|(_, x)| {
                            x["VersionStages"]
                                .as_array()
                                .unwrap()
                                .iter()
                                .any(|s| s == "AWSCURRENT")
                        })
                        .map(|(id, _)| id.clone())
                };
                if current(&versions) != current(&first) {
                    wrong.push(format!("{}: AWSCURRENT moved ({})", case.file, case.about));
                }
                got
            }
            other => panic!("{}: unknown kind {other}", case.file),
        };
        if got != case.expect {
            wrong.push(format!(
                "{} ({}: {}): expected {}, got {got}",
                case.file, case.kind, case.about, case.expect
            ));
        }
        let after = state(moto, &fx, &arn, &user, &password).await;
        if after != before {
            wrong.push(format!(
                "{}: something changed: {before} -> {after}",
                case.file
            ));
        }
    }
    let logs = lambda.shutdown().await;
    assert!(!logs.contains(&password), "the password was logged");
    let changed = wrong
        .iter()
        .filter(|w| w.contains("changed") || w.contains("moved"));
    println!(
        "RELIABILITY corpus target=postgres cases={} clear_errors={} state_changes={}",
        cases.len(),
        cases.len() - wrong.iter().filter(|w| w.contains("expected")).count(),
        changed.count()
    );
    assert!(
        wrong.is_empty(),
        "{} of {} cases:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}
