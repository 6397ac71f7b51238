//! The shared conformance suite (testkit), both strategies, on a private MariaDB that
//! enforces passwords, over TLS verify-full with the test CA, and moto's Secrets Manager API.

use secret_rotor_mysql::testing::fixture;

secret_rotor_testkit::conformance_tests!(fixture());
secret_rotor_testkit::alternating_conformance_tests!(fixture());
