//! Benchmark of full rotations of a Redis ACL user through the real `rotate-redis` binary,
//! driven the way Secrets Manager drives it (single user: the target keeps both passwords
//! live during a rotation and retires the old one after finishSecret).
//!
//! Run it with `scripts/bench.sh` or `cargo bench -p secret-rotor-redis --bench rotation`
//! (`BENCH_ROTATIONS`, `BENCH_COLD_RUNS`). It starts a private `redis-server` (ACL
//! passwords enforced, no TLS) with the tests' fixture and prints the figures of
//! [`secret_rotor_testkit::bench`]; it asserts nothing about speed. Run without `--bench`
//! (e.g. by `cargo test --all-targets`) it does nothing.

// The tests' private server and fixture; their tests are not compiled here.
#[allow(dead_code, unused_imports)]
#[path = "../tests/it/conformance.rs"]
mod conformance;
#[allow(dead_code, unused_imports)]
#[path = "../tests/it/server.rs"]
mod server;

use secret_rotor_testkit::bench::{Bench, BenchTarget, Wire};

#[tokio::main]
async fn main() {
    let Some(mut bench) = Bench::requested() else {
        return;
    };
    let fx = conformance::fixture();
    let version = redis_version();
    let target = BenchTarget {
        name: "redis",
        binary: env!("CARGO_BIN_EXE_rotate-redis").into(),
        env: Vec::new(),
        server: format!(
            "Redis {version}, private server 127.0.0.1:{}, ACL passwords, no TLS",
            fx.0.port
        ),
        server_version: version,
        aws_template: None,
        master_secret: None,
        fixture: &fx,
        wire: Wire {
            server: ([127, 0, 0, 1], fx.0.port).into(),
            place: secret_rotor_testkit::kills::at_host_port,
        },
    };
    bench.run(&target).await;
}

/// `redis-server --version`'s `v=…`.
fn redis_version() -> String {
    std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .find_map(|w| w.strip_prefix("v=").map(str::to_owned))
        })
        .unwrap_or_else(|| "unknown".to_owned())
}
