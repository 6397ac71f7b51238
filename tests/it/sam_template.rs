//! The SAM template validates with cfn-lint, deploys a binary this workspace builds, and
//! only sets environment variables the code reads.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn template() -> String {
    std::fs::read_to_string(repo().join("template.yaml")).expect("template.yaml")
}

#[test]
fn cfn_lint_accepts_the_template() {
    let out = Command::new("cfn-lint")
        .arg("template.yaml")
        .current_dir(repo())
        .output()
        .expect("cfn-lint must be installed (pip install cfn-lint; scripts/setup.sh does it)");
    assert!(
        out.status.success(),
        "cfn-lint:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_template_deploys_the_workspace_binary_on_al2023() {
    let t = template();
    for (binary, path) in [
        (
            "rotate-postgres",
            "crates/postgres/src/bin/rotate-postgres.rs",
        ),
        ("rotate-mysql", "crates/mysql/src/bin/rotate-mysql.rs"),
        ("rotate-http", "crates/http/src/bin/rotate-http.rs"),
        ("rotate-redis", "crates/redis/src/bin/rotate-redis.rs"),
    ] {
        assert!(t.contains(&format!("Binary: {binary}")), "{binary}");
        assert!(repo().join(path).exists(), "{path}");
    }
    for needle in [
        "Runtime: provided.al2023",
        "Handler: bootstrap",
        "BuildMethod: rust-cargolambda",
        "secretsmanager.amazonaws.com",
    ] {
        assert!(t.contains(needle), "template.yaml lacks {needle}");
    }
}

#[test]
fn every_environment_variable_is_one_the_code_reads() {
    let t = template();
    let blocks: Vec<&str> = t.split("Variables:").skip(1).collect();
    assert_eq!(blocks.len(), 4, "one Environment block per function");
    let names: Vec<&str> = blocks
        .iter()
        .flat_map(|block| {
            block
                .lines()
                .skip(1)
                .take_while(|l| {
                    l.starts_with("          ")
                        || l.trim().is_empty()
                        || l.trim_start().starts_with('#')
                })
                .filter_map(|l| l.trim().split_once(':').map(|(k, _)| k))
                .filter(|k| !k.starts_with('#') && !k.is_empty())
        })
        .collect();
    assert!(names.contains(&"HTTP_SPEC_FILE"), "found {names:?}");
    let sources: String = [
        "crates/core/src",
        "crates/db/src",
        "crates/postgres/src",
        "crates/mysql/src",
        "crates/http/src",
        "crates/redis/src",
    ]
    .iter()
    .flat_map(|d| walk(&repo().join(d)))
    .map(|p| std::fs::read_to_string(p).expect("source"))
    .collect();
    for name in names {
        assert!(
            sources.contains(&format!("\"{name}\"")),
            "template sets {name}, which no code reads"
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The AWS calls in the core's source, as IAM actions (`secretsmanager:DescribeSecret`):
/// every `.client.<operation>()` or `.client().<operation>()` of the SDK clients, named the
/// way IAM names them (compared without case: `describe_db_instances` is
/// `rds:DescribeDBInstances`).
fn calls_in(file: &str, service: &str) -> BTreeSet<String> {
    let source: String = std::fs::read_to_string(repo().join(file))
        .expect("source")
        .split_whitespace()
        .collect();
    let mut calls = BTreeSet::new();
    for marker in [".client.", ".client()."] {
        for (at, _) in source.match_indices(marker) {
            let rest = &source[at + marker.len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if rest[name.len()..].starts_with("()") && !name.is_empty() {
                calls.insert(format!("{service}:{}", name.replace('_', "")));
            }
        }
    }
    calls
}

/// The `secretsmanager:` and `rds:` actions of one function's policies, lower case.
fn actions_of(function: &str) -> BTreeSet<String> {
    let t = template();
    let start = t
        .find(&format!("\n  {function}:\n"))
        .unwrap_or_else(|| panic!("{function} in template.yaml"));
    let body = &t[start + 1..];
    // Up to the next resource: a line indented by exactly two spaces.
    let end = body
        .match_indices("\n  ")
        .find(|(i, _)| body[i + 3..].starts_with(|c: char| c.is_ascii_alphabetic()))
        .map_or(body.len(), |(i, _)| i);
    body[..end]
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- "))
        .filter(|a| a.starts_with("secretsmanager:") || a.starts_with("rds:"))
        .map(str::to_ascii_lowercase)
        .collect()
}

/// Least privilege: the template allows every Secrets Manager and RDS call a rotation
/// function makes, and nothing else; the calls only the CLI makes (`ListSecrets` for fleet
/// selection, `ListSecretVersionIds` when it stages a rotation itself) are not granted to
/// any function. RDS only for the database functions (RDS-managed master secrets).
#[test]
fn the_iam_policies_allow_exactly_the_calls_the_functions_make() {
    let mut calls = calls_in("crates/core/src/store/aws.rs", "secretsmanager");
    calls.extend(calls_in("crates/core/src/store/list.rs", "secretsmanager"));
    let rds = calls_in("crates/core/src/rds.rs", "rds");
    assert_eq!(
        rds,
        BTreeSet::from([
            "rds:describedbinstances".into(),
            "rds:describedbclusters".into()
        ]),
        "the calls were found (the scan itself works)"
    );
    let cli_only = BTreeSet::from([
        "secretsmanager:listsecrets".to_owned(),
        "secretsmanager:listsecretversionids".to_owned(),
    ]);
    assert!(cli_only.is_subset(&calls), "{calls:?}");
    // The CLI-only calls stay out of the Lambda's path.
    let lambda = std::fs::read_to_string(repo().join("crates/core/src/lambda.rs")).unwrap();
    assert!(!lambda.contains(".begin(") && !lambda.contains(".list("));
    let secrets: BTreeSet<String> = calls.difference(&cli_only).cloned().collect();

    for function in [
        "PostgresRotationFunction",
        "MysqlRotationFunction",
        "HttpRotationFunction",
        "RedisRotationFunction",
    ] {
        let granted = actions_of(function);
        let mut needed = secrets.clone();
        if matches!(
            function,
            "PostgresRotationFunction" | "MysqlRotationFunction"
        ) {
            needed.extend(rds.iter().cloned());
        }
        assert_eq!(granted, needed, "{function}: granted vs called");
    }
}
