"""The answers stored behind Discord's buttons: expiry, tracking for stale marks, message ids."""

from __future__ import annotations

from bot.answering.compose import Answer, Quote
from bot.answering.conversation import Conversation
from bot.discord.answer_store import AnswerRecord, ChatStore
from bot.shared.sqlite_db import MEMORY, Database

HOUR = 3600.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _record(answer_id: str, created_at: float) -> AnswerRecord:
    quote = Quote(
        "a.txt", 0, 5, "Hello", (0, 5), 0.5, 1, title="Greetings", url="https://example.org/a"
    )
    answer = Answer("hi?", (quote,), False, generation=3)
    return AnswerRecord(answer_id, "user", 7, answer, Conversation(), created_at)


def test_tracked_answers_outlive_their_buttons() -> None:
    clock = Clock()
    store = ChatStore(Database(MEMORY), 1 * HOUR, clock, keep_seconds=10 * HOUR)
    store.save(_record("a" * 16, clock.now))
    store.attach_message("a" * 16, 101)
    store.save(_record("b" * 16, clock.now))  # never sent: no message
    clock.now += 2 * HOUR
    assert store.get("a" * 16) is None  # its buttons have expired
    assert store.get("a" * 16, max_age=10 * HOUR) is not None  # Refresh still knows it
    assert [(m, r.answer_id) for m, r in store.posted_since(clock.now - 3 * HOUR)] == [
        (101, "a" * 16)
    ]
    assert store.posted_since(clock.now - HOUR) == []
    clock.now += 9 * HOUR
    store.save(_record("c" * 16, clock.now))  # saving deletes what is older than both
    assert store.get("a" * 16, max_age=100 * HOUR) is None


def test_a_message_shows_one_answer_and_citations_round_trip() -> None:
    clock = Clock()
    store = ChatStore(Database(MEMORY), HOUR, clock)
    old, new = _record("a" * 16, clock.now), _record("b" * 16, clock.now)
    store.save(old)
    store.attach_message(old.answer_id, 101)
    store.save(new)
    store.attach_message(new.answer_id, 101)  # Refresh put a new answer in the message
    shown = store.by_message(101)
    assert shown is not None and shown.answer_id == new.answer_id
    assert shown.answer == new.answer  # title and url included
