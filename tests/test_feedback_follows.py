"""Followed questions in SQLite: the limit, the durable cursor, and notices owed exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.answering.compose import Answer, Quote
from bot.answering.conversation import Conversation, Turn
from bot.feedback.follows import FollowLimitError, FollowStore, Notice, same_passage, top_quote
from bot.shared.sqlite_db import MEMORY, Database


def _quote(text: str, start: int = 0, source: str = "a.txt") -> Quote:
    return Quote(source, start, start + len(text), text, None, 0.9, 1)


def _answer(quote: Quote | None, generation: int) -> Answer:
    if quote is None:
        return Answer("q", (), True, "not in my documents", generation=generation)
    return Answer("q", (quote,), False, generation=generation)


def _store(path: Path | str = MEMORY, limit: int = 50) -> FollowStore:
    return FollowStore(Database(path), lambda: 1000.0, limit)


CONTEXT = Conversation((Turn("Who runs it?", "Who runs it?", (_quote("Li runs it."),)),))


def test_follow_once_per_question_and_context_and_keep_the_context() -> None:
    store = _store()
    first, new = store.follow("discord", "7", "And since when?", CONTEXT, _answer(_quote("x"), 3))
    again, new_again = store.follow("discord", "7", "And since when?", CONTEXT, _answer(None, 4))
    other, _ = store.follow("discord", "7", "And since when?", Conversation(), _answer(None, 4))
    assert new and not new_again and again.follow_id == first.follow_id
    assert other.follow_id != first.follow_id
    assert first.context == CONTEXT and first.generation == 3 and first.seen == _quote("x")
    assert [f.follow_id for f in store.of("discord", "7")] == [first.follow_id, other.follow_id]
    assert store.of("repl", "7") == [] and store.of("discord", "8") == []


def test_fifty_per_follower_then_a_clear_refusal() -> None:
    store = _store()
    for n in range(50):
        store.follow("discord", "7", f"question {n}", Conversation(), _answer(None, 1))
    with pytest.raises(FollowLimitError, match="already follow 50 questions"):
        store.follow("discord", "7", "one more", Conversation(), _answer(None, 1))
    store.follow("discord", "8", "one more", Conversation(), _answer(None, 1))  # per follower
    store.remove(store.of("discord", "7")[0].follow_id)
    store.follow("discord", "7", "one more", Conversation(), _answer(None, 1))
    assert len(store.of("discord", "7")) == 50


def test_same_passage_ignores_offsets_but_not_text_or_source() -> None:
    assert same_passage(_quote("Li runs it.", 0), _quote("Li runs it.", 40))
    assert not same_passage(_quote("Li runs it."), _quote("Wu runs it."))
    assert not same_passage(_quote("Li runs it."), _quote("Li runs it.", source="b.txt"))
    assert same_passage(None, None) and not same_passage(None, _quote("x"))
    assert top_quote(_answer(None, 1)) is None


def test_a_changed_answer_owes_one_notice_and_an_unchanged_one_none() -> None:
    store = _store()
    row, _ = store.follow("discord", "7", "q", Conversation(), _answer(_quote("old"), 1))
    assert store.due(2) == [row]
    assert store.checked(row, _answer(_quote("old", 50), 2), 2) is None  # moved, same text
    assert store.due(2) == [] and store.owed("discord") == []
    row = store.due(3)[0]
    notice = store.checked(row, _answer(_quote("new"), 3), 3)
    assert notice == Notice(_quote("old", 50), _quote("new"), 3)  # the moved one was seen
    owed = store.owed("discord")
    assert [o.notice for o in owed] == [notice] and owed[0].seen == _quote("new")
    store.checked(owed[0], _answer(_quote("newer"), 3), 3)  # generation 3 again: left alone
    assert store.get(row.follow_id).notice == notice  # type: ignore[union-attr]
    store.delivered(row.follow_id)
    assert store.owed("discord") == []
    declined = store.checked(store.due(4)[0], _answer(None, 4), 4)
    assert declined == Notice(_quote("new"), None, 4)


def test_an_undelivered_notice_is_merged_and_dropped_when_the_change_is_undone() -> None:
    store = _store()
    row, _ = store.follow("discord", "7", "q", Conversation(), _answer(_quote("A"), 1))
    store.checked(row, _answer(_quote("B"), 2), 2)
    pending = store.due(3)[0]
    assert store.checked(pending, _answer(_quote("C"), 3), 3) == Notice(_quote("A"), _quote("C"), 3)
    assert store.checked(store.due(4)[0], _answer(_quote("A"), 4), 4) is None
    assert store.owed("discord") == [] and store.get(row.follow_id).seen == _quote("A")  # type: ignore[union-attr]


def test_rows_cursors_and_notices_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    store = _store(path)
    row, _ = store.follow("discord", "7", "q", CONTEXT, _answer(_quote("A"), 1), channel_id=5)
    store.checked(row, _answer(_quote("B"), 2), 2)
    store.database.close()
    again = _store(path)
    (owed,) = again.owed("discord")
    assert owed.notice == Notice(_quote("A"), _quote("B"), 2)
    assert owed.generation == 2 and owed.channel_id == 5 and owed.context == CONTEXT
    assert again.due(2) == []


def test_recheck_answers_in_the_stored_conversation() -> None:
    store = _store()
    row, _ = store.follow("repl", "me", "And since when?", CONTEXT, _answer(_quote("A"), 1))
    asked: list[tuple[Conversation, str]] = []

    def converse(conversation: Conversation, question: str) -> tuple[Answer, Conversation]:
        asked.append((conversation, question))
        return _answer(_quote("B"), 5), conversation

    assert store.recheck(row, converse, 5) == Notice(_quote("A"), _quote("B"), 5)
    assert asked == [(CONTEXT, "And since when?")]
    assert store.get(row.follow_id).generation == 5  # type: ignore[union-attr]
