//! The HTTP API target's integration tests, in one binary.

mod client;
mod corpus;
mod kills;
mod lambda;
mod rabbitmq;
mod verdaccio;
