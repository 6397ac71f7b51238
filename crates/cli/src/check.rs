//! `check` and `rotate --dry-run`: a look at a secret that writes nothing — each credential
//! logged in with, the rotation settings, a stuck rotation, and (dry run) the plan.

use std::process::ExitCode;

use secret_rotor::{CheckReport, LoginCheck, Result, SecretId, SecretVersion, Strategy, Target};

use secret_rotor::target::alternate_of;

use crate::commands::{Aws, EXIT_IN_PROGRESS};
use crate::targets::WithTarget;

/// Exit code when a credential that a rotation needs does not log in.
pub(crate) const EXIT_UNHEALTHY: u8 = 5;

/// `check` (or, with `plan`, `rotate --dry-run`) of one secret.
pub(crate) struct Check {
    pub(crate) aws: Aws,
    pub(crate) secret_id: SecretId,
    pub(crate) plan: bool,
}

impl WithTarget for Check {
    type Output = ExitCode;

    async fn run<T: Target>(self, target: T) -> Result<ExitCode> {
        let retires = target.info().capabilities.retires();
        let rotator = self.aws.rotator(target)?;
        let report = rotator.check(&self.secret_id).await?;
        print_settings(&report);
        for c in &report.credentials {
            let who = match (&c.user, &c.server) {
                (Some(user), Some(server)) => format!("{user} @ {server}"),
                _ => "-".to_owned(),
            };
            let version = c
                .version
                .as_ref()
                .map_or("-".to_owned(), ToString::to_string);
            let login = match &c.login {
                LoginCheck::LogsIn => "logs in".to_owned(),
                LoginCheck::Refused { reason }
                    if c.which == SecretVersion::Previous
                        && report.strategy == Strategy::SingleUser
                        && !retires =>
                {
                    format!("refused ({reason}): expected, a single-user rotation replaced it")
                }
                LoginCheck::Refused { reason } => format!("REFUSED: {reason}"),
                LoginCheck::Failed { code, message } => format!("FAILED [{code}]: {message}"),
            };
            println!("{:<12} {version:<38} {who:<40} {login}", c.which.as_str());
        }
        if let Some(pending) = &report.in_progress {
            println!("state:       rotation in progress (AWSPENDING on {pending})");
        } else {
            println!("state:       ready (no rotation in progress)");
        }
        if self.plan {
            print_plan(&report, retires);
        }
        Ok(if !report.healthy() {
            ExitCode::from(EXIT_UNHEALTHY)
        } else if report.in_progress.is_some() && !self.plan {
            ExitCode::from(EXIT_IN_PROGRESS)
        } else {
            ExitCode::SUCCESS
        })
    }
}

fn print_settings(report: &CheckReport) {
    let d = &report.description;
    let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
    println!("secret:      {}", d.arn);
    println!(
        "rotation:    {}; function {}; schedule {}",
        match d.rotation_enabled {
            Some(true) => "enabled",
            Some(false) => "DISABLED",
            None => "not configured",
        },
        or_none(&d.rotation_function),
        or_none(&d.rotation_schedule)
    );
    println!(
        "rotated:     last {}; next {}",
        or_none(&d.last_rotated),
        or_none(&d.next_rotation)
    );
    println!("strategy:    {}", report.strategy.as_str());
}

fn print_plan(report: &CheckReport, retires: bool) {
    let current = report.of(SecretVersion::Current);
    let user = current.and_then(|c| c.user.clone()).unwrap_or_default();
    let alternating = report.strategy == Strategy::AlternatingUsers;
    let pending_user = if alternating {
        alternate_of(&user)
    } else {
        user.clone()
    };
    println!("plan (nothing was written):");
    if let Some(pending) = &report.in_progress {
        println!("  resume the rotation in progress ({pending})");
    }
    println!(
        "  createSecret  a new version labelled AWSPENDING: AWSCURRENT's value, a new password, user {pending_user:?}"
    );
    if alternating {
        println!(
            "  setSecret     as the master: give {pending_user:?} what {user:?} holds, then its password"
        );
    } else {
        println!(
            "  setSecret     change {user:?}'s password, logged in as AWSCURRENT (else AWSPREVIOUS)"
        );
    }
    println!("  testSecret    log in with the pending credential");
    println!("  finishSecret  prove it logs in, then move AWSCURRENT to it");
    if retires {
        println!("  then          retire what neither AWSCURRENT nor AWSPREVIOUS holds");
    }
    if report.description.rotation_enabled == Some(false) {
        println!("would FAIL: rotation is disabled on the secret (RotationDisabled)");
    } else if report.healthy() {
        println!("would succeed as far as can be checked without writing");
    } else {
        println!("would FAIL: a credential the rotation needs does not log in (see above)");
    }
}
