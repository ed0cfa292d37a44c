"""The PostgreSQL store's judge vector table: round trip, bad rows, the writer filling it
(a backfill after `quotebot migrate`), readers that find nothing without failing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest

from bot.answering.judge import PassageJudge
from bot.index.judge_vectors import Completion, Kind, key
from bot.index.update import update_index
from bot.stores.files import FileStore
from bot.stores.postgres.db import Database, PgOptions
from bot.stores.postgres.judge_vectors import PgJudgeVectors
from bot.stores.postgres.store import PgStore
from tests.fakes import FakeEmbedder
from tests.pg_workers import RECIPE

MODEL = "fake-model passages"
_OPENED: list[PgStore] = []


@pytest.fixture(autouse=True)
def _close_stores() -> Iterator[None]:
    yield
    while _OPENED:
        _OPENED.pop().close()


def _pg(url: str) -> PgStore:
    store = PgStore(Database(url, PgOptions()), lock_timeout=5)
    _OPENED.append(store)
    return store


def _unit(seed: int, dimension: int = 8) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(dimension).astype(np.float32)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


ROWS: list[tuple[Kind, str, np.ndarray]] = [
    ("sentence", "The Normans came.", _unit(1)),
    ("word", "normans", _unit(2)),
    ("word", "The Normans came.", _unit(3)),
]


def _indexed(knowledge: Path, store: PgStore) -> None:
    update_index(knowledge, store, RECIPE, FakeEmbedder())  # creates the schema


def _rows(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM quotebot_judge_vectors").fetchone()
    return int(row[0]) if row else 0


def _texts(judge: PassageJudge, chunks: list[str]) -> set[tuple[Kind, str]]:
    found: set[tuple[Kind, str]] = set()
    for text in chunks:
        sentences, words = judge.judge_texts(text)
        found |= {("sentence", s) for s in sentences} | {("word", w) for w in words}
    return found


def test_a_reader_gets_back_exactly_what_the_writer_stored(knowledge: Path, pg_url: str) -> None:
    store = _pg(pg_url)
    _indexed(knowledge, store)
    reader = store.judge_vector_reader(MODEL, 8)
    assert reader.lookup([("word", "normans")]) == {}  # nothing yet: found once written
    table = store.judge_vectors(MODEL, 8)
    table.add(ROWS)
    found = reader.lookup([(kind, text) for kind, text, _ in ROWS] + [("word", "absent")])
    assert set(found) == {(kind, text) for kind, text, _ in ROWS}
    for kind, text, vector in ROWS:
        assert found[kind, text].tobytes() == vector.tobytes()
    assert table.completion() is None
    table.mark_complete(Completion(3, "then"))
    assert store.judge_vectors(MODEL, 8).completion() == Completion(3, "then")


def test_a_corrupt_row_is_ignored_and_rewritten(knowledge: Path, pg_url: str) -> None:
    store = _pg(pg_url)
    _indexed(knowledge, store)
    table = store.judge_vectors(MODEL, 8)
    table.add(ROWS)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE quotebot_judge_vectors SET vector = %s WHERE key = %s",
            (b"\x00" * 12, key("word", "normans")),
        )
    reader = store.judge_vector_reader(MODEL, 8)
    assert ("word", "normans") not in reader.lookup([("word", "normans")])
    assert table.missing([("word", "normans"), ("sentence", "The Normans came.")]) == [
        ("word", "normans")
    ]
    table.add([ROWS[1]])
    assert reader.lookup([("word", "normans")])["word", "normans"].tobytes() == ROWS[1][2].tobytes()


def test_an_unreachable_database_finds_nothing_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    db = Database("postgresql://nobody@127.0.0.1:1/none", PgOptions(connect_timeout=1))
    try:
        assert PgJudgeVectors(db, MODEL, 8).lookup([("word", "normans")]) == {}
    finally:
        db.close()
    assert "cannot read the answer judge's vectors" in caplog.text


def test_the_writer_fills_new_chunks_and_an_idle_update_embeds_nothing(
    knowledge: Path, pg_url: str
) -> None:
    store, embedder = _pg(pg_url), FakeEmbedder()
    judge = PassageJudge(embedder)
    index, _ = update_index(knowledge, store, RECIPE, embedder, judge=judge)
    chunks = [c.text for source in index.manifest.documents for c in index.passages(source)]
    assert _rows(pg_url) == len(_texts(judge, chunks))
    calls = len(embedder.calls)
    update_index(knowledge, store, RECIPE, embedder, judge=judge)
    assert len(embedder.calls) == calls


def test_after_migrate_the_writer_backfills(
    knowledge: Path, tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`quotebot migrate` copies chunks and vectors only; the judge's table is filled by the
    writer's next run on the new store, as for any index made before the table existed."""
    from bot.cli import main

    files, embedder = FileStore(tmp_path / "index"), FakeEmbedder()
    judge = PassageJudge(embedder)
    index, _ = update_index(knowledge, files, RECIPE, embedder, judge=judge)
    monkeypatch.setenv("QUOTEBOT_DATABASE_URL", pg_url)
    args = ["--knowledge", str(knowledge), "--index-dir", str(tmp_path / "index")]
    # The bundled model's recipe is not the fake's: migrate the fake index as it is.
    assert main([*args, "migrate", "--from", "files", "--to", "postgres"]) == 0
    store = _pg(pg_url)
    calls = len(embedder.calls)
    update_index(knowledge, store, RECIPE, embedder, judge=judge)  # nothing to do but the table
    chunks = [c.text for source in index.manifest.documents for c in index.passages(source)]
    assert _rows(pg_url) == len(_texts(judge, chunks))
    assert len(embedder.calls) > calls  # embedded by the backfill, not copied


def test_dropping_a_model_deletes_its_vectors_and_keeps_the_others(
    knowledge: Path, pg_url: str
) -> None:
    store = _pg(pg_url)
    _indexed(knowledge, store)
    store.judge_vectors(MODEL, 8).add(ROWS)
    other = store.judge_vectors("other onnx-1", 8)
    other.add(ROWS[:1])
    assert sorted(other.models()) == sorted([MODEL, "other onnx-1"])
    other.drop([MODEL])
    assert other.models() == ["other onnx-1"]
    assert _rows(pg_url) == 1
    assert store.judge_vector_reader("other onnx-1", 8).lookup([ROWS[0][:2]])
