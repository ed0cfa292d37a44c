"""The mismatch signals of bot.answering.mismatch on small hand-made cases."""

from __future__ import annotations

import pytest

from bot.answering.mismatch import (
    missing_rare,
    name_missing,
    negation_missing,
    number_missing,
    numbers,
    numbers_in_digits,
)
from bot.answering.signals import close_enough
from bot.shared.text import keyword_tokens


def test_numbers_read_digits_separators_decades_ordinals_and_small_number_words() -> None:
    assert numbers("In 1,066 and the 1100s, the 11th century, 3.5 km") >= {
        "1066",
        "1100",
        "11",
        "3.5",
    }
    assert numbers("four packages, the fourth attempt") == {"4"}
    assert numbers("no numbers here") == set()


def test_only_digits_of_a_question_count_as_its_numbers() -> None:
    # "the first king" is rarely a date or a count; "the 1st" is.
    assert numbers_in_digits("Who was the first king in 1066?") == {"1066"}


@pytest.mark.parametrize(
    ("question", "window", "missing"),
    [
        ("Who ruled Cyprus in the 11th century?", "In the 12th century Cyprus was ruled.", True),
        (
            "Who ruled Cyprus in the 12th century?",
            "In the twelfth century Cyprus was ruled.",
            False,
        ),
        ("What did Sky earn in 2010?", "Sky earned £1bn in 2011.", True),
        ("Who bought the 4 packages?", "Setanta bought four packages.", False),
        ("Who bought 1,000 shares?", "He bought 1000 shares.", False),
        ("Who bought the packages?", "Setanta bought 4 packages in 2006.", False),
    ],
)
def test_number_missing(question: str, window: str, missing: bool) -> None:
    assert number_missing(question, window) is missing


@pytest.mark.parametrize(
    ("question", "window", "missing"),
    [
        ("Which channel was never dropped?", "The channel was dropped in 2011.", True),
        ("What company no longer trades as Sky?", "BSkyB trades as Sky.", True),
        ("What can Sky+HD not use?", "Sky+HD cannot use the old system.", False),
        ("What isn't required?", "A dish is not required.", False),
        ("Which channel was dropped?", "The channel was never dropped.", False),
        ("Which channel was dropped?", "The channel was dropped.", False),
        # a negation said by a word of negative meaning
        ("Who did it join as it was not in the group?", "It was excluded from the group.", False),
    ],
)
def test_negation_missing(question: str, window: str, missing: bool) -> None:
    assert negation_missing(question, window) is missing


def test_missing_rare_is_the_rarest_absent_term_as_a_share_of_an_unknown_word() -> None:
    tokens = keyword_tokens("Who married the sister of Edgar in Ireland?")
    weights = {t: 1.0 for t in tokens} | {"ireland": 3.0, "edgar": 2.0}
    window = "Malcolm married Edgar's sister Margaret."
    assert missing_rare(tokens, window, weights, 4.0, close_enough) == pytest.approx(0.75)
    assert missing_rare(tokens, window + " In Ireland.", weights, 4.0, close_enough) == 0.0
    # A misspelt question word still counts as found ("marryed" ~ "married" by stem).
    misspelt = keyword_tokens("Who marryed the sister of Edgar?")
    assert missing_rare(misspelt, window, weights, 4.0, close_enough) == 0.0


def test_name_missing_only_for_names_the_documents_hold() -> None:
    weights = {"scotland": 2.0, "wale": 2.0, "narnia": 5.0, "invad": 1.0}
    unknown = 5.0
    about_wales = "The Normans invaded Wales in 1081."
    assert name_missing("Who invaded Scotland?", about_wales, weights, unknown, close_enough)
    assert not name_missing("Who invaded Wales?", about_wales, weights, unknown, close_enough)
    # A name no document holds is unknown_share's business, not a swapped entity.
    assert not name_missing("Who invaded Narnia?", about_wales, weights, unknown, close_enough)
