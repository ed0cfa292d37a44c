"""Followed questions: who follows what, the top quote they last saw, and the notice owed to them.

A follower (a Discord user, or the person at a REPL) asks to hear when a later index generation
answers a question differently. Each row keeps the question with the conversation it was asked
in (so it is answered again in the same context), the top quote the follower last saw, and the
generation that was checked last: a durable cursor, so a bot that was down while generations
landed still checks them after a restart, and a generation already checked is never checked
again.

When a check finds a different answer, the new quote becomes `seen` and a `notice` (old → new)
is written in the same transaction; the notice is cleared once delivered. A notice that was
recorded but not yet sent (a crash in between) is sent after the restart; a generation that
does not change the answer writes no notice. At most `limit` rows per follower.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.answering.compose import Answer, Quote
from bot.answering.conversation import Conversation
from bot.answering.state import (
    conversation_from_state,
    conversation_to_state,
    quote_from_state,
    quote_to_state,
)
from bot.errors import QuotebotError
from bot.shared.sqlite_db import Database

MAX_FOLLOWS = 50

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS follows (
        follow_id INTEGER PRIMARY KEY AUTOINCREMENT,
        surface TEXT NOT NULL,
        follower TEXT NOT NULL,
        question TEXT NOT NULL,
        context TEXT NOT NULL,
        seen TEXT,
        generation INTEGER NOT NULL,
        channel_id INTEGER,
        message_id INTEGER,
        created_at REAL NOT NULL,
        notice TEXT,
        UNIQUE (surface, follower, question, context))""",
    "CREATE INDEX IF NOT EXISTS follows_generation ON follows (generation)",
)


class FollowLimitError(QuotebotError):
    """The follower already follows as many questions as one person may."""


@dataclass(frozen=True, slots=True)
class Notice:
    """What changed for one followed question: the quote seen before and the new one (None:
    the documents no longer answer it)."""

    old: Quote | None
    new: Quote | None
    generation: int


@dataclass(frozen=True, slots=True)
class Followed:
    follow_id: int
    surface: str  # "discord" or "repl"
    follower: str  # a Discord user id (DMs need it), or the local user's name
    question: str
    context: Conversation  # the conversation the question was asked in (before it)
    seen: Quote | None  # the top quote the follower last saw (None: it was declined)
    generation: int  # the last generation checked
    channel_id: int | None = None  # where the followed answer was posted (Discord)
    message_id: int | None = None
    created_at: float = 0.0
    notice: Notice | None = None  # owed to the follower, not yet delivered


def top_quote(answer: Answer) -> Quote | None:
    return None if answer.declined or not answer.quotes else answer.quotes[0]


def same_passage(a: Quote | None, b: Quote | None) -> bool:
    """The follower's answer is unchanged when the top passage is the same text from the same
    document; offsets alone may move (an edit above it) without changing what is quoted."""
    if a is None or b is None:
        return a is b
    return a.source == b.source and a.text == b.text


class FollowStore:
    def __init__(
        self, database: Database, clock: Callable[[], float], limit: int = MAX_FOLLOWS
    ) -> None:
        self.database = database
        self.limit = limit
        self._clock = clock  # wall-clock seconds
        with database.transaction() as db:
            for statement in _SCHEMA:
                db.execute(statement)

    def follow(
        self,
        surface: str,
        follower: str,
        question: str,
        context: Conversation,
        answer: Answer,
        *,
        channel_id: int | None = None,
        message_id: int | None = None,
    ) -> tuple[Followed, bool]:
        """Follow `question` as answered by `answer`; (the row, False) if it was followed
        already. Raises FollowLimitError at the limit."""
        context_json = json.dumps(conversation_to_state(context), ensure_ascii=False)
        seen = top_quote(answer)
        with self.database.transaction() as db:
            row = db.execute(
                "SELECT follow_id FROM follows WHERE surface = ? AND follower = ? "
                "AND question = ? AND context = ?",
                (surface, follower, question, context_json),
            ).fetchone()
            if row is not None:
                existing = int(row[0])
            else:
                (count,) = db.execute(
                    "SELECT COUNT(*) FROM follows WHERE surface = ? AND follower = ?",
                    (surface, follower),
                ).fetchone()
                if count >= self.limit:
                    raise FollowLimitError(
                        f"you already follow {count} questions, the most I keep for one person; "
                        "stop following some first"
                    )
                cursor = db.execute(
                    "INSERT INTO follows (surface, follower, question, context, seen, generation, "
                    "channel_id, message_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        surface,
                        follower,
                        question,
                        context_json,
                        _quote_json(seen),
                        answer.generation or 0,
                        channel_id,
                        message_id,
                        self._clock(),
                    ),
                )
                existing = int(cursor.lastrowid or 0)
        followed = self.get(existing)
        assert followed is not None
        return followed, row is None

    def get(self, follow_id: int) -> Followed | None:
        rows = self._select("follow_id = ?", (follow_id,))
        return rows[0] if rows else None

    def of(self, surface: str, follower: str) -> list[Followed]:
        """One follower's questions, oldest first (the numbers users see count from 1)."""
        return self._select("surface = ? AND follower = ?", (surface, follower))

    def due(self, generation: int, surface: str | None = None, limit: int = -1) -> list[Followed]:
        """Rows not yet checked against `generation`, oldest check first."""
        where = "generation < ?" + (" AND surface = ?" if surface else "")
        args: tuple[Any, ...] = (generation, surface) if surface else (generation,)
        return self._select(where, args, order="generation, follow_id", limit=limit)

    def owed(self, surface: str, follower: str | None = None) -> list[Followed]:
        """Rows with a notice not yet delivered."""
        where = "notice IS NOT NULL AND surface = ?" + (" AND follower = ?" if follower else "")
        args: tuple[Any, ...] = (surface, follower) if follower else (surface,)
        return self._select(where, args)

    def checked(self, followed: Followed, answer: Answer, generation: int) -> Notice | None:
        """Record that `followed` was answered by `answer` at `generation`; if its top passage
        changed, the new one becomes `seen` and the returned notice is stored until delivered.
        A row removed meanwhile, or already checked at this generation, is left alone."""
        new = top_quote(answer)
        # An undelivered notice is merged: the follower still last saw its `old`.
        old = followed.notice.old if followed.notice is not None else followed.seen
        notice = None if same_passage(old, new) else Notice(old, new, generation)
        with self.database.transaction() as db:
            if notice is None:
                cursor = db.execute(
                    "UPDATE follows SET generation = ?, seen = ?, notice = NULL "
                    "WHERE follow_id = ? AND generation < ?",
                    (generation, _quote_json(new), followed.follow_id, generation),
                )
            else:
                cursor = db.execute(
                    "UPDATE follows SET generation = ?, seen = ?, notice = ? "
                    "WHERE follow_id = ? AND generation < ?",
                    (
                        generation,
                        _quote_json(new),
                        json.dumps(_notice_to_state(notice), ensure_ascii=False),
                        followed.follow_id,
                        generation,
                    ),
                )
        return notice if cursor.rowcount else None

    def recheck(
        self,
        followed: Followed,
        converse: Callable[[Conversation, str], tuple[Answer, Conversation]],
        generation: int,
    ) -> Notice | None:
        """Answer `followed` again in its conversation (`converse` is the running service's)
        and record the result; the answer's own generation is the one recorded."""
        answer, _ = converse(followed.context, followed.question)
        return self.checked(followed, answer, answer.generation or generation)

    def delivered(self, follow_id: int) -> None:
        with self.database.transaction() as db:
            db.execute("UPDATE follows SET notice = NULL WHERE follow_id = ?", (follow_id,))

    def remove(self, follow_id: int) -> bool:
        with self.database.transaction() as db:
            cursor = db.execute("DELETE FROM follows WHERE follow_id = ?", (follow_id,))
        return cursor.rowcount > 0

    def _select(
        self, where: str, args: tuple[Any, ...], order: str = "follow_id", limit: int = -1
    ) -> list[Followed]:
        with self.database.reading() as db:
            rows = db.execute(
                "SELECT follow_id, surface, follower, question, context, seen, generation, "
                f"channel_id, message_id, created_at, notice FROM follows WHERE {where} "
                f"ORDER BY {order} LIMIT ?",
                (*args, limit),
            ).fetchall()
        return [_followed(row) for row in rows]


def _followed(row: tuple[Any, ...]) -> Followed:
    return Followed(
        int(row[0]),
        str(row[1]),
        str(row[2]),
        str(row[3]),
        conversation_from_state(json.loads(row[4])),
        _quote_from_json(row[5]),
        int(row[6]),
        None if row[7] is None else int(row[7]),
        None if row[8] is None else int(row[8]),
        float(row[9]),
        None if row[10] is None else _notice_from_state(json.loads(row[10])),
    )


def _quote_json(quote: Quote | None) -> str | None:
    return None if quote is None else json.dumps(quote_to_state(quote), ensure_ascii=False)


def _quote_from_json(text: str | None) -> Quote | None:
    return None if text is None else quote_from_state(json.loads(text))


def _notice_to_state(notice: Notice) -> dict[str, Any]:
    return {
        "old": None if notice.old is None else quote_to_state(notice.old),
        "new": None if notice.new is None else quote_to_state(notice.new),
        "generation": notice.generation,
    }


def _notice_from_state(data: dict[str, Any]) -> Notice:
    old, new = data["old"], data["new"]
    return Notice(
        None if old is None else quote_from_state(old),
        None if new is None else quote_from_state(new),
        int(data["generation"]),
    )
