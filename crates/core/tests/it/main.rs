//! The core's integration tests, in one binary (one link of the AWS SDK, one process).

mod alternating;
mod aws_requests;
mod safety;
mod state_machine;
