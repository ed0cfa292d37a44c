"""The answer judge's vectors, embedded by the writer so that readers look them up (issue 15).

For each candidate passage of a question the judge (bot.answering.judge) needs the embeddings of
the passage's sentences and of its distinct content words. Embedding them per question was most
of a first answer's time, so the index writer embeds them once, with the judge's own encoder, into
a table the stores keep beside the index. The table is content-addressed: a key is a digest of
the kind ("sentence" or "word") and the exact text embedded, a value the float32 vector. An entry
is a pure function of its text, so the table is valid for every generation, unchanged chunks and
repeated sentences cost nothing, and a crash can only leave fewer entries, never wrong ones.

A store records the generation through which the table is complete, so an update with nothing to
do costs one small read, and the first update of an index made before the table existed fills it
for every chunk (a backfill).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from bot.embedding.questions import ONNX_ENCODER
from bot.index.generation import SearchIndex
from bot.ingest.chunking import Chunk

log = logging.getLogger(__name__)

Kind = Literal["sentence", "word"]
KINDS: tuple[Kind, ...] = ("sentence", "word")
FILL_BATCH = 64  # texts per encoder call, as the judge's own
WRITE_BATCH = 4096  # entries per transaction: bounds the writer's memory (6 MB of vectors)


def key(kind: Kind, text: str) -> bytes:
    """The table's key of an embedded text: the two kinds never share a key, even for one text."""
    return hashlib.sha256(f"{kind}\x00{text}".encode()).digest()


def decode(blob: object, dimension: int) -> np.ndarray | None:
    """A stored vector, or None when the row cannot be what the writer stored (wrong length,
    not finite, not unit length): such a row is ignored and its text embedded again."""
    if not isinstance(blob, bytes | memoryview) or len(blob) != 4 * dimension:
        return None
    vector = np.frombuffer(bytes(blob), dtype="<f4").astype(np.float32)
    if not np.isfinite(vector).all() or abs(float(vector @ vector) - 1.0) > 1e-3:
        return None
    return vector


def encode_row(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


@dataclass(frozen=True, slots=True)
class Completion:
    """The generation (and its creation time, which tells a rebuilt index from the old one)
    whose every chunk has its sentences and words in the table."""

    generation: int
    created_at: str


class JudgeVectors(Protocol):
    """The reader's side: look texts up; what is not there is the caller's to embed."""

    def lookup(self, texts: Sequence[tuple[Kind, str]]) -> dict[tuple[Kind, str], np.ndarray]:
        """The stored vectors of those of `texts` the table holds (sound rows only)."""
        ...


class JudgeVectorTable(JudgeVectors, Protocol):
    """The writer's side."""

    def missing(self, texts: Sequence[tuple[Kind, str]]) -> list[tuple[Kind, str]]:
        """Those of `texts` with no sound row, in their order."""
        ...

    def add(self, rows: Sequence[tuple[Kind, str, np.ndarray]]) -> None:
        """Store the rows in one transaction (an existing key keeps its row)."""
        ...

    def completion(self) -> Completion | None: ...

    def mark_complete(self, completion: Completion) -> None: ...

    def models(self) -> list[str]:
        """Every model id the table holds vectors of (the writer's own included)."""
        ...

    def drop(self, models: Sequence[str]) -> None:
        """Delete these models' vectors, in one transaction."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class JudgeVectorStore(Protocol):
    """A store that keeps a judge vector table beside its index."""

    def judge_vectors(self, model_id: str, dimension: int) -> JudgeVectorTable:
        """The writer's table for `model_id` (created if needed). Raises OSError or the
        store's database error when it cannot be opened for writing."""
        ...

    def judge_vector_reader(self, model_id: str, dimension: int) -> JudgeVectors:
        """The readers' view of the table, opened on first use; never raises (a table that
        is missing or unreadable finds nothing, with one warning)."""
        ...


class JudgeWriter(Protocol):
    """What the writer needs from the judge: how it cuts a passage and how it embeds."""

    @property
    def model_id(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def judge_texts(self, text: str) -> tuple[list[str], list[str]]:
        """(sentences, words) of a passage exactly as the judge embeds them."""
        ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """The judge's own encoder path (bit-identical vectors)."""
        ...


@dataclass(frozen=True, slots=True)
class FillReport:
    texts: int  # distinct sentences and words of the chunks filled
    embedded: int  # of which were missing and embedded now
    seconds: float


def fill(table: JudgeVectorTable, writer: JudgeWriter, chunks: Iterable[Chunk | str]) -> FillReport:
    """Embed the sentences and words of `chunks` the table lacks and add them, WRITE_BATCH
    entries a transaction: a backfill of a large index never holds all its vectors in memory,
    and a writer killed midway keeps what it committed (each entry is right on its own; the
    generation is marked complete only by the caller, after the last one)."""
    started = time.perf_counter()
    wanted: dict[tuple[Kind, str], None] = {}
    for chunk in chunks:
        sentences, words = writer.judge_texts(chunk if isinstance(chunk, str) else chunk.text)
        wanted.update(dict.fromkeys(("sentence", s) for s in sentences))
        wanted.update(dict.fromkeys(("word", w) for w in words))
    missing = table.missing(list(wanted))
    # Similar lengths together: less padding per encoder call (vectors do not depend on the batch).
    missing.sort(key=lambda entry: (len(entry[1]), entry))
    rows: list[tuple[Kind, str, np.ndarray]] = []
    for start in range(0, len(missing), FILL_BATCH):
        batch = missing[start : start + FILL_BATCH]
        vectors = writer.encode([text for _, text in batch])
        rows.extend((kind, text, vectors[i]) for i, (kind, text) in enumerate(batch))
        if len(rows) >= WRITE_BATCH:
            table.add(rows)
            rows = []
    if rows:
        table.add(rows)
    return FillReport(len(wanted), len(missing), time.perf_counter() - started)


def superseded(current: str, models: Iterable[str]) -> list[str]:
    """The model ids among `models` that an ONNX writer's `current` one replaces: the same model
    embedded by another ONNX export (a remade export's digest differs). Nothing reads those
    any more (every process of a store uses the one export kept for the model), so each export
    remade would otherwise leave a whole table behind. Another runtime's ("torch") is kept: a
    reader configured for it uses it."""
    model, _, encoder = current.rpartition(" ")
    if not model or not encoder.startswith(ONNX_ENCODER):
        return []
    return [
        other
        for other in models
        if other != current
        and other.rpartition(" ")[0] == model
        and other.rpartition(" ")[2].startswith(ONNX_ENCODER)
    ]


def drop_superseded(table: JudgeVectorTable, current: str) -> list[str]:
    """Delete the vectors of exports `current` replaces (once it is complete); their ids."""
    dropped = superseded(current, table.models())
    if dropped:
        table.drop(dropped)
        log.info("dropped the answer judge's vectors of a replaced encoder: %s", ", ".join(dropped))
    return dropped


def all_chunks(index: SearchIndex) -> Iterable[Chunk]:
    """Every chunk of a generation, document by document (a backfill)."""
    for source in index.manifest.documents:
        yield from index.passages(source)


def bring_up_to_date(
    store: object,
    writer: JudgeWriter | None,
    index: SearchIndex,
    new_chunks: Sequence[Chunk] | None,
) -> FillReport | None:
    """After an update (or with nothing to do): fill the table for `index`'s generation and
    record it complete. Only `new_chunks` (those this update embedded) when the table was
    complete for the previous generation; every chunk otherwise, and when `new_chunks` is None
    (an update with nothing to do on an index whose table is not complete: a backfill).
    Never fails the update: a table that cannot be written is a warning, and readers embed."""
    if writer is None or not isinstance(store, JudgeVectorStore):
        return None
    manifest = index.manifest
    done = Completion(manifest.generation, manifest.created_at)
    try:
        table = store.judge_vectors(writer.model_id, writer.dimension)
    except Exception as exc:  # OSError, sqlite3 or psycopg errors: readers embed instead
        log.warning("cannot open the answer judge's vector table: %s", exc)
        return None
    try:
        completion = table.completion()
        if completion == done:
            drop_superseded(table, writer.model_id)
            return None
        # Complete for the generation this update started from: its kept chunks are in.
        incremental = (
            new_chunks is not None
            and completion is not None
            and completion.generation == manifest.generation - 1
        )
        chunks: Iterable[Chunk] = (new_chunks or ()) if incremental else all_chunks(index)
        report = fill(table, writer, chunks)
        table.mark_complete(done)
        drop_superseded(table, writer.model_id)
        return report
    except Exception as exc:
        log.warning("cannot fill the answer judge's vector table: %s", exc)
        return None
    finally:
        table.close()


def lookup_all(
    vectors: JudgeVectors | None, texts: Mapping[tuple[Kind, str], None]
) -> dict[tuple[Kind, str], np.ndarray]:
    """`vectors.lookup` that never raises: a table that fails is as good as absent."""
    if vectors is None or not texts:
        return {}
    try:
        return vectors.lookup(list(texts))
    except Exception as exc:
        log.warning("cannot read the answer judge's vector table: %s", exc)
        return {}
