//! TLS: verify-full against the CA of `TLS_CA_BUNDLE` by default, distinct errors for a
//! wrong CA and a certificate for another name, no fallback to plain text for a server
//! without TLS; plain text only with `"ssl": false`.

use secret_rotor::{Login, SecretValue, Target};
use secret_rotor_db::DbConfig;
use secret_rotor_redis::RedisTarget;
use secret_rotor_testkit::conformance::{Fixture, hostile_password};
use secret_rotor_testkit::moto::unique_name;
use serde_json::json;

use crate::conformance::Redis;
use crate::server::RedisServer;

fn target_trusting(server: &RedisServer) -> RedisTarget {
    RedisTarget::new(DbConfig {
        ca_bundle: server.ca_pem_path.clone(),
        ..DbConfig::default()
    })
    .unwrap()
}

/// An account on `server`, and its secret (TLS unless `ssl` says otherwise).
async fn account(server: &'static RedisServer, ssl: Option<bool>) -> (SecretValue, String) {
    let user = unique_name("tls");
    let password = hostile_password();
    Redis(server).create_account(&user, &password).await;
    let mut secret = json!({"host": "127.0.0.1", "port": server.port,
                            "username": user, "password": password});
    if let Some(ssl) = ssl {
        secret["ssl"] = ssl.into();
    }
    (SecretValue::from_json(secret).unwrap(), password)
}

async fn login(target: &RedisTarget, secret: &SecretValue) -> secret_rotor::Result<Login> {
    target
        .try_login(&target.parse_credential(secret).unwrap())
        .await
}

fn leak_server(names: &[&str]) -> &'static RedisServer {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    Box::leak(Box::new(RedisServer::start(Some(&names))))
}

#[tokio::test]
async fn verify_full_by_default_with_distinct_errors_and_no_fallback() {
    let server = leak_server(&["127.0.0.1"]);
    let (secret, password) = account(server, None).await;
    assert_eq!(
        login(&target_trusting(server), &secret).await.unwrap(),
        Login::Accepted
    );

    let other = leak_server(&["127.0.0.1"]);
    let wrong_ca = login(&target_trusting(other), &secret).await.unwrap_err();
    assert_eq!(wrong_ca.code(), "TlsError", "{wrong_ca}");
    assert!(
        wrong_ca.to_string().contains("not issued by a trusted CA"),
        "{wrong_ca}"
    );

    // A certificate for 127.0.0.1 only, reached as "localhost".
    let misnamed = leak_server(&["127.0.0.1"]);
    let (secret2, password2) = account(misnamed, None).await;
    let secret2 = secret2.with_field("host", "localhost".into());
    let mismatch = login(&target_trusting(misnamed), &secret2)
        .await
        .unwrap_err();
    assert_eq!(mismatch.code(), "TlsError", "{mismatch}");
    assert!(
        mismatch.to_string().contains("does not name the host"),
        "{mismatch}"
    );

    let plain = RedisServer::shared();
    let (secret3, password3) = account(plain, None).await;
    let no_tls = login(&target_trusting(server), &secret3).await.unwrap_err();
    // Redis answers a ClientHello with silence: the handshake times out. Never plain text.
    let chain = no_tls.display_chain().to_string();
    assert_eq!(no_tls.code(), "TargetUnreachable", "{chain}");
    assert!(!chain.contains(&password3), "{chain}");
    let (plain_ok, _) = account(plain, Some(false)).await;
    assert_eq!(
        login(&target_trusting(server), &plain_ok).await.unwrap(),
        Login::Accepted
    );

    let messages = [wrong_ca, mismatch].map(|e| e.display_chain().to_string());
    let messages: Vec<&str> = messages.iter().map(String::as_str).collect();
    secret_rotor_testkit::tls::assert_distinct_tls_errors(
        &messages,
        &[&password, &password2, &password3],
    );
}
