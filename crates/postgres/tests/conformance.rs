//! The shared conformance suite (testkit), both strategies, on a private PostgreSQL that enforces
//! passwords, over TLS verify-full with the test CA, and moto's Secrets Manager API.

mod support;

secret_rotor_testkit::conformance_tests!(support::fixture());
secret_rotor_testkit::alternating_conformance_tests!(support::fixture());
