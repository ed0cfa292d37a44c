"""One generation of the PostgreSQL index, searched in the database: a reader never loads the corpus.

Dense search is pgvector's HNSW (`ORDER BY embedding <=> q LIMIT k`); keyword search is the same
BM25 (Lucene variant, k1 = 1.5, b = 0.75, bm25s' defaults) the files store computes, evaluated
over postings of the question's stemmed terms, so both stores rank alike. Every value reaches SQL
as a bound parameter; only the integer dimension is formatted in (a partial index needs a constant).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
from psycopg import sql

from bot.chunking import Chunk
from bot.errors import StoreUnavailableError
from bot.index import Manifest
from bot.pg_db import Database

K1 = 1.5
B = 0.75
# Where a generation's rows are: pinned by number, so no transaction is held between queries.
VISIBLE = "live_from <= %(g)s AND (dead_from IS NULL OR dead_from > %(g)s)"
_MAX_EF_SEARCH = 1000
K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class _KeywordRound:
    scores: list[tuple[int, float]]  # exact BM25 of the best re-scored candidates, best first
    kth: float  # the k-th of those (0 when fewer than k)
    unread_bound: float  # the most a chunk no list reached can score
    beyond_rescored: float  # the most a candidate not re-scored can score
    open_terms: list[str]  # terms whose lists were not read to the end

    @property
    def exact(self) -> bool:
        """Nothing unread and nothing not re-scored can beat the k-th exact score."""
        return self.unread_bound <= self.kth and self.beyond_rescored <= self.kth


class LruCache(Generic[K, V]):
    """The `size` most recently used values, shared by threads (chunk rows, document records)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._values: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._values.get(key)
            if value is not None:
                self._values.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._values[key] = value
            self._values.move_to_end(key)
            while len(self._values) > self._size:
                self._values.popitem(last=False)

    def keys(self) -> list[K]:
        """Least recently used first."""
        with self._lock:
            return list(self._values)


class PgIndex:
    def __init__(
        self,
        db: Database,
        manifest: Manifest,
        chunk_count: int,
        token_total: int,
        cache: LruCache[int, Chunk],
        *,
        impact_avgdl: float,
    ) -> None:
        self._db = db
        self._manifest = manifest
        self._n = chunk_count
        self._avgdl = token_total / chunk_count if chunk_count else 1.0
        self._cache = cache
        # Postings' impacts were computed with `impact_avgdl`; with this generation's average
        # the term-frequency factor is at most impact × max(1, avgdl / impact_avgdl) (a longer
        # average only shrinks the length penalty, by at most that ratio). The margin covers the
        # rounding of impacts stored as float4.
        self._impact_ratio = max(1.0, self._avgdl / impact_avgdl) * (1 + 1e-6)
        self._recent: list[int] = []  # ids just ranked: fetched together on the first miss
        # How the last keyword search went (benchmarks read these): rounds, and whether the result
        # is provably the exact top k or the budget ran out first.
        self.keyword_rounds = 0
        self.keyword_exact = True

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
        """BM25's top k (the files store's), read without scanning whole postings lists: exact
        whenever the budget allows proving it (`keyword_exact` says whether the last one was).

        Each term's postings are read best impact first, `keyword_postings_per_term` at a time;
        the candidates with the highest possible score are re-scored exactly from all their
        postings. A posting not yet read can add at most the term's weight times the impact of
        the first one not read (times `_impact_ratio`), so once no unread or un-re-scored chunk can
        beat the k-th exact score the answer is final; otherwise the lists still open are read
        four times deeper (or more candidates re-scored) and the round repeats, up to
        `keyword_max_postings_per_term`. Small corpora and rare terms finish in one round;
        bench/pg_bench.py measures rounds, exactness and time at 1,000,000 chunks."""
        tokens = _storable(tokens)
        if self._n == 0 or not tokens or k <= 0:
            return []
        options = self._db.options
        unique = sorted(set(tokens))
        first = max(options.keyword_postings_per_term, k)
        most = max(options.keyword_max_postings_per_term, first)
        limits = dict.fromkeys(unique, first)
        rescored = max(options.keyword_rescored, k)
        most_rescored = rescored * most // first  # re-scoring grows with the reading budget
        found = self._keyword_round(tokens, unique, limits, rescored, k)
        self.keyword_rounds, self.keyword_exact = 1, found.exact
        while not found.exact:
            deeper, more = limits.copy(), rescored
            if found.unread_bound > found.kth:
                deeper.update({t: min(limits[t] * 4, most) for t in found.open_terms})
            if found.beyond_rescored > found.kth:
                more = min(rescored * 4, most_rescored)
            if (deeper, more) == (limits, rescored):
                break  # the budget is spent: the best found, each with its exact score
            limits, rescored = deeper, more
            found = self._keyword_round(tokens, unique, limits, rescored, k)
            self.keyword_rounds, self.keyword_exact = self.keyword_rounds + 1, found.exact
        result = [(cid, score) for cid, score in found.scores if score > 0]
        self._remember(result)
        return result

    def _keyword_round(
        self,
        tokens: list[str],
        unique: list[str],
        limits: dict[str, int],
        rescored: int,
        k: int,
    ) -> _KeywordRound:
        factor = "p.tf / (p.tf + %(k1)s * (1 - %(b)s + %(b)s * p.token_count / %(avgdl)s))"
        query = (
            "WITH q AS (SELECT t AS term, count(*) AS n FROM unnest(%(terms)s::text[]) AS t "
            "GROUP BY t), "
            "w AS (SELECT q.term, l.lim, q.n * ln(1 + (%(n)s - t.df + 0.5) / (t.df + 0.5)) AS weight "
            "FROM q JOIN (SELECT term, df FROM quotebot_terms WHERE " + VISIBLE + ") t "
            "ON t.term = q.term "
            "JOIN unnest(%(unique)s::text[], %(limits)s::int[]) AS l(term, lim) "
            "ON l.term = q.term), "
            # What one unread posting of each term can add at most: its weight times the impact
            # at the end of what is read (one index probe; 0 when the list is read to its end).
            "cuts AS MATERIALIZED (SELECT w.term, w.lim, w.weight, "
            "coalesce(c.impact, 0) * w.weight * %(ratio)s AS bound FROM w LEFT JOIN LATERAL "
            "(SELECT impact FROM quotebot_postings WHERE term = w.term AND " + VISIBLE + " "
            "ORDER BY impact DESC OFFSET w.lim LIMIT 1) c ON true), "
            # Each term's best postings (an index scan on (term, impact DESC) that stops early),
            # summed per chunk: what it has from the lists read minus what those terms' bounds
            # would have granted, so its highest possible score is that plus every bound.
            "candidates AS MATERIALIZED (SELECT p.chunk_id, "
            "sum(w.weight * " + factor + " - w.bound) AS gain FROM cuts w CROSS JOIN LATERAL "
            "(SELECT chunk_id, tf, token_count FROM quotebot_postings "
            "WHERE term = w.term AND " + VISIBLE + " ORDER BY impact DESC LIMIT w.lim) p "
            "GROUP BY p.chunk_id), "
            "best AS MATERIALIZED (SELECT chunk_id, gain FROM candidates "
            "ORDER BY gain DESC, chunk_id LIMIT %(rescored)s + 1), "
            # A lateral probe per candidate, fenced by OFFSET 0 (the planner would otherwise read
            # every posting of the question's terms and hash-join them).
            "scored AS (SELECT c.chunk_id, sum(w.weight * " + factor + ") AS s "
            "FROM (SELECT chunk_id FROM best ORDER BY gain DESC, chunk_id LIMIT %(rescored)s) c "
            "CROSS JOIN LATERAL (SELECT term, tf, token_count "
            "FROM quotebot_postings WHERE chunk_id = c.chunk_id "
            "AND term = ANY(%(unique)s::text[]) OFFSET 0) p JOIN cuts w ON w.term = p.term "
            "GROUP BY c.chunk_id) "
            "SELECT s.chunk_id, s.s, (SELECT sum(bound) FROM cuts), "
            "(SELECT gain FROM best ORDER BY gain DESC, chunk_id OFFSET %(rescored)s LIMIT 1), "
            "(SELECT array_agg(term) FROM cuts WHERE bound > 0) "
            "FROM scored s ORDER BY s.s DESC, s.chunk_id LIMIT %(k)s"
        )
        params: dict[str, Any] = {
            "terms": list(tokens),
            "unique": unique,
            "limits": [limits[term] for term in unique],
            "g": self.generation,
            "n": float(self._n),
            "k1": K1,
            "b": B,
            "avgdl": float(self._avgdl),
            "ratio": self._impact_ratio,
            "rescored": rescored,
            "k": k,
        }
        with self._db.connection() as conn:
            rows = conn.execute(query, params).fetchall()
        if not rows:  # no question term is in any chunk
            return _KeywordRound([], 0.0, 0.0, 0.0, [])
        scores = [(int(row[0]), float(row[1])) for row in rows]
        _, _, unread, next_gain, open_terms = rows[0]
        return _KeywordRound(
            scores,
            scores[k - 1][1] if len(scores) >= k else 0.0,
            float(unread),
            -math.inf if next_gain is None else float(next_gain) + float(unread),
            [str(term) for term in open_terms or []],
        )

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
        n = self._n
        return {
            token: math.log(
                1 + (n - frequency.get(token, 0) + 0.5) / (frequency.get(token, 0) + 0.5)
            )
            for token in unique
        }

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

    def _remember(self, rows: list[tuple[int, float]]) -> None:
        self._recent = [cid for cid, _ in rows] + self._recent[:64]


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
