"""The files store's judge vector table (bot.index.judge_vectors): one SQLite file in the index
folder, `judge-vectors.sqlite`, beside CURRENT and the generation folders.

It lives outside the generation folders because its entries do not depend on the generation
(content-addressed), so a commit neither copies nor rewrites it. WAL journal: readers never block
the writer, whose additions land in one transaction each (a killed writer's are rolled back), and
readers open the file read-only and read only the rows a question needs (the Discord bot's memory
stays low however large the table grows).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bot.index.judge_vectors import Completion, Kind, decode, encode_row, key

log = logging.getLogger(__name__)

FILE = "judge-vectors.sqlite"
SCHEMA_VERSION = 1
CHUNK = 500  # keys per SELECT (SQLite's bound on parameters is larger)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    id INTEGER PRIMARY KEY,
    model TEXT NOT NULL UNIQUE,
    dimension INTEGER NOT NULL,
    complete_generation INTEGER,
    complete_created_at TEXT
);
-- A rowid table: a 1.5 kB row fits its b-tree page; WITHOUT ROWID would spill each one to an
-- overflow page of its own (4.7 kB a row, measured).
CREATE TABLE IF NOT EXISTS vectors (
    model INTEGER NOT NULL,
    key BLOB NOT NULL,
    vector BLOB NOT NULL,
    UNIQUE (model, key)
);
"""


class SqliteJudgeTable:
    """The writer's side: opens (creating) the file; one instance per update."""

    def __init__(self, path: Path, model_id: str, dimension: int) -> None:
        self.path = path
        self._dimension = dimension
        self._db = sqlite3.connect(path, isolation_level=None, timeout=30.0)
        try:
            # Five 1.5 kB rows fill an 8 kB page (96 %); two fill a 4 kB one (75 %). Takes effect
            # only when the file is created.
            self._db.execute("PRAGMA page_size=8192")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self._db.execute(
                "INSERT OR IGNORE INTO models (model, dimension) VALUES (?, ?)",
                (model_id, dimension),
            )
            row = self._db.execute(
                "SELECT id, dimension FROM models WHERE model = ?", (model_id,)
            ).fetchone()
            if int(row[1]) != dimension:
                raise sqlite3.DatabaseError(
                    f"{path} holds {model_id} vectors of dimension {row[1]}, not {dimension}"
                )
            self._model = int(row[0])
        except BaseException:
            self._db.close()
            raise

    def lookup(self, texts: Sequence[tuple[Kind, str]]) -> dict[tuple[Kind, str], np.ndarray]:
        return _lookup(self._db, self._model, self._dimension, texts)

    def missing(self, texts: Sequence[tuple[Kind, str]]) -> list[tuple[Kind, str]]:
        found = self.lookup(texts)
        return [text for text in texts if text not in found]

    def add(self, rows: Sequence[tuple[Kind, str, np.ndarray]]) -> None:
        # INSERT OR REPLACE: a row found corrupt (so reported missing) is overwritten.
        values = ((self._model, key(kind, text), encode_row(vector)) for kind, text, vector in rows)
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors (model, key, vector) VALUES (?, ?, ?)", values
            )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def completion(self) -> Completion | None:
        row = self._db.execute(
            "SELECT complete_generation, complete_created_at FROM models WHERE id = ?",
            (self._model,),
        ).fetchone()
        if row is None or row[0] is None:
            return None
        return Completion(int(row[0]), str(row[1]))

    def mark_complete(self, completion: Completion) -> None:
        self._db.execute(
            "UPDATE models SET complete_generation = ?, complete_created_at = ? WHERE id = ?",
            (completion.generation, completion.created_at, self._model),
        )

    def models(self) -> list[str]:
        return [str(row[0]) for row in self._db.execute("SELECT model FROM models")]

    def drop(self, models: Sequence[str]) -> None:
        # The freed pages are reused by later rows (the file does not shrink without a VACUUM).
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for model in models:
                self._db.execute(
                    "DELETE FROM vectors WHERE model IN (SELECT id FROM models WHERE model = ?)",
                    (model,),
                )
                self._db.execute("DELETE FROM models WHERE model = ?", (model,))
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()


class SqliteJudgeVectors:
    """The reader's side: the file opened read-only on first use (and again after a failure, so
    a table the writer creates later is found); a missing or unreadable table is one warning,
    and the judge embeds what it cannot look up."""

    def __init__(self, path: Path, model_id: str, dimension: int) -> None:
        self.path = path
        self._model_id = model_id
        self._dimension = dimension
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._model: int | None = None
        self._warned = False

    def lookup(self, texts: Sequence[tuple[Kind, str]]) -> dict[tuple[Kind, str], np.ndarray]:
        with self._lock:
            try:
                if self._db is None and not self._open():
                    return {}
                assert self._db is not None and self._model is not None
                return _lookup(self._db, self._model, self._dimension, texts)
            except sqlite3.Error as exc:
                self._warn(f"cannot read the answer judge's vectors in {self.path}: {exc}")
                self._close()
                return {}

    def _open(self) -> bool:
        if not self.path.is_file():
            self._warn(f"no answer judge vectors at {self.path} yet; embedding them per question")
            return False
        db = sqlite3.connect(
            f"{self.path.absolute().as_uri()}?mode=ro",
            uri=True,
            check_same_thread=False,
            timeout=5.0,
        )
        try:
            row = db.execute(
                "SELECT id, dimension FROM models WHERE model = ?", (self._model_id,)
            ).fetchone()
        except BaseException:
            db.close()
            raise
        if row is None or int(row[1]) != self._dimension:
            db.close()
            self._warn(f"{self.path} holds no vectors of {self._model_id}")
            return False
        self._db, self._model = db, int(row[0])
        return True

    def _warn(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning("%s", message)

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
        self._db = None

    def close(self) -> None:
        with self._lock:
            self._close()


def _lookup(
    db: sqlite3.Connection, model: int, dimension: int, texts: Sequence[tuple[Kind, str]]
) -> dict[tuple[Kind, str], np.ndarray]:
    by_key = {key(kind, text): (kind, text) for kind, text in texts}
    keys = list(by_key)
    found: dict[tuple[Kind, str], np.ndarray] = {}
    for start in range(0, len(keys), CHUNK):
        part = keys[start : start + CHUNK]
        marks = ",".join("?" * len(part))
        rows = db.execute(
            f"SELECT key, vector FROM vectors WHERE model = ? AND key IN ({marks})", (model, *part)
        ).fetchall()
        for row_key, blob in rows:
            vector = decode(blob, dimension)
            text = by_key.get(bytes(row_key))
            if vector is not None and text is not None:
                found[text] = vector
    return found
