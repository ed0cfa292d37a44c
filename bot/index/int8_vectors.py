"""Vectors held in memory as int8 codes with one float32 scale a row, the exact float32 rows read
back from where they are stored only for the few candidates a question keeps.

Why: ranking every chunk is bound by memory bandwidth, so a quarter of float32's bytes ranks
~2.5x faster than float16 (docs/bench.md), and the memory held is a quarter too. The codes only
choose a shortlist; its scores are exact float32 again, so answers are those of float32 vectors
whenever the shortlist holds the true top k.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from bot.errors import IndexCorruptError

SCALE = 127  # symmetric: a row's largest |x| becomes ±127
BLOCK = 8192  # rows quantised at a time: the float32 temporaries stay ~12 MB


class ExactRows(Protocol):
    """Where the float32 rows are kept (a store's vector file)."""

    def read(self, rows: np.ndarray) -> np.ndarray:
        """The float32 rows `rows` (ascending row numbers), shape (len(rows), dimension)."""
        ...

    def describe(self) -> str:
        """Where the rows are read from, for error messages."""
        ...


def quantise(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, scales) of float32 rows: codes = round(x / max|x| * 127) as int8, scale =
    max|x| / 127, so a row is about codes * scale; an all-zero row has codes 0 and scale 0.
    Deterministic bit for bit (only correctly rounded operations), which the re-read check needs."""
    vectors = np.asarray(vectors, dtype=np.float32)
    rows = vectors.shape[0]
    codes = np.empty(vectors.shape, dtype=np.int8)
    scales = np.empty(rows, dtype=np.float32)
    for start in range(0, rows, BLOCK):
        block = vectors[start : start + BLOCK]
        largest = np.abs(block).max(axis=1) if block.shape[1] else np.zeros(len(block), np.float32)
        divisor = np.where(largest > 0, largest, np.float32(1)).astype(np.float32)
        codes[start : start + BLOCK] = np.rint(block / divisor[:, None] * np.float32(SCALE))
        scales[start : start + BLOCK] = largest / np.float32(SCALE)
    return codes, scales


@dataclass(frozen=True, slots=True, eq=False)
class Int8Vectors:
    """One generation's vectors as int8 codes and row scales, with the store's exact rows."""

    codes: np.ndarray  # (N, dimension) int8
    scales: np.ndarray  # (N,) float32
    exact: ExactRows

    @classmethod
    def of(cls, vectors: np.ndarray, exact: ExactRows) -> Int8Vectors:
        codes, scales = quantise(vectors)
        return cls(codes, scales, exact)

    @property
    def nbytes(self) -> int:
        return int(self.codes.nbytes + self.scales.nbytes)

    def rough_scores(self, query: np.ndarray) -> np.ndarray:
        """About `vectors @ query` for every row (float64): simsimd's int8 dot product of the
        codes with the query quantised the same way (exact integers), times both scales."""
        import simsimd

        query_codes, query_scale = quantise(np.asarray(query, dtype=np.float32)[None, :])
        dots = simsimd.cdist(query_codes, self.codes, metric="dot", threads=1)
        scores: np.ndarray = np.asarray(dots, dtype=np.float64).reshape(-1) * self.scales
        return scores * float(query_scale[0])

    def rows(self, rows: np.ndarray) -> np.ndarray:
        """The exact float32 rows `rows` (ascending), checked: each must quantise to the codes
        and scale held, or the file changed under us since it was opened and checksummed."""
        exact = self.exact.read(rows)
        codes, scales = quantise(exact)
        if not (
            np.array_equal(codes, self.codes[rows]) and np.array_equal(scales, self.scales[rows])
        ):
            raise IndexCorruptError(
                f"vector file {self.exact.describe()} no longer matches the index in memory "
                "(modified after it was opened); run `quotebot index` to rebuild it"
            )
        return exact
