//! Benchmark of full rotations of a PostgreSQL secret through the real `rotate-postgres`
//! binary, driven the way Secrets Manager drives it.
//!
//! Run it with `scripts/bench.sh` or `cargo bench -p secret-rotor-postgres --bench
//! rotation` (`BENCH_ROTATIONS`, default 20: warm rotations measured; `BENCH_COLD_RUNS`,
//! default 3: fresh processes). It starts its own moto and a private PostgreSQL cluster
//! (SCRAM, TLS verify-full with the cluster's CA as `TLS_CA_BUNDLE`), creates its own role
//! and secret, and prints:
//!
//! 1. Secrets Manager API calls per rotation, per operation (moto's counter for the secret's
//!    ARN), next to the 14 calls of AWS's Python template for the same path;
//! 2. the time of each step, measured around each Lambda invocation (median, p90), and the
//!    `elapsed_ms` the engine reports;
//! 3. one rotation in a freshly spawned process (spawn to finishSecret's answer) and one in
//!    an already running process;
//! 4. the peak RSS (`VmHWM`) of the Lambda process;
//! 5. the size of the binary (built with the bench profile, i.e. release).
//!
//! It prints figures and asserts nothing about speed; it stops only when a rotation fails
//! (the figures would mean nothing). Run without `--bench` (e.g. by `cargo test
//! --all-targets`) it does nothing.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use secret_rotor::store::{SecretStore, Selector};
use secret_rotor::{SecretId, Stage, Step};
use secret_rotor_postgres::testing::PgCluster;
use secret_rotor_testkit::moto::{Moto, unique_name};
use secret_rotor_testkit::runtime_api::{Invocation, LambdaProcess, rotation_event};
use serde_json::{Value, json};

/// The optimised binary (the bench profile inherits `[profile.release]`).
const BINARY: &str = env!("CARGO_BIN_EXE_rotate-postgres");

const DEFAULT_ROTATIONS: usize = 20;
const DEFAULT_COLD_RUNS: usize = 3;

/// What each step of a successful rotation answers.
const EXPECTED_OUTCOMES: [&str; 4] = ["pending_created", "password_set", "tested", "promoted"];

/// The calls of AWS's Python template (`SecretsManagerRDSPostgreSQLRotationSingleUser`) for
/// the same path (first rotation attempt, pending password not yet set): one
/// DescribeSecret per step plus one in finishSecret; GetSecretValue current + pending in
/// createSecret, previous + current + pending in setSecret, pending in testSecret.
const AWS_TEMPLATE_CALLS: [(&str, u64); 5] = [
    ("DescribeSecret", 5),
    ("GetSecretValue", 6),
    ("GetRandomPassword", 1),
    ("PutSecretValue", 1),
    ("UpdateSecretVersionStage", 1),
];

type Calls = BTreeMap<String, u64>;

/// One step of one rotation.
#[derive(Debug, Clone, Copy)]
struct StepSample {
    /// Around the invocation: event queued to answer received.
    wall: Duration,
    /// The engine's own `elapsed_ms`.
    engine_ms: u64,
}

/// One rotation: its four steps, the time from the first event to the last answer, and
/// (when audited) the calls each step made.
#[derive(Debug)]
struct RotationSample {
    steps: Vec<StepSample>,
    total: Duration,
    calls_per_step: Option<Vec<Calls>>,
}

/// One freshly spawned process: its first rotation (cold) and its second (warm).
#[derive(Debug)]
struct ColdRun {
    /// Spawn to finishSecret's answer.
    total: Duration,
    first: RotationSample,
    second: RotationSample,
    peak_rss_kib: Option<u64>,
}

fn env_count(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => panic!("{name} must be a positive integer, not {v:?}"),
        },
        _ => default,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `x` rounded to 3 decimals, for the JSON summary.
fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The nearest-rank percentile `p` (0 < p <= 100) of `values`.
fn percentile<T: Copy + Ord>(values: &[T], p: usize) -> T {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// Median (nearest rank, lower middle for even counts), p90, min and max.
fn summary<T: Copy + Ord>(values: &[T]) -> [T; 4] {
    [
        percentile(values, 50),
        percentile(values, 90),
        percentile(values, 1),
        percentile(values, 100),
    ]
}

fn diff(after: &Calls, before: &Calls) -> Calls {
    after
        .iter()
        .map(|(op, n)| {
            (
                op.clone(),
                n.saturating_sub(before.get(op).copied().unwrap_or(0)),
            )
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}

fn add(total: &mut Calls, more: &Calls) {
    for (op, n) in more {
        *total.entry(op.clone()).or_default() += n;
    }
}

fn calls_text(calls: &Calls) -> String {
    if calls.is_empty() {
        return "none".to_owned();
    }
    calls
        .iter()
        .map(|(op, n)| format!("{op} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs the four steps of the rotation staged under `token`, timing each invocation.
/// With `audit`, reads moto's call counter after each step (outside the timings, but
/// inside `total`).
async fn run_steps(
    lambda: &LambdaProcess,
    arn: &str,
    token: &str,
    audit: Option<&Moto>,
) -> RotationSample {
    let mut steps = Vec::with_capacity(4);
    let mut calls_per_step = Vec::new();
    let mut before = match audit {
        Some(moto) => moto.calls(arn).await,
        None => Calls::new(),
    };
    let started = Instant::now();
    for (step, expected) in Step::ALL.into_iter().zip(EXPECTED_OUTCOMES) {
        let event = rotation_event(step, arn, token, None);
        let t0 = Instant::now();
        let answer = lambda.invoke(event).await;
        let wall = t0.elapsed();
        let report = match answer {
            Invocation::Ok(report) => report,
            Invocation::Err {
                error_type,
                error_message,
            } => panic!(
                "{step} failed: {error_type}: {error_message}\n--- Lambda logs ---\n{}",
                lambda.logs()
            ),
        };
        assert_eq!(
            report["outcome"].as_str(),
            Some(expected),
            "{step} answered {report}"
        );
        let engine_ms = report["elapsed_ms"]
            .as_u64()
            .unwrap_or_else(|| panic!("{step} reported no elapsed_ms: {report}"));
        steps.push(StepSample { wall, engine_ms });
        if let Some(moto) = audit {
            let after = moto.calls(arn).await;
            calls_per_step.push(diff(&after, &before));
            before = after;
        }
    }
    RotationSample {
        steps,
        total: started.elapsed(),
        calls_per_step: audit.map(|_| calls_per_step),
    }
}

/// The environment of the Lambda process: moto, the cluster's CA, quiet logs.
fn lambda_env(moto: &Moto, pg: &PgCluster) -> Vec<(String, String)> {
    let mut env = moto.env();
    for (k, v) in [
        ("TLS_CA_BUNDLE", pg.ca_pem_path().display().to_string()),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
        ("AWS_LAMBDA_LOG_LEVEL", "WARN".to_owned()),
        ("RUST_LOG", "warn".to_owned()),
    ] {
        env.push((k.to_owned(), v));
    }
    env
}

async fn stage(moto: &Moto, arn: &str) -> String {
    moto.start_rotation(arn, None)
        .await
        .unwrap_or_else(|e| panic!("RotateSecret on {arn} was refused: {e}"))
}

/// Spawns a new process, rotates once (timed from the spawn), then once more (warm).
async fn cold_run(moto: &Moto, arn: &str, env: &[(String, String)]) -> ColdRun {
    let token = stage(moto, arn).await;
    let spawned = Instant::now();
    let lambda = LambdaProcess::spawn(BINARY.as_ref(), env).await;
    let first = run_steps(&lambda, arn, &token, None).await;
    let total = spawned.elapsed();
    let token = stage(moto, arn).await;
    let second = run_steps(&lambda, arn, &token, None).await;
    let peak_rss_kib = lambda.peak_rss_kib();
    lambda.shutdown().await;
    ColdRun {
        total,
        first,
        second,
        peak_rss_kib,
    }
}

/// The names of the sections of a 64-bit little-endian ELF file.
fn elf_sections(bytes: &[u8]) -> Option<Vec<String>> {
    if bytes.get(..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let u16_at = |o: usize| Some(u16::from_le_bytes(bytes.get(o..o + 2)?.try_into().ok()?));
    let u32_at = |o: usize| Some(u32::from_le_bytes(bytes.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(bytes.get(o..o + 8)?.try_into().ok()?));
    let shoff = usize::try_from(u64_at(0x28)?).ok()?;
    let shentsize = usize::from(u16_at(0x3A)?);
    let shnum = usize::from(u16_at(0x3C)?);
    let shstrndx = usize::from(u16_at(0x3E)?);
    let header = |i: usize| shoff + i * shentsize;
    let names = usize::try_from(u64_at(header(shstrndx) + 0x18)?).ok()?;
    (0..shnum)
        .map(|i| {
            let start = names + usize::try_from(u32_at(header(i))?).ok()?;
            let len = bytes.get(start..)?.iter().position(|&b| b == 0)?;
            Some(String::from_utf8_lossy(&bytes[start..start + len]).into_owned())
        })
        .collect()
}

/// The `strip` setting of `[profile.release]` in the workspace manifest.
fn release_strip_setting() -> Option<String> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    let text = std::fs::read_to_string(manifest).ok()?;
    let mut in_release = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_release = line == "[profile.release]";
        } else if in_release
            && let Some((key, value)) = line.split_once('=')
            && key.trim() == "strip"
        {
            return Some(value.trim().trim_matches('"').to_owned());
        }
    }
    None
}

/// The binary's size and whether it still has symbols; when it does, also the size of a
/// copy stripped with `strip --strip-all` (if that tool exists).
struct BinaryInfo {
    size: u64,
    has_symtab: Option<bool>,
    has_debug: Option<bool>,
    stripped_copy_size: Option<u64>,
}

fn binary_info() -> BinaryInfo {
    let bytes = std::fs::read(BINARY).unwrap_or_else(|e| panic!("cannot read {BINARY}: {e}"));
    let sections = elf_sections(&bytes);
    let has_symtab = sections.as_ref().map(|s| s.iter().any(|n| n == ".symtab"));
    let has_debug = sections
        .as_ref()
        .map(|s| s.iter().any(|n| n.starts_with(".debug_")));
    let stripped_copy_size = if has_symtab == Some(true) {
        let copy = std::env::temp_dir().join(unique_name("rotate-postgres-stripped-"));
        let size = std::fs::copy(BINARY, &copy).ok().and_then(|_| {
            let ok = std::process::Command::new("strip")
                .arg("--strip-all")
                .arg(&copy)
                .status()
                .is_ok_and(|s| s.success());
            ok.then(|| std::fs::metadata(&copy).ok().map(|m| m.len()))
                .flatten()
        });
        let _ = std::fs::remove_file(&copy);
        size
    } else {
        None
    };
    BinaryInfo {
        size: u64::try_from(bytes.len()).unwrap_or(u64::MAX),
        has_symtab,
        has_debug,
        stripped_copy_size,
    }
}

fn print_stats_row(label: &str, wall: &[Duration], engine: &[u64]) {
    let [w50, w90, wmin, wmax] = summary(wall);
    let engine_cols = if engine.is_empty() {
        format!("{:>8} {:>8}", "", "")
    } else {
        let [e50, e90, _, _] = summary(engine);
        format!("{e50:>8} {e90:>8}")
    };
    println!(
        "  {label:<14} {:>9.2} {:>9.2} {:>9.2} {:>9.2}   {engine_cols}",
        ms(w50),
        ms(w90),
        ms(wmin),
        ms(wmax),
    );
}

fn stats_json(wall: &[Duration], engine: &[u64]) -> Value {
    let [w50, w90, wmin, wmax] = summary(wall);
    let mut v = json!({
        "median_ms": round3(ms(w50)),
        "p90_ms": round3(ms(w90)),
        "min_ms": round3(ms(wmin)),
        "max_ms": round3(ms(wmax)),
    });
    if !engine.is_empty() {
        let [e50, e90, _, _] = summary(engine);
        v["engine_elapsed_ms_median"] = e50.into();
        v["engine_elapsed_ms_p90"] = e90.into();
    }
    v
}

#[tokio::main]
async fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("rotation benchmark: skipped (run it with `cargo bench` or scripts/bench.sh)");
        return;
    }
    let rotations = env_count("BENCH_ROTATIONS", DEFAULT_ROTATIONS);
    let cold_runs = env_count("BENCH_COLD_RUNS", DEFAULT_COLD_RUNS);
    let bench_started = Instant::now();

    // --- services, role and secret -------------------------------------------------
    let moto = Moto::shared();
    let pg = PgCluster::shared();
    let admin = pg.admin().await;
    let pg_version = admin
        .query_one("SHOW server_version", &[])
        .await
        .map(|row| row.get::<_, String>(0))
        .unwrap_or_else(|e| format!("unknown ({e})"));
    let user = unique_name("bench_");
    let initial_password = format!("bench-{}", uuid::Uuid::new_v4().simple());
    pg.create_login_role(&user, &initial_password).await;
    let secret = json!({
        "engine": "postgres",
        "host": pg.host(),
        "port": pg.port(),
        "username": user,
        "password": initial_password,
        "dbname": "postgres",
    });
    let secret_name = unique_name("bench/postgres/");
    let arn = moto.create_secret(&secret_name, &secret.to_string()).await;
    let env = lambda_env(moto, pg);
    let setup = bench_started.elapsed();

    // --- cold: a new process per rotation -------------------------------------------
    let mut cold = Vec::with_capacity(cold_runs);
    for _ in 0..cold_runs {
        cold.push(cold_run(moto, &arn, &env).await);
    }

    // --- warm: one process, one audited warm-up rotation, then N timed rotations -------
    let lambda = LambdaProcess::spawn(BINARY.as_ref(), &env).await;
    let token = stage(moto, &arn).await;
    let audit = run_steps(&lambda, &arn, &token, Some(moto)).await;
    let calls_per_step = audit.calls_per_step.clone().unwrap_or_default();
    let mut audited_calls = Calls::new();
    for calls in &calls_per_step {
        add(&mut audited_calls, calls);
    }
    let mut warm = Vec::with_capacity(rotations);
    let mut per_rotation_calls = Vec::with_capacity(rotations);
    for _ in 0..rotations {
        let token = stage(moto, &arn).await;
        let before = moto.calls(&arn).await;
        warm.push(run_steps(&lambda, &arn, &token, None).await);
        per_rotation_calls.push(diff(&moto.calls(&arn).await, &before));
    }
    let steady_rss_kib = lambda.peak_rss_kib();
    let logs = lambda.shutdown().await;

    // --- sanity: the secret's current password logs in, the first one does not --------
    let store = moto.store().await;
    let current = store
        .get_value(
            &SecretId::new(&arn).expect("secret id"),
            &Selector::stage(Stage::Current),
        )
        .await
        .expect("GetSecretValue AWSCURRENT")
        .expect("AWSCURRENT has a value");
    let current_password = current
        .password()
        .expect("password")
        .expose_secret()
        .to_owned();
    assert!(
        pg.can_login(&user, &current_password).await,
        "AWSCURRENT does not log in after the rotations"
    );
    assert!(
        !pg.can_login(&user, &initial_password).await,
        "the initial password still logs in"
    );
    let name_calls = moto.calls(&secret_name).await;
    let binary = binary_info();
    let strip = release_strip_setting();
    let measured = bench_started.elapsed();

    // --- report ------------------------------------------------------------------------
    let total_rotations = cold_runs * 2 + 1 + rotations;
    println!();
    println!("secret-rotor rotation benchmark (rotate-postgres, single user)");
    println!("===============================================================");
    println!("binary        {BINARY}");
    println!(
        "postgres      {pg_version}, private cluster {}:{}, SCRAM, TLS verify-full (TLS_CA_BUNDLE = cluster CA)",
        pg.host(),
        pg.port()
    );
    println!("moto          {}", moto.endpoint());
    println!(
        "lambda env    AWS_LAMBDA_LOG_LEVEL=WARN RUST_LOG=warn AWS_LAMBDA_LOG_FORMAT=JSON ({} bytes of logs in the warm process)",
        logs.len()
    );
    println!(
        "rotations     {total_rotations} in all: {cold_runs} fresh processes x 2, 1 audited warm-up + {rotations} timed (BENCH_ROTATIONS) in one process"
    );
    println!(
        "machine       {} CPUs; setup (moto, postgres, role, secret) {:.2} s",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        setup.as_secs_f64()
    );

    // 1. calls
    let reference: Calls = AWS_TEMPLATE_CALLS
        .iter()
        .map(|(op, n)| ((*op).to_owned(), *n))
        .collect();
    let mut ops: Vec<String> = reference.keys().cloned().collect();
    for op in audited_calls.keys() {
        if !ops.contains(op) {
            ops.push(op.clone());
        }
    }
    let ours_total: u64 = audited_calls.values().sum();
    let aws_total: u64 = reference.values().sum();
    println!();
    println!("1. Secrets Manager API calls per rotation (moto's counter, SecretId = the ARN)");
    println!(
        "  {:<26} {:>12} {:>22}",
        "operation", "secret-rotor", "AWS Python template"
    );
    for op in &ops {
        let ours = audited_calls.get(op).copied().unwrap_or(0);
        let note = if op == "GetRandomPassword" && ours == 0 {
            " (local)"
        } else {
            ""
        };
        println!(
            "  {op:<26} {:>12} {:>22}",
            format!("{ours}{note}"),
            reference.get(op).copied().unwrap_or(0)
        );
    }
    println!("  {:<26} {ours_total:>12} {aws_total:>22}", "total");
    for (step, calls) in Step::ALL.iter().zip(&calls_per_step) {
        println!("  {:<14} {}", step.as_str(), calls_text(calls));
    }
    let constant = per_rotation_calls.iter().all(|c| *c == audited_calls);
    println!(
        "  the same in each of the {rotations} timed rotations: {}",
        if constant {
            "yes".to_owned()
        } else {
            format!(
                "NO: {}",
                per_rotation_calls
                    .iter()
                    .map(calls_text)
                    .collect::<Vec<_>>()
                    .join(" | ")
            )
        }
    );
    if !name_calls.is_empty() {
        println!(
            "  (calls made with the secret's name: {})",
            calls_text(&name_calls)
        );
    }
    println!(
        "  AWS's template also calls GetRandomPassword (no SecretId, so moto's counter would not see it); secret-rotor generates passwords locally."
    );

    // 2. per-step times, warm process
    println!();
    println!(
        "2. Time per step, warm process, N = {rotations} (ms; wall = around the Lambda invocation)"
    );
    println!(
        "  {:<14} {:>9} {:>9} {:>9} {:>9}   {:>8} {:>8}",
        "step", "median", "p90", "min", "max", "engine50", "engine90"
    );
    let mut steps_json = serde_json::Map::new();
    for (i, step) in Step::ALL.iter().enumerate() {
        let wall: Vec<Duration> = warm.iter().map(|r| r.steps[i].wall).collect();
        let engine: Vec<u64> = warm.iter().map(|r| r.steps[i].engine_ms).collect();
        print_stats_row(step.as_str(), &wall, &engine);
        steps_json.insert(step.as_str().to_owned(), stats_json(&wall, &engine));
    }
    let warm_totals: Vec<Duration> = warm.iter().map(|r| r.total).collect();
    let warm_engine_totals: Vec<u64> = warm
        .iter()
        .map(|r| r.steps.iter().map(|s| s.engine_ms).sum())
        .collect();
    print_stats_row("rotation", &warm_totals, &warm_engine_totals);
    println!("  (engine50/engine90: the elapsed_ms the engine reports, median and p90; whole ms)");

    // 3. fresh process
    println!();
    println!(
        "3. One rotation in a fresh process (ms): spawn -> finishSecret's answer, then a second rotation in the same process"
    );
    println!(
        "  {:<5} {:>12} {:>12} {:>12} {:>12} {:>14} {:>12} {:>10}",
        "run",
        "createSecret",
        "setSecret",
        "testSecret",
        "finishSecret",
        "cold total",
        "warm total",
        "VmHWM MiB"
    );
    for (i, run) in cold.iter().enumerate() {
        let s = &run.first.steps;
        println!(
            "  {:<5} {:>12.2} {:>12.2} {:>12.2} {:>12.2} {:>14.2} {:>12.2} {:>10}",
            i + 1,
            ms(s[0].wall),
            ms(s[1].wall),
            ms(s[2].wall),
            ms(s[3].wall),
            ms(run.total),
            ms(run.second.total),
            run.peak_rss_kib
                .map_or_else(|| "?".to_owned(), |k| format!("{:.1}", mib(k * 1024))),
        );
    }
    let cold_totals: Vec<Duration> = cold.iter().map(|r| r.total).collect();
    let cold_warm_totals: Vec<Duration> = cold.iter().map(|r| r.second.total).collect();
    let cold_create: Vec<Duration> = cold.iter().map(|r| r.first.steps[0].wall).collect();
    let cold_create_engine: Vec<u64> = cold.iter().map(|r| r.first.steps[0].engine_ms).collect();
    println!(
        "  median: cold rotation {:.2} ms; its createSecret {:.2} ms (process start and init included; the engine reported {} ms); warm rotation {:.2} ms",
        ms(percentile(&cold_totals, 50)),
        ms(percentile(&cold_create, 50)),
        percentile(&cold_create_engine, 50),
        ms(percentile(&cold_warm_totals, 50)),
    );

    // 4. memory
    println!();
    println!("4. Peak RSS of the Lambda process (VmHWM)");
    let rss_text = |k: Option<u64>| {
        k.map_or_else(
            || "unknown".to_owned(),
            |k| format!("{:.1} MiB ({k} KiB)", mib(k * 1024)),
        )
    };
    println!(
        "  after {} rotations in one process: {}",
        rotations + 1,
        rss_text(steady_rss_kib)
    );
    let cold_rss: Vec<u64> = cold.iter().filter_map(|r| r.peak_rss_kib).collect();
    if !cold_rss.is_empty() {
        println!(
            "  after 2 rotations in a fresh process: {} (max of {} runs)",
            rss_text(cold_rss.iter().copied().max()),
            cold_rss.len()
        );
    }

    // 5. binary
    println!();
    println!("5. Binary (bench profile = release)");
    println!(
        "  size: {:.2} MiB ({} bytes)",
        mib(binary.size),
        binary.size
    );
    let yes_no = |b: Option<bool>| match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown (not a 64-bit ELF)",
    };
    println!(
        "  [profile.release] strip = {}; symbol table: {}; debug info: {}",
        strip
            .as_deref()
            .map_or_else(|| "(not set)".to_owned(), |s| format!("{s:?}")),
        yes_no(binary.has_symtab),
        yes_no(binary.has_debug),
    );
    match (binary.has_symtab, binary.stripped_copy_size) {
        (Some(false), _) => println!(
            "  stripped size: {:.2} MiB (the binary above is already stripped)",
            mib(binary.size)
        ),
        (_, Some(size)) => println!(
            "  stripped size: {:.2} MiB ({size} bytes, a copy after strip --strip-all)",
            mib(size)
        ),
        _ => println!("  stripped size: unknown (no `strip` tool)"),
    }
    println!();
    println!(
        "bench time (without the build): {:.1} s",
        measured.as_secs_f64()
    );

    let summary = json!({
        "rotations": rotations,
        "cold_runs": cold_runs,
        "postgres_version": pg_version,
        "calls_per_rotation": {
            "secret_rotor": audited_calls,
            "secret_rotor_total": ours_total,
            "aws_python_template": reference,
            "aws_python_template_total": aws_total,
            "constant_across_rotations": constant,
        },
        "warm_steps": steps_json,
        "warm_rotation": stats_json(&warm_totals, &warm_engine_totals),
        "cold_rotation_ms": cold_totals.iter().map(|d| round3(ms(*d))).collect::<Vec<_>>(),
        "cold_create_secret_ms": cold_create.iter().map(|d| round3(ms(*d))).collect::<Vec<_>>(),
        "cold_create_secret_engine_ms": cold_create_engine,
        "warm_rotation_after_cold_ms": cold_warm_totals.iter().map(|d| round3(ms(*d))).collect::<Vec<_>>(),
        "peak_rss_kib": {
            "steady_process": steady_rss_kib,
            "fresh_process_max": cold_rss.iter().copied().max(),
        },
        "binary": {
            "path": BINARY,
            "bytes": binary.size,
            "mib": round3(mib(binary.size)),
            "release_strip": strip,
            "has_symtab": binary.has_symtab,
            "has_debug_info": binary.has_debug,
            "stripped_copy_bytes": binary.stripped_copy_size,
        },
        "bench_seconds_without_build": round3(measured.as_secs_f64()),
    });
    println!("BENCH_JSON {summary}");
}
