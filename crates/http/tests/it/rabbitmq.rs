//! RabbitMQ's management HTTP API (the machine's broker, `rabbitmq_management` enabled by
//! `scripts/setup.sh`), rotated by the spec in `examples/specs/rabbitmq.json`: the
//! conformance suite for both strategies, then logins proven over AMQP on 5672 too.

use std::sync::Arc;

use secret_rotor::{SecretValue, Stage, Strategy, Target};
use secret_rotor_db::DbConfig;
use secret_rotor_http::{HttpTarget, Spec};
use secret_rotor_testkit::conformance::{
    AlternatingFixture, Case, FaultPath, Fixture, hostile_password,
};
use serde_json::{Value, json};

/// The management API (guest/guest works from localhost only).
pub(crate) const API: &str = "http://127.0.0.1:15672";
/// AMQP.
const AMQP_PORT: u16 = 5672;

/// The example spec, allowed to use plain http to the local broker.
pub(crate) fn spec() -> Spec {
    Spec::from_value(&spec_json()).unwrap()
}

/// The example spec as JSON, allowed to use plain http to the local broker.
pub(crate) fn spec_json() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/specs/rabbitmq.json");
    let mut raw: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    raw["allow_http"] = true.into();
    raw
}

pub(crate) struct Rabbit;

pub(crate) fn fixture() -> Rabbit {
    Rabbit
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// One path segment, fully percent-encoded.
pub(crate) fn seg(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

pub(crate) async fn admin_put(path: &str, body: Value) {
    let r = http()
        .put(format!("{API}/api/{path}"))
        .basic_auth("guest", Some("guest"))
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("RabbitMQ's management API is not reachable on {API} ({e}): scripts/setup.sh enables it"));
    assert!(r.status().is_success(), "PUT {path}: {}", r.status());
}

/// Whether `user`/`password` logs in over AMQP (what applications do).
pub(crate) async fn amqp_login(user: &str, password: &str) -> bool {
    use lapin::uri::{AMQPAuthority, AMQPScheme, AMQPUri, AMQPUserInfo};
    let uri = AMQPUri {
        scheme: AMQPScheme::AMQP,
        authority: AMQPAuthority {
            userinfo: AMQPUserInfo {
                username: user.into(),
                password: password.into(),
            },
            host: "127.0.0.1".into(),
            port: AMQP_PORT,
        },
        vhost: "/".into(),
        query: Default::default(),
    };
    match lapin::Connection::connect_uri(uri, lapin::ConnectionProperties::default()).await {
        Ok(conn) => {
            let _ = conn.close(200, "bye".into()).await;
            true
        }
        Err(e) if matches!(e.kind(), lapin::ErrorKind::ProtocolError(_)) => false,
        Err(e) => panic!("AMQP on {AMQP_PORT} failed for a reason other than the credentials: {e}"),
    }
}

impl Fixture for Rabbit {
    type Target = HttpTarget;

    fn target(&self) -> HttpTarget {
        HttpTarget::new(Some(spec()), &DbConfig::default()).unwrap()
    }

    fn secret_for(&self, username: &str, password: &str) -> Value {
        json!({"url": API, "username": username, "password": password})
    }

    /// The external calls of a rotation, exactly (a target call is one point however many
    /// HTTP requests it makes): the same as PostgreSQL's single user (17, and 20 with the
    /// fallback to AWSPREVIOUS); alternating users one more (22: the master's
    /// credentials are proven by the spec's login before the clone is made).
    fn fault_points(&self, strategy: Strategy, path: FaultPath) -> Option<usize> {
        match (strategy, path) {
            (Strategy::SingleUser, FaultPath::Clean) => Some(17),
            (Strategy::SingleUser, FaultPath::FallbackToPrevious) => Some(20),
            (Strategy::AlternatingUsers, FaultPath::Clean) => Some(22),
            (_, FaultPath::LeftoverPending) => Some(5),
            _ => None,
        }
    }

    /// An administrator (RabbitMQ lets only administrators change a password, their own
    /// included) with full rights on `/`.
    async fn create_account(&self, username: &str, password: &str) {
        admin_put(
            &format!("users/{}", seg(username)),
            json!({"password": password, "tags": "administrator"}),
        )
        .await;
        admin_put(
            &format!("permissions/%2F/{}", seg(username)),
            json!({"configure": ".*", "write": ".*", "read": ".*"}),
        )
        .await;
    }

    async fn reset_password(&self, username: &str, password: &str) {
        admin_put(
            &format!("users/{}", seg(username)),
            json!({"password": password, "tags": "administrator"}),
        )
        .await;
    }

    async fn can_login(&self, username: &str, password: &str) -> bool {
        let r = http()
            .get(format!("{API}/api/whoami"))
            .basic_auth(username, Some(password))
            .send()
            .await
            .unwrap();
        match r.status().as_u16() {
            200 => true,
            401 => false,
            other => panic!("whoami answered {other}"),
        }
    }

    /// RabbitMQ user names with `:` cannot use HTTP Basic; none of these has one.
    fn hostile_usernames(&self) -> Vec<String> {
        [
            "Robert'); DROP TABLE students;--",
            "has space",
            "UPPER_case",
            "quote\"inside",
            "back\\slash",
            "ünïcødé_用户",
            "per%cent/slash",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }
}

impl AlternatingFixture for Rabbit {
    fn master_secret(&self) -> Value {
        self.secret_for("guest", "guest")
    }

    /// Topic permissions on `amq.topic`: a right only the copy of the user's permissions
    /// gives the clone.
    async fn grant_probe(&self, username: &str) {
        admin_put(
            &format!("topic-permissions/%2F/{}", seg(username)),
            json!({"exchange": "amq.topic", "write": "^probe", "read": ".*"}),
        )
        .await;
    }

    fn move_elsewhere(&self, secret: &mut Value) {
        secret["url"] = "http://rabbit.elsewhere.invalid:15672".into();
    }

    async fn can_use_probe(&self, username: &str, password: &str) -> bool {
        if !self.can_login(username, password).await {
            return false;
        }
        let r = http()
            .get(format!(
                "{API}/api/users/{}/topic-permissions",
                seg(username)
            ))
            .basic_auth("guest", Some("guest"))
            .send()
            .await
            .unwrap();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        body.as_array().is_some_and(|items| {
            items
                .iter()
                .any(|i| i["exchange"] == "amq.topic" && i["write"] == "^probe")
        })
    }
}

secret_rotor_testkit::conformance_tests!(fixture());
secret_rotor_testkit::alternating_conformance_tests!(fixture());

/// The new password logs in over the management API and over AMQP on 5672; the old one is
/// refused by both.
#[tokio::test]
async fn the_new_password_logs_in_over_amqp_and_the_old_one_is_refused() {
    let fx = fixture();
    let case = Case::new(&fx, "amqp", &hostile_password()).await;
    assert!(amqp_login(&case.username, &case.first_password).await);
    case.rotate().await;
    let new = case.password(Stage::Current).await.unwrap();
    assert!(
        amqp_login(&case.username, &new).await,
        "AMQP with the new password"
    );
    assert!(
        !amqp_login(&case.username, &case.first_password).await,
        "AMQP refuses the old one"
    );
    assert!(fx.can_login(&case.username, &new).await);
    assert!(!fx.can_login(&case.username, &case.first_password).await);
}

/// Alternating users: the clone gets the user's tags and vhost permissions, and both
/// users log in over AMQP.
#[tokio::test]
async fn the_clone_gets_the_users_tags_and_permissions() {
    let fx = fixture();
    let case = Case::alternating(&fx, "altamqp", &hostile_password(), None).await;
    case.rotate().await;
    let current: Value = case.value(Stage::Current).await.unwrap();
    let clone = current["username"].as_str().unwrap().to_owned();
    assert_eq!(clone, format!("{}_clone", case.username));
    let r: Value = http()
        .get(format!("{API}/api/users/{}", seg(&clone)))
        .basic_auth("guest", Some("guest"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        r["tags"],
        json!(["administrator"]),
        "the same tags, the half-made mark gone"
    );
    let perms: Value = http()
        .get(format!("{API}/api/users/{}/permissions", seg(&clone)))
        .basic_auth("guest", Some("guest"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(perms[0]["configure"], ".*");
    assert!(amqp_login(&clone, current["password"].as_str().unwrap()).await);
    assert!(
        amqp_login(&case.username, &case.first_password).await,
        "AWSPREVIOUS still works"
    );
}

/// A spec with a mistake stops the target before anything is called.
#[tokio::test]
async fn a_spec_mistake_is_a_configuration_error() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/specs/rabbitmq.json");
    let mut raw: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    raw["login"]["url"] = json!("{{pending.url}}/api/whoami");
    let err = Spec::from_value(&raw).unwrap_err();
    assert!(
        err.starts_with("login.url: unknown template variable {{pending.url}}"),
        "{err}"
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), raw.to_string()).unwrap();
    let err = secret_rotor_http::load_spec(file.path()).unwrap_err();
    assert_eq!(err.code(), "ConfigError");
    let _ = Arc::new(SecretValue::from_json(json!({})).unwrap());
    let _ = HttpTarget::new(None, &DbConfig::default()).unwrap().info();
}
