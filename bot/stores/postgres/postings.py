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
from dataclasses import dataclass

import numpy as np

RANGE_BITS = 12  # 4,096 chunk ids per block: rows stay small (<= 32 KB) and updates cheap
ENTRY = np.dtype([("offset", ">i2"), ("tf", ">i2"), ("length", ">i4")])
MAX_TF = 32767  # a term frequency above this is stored as this (BM25 has long saturated)
MAX_LENGTH = 2**31 - 1
# Ranges a reader scores together (65,536 ids): as fast as 32 at 1M chunks, half the memory.
BATCH_RANGES = 16
K1 = 1.5
B = 0.75


@dataclass(frozen=True, slots=True)
class BlockLayout:
    """How chunk ids are cut into blocks, and how many blocks a reader scores at once. The
    defaults are the stored format's (schema migration 4 wrote blocks of 4,096 ids); tests pass
    small ones so that a few hundred chunks span many blocks and batches, as a million do."""

    range_bits: int = RANGE_BITS
    batch_ranges: int = BATCH_RANGES

    @property
    def mask(self) -> int:
        return (1 << self.range_bits) - 1


LAYOUT = BlockLayout()


def block_of(chunk_id: int, layout: BlockLayout = LAYOUT) -> int:
    return chunk_id >> layout.range_bits


def encode(entries: Sequence[tuple[int, int, int]], layout: BlockLayout = LAYOUT) -> bytes:
    """(chunk id, tf, chunk length) of one term in one range, in chunk id order."""
    packed = np.empty(len(entries), dtype=ENTRY)
    if entries:
        table = np.asarray(entries, dtype=np.int64)
        packed["offset"] = table[:, 0] & layout.mask
        packed["tf"] = np.minimum(table[:, 1], MAX_TF)
        packed["length"] = np.minimum(table[:, 2], MAX_LENGTH)
    return packed.tobytes()


def decode(block: int, data: bytes, layout: BlockLayout = LAYOUT) -> list[tuple[int, int, int]]:
    """The (chunk id, tf, length) entries of a stored block."""
    packed = np.frombuffer(data, dtype=ENTRY)
    base = block << layout.range_bits
    return [
        (base + int(o), int(t), int(n))
        for o, t, n in zip(packed["offset"], packed["tf"], packed["length"], strict=True)
    ]


def chunk_length(terms: Counter[str]) -> int:
    """A chunk's length in BM25's sense: its terms, or 1 (bm25s indexes an empty chunk as [""])."""
    return max(sum(terms.values()), 1)


def range_blocks(
    chunk_terms: Sequence[tuple[int, Counter[str]]], layout: BlockLayout = LAYOUT
) -> dict[str, bytes]:
    """The blocks of one range's new chunks (ids ascending, all in one range), per term."""
    entries: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    for chunk_id, terms in chunk_terms:
        length = chunk_length(terms)
        for term, tf in terms.items():
            entries[term].append((chunk_id, tf, length))
    return {term: encode(found, layout) for term, found in entries.items()}


def merged(old: bytes, drop: set[int], add: bytes | None, layout: BlockLayout = LAYOUT) -> bytes:
    """A block's new content: its old entries without the `drop` chunk ids (any id of the
    range works: only the offset within it is compared), plus `add`'s, in id order."""
    kept = np.frombuffer(old, dtype=ENTRY)
    if drop:
        dropped = np.fromiter((chunk_id & layout.mask for chunk_id in drop), np.int64, len(drop))
        kept = kept[~np.isin(kept["offset"], dropped)]
    if add:
        kept = np.concatenate([kept, np.frombuffer(add, dtype=ENTRY)])
    # (concatenating may promote to native byte order: the stored format is big-endian)
    return kept[np.argsort(kept["offset"], kind="stable")].astype(ENTRY).tobytes()


class ScoreBatch:
    """BM25 of every chunk in `layout.batch_ranges` consecutive ranges, from their blocks' rows."""

    def __init__(
        self,
        first_block: int,
        weights: dict[str, float],
        avgdl: float,
        layout: BlockLayout = LAYOUT,
    ) -> None:
        self.first_block = first_block
        self._weights = weights
        self._avgdl = avgdl
        self._bits = layout.range_bits

    def top(self, rows: Sequence[tuple[str, int, bytes]], k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k best (chunk ids, scores) of the batch, among chunks with a positive score, and
        any more that tie with the k-th. Rows come in (term, block) order, so each chunk's score
        is summed in the same order every time: equal scores stay exactly equal."""
        if not rows:
            return np.empty(0, np.int64), np.empty(0, np.float64)
        counts = np.fromiter((len(r[2]) // ENTRY.itemsize for r in rows), np.int64, len(rows))
        packed = np.frombuffer(b"".join(r[2] for r in rows), dtype=ENTRY)
        starts = np.fromiter(
            ((r[1] - self.first_block) << self._bits for r in rows), np.int64, len(rows)
        )
        positions = np.repeat(starts, counts) + packed["offset"]
        # BM25's tf factor, computed in place: a batch's postings are the reader's peak memory.
        factor = packed["tf"].astype(np.float64)
        norm = packed["length"].astype(np.float64)
        norm *= K1 * B / self._avgdl
        norm += K1 * (1 - B)
        norm += factor
        factor /= norm
        del norm
        factor *= np.repeat(
            np.fromiter((self._weights[r[0]] for r in rows), np.float64, len(rows)), counts
        )
        scores = np.bincount(positions, weights=factor)
        found = np.flatnonzero(scores > 0)
        if len(found) > k:  # every chunk tied with the k-th stays: `best` orders ties by id
            kth = np.partition(scores[found], len(found) - k)[len(found) - k]
            found = found[scores[found] >= kth]
        return found + (self.first_block << self._bits), scores[found]


def best(
    ids: np.ndarray, scores: np.ndarray, more_ids: np.ndarray, more_scores: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The k best of two (ids, scores) sets: highest score first, ties by chunk id."""
    all_ids = np.concatenate([ids, more_ids])
    all_scores = np.concatenate([scores, more_scores])
    order = np.lexsort((all_ids, -all_scores))[:k]
    return all_ids[order], all_scores[order]
