//! Any secret string: `SecretValue::parse`, then every target's credential parser, return
//! a value or a clear error and never panic; no error message repeats the password.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use secret_rotor::{SecretValue, Target};
use secret_rotor_db::DbConfig;

static POSTGRES: LazyLock<secret_rotor_postgres::PostgresTarget> =
    LazyLock::new(|| secret_rotor_postgres::PostgresTarget::new(DbConfig::default()).unwrap());
static MYSQL: LazyLock<secret_rotor_mysql::MysqlTarget> =
    LazyLock::new(|| secret_rotor_mysql::MysqlTarget::new(DbConfig::default()).unwrap());
static REDIS: LazyLock<secret_rotor_redis::RedisTarget> =
    LazyLock::new(|| secret_rotor_redis::RedisTarget::new(DbConfig::default()).unwrap());

fn check<T: Target>(target: &T, secret: &SecretValue, password: Option<&str>) {
    if let Err(e) = target.parse_credential(secret) {
        let message = e.to_string();
        if let Some(p) = password.filter(|p| p.len() >= 6) {
            assert!(!message.contains(p), "a password in an error: {message}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(secret) = SecretValue::parse(text) else {
        return;
    };
    let json: Option<serde_json::Value> = serde_json::from_str(text).ok();
    let password = json
        .as_ref()
        .and_then(|j| j["password"].as_str())
        .map(str::to_owned);
    check(&*POSTGRES, &secret, password.as_deref());
    check(&*MYSQL, &secret, password.as_deref());
    check(&*REDIS, &secret, password.as_deref());
});
