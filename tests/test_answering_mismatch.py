"""The mismatch signals of bot.answering.mismatch on small hand-made cases."""

from __future__ import annotations

import pytest

from bot.answering.mismatch import (
    missing_rare,
    modifier_swapped,
    name_missing,
    name_rarity_missing,
    negation_missing,
    number_missing,
    numbers,
    numbers_in_digits,
    opposite_stated,
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


@pytest.mark.parametrize(
    ("question", "window", "stated"),
    [
        # our own sentences, in the manner of SQuAD 2.0's turned questions
        ("Which was the least visited museum?", "It was the most visited museum in 2019.", True),
        ("How many members were lost in May?", "The club gained 400 members in May.", True),
        ("Who ruled before the war?", "After the war the duke ruled alone.", True),
        # the window says the question's own word too: no contradiction
        ("Which was the most visited museum?", "It was the most visited museum in 2019.", False),
        ("Who came first and who came last?", "She came first, he came last.", False),
        # no word of the list in the question
        ("Which museum was visited?", "It was the most visited museum.", False),
    ],
)
def test_opposite_stated(question: str, window: str, stated: bool) -> None:
    assert opposite_stated(question, window) is stated


def test_name_rarity_missing_weighs_the_missing_name_by_its_idf() -> None:
    weights = {"scotland": 4.0, "norman": 0.5, "wale": 2.0, "narnia": 5.0}
    unknown = 5.0
    about_wales = "The Normans invaded Wales in 1081."
    rare = name_rarity_missing("Who invaded Scotland?", about_wales, weights, unknown, close_enough)
    assert rare == pytest.approx(4.0 / 5.0)
    # the documents' subject, named everywhere, weighs little when missing
    common = name_rarity_missing(
        "When did the Normans invade?", "Wales was invaded in 1081.", weights, unknown, close_enough
    )
    assert common == pytest.approx(0.5 / 5.0)
    assert (
        name_rarity_missing("Who invaded Wales?", about_wales, weights, unknown, close_enough) == 0
    )
    # unknown names are unknown_share's
    assert (
        name_rarity_missing("Who invaded Narnia?", about_wales, weights, unknown, close_enough) == 0
    )


def test_modifier_swapped_needs_another_name_in_the_same_slot() -> None:
    window = "The English name comes from the French words Normans and Normanz."
    assert modifier_swapped("What name comes from the Latin words?", window, close_enough)
    # the question's own modifier is in the window: nothing swapped
    assert not modifier_swapped("What name comes from the French words?", window, close_enough)
    # the window's word has no capitalised word before it: not the same slot
    assert not modifier_swapped("What came from Latin words?", "Many words came.", close_enough)
