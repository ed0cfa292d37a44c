"""The gate alone (no Discord): worker calls off the loop, the semaphore, Busy, polite text."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.discord.gate import Busy, Gate, polite_failure
from bot.discord.render import BUSY, FAILED
from bot.discord.worker import WorkerExecutor
from bot.errors import QuestionError, QuotebotError


@pytest.fixture
def worker() -> Iterator[WorkerExecutor]:
    executor = WorkerExecutor(name="gate-test")
    yield executor
    executor.shutdown()


async def test_run_blocking_runs_on_the_worker_thread(worker: WorkerExecutor) -> None:
    gate = Gate(worker, max_concurrent=1, max_waiting=4)
    name = await gate.run_blocking(lambda: threading.current_thread().name)
    assert name == "gate-test"


async def test_search_is_bounded_and_busy_past_the_waiting_limit() -> None:
    release = threading.Event()
    running = 0
    most = 0
    lock = threading.Lock()

    def slow() -> str:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        release.wait(5)
        with lock:
            running -= 1
        return "done"

    with ThreadPoolExecutor(4) as pool:
        gate = Gate(pool, max_concurrent=2, max_waiting=3)
        tasks = [asyncio.create_task(gate.search(slow)) for _ in range(3)]
        await asyncio.sleep(0.1)
        with pytest.raises(Busy):
            await gate.search(slow)
        assert await gate.guarded(slow) == BUSY
        release.set()
        assert await asyncio.gather(*tasks) == ["done"] * 3
        assert await gate.guarded(str, 5) == "5"  # the waiting count went back down
    assert most == 2


async def test_guarded_turns_failures_into_polite_text(worker: WorkerExecutor) -> None:
    gate = Gate(worker, max_concurrent=1, max_waiting=1)

    def fails(exc: Exception) -> None:
        raise exc

    assert await gate.guarded(fails, QuestionError("Ask a question.")) == "Ask a question."
    assert await gate.guarded(fails, QuotebotError("index gone")) == "Sorry: index gone"
    assert await gate.guarded(fails, RuntimeError("boom")) == FAILED


def test_polite_failure_of_busy() -> None:
    assert polite_failure(Busy()) == BUSY
