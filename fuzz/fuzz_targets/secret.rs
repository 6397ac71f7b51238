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

/// A password no error wording contains: if it shows in an error, the error repeats the
/// password. (Checking the fuzzed password itself flags passwords that merely match the
/// fixed wording, e.g. `" secret value: missing "` — the first finding, kept as a seed.)
const MARKER: &str = "Zq7xMarkerPassw0rdJk";

fn check<T: Target>(target: &T, secret: &SecretValue) {
    if let Err(e) = target.parse_credential(secret) {
        let message = e.to_string();
        assert!(!message.contains(MARKER), "a password in an error: {message}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(mut json) = serde_json::from_str::<serde_json::Value>(text) else {
        let _ = SecretValue::parse(text);
        return;
    };
    if let Some(object) = json.as_object_mut() {
        object.insert("password".into(), MARKER.into());
    }
    for candidate in [text.to_owned(), json.to_string()] {
        let Ok(secret) = SecretValue::parse(&candidate) else {
            continue;
        };
        check(&*POSTGRES, &secret);
        check(&*MYSQL, &secret);
        check(&*REDIS, &secret);
    }
});
