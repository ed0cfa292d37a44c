"""The default store: numpy + JSON files in generation folders, switched by a small pointer file.

Layout of the index folder:
    CURRENT             name of the current generation folder ("gen-00000007")
    gen-00000007/       manifest.json, chunks.json, vectors.npy, changes.json (the changelog as
                        of this generation; checksums of all in the manifest)
    write.lock          held by the one process that is writing
    judge-vectors.sqlite  the answer judge's sentence and word vectors, content-addressed, valid
                        for every generation (bot/stores/judge_sqlite.py; -wal and -shm beside it)
    updating.json       what the writer holding the lock is doing (left behind only if it is killed)
A commit writes a whole new generation into a temporary folder, fsyncs it, renames it into place
and then replaces CURRENT; a crash at any moment leaves the old or the new generation, never a mix.
A folder that cannot be created, locked or written is an `IndexLocationError` naming the path and
the cause (bot/index/location.py), never a wait for "another process" or a traceback.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from bot.config import MemoryLayout
from bot.errors import IndexCorruptError, IndexLockedError
from bot.index.changelog import ChangeEntry, Retention
from bot.index.generation import (
    DocumentRecord,
    IndexRecipe,
    Manifest,
    MemoryIndex,
    SkippedRecord,
    return_freed_memory,
)
from bot.index.int8_vectors import Int8Vectors
from bot.index.judge_vectors import JudgeVectors
from bot.index.location import prepare, unusable
from bot.index.storage import UpdateJournal
from bot.ingest.chunking import Chunk
from bot.shared.wording import plural
from bot.stores.judge_sqlite import FILE as JUDGE_VECTORS
from bot.stores.judge_sqlite import SqliteJudgeTable, SqliteJudgeVectors
from bot.stores.vector_rows import VectorRows, read_index_file

FORMAT = 1
POINTER = "CURRENT"
MANIFEST = "manifest.json"
CHUNKS = "chunks.json"
VECTORS = "vectors.npy"
CHANGES = "changes.json"
LOCK = "write.lock"
JOURNAL = "updating.json"
TMP_PREFIX = ".tmp-"
T = TypeVar("T")
RETRIES = 3  # reads racing a writer's cleanup
# memory_dtype "auto": up to this many chunks the vectors are held as float32 (a full scan of them
# is faster than int8's ranking plus re-reading its shortlist from the file), above it as int8.
# Dense search with k = 50 on a quiet machine (docs/bench.md): float32 0.77 ms and int8 1.12 at
# 10,000 chunks, 11.0 and 4.5 at 100,000; the two lines cross near 15,000. Both give the same
# answers (the same exact float32 scores), so the switch changes only time and memory (float32
# at 15,000 chunks: 22 MB).
AUTO_FLOAT32_MAX_CHUNKS = 15_000


class FileStore:
    def __init__(
        self,
        directory: Path,
        lock_timeout: float = 600.0,
        on_wait: Callable[[str], None] | None = None,
        *,
        memory_dtype: MemoryLayout = "float32",
        retention: Retention | None = None,
        write: Callable[[Path, bytes], None] | None = None,
    ) -> None:
        """`write` writes one whole file durably (default: write, flush, fsync); tests pass one
        that fails like a full disk."""
        self.directory = directory
        self._write = write or _write_synced
        self._lock_timeout = lock_timeout
        self._on_wait = on_wait
        self._memory_dtype = memory_dtype
        self._cached: MemoryIndex | None = None
        self._retention = retention or Retention()

    def describe(self) -> str:
        return str(self.directory)

    # -- reading -------------------------------------------------------------------------------

    def read_manifest(self) -> Manifest | None:
        return self._read_current(lambda folder: _read_manifest(folder)[0])

    def open(self) -> MemoryIndex | None:
        """The current generation, every file checked; None when there is no index yet."""
        return self._read_current(self._open_folder)

    def read_changes(self) -> list[ChangeEntry]:
        """The changelog as of the current generation, oldest first."""
        return self._read_current(_read_changes) or []

    def _read_current(self, read: Callable[[Path], T]) -> T | None:
        """`read(folder of the current generation)`, or None when there is no index yet.

        Readers take no lock, so a writer may commit and delete the generation being read, even
        between reading CURRENT and looking at its folder. That shows up as a missing file under a
        pointer that has moved on, and is read again; an error under a pointer that stays, or one
        that lasts RETRIES attempts, is reported.
        """
        for attempt in range(1, RETRIES + 1):
            folder: Path | None = None
            try:
                folder = self._current_folder()
                return None if folder is None else read(folder)
            except IndexCorruptError:
                if attempt == RETRIES or (folder is not None and self._current_folder() == folder):
                    raise
        raise AssertionError("unreachable")

    def _open_folder(self, folder: Path) -> MemoryIndex:
        manifest, checksums = _read_manifest(folder)
        if (
            self._cached is not None
            and self._cached.manifest.generation == manifest.generation
            and self._cached.manifest.created_at == manifest.created_at
        ):
            return self._cached
        chunks_bytes = _read_checked(folder, CHUNKS, checksums)
        rows: VectorRows | None = None
        held = self._layout(manifest.chunk_count)
        try:
            if held == np.int8:  # the file stays open: exact rows are read from it
                rows, vectors_bytes = VectorRows.open(folder / VECTORS)
                _check_sum(folder, VECTORS, vectors_bytes, checksums)
            else:
                vectors_bytes = _read_checked(folder, VECTORS, checksums)
            chunks = _parse_chunks(chunks_bytes, folder)
            vectors = _parse_vectors(vectors_bytes, folder, manifest.dimension)
            _check_consistency(manifest, chunks, vectors, folder)
            if rows is not None:
                rows.attach(vectors, len(vectors_bytes))
        except BaseException:
            if rows is not None:
                rows.close()
            raise
        del chunks_bytes, vectors_bytes
        self._cached = MemoryIndex(manifest, chunks, self._held(vectors, held, rows))
        del vectors
        return_freed_memory()
        return self._cached

    def _layout(self, chunk_count: int) -> np.dtype[Any]:
        """How a generation of `chunk_count` chunks is held in memory (`memory_dtype`)."""
        if self._memory_dtype == "auto":
            return np.dtype(np.float32 if chunk_count <= AUTO_FLOAT32_MAX_CHUNKS else np.int8)
        return np.dtype(self._memory_dtype)

    def _held(
        self, vectors: np.ndarray, held: np.dtype[Any], rows: VectorRows | None
    ) -> np.ndarray | Int8Vectors:
        """The vectors as kept in memory for answering (the files always hold float32); int8
        needs `rows`, the generation's vector file opened for reading exact rows back."""
        if held == np.int8:
            assert rows is not None
            return Int8Vectors.of(vectors, rows)
        return np.ascontiguousarray(vectors, dtype=held)

    def _current_folder(self) -> Path | None:
        pointer = self.directory / POINTER
        try:
            name = pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise IndexCorruptError(f"cannot read {pointer}: {exc}") from None
        if not name.startswith("gen-") or "/" in name or "\\" in name:
            raise IndexCorruptError(f"{pointer} names no generation ({name[:40]!r})")
        folder = self.directory / name
        if folder.is_symlink() or not folder.is_dir():
            raise IndexCorruptError(f"index generation {folder} is missing")
        return folder

    def judge_vector_reader(self, model_id: str, dimension: int) -> JudgeVectors:
        return SqliteJudgeVectors(self.directory / JUDGE_VECTORS, model_id, dimension)

    # -- writing -------------------------------------------------------------------------------

    def judge_vectors(self, model_id: str, dimension: int) -> SqliteJudgeTable:
        return SqliteJudgeTable(self.directory / JUDGE_VECTORS, model_id, dimension)

    def tidy(self) -> None:
        try:
            folder = self._current_folder()
        except IndexCorruptError:
            return  # the rebuild that follows cleans up when it commits
        if folder is None or not self._leftovers(keep=folder.name):
            return
        from filelock import FileLock, Timeout

        lock = FileLock(str(self.directory / LOCK))
        try:
            lock.acquire(timeout=0)
        except (Timeout, OSError):  # busy, or a read-only index: cleaning up is optional
            return
        try:
            current = self._current_folder()  # may have moved before we got the lock
            if current is not None:
                self._remove_old(keep=current.name)
        finally:
            lock.release()

    def _leftovers(self, keep: str) -> list[Path]:
        try:
            entries = list(self.directory.iterdir())
        except OSError:
            return []
        found = [
            entry
            for entry in entries
            if entry.name != keep and entry.name.startswith(("gen-", TMP_PREFIX))
        ]
        return found + ([self.directory / JOURNAL] if self._journal_saved(keep) else [])

    def _journal_saved(self, current: str) -> bool:
        """A journal whose generation is already current: its writer was killed after its
        commit, before it could remove the journal; there is nothing to report."""
        try:
            left = UpdateJournal.from_json(json.loads((self.directory / JOURNAL).read_bytes()))
            return left.generation <= int(current.removeprefix("gen-"))
        except (OSError, ValueError, KeyError, TypeError):
            return False

    @contextmanager
    def writer_lock(self) -> Iterator[None]:
        from filelock import FileLock, Timeout

        prepare(self.directory, LOCK)
        lock = FileLock(str(self.directory / LOCK))
        try:
            lock.acquire(timeout=0)
        except Timeout:  # a TimeoutError, i.e. an OSError: caught first
            if self._on_wait:
                self._on_wait(
                    f"another process is updating the index at {self.directory}; "
                    f"waiting up to {self._lock_timeout:.0f} s"
                )
            try:
                lock.acquire(timeout=self._lock_timeout)
            except Timeout:
                raise IndexLockedError(
                    f"another process has been updating the index at {self.directory} for more "
                    f"than {self._lock_timeout:.0f} s; try again later"
                ) from None
            except OSError as exc:
                raise unusable(self.directory, "update", exc) from None
        except OSError as exc:
            raise unusable(self.directory, "update", exc) from None
        try:
            yield
        finally:
            # Any exit a process lives through (error, Ctrl-C) ends its update; only a killed
            # writer leaves the journal for the next one to find.
            with suppress(OSError):
                (self.directory / JOURNAL).unlink(missing_ok=True)
            lock.release()

    # -- the journal of an update in progress ----------------------------------------------------

    def begin_update(self, journal: UpdateJournal) -> UpdateJournal | None:
        """Record what this update is about to do (under the writer lock); returns the record a
        killed writer left behind, if any. Nothing of a killed update is kept: its vectors were
        only in memory, and its temporary generation is removed at the next commit."""
        path = self.directory / JOURNAL
        try:
            left = UpdateJournal.from_json(json.loads(path.read_bytes()))
        except FileNotFoundError:
            left = None
        except (OSError, ValueError, KeyError, TypeError):
            left = UpdateJournal("", 0, 0, 0)  # unreadable: still evidence of an interrupted run
        try:
            self._write(path, json.dumps(journal.to_json()).encode())
        except OSError as exc:
            raise unusable(self.directory, "update", exc) from None
        return left

    def commit(
        self,
        manifest: Manifest,
        keep_sources: set[str],
        new_chunks: list[Chunk],
        new_vectors: np.ndarray,
        *,
        change: ChangeEntry | None = None,
        history: Sequence[ChangeEntry] | None = None,
    ) -> MemoryIndex:
        base = self._open_or_none() if keep_sources else None
        kept_chunks: list[Chunk] = []
        kept_rows: list[int] = []
        if base is not None:
            for row, chunk in enumerate(base.chunks):
                if chunk.source in keep_sources:
                    kept_chunks.append(chunk)
                    kept_rows.append(row)
        kept_vectors = (
            self._exact_vectors(base)[kept_rows]
            if base is not None
            else np.zeros((0, manifest.dimension), dtype=np.float32)
        )
        chunks = kept_chunks + list(new_chunks)
        vectors = np.concatenate(
            [
                kept_vectors.astype(np.float32),
                new_vectors.reshape(-1, manifest.dimension).astype(np.float32),
            ]
        )
        index = MemoryIndex(manifest, chunks, np.ascontiguousarray(vectors))
        _check_consistency(manifest, chunks, index.vectors, self.directory)
        if history is None:
            changes = self._changelog_with(change, manifest.generation)
        else:
            changes = self._retention.prune([*history, *([change] if change else [])])
        self._write_generation(index, changes)
        held = self._layout(len(chunks))
        if index.vectors.dtype != held:
            rows = None
            if held == np.int8:
                path = self.directory / f"gen-{manifest.generation:08d}" / VECTORS
                rows = VectorRows.open_written(path, len(chunks), manifest.dimension)
            index = MemoryIndex(manifest, chunks, self._held(vectors, held, rows))
        self._cached = index
        return index

    def _exact_vectors(self, base: MemoryIndex) -> np.ndarray:
        """The base generation's float32 vectors: from memory, or re-read (checked) from its file
        when memory holds float16 or int8, so reused vectors are never rounded on their way to
        disk."""
        if base.vectors.dtype == np.float32:
            return base.vectors
        folder = self.directory / f"gen-{base.manifest.generation:08d}"
        manifest, checksums = _read_manifest(folder)
        if manifest.created_at != base.manifest.created_at:
            raise IndexCorruptError(f"index generation {folder} changed while it was updated")
        return _parse_vectors(_read_checked(folder, VECTORS, checksums), folder, manifest.dimension)

    def _open_or_none(self) -> MemoryIndex | None:
        try:
            return self.open()
        except IndexCorruptError:
            return None

    def _changelog_with(self, change: ChangeEntry | None, generation: int) -> list[ChangeEntry]:
        """The current generation's changelog plus `change`, pruned; a changelog that cannot be
        read (a corrupt index being rebuilt) starts again rather than block the update."""
        try:
            folder = self._current_folder()
            entries = _read_changes(folder) if folder is not None else []
        except IndexCorruptError:
            entries = []
        entries = [e for e in entries if e.generation < generation]
        return self._retention.prune(entries + ([change] if change else []))

    def _write_generation(self, index: MemoryIndex, changes: list[ChangeEntry]) -> None:
        try:
            self._write_generation_files(index, changes)
        except OSError as exc:  # ENOSPC, a read-only file system, a folder swapped for a file...
            raise unusable(self.directory, "update", exc) from None

    def _write_generation_files(self, index: MemoryIndex, changes: list[ChangeEntry]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"gen-{index.manifest.generation:08d}"
        tmp = self.directory / f"{TMP_PREFIX}{name}-{uuid.uuid4().hex[:8]}"
        try:
            tmp.mkdir()
            payloads = {
                CHUNKS: _chunks_json(index.chunks),
                VECTORS: _npy_bytes(index.vectors),
                CHANGES: _changes_json(changes),
            }
            for file_name, data in payloads.items():
                self._write(tmp / file_name, data)
            checksums = {n: hashlib.sha256(d).hexdigest() for n, d in payloads.items()}
            self._write(tmp / MANIFEST, _manifest_json(index.manifest, checksums))
            _fsync_dir(tmp)
            final = self.directory / name
            if final.exists():  # left by a crash after the rename but before the pointer moved
                shutil.rmtree(final)
            os.replace(tmp, final)
            _fsync_dir(self.directory)
            self._write(self.directory / f"{TMP_PREFIX}{POINTER}", name.encode())
            os.replace(self.directory / f"{TMP_PREFIX}{POINTER}", self.directory / POINTER)
            _fsync_dir(self.directory)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            (self.directory / f"{TMP_PREFIX}{POINTER}").unlink(missing_ok=True)
            raise
        with suppress(OSError):  # the update is saved; a journal left here is checked anyway
            (self.directory / JOURNAL).unlink(missing_ok=True)
        self._remove_old(keep=name)

    def _remove_old(self, keep: str) -> None:
        """Delete superseded generations and temp files left by crashed writers (under the lock)."""
        for entry in self._leftovers(keep):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with suppress(OSError):  # left for the next writer, like rmtree's errors
                    entry.unlink(missing_ok=True)


# -- serialisation -----------------------------------------------------------------------------


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _npy_bytes(vectors: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(vectors, dtype=np.float32), allow_pickle=False)
    return buffer.getvalue()


def _chunks_json(chunks: list[Chunk]) -> bytes:
    rows = [[c.source, c.start, c.end, c.paragraph, c.text] for c in chunks]
    return json.dumps({"format": FORMAT, "chunks": rows}, ensure_ascii=False).encode("utf-8")


def _changes_json(entries: list[ChangeEntry]) -> bytes:
    data = {"format": FORMAT, "entries": [e.to_json() for e in entries]}
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def _read_changes(folder: Path) -> list[ChangeEntry]:
    """A generation's changelog; one written before changelogs existed has none."""
    _, checksums = _read_manifest(folder)
    if CHANGES not in checksums:
        return []
    try:
        data = json.loads(_read_checked(folder, CHANGES, checksums))
        return [ChangeEntry.from_json(row) for row in data["entries"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise IndexCorruptError(f"changelog in {folder} is broken: {exc}") from None


def _manifest_json(manifest: Manifest, checksums: dict[str, str]) -> bytes:
    data = {
        "format": FORMAT,
        "generation": manifest.generation,
        "created_at": manifest.created_at,
        "recipe": manifest.recipe.to_json(),
        "dimension": manifest.dimension,
        "model_info": manifest.model_info,
        "rows": manifest.chunk_count,
        "documents": {s: asdict(r) for s, r in sorted(manifest.documents.items())},
        "skipped": {s: asdict(r) for s, r in sorted(manifest.skipped.items())},
        "files": checksums,
    }
    return json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")


def _read_manifest(folder: Path) -> tuple[Manifest, dict[str, str]]:
    path = folder / MANIFEST
    try:
        data = json.loads(read_index_file(path))
        if data.get("format") != FORMAT:
            raise ValueError(f"unknown format {data.get('format')!r}")
        manifest = Manifest(
            recipe=IndexRecipe.from_json(data["recipe"]),
            dimension=int(data["dimension"]),
            documents={s: DocumentRecord.from_json(r) for s, r in data["documents"].items()},
            skipped={s: SkippedRecord(**r) for s, r in data.get("skipped", {}).items()},
            generation=int(data["generation"]),
            created_at=str(data["created_at"]),
            model_info=dict(data.get("model_info", {})),
        )
        checksums = {str(k): str(v) for k, v in data["files"].items()}
        if int(data["rows"]) != manifest.chunk_count:
            raise ValueError("row count disagrees with the documents' chunk counts")
    except IndexCorruptError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IndexCorruptError(f"index manifest {path} is broken: {exc}") from None
    return manifest, checksums


def _read_checked(folder: Path, name: str, checksums: dict[str, str]) -> bytes:
    data = read_index_file(folder / name)
    _check_sum(folder, name, data, checksums)
    return data


def _check_sum(folder: Path, name: str, data: bytes, checksums: dict[str, str]) -> None:
    if hashlib.sha256(data).hexdigest() != checksums.get(name):
        raise IndexCorruptError(
            f"index file {folder / name} fails its checksum (truncated or modified)"
        )


def _parse_chunks(data: bytes, folder: Path) -> list[Chunk]:
    try:
        rows: list[Any] = json.loads(data)["chunks"]
        # One string per source name, not one per chunk (100,000 chunks: ~6 MB less).
        return [Chunk(sys.intern(str(s)), int(a), int(b), str(t), int(p)) for s, a, b, p, t in rows]
    except (ValueError, KeyError, TypeError) as exc:
        raise IndexCorruptError(f"chunk table in {folder} is broken: {exc}") from None


def _parse_vectors(data: bytes, folder: Path, dimension: int) -> np.ndarray:
    try:
        vectors: np.ndarray = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise IndexCorruptError(f"vector file in {folder} is unreadable: {exc}") from None
    if vectors.dtype != np.float32 or vectors.ndim != 2 or vectors.shape[1] != dimension:
        raise IndexCorruptError(
            f"vector file in {folder} has dtype {vectors.dtype} and shape "
            f"{vectors.shape}, expected float32 (N, {dimension})"
        )
    if not np.isfinite(vectors).all():
        raise IndexCorruptError(f"vector file in {folder} contains NaN or infinite values")
    return vectors


def _check_consistency(
    manifest: Manifest, chunks: list[Chunk], vectors: np.ndarray, folder: Path
) -> None:
    if len(chunks) != vectors.shape[0] or len(chunks) != manifest.chunk_count:
        raise IndexCorruptError(
            f"index in {folder}: {plural(len(chunks), 'chunk')}, "
            f"{plural(vectors.shape[0], 'vector')}, manifest says {manifest.chunk_count}"
        )
    counts: dict[str, int] = {}
    for chunk in chunks:
        if chunk.end - chunk.start != len(chunk.text) or chunk.source not in manifest.documents:
            raise IndexCorruptError(f"index in {folder}: chunk table disagrees with the manifest")
        counts[chunk.source] = counts.get(chunk.source, 0) + 1
    for source, record in manifest.documents.items():
        if counts.get(source, 0) != record.chunks:
            raise IndexCorruptError(f"index in {folder}: chunk count of {source} disagrees")
