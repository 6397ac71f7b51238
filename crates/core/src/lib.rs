//! # secret-rotor
//!
//! The AWS Secrets Manager rotation protocol, done exactly and safely, with targets
//! (databases, APIs) plugged in through one small trait.
//!
//! - [`Rotator`] runs a step: AWS's preconditions (rotation enabled, token is a version,
//!   already current, is pending), then createSecret / setSecret / testSecret /
//!   finishSecret with their idempotence, plus what AWS's templates lack: a pending version
//!   of another rotation is refused, finishSecret never promotes a credential that does not
//!   log in, and no `AWSPENDING` is left behind.
//! - [`Target`] is what a database or API implements: parse a credential, try a login,
//!   set a password (and, optionally, verify and alternate users). It describes itself
//!   with a [`TargetInfo`] (name, [`Capabilities`], defaults).
//! - [`store::SecretStore`] holds the four Secrets Manager operations; no other crate calls
//!   Secrets Manager ([`store::AwsSecretStore`] is the only implementation shipped; test
//!   doubles live in `secret-rotor-testkit`).
//! - [`Error`] has stable codes ([`Error::code`]) that become the Lambda `errorType`, and
//!   keeps driver and SDK errors as its source ([`Error::display_chain`]).
//! - [`lambda::run`] turns a target into a Lambda function.
//!
//! ```
//! use secret_rotor::{RotationEvent, Step};
//! let e = RotationEvent::from_json(&serde_json::json!({
//!     "Step": "finishSecret", "SecretId": "db", "ClientRequestToken": "t-1"
//! }))?;
//! assert_eq!(e.step, Step::FinishSecret);
//! # Ok::<(), secret_rotor::Error>(())
//! ```

mod aws_error;
pub mod config;
pub mod error;
pub mod event;
pub mod inspect;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod logging;
pub mod outcome;
pub mod password;
#[cfg(feature = "rds")]
pub mod rds;
pub mod rotator;
pub mod secret;
pub mod stage;
pub mod store;
pub mod target;

pub use config::RotationConfig;
pub use error::{BoxError, DisplayChain, Error, Result, SecretVersion};
pub use event::{ClientRequestToken, RotationEvent, RotationToken, SecretId, Step, VersionId};
pub use outcome::{Outcome, StepReport};
pub use password::PasswordPolicy;
pub use rotator::{CheckReport, CredentialCheck, LoginCheck, Rotator};
pub use secret::SecretValue;
pub use stage::{SecretDescription, Stage};
pub use target::{
    AlternateContext, AlternateReport, Capabilities, Credential, Login, Parity, PendingRequest,
    RetireReport, RetireRequest, Strategy, Target, TargetInfo,
};
