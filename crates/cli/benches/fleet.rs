//! Fleet rotation benchmark: `secret-rotor rotate --secret-ids-from FILE` over many
//! PostgreSQL secrets (default 1,000; `BENCH_SECRETS=N`) on moto and a private PostgreSQL
//! (SCRAM, TLS verify-full), at the default pacing (40 writes/s) and concurrency (8).
//! Prints rotations per second against the bound Secrets Manager's write quota sets
//! (50 writes/s ÷ 3 writes per rotation); asserts nothing about speed.
//!
//! `cargo bench -p secret-rotor-cli --bench fleet` (or scripts/bench.sh). Run without
//! `--bench` (e.g. by `cargo test --all-targets`) it does nothing.

use std::time::Instant;

use secret_rotor_postgres::testing::PgCluster;
use secret_rotor_testkit::moto::{Moto, unique_name};
use serde_json::{Value, json};

#[tokio::main]
async fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("fleet benchmark: skipped (run it with `cargo bench`)");
        return;
    }
    let count: usize = std::env::var("BENCH_SECRETS")
        .ok()
        .map(|n| n.parse().expect("BENCH_SECRETS is a positive integer"))
        .unwrap_or(1000);
    let moto = Moto::start();
    let pg = PgCluster::shared();
    let setup = Instant::now();
    let admin = pg.admin().await;
    let mut ids = String::new();
    for i in 0..count {
        let user = format!("{}_{i}", unique_name("fleet"));
        let password = format!("Fleet-{i}-{}", unique_name("pw"));
        admin
            .batch_execute(&format!(
                "CREATE ROLE \"{user}\" LOGIN PASSWORD '{password}'"
            ))
            .await
            .expect("role created");
        let secret = json!({"engine": "postgres", "host": pg.host(), "port": pg.port(),
                            "username": user, "password": password, "dbname": "postgres"});
        let arn = moto
            .create_secret(&unique_name("fleet/"), &secret.to_string())
            .await;
        ids.push_str(&arn);
        ids.push('\n');
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let list = dir.path().join("ids.txt");
    std::fs::write(&list, ids).expect("ids written");
    println!(
        "fleet benchmark: {count} secrets set up in {:.1} s",
        setup.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_secret-rotor"))
        .args([
            "--endpoint-url",
            moto.endpoint(),
            "rotate",
            "--output",
            "json",
        ])
        .arg("--secret-ids-from")
        .arg(&list)
        .envs(moto.env())
        .env("TLS_CA_BUNDLE", pg.ca_pem_path())
        .output()
        .await
        .expect("the CLI runs");
    let seconds = started.elapsed().as_secs_f64();
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON summary ({e}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let rotated = summary["rotated"].as_u64().unwrap_or(0);
    let mut ms: Vec<u64> = summary["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["ms"].as_u64())
        .collect();
    ms.sort_unstable();
    let pct = |p: f64| {
        ms.get(((ms.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(0)
    };
    println!(
        "fleet benchmark: {rotated}/{count} rotated, {} failed, in {seconds:.1} s: {:.1} \
         rotations/s (the write quota's bound: {:.1}/s at 50 writes/s; the CLI paces at 40)",
        summary["failed"],
        rotated as f64 / seconds,
        50.0 / 3.0
    );
    println!(
        "fleet benchmark: one rotation p50 {} ms, p90 {} ms, max {} ms (concurrency 8)",
        pct(0.5),
        pct(0.9),
        pct(1.0)
    );
    println!(
        "BENCH_JSON {}",
        json!({"bench": "fleet", "secrets": count, "rotated": rotated, "seconds": seconds,
               "rotations_per_second": rotated as f64 / seconds})
    );
}
