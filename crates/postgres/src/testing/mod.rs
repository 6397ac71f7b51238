//! Test support for PostgreSQL (feature `testing`): a private cluster that enforces
//! passwords and serves TLS with a test CA ([`PgCluster`]), and the conformance suite's
//! fixture for it ([`PgFixture`]). Not for production code.

mod cluster;
mod fixture;

pub use cluster::{PgCluster, PgOptions};
pub use fixture::{PgFixture, fixture};
