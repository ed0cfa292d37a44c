"""The PostgreSQL store's judge vector table (bot.index.judge_vectors; tables in schema.py,
version 7): the writer adds what a new generation lacks in one transaction, a reader fetches
every key a passage needs in one query."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import psycopg

from bot.errors import QuotebotError
from bot.index.judge_vectors import Completion, Kind, decode, encode_row, key
from bot.stores.postgres.db import Connection, Database

log = logging.getLogger(__name__)

_MODEL = "SELECT model_key, dimension FROM quotebot_judge_models WHERE model = %s"


class PgJudgeTable:
    """The writer's side, over the store's connection pool."""

    def __init__(self, db: Database, model_id: str, dimension: int) -> None:
        self._db = db
        self._dimension = dimension
        with db.connection() as conn:
            conn.execute(
                "INSERT INTO quotebot_judge_models (model, dimension) VALUES (%s, %s) "
                "ON CONFLICT (model) DO NOTHING",
                (model_id, dimension),
            )
            row = conn.execute(_MODEL, (model_id,)).fetchone()
        if row is None or int(row[1]) != dimension:
            found = None if row is None else row[1]
            raise psycopg.DataError(f"judge vectors of {model_id} have dimension {found}")
        self._model = int(row[0])

    def lookup(self, texts: Sequence[tuple[Kind, str]]) -> dict[tuple[Kind, str], np.ndarray]:
        with self._db.connection() as conn:
            return _lookup(conn, self._model, self._dimension, texts)

    def missing(self, texts: Sequence[tuple[Kind, str]]) -> list[tuple[Kind, str]]:
        found = self.lookup(texts)
        return [text for text in texts if text not in found]

    def add(self, rows: Sequence[tuple[Kind, str, np.ndarray]]) -> None:
        with self._db.connection() as conn, conn.transaction(), conn.cursor() as cursor:
            # ON CONFLICT ... UPDATE: a row found corrupt (so reported missing) is overwritten.
            cursor.executemany(
                "INSERT INTO quotebot_judge_vectors (model_key, key, vector) VALUES (%s, %s, %s) "
                "ON CONFLICT (model_key, key) DO UPDATE SET vector = excluded.vector",
                ((self._model, key(kind, text), encode_row(v)) for kind, text, v in rows),
            )

    def completion(self) -> Completion | None:
        with self._db.connection() as conn:
            row = conn.execute(
                "SELECT complete_generation, complete_created_at FROM quotebot_judge_models "
                "WHERE model_key = %s",
                (self._model,),
            ).fetchone()
        if row is None or row[0] is None:
            return None
        return Completion(int(row[0]), str(row[1]))

    def mark_complete(self, completion: Completion) -> None:
        with self._db.connection() as conn:
            conn.execute(
                "UPDATE quotebot_judge_models SET complete_generation = %s, "
                "complete_created_at = %s WHERE model_key = %s",
                (completion.generation, completion.created_at, self._model),
            )

    def models(self) -> list[str]:
        with self._db.connection() as conn:
            return [str(row[0]) for row in conn.execute("SELECT model FROM quotebot_judge_models")]

    def drop(self, models: Sequence[str]) -> None:
        with self._db.connection() as conn:  # the vectors go with their model (ON DELETE CASCADE)
            conn.execute("DELETE FROM quotebot_judge_models WHERE model = ANY(%s)", (list(models),))

    def close(self) -> None:
        """The pool is the store's: nothing of its own to close."""


class PgJudgeVectors:
    """The readers' side: finds the model's row on first use (again after a failure, so a
    table the writer fills later is found); a failure is one warning and finds nothing."""

    def __init__(self, db: Database, model_id: str, dimension: int) -> None:
        self._db = db
        self._model_id = model_id
        self._dimension = dimension
        self._model: int | None = None
        self._warned = False

    def lookup(self, texts: Sequence[tuple[Kind, str]]) -> dict[tuple[Kind, str], np.ndarray]:
        try:
            with self._db.connection() as conn:
                if self._model is None:
                    row = conn.execute(_MODEL, (self._model_id,)).fetchone()
                    if row is None or int(row[1]) != self._dimension:
                        self._warn(f"no answer judge vectors of {self._model_id} in the database")
                        return {}
                    self._model = int(row[0])
                return _lookup(conn, self._model, self._dimension, texts)
        except (psycopg.Error, QuotebotError) as exc:
            self._warn(f"cannot read the answer judge's vectors: {exc}")
            self._model = None
            return {}

    def _warn(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning("%s", message)


def _lookup(
    conn: Connection, model: int, dimension: int, texts: Sequence[tuple[Kind, str]]
) -> dict[tuple[Kind, str], np.ndarray]:
    by_key = {key(kind, text): (kind, text) for kind, text in texts}
    if not by_key:
        return {}
    rows = conn.execute(
        "SELECT key, vector FROM quotebot_judge_vectors WHERE model_key = %s AND key = ANY(%s)",
        (model, list(by_key)),
    ).fetchall()
    found: dict[tuple[Kind, str], np.ndarray] = {}
    for row_key, blob in rows:
        vector = decode(bytes(blob), dimension)
        text = by_key.get(bytes(row_key))
        if vector is not None and text is not None:
            found[text] = vector
    return found
