"""Single float32 rows of a generation's vectors.npy, read on demand from a file kept open.

Why keep it open: a writer may commit a newer generation and delete this one's folder while
readers still answer from it; on Linux an open file stays readable after it is unlinked, so the
rows read are those of the file that was checksummed when the generation was opened. Why
`os.preadv` and not a memory map: mapped pages would count into the process's resident memory
and grow with every question; a read into a small buffer does not.

Opening and reading an index file (`open_index_file`, `read_index_file`) is here too, with its
errors, so the files store reads its other files the way this one is read.
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path

import numpy as np

from bot.errors import IndexCorruptError

ROW_DTYPE = np.dtype("<f4")  # what np.save writes for float32 on every platform we run on


def open_index_file(path: Path) -> int:
    """A read-only descriptor of one of an index's files; IndexCorruptError (saying why) when it
    is a symbolic link, missing or unreadable."""
    if path.is_symlink():
        raise IndexCorruptError(f"{path} is a symbolic link; index files must be regular files")
    try:
        return os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise IndexCorruptError(f"index file {path} is missing") from None
    except OSError as exc:
        raise IndexCorruptError(f"cannot read index file {path}: {exc}") from None


def read_whole(fd: int, path: Path) -> bytes:
    """All of the file open at `fd` (not closed here)."""
    try:
        with open(fd, "rb", closefd=False) as handle:
            return handle.read()
    except OSError as exc:
        raise IndexCorruptError(f"cannot read index file {path}: {exc}") from None


def read_index_file(path: Path) -> bytes:
    """One of an index's files, whole (the errors of `open_index_file` and `read_whole`)."""
    fd = open_index_file(path)
    try:
        return read_whole(fd, path)
    finally:
        os.close(fd)


class VectorRows:
    """Reads rows of an open .npy file of C-ordered float32 (N, dimension) whose data starts at
    `offset`. Owns `fd`: closed by `close()`, or when the object is garbage collected, so a
    generation that is dropped (a reload) does not leak its file descriptor."""

    def __init__(self, fd: int, path: Path, rows: int, dimension: int, offset: int) -> None:
        self._fd = fd
        self._path = path
        self._rows = rows
        self._dimension = dimension
        self._offset = offset
        self._row_bytes = dimension * ROW_DTYPE.itemsize
        self._close = weakref.finalize(self, os.close, fd)

    @classmethod
    def open(cls, path: Path) -> tuple[VectorRows, bytes]:
        """The file opened and read whole through the same descriptor (the caller checks the
        bytes, then `attach`es the shape it parsed from them)."""
        rows = cls._open_fd(path)
        try:
            data = read_whole(rows._fd, path)
        except IndexCorruptError:
            rows.close()
            raise
        return rows, data

    @classmethod
    def _open_fd(cls, path: Path) -> VectorRows:
        return cls(open_index_file(path), path, 0, 0, 0)

    @classmethod
    def open_written(cls, path: Path, rows: int, dimension: int) -> VectorRows:
        """A file this process has just written (and still holds the writer lock for): its
        shape is known, so it is not read again."""
        reader = cls._open_fd(path)
        try:
            size = os.fstat(reader._fd).st_size
        except OSError as exc:
            reader.close()
            raise IndexCorruptError(f"cannot read index file {path}: {exc}") from None
        reader._shape(rows, dimension, size - rows * dimension * ROW_DTYPE.itemsize)
        if reader._offset < 0:
            reader.close()
            raise IndexCorruptError(f"index file {path} is shorter than its rows")
        return reader

    def attach(self, vectors: np.ndarray, file_size: int) -> None:
        """Take the shape from the array parsed out of this file's `file_size` bytes; its data
        are the file's last bytes (np.save writes a header, then the rows)."""
        if vectors.dtype != ROW_DTYPE or vectors.ndim != 2:
            raise IndexCorruptError(f"vector file {self._path} does not hold float32 rows")
        if vectors.shape[0] > 1 and not vectors.flags.c_contiguous:
            raise IndexCorruptError(f"vector file {self._path} is not stored row by row")
        self._shape(vectors.shape[0], vectors.shape[1], file_size - vectors.nbytes)

    def _shape(self, rows: int, dimension: int, offset: int) -> None:
        self._rows, self._dimension, self._offset = rows, dimension, offset
        self._row_bytes = dimension * ROW_DTYPE.itemsize

    def read(self, rows: np.ndarray) -> np.ndarray:
        out = np.empty((len(rows), self._dimension), dtype=ROW_DTYPE)
        for i, row in enumerate(rows.tolist()):
            if not 0 <= row < self._rows:
                raise IndexError(f"row {row} of {self._rows}")
            try:
                got = os.preadv(self._fd, [out[i]], self._offset + row * self._row_bytes)
            except OSError as exc:
                raise IndexCorruptError(f"cannot read index file {self._path}: {exc}") from None
            if got != self._row_bytes:
                raise IndexCorruptError(f"index file {self._path} is shorter than when opened")
        return out.astype(np.float32, copy=False)

    def describe(self) -> str:
        return str(self._path)

    def close(self) -> None:
        self._close()

    @property
    def closed(self) -> bool:
        return not self._close.alive
