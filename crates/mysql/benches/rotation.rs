//! Benchmark of full rotations of a MariaDB secret through the real `rotate-mysql` binary,
//! driven the way Secrets Manager drives it, single user and alternating users.
//!
//! Run it with `scripts/bench.sh` or `cargo bench -p secret-rotor-mysql --bench rotation`
//! (`BENCH_ROTATIONS`, default 20: warm rotations measured; `BENCH_COLD_RUNS`, default 3:
//! fresh processes). It starts its own moto and a private MariaDB (passwords enforced, TLS
//! verify-full with the server's CA as `TLS_CA_BUNDLE`), creates its own accounts and
//! secrets, and prints the figures of [`secret_rotor_testkit::bench`]; it asserts nothing
//! about speed. Run without `--bench` (e.g. by `cargo test --all-targets`) it does nothing.

use mysql_async::prelude::Queryable;
use secret_rotor_mysql::testing::fixture;
use secret_rotor_testkit::bench::{Bench, BenchTarget, Wire};
use secret_rotor_testkit::conformance::AlternatingFixture;

#[tokio::main]
async fn main() {
    let Some(mut bench) = Bench::requested() else {
        return;
    };
    let fx = fixture();
    let db = fx.server;
    let mut admin = db.admin().await;
    let version = admin
        .query_first::<String, _>("SELECT VERSION()")
        .await
        .map(Option::unwrap_or_default)
        .unwrap_or_else(|e| format!("unknown ({e})"));
    let _ = admin.disconnect().await;
    let target = BenchTarget {
        name: "mysql",
        binary: env!("CARGO_BIN_EXE_rotate-mysql").into(),
        env: vec![(
            "TLS_CA_BUNDLE".to_owned(),
            db.ca_pem_path().display().to_string(),
        )],
        server: format!(
            "MariaDB {version}, private server {}:{}, TLS verify-full (TLS_CA_BUNDLE = server CA)",
            db.host(),
            db.port()
        ),
        server_version: version,
        aws_template: Some("SecretsManagerRDSMariaDBRotation"),
        master_secret: Some(fx.master_secret()),
        fixture: &fx,
        wire: Wire {
            server: ([127, 0, 0, 1], db.port()).into(),
            place: secret_rotor_testkit::kills::at_host_port,
        },
    };
    bench.run(&target).await;
}
