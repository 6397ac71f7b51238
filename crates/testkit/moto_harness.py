#!/usr/bin/env python3
"""moto's Secrets Manager server, plus the parts of the real service that moto lacks.

Usage:
    python3 crates/testkit/moto_harness.py --port PORT [--parent-pid PID] [--host 127.0.0.1]

``--port 0`` picks a free port. Once listening, prints one line on stdout:

    MOTO_HARNESS_READY http://127.0.0.1:PORT

Every request is passed to moto's WSGI application unchanged, except the control
endpoints under ``/_rotor/`` (JSON in, JSON out; errors are ``{"error": "..."}``):

- ``POST /_rotor/rotate`` ``{"SecretId", "ClientRequestToken"?}``: what RotateSecret does
  before it invokes the rotation function. Refused (400) while another rotation is in
  progress (AWSPENDING on a version that is not AWSCURRENT and is not the given token);
  otherwise marks rotation as enabled and, unless the token's version exists, stages an
  empty AWSPENDING version under the token (moto's own RotateSecret without a Lambda moves
  AWSCURRENT at once instead). Returns ``{"ClientRequestToken", "ARN", "Name"}``.
- ``POST /_rotor/rotation-enabled`` ``{"SecretId", "Enabled": true|false|null}``
  (null: RotationEnabled is absent from DescribeSecret).
- ``GET /_rotor/calls?SecretId=X``: ``{"<Operation>": count}`` of Secrets Manager API calls
  whose JSON body had ``"SecretId": X`` (the raw value: a name and an ARN count apart).
  Without ``SecretId``: ``{"<SecretId>": {"<Operation>": count}}`` for all.
- ``POST /_rotor/calls/reset``: forgets all counts.
- ``POST /_rotor/put-raw`` ``{"SecretId", "VersionId", "SecretString": str|null,
  "VersionStages": [..]}``: writes a version directly (its labels are removed from the
  other versions), for tests that need odd states.
- ``GET /_rotor/secret?SecretId=X``: moto's raw view of a secret (versions, labels, whether
  each version has a value, rotation flags), for debugging.
- ``POST /_rotor/rds-endpoint`` ``{"DBInstanceIdentifier" | "DBClusterIdentifier": id or
  ARN, "Address": host|null, "Port": int?, "ReaderAddress": host|null?}``: where moto's RDS
  says a DB instance (``Endpoint.Address``/``Port``) or cluster (``Endpoint``,
  ``ReaderEndpoint``, ``Port``) is, so that DescribeDBInstances / DescribeDBClusters can
  point at a local database (moto computes ``{id}.aaaaaaaaaa.{region}.rds.amazonaws.com``).
  ``null`` restores moto's own name; an absent ``Port``/``ReaderAddress`` is left as is.
  Returns what DescribeDB* will then report (identifier, ARN, engine, addresses, port).

moto's CreateSecret / TagResource accept tags whose keys start with ``aws:`` (the real
service reserves them), so RDS-managed master secrets (``aws:rds:primaryDBInstanceArn``,
``aws:secretsmanager:owningService=rds``) are created through the ordinary API.

Every body may carry ``"Region"`` (default: ``--region``, us-east-1); the account is moto's
default (123456789012 unless MOTO_ACCOUNT_ID says otherwise).

The process exits when ``--parent-pid`` is gone (polled twice a second).
"""

import argparse
import io
import json
import os
import sys
import threading
import time
import uuid
from urllib.parse import parse_qs

try:
    from moto.backends import get_backend
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        create_backend_app,
    )
    from werkzeug.serving import WSGIRequestHandler, make_server
except ImportError as exc:  # pragma: no cover - depends on the machine
    sys.stderr.write(
        f"moto_harness: cannot import moto ({exc}); install it with: pip install 'moto[server]'\n"
    )
    sys.exit(3)


def patch_rds_endpoints():
    """Lets an override stored on moto's RDS objects win over the endpoints moto computes.

    ``DBInstance.address`` (also used by ``Endpoint``) reads ``_rotor_address``;
    ``DBCluster.endpoint`` / ``reader_endpoint`` read ``_rotor_endpoint`` /
    ``_rotor_reader_endpoint``. A read replica starts as a copy of its source: it must not
    inherit the source's address override.
    """
    from moto.rds import models as rds_models

    def overridable(original, attribute):
        def getter(self):
            override = self.__dict__.get(attribute)
            return override if override else original.fget(self)

        return property(getter, doc=original.__doc__)

    rds_models.DBInstance.address = overridable(
        rds_models.DBInstance.address, "_rotor_address"
    )
    rds_models.DBCluster.endpoint = overridable(
        rds_models.DBCluster.endpoint, "_rotor_endpoint"
    )
    rds_models.DBCluster.reader_endpoint = overridable(
        rds_models.DBCluster.reader_endpoint, "_rotor_reader_endpoint"
    )

    create_replica = rds_models.RDSBackend.create_db_instance_read_replica

    def create_db_instance_read_replica(self, db_kwargs):
        replica = create_replica(self, db_kwargs)
        replica.__dict__.pop("_rotor_address", None)
        return replica

    rds_models.RDSBackend.create_db_instance_read_replica = create_db_instance_read_replica


try:
    patch_rds_endpoints()
except (ImportError, AttributeError) as exc:  # pragma: no cover - depends on moto's version
    sys.stderr.write(
        f"moto_harness: cannot patch moto's RDS endpoints ({exc}); "
        "/_rotor/rds-endpoint will not work with this moto version\n"
    )

PREVIOUS_ROTATION_NOT_COMPLETE = (
    "A previous rotation isn't complete. That rotation will be reattempted."
)


class HarnessError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class RotorMiddleware:
    """WSGI middleware: control endpoints under /_rotor/, call counting, moto for the rest."""

    def __init__(self, app, region):
        self.app = app
        self.region = region
        self.lock = threading.Lock()
        self.calls = {}  # SecretId -> {Operation -> count}

    # -- plumbing ---------------------------------------------------------------------

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_rotor/"):
            return self.control(environ, start_response, path)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith("secretsmanager."):
            self.count(environ, target.split(".", 1)[1])
        return self.app(environ, start_response)

    @staticmethod
    def read_body(environ):
        stream = environ.get("wsgi.input")
        if stream is None:
            return b""
        length = environ.get("CONTENT_LENGTH") or ""
        if length.strip().isdigit():
            return stream.read(int(length))
        if environ.get("wsgi.input_terminated"):
            return stream.read()
        return b""

    def count(self, environ, operation):
        body = self.read_body(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        try:
            secret_id = json.loads(body or b"{}").get("SecretId")
        except (ValueError, AttributeError):
            secret_id = None
        if isinstance(secret_id, str):
            with self.lock:
                ops = self.calls.setdefault(secret_id, {})
                ops[operation] = ops.get(operation, 0) + 1

    def control(self, environ, start_response, path):
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            if method == "GET":
                query = parse_qs(environ.get("QUERY_STRING", ""))
                body = {k: v[-1] for k, v in query.items()}
            else:
                raw = self.read_body(environ)
                body = json.loads(raw) if raw.strip() else {}
                if not isinstance(body, dict):
                    raise HarnessError(400, "the body must be a JSON object")
            handler = {
                ("POST", "/_rotor/rotate"): self.rotate,
                ("POST", "/_rotor/rotation-enabled"): self.rotation_enabled,
                ("GET", "/_rotor/calls"): self.get_calls,
                ("POST", "/_rotor/calls/reset"): self.reset_calls,
                ("POST", "/_rotor/put-raw"): self.put_raw,
                ("GET", "/_rotor/secret"): self.describe_raw,
                ("POST", "/_rotor/rds-endpoint"): self.rds_endpoint,
                ("GET", "/_rotor/health"): lambda _body: {"ok": True},
            }.get((method, path))
            if handler is None:
                raise HarnessError(404, f"no control endpoint {method} {path}")
            status, result = 200, handler(body)
        except HarnessError as exc:
            status, result = exc.status, {"error": exc.message}
        except ValueError as exc:
            status, result = 400, {"error": f"invalid JSON: {exc}"}
        except Exception as exc:  # report, do not kill the server
            status, result = 500, {"error": f"{type(exc).__name__}: {exc}"}
        payload = json.dumps(result).encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}.get(status, "Error")
        start_response(
            f"{status} {reason}",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(payload))),
            ],
        )
        return [payload]

    def secret(self, body):
        secret_id = body.get("SecretId")
        if not isinstance(secret_id, str) or not secret_id:
            raise HarnessError(400, "SecretId (a name or an ARN) is required")
        region = body.get("Region") or self.region
        backend = get_backend("secretsmanager")[DEFAULT_ACCOUNT_ID][region]
        if secret_id not in backend.secrets:
            raise HarnessError(
                404, f"Secrets Manager can't find the specified secret: {secret_id}"
            )
        return backend.secrets[secret_id]

    # -- control endpoints ------------------------------------------------------------

    def rotate(self, body):
        token = body.get("ClientRequestToken") or str(uuid.uuid4())
        if not isinstance(token, str) or not 32 <= len(token) <= 64:
            raise HarnessError(400, "ClientRequestToken must be 32-64 characters long.")
        with self.lock:
            secret = self.secret(body)
            if secret.is_deleted():
                raise HarnessError(
                    400,
                    "You can't perform this operation on the secret because it was marked for deletion.",
                )
            for version_id, version in secret.versions.items():
                stages = version["version_stages"]
                if (
                    "AWSPENDING" in stages
                    and "AWSCURRENT" not in stages
                    and version_id != token
                ):
                    raise HarnessError(400, PREVIOUS_ROTATION_NOT_COMPLETE)
            secret.rotation_requested = True
            secret.rotation_enabled = True
            if not secret.rotation_lambda_arn:
                secret.rotation_lambda_arn = (
                    f"arn:aws:lambda:{secret.region}:{DEFAULT_ACCOUNT_ID}"
                    ":function:secret-rotor-test"
                )
            if token not in secret.versions:
                for version in secret.versions.values():
                    if "AWSPENDING" in version["version_stages"]:
                        version["version_stages"].remove("AWSPENDING")
                secret.versions[token] = {
                    "version_id": token,
                    "version_stages": ["AWSPENDING"],
                    "createdate": int(time.time()),
                }
            return {"ClientRequestToken": token, "ARN": secret.arn, "Name": secret.name}

    def rotation_enabled(self, body):
        if "Enabled" not in body:
            raise HarnessError(400, "Enabled (true, false or null) is required")
        enabled = body["Enabled"]
        if enabled not in (True, False, None):
            raise HarnessError(400, "Enabled must be true, false or null")
        with self.lock:
            secret = self.secret(body)
            secret.rotation_requested = enabled is not None
            secret.rotation_enabled = bool(enabled)
            return {"ARN": secret.arn, "Name": secret.name, "Enabled": enabled}

    def get_calls(self, body):
        secret_id = body.get("SecretId")
        with self.lock:
            if secret_id is None:
                return {k: dict(v) for k, v in self.calls.items()}
            return dict(self.calls.get(secret_id, {}))

    def reset_calls(self, _body):
        with self.lock:
            self.calls.clear()
        return {}

    def put_raw(self, body):
        version_id = body.get("VersionId")
        if not isinstance(version_id, str) or not version_id:
            raise HarnessError(400, "VersionId is required")
        stages = body.get("VersionStages") or []
        if not isinstance(stages, list) or not all(isinstance(s, str) for s in stages):
            raise HarnessError(400, "VersionStages must be a list of strings")
        secret_string = body.get("SecretString")
        if secret_string is not None and not isinstance(secret_string, str):
            raise HarnessError(400, "SecretString must be a string or null")
        with self.lock:
            secret = self.secret(body)
            for other_id, other in secret.versions.items():
                if other_id != version_id:
                    other["version_stages"] = [
                        s for s in other["version_stages"] if s not in stages
                    ]
            version = {
                "version_id": version_id,
                "version_stages": list(dict.fromkeys(stages)),
                "createdate": int(time.time()),
            }
            if secret_string is not None:
                version["secret_string"] = secret_string
            secret.versions[version_id] = version
            if "AWSCURRENT" in stages:
                secret.default_version_id = version_id
            return {"ARN": secret.arn, "Name": secret.name, "VersionId": version_id}

    def describe_raw(self, body):
        with self.lock:
            secret = self.secret(body)
            return {
                "ARN": secret.arn,
                "Name": secret.name,
                "RotationRequested": secret.rotation_requested,
                "RotationEnabled": secret.rotation_enabled,
                "DefaultVersionId": secret.default_version_id,
                "Versions": {
                    version_id: {
                        "VersionStages": list(version["version_stages"]),
                        "HasValue": "secret_string" in version
                        or "secret_binary" in version,
                    }
                    for version_id, version in secret.versions.items()
                },
            }

    def rds_endpoint(self, body):
        instance_id = body.get("DBInstanceIdentifier")
        cluster_id = body.get("DBClusterIdentifier")
        if (instance_id is None) == (cluster_id is None):
            raise HarnessError(
                400, "exactly one of DBInstanceIdentifier and DBClusterIdentifier is required"
            )
        wanted = instance_id if cluster_id is None else cluster_id
        if not isinstance(wanted, str) or not wanted:
            raise HarnessError(400, "the identifier must be a non-empty string (an id or an ARN)")
        if "Address" not in body:
            raise HarnessError(400, "Address (a host name, or null for moto's own) is required")
        address = body["Address"]
        port = body.get("Port")
        reader = body.get("ReaderAddress")
        for key, value in (("Address", address), ("ReaderAddress", reader)):
            if value is not None and (not isinstance(value, str) or not value):
                raise HarnessError(400, f"{key} must be a non-empty string or null")
        if port is not None and (
            isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535
        ):
            raise HarnessError(400, "Port must be an integer from 1 to 65535")
        if instance_id is not None and "ReaderAddress" in body:
            raise HarnessError(400, "ReaderAddress is for DB clusters only")
        region = body.get("Region") or self.region
        backend = get_backend("rds")[DEFAULT_ACCOUNT_ID][region]
        with self.lock:
            if cluster_id is None:
                db = self.find_rds(backend.databases, wanted, "db_instance_arn", "DBInstance")
                db.__dict__["_rotor_address"] = address
                if port is not None:
                    db.port = port
                return {
                    "DBInstanceIdentifier": db.db_instance_identifier,
                    "DBInstanceArn": db.db_instance_arn,
                    "Engine": db.engine,
                    "Address": db.address,
                    "Port": db.port,
                    "DBClusterIdentifier": db.db_cluster_identifier,
                    "ReadReplicaSourceDBInstanceIdentifier": db.source_db_instance_identifier,
                }
            cluster = self.find_rds(backend.clusters, wanted, "db_cluster_arn", "DBCluster")
            cluster.__dict__["_rotor_endpoint"] = address
            if "ReaderAddress" in body:
                cluster.__dict__["_rotor_reader_endpoint"] = reader
            if port is not None:
                cluster.port = port
            return {
                "DBClusterIdentifier": cluster.db_cluster_identifier,
                "DBClusterArn": cluster.db_cluster_arn,
                "Engine": cluster.engine,
                "Endpoint": cluster.endpoint,
                "ReaderEndpoint": cluster.reader_endpoint,
                "Port": cluster.port,
            }

    @staticmethod
    def find_rds(resources, wanted, arn_attribute, kind):
        """An RDS instance or cluster by identifier (case-insensitive, as RDS) or ARN."""
        if wanted in resources:
            return resources[wanted]
        for key, resource in resources.items():
            if key.lower() == wanted.lower() or getattr(resource, arn_attribute, None) == wanted:
                return resource
        raise HarnessError(404, f"{kind} {wanted} not found.")


class QuietHandler(WSGIRequestHandler):
    """Does not log every request (errors are still logged)."""

    def log_request(self, *args, **kwargs):
        pass


def watch_parent(pid):
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:
            pass  # alive, owned by someone else
        time.sleep(0.5)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--parent-pid", type=int, help="exit when this process is gone")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args()

    if args.parent_pid:
        threading.Thread(target=watch_parent, args=(args.parent_pid,), daemon=True).start()

    app = RotorMiddleware(DomainDispatcherApplication(create_backend_app), args.region)
    server = make_server(
        args.host,
        args.port,
        app,
        threaded=True,
        request_handler=None if args.verbose else QuietHandler,
    )
    print(f"MOTO_HARNESS_READY http://{args.host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
