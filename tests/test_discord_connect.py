"""What counts as an outage at start, the backoff between attempts, and the budget.

The whole path (the real discord.py client against the local stand-in, and `quotebot discord` as
a process) is tested in test_discord_client.py; these are the pure parts, table by table.
"""

from __future__ import annotations

import logging
import random
import socket
from types import SimpleNamespace

import aiohttp
import discord
import pytest
from discord.gateway import ReconnectWebSocket

from bot.discord.connect import (
    Attempts,
    DiscordUnavailableError,
    RetryPolicy,
    describe,
    real_cause,
    transient,
)


def _http(status: int) -> discord.HTTPException:
    response = SimpleNamespace(status=status, reason="reason")
    if status >= 500:
        return discord.DiscordServerError(response, {"message": "down", "code": 0})
    return discord.HTTPException(response, {"message": "no", "code": 0})


def _closed(code: int) -> discord.ConnectionClosed:
    return discord.ConnectionClosed(SimpleNamespace(close_code=code), shard_id=None, code=code)


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (ConnectionRefusedError(111, "Connect call failed"), True),
        (socket.gaierror(-3, "Temporary failure in name resolution"), True),
        (aiohttp.ServerDisconnectedError(), True),
        (TimeoutError(), True),
        (discord.GatewayNotFound(), True),
        (ReconnectWebSocket(None), True),
        (_http(500), True),
        (_http(502), True),
        (_http(429), True),  # Cloudflare's ban answer: it ends
        (_closed(4000), True),
        (_closed(1006), True),
        (_closed(4009), True),
        (_http(401), False),
        (_http(403), False),
        (_http(400), False),
        (discord.LoginFailure("Improper token has been passed."), False),
        (discord.PrivilegedIntentsRequired(None), False),
        (_closed(4004), False),  # authentication failed
        (_closed(4010), False),  # invalid shard
        (_closed(4014), False),  # disallowed intents
        (ValueError("a bug of ours"), False),
        (AttributeError("'NoneType' object has no attribute 'sequence'"), False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_what_is_retried(error: BaseException, retry: bool) -> None:
    assert transient(error) is retry


def test_real_cause_of_a_failed_first_gateway_connection() -> None:
    """discord.py 2.7 reads `self.ws.sequence` while handling the first connection's failure;
    the AttributeError carries the real error as its context."""
    refused = ConnectionRefusedError(111, "Connect call failed")
    try:
        try:
            raise refused
        except OSError:
            raise AttributeError("'NoneType' object has no attribute 'sequence'")  # noqa: B904
    except AttributeError as exc:
        hidden = exc
    assert real_cause(hidden, gateway_opened=False) is refused
    assert real_cause(hidden, gateway_opened=True) is hidden  # a real bug once connected
    assert real_cause(refused, gateway_opened=False) is refused


def test_delays_double_up_to_the_cap_and_are_never_zero() -> None:
    policy = RetryPolicy(900.0, max_delay_seconds=60.0)
    rng = random.Random(7)
    for retry in range(1, 15):
        ceiling = min(60.0, 2.0 ** (retry - 1))
        delays = [policy.delay(retry, rng) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert max(delays) - min(delays) > ceiling / 4  # jittered
    assert sum(policy.delay(r, rng) for r in range(1, 15)) < 900  # ~11 attempts in the budget


async def test_attempts_log_each_retry_then_give_up(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    policy = RetryPolicy(1.0, max_delay_seconds=0.02, first_delay_seconds=0.01)
    attempts = Attempts("login", policy, clock=lambda: now[0], rng=random.Random(1))
    caplog.set_level(logging.WARNING, logger="bot.discord.connect")
    error = ConnectionRefusedError(111, "Connect call failed")
    await attempts.wait_after(error)
    await attempts.wait_after(error)
    now[0] = 0.9999  # less left than the next delay: one last attempt at the end of the budget
    await attempts.wait_after(error)
    now[0] = 1.0  # the budget is spent
    with pytest.raises(DiscordUnavailableError) as caught:
        await attempts.wait_after(error)
    messages = [record.getMessage() for record in caplog.records]
    assert [m.split(":")[0] for m in messages] == [
        "cannot reach Discord (login, attempt 1)",
        "cannot reach Discord (login, attempt 2)",
        "cannot reach Discord (login, attempt 3)",
    ]
    assert "ConnectionRefusedError: [Errno 111] Connect call failed; retrying in" in messages[0]
    assert "retrying in 0.0 s (gives up in 0 s)" in messages[2]
    assert str(caught.value) == (
        "cannot reach Discord (login): ConnectionRefusedError: [Errno 111] Connect call failed; "
        "gave up after 4 attempts in 1 s (exit status 75: try again later)"
    )
    assert caught.value.exit_status == 75


async def test_no_budget_means_one_attempt() -> None:
    attempts = Attempts("gateway", RetryPolicy(0.0))
    with pytest.raises(DiscordUnavailableError, match="gave up after 1 attempt in 0 s"):
        await attempts.wait_after(TimeoutError())
    assert attempts.window() == RetryPolicy(0.0).attempt_seconds  # that one attempt gets time


def test_an_attempt_may_use_what_is_left_of_the_budget() -> None:
    now = [100.0]
    attempts = Attempts("login", RetryPolicy(300.0), clock=lambda: now[0])
    assert attempts.window() == 300.0
    now[0] += 290.0
    assert attempts.window() == 30.0


def test_describe_is_one_short_line() -> None:
    assert describe(TimeoutError()) == "TimeoutError"
    assert describe(OSError("two\nlines")) == "OSError: two lines"
    assert len(describe(OSError("x" * 1000))) == 240


def test_unavailable_is_the_only_retryable_exit_status() -> None:
    from bot.discord.client import DiscordSetupError
    from bot.errors import ConfigError, QuotebotError

    assert QuotebotError.exit_status == 2
    assert ConfigError.exit_status == DiscordSetupError.exit_status == 2
    assert DiscordUnavailableError.exit_status == 75
    assert issubclass(DiscordUnavailableError, QuotebotError)
