"""Database URLs and connection failures: configuration errors at once, retryable ones named."""

from __future__ import annotations

import psycopg
import pytest

from bot.errors import ConfigError, StoreUnavailableError
from bot.stores.postgres.db import Database, PgOptions, check_url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://bot:hunter2@db/kb", "starts with mysql://"),
        ("postgresq://bot:hunter2@db/kb", "starts with postgresq://"),
        ("http://db/kb", "starts with http://"),
        ("postgresql://bot:hunter2@db/kb?sslmode=on", "sslmode=on"),
        ("host=db password=hunter2 sslmode=strict", "sslmode=strict"),
        ("host=db password=hunter2 dbname", 'missing "=" after "dbname"'),
        ("postgresql://bot:hunter2@db/kb?colour=blue", "invalid URI query parameter"),
    ],
)
def test_urls_libpq_cannot_use_are_configuration_errors(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match="QUOTEBOT_DATABASE_URL") as caught:
        check_url(url)
    assert message in str(caught.value) and "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://bot:hunter2@db:5432/kb",
        "postgres://db/kb?sslmode=verify-full",
        "host=db port=5432 dbname=kb user=bot password='a b' sslmode=require",
        "postgresql:///kb?host=/var/run/postgresql",
    ],
)
def test_urls_libpq_accepts_pass(url: str) -> None:
    check_url(url)


@pytest.mark.parametrize(
    ("failure", "kind", "cause"),
    [
        (
            "failed to resolve host 'db.example': [Errno -2] Name or service not known",
            ConfigError,
            "host name is not known",
        ),
        (
            'connection failed: FATAL:  password authentication failed for user "bot"',
            ConfigError,
            "user name or password",
        ),
        ('connection failed: FATAL:  database "kb" does not exist', ConfigError, "does not exist"),
        ('connection is bad: invalid sslmode value: "on"', ConfigError, "setting"),
        (
            "failed to resolve host 'db': [Errno -3] Temporary failure in name resolution",
            StoreUnavailableError,
            "temporarily unavailable",
        ),
        (
            'connection to server at "10.0.0.5", port 5432 failed: Connection refused',
            StoreUnavailableError,
            "temporarily unavailable",
        ),
        ("connection timeout expired", StoreUnavailableError, "try again"),
    ],
)
def test_a_failure_says_whether_a_retry_can_help(failure: str, kind: type, cause: str) -> None:
    database = Database("postgresql://bot:hunter2@db.example/kb", PgOptions())
    error = database.unavailable(psycopg.OperationalError(f"{failure} (password hunter2)"))
    assert type(error) is kind and cause in str(error)
    assert "hunter2" not in str(error) and "postgresql://bot:***@db.example/kb" in str(error)
    if kind is ConfigError:
        assert "temporarily" not in str(error)
