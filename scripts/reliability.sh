#!/usr/bin/env bash
# Reliability and security figures (issue "real process kills, faults on the wire, races, a
# hostile corpus, fuzzing"): runs the tests that measure them, with their output, and
# prints the figures they report (lines starting RELIABILITY), then the fuzzers
# (scripts/fuzz.sh, FUZZ_SECONDS per target, default 60; FUZZ_SECONDS=0 skips them).
# The same tests run in scripts/test.sh, where a broken invariant fails the build; this
# script is for the figures.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$HOME/.cargo/bin:$PATH:$HOME/.local/bin"
if [ "${SKIP_SETUP:-0}" != "1" ]; then
  scripts/setup.sh
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
run() { cargo test --locked "$@" -- --nocapture --test-threads=2 2>&1 | tee -a "$out" | grep -E '^(test |RELIABILITY)' || true; }
run -p secret-rotor-postgres --test it kills
run -p secret-rotor-mysql --test it kills
run -p secret-rotor-redis --test it kills
run -p secret-rotor-http --test it kills::
run -p secret-rotor-postgres --test it wire_faults
run -p secret-rotor-postgres --test it wire_reset
run -p secret-rotor-mysql --test it wire_reset
run -p secret-rotor-postgres --test it fault_path
run -p secret-rotor-postgres --test it converges_after_a_crash_after_any_call
run -p secret-rotor-mysql --test it fault_path
run -p secret-rotor-mysql --test it converges_after_a_crash_after_any_call
run -p secret-rotor-redis --test it fault_path
run -p secret-rotor-redis --test it converges_after_a_crash_after_any_call
run -p secret-rotor-http --test it rabbitmq::fault_path
run -p secret-rotor-http --test it converges_after_a_crash_after_any_call
run -p secret-rotor-postgres --test it corpus
run -p secret-rotor-mysql --test it corpus
run -p secret-rotor-http --test it corpus
run -p secret-rotor-postgres --test it keeps_passwords_out_of_logs
run -p secret-rotor-mysql --test it keeps_passwords_out_of_logs
run -p secret-rotor-http --test it keeps
run -p secret-rotor-redis --test it keeps_passwords_out_of_logs

echo
echo "== figures =="
grep -h '^RELIABILITY' "$out" | grep -v logscan | sort -u
grep -h '^RELIABILITY logscan' "$out" \
  | awk '{split($3, l, "="); lines += l[2]; n++} END {printf "RELIABILITY logscan scans=%d lines_scanned=%d hits=0 (a hit fails its test)\n", n, lines}'
if grep -q '^test .* FAILED' "$out"; then
  echo "reliability.sh: a test FAILED (above)"; exit 1
fi
if [ "${FUZZ_SECONDS:-60}" != "0" ]; then
  scripts/fuzz.sh
fi
