"""The storage seam: where an index generation is kept and how a new one is committed.

The files store (stores/files.py) is the default; a PostgreSQL + pgvector store can implement the same
protocol, which is why commit() receives only what changed, never the whole corpus.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from bot.index.changelog import ChangeEntry
from bot.index.generation import Manifest, SearchIndex
from bot.ingest.chunking import Chunk


@dataclass(frozen=True, slots=True)
class UpdateJournal:
    """What a writer is about to embed, recorded before the slow part so that a writer killed
    midway is noticed (and its lost work counted) by the next one."""

    started_at: str
    documents: int
    chunks: int
    generation: int  # the generation it would have committed

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UpdateJournal:
        return cls(
            str(data["started_at"]),
            int(data["documents"]),
            int(data["chunks"]),
            int(data["generation"]),
        )


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
        *,
        change: ChangeEntry | None = None,
        history: Sequence[ChangeEntry] | None = None,
    ) -> SearchIndex:
        """Make a new generation current, atomically: the chunks of `keep_sources` from the
        current generation (vectors reused as they are) plus the new chunks and vectors.
        `change` joins the changelog in the same step (and older entries are pruned to the
        store's retention): a generation that does not land leaves no entry. `history`
        (`quotebot migrate`: another store's changelog) replaces the changelog kept so far."""
        ...

    def read_changes(self) -> list[ChangeEntry]:
        """The changelog as of the current generation, oldest first ([] if none kept)."""
        ...

    def writer_lock(self) -> AbstractContextManager[None]:
        """Held while updating; only one writer at a time. Readers never take it."""
        ...

    def begin_update(self, journal: UpdateJournal) -> UpdateJournal | None:
        """Under the writer lock, before embedding: record `journal` until this update commits or
        its process exits, and return the journal a killed writer left behind (None if none,
        or if the store keeps no journal)."""
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


@runtime_checkable
class SharedStore(Store, Protocol):
    """A store other processes write to while we read (PostgreSQL): readers follow its writer."""

    def latest(self, serving: SearchIndex) -> SearchIndex:
        """The current generation if a writer committed one since `serving`, else `serving`."""
        ...
