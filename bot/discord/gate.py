"""The gate in front of the service: one worker thread, a bounded number of searches, and a
polite "busy" once too many questions wait.

Blocking service calls never run on the event loop: they go to the worker (one thread, so
encodes do not oversubscribe torch and the index keeps a single writer). Searches are further
bounded by a semaphore, and past `max_waiting` waiting questions the asker is told to come back
instead of queueing forever. Built alone (an executor and two numbers), so it is tested without
Discord.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

from bot.discord.render import BUSY, CONTENT_BUDGET, FAILED
from bot.discord.text import shorten
from bot.errors import QuestionError, QuotebotError

log = logging.getLogger(__name__)
T = TypeVar("T")


class Busy(Exception):
    """Too many questions are waiting; the asker is told to come back."""


class Gate:
    """`run_blocking`, `search` and `guarded` over one executor (the worker thread)."""

    def __init__(self, executor: Executor, max_concurrent: int, max_waiting: int) -> None:
        self.executor = executor
        self.max_waiting = max_waiting
        self._searches = asyncio.Semaphore(max_concurrent)
        self._waiting = 0

    async def run_blocking(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, fn, *args)

    async def search(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` (a service call that searches) on the worker, bounded by the semaphore;
        raises Busy when too many wait."""
        if self._waiting >= self.max_waiting:
            raise Busy
        self._waiting += 1
        try:
            async with self._searches:
                return await self.run_blocking(fn, *args)
        finally:
            self._waiting -= 1

    async def guarded(self, fn: Callable[..., T], *args: Any) -> T | str:
        """`search(fn, *args)`, or the polite text to send instead when it failed."""
        try:
            return await self.search(fn, *args)
        except Exception as exc:
            return polite_failure(exc)


def polite_failure(exc: BaseException) -> str:
    """What a user sees when answering failed (shared by every path that answers)."""
    if isinstance(exc, Busy):
        return BUSY
    if isinstance(exc, QuestionError):
        return shorten(str(exc), CONTENT_BUDGET)
    if isinstance(exc, QuotebotError):
        log.warning("question failed: %s", exc)
        return shorten(f"Sorry: {exc}", CONTENT_BUDGET)
    log.error("unexpected error while answering", exc_info=exc)
    return FAILED
