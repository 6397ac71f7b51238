//! Benchmark of full rotations of a RabbitMQ password through the real `rotate-http`
//! binary (the spec `examples/specs/rabbitmq.json` in `HTTP_SPEC_FILE`), driven the way
//! Secrets Manager drives it, single user and alternating users (the clone made by
//! `guest`, the master).
//!
//! Run it with `scripts/bench.sh` or `cargo bench -p secret-rotor-http --bench rotation`
//! (`BENCH_ROTATIONS`, `BENCH_COLD_RUNS`). It uses the machine's RabbitMQ with its
//! management API on 15672 (`scripts/setup.sh` enables it), the tests' fixture, and prints
//! the figures of [`secret_rotor_testkit::bench`]; it asserts nothing about speed. Run
//! without `--bench` (e.g. by `cargo test --all-targets`) it does nothing.

// The tests' RabbitMQ fixture; its tests are not compiled here.
#[allow(dead_code, unused_imports)]
#[path = "../tests/it/rabbitmq.rs"]
mod rabbitmq;

use secret_rotor_testkit::bench::{Bench, BenchTarget, Wire};
use secret_rotor_testkit::conformance::AlternatingFixture;

#[tokio::main]
async fn main() {
    let Some(mut bench) = Bench::requested() else {
        return;
    };
    let fx = rabbitmq::fixture();
    let version = rabbitmq_version().await;
    let spec = tempfile::NamedTempFile::new().expect("a temporary file");
    std::fs::write(spec.path(), rabbitmq::spec_json().to_string()).expect("write the spec");
    let target = BenchTarget {
        name: "http-rabbitmq",
        binary: env!("CARGO_BIN_EXE_rotate-http").into(),
        env: vec![(
            "HTTP_SPEC_FILE".to_owned(),
            spec.path().display().to_string(),
        )],
        server: format!(
            "RabbitMQ {version}, the machine's broker, management API {} (plain HTTP, local)",
            rabbitmq::API
        ),
        server_version: version,
        aws_template: None,
        master_secret: Some(fx.master_secret()),
        fixture: &fx,
        wire: Wire {
            server: rabbitmq::API
                .trim_start_matches("http://")
                .parse()
                .expect("the API's address"),
            place: secret_rotor_testkit::kills::at_url,
        },
    };
    bench.run(&target).await;
}

/// The broker's version from the management API's overview.
async fn rabbitmq_version() -> String {
    let answer = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("an HTTP client")
        .get(format!("{}/api/overview", rabbitmq::API))
        .basic_auth("guest", Some("guest"))
        .send()
        .await;
    match answer {
        Ok(r) => r
            .json::<serde_json::Value>()
            .await
            .ok()
            .and_then(|v| v["rabbitmq_version"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "unknown".to_owned()),
        Err(e) => panic!("RabbitMQ's management API is not reachable ({e}): scripts/setup.sh"),
    }
}
