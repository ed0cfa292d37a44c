"""BM25 postings stored as blocks: one row per (term, range of 4,096 chunk ids), scored in numpy.

Why blocks: exact BM25 top k has to add up every posting of the question's terms (bm25s does
the same in memory), and PostgreSQL aggregating one row per posting is 10-20x too slow at a
million chunks (a common term has hundreds of thousands). A block packs a term's postings for one
id range into a bytea (`ENTRY`: offset in the range, term frequency, chunk length), so a question
reads a few hundred rows and numpy sums them; the reader works through the corpus a batch of
ranges at a time, so its memory stays the same whatever the corpus size.

Blocks are versioned like every other row (`live_from` / `dead_from`): a writer that changes a
block marks the old row dead and inserts the new one, so a reader of the previous generation
still reads the old one. New chunks get ids above every existing one, so adding documents only
rewrites the blocks of the last, partly filled range; removing chunks rewrites the blocks of their
terms in their ranges.

The format is big-endian so PostgreSQL's `int2send`/`int4send` can write it (schema migration 4).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np

RANGE_BITS = 12  # 4,096 chunk ids per block: rows stay small (<= 32 KB) and updates cheap
RANGE_MASK = (1 << RANGE_BITS) - 1
ENTRY = np.dtype([("offset", ">i2"), ("tf", ">i2"), ("length", ">i4")])
MAX_TF = 32767  # a term frequency above this is stored as this (BM25 has long saturated)
MAX_LENGTH = 2**31 - 1
BATCH_RANGES = 32  # ranges scored together: 131,072 ids, a 1 MB score array
K1 = 1.5
B = 0.75


def block_of(chunk_id: int) -> int:
    return chunk_id >> RANGE_BITS


def encode(entries: Sequence[tuple[int, int, int]]) -> bytes:
    """(chunk id, tf, chunk length) of one term in one range, in chunk id order."""
    packed = np.empty(len(entries), dtype=ENTRY)
    if entries:
        table = np.asarray(entries, dtype=np.int64)
        packed["offset"] = table[:, 0] & RANGE_MASK
        packed["tf"] = np.minimum(table[:, 1], MAX_TF)
        packed["length"] = np.minimum(table[:, 2], MAX_LENGTH)
    return packed.tobytes()


def decode(block: int, data: bytes) -> list[tuple[int, int, int]]:
    """The (chunk id, tf, length) entries of a stored block."""
    packed = np.frombuffer(data, dtype=ENTRY)
    base = block << RANGE_BITS
    return [
        (base + int(o), int(t), int(n))
        for o, t, n in zip(packed["offset"], packed["tf"], packed["length"], strict=True)
    ]


class BlockBuilder:
    """New chunks' postings packed into blocks as the chunks stream past (ids ascending), so a
    writer holds 8 bytes a posting, not Python objects: a million chunks is ~300 MB."""

    def __init__(self) -> None:
        self.blocks: dict[tuple[str, int], bytes] = {}
        self._range: int | None = None
        self._pending: dict[str, list[tuple[int, int, int]]] = defaultdict(list)

    def add(self, chunk_id: int, terms: Counter[str]) -> None:
        block = block_of(chunk_id)
        if self._range is not None and block != self._range:
            self._flush()
        self._range = block
        length = max(sum(terms.values()), 1)  # bm25s indexes an empty chunk as [""]
        for term, tf in terms.items():
            self._pending[term].append((chunk_id, tf, length))

    def finish(self) -> dict[tuple[str, int], bytes]:
        self._flush()
        return self.blocks

    def _flush(self) -> None:
        if self._range is not None:
            for term, entries in self._pending.items():
                self.blocks[term, self._range] = encode(sorted(entries))
        self._pending = defaultdict(list)


def merged(block: int, old: bytes, drop: set[int], add: bytes | None) -> bytes:
    """A block's new content: its old entries without the `drop` chunk ids, plus `add`'s."""
    kept = [entry for entry in decode(block, old) if entry[0] not in drop]
    return encode(sorted(kept + (decode(block, add) if add else [])))


class ScoreBatch:
    """BM25 of every chunk in `BATCH_RANGES` consecutive ranges, from their blocks' rows."""

    def __init__(self, first_block: int, weights: dict[str, float], avgdl: float) -> None:
        self.first_block = first_block
        self._weights = weights
        self._avgdl = avgdl

    def top(self, rows: Sequence[tuple[str, int, bytes]], k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k best (chunk ids, scores) of the batch, among chunks with a positive score."""
        if not rows:
            return np.empty(0, np.int64), np.empty(0, np.float64)
        counts = np.fromiter((len(r[2]) // ENTRY.itemsize for r in rows), np.int64, len(rows))
        packed = np.frombuffer(b"".join(r[2] for r in rows), dtype=ENTRY)
        starts = np.fromiter(
            ((r[1] - self.first_block) << RANGE_BITS for r in rows), np.int64, len(rows)
        )
        positions = np.repeat(starts, counts) + packed["offset"]
        weight = np.repeat(
            np.fromiter((self._weights[r[0]] for r in rows), np.float64, len(rows)), counts
        )
        tf = packed["tf"].astype(np.float64)
        factor = tf / (tf + K1 * (1 - B + B * packed["length"] / self._avgdl))
        scores = np.bincount(positions, weights=weight * factor)
        found = np.flatnonzero(scores > 0)
        if len(found) > k:
            found = found[np.argpartition(-scores[found], k - 1)[:k]]
        return found + (self.first_block << RANGE_BITS), scores[found]


def best(
    ids: np.ndarray, scores: np.ndarray, more_ids: np.ndarray, more_scores: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The k best of two (ids, scores) sets: highest score first, ties by chunk id."""
    all_ids = np.concatenate([ids, more_ids])
    all_scores = np.concatenate([scores, more_scores])
    order = np.lexsort((all_ids, -all_scores))[:k]
    return all_ids[order], all_scores[order]
