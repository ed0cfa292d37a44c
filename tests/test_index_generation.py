"""MemoryIndex over a real corpus: its idf is bm25s's, read from the keyword index. And dense in
every memory layout: int8 and float16 rank roughly and re-score exactly; int8's exact rows come
back from the store, so its top k equals float32's bit for bit."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from bot.index.generation import (
    DocumentRecord,
    IndexRecipe,
    Manifest,
    MemoryIndex,
    best_rows,
    bm25_idf,
    exact_scores,
)
from bot.index.int8_vectors import Int8Vectors
from bot.ingest.chunking import Chunk, ChunkerSettings, chunk_text
from bot.shared.text import keyword_tokens

ROOT = Path(__file__).resolve().parents[1]
# Real prose: the bundled article and the project's own documentation.
DOCUMENTS = sorted([*ROOT.glob("knowledge/*.txt"), ROOT / "README.md", *ROOT.glob("docs/*.md")])


def _index(chunks: list[Chunk]) -> MemoryIndex:
    manifest = Manifest(IndexRecipe("model", ChunkerSettings()), 4, {})
    return MemoryIndex(manifest, chunks, np.zeros((len(chunks), 4), dtype=np.float32))


def _scored_idf(index: MemoryIndex, tokens: list[str], n: int) -> dict[str, float]:
    """The computation idf replaced: score every passage for the token, count the nonzero."""
    bm25 = index._keyword_index()
    return {t: bm25_idf(int(np.count_nonzero(bm25.get_scores([t]))), n) for t in set(tokens)}


@pytest.fixture(scope="module")
def corpus() -> list[Chunk]:
    """Every one of DOCUMENTS, chunked as the index does, plus
    passages with no keyword (the empty placeholder) and one token repeated many times."""
    chunks: list[Chunk] = []
    for path in DOCUMENTS:
        chunks.extend(chunk_text(path.name, path.read_text(encoding="utf-8"), ChunkerSettings()))
    for number, text in enumerate(["...", "— ? —", "jingzhou jingzhou jingzhou jingzhou"]):
        chunks.append(Chunk("edge.txt", 10 * number, 10 * number + len(text), text, number + 1))
    return chunks


def test_idf_is_exactly_what_scoring_every_passage_counted(corpus: list[Chunk]) -> None:
    index = _index(corpus)
    vocabulary = sorted({t for chunk in corpus for t in keyword_tokens(chunk.text)})
    assert "" not in vocabulary and len(vocabulary) > 2000
    unknown = ["zzzunknownzzz", "qwertyuiop"]
    tokens = [*vocabulary, *unknown, vocabulary[0], vocabulary[0], ""]  # repeats, placeholder
    idf = index.idf(tokens)
    assert idf == _scored_idf(index, tokens, len(corpus))  # every value to the last bit
    assert set(idf) == set(tokens)
    assert idf["zzzunknownzzz"] == bm25_idf(0, len(corpus))
    assert idf[""] == bm25_idf(2, len(corpus))  # the two passages with no keyword
    assert index.idf([]) == {}


def test_a_token_in_every_passage_and_in_one() -> None:
    chunks = [Chunk("a.txt", 0, 9, "rice farm", 1), Chunk("a.txt", 10, 19, "rice mill", 2)]
    index = _index(chunks)
    assert index.idf(["rice", "mill"]) == {"rice": bm25_idf(2, 2), "mill": bm25_idf(1, 2)}
    assert math.isclose(bm25_idf(2, 2), math.log(1 + 0.5 / 2.5))


def test_idf_scores_no_passage(corpus: list[Chunk]) -> None:
    """Document frequencies come from the keyword index's columns: scoring every passage per
    token (what idf did) cost 0.2 ms a question at 10,000 passages, 0.6 at 100,000."""
    index = _index(corpus)
    tokens = ["jingzhou", "party", "organizations", "zzzunknownzzz", ""]
    expected = _scored_idf(index, tokens, len(corpus))

    def scored(tokens: list[str]) -> np.ndarray:
        raise AssertionError(f"scored every passage for {tokens}")

    index._keyword_index().get_scores = scored
    assert index.idf(tokens) == expected


class _Rows:
    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = vectors
        self.reads = 0

    def read(self, rows: np.ndarray) -> np.ndarray:
        self.reads += 1
        return self.vectors[rows].copy()

    def describe(self) -> str:
        return "memory"


def _corpus(rows: int, dim: int, seed: int) -> np.ndarray:
    """Random-ish unit vectors: clusters around a few topics (so neighbours are close, like
    real passages), some exact duplicates (equal scores), as the files store keeps them."""
    rng = np.random.default_rng(seed)
    topics = rng.standard_normal((20, dim)).astype(np.float32)
    vectors = topics[rng.integers(0, 20, rows)] + 0.6 * rng.standard_normal((rows, dim))
    vectors = vectors.astype(np.float32)
    if rows >= 100:
        vectors[rows // 2 : rows // 2 + 40] = vectors[10:50]  # duplicated passages
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _dense_index(vectors: np.ndarray, held: np.ndarray | Int8Vectors) -> MemoryIndex:
    rows = len(vectors)
    chunks = [Chunk("a.txt", i, i + 1, "x", i + 1) for i in range(rows)]
    manifest = Manifest(
        IndexRecipe("m", ChunkerSettings()),
        vectors.shape[1],
        {"a.txt": DocumentRecord("a.txt", "sha", rows, rows, rows, "t")},
    )
    return MemoryIndex(manifest, chunks, held)


def test_int8_gives_float32s_top_k_and_scores_bit_for_bit() -> None:
    vectors = _corpus(4000, 64, seed=1)
    exact = _dense_index(vectors, vectors)
    int8 = _dense_index(vectors, Int8Vectors.of(vectors, _Rows(vectors)))
    assert int8.vectors.dtype == np.int8 and int8.vector_bytes == 4000 * 64 + 4000 * 4
    rng = np.random.default_rng(2)
    queries = [vectors[rng.integers(0, 4000)] + 0.3 * rng.standard_normal(64) for _ in range(150)]
    queries += [vectors[15], vectors[2000 + 5]]  # a duplicated passage's own vector
    for k in (1, 5, 50):
        for query in queries:
            query = (query / np.linalg.norm(query)).astype(np.float32)
            assert int8.dense(query, k) == exact.dense(query, k)


def test_float16_ranks_like_float32_with_scores_off_only_by_its_rounding() -> None:
    # Spread-out rows: float16's rounding (not exact, unlike int8's re-read) can swap close ones.
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((3000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    exact = _dense_index(vectors, vectors)
    half = _dense_index(vectors, vectors.astype(np.float16))
    for _ in range(20):
        query = rng.standard_normal(32).astype(np.float32)
        query /= np.linalg.norm(query)
        want, got = exact.dense(query, 10), half.dense(query, 10)
        assert [row for row, _ in got] == [row for row, _ in want]
        assert np.allclose([s for _, s in got], [s for _, s in want], atol=2e-3)


@pytest.mark.parametrize("k", [4, 5, 100])
def test_k_at_or_beyond_the_number_of_chunks_ranks_them_all(k: int) -> None:
    vectors = _corpus(5, 8, seed=4)
    query = vectors[2]
    want = _dense_index(vectors, vectors).dense(query, k)
    assert len(want) == min(k, 5) and want[0][0] == 2
    assert _dense_index(vectors, Int8Vectors.of(vectors, _Rows(vectors))).dense(query, k) == want


def test_an_index_of_no_chunks_finds_nothing_and_reads_nothing() -> None:
    vectors = np.zeros((0, 8), dtype=np.float32)
    source = _Rows(vectors)
    index = _dense_index(vectors, Int8Vectors.of(vectors, source))
    assert index.dense(np.ones(8, dtype=np.float32), 5) == [] and source.reads == 0
    assert _dense_index(vectors, vectors).dense(np.ones(8, dtype=np.float32), 5) == []


def test_equal_scores_go_to_the_lower_row_also_at_the_kth_place() -> None:
    scores = np.array([0.5, 0.9, 0.5, 0.1, 0.5, 0.9], dtype=np.float32)
    assert best_rows(scores, 3).tolist() == [1, 5, 0]
    assert best_rows(scores, 4).tolist() == [1, 5, 0, 2]
    assert best_rows(scores, 10).tolist() == [1, 5, 0, 2, 4, 3]
    assert best_rows(scores, 0).tolist() == []


def test_exact_scores_of_a_row_do_not_depend_on_the_rows_beside_it() -> None:
    vectors = _corpus(3000, 384, seed=5)
    query = _corpus(1, 384, seed=6)[0]
    full = exact_scores(vectors, query)
    rng = np.random.default_rng(7)
    for size in (1, 3, 5, 33, 200):
        rows = np.sort(rng.choice(3000, size, replace=False))
        assert np.array_equal(exact_scores(vectors[rows], query), full[rows])
    assert np.allclose(full, vectors @ query, atol=1e-6)
