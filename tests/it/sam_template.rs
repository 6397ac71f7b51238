//! The SAM template validates with cfn-lint, deploys a binary this workspace builds, and
//! only sets environment variables the code reads.

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
    assert_eq!(blocks.len(), 3, "one Environment block per function");
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
