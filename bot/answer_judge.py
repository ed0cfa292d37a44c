"""The calibrated probability that a passage answers a question, for the service to hand to compose.

Gathers what bot.answerability needs that only the index and the model know (idf of the
question's terms, cosines of the passage's sentences to the question and to the question
without its focus) and applies the bundled calibration. Sentence vectors are kept per passage
text in a small LRU, since the same passages answer many questions.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

from bot.answer import Judge
from bot.answerability import (
    Evidence,
    features,
    focus_match,
    focus_words,
    passage_words,
    without_focus,
)
from bot.calibration import Calibration, bundled
from bot.embedding import Embedder
from bot.index import SearchIndex
from bot.question_encoder import QuestionEmbedder
from bot.retrieval import Hit
from bot.text import keyword_tokens, sentence_spans

CACHED_PASSAGES = 4096  # sentence and word embeddings of this many passages (~1.5 kB each)


class PassageJudge:
    def __init__(self, embedder: Embedder, calibration: Calibration | None = None) -> None:
        self._embedder = embedder
        self.calibration = calibration or bundled()
        self._vectors: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

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
        self, index: SearchIndex, question: str, query: str, query_vector: np.ndarray
    ) -> Judge:
        """A judge of `question`'s candidate passages from `index` (`query` is the question as
        searched: normalised and at most max_question_chars long; `query_vector` its embedding).
        The signals are read from `query`, so a very long question costs no more than that."""
        question = query
        weights = index.idf(keyword_tokens(question))
        n = index.manifest.chunk_count
        unknown_idf = math.log(1 + (n + 0.5) / 0.5)  # the idf of a term no passage contains
        vector = np.asarray(query_vector, dtype=np.float32)
        focus = [w.lower() for w in focus_words(question)]
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
            sentences = self._cached("s", text, _sentences)
            words = self._cached("w", text, passage_words)
            evidence = Evidence(
                question,
                text,
                hit.dense,
                float(np.max(sentences @ vector)),
                float(np.max(sentences @ topic)),
                keyword_top=hit.keyword >= 1.0 - 1e-6,
                fact=hit.fact,
                focus_match=focus_match(focus_vectors, words),
            )
            return self.calibration.probability(features(evidence, weights, unknown_idf))

        return judge

    def _cached(self, kind: str, text: str, pieces: Callable[[str], list[str]]) -> np.ndarray:
        """Embeddings of the pieces (sentences, words) of a passage, kept per passage text."""
        key = (kind, text)
        with self._lock:
            cached = self._vectors.get(key)
            if cached is not None:
                self._vectors.move_to_end(key)
                return cached
        parts = pieces(text)
        vectors = self._encode(parts)
        with self._lock:
            self._vectors[key] = vectors
            while len(self._vectors) > CACHED_PASSAGES:
                self._vectors.popitem(last=False)
        return vectors

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed on the question path: by the question encoder (ONNX, no torch) when there is
        one, so judging a question never loads torch either."""
        if isinstance(self._embedder, QuestionEmbedder):
            rows = [self._embedder.encode_question(text) for text in texts]
        else:
            rows = list(self._embedder.encode(texts))
        dimension = self._embedder.dimension
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), dimension)


def _sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)] or [text]
