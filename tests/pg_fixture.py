"""A real, throwaway PostgreSQL with pgvector for the tests (pgserver bundles both).

One server per test session, under a temporary directory; each test gets a database of its own,
so tests never see each other's index. `PgServer.stop()`/`start()` let a test take the database
away mid-session and bring it back on the same socket.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

_counter = itertools.count(1)


@dataclass
class PgServer:
    server: Any
    pgdata: Path

    def url(self, database: str = "postgres") -> str:
        return str(self.server.get_uri(database))

    def new_database(self) -> str:
        """A fresh, empty database; returns its URL."""
        import psycopg

        name = f"qb_test_{next(_counter)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name} STRATEGY FILE_COPY")
        return self.url(name)

    def stop(self) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.server.system_user)

    def start(self) -> None:
        with self.server._lock:
            self.server.ensure_postgres_running()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    import pgserver

    with tempfile.TemporaryDirectory(prefix="quotebot-pg-") as tmp:
        pgdata = Path(tmp) / "pgdata"
        server = pgserver.get_server(pgdata, cleanup_mode="stop")
        # Throwaway data: durability only costs time (CREATE DATABASE, commits, shutdown).
        server.psql(
            "ALTER SYSTEM SET fsync = off; ALTER SYSTEM SET full_page_writes = off; "
            "SELECT pg_reload_conf();"
        )
        handle = PgServer(server, pgdata)
        try:
            yield handle
        finally:
            server.cleanup()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    return pg_server.new_database()
