//! # secret-rotor-testkit
//!
//! Everything a secret-rotor target needs to prove itself against real parts:
//!
//! - services started by the tests themselves, on free ports, gone when the test process
//!   exits: [`moto::Moto`] (the Secrets Manager API, with the service's empty `AWSPENDING`
//!   staging that moto cannot do alone) and [`pg::PgCluster`] (a private PostgreSQL that
//!   enforces passwords and serves TLS with a test CA);
//! - [`runtime_api::LambdaProcess`]: runs a real Lambda binary behind an in-process Lambda
//!   Runtime API and drives rotations the way Secrets Manager does;
//! - [`faults`]: wrappers that crash a rotation after any external call;
//! - [`conformance`]: the suite every target runs against its real server;
//! - [`memory_target::MemoryTarget`]: a reference target kept in memory.
#![warn(missing_docs, rust_2018_idioms)]

pub mod conformance;
pub mod faults;
pub mod memory_target;
pub mod moto;
#[cfg(feature = "postgres")]
pub mod pg;
pub mod process;
pub mod runtime_api;
