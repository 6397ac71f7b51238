#!/usr/bin/env bash
# Rotation benchmarks: full rotations through the real, optimised Lambda binaries, single
# user and alternating users: rotate-postgres against a private PostgreSQL, rotate-mysql
# against a private MariaDB (both with TLS), rotate-http against the machine's RabbitMQ
# (its management API), rotate-redis against a private Redis (single user: it has no
# master); moto and the servers are started by the benches; the shared code is
# secret_rotor_testkit::bench. Prints tables and one
# `BENCH_JSON {...}` summary line per target and strategy; asserts nothing about speed.
# Not part of scripts/test.sh (it builds the release profile).
#
#   scripts/bench.sh                       # 20 timed warm rotations, 3 fresh processes
#   BENCH_ROTATIONS=50 scripts/bench.sh    # more rotations
#   BENCH_COLD_RUNS=5 scripts/bench.sh     # more fresh-process runs
#   SKIP_SETUP=1 scripts/bench.sh          # do not run scripts/setup.sh first
#
# Extra arguments go to `cargo bench` (e.g. --locked).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "${SKIP_SETUP:-0}" != "1" ]; then
  scripts/setup.sh
fi
# setup.sh may have installed tools here; make sure this shell sees them too.
export PATH="$HOME/.cargo/bin:$PATH:$HOME/.local/bin"

export BENCH_ROTATIONS="${BENCH_ROTATIONS:-20}"
export BENCH_COLD_RUNS="${BENCH_COLD_RUNS:-3}"

started=$SECONDS
for package in secret-rotor-postgres secret-rotor-mysql secret-rotor-http secret-rotor-redis; do
  cargo bench -p "$package" --bench rotation "$@"
done
# The deployment packages: each binary as `bootstrap` in a zip (deflate, as
# `cargo lambda build --output-format zip` packs it).
python3 - target/release/rotate-postgres target/release/rotate-mysql \
  target/release/rotate-http target/release/rotate-redis <<'PY'
import io, os, sys, zipfile
for path in sys.argv[1:]:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.write(path, "bootstrap")
    print(f"BENCH_ZIP {os.path.basename(path)} bootstrap {os.path.getsize(path) / 2**20:.2f} MiB, "
          f"zip {len(buf.getvalue()) / 2**20:.2f} MiB")
PY
# Fleet rotation through the CLI: 1,000 secrets (BENCH_SECRETS=N to change).
cargo bench -p secret-rotor-cli --bench fleet "$@"
printf 'bench.sh: cargo bench took %s s (release builds included)\n' "$((SECONDS - started))"
