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
from collections.abc import Sequence

import numpy as np

from bot.answer import Judge
from bot.answerability import Evidence, features, without_focus
from bot.calibration import Calibration, bundled
from bot.embedding import Embedder
from bot.index import SearchIndex
from bot.retrieval import Hit
from bot.text import keyword_tokens, sentence_spans

CACHED_PASSAGES = 4096


class PassageJudge:
    def __init__(self, embedder: Embedder, calibration: Calibration | None = None) -> None:
        self._embedder = embedder
        self.calibration = calibration or bundled()
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def threshold(self) -> float:
        return self.calibration.threshold

    def for_question(
        self, index: SearchIndex, question: str, query: str, query_vector: Sequence[float]
    ) -> Judge:
        """A judge of `question`'s candidate passages from `index` (`query` is the question as
        searched, `query_vector` its embedding)."""
        weights = index.idf(keyword_tokens(question))
        n = index.manifest.chunk_count
        unknown_idf = math.log(1 + (n + 0.5) / 0.5)  # the idf of a term no passage contains
        vector = np.asarray(query_vector, dtype=np.float32)
        topic: list[np.ndarray] = []  # embedded on first use: a decline by relevance needs none

        def judge(hit: Hit) -> float:
            if hit.fact:
                return self.calibration.fact_probability
            if not topic:
                topic.append(self._embedder.encode([without_focus(query)])[0])
            text = index.chunk(hit.chunk_id).text
            sentences = self._sentence_vectors(text)
            evidence = Evidence(
                question,
                text,
                hit.dense,
                float(np.max(sentences @ vector)),
                float(np.max(sentences @ topic[0])),
                keyword_top=hit.keyword >= 1.0 - 1e-6,
                fact=hit.fact,
            )
            return self.calibration.probability(features(evidence, weights, unknown_idf))

        return judge

    def _sentence_vectors(self, text: str) -> np.ndarray:
        with self._lock:
            cached = self._vectors.get(text)
            if cached is not None:
                self._vectors.move_to_end(text)
                return cached
        sentences = [text[s:e] for s, e in sentence_spans(text)] or [text]
        vectors = np.asarray(self._embedder.encode(sentences), dtype=np.float32)
        with self._lock:
            self._vectors[text] = vectors
            while len(self._vectors) > CACHED_PASSAGES:
                self._vectors.popitem(last=False)
        return vectors
