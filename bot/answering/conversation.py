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

from bot.answering.compose import Quote
from bot.answering.decline import NO_ANSWER_TO_CONTINUE, NOTHING_MORE
from bot.answering.intents import asks_about_document
from bot.answering.retrieval import Hit
from bot.shared.text import keyword_tokens, words

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
    # The question was not answered (declined), so there is nothing to continue: a request for
    # more after it, or after a request for more that got nothing because of it, says so.
    declined: bool = False


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
    """Shares of a follow-up's fused score taken from its three rankings (they sum to 1).

    Chosen by leave-one-document-out cross-validation on the dev conversations
    (bench/followup_cv.py, docs/conversations.md): the follow-up's own words carry most of the
    weight, the last answer's passage says what "it" and "they" are about, and the earlier
    questions add little once that passage is used.
    """

    own_weight: float = 0.6  # the follow-up as typed
    context_weight: float = 0.2  # the earlier questions of the thread, then the follow-up
    answer_weight: float = 0.2  # the last answer's best passage, then the follow-up


def is_more_request(question: str) -> bool:
    """'Tell me more', 'go on', 'more about that': a request to widen, with no new topic."""
    tokens = words(question)
    return (
        bool(tokens)
        and bool(_MORE.search(question))
        and all(token in _MORE_FILLER for token in tokens)
    )


def nothing_to_continue(last: Turn) -> str:
    """What a request for more gets after a turn that showed no passage: after a declined
    question there was no answer to continue; otherwise every passage worth showing was shown."""
    return NO_ANSWER_TO_CONTINUE if last.declined else NOTHING_MORE


def depends_on_context(question: str) -> bool:
    """Whether the question only makes sense after the previous turns."""
    tokens = words(question)
    if not tokens:
        return False
    if _LEADING.search(question) or _TRAILING_THAT.search(question):
        return True
    if any(token in _PRONOUNS for token in tokens):
        return True
    if asks_about_document(question):  # "What is the article about?": few content words, yet whole
        return False
    return len(keyword_tokens(question)) <= 1


def expanded_query(conversation: Conversation, question: str) -> tuple[str, tuple[str, ...]]:
    """The question with the previous turn's searched text in front (which chains a topic
    through several follow-ups), and the earlier questions it draws on."""
    last = conversation.last
    if last is None:
        return question, ()
    context = (*last.used_context, last.question)[-2:]
    return f"{last.query} {question}", context


def answer_query(conversation: Conversation, question: str) -> str | None:
    """The follow-up searched together with the passage the last answer led with.

    A pronoun's antecedent and a topic's words are usually in what the user just read, not in
    the questions (the answer to "Who married Emma?" names the "he" of "Why did he flee?").
    None when the last turn showed nothing.
    """
    last = conversation.last
    if last is None or not last.quotes:
        return None
    return f"{last.quotes[0].text} {question}"


@dataclass(frozen=True, slots=True)
class Ranking:
    """One search's hits and its share of the blended score."""

    weight: float
    hits: Sequence[Hit]


def blend(rankings: Sequence[Ranking]) -> list[Hit]:
    """Weighted sum of several rankings' fused scores over the union of their candidates.

    A candidate missing from a ranking gets that ranking's lowest score (a lower bound, as in
    `fuse_weighted`). The blended hit keeps the closest meaning any ranking found (what the
    decline check reads: a passage close to the one just shown is on the conversation's topic,
    "Can you give an example of that?" is not off-topic) and counts as a document fact if any
    ranking says so.
    """
    tables = [{hit.chunk_id: hit for hit in ranking.hits} for ranking in rankings]
    floors = [min((h.score for h in ranking.hits), default=0.0) for ranking in rankings]
    blended = []
    for chunk_id in dict.fromkeys(hit.chunk_id for r in rankings for hit in r.hits):
        hits = [table.get(chunk_id) for table in tables]
        score = sum(
            ranking.weight * (hit.score if hit else floor)
            for ranking, hit, floor in zip(rankings, hits, floors, strict=True)
        )
        found = [hit for hit in hits if hit is not None]
        dense = max(hit.dense for hit in found)
        fact = any(hit.fact for hit in found)
        blended.append(replace(found[0], score=score, dense=dense, fact=fact))
    blended.sort(key=lambda hit: (-hit.score, hit.chunk_id))
    return blended
