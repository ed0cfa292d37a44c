"""A per-user rate limit with an injectable clock (shared by every way of asking a question)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class Cooldown:
    """Per-user rate limit: at most `rate` questions in any `per` seconds (sliding window).

    discord.py's `app_commands.checks.cooldown` covers slash commands only; this one is shared by
    `/ask` and mentions, and takes its clock as an argument so tests need not sleep.
    """

    def __init__(self, rate: int, per: float, clock: Callable[[], float] = time.monotonic):
        self.rate, self.per, self._clock = rate, per, clock
        self._hits: dict[int, deque[float]] = {}

    def retry_after(self, user_id: int) -> float:
        """0 and the question counted if the user may ask now; else seconds until they may."""
        if self.per <= 0:
            return 0.0
        now = self._clock()
        hits = self._hits.setdefault(user_id, deque())
        while hits and now - hits[0] >= self.per:
            hits.popleft()
        if len(hits) >= self.rate:
            return self.per - (now - hits[0])
        hits.append(now)
        if len(self._hits) > 10_000:  # forget idle users so memory stays bounded
            self._hits = {k: v for k, v in self._hits.items() if v and now - v[-1] < self.per}
        return 0.0
