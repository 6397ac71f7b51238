"""The generic part of the hostile corpus, shared by every target's generator.

A target's `tests/corpus/generate.py` imports this module, adds the cases that hold for
every target (malformed events, secret strings that are not JSON objects, oversized
values, misconfigured environments) and for AWS's database secret layout (PostgreSQL and
MySQL), then its own, and writes one JSON file per case. The test runs them with
`secret_rotor_testkit::corpus`.

A case: {"kind": "event" | "secret" | "env", "about": "...", "input": ..., "expect": CODE}
- event: the invocation payload; "$ARN", "$TOKEN", "$OTHER_ARN" are filled in by the test.
- secret: the secret's SecretString (any text); "$HOST", "$PORT", "$USER", "$PASSWORD"
  (and any other variable the target's test defines) are filled in inside JSON strings.
  The rotation runs step by step; the first error's code must be `expect`.
- env: extra environment variables of the function (a value {"file": TEXT} is written to
  a file whose path becomes the value); every invocation must fail with `expect`.
"""
import json
import os
import shutil

STEPS = ["createSecret", "setSecret", "testSecret", "finishSecret"]
GOOD_EVENT = {"Step": "createSecret", "SecretId": "$ARN", "ClientRequestToken": "$TOKEN"}


class Corpus:
    """The cases of one target, in order."""

    def __init__(self):
        self.cases = []

    def case(self, kind, about, input, expect):
        self.cases.append({"kind": kind, "about": about, "input": input, "expect": expect})

    def secret(self, about, value, expect):
        """A secret case; a value that is not a string is written as JSON."""
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        self.case("secret", about, text, expect)

    def write(self, out):
        """Writes every case with an expected code to `out` (emptied first)."""
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        kept = [c for c in self.cases if c["expect"] is not None]
        for i, c in enumerate(kept, 1):
            with open(os.path.join(out, f"{i:03}-{c['kind']}.json"), "w", encoding="utf-8") as f:
                json.dump(c, f, ensure_ascii=False, indent=1)
                f.write("\n")
        print(f"{len(kept)} cases in {out}")
        return kept


# ---- events (every target) ------------------------------------------------------------
def events(c):
    good = GOOD_EVENT
    for value, about in [
        (None, "null payload"), ([], "an array"), ("createSecret", "a string"), (42, "a number"),
        (True, "a boolean"), ({}, "an empty object"),
    ]:
        c.case("event", about, value, "InvalidEvent")
    for key in ["Step", "SecretId", "ClientRequestToken"]:
        e = dict(good)
        del e[key]
        c.case("event", f"missing {key}", e, "InvalidEvent")
        for bad, what in [(None, "null"), (7, "a number"), ([], "an array"), ({}, "an object"),
                          (True, "a boolean"), ("", "empty")]:
            e = dict(good)
            e[key] = bad
            c.case("event", f"{key} is {what}", e, "InvalidEvent")
    for step in ["rotateSecret", "CreateSecret", "createsecret", "create_secret", " createSecret",
                 "createSecret ", "finishSecret\u0000", "setSecret;DROP", "ｃｒｅａｔｅSecret",
                 "testSecret\n", "x" * 10000, "../../etc/passwd", "${jndi:ldap://x}"]:
        e = dict(good)
        e["Step"] = step
        c.case("event", f"unknown step {step[:40]!r}", e, "InvalidEvent")
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
            c.case("event", f"{step}: token with {what}", e, expect)
    for sid, what in [("arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf", "an unknown ARN"),
                      ("x" * 3000, "3000 characters"), ("sec\u0000ret", "a NUL"),
                      ("arn:aws:iam::123456789012:role/admin", "an IAM ARN"),
                      ("../../secret", "a path"), ("  ", "blanks")]:
        e = dict(good)
        e["SecretId"] = sid
        c.case("event", f"SecretId {what}", e,
               "InvalidEvent" if what == "blanks" else "SecretsManagerError")
    for step in STEPS:
        e = dict(good, Step=step)
        e["ClientRequestToken"] = "00000000-0000-0000-0000-000000000000"
        c.case("event", f"{step}: a token that is no version of the secret", e, "TokenNotAVersion")
        e = dict(good, Step=step)
        e["SecretId"] = "$OTHER_ARN"
        c.case("event", f"{step}: the token of another secret", e, "TokenNotAVersion")
    for rt, what in [(7, "a number"), ([], "an array"), ({"a": 1}, "an object")]:
        e = dict(good)
        e["RotationToken"] = rt
        c.case("event", f"RotationToken is {what}", e, "InvalidEvent")
    for step in ["setSecret", "testSecret"]:
        c.case("event", f"{step} before createSecret", dict(good, Step=step), "MissingValue")
    c.case("event", "finishSecret before createSecret", dict(good, Step="finishSecret"), "MissingValue")

    # Control characters and terminal escapes in what the function logs and echoes.
    for token, what in [("tok\ten", "a tab"), ("tok\nen", "a newline"), ("\u001b[31mred", "an ANSI escape"),
                        ("tok\u007fen", "DEL")]:
        e = dict(good)
        e["ClientRequestToken"] = token
        c.case("event", f"token with {what}", e, "InvalidEvent")
    for sid, what in [("sec\tret", "a tab"), ("sec\nret", "a newline"), ("\u001b[2Jsecret", "an ANSI escape")]:
        e = dict(good)
        e["SecretId"] = sid
        c.case("event", f"SecretId with {what}", e, "SecretsManagerError")


# ---- secret strings that are no JSON object (every target) ----------------------------
def secret_texts(c):
    c.secret("empty", "", "MissingValue")  # the service keeps no value: "no value for AWSCURRENT"
    for text, about in [("not json", "not JSON"), ("{", "truncated JSON"),
                        ("[]", "an array"), ("null", "null"), ("42", "a number"),
                        ('"postgres"', "a string"), ("{}", "an empty object"),
                        ('{"username": "a", "username": "b"}', "a duplicate key"),
                        ("\ufeff{}", "a byte-order mark"), ("{\"a\": 1}garbage", "trailing garbage"),
                        ("{'username': 'x'}", "single quotes")]:
        c.secret(about, text, "InvalidSecret")


def more_secret_texts(c):
    """Texts the first corpus (PostgreSQL's) did not have: deep nesting, odd encodings."""
    for text, about in [("[" * 5000 + "]" * 5000, "arrays nested 5000 deep"),
                        ('{"a":' * 3000 + "1" + "}" * 3000, "objects nested 3000 deep"),
                        ("\"\\ud800\"", "a lone surrogate"), ("{\"a\": 1e99999}", "a number out of range"),
                        ("NaN", "NaN"), ("true", "a boolean"), ("{\"a\": undefined}", "undefined"),
                        ("{\"a\": 1,}", "a trailing comma"), ("// comment\n{}", "a comment"),
                        ("\u0000", "a NUL"), ("   ", "blanks")]:
        c.secret(about, text, "InvalidSecret")


def shape(c, base, field_names, other_user):
    """Keys in upper case, and the user name as a list: no target reads either."""
    v = {k.upper(): x for k, x in base.items()}
    c.secret(f"keys in upper case ({', '.join(n.upper() for n in field_names)}...)", v, "InvalidSecret")
    v = dict(base)
    v["username"] = ["$USER", other_user]
    c.secret("username is a list of users", v, "InvalidSecret")


def oversized(c, tight):
    """A secret too large for Secrets Manager, and one with no room for a new password.

    `tight` is a secret that parses, with a one-character password; it is padded to just
    under 64 KiB: the new version (a 32-character password) would not fit, and createSecret
    says so before anything is written."""
    v = dict(tight)
    v["password"] = "p" * 70000
    c.secret("a 70 kB password (over Secrets Manager's 64 KiB)", v, None)
    tight = dict(tight, filler="")
    tight["filler"] = "x" * (65530 - len(json.dumps(tight)))
    c.secret("a 64 KiB secret with no room for a new password", tight, "InvalidSecret")


# ---- AWS's database secret layout (secret_rotor_db: PostgreSQL, MySQL) ---------------
def db_fields(c, base, refused_engines, dbname_types=True):
    """Missing and wrongly typed fields of the database layout."""
    for key in ["host", "username", "password"]:
        v = dict(base)
        del v[key]
        c.secret(f"missing {key}", v, "InvalidSecret")
        for bad, what in [(None, "null"), (5, "a number"), ([], "an array"), ({}, "an object"),
                          (True, "a boolean"), ("", "empty")]:
            v = dict(base)
            v[key] = bad
            c.secret(f"{key} is {what}", v, "InvalidSecret")
    for bad, what in [(0, "0"), (-1, "negative"), (70000, "over 65535"), ("http", "a word"),
                      (5432.5, "a fraction"), ([5432], "an array"),
                      ("0x1538", "hex"), (True, "a boolean")]:
        v = dict(base)
        v["port"] = bad
        c.secret(f"port {what}", v, "InvalidSecret")
    for bad, what in [("maybe", "a word"), (1, "a number"), ("yes", "yes"), ([], "an array")]:
        v = dict(base)
        v["ssl"] = bad
        c.secret(f"ssl is {what}", v, "InvalidSecret")
    for engine in refused_engines:
        v = dict(base)
        v["engine"] = engine
        c.secret(f"engine {engine!r}", v, "InvalidSecret")
    if dbname_types:
        for bad, what in [(5, "a number"), ("", "empty"), ([], "an array")]:
            v = dict(base)
            v["dbname"] = bad
            c.secret(f"dbname is {what}", v, "InvalidSecret")


def db_usernames(c, base, names):
    """User names that name no account: nothing logs in, nothing runs on the server."""
    for name in names:
        v = dict(base)
        v["username"] = name
        c.secret(f"username injection {name[:30]!r}", v, "NoWorkingCredential")


def db_hosts(c, base):
    for host, what in [("127.0.0.1 ", "a trailing blank"), ("host with spaces", "spaces"),
                       ("-oProxyCommand=x", "an option"), ("%00", "a percent NUL"),
                       ("localhost:5432", "a port inside"), ("[::1", "a broken IPv6"),
                       ("ünïcødé.invalid", "unicode")]:
        v = dict(base)
        v["host"] = host
        v["ssl"] = False
        c.secret(f"host {what}", v, "TargetUnreachable")


def db_control_chars(c, base):
    for name, what in [("app\tuser", "a tab"), ("\u001b[31mapp", "an ANSI escape"), ("app\u007f", "DEL"),
                       ("app\u0301", "a combining accent")]:
        v = dict(base)
        v["username"] = name
        c.secret(f"username with {what}", v, "NoWorkingCredential")
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
        c.secret(f"{key} is {what}", v, expect)


def db_masterarn(c, base):
    for extra in [{"masterarn": "not-an-arn"}, {"masterarn": 5}]:
        v = dict(base, **extra)
        c.secret(f"single user with masterarn {extra['masterarn']!r} (ignored)", v, None)


# ---- environment (every target) --------------------------------------------------------
def env(c):
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
        c.case("env", f"{k}={v!r}", {k: v}, "ConfigError")
    c.case("env", "every character excluded", {"EXCLUDE_NUMBERS": "true", "EXCLUDE_PUNCTUATION": "true",
           "EXCLUDE_UPPERCASE": "true", "EXCLUDE_LOWERCASE": "true"}, "ConfigError")
    c.case("env", "EXCLUDE_CHARACTERS removes every letter and digit with punctuation off",
           {"EXCLUDE_PUNCTUATION": "true",
            "EXCLUDE_CHARACTERS": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"},
           "ConfigError")


def more_env(c):
    """Misconfigurations the first corpus (PostgreSQL's) did not have."""
    for k, v in [("PASSWORD_LENGTH", " "), ("PASSWORD_LENGTH", "32.0"), ("PASSWORD_LENGTH", "99999999999999999999"),
                 ("EXCLUDE_NUMBERS", "tr ue"), ("ROTATION_STRATEGY", "alternating_users"),
                 ("ROTATION_STRATEGY", "single-user;alternating-users"), ("PRIVILEGE_PARITY", "enforced"),
                 ("CONNECT_TIMEOUT_SECS", "-1"), ("CONNECT_TIMEOUT_SECS", "1e9"),
                 ("TLS_CA_BUNDLE", {"file": "not a certificate"}),
                 ("TLS_CA_BUNDLE", {"file": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}),
                 ("TLS_CA_BUNDLE", {"file": ""})]:
        c.case("env", f"{k}={v!r}", {k: v}, "ConfigError")
