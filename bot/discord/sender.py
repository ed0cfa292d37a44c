"""Sending to Discord without making things worse: one try per send, refusals remembered.

`Forbidden`/`NotFound` on a send are logged once and never retried: 401/403/404 responses count
towards Discord's limit of 10,000 invalid requests per 10 minutes. A channel that refused us
(403) is remembered for `FORBIDDEN_PAUSE_SECONDS`, so the bot leaves it alone for a while
(`RefusedChannels.refused`). Built alone (a clock), so it is tested without a connection.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import discord

log = logging.getLogger(__name__)
T = TypeVar("T")

FORBIDDEN_PAUSE_SECONDS = 600.0


class RefusedChannels:
    """Channels whose last send was refused (403), each for `pause` seconds."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        pause: float = FORBIDDEN_PAUSE_SECONDS,
    ) -> None:
        self._clock = clock
        self.pause = pause
        self._since: dict[int, float] = {}

    def note(self, channel_id: int) -> None:
        self._since[channel_id] = self._clock()

    def refused(self, channel_id: int) -> bool:
        since = self._since.get(channel_id)
        if since is None:
            return False
        if self._clock() - since < self.pause:
            return True
        del self._since[channel_id]
        return False


class Sender:
    """`deliver`, `sent` and `send_reply`: every send of the bot goes through one of these."""

    def __init__(self, refusals: RefusedChannels) -> None:
        self.refusals = refusals

    async def sent(
        self, send: Awaitable[T], *, what: str, channel_id: int | None = None
    ) -> T | None:
        """`deliver`, keeping what the send returned (the message sent), or None on failure."""
        box: list[T] = []

        async def keep() -> None:
            box.append(await send)

        ok = await self.deliver(keep(), what=what, channel_id=channel_id)
        return box[0] if ok and box else None

    async def deliver(
        self, send: Awaitable[object], *, what: str, channel_id: int | None = None
    ) -> bool:
        """Await one send; on Forbidden/NotFound log once and give up (never retried: 401/403/404
        responses count towards Discord's limit of 10,000 invalid requests per 10 minutes)."""
        try:
            await send
        except (discord.Forbidden, discord.NotFound) as exc:
            log.warning("could not send %s: %s (not retried)", what, exc)
            if channel_id is not None and isinstance(exc, discord.Forbidden):
                self.refusals.note(channel_id)
            return False
        except discord.HTTPException as exc:
            log.warning("could not send %s: %s", what, exc)
            return False
        return True

    async def send_reply(self, message: discord.Message, content: str) -> None:
        await self.deliver(
            message.reply(content, mention_author=False, suppress_embeds=True),
            what=f"reply in channel {message.channel.id}",
            channel_id=message.channel.id,
        )
