//! Every example secret value in `events/secrets/` parses with the target its `engine`
//! names (`http-<api>.json`: the HTTP target with the example spec `<api>.json`), carries
//! what its strategy needs, and no `Debug` of the value or of the credential shows a
//! secret.

use std::path::{Path, PathBuf};

use secret_rotor::{SecretValue, Target};
use secret_rotor_http::{HttpTarget, load_spec};
use secret_rotor_mysql::MysqlTarget;
use secret_rotor_postgres::PostgresTarget;
use secret_rotor_redis::RedisTarget;

/// What every secret field of the examples is replaced with.
const MARKER: &str = "Xy9-marker-of-a-secret";

fn secrets_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/secrets")
}

#[test]
fn every_example_secret_parses_with_its_target() {
    let config = secret_rotor_db::DbConfig::default();
    let postgres = PostgresTarget::new(config.clone()).expect("postgres target");
    let mysql = MysqlTarget::new(config.clone()).expect("mysql target");
    let mut seen = 0;
    for entry in std::fs::read_dir(secrets_dir()).expect("events/secrets/") {
        let path = entry.expect("entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        // Every secret of the example (password, token, key) becomes a marker that no
        // Debug output may show.
        let text = std::fs::read_to_string(&path).expect("readable");
        let value = SecretValue::parse(&text.replace("replace-me", MARKER))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            !format!("{value:?}").contains(MARKER),
            "{name}: SecretValue's Debug"
        );
        let parsed = match value.str("engine") {
            Some("postgres" | "aurora-postgresql") => {
                postgres.parse_credential(&value).map(|c| format!("{c:?}"))
            }
            Some("mysql" | "aurora-mysql" | "mariadb") => {
                mysql.parse_credential(&value).map(|c| format!("{c:?}"))
            }
            Some("redis") => RedisTarget::new(config.clone())
                .expect("redis target")
                .parse_credential(&value)
                .map(|c| format!("{c:?}")),
            None if name.starts_with("http-") => {
                let api = name["http-".len()..].split(['-', '.']).next().unwrap();
                let spec = Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join(format!("../crates/http/examples/specs/{api}.json"));
                let spec = load_spec(&spec).unwrap_or_else(|e| panic!("{name}: {e}"));
                HttpTarget::new(Some(spec), &config)
                    .expect("http target")
                    .parse_credential(&value)
                    .map(|c| format!("{c:?}"))
            }
            other => panic!("{name}: unknown engine {other:?}"),
        };
        let debug = parsed.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            !debug.contains(MARKER),
            "{name}: the credential's Debug shows a secret: {debug}"
        );
        assert_eq!(
            name.contains("alternating"),
            value.str("masterarn").is_some(),
            "{name}: alternating users need \"masterarn\", single user does not"
        );
        seen += 1;
    }
    assert!(seen >= 8, "{seen} example secrets");
}
