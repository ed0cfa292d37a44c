"""The answer judge's embedding caches: sentences per passage, words per word, in batches."""

from __future__ import annotations

import numpy as np

from bot.answering.judge import PassageJudge
from tests.fakes import FakeEmbedder


def test_a_passage_sentences_are_embedded_once_in_one_call() -> None:
    embedder = FakeEmbedder()
    judge = PassageJudge(embedder)
    passage = "The Normans settled in Normandy. They kept the Frankish laws."
    first = judge._sentence_vectors(passage)
    again = judge._sentence_vectors(passage)
    assert embedder.calls == [["The Normans settled in Normandy.", "They kept the Frankish laws."]]
    assert np.array_equal(first, again) and first.shape == (2, embedder.dimension)


def test_only_words_not_seen_before_are_embedded_together() -> None:
    embedder = FakeEmbedder()
    judge = PassageJudge(embedder)
    judge._word_vectors(["normans", "normandy", "laws"])
    vectors = judge._word_vectors(["laws", "duke", "normans", "treaty"])
    assert embedder.calls == [["normans", "normandy", "laws"], ["duke", "treaty"]]
    expected = FakeEmbedder().encode(["laws", "duke", "normans", "treaty"])
    assert np.allclose(vectors, expected)  # rows in the asked order, cached or not


def test_no_words_embed_nothing() -> None:
    embedder = FakeEmbedder()
    assert PassageJudge(embedder)._word_vectors([]).shape == (0, embedder.dimension)
    assert embedder.calls == []


def test_many_words_are_embedded_in_bounded_batches() -> None:
    from bot.answering.judge import BATCH

    embedder = FakeEmbedder()
    words = [f"word{n}" for n in range(BATCH * 2 + 1)]
    assert PassageJudge(embedder)._word_vectors(words).shape == (len(words), embedder.dimension)
    assert [len(call) for call in embedder.calls] == [BATCH, BATCH, 1]
