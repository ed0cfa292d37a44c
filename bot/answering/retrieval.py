"""Rank chunks for a question: dense cosine and BM25 over the same chunks, fused into one score.

Pure functions over (chunk id, score) lists, so any store that can produce the two candidate lists
(in memory, PostgreSQL) ranks the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from bot.answering.intents import (
    LAST,
    answers_document_fact,
    asked_ordinal,
    asks_about_document,
    asks_for_author,
    asks_for_date,
    asks_for_title,
    enumerators,
    holds_prose,
    opens_with_title,
)
from bot.ingest.chunking import Chunk

RRF_K = 60
FACT_BOOST = 0.5
ORDINAL_BOOST = 0.3
TITLE_WINDOW = 1000  # a headline sits within the first characters of its document
# The lead of a document: its first passages of prose (title and opening paragraphs); a chunk
# often ends inside the opening. Chosen among 1-3 by leave-one-article-out on our own questions
# of the kind (bench/document_questions.py, docs/answerability.md).
LEAD_PASSAGES = 3


@dataclass(frozen=True, slots=True)
class Hit:
    chunk_id: int
    score: float  # fused score, comparable across questions (0..1)
    dense: float  # cosine similarity
    keyword: float  # BM25 normalised by the best BM25 score of this question
    fact: bool = False  # carries the byline/date a question about the document asks for


def fuse_weighted(
    dense: Sequence[tuple[int, float]], keyword: Sequence[tuple[int, float]], dense_weight: float
) -> list[Hit]:
    """Weighted sum of cosine and max-normalised BM25 over the union of both candidate lists.

    A candidate missing from one list gets that list's lowest score (a lower bound of its true
    score), so a chunk found by only one method is neither favoured nor discarded.
    """
    dense_scores = dict(dense)
    keyword_max = max((score for _, score in keyword), default=0.0)
    keyword_scores = {cid: s / keyword_max for cid, s in keyword} if keyword_max > 0 else {}
    dense_floor = min(dense_scores.values(), default=0.0)
    keyword_floor = min(keyword_scores.values(), default=0.0) if len(keyword) >= 2 else 0.0
    hits = []
    for chunk_id in dict.fromkeys([cid for cid, _ in dense] + [cid for cid, _ in keyword]):
        d = dense_scores.get(chunk_id, dense_floor)
        k = keyword_scores.get(chunk_id, keyword_floor)
        hits.append(Hit(chunk_id, dense_weight * d + (1 - dense_weight) * k, d, k))
    hits.sort(key=lambda hit: (-hit.score, hit.chunk_id))
    return hits


def boost_document_facts(
    question: str, hits: Sequence[Hit], chunk_of: Callable[[int], Chunk], boost: float = FACT_BOOST
) -> list[Hit]:
    """Lift passages holding the byline, date or headline a question about the document asks
    for; such a passage is an answer even when it shares no word with the question."""
    wants_title = asks_for_title(question)
    if not (asks_for_author(question) or asks_for_date(question) or wants_title):
        return list(hits)
    lifted = []
    for hit in hits:
        chunk = chunk_of(hit.chunk_id)
        headline = wants_title and chunk.start < TITLE_WINDOW and opens_with_title(chunk.text)
        if headline or answers_document_fact(question, chunk.text):
            hit = replace(hit, score=hit.score + boost, fact=True)
        lifted.append(hit)
    lifted.sort(key=lambda hit: (-hit.score, hit.chunk_id))
    return lifted


def lead_starts(passages: Iterable[Chunk], count: int = LEAD_PASSAGES) -> frozenset[int]:
    """Start offsets of a document's lead: its first `count` passages holding prose, in text
    order (a menu or a list of names before the title is not the lead)."""
    starts: list[int] = []
    for chunk in sorted(passages, key=lambda c: c.start):
        if len(starts) >= count:
            break
        if holds_prose(chunk.text):
            starts.append(chunk.start)
    return frozenset(starts)


def boost_document_lead(
    question: str,
    hits: Sequence[Hit],
    chunk_of: Callable[[int], Chunk],
    lead_of: Callable[[str], frozenset[int]],
    boost: float = FACT_BOOST,
) -> list[Hit]:
    """Lift the lead passages of the candidates' documents for a question about what the
    document is about ("Which city's experience does the article describe?"): its words name
    no topic, so neither search method finds the opening that answers it. `lead_of(source)`
    gives a document's lead (`lead_starts`); it is read only when the question is of the kind.
    Such a passage counts as a document fact (relevant; scored by its observed accuracy).
    Used as a fallback, for such a question that would otherwise be declined (answering.answer):
    "Which battles does the article describe?" is answered by the passages about battles."""
    if not asks_about_document(question):
        return list(hits)
    leads: dict[str, frozenset[int]] = {}
    lifted = []
    for hit in hits:
        chunk = chunk_of(hit.chunk_id)
        if chunk.source not in leads:
            leads[chunk.source] = lead_of(chunk.source)
        if chunk.start in leads[chunk.source]:
            hit = replace(hit, score=hit.score + boost, fact=True)
        lifted.append(hit)
    lifted.sort(key=lambda hit: (-hit.score, hit.chunk_id))
    return lifted


def boost_enumeration(
    question: str,
    hits: Sequence[Hit],
    chunk_of: Callable[[int], Chunk],
    boost: float = ORDINAL_BOOST,
) -> list[Hit]:
    """Lift passages where a sentence opens with the position asked about.

    "What is the fifth measure?" names a position, not a topic: the answer is the passage that
    says "Fifth, ...", which neither embeddings nor BM25 rank first. A passage that opens with
    the position gets the whole boost, one with it further in ("The second is ...") half. "Last"
    is the highest position any candidate opens with. Such a passage counts as relevant.
    """
    wanted = asked_ordinal(question)
    if wanted is None:
        return list(hits)
    positions = {hit.chunk_id: enumerators(chunk_of(hit.chunk_id).text) for hit in hits}
    if wanted == LAST:
        wanted = max((max(p) for p in positions.values() if p), default=0)
    lifted = []
    for hit in hits:
        found = positions[hit.chunk_id]
        if wanted in found:
            share = 1.0 if found[wanted] else 0.5
            hit = replace(hit, score=hit.score + boost * share, fact=True)
        lifted.append(hit)
    lifted.sort(key=lambda hit: (-hit.score, hit.chunk_id))
    return lifted


def fuse_rrf(dense: Sequence[tuple[int, float]], keyword: Sequence[tuple[int, float]]) -> list[Hit]:
    """Reciprocal-rank fusion: the baseline the weighted fusion is measured against."""
    scores: dict[int, float] = {}
    for ranking in (dense, keyword):
        for rank, (chunk_id, _) in enumerate(ranking, start=1):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank)
    dense_scores = dict(dense)
    ordered = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    return [Hit(cid, s, dense_scores.get(cid, 0.0), 0.0) for cid, s in ordered]
