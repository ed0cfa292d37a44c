"""Answering one question: a function of the generation, the question and its vector, the
conversation so far and the settings, nothing else.

The service picks the generation and embeds the question; everything between that and the
`Answer` (ranking, widening for "more", follow-ups, the unknown-name check, composing and
declining) is here, so it can be read and tested over an in-memory index without a service.
`embed` is needed besides the question's vector because a follow-up also searches for texts the
conversation derives (the question expanded by earlier turns, what it asks about an earlier
answer, the last answer's query for "more").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.answering.citation import with_citations
from bot.answering.compose import (
    Answer,
    ComposeSettings,
    IdfLookup,
    Judge,
    Quote,
    compose,
    memoised,
    overlaps,
)
from bot.answering.conversation import (
    Conversation,
    FollowUpSettings,
    Ranking,
    Turn,
    answer_query,
    blend,
    depends_on_context,
    expanded_query,
    is_more_request,
    nothing_to_continue,
)
from bot.answering.decline import NOTHING_MORE, not_found_message
from bot.answering.intents import asks_about_document, proper_names
from bot.answering.judge import PassageJudge
from bot.answering.question import Question
from bot.answering.retrieval import (
    Hit,
    boost_document_facts,
    boost_document_lead,
    boost_enumeration,
    fuse_weighted,
    lead_starts,
)
from bot.index.generation import SearchIndex, bm25_idf
from bot.shared.text import keyword_tokens

if TYPE_CHECKING:
    import numpy as np

    from bot.config import RetrievalSettings

Embed = Callable[[str], "np.ndarray"]


@dataclass(frozen=True, slots=True)
class AnswerSettings:
    retrieval: RetrievalSettings
    follow_ups: FollowUpSettings = field(default_factory=FollowUpSettings)


def answer(
    index: SearchIndex,
    vector: np.ndarray | None,
    question: Question,
    conversation: Conversation,
    settings: AnswerSettings,
    *,
    embed: Embed,
    decline_message: str,
    judge: PassageJudge | None = None,
    limit: int | None = None,
    on_ranked: Callable[[], None] | None = None,
) -> tuple[Answer, Conversation]:
    """The answer to `question` (`vector` its query's embedding, or None to embed it with
    `embed` only if needed: a request for more needs none) from `index` alone, stamped with its
    generation, and the conversation with this turn added.

    First turns and self-contained questions are answered alone: with `judge` (one that applies
    to this embedder), a question is also declined when its best passage is unlikely to answer
    it, and every score is that calibrated probability; `limit` overrides top_k and the relative
    cutoff (evaluation). A follow-up is judged by the conversation instead. `on_ranked` is
    called between ranking and composing (the service times the two).
    """
    query, note = question.query, question.note
    shown = question.shown  # cut: what was searched is what is echoed and remembered
    last = conversation.last
    if last is not None and is_more_request(shown):
        if not last.quotes:
            # Nothing was shown to continue from (the last question was declined, or "more"
            # already ran out): searching would quote passages nobody judged as an answer.
            context = (*last.used_context, last.question)[-2:]
            message = nothing_to_continue(last)
            ended = Answer(shown, (), True, message, context, index.manifest.generation)
            turn = Turn(shown, last.query, (), context, declined=last.declined)
            return _noted(ended, note), conversation.add(turn)
        widened = with_citations(
            _widen(index, shown, conversation, settings, embed), index.manifest.documents
        )
        widened = dataclasses.replace(widened, generation=index.manifest.generation)
        turn = Turn(shown, last.query, widened.quotes, widened.context)
        return _noted(widened, note), conversation.add(turn)
    if vector is None:
        vector = embed(query)
    idf = memoised(index.idf)
    if last is None or not depends_on_context(shown):
        hits = rank(index, query, vector, settings.retrieval)
        if on_ranked is not None:
            on_ranked()
        judged = judge.for_question(index, query, vector, idf) if judge else None

        def composed_from(ranked: list[Hit]) -> Answer:
            return _compose(
                shown,
                ranked,
                index,
                settings,
                decline_message,
                limit=limit,
                judge=judged,
                decline_below=judge.threshold if judge else 0.0,
                idf=idf,
            )

        composed = composed_from(hits)
        if composed.declined and asks_about_document(query):
            # What the question's words find does not answer it, and it asks what the document
            # itself is about ("Which city's experience does the article describe?"): the
            # document's lead does. Only then: "Which battles does the article describe?" is
            # answered by the passages about battles, which the lead would push down.
            composed = composed_from(
                boost_document_lead(
                    query, hits, index.chunk, lambda source: lead_starts(index.passages(source))
                )
            )
        alone = _noted(composed, note)
        turn = Turn(shown, query, alone.quotes, declined=alone.declined)
        return alone, conversation.add(turn)
    expanded, context = expanded_query(conversation, query)
    expanded_vector, retrieval = embed(expanded), settings.retrieval
    weights = settings.follow_ups
    answered = answer_query(conversation, query)
    own_weight = weights.own_weight + (weights.answer_weight if answered is None else 0.0)
    rankings = [
        Ranking(own_weight, rank(index, query, vector, settings.retrieval)),
        Ranking(weights.context_weight, rank(index, expanded, expanded_vector, retrieval, query)),
    ]
    if answered is not None:
        hits = _rank_for(index, answered, query, settings, embed)
        rankings.append(Ranking(weights.answer_weight, hits))
    hits = blend(rankings)
    if on_ranked is not None:
        on_ranked()
    # With no answer shown to build on (the last question was declined), nothing vouches for
    # the conversation's topic: the follow-up is judged as the question it expands to.
    unanchored = judge if judge is not None and not last.quotes else None
    judged = unanchored.for_question(index, expanded, expanded_vector, idf) if unanchored else None
    composed = _compose(
        shown,
        hits,
        index,
        settings,
        decline_message,
        judge=judged,
        decline_below=unanchored.threshold if unanchored else 0.0,
        idf=idf,
    )
    followed = _noted(dataclasses.replace(composed, context=context), note)
    turn = Turn(shown, expanded, followed.quotes, context, declined=followed.declined)
    return followed, conversation.add(turn)


def ranked_quotes(
    index: SearchIndex,
    vector: np.ndarray,
    question: Question,
    k: int,
    retrieval: RetrievalSettings,
) -> list[Quote]:
    """The k best passages regardless of the decline threshold (evaluation, "more")."""
    hits = rank(index, question.query, vector, retrieval)
    answer = compose(
        question.text,
        hits,
        index.chunk,
        index.idf,
        ComposeSettings.keep_all(k),
        decline_message="",
        limit=k,
    )
    return list(with_citations(answer, index.manifest.documents).quotes)


def rank(
    index: SearchIndex,
    query: str,
    vector: object,
    retrieval: RetrievalSettings,
    intent: str | None = None,
) -> list[Hit]:
    """Fused ranking for `query`; document-structure intents are read from `intent` (the
    follow-up itself, when `query` is expanded by earlier turns)."""
    import numpy as np

    candidates = retrieval.candidates
    dense = index.dense(np.asarray(vector, dtype=np.float32), candidates)
    keyword = index.keyword(keyword_tokens(query), candidates)
    hits = fuse_weighted(dense, keyword, retrieval.dense_weight)
    intent = intent or query
    hits = boost_document_facts(intent, hits, index.chunk)
    return boost_enumeration(intent, hits, index.chunk)


def _rank_for(
    index: SearchIndex, text: str, intent: str, settings: AnswerSettings, embed: Embed
) -> list[Hit]:
    return rank(index, text, embed(text), settings.retrieval, intent=intent)


def _widen(
    index: SearchIndex,
    question: str,
    conversation: Conversation,
    settings: AnswerSettings,
    embed: Embed,
) -> Answer:
    """The passages around the last answer's best quote, never one already shown."""
    last = conversation.last
    assert last is not None and last.quotes
    top_k = settings.retrieval.top_k
    shown = conversation.shown()
    top = last.quotes[0]
    before, after = index.adjacent(top.source, top.start, top.end)
    fresh = [c for c in (after, before) if c is not None and not any(overlaps(c, q) for q in shown)]
    quotes = [Quote(c.source, c.start, c.end, c.text, None, 0.0, c.paragraph) for c in fresh]
    if len(quotes) < top_k:
        searched = Question.parse(last.query, settings.retrieval.max_question_chars)
        nearest = ranked_quotes(index, embed(searched.query), searched, 10, settings.retrieval)
        for quote in nearest:
            if len(quotes) >= top_k:
                break
            if not any(overlaps(quote, q) for q in [*shown, *quotes]):
                quotes.append(quote)
    context = (*last.used_context, last.question)[-2:]
    if not quotes:
        return Answer(question, (), True, NOTHING_MORE, context)
    return Answer(question, tuple(quotes[:top_k]), False, None, context)


def _compose(
    question: str,
    hits: list[Hit],
    index: SearchIndex,
    settings: AnswerSettings,
    decline_message: str,
    *,
    limit: int | None = None,
    judge: Judge | None = None,
    decline_below: float = 0.0,
    idf: IdfLookup | None = None,
) -> Answer:
    """Quotes with citations from `index` alone (decline message included), stamped with
    its generation."""
    idf = idf or memoised(index.idf)
    answer = compose(
        question,
        hits,
        index.chunk,
        idf,
        ComposeSettings.from_settings(settings.retrieval),
        decline_message=decline_message,
        limit=limit,
        foreign_names=_names_unknown_to(index, question, idf),
        judge=judge,
        decline_below=decline_below,
        not_found_message=not_found_message,
    )
    answer = with_citations(answer, index.manifest.documents)
    return dataclasses.replace(answer, generation=index.manifest.generation)


def _noted(answer: Answer, note: str | None) -> Answer:
    """An answer to a question that was cut says so (`question_truncated`, and the note as its
    message unless it has one: a decline explains itself)."""
    if note is None:
        return answer
    return dataclasses.replace(answer, message=answer.message or note, question_truncated=True)


def _names_unknown_to(index: SearchIndex, question: str, idf: IdfLookup) -> bool:
    """True when the question names things (capitalised words) and no passage contains any."""
    names = keyword_tokens(" ".join(proper_names(question)))
    if not names:
        return False
    never_seen = bm25_idf(0, index.manifest.chunk_count)
    return all(weight >= never_seen - 1e-9 for weight in idf(names).values())
