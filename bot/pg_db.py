"""Connections to the index database: a pool for readers, errors a user can act on, no secrets.

Only imported for `store = "postgres"`, so psycopg never slows down the files store or `--help`.
Every failure to reach the database becomes `StoreUnavailableError` ("temporarily unavailable"):
the pool checks a connection before lending it, so after a restart the next question reconnects.
The URL is a secret: messages show it with the password replaced, and any error text is scrubbed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import psycopg
from psycopg_pool import ConnectionPool

from bot.errors import StoreUnavailableError

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


def redact(url: str) -> str:
    """The URL with its password replaced by ***, for messages and `describe()`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "postgresql://***"
    if parts.password is None:
        cleaned = url
    else:
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        user = quote(unquote(parts.username or ""), safe="")
        cleaned = urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
    return _strip_password_option(cleaned)


def _strip_password_option(url: str) -> str:
    """`?password=...` is legal in libpq URLs too."""
    parts = urlsplit(url)
    if "password=" not in parts.query:
        return url
    query = "&".join(
        "password=***" if item.startswith("password=") else item for item in parts.query.split("&")
    )
    return urlunsplit(parts._replace(query=query))


def scrub(message: str, url: str) -> str:
    """Error text with every spelling of the password removed."""
    try:
        parts = urlsplit(url)
        secrets = [parts.password] if parts.password else []
        secrets += [
            item.split("=", 1)[1] for item in parts.query.split("&") if item.startswith("password=")
        ]
    except ValueError:
        return message.replace(url, "postgresql://***")
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***").replace(unquote(secret), "***")
    return message.replace(url, redact(url))


class Database:
    """A lazily opened pool plus dedicated connections (the writer's lock must not be pooled)."""

    def __init__(self, url: str, options: PgOptions) -> None:
        self._url = url
        self.options = options
        self._pool: ConnectionPool[Connection] | None = None
        self._guard = threading.Lock()

    def describe(self) -> str:
        return redact(self._url)

    def unavailable(self, exc: BaseException) -> StoreUnavailableError:
        detail = scrub(str(exc).strip().splitlines()[0] if str(exc).strip() else "", self._url)
        return StoreUnavailableError(
            f"the index database {self.describe()} is temporarily unavailable"
            + (f" ({detail})" if detail else "")
            + "; try again in a moment"
        )

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A pooled autocommit connection; connection trouble becomes StoreUnavailableError."""
        try:
            with self._get_pool().connection() as conn:
                yield conn
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise self.unavailable(exc) from None

    def connect(self) -> Connection:
        """A dedicated autocommit connection (held by the writer for its advisory lock)."""
        try:
            return psycopg.connect(
                self._url, autocommit=True, connect_timeout=self._connect_timeout()
            )
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise self.unavailable(exc) from None
        except psycopg.ProgrammingError as exc:  # a malformed URL
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
