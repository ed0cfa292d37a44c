"""Signals of a question that *looks* answered by a passage but asks something else.

Questions written to fool a reader (SQuAD 2.0's unanswerable ones) reuse the passage's words and
change one thing: an entity swapped for another of the same document, a date or number moved
("in the 11th century" for a passage about the 12th), a negation added ("Which channel was never
dropped?"). Every other word still matches, so coverage-style signals pass them. These look at
the small window around the best sentence (where an answer would be) for exactly those changes.
Pure functions over text and idf; `bot.answering.signals.features` calls them.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Collection, Mapping, Sequence

from bot.answering.intents import proper_names
from bot.shared.text import STOPWORDS, keyword_tokens, normalize_for_matching

_NEGATION = re.compile(
    r"\b(not|never|no|none|nobody|nothing|neither|nor|without|cannot|no longer)\b|n['’]t\b",
    re.I,
)
# A passage may say a question's "not" with a word of negative meaning: "BSkyB had been
# excluded from the consortium" answers "... because it was not part of the consortium?".
_NEGATIVE_MEANING = re.compile(
    r"\b(exclud|lack|fail|refus|unabl|prevent|denied|deny|denies|absen|reject|banned|ceas|"
    r"abandon|withdr|instead of|rather than|unlike)\w*",
    re.I,
)
_ORDINAL_WORDS = [
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
    "twentieth",
]
_CARDINAL_WORDS = [
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]
# "four" and "fourth" say the same number as "4" and "4th"; only 1-20 are usually spelt out.
_WORD_NUMBERS = {
    w: str(i) for words in (_ORDINAL_WORDS, _CARDINAL_WORDS) for i, w in enumerate(words, 1)
}
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_WORD = re.compile(r"[a-z]+", re.I)


def numbers(text: str) -> set[str]:
    """The numbers a text states, as digit strings: "1,066", "1066" and "the 1066s" -> "1066";
    "11th" -> "11"; "four", "fourth" -> "4" (1-20 only)."""
    found = {m.group().replace(",", "").rstrip(".") for m in _NUMBER.finditer(text)}
    found.update(
        _WORD_NUMBERS[w]
        for w in (m.group().lower() for m in _WORD.finditer(text))
        if w in _WORD_NUMBERS
    )
    return found


def number_missing(question: str, window: str) -> bool:
    """The question states a number (a year, a century, a count) that the window does not:
    "Who ruled Cyprus in the 11th century?" against a passage about the 12th."""
    return bool(numbers_in_digits(question) - numbers(window))


def numbers_in_digits(question: str) -> set[str]:
    """The numbers a question writes in digits ("the 1100s", "in 2010", "3 customaries"): a
    number word in a question ("the first king", "one of") is rarely a date or a count."""
    return {m.group().replace(",", "").rstrip(".") for m in _NUMBER.finditer(question)}


def negation_missing(question: str, window: str) -> bool:
    """The question says "not", "never", "no longer" ... and the window around the best sentence
    says none of these (nor a word of negative meaning, "excluded", "failed"): "What channel
    was never dropped?" answered by "The channel was dropped"."""
    if not _NEGATION.search(question):
        return False
    return not (_NEGATION.search(window) or _NEGATIVE_MEANING.search(window))


def missing_rare(
    tokens: Sequence[str],
    window: str,
    weights: Mapping[str, float],
    unknown_idf: float,
    same: Callable[[str, str], bool],
) -> float:
    """The idf (as a share of an unknown word's idf, 0-1) of the rarest question term absent
    from the window: 0 when the window holds every term. A swapped entity or an unmentioned
    notion ("wife", "Ireland") is a rare word; a passage that answers holds the question's
    rare words near its answer. `same` says whether two stems are one word (misspellings)."""
    if unknown_idf <= 0:
        return 0.0
    own = set(keyword_tokens(window))
    absent = [t for t in set(tokens) if not _found(t, own, same)]
    return min(1.0, max((weights.get(t, unknown_idf) / unknown_idf for t in absent), default=0.0))


def name_missing(
    question: str,
    window: str,
    weights: Mapping[str, float],
    unknown_idf: float,
    same: Callable[[str, str], bool],
) -> bool:
    """A name of the question that the documents hold is absent from the window: the question
    is about another person, place or company than the passage ("Who invaded Scotland?" against
    a passage about Wales). Names no document holds are `unknown_share`'s business."""
    return bool(_absent_names(question, window, weights, unknown_idf, same))


def _absent_names(
    question: str,
    window: str,
    weights: Mapping[str, float],
    unknown_idf: float,
    same: Callable[[str, str], bool],
) -> list[float]:
    """The idf of each name of the question that the documents hold but the window lacks."""
    own = set(keyword_tokens(window))
    names = {t for name in proper_names(question) for t in keyword_tokens(name)}
    absent = [weights.get(t, unknown_idf) for t in names if not _found(t, own, same)]
    return [w for w in absent if w < unknown_idf - 1e-9]


def _found(token: str, own: Collection[str], same: Callable[[str, str], bool]) -> bool:
    return token in own or any(same(token, other) for other in own)


def name_rarity_missing(
    question: str,
    window: str,
    weights: Mapping[str, float],
    unknown_idf: float,
    same: Callable[[str, str], bool],
) -> float:
    """`name_missing` weighed by how rare the missing name is (its idf as a share of an unknown
    word's, 0-1; 0 when every known name is in the window). A swapped entity is usually a rare
    name of one passage ("Raimbaud"); the names an answerable question misses from its window
    are mostly the documents' subject, named everywhere ("Sky UK Limited", "Normans")."""
    if unknown_idf <= 0:
        return 0.0
    absent = _absent_names(question, window, weights, unknown_idf, same)
    return min(1.0, max(absent, default=0.0) / unknown_idf)


def modifier_swapped(question: str, window: str, same: Callable[[str, str], bool]) -> bool:
    """A capitalised word of the question right before a content word ("English words",
    "Byzantine mercenary") that the window has nowhere, while the window holds that content word
    right after another capitalised word the question lacks ("French words", "Norman
    mercenaries"): the same slot filled by another name, nationality or language, the way
    adversarial questions swap one word of the sentence they copy."""
    asked = _slots(question)
    said = _slots(window)
    own = {w for w, _ in said if w}
    mine = {w for w, _ in asked if w}
    for (first, capital), (second, _) in itertools.pairwise(asked):
        if not (first and second and capital) or _found(first, own, same):
            continue
        for (before, other), (word, _) in itertools.pairwise(said):
            if (
                before
                and other
                and word
                and before not in mine
                and (word == second or same(word, second))
            ):
                return True
    return False


def _slots(text: str) -> list[tuple[str | None, bool]]:
    """Each word of `text` in order as (its keyword stem or None for a stopword, whether it is
    capitalised past the text's first word); a stopword breaks adjacency ("identity of the
    Normans" has no adjacent pair)."""
    out: list[tuple[str | None, bool]] = []
    for i, match in enumerate(_TOKEN.finditer(normalize_for_matching(text))):
        word = match.group()
        stems = [] if word.lower() in STOPWORDS else keyword_tokens(word)
        out.append((stems[0] if stems else None, i > 0 and word[:1].isupper()))
    return out


_TOKEN = re.compile(r"\w+(?:['’]\w+)*")


# Words and their opposites, as adversarial questions turn them ("the least popular" for "the
# most popular", "subscribers lost" for "subscribers gained"). Both directions are looked up.
_OPPOSITES = (
    ("largest", "smallest"),
    ("biggest", "smallest"),
    ("greatest", "least"),
    ("most", "least"),
    ("more", "less"),
    ("more", "fewer"),
    ("first", "last"),
    ("earliest", "latest"),
    ("before", "after"),
    ("earlier", "later"),
    ("highest", "lowest"),
    ("higher", "lower"),
    ("best", "worst"),
    ("oldest", "youngest"),
    ("older", "younger"),
    ("increase", "decrease"),
    ("increased", "decreased"),
    ("gained", "lost"),
    ("gain", "lose"),
    ("won", "lost"),
    ("win", "lose"),
    ("bought", "sold"),
    ("buy", "sell"),
    ("north", "south"),
    ("east", "west"),
    ("northern", "southern"),
    ("eastern", "western"),
    ("maternal", "paternal"),
    ("accepted", "rejected"),
    ("public", "private"),
    ("minor", "major"),
    ("inside", "outside"),
    ("success", "failure"),
    ("succeeded", "failed"),
)
_OPPOSITE: dict[str, frozenset[str]] = {}
for _one, _other in _OPPOSITES:
    _OPPOSITE[_one] = _OPPOSITE.get(_one, frozenset()) | {_other}
    _OPPOSITE[_other] = _OPPOSITE.get(_other, frozenset()) | {_one}


def opposite_stated(question: str, window: str) -> bool:
    """The question says a word ("least", "lost", "after") that the window does not, and the
    window says its opposite ("most", "gained", "before"): "What was the UK's least popular TV
    service?" against "the UK's most popular digital TV service"."""
    asked = set(_TOKEN.findall(question.lower()))
    said = set(_TOKEN.findall(window.lower()))
    return any(word not in said and _OPPOSITE[word] & said for word in asked & _OPPOSITE.keys())
