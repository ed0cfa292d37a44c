"""The generation poller: subscribers called once per new range, durable cursors, retries."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from bot.index.generation_watch import GenerationCursors, GenerationWatch
from bot.shared.sqlite_db import MEMORY, Database


class Generations:
    """The store's current generation, as a test moves it (or breaks reading it)."""

    def __init__(self, current: int | None = 1) -> None:
        self.current = current
        self.error: Exception | None = None
        self.reads = 0

    def __call__(self) -> int | None:
        self.reads += 1
        if self.error is not None:
            raise self.error
        return self.current


class Recorder:
    def __init__(self, fail: int = 0) -> None:
        self.calls: list[tuple[int, int]] = []
        self.fail = fail  # the next `fail` calls raise

    async def __call__(self, after: int, upto: int) -> None:
        self.calls.append((after, upto))
        if self.fail:
            self.fail -= 1
            raise RuntimeError("edits could not be queued")


def _watch(generations: Generations, database: Database | None = None) -> GenerationWatch:
    return GenerationWatch(generations, GenerationCursors(database or Database(MEMORY)), 0.01)


async def test_a_new_subscriber_starts_at_the_current_generation() -> None:
    generations, handler = Generations(5), Recorder()
    watch = _watch(generations)
    watch.subscribe("stale", handler)
    assert await watch.check() == 5
    assert handler.calls == []
    assert watch.cursors.get("stale") == 5


async def test_each_new_range_is_handled_once() -> None:
    generations, handler = Generations(1), Recorder()
    watch = _watch(generations)
    watch.subscribe("stale", handler)
    await watch.check()
    generations.current = 3  # two generations landed between polls
    await watch.check()
    await watch.check()
    generations.current = 4
    await watch.check()
    assert handler.calls == [(1, 3), (3, 4)]


async def test_a_failing_handler_is_retried_and_the_cursor_waits() -> None:
    generations, handler = Generations(1), Recorder()
    watch = _watch(generations)
    watch.subscribe("stale", handler)
    await watch.check()
    generations.current, handler.fail = 2, 1
    await watch.check()
    assert watch.cursors.get("stale") == 1
    await watch.check()
    assert handler.calls == [(1, 2), (1, 2)]
    assert watch.cursors.get("stale") == 2


async def test_subscribers_keep_their_own_cursors() -> None:
    generations, first, second = Generations(1), Recorder(), Recorder(fail=1)
    watch = _watch(generations)
    watch.subscribe("stale", first)
    watch.subscribe("follow", second)
    await watch.check()
    generations.current = 2
    await watch.check()  # "follow" fails: only its cursor stays behind
    await watch.check()
    assert first.calls == [(1, 2)]
    assert second.calls == [(1, 2), (1, 2)]
    with pytest.raises(ValueError, match="follow"):
        watch.subscribe("follow", second)


async def test_the_cursor_survives_a_restart(tmp_path: Path) -> None:
    """A process gone after the generation landed and before its handler ran: the next process
    handles that range, and only once."""
    path = tmp_path / "feedback.sqlite3"
    generations = Generations(1)
    watch = _watch(generations, Database(path))
    watch.subscribe("stale", Recorder())
    await watch.check()
    watch.cursors.database.close()
    generations.current = 2  # lands while no bot runs
    handler = Recorder()
    watch = _watch(generations, Database(path))
    watch.subscribe("stale", handler)
    await watch.check()
    await watch.check()
    assert handler.calls == [(1, 2)]


async def test_an_index_rebuilt_from_nothing_restarts_the_cursor() -> None:
    generations, handler = Generations(7), Recorder()
    watch = _watch(generations)
    watch.subscribe("stale", handler)
    await watch.check()
    generations.current = 1
    await watch.check()
    generations.current = 2
    await watch.check()
    assert handler.calls == [(1, 2)]


async def test_no_index_and_unreadable_index_are_waited_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    generations, handler = Generations(None), Recorder()
    watch = _watch(generations)
    watch.subscribe("stale", handler)
    assert await watch.check() is None
    generations.current = 1
    await watch.check()
    generations.error = OSError("database unreachable")
    with caplog.at_level(logging.WARNING, logger="bot.index.generation_watch"):
        for _ in range(3):
            assert await watch.check() is None
    assert len([r for r in caplog.records if "unreachable" in r.getMessage()]) == 1
    generations.error, generations.current = None, 2
    await watch.check()
    assert handler.calls == [(1, 2)]


async def test_run_polls_until_cancelled() -> None:
    generations, handler = Generations(1), Recorder()
    watch = _watch(generations)
    watch.subscribe("stale", handler)
    task = asyncio.create_task(watch.run())
    while generations.reads < 2:
        await asyncio.sleep(0.01)
    generations.current = 2
    while not handler.calls:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert handler.calls == [(1, 2)]
