#!/usr/bin/env python3
"""Writes the MySQL / MariaDB hostile corpus: one JSON file per case in cases/ (run it
from anywhere).

The cases every target shares (events, secret strings, AWS's database layout, the
environment) come from crates/testkit/corpus/hostile.py, which says what a case is;
this file adds MySQL's own: account names with host parts and backquotes, database
names, MySQL's engines and name lengths. tests/it/corpus.rs runs every case through the
real rotate-mysql binary against a private MariaDB and checks that nothing changed in
Secrets Manager or on the server (accounts, their password hashes, grants, databases, a
canary table).
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../../../testkit/corpus"))
import hostile  # noqa: E402

c = hostile.Corpus()
hostile.events(c)

base = {"engine": "mariadb", "host": "$HOST", "port": "$PORT", "username": "$USER",
        "password": "$PASSWORD", "dbname": "secret_rotor_test"}
hostile.secret_texts(c)
hostile.more_secret_texts(c)
hostile.db_fields(c, base, ["postgres", "aurora-postgresql", "oracle", "MYSQL ", "MariaDB", "redis", "",
                            "mysql\u0000", "sqlserver-ex", "../mysql", "mysql;DROP"])
for name, what in [("x" * 129, "129 characters (over MariaDB's 128)"), ("a\u0000b", "a NUL"),
                   ("ü" * 129, "129 unicode characters")]:
    v = dict(base)
    v["username"] = name
    c.secret(f"username of {what}", v, "InvalidSecret")
# Account names that name no account (or an account this password is not): the rotation
# refuses at setSecret (nothing logs in), and nothing runs on the server.
hostile.db_usernames(c, base, [
    "app`; DROP TABLE canary; --", "app'@'%", "root'@'localhost", "$USER'@'%' IDENTIFIED BY 'x",
    "$USER`@`%", "root", "mariadb.sys", "app\\", "app\r\nSET PASSWORD FOR root = 'x'",
    "${jndi:ldap://x}", "$(reboot)", "`id`", "app\u202e", "ａｄｍｉｎ", "%", "app@%", "$USER@localhost",
    "' OR '1'='1", "app\"; DROP TABLE canary; --", "PUBLIC", "$USER ", " $USER", "$USER\u00a0"])
for db, what in [("secret_rotor_test`; DROP TABLE canary; --", "SQL"), ("nope_db", "an unknown db"),
                 ("mysql", "the system schema (no access)"), ("secret_rotor_test' OR '1'='1", "quotes"),
                 ("performance_schema", "performance_schema (no access)"), ("../secret_rotor_test", "a path"),
                 ("d" * 65, "65 characters")]:
    v = dict(base)
    v["dbname"] = db
    c.secret(f"dbname {what}", v, "TargetError")  # the server: unknown database or no access
hostile.db_hosts(c, base)
hostile.db_control_chars(c, base)
hostile.shape(c, base, ["username", "password"], "root")
hostile.oversized(c, {"engine": "mariadb", "host": "127.0.0.1", "port": 1, "username": "nobody",
                      "password": "p"})
hostile.db_masterarn(c, base)
hostile.env(c)
hostile.more_env(c)

c.write(os.path.join(HERE, "cases"))
