#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine or a warm one:
#   1. scripts/setup.sh installs what is missing (apt: PostgreSQL, MariaDB, RabbitMQ,
#      Node.js/npm, Python, pip; pip: moto[server], cfn-lint, cargo-lambda; npm: Verdaccio
#      from crates/http/tests/verdaccio/package-lock.json) and starts the services
#      (RabbitMQ with its management plugin);
#   2. formatting, clippy with -D warnings, rustdoc with -D warnings;
#   3. every test: unit, state machine, conformance and fault injection on a private
#      PostgreSQL and a private MariaDB that enforce passwords (TLS verify-full, test
#      CA), RabbitMQ and a private Verdaccio (the HTTP target), and moto,
#      the Lambda binary through the Runtime API, the CLI, sample events, the SAM
#      template (tests/it/sam_template.rs runs cfn-lint on it);
#   4. scripts/demo.sh: the local-invoke path the README documents (cargo lambda watch
#      and cargo lambda invoke with the sample events), end to end.
# Tests start their own moto and PostgreSQL instances on free ports; a missing tool is
# a failure, never a skip.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

step "setup"
scripts/setup.sh
# setup.sh may have installed tools here; make sure this shell sees them too.
export PATH="$HOME/.cargo/bin:$PATH:$HOME/.local/bin"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo doc -D warnings"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

step "cargo test"
cargo test --workspace --locked

# The README's first command, end to end: a rotation through `cargo lambda watch` +
# `cargo lambda invoke rotate-postgres --data-file events/...` against moto and a private
# PostgreSQL, then through the CLI (the documented local-invoke path, tested here).
step "scripts/demo.sh"
scripts/demo.sh

printf '\nAll checks passed.\n'
