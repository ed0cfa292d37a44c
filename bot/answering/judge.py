"""The calibrated probability that a passage answers a question, for the service to hand to compose.

Gathers what bot.answering.signals needs that only the index and the model know (idf of the
question's terms, cosines of the passage's sentences to the question and to the question
without its focus) and applies the bundled calibration. Embedding is most of its cost: sentence
vectors are kept per passage (the same passages answer many questions) and word vectors per word
(words recur across passages, so a passage seen for the first time mostly needs only its
sentences embedded); what is missing is embedded in batches, not one text per call.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bot.answering.calibration import Calibration, bundled
from bot.answering.compose import IdfLookup, Judge
from bot.answering.retrieval import Hit
from bot.answering.signals import (
    Evidence,
    features,
    focus_match,
    focus_words,
    passage_words,
    without_focus,
)
from bot.embedding.model import Embedder
from bot.embedding.questions import QuestionEmbedder
from bot.index.generation import SearchIndex, bm25_idf
from bot.shared.lru import LruCache
from bot.shared.text import keyword_tokens, sentence_spans

# A vector is 1.5 kB (384 float32), so these bound the caches at about 12 and 24 MB.
CACHED_PASSAGES = 1024  # passages whose sentence vectors are kept (a handful each)
CACHED_WORDS = 16384  # word vectors kept
BATCH = 64  # texts per encoder call (bounds the padding of a batch)


class PassageJudge:
    def __init__(self, embedder: Embedder, calibration: Calibration | None = None) -> None:
        self._embedder = embedder
        self.calibration = calibration or bundled()
        self._sentences: LruCache[str, np.ndarray] = LruCache(CACHED_PASSAGES)
        self._words: LruCache[str, np.ndarray] = LruCache(CACHED_WORDS)

    @property
    def applies(self) -> bool:
        """Whether the calibration was fitted with this embedder's model: with another model
        (a configured one, a test's fake) quotes keep the fused score and nothing is declined
        by it."""
        wanted = self.calibration.model_id
        return wanted is None or wanted == self._embedder.spec.model_id

    @property
    def threshold(self) -> float:
        return self.calibration.threshold

    def for_question(
        self,
        index: SearchIndex,
        query: str,
        query_vector: np.ndarray,
        idf: IdfLookup | None = None,
    ) -> Judge:
        """A judge of the candidate passages from `index` for the question as searched (`query`:
        normalised and at most max_question_chars long; `query_vector` its embedding). The
        signals are read from `query`, so a very long question costs no more than that."""
        weights = (idf or index.idf)(keyword_tokens(query))
        unknown_idf = bm25_idf(0, index.manifest.chunk_count)  # a term no passage contains
        vector = np.asarray(query_vector, dtype=np.float32)
        focus = [w.lower() for w in focus_words(query)]
        # Embedded on first use: a question declined as off-topic needs neither.
        embedded: list[np.ndarray] = []

        def judge(hit: Hit) -> float:
            if hit.fact:
                return self.calibration.fact_probability
            if not embedded:
                vectors = self._encode([without_focus(query), *focus])
                embedded.extend([vectors[0], vectors[1:].reshape(len(focus), vectors.shape[1])])
            topic, focus_vectors = embedded
            text = index.chunk(hit.chunk_id).text
            sentences = self._sentence_vectors(text)
            words = self._word_vectors(passage_words(text))
            evidence = Evidence(
                query,
                text,
                hit.dense,
                float(np.max(sentences @ vector)),
                float(np.max(sentences @ topic)),
                keyword_top=hit.keyword >= 1.0 - 1e-6,
                fact=hit.fact,
                focus_match=focus_match(focus_vectors, words),
            )
            signals = features(evidence, weights, unknown_idf, self.calibration.names)
            return self.calibration.probability(signals)

        return judge

    def _sentence_vectors(self, text: str) -> np.ndarray:
        """The embeddings of a passage's sentences, kept per passage text."""
        vectors = self._sentences.get(text)
        if vectors is None:
            vectors = self._encode(_sentences(text))
            self._sentences.put(text, vectors)
        return vectors

    def _word_vectors(self, words: Sequence[str]) -> np.ndarray:
        """The embeddings of `words` (rows in their order), kept per word; the words not yet
        known are embedded together."""
        vectors: dict[str, np.ndarray] = {}
        missing: list[str] = []
        for word in dict.fromkeys(words):
            vector = self._words.get(word)
            if vector is None:
                missing.append(word)
            else:
                vectors[word] = vector
        for word, vector in zip(missing, self._encode(missing), strict=True):
            self._words.put(word, vector)
            vectors[word] = vector
        if not words:
            return np.zeros((0, self._embedder.dimension), dtype=np.float32)
        return np.stack([vectors[word] for word in words])

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed on the question path: by the question encoder (ONNX, no torch) when there is
        one, so judging a question never loads torch either."""
        encode = (
            self._embedder.encode_questions
            if isinstance(self._embedder, QuestionEmbedder)
            else self._embedder.encode
        )
        batches = [encode(texts[i : i + BATCH]) for i in range(0, len(texts), BATCH)]
        rows = np.concatenate(batches) if batches else np.zeros((0, self._embedder.dimension))
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), self._embedder.dimension)


def _sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)] or [text]
