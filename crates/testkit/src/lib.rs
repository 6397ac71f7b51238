//! # secret-rotor-testkit
//!
//! Everything a secret-rotor target needs to prove itself against real parts, kept out of
//! the production crates (as tower keeps its mocks in tower-test):
//!
//! - [`moto::Moto`]: the Secrets Manager (and RDS) API, started by the tests on a free port,
//!   with the service's empty `AWSPENDING` staging that moto cannot do alone;
//! - [`runtime_api::LambdaProcess`]: runs a real Lambda binary behind an in-process Lambda
//!   Runtime API and drives rotations the way Secrets Manager does;
//! - [`process`] and [`tls`]: what a target crate needs to start its own private server for
//!   tests (free ports, a guard that stops it with the test process, a test CA);
//! - [`faults`]: wrappers that crash a rotation after any external call;
//! - [`conformance`]: the suite every target runs against its real server;
//! - [`corpus`]: the hostile corpus, run through a target's real Lambda binary (the
//!   generic cases are written by `corpus/hostile.py`, each target adds its own);
//! - [`bench`](mod@bench): the rotation benchmark every target runs through its real Lambda
//!   binary;
//! - [`memory_store::MemoryStore`], [`memory_target::MemoryTarget`] and
//!   [`memory_issuer::MemoryIssuer`]: an in-memory Secrets Manager, a reference target for
//!   passwords and one for API keys that the API issues, for unit tests of the state
//!   machine.
//!
//! Target-specific servers live with their target, behind its `testing` feature (e.g.
//! `secret_rotor_postgres::testing::PgCluster`).

pub mod bench;
pub mod conformance;
pub mod corpus;
pub mod faults;
pub mod kills;
pub mod memory_issuer;
pub mod memory_store;
pub mod memory_target;
pub mod moto;
pub mod process;
pub mod proxy;
pub mod runtime_api;
pub mod tls;
pub mod wire_faults;
