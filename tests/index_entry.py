"""`python -m tests.index_entry [quotebot arguments]`: the real command line (`bot.cli.main`) with
the recording FakeEmbedder handed in, for subprocess tests that must not load a model.

`TEST_EMBED_DELAY_SECONDS` (default 0) is slept per embedding batch, to make an update last long
enough to be interrupted at many points. "ready" is printed on stderr once the heavy imports are
done, so a harness can time its kill from the start of the actual work.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence

import numpy as np

import bot.index.update
import bot.stores.files
from bot.cli import compose_service, main
from bot.config import Settings
from bot.service import QuoteService
from tests.fakes import FakeEmbedder

DIMENSION = 384  # as large as the real model's vectors, so saving takes realistic time


class DelayedEmbedder(FakeEmbedder):
    def __init__(self, delay: float) -> None:
        super().__init__(dimension=DIMENSION)
        self._delay = delay

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if self._delay:
            time.sleep(self._delay)
        return super().encode(texts)


def service_factory(settings: Settings) -> QuoteService:
    delay = float(os.environ.get("TEST_EMBED_DELAY_SECONDS", "0"))
    return compose_service(
        settings,
        embedder=DelayedEmbedder(delay),
        on_notice=lambda message: print(f"quotebot: {message}", file=sys.stderr, flush=True),
    )


if __name__ == "__main__":
    assert bot.stores.files.FileStore  # keep the import: it is part of what "ready" means
    print("ready", file=sys.stderr, flush=True)
    raise SystemExit(main(sys.argv[1:], service_factory=service_factory))
