"""Followed questions on Discord, through the real discord.py client against the local stand-in:
🔔 under an answer, one direct message when an update changes the answer and none when it does
not, a reply in the channel when DMs are closed, restarts, the 50 limit, /following."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.answering.compose import Answer
from bot.answering.conversation import Conversation
from bot.cli import compose_service
from bot.config import Settings
from bot.discord.follow import SUBSCRIBER
from bot.discord.follow_render import NONE_FOLLOWED
from bot.feedback.follows import FollowStore
from bot.index.generation_watch import GenerationCursors
from bot.service import QuoteService
from bot.shared.sqlite_db import Database
from tests.discord_harness import TOKEN
from tests.discord_stub import CHANNEL_ID, USER_ID, DiscordStub
from tests.fakes import FakeEmbedder
from tests.test_discord_chat import (
    LIBRARY,
    TOWN,
    answer_of,
    assert_safe,
    button,
    callback_of,
    custom_ids,
    running,
)

OTHER_USER = USER_ID + 1
SPRING = "Construction of the library starts in spring."
FAST = {"generation_poll_seconds": 0.05, "follow_pace_seconds": 0.0}


@pytest.fixture
def town(tmp_path: Path) -> Path:
    folder = tmp_path / "town"
    folder.mkdir()
    (folder / "town.txt").write_text(TOWN, encoding="utf-8")
    return folder


@pytest.fixture
def service(town: Path, make_settings: Callable[..., Settings]) -> QuoteService:
    settings = make_settings(town, chunking={"max_chars": 200, "min_chars": 0, "overlap_chars": 0})
    return compose_service(settings, embedder=FakeEmbedder(), on_notice=lambda m: None)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "feedback.sqlite3"


def _follows(db_path: Path) -> FollowStore:
    return FollowStore(Database(db_path), time.time)


async def _until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def _checked_at(db_path: Path, generation: int) -> Callable[[], bool]:
    """Every followed question checked against `generation`, and nothing owed any more."""

    def done() -> bool:
        store = _follows(db_path)
        try:
            rows = store.of("discord", str(USER_ID))
            return all(r.generation >= generation and r.notice is None for r in rows)
        finally:
            store.database.close()

    return done


async def _update(service: QuoteService, town: Path, old: str, new: str) -> int:
    """Edit the document and land a generation by another writer (as `quotebot index` would):
    the bot notices it by polling the store."""
    path = town / "town.txt"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    writer = compose_service(service.settings, embedder=FakeEmbedder(), on_notice=lambda m: None)
    report = await asyncio.to_thread(writer.refresh)
    return report.generation


async def _follow(stub: DiscordStub, question: str = LIBRARY) -> dict[str, Any]:
    answer = await answer_of(stub, await stub.slash("ask", {"question": question}))
    click = await stub.click(int(answer["id"]), button(answer, "follow"))
    ack = await callback_of(stub, click)
    assert ack.body["type"] == 4 and ack.body["data"]["flags"] & 64
    assert ack.body["data"]["content"].startswith(f"🔔 Following: **{LIBRARY}**")
    return answer


async def test_one_dm_when_an_update_changes_the_answer_and_none_when_it_does_not(
    stub: DiscordStub, service: QuoteService, town: Path, db_path: Path
) -> None:
    async with running(service, db_path, **FAST):
        answer = await _follow(stub)
        assert [i.split(":")[1] for i in custom_ids(answer)][-1] == "follow"
        # An edit elsewhere: the answer's top passage is the same, nothing is sent.
        unchanged = await _update(service, town, "Fireworks", "Bright fireworks")
        await _until(_checked_at(db_path, unchanged))
        assert stub.direct_messages(USER_ID) == [] and not stub.sent("/users/@me/channels")
        changed = await _update(service, town, SPRING, "Construction of the library starts in May.")
        await _until(_checked_at(db_path, changed))
        await asyncio.sleep(0.3)  # several more polls: still one message
        dms = stub.direct_messages(USER_ID)
    assert len(dms) == 1
    content = dms[0]["content"]
    assert content.startswith("🔔 **The answer to a question you follow changed**")
    assert f"**Question:** {LIBRARY}" in content and "starts in May" in content
    assert "-# Before: “Construction of the library starts in spring." in content
    (request,) = [
        r for r in stub.requests if r.path == f"/channels/{dms[0]['channel_id']}/messages"
    ]
    assert_safe(request)


async def test_a_generation_landed_while_down_is_checked_after_restart_and_sent_once(
    stub: DiscordStub, service: QuoteService, town: Path, db_path: Path
) -> None:
    async with running(service, db_path, **FAST):
        await _follow(stub)
    changed = await _update(service, town, SPRING, "Construction of the library starts in May.")
    async with running(service, db_path, **FAST):
        await _until(_checked_at(db_path, changed))
        await _until(lambda: len(stub.direct_messages(USER_ID)) >= 1)
    async with running(service, db_path, **FAST):
        await asyncio.sleep(0.3)
    assert len(stub.direct_messages(USER_ID)) == 1


async def test_a_notice_recorded_before_a_crash_is_sent_after_the_restart(
    stub: DiscordStub, service: QuoteService, db_path: Path
) -> None:
    """The check wrote the notice, the process died before sending it: sent on the next start."""
    store = _follows(db_path)
    row, _ = store.follow(
        "discord",
        str(USER_ID),
        LIBRARY,
        Conversation(),
        Answer(LIBRARY, (), True),  # seen: declined, generation 0
    )
    assert store.recheck(row, service.converse, 1) is not None
    store.database.close()
    async with running(service, db_path, **FAST):
        await _until(lambda: len(stub.direct_messages(USER_ID)) == 1)
        await asyncio.sleep(0.2)
    assert len(stub.direct_messages(USER_ID)) == 1
    assert (
        "-# Before: not answered by the documents." in stub.direct_messages(USER_ID)[0]["content"]
    )


async def test_rows_left_unchecked_by_a_killed_process_are_checked_at_start(
    stub: DiscordStub, service: QuoteService, db_path: Path
) -> None:
    """Killed while re-answering: the watch's cursor had moved on, the row had not."""
    generation = (await asyncio.to_thread(service.refresh)).generation
    GenerationCursors(Database(db_path)).set(SUBSCRIBER, generation)
    store = _follows(db_path)
    row, _ = store.follow(
        "discord", str(USER_ID), LIBRARY, Conversation(), Answer(LIBRARY, (), True)
    )
    assert row.generation == 0 < generation
    async with running(service, db_path, **FAST):
        await _until(lambda: len(stub.direct_messages(USER_ID)) == 1)
        await _until(_checked_at(db_path, generation))
    assert SPRING in stub.direct_messages(USER_ID)[0]["content"]
    store.database.close()


async def test_closed_dms_get_a_reply_to_the_answer_mentioning_only_the_follower(
    service: QuoteService, town: Path, db_path: Path
) -> None:
    stub = DiscordStub(token=TOKEN, closed_dms={USER_ID})
    await stub.start()
    try:
        with stub.patched():
            async with running(service, db_path, **FAST):
                answer = await _follow(stub)
                changed = await _update(service, town, SPRING, "Construction starts in May.")
                await _until(_checked_at(db_path, changed))
    finally:
        await stub.stop()
    dm_posts = [
        r
        for r in stub.requests
        if r.path.startswith("/channels/")
        and r.method == "POST"
        and int(r.path.split("/")[2]) in stub.dm_channels
    ]
    assert len(dm_posts) == 1  # tried once, refused (403), not retried
    replies = [
        r for r in stub.sent(f"/channels/{CHANNEL_ID}/messages") if r.body.get("message_reference")
    ]
    (reply,) = replies
    assert reply.body["content"].startswith(f"<@{USER_ID}> 🔔 **The answer")
    assert reply.body["message_reference"]["message_id"] == int(answer["id"])
    # Only the follower may be pinged (not the author of the message replied to).
    assert reply.body["allowed_mentions"] == {"parse": [], "users": [USER_ID]}


async def test_fifty_followed_questions_at_most(
    stub: DiscordStub, service: QuoteService, db_path: Path
) -> None:
    store = _follows(db_path)
    for n in range(50):
        store.follow(
            "discord", str(USER_ID), f"question {n}", Conversation(), Answer("q", (), True)
        )
    store.database.close()
    async with running(service, db_path, **FAST):
        answer = await answer_of(stub, await stub.slash("ask", {"question": LIBRARY}))
        click = await stub.click(int(answer["id"]), button(answer, "follow"))
        refused = (await callback_of(stub, click)).body["data"]["content"]
        other = await stub.click(int(answer["id"]), button(answer, "follow"), user_id=OTHER_USER)
        accepted = (await callback_of(stub, other)).body["data"]["content"]
    assert refused.startswith("you already follow 50 questions, the most I keep for one person")
    assert "/following" in refused
    assert accepted.startswith(f"🔔 Following: **{LIBRARY}**")
    assert len(_follows(db_path).of("discord", str(USER_ID))) == 50


async def test_following_lists_and_removes(
    stub: DiscordStub, service: QuoteService, db_path: Path
) -> None:
    async with running(service, db_path, **FAST):
        empty = await stub.slash("following")
        assert (await callback_of(stub, empty)).body["data"]["content"] == NONE_FOLLOWED
        answer = await _follow(stub)
        again = await stub.click(int(answer["id"]), button(answer, "follow"))
        assert (
            (await callback_of(stub, again))
            .body["data"]["content"]
            .startswith("🔔 You already follow")
        )
        listed = await stub.slash("following")
        listing = (await callback_of(stub, listed)).body["data"]
        wrong = await stub.slash("following", {"remove": 2})
        refused = (await callback_of(stub, wrong)).body["data"]["content"]
        remove = await stub.slash("following", {"remove": 1})
        removed = (await callback_of(stub, remove)).body["data"]["content"]
        after = await stub.slash("following")
        final = (await callback_of(stub, after)).body["data"]["content"]
    assert listing["flags"] & 64
    assert listing["content"].splitlines() == [
        "**You follow 1 question:**",
        f"1. {LIBRARY}",
        "-# Stop following one with /following remove:N.",
    ]
    assert refused == "You follow 1; give a number from 1 to 1 (see /following)."
    assert removed == f"Stopped following: **{LIBRARY}**"
    assert final == NONE_FOLLOWED


async def test_many_followed_questions_do_not_hold_up_a_question(
    stub: DiscordStub, service: QuoteService, town: Path, db_path: Path
) -> None:
    """Rechecks run one at a time on the worker, paced: a question asked meanwhile is answered
    while most of them still wait."""
    await asyncio.to_thread(service.refresh)
    store = _follows(db_path)
    for n in range(200):
        asked = Answer(f"What about item {n}?", (), True, generation=1)
        store.follow("discord", str(USER_ID + n), asked.question, Conversation(), asked)
    async with running(service, db_path, generation_poll_seconds=0.05, follow_pace_seconds=0.02):
        changed = await _update(service, town, "Fireworks", "Bright fireworks")
        await _until(lambda: len(store.due(changed, "discord")) < 200)
        token = await stub.slash("ask", {"question": LIBRARY})
        answer = await answer_of(stub, token)
        still_due = len(store.due(changed, "discord"))
    assert "library" in answer["content"]
    assert still_due > 100
    store.database.close()
