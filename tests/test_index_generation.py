"""MemoryIndex over a real corpus: its idf is bm25s's, read from the keyword index."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from bot.index.generation import IndexRecipe, Manifest, MemoryIndex, bm25_idf
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
