"""The storage seam: where an index generation is kept and how a new one is committed.

The files store (file_store.py) is the default; a PostgreSQL + pgvector store can implement the same
protocol, which is why commit() receives only what changed, never the whole corpus.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

import numpy as np

from bot.chunking import Chunk
from bot.index import Manifest, SearchIndex


class Store(Protocol):
    def read_manifest(self) -> Manifest | None:
        """The current generation's manifest (cheap: no vectors), None if there is no index.

        Raises IndexCorruptError when what is there cannot be trusted.
        """
        ...

    def open(self) -> SearchIndex | None:
        """The current generation, fully checked; None if there is no index yet."""
        ...

    def commit(
        self,
        manifest: Manifest,
        keep_sources: set[str],
        new_chunks: list[Chunk],
        new_vectors: np.ndarray,
    ) -> SearchIndex:
        """Make a new generation current, atomically: the chunks of `keep_sources` from the
        current generation (vectors reused as they are) plus the new chunks and vectors."""
        ...

    def writer_lock(self) -> AbstractContextManager[None]:
        """Held while updating; only one writer at a time. Readers never take it."""
        ...

    def tidy(self) -> None:
        """Remove what an interrupted writer left behind (temp files, superseded generations).

        Cheap when there is nothing to remove; never waits for the writer lock (if another
        process holds it, that writer cleans up when it commits).
        """
        ...

    def describe(self) -> str:
        """Where the index lives, for messages."""
        ...
