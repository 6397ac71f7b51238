//! The PostgreSQL target's integration tests, in one binary: one link, one moto and one
//! private cluster shared by every test (each test makes its own roles and secrets).

mod alternating;
mod cluster;
mod conformance;
mod corpus;
mod kills;
mod lambda;
mod password_change;
mod tls_and_connections;
mod wire_faults;
