"""What an index is (manifest, chunks, vectors), how it is searched, and how it is brought up to date.

Storage lives behind the `Store` protocol (see stores/files.py): nothing here assumes where the bytes
are, and nothing above the `SearchIndex` protocol assumes the corpus is in memory.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from bot.index.int8_vectors import Int8Vectors
from bot.ingest.chunking import CHUNKER_VERSION, Chunk, ChunkerSettings
from bot.shared.text import keyword_tokens

# How chunk text is turned into model input; bump when that changes so vectors are rebuilt.
EMBED_FORMAT = 1


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    """One indexed document and its citation; `pages`/`sections` are spans of its quotable text."""

    source: str
    sha256: str
    size: int
    chunks: int
    characters: int
    indexed_at: str  # ISO 8601, UTC
    format: str = "text"
    title: str | None = None
    date: str | None = None  # ISO yyyy-mm-dd
    url: str | None = None
    author: str | None = None
    extractor: str = ""  # EXTRACTOR_VERSION the text was made with; another value re-extracts
    pages: tuple[tuple[int, int, int], ...] = ()
    sections: tuple[tuple[int, int, str], ...] = ()
    # What a .txt/.md was decoded with ("utf-8", "cp1252" …); `quotebot text` decodes with it
    # again so offsets stay exact. None for HTML and PDF, and for records made before it existed.
    encoding: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DocumentRecord:
        fields = dict(data)
        fields["pages"] = tuple((int(a), int(b), int(n)) for a, b, n in data.get("pages", ()))
        fields["sections"] = tuple((int(a), int(b), str(p)) for a, b, p in data.get("sections", ()))
        return cls(**fields)


@dataclass(frozen=True, slots=True)
class SkippedRecord:
    source: str
    sha256: str
    reason: str
    extractor: str = ""


@dataclass(frozen=True, slots=True)
class IndexRecipe:
    """Everything that, when changed, invalidates every vector: a full rebuild."""

    model_id: str
    chunker: ChunkerSettings
    chunker_version: int = CHUNKER_VERSION
    embed_format: int = EMBED_FORMAT

    def to_json(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "chunker": {
                "max_chars": self.chunker.max_chars,
                "overlap_chars": self.chunker.overlap_chars,
                "min_chars": self.chunker.min_chars,
            },
            "chunker_version": self.chunker_version,
            "embed_format": self.embed_format,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IndexRecipe:
        return cls(
            str(data["model_id"]),
            ChunkerSettings(**data["chunker"]),
            int(data["chunker_version"]),
            int(data["embed_format"]),
        )

    def difference(self, other: IndexRecipe) -> str | None:
        """A one-line reason why `other` cannot reuse this recipe's vectors, or None."""
        if self.model_id != other.model_id:
            return f"embedding model changed ({self.model_id} -> {other.model_id})"
        if self.chunker != other.chunker or self.chunker_version != other.chunker_version:
            return "chunker settings changed"
        if self.embed_format != other.embed_format:
            return "embedding input format changed"
        return None


@dataclass(frozen=True, slots=True)
class Manifest:
    """One generation's description. `documents` iterates in source order; a store whose
    readers must not hold every record (PostgreSQL) gives a mapping that looks records up on
    demand, and then states `chunk_total` so counting chunks does not read every record."""

    recipe: IndexRecipe
    dimension: int
    documents: Mapping[str, DocumentRecord]
    skipped: dict[str, SkippedRecord] = field(default_factory=dict)
    generation: int = 0
    created_at: str = ""
    model_info: dict[str, Any] = field(default_factory=dict)  # max_seq_length, normalised, ...
    chunk_total: int | None = None

    @property
    def chunk_count(self) -> int:
        if self.chunk_total is not None:
            return self.chunk_total
        return sum(record.chunks for record in self.documents.values())


class SearchIndex(Protocol):
    """One generation of the index, read-only. Implementations: in memory, later PostgreSQL."""

    @property
    def manifest(self) -> Manifest: ...

    def dense(self, query_vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(chunk id, cosine) of the k nearest chunks, best first."""
        ...

    def keyword(self, tokens: Sequence[str], k: int) -> list[tuple[int, float]]:
        """(chunk id, BM25) of the k best keyword matches with a positive score, best first."""
        ...

    def chunk(self, chunk_id: int) -> Chunk: ...

    def idf(self, tokens: Sequence[str]) -> dict[str, float]:
        """Inverse document frequency of each token over the chunks (for highlighting)."""
        ...

    def adjacent(self, source: str, start: int, end: int) -> tuple[Chunk | None, Chunk | None]:
        """The passages of `source` just before `start` and just after `end` (for "more")."""
        ...

    def passages(self, source: str) -> list[Chunk]:
        """Every passage of `source`, in text order (the changelog diffs them)."""
        ...


class MemoryIndex:
    """Chunks, their vectors and a BM25 index, all in memory: the default for one machine.

    Vectors are float32, float16 (half the memory) or int8 codes with the exact float32 rows
    read back on demand (`Int8Vectors`: a quarter); see `dense`. `vectors` is the array held.
    """

    def __init__(
        self, manifest: Manifest, chunks: Sequence[Chunk], vectors: np.ndarray | Int8Vectors
    ) -> None:
        held = vectors.codes if isinstance(vectors, Int8Vectors) else vectors
        if len(chunks) != held.shape[0]:
            raise ValueError("chunk table and vectors disagree in length")
        self._manifest = manifest
        self._chunks = list(chunks)
        self._vectors = held
        self._int8 = vectors if isinstance(vectors, Int8Vectors) else None
        self._bm25: Any = None
        self._by_source: dict[str, list[Chunk]] | None = None

    @property
    def manifest(self) -> Manifest:
        return self._manifest

    @property
    def chunks(self) -> list[Chunk]:
        return self._chunks

    @property
    def vectors(self) -> np.ndarray:
        """The array held: float32, float16, or int8 codes (never the exact vectors then)."""
        return self._vectors

    @property
    def vector_bytes(self) -> int:
        """Memory the vectors take (int8: codes and row scales)."""
        return self._int8.nbytes if self._int8 is not None else int(self._vectors.nbytes)

    def __len__(self) -> int:
        return len(self._chunks)

    def dense(self, query_vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Every held layout gives the scores of one function, `exact_scores` (each row on its
        own, whatever other rows are scored with it), ties going to the lower row: so int8
        answers equal float32's bit for bit whenever the shortlist holds the true top k."""
        if not self._chunks or k <= 0:
            return []
        query = np.ascontiguousarray(query_vector, dtype=np.float32).ravel()
        if self._vectors.dtype == np.float32:
            scores = exact_scores(self._vectors, query)
            return [(int(row), float(scores[row])) for row in best_rows(scores, k)]
        # Rank every row roughly (simsimd's float16 or int8 product: memory-bound, so fewer bytes
        # is faster), then re-score a generous shortlist in float32 so that the order and the
        # scores the answer composer sees are not rounded. The shortlist is taken in row order,
        # so equal scores rank the same whatever the rough order.
        if self._int8 is not None:
            rough = self._int8.rough_scores(query)
        else:
            rough = _half_precision_scores(self._vectors, query)
        shortlist = np.sort(best_rows(rough, max(4 * k, k + 32)))
        if self._int8 is not None:
            rows = self._int8.rows(shortlist)  # exact float32, read back and checked
        else:
            rows = self._vectors[shortlist].astype(np.float32)
        exact = exact_scores(rows, query)
        return [(int(shortlist[i]), float(exact[i])) for i in best_rows(exact, k)]

    def keyword(self, tokens: Sequence[str], k: int) -> list[tuple[int, float]]:
        if not self._chunks or not tokens:
            return []
        scores = self._keyword_index().get_scores(list(tokens))
        return _top_k(np.asarray(scores, dtype=np.float32), k, positive_only=True)

    def chunk(self, chunk_id: int) -> Chunk:
        return self._chunks[chunk_id]

    def idf(self, tokens: Sequence[str]) -> dict[str, float]:
        bm25 = self._keyword_index()
        n = len(self._chunks)
        return {token: bm25_idf(_document_frequency(bm25, token), n) for token in set(tokens)}

    def passages(self, source: str) -> list[Chunk]:
        if self._by_source is None:
            grouped: dict[str, list[Chunk]] = {}
            for chunk in self._chunks:
                grouped.setdefault(chunk.source, []).append(chunk)
            self._by_source = {k: sorted(v, key=lambda c: c.start) for k, v in grouped.items()}
        return list(self._by_source.get(source, []))

    def adjacent(self, source: str, start: int, end: int) -> tuple[Chunk | None, Chunk | None]:
        passages = self.passages(source)
        before = [c for c in passages if c.end <= start]
        after = [c for c in passages if c.start >= end]
        return (before[-1] if before else None), (after[0] if after else None)

    def warm_up(self) -> None:
        """Build the keyword index now rather than on the first question, and load the vector
        kernels (simsimd) that `dense` uses."""
        import simsimd  # noqa: F401

        self._keyword_index()

    def _keyword_index(self) -> Any:
        if self._bm25 is None:
            import bm25s

            bm25 = bm25s.BM25()
            corpus = [keyword_tokens(chunk.text) or [""] for chunk in self._chunks]
            bm25.index(corpus, show_progress=False)
            del corpus
            self._bm25 = bm25
            return_freed_memory()
        return self._bm25


def _document_frequency(bm25: Any, token: str) -> int:
    """How many passages hold `token`: its nonzero entries in bm25s's score matrix (one
    column per token, one entry per passage holding it), which is what counting the nonzero
    scores of `bm25.get_scores([token])` gives, without scoring every passage. A variant that
    scores passages lacking the token (BM25L, BM25+) has no such column: it is scored."""
    column = bm25.vocab_dict.get(token)
    if column is None:
        return 0
    if bm25.nonoccurrence_array is not None:
        return int(np.count_nonzero(bm25.get_scores([token])))
    indptr, data = bm25.scores["indptr"], bm25.scores["data"]
    return int(np.count_nonzero(data[indptr[column] : indptr[column + 1]]))


def bm25_idf(document_frequency: int, chunk_count: int) -> float:
    """BM25's inverse document frequency (as bm25s computes it) of a term found in
    `document_frequency` of `chunk_count` passages; with 0, the idf of a term no passage holds."""
    return math.log(1 + (chunk_count - document_frequency + 0.5) / (document_frequency + 0.5))


def return_freed_memory() -> None:
    """Hand memory freed by a big build back to the OS. glibc keeps freed heap pages for reuse,
    so the millions of short-lived token strings of a BM25 build leave ~25 MB per 100,000 chunks
    resident for good; `malloc_trim` releases them. A no-op where there is no glibc."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):  # the process's own symbols include libc's
        ctypes.CDLL(None).malloc_trim(0)


def _half_precision_scores(vectors: np.ndarray, query: np.ndarray) -> np.ndarray:
    """`vectors @ query` for float16 rows, as float32, on one thread: simsimd's SIMD kernels
    (F16C / AVX-512 FP16 / NEON), 3x faster than torch's float16 product and without torch,
    which answering a question must not import (the question encoder is onnxruntime)."""
    import simsimd

    scores = simsimd.cdist(query.astype(vectors.dtype)[None, :], vectors, metric="dot", threads=1)
    return np.asarray(scores, dtype=np.float32).reshape(-1)


def exact_scores(rows: np.ndarray, query: np.ndarray) -> np.ndarray:
    """`rows @ query` for float32 rows, as float32, each row computed on its own by simsimd's
    float32 kernel (one thread). numpy's matrix-vector product is not used: BLAS blocks rows, so
    a row's last bit depends on which rows are multiplied with it (a shortlist's scores would
    differ from the same rows' scores in a full scan)."""
    import simsimd

    scores = simsimd.cdist(query.astype(np.float32)[None, :], rows, metric="dot", threads=1)
    return np.asarray(scores, dtype=np.float32).reshape(-1)


def best_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """The rows of the k highest scores, best first; equal scores go to the lower row, also at
    the k-th place (argpartition alone picks among ties there by its own pivoting)."""
    n = scores.shape[0]
    k = min(k, n)
    if k <= 0:
        return np.zeros(0, dtype=np.intp)
    if k < n:
        kth = np.partition(scores, n - k)[n - k]
        above = np.flatnonzero(scores > kth)
        tied = np.flatnonzero(scores == kth)[: k - above.size]
        top = np.union1d(above, tied)
    else:
        top = np.arange(n)
    return top[np.argsort(-scores[top], kind="stable")]


def _top_k(scores: np.ndarray, k: int, *, positive_only: bool) -> list[tuple[int, float]]:
    k = min(k, scores.shape[0])
    if k <= 0:
        return []
    top = np.argpartition(-scores, k - 1)[:k] if k < scores.shape[0] else np.arange(scores.shape[0])
    ordered = top[np.argsort(-scores[top], kind="stable")]
    return [(int(i), float(scores[i])) for i in ordered if not positive_only or scores[i] > 0]


def embedding_input(chunk: Chunk) -> str:
    """The text the model sees for a chunk: whitespace collapsed, nothing else changed."""
    return " ".join(chunk.text.split())
