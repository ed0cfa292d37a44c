"""`python -m tests.judge_fill_entry TABLE`: fill a judge vector table the way the index writer
does (bot.index.judge_vectors.fill, then mark it complete), with the FakeEmbedder slowed down
and one transaction per 64 entries, so that a SIGKILL can land anywhere: in an encoder call,
in a transaction, between them, or in marking the table complete."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import bot.index.judge_vectors as judge_vectors
from bot.answering.judge import PassageJudge
from bot.stores.judge_sqlite import SqliteJudgeTable
from tests.fakes import FakeEmbedder

COMPLETION = judge_vectors.Completion(1, "kill-test")


def passages(count: int = 300) -> list[str]:
    """Deterministic passages: two sentences of numbered words each (many distinct texts)."""
    return [
        f"Word{i} met word{i + 1} and word{i * 7 % 101}. Then word{i * 3 % 257} left word{i + 2}."
        for i in range(count)
    ]


class SlowEmbedder(FakeEmbedder):
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        time.sleep(0.02)  # 15 encoder calls: ~0.3 s in all
        return super().encode(texts)


if __name__ == "__main__":
    judge_vectors.WRITE_BATCH = 64
    judge = PassageJudge(SlowEmbedder())
    table = SqliteJudgeTable(Path(sys.argv[1]), judge.model_id, judge.dimension)
    print("ready", file=sys.stderr, flush=True)
    judge_vectors.fill(table, judge, passages())
    table.mark_complete(COMPLETION)
    table.close()
    print("done", flush=True)
