#!/usr/bin/env python3
"""Side by side: AWS's Python PostgreSQL single-user rotation template vs `rotate-postgres`.

One run, one Secrets Manager emulator (moto, behind one counting proxy), one PostgreSQL
server that enforces passwords; RUNS (default 5) interleaved rotations per contender
(python, rust, python, rust, ...), each in a fresh process, after WARMUP (default 1)
untimed rotation each. A benchmark: it prints figures and asserts nothing about speed,
but every rotation must really change the database password (a run that does not rotate
stops the benchmark: its figures would mean nothing).

    python3 scripts/side_by_side/run.py
    RUNS=10 AWS_TEMPLATE_DIR=/tmp/aws-template python3 scripts/side_by_side/run.py

Environment:
    RUNS                 timed rotations per contender (default 5)
    WARMUP               untimed rotations per contender first (default 1)
    AWS_TEMPLATE_DIR     holds the template's lambda_function.py (default /tmp/aws-template)
    ROTATE_POSTGRES_BIN  use this binary instead of building target/release/rotate-postgres
    PG_BINDIR            PostgreSQL's binaries (default /usr/lib/postgresql/15/bin)

Figures, per contender (median, min, max over the runs):
    - Secrets Manager calls per rotation by operation (`X-Amz-Target`), counted by the proxy;
    - init: Rust, process spawn -> its first GET /2018-06-01/runtime/invocation/next;
      Python, the import of the template module (and so boto3 and its driver) in a fresh
      interpreter; plus, for both, spawn -> ready to handle the first event;
    - the whole rotation in a fresh process (spawn -> finishSecret done) and each step;
    - peak RSS (VmHWM of the process just before it is stopped / exits).

See README.md beside this file.
"""

import atexit
import hashlib
import http.client
import http.server
import importlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import pwd
import queue
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CHILD_SCRIPT = HERE / "template_child.py"
MOTO_HARNESS = REPO / "crates" / "testkit" / "moto_harness.py"

RUNS = int(os.environ.get("RUNS", "5"))
WARMUP = int(os.environ.get("WARMUP", "1"))
TEMPLATE_DIR = Path(os.environ.get("AWS_TEMPLATE_DIR", "/tmp/aws-template"))
PG_BINDIR = Path(os.environ.get("PG_BINDIR", "/usr/lib/postgresql/15/bin"))

TEMPLATE_REPO = "https://github.com/aws-samples/aws-secrets-manager-rotation-lambdas"
TEMPLATE_PATH = "SecretsManagerRDSPostgreSQLRotationSingleUser/lambda_function.py"

REGION = "us-east-1"
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
INVOKE_TIMEOUT_S = 60  # one step of the Rust function (Lambda's timeout for it)
CHILD_TIMEOUT_S = 300  # one whole rotation of the Python template
FUNCTION_NAME = "side-by-side-rotate-postgres"

PY = "python-template"
RS = "rotate-postgres"
CONTENDERS = (PY, RS)
TITLES = {PY: "AWS template (Python)", RS: "rotate-postgres (Rust)"}

# Dummy credentials: moto accepts anything; nothing may look for real ones.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}


# --- plumbing --------------------------------------------------------------------------

_cleanups = []


def on_exit(fn, *args):
    """Registers a cleanup; they run in reverse order at exit (normal, error or SIGTERM)."""
    _cleanups.append((fn, args))


def _run_cleanups():
    while _cleanups:
        fn, args = _cleanups.pop()
        try:
            fn(*args)
        except Exception as exc:  # a cleanup must not hide the others
            print(f"side_by_side: cleanup {fn.__name__} failed: {exc}", file=sys.stderr)


atexit.register(_run_cleanups)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def fail(message):
    """Stops the benchmark with a message (the cleanups still run)."""
    print(f"side_by_side: FAILED: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def log(message):
    print(message, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def read_request_body(handler):
    """The body of a request to a BaseHTTPRequestHandler: Content-Length or chunked."""
    length = handler.headers.get("Content-Length")
    if length is not None:
        return handler.rfile.read(int(length))
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        chunks = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()  # the CRLF after each chunk
    return b""


def command_output(args, **kwargs):
    """A command's stdout (stripped), or None if it cannot run."""
    try:
        return subprocess.run(
            args, capture_output=True, text=True, check=True, timeout=60, **kwargs
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def vm_hwm_kib(pid):
    """VmHWM (peak resident set) of a running process, in KiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


# --- the template and its Python dependencies ----------------------------------------------

# The database drivers AWS's PostgreSQL templates have imported, and their PyPI packages.
DRIVERS = {
    "pgdb": "PyGreSQL",  # `import pg` / `import pgdb` (PyGreSQL, pinned by requirements.txt)
    "pg8000": "pg8000",
    "psycopg2": "psycopg2-binary",
}


def check_template():
    """The template's path and source; stops with where to get it when it is missing."""
    template = TEMPLATE_DIR / "lambda_function.py"
    if not template.is_file():
        fail(
            f"AWS's template is missing: {template} does not exist.\n"
            f"  Download {TEMPLATE_PATH} (and requirements.txt beside it) from\n"
            f"  {TEMPLATE_REPO}\n"
            f"  into {TEMPLATE_DIR}/ (or set AWS_TEMPLATE_DIR to the folder that holds it).\n"
            "  It is not part of this repository: do not commit it."
        )
    return template, template.read_text()


def template_driver(source):
    """(module to import, pip requirement) of the database driver the template imports."""
    imported = set(re.findall(r"^\s*(?:import|from)\s+(\w+)", source, re.M))
    if "pg" in imported or "pgdb" in imported:
        module = "pgdb"
    else:
        module = next((m for m in DRIVERS if m in imported), None)
        if module is None:
            fail(f"the template imports no known PostgreSQL driver ({sorted(imported)})")
    package = DRIVERS[module]
    # The version the template's requirements.txt pins, if it pins one.
    requirements = TEMPLATE_DIR / "requirements.txt"
    if requirements.is_file():
        pinned = re.search(
            rf"^\s*{re.escape(package)}\s*==\s*([\w.]+)", requirements.read_text(), re.M | re.I
        )
        if pinned:
            return module, f"{package}=={pinned.group(1)}"
    if package == "PyGreSQL":
        return module, "PyGreSQL==5.0.7"  # what AWS builds the template with (images.json)
    return module, package


def ensure_module(module, requirement):
    """Installs `requirement` with pip when `module` cannot be imported."""
    if importlib.util.find_spec(module) is not None:
        return
    log(f"side_by_side: installing {requirement} (for `import {module}`) with pip ...")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", requirement],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        hint = ""
        if requirement.startswith("PyGreSQL"):
            hint = " (PyGreSQL builds against libpq: apt-get install libpq-dev gcc)"
        fail(f"pip install {requirement} failed{hint}:\n{done.stdout}{done.stderr}")
    importlib.invalidate_caches()
    if importlib.util.find_spec(module) is None:
        fail(f"pip installed {requirement} but `import {module}` still fails")


def db_connect(driver, port, user, password):
    """A connection with the template's own driver (plain TCP, no TLS)."""
    if driver == "pgdb":
        import pgdb

        return pgdb.connect(
            host="127.0.0.1", port=port, user=user, password=password,
            database="postgres", sslmode="disable", connect_timeout=5,
        )
    if driver == "pg8000":
        import pg8000.dbapi

        return pg8000.dbapi.connect(
            host="127.0.0.1", port=port, user=user, password=password, database="postgres"
        )
    import psycopg2

    return psycopg2.connect(
        host="127.0.0.1", port=port, user=user, password=password,
        dbname="postgres", sslmode="disable", connect_timeout=5,
    )


def can_login(driver, port, user, password):
    try:
        conn = db_connect(driver, port, user, password)
    except Exception:
        return False
    try:
        cur = conn.cursor()
        cur.execute("SELECT 1")
        ok = cur.fetchone()[0] == 1
        cur.close()
        return ok
    finally:
        conn.close()


# --- the Rust binary -----------------------------------------------------------------------


def rust_binary():
    """The release `rotate-postgres`: ROTATE_POSTGRES_BIN, or built here with cargo."""
    given = os.environ.get("ROTATE_POSTGRES_BIN")
    if given:
        if not os.access(given, os.X_OK):
            fail(f"ROTATE_POSTGRES_BIN={given} is not an executable file")
        return Path(given)
    env = dict(os.environ)
    env["PATH"] = f"{Path.home() / '.cargo' / 'bin'}:{env.get('PATH', '')}"
    cmd = ["cargo", "build", "--release", "-p", "secret-rotor-postgres", "--bin", "rotate-postgres"]
    log(f"side_by_side: {' '.join(cmd)} (minutes on a cold target/) ...")
    started = time.monotonic()
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        fail(f"the release build failed (set ROTATE_POSTGRES_BIN to an already built "
             f"rotate-postgres to measure that one):\n{done.stderr[-6000:]}")
    log(f"side_by_side: build done in {time.monotonic() - started:.0f} s")
    return REPO / "target" / "release" / "rotate-postgres"


# --- PostgreSQL: a private cluster that enforces passwords ----------------------------------


class PgCluster:
    """initdb --auth=scram-sha-256 in a temp dir, postmaster on 127.0.0.1:<free port>.

    The machine's own PostgreSQL trusts every local login, so it cannot prove a password
    change. As root, the cluster runs as the `postgres` OS user (initdb refuses root), as
    crates/postgres/src/testing/cluster.rs does. No TLS (the secrets say "ssl": false).
    """

    SUPERUSER = "postgres"

    def __init__(self):
        for tool in ("initdb", "pg_ctl"):
            if not (PG_BINDIR / tool).exists():
                fail(f"{PG_BINDIR / tool} not found (set PG_BINDIR to PostgreSQL's bin dir)")
        self.as_root = os.geteuid() == 0
        self.owner = pwd.getpwnam("postgres") if self.as_root else None
        # /tmp, not $TMPDIR: `postgres` must be able to reach it.
        self.dir = Path(tempfile.mkdtemp(prefix="side-by-side-pg-", dir="/tmp"))
        on_exit(shutil.rmtree, self.dir, True)
        self.data = self.dir / "data"
        self.log_path = self.dir / "server.log"
        self.password = f"pw-{uuid.uuid4().hex}"
        self._chown(self.dir)

        pwfile = self.dir / "pwfile"
        pwfile.write_text(self.password + "\n")
        self._chown(pwfile)
        self._run(
            [PG_BINDIR / "initdb", "-D", self.data, "-U", self.SUPERUSER,
             "--auth=scram-sha-256", "-E", "UTF8", "--locale=C",
             f"--pwfile={pwfile}", "--no-sync", "--no-instructions"],
            "initdb",
        )
        pwfile.unlink()
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# side_by_side\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.dir}'\n"
                "password_encryption = 'scram-sha-256'\n"
                "ssl = off\n"
                "fsync = off\n"
                "synchronous_commit = off\n"
                "full_page_writes = off\n"
                "shared_buffers = '32MB'\n"
                "logging_collector = off\n"
            )
        # Passwords are always checked, on the socket and over TCP.
        (self.data / "pg_hba.conf").write_text(
            "local all all scram-sha-256\nhost all all 127.0.0.1/32 scram-sha-256\n"
        )
        on_exit(self._stop)
        self.port = free_port()
        self._run(
            [PG_BINDIR / "pg_ctl", "-D", self.data, "-l", self.log_path,
             "-w", "-t", "120", "-o", f"-p {self.port}", "start"],
            "pg_ctl start",
        )
        if not wait_for_port(self.port, 10):
            fail(f"PostgreSQL does not listen on {self.port}:\n{self.server_log()}")

    def _chown(self, path):
        if self.owner:
            os.chown(path, self.owner.pw_uid, self.owner.pw_gid)

    def _run(self, args, what, check=True):
        args = [str(a) for a in args]
        if self.as_root:
            args = ["runuser", "-u", "postgres", "--", *args]
        done = subprocess.run(args, cwd=self.dir, capture_output=True, text=True, timeout=180)
        if check and done.returncode != 0:
            fail(f"{what} failed ({done.returncode}):\n{done.stdout}{done.stderr}\n{self.server_log()}")
        return done

    def _stop(self):
        if (self.data / "postmaster.pid").exists():
            self._run([PG_BINDIR / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop"],
                      "pg_ctl stop", check=False)

    def server_log(self):
        try:
            return self.log_path.read_text()[-4000:]
        except OSError:
            return ""

    def admin(self, driver):
        return db_connect(driver, self.port, self.SUPERUSER, self.password)


# --- moto, with the project's harness --------------------------------------------------------


class Moto:
    """crates/testkit/moto_harness.py: moto's server plus `/_rotor/rotate`, which does what
    the real RotateSecret does before it invokes the function (enable rotation, stage an
    empty AWSPENDING version under the ClientRequestToken). moto's own RotateSecret would
    try to invoke a Lambda, or without one move AWSCURRENT at once. The harness exits when
    this process does (--parent-pid)."""

    def __init__(self, workdir):
        if not MOTO_HARNESS.is_file():
            fail(f"{MOTO_HARNESS} not found")
        stdout_path = workdir / "moto.out"
        self.log_path = workdir / "moto.err"
        with open(stdout_path, "w") as out, open(self.log_path, "w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, str(MOTO_HARNESS), "--port", "0", "--region", REGION,
                 "--parent-pid", str(os.getpid())],
                stdin=subprocess.DEVNULL, stdout=out, stderr=err,
            )
        on_exit(self._stop)
        deadline = time.monotonic() + 90
        while True:
            ready = [l for l in stdout_path.read_text().splitlines()
                     if l.startswith("MOTO_HARNESS_READY ")]
            if ready:
                self.endpoint = ready[0].split(" ", 1)[1].strip()
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                fail(f"moto did not start:\n{self.log_path.read_text()[-4000:]}")
            time.sleep(0.05)
        self.port = int(self.endpoint.rsplit(":", 1)[1])

    def _stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def client(self):
        """A boto3 client straight to moto (not through the counting proxy)."""
        import boto3

        return boto3.client(
            "secretsmanager", endpoint_url=self.endpoint, region_name=REGION,
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )

    def begin_rotation(self, secret_id):
        """Stages AWSPENDING under a new token (uuid4); returns (token, arn)."""
        token = str(uuid.uuid4())
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            body = json.dumps({"SecretId": secret_id, "ClientRequestToken": token})
            conn.request("POST", "/_rotor/rotate", body, {"Content-Type": "application/json"})
            resp = conn.getresponse()
            answer = json.loads(resp.read() or b"{}")
        finally:
            conn.close()
        if resp.status != 200:
            fail(f"starting a rotation of {secret_id} failed: {answer}")
        return answer["ClientRequestToken"], answer["ARN"]


# --- the counting proxy in front of moto --------------------------------------------------------

HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
    "trailer", "transfer-encoding", "upgrade", "content-length",
}


class CountingProxy:
    """Forwards every request to moto unchanged and counts Secrets Manager operations by
    their `X-Amz-Target` header (`secretsmanager.GetSecretValue` -> GetSecretValue).

    One proxy serves both contenders; the rotations run one at a time, so the calls made
    since the last `take()` are one rotation's."""

    def __init__(self, upstream_port):
        self.lock = threading.Lock()
        self.calls = Counter()
        self.upstream_port = upstream_port
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as with the real endpoint
            # TCP_NODELAY: headers and body are separate writes; with Nagle, the body
            # waits for the client's delayed ACK (~40 ms per call on loopback).
            disable_nagle_algorithm = True

            def do_POST(self):
                proxy.forward(self)

            do_GET = do_PUT = do_DELETE = do_HEAD = do_POST

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        on_exit(self.server.server_close)
        on_exit(self.server.shutdown)

    def forward(self, handler):
        body = read_request_body(handler)
        target = handler.headers.get("X-Amz-Target", "")
        if target.startswith("secretsmanager."):
            with self.lock:
                self.calls[target.split(".", 1)[1]] += 1
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP}
        # A new connection to moto per request: moto's server (werkzeug) writes headers and
        # body separately, and on a reused connection that costs a few ms more per call
        # (delayed ACKs); a loopback connect costs far less.
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=60)
        try:
            conn.request(handler.command, handler.path, body, headers)
            resp = conn.getresponse()
            data = resp.read()
        except (http.client.HTTPException, OSError) as exc:
            handler.send_error(502, f"moto unreachable: {exc}")
            return
        finally:
            conn.close()
        handler.send_response(resp.status, resp.reason)
        for key, value in resp.getheaders():
            if key.lower() not in HOP_BY_HOP and key.lower() not in ("server", "date"):
                handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(data)

    def take(self):
        """The calls counted since the last take(), by operation."""
        with self.lock:
            calls, self.calls = self.calls, Counter()
        return dict(calls)


# --- a minimal Lambda Runtime API for the Rust binary --------------------------------------------


class RuntimeApi:
    """The 2018-06-01 Runtime API endpoints that `lambda_runtime` uses (the headers are
    those of crates/testkit/src/runtime_api.rs): `invocation/next` (long poll),
    `invocation/{id}/response`, `invocation/{id}/error`, `init/error`."""

    PREFIX = "/2018-06-01/runtime"

    def __init__(self):
        self.events = queue.Queue()  # (request_id, event) or None to release a poll
        self.results = queue.Queue()  # (request_id, "ok" | "error" | "init-error", body, t)
        self.first_poll = None
        self.polled = threading.Event()
        self.function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:{FUNCTION_NAME}"
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # see CountingProxy

            def do_GET(self):
                if self.path != f"{api.PREFIX}/invocation/next":
                    return self._reply(404, b"{}")
                if api.first_poll is None:
                    api.first_poll = time.perf_counter()
                    api.polled.set()
                item = api.events.get()
                if item is None:
                    return self._reply(410, b'{"errorMessage":"shutting down"}')
                request_id, event = item
                deadline_ms = int(time.time() * 1000) + INVOKE_TIMEOUT_S * 1000
                trace = uuid.uuid4().hex
                self._reply(200, json.dumps(event).encode(), {
                    "Lambda-Runtime-Aws-Request-Id": request_id,
                    "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": api.function_arn,
                    "Lambda-Runtime-Trace-Id":
                        f"Root=1-{int(time.time()):08x}-{trace[:24]};Parent={trace[:16]};Sampled=0",
                })

            def do_POST(self):
                body = read_request_body(self)
                now = time.perf_counter()
                m = re.fullmatch(rf"{api.PREFIX}/invocation/([^/]+)/(response|error)", self.path)
                if m:
                    kind = "ok" if m.group(2) == "response" else "error"
                    api.results.put((m.group(1), kind, body, now))
                elif self.path == f"{api.PREFIX}/init/error":
                    api.results.put((None, "init-error", body, now))
                else:
                    return self._reply(404, b"{}")
                self._reply(202, b'{"status":"OK"}')

            def _reply(self, status, body, headers=None):
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the function was stopped while it polled

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def invoke(self, event, proc):
        """Hands `event` to the function; returns (kind, body, enqueued_at, answered_at)."""
        request_id = str(uuid.uuid4())
        enqueued = time.perf_counter()
        self.events.put((request_id, event))
        deadline = time.monotonic() + INVOKE_TIMEOUT_S
        while True:
            try:
                rid, kind, body, answered = self.results.get(timeout=0.1)
            except queue.Empty:
                if proc.poll() is not None:
                    return "exit", f"the process exited ({proc.returncode})".encode(), enqueued, None
                if time.monotonic() > deadline:
                    return "timeout", b"no answer in time", enqueued, None
                continue
            if rid in (request_id, None):
                return kind, body, enqueued, answered

    def close(self):
        for _ in range(4):
            self.events.put(None)  # releases pending polls
        self.server.shutdown()
        self.server.server_close()


# --- the contenders ------------------------------------------------------------------------


class Bench:
    def __init__(self):
        self.workdir = Path(tempfile.mkdtemp(prefix="side-by-side-"))
        on_exit(shutil.rmtree, self.workdir, True)

        self.template, source = check_template()
        self.driver, requirement = template_driver(source)
        ensure_module("boto3", "boto3")
        ensure_module(self.driver, requirement)
        self.driver_requirement = requirement
        self.binary = rust_binary()
        if not self.binary.is_file():
            fail(f"{self.binary} was not built")

        log("side_by_side: starting PostgreSQL, moto and the counting proxy ...")
        self.pg = PgCluster()
        self.moto = Moto(self.workdir)
        self.proxy = CountingProxy(self.moto.port)
        self.sm = self.moto.client()

        # One login role and one secret per contender.
        self.accounts = {}
        admin = self.pg.admin(self.driver)
        try:
            cur = admin.cursor()
            for contender, user in ((PY, "bench_py"), (RS, "bench_rs")):
                password = f"initial-{uuid.uuid4().hex}"
                cur.execute(f"CREATE ROLE {user} LOGIN PASSWORD %s", (password,))
                value = {
                    "engine": "postgres", "host": "127.0.0.1", "port": self.pg.port,
                    "username": user, "password": password, "dbname": "postgres",
                    "ssl": False,
                }
                arn = self.sm.create_secret(
                    Name=f"side-by-side/{contender}", SecretString=json.dumps(value)
                )["ARN"]
                self.accounts[contender] = {"user": user, "password": password, "arn": arn}
            cur.execute("SHOW server_version")
            self.server_version = cur.fetchone()[0]
            admin.commit()
            cur.close()
        finally:
            admin.close()
        for contender, account in self.accounts.items():
            if not can_login(self.driver, self.pg.port, account["user"], account["password"]):
                fail(f"the initial password of {account['user']} does not log in")

        self.py_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(TEMPLATE_DIR),
            "SECRETS_MANAGER_ENDPOINT": self.proxy.url,
            "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            **AWS_ENV,
        }

    # -- one rotation per contender ------------------------------------------------------

    def rotate_python(self):
        """A fresh interpreter imports the template and runs the four steps."""
        account = self.accounts[PY]
        token, arn = self.moto.begin_rotation(account["arn"])
        self.proxy.take()
        spawned = time.perf_counter()
        done = subprocess.run(
            [sys.executable, str(CHILD_SCRIPT),
             json.dumps({"SecretId": arn, "ClientRequestToken": token})],
            env=self.py_env, cwd=TEMPLATE_DIR, capture_output=True, text=True,
            timeout=CHILD_TIMEOUT_S,
        )
        calls = self.proxy.take()
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            fail(f"the template's process failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        out = json.loads(lines[-1])
        if out["error"]:
            fail(f"the template's rotation failed: {out['error']}\n{done.stderr[-4000:]}")
        figures = {
            "init_ms": (out["imported"] - out["started"]) * 1000,
            "ready_ms": (out["imported"] - spawned) * 1000,
            "whole_ms": (out["finished"] - spawned) * 1000,
            **{f"{s}_ms": out["steps_ms"][s] for s in STEPS},
            "peak_rss_mib": out["vm_hwm_kib"] / 1024,
        }
        self.check_rotated(PY, token)
        return figures, calls

    def rotate_rust(self):
        """A fresh `rotate-postgres` behind the Runtime API gets the four steps in order."""
        account = self.accounts[RS]
        token, arn = self.moto.begin_rotation(account["arn"])
        self.proxy.take()
        api = RuntimeApi()
        log_path = self.workdir / "rotate-postgres.log"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_LAMBDA_RUNTIME_API": api.address,
            "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{FUNCTION_NAME}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "side-by-side",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "AWS_LAMBDA_LOG_LEVEL": "WARN",
            "RUST_LOG": "warn",
            "LAMBDA_TASK_ROOT": str(self.binary.parent),
            "_HANDLER": "bootstrap",
            "TZ": ":UTC",
            "SECRETS_MANAGER_ENDPOINT": self.proxy.url,
            **AWS_ENV,
        }
        with open(log_path, "w") as log_file:
            spawned = time.perf_counter()
            proc = subprocess.Popen(
                [str(self.binary)], env=env, stdin=subprocess.DEVNULL,
                stdout=log_file, stderr=subprocess.STDOUT,
            )
        figures = {}
        try:
            while not api.polled.wait(0.05):
                if proc.poll() is not None or time.perf_counter() - spawned > INVOKE_TIMEOUT_S:
                    fail(f"rotate-postgres never polled for an event:\n{log_path.read_text()}")
            figures["init_ms"] = (api.first_poll - spawned) * 1000
            figures["ready_ms"] = figures["init_ms"]
            for step in STEPS:
                event = {"Step": step, "SecretId": arn, "ClientRequestToken": token}
                kind, body, enqueued, answered = api.invoke(event, proc)
                if kind != "ok":
                    fail(f"rotate-postgres {step}: {kind}: {body.decode(errors='replace')}\n"
                         f"{log_path.read_text()[-4000:]}")
                figures[f"{step}_ms"] = (answered - enqueued) * 1000
            figures["whole_ms"] = (answered - spawned) * 1000
            figures["peak_rss_mib"] = vm_hwm_kib(proc.pid) / 1024
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            api.close()
        calls = self.proxy.take()
        self.check_rotated(RS, token)
        return figures, calls

    def check_rotated(self, contender, token):
        """AWSCURRENT is the new version, its password logs in, the old one no longer does."""
        account = self.accounts[contender]
        # VersionStage explicitly: moto's UpdateSecretVersionStage does not move the
        # "default version" that a GetSecretValue without a stage returns.
        current = self.sm.get_secret_value(SecretId=account["arn"], VersionStage="AWSCURRENT")
        new_password = json.loads(current["SecretString"])["password"]
        old_password = account["password"]
        problems = []
        if current["VersionId"] != token:
            problems.append(f"AWSCURRENT is version {current['VersionId']}, not {token}")
        if new_password == old_password:
            problems.append("the password in AWSCURRENT did not change")
        if not can_login(self.driver, self.pg.port, account["user"], new_password):
            problems.append("the new AWSCURRENT password does not log in")
        if can_login(self.driver, self.pg.port, account["user"], old_password):
            problems.append("the previous password still logs in")
        if problems:
            fail(f"{contender} did not rotate: " + "; ".join(problems))
        account["password"] = new_password

    # -- the run ---------------------------------------------------------------------------

    def run(self):
        results = {c: [] for c in CONTENDERS}
        rotate = {PY: self.rotate_python, RS: self.rotate_rust}
        for i in range(WARMUP + RUNS):
            warmup = i < WARMUP
            label = f"warm-up {i + 1}/{WARMUP}" if warmup else f"run {i - WARMUP + 1}/{RUNS}"
            for contender in CONTENDERS:  # interleaved: python, rust, python, rust, ...
                figures, calls = rotate[contender]()
                log(f"side_by_side: {label} {contender}: whole {figures['whole_ms']:.1f} ms, "
                    f"init {figures['init_ms']:.1f} ms, {sum(calls.values())} calls, "
                    f"peak RSS {figures['peak_rss_mib']:.1f} MiB, rotated and verified")
                if not warmup:
                    results[contender].append((figures, calls))
        return results

    def machine_and_versions(self):
        cpu = "unknown"
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        mem_kib = None
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemTotal:"):
                    mem_kib = int(line.split()[1])
        machine = {
            "nproc": len(os.sched_getaffinity(0)),
            "cpu_count": os.cpu_count(),
            "cpu_model": cpu,
            "mem_gib": round(mem_kib / 1024 / 1024, 1) if mem_kib else None,
            "kernel": platform.release(),
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        }

        def dist(name):
            try:
                return importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                return None

        git = command_output(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
        dirty = command_output(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"])
        versions = {
            "python": platform.python_version(),
            "boto3": dist("boto3"),
            "botocore": dist("botocore"),
            "driver": f"{self.driver_requirement.split('==')[0]} {dist(self.driver_requirement.split('==')[0])}",
            "moto": dist("moto"),
            "postgresql_server": self.server_version,
            "rustc": command_output(["rustc", "--version"],
                                    env={**os.environ, "PATH": f"{Path.home()}/.cargo/bin:{os.environ.get('PATH', '')}"}),
            "secret_rotor_git": f"{git}{' (+ uncommitted changes)' if dirty else ''}" if git else None,
            "rotate_postgres_bytes": self.binary.stat().st_size,
            "template_sha256": hashlib.sha256(self.template.read_bytes()).hexdigest(),
        }
        return machine, versions


# --- the report ---------------------------------------------------------------------------------

FIGURES = [
    ("init_ms", "init (ms)"),
    ("ready_ms", "spawn -> ready for 1st event (ms)"),
    ("whole_ms", "whole rotation, fresh process (ms)"),
    ("createSecret_ms", "  createSecret (ms)"),
    ("setSecret_ms", "  setSecret (ms)"),
    ("testSecret_ms", "  testSecret (ms)"),
    ("finishSecret_ms", "  finishSecret (ms)"),
    ("peak_rss_mib", "peak RSS, VmHWM (MiB)"),
]


def summary(values):
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
        "values": [round(v, 3) for v in values],
    }


def cell(stats):
    if stats is None:
        return "-"
    return f"{stats['median']:.1f} [{stats['min']:.1f}-{stats['max']:.1f}]"


def calls_cell(counts):
    if len(set(counts)) == 1:
        return str(counts[0])
    return f"{statistics.median(counts):g} [{min(counts)}-{max(counts)}]"


def report(results, machine, versions):
    per = {}
    for contender, runs in results.items():
        figures = {}
        for key, _ in FIGURES:
            values = [f[key] for f, _ in runs if key in f]
            figures[key] = summary(values) if values else None
        operations = sorted({op for _, calls in runs for op in calls})
        calls = {op: [calls.get(op, 0) for _, calls in runs] for op in operations}
        calls["total"] = [sum(c.values()) for _, c in runs]
        per[contender] = {"figures": figures, "calls": calls}

    print()
    print("=== side by side: PostgreSQL single-user rotation ===")
    print(f"machine: {machine['nproc']} CPUs ({machine['cpu_model']}), {machine['mem_gib']} GiB, "
          f"Linux {machine['kernel']}, load average at start {machine['loadavg_at_start']}, "
          f"at end {machine['loadavg_at_end']}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print(f"runs: {RUNS} per contender, interleaved, each a fresh process and a new "
          f"ClientRequestToken, after {WARMUP} untimed warm-up rotation(s) each; every "
          "rotation verified (new AWSCURRENT logs in, old password refused)")
    print("cells: median [min-max]")
    print()
    width = 36
    head = f"{'figure':<{width}} {TITLES[PY]:>24} {TITLES[RS]:>24} {'python / rust':>14}"
    print(head)
    print("-" * len(head))
    for key, label in FIGURES:
        a, b = per[PY]["figures"][key], per[RS]["figures"][key]
        ratio = f"{a['median'] / b['median']:.1f}x" if a and b and b["median"] else "-"
        print(f"{label:<{width}} {cell(a):>24} {cell(b):>24} {ratio:>14}")
    print()
    print("Secrets Manager calls per rotation (counted at the proxy, by X-Amz-Target):")
    operations = sorted(({*per[PY]["calls"], *per[RS]["calls"]} - {"total"})) + ["total"]
    head = f"{'operation':<{width}} {TITLES[PY]:>24} {TITLES[RS]:>24}"
    print(head)
    print("-" * len(head))
    for op in operations:
        a = per[PY]["calls"].get(op, [0] * RUNS)
        b = per[RS]["calls"].get(op, [0] * RUNS)
        print(f"{op:<{width}} {calls_cell(a):>24} {calls_cell(b):>24}")
    print()
    print("notes: init = Rust: spawn -> first GET .../invocation/next; Python: import of the "
          "template module (boto3, PyGreSQL) in a fresh interpreter, interpreter start not "
          "included (it is in 'spawn -> ready' and 'whole'). Step times: Rust, event handed to "
          "the Runtime API -> response posted; Python, around lambda_handler(). whole = spawn "
          "-> finishSecret done. The Python template runs in-process (no Runtime API client) "
          "and builds a new boto3 client per step, as it does in Lambda.")
    print("SIDE_BY_SIDE_JSON " + json.dumps({
        "machine": machine,
        "versions": versions,
        "runs": RUNS,
        "warmup": WARMUP,
        "contenders": per,
    }, sort_keys=True))


def main():
    if time.get_clock_info("perf_counter").implementation != "clock_gettime(CLOCK_MONOTONIC)":
        fail("perf_counter is not CLOCK_MONOTONIC here: the child's timestamps would not compare")
    if RUNS < 1:
        fail("RUNS must be at least 1")
    bench = Bench()
    machine, versions = bench.machine_and_versions()
    if machine["loadavg_at_start"][0] > 0.5:
        log(f"side_by_side: warning: load average {machine['loadavg_at_start']}: another "
            "process is busy, the figures will show it")
    results = bench.run()
    machine["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    report(results, machine, versions)


if __name__ == "__main__":
    main()
