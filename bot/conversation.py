"""How earlier turns of a conversation shape the next search. Pure: no I/O, no model.

A follow-up is recognised by its form, not its topic: pronouns and demonstratives ("when was it
published?"), a leading "and"/"what about" ("And the second?"), or almost no content words ("For
how long?"). Only such questions borrow context; a self-contained question is searched as asked.
"More" requests ("tell me more", "go on") widen the last answer to the passage next to it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from bot.answer import Quote
from bot.retrieval import Hit
from bot.text import keyword_tokens, words

_PRONOUNS = frozenset(
    [
        "it",
        "its",
        "they",
        "them",
        "their",
        "theirs",
        "he",
        "him",
        "his",
        "she",
        "her",
        "hers",
        "these",
        "those",
        "this",
        "there",
        "one",
        "ones",
        "else",
        "other",
    ]
)
_LEADING = re.compile(r"^\s*(and|so|but|also|then|what about|how about|and what about)\b", re.I)
_TRAILING_THAT = re.compile(r"\bthat\s*[?.!]*\s*$", re.I)
_MORE = re.compile(r"\b(more|go on|continue|keep going|elaborate|expand|further|next)\b", re.I)
_MORE_FILLER = frozenset(
    [
        "tell",
        "me",
        "more",
        "about",
        "that",
        "this",
        "it",
        "go",
        "on",
        "continue",
        "keep",
        "going",
        "elaborate",
        "please",
        "and",
        "then",
        "expand",
        "further",
        "on",
        "can",
        "you",
        "could",
        "next",
        "what",
        "say",
        "show",
        "give",
        "us",
        "a",
        "bit",
        "little",
        "some",
    ]
)


@dataclass(frozen=True, slots=True)
class Turn:
    """One answered question: what was asked, what was searched for, what was shown."""

    question: str
    query: str  # the text searched for (the question, or expanded by earlier turns)
    quotes: tuple[Quote, ...]
    used_context: tuple[str, ...] = ()  # earlier questions this turn drew on


@dataclass(frozen=True, slots=True)
class Conversation:
    turns: tuple[Turn, ...] = field(default_factory=tuple)

    @property
    def last(self) -> Turn | None:
        return self.turns[-1] if self.turns else None

    def shown(self) -> list[Quote]:
        return [quote for turn in self.turns for quote in turn.quotes]

    def add(self, turn: Turn) -> Conversation:
        return Conversation((*self.turns, turn)[-MAX_TURNS:])


MAX_TURNS = 8


@dataclass(frozen=True, slots=True)
class FollowUpSettings:
    context_weight: float = 0.5  # share of the fused score taken from the expanded query
    last_passage_bonus: float = 0.1  # added to the passage(s) shown in the last answer


def is_more_request(question: str) -> bool:
    """'Tell me more', 'go on', 'more about that': a request to widen, with no new topic."""
    tokens = words(question)
    return (
        bool(tokens)
        and bool(_MORE.search(question))
        and all(token in _MORE_FILLER for token in tokens)
    )


def depends_on_context(question: str) -> bool:
    """Whether the question only makes sense after the previous turns."""
    tokens = words(question)
    if not tokens:
        return False
    if _LEADING.search(question) or _TRAILING_THAT.search(question):
        return True
    if any(token in _PRONOUNS for token in tokens):
        return True
    return len(keyword_tokens(question)) <= 1


def expanded_query(conversation: Conversation, question: str) -> tuple[str, tuple[str, ...]]:
    """The question with the previous turn's searched text in front (which chains a topic
    through several follow-ups), and the earlier questions it draws on."""
    last = conversation.last
    if last is None:
        return question, ()
    context = (*last.used_context, last.question)[-2:]
    return f"{last.query} {question}", context


def blend(
    own: Sequence[Hit],
    expanded: Sequence[Hit],
    last_shown: Sequence[Quote],
    source_of: dict[int, tuple[str, int, int]],
    settings: FollowUpSettings,
) -> list[Hit]:
    """Fuse the follow-up's own ranking with the context-expanded one, favouring the passage
    the conversation is about. `source_of` maps chunk ids to (source, start, end)."""
    own_scores = {hit.chunk_id: hit for hit in own}
    expanded_scores = {hit.chunk_id: hit for hit in expanded}
    own_floor = min((h.score for h in own), default=0.0)
    expanded_floor = min((h.score for h in expanded), default=0.0)
    weight = settings.context_weight
    blended = []
    for chunk_id in dict.fromkeys([*own_scores, *expanded_scores]):
        mine, theirs = own_scores.get(chunk_id), expanded_scores.get(chunk_id)
        score = (1 - weight) * (mine.score if mine else own_floor) + weight * (
            theirs.score if theirs else expanded_floor
        )
        if _overlaps_any(source_of.get(chunk_id), last_shown):
            score += settings.last_passage_bonus
        base = theirs or mine
        assert base is not None
        blended.append(
            replace(
                base,
                score=score,
                dense=max(mine.dense if mine else -1.0, theirs.dense if theirs else -1.0),
            )
        )
    blended.sort(key=lambda hit: (-hit.score, hit.chunk_id))
    return blended


def _overlaps_any(span: tuple[str, int, int] | None, quotes: Sequence[Quote]) -> bool:
    if span is None:
        return False
    source, start, end = span
    return any(q.source == source and q.start < end and start < q.end for q in quotes)
