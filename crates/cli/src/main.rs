//! `secret-rotor`: run a whole rotation locally, run one step from an event file, or see
//! where a secret's rotation stands — against AWS or a local emulator.
//!
//! The steps run the same code as the Lambda functions ([`secret_rotor::Rotator`]);
//! configuration comes from the same environment variables.

mod cancel;
mod check;
mod commands;
mod fleet;
mod targets;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Rotate AWS Secrets Manager secrets with secret-rotor.
#[derive(Debug, Parser)]
#[command(name = "secret-rotor", version, about)]
struct Cli {
    /// Secrets Manager endpoint (e.g. http://127.0.0.1:5000 for a local emulator).
    /// Defaults to SECRETS_MANAGER_ENDPOINT, AWS_ENDPOINT_URL_SECRETS_MANAGER or AWS's.
    /// (The RDS API, for RDS-managed master secrets, follows AWS_ENDPOINT_URL_RDS /
    /// AWS_ENDPOINT_URL.)
    #[arg(long, global = true, value_name = "URL")]
    endpoint_url: Option<String>,

    /// AWS region (defaults to the usual AWS configuration chain).
    #[arg(long, global = true)]
    region: Option<String>,

    /// Say more: the AWS SDK's warnings, debug logs, and every cause of an error.
    #[arg(short, long, global = true)]
    verbose: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run all four steps of a rotation now, as Secrets Manager would, staging the
    /// pending version itself; resumes a rotation that is in progress.
    Rotate {
        /// The secret's ARN or name; repeat it to rotate several.
        #[arg(long, required_unless_present_any = ["secret_ids_from", "name_prefix", "tag"])]
        secret_id: Vec<String>,
        /// A file of secret ARNs or names, one per line (`#` comments): rotate them all.
        #[arg(long, value_name = "FILE")]
        secret_ids_from: Option<PathBuf>,
        /// Also every secret whose name starts with this and whose rotation is on
        /// (ListSecrets; with --tag, those that match both).
        #[arg(long, value_name = "PREFIX")]
        name_prefix: Option<String>,
        /// Also every secret carrying this tag with this value and whose rotation is on;
        /// repeat it to require several tags.
        #[arg(long, value_name = "KEY=VALUE", value_parser = fleet::parse_tag)]
        tag: Vec<(String, String)>,
        /// Several secrets: rotations at once.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Several secrets: Secrets Manager writes per second at most (its quota is 50 for
        /// PutSecretValue and UpdateSecretVersionStage together; each rotation makes 3).
        #[arg(long, default_value_t = 40.0)]
        max_writes_per_second: f64,
        /// Several secrets: a JSON summary on stdout instead of the table.
        #[arg(long, value_parser = ["text", "json"], default_value = "text")]
        output: String,
        /// Check and print the plan (each credential logged in with), write nothing.
        #[arg(long)]
        dry_run: bool,
        /// The target: postgres, mysql (mariadb), http or redis. Default: from the secret's
        /// "engine".
        #[arg(long)]
        target: Option<String>,
    },
    /// Run one step from a rotation event file (the Lambda's payload).
    Step {
        /// A JSON event: {"Step", "SecretId", "ClientRequestToken"[, "RotationToken"]}.
        #[arg(long, value_name = "FILE")]
        event: PathBuf,
        /// The target: postgres, mysql (mariadb), http or redis. Default: from the secret's
        /// "engine".
        #[arg(long)]
        target: Option<String>,
    },
    /// Without changing anything: log in with AWSCURRENT, AWSPREVIOUS and (alternating
    /// users) the master; show the rotation settings, the server's TLS certificate (issuer,
    /// days to expiry), what setSecret would fix or refuse between the two alternating
    /// users, and whether a rotation is stuck. Exits 5 when a rotation would fail (a
    /// credential it needs does not log in, or setSecret would refuse), 3 when stuck.
    Check {
        /// The secret's ARN or name.
        #[arg(long)]
        secret_id: String,
        /// The target. Default: from the secret's "engine".
        #[arg(long)]
        target: Option<String>,
    },
    /// End a stuck rotation (AWSPENDING off its version) when AWSCURRENT still logs in;
    /// refuses, with exit 4, when that would lock the application out.
    Cancel {
        /// The secret's ARN or name.
        #[arg(long)]
        secret_id: String,
        /// The target. Default: from the secret's "engine".
        #[arg(long)]
        target: Option<String>,
    },
    /// Show the secret's versions and labels, and whether a rotation is stuck.
    /// Exits with 3 when a rotation is in progress (AWSPENDING not on AWSCURRENT).
    Status {
        /// The secret's ARN or name.
        #[arg(long)]
        secret_id: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // The SDK warns about each credential provider it tries: only with -v.
    let quiet_sdk = "info,aws_config=error,aws_smithy_runtime=error,aws_smithy_http_client=error";
    let filter = if cli.verbose {
        "debug,hyper_util=info,rustls=info,h2=info"
    } else {
        quiet_sdk
    };
    secret_rotor::logging::init_with(secret_rotor::logging::LogFormat::Text, filter);
    let aws = commands::Aws::load(cli.endpoint_url.as_deref(), cli.region.as_deref()).await;
    let result = match cli.command {
        Command::Rotate {
            secret_id,
            secret_ids_from,
            name_prefix,
            tag,
            concurrency,
            max_writes_per_second,
            output,
            dry_run,
            target,
        } => {
            let selection = fleet::Selection {
                ids: secret_id,
                ids_from: secret_ids_from,
                name_prefix,
                tags: tag,
            };
            match selection.ids(&aws.store).await {
                Err(e) => Err(e),
                Ok(ids) if ids.len() == 1 && !selection.is_fleet() && output == "text" => {
                    commands::rotate(aws, &ids[0], target.as_deref(), dry_run).await
                }
                Ok(_) if dry_run => Err(secret_rotor::Error::config(
                    "--dry-run takes one --secret-id",
                )),
                Ok(ids) => {
                    let options = fleet::FleetOptions {
                        concurrency,
                        writes_per_second: max_writes_per_second,
                        json: output == "json",
                    };
                    fleet::rotate_many(aws, ids, target, options).await
                }
            }
        }
        Command::Check { secret_id, target } => {
            commands::check(aws, &secret_id, target.as_deref(), false).await
        }
        Command::Step { event, target } => commands::step(aws, &event, target.as_deref()).await,
        Command::Cancel { secret_id, target } => {
            commands::cancel(aws, &secret_id, target.as_deref()).await
        }
        Command::Status { secret_id } => commands::status(aws.store, &secret_id).await,
    };
    match result {
        Ok(code) => code,
        Err(e) if cli.verbose => {
            eprintln!("error [{}]: {}", e.code(), e.display_chain());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error [{}]: {}", e.code(), e.headline());
            if e.code() == "SecretsManagerError" && e.headline().contains("cannot reach") {
                let endpoint = commands::endpoint_in_use(cli.endpoint_url.as_deref());
                eprintln!("(Secrets Manager endpoint: {endpoint})");
            }
            eprintln!("(run with -v for every cause)");
            ExitCode::FAILURE
        }
    }
}
