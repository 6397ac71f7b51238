#!/usr/bin/env bash
# Set up a Debian 12 (bookworm) machine to build and test secret-rotor: PostgreSQL and
# MariaDB (whose tests run private servers), RabbitMQ with its management API and
# Verdaccio (the HTTP target's real APIs), Python with moto, cfn-lint and cargo-lambda.
#
# Idempotent and non-interactive: installs only what is missing (apt-get update
# only when some apt package is missing), starts the machine's PostgreSQL
# cluster(s) and RabbitMQ if they are down, and prints the tool versions. On a machine that
# already has everything it changes nothing and takes a few seconds.
#
# Runs as root, or as a user with sudo (used for apt-get and pg_ctlcluster only).
# Rust itself is NOT installed: the script stops with instructions if cargo is missing.
set -euo pipefail

log() { printf '[setup] %s\n' "$*"; }
warn() { printf '[setup] WARNING: %s\n' "$*" >&2; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

if [ -z "${HOME:-}" ]; then
  HOME="$(getent passwd "$(id -u)" | cut -d: -f6)"
  export HOME
fi
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
changed=()

# Run a command as root: directly when root, else through sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif have sudo; then
    sudo "$@"
  else
    die "need root (or sudo) to run: $*"
  fi
}

# Tools installed by rustup or `pip install --user` live here; a login shell
# may not have them on PATH yet.
case ":$PATH:" in *":$HOME/.cargo/bin:"*) ;; *) [ -d "$HOME/.cargo/bin" ] && PATH="$HOME/.cargo/bin:$PATH" ;; esac
case ":$PATH:" in *":$HOME/.local/bin:"*) ;; *) PATH="$PATH:$HOME/.local/bin" ;; esac
export PATH

# --- Rust (required, not installed by this script) -------------------------
if ! have cargo; then
  cat >&2 <<'EOF'
[setup] ERROR: cargo (Rust) is not installed.
Install it with rustup (https://rustup.rs), for example:
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs \
      | sh -s -- -y --profile minimal --component rustfmt,clippy
    . "$HOME/.cargo/env"
then run scripts/setup.sh again.
EOF
  exit 1
fi
if ! cargo --version >/dev/null 2>&1; then
  # e.g. rustup's proxy is there but no default toolchain is set
  cargo --version >&2 || true
  die "cargo is on PATH but does not run (with rustup: rustup default stable)"
fi

# Warn early if the toolchain is older than the workspace's rust-version (MSRV).
msrv="$(sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' "$REPO_ROOT/Cargo.toml" 2>/dev/null | head -n 1 || true)"
rustc_ver="$(rustc --version 2>/dev/null | awk '{print $2}' || true)"
if [ -n "$msrv" ] && [ -n "$rustc_ver" ] &&
  [ "$(printf '%s\n%s\n' "$msrv" "${rustc_ver%%-*}" | sort -V | head -n 1)" != "$msrv" ]; then
  warn "rustc $rustc_ver is older than the workspace's rust-version $msrv (try: rustup update stable)"
fi

missing_components=()
cargo fmt --version >/dev/null 2>&1 || missing_components+=(rustfmt)
cargo clippy --version >/dev/null 2>&1 || missing_components+=(clippy)
if [ "${#missing_components[@]}" -gt 0 ]; then
  if have rustup; then
    log "rustup component add ${missing_components[*]}"
    if rustup component add "${missing_components[@]}"; then
      changed+=("rust components: ${missing_components[*]}")
    else
      warn "could not add ${missing_components[*]} (offline?); cargo fmt/clippy checks will not run"
    fi
  else
    warn "${missing_components[*]} missing and no rustup to add them (install them with your Rust distribution)"
  fi
fi

# --- Debian packages ------------------------------------------------------
pkg_installed() { [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == *"ok installed" ]]; }

apt_missing=()
if ! have pg_ctlcluster || ! have psql || ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  apt_missing+=(postgresql postgresql-client) # Debian 12: PostgreSQL 15 server + client
fi
# MariaDB: the MySQL target's tests start private servers (mariadb-install-db + mariadbd).
if ! { have mariadbd || [ -x /usr/sbin/mariadbd ]; } || ! have mariadb-install-db; then
  apt_missing+=(mariadb-server) # Debian 12: MariaDB 10.11
fi
# RabbitMQ: the HTTP target's tests rotate users through its management API.
{ have rabbitmqctl || [ -x /usr/sbin/rabbitmqctl ]; } || apt_missing+=(rabbitmq-server)
# Node.js: Verdaccio (a real npm registry issuing tokens) runs from crates/http/tests/verdaccio.
{ have node && have npm; } || apt_missing+=(nodejs npm)
{ have redis-server || [ -x /usr/bin/redis-server ]; } || apt_missing+=(redis-server) # Redis 7.0: the worked example's tests start their own
have python3 || apt_missing+=(python3)
if ! have python3 || ! python3 -m pip --version >/dev/null 2>&1; then
  apt_missing+=(python3-pip)
fi
pkg_installed ca-certificates || apt_missing+=(ca-certificates)
have openssl || apt_missing+=(openssl) # scripts/demo.sh makes its test CA with it
{ have cc && have gcc && have make; } || apt_missing+=(build-essential)
have curl || apt_missing+=(curl)
{ have ps && have pgrep; } || apt_missing+=(procps)
{ have ip && have ss; } || apt_missing+=(iproute2)

if [ "${#apt_missing[@]}" -gt 0 ]; then
  log "installing Debian packages: ${apt_missing[*]}"
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    -o DPkg::Lock::Timeout=300 "${apt_missing[@]}"
  hash -r
  changed+=("apt: ${apt_missing[*]}")
fi
have python3 || die "python3 is still missing after apt-get install"
python3 -m pip --version >/dev/null 2>&1 ||
  die "no pip for $(command -v python3) (python3-pip installs pip for /usr/bin/python3 only)"

# --- Python tools (moto, cfn-lint, cargo-lambda) --------------------------
# Debian's own python3 is "externally managed" (PEP 668) and pip refuses to
# install into it; only then retry with --break-system-packages. As root, pip
# puts the commands in /usr/local/bin; as a user, in ~/.local/bin (on PATH above).
pip_install() {
  local out status
  out="$(mktemp)"
  set +e
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install --disable-pip-version-check --no-input "$@" 2>&1 | tee "$out"
  status=$?
  set -e
  if [ "$status" -ne 0 ] && grep -q 'externally-managed-environment' "$out"; then
    log "python3 is externally managed: retrying with --break-system-packages"
    status=0
    PIP_ROOT_USER_ACTION=ignore python3 -m pip install --disable-pip-version-check --no-input \
      --break-system-packages "$@" || status=$?
  fi
  rm -f "$out"
  return "$status"
}

pip_missing=()
if ! python3 -c 'import moto, werkzeug' >/dev/null 2>&1 || ! have moto_server; then
  pip_missing+=('moto[server]>=5.1,<6')
fi
have cfn-lint || pip_missing+=('cfn-lint>=1.30,<2')
have cargo-lambda || pip_missing+=('cargo-lambda>=1.8,<2') # pulls ziglang (cross-linker)

if [ "${#pip_missing[@]}" -gt 0 ]; then
  log "pip installing: ${pip_missing[*]}"
  pip_install "${pip_missing[@]}"
  if have pyenv; then pyenv rehash; fi # make pyenv shims for the new commands
  hash -r
  changed+=("pip: ${pip_missing[*]}")
fi
for cmd in moto_server cfn-lint cargo-lambda; do
  have "$cmd" || die "$cmd was installed but is not on PATH (pip's script directory: $(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'))"
done
python3 -c 'import moto, werkzeug' || die "python3 cannot import moto after installing it"

# --- Services: the machine's PostgreSQL cluster(s) ------------------------
# Tests mostly run private clusters, but leave the machine's own one running.
if have pg_lsclusters; then
  clusters=0
  while read -r -u 3 ver name port status _; do
    [ -n "${ver:-}" ] || continue
    clusters=$((clusters + 1))
    case "$status" in
      online*) ;;
      *)
        log "starting PostgreSQL cluster $ver/$name (port $port, was $status)"
        if as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start; then
          changed+=("started PostgreSQL $ver/$name")
        else
          warn "could not start PostgreSQL cluster $ver/$name (see /var/log/postgresql/)"
        fi
        ;;
    esac
  done 3< <(pg_lsclusters --no-header 2>/dev/null || true)
  [ "$clusters" -gt 0 ] || log "no PostgreSQL cluster on this machine (fine: tests start private ones)"
fi

# --- Services: RabbitMQ with the management plugin -------------------------
# The broker of this machine (its tests create their own users and vhosts).
PATH="$PATH:/usr/sbin"
if ! as_root rabbitmqctl -q status >/dev/null 2>&1; then
  log "starting RabbitMQ"
  as_root sh -c 'rabbitmq-server -detached >/dev/null 2>&1' || true
  as_root rabbitmqctl -q wait --timeout 120 /var/lib/rabbitmq/mnesia/rabbit@"$(hostname -s)".pid >/dev/null 2>&1 ||
    as_root rabbitmqctl -q await_startup --timeout 120 >/dev/null 2>&1 ||
    die "RabbitMQ did not start (see /var/log/rabbitmq/)"
  changed+=("started RabbitMQ")
fi
if ! as_root rabbitmq-plugins list -e -q 2>/dev/null | grep -q 'rabbitmq_management\b'; then
  log "enabling rabbitmq_management"
  as_root rabbitmq-plugins enable -q rabbitmq_management >/dev/null
  changed+=("enabled rabbitmq_management")
fi
for _ in $(seq 60); do
  curl -fsS -o /dev/null -u guest:guest http://127.0.0.1:15672/api/overview 2>/dev/null && break
  sleep 1
done
curl -fsS -o /dev/null -u guest:guest http://127.0.0.1:15672/api/overview ||
  die "RabbitMQ's management API does not answer on http://127.0.0.1:15672"

# --- Verdaccio (npm) for the HTTP target's token-issuing tests -----------------
verdaccio_dir="$REPO_ROOT/crates/http/tests/verdaccio"
if [ ! -x "$verdaccio_dir/node_modules/.bin/verdaccio" ] ||
  ! cmp -s "$verdaccio_dir/package-lock.json" "$verdaccio_dir/node_modules/.installed-from-lock"; then
  log "npm ci in crates/http/tests/verdaccio"
  (cd "$verdaccio_dir" && npm ci --no-audit --no-fund --loglevel=error &&
    cp package-lock.json node_modules/.installed-from-lock)
  changed+=("npm: verdaccio")
fi

# --- Summary ----------------------------------------------------------------
first_line() { "$@" 2>&1 | head -n 1 || true; }
pg_bin="$(compgen -G '/usr/lib/postgresql/*/bin/postgres' | sort -V | tail -n 1 || true)"
echo "---- secret-rotor toolchain ----"
echo "cargo:        $(first_line cargo --version)"
echo "rustc:        $(first_line rustc --version)"
echo "rustfmt:      $(first_line cargo fmt --version)"
echo "clippy:       $(first_line cargo clippy --version)"
echo "python3:      $(first_line python3 --version) ($(command -v python3))"
echo "redis:        $(first_line redis-server --version)"
echo "moto:         $(first_line python3 -c 'import moto; print(moto.__version__)')"
echo "cfn-lint:     $(first_line cfn-lint --version)"
echo "cargo-lambda: $(first_line cargo lambda --version)"
mariadbd_bin="$(command -v mariadbd || echo /usr/sbin/mariadbd)"
echo "mariadb:      $(first_line "$mariadbd_bin" --version)"
echo "rabbitmq:     $(as_root rabbitmqctl -q version 2>/dev/null || echo '?')"
echo "node:         $(first_line node --version)"
echo "verdaccio:    $(first_line "$verdaccio_dir/node_modules/.bin/verdaccio" --version)"
if [ -n "$pg_bin" ]; then
  echo "postgres:     $(first_line "$pg_bin" --version)"
else
  echo "postgres:     (no server binary found)"
fi
if have pg_lsclusters; then
  pg_lsclusters --no-header 2>/dev/null | awk '{printf "  cluster %s/%s port %s: %s\n", $1, $2, $3, $4}' || true
fi
if [ "${#changed[@]}" -eq 0 ]; then
  echo "setup: nothing to change"
else
  printf 'setup: changed: %s\n' "${changed[@]}"
fi
