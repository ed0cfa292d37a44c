"""Conversation logic: which questions borrow context, how rankings blend, what 'more' is."""

from __future__ import annotations

import pytest

from bot.answering.compose import Quote
from bot.answering.conversation import (
    MAX_TURNS,
    Conversation,
    Ranking,
    Turn,
    answer_query,
    blend,
    depends_on_context,
    expanded_query,
    is_more_request,
)
from bot.answering.retrieval import Hit


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
        "What is the article about?",
        "What does the report describe?",
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


def test_blend_weighs_rankings_and_keeps_the_closest_meaning() -> None:
    own = [Hit(1, 0.55, 0.2, 1.0), Hit(2, 0.5, 0.4, 0.5)]
    expanded = [Hit(3, 0.7, 0.6, 1.0), Hit(2, 0.6, 0.5, 0.8)]
    answered = [Hit(2, 0.9, 0.95, 1.0, fact=True), Hit(1, 0.2, 0.1, 0.1)]
    ranked = blend([Ranking(0.6, own), Ranking(0.1, expanded), Ranking(0.3, answered)])
    assert [h.chunk_id for h in ranked] == [2, 1, 3]
    assert ranked[0].score == pytest.approx(0.6 * 0.5 + 0.1 * 0.6 + 0.3 * 0.9)
    # chunk 3 is missing from two rankings: it gets their lowest scores
    assert ranked[2].score == pytest.approx(0.6 * 0.5 + 0.1 * 0.7 + 0.3 * 0.2)
    assert ranked[0].dense == pytest.approx(0.95)  # the closest of the three meanings
    assert ranked[0].fact  # a document fact found by any ranking stays one


def test_answer_query_puts_the_last_answer_before_the_follow_up() -> None:
    assert answer_query(Conversation(), "Why?") is None
    conversation = Conversation().add(Turn("Who founded Rome?", "Who founded Rome?", (QUOTE,)))
    assert answer_query(conversation, "When?") == f"{QUOTE.text} When?"
    declined = conversation.add(Turn("And Carthage?", "q", ()))
    assert answer_query(declined, "Why?") is None
