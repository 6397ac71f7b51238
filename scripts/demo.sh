#!/usr/bin/env bash
# secret-rotor demo: a real rotation end to end, on this machine, in a few minutes.
#
#   scripts/demo.sh
#
# What it does (everything private, on free ports, removed on exit):
#   1. scripts/setup.sh (installs what is missing), then builds `secret-rotor` (the CLI)
#      and `rotate-postgres` (the Lambda function);
#   2. starts moto (the Secrets Manager API) through crates/testkit/moto_harness.py;
#   3. starts a private PostgreSQL cluster that enforces passwords (SCRAM) and accepts
#      TCP logins only over TLS, with a throwaway CA made here by openssl;
#   4. creates the role `app_user` and its secret (engine, host, port, username,
#      password, dbname) in moto;
#   5. rotation 1 through the Lambda function, driven the way Secrets Manager drives it:
#      the pending version is staged, then createSecret, setSecret, testSecret and
#      finishSecret are invoked with the sample events of events/ through
#      `cargo lambda watch` + `cargo lambda invoke`;
#   6. rotation 2 through the CLI: `secret-rotor rotate`;
#   after each rotation: `secret-rotor status`, then psql over TLS (verify-full) proves
#   that the new password (AWSCURRENT, read from moto) logs in and the old one is refused.
#
# Exits non-zero if anything fails. Passwords are never printed.
# Never touches the machine's own PostgreSQL (5432) or real AWS: all AWS settings point at
# moto, with test credentials, and no AWS configuration file is read.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
cd "$REPO_ROOT"

START_SECONDS=$SECONDS
# Headers carry the seconds since the start.
section() { printf '\n==> [%3ss] %s\n' "$((SECONDS - START_SECONDS))" "$*"; }
# Milliseconds since the epoch (bash 5's EPOCHREALTIME; its radix follows the locale).
now_ms() {
  local t=${EPOCHREALTIME//[.,]/}
  echo $((t / 1000))
}
info() { printf '    %s\n' "$*"; }
die() {
  printf '\ndemo: FAILED: %s\n' "$*" >&2
  exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

if [ -z "${HOME:-}" ]; then
  HOME="$(getent passwd "$(id -u)" | cut -d: -f6)"
  export HOME
fi
# Where rustup and `pip install --user` put commands (as scripts/setup.sh does).
case ":$PATH:" in *":$HOME/.cargo/bin:"*) ;; *) [ -d "$HOME/.cargo/bin" ] && PATH="$HOME/.cargo/bin:$PATH" ;; esac
case ":$PATH:" in *":$HOME/.local/bin:"*) ;; *) PATH="$PATH:$HOME/.local/bin" ;; esac
export PATH

# Nothing of the caller's AWS or PostgreSQL client settings may leak in.
while IFS='=' read -r name _; do
  case "$name" in AWS_* | PG*) unset "$name" ;; esac
done < <(env)
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export PGPASSFILE=/dev/null PGCONNECT_TIMEOUT=10

IS_ROOT=false
[ "$(id -u)" -eq 0 ] && IS_ROOT=true

# --- cleanup ----------------------------------------------------------------------
WORK=""
MOTO_PID=""
WATCH_PID=""
PG_CTL=""
PG_DIR=""
PGDATA_DIR=""

# Runs a PostgreSQL server command as the cluster's owner (the `postgres` OS user when
# root, since initdb refuses root), from the cluster's directory.
pg_run() {
  if $IS_ROOT; then
    (cd "$PG_DIR" && runuser -u postgres -- "$@")
  else
    (cd "$PG_DIR" && "$@")
  fi
}

# Stops a process group we started with setsid (its leader's pid is the group id).
stop_group() {
  local pid=$1 _
  kill -TERM -- "-$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do
    kill -0 -- "-$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
}

cleanup() {
  local status=$?
  set +e
  if [ -n "$WATCH_PID" ]; then stop_group "$WATCH_PID"; fi
  if [ -n "$PGDATA_DIR" ] && [ -f "$PGDATA_DIR/postmaster.pid" ]; then
    pg_run "$PG_CTL" -D "$PGDATA_DIR" -m fast -w -t 30 stop >/dev/null 2>&1
  fi
  if [ -n "$MOTO_PID" ]; then stop_group "$MOTO_PID"; fi
  if [ -n "$WORK" ]; then rm -rf "$WORK"; fi
  if [ "$status" -eq 0 ]; then
    printf '\ndemo: OK (%ss; everything it started is stopped and removed)\n' "$((SECONDS - START_SECONDS))"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Prints the tail of a log file (for failures).
show_log() {
  printf -- '--- %s (last lines) ---\n' "$1" >&2
  tail -n "${2:-30}" "$1" >&2 || true
}

free_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

wait_for_port() {
  local port=$1 seconds=$2 _
  for _ in $(seq $((seconds * 10))); do
    if python3 -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()' "$port" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# Everything the demo makes lives here. A root run keeps its files under /tmp: TMPDIR may be under /root, which the `postgres`
# OS user cannot traverse.
if $IS_ROOT; then TMP_BASE=/tmp; else TMP_BASE="${TMPDIR:-/tmp}"; fi
WORK="$(mktemp -d "$TMP_BASE/secret-rotor-demo.XXXXXX")"
chmod 711 "$WORK" # the postgres OS user must reach its directory inside

# --- 1. toolchain and build ---------------------------------------------------------
section "Setting up the machine (scripts/setup.sh)"
SETUP_LOG="$WORK/setup.log"
# Its progress lines ("[setup] installing ...") live; apt's and pip's output on failure.
if ! scripts/setup.sh 2>&1 | tee "$SETUP_LOG" | { grep --line-buffered '^\[setup\]' || true; } |
  sed -u 's/^/    /'; then
  cat "$SETUP_LOG" >&2
  die "scripts/setup.sh failed"
fi
grep -E '^(cargo|postgres|moto|cargo-lambda):' "$SETUP_LOG" | sed 's/^/    /' || true
grep -E '^setup:' "$SETUP_LOG" | sed 's/^/    /' || true
hash -r
for cmd in cargo python3 psql openssl; do
  have "$cmd" || die "$cmd is missing after scripts/setup.sh"
done

section "Building secret-rotor and rotate-postgres"
info "(the first build takes a few minutes: about 3.5 min on 2 cores; then seconds)"
build_started=$SECONDS
cargo build --locked -q --bin secret-rotor --bin rotate-postgres
TARGET_DIR="$(cargo metadata --locked --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
CLI="$TARGET_DIR/debug/secret-rotor"
[ -x "$CLI" ] || die "$CLI was not built"
info "built in $((SECONDS - build_started))s: $CLI"

# --- 2. moto ------------------------------------------------------------------------
section "Starting moto (the Secrets Manager API)"
setsid python3 crates/testkit/moto_harness.py --port 0 --parent-pid $$ \
  >"$WORK/moto.out" 2>"$WORK/moto.err" </dev/null &
MOTO_PID=$!
ENDPOINT=""
for _ in $(seq 900); do
  ENDPOINT="$(sed -n 's/^MOTO_HARNESS_READY //p' "$WORK/moto.out" | head -n 1)"
  [ -n "$ENDPOINT" ] && break
  if ! kill -0 "$MOTO_PID" 2>/dev/null; then
    show_log "$WORK/moto.err"
    die "moto exited before listening (pip install 'moto[server]')"
  fi
  sleep 0.1
done
[ -n "$ENDPOINT" ] || die "moto did not start within 90s"
export AWS_ENDPOINT_URL="$ENDPOINT"
info "listening on $ENDPOINT"

# --- 3. PostgreSQL ------------------------------------------------------------------
section "Starting a private PostgreSQL cluster (SCRAM passwords, TCP over TLS only)"
PG_BINDIR="$(compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -n 1 || true)"
PG_BINDIR="${PG_BINDIR%/initdb}"
[ -n "$PG_BINDIR" ] || die "no PostgreSQL server binaries (apt-get install postgresql)"
PG_CTL="$PG_BINDIR/pg_ctl"
PG_DIR="$WORK/pg"
PGDATA_DIR="$PG_DIR/data"
TLS_DIR="$WORK/tls"
CA_PEM="$TLS_DIR/ca.pem"
mkdir -p "$PG_DIR" "$TLS_DIR"
if $IS_ROOT; then
  id postgres >/dev/null 2>&1 ||
    die "running as root, and initdb refuses root, but there is no 'postgres' OS user to run it as"
  chown postgres:postgres "$PG_DIR"
fi

SUPERUSER_PASSWORD="$(openssl rand -hex 24)"
(umask 077 && printf '%s\n' "$SUPERUSER_PASSWORD" >"$PG_DIR/pwfile")
if $IS_ROOT; then chown postgres:postgres "$PG_DIR/pwfile"; fi
if ! pg_run "$PG_BINDIR/initdb" -D "$PGDATA_DIR" -U postgres --auth=scram-sha-256 \
  --pwfile="$PG_DIR/pwfile" -E UTF8 --no-locale >"$WORK/initdb.log" 2>&1; then
  show_log "$WORK/initdb.log"
  die "initdb failed"
fi
rm -f "$PG_DIR/pwfile"

# A throwaway CA and a server certificate for 127.0.0.1 and localhost (ECDSA P-256).
{
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$TLS_DIR/ca.key" -out "$CA_PEM" -days 2 -subj "/CN=secret-rotor demo CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$TLS_DIR/server.key" -out "$TLS_DIR/server.csr" -subj "/CN=localhost"
  printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$TLS_DIR/server.ext"
  openssl x509 -req -in "$TLS_DIR/server.csr" -CA "$CA_PEM" -CAkey "$TLS_DIR/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days 2 -extfile "$TLS_DIR/server.ext" \
    -out "$TLS_DIR/server.crt"
} >"$WORK/openssl.log" 2>&1 || {
  show_log "$WORK/openssl.log"
  die "openssl could not make the test certificates"
}
cp "$TLS_DIR/server.crt" "$TLS_DIR/server.key" "$PGDATA_DIR/"
chmod 600 "$PGDATA_DIR/server.key"
if $IS_ROOT; then chown postgres:postgres "$PGDATA_DIR/server.crt" "$PGDATA_DIR/server.key"; fi

cat >>"$PGDATA_DIR/postgresql.conf" <<CONF

# secret-rotor demo
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PG_DIR'
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
password_encryption = 'scram-sha-256'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = '32MB'
max_connections = 20
CONF
cat >"$PGDATA_DIR/pg_hba.conf" <<'HBA'
# secret-rotor demo: every login needs its password; TCP only over TLS
local   all  all                scram-sha-256
hostssl all  all  127.0.0.1/32  scram-sha-256
HBA

# The port is picked before the postmaster binds it: retry if someone took it meanwhile.
PG_PORT=""
for attempt in 1 2 3; do
  port="$(free_port)"
  if pg_run "$PG_CTL" -D "$PGDATA_DIR" -l "$PG_DIR/server.log" -w -t 60 -o "-p $port" start \
    >"$WORK/pg_ctl.log" 2>&1; then
    PG_PORT=$port
    break
  fi
  if [ "$attempt" -eq 3 ] || ! grep -q 'could not bind' "$PG_DIR/server.log" 2>/dev/null; then
    show_log "$WORK/pg_ctl.log"
    show_log "$PG_DIR/server.log"
    die "PostgreSQL did not start"
  fi
done
info "PostgreSQL $("$PG_BINDIR/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT (TLS, CA $CA_PEM)"

# psql as the superuser, over the cluster's unix socket (SQL on stdin).
psql_admin() {
  PGPASSWORD="$SUPERUSER_PASSWORD" psql -X -q -v ON_ERROR_STOP=1 -h "$PG_DIR" -p "$PG_PORT" \
    -U postgres -d postgres
}

# --- 4. the account and its secret --------------------------------------------------
section "Creating role app_user and its secret in moto"
FIRST_PASSWORD="$(openssl rand -hex 20)"
psql_admin <<SQL
CREATE ROLE app_user LOGIN PASSWORD '$FIRST_PASSWORD';
SQL

SECRET_ARN="$(FIRST_PASSWORD="$FIRST_PASSWORD" PG_PORT="$PG_PORT" python3 - <<'PY'
import json, os
import boto3

sm = boto3.client("secretsmanager", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
secret = {
    "engine": "postgres",
    "host": "127.0.0.1",
    "port": int(os.environ["PG_PORT"]),
    "username": "app_user",
    "password": os.environ["FIRST_PASSWORD"],
    "dbname": "postgres",
}
out = sm.create_secret(Name="demo/app_user", SecretString=json.dumps(secret))
print(out["ARN"])
PY
)"
info "secret: $SECRET_ARN"
info "value:  {engine, host: 127.0.0.1, port: $PG_PORT, username: app_user, password: (hidden), dbname: postgres}"

# The password of the version that holds a label (AWSCURRENT, AWSPREVIOUS), from moto.
read_password() {
  STAGE="$1" SECRET_ARN="$SECRET_ARN" python3 - <<'PY'
import json, os
import boto3

sm = boto3.client("secretsmanager", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
out = sm.get_secret_value(SecretId=os.environ["SECRET_ARN"], VersionStage=os.environ["STAGE"])
print(json.loads(out["SecretString"])["password"])
PY
}

# psql as app_user over TCP, TLS verify-full against the demo CA; the password comes
# from the environment (never the command line).
psql_app() {
  PGPASSWORD="$1" psql -X -At -v ON_ERROR_STOP=1 \
    "host=127.0.0.1 port=$PG_PORT user=app_user dbname=postgres sslmode=verify-full sslrootcert=$CA_PEM" \
    -c "SELECT current_user || ' over ' || version FROM pg_stat_ssl WHERE pid = pg_backend_pid()" \
    2>"$WORK/psql.err"
}

# After a rotation away from password $1: AWSCURRENT holds a new password that logs in,
# AWSPREVIOUS holds $1, which is refused. Sets CURRENT_PASSWORD.
check_logins() {
  local old=$1 new previous who
  new="$(read_password AWSCURRENT)" || die "cannot read AWSCURRENT from moto"
  previous="$(read_password AWSPREVIOUS)" || die "cannot read AWSPREVIOUS from moto"
  [ -n "$new" ] || die "AWSCURRENT has no password"
  [ "$new" != "$old" ] || die "AWSCURRENT still holds the old password"
  [ "$previous" = "$old" ] || die "AWSPREVIOUS does not hold the old password"
  if who="$(psql_app "$new")"; then
    info "new password (AWSCURRENT): login OK ($who, verify-full)"
  else
    cat "$WORK/psql.err" >&2
    die "the new password does not log in"
  fi
  if psql_app "$old" >/dev/null; then
    die "the old password still logs in"
  elif grep -q 'password authentication failed' "$WORK/psql.err"; then
    info "old password (AWSPREVIOUS): refused (as expected)"
  else
    cat "$WORK/psql.err" >&2
    die "the login with the old password failed, but not because of the password"
  fi
  CURRENT_PASSWORD="$new"
}

# `secret-rotor status`, indented; fails unless the secret is ready (exit code 0).
show_status() {
  local code=0
  "$CLI" --endpoint-url "$ENDPOINT" status --secret-id "$SECRET_ARN" >"$WORK/status.out" 2>&1 ||
    code=$?
  sed 's/^/    /' "$WORK/status.out"
  [ "$code" -eq 0 ] || die "secret-rotor status exited with $code"
}

# Everything the rotation code needs, for the Lambda function and the CLI.
export TLS_CA_BUNDLE="$CA_PEM"
export RUST_LOG=warn

section "Before any rotation"
show_status
CURRENT_PASSWORD="$FIRST_PASSWORD"
if who="$(psql_app "$CURRENT_PASSWORD")"; then
  info "first password: login OK ($who)"
else
  cat "$WORK/psql.err" >&2
  die "the first password does not log in"
fi

# --- 5. rotation 1: the Lambda function, as Secrets Manager drives it ---------------
section "Rotation 1: the rotate-postgres Lambda function, driven like Secrets Manager"
LAMBDA_PORT="$(free_port)"
cat >"$WORK/lambda.env" <<ENV
AWS_ENDPOINT_URL=$ENDPOINT
AWS_REGION=$AWS_REGION
AWS_DEFAULT_REGION=$AWS_DEFAULT_REGION
AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID
AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
AWS_EC2_METADATA_DISABLED=true
AWS_CONFIG_FILE=/dev/null
AWS_SHARED_CREDENTIALS_FILE=/dev/null
TLS_CA_BUNDLE=$CA_PEM
RUST_LOG=info
ENV
watch_started=$(now_ms)
setsid cargo lambda watch -A 127.0.0.1 -P "$LAMBDA_PORT" --ignore-changes \
  --env-file "$WORK/lambda.env" >"$WORK/watch.log" 2>&1 </dev/null &
WATCH_PID=$!
if ! wait_for_port "$LAMBDA_PORT" 120; then
  show_log "$WORK/watch.log"
  die "cargo lambda watch did not listen on 127.0.0.1:$LAMBDA_PORT"
fi
info "cargo lambda watch: Lambda Runtime API emulator on 127.0.0.1:$LAMBDA_PORT (up in $(($(now_ms) - watch_started)) ms)"

# What RotateSecret does before it invokes the function: an empty AWSPENDING version
# under a new ClientRequestToken (the harness does it; moto alone cannot).
TOKEN="$(SECRET_ARN="$SECRET_ARN" python3 - <<'PY'
import json, os, urllib.request

request = urllib.request.Request(
    os.environ["AWS_ENDPOINT_URL"] + "/_rotor/rotate",
    data=json.dumps({"SecretId": os.environ["SECRET_ARN"]}).encode(),
    headers={"Content-Type": "application/json"},
    method="POST",
)
with urllib.request.urlopen(request, timeout=30) as response:
    print(json.load(response)["ClientRequestToken"])
PY
)"
info "RotateSecret staged an empty AWSPENDING version: $TOKEN"

mkdir -p "$WORK/events"
for step in createSecret setSecret testSecret finishSecret; do
  event="$WORK/events/$step.json"
  STEP="$step" SECRET_ARN="$SECRET_ARN" TOKEN="$TOKEN" python3 - "events/$step.json" "$event" <<'PY'
import json, os, sys

with open(sys.argv[1]) as f:
    event = json.load(f)
assert event["Step"] == os.environ["STEP"], event
event["SecretId"] = os.environ["SECRET_ARN"]
event["ClientRequestToken"] = os.environ["TOKEN"]
with open(sys.argv[2], "w") as f:
    json.dump(event, f, indent=2)
PY
  invoke_started=$(now_ms)
  if ! cargo lambda invoke rotate-postgres -A 127.0.0.1 -P "$LAMBDA_PORT" --data-file "$event" \
    >"$WORK/invoke.out" 2>&1; then
    cat "$WORK/invoke.out" >&2
    show_log "$WORK/watch.log" 40
    die "invoking $step failed"
  fi
  summary="$(python3 - "$WORK/invoke.out" 2>/dev/null <<'PY'
import json, sys

with open(sys.argv[1]) as f:
    report = json.load(f)
known = ("step", "secret_id", "token", "outcome", "elapsed_ms")
extra = {k: v for k, v in report.items() if k not in known}
print(f"{report['outcome']:<16} {report['elapsed_ms']:>4} ms {json.dumps(extra) if extra else ''}".rstrip())
PY
)" || summary="$(tr -d '\n' <"$WORK/invoke.out")"
  printf '    %-13s -> %s (invoke: %s ms)\n' "$step" "$summary" "$(($(now_ms) - invoke_started))"
done
stop_group "$WATCH_PID"
WATCH_PID=""

section "After rotation 1"
show_status
check_logins "$FIRST_PASSWORD"

# --- 6. rotation 2: the CLI ---------------------------------------------------------
section "Rotation 2: secret-rotor rotate (the CLI runs the same four steps)"
if ! "$CLI" --endpoint-url "$ENDPOINT" rotate --secret-id "$SECRET_ARN" >"$WORK/rotate.out" 2>&1; then
  cat "$WORK/rotate.out" >&2
  die "secret-rotor rotate failed"
fi
sed 's/^/    /' "$WORK/rotate.out"

section "After rotation 2"
show_status
check_logins "$CURRENT_PASSWORD"
