//! The hostile corpus runner: case files (written by a target's
//! `tests/corpus/generate.py` on top of `crates/testkit/corpus/hostile.py`) run through a
//! target's real Lambda binary, behind the [Runtime API](crate::runtime_api), against
//! [moto](crate::moto) and the target's real server.
//!
//! Each case must end in a **clear error**: its stable code (`errorType`), a message that
//! names something and holds no secret, and a function that is still running. And
//! **nothing may change**: after every case the runner compares the target's state (what
//! the target's test reports, e.g. its accounts, their password hashes and a canary
//! table) and the test secret's versions in Secrets Manager with what they were before
//! the first case; a secret case must also leave its own secret's `AWSCURRENT` where it
//! was. It prints `RELIABILITY corpus target=… cases=… clear_errors=… state_changes=…`.
//!
//! A case file is `{"kind", "about", "input", "expect"}`:
//!
//! - `event`: `input` is the invocation payload; `$ARN`, `$TOKEN` (a rotation started on
//!   the test secret) and `$OTHER_ARN` (another secret) are filled in;
//! - `secret`: `input` is a SecretString (any text); when it is a JSON object, the
//!   [`CorpusRun::vars`] are filled into its strings. A secret is created with it, a
//!   rotation started, and the four steps invoked until the first error;
//! - `env`: `input` is extra environment (a value `{"file": TEXT}` is written to a file
//!   and its path used); a fresh process gets one `createSecret` of the test secret.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use secret_rotor::Step;
use serde_json::{Value, json};

use crate::moto::{Moto, unique_name};
use crate::runtime_api::{Invocation, LambdaProcess};

/// One case file.
#[derive(Debug, Clone)]
pub struct CorpusCase {
    /// The file name (`001-event.json`).
    pub file: String,
    /// `event`, `secret` or `env`.
    pub kind: String,
    /// What the case is about.
    pub about: String,
    /// The event, the secret string or the environment.
    pub input: Value,
    /// The stable error code the case must end in.
    pub expect: String,
}

/// Reads every `*.json` case of `dir`, in file-name order.
///
/// # Panics
/// When the directory cannot be read or a file is not a case.
pub fn load_cases(dir: &Path) -> Vec<CorpusCase> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e} (run tests/corpus/generate.py)", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let raw: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let field = |k: &str| {
                raw[k]
                    .as_str()
                    .unwrap_or_else(|| panic!("{}: no {k:?}", path.display()))
                    .to_owned()
            };
            CorpusCase {
                file: path
                    .file_name()
                    .expect("a file name")
                    .to_string_lossy()
                    .into_owned(),
                kind: field("kind"),
                about: field("about"),
                input: raw["input"].clone(),
                expect: field("expect"),
            }
        })
        .collect()
}

/// Replaces the placeholders in every string of `value` (in order: put `$OTHER_ARN`
/// before `$ARN`).
pub fn fill(value: &Value, vars: &[(String, String)]) -> Value {
    match value {
        Value::String(s) => {
            let mut s = s.clone();
            for (k, v) in vars {
                s = s.replace(k.as_str(), v);
            }
            Value::String(s)
        }
        Value::Array(a) => Value::Array(a.iter().map(|v| fill(v, vars)).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), fill(v, vars))).collect())
        }
        other => other.clone(),
    }
}

/// The forms in which `secret` could show in a log line or an error message: as is,
/// JSON-escaped (JSON logs), and its longest run of letters and digits when it has one
/// of at least 8 characters (what survives any escaping).
pub fn leak_forms(secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_owned()];
    let escaped = serde_json::to_string(secret).expect("a string");
    forms.push(escaped[1..escaped.len() - 1].to_owned());
    let run = secret
        .split(|c: char| !c.is_ascii_alphanumeric())
        .max_by_key(|s| s.len())
        .unwrap_or_default();
    if run.len() >= 8 {
        forms.push(run.to_owned());
    }
    forms.sort();
    forms.dedup();
    forms
}

/// One run of a target's corpus.
#[derive(Debug)]
pub struct CorpusRun<'a> {
    /// The target's name, for the figures (`postgres`, `mysql`, `http`).
    pub target: &'a str,
    /// The Lambda binary (`env!("CARGO_BIN_EXE_rotate-…")`).
    pub binary: &'a Path,
    /// The directory of the case files.
    pub cases: PathBuf,
    /// The Secrets Manager API.
    pub moto: &'a Moto,
    /// The function's environment (at least [`Moto::env`]).
    pub env: Vec<(String, String)>,
    /// The test secret's value: a real account on the target, which must keep logging in.
    pub secret: Value,
    /// Placeholders filled into secret cases (`$HOST`, `$USER`, `$PASSWORD`...).
    pub vars: Vec<(String, String)>,
    /// Secrets that must never appear in an error message or in the function's logs.
    pub secrets: Vec<String>,
}

/// What a corpus run found.
#[derive(Debug, Clone)]
pub struct CorpusFigures {
    /// The target's name.
    pub target: String,
    /// How many cases ran.
    pub cases: usize,
    /// How many ended in their expected code with a clear message.
    pub clear_errors: usize,
    /// How many changed something (the target's state or a secret's versions).
    pub state_changes: usize,
    /// Every case that went wrong, with what happened.
    pub wrong: Vec<String>,
    /// How long the run took (cases only, not the set-up).
    pub elapsed: Duration,
}

impl CorpusFigures {
    /// The `RELIABILITY corpus …` line.
    pub fn line(&self) -> String {
        format!(
            "RELIABILITY corpus target={} cases={} clear_errors={} state_changes={}",
            self.target, self.cases, self.clear_errors, self.state_changes
        )
    }

    /// Prints the figures, then panics with every wrong case unless there is none and
    /// there are at least `min_cases` cases.
    pub fn assert_sound(&self, min_cases: usize) {
        println!("{} seconds={:.1}", self.line(), self.elapsed.as_secs_f64());
        assert!(
            self.cases >= min_cases,
            "{} cases: the corpus must have at least {min_cases}",
            self.cases
        );
        assert!(
            self.wrong.is_empty(),
            "{} of {} cases:\n{}",
            self.wrong.len(),
            self.cases,
            self.wrong.join("\n")
        );
        assert_eq!(self.clear_errors, self.cases);
        assert_eq!(self.state_changes, 0);
    }
}

/// What went wrong with one case.
#[derive(Default)]
struct Verdict {
    unclear: Vec<String>,
    changed: Vec<String>,
}

fn code(outcome: &Invocation) -> String {
    match outcome {
        Invocation::Ok(report) => format!("ok ({})", report["outcome"]),
        Invocation::Err { error_type, .. } => error_type.clone(),
    }
}

/// The version holding `AWSCURRENT` in moto's raw view of a secret.
fn current_version(raw: &Value) -> Option<String> {
    raw["Versions"].as_object()?.iter().find_map(|(id, v)| {
        v["VersionStages"]
            .as_array()?
            .iter()
            .any(|s| s == "AWSCURRENT")
            .then(|| id.clone())
    })
}

impl CorpusRun<'_> {
    /// Runs every case; `state` reports what must not change on the target (called
    /// before the first case and after every case). Returns the figures; see
    /// [`CorpusFigures::assert_sound`].
    pub async fn run<S, F>(self, state: S) -> CorpusFigures
    where
        S: Fn() -> F,
        F: Future<Output = String>,
    {
        let moto = self.moto;
        let arn = moto
            .create_secret(&unique_name("corpus/main"), &self.secret.to_string())
            .await;
        let other_arn = moto
            .create_secret(&unique_name("corpus/other"), &self.secret.to_string())
            .await;
        let token = moto
            .start_rotation(&arn, None)
            .await
            .expect("a rotation of the test secret");
        let mut vars = vec![
            ("$OTHER_ARN".to_owned(), other_arn.clone()),
            ("$ARN".to_owned(), arn.clone()),
            ("$TOKEN".to_owned(), token.clone()),
        ];
        vars.extend(self.vars.iter().cloned());
        let leaks: Vec<String> = self.secrets.iter().flat_map(|s| leak_forms(s)).collect();
        let lambda = LambdaProcess::spawn(self.binary, &self.env).await;
        let snapshot = || async {
            format!(
                "{} | test secret {}",
                state().await,
                moto.raw_secret(&arn).await["Versions"]
            )
        };
        let before = snapshot().await;
        let cases = load_cases(&self.cases);
        let started = Instant::now();
        let mut figures = CorpusFigures {
            target: self.target.to_owned(),
            cases: cases.len(),
            clear_errors: 0,
            state_changes: 0,
            wrong: Vec::new(),
            elapsed: Duration::ZERO,
        };
        let files = tempfile::tempdir().expect("a temporary directory");
        for case in &cases {
            let case_started = Instant::now();
            let mut verdict = Verdict::default();
            let outcome = match case.kind.as_str() {
                "event" => lambda.invoke(fill(&case.input, &vars)).await,
                "env" => {
                    let mut env = self.env.clone();
                    let extra = case.input.as_object().unwrap_or_else(|| {
                        panic!("{}: an env case's input is an object", case.file)
                    });
                    for (k, v) in extra {
                        let value = match v {
                            Value::String(s) => s.clone(),
                            Value::Object(o) if o.contains_key("file") => {
                                let path = files.path().join(format!("{}-{k}", case.file));
                                let text = match &o["file"] {
                                    Value::String(s) => s.clone(),
                                    other => other.to_string(),
                                };
                                std::fs::write(&path, text).expect("a file for the case");
                                path.display().to_string()
                            }
                            other => panic!("{}: {k} = {other}", case.file),
                        };
                        env.push((k.clone(), value));
                    }
                    let misconfigured = LambdaProcess::spawn(self.binary, &env).await;
                    let event = json!({"Step": "createSecret", "SecretId": arn, "ClientRequestToken": token});
                    let outcome = misconfigured.invoke(event).await;
                    if !misconfigured.is_running() {
                        verdict
                            .unclear
                            .push("the misconfigured function exited".into());
                    }
                    let logs = misconfigured.shutdown().await;
                    if let Some(leak) = leaks.iter().find(|l| logs.contains(l.as_str())) {
                        verdict
                            .unclear
                            .push(format!("a secret was logged ({} chars)", leak.len()));
                    }
                    outcome
                }
                "secret" => {
                    let raw = case.input.as_str().unwrap_or_else(|| {
                        panic!("{}: a secret case's input is a string", case.file)
                    });
                    // JSON text is filled in as JSON (a password with quotes stays a string).
                    let text = match serde_json::from_str::<Value>(raw) {
                        Ok(json) if json.is_object() => fill(&json, &vars).to_string(),
                        _ => raw.to_owned(),
                    };
                    let secret_arn = moto.create_secret(&unique_name("corpus/case"), &text).await;
                    let first = moto.raw_secret(&secret_arn).await;
                    let case_token = moto
                        .start_rotation(&secret_arn, None)
                        .await
                        .expect("a rotation of the case's secret");
                    let mut outcome = Invocation::Ok(json!({"outcome": "no error in any step"}));
                    for step in Step::ALL {
                        let event = json!({"Step": step.as_str(), "SecretId": secret_arn, "ClientRequestToken": case_token});
                        let got = lambda.invoke(event).await;
                        if !got.is_ok() {
                            outcome = got;
                            break;
                        }
                    }
                    let last = moto.raw_secret(&secret_arn).await;
                    if current_version(&last) != current_version(&first) {
                        verdict.changed.push("the case's AWSCURRENT moved".into());
                    }
                    let versions = last["Versions"].as_object().map_or(0, |v| v.len());
                    if versions > 2 {
                        verdict
                            .changed
                            .push(format!("the case's secret has {versions} versions"));
                    }
                    outcome
                }
                other => panic!("{}: unknown kind {other}", case.file),
            };
            let got = code(&outcome);
            if got != case.expect {
                verdict
                    .unclear
                    .push(format!("expected {}, got {got}", case.expect));
            }
            if let Invocation::Err { error_message, .. } = &outcome {
                if error_message.trim().is_empty() {
                    verdict.unclear.push("an empty message".into());
                }
                if error_message.contains("panicked") {
                    verdict.unclear.push(format!("a panic: {error_message}"));
                }
                if let Some(leak) = leaks.iter().find(|l| error_message.contains(l.as_str())) {
                    verdict
                        .unclear
                        .push(format!("a secret in the message ({} chars)", leak.len()));
                }
            }
            if !lambda.is_running() {
                verdict.unclear.push("the function exited".into());
            }
            let after = snapshot().await;
            if after != before {
                let differ: Vec<String> = before
                    .split(" | ")
                    .zip(after.split(" | "))
                    .filter(|(b, a)| b != a)
                    .map(|(b, a)| format!("{b} -> {a}"))
                    .collect();
                verdict
                    .changed
                    .push(format!("something changed: {}", differ.join("; ")));
            }
            let took = case_started.elapsed();
            if took > Duration::from_secs(2) {
                println!(
                    "corpus {}: {} ({}) took {:.1} s",
                    self.target,
                    case.file,
                    case.about,
                    took.as_secs_f64()
                );
            }
            if verdict.unclear.is_empty() {
                figures.clear_errors += 1;
            }
            if !verdict.changed.is_empty() {
                figures.state_changes += 1;
            }
            for what in verdict.unclear.iter().chain(&verdict.changed) {
                figures.wrong.push(format!(
                    "{} ({}: {}): {what}",
                    case.file, case.kind, case.about
                ));
            }
            if !lambda.is_running() {
                break;
            }
        }
        figures.elapsed = started.elapsed();
        let logs = lambda.shutdown().await;
        if let Some(leak) = leaks.iter().find(|l| logs.contains(l.as_str())) {
            figures
                .wrong
                .push(format!("a secret was logged ({} chars)", leak.len()));
        }
        figures
    }
}
