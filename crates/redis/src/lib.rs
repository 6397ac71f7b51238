//! # secret-rotor-redis
//!
//! Redis ACL users, rotated with no window at all — and the worked example of a target:
//! read it file by file (README, "Writing a target").
//!
//! A Redis ACL user may hold several passwords at once. So setSecret *adds* the pending
//! password (`ACL SETUSER u >new`) and leaves the current one working; finishSecret moves
//! the labels; then [`Target::retire`](secret_rotor::Target::retire) removes every
//! password that neither `AWSCURRENT` nor `AWSPREVIOUS` holds. Applications holding either
//! keep working throughout, and whatever a crash left behind (an abandoned pending
//! password, a retire that never ran) goes at the next rotation.
//!
//! The secret is AWS's database layout: `{"host", "port" (6379), "username",
//! "password", "ssl"}`; TLS (`rediss`) unless `"ssl": false`, trusting `TLS_CA_BUNDLE`
//! or else the system's roots. The user changes its own password, so it needs
//! `+acl|setuser` and `+acl|getuser` — which let it change any user: give this function's
//! secret the care of an administrator's.

mod credential;
mod target;

pub use credential::RedisCredential;
pub use target::RedisTarget;
