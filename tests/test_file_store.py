"""Saving, loading and every way a saved index can be broken (each is detected, never served)."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from bot.chunking import Chunk, ChunkerSettings
from bot.errors import IndexCorruptError
from bot.file_store import FileStore
from bot.index import DocumentRecord, IndexRecipe, Manifest


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


def test_failed_save_keeps_previous_generation_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store(tmp_path)
    import bot.file_store as module

    def full_disk(path: Path, data: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(module, "_write_synced", full_disk)
    with pytest.raises(OSError):
        store.commit(_manifest(2, generation=2), {"a.txt"}, [], np.zeros((0, 4), np.float32))
    monkeypatch.undo()
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


CORRUPTIONS = [
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
