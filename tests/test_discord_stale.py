"""Stale answers through the real discord.py client against the local stand-in: an update by
another writer marks exactly the answers that quoted a changed passage, Refresh edits in place,
gone messages and channels are dropped quietly, and a SIGKILL between the index landing and the
edits still gives each edit once after the restart."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.cli import compose_service
from bot.config import Settings, load_settings
from bot.discord.answer_store import AnswerRecord
from bot.discord.client import QuoteBot
from bot.discord.render import MAX_QUOTES, STALE_MARK, render_answer
from bot.index.storage import Store
from bot.service import QuoteService
from bot.stores.files import FileStore
from bot.stores.postgres.db import Database as PgDatabase
from bot.stores.postgres.db import PgOptions
from bot.stores.postgres.store import PgStore
from tests.discord_harness import TOKEN, running
from tests.discord_stub import CHANNEL_ID, OTHER_CHANNEL_ID, DiscordStub, Request
from tests.fakes import FakeEmbedder
from tests.test_discord_changes import _paragraph, _write
from tests.test_discord_client import _child, _reap

QUESTIONS = (
    "What does section 1 of the harbour report say?",
    "What does section 3 of the harbour report say?",
    "What did the school report section 2 find?",
)
FAST = {"generation_poll_seconds": 0.05, "stale_edits_per_second": 50.0, "cooldown_rate": 20}


class Corpus:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(exist_ok=True)
        self.docs = {
            "a.txt": [_paragraph("harbour", n) for n in range(4)],
            "b.txt": [_paragraph("school", n) for n in range(3)],
        }
        self.write()

    def write(self) -> None:
        for name, paragraphs in self.docs.items():
            _write(self.folder / name, paragraphs)

    def edit_quoted(self, source: str, start: int) -> None:
        """Rewrite the paragraph of `source` that begins at `start`."""
        text = "\n\n".join(self.docs[source]) + "\n"
        n = text[:start].count("\n\n")
        self.docs[source][n] = self.docs[source][n].replace("repairs", "lighthouse beacons")
        self.write()


def _writer(settings: Settings) -> QuoteService:
    """Another process's writer (`quotebot index`): its own service over the same index."""
    return compose_service(settings, embedder=FakeEmbedder(), on_notice=lambda m: None)


async def _ask(stub: DiscordStub, question: str, channel_id: int = CHANNEL_ID) -> int:
    token = await stub.slash("ask", {"question": question}, channel_id=channel_id)
    await stub.wait_for(lambda _: bool(stub.followup_messages(token)))
    return int(stub.followup_messages(token)[0]["id"])


async def _record(bot: QuoteBot, message_id: int) -> AnswerRecord:
    """The answer the message shows (the bot maps the message to it just after sending)."""
    for _ in range(200):
        record = bot.chat.store.by_message(message_id)
        if record is not None:
            return record
        await asyncio.sleep(0.02)
    raise AssertionError(f"message {message_id} shows no stored answer")


def _only_quoted_by(records: dict[int, AnswerRecord], target: int) -> tuple[str, int]:
    """A passage shown in `target`'s answer and in no other answer."""
    shown = {m: r.answer.quotes[:MAX_QUOTES] for m, r in records.items()}
    for quote in shown[target]:
        others = [
            q
            for m, quotes in shown.items()
            if m != target
            for q in quotes
            if q.source == quote.source and q.start < quote.end and quote.start < q.end
        ]
        if not others:
            return quote.source, quote.start
    raise AssertionError("every passage of the answer is quoted by another answer too")


def _custom_ids(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message["components"] for c in row["components"]]


def _inert(request: Request) -> dict[str, Any]:
    body = request.body
    assert isinstance(body, dict)
    assert body["allowed_mentions"]["parse"] == []
    return body


async def test_an_update_marks_exactly_the_answers_that_quoted_the_changed_passage(
    stub: DiscordStub,
    tmp_path: Path,
    make_settings: Callable[..., Settings],
) -> None:
    corpus = Corpus(tmp_path / "kb")
    settings = make_settings(corpus.folder)
    async with running(_writer(settings), **FAST) as bot:
        messages = [await _ask(stub, q) for q in QUESTIONS]
        records = {m: await _record(bot, m) for m in messages}
        target = messages[0]
        source, start = _only_quoted_by(records, target)

        (corpus.folder / "c.txt").write_text(_paragraph("airport", 1) + "\n", encoding="utf-8")
        await asyncio.to_thread(_writer(settings).refresh)  # a new document: nothing quoted it
        await asyncio.sleep(0.5)
        assert stub.edits() == []

        corpus.edit_quoted(source, start)
        await asyncio.to_thread(_writer(settings).refresh)
        await stub.wait_for(lambda _: bool(stub.edits()))
        await asyncio.sleep(0.5)  # room for a wrong second edit to show up
        edits = stub.edits()
        assert [r.path for r in edits] == [f"/channels/{CHANNEL_ID}/messages/{target}"]
        body = _inert(edits[0])
        assert body["content"].count(STALE_MARK) == 1
        old_id = records[target].answer_id
        assert f"qbr:{old_id}" in _custom_ids(body)
        assert f"qb:more:{old_id}" in _custom_ids(body)  # the answer's own buttons stay

        # Refresh: the same question again, from the new generation, in the same message.
        token = await stub.click(target, f"qbr:{old_id}")
        await stub.wait_for(lambda _: len(stub.edits()) == 2)
        callback = next(r for r in stub.messages_for(token) if r.path.endswith("/callback"))
        assert callback.body["type"] == 6  # deferred update: no new message
        body = _inert(stub.edits()[1])
        fresh = await _record(bot, target)
        assert body["content"] == render_answer(fresh.answer, show_question=True)
        assert STALE_MARK not in body["content"]
        assert not [c for c in _custom_ids(body) if c.startswith("qbr:")]
        assert fresh.answer_id != old_id and f"qb:more:{fresh.answer_id}" in _custom_ids(body)
        assert fresh.answer.generation == 3
        assert fresh.answer.question == QUESTIONS[0]
        assert len(stub.followup_messages(token)) == 0  # nothing posted besides the edit


# The PostgreSQL side asks for `pg_url` only when it runs, so it carries its marker itself.
@pytest.fixture(params=["files", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_of(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    """A new store object on one index per call (each writer or reader process has its own)."""
    if request.param == "files":
        yield lambda: FileStore(tmp_path / "idx")
        return
    url = request.getfixturevalue("pg_url")
    opened: list[PgStore] = []

    def build() -> Store:
        opened.append(PgStore(PgDatabase(url, PgOptions()), lock_timeout=5))
        return opened[-1]

    yield build
    for store in opened:
        store.close()


async def test_updates_by_a_writer_elsewhere_are_noticed_on_both_stores(
    stub: DiscordStub,
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    store_of: Callable[[], Store],
) -> None:
    """`quotebot index` in another process, on the files store or PostgreSQL (where the bot is
    a reader): the bot notices the generation, marks the answer, and Refresh answers from it."""
    corpus = Corpus(tmp_path / "kb")
    reader = make_settings(corpus.folder)
    writer = make_settings(corpus.folder, knowledge={"path": corpus.folder, "watch": True})

    def service(settings: Settings = writer) -> QuoteService:
        return compose_service(
            settings, embedder=FakeEmbedder(), store=store_of(), on_notice=lambda m: None
        )

    await asyncio.to_thread(service().refresh)  # the writer indexes first
    async with running(service(reader), **FAST) as bot:
        message = await _ask(stub, QUESTIONS[2])
        before = await _record(bot, message)
        corpus.edit_quoted(before.answer.quotes[0].source, before.answer.quotes[0].start)
        generation = (await asyncio.to_thread(service().refresh)).generation
        await stub.wait_for(lambda _: bool(stub.edits(message)))
        assert STALE_MARK in _inert(stub.edits(message)[0])["content"]
        await stub.click(message, f"qbr:{before.answer_id}")
        await stub.wait_for(lambda _: len(stub.edits(message)) == 2)
        assert (await _record(bot, message)).answer.generation == generation


async def test_gone_messages_channels_and_refusals_are_dropped_quietly(
    stub: DiscordStub,
    tmp_path: Path,
    make_settings: Callable[..., Settings],
) -> None:
    corpus = Corpus(tmp_path / "kb")
    settings = make_settings(corpus.folder)
    async with running(_writer(settings), **FAST) as bot:
        deleted = await _ask(stub, QUESTIONS[0])
        await _ask(stub, QUESTIONS[0], channel_id=OTHER_CHANNEL_ID)
        archived = await _ask(stub, QUESTIONS[0])
        stub.edit_status[archived] = 400
        stub.delete_message(deleted)
        stub.channel_status[OTHER_CHANNEL_ID] = 404
        corpus.docs = {
            name: [p.replace("repairs", "lighthouse beacons") for p in paragraphs]
            for name, paragraphs in corpus.docs.items()
        }
        corpus.write()
        await asyncio.to_thread(_writer(settings).refresh)
        await stub.wait_for(lambda _: len(stub.edits()) == 3)
        await asyncio.sleep(0.5)
        assert len(stub.edits()) == 3  # each tried once: 404s and 400s are not retried
        assert set(bot.stale.queue.states().values()) == {"dropped"}
        del stub.channel_status[OTHER_CHANNEL_ID]
        assert await _ask(stub, QUESTIONS[1])  # the bot carries on


def _child_settings(tmp_path: Path, knowledge: Path) -> Settings:
    return load_settings(
        None, {"knowledge": {"path": knowledge}, "index": {"dir": tmp_path / "child-index"}}
    )


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
@pytest.mark.subprocess
async def test_sigkill_before_the_edits_edits_once_after_restart(
    stub: DiscordStub,
    tmp_path: Path,
) -> None:
    corpus = Corpus(tmp_path / "kb")
    env = {
        "QUOTEBOT_DISCORD__GENERATION_POLL_SECONDS": "0.1",
        "QUOTEBOT_DISCORD__STALE_EDITS_PER_SECOND": "50",
    }
    child = await _child(stub, tmp_path, corpus.folder, TOKEN, extra_env=env)
    try:
        await stub.wait_for_session(1, timeout=40)
        message = await _ask(stub, QUESTIONS[2])
        await asyncio.sleep(0.5)  # the poller has recorded the generation it started at
        child.send_signal(signal.SIGKILL)
        await child.wait()
        # The index lands while the bot is down: the edit has not happened.
        corpus.docs = {
            name: [p.replace("repairs", "lighthouse beacons") for p in paragraphs]
            for name, paragraphs in corpus.docs.items()
        }
        corpus.write()
        await asyncio.to_thread(_writer(_child_settings(tmp_path, corpus.folder)).refresh)
        assert stub.edits() == []

        child = await _child(stub, tmp_path, corpus.folder, TOKEN, extra_env=env)
        await stub.wait_for(lambda _: bool(stub.edits(message)), timeout=40)
        await asyncio.sleep(1.0)
        child.send_signal(signal.SIGKILL)
        await child.wait()
        child = await _child(stub, tmp_path, corpus.folder, TOKEN, extra_env=env)
        await stub.wait_for_session(3, timeout=40)
        await asyncio.sleep(1.5)  # several polls
        assert len(stub.edits(message)) == 1
        assert STALE_MARK in _inert(stub.edits(message)[0])["content"]
        child.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(child.wait(), 20) == 0
    finally:
        await _reap(child)


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
@pytest.mark.subprocess
async def test_sigkill_between_queued_edits_sends_the_rest_once_after_restart(
    stub: DiscordStub,
    tmp_path: Path,
) -> None:
    """Killed while the queue paces two edits in one channel (one sent, one waiting): after the
    restart the waiting one is sent and the sent one is not sent again."""
    corpus = Corpus(tmp_path / "kb")
    env = {
        "QUOTEBOT_DISCORD__GENERATION_POLL_SECONDS": "0.1",
        "QUOTEBOT_DISCORD__STALE_EDITS_PER_SECOND": "0.2",  # 5 s between edits in a channel
    }
    child = await _child(stub, tmp_path, corpus.folder, TOKEN, extra_env=env)
    try:
        await stub.wait_for_session(1, timeout=40)
        messages = [await _ask(stub, QUESTIONS[0]), await _ask(stub, QUESTIONS[2])]
        await asyncio.sleep(0.5)
        corpus.docs = {
            name: [p.replace("repairs", "lighthouse beacons") for p in paragraphs]
            for name, paragraphs in corpus.docs.items()
        }
        corpus.write()
        await asyncio.to_thread(_writer(_child_settings(tmp_path, corpus.folder)).refresh)
        await stub.wait_for(lambda _: bool(stub.edits()), timeout=20)
        await asyncio.sleep(1.0)  # the first edit is recorded as done; the second waits
        child.send_signal(signal.SIGKILL)
        await child.wait()
        assert len(stub.edits()) == 1
        first = next(m for m in messages if stub.edits(m))
        second = next(m for m in messages if m != first)

        child = await _child(stub, tmp_path, corpus.folder, TOKEN, extra_env=env)
        await stub.wait_for(lambda _: bool(stub.edits(second)), timeout=40)
        await asyncio.sleep(1.0)
        assert len(stub.edits(first)) == 1 and len(stub.edits(second)) == 1
        child.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(child.wait(), 20) == 0
    finally:
        await _reap(child)
