#!/usr/bin/env bash
# Fuzzing (cargo-fuzz, libFuzzer) of what secret-rotor parses from outside: the rotation
# event, the secret string (through every target's credential parser) and the HTTP spec.
# Each target runs for a bounded time; a crash, a panic or a hang (a run over 5 s) stops
# it with the input saved under fuzz/artifacts/<target>/ — add that file to the hostile
# corpus. Not part of scripts/test.sh (it builds an instrumented copy of the workspace).
#
#   scripts/fuzz.sh                  # 60 s per target
#   FUZZ_SECONDS=600 scripts/fuzz.sh # longer
#
# Prints one line per target: `FUZZ target=<t> executions=<n> crashes=<0|1> seconds=<s>`.
# The machine has one stable toolchain: cargo-fuzz's -Z flags are allowed with
# RUSTC_BOOTSTRAP=1 (it builds with sanitizer coverage, no other nightly feature).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$HOME/.cargo/bin:$PATH"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
seconds="${FUZZ_SECONDS:-60}"

# Seeds: the sample events, the example secrets and the hostile corpus's inputs, the specs.
seed() { mkdir -p "fuzz/corpus/$1"; cp "${@:2}" "fuzz/corpus/$1/" 2>/dev/null || true; }
seed event events/*.json
seed secret events/secrets/*.json fuzz/seeds/secret/*
seed spec crates/http/examples/specs/*.json
# Every target's hostile corpus: events and secrets; the HTTP target's secrets carry their
# spec (`rotation_spec`), which seeds the spec fuzzer too.
python3 - <<'PY'
import json, pathlib
for target in ("postgres", "mysql", "http"):
    for case in sorted(pathlib.Path(f"crates/{target}/tests/corpus/cases").glob("*.json")):
        c = json.loads(case.read_text())
        kind = {"event": "event", "secret": "secret"}.get(c.get("kind"))
        if kind and isinstance(c.get("input"), (str, dict, list)):
            data = c["input"] if isinstance(c["input"], str) else json.dumps(c["input"])
            pathlib.Path(f"fuzz/corpus/{kind}/{target}-{case.stem}").write_text(data)
            spec = c["input"].get("rotation_spec") if isinstance(c["input"], dict) else None
            if spec is not None:
                pathlib.Path(f"fuzz/corpus/spec/{target}-{case.stem}").write_text(json.dumps(spec))
PY

status=0
for target in event secret spec; do
  log="fuzz/fuzz-$target.log"
  started=$SECONDS
  if cargo fuzz run "$target" "fuzz/corpus/$target" -- \
      -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
      >"$log" 2>&1; then
    crashes=0
  else
    crashes=1
    status=1
    tail -n 30 "$log"
  fi
  executions=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  printf 'FUZZ target=%s executions=%s crashes=%s seconds=%s\n' \
    "$target" "${executions:-0}" "$crashes" "$((SECONDS - started))"
done
exit "$status"
