"""Rows of a vectors.npy read from a descriptor kept open, and that descriptor's lifetime."""

from __future__ import annotations

import gc
import io
import os
from pathlib import Path

import numpy as np
import pytest

from bot.errors import IndexCorruptError
from bot.stores.vector_rows import VectorRows


def _saved(path: Path, vectors: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, vectors, allow_pickle=False)
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def _fd_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def test_rows_read_by_number_are_the_saved_rows(tmp_path: Path) -> None:
    vectors = np.random.default_rng(1).standard_normal((40, 7)).astype(np.float32)
    _saved(tmp_path / "v.npy", vectors)
    rows, data = VectorRows.open(tmp_path / "v.npy")
    assert data == (tmp_path / "v.npy").read_bytes()
    rows.attach(np.load(io.BytesIO(data)), len(data))
    wanted = np.array([0, 5, 39])
    assert np.array_equal(rows.read(wanted), vectors[wanted])
    written = VectorRows.open_written(tmp_path / "v.npy", 40, 7)
    assert np.array_equal(written.read(wanted), vectors[wanted])
    with pytest.raises(IndexError):
        rows.read(np.array([40]))


def test_the_descriptor_is_closed_by_close_or_when_the_rows_are_dropped(tmp_path: Path) -> None:
    _saved(tmp_path / "v.npy", np.ones((2, 3), dtype=np.float32))
    rows = VectorRows.open_written(tmp_path / "v.npy", 2, 3)
    fd = rows._fd
    rows.close()
    assert rows.closed and not _fd_open(fd)
    rows = VectorRows.open_written(tmp_path / "v.npy", 2, 3)
    fd = rows._fd
    del rows
    gc.collect()
    assert not _fd_open(fd)


def test_a_file_that_is_missing_or_too_short_is_corruption(tmp_path: Path) -> None:
    with pytest.raises(IndexCorruptError, match="is missing"):
        VectorRows.open(tmp_path / "v.npy")
    _saved(tmp_path / "v.npy", np.ones((2, 3), dtype=np.float32))
    with pytest.raises(IndexCorruptError, match="shorter than its rows"):
        VectorRows.open_written(tmp_path / "v.npy", 200, 3)
    rows = VectorRows.open_written(tmp_path / "v.npy", 2, 3)
    os.truncate(tmp_path / "v.npy", 140)
    with pytest.raises(IndexCorruptError, match="shorter than when opened"):
        rows.read(np.array([1]))


def test_a_column_ordered_file_is_refused(tmp_path: Path) -> None:
    data = _saved(tmp_path / "v.npy", np.asfortranarray(np.ones((3, 2), dtype=np.float32)))
    rows, _ = VectorRows.open(tmp_path / "v.npy")
    with pytest.raises(IndexCorruptError, match="row by row"):
        rows.attach(np.load(io.BytesIO(data)), len(data))
