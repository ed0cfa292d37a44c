"""The calibrated probability that a passage answers a question, for the service to hand to compose.

Gathers what bot.answering.signals needs that only the index and the model know (idf of the
question's terms, cosines of the passage's sentences to the question and to the question
without its focus) and applies the bundled calibration. Embedding is most of its cost: sentence
vectors are kept per passage (the same passages answer many questions) and word vectors per word
(words recur across passages, so a passage seen for the first time mostly needs only its
sentences embedded); what is missing is embedded in batches, not one text per call.

Before embedding, the judge looks the texts up in the judge vector table the index writer fills
(bot.index.judge_vectors): with a complete table a question embeds only its own text and the
question without its focus. The table holds the very vectors `encode` computes (same encoder;
onnxruntime's vectors do not depend on the batch, checked in tests), so answers are the same
with or without it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import cast

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
from bot.index.judge_vectors import JudgeVectors, Kind, lookup_all
from bot.shared.lru import LruCache
from bot.shared.text import keyword_tokens, sentence_spans

# A vector is 1.5 kB (384 float32), so these bound the caches at about 12 and 24 MB.
CACHED_PASSAGES = 1024  # passages whose sentence vectors are kept (a handful each)
CACHED_WORDS = 16384  # word vectors kept
CACHED_TOPICS = 256  # vectors of questions without their focus, embedded beside the question
BATCH = 64  # texts per encoder call (bounds the padding of a batch)


VectorsFactory = Callable[[str, int], JudgeVectors]  # (model id, dimension) -> the table


class PassageJudge:
    def __init__(
        self,
        embedder: Embedder,
        calibration: Calibration | None = None,
        vectors: VectorsFactory | None = None,
        prepare: Callable[[], None] | None = None,
    ) -> None:
        """`vectors` opens the store's judge vector table, on first use (the dimension may not
        be known before a question is embedded). `prepare` settles the question encoder before
        the judge's first use of it (the service's: a writer makes the ONNX export first, so
        the vectors it stores are the ones its readers compute)."""
        self._embedder = embedder
        self.calibration = calibration or bundled()
        self._sentences: LruCache[str, np.ndarray] = LruCache(CACHED_PASSAGES)
        self._words: LruCache[str, np.ndarray] = LruCache(CACHED_WORDS)
        self._topics: LruCache[str, np.ndarray] = LruCache(CACHED_TOPICS)
        self._open_vectors = vectors
        self._vectors: JudgeVectors | None = None
        self._prepare = prepare
        self._settled = False  # `prepare` ran (it is idempotent: once is enough)
        # A runtime-checkable protocol check costs ~15 us, and the answer is the same each call.
        self._questions = isinstance(embedder, QuestionEmbedder)

    @property
    def model_id(self) -> str:
        """The table's model key: the model and the exact encoder that embeds for the judge,
        since ONNX and torch vectors (or two exports' vectors) agree only to about 1e-6: a
        reader that fell back to torch, or runs another export, must not use a writer's
        vectors, or its scores would move in the last digits."""
        if not isinstance(self._embedder, QuestionEmbedder):
            return f"{self._embedder.spec.model_id} passages"
        self._settle()
        encoder = getattr(self._embedder, "question_encoder_id", None) or "questions"
        return f"{self._embedder.spec.model_id} {encoder}"

    @property
    def dimension(self) -> int:
        """The vectors' length (after settling the encoder: ONNX knows it without torch)."""
        self._settle()
        return self._embedder.dimension

    def judge_texts(self, text: str) -> tuple[list[str], list[str]]:
        """What the judge embeds of a passage: its sentences and its distinct content words
        (the index writer fills the judge vector table with exactly these)."""
        return _sentences(text), passage_words(text)

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
                # The focus words are lower-cased words, as the table's: looked up like them.
                known = self._known_words(focus)
                wanted = [word for word in dict.fromkeys(focus) if word not in known]
                topic_text = without_focus(query)
                # A question with no focus is its own topic: its vector is the one given.
                topic_vector = vector if topic_text == query else self._topics.get(topic_text)
                texts = wanted if topic_vector is not None else [topic_text, *wanted]
                vectors = self._encode(texts)
                if topic_vector is None:
                    topic_vector, vectors = vectors[0], vectors[1:]
                known.update(zip(wanted, vectors, strict=True))
                rows = [known[word] for word in focus]
                width = topic_vector.shape[0]
                stacked = np.stack(rows) if rows else np.zeros((0, width), np.float32)
                embedded.extend([topic_vector, stacked])
            topic, focus_vectors = embedded
            text = index.chunk(hit.chunk_id).text
            sentences, words = self._passage_vectors(text)
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
            signals = features(evidence, weights, unknown_idf, self.calibration.inputs)
            return self.calibration.probability(signals)

        return judge

    def companions(self, query: str) -> list[str]:
        """What the judge will embed for `query` besides the passages: the question without
        its focus words (unless already known, or the question itself) and the focus words
        in neither the word cache nor the table (looked up here, so only those missing are
        embedded). The caller embeds these in the same encoder call as the query, which costs
        less than a second call (vectors do not depend on the batch they are embedded in),
        and hands them back with `remember`."""
        topic = without_focus(query)
        texts = [] if topic == query or self._topics.get(topic) is not None else [topic]
        focus = [w.lower() for w in focus_words(query)]
        known = self._known_words(focus)
        texts.extend(w for w in dict.fromkeys(focus) if w not in known and w not in texts)
        return texts

    def remember(self, query: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Vectors of `companions(query)` texts, embedded by the caller: the topic is kept
        per question text, the focus words in the word cache (passages use them too)."""
        topic = without_focus(query)
        focus = {w.lower() for w in focus_words(query)}
        for text, vector in zip(texts, vectors, strict=True):
            row = np.asarray(vector, dtype=np.float32)
            if text == topic:
                self._topics.put(text, row)
            if text in focus:
                self._words.put(text, row)

    def _passage_vectors(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The embeddings of a passage's sentences (kept per passage text) and of its words
        (kept per word): from the caches, else from the table (one lookup for both), else
        embedded (one batch for the sentences, one for the words)."""
        sentence_texts, words = self.judge_texts(text)
        sentences = self._sentences.get(text)
        wanted: dict[tuple[Kind, str], None] = {}
        if sentences is None:
            wanted.update(dict.fromkeys(("sentence", s) for s in sentence_texts))
        known, missing = self._cached_words(words)
        wanted.update(missing)
        found = lookup_all(self._table(), wanted)
        if sentences is None:
            sentences = self._complete(sentence_texts, "sentence", found)
            self._sentences.put(text, sentences)
        self._keep_words(found, known)
        return sentences, self._word_rows(words, known)

    def _word_vectors(self, words: Sequence[str]) -> np.ndarray:
        """The embeddings of `words` (rows in their order): cached, looked up or embedded."""
        return self._word_rows(words, self._known_words(words))

    def _known_words(self, words: Sequence[str]) -> dict[str, np.ndarray]:
        """Those of `words` in the word cache or the table."""
        known, missing = self._cached_words(words)
        self._keep_words(lookup_all(self._table(), missing), known)
        return known

    def _cached_words(
        self, words: Sequence[str]
    ) -> tuple[dict[str, np.ndarray], dict[tuple[Kind, str], None]]:
        """(the vectors of `words` in the word cache, the table keys of the others)."""
        known: dict[str, np.ndarray] = {}
        missing: dict[tuple[Kind, str], None] = {}
        for word in words:
            vector = self._words.get(word)
            if vector is None:
                missing["word", word] = None
            else:
                known[word] = vector
        return known, missing

    def _keep_words(
        self, found: dict[tuple[Kind, str], np.ndarray], known: dict[str, np.ndarray]
    ) -> None:
        """Put the words among `found` (table rows) in the word cache and in `known`."""
        for (kind, word), vector in found.items():
            if kind == "word":
                self._words.put(word, vector)
                known[word] = vector

    def _complete(
        self, texts: Sequence[str], kind: Kind, found: dict[tuple[Kind, str], np.ndarray]
    ) -> np.ndarray:
        """Rows for `texts` in order: found ones as they are, the others embedded together."""
        missing = [text for text in dict.fromkeys(texts) if (kind, text) not in found]
        rows = dict(zip(missing, self._encode(missing), strict=True))
        rows.update((text, found[kind, text]) for text in texts if (kind, text) in found)
        return np.stack([rows[text] for text in texts])

    def _word_rows(self, words: Sequence[str], known: dict[str, np.ndarray]) -> np.ndarray:
        """The embeddings of `words` (rows in their order); those not yet known are embedded
        together and kept per word."""
        missing = [word for word in dict.fromkeys(words) if word not in known]
        for word, vector in zip(missing, self._encode(missing), strict=True):
            self._words.put(word, vector)
            known[word] = vector
        if not words:
            return np.zeros((0, self._embedder.dimension), dtype=np.float32)
        return np.stack([known[word] for word in words])

    def _table(self) -> JudgeVectors | None:
        if self._vectors is None and self._open_vectors is not None:
            self._vectors = self._open_vectors(self.model_id, self.dimension)
        return self._vectors

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """The judge's encoder (public for the index writer, which must use the very same)."""
        return self._encode(texts)

    def _settle(self) -> None:
        if not self._settled:
            if self._prepare is not None:
                self._prepare()
            self._settled = True

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed on the question path: by the question encoder (ONNX, no torch) when there is
        one, so judging a question never loads torch either. Most calls have nothing to embed
        (a complete table): those cost nothing."""
        self._settle()
        if not texts:
            return np.zeros((0, self._embedder.dimension), dtype=np.float32)
        encode = (
            cast(QuestionEmbedder, self._embedder).encode_questions
            if self._questions
            else self._embedder.encode
        )
        batches = [encode(texts[i : i + BATCH]) for i in range(0, len(texts), BATCH)]
        rows = np.concatenate(batches) if batches else np.zeros((0, self._embedder.dimension))
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), self._embedder.dimension)


def _sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)] or [text]
