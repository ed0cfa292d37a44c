"""Questions about the document itself ("who wrote it?", "when was it published?").

Such questions share no words with the byline or dateline that answers them, and their meaning is
too generic for the embedding, so neither search method finds the answer. A passage that carries a
byline or a date is a candidate for them; this module recognises both sides, nothing more.
"""

from __future__ import annotations

import re

_AUTHOR_QUESTION = re.compile(
    r"\b(who\s+(wrote|writes|authored|published|reported|posted|penned)|author|byline|"
    r"written\s+by|publisher|which\s+(newspaper|paper|outlet|publication|site|website))\b",
    re.I,
)
_DATE_QUESTION = re.compile(
    r"\b(what\s+(date|day)|when\s+was\s+(it|this|the\s+\w+)\s+(published|written|posted|"
    r"released|dated|reported)|publication\s+date|date\s+(of|on)\s+the|dated)\b",
    re.I,
)

# "By People's Daily Online", "Author: J. Smith" — a name follows, so it is capitalised ("By far
# the most famous ..." is not a byline).
_BYLINE = re.compile(r"(?m)^\s*(?i:by|written by|author:|reporter:|source:)\s+[A-Z0-9]")
_MONTHS = (
    r"(jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|"
    r"sep(t(ember)?)?|oct(ober)?|nov(ember)?|dec(ember)?)"
)
_DATE = re.compile(
    rf"\b({_MONTHS}\.?\s+\d{{1,2}},?\s+\d{{4}}|\d{{1,2}}\s+{_MONTHS}\.?,?\s+\d{{4}}|"
    rf"\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}/\d{{1,2}}/\d{{4}})\b",
    re.I,
)


def asks_for_author(question: str) -> bool:
    return bool(_AUTHOR_QUESTION.search(question))


def asks_for_date(question: str) -> bool:
    return bool(_DATE_QUESTION.search(question))


def answers_document_fact(question: str, passage: str) -> bool:
    """True when the question asks who/when about the document and the passage has that fact."""
    return (asks_for_author(question) and bool(_BYLINE.search(passage))) or (
        asks_for_date(question) and bool(_DATE.search(passage))
    )


_ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "firstly": 1,
    "secondly": 2,
    "thirdly": 3,
    "fourthly": 4,
    "fifthly": 5,
    "1st": 1,
    "2nd": 2,
    "3rd": 3,
    "4th": 4,
    "5th": 5,
}
LAST = -1
_ORDINAL_WORDS = "|".join(sorted(_ORDINALS, key=len, reverse=True))
# A position is asked for with an article or possessive ("the second", "its third step"), not
# by an adverb ("when was it first recorded?").
_QUESTION_ORDINAL = re.compile(
    rf"\b(?:the|its|their|his|her)\s+({_ORDINAL_WORDS}|last|final)\b", re.I
)
# An enumerator opens a sentence: "Fifth, ...", "Secondly ...", "The third is ...", "The first step".
_ENUMERATOR = re.compile(rf"(?:^|(?<=[.!?:;]\s)|(?<=\n))\s*(?:the\s+)?({_ORDINAL_WORDS})\b", re.I)
_TITLE_QUESTION = re.compile(r"\b(headline|title|heading)\b", re.I)
_TITLE_LINE = re.compile(r"\A[^\n.!?]{10,150}\n(?!\s*\n)")


def asked_ordinal(question: str) -> int | None:
    """The position asked about ("the second measure" → 2, "the last one" → LAST), if any."""
    match = _QUESTION_ORDINAL.search(question)
    if match is None:
        return None
    word = match.group(1).lower()
    return LAST if word in ("last", "final") else _ORDINALS[word]


def enumerators(passage: str) -> dict[int, bool]:
    """Positions that open a sentence of the passage, and whether they open the passage itself
    ("Fifth, ... The first step is ..." → {5: True, 1: False})."""
    found: dict[int, bool] = {}
    for match in _ENUMERATOR.finditer(passage):
        position = _ORDINALS[match.group(1).lower()]
        found[position] = (
            found.get(position, False)
            or not passage[: match.start(1)].strip(" \t\n\"'“(").lower().removesuffix("the").strip()
        )
    return found


def asks_for_title(question: str) -> bool:
    return bool(_TITLE_QUESTION.search(question))


def opens_with_title(passage: str) -> bool:
    """A short line without sentence punctuation, directly followed by text: a headline."""
    return bool(_TITLE_LINE.match(passage))


_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w'’-]*")


def proper_names(question: str) -> list[str]:
    """Capitalised words after the first word ("Who painted the Mona Lisa?" → Mona, Lisa)."""
    text = question.strip()
    return [m.group() for m in _NAME.finditer(text) if m.start() > 0 and m.group() != "I"]


# "What is the article about?", "Which city's experience does the article describe?", "What does
# the report discuss?": the question asks what the document itself is about and names no topic
# after the verb, so its words point nowhere; its answer is the document's lead (title and
# opening paragraph). A topic after the verb ("What role change does the article describe for
# Party organizations?", "What does the article say about the mayor?") is an ordinary question.
_DOCUMENT = (
    r"(?:the|this|that|your)\s+(?:article|document|report|text|page|story|piece|essay|paper|"
    r"news\s+item|post|file)"
)
_DESCRIBES = (
    r"(?:mainly\s+|mostly\s+|chiefly\s+|primarily\s+)?(?:about|describe|discuss|cover|concern|"
    r"report\s+on|deal\s+with|focus\s+on|examine|explore|present|profile|tell\s+(?:of|about)|"
    r"talk\s+about|refer\s+to|feature)"
)
_ABOUT_DOCUMENT = re.compile(
    rf"^\s*(?:(?:what|which|whose|who)\b[^?]*?\b(?:is|are|was|were|does|do|did)\s+{_DOCUMENT}"
    rf"\s+{_DESCRIBES}|what\s+is\s+(?:the\s+(?:main\s+|central\s+)?(?:topic|subject|theme|focus)"
    rf"\s+of\s+{_DOCUMENT}|{_DOCUMENT}'s\s+(?:main\s+|central\s+)?(?:topic|subject|theme|focus)))"
    r"\s*\??\s*$",
    re.I,
)
# A passage of prose, not a menu or a list of names: one sentence of eight words or more.
_PROSE_SENTENCE = re.compile(r"(?:\S+[ \t]+){7,}\S*[.!?](?:\s|$)")


def asks_about_document(question: str) -> bool:
    """True for a question about what the document itself is about (see _ABOUT_DOCUMENT)."""
    return bool(_ABOUT_DOCUMENT.match(question))


def holds_prose(passage: str) -> bool:
    """Whether the passage has a sentence of prose (a navigation menu or a byline has none)."""
    return bool(_PROSE_SENTENCE.search(passage))
