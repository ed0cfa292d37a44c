"""One SQLite database file for feedback votes and the state behind Discord's answer buttons.

Durability: WAL journal with `synchronous=FULL`. A vote is acknowledged to the user only after
its transaction commits; in WAL mode a committed transaction survives a crash of the process
(SIGKILL) with either NORMAL or FULL, because the commit is in the WAL file and the kernel's page
cache survives the process. FULL additionally fsyncs the WAL on every commit, so the vote also
survives power loss or an OS crash. Votes are rare (a click each), so one fsync per vote costs
nothing noticeable, and "thanks, noted" then means noted.

Blocking: callers on an event loop run these methods in a thread (`asyncio.to_thread`); one
connection shared by threads, serialised by a lock (sqlite3 allows that with
`check_same_thread=False`), and `busy_timeout` makes a second process (a REPL voting while the
bot runs) wait for the write lock instead of failing.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.errors import QuotebotError

MEMORY = ":memory:"


class Database:
    """A connection with the pragmas above; `transaction()` yields it under the lock."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if self.path != MEMORY:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._connection = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=10.0
            )
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("PRAGMA synchronous=FULL")
            self._connection.execute("PRAGMA busy_timeout=10000")
        except sqlite3.Error as exc:
            raise QuotebotError(f"cannot open the feedback database {self.path}: {exc}") from None
        self._lock = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT (or ROLLBACK on error), one thread at a time."""
        with self._lock:
            connection = self._connection
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._connection

    def close(self) -> None:
        with self._lock:
            self._connection.close()
