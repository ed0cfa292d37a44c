"""The baselines a user would otherwise assemble: blank-line paragraphs searched by BM25 (bm25s),
by dense MiniLM cosine, or by their reciprocal-rank fusion. No decline logic, no highlight: they
always quote their top paragraphs. They implement `bot.evaluation.questions.Answerer`, so they are scored by
exactly the same code as quotebot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.answering.compose import Answer, Quote
from bot.answering.retrieval import fuse_rrf

_BLANK_LINE = re.compile(r"\n[^\S\n]*\n\s*")
CANDIDATES = 50
TOP_K = 3


@dataclass(frozen=True, slots=True)
class Paragraph:
    source: str
    start: int
    end: int
    text: str
    number: int


def paragraphs(folder: Path) -> list[Paragraph]:
    """Blank-line-separated blocks of every .txt/.md file, with exact offsets."""
    from bot.ingest.documents import hash_files, read_document

    found: list[Paragraph] = []
    files, _ = hash_files(folder)
    for file in files:
        text = read_document(file).text
        cursor = 0
        number = 0
        for match in [*_BLANK_LINE.finditer(text), None]:
            stop = match.start() if match else len(text)
            block = text[cursor:stop]
            lead = len(block) - len(block.lstrip())
            body = block.strip()
            if body:
                number += 1
                begin = cursor + lead
                found.append(Paragraph(file.source, begin, begin + len(body), body, number))
            cursor = match.end() if match else len(text)
    return found


class ParagraphSearch:
    """One of 'bm25', 'dense', 'rrf' over the paragraphs of a folder."""

    def __init__(self, method: str, folder: Path, embedder: Any) -> None:
        import bm25s
        import Stemmer

        self.method = method
        self.paragraphs = paragraphs(folder)
        self._embedder = embedder
        self._stemmer = Stemmer.Stemmer("english")
        texts = [p.text for p in self.paragraphs]
        self._bm25 = bm25s.BM25()
        self._bm25.index(
            bm25s.tokenize(texts, stopwords="en", stemmer=self._stemmer, show_progress=False),
            show_progress=False,
        )
        self._vectors = embedder.encode([" ".join(t.split()) for t in texts])

    def _bm25_ranking(self, question: str) -> list[tuple[int, float]]:
        import bm25s

        tokens = bm25s.tokenize(
            [question], stopwords="en", stemmer=self._stemmer, show_progress=False, return_ids=False
        )[0]
        if not tokens:
            return []
        scores = self._bm25.get_scores(tokens)
        order = np.argsort(-scores, kind="stable")[:CANDIDATES]
        return [(int(i), float(scores[i])) for i in order if scores[i] > 0]

    def _dense_ranking(self, question: str) -> list[tuple[int, float]]:
        scores = self._vectors @ self._embedder.encode([question])[0]
        order = np.argsort(-scores, kind="stable")[:CANDIDATES]
        return [(int(i), float(scores[i])) for i in order]

    def ranking(self, question: str) -> list[tuple[int, float]]:
        if self.method == "bm25":
            return self._bm25_ranking(question)
        if self.method == "dense":
            return self._dense_ranking(question)
        hits = fuse_rrf(self._dense_ranking(question), self._bm25_ranking(question))
        return [(hit.chunk_id, hit.score) for hit in hits]

    def ranked_quotes(self, question: str, k: int = 10) -> list[Quote]:
        quotes = []
        for index, score in self.ranking(question)[:k]:
            p = self.paragraphs[index]
            quotes.append(Quote(p.source, p.start, p.end, p.text, None, round(score, 4), p.number))
        return quotes

    def ask(self, question: str) -> Answer:
        quotes = self.ranked_quotes(question, TOP_K)
        return Answer(question, tuple(quotes), not quotes)
