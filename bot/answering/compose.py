"""Turn ranked hits into an answer: verbatim quotes, the answering sentence, or a clear decline."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from bot.answering.retrieval import Hit
from bot.ingest.chunking import Chunk
from bot.shared.text import keyword_tokens, sentence_spans

if TYPE_CHECKING:
    from bot.config import RetrievalSettings


@dataclass(frozen=True, slots=True)
class Quote:
    """A verbatim passage: `text == document_text[start:end]`; highlight is in document offsets."""

    source: str
    start: int
    end: int
    text: str
    highlight: tuple[int, int] | None
    score: float
    paragraph: int
    # Where the passage comes from, as far as the source says (bot.answering.citation fills these in).
    title: str | None = None
    date: str | None = None  # ISO yyyy-mm-dd
    url: str | None = None
    page: int | None = None
    section: str | None = None
    author: str | None = None  # site or author, for the rendered citation (not in JSON)


@dataclass(frozen=True, slots=True)
class Answer:
    question: str
    quotes: tuple[Quote, ...]
    declined: bool
    message: str | None = None  # why it declined, or a note (question shortened, ...)
    context: tuple[str, ...] = ()  # earlier questions of the conversation this answer used
    generation: int | None = None  # the index generation it was answered from (set by the service)
    # `question` is only the part searched: the question was longer than max_question_chars.
    question_truncated: bool = False
    # With a decline: the nearest passages, offered as related reading, never as the answer.
    related: tuple[Quote, ...] = ()


@dataclass(frozen=True, slots=True)
class ComposeSettings:
    top_k: int = 3
    # Decline when the best passage is both semantically far (cosine) and shares little of the
    # question's vocabulary (idf-weighted share of its terms); calibrated on shared/eval.
    decline_below_cosine: float = 0.22
    decline_below_coverage: float = 0.30
    relative_cutoff: float = 0.6
    # When every name in the question is absent from all documents, the question is about
    # something they do not contain unless the best passage is this close in meaning.
    foreign_names_cosine: float = 0.4

    @classmethod
    def from_settings(cls, retrieval: RetrievalSettings) -> ComposeSettings:
        """The composer's part of the `[retrieval]` settings (built here only, by name)."""
        return cls(
            top_k=retrieval.top_k,
            decline_below_cosine=retrieval.decline_below_cosine,
            decline_below_coverage=retrieval.decline_below_coverage,
            relative_cutoff=retrieval.relative_cutoff,
            foreign_names_cosine=retrieval.decline_unknown_names_below_cosine,
        )

    @classmethod
    def keep_all(cls, top_k: int) -> ComposeSettings:
        """The `top_k` best passages whatever their scores: nothing declined, no relative
        cutoff (the full ranking for evaluation, "more", and fitting the answer judge)."""
        return cls(
            top_k=top_k, decline_below_cosine=-1.0, decline_below_coverage=0.0, relative_cutoff=0.0
        )


IdfLookup = Callable[[Sequence[str]], dict[str, float]]


def memoised(idf: IdfLookup) -> IdfLookup:
    """`idf` looking each term up once: the composer, the answer judge and the unknown-name check
    all ask for the idf of one question's terms (a corpus scan or a database query each)."""
    known: dict[str, float] = {}

    def lookup(tokens: Sequence[str]) -> dict[str, float]:
        unique = list(dict.fromkeys(tokens))
        missing = [token for token in unique if token not in known]
        if missing:
            known.update(idf(missing))
        return {token: known[token] for token in unique}

    return lookup


# The calibrated probability that a passage answers the question (bot.answering.calibration), and the
# probability below which the question is declined.
Judge = Callable[[Hit], float]


def compose(
    question: str,
    hits: Sequence[Hit],
    chunk_of: Callable[[int], Chunk],
    idf: IdfLookup,
    settings: ComposeSettings,
    *,
    decline_message: str,
    limit: int | None = None,
    foreign_names: bool = False,
    judge: Judge | None = None,
    decline_below: float = 0.0,
    not_found_message: Callable[[str], str] | None = None,
) -> Answer:
    """Up to top_k non-overlapping quotes, best first, or a decline.

    Declined when the best passage is not about the question at all (`is_relevant`: then with
    `decline_message` and nothing else), or when `judge` gives it a probability of answering
    below `decline_below`: then with `not_found_message(question)` (worded only then: it loads a
    word list) and the passages as `related`. With a
    judge, each quote's score is its probability of answering; without, the fused score.
    `limit` overrides top_k and the relative cutoff (evaluation wants the full ranking).
    `foreign_names`: the question names things (capitalised words) that no document contains.
    """
    tokens = keyword_tokens(question)
    weights = idf(tokens) if tokens else {}
    top = hits[0] if hits else None
    if top is None or not is_relevant(
        top, chunk_of(top.chunk_id), tokens, weights, settings, foreign_names=foreign_names
    ):
        return Answer(question, (), True, decline_message)
    quotes = _quotes(hits, chunk_of, tokens, weights, settings, limit, judge)
    if judge is not None and quotes[0].score < decline_below:
        message = not_found_message(question) if not_found_message else decline_message
        return Answer(question, (), True, message, related=quotes)
    return Answer(question, quotes, False)


def _quotes(
    hits: Sequence[Hit],
    chunk_of: Callable[[int], Chunk],
    tokens: Sequence[str],
    weights: dict[str, float],
    settings: ComposeSettings,
    limit: int | None,
    judge: Judge | None,
) -> tuple[Quote, ...]:
    best = hits[0].score
    wanted = limit or settings.top_k
    quotes: list[Quote] = []
    for hit in hits:
        if len(quotes) >= wanted:
            break
        if limit is None and hit.score < best * settings.relative_cutoff:
            break
        chunk = chunk_of(hit.chunk_id)
        if any(overlaps(chunk, q) for q in quotes):
            continue
        quotes.append(
            Quote(
                chunk.source,
                chunk.start,
                chunk.end,
                chunk.text,
                highlight(chunk, tokens, weights),
                round(hit.score if judge is None else judge(hit), 4),
                chunk.paragraph,
            )
        )
    return tuple(quotes)


def is_relevant(
    hit: Hit,
    chunk: Chunk,
    tokens: Sequence[str],
    weights: dict[str, float],
    settings: ComposeSettings,
    *,
    foreign_names: bool = False,
) -> bool:
    """Whether the best passage is about the question at all (otherwise: decline).

    The fused score cannot tell: BM25 is normalised per question, so the best keyword match scores
    1 even for an off-topic question. Meaning (cosine) or shared rare words (coverage) must be there.
    A question whose every name is unknown to the documents needs a clearly close meaning.
    """
    if hit.fact:
        return True
    if foreign_names:
        return hit.dense >= settings.foreign_names_cosine
    if hit.dense >= settings.decline_below_cosine:
        return True
    return coverage(chunk, tokens, weights) >= settings.decline_below_coverage


def coverage(chunk: Chunk, tokens: Sequence[str], weights: dict[str, float]) -> float:
    """Share of the question's terms, weighted by idf, that occur in the passage."""
    wanted = set(tokens)
    total = math.fsum(weights.get(token, 1.0) for token in wanted)
    if total <= 0:
        return 0.0
    present = wanted.intersection(keyword_tokens(chunk.text))
    return math.fsum(weights.get(token, 1.0) for token in present) / total


def highlight(
    chunk: Chunk, tokens: Sequence[str], weights: dict[str, float]
) -> tuple[int, int] | None:
    """Document offsets of the sentence sharing the most (idf-weighted) terms with the question."""
    wanted = set(tokens)
    best: tuple[float, int, int] | None = None
    for start, end in sentence_spans(chunk.text):
        found = wanted.intersection(keyword_tokens(chunk.text[start:end]))
        score = math.fsum(weights.get(token, 1.0) for token in found)
        if score > 0 and (best is None or score > best[0]):
            best = (score, start, end)
    if best is None:
        return None
    return chunk.start + best[1], chunk.start + best[2]


class SourceSpan(Protocol):
    """Characters [start, end) of one document: a Chunk, a Quote, or anything shaped like them."""

    @property
    def source(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...


def overlaps(a: SourceSpan, b: SourceSpan) -> bool:
    """Whether two spans share a character of the same document (half-open, so touching ends do
    not count): one rule for "already quoted" wherever an answer avoids repeating itself."""
    return a.source == b.source and a.start < b.end and b.start < a.end
