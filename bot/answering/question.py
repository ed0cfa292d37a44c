"""A question as the pipeline uses it, built once where it enters (surface or service).

Normalising a question (NFKC, invisible characters dropped, whitespace collapsed), refusing an
empty one and cutting a very long one to `max_question_chars` used to happen in the command
line, the service and again inside each step; a `Question` carries the result instead, so every
step reads the same query and the empty-question rule is written once.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import QuestionError
from bot.shared.text import normalize_for_matching

EMPTY = "the question is empty; type a question to search the documents"


@dataclass(frozen=True, slots=True)
class Question:
    text: str  # as asked
    query: str  # normalised, at most max_question_chars: what is embedded and searched
    note: str | None = None  # why `query` is shorter than the question (it was cut), or None

    @classmethod
    def parse(cls, text: str, max_chars: int) -> Question:
        """The question `text`; raises QuestionError when nothing searchable is left of it."""
        query = normalize_for_matching(text)
        if not query:
            raise QuestionError(EMPTY)
        if len(query) <= max_chars:
            return cls(text, query)
        cut = query.rfind(" ", 0, max_chars)
        query = query[: cut if cut > max_chars // 2 else max_chars]
        note = f"Your question was long; I searched for its first {len(query)} characters."
        return cls(text, query, note)

    @property
    def truncated(self) -> bool:
        return self.note is not None

    @property
    def shown(self) -> str:
        """The question an answer echoes and a conversation remembers: as asked, or only the
        part searched when it was cut."""
        return self.query if self.truncated else self.text
