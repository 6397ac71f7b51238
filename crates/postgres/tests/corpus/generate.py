#!/usr/bin/env python3
"""Writes the PostgreSQL hostile corpus: one JSON file per case in cases/ (run it from
anywhere).

The cases every target shares (events, secret strings, AWS's database layout, the
environment) come from crates/testkit/corpus/hostile.py, which says what a case is;
this file adds PostgreSQL's own. tests/it/corpus.rs runs every case through the real
rotate-postgres binary and checks that nothing changed in Secrets Manager or on the
server.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../../../testkit/corpus"))
import hostile  # noqa: E402

c = hostile.Corpus()
hostile.events(c)

base = {"engine": "postgres", "host": "$HOST", "port": "$PORT", "username": "$USER",
        "password": "$PASSWORD", "dbname": "postgres"}
hostile.secret_texts(c)
hostile.db_fields(c, base, ["mysql", "mariadb", "oracle", "POSTGRES ", "redis", "", "postgres\u0000",
                            "sqlserver-ex", "../postgres"])
for name in ["x" * 64, "a\u0000b"]:
    v = dict(base)
    v["username"] = name
    c.secret(f"username {name[:20]!r} (too long / NUL)", v, "InvalidSecret")
# Injection attempts: valid JSON that names no existing role or database: the rotation
# refuses at setSecret (nothing logs in), and nothing runs on the server.
hostile.db_usernames(c, base, [
    "app\"; DROP TABLE canary; --", "app'; ALTER ROLE \"$USER\" PASSWORD 'x'; --",
    "pg_read_server_files", "app\\\"", "app\r\nALTER ROLE x", "${jndi:ldap://x}",
    "$(reboot)", "`id`", "app\u202e", "ａｄｍｉｎ", "postgres", "app OR 1=1"])
for db, what in [("postgres\"; DROP TABLE canary; --", "SQL"), ("nope_db", "an unknown db"),
                 ("template0", "template0"), ("postgres' OR '1'='1", "quotes")]:
    v = dict(base)
    v["dbname"] = db
    c.secret(f"dbname {what}", v, "TargetError")  # the server: no such database
hostile.db_hosts(c, base)
hostile.db_control_chars(c, base)
hostile.shape(c, base, ["username", "password"], "postgres")
hostile.oversized(c, {"engine": "postgres", "host": "127.0.0.1", "port": 1, "username": "nobody",
                      "password": "p"})
hostile.db_masterarn(c, base)
hostile.env(c)

c.write(os.path.join(HERE, "cases"))
