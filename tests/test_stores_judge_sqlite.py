"""The files store's judge vector table: a round trip, and readers that never trust a bad row
or fail on a missing or unreadable file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from bot.index.judge_vectors import Kind, key
from bot.stores.files import FileStore
from bot.stores.judge_sqlite import FILE, SqliteJudgeTable, SqliteJudgeVectors

MODEL = "fake-model passages"


def _unit(seed: int, dimension: int = 8) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(dimension).astype(np.float32)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


ROWS: list[tuple[Kind, str, np.ndarray]] = [
    ("sentence", "The Normans came.", _unit(1)),
    ("word", "normans", _unit(2)),
    ("word", "The Normans came.", _unit(3)),  # same text, other kind: its own row
]


def _written(path: Path) -> SqliteJudgeTable:
    table = SqliteJudgeTable(path, MODEL, 8)
    table.add(ROWS)
    return table


def test_a_reader_gets_back_exactly_what_the_writer_stored(tmp_path: Path) -> None:
    _written(tmp_path / FILE).close()
    reader = FileStore(tmp_path).judge_vector_reader(MODEL, 8)
    found = reader.lookup([(kind, text) for kind, text, _ in ROWS] + [("word", "absent")])
    assert set(found) == {(kind, text) for kind, text, _ in ROWS}
    for kind, text, vector in ROWS:
        assert found[kind, text].tobytes() == vector.tobytes()


def test_the_reader_opens_the_file_read_only(tmp_path: Path) -> None:
    _written(tmp_path / FILE).close()
    reader = SqliteJudgeVectors(tmp_path / FILE, MODEL, 8)
    assert reader.lookup([("word", "normans")])
    assert reader._db is not None
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader._db.execute("DELETE FROM vectors")


def test_another_model_or_dimension_finds_nothing(tmp_path: Path) -> None:
    _written(tmp_path / FILE).close()
    assert SqliteJudgeVectors(tmp_path / FILE, "other", 8).lookup([("word", "normans")]) == {}
    assert SqliteJudgeVectors(tmp_path / FILE, MODEL, 4).lookup([("word", "normans")]) == {}


def test_a_corrupt_row_is_ignored_reported_missing_and_rewritten(tmp_path: Path) -> None:
    table = _written(tmp_path / FILE)
    with sqlite3.connect(tmp_path / FILE) as db:
        db.execute(
            "UPDATE vectors SET vector = ? WHERE key = ?",
            (b"\x00" * 12, key("word", "normans")),  # wrong length
        )
    reader = SqliteJudgeVectors(tmp_path / FILE, MODEL, 8)
    assert ("word", "normans") not in reader.lookup([("word", "normans")])
    assert table.missing([("word", "normans"), ("sentence", "The Normans came.")]) == [
        ("word", "normans")
    ]
    table.add([("word", "normans", ROWS[1][2])])
    assert reader.lookup([("word", "normans")])["word", "normans"].tobytes() == ROWS[1][2].tobytes()
    table.close()


def test_a_missing_table_finds_nothing_with_one_warning_and_is_found_once_written(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    reader = SqliteJudgeVectors(tmp_path / FILE, MODEL, 8)
    assert reader.lookup([("word", "normans")]) == {}
    assert reader.lookup([("word", "normans")]) == {}
    assert caplog.text.count("no answer judge vectors") == 1
    _written(tmp_path / FILE).close()
    assert reader.lookup([("word", "normans")])  # written later by the writer: now used


def test_an_unreadable_table_finds_nothing_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / FILE).write_bytes(b"not a database at all, " * 100)
    reader = SqliteJudgeVectors(tmp_path / FILE, MODEL, 8)
    assert reader.lookup([("word", "normans")]) == {}
    assert "cannot read the answer judge's vectors" in caplog.text


class Exploding:
    """A vector whose conversion fails: a fill interrupted after its first rows."""

    def __array__(self, *args: object, **kwargs: object) -> np.ndarray:
        raise RuntimeError("interrupted midway")


def test_an_uncommitted_fill_leaves_the_table_as_it_was(tmp_path: Path) -> None:
    table = _written(tmp_path / FILE)
    bad: list[tuple[Kind, str, np.ndarray]] = [
        ("word", "caen", _unit(4)),
        ("word", "x", Exploding()),  # type: ignore[list-item]
    ]
    with pytest.raises(RuntimeError, match="midway"):
        table.add(bad)
    assert table.missing([("word", "caen")]) == [("word", "caen")]
    assert SqliteJudgeVectors(tmp_path / FILE, MODEL, 8).lookup([("word", "normans")])
    table.close()


def test_the_writer_refuses_a_table_of_another_dimension(tmp_path: Path) -> None:
    _written(tmp_path / FILE).close()
    with pytest.raises(sqlite3.DatabaseError, match="dimension"):
        SqliteJudgeTable(tmp_path / FILE, MODEL, 16)


def test_dropping_a_model_deletes_its_vectors_and_keeps_the_others(tmp_path: Path) -> None:
    _written(tmp_path / FILE).close()
    other = SqliteJudgeTable(tmp_path / FILE, "other onnx-1", 8)
    other.add(ROWS[:1])
    assert sorted(other.models()) == sorted([MODEL, "other onnx-1"])
    other.drop([MODEL])
    assert other.models() == ["other onnx-1"]
    other.close()
    assert SqliteJudgeVectors(tmp_path / FILE, MODEL, 8).lookup([("word", "normans")]) == {}
    kept = SqliteJudgeVectors(tmp_path / FILE, "other onnx-1", 8).lookup([ROWS[0][:2]])
    assert list(kept) == [ROWS[0][:2]]
    with sqlite3.connect(tmp_path / FILE) as db:
        assert db.execute("SELECT count(*) FROM vectors").fetchone() == (1,)
