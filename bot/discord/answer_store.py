"""What Discord's answer buttons and replies need after a restart, in the feedback database.

A button's `custom_id` carries only `qb:<action>:<answer id>`: Discord limits it to 100
characters, and it is visible to clients, so the state stays here: who asked (a salted hash, as
in `feedback`), where, the answer shown, and the conversation as it stood after it. The bot's
message ids map to answer ids, so a reply to an answer continues that answer's conversation,
and the threads the bot opened are remembered. Records older than the expiry are deleted; their
buttons get a polite "expired".
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.answering.compose import Answer
from bot.answering.conversation import Conversation
from bot.answering.state import (
    answer_from_state,
    answer_to_state,
    conversation_from_state,
    conversation_to_state,
)
from bot.shared.sqlite_db import Database

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS chat_answers (
        answer_id TEXT PRIMARY KEY,
        user_hash TEXT NOT NULL,
        channel_id INTEGER NOT NULL,
        message_id INTEGER,
        created_at REAL NOT NULL,
        answer TEXT NOT NULL,
        conversation TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS chat_answers_message ON chat_answers (message_id)",
    """CREATE TABLE IF NOT EXISTS chat_threads (
        thread_id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL, created_at REAL NOT NULL)""",
)


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    answer_id: str
    user_hash: str
    channel_id: int
    answer: Answer
    conversation: Conversation  # including the turn that produced `answer`
    created_at: float


def new_answer_id() -> str:
    """16 hex digits: unguessable enough that nobody clicks someone else's stale answer by
    forging an id, short enough for a custom_id."""
    return secrets.token_hex(8)


class ChatStore:
    def __init__(
        self,
        database: Database,
        expire_seconds: float,
        clock: Callable[[], float],
        keep_seconds: float = 0.0,
    ) -> None:
        """Buttons work for `expire_seconds`; records are kept for the longer of that and
        `keep_seconds` (answers tracked for stale marks and their Refresh button)."""
        self.database = database
        self.expire_seconds = expire_seconds
        self.keep_seconds = max(expire_seconds, keep_seconds)
        self._clock = clock  # wall-clock seconds: records outlive the process
        with database.transaction() as db:
            for statement in _SCHEMA:
                db.execute(statement)

    def now(self) -> float:
        return self._clock()

    def threads(self) -> dict[int, int]:
        """Threads the bot opened → the channel each was opened in."""
        with self.database.reading() as db:
            rows = db.execute("SELECT thread_id, parent_id FROM chat_threads").fetchall()
        return {int(thread): int(parent) for thread, parent in rows}

    def save(self, record: AnswerRecord) -> None:
        with self.database.transaction() as db:
            db.execute(
                "DELETE FROM chat_answers WHERE created_at < ?",
                (self._clock() - self.keep_seconds,),
            )
            db.execute(
                "INSERT OR REPLACE INTO chat_answers VALUES (?, ?, ?, NULL, ?, ?, ?)",
                (
                    record.answer_id,
                    record.user_hash,
                    record.channel_id,
                    record.created_at,
                    json.dumps(answer_to_state(record.answer), ensure_ascii=False),
                    json.dumps(conversation_to_state(record.conversation), ensure_ascii=False),
                ),
            )

    def attach_message(self, answer_id: str, message_id: int) -> None:
        """The message now shows this answer (and no other: Refresh puts a new answer in an
        old message)."""
        with self.database.transaction() as db:
            db.execute(
                "UPDATE chat_answers SET message_id = NULL WHERE message_id = ? AND answer_id != ?",
                (message_id, answer_id),
            )
            db.execute(
                "UPDATE chat_answers SET message_id = ? WHERE answer_id = ?",
                (message_id, answer_id),
            )

    def get(self, answer_id: str, max_age: float | None = None) -> AnswerRecord | None:
        """The answer if younger than `max_age` seconds (default: the buttons' expiry)."""
        return self._one("answer_id = ?", answer_id, max_age)

    def by_message(self, message_id: int, max_age: float | None = None) -> AnswerRecord | None:
        return self._one("message_id = ?", message_id, max_age)

    def posted_since(self, created_after: float) -> list[tuple[int, AnswerRecord]]:
        """(message id, answer) of answers posted (a message attached) after a time."""
        with self.database.reading() as db:
            rows = db.execute(
                f"SELECT message_id, {_COLUMNS} FROM chat_answers "
                "WHERE message_id IS NOT NULL AND created_at >= ? ORDER BY created_at",
                (created_after,),
            ).fetchall()
        return [(int(row[0]), _record(row[1:])) for row in rows]

    def _one(self, where: str, value: object, max_age: float | None) -> AnswerRecord | None:
        with self.database.reading() as db:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM chat_answers WHERE {where}", (value,)
            ).fetchone()
        age = self.expire_seconds if max_age is None else max_age
        if row is None or row[3] < self._clock() - age:
            return None
        return _record(row)

    def add_thread(self, thread_id: int, parent_id: int) -> None:
        with self.database.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO chat_threads VALUES (?, ?, ?)",
                (thread_id, parent_id, self._clock()),
            )


_COLUMNS = "answer_id, user_hash, channel_id, created_at, answer, conversation"


def _record(row: Sequence[Any]) -> AnswerRecord:
    return AnswerRecord(
        row[0],
        row[1],
        int(row[2]),
        answer_from_state(json.loads(row[4])),
        conversation_from_state(json.loads(row[5])),
        float(row[3]),
    )
