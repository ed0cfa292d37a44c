"""The judge vector table's writer: what it fills, when, and that it never fails an update."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from bot.answering.judge import PassageJudge
from bot.index.judge_vectors import (
    Completion,
    Kind,
    bring_up_to_date,
    decode,
    encode_row,
    fill,
    key,
    superseded,
)
from bot.index.update import update_index
from bot.stores.files import FileStore
from bot.stores.judge_sqlite import FILE, SqliteJudgeTable
from tests.fakes import FakeEmbedder
from tests.test_index_update import RECIPE


class FailingEmbedder(FakeEmbedder):
    """Fails on its `fail_on`-th call: an encoder dying in the middle of a fill."""

    def __init__(self, fail_on: int) -> None:
        super().__init__()
        self.fail_on = fail_on

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if len(self.calls) + 1 == self.fail_on:
            self.calls.append(list(texts))
            raise RuntimeError("encoder died")
        return super().encode(texts)


def _rows(store: FileStore) -> int:
    import sqlite3

    with sqlite3.connect(store.directory / FILE) as db:
        return int(db.execute("SELECT count(*) FROM vectors").fetchone()[0])


def _texts(judge: PassageJudge, chunks: Sequence[str]) -> set[tuple[Kind, str]]:
    wanted: set[tuple[Kind, str]] = set()
    for text in chunks:
        sentences, words = judge.judge_texts(text)
        wanted |= {("sentence", s) for s in sentences} | {("word", w) for w in words}
    return wanted


def test_kinds_never_share_a_key() -> None:
    assert key("sentence", "normans") != key("word", "normans")
    assert key("word", "normans") == key("word", "normans")


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        encode_row(np.ones(3, np.float32) / np.sqrt(3))[:-4],  # truncated
        encode_row(np.array([np.nan, 0.0, 0.0], np.float32)),
        encode_row(np.array([2.0, 0.0, 0.0], np.float32)),  # not what an encoder gives
        "text, not bytes",
    ],
)
def test_a_row_that_cannot_be_a_stored_vector_is_refused(blob: object) -> None:
    assert decode(blob, 3) is None


def test_a_sound_row_decodes_to_the_same_float32_bits() -> None:
    vector = np.array([0.6, 0.8, 0.0], np.float32)
    decoded = decode(encode_row(vector), 3)
    assert decoded is not None and decoded.dtype == np.float32
    assert decoded.tobytes() == vector.tobytes()


def test_fill_embeds_each_missing_text_once(tmp_path: Path) -> None:
    embedder = FakeEmbedder()
    judge = PassageJudge(embedder)
    chunks = ["The Normans came. The Normans came.", "Normans settled in Normandy."]
    table = SqliteJudgeTable(tmp_path / FILE, judge.model_id, judge.dimension)
    first = fill(table, judge, chunks)
    embedded = embedder.embedded
    assert first.texts == first.embedded == len(_texts(judge, chunks))
    assert len(embedded) == len(set(embedded)) == first.embedded  # each text once
    again = fill(table, judge, [*chunks, "Normandy is green."])
    assert again.embedded == len(_texts(judge, ["Normandy is green."]) - _texts(judge, chunks))
    table.close()


def test_an_index_update_fills_the_table_and_an_idle_one_embeds_nothing(
    knowledge: Path, tmp_path: Path
) -> None:
    store, embedder = FileStore(tmp_path / "index"), FakeEmbedder()
    judge = PassageJudge(embedder)
    index, _ = update_index(knowledge, store, RECIPE, embedder, judge=judge)
    chunks = [index.chunk(i).text for i in range(index.manifest.chunk_count)]
    assert _rows(store) == len(_texts(judge, chunks))
    calls = len(embedder.calls)
    update_index(knowledge, store, RECIPE, embedder, judge=judge)
    assert len(embedder.calls) == calls


def test_the_first_update_of_an_older_index_backfills_every_chunk(
    knowledge: Path, tmp_path: Path
) -> None:
    store, embedder = FileStore(tmp_path / "index"), FakeEmbedder()
    index, _ = update_index(knowledge, store, RECIPE, embedder)  # no table: an older index
    assert not (store.directory / FILE).exists()
    judge = PassageJudge(embedder)
    update_index(knowledge, store, RECIPE, embedder, judge=judge)  # nothing to do but the table
    chunks = [index.chunk(i).text for i in range(index.manifest.chunk_count)]
    assert _rows(store) == len(_texts(judge, chunks))
    table = store.judge_vectors(judge.model_id, judge.dimension)
    assert table.completion() == Completion(index.manifest.generation, index.manifest.created_at)
    table.close()


def test_a_later_update_embeds_only_the_new_chunks_texts(knowledge: Path, tmp_path: Path) -> None:
    store, embedder = FileStore(tmp_path / "index"), FakeEmbedder()
    judge = PassageJudge(embedder)
    index, _ = update_index(knowledge, store, RECIPE, embedder, judge=judge)
    old = _texts(judge, [index.chunk(i).text for i in range(index.manifest.chunk_count)])
    new = "Caen has a castle. Its walls are tall. The party met there."
    (knowledge / "new.txt").write_text(new + "\n", "utf-8")
    before = len(embedder.calls)
    update_index(knowledge, store, RECIPE, embedder, judge=judge)
    filled = [text for call in embedder.calls[before + 1 :] for text in call]  # after the chunk
    assert sorted(filled) == sorted(text for _, text in _texts(judge, [new]) - old)
    assert "party" not in filled  # a word of the old chunks: already in the table


def test_an_encoder_failing_midway_leaves_a_usable_index_and_table(
    knowledge: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = FileStore(tmp_path / "index")
    # Call 1 embeds the chunks; calls 2.. fill the table: the third call fails.
    failing = FailingEmbedder(fail_on=3)
    judge = PassageJudge(failing)
    index, report = update_index(knowledge, store, RECIPE, failing, judge=judge)
    assert report.chunks_embedded == index.manifest.chunk_count  # the update itself landed
    assert "encoder died" in caplog.text
    assert store.open() is not None and _rows(store) == 0  # fewer than WRITE_BATCH: none kept
    table = store.judge_vectors(judge.model_id, judge.dimension)
    assert table.completion() is None
    table.close()
    healthy = FakeEmbedder()
    bring_up_to_date(store, PassageJudge(healthy), index, None)  # the next run completes it
    chunks = [index.chunk(i).text for i in range(index.manifest.chunk_count)]
    assert _rows(store) == len(_texts(judge, chunks))


def test_a_table_that_cannot_be_opened_is_a_warning_not_a_failed_update(
    knowledge: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store, embedder = FileStore(tmp_path / "index"), FakeEmbedder()
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / FILE).mkdir()  # a folder where the table's file should be
    index, _ = update_index(knowledge, store, RECIPE, embedder, judge=PassageJudge(embedder))
    assert index.manifest.chunk_count > 0
    assert "judge's vector table" in caplog.text


def test_a_large_fill_commits_in_batches_and_a_failure_keeps_what_was_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.index.judge_vectors as judge_vectors

    monkeypatch.setattr(judge_vectors, "FILL_BATCH", 2)
    monkeypatch.setattr(judge_vectors, "WRITE_BATCH", 4)
    failing = FailingEmbedder(fail_on=5)  # two transactions of 4 texts land, then it fails
    judge = PassageJudge(failing)
    table = SqliteJudgeTable(tmp_path / FILE, judge.model_id, judge.dimension)
    chunks = [f"Word{n}a word{n}b." for n in range(10)]
    with pytest.raises(RuntimeError, match="encoder died"):
        fill(table, judge, chunks)
    kept = len(_texts(judge, chunks)) - len(table.missing(sorted(_texts(judge, chunks))))
    assert kept == 8
    report = fill(table, PassageJudge(FakeEmbedder()), chunks)  # the next run: only the rest
    assert report.embedded == len(_texts(judge, chunks)) - 8
    table.close()


@pytest.mark.parametrize(
    ("current", "models", "replaced"),
    [
        ("m onnx-b", ["m onnx-a", "m onnx-b", "m torch", "n onnx-a"], ["m onnx-a"]),
        ("my model onnx-b", ["my model onnx-a", "model onnx-a"], ["my model onnx-a"]),
        ("m torch", ["m onnx-a", "m torch"], []),  # a torch writer replaces no export
        ("m passages", ["m onnx-a"], []),
    ],
)
def test_an_onnx_writer_replaces_only_other_exports_of_its_model(
    current: str, models: list[str], replaced: list[str]
) -> None:
    assert superseded(current, models) == replaced


class ExportedJudge:
    """The judge as a writer with a given encoder id (a remade ONNX export changes it)."""

    def __init__(self, judge: PassageJudge, encoder: str) -> None:
        self._judge, self.model_id = judge, f"fake-model {encoder}"
        self.dimension = judge.dimension

    def judge_texts(self, text: str) -> tuple[list[str], list[str]]:
        return self._judge.judge_texts(text)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self._judge.encode(texts)


def test_a_remade_export_s_vectors_replace_the_old_ones_once_complete(
    knowledge: Path, tmp_path: Path
) -> None:
    store, embedder = FileStore(tmp_path / "index"), FakeEmbedder()
    judge = PassageJudge(embedder)
    index, _ = update_index(knowledge, store, RECIPE, embedder)
    old, torch = ExportedJudge(judge, "onnx-aaaa"), ExportedJudge(judge, "torch")
    bring_up_to_date(store, old, index, None)
    bring_up_to_date(store, torch, index, None)
    per_model = _rows(store) // 2
    table = store.judge_vectors(old.model_id, old.dimension)
    assert sorted(table.models()) == ["fake-model onnx-aaaa", "fake-model torch"]
    table.close()
    new = ExportedJudge(judge, "onnx-bbbb")
    bring_up_to_date(store, new, index, None)  # fills the new export's, then drops the old
    table = store.judge_vectors(new.model_id, new.dimension)
    assert sorted(table.models()) == ["fake-model onnx-bbbb", "fake-model torch"]
    table.close()
    assert _rows(store) == 2 * per_model
    assert store.judge_vector_reader(old.model_id, old.dimension).lookup([("word", "x")]) == {}


def test_an_idle_update_drops_what_an_older_writer_left(knowledge: Path, tmp_path: Path) -> None:
    store, embedder = FileStore(tmp_path / "index"), FakeEmbedder()
    judge = PassageJudge(embedder)
    index, _ = update_index(knowledge, store, RECIPE, embedder)
    new = ExportedJudge(judge, "onnx-bbbb")
    bring_up_to_date(store, new, index, None)
    rows = _rows(store)
    stale = store.judge_vectors("fake-model onnx-aaaa", new.dimension)  # as an older version left
    stale.add([("word", "normans", np.eye(new.dimension, dtype=np.float32)[0])])
    stale.close()
    assert bring_up_to_date(store, new, index, None) is None  # complete: nothing filled
    assert _rows(store) == rows


@pytest.mark.subprocess
def test_a_fill_killed_anywhere_leaves_only_right_rows_and_the_next_one_completes(
    tmp_path: Path,
) -> None:
    """SIGKILL at random points of a writer filling the table: the file stays sound, every row
    it holds is the vector of its own text, the table is never marked complete early, and a run
    to the end then completes it."""
    import random
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    from tests.judge_fill_entry import COMPLETION, passages

    path, root = tmp_path / FILE, Path(__file__).resolve().parents[1]
    command = [sys.executable, "-m", "tests.judge_fill_entry", str(path)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTEBOT_")}
    env["PYTHONPATH"] = str(root)
    judge = PassageJudge(FakeEmbedder())
    expected = {key(kind, text): text for kind, text in _texts(judge, passages())}
    rng, counts = random.Random(7), []
    for _ in range(8):
        child = subprocess.Popen(command, cwd=root, env=env, stderr=subprocess.PIPE, text=True)
        assert child.stderr is not None and child.stderr.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.35))
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stderr.close()
        if not path.exists():
            continue
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            rows = db.execute("SELECT key, vector FROM vectors").fetchall()
        for row_key, blob in rows:
            vector = decode(blob, judge.dimension)
            assert vector is not None
            text = expected[bytes(row_key)]
            assert vector.tobytes() == judge.encode([text])[0].tobytes()
        counts.append(len(rows))
        table = SqliteJudgeTable(path, judge.model_id, judge.dimension)
        complete = table.completion() == COMPLETION
        table.close()
        assert complete == (len(rows) == len(expected))
        if complete:  # the kill came too late: start again from nothing
            for leftover in tmp_path.iterdir():
                leftover.unlink()
    assert any(0 < count < len(expected) for count in counts), f"no kill mid-fill: {counts}"
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "done"
    table = SqliteJudgeTable(path, judge.model_id, judge.dimension)
    assert table.missing(list(_texts(judge, passages()))) == []
    assert table.completion() == COMPLETION
    table.close()
