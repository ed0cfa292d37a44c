"""Copy an index from one store to another without re-embedding: vectors move as they are, and
so does the changelog (what each update changed), so `quotebot changes` and `sources`' last
change read the same after the move."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np

from bot.config import Settings
from bot.errors import ConfigError, KnowledgeError
from bot.index.changelog import ChangeEntry
from bot.index.generation import Manifest
from bot.index.storage import Store
from bot.ingest.chunking import Chunk
from bot.shared.wording import plural
from bot.stores.files import FileStore
from bot.stores.open_store import open_postgres, retention

SUPPORTED = {("files", "postgres"), ("postgres", "files")}


@dataclass(frozen=True, slots=True)
class MigrateReport:
    documents: int
    chunks: int
    generation: int
    target: str
    changes: int = 0  # changelog entries copied

    def summary(self) -> str:
        return (
            f"copied {plural(self.documents, 'document')} and {plural(self.chunks, 'chunk')} "
            f"(no re-embedding) and {plural(self.changes, 'changelog entry', 'changelog entries')} "
            f"to {self.target} as generation {self.generation}"
        )


@dataclass(frozen=True, slots=True)
class _Snapshot:
    manifest: Manifest
    chunks: list[Chunk]
    vectors: np.ndarray
    changes: list[ChangeEntry]


def migrate(
    settings: Settings,
    source: str,
    target: str,
    on_notice: Callable[[str], None] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> MigrateReport:
    """The source store's current generation, with its changelog, becomes the target's current
    generation. Its number is kept when the target has not gone past it (so `changes --since 7`
    means the same on both), else it is the target's next, and a note entry says so."""
    if (source, target) not in SUPPORTED:
        raise ConfigError(
            f"cannot migrate from {source} to {target}; supported: files -> postgres, "
            "postgres -> files"
        )
    files = FileStore(
        settings.index_dir,
        settings.index.lock_timeout_seconds,
        on_notice,
        retention=retention(settings),
    )  # float32 in memory: vectors are copied exactly
    database = open_postgres(settings, on_notice)
    try:
        if source == "files":
            return _copy(_from_files(files), database, source, now)
        return _copy(_from_postgres(database), files, source, now)
    finally:
        close = getattr(database, "close", None)
        if close is not None:
            close()  # its connection pool's threads would outlive us


def _copy(
    snapshot: _Snapshot, store: Store, source: str, now: Callable[[], datetime]
) -> MigrateReport:
    with store.writer_lock():
        current = store.read_manifest()
        was = snapshot.manifest.generation
        generation = max(was, current.generation + 1 if current is not None else 1)
        history = list(snapshot.changes)
        if generation != was:
            note = (
                f"copied by quotebot migrate from the {source} store, where it was generation {was}"
            )
            history.append(ChangeEntry(generation, now().isoformat(timespec="seconds"), (), note))
        manifest = replace(snapshot.manifest, generation=generation)
        store.commit(manifest, set(), snapshot.chunks, snapshot.vectors, history=history)
    return MigrateReport(
        len(manifest.documents),
        len(snapshot.chunks),
        generation,
        store.describe(),
        len(snapshot.changes),
    )


def _from_files(files: FileStore) -> _Snapshot:
    index = files.open()
    if index is None:
        raise KnowledgeError(
            f"there is no files index at {files.describe()}; run `quotebot index` first "
            '(with [index] store = "files")'
        )
    return _Snapshot(index.manifest, index.chunks, index.vectors, files.read_changes())


def _from_postgres(store: Store) -> _Snapshot:
    from bot.stores.postgres.store import PgStore

    assert isinstance(store, PgStore)
    exported = store.export()
    if exported is None:
        raise KnowledgeError(
            f"there is no index in {store.describe()}; run `quotebot index` first "
            '(with [index] store = "postgres")'
        )
    manifest, chunks, vectors = exported
    return _Snapshot(manifest, chunks, vectors, store.read_changes())
