//! Structured logs: JSON lines in Lambda (each carrying the `requestId`), text in a terminal.
//!
//! Nothing secret-rotor logs contains a password: values are held as
//! [`secrecy::SecretString`] and only user names, hosts, versions and codes are logged.

use std::str::FromStr;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

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
/// (a list of `level` and `target=level`, e.g. `info,aws_config=debug`), else `info`. Does
/// nothing if a subscriber is already installed.
pub fn init(format: LogFormat) {
    init_with(format, "info");
}

/// [`init`] with another filter than `info` when neither `AWS_LAMBDA_LOG_LEVEL` nor
/// `RUST_LOG` is set (e.g. the CLI keeps the AWS SDK's warnings for `-v`).
pub fn init_with(format: LogFormat, default_filter: &str) {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .ok()
        .and_then(|l| l.parse::<LevelFilter>().ok());
    let rust_log = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let filter = match (level, rust_log) {
        (Some(level), _) => Targets::new().with_default(level),
        (None, Some(directives)) => filter_from(&directives, "RUST_LOG"),
        (None, None) => filter_from(default_filter, "the default filter"),
    };
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_target(false)
                    .with_writer(std::io::stdout),
            )
            .try_init(),
        LogFormat::Text => registry
            .with(
                fmt::layer()
                    .with_target(false)
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
}

/// `directives` as a filter; when they do not parse, `info` and a line on stderr saying so
/// (logging is not set up yet).
fn filter_from(directives: &str, source: &str) -> Targets {
    Targets::from_str(directives).unwrap_or_else(|e| {
        eprintln!("{source}: {e}; logging at info");
        Targets::new().with_default(LevelFilter::INFO)
    })
}
