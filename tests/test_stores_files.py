"""Saving, loading and every way a saved index can be broken (each is detected, never served)."""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest

from bot.errors import IndexCorruptError, IndexLocationError
from bot.index.generation import DocumentRecord, IndexRecipe, Manifest
from bot.index.storage import UpdateJournal
from bot.index.update import update_index
from bot.ingest.chunking import Chunk, ChunkerSettings
from bot.stores.files import JOURNAL, FileStore
from tests.fakes import FakeEmbedder


def _manifest(chunks: int, generation: int = 1) -> Manifest:
    return Manifest(
        IndexRecipe("m", ChunkerSettings()),
        4,
        {"a.txt": DocumentRecord("a.txt", "sha", 10, chunks, 10, "t")},
        generation=generation,
        created_at=f"t{generation}",
    )


def _store(tmp_path: Path) -> FileStore:
    store = FileStore(tmp_path / "idx")
    chunks = [Chunk("a.txt", 0, 5, "hello", 1), Chunk("a.txt", 6, 11, "world", 2)]
    vectors = np.eye(2, 4, dtype=np.float32)
    store.commit(_manifest(2), set(), chunks, vectors)
    return store


def _generation(store: FileStore) -> Path:
    return store.directory / (store.directory / "CURRENT").read_text()


def test_round_trip(tmp_path: Path) -> None:
    store = _store(tmp_path)
    index = FileStore(store.directory).open()
    assert index is not None and len(index) == 2
    assert index.chunk(1).text == "world"
    assert index.dense(np.array([0, 1, 0, 0], dtype=np.float32), 1)[0][0] == 1


def test_new_generation_replaces_old_and_cleans_up(tmp_path: Path) -> None:
    store = _store(tmp_path)
    (store.directory / ".tmp-gen-crashed").mkdir()
    store.commit(
        _manifest(3, generation=2),
        {"a.txt"},
        [Chunk("a.txt", 12, 13, "!", 3)],
        np.ones((1, 4), dtype=np.float32) / 2,
    )
    names = sorted(p.name for p in store.directory.iterdir())
    assert names == ["CURRENT", "gen-00000002"]
    index = FileStore(store.directory).open()
    assert index is not None and [c.text for c in index.chunks] == ["hello", "world", "!"]


def test_failed_save_keeps_previous_generation_and_leaves_no_temp(tmp_path: Path) -> None:
    store = _store(tmp_path)

    def full_disk(path: Path, data: bytes) -> None:
        raise OSError(28, "No space left on device")

    failing = FileStore(store.directory, write=full_disk)
    with pytest.raises(IndexLocationError, match="No space left on device"):
        failing.commit(_manifest(2, generation=2), {"a.txt"}, [], np.zeros((0, 4), np.float32))
    assert not [p for p in store.directory.iterdir() if p.name.startswith(".tmp")]
    index = FileStore(store.directory).open()
    assert index is not None and index.manifest.generation == 1


def _rewrite(folder: Path, name: str, data: bytes, fix_checksum: bool = True) -> None:
    (folder / name).write_bytes(data)
    if fix_checksum:
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["files"][name] = hashlib.sha256(data).hexdigest()
        (folder / "manifest.json").write_text(json.dumps(manifest))


def _npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def _truncate(folder: Path) -> None:
    data = (folder / "vectors.npy").read_bytes()
    (folder / "vectors.npy").write_bytes(data[:-7])


def _flip(folder: Path) -> None:
    data = bytearray((folder / "vectors.npy").read_bytes())
    data[-3] ^= 0x40
    (folder / "vectors.npy").write_bytes(bytes(data))


def _manifest_json(folder: Path) -> None:
    (folder / "manifest.json").write_text("{not json")


def _rows(folder: Path) -> None:
    _rewrite(folder, "vectors.npy", _npy(np.ones((3, 4), dtype=np.float32)))


def _nan(folder: Path) -> None:
    vectors = np.ones((2, 4), dtype=np.float32)
    vectors[1, 2] = np.nan
    _rewrite(folder, "vectors.npy", _npy(vectors))


def _dtype(folder: Path) -> None:
    _rewrite(folder, "vectors.npy", _npy(np.ones((2, 4), dtype=np.float64)))


def _shape(folder: Path) -> None:
    _rewrite(folder, "vectors.npy", _npy(np.ones((2, 5), dtype=np.float32)))


def _pickle(folder: Path) -> None:
    _rewrite(
        folder, "vectors.npy", _npy(np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    )


def _missing(folder: Path) -> None:
    (folder / "chunks.json").unlink()


def _symlink(folder: Path) -> None:
    outside = folder.parent.parent / "elsewhere.json"
    outside.write_bytes((folder / "chunks.json").read_bytes())
    (folder / "chunks.json").unlink()
    (folder / "chunks.json").symlink_to(outside)


def _chunk_table(folder: Path) -> None:
    _rewrite(folder, "chunks.json", b'{"format": 1, "chunks": [["a.txt", 0, 5, 1, "hello"]]}')


def _manifest_truncated(folder: Path) -> None:
    data = (folder / "manifest.json").read_bytes()
    (folder / "manifest.json").write_bytes(data[: len(data) // 2])


def _manifest_rows(folder: Path) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["rows"] = 3
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _empty_vector_file(folder: Path) -> None:
    _rewrite(folder, "vectors.npy", b"")


def _empty_index(folder: Path) -> None:
    _rewrite(folder, "vectors.npy", _npy(np.zeros((0, 4), dtype=np.float32)))
    _rewrite(folder, "chunks.json", b'{"format": 1, "chunks": []}')


CORRUPTIONS = [
    _manifest_truncated,
    _manifest_rows,
    _empty_vector_file,
    _empty_index,
    _truncate,
    _flip,
    _manifest_json,
    _rows,
    _nan,
    _dtype,
    _shape,
    _pickle,
    _missing,
    _symlink,
    _chunk_table,
]


@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=lambda f: f.__name__.strip("_"))
def test_corruption_is_detected_on_load(tmp_path: Path, corrupt: object) -> None:
    store = _store(tmp_path)
    corrupt(_generation(store))  # type: ignore[operator]
    with pytest.raises(IndexCorruptError):
        FileStore(store.directory).open()


def test_pointer_to_missing_generation_is_detected(tmp_path: Path) -> None:
    store = _store(tmp_path)
    (store.directory / "CURRENT").write_text("gen-00000099")
    with pytest.raises(IndexCorruptError, match="missing"):
        FileStore(store.directory).open()


def test_empty_pointer_is_detected(tmp_path: Path) -> None:
    store = _store(tmp_path)
    (store.directory / "CURRENT").write_text("")
    with pytest.raises(IndexCorruptError, match="names no generation"):
        FileStore(store.directory).open()


@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=lambda f: f.__name__.strip("_"))
def test_corruption_is_reported_in_one_line_and_rebuilt(tmp_path: Path, corrupt: object) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("Hello there.")
    (folder / "b.txt").write_text("Goodbye now.")
    store = FileStore(tmp_path / "idx")
    recipe = IndexRecipe("fake-model", ChunkerSettings())
    update_index(folder, store, recipe, FakeEmbedder(dimension=4))
    corrupt(_generation(store))  # type: ignore[operator]
    embedder = FakeEmbedder(dimension=4)
    index, report = update_index(folder, FileStore(store.directory), recipe, embedder)
    assert report.rebuild_reason and "\n" not in report.rebuild_reason
    assert report.notices()[0].endswith(": re-embedding everything")
    assert len(embedder.embedded) == 2 and sorted(index.manifest.documents) == ["a.txt", "b.txt"]
    reopened = FileStore(store.directory).open()
    assert reopened is not None and len(reopened) == 2
    left = {p.name for p in store.directory.iterdir()} - {"write.lock"}
    assert left == {"CURRENT", _generation(store).name}


class _ModelLike(FakeEmbedder):
    @property
    def max_seq_length(self) -> int:
        return 256


def test_manifest_records_what_the_vectors_depend_on(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("Hello there.")
    store = FileStore(tmp_path / "idx")
    update_index(
        folder, store, IndexRecipe("fake-model", ChunkerSettings(max_chars=500)), _ModelLike()
    )
    manifest = json.loads((_generation(store) / "manifest.json").read_text())
    assert manifest["recipe"]["model_id"] == "fake-model"
    assert manifest["recipe"]["chunker"]["max_chars"] == 500
    assert manifest["recipe"]["chunker_version"] >= 1
    assert manifest["dimension"] == 64
    info = manifest["model_info"]
    assert info["normalized"] is True and info["max_seq_length"] == 256 and "revision" in info
    assert {"numpy", "quotebot"} <= set(info["libraries"])
    assert set(manifest["files"]) == {"chunks.json", "vectors.npy", "changes.json"}
    assert manifest["documents"]["a.txt"]["sha256"] == hashlib.sha256(b"Hello there.").hexdigest()


def _random_unit_rows(rows: int, dim: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((rows, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_float16_memory_ranks_like_float32_with_float32_scores(tmp_path: Path) -> None:
    dim = 32
    _rows_store(tmp_path, 3000, dim, seed=1)
    exact = FileStore(tmp_path / "idx", memory_dtype="float32").open()
    half = FileStore(tmp_path / "idx", memory_dtype="float16").open()
    assert exact is not None and half is not None
    assert half.vectors.dtype == np.float16 and half.vectors.nbytes * 2 == exact.vectors.nbytes
    for seed in range(20):
        query = _random_unit_rows(1, dim, seed=100 + seed)[0]
        want, got = exact.dense(query, 10), half.dense(query, 10)
        assert [row for row, _ in got] == [row for row, _ in want]
        # Re-scored in float32: off only by the rows' own rounding, not by float16 sums.
        assert np.allclose([s for _, s in got], [s for _, s in want], atol=2e-3)


class _PointerMovesOnce(FileStore):
    """A reader racing a writer: the first time it reads CURRENT, the pointer still names a
    generation the writer has just deleted; by the next read the writer has moved it on."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.raced = False

    def _current_folder(self) -> Path | None:
        if self.raced:
            return super()._current_folder()
        self.raced = True
        pointer = self.directory / "CURRENT"
        current = pointer.read_text()
        pointer.write_text("gen-00000000")
        try:
            return super()._current_folder()
        finally:
            pointer.write_text(current)


@pytest.mark.parametrize("read", ["open", "read_manifest", "read_changes"])
def test_a_generation_deleted_under_a_reader_is_read_again(tmp_path: Path, read: str) -> None:
    directory = _store(tmp_path).directory
    assert getattr(_PointerMovesOnce(directory), read)() is not None
    with pytest.raises(IndexCorruptError, match="missing"):  # a pointer that stays is reported
        (directory / "CURRENT").write_text("gen-00000000")
        getattr(FileStore(directory), read)()


# -- the journal of an update in progress ----------------------------------------------------------


def test_a_journal_left_by_a_killed_writer_is_returned_once(tmp_path: Path) -> None:
    store = _store(tmp_path)
    killed = UpdateJournal("2026-01-01T00:00:00+00:00", 2, 37, 2)
    with store.writer_lock():
        assert store.begin_update(killed) is None
        # SIGKILL now would leave the journal; simulate by copying it before the lock ends
        left = (store.directory / JOURNAL).read_bytes()
    assert not (store.directory / JOURNAL).exists()  # a process that lives ends its update
    (store.directory / JOURNAL).write_bytes(left)
    with store.writer_lock():
        assert store.begin_update(UpdateJournal("later", 1, 3, 2)) == killed
    assert not (store.directory / JOURNAL).exists()


def test_a_journal_of_a_commit_that_landed_is_tidied_away(tmp_path: Path) -> None:
    store = _store(tmp_path)  # generation 1 is current
    (store.directory / JOURNAL).write_text(json.dumps(UpdateJournal("t", 1, 2, 1).to_json()))
    store.tidy()
    assert not (store.directory / JOURNAL).exists()


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _rows_store(
    tmp_path: Path, rows: int, dim: int, dtype: str = "float32", seed: int = 11
) -> FileStore:
    """A one-generation index of `rows` random unit vectors, one chunk each."""
    vectors = _random_unit_rows(rows, dim, seed=seed)
    chunks = [Chunk("a.txt", i, i + 1, "x", i + 1) for i in range(rows)]
    manifest = Manifest(
        IndexRecipe("m", ChunkerSettings()),
        dim,
        {"a.txt": DocumentRecord("a.txt", "sha", rows, rows, rows, "t")},
        generation=1,
        created_at="t1",
    )
    store = FileStore(tmp_path / "idx", memory_dtype=dtype)  # type: ignore[arg-type]
    store.commit(manifest, set(), chunks, vectors)
    return store


def test_int8_memory_answers_like_float32_bit_for_bit(tmp_path: Path) -> None:
    _rows_store(tmp_path, 3000, 48)
    exact = FileStore(tmp_path / "idx", memory_dtype="float32").open()
    int8 = FileStore(tmp_path / "idx", memory_dtype="int8").open()
    assert exact is not None and int8 is not None
    assert int8.vectors.dtype == np.int8 and int8.vector_bytes == 3000 * (48 + 4)
    for seed in range(40):
        query = _random_unit_rows(1, 48, seed=200 + seed)[0]
        assert int8.dense(query, 20) == exact.dense(query, 20)


def test_int8_index_made_by_the_writer_reads_its_new_file(tmp_path: Path) -> None:
    store = _rows_store(tmp_path, 300, 16, dtype="int8")
    index = store.open()  # the writer's own generation, not read again
    assert index is not None and index.vectors.dtype == np.int8
    query = _random_unit_rows(1, 16, seed=3)[0]
    assert index.dense(query, 5) == FileStore(store.directory).open().dense(query, 5)  # type: ignore[union-attr]


@pytest.mark.parametrize("dtype", ["float16", "int8"])
def test_memory_dtype_never_rounds_the_vectors_written_to_disk(tmp_path: Path, dtype: str) -> None:
    store = FileStore(tmp_path / "idx", memory_dtype=dtype)  # type: ignore[arg-type]
    first = _random_unit_rows(2, 4, seed=2)
    chunks = [Chunk("a.txt", 0, 5, "hello", 1), Chunk("a.txt", 6, 11, "world", 2)]
    store.commit(_manifest(2), set(), chunks, first)
    assert store.open().vectors.dtype == np.dtype(dtype)  # type: ignore[union-attr]
    added = _random_unit_rows(1, 4, seed=3)
    store.commit(_manifest(3, generation=2), {"a.txt"}, [Chunk("a.txt", 12, 13, "!", 3)], added)
    on_disk = np.load(_generation(store) / "vectors.npy", allow_pickle=False)
    assert on_disk.dtype == np.float32
    assert np.array_equal(on_disk, np.concatenate([first, added]))


def test_int8_generation_keeps_answering_after_a_writer_deletes_its_folder(tmp_path: Path) -> None:
    writer = _store(tmp_path)
    reader = FileStore(writer.directory, memory_dtype="int8")
    old = reader.open()
    assert old is not None
    old_folder = _generation(writer)
    writer.commit(
        _manifest(1, generation=2),
        set(),
        [Chunk("a.txt", 0, 5, "hello", 1)],
        np.ones((1, 4), np.float32) / 2,
    )
    assert not old_folder.exists()
    assert old.dense(np.array([0, 1, 0, 0], dtype=np.float32), 2) == [(1, 1.0), (0, 0.0)]


def test_int8_vector_file_modified_after_opening_is_reported(tmp_path: Path) -> None:
    store = _store(tmp_path)
    index = FileStore(store.directory, memory_dtype="int8").open()
    assert index is not None
    path = _generation(store) / "vectors.npy"
    data = bytearray(path.read_bytes())
    data[-4 * 4 :] = np.array([0, 0, 0.5, 0.5], dtype="<f4").tobytes()  # row 1, same size
    with open(path, "r+b") as handle:  # in place: the open file sees it
        handle.write(data)
    with pytest.raises(IndexCorruptError, match="no longer matches the index in memory"):
        index.dense(np.array([0, 1, 0, 0], dtype=np.float32), 1)


def test_int8_vector_file_that_fails_its_checksum_is_not_opened(tmp_path: Path) -> None:
    store = _store(tmp_path)
    path = _generation(store) / "vectors.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    fds = _open_fds()
    with pytest.raises(IndexCorruptError, match="fails its checksum"):
        FileStore(store.directory, memory_dtype="int8").open()
    assert _open_fds() == fds


def test_int8_reloads_do_not_leak_file_descriptors(tmp_path: Path) -> None:
    writer = FileStore(tmp_path / "idx", memory_dtype="int8")
    reader = FileStore(tmp_path / "idx", memory_dtype="int8")
    chunks = [Chunk("a.txt", 0, 5, "hello", 1), Chunk("a.txt", 6, 11, "world", 2)]
    writer.commit(_manifest(2), set(), chunks, _random_unit_rows(2, 4, seed=1))
    assert reader.open() is not None
    fds = _open_fds()
    for generation in range(2, 60):
        vectors = _random_unit_rows(2, 4, seed=generation)
        writer.commit(_manifest(2, generation), set(), chunks, vectors)
        index = reader.open()
        assert index is not None and index.manifest.generation == generation
        assert index.dense(vectors[1], 1)[0][0] == 1
    del index
    assert _open_fds() == fds  # the writer's and the reader's current generations only


def test_int8_index_of_no_chunks(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "idx", memory_dtype="int8")
    manifest = Manifest(IndexRecipe("m", ChunkerSettings()), 4, {}, generation=1, created_at="t1")
    store.commit(manifest, set(), [], np.zeros((0, 4), dtype=np.float32))
    index = FileStore(store.directory, memory_dtype="int8").open()
    assert index is not None and len(index) == 0
    assert index.dense(np.ones(4, dtype=np.float32), 5) == []


def test_auto_memory_holds_small_indexes_as_float32_and_large_ones_as_int8(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "auto" picks the faster layout for the size; both answer alike (float32's exact scores),
    whether the writer holds the generation it wrote or a reader opens it."""
    import bot.stores.files as files

    monkeypatch.setattr(files, "AUTO_FLOAT32_MAX_CHUNKS", 500)
    small = _rows_store(tmp_path / "small", 500, 16, dtype="auto")
    large = _rows_store(tmp_path / "large", 501, 16, dtype="auto")
    for store, held in ((small, np.float32), (large, np.int8)):
        written = store.open()  # the writer's own generation
        read = FileStore(store.directory, memory_dtype="auto").open()
        exact = FileStore(store.directory, memory_dtype="float32").open()
        assert written is not None and read is not None and exact is not None
        assert written.vectors.dtype == read.vectors.dtype == held
        query = _random_unit_rows(1, 16, seed=5)[0]
        assert written.dense(query, 10) == read.dense(query, 10) == exact.dense(query, 10)


def test_auto_is_the_configured_default() -> None:
    from bot.config import IndexSettings

    assert IndexSettings().memory_dtype == "auto"
