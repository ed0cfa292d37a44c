"""Conversation logic: which questions borrow context, how rankings blend, what 'more' is."""

from __future__ import annotations

import pytest

from bot.answer import Quote
from bot.conversation import (
    MAX_TURNS,
    Conversation,
    FollowUpSettings,
    Turn,
    blend,
    depends_on_context,
    expanded_query,
    is_more_request,
)
from bot.retrieval import Hit


@pytest.mark.parametrize(
    "question",
    [
        "And the second?",
        "When was it published?",
        "Who appointed them?",
        "For how long?",
        "What about the third step?",
        "Which number measure is that?",
        "What is the last one?",
        "What else happened around the launch?",
        "Why did he flee to Normandy?",
    ],
)
def test_follow_ups_are_recognised_by_their_form(question: str) -> None:
    assert depends_on_context(question)


@pytest.mark.parametrize(
    "question",
    [
        "What is the headline of the article?",
        "Is Xi Jinping in the top leadership list?",
        "What did Microsoft rename SkyDrive to after the trademark dispute with Sky?",
        "What is the architectural style the Normans created in the Kingdom of Sicily called?",
    ],
)
def test_self_contained_questions_stand_alone(question: str) -> None:
    assert not depends_on_context(question)


@pytest.mark.parametrize(
    ("question", "more"),
    [
        ("Tell me more.", True),
        ("more", True),
        ("Go on", True),
        ("Tell me more about that.", True),
        ("Can you tell me a bit more?", True),
        ("Tell me more about the Normans", False),
        ("What else happened?", False),
        ("Who wrote it?", False),
    ],
)
def test_more_requests_have_no_new_topic(question: str, more: bool) -> None:
    assert is_more_request(question) is more


QUOTE = Quote("a.txt", 100, 200, "x" * 100, None, 0.5, 2)


def test_expanded_query_chains_the_topic_through_turns() -> None:
    conversation = Conversation().add(Turn("Who founded Rome?", "Who founded Rome?", (QUOTE,)))
    query, context = expanded_query(conversation, "When?")
    assert query == "Who founded Rome? When?" and context == ("Who founded Rome?",)
    conversation = conversation.add(Turn("When?", query, (QUOTE,), context))
    query, context = expanded_query(conversation, "Why?")
    assert query == "Who founded Rome? When? Why?"
    assert context == ("Who founded Rome?", "When?")
    assert expanded_query(Conversation(), "Why?") == ("Why?", ())


def test_conversation_keeps_only_recent_turns() -> None:
    conversation = Conversation()
    for i in range(MAX_TURNS + 3):
        conversation = conversation.add(Turn(f"q{i}", f"q{i}", ()))
    assert (
        len(conversation.turns) == MAX_TURNS
        and conversation.turns[-1].question == f"q{MAX_TURNS + 2}"
    )


def test_blend_mixes_rankings_and_favours_the_last_shown_passage() -> None:
    own = [Hit(1, 0.55, 0.2, 1.0), Hit(2, 0.5, 0.4, 0.5)]
    expanded = [Hit(3, 0.7, 0.6, 1.0), Hit(2, 0.6, 0.5, 0.8)]
    spans = {1: ("b.txt", 0, 50), 2: ("a.txt", 150, 250), 3: ("c.txt", 0, 10)}
    ranked = blend(own, expanded, [QUOTE], spans, FollowUpSettings(0.5, 0.1))
    assert [h.chunk_id for h in ranked] == [2, 3, 1]
    assert ranked[0].score == pytest.approx(0.5 * 0.5 + 0.5 * 0.6 + 0.1)
    assert ranked[0].dense == pytest.approx(0.5)  # the better of the two meanings
