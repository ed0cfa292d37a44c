"""Connections to the index database: a pool for readers, errors a user can act on, no secrets.

Only imported for `store = "postgres"`, so psycopg never slows down the files store or `--help`.
A URL libpq cannot use (unknown scheme, bad syntax, bad sslmode) is a `ConfigError` at once,
before any connection is tried. A failure to connect names its cause: what a retry can fix
(refused, timed out, server restarting) is `StoreUnavailableError` ("temporarily unavailable";
the pool checks a connection before lending it, so after a restart the next question
reconnects); what it cannot (unknown host, bad password, missing database, invalid setting) is
a `ConfigError`. The URL is a secret: messages show it redacted (`log_redaction.redact`).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from bot.errors import ConfigError, QuotebotError, StoreUnavailableError
from bot.shared.log_redaction import redact

Connection = psycopg.Connection[Any]

# The pool logs every failed reconnection attempt; with no logging configured Python would print
# them to stderr, burying the one line a user should read. An application that configures logging
# still receives them.
logging.getLogger("psycopg.pool").addHandler(logging.NullHandler())


@dataclass(frozen=True, slots=True)
class PgOptions:
    ef_search: int = 600
    pool_size: int = 4
    connect_timeout: float = 5.0
    writer_retry_seconds: float = 60.0
    retired_grace_seconds: float = 60.0
    build_memory_mb: int = 512
    hnsw_m: int = 24
    hnsw_ef_construction: int = 128


URL_VARIABLE = "QUOTEBOT_DATABASE_URL"
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# Failures a retry cannot fix, as libpq words them (connection errors carry no SQLSTATE).
_NOT_RETRYABLE = (
    (
        re.compile(r"Name or service not known|nodename nor servname|No address associated"),
        "its host name is not known (check the host in {var})",
    ),
    (
        re.compile(r"password authentication failed|no password supplied|authentication failed"),
        "it refused the user name or password in {var}",
    ),
    (
        re.compile(r"(database|role) \S+ does not exist"),
        "the database or user in {var} does not exist",
    ),
    (
        re.compile(r"invalid \S+ value|invalid port number|invalid integer value|unsupported"),
        "a setting in {var} (or a PG* environment variable) is invalid",
    ),
)


def check_url(url: str) -> None:
    """Refuse, before any connection, a URL libpq cannot use: an unknown scheme, bad syntax or an
    unknown sslmode. These are configuration errors; waiting for a connection would not help."""
    scheme = re.match(r"([A-Za-z][\w+.-]*)://", url)
    if scheme and scheme[1] not in ("postgresql", "postgres"):
        raise ConfigError(
            f"{URL_VARIABLE} starts with {scheme[1]}://, which is not a PostgreSQL URL: use "
            "postgresql://user:password@host:5432/dbname (or host=... dbname=... keywords)"
        )
    try:
        options = conninfo_to_dict(url)
    except psycopg.Error as exc:
        raise ConfigError(
            f"{URL_VARIABLE} is not a valid PostgreSQL connection string "
            f"({_first_line(exc, url)}); expected postgresql://user:password@host:5432/dbname"
        ) from None
    sslmode = options.get("sslmode")
    if sslmode is not None and str(sslmode) not in SSLMODES:
        raise ConfigError(
            f"{URL_VARIABLE} has sslmode={redact(str(sslmode))}, which libpq does not know; "
            f"use one of {', '.join(SSLMODES)}"
        )


def _first_line(exc: BaseException, url: str) -> str:
    text = str(exc).strip()
    return redact(text.splitlines()[0] if text else type(exc).__name__, _secrets(url))


def _secrets(url: str) -> list[str]:
    return [url, *([os.environ["PGPASSWORD"]] if os.environ.get("PGPASSWORD") else [])]


class Database:
    """A lazily opened pool plus dedicated connections (the writer's lock must not be pooled)."""

    def __init__(self, url: str, options: PgOptions) -> None:
        check_url(url)
        self._url = url
        self.options = options
        self._pool: ConnectionPool[Connection] | None = None
        self._guard = threading.Lock()

    def describe(self) -> str:
        return redact(self._url, _secrets(self._url))

    def unavailable(self, exc: BaseException) -> QuotebotError:
        """The error a user reads for a failed connection: a ConfigError when a retry cannot
        help, else StoreUnavailableError ("temporarily unavailable ... try again")."""
        detail = _first_line(exc, self._url)
        for pattern, cause in _NOT_RETRYABLE:
            if pattern.search(str(exc)):
                return ConfigError(
                    f"cannot use the index database {self.describe()}: "
                    f"{cause.format(var=URL_VARIABLE)} ({detail})"
                )
        return StoreUnavailableError(
            f"the index database {self.describe()} is temporarily unavailable ({detail}); "
            "try again in a moment"
        )

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A pooled autocommit connection; connection trouble becomes `unavailable()`."""
        try:
            with self._get_pool().connection() as conn:
                yield conn
        except PoolTimeout as exc:
            raise self._diagnose(exc) from None
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise self.unavailable(exc) from None

    def _diagnose(self, timeout: PoolTimeout) -> QuotebotError:
        """The pool only says it waited; one direct connection says why (or that the pool was
        merely busy)."""
        try:
            conn = self.connect()
        except QuotebotError as exc:
            return exc
        with suppress(psycopg.Error):
            conn.close()
        return self.unavailable(timeout)

    def connect(self) -> Connection:
        """A dedicated autocommit connection (held by the writer for its advisory lock)."""
        try:
            return psycopg.connect(
                self._url, autocommit=True, connect_timeout=self._connect_timeout()
            )
        except (psycopg.OperationalError, psycopg.InterfaceError, psycopg.ProgrammingError) as exc:
            raise self.unavailable(exc) from None

    def close(self) -> None:
        with self._guard:
            if self._pool is not None:
                self._pool.close()
                self._pool = None

    def _connect_timeout(self) -> int:
        return max(1, round(self.options.connect_timeout))

    def _get_pool(self) -> ConnectionPool[Connection]:
        with self._guard:
            if self._pool is None:
                # One direct connection first: a wrong host or password is reported at once and
                # by name, where the pool would only time out after connect_timeout.
                self.connect().close()
                ef_search = str(self.options.ef_search)

                def configure(conn: Connection) -> None:
                    # A placeholder setting until pgvector loads, then its per-session value.
                    conn.execute("SELECT set_config('hnsw.ef_search', %s, false)", (ef_search,))

                pool: ConnectionPool[Connection] = ConnectionPool(
                    self._url,
                    min_size=1,
                    max_size=self.options.pool_size,
                    kwargs={"autocommit": True, "connect_timeout": self._connect_timeout()},
                    configure=configure,
                    check=ConnectionPool.check_connection,
                    timeout=self.options.connect_timeout,
                    reconnect_timeout=24 * 3600.0,
                    open=False,
                    name="quotebot",
                )
                try:
                    pool.open(wait=False)
                except psycopg.ProgrammingError as exc:
                    raise self.unavailable(exc) from None
                self._pool = pool
            return self._pool
