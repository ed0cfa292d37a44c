"""The one Discord test harness: the stand-in for Discord (`stub` fixture) and a QuoteBot logged
in to it (`running`), shared by every Discord test module instead of a copy in each.

tests/conftest.py imports the `stub` fixture, so every test module may ask for it; modules
import `running` (and `TOKEN`) from here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from bot.config import DiscordSettings
from bot.discord.client import QuoteBot
from bot.feedback.votes import FeedbackStore
from tests.discord_stub import DiscordStub

TOKEN = "MTEwMDAwMDAwMDAwMDAwMDAwMg.GqZ3kF.fake-bot-token-for-tests-0123456789abcdef"


@pytest.fixture
async def stub() -> AsyncIterator[DiscordStub]:
    server = DiscordStub(token=TOKEN)
    await server.start()
    with server.patched():
        yield server
    await server.stop()
    assert server.double_acks == 0  # no test ever made the bot respond twice to one interaction


@asynccontextmanager
async def running(
    service: Any,
    *,
    sync: bool = False,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
    feedback: FeedbackStore | None = None,
    **settings: Any,
) -> AsyncIterator[QuoteBot]:
    """A QuoteBot logged in to the stand-in and READY; closed afterwards. `settings` are
    DiscordSettings fields; the other arguments are QuoteBot's own (same defaults)."""
    bot = QuoteBot(
        service,
        DiscordSettings(**settings),
        sync=sync,
        clock=clock,
        wall_clock=wall_clock,
        feedback=feedback,
        guild_ready_timeout=0.05,
    )
    task = asyncio.create_task(bot.start(TOKEN))
    ready = asyncio.create_task(bot.wait_until_ready())
    await asyncio.wait({task, ready}, timeout=20, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        ready.cancel()
        task.result()
    assert bot.is_ready()
    try:
        yield bot
    finally:
        await bot.close()
        await asyncio.wait_for(task, 10)
