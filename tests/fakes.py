"""Small fakes handed in through constructors (no patching of our own code)."""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path

import numpy as np

from bot.embedding.model import ModelSpec
from bot.index.watcher import Debounce
from bot.shared.text import keyword_tokens


class FakeEmbedder:
    """Deterministic hashed bag-of-stems vectors; records every text it embeds."""

    def __init__(self, model_id: str = "fake-model", dimension: int = 64) -> None:
        self._spec = ModelSpec(model_id, model_id)
        self._dimension = dimension
        self.calls: list[list[str]] = []

    @property
    def spec(self) -> ModelSpec:
        return self._spec

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def embedded(self) -> list[str]:
        return [text for call in self.calls for text in call]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        vectors = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in keyword_tokens(text) or ["empty"]:
                bucket = int(hashlib.md5(token.encode()).hexdigest(), 16) % self._dimension
                vectors[row, bucket] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-9)


class ManualSource:
    """Batches of filesystem changes on demand, in place of watchfiles' debounced watch.

    Each collection put in `events` is yielded as one batch; while none is waiting, an empty
    batch every `idle_seconds` (what watchfiles yields when nothing changed). `events.join()`
    returns once every batch put has been handled: the watcher has asked for the next one.
    """

    def __init__(self, idle_seconds: float = 0.05) -> None:
        self.events: queue.Queue[Collection[object]] = queue.Queue()
        self._idle = idle_seconds

    def __call__(
        self, folder: Path, stop: threading.Event, debounce: Debounce
    ) -> Iterator[Collection[object]]:
        while not stop.is_set():
            try:
                batch = self.events.get(timeout=self._idle)
            except queue.Empty:
                yield set()
                continue
            try:
                yield batch
            finally:
                self.events.task_done()
