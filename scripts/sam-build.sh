#!/usr/bin/env bash
# Release build of every Lambda function with SAM, as `sam deploy` would ship it, for
# arm64 (the template's default) and x86_64; prints each function's bootstrap and zip
# size. Not part of scripts/test.sh (release builds of four binaries per architecture).
#
#   scripts/sam-build.sh                 # both architectures
#   ARCHS=arm64 scripts/sam-build.sh     # one
#   FUNCTIONS=RedisRotationFunction scripts/sam-build.sh   # some functions only
#
# Needs: cargo-lambda (scripts/setup.sh installs it; it links with zig), the Rust targets
# (added here), the SAM CLI (installed here from PyPI when missing), zip.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$HOME/.cargo/bin:$PATH:$HOME/.local/bin"
export SAM_CLI_TELEMETRY=0

command -v sam >/dev/null || python3 -m pip install --quiet aws-sam-cli
command -v zip >/dev/null || { echo "zip is missing (apt-get install zip)" >&2; exit 1; }
rustup target add aarch64-unknown-linux-gnu x86_64-unknown-linux-gnu >/dev/null

echo "==> sam validate --lint"
sam validate --lint

for arch in ${ARCHS:-arm64 x86_64}; do
  for fn in ${FUNCTIONS:-PostgresRotationFunction MysqlRotationFunction HttpRotationFunction RedisRotationFunction}; do
    dir=".aws-sam/build-$arch-$fn"
    mkdir -p .aws-sam
    started=$SECONDS
    # One function at a time: the RDS CA layer downloads a file at build time, which is
    # not what is measured here (sam build builds every resource, whatever its condition).
    sam build "$fn" --build-dir "$dir" \
      --parameter-overrides "Architecture=$arch" \
      >"$dir.log" 2>&1 \
      || { cat "$dir.log" >&2; exit 1; }
    bootstrap="$dir/$fn/bootstrap"
    [ -f "$bootstrap" ] || { echo "$fn: no bootstrap in $dir/$fn" >&2; exit 1; }
    zipfile="$(mktemp -d)/$fn.zip"
    (cd "$dir/$fn" && zip -q -9 "$zipfile" bootstrap)
    printf '%-26s %-7s bootstrap %5.1f MiB   zip %4.1f MiB   built in %4d s   (%s)\n' "$fn" "$arch" \
      "$(echo "$(stat -c %s "$bootstrap") / 1048576" | bc -l)" \
      "$(echo "$(stat -c %s "$zipfile") / 1048576" | bc -l)" \
      "$((SECONDS - started))" \
      "$(file -b "$bootstrap" | cut -d, -f1-2)"
  done
done
