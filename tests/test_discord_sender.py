"""The sender alone (no Discord connection): one try per send, refusals remembered for a while."""

from __future__ import annotations

from typing import Any

import discord
import pytest

from bot.discord.sender import FORBIDDEN_PAUSE_SECONDS, RefusedChannels, Sender


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Response:
    """Enough of aiohttp's response for discord.HTTPException."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.reason = "test"


def http_error(kind: type[discord.HTTPException], status: int) -> discord.HTTPException:
    return kind(Response(status), "refused")  # type: ignore[arg-type]


async def send_ok() -> str:
    return "message"


async def send_failing(exc: Exception) -> Any:
    raise exc


async def test_sent_keeps_what_the_send_returned() -> None:
    sender = Sender(RefusedChannels(Clock()))
    assert await sender.sent(send_ok(), what="test") == "message"
    assert await sender.deliver(send_ok(), what="test") is True


@pytest.mark.parametrize(
    ("kind", "status"),
    [(discord.Forbidden, 403), (discord.NotFound, 404), (discord.HTTPException, 500)],
)
async def test_a_failed_send_is_false_and_logged_once(
    kind: type[discord.HTTPException], status: int, caplog: pytest.LogCaptureFixture
) -> None:
    sender = Sender(RefusedChannels(Clock()))
    failing = send_failing(http_error(kind, status))
    assert await sender.sent(failing, what="answer", channel_id=7) is None
    assert [r.getMessage().startswith("could not send answer") for r in caplog.records] == [True]
    # only a 403 makes the channel one to leave alone
    assert sender.refusals.refused(7) is (kind is discord.Forbidden)


def test_a_refused_channel_is_left_alone_for_the_pause_only() -> None:
    clock = Clock()
    refusals = RefusedChannels(clock)
    refusals.note(7)
    assert refusals.refused(7) and not refusals.refused(8)
    clock.now += FORBIDDEN_PAUSE_SECONDS - 1
    assert refusals.refused(7)
    clock.now += 1
    assert not refusals.refused(7)
