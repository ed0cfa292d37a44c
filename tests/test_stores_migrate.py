"""`quotebot migrate` both ways between the files store and PostgreSQL: chunks and vectors copied
without re-embedding, and the changelog with them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from bot.cli import compose_service
from bot.config import Settings
from bot.errors import ConfigError
from bot.service import QuoteService
from bot.stores.files import FileStore
from bot.stores.migrate import migrate
from bot.stores.postgres.db import Database, PgOptions
from bot.stores.postgres.store import PgStore
from tests.fakes import FakeEmbedder

QUESTION = "What was the harbour budget spent on?"


def _paragraph(topic: str, n: int) -> str:
    return (
        f"The {topic} report, section {n}, says the {topic} budget was spent on repairs, "
        f"salaries and training, with a small surplus carried over for section {n}."
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "a.txt").write_text("\n\n".join(_paragraph("harbour", n) for n in range(3)) + "\n")
    (kb / "b.txt").write_text(_paragraph("school", 1) + "\n")
    return kb


@pytest.fixture
def settings(make_settings: Callable[..., Settings], pg_url: str, folder: Path) -> Settings:
    return make_settings(folder, database_url=pg_url)


@pytest.fixture
def pg(pg_url: str) -> Iterator[PgStore]:
    store = PgStore(Database(pg_url, PgOptions()), lock_timeout=5)
    yield store
    store.close()


def _history(settings: Settings, store: str, folder: Path) -> None:
    """Three generations on `store`: both documents added, one edited, one removed."""
    service = _service(settings, store)
    service.refresh()
    a = folder / "a.txt"
    a.write_text(a.read_text().replace("repairs, salaries", "new boats, salaries", 1))
    service.refresh()
    (folder / "b.txt").unlink()
    assert service.refresh().generation == 3
    if isinstance(service.store, PgStore):
        service.store.close()


def _service(settings: Settings, store: str, embedder: FakeEmbedder | None = None) -> QuoteService:
    chosen = settings.model_copy(
        update={"index": settings.index.model_copy(update={"store": store})}
    )
    service = compose_service(chosen, embedder=embedder or FakeEmbedder(), on_notice=lambda m: None)
    service.writes_index = True  # updates the index, as `quotebot index` does
    return service


def _files(settings: Settings) -> FileStore:
    return FileStore(settings.index_dir)


def test_files_to_postgres_copies_the_changelog(
    settings: Settings, folder: Path, pg: PgStore
) -> None:
    _history(settings, "files", folder)
    report = migrate(settings, "files", "postgres")
    assert (report.generation, report.changes, report.documents) == (3, 3, 1)
    assert "and 3 changelog entries to" in report.summary()
    assert pg.read_changes() == _files(settings).read_changes()
    assert [e.generation for e in pg.read_changes()] == [1, 2, 3]
    embedder = FakeEmbedder()
    reader = _service(settings, "postgres", embedder)
    assert not reader.refresh().changed_anything and embedder.calls == []
    assert (
        reader.ask(QUESTION).quotes[0].text
        == _service(settings, "files").ask(QUESTION).quotes[0].text
    )
    assert isinstance(reader.store, PgStore)
    reader.store.close()


def test_postgres_to_files_copies_vectors_exactly_and_the_changelog(
    settings: Settings, folder: Path, pg: PgStore
) -> None:
    _history(settings, "postgres", folder)
    report = migrate(settings, "postgres", "files")
    assert (report.generation, report.changes) == (3, 3)
    files = _files(settings)
    assert files.read_changes() == pg.read_changes()
    index = files.open()
    assert index is not None and index.manifest.generation == 3
    exported = pg.export()
    assert exported is not None
    _, chunks, vectors = exported
    assert index.chunks == chunks and report.chunks == len(chunks) > 0
    assert np.array_equal(index.vectors, vectors)
    embedder = FakeEmbedder()
    writer = _service(settings, "files", embedder)
    assert not writer.refresh().changed_anything and embedder.calls == []  # nothing re-embedded


def test_a_target_ahead_renumbers_with_a_note_and_its_own_changelog_is_replaced(
    settings: Settings, folder: Path, pg: PgStore, tmp_path: Path
) -> None:
    _history(settings, "postgres", folder)  # generations 1..3 on PostgreSQL
    other = tmp_path / "other"
    other.mkdir()
    (other / "c.txt").write_text(_paragraph("library", 1) + "\n")
    moved = settings.model_copy(
        update={"knowledge": settings.knowledge.model_copy(update={"path": other})}
    )
    _service(moved, "files").refresh()  # generation 1 of another files index
    when = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    report = migrate(moved, "files", "postgres", now=lambda: when)
    assert report.generation == 4
    entries = pg.read_changes()
    assert [e.generation for e in entries] == [1, 4]
    assert [d.source for d in entries[0].documents] == ["c.txt"]
    assert entries[1].documents == () and entries[1].time == "2026-12-03T09:00:00+00:00"
    assert entries[1].note == (
        "copied by quotebot migrate from the files store, where it was generation 1"
    )


def test_the_cli_migrates_both_ways_and_refuses_the_same_store(
    settings: Settings,
    folder: Path,
    pg_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.cli import main

    _history(settings, "files", folder)
    monkeypatch.setenv("QUOTEBOT_DATABASE_URL", pg_url)
    base = ["--knowledge", str(folder), "--index-dir", str(settings.index_dir), "migrate"]
    assert main([*base, "--from", "files", "--to", "postgres", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["changes"] == 3
    assert main([*base, "--from", "files", "--to", "files"]) == 2
    assert "cannot migrate from files to files" in capsys.readouterr().err
    with pytest.raises(ConfigError):
        migrate(settings, "postgres", "postgres")


def test_files_held_as_int8_still_migrate_their_exact_float32_vectors(
    make_settings: Callable[..., Settings], pg_url: str, folder: Path, pg: PgStore, tmp_path: Path
) -> None:
    index = {"dir": tmp_path / "index", "memory_dtype": "int8"}
    settings = make_settings(folder, database_url=pg_url, index=index)
    _history(settings, "files", folder)  # written by a files store that holds int8 codes
    held = FileStore(settings.index_dir, memory_dtype="int8").open()
    assert held is not None and held.vectors.dtype == np.int8
    migrate(settings, "files", "postgres")
    exported = pg.export()
    assert exported is not None
    current = settings.index_dir / (settings.index_dir / "CURRENT").read_text()
    on_disk = np.load(current / "vectors.npy", allow_pickle=False)
    assert exported[2].dtype == np.float32 and np.array_equal(exported[2], on_disk)
