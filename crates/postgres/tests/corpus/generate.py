#!/usr/bin/env python3
"""Writes the hostile corpus: one JSON file per case in cases/ (run it from anywhere).

Each case: {"kind": "event" | "secret" | "env", "about": "...", "input": ..., "expect": CODE}
- event: the invocation payload; "$ARN", "$TOKEN", "$OTHER_ARN" are filled in by the test.
- secret: the secret's SecretString (any text); "$HOST", "$PORT", "$USER", "$PASSWORD"
  name the test's real account. The rotation runs step by step; the first error's code
  must be `expect`.
- env: extra environment variables of the function; every invocation must fail with
  `expect` (a misconfiguration is an error, never a crash and never a default).

tests/it/corpus.rs runs every case through the real rotate-postgres binary and checks
that nothing changed in Secrets Manager or on the server.
"""
import json
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "cases")
cases = []


def case(kind, about, input, expect):
    cases.append({"kind": kind, "about": about, "input": input, "expect": expect})


STEPS = ["createSecret", "setSecret", "testSecret", "finishSecret"]
good = {"Step": "createSecret", "SecretId": "$ARN", "ClientRequestToken": "$TOKEN"}

# ---- events ---------------------------------------------------------------------------
for value, about in [
    (None, "null payload"), ([], "an array"), ("createSecret", "a string"), (42, "a number"),
    (True, "a boolean"), ({}, "an empty object"),
]:
    case("event", about, value, "InvalidEvent")
for key in ["Step", "SecretId", "ClientRequestToken"]:
    e = dict(good)
    del e[key]
    case("event", f"missing {key}", e, "InvalidEvent")
    for bad, what in [(None, "null"), (7, "a number"), ([], "an array"), ({}, "an object"),
                      (True, "a boolean"), ("", "empty")]:
        e = dict(good)
        e[key] = bad
        case("event", f"{key} is {what}", e, "InvalidEvent")
for step in ["rotateSecret", "CreateSecret", "createsecret", "create_secret", " createSecret",
             "createSecret ", "finishSecret\u0000", "setSecret;DROP", "ｃｒｅａｔｅSecret",
             "testSecret\n", "x" * 10000, "../../etc/passwd", "${jndi:ldap://x}"]:
    e = dict(good)
    e["Step"] = step
    case("event", f"unknown step {step[:40]!r}", e, "InvalidEvent")
# Tokens the event parser refuses, and tokens that parse but name no version.
for token, what, expect in [
        ("../../etc", "a path", "TokenNotAVersion"), ("a" * 65, "too long for a version id", "InvalidEvent"),
        ("tok en", "a space", "InvalidEvent"), ("tok\u0000en", "a NUL", "InvalidEvent"),
        ("töken", "non-ASCII", "InvalidEvent"), ("{{token}}", "a template", "TokenNotAVersion"),
        ("'; DROP TABLE x; --", "SQL", "InvalidEvent"), ("\u202etoken", "a bidi override", "InvalidEvent"),
        ("a" * 100000, "100 kB", "InvalidEvent")]:
    for step in ["createSecret", "finishSecret"]:
        e = dict(good, Step=step)
        e["ClientRequestToken"] = token
        case("event", f"{step}: token with {what}", e, expect)
for sid, what in [("arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf", "an unknown ARN"),
                  ("x" * 3000, "3000 characters"), ("sec\u0000ret", "a NUL"),
                  ("arn:aws:iam::123456789012:role/admin", "an IAM ARN"),
                  ("../../secret", "a path"), ("  ", "blanks")]:
    e = dict(good)
    e["SecretId"] = sid
    case("event", f"SecretId {what}", e,
         "InvalidEvent" if what == "blanks" else "SecretsManagerError")
for step in STEPS:
    e = dict(good, Step=step)
    e["ClientRequestToken"] = "00000000-0000-0000-0000-000000000000"
    case("event", f"{step}: a token that is no version of the secret", e, "TokenNotAVersion")
    e = dict(good, Step=step)
    e["SecretId"] = "$OTHER_ARN"
    case("event", f"{step}: the token of another secret", e, "TokenNotAVersion")
for rt, what in [(7, "a number"), ([], "an array"), ({"a": 1}, "an object")]:
    e = dict(good)
    e["RotationToken"] = rt
    case("event", f"RotationToken is {what}", e, "InvalidEvent")
for step in ["setSecret", "testSecret"]:
    case("event", f"{step} before createSecret", dict(good, Step=step), "MissingValue")
case("event", "finishSecret before createSecret", dict(good, Step="finishSecret"), "MissingValue")

# Control characters and terminal escapes in what the function logs and echoes.
for token, what in [("tok\ten", "a tab"), ("tok\nen", "a newline"), ("\u001b[31mred", "an ANSI escape"),
                    ("tok\u007fen", "DEL")]:
    e = dict(good)
    e["ClientRequestToken"] = token
    case("event", f"token with {what}", e, "InvalidEvent")
for sid, what in [("sec\tret", "a tab"), ("sec\nret", "a newline"), ("\u001b[2Jsecret", "an ANSI escape")]:
    e = dict(good)
    e["SecretId"] = sid
    case("event", f"SecretId with {what}", e, "SecretsManagerError")

# ---- secrets --------------------------------------------------------------------------
base = {"engine": "postgres", "host": "$HOST", "port": "$PORT", "username": "$USER",
        "password": "$PASSWORD", "dbname": "postgres"}


def secret(about, value, expect):
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    case("secret", about, text, expect)


secret("empty", "", "MissingValue")  # the service keeps no value: "no value for AWSCURRENT"
for text, about in [("not json", "not JSON"), ("{", "truncated JSON"),
                    ("[]", "an array"), ("null", "null"), ("42", "a number"),
                    ('"postgres"', "a string"), ("{}", "an empty object"),
                    ('{"username": "a", "username": "b"}', "a duplicate key"),
                    ("\ufeff{}", "a byte-order mark"), ("{\"a\": 1}garbage", "trailing garbage"),
                    ("{'username': 'x'}", "single quotes")]:
    secret(about, text, "InvalidSecret")
for key in ["host", "username", "password"]:
    v = dict(base)
    del v[key]
    secret(f"missing {key}", v, "InvalidSecret")
    for bad, what in [(None, "null"), (5, "a number"), ([], "an array"), ({}, "an object"),
                      (True, "a boolean"), ("", "empty")]:
        v = dict(base)
        v[key] = bad
        secret(f"{key} is {what}", v,
               "InvalidSecret" if not (key == "password" and what == "null") else "InvalidSecret")
for bad, what in [(0, "0"), (-1, "negative"), (70000, "over 65535"), ("http", "a word"),
                  (5432.5, "a fraction"), ([5432], "an array"), ("5432 ", "with a blank"),
                  ("0x1538", "hex"), (True, "a boolean")]:
    v = dict(base)
    v["port"] = bad
    expect = "InvalidSecret"
    if what == "with a blank":
        expect = None  # accepted (trimmed): not an error; skipped below
    if expect:
        secret(f"port {what}", v, expect)
for bad, what in [("maybe", "a word"), (1, "a number"), ("yes", "yes"), ([], "an array")]:
    v = dict(base)
    v["ssl"] = bad
    secret(f"ssl is {what}", v, "InvalidSecret")
for engine in ["mysql", "mariadb", "oracle", "POSTGRES ", "redis", "", "postgres\u0000",
               "sqlserver-ex", "../postgres"]:
    v = dict(base)
    v["engine"] = engine
    secret(f"engine {engine!r}", v, "InvalidSecret")
for bad, what in [(5, "a number"), ("", "empty"), ([], "an array")]:
    v = dict(base)
    v["dbname"] = bad
    secret(f"dbname is {what}", v, "InvalidSecret")
for name in ["x" * 64, "a\u0000b"]:
    v = dict(base)
    v["username"] = name
    secret(f"username {name[:20]!r} (too long / NUL)", v, "InvalidSecret")
# Injection attempts: valid JSON that names no existing role or database: the rotation
# refuses at setSecret (nothing logs in), and nothing runs on the server.
for name in ["app\"; DROP TABLE canary; --", "app'; ALTER ROLE \"$USER\" PASSWORD 'x'; --",
             "pg_read_server_files", "app\\\"", "app\r\nALTER ROLE x", "${jndi:ldap://x}",
             "$(reboot)", "`id`", "app\u202e", "ａｄｍｉｎ", "postgres", "app OR 1=1"]:
    v = dict(base)
    v["username"] = name
    secret(f"username injection {name[:30]!r}", v, "NoWorkingCredential")
for db, what in [("postgres\"; DROP TABLE canary; --", "SQL"), ("nope_db", "an unknown db"),
                 ("template0", "template0"), ("postgres' OR '1'='1", "quotes")]:
    v = dict(base)
    v["dbname"] = db
    secret(f"dbname {what}", v, "TargetError")  # the server: no such database
for host, what in [("127.0.0.1 ", "a trailing blank"), ("host with spaces", "spaces"),
                   ("-oProxyCommand=x", "an option"), ("%00", "a percent NUL"),
                   ("localhost:5432", "a port inside"), ("[::1", "a broken IPv6"),
                   ("ünïcødé.invalid", "unicode")]:
    v = dict(base)
    v["host"] = host
    v["ssl"] = False
    secret(f"host {what}", v, "TargetUnreachable")
for name, what in [("app\tuser", "a tab"), ("\u001b[31mapp", "an ANSI escape"), ("app\u007f", "DEL"),
                   ("app\u0301", "a combining accent")]:
    v = dict(base)
    v["username"] = name
    secret(f"username with {what}", v, "NoWorkingCredential")
for key, bad, what, expect in [
        ("username", {"$ne": ""}, "a NoSQL operator", "InvalidSecret"),
        ("password", {"$gt": ""}, "a NoSQL operator", "InvalidSecret"),
        ("port", "5432; DROP TABLE canary", "SQL", "InvalidSecret"),
        ("ssl", "TRUE ", "with a blank", "InvalidSecret"),
        ("password", "pass\u0000word", "a NUL", "NoWorkingCredential"),
        ("host", "127.0.0.1\u0000evil.example", "a NUL", "TargetUnreachable")]:
    v = dict(base)
    v[key] = bad
    if key == "host":
        v["ssl"] = False
    secret(f"{key} is {what}", v, expect)
v = {k.upper(): x for k, x in base.items()}
secret("keys in upper case (USERNAME, PASSWORD...)", v, "InvalidSecret")
v = dict(base)
v["username"] = ["$USER", "postgres"]
secret("username is a list of users", v, "InvalidSecret")
v = dict(base)
v["password"] = "p" * 70000
secret("a 70 kB password (over Secrets Manager's 64 KiB)", v, None)
# Just under 64 KiB with a 1-character password: the new version (a 32-character password)
# would not fit, and createSecret says so before anything is written.
tight = {"engine": "postgres", "host": "127.0.0.1", "port": 1, "username": "nobody",
         "password": "p", "filler": ""}
tight["filler"] = "x" * (65530 - len(json.dumps(tight)))
secret("a 64 KiB secret with no room for a new password", tight, "InvalidSecret")
for extra in [{"masterarn": "not-an-arn"}, {"masterarn": 5}]:
    v = dict(base, **extra)
    secret(f"single user with masterarn {extra['masterarn']!r} (ignored)", v, None)

# ---- environment ----------------------------------------------------------------------
for k, v in [("PASSWORD_LENGTH", "0"), ("PASSWORD_LENGTH", "4097"), ("PASSWORD_LENGTH", "ten"),
             ("PASSWORD_LENGTH", "-5"), ("PASSWORD_LENGTH", "3"), ("PASSWORD_LENGTH", "1e3"),
             ("EXCLUDE_NUMBERS", "maybe"), ("EXCLUDE_PUNCTUATION", "2"),
             ("EXCLUDE_UPPERCASE", "TRUEISH"), ("EXCLUDE_LOWERCASE", "on?"),
             ("REQUIRE_EACH_INCLUDED_TYPE", "sometimes"),
             ("ROTATION_STRATEGY", "multi-user"), ("ROTATION_STRATEGY", "alternating"),
             ("ROTATION_STRATEGY", "single user"), ("PRIVILEGE_PARITY", "ignore"),
             ("CONNECT_TIMEOUT_SECS", "0"), ("CONNECT_TIMEOUT_SECS", "301"),
             ("CONNECT_TIMEOUT_SECS", "soon"), ("TLS_CA_BUNDLE", "/nonexistent/ca.pem"),
             ("TLS_CA_BUNDLE", "/etc/hostname"), ("TLS_CA_BUNDLE", "/")]:
    case("env", f"{k}={v!r}", {k: v}, "ConfigError")
case("env", "every character excluded", {"EXCLUDE_NUMBERS": "true", "EXCLUDE_PUNCTUATION": "true",
     "EXCLUDE_UPPERCASE": "true", "EXCLUDE_LOWERCASE": "true"}, "ConfigError")
case("env", "EXCLUDE_CHARACTERS removes every letter and digit with punctuation off",
     {"EXCLUDE_PUNCTUATION": "true",
      "EXCLUDE_CHARACTERS": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"},
     "ConfigError")

shutil.rmtree(OUT, ignore_errors=True)
os.makedirs(OUT)
kept = [c for c in cases if c["expect"] is not None]
for i, c in enumerate(kept, 1):
    with open(os.path.join(OUT, f"{i:03}-{c['kind']}.json"), "w", encoding="utf-8") as f:
        json.dump(c, f, ensure_ascii=False, indent=1)
        f.write("\n")
print(f"{len(kept)} cases in {OUT}")
