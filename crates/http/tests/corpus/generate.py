#!/usr/bin/env python3
"""Writes the HTTP target's hostile corpus: one JSON file per case in cases/ (run it from
anywhere).

The cases every target shares (events, secret strings, the environment) come from
crates/testkit/corpus/hostile.py, which says what a case is; this file adds the HTTP
target's own. The secrets carry their spec (`rotation_spec`, the example specs of
examples/specs/ with "allow_http": true), so a hostile spec is a secret case:

- spec mistakes: template namespaces, filters and braces, URLs, methods, headers (names
  and values, CR/LF), authentication, statuses, pointers, steps, fields of the wrong type;
- injection through the secret's values into URL, host, path and headers (RabbitMQ);
- a hostile API ($EVIL, started by the test): redirects to another host (the real
  RabbitMQ), an endless body, an answer that never comes, garbage, other names, errors
  that echo the credential;
- the key-issuing shape on Verdaccio: tokens and key ids missing or wrongly typed, an
  issue answer without the token (the key just issued must be revoked);
- HTTP_SPEC_FILE misconfigurations.

tests/it/corpus.rs runs every case through the real rotate-http binary and checks that
nothing changed in Secrets Manager, on RabbitMQ or on Verdaccio.
"""
import copy
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../../../testkit/corpus"))
import hostile  # noqa: E402


def example(name):
    with open(os.path.join(HERE, "../../examples/specs", f"{name}.json"), encoding="utf-8") as f:
        spec = json.load(f)
    spec["allow_http"] = True
    return spec


RABBIT = example("rabbitmq")
NPM = example("verdaccio")

c = hostile.Corpus()
hostile.events(c)

base = {"url": "$URL", "username": "$USER", "password": "$PASSWORD", "rotation_spec": RABBIT}
hostile.secret_texts(c)
hostile.more_secret_texts(c)


def with_spec(about, change, expect, secret=None):
    """A secret whose spec is the RabbitMQ example changed by `change(spec)`."""
    spec = copy.deepcopy(RABBIT)
    change(spec)
    v = dict(secret or base)
    v["rotation_spec"] = spec
    c.secret(f"spec: {about}", v, expect)


def setter(path, value):
    def change(spec):
        node = spec
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return change


def remover(*keys):
    def change(spec):
        for k in keys:
            del spec[k]
    return change


# ---- the secret's fields ----------------------------------------------------------------
for key in ["username", "password"]:
    v = dict(base)
    del v[key]
    c.secret(f"missing {key}", v, "InvalidSecret")
    for bad, what in [(None, "null"), ([], "an array"), ({}, "an object"), (True, "a boolean"),
                      ("", "empty")]:
        v = dict(base)
        v[key] = bad
        c.secret(f"{key} is {what}", v, "InvalidSecret")
v = dict(base)
del v["url"]
c.secret("missing url (the spec's {{login.url}} has no value)", v, "ConfigError")
v = dict(base)
del v["rotation_spec"]
c.secret("no spec (no HTTP_SPEC_FILE, no rotation_spec)", v, "InvalidSecret")
for bad, what in [(None, "null"), ("rabbitmq", "a string"), (5, "a number"), ([], "an array"),
                  ({}, "an empty object"), (True, "a boolean"), (json.dumps(RABBIT), "JSON in a string")]:
    v = dict(base)
    v["rotation_spec"] = bad
    c.secret(f"rotation_spec is {what}", v, "InvalidSecret")
v = {k.upper(): x for k, x in base.items()}
c.secret("keys in upper case (URL, USERNAME, PASSWORD, ROTATION_SPEC)", v, "InvalidSecret")
v = dict(base)
v["username"] = ["$USER", "guest"]
c.secret("username is a list of users", v, "InvalidSecret")

# ---- the spec: mistakes found when it is loaded (before anything is sent) ------------
for url, what in [("{{pending.password}}/x", "a namespace login cannot use"),
                  ("{{login.url | base64}}/api/whoami", "an unknown filter"),
                  ("{{login.url/api/whoami", "an unclosed {{"), ("{{login.url}}}}/api", "a stray }}"),
                  ("{{login}}/api/whoami", "a namespace without a field"), ("{{ }}/api", "an empty variable"),
                  ("ftp://127.0.0.1/api/whoami", "ftp"), ("file:///etc/passwd", "a file URL"),
                  ("javascript:alert(1)", "javascript"), ("", "an empty URL"), ("/api/whoami", "a relative URL"),
                  ("{{master.password}}", "the master's password"), ("{{token}}", "the rotation token")]:
    with_spec(f"login.url {what}", setter(["login", "url"], url), "InvalidSecret")
with_spec("plain http without allow_http", lambda s: (s.update(allow_http=False),
          s["login"].update(url="http://127.0.0.1:15672/api/whoami")), "InvalidSecret")
for method, what in [("GE T", "a space"), ("", "empty"), ("GET\r\nX-Injected: 1", "CR/LF"), (5, "a number"),
                     (None, "null")]:
    with_spec(f"login.method {what}", setter(["login", "method"], method), "InvalidSecret")
for headers, what in [([], "an array"), ({"X-Count": 5}, "a number value"),
                      ({"Bad Header": "x"}, "a name with a space"),
                      ({"X-Injected\r\nEvil": "x"}, "CR/LF in a name"),
                      ({"X-Note": "a\r\nX-Evil: 1"}, "CR/LF in a value"), ({"": "x"}, "an empty name"),
                      ({"X-User": "{{pending.username}}"}, "a namespace login cannot use"),
                      ({"X-Null": "a\u0000b"}, "NUL in a value")]:
    with_spec(f"login.headers {what}", setter(["login", "headers"], headers), "InvalidSecret")
for auth, what in [("basic", "a string"), ({"digest": {"username": "u"}}, "digest"),
                   ({"basic": {"username": 5, "password": "{{login.password}}"}}, "a numeric user name"),
                   ({"basic": {"username": "{{login.username}}"}}, "basic without a password"),
                   ({"bearer": 5}, "a numeric bearer"),
                   ({"bearer": "{{login.password}}", "basic": {"username": "a", "password": "b"}}, "two kinds"),
                   ({"header": {"name": "Bad Name", "value": "{{login.password}}"}}, "a header name with a space"),
                   ({"header": {"name": "X-Key", "value": "a\nb"}}, "a header value with a newline")]:
    with_spec(f"login.auth {what}", setter(["login", "auth"], auth), "InvalidSecret")
for key, bad, what in [("expect", "200", "a string"), ("expect", [99999], "over 65535"),
                       ("expect", [-1], "negative"), ("refused", "401", "a string"),
                       ("pointer", "name", "not a JSON pointer"), ("pointer", 5, "a number"),
                       ("equals", ["x"], "an array"), ("colour", "blue", "an unknown field")]:
    with_spec(f"login.{key} {what}", setter(["login", key], bad), "InvalidSecret")
with_spec("login.pointer without equals", lambda s: s["login"].pop("equals"), "InvalidSecret")
for key, bad, what in [("timeout_secs", 0, "0"), ("timeout_secs", -1, "negative"),
                       ("timeout_secs", 1000, "over 120"), ("timeout_secs", "10", "a string"),
                       ("retries", -1, "negative"), ("retries", "2", "a string"),
                       ("retries", 4294967296, "over u32"), ("retries", 1.5, "a fraction"),
                       ("allow_http", "yes", "a string"), ("exclusive_keys", 1, "a number"),
                       ("name", 5, "a number"), ("fields", [], "an array"),
                       ("fields", {"username": "username"}, "without secret"),
                       ("fields", {"secret": 5}, "with a numeric secret field"),
                       ("fields", {"secret": "password", "colour": "x"}, "with an unknown field"),
                       ("login", None, "null"), ("set_password", [], "no steps"),
                       ("set_password", "PUT", "a string"), ("colour", "blue", "an unknown field")]:
    with_spec(f"{key} {what}", setter([key], bad), "InvalidSecret")
for keys, what in [(["name"], "no name"), (["fields"], "no fields"), (["login"], "no login"),
                   (["set_password"], "neither set_password nor issue")]:
    with_spec(what, remover(*keys), "InvalidSecret")
with_spec("set_password and issue", setter(["issue"], NPM["issue"]), "InvalidSecret")
with_spec("set_password step: for_each of nothing saved",
          setter(["set_password", 1, "for_each"], "nothing"), "InvalidSecret")
with_spec("set_password step: a save pointer without /", setter(["set_password", 0, "save"], {"tags": "tags"}),
          "InvalidSecret")
with_spec("set_password step: when \"always\"", setter(["set_password", 1, "when"], "always"), "InvalidSecret")
with_spec("set_password body: the master's password",
          setter(["set_password", 1, "body"], {"password": "{{master.password}}"}), "InvalidSecret")
with_spec("set_password url: the current user's password",
          setter(["set_password", 1, "url"], "{{login.url}}/api/users/{{current.password}}"), "InvalidSecret")
with_spec("alternate.parity of nothing saved", setter(["alternate", "parity", 0, "current"], "nothing"),
          "InvalidSecret")
with_spec("alternate.exists.ours.pointer without /",
          setter(["alternate", "exists", "ours", "pointer"], "tags"), "InvalidSecret")
with_spec("a body nested 200 deep", setter(["set_password", 1, "body"], json.loads("[" * 200 + "]" * 200)),
          "InvalidSecret")
with_spec("issue without revoke", lambda s: (s.pop("set_password"), s.update(issue=NPM["issue"])),
          "InvalidSecret")

# ---- injection through the secret's values (RabbitMQ) ------------------------------------
for name in ["guest", "../guest", "guest/../$USER", "$USER/../guest", "$USER?x=1", "$USER#", "%2e%2e%2fguest",
             "$USER:extra", "$USER\r\nX-Injected: 1", "{{login.password}}", "{{pending.password}}",
             "${jndi:ldap://x}", "$(reboot)", "ａｄｍｉｎ", "$USER\u202e", "$USER ", "*", ".",
             "administrator", "$USER\u0000"]:
    v = dict(base)
    v["username"] = name
    c.secret(f"username {name[:30]!r}", v, "NoWorkingCredential")
for password, what in [("{{login.password}}", "a template"), ("$PASSWORD\r\n", "CR/LF"),
                       ("$PASSWORD\u0000", "NUL")]:
    v = dict(base)
    v["password"] = password
    c.secret(f"password with {what}", v, "NoWorkingCredential")
for url, what, expect in [
        ("http://127.0.0.1:1", "a closed port", "TargetUnreachable"),
        ("http://evil.invalid", "a host that does not resolve", "TargetUnreachable"),
        ("http://127.0.0.1:15672@evil.invalid", "a user-info trick", "TargetUnreachable"),
        ("http://[::1", "a broken IPv6", "ConfigError"),
        ("ftp://127.0.0.1:15672", "ftp", "ConfigError"),
        ("file:///etc/passwd", "a file URL", "ConfigError"),
        ("javascript:alert(1)", "javascript", "ConfigError"),
        ("", "empty", "ConfigError"),
        ("https://127.0.0.1:15672", "https to a plain-http server", "TlsError"),
        ("$URL/api/users/guest#", "a fragment that hides the path", "ConfigError"),
        ("$URL/api/users/guest?", "a query that hides the path", "NoWorkingCredential"),
        ("$URL/api/whoami?x=", "a query that swallows the path", "TargetError"),
        ("$URL\r\nHost: evil.invalid", "CR/LF", "ConfigError"),
        ("$URL/api/../../../", "dot segments", "TargetError"),
        ("$URL/api/vhosts#", "another resource", "ConfigError"),
        ("$URL ", "a trailing blank", "ConfigError")]:
    v = dict(base)
    v["url"] = url
    c.secret(f"url {what}", v, expect)
for value, what in [(5, "a number"), ([], "an array"), (None, "null")]:
    v = dict(base)
    v["url"] = value
    c.secret(f"url is {what}", v, "ConfigError")

# ---- a hostile API ($EVIL, started by the test) ------------------------------------------
for mode, what, expect, tweak in [
        ("redirect-login", "a login answered with a redirect to RabbitMQ", "TargetError", None),
        ("redirect-put", "a password change redirected (307) to RabbitMQ", "TargetError", None),
        ("redirect-https", "a redirect to https", "TargetError", None),
        ("endless", "an endless answer", "TargetError", None),
        ("big", "a 64 MiB answer", "TargetError", None),
        ("slow", "an answer that never comes (timeout 0.5 s, no retry)", "TargetUnreachable",
         {"timeout_secs": 0.5, "retries": 0}),
        ("drip", "an answer sent a byte at a time (timeout 0.5 s, no retry)", "TargetUnreachable",
         {"timeout_secs": 0.5, "retries": 0}),
        ("garbage", "an answer that is not JSON", "NoWorkingCredential", None),
        ("other-name", "an answer naming another user", "NoWorkingCredential", None),
        ("name-number", "a name of the wrong type", "NoWorkingCredential", None),
        ("error500", "500 after every retry", "TargetError", None),
        ("teapot", "an unexpected status (418)", "TargetError", None),
        ("echo", "an error that echoes the credential", "TargetError", None),
        ("reset", "a connection closed without an answer (no retry)", "TargetUnreachable", {"retries": 0}),
        ("not-http", "an answer that is not HTTP (no retry)", "TargetUnreachable", {"retries": 0})]:
    spec = copy.deepcopy(RABBIT)
    spec.update(tweak or {})
    v = dict(base, url=f"$EVIL/{mode}", rotation_spec=spec)
    c.secret(f"API: {what}", v, expect)

# ---- the key-issuing shape (Verdaccio) -----------------------------------------------------
npm = {"url": "$NPM_URL", "username": "$NPM_USER", "password": "$NPM_PASSWORD", "token": "$NPM_TOKEN",
       "key_id": "$NPM_KEY", "rotation_spec": NPM}
for key in ["token", "key_id", "username"]:
    v = dict(npm)
    del v[key]
    c.secret(f"issued keys: missing {key}", v, "InvalidSecret")
    for bad, what in [(None, "null"), ([], "an array"), ("", "empty")]:
        v = dict(npm)
        v[key] = bad
        c.secret(f"issued keys: {key} is {what}", v, "InvalidSecret")
v = dict(npm, password="not-the-password")
c.secret("issued keys: a wrong password (the list is refused)", v, "TargetError")
for url, what, expect in [("$NPM_URL/-/npm/v1/tokens/token/$NPM_KEY#", "a fragment naming the key", "ConfigError"),
                          ("http://127.0.0.1:1", "a closed port", "TargetUnreachable")]:
    c.secret(f"issued keys: url with {what}", dict(npm, url=url), expect)
spec = copy.deepcopy(NPM)
spec["issue"]["extract"] = {"token": "/nope", "key_id": "/key"}
c.secret("issued keys: the answer has no token (the key just issued is revoked)",
         dict(npm, rotation_spec=spec), "TargetError")
spec = copy.deepcopy(NPM)
del spec["revoke"]
c.secret("issued keys: a spec without revoke", dict(npm, rotation_spec=spec), "InvalidSecret")
spec = copy.deepcopy(NPM)
spec["fields"].pop("key_id")
c.secret("issued keys: a spec without fields.key_id", dict(npm, rotation_spec=spec), "InvalidSecret")
spec = copy.deepcopy(NPM)
spec["issue"]["extract"] = {"key_id": "/key"}
c.secret("issued keys: nothing extracts the token", dict(npm, rotation_spec=spec), "InvalidSecret")
spec = copy.deepcopy(NPM)
spec["issue"]["url"] = "{{login.url}}/-/npm/v1/tokens"
c.secret("issued keys: issue uses a namespace it cannot", dict(npm, rotation_spec=spec), "InvalidSecret")

# ---- the environment ------------------------------------------------------------------------
hostile.env(c)
hostile.more_env(c)
bad_header = copy.deepcopy(RABBIT)
bad_header["login"]["headers"] = {"Bad Header": "x"}
plain = copy.deepcopy(RABBIT)
plain["allow_http"] = False
plain["login"]["url"] = "http://127.0.0.1:15672/api/whoami"
for value, what in [("/nonexistent/spec.json", "a missing file"), ("/", "a directory"),
                    ({"file": "not json"}, "not JSON"), ({"file": "{}"}, "an empty object"),
                    ({"file": "[]"}, "an array"), ({"file": ""}, "an empty file"),
                    ({"file": json.dumps(RABBIT)[:-1]}, "truncated"),
                    ({"file": json.dumps(bad_header)}, "a bad header name"),
                    ({"file": json.dumps(plain)}, "plain http without allow_http"),
                    ({"file": json.dumps(dict(RABBIT, login=dict(RABBIT["login"], url="{{pending.password}}")))},
                     "a namespace login cannot use")]:
    c.case("env", f"HTTP_SPEC_FILE {what}", {"HTTP_SPEC_FILE": value}, "ConfigError")

c.write(os.path.join(HERE, "cases"))
