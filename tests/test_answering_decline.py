"""Decline messages say what was not found in the question's own words."""

from __future__ import annotations

import pytest

from bot.answering.decline import not_found_message


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("Who is the mayor of Jingzhou?", "My documents don't say who the mayor of Jingzhou is."),
        ("What is Jingzhou's GDP?", "My documents don't say what Jingzhou's GDP is."),
        (
            "When was the Communist Party of China founded?",
            "My documents don't say when the Communist Party of China was founded.",
        ),
        (
            "How many villages are there in Jingzhou?",
            "My documents don't say how many villages there are in Jingzhou.",
        ),
        ("Who founded the guild?", "My documents don't say who founded the guild."),
        (
            "When will the new bridge be finished?",
            "My documents don't say when the new bridge will be finished.",
        ),
        ("What colour was the flag?", "My documents don't say what colour the flag was."),
        ("Which villages were praised?", "My documents don't say which villages were praised."),
        ("Is the mayor listed?", "My documents don't say whether the mayor is listed."),
        ("  who   is the MAYOR ", "My documents don't say who the MAYOR is."),
        # A preposition ending the question stays after the verb.
        ("What is the treaty about?", "My documents don't say what the treaty is about."),
        ("Who was the bridge named for?", "My documents don't say who the bridge was named for."),
    ],
)
def test_questions_become_indirect_clauses(question: str, message: str) -> None:
    assert not_found_message(question) == message


@pytest.mark.parametrize(
    "question",
    ["What did the council decide about the bridge?", "Tell me about pandas", "zzzz"],
)
def test_other_forms_quote_the_question_rather_than_guess(question: str) -> None:
    assert not_found_message(question) == f"My documents don't answer “{question}”."


def test_a_very_long_question_is_shortened() -> None:
    message = not_found_message("Why " + "very " * 100 + "long?")
    assert message.startswith("My documents don't answer “Why very") and len(message) < 240
