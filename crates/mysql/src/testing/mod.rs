//! Test support for MySQL / MariaDB (feature `testing`): a private MariaDB that enforces
//! passwords and serves TLS with a test CA ([`MariaDb`]), and the conformance suite's
//! fixture for it ([`MyFixture`]). Not for production code.

mod fixture;
mod server;

pub use fixture::{MyFixture, PROBE_TABLE, fixture};
pub use server::{MariaDb, MariaDbOptions, TEST_DATABASE};
