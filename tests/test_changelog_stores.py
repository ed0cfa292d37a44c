"""The changelog kept by the writer, the same on both stores: what each landed update records,
retention, readers during updates, and a writer killed before its transaction commits."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from bot.index.changelog import ChangeEntry, Retention
from bot.index.generation import IndexRecipe
from bot.index.storage import Store
from bot.index.update import update_index
from bot.ingest.chunking import ChunkerSettings
from bot.stores.files import FileStore
from bot.stores.postgres.db import Database, PgOptions
from bot.stores.postgres.store import PgStore
from tests.fakes import FakeEmbedder

ROOT = Path(__file__).resolve().parents[1]
RECIPE = IndexRecipe("fake-model", ChunkerSettings())


def _paragraph(topic: str, n: int) -> str:
    return (
        f"The {topic} report, section {n}, describes how the committee examined the accounts of "
        f"the year and found that the {topic} budget had been spent on repairs, salaries and "
        f"training, with a small surplus carried over to the next year for section {n}."
    )


def _write(path: Path, paragraphs: list[str]) -> str:
    text = "\n\n".join(paragraphs) + "\n"
    path.write_text(text, encoding="utf-8")
    return text


StoreFactory = Callable[..., Store]


# The PostgreSQL side asks for `pg_url` only when it runs, so it carries its marker itself.
@pytest.fixture(params=["files", pytest.param("postgres", marks=pytest.mark.postgres)])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Builds the store under test (each call: the same index, a new store object); database
    stores are closed afterwards (an unclosed pool's threads outlive the test)."""
    if request.param == "files":
        yield lambda retention=None: FileStore(tmp_path / "idx", retention=retention)
        return
    url = request.getfixturevalue("pg_url")
    opened: list[PgStore] = []

    def build(retention: Retention | None = None) -> Store:
        opened.append(PgStore(Database(url, PgOptions()), lock_timeout=5, retention=retention))
        return opened[-1]

    yield build
    for store in opened:
        store.close()


def _update(folder: Path, store: Store) -> int:
    index, _ = update_index(folder, store, RECIPE, FakeEmbedder())
    return index.manifest.generation


def test_each_update_records_documents_and_passages(
    make_store: StoreFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    paragraphs = [_paragraph("harbour", n) for n in range(4)]
    old_a = _write(folder / "a.txt", paragraphs)
    _write(folder / "b.txt", [_paragraph("school", 1)])
    _write(folder / "c.txt", [_paragraph("hospital", 1)])
    store = make_store()
    assert store.read_changes() == []
    assert _update(folder, store) == 1
    (first,) = store.read_changes()
    assert first.generation == 1 and first.note is None
    assert [(d.source, d.kind) for d in first.documents] == [
        ("a.txt", "added"),
        ("b.txt", "added"),
        ("c.txt", "added"),
    ]

    edited = [*paragraphs]
    edited[2] = edited[2].replace("repairs, salaries", "new boats, salaries")
    new_a = _write(folder / "a.txt", [edited[3], edited[0], edited[1], edited[2]])  # and moved
    (folder / "b.txt").rename(folder / "b2.txt")
    (folder / "c.txt").unlink()
    _write(folder / "d.txt", [_paragraph("library", 1)])
    assert _update(folder, store) == 2
    assert _update(folder, store) == 2  # nothing changed: no generation, no entry
    entries = store.read_changes()
    assert [e.generation for e in entries] == [1, 2]
    second = entries[1]
    assert [(d.source, d.kind, d.renamed_from) for d in second.documents] == [
        ("a.txt", "edited", None),
        ("b2.txt", "renamed", "b.txt"),
        ("c.txt", "removed", None),
        ("d.txt", "added", None),
    ]
    (change,) = second.documents[0].passages
    assert change.kind == "changed" and change.old is not None and change.new is not None
    assert old_a[change.old.start : change.old.end] == change.old.text == paragraphs[2]
    assert new_a[change.new.start : change.new.end] == change.new.text == edited[2]
    assert second.documents[2].passages_before == 1


def test_retention_bounds_the_changelog(make_store: StoreFactory, tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    store = make_store(Retention(days=90, max_entries=2))
    for version in range(4):
        _write(folder / "a.txt", [_paragraph(f"version{version}", 1)])
        _update(folder, store)
    assert [e.generation for e in store.read_changes()] == [3, 4]


def test_readers_see_whole_changelogs_while_the_writer_updates(
    make_store: StoreFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    _write(folder / "a.txt", [_paragraph("start", 1)])
    writer = make_store()
    _update(folder, writer)
    reader = make_store()  # another store object on the same index
    seen: list[list[ChangeEntry]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                seen.append(reader.read_changes())
            except BaseException as exc:  # reported by the test
                errors.append(exc)
                return

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for version in range(1, 9):
            _write(folder / "a.txt", [_paragraph(f"topic{version}", 1)])
            _update(folder, writer)
    finally:
        stop.set()
        thread.join(30)
    assert errors == []
    assert len(seen) > 1
    final = [e.generation for e in writer.read_changes()]
    assert final == list(range(1, 10))
    for log in seen:  # each read is the whole changelog of some generation: a prefix, in order
        assert [e.generation for e in log] == final[: len(log)]
        assert all(d.kind in ("added", "edited") for e in log for d in e.documents)


def _pg_writer(url: str, folder: Path, version: str, *pause: str) -> subprocess.Popen[str]:
    """A writer process (tests/pg_workers.py) that can stop at a stage to be killed there."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.pg_workers", "writer", url, str(folder), version, *pause],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
    )


def _kill_at(victim: subprocess.Popen[str], stage: str) -> None:
    assert victim.stdout is not None
    while (line := victim.stdout.readline()) and line.strip() != f"stage {stage}":
        pass
    assert line.strip() == f"stage {stage}"
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=10)


def test_a_writer_killed_before_its_transaction_commits_records_nothing(
    pg_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = pg_url
    folder = tmp_path / "kb"

    def writer(version: str, *pause: str) -> subprocess.Popen[str]:
        return _pg_writer(url, folder, version, *pause)

    first = writer("1")
    assert first.communicate(timeout=60) and first.returncode == 0  # pipes read and closed
    store = PgStore(Database(url, PgOptions()), lock_timeout=5)
    request.addfinalizer(store.close)
    before = store.read_changes()
    assert [e.generation for e in before] == [1]
    _kill_at(writer("2", "--pause-at", "changelog written"), "changelog written")
    assert store.read_changes() == before
    rerun = writer("2")
    assert rerun.communicate(timeout=60) and rerun.returncode == 0
    entries = store.read_changes()
    assert [e.generation for e in entries] == [1, 2]
    assert {d.kind for d in entries[1].documents} == {"edited"}


def _pg_journal(url: str) -> dict[str, Any] | None:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT journal FROM quotebot_updating").fetchone()
    return None if row is None else dict(row[0])


def test_the_update_after_a_killed_postgres_writer_says_it_was_interrupted(
    pg_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from tests.pg_workers import RECIPE as WORKER_RECIPE
    from tests.pg_workers import write_version

    folder = tmp_path / "kb"
    first = _pg_writer(pg_url, folder, "1")
    assert first.communicate(timeout=60) and first.returncode == 0
    assert _pg_journal(pg_url) is None  # a normal update leaves no journal
    # killed inside its publishing transaction, after the journal row was deleted there
    _kill_at(
        _pg_writer(pg_url, folder, "2", "--pause-at", "changelog written"), "changelog written"
    )
    planned = _pg_journal(pg_url)
    assert planned is not None
    assert planned["documents"] == 6 and planned["chunks"] > 0 and planned["generation"] == 2

    store = PgStore(Database(pg_url, PgOptions()), lock_timeout=5)
    request.addfinalizer(store.close)
    index, report = update_index(folder, store, WORKER_RECIPE, FakeEmbedder())
    assert index.manifest.generation == 2
    assert report.chunks_embedded == planned["chunks"]  # nothing of the killed run was kept
    notice = (
        f"the previous update, started {planned['started_at']}, was interrupted before it was "
        f"saved ({planned['chunks']} chunks of 6 documents to embed); nothing of it was kept: "
        f"re-embedding {planned['chunks']} chunks of 6 documents"
    )
    assert report.interrupted == notice and notice in report.notices()
    assert _pg_journal(pg_url) is None

    write_version(folder, 3)
    _, again = update_index(folder, store, WORKER_RECIPE, FakeEmbedder())
    assert again.interrupted is None and _pg_journal(pg_url) is None


def test_a_postgres_journal_of_a_published_generation_is_dropped_quietly(
    pg_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A writer killed after its commit, before clearing its journal (the files store's case;
    here the publishing transaction clears it, but a row left by any path must not be reported)."""
    folder = tmp_path / "kb"
    folder.mkdir()
    _write(folder / "a.txt", [_paragraph("orchards", 1)])
    store = PgStore(Database(pg_url, PgOptions()), lock_timeout=5)
    request.addfinalizer(store.close)
    assert _update(folder, store) == 1
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO quotebot_updating (id, journal) VALUES (true, %s)",
            (Jsonb({"started_at": "x", "documents": 1, "chunks": 1, "generation": 1}),),
        )
    _write(folder / "b.txt", [_paragraph("harbours", 2)])
    _, report = update_index(folder, store, RECIPE, FakeEmbedder())
    assert report.interrupted is None and _pg_journal(pg_url) is None


def test_a_postgres_writer_that_fails_before_committing_clears_its_journal(
    pg_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Only a killed writer leaves a journal: an error the process lives through ends it."""
    from bot.index.storage import UpdateJournal

    store = PgStore(Database(pg_url, PgOptions()), lock_timeout=5)
    request.addfinalizer(store.close)
    with pytest.raises(RuntimeError), store.writer_lock():
        assert store.begin_update(UpdateJournal("now", 1, 2, 1)) is None
        assert _pg_journal(pg_url) == {
            "started_at": "now",
            "documents": 1,
            "chunks": 2,
            "generation": 1,
        }
        raise RuntimeError("embedding failed")
    assert _pg_journal(pg_url) is None
