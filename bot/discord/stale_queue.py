"""The durable queue of stale-answer edits, and the per-channel pacing that drains it.

An edit is keyed by (message, generation): the generation poller may hand the same range of
generations over again after a crash (its cursor advances only once the edits are queued), and
queuing an edit twice adds nothing. An edit is marked done only after Discord accepted it, so
a crash between the two repeats that one edit with the same content (an idempotent PATCH), and
no edit is lost. Only the newest pending edit of a message is sent: it carries every mark.

Kept in the bot's SQLite store (`sqlite_db`), next to the answers the edits are about.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from bot.shared.sqlite_db import Database

MAX_ATTEMPTS = 5  # server errors (5xx, timeouts) before an edit is given up
BACKOFF_SECONDS = 2.0  # after the n-th failed attempt the channel waits BACKOFF_SECONDS * 4**(n-1)
DONE_KEEP_SECONDS = 30 * 86400.0  # finished edits are forgotten after this

_SCHEMA = """CREATE TABLE IF NOT EXISTS stale_edits (
    message_id INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,
    answer_id TEXT NOT NULL,
    stale TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    queued_at REAL NOT NULL,
    PRIMARY KEY (message_id, generation))"""

Outcome = Literal["done", "dropped"]


@dataclass(frozen=True, slots=True)
class StaleEdit:
    """Mark quotes `stale` (positions in the answer) of the answer `answer_id` shown in message
    `message_id`, as of generation `generation`."""

    message_id: int
    generation: int
    channel_id: int
    answer_id: str
    stale: tuple[int, ...]


class StaleQueue:
    def __init__(self, database: Database, clock: Callable[[], float]) -> None:
        self.database = database
        self._clock = clock  # wall-clock seconds
        with database.transaction() as db:
            db.execute(_SCHEMA)

    def add(self, edits: Sequence[StaleEdit]) -> int:
        """Queue edits (one transaction); returns how many were new."""
        now = self._clock()
        with self.database.transaction() as db:
            db.execute(
                "DELETE FROM stale_edits WHERE state != 'pending' AND queued_at < ?",
                (now - DONE_KEEP_SECONDS,),
            )
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO stale_edits "
                "(message_id, generation, channel_id, answer_id, stale, queued_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        e.message_id,
                        e.generation,
                        e.channel_id,
                        e.answer_id,
                        json.dumps(e.stale),
                        now,
                    )
                    for e in edits
                ],
            )
            return int(db.total_changes - before)

    def pending(self, limit: int = 100) -> list[StaleEdit]:
        """The newest pending edit of each message, oldest queued first; older pending edits of
        the same message are superseded (dropped) on the way."""
        with self.database.transaction() as db:
            db.execute(
                "UPDATE stale_edits SET state = 'dropped' WHERE state = 'pending' AND EXISTS ("
                "SELECT 1 FROM stale_edits AS newer WHERE newer.message_id = "
                "stale_edits.message_id AND newer.generation > stale_edits.generation "
                "AND newer.state = 'pending')"
            )
            rows = db.execute(
                "SELECT message_id, generation, channel_id, answer_id, stale FROM stale_edits "
                "WHERE state = 'pending' ORDER BY queued_at, message_id LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            StaleEdit(int(m), int(g), int(c), str(a), tuple(int(i) for i in json.loads(s)))
            for m, g, c, a, s in rows
        ]

    def finish(self, edit: StaleEdit, outcome: Outcome) -> None:
        with self.database.transaction() as db:
            db.execute(
                "UPDATE stale_edits SET state = ? WHERE message_id = ? AND generation = ?",
                (outcome, edit.message_id, edit.generation),
            )

    def failed(self, edit: StaleEdit) -> int | None:
        """Count a failed attempt: how many there were, None when the edit is given up."""
        with self.database.transaction() as db:
            db.execute(
                "UPDATE stale_edits SET attempts = attempts + 1, state = CASE WHEN attempts + 1 "
                ">= ? THEN 'dropped' ELSE state END WHERE message_id = ? AND generation = ?",
                (MAX_ATTEMPTS, edit.message_id, edit.generation),
            )
            row = db.execute(
                "SELECT state, attempts FROM stale_edits WHERE message_id = ? AND generation = ?",
                (edit.message_id, edit.generation),
            ).fetchone()
        return None if row is None or row[0] == "dropped" else int(row[1])

    def states(self) -> dict[tuple[int, int], str]:
        """(message, generation) → pending / done / dropped (for tests and diagnostics)."""
        with self.database.reading() as db:
            rows = db.execute("SELECT message_id, generation, state FROM stale_edits").fetchall()
        return {(int(m), int(g)): str(s) for m, g, s in rows}


class ChannelPacer:
    """At most `rate` edits per second in one channel (Discord's own 429 handling is
    discord.py's; this keeps us from reaching it when one update touches many answers)."""

    def __init__(self, rate: float, clock: Callable[[], float]) -> None:
        self.interval = 1.0 / rate
        self._clock = clock  # monotonic seconds
        self._next: dict[int, float] = {}

    def wait(self, channel_id: int) -> float:
        """Seconds to wait before the next edit in `channel_id` (0: go now)."""
        return max(0.0, self._next.get(channel_id, 0.0) - self._clock())

    def sent(self, channel_id: int, hold: float = 0.0) -> None:
        """An edit went to `channel_id`; `hold`: wait at least this long before the next (a
        server error: back off)."""
        self._next[channel_id] = self._clock() + max(self.interval, hold)
        if len(self._next) > 10_000:  # forget channels whose slot has long passed
            now = self._clock()
            self._next = {c: t for c, t in self._next.items() if t > now}
