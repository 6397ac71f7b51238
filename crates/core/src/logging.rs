//! Structured logs: JSON lines in Lambda (each carrying the `requestId`), text in a terminal.
//!
//! Nothing secret-rotor logs contains a password: values are held as
//! [`secrecy::SecretString`] and only user names, hosts, versions and codes are logged.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (Lambda, CloudWatch Logs Insights).
    Json,
    /// Human-readable lines (the CLI).
    Text,
}

impl LogFormat {
    /// JSON unless `AWS_LAMBDA_LOG_FORMAT` says `Text`.
    pub fn from_lambda_env() -> Self {
        match std::env::var("AWS_LAMBDA_LOG_FORMAT") {
            Ok(f) if f.eq_ignore_ascii_case("text") => LogFormat::Text,
            _ => LogFormat::Json,
        }
    }
}

/// Installs the global subscriber, writing to stderr for [`LogFormat::Text`] and stdout
/// for [`LogFormat::Json`]. The level comes from `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`
/// (full filter syntax), else `info`. Does nothing if a subscriber is already installed.
pub fn init(format: LogFormat) {
    init_with(format, "info");
}

/// [`init`] with another filter than `info` when neither `AWS_LAMBDA_LOG_LEVEL` nor
/// `RUST_LOG` is set (e.g. the CLI keeps the AWS SDK's warnings for `-v`).
pub fn init_with(format: LogFormat, default_filter: &str) {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .ok()
        .and_then(|l| l.parse::<LevelFilter>().ok());
    let from_rust_log = std::env::var("RUST_LOG").is_ok_and(|v| !v.trim().is_empty());
    let filter = match level {
        Some(level) => EnvFilter::default().add_directive(level.into()),
        None if from_rust_log => EnvFilter::builder()
            .with_default_directive(LevelFilter::INFO.into())
            .from_env_lossy(),
        None => EnvFilter::builder().parse_lossy(default_filter),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(std::io::stdout)
            .try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_writer(std::io::stderr)
            .try_init(),
    };
}
