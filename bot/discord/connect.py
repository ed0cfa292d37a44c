"""Getting connected to Discord at start: what a network or Discord outage costs, and for how long.

discord.py keeps a session alive by itself once connected: after the first gateway connection,
`Client.connect(reconnect=True)` resumes after drops, with its own backoff, for as long as the
process runs. What escapes it is the start: the login HTTP call raises at once when Discord
cannot be reached, and a failed *first* gateway connection escapes too (discord.py 2.7 then reads
`self.ws.sequence` while `ws` is still None, so the real error arrives as the `__context__` of an
AttributeError). An AutoShardedClient, on the contrary, retries a shard's first connection every
5 s forever.

So the start is retried here, bounded: login, then the first gateway connection, each for up to
`connect_retry_seconds`, waiting between attempts with exponential backoff and jitter, logging
each retry. When the budget is spent the bot exits with status 75 (EX_TEMPFAIL): a supervisor
restarts it later. A rejected token or a refused configuration is never retried (status 2).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import aiohttp
import discord
from discord.gateway import ReconnectWebSocket

from bot.errors import QuotebotError
from bot.shared.text import shorten_line

log = logging.getLogger(__name__)

# Gateway close codes after which Discord says not to reconnect: authentication failed, invalid
# shard, sharding required, invalid API version, invalid intents, disallowed intents.
FATAL_CLOSE_CODES = frozenset({4004, 4010, 4011, 4012, 4013, 4014})


class DiscordUnavailableError(QuotebotError):
    """Discord could not be reached within the retry budget; trying again later may work."""

    exit_status: ClassVar[int] = 75  # EX_TEMPFAIL (sysexits.h): a supervisor should restart us


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long to keep trying one step of the start, and how long to wait between attempts."""

    budget_seconds: float
    max_delay_seconds: float = 60.0
    first_delay_seconds: float = 1.0
    # An attempt still hanging after this long (or after what is left of the budget, if longer)
    # has failed: a network that drops packets would otherwise hold one login for aiohttp's 300 s,
    # and a sharded client retries a shard's first connection forever.
    attempt_seconds: float = 30.0

    def delay(self, retry: int, rng: random.Random) -> float:
        """The wait before retry number `retry` (1 = the first): doubling from
        `first_delay_seconds`, capped, half of it random so that many bots cut off by one outage
        do not all come back in the same second, and never zero."""
        ceiling = min(self.max_delay_seconds, self.first_delay_seconds * 2.0 ** (retry - 1))
        return ceiling / 2 + rng.uniform(0.0, ceiling / 2)


def transient(exc: BaseException) -> bool:
    """Whether a start-up failure is the network's or Discord's, which a later attempt can fix:
    no route, refused or reset connections, timeouts, 5xx and 429 answers, gateway closes that
    Discord allows reconnecting after. A rejected token (LoginFailure), a refused intent or
    shard, or any other 4xx answer is not."""
    if isinstance(exc, discord.ConnectionClosed):
        return exc.code not in FATAL_CLOSE_CODES
    if isinstance(exc, discord.HTTPException):
        return exc.status == 429 or exc.status >= 500
    return isinstance(
        exc,
        (OSError, aiohttp.ClientError, TimeoutError, discord.GatewayNotFound, ReconnectWebSocket),
    )


def real_cause(exc: BaseException, *, gateway_opened: bool) -> BaseException:
    """The error behind a failed first gateway connection (see the module docstring)."""
    if isinstance(exc, AttributeError) and not gateway_opened and exc.__context__ is not None:
        return exc.__context__
    return exc


def describe(exc: BaseException) -> str:
    """One short line naming the failure (aiohttp's messages name the host, never the token)."""
    text = " ".join(str(exc).split())
    line = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return shorten_line(line, 240)


class Attempts:
    """The attempts at one step (`what`): the budget, the backoff and the log of each retry."""

    def __init__(
        self,
        what: str,
        policy: RetryPolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.what = what
        self.policy = policy
        self._clock = clock
        self._rng = rng or random.Random()
        self.started = clock()
        self.failures = 0

    def window(self) -> float:
        """How long the current attempt may take before it counts as failed."""
        left = self.started + self.policy.budget_seconds - self._clock()
        return max(left, self.policy.attempt_seconds)

    async def wait_after(self, cause: BaseException) -> None:
        """Log the failure and sleep before the next attempt (the last one at the end of the
        budget); raise DiscordUnavailableError once the budget is spent."""
        self.failures += 1
        left = self.started + self.policy.budget_seconds - self._clock()
        if left <= 0:
            raise self.give_up(cause)
        delay = min(self.policy.delay(self.failures, self._rng), left)
        log.warning(
            "cannot reach Discord (%s, attempt %d): %s; retrying in %.1f s (gives up in %.0f s)",
            self.what,
            self.failures,
            describe(cause),
            delay,
            left,
        )
        await asyncio.sleep(delay)

    def timed_out(self, window: float) -> DiscordUnavailableError:
        """The error for an attempt still hanging after `window` seconds, the budget spent."""
        self.failures += 1
        return self.give_up(TimeoutError(f"not connected within {window:.0f} s"))

    def give_up(self, cause: BaseException) -> DiscordUnavailableError:
        spent = self._clock() - self.started
        return DiscordUnavailableError(
            f"cannot reach Discord ({self.what}): {describe(cause)}; gave up after "
            f"{self.failures} attempt{'s' if self.failures != 1 else ''} in {spent:.0f} s "
            f"(exit status {DiscordUnavailableError.exit_status}: try again later)"
        )


async def log_in(
    client: discord.Client,
    token: str,
    policy: RetryPolicy,
    *,
    past_network: Callable[[], bool],
) -> None:
    """`client.login(token)`, retried while the failure is transient.

    login() ends with setup_hook (index update, model load), which may take minutes and must
    not be cut short: once `past_network()` says it began, the attempt runs to its end.
    """
    attempts = Attempts("login", policy)
    while True:
        attempt = asyncio.ensure_future(client.login(token))
        window = attempts.window()
        await asyncio.wait({attempt}, timeout=window)
        if not attempt.done():
            if past_network():
                await attempt
                return
            await _cancel(attempt)
            raise attempts.timed_out(window)
        exc = attempt.exception()
        if exc is None:
            return
        if not transient(exc):
            raise exc
        await _new_http_session(client)
        await attempts.wait_after(exc)


async def connect(client: discord.Client, policy: RetryPolicy, connected: asyncio.Event) -> None:
    """Run the gateway connection until the client closes. Until `connected` is set (READY on
    every shard of this process), a transient failure is retried here within the budget; after
    that, reconnecting is discord.py's."""
    noise = _FirstConnectNoise()
    library = logging.getLogger("discord.client")
    library.addFilter(noise)
    try:
        runner = await _first_connection(client, policy, connected)
    finally:
        library.removeFilter(noise)
    if runner is not None:
        await runner


async def _first_connection(
    client: discord.Client, policy: RetryPolicy, connected: asyncio.Event
) -> asyncio.Future[None] | None:
    """The running connection once `connected` is set, or None if the client closed first."""
    attempts = Attempts("gateway", policy)
    while True:
        runner = asyncio.ensure_future(client.connect(reconnect=True))
        up = asyncio.ensure_future(connected.wait())
        window = attempts.window()
        await asyncio.wait({runner, up}, timeout=window, return_when=asyncio.FIRST_COMPLETED)
        if up.done():
            return runner
        up.cancel()
        if not runner.done():  # e.g. a sharded client retrying a shard by itself
            await _cancel(runner)
            raise attempts.timed_out(window)
        exc = runner.exception()
        if exc is None:
            return None  # closed before it connected: the bot is stopping
        cause = real_cause(exc, gateway_opened=client.ws is not None)
        if not transient(cause):
            raise cause
        await attempts.wait_after(cause)


class _FirstConnectNoise(logging.Filter):
    """Drops discord.py's "Attempting a reconnect in N s" (ERROR, with a traceback) while the
    first gateway connection is tried: it does not reconnect then, it gives up after that wait
    (module docstring), and our own retry line says what happens instead. Kept with --debug."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg != "Attempting a reconnect in %.2fs":
            return True
        return logging.getLogger("discord").isEnabledFor(logging.DEBUG)


async def _new_http_session(client: discord.Client) -> None:
    """Close the HTTP session a failed login opened, so the next login does not leak it.

    Closing the session also closes its connector, which discord.py would reuse; MISSING makes
    the next `static_login` create a new one (what a fresh client does).
    """
    await client.http.close()
    client.http.connector = discord.utils.MISSING


async def _cancel(task: asyncio.Future[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
