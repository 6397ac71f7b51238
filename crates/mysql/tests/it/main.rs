//! The MySQL / MariaDB target's integration tests, in one binary: one link, one moto and
//! one private MariaDB shared by every test (each test makes its own users and secrets).

mod conformance;
mod corpus;
mod kills;
mod lambda;
mod parity;
mod passwords;
mod server;
mod tls;
