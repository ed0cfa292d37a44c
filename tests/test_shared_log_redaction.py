"""Redaction: every form a PostgreSQL password can take in a connection string, in free text."""

from __future__ import annotations

import logging
import sys

import pytest

from bot.shared.log_redaction import (
    RedactingFilter,
    connection_passwords,
    environment_secrets,
    redact,
)

# (text as a message might quote it, the secret that must disappear, what must survive)
FORMS = [
    ("postgresql://bot:hunter2@db.example:5432/kb", "hunter2", "postgresql://bot:***@db.example"),
    ("postgres://bot:hunter2@db/kb", "hunter2", "postgres://bot:***@db/kb"),
    ("postgresql://bot:s3cr%40t%20x@db/kb", "s3cr%40t", "bot:***@db/kb"),
    ("postgresql://bot:pw1@h1:5432,h2:5433/kb", "pw1", "@h1:5432,h2:5433/kb"),
    ("mysql://bot:hunter2@db/kb", "hunter2", "mysql://bot:***@db/kb"),
    ("postgresql://bot@db/kb?password=hunter2", "hunter2", "?password=***"),
    (
        "postgresql://bot@db/kb?sslmode=require&password=hunter2&application_name=x",
        "hunter2",
        "sslmode=require&password=***&application_name=x",
    ),
    ("postgresql://bot@db/kb?%70assword=hunter2", "hunter2", "?%70assword=***"),
    ("postgresql://db/kb?sslpassword=keypass", "keypass", "sslpassword=***"),
    ("host=db password=hunter2 dbname=kb", "hunter2", "host=db password=*** dbname=kb"),
    ("host=db password = hunter2 dbname=kb", "hunter2", "password = *** dbname=kb"),
    ("host=db password='a b c' dbname=kb", "a b c", "password=*** dbname=kb"),
    ("host=db password='it\\'s \\\\ odd' dbname=kb", "odd", "password=*** dbname=kb"),
    ("host=db password=esc\\ aped dbname=kb", "aped", "password=*** dbname=kb"),
    ("host=db PASSWORD=hunter2", "hunter2", "PASSWORD=***"),
    ("PGPASSWORD=hunter2 psql -h db", "hunter2", "PGPASSWORD=*** psql"),
    ("export PGPASSWORD='hunter 2'", "hunter 2", "export PGPASSWORD=***"),
    ("{'host': 'db', 'password': 'hunter2'}", "hunter2", "'password': '***'"),
    ('{"password": "hunter2"}', "hunter2", '"password": "***"'),
]


@pytest.mark.parametrize(("text", "secret", "kept"), FORMS)
def test_every_password_form_is_redacted_without_being_told_the_secret(
    text: str, secret: str, kept: str
) -> None:
    message = f"connection to {text} failed; is the server running?"
    clean = redact(message)
    assert secret not in clean
    assert kept in clean
    assert clean.startswith("connection to ") and clean.endswith("is the server running?")


@pytest.mark.parametrize(
    ("url", "password"),
    [
        ("postgresql://bot:s3cr%40t@db/kb", "s3cr@t"),
        ("postgresql://bot@db/kb?password=top%20secret", "top secret"),
        ("host=db password='it\\'s' dbname=kb", "it's"),
        ("host=db password=plain dbname=kb", "plain"),
        ("mysql://bot:hunter2@db/kb", "hunter2"),  # libpq cannot parse it: the patterns can
    ],
)
def test_a_known_url_removes_its_password_wherever_it_is_spelled(url: str, password: str) -> None:
    assert connection_passwords(url) == [password] or password in connection_passwords(url)
    # A driver may quote the password alone, decoded or encoded, outside any URL.
    for spelling in {password, password.replace(" ", "%20").replace("@", "%40")}:
        clean = redact(f"authentication failed: {spelling!r} rejected", [url])
        assert spelling not in clean and "***" in clean


def test_an_unterminated_quote_hides_the_rest_of_its_line_only() -> None:
    clean = redact("bad: host=db password='never closed\nnext line")
    assert clean == "bad: host=db password=***\nnext line"


def test_a_url_without_password_is_kept_readable() -> None:
    url = "host=db.example dbname=kb user=bot"
    assert redact(f"cannot reach {url}", [url]) == f"cannot reach {url}"
    assert redact("postgresql://bot@db/kb?sslmode=require") == (
        "postgresql://bot@db/kb?sslmode=require"
    )


def test_plain_secrets_and_tokens() -> None:
    token = "MTA5ODc2NTQzMjEw.GaBcDe.abcdefghijklmnopqrstuvwxyz0123"
    assert redact(f"token {token} leaked") == "token [redacted token] leaked"
    assert redact("value s3cret-value here", ["s3cret-value"]) == "value *** here"
    assert redact("a short db password", ["db"]) == "a short db password"  # too short to hunt


def test_environment_secrets_are_values_of_known_variables() -> None:
    environ = {"PGPASSWORD": "hunter2", "DISCORD_TOKEN": "", "HOME": "/root"}
    assert environment_secrets(environ) == ["hunter2"]


def test_the_log_filter_redacts_messages_and_tracebacks() -> None:
    redactor = RedactingFilter(["host=db password=hunter2"])
    try:
        raise RuntimeError("failed: host=db password=hunter2 and again hunter2")
    except RuntimeError:
        record = logging.LogRecord(
            "psycopg.pool",
            logging.WARNING,
            __file__,
            1,
            "error connecting to %s",
            ("postgresql://bot:hunter2@db/kb",),
            exc_info=sys.exc_info(),
        )
    assert redactor.filter(record)
    assert "hunter2" not in record.getMessage() and "hunter2" not in (record.exc_text or "")
