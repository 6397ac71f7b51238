//! Benchmark of full rotations of a PostgreSQL secret through the real `rotate-postgres`
//! binary, driven the way Secrets Manager drives it, single user and alternating users.
//!
//! Run it with `scripts/bench.sh` or `cargo bench -p secret-rotor-postgres --bench
//! rotation` (`BENCH_ROTATIONS`, default 20: warm rotations measured; `BENCH_COLD_RUNS`,
//! default 3: fresh processes). It starts its own moto and a private PostgreSQL cluster
//! (SCRAM, TLS verify-full with the cluster's CA as `TLS_CA_BUNDLE`), creates its own roles
//! and secrets, and prints the figures of [`secret_rotor_testkit::bench`]; it asserts
//! nothing about speed. Run without `--bench` (e.g. by `cargo test --all-targets`) it does
//! nothing.

use secret_rotor_postgres::testing::fixture;
use secret_rotor_testkit::bench::{Bench, BenchTarget, Wire};
use secret_rotor_testkit::conformance::AlternatingFixture;

#[tokio::main]
async fn main() {
    let Some(mut bench) = Bench::requested() else {
        return;
    };
    let fx = fixture();
    let pg = fx.cluster;
    let version = pg
        .admin()
        .await
        .query_one("SHOW server_version", &[])
        .await
        .map(|row| row.get::<_, String>(0))
        .unwrap_or_else(|e| format!("unknown ({e})"));
    let target = BenchTarget {
        name: "postgres",
        binary: env!("CARGO_BIN_EXE_rotate-postgres").into(),
        env: vec![(
            "TLS_CA_BUNDLE".to_owned(),
            pg.ca_pem_path().display().to_string(),
        )],
        server: format!(
            "PostgreSQL {version}, private cluster {}:{}, SCRAM, TLS verify-full (TLS_CA_BUNDLE = cluster CA)",
            pg.host(),
            pg.port()
        ),
        server_version: version,
        aws_template: Some("SecretsManagerRDSPostgreSQLRotation"),
        master_secret: Some(fx.master_secret()),
        fixture: &fx,
        wire: Wire {
            server: ([127, 0, 0, 1], pg.port()).into(),
            place: secret_rotor_testkit::kills::at_host_port,
        },
    };
    bench.run(&target).await;
}
