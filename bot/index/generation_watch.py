"""Notice that the index moved to a new generation, whoever wrote it, and tell subscribers once.

Any writer may land a generation: the bot's own /reindex, `quotebot index`, or `quotebot watch`
in another process, on the files store or on PostgreSQL. So the bot does not wait to be told;
it reads the store's current generation (a cheap read: the manifest, no vectors) every few
seconds and, when it moved, calls each subscriber with the range of generations it has not
handled yet: `handler(after, upto)` covers generations `after < g <= upto`.

Each subscriber has its own durable cursor ("handled up to G") in the SQLite store, advanced
only after its handler returned. A process killed between a generation landing and its handler
finishing therefore calls the handler again for that range after a restart: handlers must be
idempotent (e.g. queue work keyed by generation, so a second call adds nothing). A handler that
raises is retried on the next poll. A subscriber seen for the first time starts at the current
generation: what changed before it existed is not its business.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.shared.sqlite_db import Database

log = logging.getLogger(__name__)

Handler = Callable[[int, int], Awaitable[None]]

_SCHEMA = """CREATE TABLE IF NOT EXISTS generation_cursors (
    subscriber TEXT PRIMARY KEY,
    generation INTEGER NOT NULL)"""


class GenerationCursors:
    """Per subscriber, the generation its handler has handled up to (durable: SQLite, FULL)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        with database.transaction() as db:
            db.execute(_SCHEMA)

    def get(self, subscriber: str) -> int | None:
        with self.database.reading() as db:
            row = db.execute(
                "SELECT generation FROM generation_cursors WHERE subscriber = ?", (subscriber,)
            ).fetchone()
        return None if row is None else int(row[0])

    def set(self, subscriber: str, generation: int) -> None:
        with self.database.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO generation_cursors VALUES (?, ?)", (subscriber, generation)
            )


@dataclass(frozen=True, slots=True)
class _Subscriber:
    name: str
    handler: Handler


class GenerationWatch:
    """Polls `read_generation` (blocking: run in a thread; None when there is no index yet)
    every `interval` seconds and calls subscribers whose cursor is behind."""

    def __init__(
        self,
        read_generation: Callable[[], int | None],
        cursors: GenerationCursors,
        interval: float,
    ) -> None:
        self._read = read_generation
        self.cursors = cursors
        self.interval = interval
        self._subscribers: list[_Subscriber] = []
        self._problems: set[str] = set()  # logged once while they last, poll after poll
        self._seen: set[str] = set()

    def subscribe(self, name: str, handler: Handler) -> None:
        """`handler(after, upto)` for every new range of generations; `name` keys the cursor."""
        if any(s.name == name for s in self._subscribers):
            raise ValueError(f"a generation subscriber named {name!r} already exists")
        self._subscribers.append(_Subscriber(name, handler))

    async def check(self) -> int | None:
        """One poll: read the current generation and bring every subscriber up to it.
        Returns the generation read (None if there is no index, or reading failed)."""
        self._problems, self._seen = self._seen, set()
        try:
            current = await asyncio.to_thread(self._read)
        except Exception as exc:
            self._problem(f"could not read the index generation: {exc}")
            return None
        if current is None:
            return None
        for subscriber in self._subscribers:
            await self._bring_up(subscriber, current)
        return current

    async def _bring_up(self, subscriber: _Subscriber, current: int) -> None:
        cursor = await asyncio.to_thread(self.cursors.get, subscriber.name)
        if cursor == current:
            return
        if cursor is not None and cursor < current:
            try:
                await subscriber.handler(cursor, current)
            except Exception as exc:
                self._problem(
                    f"{subscriber.name}: handling generations {cursor + 1}..{current} failed "
                    f"({type(exc).__name__}: {exc}); retried on the next poll",
                    exc,
                )
                return
        elif cursor is not None:  # the index was rebuilt from nothing: generations restarted
            log.info(
                "%s: index generation went back from %d to %d", subscriber.name, cursor, current
            )
        await asyncio.to_thread(self.cursors.set, subscriber.name, current)

    def _problem(self, message: str, exc: BaseException | None = None) -> None:
        if message not in self._problems:
            log.warning("%s", message, exc_info=exc)
        self._seen.add(message)

    async def run(self) -> None:
        """Poll until cancelled."""
        while True:
            try:
                await self.check()
            except Exception as exc:  # a cursor not readable or writable: try again later
                self._problem(f"could not check the index generation: {exc}", exc)
            await asyncio.sleep(self.interval)
