"""One generation of the PostgreSQL index, searched in the database: a reader never loads the corpus.

Dense search is pgvector's HNSW (`ORDER BY embedding <=> q LIMIT k`); keyword search is the same
BM25 (Lucene variant, k1 = 1.5, b = 0.75, bm25s' defaults) the files store computes, summed
over the blocks of postings of the question's stemmed terms (stores/postgres/postings.py), so both stores give
the same top k. Every value reaches SQL as a bound parameter; only the integer dimension is
formatted in (a partial index needs a constant).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from psycopg import sql

from bot.errors import StoreUnavailableError
from bot.index.generation import Manifest, bm25_idf
from bot.ingest.chunking import Chunk
from bot.shared.lru import LruCache
from bot.stores.postgres.db import Database
from bot.stores.postgres.postings import LAYOUT, BlockLayout, ScoreBatch, best

# Where a generation's rows are: pinned by number, so no transaction is held between queries.
VISIBLE = "live_from <= %(g)s AND (dead_from IS NULL OR dead_from > %(g)s)"
_MAX_EF_SEARCH = 1000


class PgIndex:
    def __init__(
        self,
        db: Database,
        manifest: Manifest,
        chunk_count: int,
        token_total: int,
        cache: LruCache[int, Chunk],
        layout: BlockLayout = LAYOUT,
    ) -> None:
        self._db = db
        self._layout = layout
        self._manifest = manifest
        self._n = chunk_count
        self._avgdl = token_total / chunk_count if chunk_count else 1.0
        self._cache = cache
        self._recent: list[int] = []  # ids just ranked: fetched together on the first miss

    @property
    def manifest(self) -> Manifest:
        return self._manifest

    @property
    def generation(self) -> int:
        return self._manifest.generation

    def __len__(self) -> int:
        return self._n

    def dense(self, query_vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        if self._n == 0 or k <= 0:
            return []
        wanted = min(k, self._n)
        ef = min(max(self._db.options.ef_search, k), _MAX_EF_SEARCH)
        rows = self._dense(query_vector, k, ef, exact=False)
        if len(rows) < wanted:
            # HNSW filters after the graph walk: rows of other generations can crowd out ours.
            rows = self._dense(query_vector, k, _MAX_EF_SEARCH, exact=False)
        if len(rows) < wanted:
            rows = self._dense(query_vector, k, ef, exact=True)
        self._remember(rows)
        return rows

    def _dense(
        self, query_vector: np.ndarray, k: int, ef: int, *, exact: bool
    ) -> list[tuple[int, float]]:
        dim = self._manifest.dimension
        query = sql.SQL(
            "SELECT chunk_id, 1 - (embedding::vector({dim}) <=> %(q)s::text::vector({dim})) "
            "FROM quotebot_chunks WHERE dim = {dim} AND " + VISIBLE + " "
            "ORDER BY embedding::vector({dim}) <=> %(q)s::text::vector({dim}) LIMIT %(k)s"
        ).format(dim=sql.Literal(int(dim)))
        params = {"q": vector_text(query_vector), "g": self.generation, "k": k}
        with self._db.connection() as conn:
            if ef <= self._db.options.ef_search and not exact:  # the session's setting will do
                rows = conn.execute(query, params).fetchall()
            else:
                with conn.transaction():
                    conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(ef),))
                    if exact:
                        conn.execute("SET LOCAL enable_indexscan = off")
                    rows = conn.execute(query, params).fetchall()
        return [(int(cid), float(score)) for cid, score in rows]

    def keyword(self, tokens: Sequence[str], k: int) -> list[tuple[int, float]]:
        """BM25's exact top k, the files store's (bm25s): every posting of the question's terms
        is added up, from their blocks (stores/postgres/postings.py), `layout.batch_ranges` id ranges at a time so the
        reader's memory does not grow with the corpus."""
        tokens = _storable(tokens)
        if self._n == 0 or not tokens or k <= 0:
            return []
        idf = self.idf(tokens)
        repeats = Counter(tokens)  # bm25s counts a term the question repeats that many times
        weights = {term: repeats[term] * idf[term] for term in idf}
        unique = sorted(weights)
        params: dict[str, Any] = {"terms": unique, "g": self.generation}
        with self._db.connection() as conn:
            found = conn.execute(
                "SELECT array_agg(DISTINCT block) FROM quotebot_blocks "
                "WHERE term = ANY(%(terms)s::text[]) AND " + VISIBLE,
                params,
            ).fetchone()
            ids, scores = np.empty(0, np.int64), np.empty(0, np.float64)
            batch_ranges = self._layout.batch_ranges
            for first in _windows(sorted(found[0] or []) if found else [], batch_ranges):
                rows = conn.execute(
                    "SELECT term, block, postings FROM quotebot_blocks "
                    "WHERE term = ANY(%(terms)s::text[]) AND block >= %(first)s "
                    "AND block < %(end)s AND " + VISIBLE + " ORDER BY term, block",
                    {**params, "first": first, "end": first + batch_ranges},
                    binary=True,
                ).fetchall()
                batch = ScoreBatch(first, weights, self._avgdl, self._layout)
                ids, scores = best(ids, scores, *batch.top(rows, k), k)
        result = [(int(cid), float(score)) for cid, score in zip(ids, scores, strict=True)]
        self._remember(result)
        return result

    def idf(self, tokens: Sequence[str]) -> dict[str, float]:
        unique = sorted(set(_storable(tokens)))
        if not unique:
            return {}
        with self._db.connection() as conn:
            rows = conn.execute(
                "SELECT term, df FROM quotebot_terms WHERE term = ANY(%(unique)s::text[]) "
                "AND " + VISIBLE,
                {"unique": unique, "g": self.generation},
            ).fetchall()
        frequency = {str(term): int(count) for term, count in rows}
        return {token: bm25_idf(frequency.get(token, 0), self._n) for token in unique}

    def chunk(self, chunk_id: int) -> Chunk:
        found = self._cache.get(chunk_id)
        if found is not None:
            return found
        wanted = [chunk_id, *[c for c in self._recent if self._cache.get(c) is None][:63]]
        with self._db.connection() as conn:
            rows = conn.execute(
                "SELECT chunk_id, source, start_offset, end_offset, text, paragraph "
                "FROM quotebot_chunks WHERE chunk_id = ANY(%s::bigint[])",
                (wanted,),
            ).fetchall()
        for cid, source, start, end, text, paragraph in rows:
            self._cache.put(int(cid), Chunk(source, int(start), int(end), text, int(paragraph)))
        found = self._cache.get(chunk_id)
        if found is None:
            raise StoreUnavailableError(
                "the index changed while this question was answered; ask again"
            )
        return found

    def adjacent(self, source: str, start: int, end: int) -> tuple[Chunk | None, Chunk | None]:
        """The passages of `source` just before `start` and just after `end`, in this generation."""
        columns = "chunk_id, source, start_offset, end_offset, text, paragraph"
        params = {"s": source, "a": start, "b": end, "g": self.generation}
        with self._db.connection() as conn:
            before = conn.execute(
                f"SELECT {columns} FROM quotebot_chunks WHERE source = %(s)s AND "
                f"end_offset <= %(a)s AND {VISIBLE} ORDER BY end_offset DESC LIMIT 1",
                params,
            ).fetchone()
            after = conn.execute(
                f"SELECT {columns} FROM quotebot_chunks WHERE source = %(s)s AND "
                f"start_offset >= %(b)s AND {VISIBLE} ORDER BY start_offset LIMIT 1",
                params,
            ).fetchone()
        return _as_chunk(before), _as_chunk(after)

    def passages(self, source: str) -> list[Chunk]:
        """Every passage of `source` in this generation, in text order."""
        with self._db.connection() as conn:
            rows = conn.execute(
                # Through the document's row (indexed by source); chunks are indexed by doc_id.
                "SELECT chunk_id, source, start_offset, end_offset, text, paragraph "
                "FROM quotebot_chunks WHERE doc_id IN (SELECT doc_id FROM quotebot_documents "
                f'WHERE source COLLATE "C" = %(s)s AND {VISIBLE}) AND {VISIBLE} '
                "ORDER BY start_offset",
                {"s": source, "g": self.generation},
            ).fetchall()
        return [chunk for chunk in map(_as_chunk, rows) if chunk is not None]

    def _remember(self, rows: list[tuple[int, float]]) -> None:
        self._recent = [cid for cid, _ in rows] + self._recent[:64]


def _windows(blocks: list[int], batch_ranges: int) -> list[int]:
    """The first block of each batch that holds some of `blocks` (ascending): ranges no term
    of the question is in (ids of removed chunks, other documents) are never asked for."""
    starts: list[int] = []
    for block in blocks:
        if not starts or block >= starts[-1] + batch_ranges:
            starts.append(block)
    return starts


def _as_chunk(row: Any) -> Chunk | None:
    if row is None:
        return None
    _, source, start, end, text, paragraph = row
    return Chunk(source, int(start), int(end), text, int(paragraph))


def _storable(tokens: Sequence[str]) -> list[str]:
    """PostgreSQL text cannot hold NUL; no indexed term contains one, so such a token matches
    nothing either way (our tokenizer never yields one; this guards direct callers)."""
    return [token.replace("\x00", "\ufffd") for token in tokens]


def vector_text(vector: np.ndarray) -> str:
    """pgvector's text form, bound as a parameter (never formatted into SQL)."""
    values = np.asarray(vector, dtype=np.float32).ravel()
    if not np.isfinite(values).all():
        raise ValueError("query vector holds NaN or infinite values")
    return "[" + ",".join(repr(float(x)) for x in values) + "]"
