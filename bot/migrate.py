"""Copy an index from one store to another without re-embedding: vectors move as they are."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from bot.config import Settings
from bot.errors import ConfigError, KnowledgeError
from bot.file_store import FileStore
from bot.stores import open_postgres
from bot.wording import plural

SUPPORTED = {("files", "postgres")}


@dataclass(frozen=True, slots=True)
class MigrateReport:
    documents: int
    chunks: int
    generation: int
    target: str

    def summary(self) -> str:
        return (
            f"copied {plural(self.documents, 'document')} and {plural(self.chunks, 'chunk')} "
            "(no re-embedding) to "
            f"{self.target} as generation {self.generation}"
        )


def migrate(
    settings: Settings,
    source: str,
    target: str,
    on_notice: Callable[[str], None] | None = None,
) -> MigrateReport:
    """files -> postgres: the current files generation becomes the next Postgres generation."""
    if (source, target) not in SUPPORTED:
        raise ConfigError(f"cannot migrate from {source} to {target}; supported: files -> postgres")
    files = FileStore(settings.index_dir, settings.index.lock_timeout_seconds, on_notice)
    index = files.open()
    if index is None:
        raise KnowledgeError(
            f"there is no files index at {files.describe()}; run `quotebot index` first "
            '(with [index] store = "files")'
        )
    store = open_postgres(settings, on_notice)
    with store.writer_lock():
        current = store.read_manifest()
        generation = current.generation + 1 if current is not None else 1
        manifest = replace(index.manifest, generation=generation)
        store.commit(manifest, set(), index.chunks, index.vectors)
    return MigrateReport(len(manifest.documents), len(index.chunks), generation, store.describe())
