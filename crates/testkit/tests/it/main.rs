//! The testkit's own tests, in one binary: the harnesses against the real services, and
//! the conformance suite on the in-memory reference target.

mod conformance_memory;
mod harness;
