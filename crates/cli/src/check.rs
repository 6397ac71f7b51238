//! `check` and `rotate --dry-run`: a look at a secret that writes nothing — each credential
//! logged in with, the rotation settings, a stuck rotation, and (dry run) the plan.

use std::process::ExitCode;

use secret_rotor::{CheckReport, LoginCheck, Result, SecretId, SecretVersion, Strategy, Target};

use secret_rotor::target::alternate_of;

use crate::commands::{Aws, EXIT_IN_PROGRESS};
use crate::targets::WithTarget;

/// Exit code when a rotation would fail: a credential that it needs does not log in, or
/// (alternating users) setSecret would refuse.
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
        print_certificate(&report);
        print_alternate(&report);
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

/// Days left under which the certificate line says so loudly.
const CERTIFICATE_WARNING_DAYS: i64 = 30;

fn print_certificate(report: &CheckReport) {
    match &report.certificate {
        None => {}
        Some(Ok(c)) => {
            let when = match c.days_left {
                d if d < 0 => format!("EXPIRED {} days ago", -d),
                d if d < CERTIFICATE_WARNING_DAYS => format!("EXPIRES in {d} days"),
                d => format!("expires in {d} days"),
            };
            println!(
                "tls:         {when} ({}); issuer {}; subject {}",
                c.not_after, c.issuer, c.subject
            );
        }
        Some(Err(f)) => println!("tls:         FAILED [{}]: {}", f.code, f.message),
    }
}

/// Alternating users: what setSecret would do to the other user, or why it would refuse.
fn print_alternate(report: &CheckReport) {
    match &report.alternate {
        None => {}
        Some(Ok(r)) => {
            let mut lines = Vec::new();
            if r.created {
                lines.push("the other user does not exist yet: setSecret creates it".to_owned());
            }
            lines.extend(r.synced.iter().map(|s| format!("would fix: {s}")));
            lines.extend(
                r.unsynced
                    .iter()
                    .map(|s| format!("could not fix (reported): {s}")),
            );
            lines.extend(r.extra.iter().map(|s| format!("extra, left alone: {s}")));
            lines.extend(r.notes.iter().map(|s| format!("note: {s}")));
            if lines.is_empty() {
                lines.push("the two users hold the same: nothing to fix".to_owned());
            }
            for (i, line) in lines.iter().enumerate() {
                let head = if i == 0 { "alternate:" } else { "" };
                println!("{head:<12} {line}");
            }
        }
        Some(Err(f)) => println!(
            "alternate:   setSecret would FAIL [{}]: {}",
            f.code, f.message
        ),
    }
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
        println!(
            "would FAIL: see above (a credential that does not log in, or setSecret's refusal)"
        );
    }
}
