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
    r"\b(what\s+(date|day|year)|when\s+was\s+(it|this|the\s+\w+)\s+(published|written|posted|"
    r"released|dated|reported)|publication\s+date|date\s+(of|on)\s+the|dated)\b",
    re.I,
)

_BYLINE = re.compile(r"(?m)^\s*(by|written by|author:|reporter:|source:)\s+\S", re.I)
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
