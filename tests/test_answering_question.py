"""The question as parsed once: normalised, refused when empty, cut when too long."""

from __future__ import annotations

import pytest

from bot.answering.question import Question
from bot.errors import QuestionError


def test_a_question_is_normalised_and_kept_as_asked() -> None:
    asked = Question.parse("  What\u200b  is\u00a0the moon?\n", 100)
    assert asked.text == "  What\u200b  is\u00a0the moon?\n"
    assert asked.query == "What is the moon?"
    assert not asked.truncated
    assert asked.note is None
    assert asked.shown == asked.text  # echoed as asked


@pytest.mark.parametrize("text", ["", "   ", "\u200b\u200d\ufeff", "\n\t"])
def test_an_empty_question_is_refused(text: str) -> None:
    with pytest.raises(QuestionError, match="the question is empty"):
        Question.parse(text, 100)


def test_a_long_question_is_cut_at_a_word_and_says_so() -> None:
    asked = Question.parse("alpha " * 10, 20)  # query "alpha alpha … alpha" of 59 chars
    assert asked.query == "alpha alpha alpha"  # the last space before 20 is at 17
    assert asked.truncated
    assert asked.note == "Your question was long; I searched for its first 17 characters."
    assert asked.shown == asked.query


def test_a_long_word_is_cut_at_the_limit() -> None:
    """No space in the second half of the limit: cut at the limit itself."""
    asked = Question.parse("x" * 30, 10)
    assert asked.query == "x" * 10
    assert asked.note == "Your question was long; I searched for its first 10 characters."


def test_a_question_of_exactly_the_limit_is_kept_whole() -> None:
    assert Question.parse("a" * 10, 10) == Question("a" * 10, "a" * 10)
