"""The durable queue of stale-answer edits and the per-channel pacer."""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bot.config import DiscordSettings
from bot.discord.stale import StaleDesk
from bot.discord.stale_queue import MAX_ATTEMPTS, ChannelPacer, StaleEdit, StaleQueue
from bot.shared.sqlite_db import MEMORY, Database


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _edit(
    message: int, generation: int, channel: int = 7, stale: tuple[int, ...] = (0,)
) -> StaleEdit:
    return StaleEdit(message, generation, channel, f"{message:016x}", stale)


def test_queuing_the_same_edit_twice_adds_nothing() -> None:
    queue = StaleQueue(Database(MEMORY), Clock())
    assert queue.add([_edit(1, 2), _edit(2, 2)]) == 2
    assert queue.add([_edit(1, 2), _edit(2, 2)]) == 0  # the poller handed the range over again
    assert queue.pending() == [_edit(1, 2), _edit(2, 2)]


def test_only_the_newest_edit_of_a_message_is_sent() -> None:
    queue = StaleQueue(Database(MEMORY), Clock())
    queue.add([_edit(1, 2, stale=(0,))])
    queue.add([_edit(1, 3, stale=(0, 2))])
    assert queue.pending() == [_edit(1, 3, stale=(0, 2))]
    assert queue.states() == {(1, 2): "dropped", (1, 3): "pending"}


def test_finished_edits_are_not_sent_again_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "feedback.sqlite3"
    queue = StaleQueue(Database(path), Clock())
    queue.add([_edit(1, 2), _edit(2, 2)])
    queue.finish(_edit(1, 2), "done")
    queue.database.close()
    queue = StaleQueue(Database(path), Clock())  # the bot restarted
    assert queue.pending() == [_edit(2, 2)]
    assert queue.add([_edit(1, 2)]) == 0  # a done edit is not queued again either
    assert queue.pending() == [_edit(2, 2)]


def test_failed_edits_are_retried_then_given_up() -> None:
    queue = StaleQueue(Database(MEMORY), Clock())
    queue.add([_edit(1, 2)])
    for attempt in range(1, MAX_ATTEMPTS):
        assert queue.failed(_edit(1, 2)) == attempt
        assert queue.pending() == [_edit(1, 2)]
    assert queue.failed(_edit(1, 2)) is None
    assert queue.pending() == []


def test_old_finished_edits_are_forgotten() -> None:
    clock = Clock()
    queue = StaleQueue(Database(MEMORY), clock)
    queue.add([_edit(1, 2), _edit(2, 2)])
    queue.finish(_edit(1, 2), "done")
    clock.now += 31 * 86400
    queue.add([_edit(3, 3)])
    assert set(queue.states()) == {(2, 2), (3, 3)}  # the pending one stays however old


def test_pacer_spaces_edits_per_channel() -> None:
    clock = Clock()
    pacer = ChannelPacer(2.0, clock)  # two per second
    assert pacer.wait(7) == 0
    pacer.sent(7)
    assert pacer.wait(7) == 0.5
    assert pacer.wait(8) == 0  # another channel is not held up
    clock.now += 0.2
    assert abs(pacer.wait(7) - 0.3) < 1e-9
    clock.now += 0.3
    assert pacer.wait(7) == 0
    pacer.sent(7, hold=8.0)  # a server error: back off
    assert pacer.wait(7) == 8.0


class RecordingDesk(StaleDesk):
    """The real draining order and pacing; `apply` records instead of editing Discord."""

    def __init__(self, rate: float) -> None:
        settings = DiscordSettings()
        unused: Any = SimpleNamespace()  # the drain never answers, sends or checks anything
        super().__init__(
            unused,
            unused,
            unused,
            unused,
            unused,
            unused,
            unused,
            unused,
            StaleQueue(Database(MEMORY), Clock()),
            ChannelPacer(rate, time.monotonic),
            settings.track_answers_days * 86400.0,
        )
        self.sent: list[tuple[int, float]] = []

    async def apply(self, edit: StaleEdit) -> None:
        self.pacer.sent(edit.channel_id)
        self.sent.append((edit.channel_id, time.monotonic()))


async def test_a_busy_channel_does_not_hold_up_the_others() -> None:
    desk = RecordingDesk(rate=10.0)  # 0.1 s apart in one channel
    edits = [
        _edit(1, 2, channel=7),
        _edit(2, 2, channel=7),
        _edit(3, 2, channel=7),
        _edit(4, 2, channel=8),
    ]
    await desk._drain(edits)
    assert [channel for channel, _ in desk.sent] == [7, 8, 7, 7]
    same_channel = [at for channel, at in desk.sent if channel == 7]
    assert all(b - a >= 0.09 for a, b in itertools.pairwise(same_channel))
